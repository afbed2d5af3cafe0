//! IAM's policy language and, later, the identities it is evaluated for. Pure: no HTTP, no
//! store; every service's authorization and the explain endpoint call into it.

pub mod policy;
