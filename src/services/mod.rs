//! The services smemu answers on its one port, one folder each: Secrets Manager itself, STS, KMS,
//! IAM, CloudTrail's LookupEvents and a local Lambda for rotation functions.

pub mod cloudtrail;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod secretsmanager;
pub mod sts;
