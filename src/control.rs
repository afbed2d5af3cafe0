//! The control API under `/_smemu/`: what real AWS cannot give a test suite.
//!
//! Plain JSON, not SigV4-signed. Also answers the health and reset paths that existing setups
//! call on other emulators (`/_localstack/health`, `/moto-api/reset`).

use crate::App;
use crate::auth::sigv4::parse_query_pairs;
use crate::clock::{self, Timestamp};
use crate::config::Config;
use crate::rotation::HookSpec;
use crate::scheduler;
use crate::state::StateDump;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Whether `path` belongs to the control API rather than to the AWS protocol.
#[must_use]
pub fn owns(path: &str) -> bool {
    path.starts_with("/_smemu/") || path.starts_with("/_localstack/") || path.starts_with("/moto-api/")
}

/// How the control API is protected, in the words of the startup banner.
///
/// Every endpoint is open to whoever reaches the port: smemu has no control token yet.
#[must_use]
pub fn protection(_config: &Config, _listen: SocketAddr) -> String {
    "open (no token needed)".to_owned()
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
/// the request line alone, so the server refuses before it reads a byte of the body; it must list
/// exactly the endpoints [`route`] serves.
#[must_use]
pub fn body_limit(method: &Method, path: &str) -> Option<BodyLimit> {
    let small = Some(BodyLimit::Bytes(SMALL_BODY_BYTES));
    let none = Some(BodyLimit::Bytes(0));
    match (method, path.trim_end_matches('/')) {
        (
            &Method::GET,
            "/_smemu/hooks" | "/_smemu/rotations" | "/_smemu/health" | "/_smemu/clock" | "/_smemu/state",
        )
        | (&Method::DELETE, "/_smemu/hooks")
        | (&Method::GET | &Method::HEAD, "/_localstack/health") => none,
        (&Method::POST, "/_smemu/hooks" | "/_smemu/reset" | "/_smemu/clock" | "/moto-api/reset") => small,
        (&Method::POST, "/_smemu/state") => Some(BodyLimit::StateImport),
        _ => None,
    }
}

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

pub async fn handle(app: &Arc<App>, method: &Method, uri: &Uri, body: &[u8]) -> Response<Full<Bytes>> {
    let mut result = route(app, method, uri.path().trim_end_matches('/'), uri.query().unwrap_or(""), body).await;
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
        (&Method::GET, "/_smemu/hooks") => Ok(Value::Array(app.hooks.list().iter().map(|h| h.to_value()).collect())),
        (&Method::POST, "/_smemu/hooks") => {
            let spec = HookSpec::from_json(body).map_err(|e| bad(e.to_string()))?;
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
        (&Method::GET, "/_smemu/health") => health(app),
        (&Method::POST, "/_smemu/reset") => reset(app, body),
        (&Method::GET, "/_smemu/clock") => Ok(clock_view(app)),
        (&Method::POST, "/_smemu/clock") => move_clock(app, body).await,
        (&Method::GET, "/_smemu/state") => serde_json::to_value(app.engine.export()).map_err(|e| bad(e.to_string())),
        (&Method::POST, "/_smemu/state") => import(app, body),
        (&Method::GET | &Method::HEAD, "/_localstack/health") => Ok(json!({
            "services": { "secretsmanager": if app.is_ready() { "available" } else { "initializing" } },
            "edition": "community",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        (&Method::POST, "/moto-api/reset") => {
            app.engine.reset(None, None);
            Ok(json!({ "status": "ok" }))
        }
        _ => Err(no_endpoint(method, path)),
    }
}

fn health(app: &App) -> Answer {
    let ready = app.is_ready();
    let body = json!({
        "status": if ready { "ready" } else { "starting" },
        "version": env!("CARGO_PKG_VERSION"),
        "secrets": app.engine.secret_count(),
        "now": app.engine.now().to_iso8601(),
    });
    if ready { Ok(body) } else { Err((StatusCode::SERVICE_UNAVAILABLE, "starting: the seed is still loading".into())) }
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
    if req.region.is_some() && req.account.is_none() {
        return Err(bad("a region can only be reset together with its account"));
    }
    app.engine.reset(req.account.as_deref(), req.region.as_deref());
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
            let ms = clock::parse_duration(&text).ok_or_else(|| {
                bad(format!("cannot read the duration {text:?}; use forms like 7d, 36h, 90m, 30s, 1d12h"))
            })?;
            now.plus_millis(ms)
        }
        (None, Some(value)) => {
            let text = match &value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("\"set\" takes an ISO-8601 instant or epoch seconds")),
            };
            let target = Timestamp::parse(&text).ok_or_else(|| bad(format!("cannot read the instant {text:?}")))?;
            if target < now {
                return Err(bad(format!(
                    "smemu's clock never runs backwards: it is {} and {} is earlier",
                    now.to_iso8601(),
                    target.to_iso8601()
                )));
            }
            target
        }
        _ => return Err(bad("give exactly one of \"advance\" and \"set\"")),
    };
    scheduler::advance_to(app, target).await;
    Ok(clock_view(app))
}

fn import(app: &App, body: &[u8]) -> Answer {
    let state: StateDump = serde_json::from_slice(body).map_err(|e| bad(format!("not a smemu state export: {e}")))?;
    let secrets: usize = state.stores.iter().map(|s| s.secrets.len()).sum();
    app.engine.import(state);
    Ok(json!({ "imported": secrets }))
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
            "/_smemu/hooks",
            "/_smemu/rotations",
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
        assert_eq!(body_limit(&Method::POST, "/_smemu/state"), Some(BodyLimit::StateImport));
        assert_eq!(body_limit(&Method::GET, "/_smemu/state"), Some(BodyLimit::Bytes(0)));
    }
}
