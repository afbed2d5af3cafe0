//! Sockets, hyper, graceful shutdown, and the order of the request pipeline.

use crate::App;
use crate::error::{ApiError, ErrorCode};
use crate::ops::{self, Ctx, Operation};
use crate::protocol;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
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

/// The pipeline: method → body → target → caller → operation → answer.
async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    if crate::control::owns(parts.uri.path()) {
        return match read_body(body, CONTROL_MAX_BODY_BYTES).await {
            Ok(bytes) => crate::control::handle(app, &parts.method, parts.uri.path(), &bytes).await,
            Err(err) => protocol::error(&request_id, &err),
        };
    }
    let result = async {
        if parts.method != Method::POST {
            return Err(ApiError::new(
                ErrorCode::UnknownOperationException,
                "The requested operation is not recognized by the service.",
            ));
        }
        let body = read_body(body, app.config.max_body_bytes).await?;
        let json = protocol::decode_body(&body)?;
        let name = protocol::target(&parts.headers)?;
        let op = Operation::from_name(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownOperationException,
                "The requested operation is not recognized by the service.",
            )
        })?;
        let caller = app
            .auth
            .authenticate(&parts.method, &parts.uri, &parts.headers, &body, SystemTime::now())
            .map_err(|e| ApiError::new(auth_code(e.code), e.message))?;
        let ctx = Ctx { engine: &app.engine, account: &caller.account_id, region: &caller.region };
        let outcome = ops::dispatch(&ctx, &app.model, op, json);
        tracing::debug!(op = op.name(), ok = outcome.is_ok(), "request");
        outcome
    }
    .await;
    match result {
        Ok(body) => protocol::success(&request_id, body),
        Err(err) => protocol::error(&request_id, &err),
    }
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
    match code {
        "MissingAuthenticationTokenException" => ErrorCode::MissingAuthenticationTokenException,
        "IncompleteSignatureException" => ErrorCode::IncompleteSignatureException,
        "UnrecognizedClientException" => ErrorCode::UnrecognizedClientException,
        "ExpiredTokenException" => ErrorCode::ExpiredTokenException,
        _ => ErrorCode::InvalidSignatureException,
    }
}
