//! Who is calling: SigV4 verification, accounts and credentials.
//!
//! Three modes (`--auth`, env `SMEMU_AUTH`):
//! * `off`: nothing is parsed; every request runs in the default account and
//!   region.
//! * `open` (default): nothing is verified. The account is the access key id
//!   when that is exactly 12 digits; a key smemu knows (from the credentials
//!   file, flags or AssumeRole) maps to its own account and principal; any
//!   other key maps to the default account. The region comes from the
//!   credential scope. Unsigned requests, and requests whose signature fields
//!   cannot be read, run in the default account and region.
//! * `strict`: every request must carry a complete SigV4 signature (header or
//!   presigned query) by a known credential, within the clock-skew window,
//!   with the right session token; failures are the errors AWS returns.
//!
//! Order of the strict checks: signature present → fields complete →
//! credential scope well formed → `host`, the date header and `x-amz-target`
//! signed → scope terminator, service, region and date → clock window →
//! access key known → session token → token expiry → signature.
//!
//! Every service smemu answers speaks JSON or the query protocol, so the
//! payload hash in the canonical request is always the SHA-256 of the body
//! received, whatever `x-amz-content-sha256` says: `UNSIGNED-PAYLOAD` (S3's
//! escape hatch, presigned URLs included) never verifies. The SDKs sign these
//! services' bodies, presigned URLs too (with the empty body's hash).

pub mod authorization_details;
pub mod credentials;
pub mod roles;
pub mod session;
pub mod sigv4;
pub mod trust;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method, Uri};
use parking_lot::RwLock;

pub use authorization_details::AuthorizationDetails;
pub use credentials::{
    Credential, CredentialSource, CredentialStore, CredentialsError, Refusal, RoleArn, TemporaryCredentials,
    is_account_id, root_arn, user_id_for,
};
pub use roles::{Role, RoleRegistry};

/// Largest difference between the request's signing time and the clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Derived signing keys kept at most (the cache is emptied when full).
const SIGNING_KEY_CACHE_LIMIT: usize = 4096;

/// Signing names of the services the pipeline routes to, for
/// [`Authenticator::authenticate`].
pub const SECRETS_MANAGER: &str = "secretsmanager";
pub const STS: &str = "sts";
pub const KMS: &str = "kms";
pub const CLOUDTRAIL: &str = "cloudtrail";
pub const LAMBDA: &str = "lambda";

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AuthMode {
    Off,
    #[default]
    Open,
    Strict,
}

impl AuthMode {
    pub const ALL: [AuthMode; 3] = [AuthMode::Off, AuthMode::Open, AuthMode::Strict];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Off => "off",
            AuthMode::Open => "open",
            AuthMode::Strict => "strict",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMode {
    type Err = String;

    /// `off`, `open` or `strict` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        AuthMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("invalid auth mode '{s}' (expected one of: off, open, strict)"))
    }
}

/// The identity a request runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub principal_arn: String,
    /// GetCallerIdentity's `UserId`: the account id for root, `AIDA…` for a
    /// user, `AROA…:<session>` for a role session.
    pub user_id: String,
    /// The session policy an AssumeRole passed (`Policy`): it caps what the session may do.
    pub session_policy: Option<Arc<str>>,
}

/// An authentication failure. Every one is HTTP 400 on the Secrets Manager
/// (JSON) side; STS renders them its own way (`crate::services::sts::auth_error_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The wire `__type`, e.g. `InvalidSignatureException`.
    pub code: &'static str,
    pub message: String,
}

pub const MISSING_AUTHENTICATION_TOKEN: &str = "MissingAuthenticationTokenException";
pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignatureException";
pub const UNRECOGNIZED_CLIENT: &str = "UnrecognizedClientException";
pub const INVALID_SIGNATURE: &str = "InvalidSignatureException";
pub const EXPIRED_TOKEN: &str = "ExpiredTokenException";

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN_TEXT: &str = "The security token included in the request is expired";
const HOST_NOT_SIGNED: &str = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";

/// The IncompleteSignatureException text for a header that is present but
/// not signed. AWS's wording is confirmed for `host` only ([`HOST_NOT_SIGNED`]);
/// this follows it for the date header and `x-amz-target`.
fn not_signed(header: &str) -> String {
    format!("'{header}' must be a 'SignedHeader' in the AWS Authorization.")
}

impl AuthError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// HTTP status on the JSON protocol: always 400.
    pub fn status(&self) -> u16 {
        400
    }

    /// The JSON error body: `{"__type":"<code>","message":"<message>"}`
    /// (framework errors use a lower-case `message`).
    pub fn to_json(&self) -> String {
        serde_json::json!({ "__type": self.code, "message": self.message }).to_string()
    }

    /// The first paragraph of the message (the signature-mismatch message
    /// carries the canonical request and string to sign after a blank line).
    pub fn summary(&self) -> &str {
        self.message.split("\n\n").next().unwrap_or(&self.message)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AuthError {}

/// Authenticates requests; `Send + Sync`, share it through an `Arc`.
#[derive(Debug)]
pub struct Authenticator {
    mode: AuthMode,
    default_account: String,
    default_region: String,
    credentials: CredentialStore,
    /// Signing keys by credential scope, valid while the credential is the
    /// same `Arc` (a key derivation costs four HMACs).
    signing_keys: RwLock<HashMap<String, (Arc<Credential>, ring::hmac::Key)>>,
}

/// Whether `s` can name a region (a world of secrets): requests in open mode whose credential
/// scope names anything else run in the default region, and seeds and resets refuse it.
#[must_use]
pub fn is_region_like(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Authenticator {
    pub fn new(mode: AuthMode, default_account: String, default_region: String, credentials: CredentialStore) -> Self {
        Self { mode, default_account, default_region, credentials, signing_keys: RwLock::new(HashMap::new()) }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    pub fn default_region(&self) -> &str {
        &self.default_region
    }

    pub fn credentials(&self) -> &CredentialStore {
        &self.credentials
    }

    fn default_caller(&self) -> Caller {
        Caller {
            account_id: self.default_account.clone(),
            region: self.default_region.clone(),
            access_key_id: None,
            principal_arn: root_arn(&self.default_account),
            user_id: self.default_account.clone(),
            session_policy: None,
        }
    }

    /// Decides who a request runs as. `service` is the signing name of the
    /// service the request was routed to ([`SECRETS_MANAGER`], [`STS`], ...):
    /// in strict mode the credential scope must name it. `now` is the real
    /// wall-clock time, used for the clock-skew and expiry checks.
    pub fn authenticate(
        &self,
        service: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, AuthError> {
        match self.mode {
            AuthMode::Off => Ok(self.default_caller()),
            AuthMode::Open => Ok(self.open(uri, headers)),
            AuthMode::Strict => self.strict(service, method, uri, headers, body, now),
        }
    }

    /// Whether `caller` may assume `role_arn`. Strict mode: only a declared
    /// role whose trust policy allows the caller. Open and off modes: any
    /// role, because they already let every caller be whoever it claims.
    /// A role declared in an `iam` section is asked through the policy engine (conditions
    /// included); one of a credentials file's `[[roles]]` through its trust subset.
    pub fn may_assume_role(&self, caller: &Caller, role_arn: &str) -> bool {
        if self.mode != AuthMode::Strict {
            return true;
        }
        let declared = RoleArn::parse(role_arn)
            .and_then(|r| self.credentials.identities().role(&r.account_id, &r.role_name))
            .filter(|role| role.arn == role_arn);
        match declared {
            Some(role) => crate::iam::enforce::may_assume(self.credentials.identities(), caller, &role),
            None => self.credentials.roles().may_assume(&caller.principal_arn, &caller.account_id, role_arn),
        }
    }

    fn signing_key(
        &self,
        credential: &Arc<Credential>,
        credential_field: &str,
        scope: &sigv4::CredentialScope,
    ) -> ring::hmac::Key {
        let derive = || {
            sigv4::hmac_key(&sigv4::signing_key(
                &credential.secret_access_key,
                &scope.date,
                &scope.region,
                &scope.service,
            ))
        };
        // Temporary credentials are rebuilt from their token on every request,
        // so a cache keyed by the credential would only miss; deriving costs
        // four HMACs and keeps their path free of any shared lock.
        if credential.source == CredentialSource::AssumeRole {
            return derive();
        }
        if let Some((owner, key)) = self.signing_keys.read().get(credential_field)
            && Arc::ptr_eq(owner, credential)
        {
            return key.clone();
        }
        let key = derive();
        let mut cache = self.signing_keys.write();
        if cache.len() >= SIGNING_KEY_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(credential_field.to_string(), (Arc::clone(credential), key.clone()));
        key
    }

    fn open(&self, uri: &Uri, headers: &HeaderMap) -> Caller {
        // Lenient by design: anything unreadable falls back to the defaults.
        let Some(scope) = sigv4::peek_credential_scope(headers, uri) else {
            return self.default_caller();
        };
        let region = if is_region_like(&scope.region) { scope.region.clone() } else { self.default_region.clone() };
        let key = scope.access_key_id;
        let token = sigv4::peek_security_token(headers, uri);
        if let Some(known) = self.credentials.identify(&key, token.as_deref()) {
            return Caller {
                account_id: known.account_id.clone(),
                region,
                access_key_id: Some(key),
                principal_arn: known.principal_arn.clone(),
                user_id: known.user_id.clone(),
                session_policy: known.session_policy.clone(),
            };
        }
        let account_id = if is_account_id(&key) { key.clone() } else { self.default_account.clone() };
        Caller {
            principal_arn: root_arn(&account_id),
            user_id: account_id.clone(),
            account_id,
            region,
            access_key_id: if key.is_empty() { None } else { Some(key) },
            session_policy: None,
        }
    }

    fn strict(
        &self,
        service: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, AuthError> {
        let request = sigv4::extract(headers, uri)
            .map_err(|m| AuthError::new(INCOMPLETE_SIGNATURE, m))?
            .ok_or_else(|| AuthError::new(MISSING_AUTHENTICATION_TOKEN, "Request is missing Authentication Token"))?;
        let scope =
            sigv4::CredentialScope::parse(&request.credential).map_err(|m| AuthError::new(INCOMPLETE_SIGNATURE, m))?;
        check_signed_headers(&request, headers)?;
        check_scope(&scope, &request, service)?;
        check_clock(&request, sigv4::unix_seconds(now))?;

        let credential = self
            .credentials
            .resolve(&scope.access_key_id, request.security_token.as_deref(), now)
            .map_err(|refusal| match refusal {
                Refusal::Unknown => AuthError::new(UNRECOGNIZED_CLIENT, INVALID_TOKEN),
                Refusal::Expired => AuthError::new(EXPIRED_TOKEN, EXPIRED_TOKEN_TEXT),
            })?;

        let canonical = sigv4::canonical_request(
            method,
            uri,
            headers,
            &request.signed_headers,
            &payload_hash(body),
            request.location == sigv4::SignatureLocation::QueryString,
        );
        let string_to_sign = sigv4::string_to_sign(&request.amz_date, &scope.scope(), &canonical);
        let key = self.signing_key(&credential, &request.credential, &scope);
        if !sigv4::verify_with(&key, &string_to_sign, &request.signature) {
            return Err(AuthError::new(
                INVALID_SIGNATURE,
                format!(
                    "{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
                ),
            ));
        }
        Ok(Caller {
            account_id: credential.account_id.clone(),
            region: scope.region,
            access_key_id: Some(scope.access_key_id),
            principal_arn: credential.principal_arn.clone(),
            user_id: credential.user_id.clone(),
            session_policy: credential.session_policy.clone(),
        })
    }
}

/// The payload hash of the canonical request: always the body's own (see the
/// module documentation), so a body cannot change after signing.
fn payload_hash(body: &[u8]) -> String {
    if body.is_empty() { sigv4::EMPTY_PAYLOAD_SHA256.to_string() } else { sigv4::sha256_hex(body) }
}

/// What must be signed when present: `host` always; for a signature in the
/// `Authorization` header, the header the signing time came from (a
/// presigned URL's `X-Amz-Date` is in the signed query string); and
/// `x-amz-target`, which names the operation of a JSON request.
fn check_signed_headers(request: &sigv4::SignedRequest, headers: &HeaderMap) -> Result<(), AuthError> {
    let signed = |name: &str| request.signed_headers.iter().any(|h| h == name);
    if !signed("host") && !signed(":authority") {
        return Err(AuthError::new(INCOMPLETE_SIGNATURE, HOST_NOT_SIGNED));
    }
    if request.location == sigv4::SignatureLocation::Header {
        let (name, display) = match request.date_source {
            sigv4::DateSource::XAmzDate => ("x-amz-date", "X-Amz-Date"),
            sigv4::DateSource::Date => ("date", "Date"),
        };
        if !signed(name) {
            return Err(AuthError::new(INCOMPLETE_SIGNATURE, not_signed(display)));
        }
    }
    if headers.contains_key("x-amz-target") && !signed("x-amz-target") {
        return Err(AuthError::new(INCOMPLETE_SIGNATURE, not_signed("X-Amz-Target")));
    }
    Ok(())
}

/// A region as AWS names them: lower-case words and a number, joined by
/// hyphens (`us-east-1`, `us-gov-west-1`, `eusc-de-east-1`).
fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else { return false };
    words.len() >= 2
        && words[0].len() >= 2
        && words.iter().all(|w| !w.is_empty() && w.len() <= 16 && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn check_scope(scope: &sigv4::CredentialScope, request: &sigv4::SignedRequest, service: &str) -> Result<(), AuthError> {
    let invalid = |m: String| Err(AuthError::new(INVALID_SIGNATURE, m));
    if scope.terminator != sigv4::TERMINATOR {
        return invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            scope.terminator
        ));
    }
    if scope.service != service {
        return invalid(format!("Credential should be scoped to correct service: '{service}'. "));
    }
    if !is_aws_region(&scope.region) {
        return invalid(format!("Credential should be scoped to a valid region, not '{}'. ", scope.region));
    }
    let request_day = &request.amz_date[..8];
    if scope.date != request_day {
        return invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            scope.date,
            request_day,
            request.date_source.name()
        ));
    }
    Ok(())
}

fn check_clock(request: &sigv4::SignedRequest, now: i64) -> Result<(), AuthError> {
    let signed_at = request.timestamp;
    let fmt = sigv4::format_amz_date;
    if signed_at > now + MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::new(
            INVALID_SIGNATURE,
            format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                fmt(signed_at),
                fmt(now + MAX_CLOCK_SKEW_SECS),
                fmt(now)
            ),
        ));
    }
    match request.expires_secs {
        Some(expires) => {
            let expires = expires as i64;
            if now > signed_at + expires {
                return Err(AuthError::new(
                    INVALID_SIGNATURE,
                    format!(
                        "Signature expired: {} is now earlier than {} ({} - {expires} sec.)",
                        fmt(signed_at),
                        fmt(now - expires),
                        fmt(now)
                    ),
                ));
            }
        }
        None => {
            if signed_at < now - MAX_CLOCK_SKEW_SECS {
                return Err(AuthError::new(
                    INVALID_SIGNATURE,
                    format!(
                        "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                        fmt(signed_at),
                        fmt(now - MAX_CLOCK_SKEW_SECS),
                        fmt(now)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Requests signed by the `aws-sigv4` crate, for tests here and in `sts`.
#[cfg(test)]
pub(crate) mod test_support {
    use std::time::{Duration, SystemTime};

    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_smithy_runtime_api::client::identity::Identity;

    pub(crate) struct Signer<'a> {
        pub access_key_id: &'a str,
        pub secret_access_key: &'a str,
        pub session_token: Option<&'a str>,
        pub region: &'a str,
        pub service: &'a str,
        pub time: SystemTime,
        /// `Some(expires_in)`: a presigned URL instead of an `Authorization` header.
        pub presign: Option<Duration>,
    }

    impl Signer<'_> {
        /// Signs `method url` with `headers` and `body`, the way an SDK would,
        /// and returns the request as a server sees it (origin-form URI, Host
        /// header).
        pub(crate) fn sign(
            &self,
            method: &str,
            url: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> http::Request<Vec<u8>> {
            let mut builder = http::Request::builder().method(method).uri(url);
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            let mut request = builder.body(body.to_vec()).unwrap();
            let host = request.uri().authority().unwrap().to_string();
            request.headers_mut().insert(http::header::HOST, host.parse().unwrap());

            let identity: Identity = aws_credential_types::Credentials::new(
                self.access_key_id,
                self.secret_access_key,
                self.session_token.map(str::to_string),
                None,
                "smemu-tests",
            )
            .into();
            let mut settings = SigningSettings::default();
            if let Some(expires_in) = self.presign {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(expires_in);
            }
            let params = aws_sigv4::sign::v4::SigningParams::builder()
                .identity(&identity)
                .region(self.region)
                .name(self.service)
                .time(self.time)
                .settings(settings)
                .build()
                .unwrap()
                .into();
            let header_pairs: Vec<(String, String)> = request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
                .collect();
            let signable = SignableRequest::new(
                request.method().as_str(),
                request.uri().to_string(),
                header_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                SignableBody::Bytes(body),
            )
            .unwrap();
            let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
            instructions.apply_to_request_http1x(&mut request);
            let origin_form: http::Uri = request.uri().path_and_query().unwrap().as_str().parse().unwrap();
            *request.uri_mut() = origin_form;
            request
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::Signer;
    use super::*;
    use std::time::Duration;

    const ACCOUNT: &str = "111111111111";
    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "FQoGZXIvYXdzEXAMPLETOKEN";
    const TOKEN_KEY: &str = "AKIASESSIONEXAMPLE01";
    /// 2025-01-01T00:00:00Z
    const T0: i64 = 1_735_689_600;

    fn at(secs: i64) -> SystemTime {
        sigv4::system_time_from_unix(secs)
    }

    fn store() -> CredentialStore {
        let store = CredentialStore::new();
        store.add_static(KEY, SECRET, ACCOUNT, Some("arn:aws:iam::111111111111:user/alice"), None).unwrap();
        store.add_static(TOKEN_KEY, SECRET, "222222222222", None, Some(TOKEN)).unwrap();
        store
    }

    fn authenticator(mode: AuthMode) -> Authenticator {
        Authenticator::new(mode, "000000000000".into(), "us-east-1".into(), store())
    }

    fn signer<'a>(key: &'a str, secret: &'a str) -> Signer<'a> {
        Signer {
            access_key_id: key,
            secret_access_key: secret,
            session_token: None,
            region: "eu-west-2",
            service: "secretsmanager",
            time: at(T0),
            presign: None,
        }
    }

    const BODY: &[u8] = br#"{"SecretId":"db/password"}"#;

    /// A GetSecretValue call as the SDKs send it.
    fn sm_request(s: &Signer<'_>) -> http::Request<Vec<u8>> {
        s.sign(
            "POST",
            "http://localhost:4566/",
            &[("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "secretsmanager.GetSecretValue")],
            BODY,
        )
    }

    /// Authenticates as the pipeline would route it: JSON requests to Secrets
    /// Manager, the rest to STS.
    fn run(auth: &Authenticator, req: &http::Request<Vec<u8>>, now: i64) -> Result<Caller, AuthError> {
        let service = if req.headers().contains_key("x-amz-target") { SECRETS_MANAGER } else { STS };
        auth.authenticate(service, req.method(), req.uri(), req.headers(), req.body(), at(now))
    }

    #[test]
    fn mode_parsing_and_display() {
        for mode in AuthMode::ALL {
            assert_eq!(mode.to_string().parse::<AuthMode>().unwrap(), mode);
        }
        assert_eq!(" STRICT ".parse::<AuthMode>().unwrap(), AuthMode::Strict);
        assert_eq!(
            "loose".parse::<AuthMode>().unwrap_err(),
            "invalid auth mode 'loose' (expected one of: off, open, strict)"
        );
        assert_eq!(AuthMode::default(), AuthMode::Open);
    }

    #[test]
    fn authenticator_is_shareable() {
        fn check<T: Send + Sync>() {}
        check::<Authenticator>();
    }

    #[test]
    fn error_json_shape() {
        let e = AuthError::new(UNRECOGNIZED_CLIENT, INVALID_TOKEN);
        assert_eq!(
            e.to_json(),
            r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#
        );
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn off_mode_ignores_everything() {
        let auth = authenticator(AuthMode::Off);
        let mut req = sm_request(&signer("222222222222", "x"));
        req.headers_mut().insert("authorization", "garbage".parse().unwrap());
        let caller = run(&auth, &req, T0 + 86_400).unwrap();
        assert_eq!(
            caller,
            Caller {
                account_id: "000000000000".into(),
                region: "us-east-1".into(),
                access_key_id: None,
                principal_arn: "arn:aws:iam::000000000000:root".into(),
                user_id: "000000000000".into(),
                session_policy: None,
            }
        );
    }

    #[test]
    fn open_mode_accounts_and_regions() {
        let auth = authenticator(AuthMode::Open);
        // 12-digit key: its own account, region from the scope, any secret, any time.
        let caller = run(&auth, &sm_request(&signer("222222222222", "whatever")), T0 + 86_400).unwrap();
        assert_eq!(caller.account_id, "222222222222");
        assert_eq!(caller.region, "eu-west-2");
        assert_eq!(caller.access_key_id.as_deref(), Some("222222222222"));
        assert_eq!(caller.principal_arn, "arn:aws:iam::222222222222:root");
        // Other keys: default account.
        let caller = run(&auth, &sm_request(&signer("AKIDOTHER", "x")), T0).unwrap();
        assert_eq!(caller.account_id, "000000000000");
        assert_eq!(caller.region, "eu-west-2");
        // A known key maps to its own identity, unverified.
        let caller = run(&auth, &sm_request(&signer(KEY, "wrong")), T0).unwrap();
        assert_eq!(caller.account_id, ACCOUNT);
        assert_eq!(caller.principal_arn, "arn:aws:iam::111111111111:user/alice");
        // Unsigned and unreadable: defaults.
        let unsigned = http::Request::post("/").body(Vec::new()).unwrap();
        assert_eq!(run(&auth, &unsigned, T0).unwrap(), auth.default_caller());
        let mut bad = sm_request(&signer("222222222222", "x"));
        bad.headers_mut().insert("authorization", "AWS4-HMAC-SHA256 Credential=nope".parse().unwrap());
        assert_eq!(run(&auth, &bad, T0).unwrap(), auth.default_caller());
    }

    #[test]
    fn strict_accepts_an_sdk_signed_request() {
        let auth = authenticator(AuthMode::Strict);
        let caller = run(&auth, &sm_request(&signer(KEY, SECRET)), T0 + 30).unwrap();
        assert_eq!(
            caller,
            Caller {
                account_id: ACCOUNT.into(),
                region: "eu-west-2".into(),
                access_key_id: Some(KEY.into()),
                principal_arn: "arn:aws:iam::111111111111:user/alice".into(),
                user_id: auth.credentials().lookup(KEY).unwrap().user_id.clone(),
                session_policy: None,
            }
        );
    }

    #[test]
    fn strict_wrong_secret_reports_canonical_request_and_string_to_sign() {
        let auth = authenticator(AuthMode::Strict);
        let err = run(&auth, &sm_request(&signer(KEY, "not-the-secret")), T0).unwrap_err();
        assert_eq!(err.code, "InvalidSignatureException");
        let canonical = format!(
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:localhost:4566\nx-amz-date:20250101T000000Z\nx-amz-target:secretsmanager.GetSecretValue\n\ncontent-type;host;x-amz-date;x-amz-target\n{}",
            sigv4::sha256_hex(BODY)
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n20250101T000000Z\n20250101/eu-west-2/secretsmanager/aws4_request\n{}",
            sigv4::sha256_hex(canonical.as_bytes())
        );
        assert_eq!(
            err.message,
            format!(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
            )
        );
        assert_eq!(
            err.summary(),
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        );
    }

    #[test]
    fn strict_unknown_key_missing_header_tampered_body() {
        let auth = authenticator(AuthMode::Strict);
        let err = run(&auth, &sm_request(&signer("AKIDUNKNOWN", SECRET)), T0).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("UnrecognizedClientException", "The security token included in the request is invalid.")
        );

        let mut unsigned = sm_request(&signer(KEY, SECRET));
        unsigned.headers_mut().remove("authorization");
        let err = run(&auth, &unsigned, T0).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        );

        let mut tampered = sm_request(&signer(KEY, SECRET));
        *tampered.body_mut() = br#"{"SecretId":"db/other"}"#.to_vec();
        assert_eq!(run(&auth, &tampered, T0).unwrap_err().code, "InvalidSignatureException");

        let mut retargeted = sm_request(&signer(KEY, SECRET));
        retargeted.headers_mut().insert("x-amz-target", "secretsmanager.DeleteSecret".parse().unwrap());
        assert_eq!(run(&auth, &retargeted, T0).unwrap_err().code, "InvalidSignatureException");
    }

    #[test]
    fn strict_incomplete_signature() {
        let auth = authenticator(AuthMode::Strict);
        let mut req = sm_request(&signer(KEY, SECRET));
        let value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/eu-west-2/secretsmanager/aws4_request";
        req.headers_mut().insert("authorization", value.parse().unwrap());
        let err = run(&auth, &req, T0).unwrap_err();
        assert_eq!(err.code, "IncompleteSignatureException");
        assert_eq!(
            err.message,
            format!(
                "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={value}"
            )
        );

        let value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/eu-west-2/secretsmanager/aws4_request, SignedHeaders=x-amz-date, Signature=00";
        req.headers_mut().insert("authorization", value.parse().unwrap());
        let err = run(&auth, &req, T0).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                "IncompleteSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        );
    }

    #[test]
    fn strict_scope_checks() {
        let auth = authenticator(AuthMode::Strict);
        let mut s = signer(KEY, SECRET);
        s.service = "dynamodb";
        let err = run(&auth, &sm_request(&s), T0).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("InvalidSignatureException", "Credential should be scoped to correct service: 'secretsmanager'. ")
        );

        // A credential for STS is not one for Secrets Manager.
        let mut s = signer(KEY, SECRET);
        s.service = "sts";
        let err = run(&auth, &sm_request(&s), T0).unwrap_err();
        assert_eq!(err.message, "Credential should be scoped to correct service: 'secretsmanager'. ");
        let form = signer(KEY, SECRET).sign("GET", "http://localhost:4566/?Action=GetCallerIdentity", &[], b"");
        let err = run(&auth, &form, T0).unwrap_err();
        assert_eq!(err.message, "Credential should be scoped to correct service: 'sts'. ");

        for region in ["us-east-1a", "local", "US-EAST-1", "x-east-1", "us--1", "us-east-100"] {
            let mut s = signer(KEY, SECRET);
            s.region = region;
            let err = run(&auth, &sm_request(&s), T0).unwrap_err();
            assert_eq!(
                (err.code, err.message),
                (
                    "InvalidSignatureException",
                    format!("Credential should be scoped to a valid region, not '{region}'. ")
                )
            );
        }
        for region in ["us-gov-west-1", "eusc-de-east-1", "ap-southeast-5", "il-central-1"] {
            let mut s = signer(KEY, SECRET);
            s.region = region;
            assert_eq!(run(&auth, &sm_request(&s), T0).unwrap().region, region);
        }

        let mut req = sm_request(&signer(KEY, SECRET));
        let auth_value = req.headers()["authorization"].to_str().unwrap().replace("/20250101/", "/20241231/");
        req.headers_mut().insert("authorization", auth_value.parse().unwrap());
        let err = run(&auth, &req, T0).unwrap_err();
        assert_eq!(
            err.message,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20241231' != '20250101', from 'X-Amz-Date'."
        );

        let auth_value = req.headers()["authorization"].to_str().unwrap().replace("aws4_request", "aws5_request");
        req.headers_mut().insert("authorization", auth_value.parse().unwrap());
        let err = run(&auth, &req, T0).unwrap_err();
        assert_eq!(
            err.message,
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        );
    }

    /// Signs `headers` (names as given) of a GetSecretValue call with this
    /// module's own signer, sends `sent` in addition, and authenticates it.
    fn hand_signed(
        auth: &Authenticator,
        signed: &[(&str, &str)],
        sent: &[(&str, &str)],
        payload: &str,
        body: &[u8],
    ) -> Result<Caller, AuthError> {
        let mut headers = HeaderMap::new();
        for (k, v) in signed.iter().chain(sent) {
            headers.append(http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let mut names: Vec<String> = signed.iter().map(|(k, _)| k.to_string()).collect();
        names.sort();
        let uri: Uri = "/".parse().unwrap();
        let canonical = sigv4::canonical_request(&Method::POST, &uri, &headers, &names, payload, false);
        let scope = "20250101/eu-west-2/secretsmanager/aws4_request";
        let sts = sigv4::string_to_sign("20250101T000000Z", scope, &canonical);
        let signature = sigv4::sign(&sigv4::signing_key(SECRET, "20250101", "eu-west-2", "secretsmanager"), &sts);
        let value = format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={}, Signature={signature}",
            names.join(";")
        );
        headers.insert("authorization", value.parse().unwrap());
        auth.authenticate(SECRETS_MANAGER, &Method::POST, &uri, &headers, body, at(T0))
    }

    #[test]
    fn strict_host_date_and_target_must_be_signed() {
        let auth = authenticator(AuthMode::Strict);
        let hash = sigv4::sha256_hex(BODY);
        let host = ("host", "localhost:4566");
        let date = ("x-amz-date", "20250101T000000Z");
        let target = ("x-amz-target", "secretsmanager.GetSecretValue");
        assert!(hand_signed(&auth, &[host, date, target], &[], &hash, BODY).is_ok());
        for (signed, sent, message) in [
            (vec![host, date], vec![target], "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."),
            (vec![host, target], vec![date], "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
            (
                vec![host, target],
                vec![date, ("date", "Wed, 01 Jan 2025 00:00:00 GMT")],
                "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            (
                vec![host, target],
                vec![("date", "Wed, 01 Jan 2025 00:00:00 GMT")],
                "'Date' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            (
                vec![date, target],
                vec![host],
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ),
        ] {
            let err = hand_signed(&auth, &signed, &sent, &hash, BODY).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), ("IncompleteSignatureException", message), "{signed:?}");
        }
        // A signed `Date` stands in for X-Amz-Date.
        let date_header = ("date", "Wed, 01 Jan 2025 00:00:00 GMT");
        assert!(hand_signed(&auth, &[date_header, host, target], &[], &hash, BODY).is_ok());
    }

    #[test]
    fn strict_payload_hash_is_always_the_body() {
        let auth = authenticator(AuthMode::Strict);
        let host = ("host", "localhost:4566");
        let date = ("x-amz-date", "20250101T000000Z");
        let target = ("x-amz-target", "secretsmanager.GetSecretValue");
        let unsigned = ("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        // Signed for UNSIGNED-PAYLOAD, declared signed or not: never verifies.
        for signed in [vec![unsigned, host, date, target], vec![host, date, target]] {
            let sent = if signed.len() == 4 { vec![] } else { vec![unsigned] };
            let err = hand_signed(&auth, &signed, &sent, "UNSIGNED-PAYLOAD", BODY).unwrap_err();
            assert_eq!(err.code, "InvalidSignatureException");
            let expected = format!("\n{}'\n\nThe String-to-Sign should have been\n", sigv4::sha256_hex(BODY));
            assert!(err.message.contains(&expected), "{}", err.message);
        }
        // The body's hash verifies, with or without the header saying so.
        let hash = sigv4::sha256_hex(BODY);
        assert!(hand_signed(&auth, &[("x-amz-content-sha256", &hash), host, date, target], &[], &hash, BODY).is_ok());
    }

    /// The lookup path of a temporary credential shares no lock: it completes
    /// while another thread holds both the signing-key cache and the static
    /// credentials for writing.
    #[test]
    fn strict_temporary_credentials_take_no_lock() {
        let auth = Arc::new(authenticator(AuthMode::Strict));
        let temp = auth
            .credentials()
            .issue_temporary("arn:aws:iam::333333333333:role/r", "s", Duration::from_secs(900), at(T0))
            .unwrap();
        let mut s = signer(&temp.access_key_id, &temp.secret_access_key);
        s.session_token = Some(&temp.session_token);
        let req = sm_request(&s);
        let keys = auth.signing_keys.write();
        let statics = auth.credentials().lookup_guard_for_tests();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = {
            let auth = auth.clone();
            std::thread::spawn(move || {
                let _ = tx.send(run(&auth, &req, T0).map(|c| c.account_id));
            })
        };
        // A real timeout, not a sleep: it only matters when the test fails.
        let answer = rx.recv_timeout(Duration::from_secs(10));
        drop((keys, statics));
        worker.join().unwrap();
        assert_eq!(answer.expect("authentication waited for a lock"), Ok("333333333333".to_string()));
    }

    #[test]
    fn strict_clock_window() {
        let auth = authenticator(AuthMode::Strict);
        let req = sm_request(&signer(KEY, SECRET));
        assert!(run(&auth, &req, T0 + 15 * 60).is_ok());
        assert!(run(&auth, &req, T0 - 15 * 60).is_ok());
        let err = run(&auth, &req, T0 + 16 * 60).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                "InvalidSignatureException",
                "Signature expired: 20250101T000000Z is now earlier than 20250101T000100Z (20250101T001600Z - 15 min.)"
            )
        );
        let err = run(&auth, &req, T0 - 16 * 60).unwrap_err();
        assert_eq!(
            err.message,
            "Signature not yet current: 20250101T000000Z is still later than 20241231T235900Z (20241231T234400Z + 15 min.)"
        );
    }

    #[test]
    fn strict_presigned_url() {
        let auth = authenticator(AuthMode::Strict);
        let mut s = signer(KEY, SECRET);
        s.presign = Some(Duration::from_secs(3600));
        s.service = "sts";
        let req = s.sign("GET", "http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15", &[], b"");
        assert!(req.headers().get("authorization").is_none());
        assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
        let caller = run(&auth, &req, T0 + 3000).unwrap();
        assert_eq!(caller.account_id, ACCOUNT);

        let err = run(&auth, &req, T0 + 3601).unwrap_err();
        assert_eq!(
            err.message,
            "Signature expired: 20250101T000000Z is now earlier than 20250101T000001Z (20250101T010001Z - 3600 sec.)"
        );

        let tampered_uri: http::Uri = req.uri().to_string().replace("GetCallerIdentity", "AssumeRole").parse().unwrap();
        let err = auth.authenticate(STS, req.method(), &tampered_uri, req.headers(), b"", at(T0)).unwrap_err();
        assert_eq!(err.code, "InvalidSignatureException");
        assert!(err.message.contains("\nAction=AssumeRole&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
    }

    #[test]
    fn strict_session_tokens() {
        let auth = authenticator(AuthMode::Strict);
        let mut s = signer(TOKEN_KEY, SECRET);
        // Key that needs a token, sent without one.
        let err = run(&auth, &sm_request(&s), T0).unwrap_err();
        assert_eq!(err.code, "UnrecognizedClientException");
        // Wrong token.
        s.session_token = Some("another-token");
        assert_eq!(run(&auth, &sm_request(&s), T0).unwrap_err().code, "UnrecognizedClientException");
        // Right token (signed header).
        s.session_token = Some(TOKEN);
        let req = sm_request(&s);
        assert!(req.headers()["authorization"].to_str().unwrap().contains("x-amz-security-token"));
        let caller = run(&auth, &req, T0).unwrap();
        assert_eq!(caller.account_id, "222222222222");
        // A token on a long-term key.
        let mut s = signer(KEY, SECRET);
        s.session_token = Some(TOKEN);
        assert_eq!(run(&auth, &sm_request(&s), T0).unwrap_err().code, "UnrecognizedClientException");
        // Presigned with the token in the query string.
        let mut s = signer(TOKEN_KEY, SECRET);
        s.session_token = Some(TOKEN);
        s.presign = Some(Duration::from_secs(900));
        s.service = "sts";
        let req = s.sign("GET", "http://localhost:4566/?Action=GetCallerIdentity", &[], b"");
        assert!(req.uri().query().unwrap().contains("X-Amz-Security-Token="));
        assert_eq!(run(&auth, &req, T0).unwrap().account_id, "222222222222");
    }

    #[test]
    fn strict_assumed_role_credentials() {
        let auth = authenticator(AuthMode::Strict);
        let temp = auth
            .credentials()
            .issue_temporary("arn:aws:iam::333333333333:role/path/deployer", "ci-run", Duration::from_secs(900), at(T0))
            .unwrap();
        let mut s = signer(&temp.access_key_id, &temp.secret_access_key);
        s.session_token = Some(&temp.session_token);
        let caller = run(&auth, &sm_request(&s), T0 + 60).unwrap();
        assert_eq!(caller.account_id, "333333333333");
        assert_eq!(caller.principal_arn, "arn:aws:sts::333333333333:assumed-role/deployer/ci-run");
        assert_eq!(caller.access_key_id.as_deref(), Some(temp.access_key_id.as_str()));

        // Past expiry: ExpiredTokenException (signature still within the window).
        let mut late = signer(&temp.access_key_id, &temp.secret_access_key);
        late.session_token = Some(&temp.session_token);
        late.time = at(T0 + 901);
        let err = run(&auth, &sm_request(&late), T0 + 901).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("ExpiredTokenException", "The security token included in the request is expired")
        );
        // Without its token: invalid.
        let s = signer(&temp.access_key_id, &temp.secret_access_key);
        assert_eq!(run(&auth, &sm_request(&s), T0).unwrap_err().code, "UnrecognizedClientException");
    }
}
