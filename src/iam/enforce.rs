//! Enforcement: whether a request may run, decided once in the pipeline from the facts its
//! operation states ([`Access`]), the caller's identity policies, the resource's policy and, for
//! the key behind a secret value, the key policy.

use std::fmt;
use std::str::FromStr;

/// Whether calls are authorised (`--authorize`, env `SMEMU_AUTHORIZE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AuthorizeMode {
    /// Every authenticated caller may do everything (resource policies are stored, not enforced).
    #[default]
    Off,
    /// Every Secrets Manager and KMS call is evaluated as AWS evaluates it.
    Enforce,
}

impl AuthorizeMode {
    pub const ALL: [AuthorizeMode; 2] = [AuthorizeMode::Off, AuthorizeMode::Enforce];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeMode::Off => "off",
            AuthorizeMode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for AuthorizeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthorizeMode {
    type Err = String;

    /// `off` or `enforce` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        AuthorizeMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("invalid authorize mode '{s}' (expected one of: off, enforce)"))
    }
}

/// What one request asks to do, as its operation states it: the action, the resource as the
/// caller named it, and the condition keys taken from the parameters actually sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// `secretsmanager:GetSecretValue`, `kms:Decrypt`.
    pub action: &'static str,
    /// The resource as sent (a secret's name or ARN, a key id, alias or ARN); `None` for
    /// actions without a resource (ListSecrets, GetRandomPassword, CreateKey).
    pub resource: Option<String>,
    /// Condition keys and their values, only for parameters the request carries.
    pub context: Vec<(String, Vec<String>)>,
    /// Per-item checks of a batch (BatchGetSecretValue's `GetSecretValue` per secret).
    pub each: Vec<String>,
}

impl Access {
    #[must_use]
    pub fn new(action: &'static str, resource: Option<&str>) -> Self {
        Self { action, resource: resource.map(str::to_string), ..Self::default() }
    }

    /// Adds a condition key with its values (lower-case names are matched case-insensitively
    /// by the engine).
    #[must_use]
    pub fn with(mut self, key: &str, values: Vec<String>) -> Self {
        self.context.push((key.to_string(), values));
        self
    }
}
