//! The services smemu answers on its one port, one folder each: Secrets Manager itself, STS,
//! KMS and IAM.

pub mod iam;
pub mod kms;
pub mod secretsmanager;
pub mod sts;
