//! Rotation hooks: what a rotation function ARN resolves to in smemu, and how each kind is called.
//!
//! A hook receives the event a rotation Lambda receives, once per step, and answers success or
//! failure with some output for the rotation log. Kinds:
//! * `http`: POST the event JSON to a URL; a 2xx status is success.
//! * `command`: run a local program with the event JSON on stdin and in `SMEMU_*` environment
//!   variables; exit status 0 is success; past the timeout the process is killed.
//! * `lambda`: call the Lambda Invoke API (`POST {endpoint}/2015-03-31/functions/{name}/invocations`)
//!   of a Lambda-compatible endpoint, such as the Lambda Runtime Interface Emulator; success is a 2xx
//!   status without an `X-Amz-Function-Error` header.
//! * a function deployed to smemu's own Lambda API: not configured here, but found by its ARN when
//!   no hook is configured for it; it runs through [`DeployedFunctions`], success is an invocation
//!   without a function error.
//! * `builtin`: runs the four steps in-process through [`SecretsApi`], storing a new random password
//!   (GetRandomPassword's options) as the whole value or as one key of a JSON object.
//!
//! [`HookSpec`] is the JSON form of `POST /_smemu/hooks` and of the seed file, and
//! [`HookRegistry`] the set of configured hooks.

use super::process::ProcessGroups;
use crate::services::secretsmanager::password::{self, PasswordSpec};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

pub use crate::services::secretsmanager::state::secret::{AWSCURRENT, AWSPENDING};

/// A hook's output is cut to this many bytes for the rotation log.
pub const MAX_OUTPUT_BYTES: usize = 4096;
/// Timeout of a hook whose spec names none: the default timeout of a rotation function template.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Longest timeout a spec may ask for: Lambda's own limit, 15 minutes.
pub const MAX_TIMEOUT_MS: u64 = 900_000;
/// How much of a response body or of a process's stdout/stderr is read before the rest is dropped.
const CAPTURE_LIMIT: usize = 64 * 1024;
/// After a command exits, how long its pipes may stay open (held by a child of its own) before
/// smemu stops reading them.
const PIPE_GRACE: Duration = Duration::from_millis(250);

/// The four steps, in protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    CreateSecret,
    #[serde(rename = "setSecret")]
    SetSecret,
    #[serde(rename = "testSecret")]
    TestSecret,
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl Step {
    pub const ALL: [Self; 4] = [Self::CreateSecret, Self::SetSecret, Self::TestSecret, Self::FinishSecret];

    /// The `Step` string of the event, as every AWS rotation template dispatches on it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateSecret => "createSecret",
            Self::SetSecret => "setSecret",
            Self::TestSecret => "testSecret",
            Self::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload a rotation function receives for one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: Step,
    /// The secret's full ARN.
    pub secret_id: String,
    /// The VersionId of the version the rotation creates.
    pub client_request_token: String,
    /// An opaque token for this rotation.
    pub rotation_token: String,
}

impl RotationEvent {
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What one hook call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    pub ok: bool,
    /// The hook's output (response body, stdout+stderr, builtin's report), cut by [`cut_output`].
    pub output: String,
    /// Wall-clock time of the call.
    pub duration_ms: u64,
}

/// Cuts `text` to at most [`MAX_OUTPUT_BYTES`], keeping its start and its end (where tracebacks put
/// the error), at character boundaries.
#[must_use]
pub fn cut_output(text: &str) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.to_owned();
    }
    let marker = format!("\n[… {} bytes in all, the middle is cut …]\n", text.len());
    let head_len = floor_boundary(text, 1024);
    let tail_budget = MAX_OUTPUT_BYTES - head_len - marker.len();
    let mut tail_start = text.len() - tail_budget;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{}{marker}{}", &text[..head_len], &text[tail_start..])
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

// ---------------------------------------------------------------------------------------------
// The API a builtin hook uses

/// Which version a [`SecretsApi::get_value`] reads, as in GetSecretValue: by id, by staging label,
/// or by id that must also carry the label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueSelector<'a> {
    pub version_id: Option<&'a str>,
    pub stage: Option<&'a str>,
}

impl<'a> ValueSelector<'a> {
    #[must_use]
    pub const fn stage(stage: &'a str) -> Self {
        Self { version_id: None, stage: Some(stage) }
    }

    #[must_use]
    pub const fn version(version_id: &'a str, stage: &'a str) -> Self {
        Self { version_id: Some(version_id), stage: Some(stage) }
    }
}

/// A stored value, as a builtin hook sees it.
pub use crate::services::secretsmanager::state::secret::SecretValue as StoredValue;

/// The secret operations the builtin rotator (and the driver's checks) need, implemented by the
/// engine. Synchronous and short: an implementation takes its locks inside each call and releases
/// them before returning. `secret_id` is the secret's ARN. Errors are plain texts for the log.
pub trait SecretsApi: Send + Sync {
    /// GetSecretValue. `Ok(None)` when the selected version doesn't exist, doesn't carry the stage,
    /// or has no value yet (the placeholder RotateSecret creates); `Err` when the secret can't be
    /// read at all (gone, pending deletion).
    ///
    /// # Errors
    /// The reason the secret can't be read.
    fn get_value(&self, secret_id: &str, selector: ValueSelector<'_>) -> Result<Option<StoredValue>, String>;

    /// PutSecretValue(`ClientRequestToken = token`, `SecretString = value`,
    /// `VersionStages = [AWSPENDING]`): fills the rotation's placeholder version.
    ///
    /// # Errors
    /// Whatever PutSecretValue would refuse, as text.
    fn put_pending(&self, secret_id: &str, token: &str, value: String) -> Result<(), String>;

    /// UpdateSecretVersionStage(`AWSCURRENT`, `MoveToVersionId = token`,
    /// `RemoveFromVersionId = <the current version>`); nothing to do when `token` is already current.
    ///
    /// # Errors
    /// Whatever UpdateSecretVersionStage would refuse, as text.
    fn move_current(&self, secret_id: &str, token: &str) -> Result<(), String>;
}

/// What a hook call may use besides the event.
#[derive(Clone, Copy)]
pub struct InvokeContext<'a> {
    /// For the builtin rotator.
    pub api: &'a dyn SecretsApi,
    /// Environment for `command` hooks, above smemu's own and below the spec's `env`
    /// (for example `AWS_ENDPOINT_URL` pointing at smemu, and credentials for the secret's account).
    pub env: &'a [(String, String)],
    /// Where `command` hooks' processes are tracked, so shutdown can kill them.
    pub processes: &'a ProcessGroups,
    /// The functions deployed to smemu's Lambda API, when the caller has them.
    pub functions: Option<&'a dyn DeployedFunctions>,
}

/// Runs functions deployed to smemu's Lambda API, for rotation steps.
pub trait DeployedFunctions: Send + Sync {
    /// Invokes `function_arn` with `event` and waits for it: success, and what the function
    /// printed (and, on failure, its error and stack trace).
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (bool, String)> + Send + 'a>>;
}

// ---------------------------------------------------------------------------------------------
// Specs

/// A configured hook: the function ARN it answers for, and how to call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookSpec {
    pub function_arn: String,
    pub kind: HookKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookKind {
    Http(HttpHook),
    Command(CommandHook),
    Lambda(LambdaHook),
    Builtin(BuiltinHook),
    /// A function deployed to smemu's Lambda API (never read from a hook spec).
    Deployed,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// `{"kind": "http", "url": "http://127.0.0.1:8080/rotate", "headers": {...}, "timeoutMs": 30000}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHook {
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// `{"kind": "command", "program": "python3", "args": [...], "env": {...}, "cwd": "...", "timeoutMs": 30000}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandHook {
    pub program: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// `{"kind": "lambda", "endpoint": "http://127.0.0.1:9000", "functionName": "function", "timeoutMs": 30000}`;
/// `functionName` defaults to the name inside the function ARN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LambdaHook {
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// `{"kind": "builtin", "passwordLength": 32, "excludeCharacters": "\"@/\\", ..., "jsonKey": "password"}`:
/// GetRandomPassword's options (unset ones take GetRandomPassword's defaults) and, for a JSON
/// secret, the key that receives the new password (the other keys are kept).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuiltinHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_characters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_numbers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_punctuation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_uppercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_lowercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_space: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_each_included_type: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_key: Option<String>,
}

impl BuiltinHook {
    #[must_use]
    pub fn password_spec(&self) -> PasswordSpec {
        let d = PasswordSpec::default();
        PasswordSpec {
            length: self.password_length.unwrap_or(d.length),
            exclude_characters: self.exclude_characters.clone().unwrap_or(d.exclude_characters),
            exclude_numbers: self.exclude_numbers.unwrap_or(d.exclude_numbers),
            exclude_punctuation: self.exclude_punctuation.unwrap_or(d.exclude_punctuation),
            exclude_uppercase: self.exclude_uppercase.unwrap_or(d.exclude_uppercase),
            exclude_lowercase: self.exclude_lowercase.unwrap_or(d.exclude_lowercase),
            include_space: self.include_space.unwrap_or(d.include_space),
            require_each_included_type: self.require_each_included_type.unwrap_or(d.require_each_included_type),
        }
    }
}

/// Why a hook spec was refused; `message` is meant for the control API's error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub message: String,
}

impl SpecError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

const KINDS: &str = "http, command, lambda or builtin";

impl HookSpec {
    /// Parses and validates the JSON form.
    ///
    /// # Errors
    /// [`SpecError`] naming the field at fault.
    pub fn from_json(body: &[u8]) -> Result<Self, SpecError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| SpecError::new(format!("the hook isn't valid JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Like [`Self::from_json`], from parsed JSON (a seed file's entry).
    ///
    /// # Errors
    /// [`SpecError`] naming the field at fault.
    pub fn from_value(value: Value) -> Result<Self, SpecError> {
        let Value::Object(mut fields) = value else {
            return Err(SpecError::new("a hook is a JSON object with functionArn, kind and the kind's fields"));
        };
        let function_arn = match fields.remove("functionArn") {
            Some(Value::String(arn)) if !arn.trim().is_empty() => arn,
            Some(Value::String(_)) => return Err(SpecError::new("functionArn must not be empty")),
            Some(_) => return Err(SpecError::new("functionArn must be a string")),
            None => {
                return Err(SpecError::new(
                    "missing field functionArn: the rotation function ARN this hook answers for",
                ));
            }
        };
        let kind = match fields.remove("kind") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(SpecError::new(format!("kind must be a string: {KINDS}"))),
            None => return Err(SpecError::new(format!("missing field kind: {KINDS}"))),
        };
        let rest = Value::Object(fields);
        let fields_of = |e: serde_json::Error| SpecError::new(format!("invalid {kind} hook: {e}"));
        let kind = match kind.as_str() {
            "http" => HookKind::Http(serde_json::from_value(rest).map_err(fields_of)?),
            "command" => HookKind::Command(serde_json::from_value(rest).map_err(fields_of)?),
            "lambda" => HookKind::Lambda(serde_json::from_value(rest).map_err(fields_of)?),
            "builtin" => HookKind::Builtin(serde_json::from_value(rest).map_err(fields_of)?),
            other => return Err(SpecError::new(format!("unknown kind {other:?}: use {KINDS}"))),
        };
        let spec = Self { function_arn, kind };
        spec.validate()?;
        Ok(spec)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let check_timeout = |timeout_ms: u64| {
            if (1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
                Ok(())
            } else {
                Err(SpecError::new(format!("timeoutMs must be between 1 and {MAX_TIMEOUT_MS} (15 minutes)")))
            }
        };
        match &self.kind {
            HookKind::Http(h) => {
                check_timeout(h.timeout_ms)?;
                http_uri("url", &h.url)?;
                header_list(&h.headers)?;
            }
            HookKind::Command(c) => {
                check_timeout(c.timeout_ms)?;
                if c.program.trim().is_empty() {
                    return Err(SpecError::new("program must name the program to run"));
                }
                for key in c.env.keys() {
                    if key.is_empty() || key.contains(['=', '\0']) {
                        return Err(SpecError::new(format!("env: {key:?} isn't a valid variable name")));
                    }
                }
                if c.cwd.as_deref().is_some_and(str::is_empty) {
                    return Err(SpecError::new("cwd must not be empty (leave it out to use smemu's directory)"));
                }
            }
            HookKind::Lambda(l) => {
                check_timeout(l.timeout_ms)?;
                http_uri("endpoint", &l.endpoint)?;
                if l.function_name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                    return Err(SpecError::new("functionName must not be empty"));
                }
            }
            HookKind::Deployed => {}
            HookKind::Builtin(b) => {
                let spec = b.password_spec();
                if !(1..=password::MAX_LENGTH).contains(&spec.length) {
                    return Err(SpecError::new(format!(
                        "passwordLength must be between 1 and {}",
                        password::MAX_LENGTH
                    )));
                }
                password::generate(&spec, &ring::rand::SystemRandom::new())
                    .map_err(|e| SpecError::new(format!("the password options can't produce a password: {e}")))?;
                if b.json_key.as_deref().is_some_and(str::is_empty) {
                    return Err(SpecError::new("jsonKey must not be empty (leave it out for a plain-text secret)"));
                }
            }
        }
        Ok(())
    }

    /// `http`, `command`, `lambda` or `builtin`.
    #[must_use]
    pub const fn kind_name(&self) -> &'static str {
        match self.kind {
            HookKind::Http(_) => "http",
            HookKind::Command(_) => "command",
            HookKind::Lambda(_) => "lambda",
            HookKind::Builtin(_) => "builtin",
            HookKind::Deployed => "function",
        }
    }

    /// The JSON form [`Self::from_value`] reads.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let fields = match &self.kind {
            HookKind::Http(h) => serde_json::to_value(h),
            HookKind::Command(c) => serde_json::to_value(c),
            HookKind::Lambda(l) => serde_json::to_value(l),
            HookKind::Builtin(b) => serde_json::to_value(b),
            HookKind::Deployed => Ok(Value::Object(Map::new())),
        };
        let mut out = Map::new();
        out.insert("functionArn".into(), Value::String(self.function_arn.clone()));
        out.insert("kind".into(), Value::String(self.kind_name().into()));
        if let Ok(Value::Object(fields)) = fields {
            out.extend(fields);
        }
        Value::Object(out)
    }

    /// The form `GET /_smemu/hooks` shows: [`Self::to_value`] without what usually carries
    /// credentials. Header and environment values are left out (the maps become lists of their
    /// names), and so is the user info of a URL.
    #[must_use]
    pub fn to_listing(&self) -> Value {
        let mut value = self.to_value();
        if let Value::Object(fields) = &mut value {
            for key in ["headers", "env"] {
                if let Some(Value::Object(map)) = fields.get(key) {
                    let names = map.keys().cloned().map(Value::String).collect();
                    fields.insert(key.into(), Value::Array(names));
                }
            }
            for key in ["url", "endpoint"] {
                if let Some(Value::String(url)) = fields.get_mut(key) {
                    *url = without_userinfo(url);
                }
            }
        }
        value
    }

    /// Runs one step. Never fails: a hook that can't be reached, times out or errors is an
    /// unsuccessful [`StepOutcome`] whose output says why.
    pub async fn invoke(&self, event: &RotationEvent, ctx: &InvokeContext<'_>) -> StepOutcome {
        let started = Instant::now();
        let (ok, output) = match &self.kind {
            HookKind::Http(h) => invoke_http(h, event).await,
            HookKind::Command(c) => invoke_command(c, event, ctx.env, ctx.processes).await,
            HookKind::Lambda(l) => invoke_lambda(l, &self.function_arn, event).await,
            HookKind::Deployed => match ctx.functions {
                Some(functions) => functions.invoke(&self.function_arn, event.to_json()).await,
                None => (false, "[smemu] no deployed functions here".to_owned()),
            },
            HookKind::Builtin(b) => match run_builtin(b, event, ctx.api) {
                Ok(report) => (true, report),
                Err(reason) => (false, reason),
            },
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        StepOutcome { ok, output: cut_output(&output), duration_ms }
    }
}

impl Serialize for HookSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HookSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// `http://user:password@host/` → `http://…@host/`.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => url.to_owned(),
    }
}

fn http_uri(field: &str, text: &str) -> Result<Uri, SpecError> {
    let uri: Uri = text.parse().map_err(|e| SpecError::new(format!("{field}: {text:?} isn't a valid URL ({e})")))?;
    match uri.scheme_str() {
        Some("http") if uri.authority().is_some() => Ok(uri),
        Some("https") => {
            Err(SpecError::new(format!("{field}: smemu calls hooks over plain http; https isn't supported ({text})")))
        }
        _ => Err(SpecError::new(format!("{field}: {text:?} must be an absolute http:// URL"))),
    }
}

fn header_list(headers: &BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, SpecError> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SpecError::new(format!("headers: {name:?} isn't a valid header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| SpecError::new(format!("headers: the value of {name} isn't a valid header value")))?;
            Ok((name, value))
        })
        .collect()
}

/// The function name inside `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
#[must_use]
pub fn lambda_function_name(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), _, Some("lambda"), _, _, Some("function"), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some(name).filter(|n| !n.is_empty())
}

// ---------------------------------------------------------------------------------------------
// http and lambda

struct HttpReply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn post_json(
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<HttpReply, String> {
    let mut request = Request::post(uri.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, concat!("smemu/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("can't build the request to {uri}: {e}"))?;
    request.headers_mut().extend(headers);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(request).await.map_err(|e| format!("POST {uri} failed: {}", error_chain(&e)))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, CAPTURE_LIMIT)
            .collect()
            .await
            .map_or_else(|_| Bytes::from_static(b"[the response body was too long or broken]"), |c| c.to_bytes());
        Ok(HttpReply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("POST {uri} timed out after {} ms", timeout.as_millis())))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn status_line(status: StatusCode) -> String {
    format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

async fn invoke_http(hook: &HttpHook, event: &RotationEvent) -> (bool, String) {
    let (uri, headers) = match (http_uri("url", &hook.url), header_list(&hook.headers)) {
        (Ok(uri), Ok(headers)) => (uri, headers),
        (Err(e), _) | (_, Err(e)) => return (false, e.message),
    };
    match post_json(uri, headers, event.to_json(), Duration::from_millis(hook.timeout_ms)).await {
        Ok(reply) => {
            let mut output = status_line(reply.status);
            if !reply.body.is_empty() {
                output.push('\n');
                output.push_str(&reply.body);
            }
            (reply.status.is_success(), output)
        }
        Err(reason) => (false, reason),
    }
}

/// Percent-encodes a path segment, keeping the characters of function names and ARNs.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

async fn invoke_lambda(hook: &LambdaHook, function_arn: &str, event: &RotationEvent) -> (bool, String) {
    let name = hook.function_name.as_deref().or_else(|| lambda_function_name(function_arn)).unwrap_or(function_arn);
    let url =
        format!("{}/2015-03-31/functions/{}/invocations", hook.endpoint.trim_end_matches('/'), path_segment(name));
    let uri = match http_uri("endpoint", &url) {
        Ok(uri) => uri,
        Err(e) => return (false, e.message),
    };
    let headers = vec![(HeaderName::from_static("x-amz-invocation-type"), HeaderValue::from_static("RequestResponse"))];
    match post_json(uri, headers, event.to_json(), Duration::from_millis(hook.timeout_ms)).await {
        Ok(reply) => {
            let function_error =
                reply.headers.get("x-amz-function-error").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            match function_error {
                Some(kind) => (false, format!("function error ({kind}): {}", reply.body)),
                None if reply.status.is_success() => (true, reply.body),
                None => (false, format!("{}\n{}", status_line(reply.status), reply.body)),
            }
        }
        Err(reason) => (false, reason),
    }
}

// ---------------------------------------------------------------------------------------------
// command

type Capture = Arc<Mutex<Vec<u8>>>;

fn capture<R: AsyncRead + Unpin + Send + 'static>(mut reader: R, into: Capture) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut kept = into.lock();
                    let room = CAPTURE_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    })
}

async fn invoke_command(
    hook: &CommandHook,
    event: &RotationEvent,
    context_env: &[(String, String)],
    processes: &ProcessGroups,
) -> (bool, String) {
    let mut command = tokio::process::Command::new(&hook.program);
    command
        .args(&hook.args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command.envs(context_env.iter().map(|(k, v)| (k, v)));
    command
        .env("SMEMU_ROTATION_STEP", event.step.as_str())
        .env("SMEMU_SECRET_ID", &event.secret_id)
        .env("SMEMU_CLIENT_REQUEST_TOKEN", &event.client_request_token)
        .env("SMEMU_ROTATION_TOKEN", &event.rotation_token);
    command.envs(&hook.env);
    if let Some(cwd) = &hook.cwd {
        command.current_dir(cwd);
    }
    let mut group = match processes.spawn(&mut command) {
        Ok(group) => group,
        Err(e) => return (false, format!("[smemu] can't start {}: {e}", hook.program)),
    };
    let child = &mut group.child;
    if let Some(mut stdin) = child.stdin.take() {
        let payload = event.to_json();
        // A program that doesn't read its stdin must not make the write fail the step.
        tokio::spawn(async move {
            let _ = stdin.write_all(&payload).await;
            let _ = stdin.shutdown().await;
        });
    }
    let (stdout, stderr): (Capture, Capture) = Default::default();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(capture(out, stdout.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(capture(err, stderr.clone()));
    }
    let timeout = Duration::from_millis(hook.timeout_ms);
    let (ok, note) = match tokio::time::timeout(timeout, group.child.wait()).await {
        Ok(Ok(status)) if status.success() => (true, None),
        Ok(Ok(status)) => (false, Some(format!("[smemu] {} exited with {status}", hook.program))),
        Ok(Err(e)) => (false, Some(format!("[smemu] waiting for {} failed: {e}", hook.program))),
        Err(_) => {
            group.kill();
            let _ = group.child.wait().await;
            (
                false,
                Some(format!(
                    "[smemu] {} timed out after {} ms and was killed with every process it started",
                    hook.program, hook.timeout_ms
                )),
            )
        }
    };
    // The step is over: what the program left running in its group goes with it (and so lets go
    // of the pipes).
    drop(group);
    // The pipes close when the process exits, unless a process it started outside its group
    // still holds them.
    let deadline = tokio::time::Instant::now() + PIPE_GRACE;
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout_at(deadline, reader).await.is_err() {
            abort.abort();
        }
    }
    let mut output = String::from_utf8_lossy(&stdout.lock()).into_owned();
    let err = String::from_utf8_lossy(&stderr.lock()).into_owned();
    for part in [err, note.unwrap_or_default()] {
        if part.is_empty() {
            continue;
        }
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&part);
    }
    (ok, output)
}

// ---------------------------------------------------------------------------------------------
// builtin

fn string_value(value: Option<StoredValue>, what: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(StoredValue::String(text)) => Ok(Some(text)),
        Some(StoredValue::Binary(_)) => {
            Err(format!("the builtin rotator rotates string secrets, and {what} is a SecretBinary"))
        }
    }
}

fn run_builtin(hook: &BuiltinHook, event: &RotationEvent, api: &dyn SecretsApi) -> Result<String, String> {
    let secret = event.secret_id.as_str();
    let token = event.client_request_token.as_str();
    let pending = ValueSelector::version(token, AWSPENDING);
    match event.step {
        Step::CreateSecret => {
            if api.get_value(secret, pending)?.is_some() {
                return Ok(format!("createSecret: version {token} already has its AWSPENDING value; nothing to do"));
            }
            let password = password::generate(&hook.password_spec(), &ring::rand::SystemRandom::new())
                .map_err(|e| format!("createSecret: can't generate a password: {e}"))?;
            let value = match &hook.json_key {
                None => password,
                Some(key) => {
                    let current = string_value(api.get_value(secret, ValueSelector::stage(AWSCURRENT))?, "AWSCURRENT")?;
                    let mut object = match current.as_deref().map(serde_json::from_str::<Value>) {
                        None => Map::new(),
                        Some(Ok(Value::Object(object))) => object,
                        Some(_) => {
                            return Err(format!(
                                "createSecret: the AWSCURRENT value isn't a JSON object, so its key {key:?} can't be rotated"
                            ));
                        }
                    };
                    object.insert(key.clone(), Value::String(password));
                    Value::Object(object).to_string()
                }
            };
            api.put_pending(secret, token, value).map_err(|e| format!("createSecret: PutSecretValue failed: {e}"))?;
            Ok(format!("createSecret: stored a new value in version {token} with AWSPENDING"))
        }
        Step::SetSecret => Ok("setSecret: nothing to do, the builtin rotator has no service to update".into()),
        Step::TestSecret => {
            let Some(value) = string_value(api.get_value(secret, pending)?, "AWSPENDING")? else {
                return Err(format!("testSecret: version {token} has no AWSPENDING value"));
            };
            if let Some(key) = &hook.json_key {
                let has_key = serde_json::from_str::<Value>(&value)
                    .ok()
                    .is_some_and(|v| v.get(key).is_some_and(Value::is_string));
                if !has_key {
                    return Err(format!("testSecret: the AWSPENDING value has no string key {key:?}"));
                }
            }
            Ok(format!("testSecret: version {token} has its AWSPENDING value"))
        }
        Step::FinishSecret => {
            api.move_current(secret, token)
                .map_err(|e| format!("finishSecret: UpdateSecretVersionStage failed: {e}"))?;
            Ok(format!("finishSecret: version {token} is AWSCURRENT"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// registry

/// The configured hooks, by function ARN.
#[derive(Default)]
pub struct HookRegistry {
    hooks: RwLock<HashMap<String, Arc<HookSpec>>>,
}

impl HookRegistry {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `spec`, replacing the hook of the same function ARN; returns the one replaced.
    pub fn register(&self, spec: HookSpec) -> Option<Arc<HookSpec>> {
        self.hooks.write().insert(spec.function_arn.clone(), Arc::new(spec))
    }

    /// The hook for `function_arn`: the one registered under exactly that ARN, or else the only one
    /// whose function name matches (so a hook registered as `arn:…:function:rotate` also answers for
    /// `rotate`, or for the same function in another account or region).
    #[must_use]
    pub fn get(&self, function_arn: &str) -> Option<Arc<HookSpec>> {
        let hooks = self.hooks.read();
        if let Some(hook) = hooks.get(function_arn) {
            return Some(hook.clone());
        }
        let name = lambda_function_name(function_arn).unwrap_or(function_arn);
        let mut matches = hooks.iter().filter(|(arn, _)| lambda_function_name(arn).unwrap_or(arn) == name);
        match (matches.next(), matches.next()) {
            (Some((_, hook)), None) => Some(hook.clone()),
            _ => None,
        }
    }

    /// Every hook, by function ARN.
    #[must_use]
    pub fn list(&self) -> Vec<Arc<HookSpec>> {
        let mut hooks: Vec<_> = self.hooks.read().values().cloned().collect();
        hooks.sort_by(|a, b| a.function_arn.cmp(&b.function_arn));
        hooks
    }

    /// Removes the hook registered under exactly `function_arn`.
    pub fn remove(&self, function_arn: &str) -> Option<Arc<HookSpec>> {
        self.hooks.write().remove(function_arn)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.hooks.read().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hooks.read().is_empty()
    }
}

/// Which hook ran, for the rotation log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRef {
    pub function_arn: String,
    pub kind: &'static str,
}

impl From<&HookSpec> for HookRef {
    fn from(spec: &HookSpec) -> Self {
        Self { function_arn: spec.function_arn.clone(), kind: spec.kind_name() }
    }
}

#[cfg(test)]
mod tests;
