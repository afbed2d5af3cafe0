//! The control API under `/_smemu/`: what real AWS cannot give a test suite.
//!
//! Plain JSON, not SigV4-signed. Also answers the health and reset paths that existing setups
//! call on other emulators (`/_localstack/health`, `/moto-api/reset`). Who may call it is
//! [`crate::guard`]'s decision, taken by [`admit`] before the body is read.

use crate::App;
use crate::auth::sigv4::parse_query_pairs;
use crate::clock::{self, Timestamp};
use crate::config::Config;
use crate::guard::Admission;
use crate::rotation::{HookKind, HookSpec};
use crate::scheduler;
use crate::services::secretsmanager::state::{self, StateDump};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

pub mod endpoints;
pub mod explain;

/// Whether `path` belongs to the control API rather than to the AWS protocol.
#[must_use]
pub fn owns(path: &str) -> bool {
    path == "/_smemu"
        || path.starts_with("/_smemu/")
        || path.starts_with("/_localstack/")
        || path.starts_with("/moto-api/")
}

/// How the control API is protected, in the words of the startup banner.
///
/// The guard decides it (see [`crate::guard`]); this only words it.
#[must_use]
pub fn protection(config: &Config, listen: SocketAddr) -> String {
    crate::guard::Guard::new(config, Some(listen.ip())).describe()
}

/// How much body a control endpoint takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLimit {
    /// At most this many bytes (0: the endpoint takes no body).
    Bytes(usize),
    /// A state import: capped by `Config::max_import_bytes`.
    StateImport,
}

/// Enough for any hook registration, reset or clock request.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// The body cap of the endpoint at `method path`, or `None` when no endpoint serves it. Known from
/// the request line alone, so the server refuses before it reads a byte of the body; it comes
/// from [`endpoints::ENDPOINTS`], which lists exactly the endpoints `route` serves.
#[must_use]
pub fn body_limit(method: &Method, path: &str) -> Option<BodyLimit> {
    endpoints::find(method, path).map(|e| e.body)
}

/// The answer while smemu loads its state, for an endpoint that does not serve then (`None`:
/// it does). The health endpoint says `loading`; the others are refused with 503.
#[must_use]
pub fn while_loading(method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    let endpoint = endpoints::find(method, path)?;
    if endpoint.path == "/_smemu/health" {
        return Some(loading_health());
    }
    (!endpoint.while_loading).then(|| error_response(StatusCode::SERVICE_UNAVAILABLE, LOADING))
}

const LOADING: &str = "smemu is still loading its state (--data-dir, --seed); retry once /_smemu/health says ready";

/// The answer for a path no control endpoint serves.
#[must_use]
pub fn not_found(method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, message) = no_endpoint(method, path.trim_end_matches('/'));
    error_response(status, &message)
}

fn no_endpoint(method: &Method, path: &str) -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, format!("no control endpoint {method} {path}"))
}

/// An error in the control API's shape: `{"error": message}`.
#[must_use]
pub fn error_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(status, &json!({ "error": message }))
}

fn respond(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(value).unwrap_or_default())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The endpoints anyone may call, which show only status and version without full access.
fn is_health(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        && matches!(path.trim_end_matches('/'), "/_smemu/health" | "/_localstack/health")
}

/// Screens a control request before its body is read.
///
/// # Errors
/// The refusal to send instead: the control token is missing or wrong, or the request looks like
/// it comes from a web page (a foreign `Origin` or `Host`, a body that is not JSON).
pub fn admit(app: &App, parts: &Parts) -> Result<Admission, Box<Response<Full<Bytes>>>> {
    app.guard()
        .admit_control(is_health(&parts.method, parts.uri.path()), &parts.headers)
        .map_err(|refusal| Box::new(error_response(refusal.status, &refusal.message)))
}

pub async fn handle(
    app: &Arc<App>,
    method: &Method,
    uri: &Uri,
    admission: Admission,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let path = uri.path().trim_end_matches('/');
    let mut result = match admission {
        Admission::Full => route(app, method, path, uri.query().unwrap_or(""), body).await,
        Admission::HealthOnly => health_only(app, path),
    };
    if result.is_ok()
        && method != Method::GET
        && let Err(e) = app.durable().await
    {
        result = Err((StatusCode::INTERNAL_SERVER_ERROR, e.message.into_owned()));
    }
    match result {
        Ok(value) => respond(StatusCode::OK, &value),
        Err((status, message)) => error_response(status, &message),
    }
}

type Answer = Result<Value, (StatusCode, String)>;

fn bad(message: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, message.into())
}

async fn route(app: &Arc<App>, method: &Method, path: &str, query: &str, body: &[u8]) -> Answer {
    match (method, path) {
        (&Method::GET, "/_smemu/hooks") => Ok(Value::Array(app.hooks.list().iter().map(|h| h.to_listing()).collect())),
        (&Method::POST, "/_smemu/hooks") => {
            let spec = HookSpec::from_json(body).map_err(|e| bad(e.to_string()))?;
            if matches!(spec.kind, HookKind::Command(_)) && !app.config.allow_command_hooks {
                return Err((
                    StatusCode::FORBIDDEN,
                    "command hooks run programs, so they come from the seed file; registering one over HTTP needs \
                     smemu started with --allow-command-hooks (or SMEMU_ALLOW_COMMAND_HOOKS=true)"
                        .into(),
                ));
            }
            let arn = spec.function_arn.clone();
            let replaced = app.hooks.register(spec).is_some();
            Ok(json!({ "functionArn": arn, "replaced": replaced }))
        }
        (&Method::DELETE, "/_smemu/hooks") => {
            let arn = query_param(query, "functionArn").ok_or_else(|| bad("give ?functionArn=<the function's ARN>"))?;
            match app.hooks.remove(&arn) {
                Some(_) => Ok(json!({ "removed": arn })),
                None => Err((StatusCode::NOT_FOUND, format!("no hook for {arn}"))),
            }
        }
        (&Method::GET, "/_smemu/rotations") => {
            let secret = query_param(query, "secretId");
            serde_json::to_value(app.rotation_log.entries(secret.as_deref())).map_err(|e| bad(e.to_string()))
        }
        (&Method::GET, "/_smemu/audit") => Ok(audit_view(app, query)),
        (&Method::DELETE, "/_smemu/audit") => {
            let forgotten = app.audit.trail().len();
            app.audit.trail().clear();
            Ok(json!({ "forgotten": forgotten }))
        }
        (&Method::GET, "/_smemu/faults") => Ok(faults_view(app)),
        (&Method::POST, "/_smemu/faults") => inject_fault(app, body).await,
        (&Method::DELETE, "/_smemu/faults") => clear_faults(app, query).await,
        (&Method::GET, "/_smemu") => Ok(listing()),
        (&Method::GET | &Method::HEAD, "/_smemu/health") => health(app, true),
        (&Method::POST, "/_smemu/reset") => reset(app, body),
        (&Method::POST, "/_smemu/authorize") => explain::answer(app, body).map_err(bad),
        (&Method::GET, "/_smemu/clock") => Ok(clock_view(app)),
        (&Method::POST, "/_smemu/clock") => move_clock(app, body).await,
        (&Method::GET, "/_smemu/state") => Ok(crate::services::secretsmanager::encryption::export_plain(app)),
        (&Method::POST, "/_smemu/state") => import(app, body),
        (&Method::GET | &Method::HEAD, "/_localstack/health") => Ok(localstack_health(app)),
        (&Method::GET, "/_localstack/init") => Ok(app.init.report(app.is_ready())),
        (&Method::GET, _) if path.starts_with("/_localstack/init/") => {
            let stage = &path["/_localstack/init/".len()..];
            app.init
                .stage(stage, app.is_ready())
                .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no init stage {stage:?}")))
        }
        (&Method::POST, "/moto-api/reset") => {
            crate::reset::reset(app, crate::reset::Worlds::all());
            Ok(json!({ "status": "ok" }))
        }
        _ => Err(no_endpoint(method, path)),
    }
}

/// Health for a caller without full access: whether smemu is up, and nothing about its state.
fn health_only(app: &App, path: &str) -> Answer {
    if path == "/_localstack/health" { Ok(localstack_health(app)) } else { health(app, false) }
}

fn localstack_health(app: &App) -> Value {
    json!({
        "services": { "secretsmanager": if app.is_ready() { "available" } else { "initializing" } },
        "edition": "community",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// `/_smemu/health`; the secret count and smemu's time only for callers with full access.
fn health(app: &App, full: bool) -> Answer {
    let ready = app.is_ready();
    let status = if !ready {
        "loading"
    } else if app.is_degraded() {
        "degraded"
    } else {
        "ready"
    };
    let mut body = json!({ "status": status, "version": env!("CARGO_PKG_VERSION") });
    if full {
        body["authorize"] = json!(app.config.authorize.as_str());
        body["secrets"] = json!(app.engine.secret_count());
        body["now"] = json!(app.engine.now().to_iso8601());
    }
    if ready { Ok(body) } else { Err((StatusCode::SERVICE_UNAVAILABLE, LOADING.into())) }
}

/// `/_smemu/health` while state loads: 503, and only what is known before it has loaded.
fn loading_health() -> Response<Full<Bytes>> {
    respond(StatusCode::SERVICE_UNAVAILABLE, &json!({ "status": "loading", "version": env!("CARGO_PKG_VERSION") }))
}

fn listing() -> Value {
    let endpoints: Vec<Value> = endpoints::ENDPOINTS
        .iter()
        .map(|e| json!({ "method": e.method, "path": e.path, "description": e.description }))
        .collect();
    json!({ "version": env!("CARGO_PKG_VERSION"), "console": crate::console::PATH, "endpoints": endpoints })
}

fn parse<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<T, (StatusCode, String)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    account: Option<String>,
    region: Option<String>,
}

fn reset(app: &App, body: &[u8]) -> Answer {
    let req: ResetRequest = parse(body)?;
    let worlds = crate::reset::Worlds::named(req.account.as_deref(), req.region.as_deref()).map_err(bad)?;
    crate::reset::reset(app, worlds);
    Ok(json!({ "reset": { "account": req.account, "region": req.region } }))
}

fn clock_view(app: &App) -> Value {
    let now = app.engine.now();
    json!({
        "now": now.to_iso8601(),
        "epochSeconds": now.epoch_seconds(),
        "manual": app.engine.clock().is_manual(),
        "nextDue": app.engine.next_due().map(Timestamp::to_iso8601),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance: Option<String>,
    set: Option<Value>,
}

async fn move_clock(app: &App, body: &[u8]) -> Answer {
    let req: ClockRequest = parse(body)?;
    let now = app.engine.now();
    let target = match (req.advance, req.set) {
        (Some(text), None) => {
            // parse_duration is None both for junk and for durations past i64 milliseconds.
            let ms = clock::parse_duration(&text).ok_or_else(|| {
                bad(format!(
                    "cannot read the duration {text:?}; use forms like 7d, 36h, 90m, 30s, 1d12h (at most 36525d)"
                ))
            })?;
            clock::advance_target(now, ms).map_err(|e| bad(e.to_string()))?
        }
        (None, Some(value)) => {
            let text = match &value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("\"set\" takes an ISO-8601 instant or epoch seconds")),
            };
            let target = Timestamp::parse(&text).ok_or_else(|| match &value {
                // A number always reads; one that parses to nothing is past what the clock can hold.
                Value::Number(_) => bad(clock::MoveError::TooFar.to_string()),
                _ => bad(format!("cannot read the instant {text:?}: use an ISO-8601 instant or epoch seconds")),
            })?;
            clock::set_target(now, target).map_err(|e| bad(e.to_string()))?
        }
        _ => return Err(bad("give exactly one of \"advance\" and \"set\"")),
    };
    scheduler::advance_to(app, target).await;
    Ok(clock_view(app))
}

fn faults_view(app: &App) -> Value {
    json!({ "faults": app.engine.faults() })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    region: Option<String>,
    account: Option<String>,
    /// `true`, or the status message the failed replicas show.
    fail: Option<Value>,
    lag: Option<String>,
}

/// `POST /_smemu/faults`: replication into a Region fails, or lags by a duration on smemu's
/// clock. Replicas already in a failing Region read `Failed` when it returns.
async fn inject_fault(app: &App, body: &[u8]) -> Answer {
    let req: FaultRequest = parse(body)?;
    let region = req.region.ok_or_else(|| bad("give the \"region\" whose replication fails or lags"))?;
    if !is_region(&region) {
        return Err(bad(format!("{region:?} is not a Region code such as eu-west-1")));
    }
    let fail = match req.fail {
        None | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(state::replication::FAULT_MESSAGE.to_owned()),
        Some(Value::String(message)) if !message.is_empty() && message.len() <= 4096 => Some(message),
        Some(_) => return Err(bad("\"fail\" takes true or a status message of 1 to 4096 characters")),
    };
    let lag_ms = match req.lag {
        None => 0,
        Some(text) => clock::parse_duration(&text)
            .filter(|&ms| ms > 0)
            .ok_or_else(|| bad(format!("cannot read the lag {text:?}; use forms like 30s, 10m, 1h")))?,
    };
    if fail.is_some() == (lag_ms > 0) {
        return Err(bad("give exactly one of \"fail\" and \"lag\""));
    }
    let again = app.engine.set_fault(state::replication::Fault { account: req.account, region, fail, lag_ms });
    catch_up(app, again).await;
    Ok(faults_view(app))
}

/// `DELETE /_smemu/faults[?region=]`: the Region's replicas catch up at once.
async fn clear_faults(app: &App, query: &str) -> Answer {
    let region = query_param(query, "region");
    let again = app.engine.clear_faults(region.as_deref());
    catch_up(app, again).await;
    Ok(faults_view(app))
}

/// Copies the primaries again through the scheduler's queue, due now.
async fn catch_up(app: &App, due: Vec<state::Due>) {
    if due.is_empty() {
        return;
    }
    app.engine.catch_up(due);
    scheduler::run_due(app).await;
}

/// The model's pattern for a Region code: `^([a-z]+-)+\d+$`.
fn is_region(text: &str) -> bool {
    let Some((head, digits)) = text.rsplit_once('-') else { return false };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && head.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && text.len() <= 128
}

fn import(app: &App, body: &[u8]) -> Answer {
    let mut json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a smemu state export: {e}")))?;
    let iam: Vec<crate::services::iam::AccountImage> = match json.as_object_mut().and_then(|o| o.remove("iam")) {
        Some(iam) if !iam.is_null() => {
            serde_json::from_value(iam).map_err(|e| bad(format!("not a smemu state export: {e}")))?
        }
        _ => Vec::new(),
    };
    crate::services::iam::Iam::check(&iam).map_err(|e| bad(format!("not a smemu state export: {e}")))?;
    let state: StateDump = crate::services::secretsmanager::encryption::import_plain(app, json).map_err(bad)?;
    let secrets: usize = state.stores.iter().map(|s| s.secrets.len()).sum();
    app.engine.import(state);
    app.iam.import(app, iam).map_err(bad)?;
    Ok(json!({ "imported": secrets }))
}

/// `GET /_smemu/audit`: the records kept, oldest first, that every filter given matches.
fn audit_view(app: &App, query: &str) -> Value {
    let want = |name: &str| query_param(query, name);
    let (name, source, code, user, resource, account, region) = (
        want("eventName"),
        want("eventSource"),
        want("errorCode"),
        want("username"),
        want("resource"),
        want("account"),
        want("region"),
    );
    let is = |wanted: &Option<String>, actual: Option<&str>| wanted.as_deref().is_none_or(|w| Some(w) == actual);
    let events: Vec<Value> = app
        .audit
        .trail()
        .events()
        .iter()
        .filter(|e| {
            is(&name, Some(&e.name))
                && is(&source, Some(e.source.event_source()))
                && is(&code, e.error_code())
                && is(&user, e.username())
                && is(&account, Some(e.account()))
                && is(&region, Some(e.region()))
                && resource.as_deref().is_none_or(|r| e.resources().any(|x| x == r))
        })
        .filter_map(|e| serde_json::from_str(&e.record()).ok())
        .collect();
    json!({ "enabled": app.audit.is_enabled(), "events": events })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    parse_query_pairs(query, true).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;

    #[tokio::test]
    async fn body_limit_knows_exactly_the_endpoints_route_serves() {
        let app = Arc::new(App::new(Config::default(), Arc::new(Clock::manual(Timestamp::from_secs(0)))));
        let paths = [
            "/_smemu",
            "/_localstack/init",
            "/_localstack/init/ready",
            "/_localstack/init/nope",
            "/_smemu/hooks",
            "/_smemu/rotations",
            "/_smemu/audit",
            "/_smemu/health",
            "/_smemu/reset",
            "/_smemu/clock",
            "/_smemu/state",
            "/_localstack/health",
            "/moto-api/reset",
            "/_smemu/nothing",
            "/_localstack/nothing",
            "/moto-api/nothing",
        ];
        let methods = [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];
        for method in &methods {
            for path in paths {
                let routed = route(&app, method, path, "", b"").await;
                let served =
                    !matches!(&routed, Err((StatusCode::NOT_FOUND, m)) if m.starts_with("no control endpoint"));
                assert_eq!(body_limit(method, path).is_some(), served, "{method} {path}");
                assert_eq!(body_limit(method, &format!("{path}/")), body_limit(method, path), "{method} {path}/");
            }
        }
        for endpoint in endpoints::ENDPOINTS {
            let method = Method::from_bytes(endpoint.method.as_bytes()).unwrap();
            let path = endpoint.path.replace("{stage}", "ready");
            let routed = route(&app, &method, &path, "", b"").await;
            assert!(
                !matches!(&routed, Err((StatusCode::NOT_FOUND, m)) if m.starts_with("no control endpoint")),
                "{method} {path} is listed but not routed"
            );
        }
        assert_eq!(body_limit(&Method::POST, "/_smemu/state"), Some(BodyLimit::StateImport));
        assert_eq!(body_limit(&Method::GET, "/_smemu/state"), Some(BodyLimit::Bytes(0)));
    }
}
