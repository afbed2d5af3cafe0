//! Sockets, hyper, graceful shutdown, and the order of the request pipeline.

use crate::App;
use crate::control::{self, BodyLimit};
use crate::error::{ApiError, ErrorCode};
use crate::ops::{self, Ctx, Operation};
use crate::protocol;
use crate::sts;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;

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
                let timeout = app.config.client_timeout;
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, req).await) }
                });
                // hyper's header timeout also runs while a kept-alive connection waits for its next
                // request, so an idle client is let go after it too.
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout)
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

/// The pipeline: control paths, then STS, then method → body → target → caller → operation → answer.
async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if control::owns(parts.uri.path()) {
        return control_request(app, &parts, body).await;
    }
    let request_id = protocol::request_id();
    let body = match read_body(body, app.config.max_body_bytes, app.config.client_timeout).await {
        Ok(body) => body,
        Err(err) => return closing(protocol::error(&request_id, &err.api_error())),
    };
    if sts::is_sts_request(&parts.headers, &parts.uri, &body) {
        return sts_answer(app, &parts, &body);
    }
    let result = secrets_manager(app, &parts, &body).await;
    match result {
        Ok(body) => protocol::success(&request_id, body),
        Err(err) => protocol::error(&request_id, &err),
    }
}

/// A control request is routed before its body is read, so an unknown path or an oversized body
/// costs nothing.
async fn control_request(app: &Arc<App>, parts: &Parts, body: Incoming) -> Response<Full<Bytes>> {
    let (method, path) = (&parts.method, parts.uri.path());
    let Some(limit) = control::body_limit(method, path) else {
        let answer = control::not_found(method, path);
        return if body.is_end_stream() { answer } else { closing(answer) };
    };
    let cap = match limit {
        BodyLimit::Bytes(n) => n,
        BodyLimit::StateImport => app.config.max_import_bytes,
    };
    match read_body(body, cap, app.config.client_timeout).await {
        Ok(bytes) => control::handle(app, method, &parts.uri, &bytes).await,
        Err(err) => {
            let message = match err {
                BodyError::TooLarge(_) if limit == BodyLimit::StateImport => format!(
                    "the state import exceeds the limit of {cap} bytes; start smemu with a larger --max-import-bytes"
                ),
                BodyError::TooLarge(0) => format!("{method} {path} takes no request body"),
                _ => err.api_error().message.into_owned(),
            };
            closing(control::error_response(err.status(), &message))
        }
    }
}

/// An answer sent before the request's body was read to its end closes the connection: the rest
/// of the body cannot be told apart from a next request.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
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

/// Why a request body was not read.
#[derive(Clone, Copy, Debug)]
enum BodyError {
    /// Declared or found to be over this many bytes.
    TooLarge(usize),
    /// Not complete within this long.
    Timeout(Duration),
    /// Broken framing, or the client went away.
    Unreadable,
}

impl BodyError {
    fn api_error(self) -> ApiError {
        match self {
            Self::TooLarge(limit) => ApiError::new(
                ErrorCode::RequestEntityTooLargeException,
                format!("Request body exceeds the limit of {limit} bytes."),
            ),
            Self::Timeout(timeout) => ApiError::new(
                ErrorCode::RequestTimeoutException,
                format!("The request body did not arrive within {timeout:?}."),
            ),
            Self::Unreadable => ApiError::new(ErrorCode::SerializationException, "The request body could not be read."),
        }
    }

    fn status(self) -> StatusCode {
        StatusCode::from_u16(self.api_error().code.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

/// Reads a body of at most `limit` bytes that arrives within `timeout`.
async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    // A declared Content-Length over the limit is refused before a byte of the body is read;
    // a chunked body is counted as it arrives.
    if body.size_hint().lower() > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
    // A small body usually arrives with its headers and is complete at the first poll; only a
    // body still on its way costs a timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
    let collected = match first {
        Poll::Ready(collected) => collected,
        Poll::Pending => tokio::time::timeout(timeout, collect).await.map_err(|_| BodyError::Timeout(timeout))?,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(_) => Err(BodyError::Unreadable),
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
