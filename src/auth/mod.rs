//! Placeholder until SigV4 verification lands: reads the caller's account and region.
use std::time::SystemTime;
#[derive(Clone, Copy, Debug)]
pub enum AuthMode {
    Off,
    Open,
    Strict,
}
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub principal_arn: String,
}
pub struct AuthError {
    pub code: &'static str,
    pub message: String,
}
#[derive(Default)]
pub struct CredentialStore;
pub struct Authenticator {
    default_account: String,
    default_region: String,
}
impl Authenticator {
    #[must_use]
    pub fn new(_mode: AuthMode, default_account: String, default_region: String, _c: CredentialStore) -> Self {
        Self { default_account, default_region }
    }
    pub fn authenticate(
        &self,
        _m: &http::Method,
        _u: &http::Uri,
        headers: &http::HeaderMap,
        _b: &[u8],
        _now: SystemTime,
    ) -> Result<Caller, AuthError> {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let scope = auth.split("Credential=").nth(1).and_then(|r| r.split([',', ' ']).next()).unwrap_or("");
        let mut parts = scope.split('/');
        let akid = parts.next().filter(|s| !s.is_empty());
        let region = parts.nth(1).filter(|s| !s.is_empty()).unwrap_or(&self.default_region).to_owned();
        let account_id = akid
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(&self.default_account)
            .to_owned();
        Ok(Caller {
            principal_arn: format!("arn:aws:iam::{account_id}:root"),
            account_id,
            region,
            access_key_id: akid.map(str::to_owned),
        })
    }
}
