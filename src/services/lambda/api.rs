//! The Lambda operations smemu answers: their routes (method and path), their shapes, and thin
//! handlers over the function store.

use super::error::LambdaError;
use super::{Function, Lambda, code, function_arn, may_deploy, worker};
use crate::App;
use crate::auth::Caller;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The operations, as routed from method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    CreateFunction,
    ListFunctions,
    GetFunction(String),
    DeleteFunction(String),
    GetFunctionConfiguration(String),
    UpdateFunctionConfiguration(String),
    UpdateFunctionCode(String),
    Invoke(String),
    AddPermission(String),
    GetPolicy(String),
    RemovePermission(String, String),
}

impl Route {
    /// The route of `method path` (the path with its `/2015-03-31/functions` prefix).
    #[must_use]
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        let rest = path.strip_prefix(super::PATH_PREFIX)?;
        let parts: Vec<String> = rest.split('/').skip(1).map(percent_decode).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let name = |s: &str| s.to_owned();
        Some(match (method, parts.as_slice()) {
            (&Method::POST, [] | [""]) => Self::CreateFunction,
            (&Method::GET, [] | [""]) => Self::ListFunctions,
            (&Method::GET, [f]) if !f.is_empty() => Self::GetFunction(name(f)),
            (&Method::DELETE, [f]) if !f.is_empty() => Self::DeleteFunction(name(f)),
            (&Method::GET, [f, "configuration"]) => Self::GetFunctionConfiguration(name(f)),
            (&Method::PUT, [f, "configuration"]) => Self::UpdateFunctionConfiguration(name(f)),
            (&Method::PUT, [f, "code"]) => Self::UpdateFunctionCode(name(f)),
            (&Method::POST, [f, "invocations"]) => Self::Invoke(name(f)),
            (&Method::POST, [f, "policy"]) => Self::AddPermission(name(f)),
            (&Method::GET, [f, "policy"]) => Self::GetPolicy(name(f)),
            (&Method::DELETE, [f, "policy", sid]) => Self::RemovePermission(name(f), name(sid)),
            _ => return None,
        })
    }

    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::CreateFunction => "CreateFunction",
            Self::ListFunctions => "ListFunctions",
            Self::GetFunction(_) => "GetFunction",
            Self::DeleteFunction(_) => "DeleteFunction",
            Self::GetFunctionConfiguration(_) => "GetFunctionConfiguration",
            Self::UpdateFunctionConfiguration(_) => "UpdateFunctionConfiguration",
            Self::UpdateFunctionCode(_) => "UpdateFunctionCode",
            Self::Invoke(_) => "Invoke",
            Self::AddPermission(_) => "AddPermission",
            Self::GetPolicy(_) => "GetPolicy",
            Self::RemovePermission(..) => "RemovePermission",
        }
    }

    /// Whether the request changes a function (and so is journalled).
    #[must_use]
    pub const fn is_mutating(&self) -> bool {
        matches!(
            self,
            Self::CreateFunction
                | Self::DeleteFunction(_)
                | Self::UpdateFunctionConfiguration(_)
                | Self::UpdateFunctionCode(_)
                | Self::AddPermission(_)
                | Self::RemovePermission(..)
        )
    }

    /// The function the request names, as sent.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::CreateFunction | Self::ListFunctions => None,
            Self::GetFunction(f)
            | Self::DeleteFunction(f)
            | Self::GetFunctionConfiguration(f)
            | Self::UpdateFunctionConfiguration(f)
            | Self::UpdateFunctionCode(f)
            | Self::Invoke(f)
            | Self::AddPermission(f)
            | Self::GetPolicy(f)
            | Self::RemovePermission(f, _) => Some(f),
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler answers: a status, a JSON body (or none), extra headers.
struct Answer {
    status: StatusCode,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn json(status: StatusCode, body: &Value) -> Self {
        Self { status, body: Some(body.to_string().into_bytes()), headers: Vec::new() }
    }

    fn empty(status: StatusCode) -> Self {
        Self { status, body: None, headers: Vec::new() }
    }
}

/// Answers one Lambda request whose caller is known.
pub async fn handle(
    app: &Arc<App>,
    parts: &Parts,
    body: &[u8],
    caller: &Caller,
    route: Route,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let ctx = Ctx { app, account: &caller.account_id, region: &caller.region };
    let mut outcome = answer(&ctx, parts, body, &route).await;
    // A change is answered once it is durable (`--data-dir`).
    if route.is_mutating()
        && outcome.is_ok()
        && let Err(e) = app.durable().await
    {
        outcome = Err(LambdaError::service(format!("the change could not be kept: {}", e.message)));
    }
    respond(outcome, &request_id)
}

async fn answer(ctx: &Ctx<'_>, parts: &Parts, body: &[u8], route: &Route) -> Result<Answer, LambdaError> {
    let app = ctx.app;
    match route {
        Route::CreateFunction => {
            may_deploy(app, &parts.headers)?;
            create(ctx, &json_body(body)?)
        }
        Route::ListFunctions => Ok(list(ctx)),
        Route::GetFunction(f) => ctx.read(f, |f| Ok(Answer::json(StatusCode::OK, &full_description(f)))),
        Route::GetFunctionConfiguration(f) => ctx.read(f, |f| Ok(Answer::json(StatusCode::OK, &configuration(f)))),
        Route::DeleteFunction(f) => delete(ctx, f),
        Route::UpdateFunctionConfiguration(f) => {
            may_deploy(app, &parts.headers)?;
            update_configuration(ctx, f, &json_body(body)?)
        }
        Route::UpdateFunctionCode(f) => {
            may_deploy(app, &parts.headers)?;
            update_code(ctx, f, &json_body(body)?)
        }
        Route::Invoke(f) => invoke(ctx, f, parts, body).await,
        Route::AddPermission(f) => add_permission(ctx, f, &json_body(body)?),
        Route::GetPolicy(f) => ctx.read(f, get_policy),
        Route::RemovePermission(f, sid) => remove_permission(ctx, f, sid),
    }
}

/// Finishes [`handle`]'s answer.
fn respond(outcome: Result<Answer, LambdaError>, request_id: &str) -> Response<Full<Bytes>> {
    match outcome {
        Ok(answer) => {
            let mut response = Response::new(Full::new(Bytes::from(answer.body.unwrap_or_default())));
            *response.status_mut() = answer.status;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(id) = HeaderValue::from_str(request_id) {
                headers.insert("x-amzn-requestid", id);
            }
            for (name, value) in answer.headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
            response
        }
        Err(e) => e.response(request_id),
    }
}

/// The body of a failed request: its error code, for the request's log line.
#[must_use]
pub fn error_code(response: &Response<Full<Bytes>>) -> Option<&'static str> {
    let code = response.headers().get("x-amzn-errortype")?.to_str().ok()?;
    ERROR_CODES.iter().copied().find(|c| *c == code)
}

/// An error answer's message (see [`super::error::Message`]).
#[must_use]
pub fn error_message(response: &Response<Full<Bytes>>) -> Option<&str> {
    response.extensions().get::<super::error::Message>().map(|m| m.0.as_str())
}

const ERROR_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceConflictException",
    "InvalidParameterValueException",
    "PreconditionFailedException",
    "AccessDeniedException",
    "RequestTooLargeException",
    "UnsupportedMediaTypeException",
    "UnknownOperationException",
    "ServiceException",
];

struct Ctx<'a> {
    app: &'a Arc<App>,
    account: &'a str,
    region: &'a str,
}

impl Ctx<'_> {
    fn lambda(&self) -> &Lambda {
        &self.app.lambda
    }

    /// The store key of a `FunctionName` (a name, an ARN, or a partial ARN), in the caller's
    /// account and region.
    fn key(&self, function: &str) -> Result<(String, String, String), LambdaError> {
        let (account, region, name) = if function.starts_with("arn:") {
            let (account, region, name) = super::parse_arn(function).ok_or_else(|| invalid_name(function))?;
            (account, region, name)
        } else if let Some((account, name)) = function.split_once(":function:") {
            (account, self.region, name)
        } else {
            (self.account, self.region, function)
        };
        if !valid_name(name) || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_name(function));
        }
        Ok((account.to_owned(), region.to_owned(), name.to_owned()))
    }

    fn read<T>(&self, function: &str, f: impl FnOnce(&Function) -> Result<T, LambdaError>) -> Result<T, LambdaError> {
        let key = self.key(function)?;
        let functions = self.lambda().functions.lock();
        let found =
            functions.get(&key).ok_or_else(|| LambdaError::no_function(&function_arn(&key.0, &key.1, &key.2)))?;
        f(found)
    }

    fn write<T>(
        &self,
        function: &str,
        f: impl FnOnce(&mut Function) -> Result<T, LambdaError>,
    ) -> Result<T, LambdaError> {
        let key = self.key(function)?;
        let mut functions = self.lambda().functions.lock();
        let found =
            functions.get_mut(&key).ok_or_else(|| LambdaError::no_function(&function_arn(&key.0, &key.1, &key.2)))?;
        let out = f(found)?;
        // Journalled under the lock that ordered the change.
        self.lambda().journal_put(found);
        Ok(out)
    }
}

fn invalid_name(function: &str) -> LambdaError {
    LambdaError::invalid(format!(
        "1 validation error detected: Value '{function}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, LambdaError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(LambdaError::invalid("The request body could not be parsed as JSON.")),
    }
}

fn string<'a>(input: &'a Map<String, Value>, member: &str) -> Result<Option<&'a str>, LambdaError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(LambdaError::invalid(format!("{member} must be a string."))),
    }
}

fn required<'a>(input: &'a Map<String, Value>, member: &str) -> Result<&'a str, LambdaError> {
    string(input, member)?.ok_or_else(|| {
        LambdaError::invalid(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))
    })
}

fn lower_first(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn number(
    input: &Map<String, Value>,
    member: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, LambdaError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(LambdaError::invalid(format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value between {} and {}",
                lower_first(member),
                range.start(),
                range.end()
            ))),
        },
    }
}

pub(super) fn check_runtime(runtime: &str) -> Result<worker::Kind, LambdaError> {
    worker::Kind::of(runtime).ok_or_else(|| {
        LambdaError::invalid(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: smemu runs the python3.x and nodejsNN.x runtimes"
        ))
    })
}

fn check_role(role: &str) -> Result<(), LambdaError> {
    let ok = role.strip_prefix("arn:").and_then(|r| r.split_once(":iam::")).is_some_and(|(_, rest)| {
        rest.split_once(":role/").is_some_and(|(account, name)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        })
    });
    if ok {
        Ok(())
    } else {
        Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        )))
    }
}

/// Variables Lambda sets itself, which a function's environment may not name.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn environment(input: &Map<String, Value>) -> Result<Option<BTreeMap<String, String>>, LambdaError> {
    let Some(env) = input.get("Environment").filter(|v| !v.is_null()) else { return Ok(None) };
    let vars = match env.get("Variables") {
        None | Some(Value::Null) => return Ok(Some(BTreeMap::new())),
        Some(Value::Object(vars)) => vars,
        Some(_) => return Err(LambdaError::invalid("Environment.Variables must be a map of strings.")),
    };
    let mut out = BTreeMap::new();
    for (key, value) in vars {
        let Some(value) = value.as_str() else {
            return Err(LambdaError::invalid("Environment.Variables must be a map of strings."));
        };
        let first_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(LambdaError::invalid(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            ));
        }
        if RESERVED_VARIABLES.contains(&key.as_str()) {
            return Err(LambdaError::invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {key}"
            )));
        }
        out.insert(key.clone(), value.to_owned());
    }
    Ok(Some(out))
}

/// The code of CreateFunction's `Code` or UpdateFunctionCode's body: `ZipFile` (base64), or
/// `S3Bucket: "hot-reload"` with `S3Key` the absolute path of a local directory.
fn code_of(lambda: &Lambda, name: &str, input: &Map<String, Value>) -> Result<code::CodeDir, LambdaError> {
    use base64::Engine as _;
    if let Some(zip) = string(input, "ZipFile")? {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(zip)
            .map_err(|_| LambdaError::invalid("ZipFile must be base64-encoded."))?;
        let code = code::unpack(&bytes, lambda.code_dir(name))?;
        lambda.keep_zip(&bytes).map_err(|e| LambdaError::service(format!("cannot keep the package: {e}")))?;
        return Ok(code);
    }
    match (string(input, "S3Bucket")?, string(input, "S3Key")?) {
        (Some("hot-reload"), Some(path)) => code::local(path),
        (Some(_), _) => Err(LambdaError::invalid(
            "smemu has no S3: give the code as ZipFile, or as S3Bucket \"hot-reload\" with S3Key the absolute path of a local directory",
        )),
        _ if string(input, "ImageUri")?.is_some() => {
            Err(LambdaError::invalid("smemu runs zip packages, not container images (ImageUri)."))
        }
        _ => Err(LambdaError::invalid("Please provide a source for function code.")),
    }
}

fn now_text() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn create(ctx: &Ctx<'_>, input: &Map<String, Value>) -> Result<Answer, LambdaError> {
    let name_in = required(input, "FunctionName")?;
    let key = ctx.key(name_in)?;
    let (account, region, name) = (key.0.clone(), key.1.clone(), key.2.clone());
    if account != ctx.account || region != ctx.region {
        return Err(LambdaError::invalid("The function's ARN must name the caller's account and region."));
    }
    let runtime = required(input, "Runtime")?.to_owned();
    let kind = check_runtime(&runtime)?;
    let handler = required(input, "Handler")?.to_owned();
    let role = required(input, "Role")?.to_owned();
    check_role(&role)?;
    let timeout_secs = number(input, "Timeout", 1..=900)?.unwrap_or(3);
    let memory_mb = number(input, "MemorySize", 128..=10240)?.unwrap_or(128);
    let environment = environment(input)?.unwrap_or_default();
    let description = string(input, "Description")?.unwrap_or_default().to_owned();
    let code_input = match input.get("Code") {
        Some(Value::Object(code)) => code,
        _ => {
            return Err(LambdaError::invalid(
                "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    if ctx.lambda().functions.lock().contains_key(&key) {
        return Err(LambdaError::conflict(format!("Function already exist: {name}")));
    }
    // Unpacked outside the lock: a large archive takes a while.
    let code = Arc::new(code_of(ctx.lambda(), &name, code_input)?);
    let function = Function {
        arn: function_arn(&account, &region, &name),
        name,
        account,
        region,
        runtime,
        kind,
        handler,
        role,
        description,
        timeout_secs,
        memory_mb,
        environment,
        code,
        last_modified: now_text(),
        revision_id: uuid::Uuid::new_v4().to_string(),
        statements: Vec::new(),
        worker: Arc::default(),
    };
    let mut functions = ctx.lambda().functions.lock();
    if functions.contains_key(&key) {
        return Err(LambdaError::conflict(format!("Function already exist: {}", function.name)));
    }
    let answer = Answer::json(StatusCode::CREATED, &configuration(&function));
    ctx.lambda().journal_put(&function);
    functions.insert(key, function);
    Ok(answer)
}

fn configuration(f: &Function) -> Value {
    let mut out = json!({
        "FunctionName": f.name,
        "FunctionArn": f.arn,
        "Runtime": f.runtime,
        "Role": f.role,
        "Handler": f.handler,
        "CodeSize": f.code.size,
        "Description": f.description,
        "Timeout": f.timeout_secs,
        "MemorySize": f.memory_mb,
        "LastModified": f.last_modified,
        "CodeSha256": f.code.sha256,
        "Version": "$LATEST",
        "TracingConfig": { "Mode": "PassThrough" },
        "RevisionId": f.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": { "Size": 512 },
    });
    if !f.environment.is_empty()
        && let Value::Object(map) = &mut out
    {
        map.insert("Environment".into(), json!({ "Variables": f.environment }));
    }
    out
}

fn full_description(f: &Function) -> Value {
    json!({
        "Configuration": configuration(f),
        "Code": { "RepositoryType": "S3", "Location": format!("file://{}", f.code.path.display()) },
    })
}

fn list(ctx: &Ctx<'_>) -> Answer {
    let functions = ctx.lambda().functions.lock();
    let list: Vec<Value> = functions
        .iter()
        .filter(|((a, r, _), _)| a == ctx.account && r == ctx.region)
        .map(|(_, f)| configuration(f))
        .collect();
    Answer::json(StatusCode::OK, &json!({ "Functions": list }))
}

fn delete(ctx: &Ctx<'_>, function: &str) -> Result<Answer, LambdaError> {
    let key = ctx.key(function)?;
    // The worker goes with the function: killed now if idle, else once its invocation ends.
    let mut functions = ctx.lambda().functions.lock();
    functions.remove(&key).ok_or_else(|| LambdaError::no_function(&function_arn(&key.0, &key.1, &key.2)))?;
    ctx.lambda().journal_remove(&key);
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

fn check_revision(f: &Function, input: &Map<String, Value>) -> Result<(), LambdaError> {
    match string(input, "RevisionId")? {
        Some(wanted) if wanted != f.revision_id => Err(LambdaError::precondition(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

/// After a change the old worker must not serve again: a fresh slot, the old one dies when idle.
fn changed(f: &mut Function) {
    f.worker = Arc::default();
    f.revision_id = uuid::Uuid::new_v4().to_string();
    f.last_modified = now_text();
}

fn update_configuration(ctx: &Ctx<'_>, function: &str, input: &Map<String, Value>) -> Result<Answer, LambdaError> {
    let runtime = string(input, "Runtime")?.map(|r| check_runtime(r).map(|k| (r.to_owned(), k))).transpose()?;
    let role = string(input, "Role")?;
    if let Some(role) = role {
        check_role(role)?;
    }
    let timeout = number(input, "Timeout", 1..=900)?;
    let memory = number(input, "MemorySize", 128..=10240)?;
    let env = environment(input)?;
    ctx.write(function, |f| {
        check_revision(f, input)?;
        if let Some((runtime, kind)) = runtime {
            f.runtime = runtime;
            f.kind = kind;
        }
        if let Some(handler) = string(input, "Handler")? {
            f.handler = handler.to_owned();
        }
        if let Some(role) = role {
            f.role = role.to_owned();
        }
        if let Some(description) = string(input, "Description")? {
            f.description = description.to_owned();
        }
        if let Some(timeout) = timeout {
            f.timeout_secs = timeout;
        }
        if let Some(memory) = memory {
            f.memory_mb = memory;
        }
        if let Some(env) = env {
            f.environment = env;
        }
        changed(f);
        Ok(Answer::json(StatusCode::OK, &configuration(f)))
    })
}

fn update_code(ctx: &Ctx<'_>, function: &str, input: &Map<String, Value>) -> Result<Answer, LambdaError> {
    let name = ctx.read(function, |f| {
        check_revision(f, input)?;
        Ok(f.name.clone())
    })?;
    let code = Arc::new(code_of(ctx.lambda(), &name, input)?);
    ctx.write(function, |f| {
        f.code = code;
        changed(f);
        Ok(Answer::json(StatusCode::OK, &configuration(f)))
    })
}

async fn invoke(ctx: &Ctx<'_>, function: &str, parts: &Parts, body: &[u8]) -> Result<Answer, LambdaError> {
    let (account, region, name) = ctx.key(function)?;
    ctx.read(function, |_| Ok(()))?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let event: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| {
            LambdaError::invalid("Could not parse request body into json: the payload is not valid JSON")
        })?
    };
    let invocation_type = header("x-amz-invocation-type");
    match invocation_type.as_str() {
        "" | "RequestResponse" => {}
        "Event" => {
            let app = ctx.app.clone();
            tokio::spawn(async move {
                if let Ok(run) = super::invoke(&app, &account, &region, &name, event).await
                    && run.function_error.is_some()
                {
                    tracing::warn!(function = %name, "an asynchronous invocation failed");
                }
            });
            return Ok(Answer { status: StatusCode::ACCEPTED, body: None, headers: Vec::new() });
        }
        "DryRun" => return Ok(Answer::empty(StatusCode::NO_CONTENT)),
        other => {
            return Err(LambdaError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )));
        }
    }
    let run = super::invoke(ctx.app, &account, &region, &name, event).await?;
    let mut headers = vec![("x-amz-executed-version", "$LATEST".to_owned())];
    if let Some(error) = run.function_error {
        headers.push(("x-amz-function-error", error.to_owned()));
    }
    if header("x-amz-log-type") == "Tail" {
        headers.push(("x-amz-log-result", run.log_tail()));
    }
    Ok(Answer { status: StatusCode::OK, body: Some(run.payload), headers })
}

pub(super) fn policy_document(f: &Function) -> Value {
    json!({ "Version": "2012-10-17", "Id": "default", "Statement": f.statements })
}

fn get_policy(f: &Function) -> Result<Answer, LambdaError> {
    if f.statements.is_empty() {
        return Err(LambdaError::not_found("The resource you requested does not exist."));
    }
    Ok(Answer::json(StatusCode::OK, &json!({ "Policy": policy_document(f).to_string(), "RevisionId": f.revision_id })))
}

fn add_permission(ctx: &Ctx<'_>, function: &str, input: &Map<String, Value>) -> Result<Answer, LambdaError> {
    let sid = required(input, "StatementId")?;
    let action = required(input, "Action")?;
    let principal = required(input, "Principal")?;
    if sid.is_empty() || sid.len() > 100 || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        )));
    }
    let principal_value = if principal == "*" {
        json!("*")
    } else if principal.ends_with(".amazonaws.com") {
        json!({ "Service": principal })
    } else if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
    } else {
        json!({ "AWS": principal })
    };
    let source_arn = string(input, "SourceArn")?.map(str::to_owned);
    let source_account = string(input, "SourceAccount")?.map(str::to_owned);
    ctx.write(function, |f| {
        check_revision(f, input)?;
        if f.statements.iter().any(|s| s.get("Sid").and_then(Value::as_str) == Some(sid)) {
            return Err(LambdaError::conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal_value,
            "Action": action,
            "Resource": f.arn,
        });
        let mut condition = Map::new();
        if let Some(arn) = source_arn {
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": arn }));
        }
        if let Some(account) = source_account {
            condition.insert("StringEquals".into(), json!({ "AWS:SourceAccount": account }));
        }
        if !condition.is_empty()
            && let Value::Object(map) = &mut statement
        {
            map.insert("Condition".into(), Value::Object(condition));
        }
        f.statements.push(statement.clone());
        f.revision_id = uuid::Uuid::new_v4().to_string();
        Ok(Answer::json(StatusCode::CREATED, &json!({ "Statement": statement.to_string() })))
    })
}

fn remove_permission(ctx: &Ctx<'_>, function: &str, sid: &str) -> Result<Answer, LambdaError> {
    ctx.write(function, |f| {
        let before = f.statements.len();
        f.statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
        if f.statements.len() == before {
            return Err(LambdaError::not_found(format!("Statement {sid} is not found in resource policy.")));
        }
        f.revision_id = uuid::Uuid::new_v4().to_string();
        Ok(Answer::empty(StatusCode::NO_CONTENT))
    })
}

/// Whether one of `statements` allows `service` to call `lambda:InvokeFunction`.
#[must_use]
pub fn policy_allows_service(statements: &[Value], service: &str) -> bool {
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let principal = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(p) => p.get("Service").and_then(Value::as_str) == Some(service),
            None => false,
        };
        let action = s.get("Action").and_then(Value::as_str).is_some_and(|a| {
            a == "*" || a.eq_ignore_ascii_case("lambda:InvokeFunction") || a.eq_ignore_ascii_case("lambda:*")
        });
        allow && principal && action
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_lambda_paths() {
        let f = |m: Method, p: &str| Route::of(&m, p);
        assert_eq!(f(Method::POST, "/2015-03-31/functions"), Some(Route::CreateFunction));
        assert_eq!(f(Method::GET, "/2015-03-31/functions/"), Some(Route::ListFunctions));
        assert_eq!(f(Method::GET, "/2015-03-31/functions/rotate"), Some(Route::GetFunction("rotate".into())));
        assert_eq!(
            f(
                Method::POST,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ar/invocations"
            ),
            Some(Route::Invoke("arn:aws:lambda:us-east-1:000000000000:function:r".into()))
        );
        assert_eq!(
            f(Method::DELETE, "/2015-03-31/functions/r/policy/s1"),
            Some(Route::RemovePermission("r".into(), "s1".into()))
        );
        assert_eq!(f(Method::PATCH, "/2015-03-31/functions/r"), None);
        assert_eq!(f(Method::GET, "/2015-03-31/functions/r/unknown"), None);
    }

    #[test]
    fn only_an_allow_for_the_service_and_invoke_lets_secrets_manager_in() {
        let sm = "secretsmanager.amazonaws.com";
        let statement = |principal: Value, action: &str, effect: &str| json!({ "Sid": "s", "Effect": effect, "Principal": principal, "Action": action });
        assert!(policy_allows_service(&[statement(json!({ "Service": sm }), "lambda:InvokeFunction", "Allow")], sm));
        assert!(policy_allows_service(&[statement(json!("*"), "lambda:*", "Allow")], sm));
        assert!(!policy_allows_service(
            &[statement(json!({ "Service": "s3.amazonaws.com" }), "lambda:InvokeFunction", "Allow")],
            sm
        ));
        assert!(!policy_allows_service(&[statement(json!({ "Service": sm }), "lambda:GetFunction", "Allow")], sm));
        assert!(!policy_allows_service(&[statement(json!({ "Service": sm }), "lambda:InvokeFunction", "Deny")], sm));
        assert!(!policy_allows_service(&[], sm));
    }
}
