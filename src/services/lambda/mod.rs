//! A local Lambda for rotation code: functions deployed with the real Lambda API (REST-JSON under
//! `/2015-03-31/functions`, SigV4 service `lambda`), per account and region, run by local
//! `python3.x` and `nodejs` runtimes in a long-lived worker process per function.
//!
//! * [`api`]: the operations, their routes and shapes.
//! * [`code`]: deployment packages unpacked into private directories.
//! * [`worker`]: the worker processes and the protocol they speak.
//! * [`error`]: Lambda's error shapes.
//!
//! * [`durable`]: functions under `--data-dir`.
//!
//! Running code is a capability of its own: see [`may_deploy`].

pub mod api;
pub mod code;
pub mod durable;
pub mod error;
pub mod worker;

use crate::App;
use crate::auth::AuthMode;
use error::LambdaError;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Every path of the Lambda API starts so.
pub const PATH_PREFIX: &str = "/2015-03-31/functions";

/// The largest Lambda request: a 50 MB zip, base64-encoded in a JSON body, with room to spare.
pub const MAX_REQUEST_BYTES: usize = 70 * 1024 * 1024;

/// What `Invoke`'s `LogResult` holds at most: the last 4 KB of the log, as AWS sends.
const LOG_TAIL_BYTES: usize = 4096;

/// Whether a request path belongs to the Lambda API.
#[must_use]
pub fn owns(path: &str) -> bool {
    path.strip_prefix(PATH_PREFIX).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// One deployed function.
pub struct Function {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub runtime: String,
    pub kind: worker::Kind,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout_secs: u64,
    pub memory_mb: u64,
    pub environment: BTreeMap<String, String>,
    pub code: Arc<code::CodeDir>,
    pub last_modified: String,
    pub revision_id: String,
    /// The resource policy's statements (AddPermission), in order.
    pub statements: Vec<Value>,
    /// The worker, started on first use; replaced (and so killed once idle) when the code or
    /// configuration changes.
    pub worker: Arc<tokio::sync::Mutex<Option<worker::Worker>>>,
}

type Key = (String, String, String);

/// The functions of every account and region.
pub struct Lambda {
    functions: Mutex<BTreeMap<Key, Function>>,
    /// smemu's private directory for unpacked code, made on first use and removed at shutdown.
    root: PathBuf,
    /// Where functions are kept under `--data-dir`.
    kept: std::sync::OnceLock<durable::Kept>,
}

impl Default for Lambda {
    fn default() -> Self {
        Self::new()
    }
}

impl Lambda {
    #[must_use]
    pub fn new() -> Self {
        let root =
            std::env::temp_dir().join(format!("smemu-lambda-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
        Self { functions: Mutex::new(BTreeMap::new()), root, kept: std::sync::OnceLock::new() }
    }

    /// Where a new copy of a function's code is unpacked.
    fn code_dir(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Removes every function (their workers die when idle) and the unpacked code (at shutdown).
    pub fn shut_down(&self) {
        self.functions.lock().clear();
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// Forgets the functions of one world, or of every world (a reset).
    pub fn forget(&self, account: Option<&str>, region: Option<&str>) {
        let mut functions = self.functions.lock();
        functions.retain(|(a, r, _), _| !(account.is_none_or(|want| want == a) && region.is_none_or(|want| want == r)));
        self.journal_reset(account, region);
    }

    /// The rotation hook for a deployed function's ARN, when there is such a function.
    #[must_use]
    pub fn rotation_hook(&self, function_arn: &str) -> Option<Arc<crate::rotation::HookSpec>> {
        let (account, region, name) = parse_arn(function_arn)?;
        let functions = self.functions.lock();
        let function = functions.get(&(account.to_owned(), region.to_owned(), name.to_owned()))?;
        Some(Arc::new(crate::rotation::HookSpec {
            function_arn: function.arn.clone(),
            kind: crate::rotation::HookKind::Deployed,
        }))
    }

    /// Whether the function's resource policy lets `service` (`secretsmanager.amazonaws.com`)
    /// invoke it, conditions aside (rotation asks [`Self::resource_policy`] of the policy engine).
    #[must_use]
    pub fn allows_service(&self, function_arn: &str, service: &str) -> bool {
        let Some((account, region, name)) = parse_arn(function_arn) else { return false };
        let functions = self.functions.lock();
        functions
            .get(&(account.to_owned(), region.to_owned(), name.to_owned()))
            .is_some_and(|f| api::policy_allows_service(&f.statements, service))
    }

    /// The function's resource policy as GetPolicy shows it (`None`: no such function; a
    /// function without permissions has a policy without statements), for the check AWS makes
    /// before a rotation when authorization is enforced.
    #[must_use]
    pub fn resource_policy(&self, function_arn: &str) -> Option<String> {
        let (account, region, name) = parse_arn(function_arn)?;
        let functions = self.functions.lock();
        let function = functions.get(&(account.to_owned(), region.to_owned(), name.to_owned()))?;
        Some(api::policy_document(function).to_string())
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` → (account, region, name).
#[must_use]
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("lambda"), Some(region), Some(account), Some("function"), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    match parts.next() {
        None | Some("$LATEST") if parts.next().is_none() => Some((account, region, name)),
        _ => None,
    }
}

/// Deploying code (CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration) lets the
/// caller run programs as smemu's user, so it needs proof of who the caller is: a verified
/// signature (`--auth strict`), or, in the modes that check none, the operator's opt-in
/// `--allow-command-hooks` and a request the control API would admit (loopback and no token
/// configured, or the valid control token; a local `Host` — no rebound name).
///
/// # Errors
/// `AccessDeniedException` saying how to allow it.
pub fn may_deploy(app: &App, headers: &hyper::HeaderMap) -> Result<(), LambdaError> {
    if app.auth.mode() == AuthMode::Strict {
        return Ok(());
    }
    if !app.config.allow_command_hooks {
        return Err(LambdaError::access_denied(
            "smemu runs function code only for callers it can verify: start it with --auth strict (signed \
             requests), or with --allow-command-hooks to let any local client deploy code",
        ));
    }
    app.guard()
        .admit_control(false, headers)
        .map(drop)
        .map_err(|refused| LambdaError::access_denied(format!("deploying function code: {}", refused.message)))
}

/// The outcome of one invocation.
pub struct Invocation {
    /// The answer's body: the handler's result, or the error object.
    pub payload: Vec<u8>,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// The whole log of the invocation (START … REPORT).
    pub log: String,
}

impl Invocation {
    /// The last 4 KB of the log, base64-encoded, for `X-Amz-Log-Result`.
    #[must_use]
    pub fn log_tail(&self) -> String {
        use base64::Engine as _;
        let bytes = self.log.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(LOG_TAIL_BYTES)..];
        base64::engine::general_purpose::STANDARD.encode(tail)
    }
}

/// Runs the function `(account, region, name)` once with `event`.
///
/// # Errors
/// `ResourceNotFoundException` when there is no such function.
pub async fn invoke(
    app: &App,
    account: &str,
    region: &str,
    name: &str,
    event: Value,
) -> Result<Invocation, LambdaError> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (slot, launch, request, timeout) = {
        let functions = app.lambda.functions.lock();
        let key = (account.to_owned(), region.to_owned(), name.to_owned());
        let f = functions.get(&key).ok_or_else(|| LambdaError::no_function(&function_arn(account, region, name)))?;
        let request = json!({
            "requestId": request_id,
            "event": event,
            "functionName": f.name,
            "functionVersion": "$LATEST",
            "invokedFunctionArn": f.arn,
            "memoryLimitInMB": f.memory_mb,
            "logGroupName": format!("/aws/lambda/{}", f.name),
            "logStreamName": format!("smemu/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        });
        (f.worker.clone(), launch_of(app, f), request, Duration::from_secs(f.timeout_secs))
    };
    let started = std::time::Instant::now();
    let mut worker = slot.lock().await;
    let outcome = match worker.as_mut() {
        Some(running) => running.invoke(request, timeout).await,
        None => match worker::Worker::start(&app.hook_processes, launch.as_launch()) {
            Ok(started) => worker.insert(started).invoke(request, timeout).await,
            Err(why) => Err(worker::Failure::Start(why)),
        },
    };
    let stray = match &outcome {
        Ok(_) => String::new(),
        Err(_) => {
            let stray = worker.as_ref().map(worker::Worker::stray_output).unwrap_or_default();
            // A failed worker is done with: the next invocation starts a fresh one.
            *worker = None;
            stray
        }
    };
    drop(worker);
    let duration = started.elapsed();
    let (payload, function_error, output) = match outcome {
        Ok(answer) if answer.ok => (answer.payload, None, answer.logs),
        Ok(answer) => {
            let mut logs = answer.logs;
            logs.push_str(&error_report(&answer.payload));
            (answer.payload, Some("Unhandled"), logs)
        }
        Err(worker::Failure::TimedOut) => {
            let message = format!(
                "{} {request_id} Task timed out after {}.00 seconds",
                jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                timeout.as_secs()
            );
            let mut logs = stray;
            logs.push_str(&message);
            logs.push('\n');
            (json!({ "errorMessage": message }), Some("Unhandled"), logs)
        }
        Err(worker::Failure::Died(why) | worker::Failure::Start(why)) => {
            let message = format!("RequestId: {request_id} Error: {why}");
            let mut logs = stray;
            logs.push_str(&message);
            logs.push('\n');
            (json!({ "errorType": "Runtime.ExitError", "errorMessage": message }), Some("Unhandled"), logs)
        }
    };
    let mut log = format!("START RequestId: {request_id} Version: $LATEST\n{output}");
    if !log.ends_with('\n') {
        log.push('\n');
    }
    log.push_str(&format!(
        "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\n",
        duration.as_secs_f64() * 1000.0,
        duration.as_millis().max(1),
        launch.memory_mb,
    ));
    Ok(Invocation { payload: payload.to_string().into_bytes(), function_error, log })
}

/// A failed invocation's error, as the log shows it (the runtime's own traceback is above it).
fn error_report(error: &Value) -> String {
    let mut out = format!(
        "[ERROR] {}: {}\n",
        error.get("errorType").and_then(Value::as_str).unwrap_or("Error"),
        error.get("errorMessage").and_then(Value::as_str).unwrap_or_default()
    );
    let frames: Vec<&Value> =
        ["stackTrace", "trace"].iter().filter_map(|k| error.get(*k)).filter_map(Value::as_array).flatten().collect();
    if error.get("stackTrace").is_some() && !frames.is_empty() {
        out.push_str("Traceback (most recent call last):\n");
    }
    for frame in frames {
        if let Some(frame) = frame.as_str() {
            out.push_str(frame.trim_end());
            out.push('\n');
        }
    }
    out
}

/// What starting a function's worker needs, copied out of the store so no lock is held.
struct OwnedLaunch {
    kind: worker::Kind,
    program: String,
    handler: String,
    code: Arc<code::CodeDir>,
    env: Vec<(String, String)>,
    memory_mb: u64,
}

impl OwnedLaunch {
    fn as_launch(&self) -> worker::Launch<'_> {
        worker::Launch {
            kind: self.kind,
            program: &self.program,
            handler: &self.handler,
            task_root: &self.code.path,
            env: self.env.clone(),
        }
    }
}

fn launch_of(app: &App, f: &Function) -> OwnedLaunch {
    let program = match f.kind {
        worker::Kind::Python => app.config.lambda_python.clone(),
        worker::Kind::Node => app.config.lambda_node.clone(),
    };
    let root = f.code.path.display().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        ("LAMBDA_TASK_ROOT".into(), root.clone()),
        ("AWS_REGION".into(), f.region.clone()),
        ("AWS_DEFAULT_REGION".into(), f.region.clone()),
        ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{}", f.runtime)),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), f.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), f.memory_mb.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", f.name)),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
    ];
    match f.kind {
        worker::Kind::Python => env.push(("PYTHONPATH".into(), root)),
        worker::Kind::Node => env.push(("NODE_PATH".into(), root)),
    }
    if let Some(endpoint) = app.endpoint() {
        env.push(("AWS_ENDPOINT_URL".into(), endpoint.to_owned()));
    }
    env.extend(role_credentials(app, f));
    // The function's own variables come last, as in Lambda (which refuses reserved names).
    env.extend(f.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    OwnedLaunch { kind: f.kind, program, handler: f.handler.clone(), code: f.code.clone(), env, memory_mb: f.memory_mb }
}

/// Credentials of the function's execution role, issued by smemu's STS as AssumeRole would
/// (session name = the function's name); in the modes without signatures, the account id as the
/// key selects the function's account should the role be unusable.
fn role_credentials(app: &App, f: &Function) -> Vec<(String, String)> {
    let issued = app.auth.credentials().issue_temporary(
        &f.role,
        &f.name,
        Duration::from_secs(12 * 3600),
        std::time::SystemTime::now(),
    );
    match issued {
        Ok(c) => vec![
            ("AWS_ACCESS_KEY_ID".into(), c.access_key_id),
            ("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key),
            ("AWS_SESSION_TOKEN".into(), c.session_token),
        ],
        Err(_) => {
            vec![("AWS_ACCESS_KEY_ID".into(), f.account.clone()), ("AWS_SECRET_ACCESS_KEY".into(), "smemu".into())]
        }
    }
}

#[must_use]
pub fn function_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// Runs rotation steps through deployed functions (see [`crate::rotation::DeployedFunctions`]).
pub struct RotationRunner<'a> {
    pub app: &'a App,
}

impl crate::rotation::DeployedFunctions for RotationRunner<'_> {
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (bool, String)> + Send + 'a>> {
        Box::pin(async move {
            let Some((account, region, name)) = parse_arn(function_arn) else {
                return (false, format!("[smemu] {function_arn} is not a function ARN"));
            };
            let event = serde_json::from_slice(&event).unwrap_or(Value::Null);
            match invoke(self.app, account, region, name, event).await {
                Ok(run) => (run.function_error.is_none(), run.log),
                Err(e) => (false, format!("[smemu] {e}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_parse_with_or_without_latest() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:rotate";
        assert_eq!(parse_arn(arn), Some(("000000000000", "us-east-1", "rotate")));
        assert_eq!(parse_arn(&format!("{arn}:$LATEST")), Some(("000000000000", "us-east-1", "rotate")));
        assert_eq!(parse_arn(&format!("{arn}:1")), None);
        assert_eq!(parse_arn(&format!("{arn}:$LATEST:x")), None);
        assert_eq!(parse_arn("arn:aws:secretsmanager:us-east-1:000000000000:secret:x"), None);
    }

    #[test]
    fn the_lambda_paths_are_its_own() {
        assert!(owns("/2015-03-31/functions"));
        assert!(owns("/2015-03-31/functions/"));
        assert!(owns("/2015-03-31/functions/f/invocations"));
        assert!(!owns("/2015-03-31/functionsx"));
        assert!(!owns("/"));
    }
}
