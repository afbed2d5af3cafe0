//! The services smemu answers on its one port, one folder each: Secrets Manager itself, STS and KMS.

pub mod kms;
pub mod secretsmanager;
pub mod sts;
