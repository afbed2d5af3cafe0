//! Runtime settings shared by the server and the engine.

use crate::auth::AuthMode;
use crate::guard::{ControlMode, ControlToken};

#[derive(Clone, Debug)]
pub struct Config {
    /// Region used when a request carries no credential scope.
    pub default_region: String,
    /// Account used when the access key is not a 12-digit account id.
    pub default_account: String,
    pub auth_mode: AuthMode,
    /// Request bodies larger than this are refused before they are parsed.
    pub max_body_bytes: usize,
    /// Whether RotateSecret answers after the rotation's steps ran, or at once.
    pub rotation_timing: RotationTiming,
    /// How the control API is guarded; see [`crate::guard`].
    pub control: ControlMode,
    pub control_token: Option<ControlToken>,
    /// Names besides loopback ones that may appear in `Host` and `Origin` (e.g. a compose service).
    pub allowed_hosts: Vec<String>,
    /// Whether `POST /_smemu/hooks` may register `command` hooks (programs smemu runs).
    pub allow_command_hooks: bool,
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

impl Default for Config {
    fn default() -> Self {
        Self {
            default_region: DEFAULT_REGION.to_owned(),
            default_account: DEFAULT_ACCOUNT.to_owned(),
            auth_mode: AuthMode::Open,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rotation_timing: RotationTiming::Sync,
            control: ControlMode::Auto,
            control_token: None,
            allowed_hosts: Vec::new(),
            allow_command_hooks: false,
        }
    }
}
