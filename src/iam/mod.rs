//! IAM: the policy language ([`policy`]), the identities it is evaluated for ([`store`]), and
//! the enforcement of identity, resource and key policies on every Secrets Manager and KMS call
//! ([`enforce`]). Pure: no HTTP; the pipeline and the explain endpoint call into it.

pub mod enforce;
pub mod policy;
pub mod store;

pub use enforce::{Access, AuthorizeMode};
pub use store::IdentityStore;

use serde_json::Value;

/// A policy document as declared: its text, kept for display, and its parsed form, parsed once
/// when it is declared so requests never parse.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub policy: policy::Policy,
}

impl Document {
    /// A document given as a JSON object, or as its text (plain JSON, or URL-encoded JSON as
    /// IAM's API returns documents).
    ///
    /// # Errors
    /// What is wrong with it, worded for the person who wrote it.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let policy = policy::Policy::from_value(value).map_err(|e| e.to_string())?;
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Ok(Self { text, policy })
    }
}
