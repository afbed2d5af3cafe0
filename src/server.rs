//! Sockets, hyper, graceful shutdown, and the order of the request pipeline.

use crate::App;
use crate::error::{ApiError, ErrorCode};
use crate::ops::{self, Ctx, Operation};
use crate::protocol;
use crate::services::kms;
use crate::sts;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;

/// State imports through the control API can be far larger than any AWS request.
const CONTROL_MAX_BODY_BYTES: usize = 1 << 30;

/// A client that trickles its headers in is cut off after this long.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long in-flight requests get to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish in time");
    }
}

/// The pipeline: control paths, then STS, then KMS or Secrets Manager by their target prefix, each
/// method → body → target → caller → operation → answer.
async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = protocol::request_id();
    let (parts, body) = req.into_parts();
    if crate::control::owns(parts.uri.path()) {
        return match read_body(body, CONTROL_MAX_BODY_BYTES).await {
            Ok(bytes) => crate::control::handle(app, &parts.method, &parts.uri, &bytes).await,
            Err(err) => protocol::error(&request_id, &err),
        };
    }
    let body = match read_body(body, app.config.max_body_bytes).await {
        Ok(body) => body,
        Err(err) => return protocol::error(&request_id, &err),
    };
    if sts::is_sts_request(&parts.headers, &parts.uri, &body) {
        return sts_answer(app, &parts, &body);
    }
    if protocol::targets(&parts.headers, kms::TARGET_PREFIX) {
        return match key_management(app, &parts, &body).await {
            Ok(body) => protocol::success(&request_id, body),
            Err(err) => protocol::error_in(protocol::Dialect::Kms, &request_id, &err),
        };
    }
    let result = secrets_manager(app, &parts, &body).await;
    match result {
        Ok(body) => protocol::success(&request_id, body),
        Err(err) => protocol::error(&request_id, &err),
    }
}

async fn secrets_manager(app: &Arc<App>, parts: &Parts, body: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
    if parts.method != Method::POST {
        return Err(ApiError::unknown_operation());
    }
    let json = protocol::decode_body(body)?;
    let name = protocol::target(&parts.headers)?;
    let op = Operation::from_name(name).ok_or_else(ApiError::unknown_operation)?;
    let caller = app
        .auth
        .authenticate(&parts.method, &parts.uri, &parts.headers, body, SystemTime::now())
        .map_err(|e| ApiError::new(auth_code(e.code), e.message))?;
    let ctx = Ctx { app, account: &caller.account_id, region: &caller.region, principal: &caller.principal_arn };
    let outcome = ops::dispatch(&ctx, op, json).await;
    tracing::debug!(op = op.name(), ok = outcome.is_ok(), "request");
    let body = outcome?;
    if op.is_mutating() {
        app.durable().await?;
    }
    Ok(body)
}

async fn key_management(app: &Arc<App>, parts: &Parts, body: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
    if parts.method != Method::POST {
        return Err(ApiError::unknown_operation());
    }
    let json = protocol::decode_body(body)?;
    let name = protocol::target_of(&parts.headers, kms::TARGET_PREFIX)?;
    let op = kms::Operation::from_name(name).ok_or_else(ApiError::unknown_operation)?;
    // The credential scope must name kms::SIGNING_NAME: pass it here once `authenticate` takes the
    // routed service (until then strict mode accepts any service smemu answers).
    let caller = app
        .auth
        .authenticate(&parts.method, &parts.uri, &parts.headers, body, SystemTime::now())
        .map_err(|e| ApiError::new(auth_code(e.code), e.message))?;
    let ctx = Ctx { app, account: &caller.account_id, region: &caller.region, principal: &caller.principal_arn };
    let outcome = kms::dispatch(&ctx, op, json);
    tracing::debug!(op = op.name(), ok = outcome.is_ok(), "kms request");
    let body = outcome?;
    if op.is_mutating() {
        app.durable().await.map_err(|e| kms::internal_error(&e))?;
    }
    Ok(body)
}

fn sts_answer(app: &App, parts: &Parts, body: &[u8]) -> Response<Full<Bytes>> {
    let now = SystemTime::now();
    let answer = match app.auth.authenticate(&parts.method, &parts.uri, &parts.headers, body, now) {
        Ok(caller) => sts::handle(&app.auth, &caller, &parts.method, &parts.uri, body, now),
        Err(e) => sts::auth_error_response(&e),
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if let Ok(id) = HeaderValue::from_str(&answer.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            ErrorCode::RequestEntityTooLargeException,
            format!("Request body exceeds the limit of {limit} bytes."),
        )),
        Err(_) => Err(ApiError::new(ErrorCode::SerializationException, "The request body could not be read.")),
    }
}

fn auth_code(code: &str) -> ErrorCode {
    use crate::auth::{EXPIRED_TOKEN, INCOMPLETE_SIGNATURE, MISSING_AUTHENTICATION_TOKEN, UNRECOGNIZED_CLIENT};
    match code {
        MISSING_AUTHENTICATION_TOKEN => ErrorCode::MissingAuthenticationTokenException,
        INCOMPLETE_SIGNATURE => ErrorCode::IncompleteSignatureException,
        UNRECOGNIZED_CLIENT => ErrorCode::UnrecognizedClientException,
        EXPIRED_TOKEN => ErrorCode::ExpiredTokenException,
        _ => ErrorCode::InvalidSignatureException,
    }
}
