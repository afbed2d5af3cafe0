//! Sockets, hyper, graceful shutdown, and the order of the request pipeline.

use crate::App;
use crate::access_log::{Entry, Service, Subject};
use crate::audit::{Call, Source};
use crate::control::{self, BodyLimit};
use crate::error::{ApiError, ErrorCode};
use crate::protocol;
use crate::services::cloudtrail;
use crate::services::kms;
use crate::services::lambda;
use crate::services::secretsmanager::authorize;
use crate::services::secretsmanager::ops::{self, Ctx, Operation};
use crate::services::{iam, sts};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How long in-flight requests get to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections over the cap that are being answered 503 at once; beyond these, one is just closed.
const REFUSALS_AT_ONCE: usize = 64;

/// How long a refused connection is kept to read what its client sent: closing on unread bytes
/// resets the connection, and a reset can destroy the 503 before the client reads it.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The most a refused connection's client may send before it is closed regardless.
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

/// Serves `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let max_connections = app.config.max_connections.min(Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.succeeded();
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => serve_connection(&app, &graceful, stream, peer.ip(), slot),
                    Err(_) => refuse(stream, &refusals, max_connections),
                }
            }
            // The connection died in the backlog; the next one may be fine.
            Err(e) if accept_error_is_transient(&e) => {}
            // Out of file descriptors or memory: retrying at once would spin on the same error.
            Err(e) => {
                let pause = backoff.failed();
                if pause == AcceptBackoff::FIRST {
                    tracing::warn!(
                        error = %e,
                        "cannot accept connections; retrying with backoff (raise the open-file limit or lower --max-connections)"
                    );
                } else {
                    tracing::debug!(error = %e, ?pause, "accept failed again");
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish in time");
    }
}

/// Serves one connection in its own task, which holds `slot` until the connection ends.
fn serve_connection(
    app: &Arc<App>,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: std::net::IpAddr,
    slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let timeout = app.config.client_timeout;
    let app = app.clone();
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle(&app, peer, req).await) }
    });
    // hyper's header timeout also runs while a kept-alive connection waits for its next request,
    // so an idle client is let go after it too.
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(StallGuard::new(TokioIo::new(stream), timeout), service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _slot = slot;
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection closed with an error");
        }
    });
}

/// Answers a connection over the cap with a 503 and closes it, without reading its request.
fn refuse(stream: TcpStream, refusals: &Arc<Semaphore>, max_connections: usize) {
    // Under a flood, dropping (closing) the connection is all that stays cheap.
    let Ok(permit) = refusals.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let _permit = permit;
        let answer = refusal(max_connections).await;
        let _ = tokio::time::timeout(REFUSAL_LINGER, answer_and_close(stream, &answer)).await;
    });
}

async fn refusal(max_connections: usize) -> Vec<u8> {
    let err = ApiError::new(
        ErrorCode::ServiceUnavailable,
        format!("smemu is serving its limit of {max_connections} connections (--max-connections); retry shortly."),
    );
    let mut response = protocol::error(&protocol::request_id(), &err);
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let mut out = Vec::with_capacity(256 + body.len());
    let status = parts.status;
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or("")).as_bytes(),
    );
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    out
}

async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) -> io::Result<()> {
    stream.write_all(answer).await?;
    stream.shutdown().await?;
    // Read what the client sent, so that the close ends in FIN rather than a reset.
    let mut sink = [0u8; 4096];
    let mut left = REFUSAL_DRAIN_BYTES;
    while left > 0 {
        let n = stream.read(&mut sink).await?;
        if n == 0 {
            break;
        }
        left = left.saturating_sub(n);
    }
    Ok(())
}

/// `accept()` errors that concern only the connection being accepted.
fn accept_error_is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
}

/// The accept loop's pause after a failed `accept()`: doubling from [`Self::FIRST`] to
/// [`Self::MAX`], and none again once a connection is accepted.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn failed(&mut self) -> Duration {
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(16)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// A connection's socket that fails once a write has waited `timeout` on a client that does not
/// read its answer; hyper has no such timeout, and a stuck write would hold the slot forever.
struct StallGuard<T> {
    io: T,
    timeout: Duration,
    /// Allocated the first time a write waits, then reused; most connections never need it.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether the current wait is already timed (the deadline is not moved while it lasts).
    waiting: bool,
}

impl<T> StallGuard<T> {
    fn new(io: T, timeout: Duration) -> Self {
        Self { io, timeout, stall: None, waiting: false }
    }

    /// Called when a write must wait: starts the clock on a new wait, fails an expired one.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.waiting {
            let deadline = tokio::time::Instant::now() + self.timeout;
            match &mut self.stall {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.waiting = true;
        }
        let Some(sleep) = &mut self.stall else { return Ok(()) };
        if sleep.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading the answer"));
        }
        Ok(())
    }

    fn guard<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.waiting = false;
            return poll;
        }
        self.check_stall(cx)?;
        Poll::Pending
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for StallGuard<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }
}

/// One request, from its head to its answer, its line in the log and its audit record.
async fn handle(app: &Arc<App>, peer: std::net::IpAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let mut entry = Entry::default();
    let mut call = app.audit.begin(Some(peer), req.headers());
    let response = crate::iam::enforce::from_peer(peer, answer(app, req, &mut entry, &mut call)).await;
    app.audit.finish(call, response.headers().get("x-amzn-requestid").and_then(|v| v.to_str().ok()));
    entry.write(response.status(), started.elapsed());
    response
}

/// The pipeline: control paths, then STS, then method → body → target → caller → operation → answer.
///
/// Each service's future is boxed where it is awaited: an `async fn`'s whole state is copied
/// every time it is created and awaited inside another, and hyper moves the outermost one too,
/// so unboxed these copies were some 80 KB per request (BENCHMARKS.md, "Instructions per request").
async fn answer(app: &Arc<App>, req: Request<Incoming>, entry: &mut Entry, call: &mut Call) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if crate::console::owns(parts.uri.path()) {
        entry.control(&parts.method, parts.uri.path());
        return unread(body, crate::console::serve(app, &parts));
    }
    if control::owns(parts.uri.path()) {
        entry.control(&parts.method, parts.uri.path());
        return Box::pin(control_request(app, &parts, body)).await;
    }
    let request_id = protocol::request_id();
    if let Err(refused) = app.guard().check_origin(&parts.headers) {
        return crate::guard::refuse_aws_request(&request_id, &refused);
    }
    if !app.is_ready() {
        return unread(body, loading(&request_id));
    }
    if let Some(route) = lambda::owns(parts.uri.path()).then(|| lambda::api::Route::of(&parts.method, parts.uri.path()))
    {
        return Box::pin(lambda_request(app, &parts, body, route, entry, call)).await;
    }
    let response = match read_body(body, app.config.max_body_bytes, app.config.client_timeout).await {
        Err(err) => {
            let err = err.api_error();
            entry.error(err.code.as_str());
            closing(protocol::error(&request_id, &err))
        }
        Ok(body) if sts::is_sts_request(&parts.headers, &parts.uri, &body) => {
            return sts_answer(app, &parts, &body, entry, call);
        }
        Ok(body) if iam::is_iam_request(&parts.headers, &parts.uri) => {
            return Box::pin(iam_answer(app, &parts, &body, entry, call)).await;
        }
        Ok(body) if protocol::targets(&parts.headers, kms::TARGET_PREFIX) => {
            let outcome = Box::pin(key_management(app, &parts, &body, entry, call)).await;
            call.outcome(&outcome);
            match outcome {
                Ok(body) => protocol::success(&request_id, body),
                Err(err) => {
                    entry.error(err.code.as_str());
                    protocol::error_in(protocol::Dialect::Kms, &request_id, &err)
                }
            }
        }
        Ok(body) if cloudtrail::targets(&parts.headers) => {
            let outcome = trail_lookup(app, &parts, &body, entry, call);
            call.outcome(&outcome);
            match outcome {
                Ok(body) => protocol::success(&request_id, body),
                Err(err) => {
                    entry.error(err.code.as_str());
                    protocol::error(&request_id, &err)
                }
            }
        }
        Ok(body) => {
            let outcome = Box::pin(secrets_manager(app, &parts, &body, entry, call)).await;
            call.outcome(&outcome);
            match outcome {
                Ok(body) => protocol::success(&request_id, body),
                Err(err) => {
                    entry.error(err.code.as_str());
                    protocol::error(&request_id, &err)
                }
            }
        }
    };
    entry.request_id(request_id);
    response
}

/// A control request is routed before its body is read, so an unknown path or an oversized body
/// costs nothing.
async fn control_request(app: &Arc<App>, parts: &Parts, body: Incoming) -> Response<Full<Bytes>> {
    let admission = match control::admit(app, parts) {
        Ok(admission) => admission,
        Err(refused) => return if body.is_end_stream() { *refused } else { closing(*refused) },
    };
    let (method, path) = (&parts.method, parts.uri.path());
    let Some(limit) = control::body_limit(method, path) else {
        return unread(body, control::not_found(method, path));
    };
    if !app.is_ready()
        && let Some(answer) = control::while_loading(method, path)
    {
        return unread(body, answer);
    }
    let cap = match limit {
        BodyLimit::Bytes(n) => n,
        BodyLimit::StateImport => app.config.max_import_bytes,
    };
    match read_body(body, cap, app.config.client_timeout).await {
        Ok(bytes) => app.observing(control::handle(app, method, &parts.uri, admission, &bytes)).await,
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

/// An answer to a request whose body is left unread: it closes the connection when there is a
/// body, which could not be told apart from a next request.
fn unread(body: Incoming, answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    if body.is_end_stream() { answer } else { closing(answer) }
}

/// What the AWS APIs answer while smemu loads its state: clients retry a 503 on their own, and
/// none sees a half-loaded state.
fn loading(request_id: &str) -> Response<Full<Bytes>> {
    let err = ApiError::new(
        ErrorCode::ServiceUnavailable,
        "smemu is still loading its state (--data-dir, --seed); retry shortly.",
    );
    let mut response = protocol::error(request_id, &err);
    response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// An answer sent before the request's body was read to its end closes the connection: the rest
/// of the body cannot be told apart from a next request.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn secrets_manager(
    app: &Arc<App>,
    parts: &Parts,
    body: &[u8],
    entry: &mut Entry,
    call: &mut Call,
) -> Result<Option<Vec<u8>>, ApiError> {
    entry.route(Service::SecretsManager, None);
    if parts.method != Method::POST {
        return Err(ApiError::unknown_operation());
    }
    let json = protocol::decode_body(body)?;
    let name = protocol::target(&parts.headers)?;
    let op = Operation::from_name(name).ok_or_else(ApiError::unknown_operation)?;
    entry.route(Service::SecretsManager, Some(op.name()));
    entry.subject(op.subject(&json));
    call.route(Source::SecretsManager, op.name(), &json, &app.model, op.subject(&json));
    let caller = authenticated(app, crate::auth::SECRETS_MANAGER, parts, body, entry, call)?;
    call.caller(&caller);
    let access = op.access(&json);
    // A secret of another account named by ARN is served from that account's store.
    let account = authorize::serving_account(&caller, &access).to_owned();
    let ctx = Ctx::in_account(app, &account, &caller);
    let outcome = match authorize::authorize(&ctx, &caller, op, &access, &json) {
        Ok(()) => app.settled(op.is_mutating(), Box::pin(ops::dispatch(&ctx, op, json))).await,
        Err(refused) => Err(refused),
    };
    entry.caller(caller);
    outcome
}

/// The caller of a request to `service`; a refusal is noted in the request's log line.
fn authenticated(
    app: &App,
    service: &str,
    parts: &Parts,
    body: &[u8],
    entry: &mut Entry,
    call: &mut Call,
) -> Result<Arc<crate::auth::Caller>, ApiError> {
    // Shared, not copied, by the log line and the audit record.
    match app.auth.authenticate(service, &parts.method, &parts.uri, &parts.headers, body, SystemTime::now()) {
        Ok(caller) => Ok(Arc::new(caller)),
        Err(e) => {
            entry.refused(&parts.headers, &parts.uri);
            call.refused(&parts.headers, &parts.uri, app.auth.credentials());
            Err(ApiError::new(auth_code(e.code), e.message))
        }
    }
}

async fn key_management(
    app: &Arc<App>,
    parts: &Parts,
    body: &[u8],
    entry: &mut Entry,
    call: &mut Call,
) -> Result<Option<Vec<u8>>, ApiError> {
    entry.route(Service::Kms, None);
    if parts.method != Method::POST {
        return Err(ApiError::unknown_operation());
    }
    let json = protocol::decode_body(body)?;
    let name = protocol::target_of(&parts.headers, kms::TARGET_PREFIX)?;
    let op = kms::Operation::from_name(name).ok_or_else(ApiError::unknown_operation)?;
    entry.route(Service::Kms, Some(op.name()));
    entry.subject(kms_subject(&json));
    call.route(Source::Kms, op.name(), &json, &app.kms_model, kms_subject(&json));
    let caller = authenticated(app, crate::auth::KMS, parts, body, entry, call)?;
    call.caller(&caller);
    let ctx = Ctx::of(app, &caller);
    let access = kms::authorize::access(op, &caller, &json);
    let outcome =
        kms::authorize::authorize(&ctx, &caller, op, &access, &json).and_then(|()| kms::dispatch(&ctx, op, json));
    entry.caller(caller);
    let body = outcome?;
    if op.is_mutating() {
        app.durable().await.map_err(|e| kms::internal_error(&e))?;
    }
    Ok(body)
}

/// CloudTrail's LookupEvents over the audit trail.
fn trail_lookup(
    app: &Arc<App>,
    parts: &Parts,
    body: &[u8],
    entry: &mut Entry,
    call: &mut Call,
) -> Result<Option<Vec<u8>>, ApiError> {
    entry.route(Service::CloudTrail, None);
    if parts.method != Method::POST {
        return Err(ApiError::unknown_operation());
    }
    let json = protocol::decode_body(body)?;
    if cloudtrail::operation(&parts.headers)? != cloudtrail::LOOKUP_EVENTS {
        return Err(ApiError::unknown_operation());
    }
    entry.route(Service::CloudTrail, Some(cloudtrail::LOOKUP_EVENTS));
    call.route(Source::CloudTrail, cloudtrail::LOOKUP_EVENTS, &json, &app.cloudtrail_model, Subject::None);
    let caller = authenticated(app, crate::auth::CLOUDTRAIL, parts, body, entry, call)?;
    call.caller(&caller);
    let ctx = Ctx::of(app, &caller);
    let outcome = cloudtrail::dispatch(&ctx, cloudtrail::LOOKUP_EVENTS, &json);
    entry.caller(caller);
    outcome
}

/// A Lambda API request: routed by method and path before its body is read, under its own
/// body cap (a function's zip).
async fn lambda_request(
    app: &Arc<App>,
    parts: &Parts,
    body: Incoming,
    route: Option<lambda::api::Route>,
    entry: &mut Entry,
    call: &mut Call,
) -> Response<Full<Bytes>> {
    entry.route(Service::Lambda, route.as_ref().map(lambda::api::Route::name));
    let Some(route) = route else {
        entry.error("UnknownOperationException");
        return unread(body, lambda::error::LambdaError::unknown_operation().response(&protocol::request_id()));
    };
    entry.subject(route.subject().map_or(Subject::None, Subject::One));
    let body = match read_body(body, lambda::MAX_REQUEST_BYTES, app.config.client_timeout).await {
        Ok(body) => body,
        Err(err) => {
            let message = err.api_error().message.into_owned();
            let err = match err {
                BodyError::TooLarge(_) => lambda::error::LambdaError::too_large(message),
                _ => lambda::error::LambdaError::invalid(message),
            };
            entry.error(err.code);
            return closing(err.response(&protocol::request_id()));
        }
    };
    // An invocation's payload is never recorded.
    let input = (!matches!(route, lambda::api::Route::Invoke(_)))
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten();
    call.route_lambda(route.name(), route.subject(), input.as_ref());
    let caller = match authenticated(app, crate::auth::LAMBDA, parts, &body, entry, call) {
        Ok(caller) => caller,
        Err(err) => {
            call.query_outcome(Some(crate::audit::error_code(err.code)), Some(&err.message));
            return protocol::error(&protocol::request_id(), &err);
        }
    };
    call.caller(&caller);
    let response = lambda::api::handle(app, parts, &body, &caller, route).await;
    entry.caller(caller);
    if let Some(code) = lambda::api::error_code(&response) {
        entry.error(code);
        call.query_outcome(Some(code), lambda::api::error_message(&response));
    }
    response
}

fn sts_answer(app: &App, parts: &Parts, body: &[u8], entry: &mut Entry, call: &mut Call) -> Response<Full<Bytes>> {
    let now = SystemTime::now();
    let request = sts::StsRequest::parse(&parts.method, &parts.uri, body);
    entry.route(Service::Sts, request.operation());
    entry.subject(request.subject().map_or(Subject::None, Subject::One));
    if let Some(operation) = request.operation() {
        call.route_query(Source::Sts, operation, &request.audited_parameters());
    }
    let answer = match app.auth.authenticate(crate::auth::STS, &parts.method, &parts.uri, &parts.headers, body, now) {
        Ok(caller) => {
            let caller = Arc::new(caller);
            call.caller(&caller);
            let answer = sts::handle(&app.auth, &caller, &request, now);
            entry.caller(caller);
            answer
        }
        Err(e) => {
            entry.refused(&parts.headers, &parts.uri);
            call.refused(&parts.headers, &parts.uri, app.auth.credentials());
            sts::auth_error_response(&e)
        }
    };
    if let Some(code) = answer.code {
        entry.error(code);
        call.query_outcome(Some(code), sts::error_message(&answer.body));
    }
    let request_id = answer.request_id.clone();
    let response = answer.into_http();
    entry.request_id(request_id);
    response
}

async fn iam_answer(
    app: &Arc<App>,
    parts: &Parts,
    body: &[u8],
    entry: &mut Entry,
    call: &mut Call,
) -> Response<Full<Bytes>> {
    let request = iam::IamRequest::parse(&parts.method, &parts.uri, body);
    entry.route(Service::Iam, request.operation().map(iam::Operation::name));
    entry.subject(request.subject().map_or(Subject::None, Subject::One));
    if let Some(operation) = request.operation() {
        call.route_query(Source::Iam, operation.name(), &request.audited_parameters());
    }
    let now = SystemTime::now();
    let answer = match app.auth.authenticate(iam::SIGNING_NAME, &parts.method, &parts.uri, &parts.headers, body, now) {
        Ok(caller) => {
            let caller = Arc::new(caller);
            call.caller(&caller);
            let answer = iam::handle(app, &caller, &request).await;
            entry.caller(caller);
            answer
        }
        Err(e) => {
            entry.refused(&parts.headers, &parts.uri);
            call.refused(&parts.headers, &parts.uri, app.auth.credentials());
            iam::auth_error_response(&e)
        }
    };
    call.query_outcome(answer.code, answer.code.and(sts::error_message(&answer.body)));
    if let Some(code) = answer.code {
        entry.error(code);
    }
    entry.request_id(answer.request_id.clone());
    answer.into_http()
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

/// The key a KMS request names, as sent: never a plaintext, a ciphertext or a policy.
fn kms_subject(input: &serde_json::Value) -> Subject<'_> {
    ["KeyId", "AliasName", "DestinationKeyId"]
        .iter()
        .find_map(|member| input.get(member).and_then(serde_json::Value::as_str))
        .map_or(Subject::None, Subject::One)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_doubles_to_a_second_and_resets_on_success() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u128> = (0..12).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]);
        for _ in 0..1000 {
            assert_eq!(backoff.failed(), AcceptBackoff::MAX);
        }
        backoff.succeeded();
        assert_eq!(backoff.failed(), AcceptBackoff::FIRST);
    }

    #[test]
    fn only_per_connection_accept_errors_are_retried_at_once() {
        assert!(accept_error_is_transient(&io::Error::from(io::ErrorKind::ConnectionAborted)));
        assert!(accept_error_is_transient(&io::Error::from(io::ErrorKind::Interrupted)));
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: retried only after a pause.
        for errno in [24, 23, 105, 12] {
            assert!(!accept_error_is_transient(&io::Error::from_raw_os_error(errno)), "errno {errno}");
        }
    }
}
