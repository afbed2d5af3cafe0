//! A policy document kept with the resource it governs (a secret's resource policy, a key's
//! policy): stored and shown as the text it was given, parsed the first time a request is
//! evaluated against it and kept parsed for the next ones.

use std::sync::{Arc, OnceLock};

use super::parse::Policy;

#[derive(Default)]
pub struct StoredPolicy {
    text: String,
    /// `None` inside: the text does not parse, and then the policy grants nothing.
    parsed: OnceLock<Option<Arc<Policy>>>,
}

impl StoredPolicy {
    #[must_use]
    pub fn new(text: String) -> Self {
        Self { text, parsed: OnceLock::new() }
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed policy; `None` when the text does not parse.
    #[must_use]
    pub fn parsed(&self) -> Option<Arc<Policy>> {
        self.parsed.get_or_init(|| Policy::parse(&self.text).ok().map(Arc::new)).clone()
    }
}

impl From<String> for StoredPolicy {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl Clone for StoredPolicy {
    fn clone(&self) -> Self {
        let parsed = OnceLock::new();
        if let Some(policy) = self.parsed.get() {
            let _ = parsed.set(policy.clone());
        }
        Self { text: self.text.clone(), parsed }
    }
}

impl std::ops::Deref for StoredPolicy {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

/// Two stored policies are the same when their texts are: the parse follows from the text.
impl PartialEq for StoredPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for StoredPolicy {}

impl std::fmt::Debug for StoredPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl serde::Serialize for StoredPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for StoredPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_policy_is_its_text_and_parses_once() {
        let text =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        let stored = StoredPolicy::new(text.to_owned());
        let first = stored.parsed().unwrap();
        assert!(Arc::ptr_eq(&first, &stored.parsed().unwrap()), "kept, not parsed again");
        assert!(Arc::ptr_eq(&first, &stored.clone().parsed().unwrap()), "a copy keeps it too");
        assert_eq!(serde_json::to_string(&stored).unwrap(), serde_json::to_string(text).unwrap());
        let back: StoredPolicy = serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
        assert_eq!(back, stored);
        assert_eq!(&*back, text);
        assert!(StoredPolicy::new("{nope".to_owned()).parsed().is_none());
    }
}
