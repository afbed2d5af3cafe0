//! Runtime settings shared by the server and the engine.

use crate::auth::AuthMode;
use crate::guard::{ControlMode, ControlToken};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    /// Region used when a request carries no credential scope.
    pub default_region: String,
    /// Account used when the access key is not a 12-digit account id.
    pub default_account: String,
    pub auth_mode: AuthMode,
    /// Whether calls are authorised against identity, resource and key policies.
    pub authorize: crate::iam::AuthorizeMode,
    /// Request bodies larger than this are refused before they are parsed.
    pub max_body_bytes: usize,
    /// Whether RotateSecret answers after the rotation's steps ran, or at once.
    pub rotation_timing: RotationTiming,
    /// How long smemu waits on a client: for a request's headers (and for the next request on an
    /// idle kept-alive connection), for its whole body, and for it to take the answer. A client
    /// that stalls any longer is cut off, so it cannot hold a connection slot forever.
    pub client_timeout: Duration,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// The largest state import (`POST /_smemu/state`), far above any AWS request.
    pub max_import_bytes: usize,
    /// How the control API is guarded; see [`crate::guard`].
    pub control: ControlMode,
    pub control_token: Option<ControlToken>,
    /// Names besides loopback ones that may appear in `Host` and `Origin` (e.g. a compose service).
    pub allowed_hosts: Vec<String>,
    /// Whether `POST /_smemu/hooks` may register `command` hooks (programs smemu runs), and
    /// callers whose signature is not checked may deploy Lambda functions.
    pub allow_command_hooks: bool,
    /// Whether every call is recorded in the audit trail (`--audit on|off`).
    pub audit: bool,
    /// Events the trail keeps in memory (`--audit-retain`).
    pub audit_retain: usize,
    /// The interpreters that run deployed functions' `python3.x` and `nodejs` handlers.
    pub lambda_python: String,
    pub lambda_node: String,
}

/// When RotateSecret answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RotationTiming {
    /// After the four steps ran, so the rotated value can be read as soon as the call returns.
    #[default]
    Sync,
    /// At once, as AWS does; the steps run in the background.
    Async,
}

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// Comfortably above the largest legal request (a 65,536-character SecretString, fully escaped).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Well under the usual open-file limit of 1024, so the refusal can still be sent.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Room for an export of thousands of secrets at their largest.
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        Self {
            default_region: DEFAULT_REGION.to_owned(),
            default_account: DEFAULT_ACCOUNT.to_owned(),
            auth_mode: AuthMode::Open,
            authorize: crate::iam::AuthorizeMode::Off,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rotation_timing: RotationTiming::Sync,
            control: ControlMode::Auto,
            control_token: None,
            allowed_hosts: Vec::new(),
            allow_command_hooks: false,
            lambda_python: "python3".to_owned(),
            lambda_node: "node".to_owned(),
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            audit: true,
            audit_retain: crate::audit::DEFAULT_RETAIN,
        }
    }
}

/// A positive duration for a flag: `30s`, `500ms`, `2m`.
///
/// # Errors
/// A message saying what a duration looks like.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match crate::clock::parse_duration(text).and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(format!("cannot read {text:?}: use a positive duration such as 30s, 500ms or 2m")),
    }
}

/// A connection count for a flag: at least 1.
///
/// # Errors
/// A message saying what a count looks like.
pub fn parse_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("cannot read {text:?}: use a whole number of connections, at least 1")),
    }
}

/// A positive byte count for a flag: `1048576`, `512KiB`, `64MiB`, `1GiB`.
///
/// # Errors
/// A message saying what a byte count looks like.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let unit: Option<usize> = match &text[digits..] {
        "" => Some(1),
        "KiB" => Some(1 << 10),
        "MiB" => Some(1 << 20),
        "GiB" => Some(1 << 30),
        _ => None,
    };
    unit.zip(text[..digits].parse::<usize>().ok())
        .and_then(|(unit, n)| n.checked_mul(unit))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("cannot read {text:?}: use a positive byte count such as 1048576, 512KiB or 256MiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_parse_or_say_why_not() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
        assert_eq!(parse_connections("512"), Ok(512));
        assert!(parse_connections("0").is_err());
        assert_eq!(parse_size("256MiB"), Ok(DEFAULT_MAX_IMPORT_BYTES));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        for bad in ["", "MiB", "0", "12MB", "-1", "99999999999999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
