//! IAM: the identity store, and the enforcement of identity, resource and key policies on every
//! Secrets Manager and KMS call. Pure: no HTTP (the pipeline asks, this answers).

pub mod enforce;
pub mod store;

pub use enforce::{Access, AuthorizeMode};
pub use store::IdentityStore;

use serde_json::Value;

/// A policy document as declared: its text, kept for display, and its parsed form.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
}

impl Document {
    /// A document given as a JSON object, or as its text (plain JSON, or URL-encoded JSON as
    /// IAM's API returns documents).
    ///
    /// # Errors
    /// What is wrong with it, worded for the person who wrote it.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let text = match value {
            Value::String(text) => {
                if serde_json::from_str::<Value>(text).is_ok() {
                    text.clone()
                } else {
                    let decoded = crate::auth::sigv4::percent_decode(text, false);
                    String::from_utf8(decoded).map_err(|_| "not a JSON policy document".to_string())?
                }
            }
            Value::Object(_) => value.to_string(),
            _ => return Err("a policy document must be a JSON object or its text".into()),
        };
        Self::parse(text)
    }

    /// # Errors
    /// The document is not a policy.
    pub fn parse(text: String) -> Result<Self, String> {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(_)) => Ok(Self { text }),
            Ok(_) => Err("a policy document must be a JSON object".into()),
            Err(e) => Err(format!("not a JSON policy document: {e}")),
        }
    }
}
