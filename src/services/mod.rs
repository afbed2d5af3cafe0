//! The services smemu answers on its one port, one folder each: Secrets Manager itself, STS, KMS
//! and CloudTrail's LookupEvents.

pub mod cloudtrail;
pub mod kms;
pub mod secretsmanager;
pub mod sts;
