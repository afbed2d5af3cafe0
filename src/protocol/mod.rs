//! The awsJson1_1 wire: routing on `X-Amz-Target`, decoding bodies, and encoding every answer;
//! the awsQuery wire of STS and IAM is in [`query`].
//!
//! This is the only module that writes JSON response bytes; it decides nothing about state. The
//! JSON services differ in one thing only, how an error body names its message: [`Dialect`].

pub mod json;
pub mod query;
pub mod validate;

use crate::error::{ApiError, ErrorCode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};

pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
pub const TARGET_PREFIX: &str = "secretsmanager.";

/// A fresh `x-amzn-RequestId`: a v4-shaped UUID, unique within the process.
///
/// A random 128-bit base drawn once, plus a counter, costs no system call per request (a fresh
/// random UUID would) and still looks like the ids AWS sends.
#[must_use]
pub fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // An odd multiplier permutes the low 62 bits, so ids stay distinct; the version (4) and
    // variant (10xx) bits are set outside them.
    let raw = base ^ u128::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1 << 62) - 1));
    let raw = (raw & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    uuid::Uuid::from_u128(raw).to_string()
}

/// The operation name a request targets, e.g. `CreateSecret`.
pub fn target(headers: &HeaderMap) -> Result<&str, ApiError> {
    target_of(headers, TARGET_PREFIX)
}

/// The operation name after `prefix` (`secretsmanager.`, `TrentService.`) in `X-Amz-Target`.
pub fn target_of<'h>(headers: &'h HeaderMap, prefix: &str) -> Result<&'h str, ApiError> {
    let unknown = ApiError::unknown_operation;
    let value = headers.get("x-amz-target").ok_or_else(unknown)?;
    let value = value.to_str().map_err(|_| unknown())?;
    value.strip_prefix(prefix).filter(|op| !op.is_empty()).ok_or_else(unknown)
}

/// The raw `X-Amz-Target` starts with `prefix`: how the pipeline picks a JSON service.
#[must_use]
pub fn targets(headers: &HeaderMap, prefix: &str) -> bool {
    headers.get("x-amz-target").is_some_and(|v| v.as_bytes().starts_with(prefix.as_bytes()))
}

/// How a JSON service words the body of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Secrets Manager: its own exceptions carry `Message`, the request framework's `message`.
    SecretsManager,
    /// KMS: every exception carries `message`, and an empty one is left out
    /// (`InvalidCiphertextException` comes as `{"__type": ...}` alone).
    Kms,
}

impl Dialect {
    /// The message member's name, or `None` to leave the message out.
    fn message_key(self, err: &ApiError) -> Option<&'static str> {
        match self {
            Self::SecretsManager => Some(err.code.message_key()),
            Self::Kms => (!err.message.is_empty()).then_some("message"),
        }
    }
}

/// Decodes a request body: a JSON object (an empty body counts as `{}`).
pub fn decode_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorCode::SerializationException, format!("Request body is not valid JSON: {e}"))
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::new(ErrorCode::SerializationException, "Start of structure or map expected."))
    }
}

fn base(status: StatusCode, request_id: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// A success: the operation's JSON, or an empty body for operations without output.
#[must_use]
pub fn success(request_id: &str, body: Option<Vec<u8>>) -> Response<Full<Bytes>> {
    base(StatusCode::OK, request_id, body.map(Bytes::from).unwrap_or_default())
}

/// A Secrets Manager error (and one of a request no service was picked for yet).
#[must_use]
pub fn error(request_id: &str, err: &ApiError) -> Response<Full<Bytes>> {
    error_in(Dialect::SecretsManager, request_id, err)
}

/// An error: `{"__type": code, "Message"|"message": text}`, its status and `X-Amzn-ErrorType`.
#[must_use]
pub fn error_in(dialect: Dialect, request_id: &str, err: &ApiError) -> Response<Full<Bytes>> {
    let mut members = vec![("__type".to_owned(), err.code.as_str())];
    if let Some(key) = dialect.message_key(err) {
        members.push((key.to_owned(), err.message.as_ref()));
    }
    let body = json::OrderedMap(members);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = base(status, request_id, Bytes::from(bytes));
    response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(err.code.as_str()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_needs_the_service_prefix() {
        let mut h = HeaderMap::new();
        assert_eq!(target(&h).unwrap_err().code, ErrorCode::UnknownOperationException);
        h.insert("x-amz-target", HeaderValue::from_static("secretsmanager.GetSecretValue"));
        assert_eq!(target(&h).unwrap(), "GetSecretValue");
        h.insert("x-amz-target", HeaderValue::from_static("kms.Encrypt"));
        assert!(target(&h).is_err());
        h.insert("x-amz-target", HeaderValue::from_static("secretsmanager."));
        assert!(target(&h).is_err());
    }

    #[test]
    fn kms_targets_have_their_own_prefix() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", HeaderValue::from_static("TrentService.Encrypt"));
        assert!(targets(&h, "TrentService."));
        assert!(!targets(&h, TARGET_PREFIX));
        assert_eq!(target_of(&h, "TrentService.").unwrap(), "Encrypt");
        assert!(target(&h).is_err());
    }

    fn body_of(response: Response<Full<Bytes>>) -> serde_json::Value {
        use http_body_util::BodyExt as _;
        let bytes = ready(response.into_body().collect()).unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The body is already in memory: one poll completes the collect.
    fn ready<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("a full body is ready at once"),
        }
    }

    #[test]
    fn error_bodies_follow_the_dialect() {
        let not_found = ApiError::new(ErrorCode::ResourceNotFoundException, "gone");
        assert_eq!(
            body_of(error("r", &not_found)),
            serde_json::json!({"__type": "ResourceNotFoundException", "Message": "gone"})
        );
        let kms = ApiError::new(ErrorCode::NotFoundException, "gone");
        assert_eq!(
            body_of(error_in(Dialect::Kms, "r", &kms)),
            serde_json::json!({"__type": "NotFoundException", "message": "gone"})
        );
        let empty = ApiError::new(ErrorCode::InvalidCiphertextException, "");
        let response = error_in(Dialect::Kms, "r", &empty);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["x-amzn-errortype"], "InvalidCiphertextException");
        assert_eq!(body_of(response), serde_json::json!({"__type": "InvalidCiphertextException"}));
        let validation = ApiError::new(ErrorCode::ValidationException, "bad");
        assert_eq!(body_of(error_in(Dialect::Kms, "r", &validation))["message"], "bad");
    }

    #[test]
    fn request_ids_are_unique_v4_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        }
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(decode_body(b"").unwrap().is_object());
        assert!(decode_body(b" {} ").unwrap().is_object());
        assert_eq!(decode_body(b"[]").unwrap_err().code, ErrorCode::SerializationException);
        assert_eq!(decode_body(b"{").unwrap_err().code, ErrorCode::SerializationException);
        assert_eq!(decode_body(&[0xff, 0xfe]).unwrap_err().code, ErrorCode::SerializationException);
    }
}
