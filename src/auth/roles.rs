//! Roles callers may assume: declared in the credentials file (`[[roles]]`) or
//! in a seed file's `iam` section, each with the trust policy that decides who
//! may assume it.
//!
//! Strict mode lets AssumeRole into a declared role only, and only when its
//! trust policy allows the caller ([`RoleRegistry::may_assume`]). Open mode
//! does not ask: it already trusts every caller to be whoever it claims.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use super::credentials::{RoleArn, derived_id};
use super::trust::{Decision, Subject, TrustPolicy};

/// The action a trust policy is asked about.
pub const ASSUME_ROLE_ACTION: &str = "sts:AssumeRole";

/// A role smemu knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `arn:aws:iam::<account>:role/<path/><name>`, as declared.
    pub arn: String,
    pub account_id: String,
    pub name: String,
    /// `AROA…`: given with the role, or derived from its ARN.
    pub role_id: String,
    pub trust: TrustPolicy,
}

impl Role {
    /// A role from its ARN and trust policy; without a `role_id` (checked
    /// with [`check_role_id`]) one is derived from the ARN. The error is about
    /// the ARN.
    pub fn new(arn: &str, trust: TrustPolicy, role_id: Option<String>) -> Result<Self, String> {
        let parsed = RoleArn::parse(arn)
            .ok_or_else(|| format!("{arn:?} is not a role ARN (like arn:aws:iam::111122223333:role/NAME)"))?;
        let role_id = role_id.unwrap_or_else(|| default_role_id(&parsed));
        Ok(Self { arn: arn.to_string(), account_id: parsed.account_id, name: parsed.role_name, role_id, trust })
    }
}

/// A declared role id: `AROA` and up to 124 capital letters or digits.
pub fn check_role_id(id: &str) -> Result<String, String> {
    let valid = id.len() > 4
        && id.len() <= 128
        && id.starts_with("AROA")
        && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Ok(id.to_string())
    } else {
        Err(format!("{id:?} is not a role id (AROA followed by up to 124 capital letters or digits)"))
    }
}

/// The role id of a role declared without one: stable, derived from the ARN
/// without its path (so it agrees with [`crate::auth::user_id_for`]).
pub fn default_role_id(role: &RoleArn) -> String {
    derived_id("AROA", &format!("arn:{}:iam::{}:role/{}", role.partition, role.account_id, role.role_name))
}

/// The declared roles, by ARN. Written while credentials and seeds load;
/// read by AssumeRole only, never on the signature path.
#[derive(Debug, Default)]
pub struct RoleRegistry {
    by_arn: RwLock<HashMap<String, Arc<Role>>>,
}

impl RoleRegistry {
    /// Declares `roles`. A role declared again (say, by a seed after the
    /// credentials file) replaces the earlier declaration; the same ARN twice
    /// in one batch is an error, and then nothing is declared.
    pub fn declare(&self, roles: Vec<Role>) -> Result<usize, String> {
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = roles.iter().find(|r| !seen.insert(r.arn.as_str())) {
            return Err(format!("role {} is declared twice", twice.arn));
        }
        let count = roles.len();
        let mut map = self.by_arn.write();
        for role in roles {
            map.insert(role.arn.clone(), Arc::new(role));
        }
        Ok(count)
    }

    pub fn get(&self, arn: &str) -> Option<Arc<Role>> {
        self.by_arn.read().get(arn).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_arn.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the caller may assume `role_arn`: the role is declared and its
    /// trust policy allows the caller. Being in the role's account is not
    /// enough, not even for its root (as in AWS, trust must name the caller).
    pub fn may_assume(&self, principal_arn: &str, account_id: &str, role_arn: &str) -> bool {
        self.get(role_arn).is_some_and(|role| {
            role.trust.evaluate(ASSUME_ROLE_ACTION, Subject { principal_arn, account_id }) == Decision::Allow
        })
    }
}

const FILE_FIELDS: [&str; 3] = ["arn", "trust_policy", "role_id"];

/// One `[[roles]]` entry of a credentials file: `arn`, `trust_policy` (a
/// policy document as a table or as JSON text), optional `role_id`.
pub fn from_credentials_entry(value: &Value) -> Result<Role, String> {
    let Value::Object(map) = value else {
        return Err("must be a table of fields (arn, trust_policy, role_id)".into());
    };
    if let Some(unknown) = map.keys().find(|k| !FILE_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field `{unknown}` (expected one of: {})", FILE_FIELDS.join(", ")));
    }
    let arn = match map.get("arn") {
        Some(Value::String(arn)) => arn,
        Some(_) => return Err("field `arn` must be a string".into()),
        None => return Err("missing field `arn`".into()),
    };
    let trust = map.get("trust_policy").ok_or("missing field `trust_policy` (the role's trust policy document)")?;
    let trust = TrustPolicy::from_value(trust).map_err(|e| format!("field `trust_policy`: {e}"))?;
    let role_id = match map.get("role_id") {
        None => None,
        Some(Value::String(id)) => Some(check_role_id(id).map_err(|e| format!("field `role_id`: {e}"))?),
        Some(_) => return Err("field `role_id` must be a string".into()),
    };
    Role::new(arn, trust, role_id).map_err(|e| format!("field `arn`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trusting(account: &str) -> TrustPolicy {
        TrustPolicy::from_value(
            &json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}}),
        )
        .unwrap()
    }

    #[test]
    fn declared_roles_and_trust() {
        let registry = RoleRegistry::default();
        let role = Role::new("arn:aws:iam::222222222222:role/ci/deployer", trusting("111111111111"), None).unwrap();
        assert_eq!((role.account_id.as_str(), role.name.as_str()), ("222222222222", "deployer"));
        assert!(role.role_id.starts_with("AROA") && role.role_id.len() == 21);
        registry.declare(vec![role]).unwrap();
        let arn = "arn:aws:iam::222222222222:role/ci/deployer";
        assert!(registry.may_assume("arn:aws:iam::111111111111:user/alice", "111111111111", arn));
        assert!(!registry.may_assume("arn:aws:iam::333333333333:user/eve", "333333333333", arn));
        assert!(
            !registry.may_assume("arn:aws:iam::222222222222:root", "222222222222", arn),
            "own root needs trust too"
        );
        assert!(!registry.may_assume(
            "arn:aws:iam::111111111111:user/alice",
            "111111111111",
            "arn:aws:iam::222222222222:role/deployer"
        ));

        // Declared again: replaced. Twice in one batch: refused, nothing changes.
        let again = Role::new(arn, trusting("333333333333"), Some("AROAFIXEDID".into())).unwrap();
        registry.declare(vec![again.clone()]).unwrap();
        assert_eq!(registry.get(arn).unwrap().role_id, "AROAFIXEDID");
        assert!(registry.may_assume("arn:aws:iam::333333333333:user/eve", "333333333333", arn));
        let err = registry.declare(vec![again.clone(), again]).unwrap_err();
        assert_eq!(err, format!("role {arn} is declared twice"));
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn credentials_file_entries() {
        let policy = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}}"#;
        let role = from_credentials_entry(&json!({"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": policy}))
            .unwrap();
        let table = from_credentials_entry(&json!({
            "arn": "arn:aws:iam::222222222222:role/r",
            "trust_policy": serde_json::from_str::<Value>(policy).unwrap(),
        }))
        .unwrap();
        assert_eq!(role, table);
        for (entry, error) in [
            (json!({"trust_policy": policy}), "missing field `arn`"),
            (json!({"arn": "arn:aws:iam::222222222222:role/r"}), "missing field `trust_policy`"),
            (
                json!({"arn": "arn:aws:iam::2:role/r", "trust_policy": policy}),
                "field `arn`: \"arn:aws:iam::2:role/r\" is not a role ARN",
            ),
            (
                json!({"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": "{"}),
                "field `trust_policy`: not a JSON policy document",
            ),
            (
                json!({"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": policy, "role_id": "X"}),
                "field `role_id`: \"X\" is not a role id",
            ),
            (
                json!({"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": policy, "trust": 1}),
                "unknown field `trust`",
            ),
        ] {
            let err = from_credentials_entry(&entry).unwrap_err();
            assert!(err.starts_with(error), "{entry}: {err}");
        }
    }
}
