//! The services smemu answers besides Secrets Manager, one folder each.

pub mod kms;
