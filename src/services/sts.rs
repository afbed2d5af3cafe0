//! A minimal AWS STS on the Secrets Manager port: GetCallerIdentity and
//! AssumeRole over the Query protocol (form-encoded `POST /`, or `GET /` with a
//! query string), answered in STS's XML.
//!
//! Which requests are STS requests ([`is_sts_request`]): never one with an
//! `X-Amz-Target` header (that is the JSON protocol of Secrets Manager);
//! otherwise one whose SigV4 credential scope names the service `sts`; when the
//! scope names another service, none; when there is no readable scope (an
//! unsigned request), one with an `Action` parameter in a form-encoded body or
//! in the query string.
//!
//! AssumeRole asks [`Authenticator::may_assume_role`] first: in strict mode
//! only declared roles whose trust policy allows the caller (see
//! [`crate::auth::roles`]); refusals are STS's `AccessDenied`.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Uri};

use crate::auth::sigv4;
use crate::auth::{AuthError, Authenticator, Caller, RoleArn};
use crate::protocol::query::{self, Params, Xml};

/// XML namespace of every STS response.
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The one API version STS has.
pub const API_VERSION: &str = "2011-06-15";
/// Content type of every STS response.
pub const CONTENT_TYPE: &str = query::CONTENT_TYPE;

const DEFAULT_DURATION_SECS: u64 = 3600;
const MIN_DURATION_SECS: u64 = 900;
const MAX_DURATION_SECS: u64 = 43_200;

/// An STS answer, ready to send.
pub type StsResponse = crate::protocol::query::QueryResponse;

/// True when the request is for STS rather than Secrets Manager (rule in the
/// module documentation).
pub fn is_sts_request(headers: &HeaderMap, uri: &Uri, body: &[u8]) -> bool {
    if headers.contains_key("x-amz-target") {
        return false;
    }
    if let Some(scope) = sigv4::peek_credential_scope(headers, uri) {
        return scope.service == "sts";
    }
    let form_body = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let has_action = |raw: &str| sigv4::parse_query_pairs(raw, true).iter().any(|(k, _)| k == "Action");
    (form_body && has_action(&String::from_utf8_lossy(body))) || uri.query().is_some_and(has_action)
}

pub use crate::protocol::query::xml_escape;

fn new_request_id() -> String {
    crate::protocol::request_id()
}

fn error_with_id(status: u16, code: &'static str, message: &str, request_id: String) -> StsResponse {
    query::error(XMLNS, status, code, message, request_id)
}

/// An STS error document (`Type` is always `Sender`).
pub fn error_response(status: u16, code: &'static str, message: &str) -> StsResponse {
    error_with_id(status, code, message, new_request_id())
}

/// An authentication failure as STS reports it: the Query-protocol codes
/// (`SignatureDoesNotMatch`, `InvalidClientTokenId`, ...) and statuses, and
/// only the first paragraph of a signature-mismatch message.
pub fn auth_error_response(err: &AuthError) -> StsResponse {
    let (status, code) = match err.code {
        crate::auth::INVALID_SIGNATURE => (403, "SignatureDoesNotMatch"),
        crate::auth::UNRECOGNIZED_CLIENT => (403, "InvalidClientTokenId"),
        crate::auth::MISSING_AUTHENTICATION_TOKEN => (403, "MissingAuthenticationToken"),
        crate::auth::INCOMPLETE_SIGNATURE => (400, "IncompleteSignature"),
        crate::auth::EXPIRED_TOKEN => (400, "ExpiredToken"),
        other => (400, other.strip_suffix("Exception").unwrap_or(other)),
    };
    error_response(status, code, err.summary())
}

/// An STS request's parameters, read once: the pipeline takes what the request line shows from
/// them before [`handle`] serves them.
#[derive(Debug)]
pub struct StsRequest {
    params: Params,
}

impl StsRequest {
    /// The form body (for a POST), then the query string for names the body lacks.
    pub fn parse(method: &Method, uri: &Uri, body: &[u8]) -> Self {
        Self { params: Params::parse(method, uri, body) }
    }

    /// The action, when it is one smemu serves.
    pub fn operation(&self) -> Option<&'static str> {
        match param(&self.params, "Action")? {
            "GetCallerIdentity" => Some("GetCallerIdentity"),
            "AssumeRole" => Some("AssumeRole"),
            _ => None,
        }
    }

    /// What the request names, as sent: AssumeRole's role.
    pub fn subject(&self) -> Option<&str> {
        match self.operation()? {
            "AssumeRole" => param(&self.params, "RoleArn"),
            _ => None,
        }
    }
}

impl StsRequest {
    /// What an audit record shows of the request: the role and session, never a token code or
    /// an external id.
    #[must_use]
    pub fn audited_parameters(&self) -> Vec<(&'static str, Option<&str>)> {
        ["RoleArn", "RoleSessionName", "DurationSeconds"]
            .into_iter()
            .map(|name| (name, param(&self.params, name)))
            .collect()
    }
}

/// The `Message` of an STS error body, as written there.
#[must_use]
pub fn error_message(body: &str) -> Option<&str> {
    let start = body.find("<Message>")? + "<Message>".len();
    let end = body[start..].find("</Message>")? + start;
    Some(&body[start..end])
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name)
}

/// Serves one STS request made by `caller` (already authenticated).
pub fn handle(auth: &Authenticator, caller: &Caller, request: &StsRequest, now: SystemTime) -> StsResponse {
    let request_id = new_request_id();
    let params = &request.params;
    let Some(action) = param(params, "Action").filter(|a| !a.is_empty()) else {
        return error_with_id(
            400,
            "MissingAction",
            "The request is missing an action or a required parameter.",
            request_id,
        );
    };
    if let Some(version) = param(params, "Version")
        && version != API_VERSION
    {
        return error_with_id(
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version {version}"),
            request_id,
        );
    }
    match action {
        "GetCallerIdentity" => get_caller_identity(caller, request_id),
        "AssumeRole" => assume_role(auth, caller, params, now, request_id),
        _ => error_with_id(
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version {API_VERSION}"),
            request_id,
        ),
    }
}

fn get_caller_identity(caller: &Caller, request_id: String) -> StsResponse {
    let mut xml = Xml::new();
    xml.field("Arn", &caller.principal_arn).field("UserId", &caller.user_id).field("Account", &caller.account_id);
    query::success(XMLNS, "GetCallerIdentity", Some(&xml.finish()), request_id)
}

fn validation_error(problems: &[String], request_id: String) -> StsResponse {
    let count = problems.len();
    let message =
        format!("{count} validation error{} detected: {}", if count == 1 { "" } else { "s" }, problems.join("; "));
    error_with_id(400, "ValidationError", &message, request_id)
}

/// STS's refusal of an AssumeRole the caller may not make: the same for a role
/// that does not exist as for one whose trust does not name the caller.
fn assume_role_denied(caller: &Caller, role_arn: &str, request_id: String) -> StsResponse {
    let message =
        format!("User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", caller.principal_arn);
    error_with_id(403, "AccessDenied", &message, request_id)
}

fn assume_role(
    auth: &Authenticator,
    caller: &Caller,
    params: &Params,
    now: SystemTime,
    request_id: String,
) -> StsResponse {
    let role_arn = param(params, "RoleArn");
    let session_name = param(params, "RoleSessionName");
    let duration = param(params, "DurationSeconds");
    let mut problems = Vec::new();
    match role_arn {
        None => problems.push("Value null at 'roleArn' failed to satisfy constraint: Member must not be null".to_string()),
        Some(arn) if arn.len() < 20 => problems.push(format!(
            "Value '{arn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )),
        Some(arn) if arn.len() > 2048 => problems.push(format!(
            "Value '{arn}' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        )),
        Some(_) => {}
    }
    match session_name {
        None => problems.push(
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".to_string(),
        ),
        Some(name) if name.len() < 2 => problems.push(format!(
            "Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        )),
        Some(name) if name.len() > 64 => problems.push(format!(
            "Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )),
        Some(name)
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) =>
        {
            problems.push(format!(
                "Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            ))
        }
        Some(_) => {}
    }
    let mut seconds = DEFAULT_DURATION_SECS;
    if let Some(text) = duration {
        match text.parse::<u64>() {
            Ok(n) if n < MIN_DURATION_SECS => problems.push(format!(
                "Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION_SECS}"
            )),
            Ok(n) if n > MAX_DURATION_SECS => problems.push(format!(
                "Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {MAX_DURATION_SECS}"
            )),
            Ok(n) => seconds = n,
            Err(_) => problems.push(format!(
                "Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
            )),
        }
    }
    if !problems.is_empty() {
        return validation_error(&problems, request_id);
    }
    let (role_arn, session_name) = (role_arn.unwrap_or_default(), session_name.unwrap_or_default());
    if RoleArn::parse(role_arn).is_none() {
        return error_with_id(400, "ValidationError", &format!("{role_arn} is invalid"), request_id);
    }
    if !auth.may_assume_role(caller, role_arn) {
        return assume_role_denied(caller, role_arn, request_id);
    }
    let session_policy = param(params, "Policy");
    if let Some(text) = session_policy {
        if text.len() > 2048 {
            return validation_error(
                &["Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"
                    .to_string()],
                request_id,
            );
        }
        if let Err(e) = crate::iam::policy::Policy::parse(text).and_then(|p| p.check_identity().map(|()| p)) {
            return error_with_id(400, "MalformedPolicyDocument", e.message(), request_id);
        }
    }
    let duration = Duration::from_secs(seconds);
    let issued = match auth.credentials().issue_session(role_arn, session_name, duration, now, session_policy) {
        Ok(issued) => issued,
        Err(e) => return error_with_id(400, "ValidationError", &e.message, request_id),
    };
    let mut xml = Xml::new();
    xml.opt("SourceIdentity", param(params, "SourceIdentity"));
    xml.open("AssumedRoleUser")
        .field("AssumedRoleId", &issued.assumed_role_id)
        .field("Arn", &issued.assumed_role_arn)
        .close("AssumedRoleUser");
    xml.open("Credentials")
        .field("AccessKeyId", &issued.access_key_id)
        .field("SecretAccessKey", &issued.secret_access_key)
        .field("SessionToken", &issued.session_token)
        .field("Expiration", &sigv4::format_iso8601(sigv4::unix_seconds(issued.expiration)))
        .close("Credentials");
    query::success(XMLNS, "AssumeRole", Some(&xml.finish()), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::Signer;
    use crate::auth::{AuthMode, CredentialStore};

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// 2025-01-01T00:00:00Z
    const T0: i64 = 1_735_689_600;
    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");

    fn at(secs: i64) -> SystemTime {
        sigv4::system_time_from_unix(secs)
    }

    fn authenticator(mode: AuthMode) -> Authenticator {
        let store = CredentialStore::new();
        store.add_static(KEY, SECRET, "111111111111", Some("arn:aws:iam::111111111111:user/alice"), None).unwrap();
        let trust = serde_json::json!({"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "sts:AssumeRole"
        }]});
        let roles = serde_json::json!({"roles": [
            {"arn": "arn:aws:iam::333333333333:role/deployer", "trust_policy": trust},
            {"arn": "arn:aws:iam::333333333333:role/locked", "trust_policy": {"Statement": []}},
        ]});
        store.load_document("test roles", &roles).unwrap();
        Authenticator::new(mode, "000000000000".into(), "us-east-1".into(), store)
    }

    fn signer<'a>(key: &'a str, secret: &'a str, token: Option<&'a str>) -> Signer<'a> {
        Signer {
            access_key_id: key,
            secret_access_key: secret,
            session_token: token,
            region: "us-east-1",
            service: "sts",
            time: at(T0),
            presign: None,
        }
    }

    /// Authenticates and serves a request the way the server will.
    fn call(auth: &Authenticator, req: &http::Request<Vec<u8>>) -> StsResponse {
        assert!(is_sts_request(req.headers(), req.uri(), req.body()));
        match auth.authenticate(crate::auth::STS, req.method(), req.uri(), req.headers(), req.body(), at(T0)) {
            Ok(caller) => handle(auth, &caller, &StsRequest::parse(req.method(), req.uri(), req.body()), at(T0)),
            Err(e) => auth_error_response(&e),
        }
    }

    fn element<'a>(xml: &'a str, name: &str) -> &'a str {
        let open = format!("<{name}>");
        let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
        let end = start + xml[start..].find(&format!("</{name}>")).unwrap();
        &xml[start..end]
    }

    #[test]
    fn recognises_sts_requests() {
        let s = signer(KEY, SECRET, None);
        let sts = s.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity&Version=2011-06-15");
        assert!(is_sts_request(sts.headers(), sts.uri(), sts.body()));

        let mut sm_signer = signer(KEY, SECRET, None);
        sm_signer.service = "secretsmanager";
        let sm = sm_signer.sign(
            "POST",
            "http://localhost:4566/",
            &[("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "secretsmanager.ListSecrets")],
            b"{}",
        );
        assert!(!is_sts_request(sm.headers(), sm.uri(), sm.body()));
        // Scope says secretsmanager: not STS, whatever the body.
        let odd = sm_signer.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity");
        assert!(!is_sts_request(odd.headers(), odd.uri(), odd.body()));

        let mut form = http::HeaderMap::new();
        form.insert("content-type", FORM.1.parse().unwrap());
        let root: Uri = "/".parse().unwrap();
        assert!(is_sts_request(&form, &root, b"Version=2011-06-15&Action=GetCallerIdentity"));
        assert!(!is_sts_request(&form, &root, b"Version=2011-06-15"));
        assert!(!is_sts_request(&http::HeaderMap::new(), &root, b"Action=GetCallerIdentity"));
        let get: Uri = "/?Action=GetCallerIdentity&Version=2011-06-15".parse().unwrap();
        assert!(is_sts_request(&http::HeaderMap::new(), &get, b""));
    }

    #[test]
    fn get_caller_identity_xml() {
        let auth = authenticator(AuthMode::Strict);
        let s = signer(KEY, SECRET, None);
        let req = s.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity&Version=2011-06-15");
        let resp = call(&auth, &req);
        assert_eq!((resp.status, resp.content_type), (200, "text/xml"));
        assert_eq!(resp.request_id.len(), 36);
        let user_id = auth.credentials().lookup(KEY).unwrap().user_id.clone();
        assert_eq!(
            resp.body,
            format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::111111111111:user/alice</Arn>\n    <UserId>{user_id}</UserId>\n    <Account>111111111111</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
                resp.request_id
            )
        );
    }

    #[test]
    fn get_caller_identity_open_mode_and_get() {
        let auth = authenticator(AuthMode::Open);
        let s = signer("222222222222", "anything", None);
        let req = s.sign("GET", "http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15", &[], b"");
        let resp = call(&auth, &req);
        assert_eq!(resp.status, 200);
        assert_eq!(element(&resp.body, "Arn"), "arn:aws:iam::222222222222:root");
        assert_eq!(element(&resp.body, "UserId"), "222222222222");
        assert_eq!(element(&resp.body, "Account"), "222222222222");

        // Unsigned: the default account.
        let mut form = http::HeaderMap::new();
        form.insert("content-type", FORM.1.parse().unwrap());
        let uri: Uri = "/".parse().unwrap();
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let caller = auth.authenticate(crate::auth::STS, &Method::POST, &uri, &form, body, at(T0)).unwrap();
        let resp = handle(&auth, &caller, &StsRequest::parse(&Method::POST, &uri, body), at(T0));
        assert_eq!(element(&resp.body, "Account"), "000000000000");
    }

    #[test]
    fn assume_role_then_use_the_credentials_in_strict_mode() {
        let auth = authenticator(AuthMode::Strict);
        let s = signer(KEY, SECRET, None);
        let req = s.sign(
            "POST",
            "http://localhost:4566/",
            &[FORM],
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A333333333333%3Arole%2Fdeployer&RoleSessionName=ci-run&DurationSeconds=1800",
        );
        let resp = call(&auth, &req);
        assert_eq!(resp.status, 200, "{}", resp.body);
        let body = &resp.body;
        assert!(body.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <AssumeRoleResult>\n    <AssumedRoleUser>\n      <AssumedRoleId>AROA"
        ));
        assert!(body.ends_with(&format!(
            "  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n",
            resp.request_id
        )));
        assert_eq!(element(body, "Arn"), "arn:aws:sts::333333333333:assumed-role/deployer/ci-run");
        assert!(element(body, "AssumedRoleId").ends_with(":ci-run"));
        assert_eq!(element(body, "Expiration"), "2025-01-01T00:30:00Z");
        let key = element(body, "AccessKeyId").to_string();
        let secret = element(body, "SecretAccessKey").to_string();
        let token = element(body, "SessionToken").to_string();
        assert!(key.starts_with("ASIA"));

        // GetCallerIdentity with the new credentials: the assumed role.
        let s = signer(&key, &secret, Some(&token));
        let req = s.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity&Version=2011-06-15");
        let resp = call(&auth, &req);
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(element(&resp.body, "Arn"), "arn:aws:sts::333333333333:assumed-role/deployer/ci-run");
        assert_eq!(element(&resp.body, "Account"), "333333333333");
        assert_eq!(element(&resp.body, "UserId"), element(body, "AssumedRoleId"));

        // And a Secrets Manager request runs in the role's account.
        let mut sm = signer(&key, &secret, Some(&token));
        sm.service = "secretsmanager";
        let req = sm.sign(
            "POST",
            "http://localhost:4566/",
            &[("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "secretsmanager.ListSecrets")],
            b"{}",
        );
        let caller = auth
            .authenticate(crate::auth::SECRETS_MANAGER, req.method(), req.uri(), req.headers(), req.body(), at(T0))
            .unwrap();
        assert_eq!(caller.account_id, "333333333333");
        assert_eq!(caller.principal_arn, "arn:aws:sts::333333333333:assumed-role/deployer/ci-run");
    }

    fn assume(auth: &Authenticator, role_arn: &str) -> StsResponse {
        let s = signer(KEY, SECRET, None);
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=ci",
            sigv4::uri_encode(role_arn.as_bytes(), false)
        );
        call(auth, &s.sign("POST", "http://localhost:4566/", &[FORM], body.as_bytes()))
    }

    #[test]
    fn assume_role_needs_a_declared_role_that_trusts_the_caller() {
        let auth = authenticator(AuthMode::Strict);
        for role in ["arn:aws:iam::333333333333:role/undeclared", "arn:aws:iam::333333333333:role/locked"] {
            let resp = assume(&auth, role);
            assert_eq!(
                resp.body,
                format!(
                    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: {role}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
                    resp.request_id
                )
            );
            assert_eq!(resp.status, 403);
        }
        assert_eq!(assume(&auth, "arn:aws:iam::333333333333:role/deployer").status, 200);

        // Open mode trusts every caller already: any role, declared or not.
        let open = authenticator(AuthMode::Open);
        for role in ["arn:aws:iam::333333333333:role/undeclared", "arn:aws:iam::333333333333:role/locked"] {
            assert_eq!(assume(&open, role).status, 200, "{role}");
        }
        // And open mode knows the credentials it issued, by their token.
        let resp = assume(&open, "arn:aws:iam::333333333333:role/undeclared");
        let (key, token) = (element(&resp.body, "AccessKeyId"), element(&resp.body, "SessionToken"));
        let req = signer(key, "unchecked", Some(token)).sign(
            "POST",
            "http://localhost:4566/",
            &[FORM],
            b"Action=GetCallerIdentity&Version=2011-06-15",
        );
        let resp = call(&open, &req);
        assert_eq!(element(&resp.body, "Arn"), "arn:aws:sts::333333333333:assumed-role/undeclared/ci");
    }

    fn form_call(auth: &Authenticator, body: &str) -> StsResponse {
        let caller = auth
            .authenticate(crate::auth::STS, &Method::POST, &"/".parse().unwrap(), &http::HeaderMap::new(), b"", at(T0))
            .unwrap();
        handle(auth, &caller, &StsRequest::parse(&Method::POST, &"/".parse().unwrap(), body.as_bytes()), at(T0))
    }

    #[test]
    fn assume_role_validation() {
        let auth = authenticator(AuthMode::Open);
        let resp = form_call(&auth, "Action=AssumeRole&Version=2011-06-15");
        assert_eq!(resp.status, 400);
        assert_eq!(element(&resp.body, "Code"), "ValidationError");
        assert_eq!(
            element(&resp.body, "Message"),
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        );
        let resp = form_call(
            &auth,
            "Action=AssumeRole&RoleArn=arn:aws:iam::333333333333:role/r&RoleSessionName=bad%20name&DurationSeconds=60",
        );
        assert!(element(&resp.body, "Message").starts_with("2 validation errors detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern"));
        assert!(element(&resp.body, "Message").ends_with("Member must have value greater than or equal to 900"));
        let resp = form_call(&auth, "Action=AssumeRole&RoleArn=arn:aws:iam::333:user/someone&RoleSessionName=ok");
        assert_eq!(element(&resp.body, "Message"), "arn:aws:iam::333:user/someone is invalid");
    }

    #[test]
    fn unknown_and_missing_actions() {
        let auth = authenticator(AuthMode::Open);
        let resp = form_call(&auth, "Action=GetSessionTokenX&Version=2011-06-15");
        assert_eq!(
            resp.body,
            format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidAction</Code>\n    <Message>Could not find operation GetSessionTokenX for version 2011-06-15</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
                resp.request_id
            )
        );
        assert_eq!(resp.status, 400);
        let resp = form_call(&auth, "Version=2011-06-15");
        assert_eq!(element(&resp.body, "Code"), "MissingAction");
        let resp = form_call(&auth, "Action=GetCallerIdentity&Version=2010-01-01");
        assert_eq!(element(&resp.body, "Code"), "InvalidAction");
    }

    #[test]
    fn auth_errors_in_sts_shape() {
        let auth = authenticator(AuthMode::Strict);
        let s = signer(KEY, "wrong-secret", None);
        let req = s.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity&Version=2011-06-15");
        let resp = call(&auth, &req);
        assert_eq!(resp.status, 403);
        assert_eq!(element(&resp.body, "Code"), "SignatureDoesNotMatch");
        assert_eq!(
            element(&resp.body, "Message"),
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        );
        let s = signer("AKIDUNKNOWN", SECRET, None);
        let req = s.sign("POST", "http://localhost:4566/", &[FORM], b"Action=GetCallerIdentity&Version=2011-06-15");
        let resp = call(&auth, &req);
        assert_eq!((resp.status, element(&resp.body, "Code")), (403, "InvalidClientTokenId"));
        assert_eq!(element(&resp.body, "Message"), "The security token included in the request is invalid.");
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(xml_escape(r#"a<b>&"c'"#), r#"a&lt;b&gt;&amp;"c'"#);
    }
}
