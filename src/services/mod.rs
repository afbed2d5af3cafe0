//! The services smemu answers on its one port, one folder each: Secrets Manager itself, STS, KMS,
//! CloudTrail's LookupEvents and a local Lambda for rotation functions.

pub mod cloudtrail;
pub mod kms;
pub mod lambda;
pub mod secretsmanager;
pub mod sts;
