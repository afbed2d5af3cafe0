//! The awsJson1_1 wire: routing on `X-Amz-Target`, decoding bodies, and encoding every answer.
//!
//! This is the only module that writes response bytes; it decides nothing about state.

pub mod json;
pub mod validate;

use crate::error::{ApiError, ErrorCode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};

pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
pub const TARGET_PREFIX: &str = "secretsmanager.";

/// The operation name a request targets, e.g. `CreateSecret`.
pub fn target(headers: &HeaderMap) -> Result<&str, ApiError> {
    let unknown = || {
        ApiError::new(ErrorCode::UnknownOperationException, "The requested operation is not recognized by the service.")
    };
    let value = headers.get("x-amz-target").ok_or_else(unknown)?;
    let value = value.to_str().map_err(|_| unknown())?;
    value.strip_prefix(TARGET_PREFIX).filter(|op| !op.is_empty()).ok_or_else(unknown)
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

/// An error: `{"__type": code, "Message"|"message": text}`, its status and `X-Amzn-ErrorType`.
#[must_use]
pub fn error(request_id: &str, err: &ApiError) -> Response<Full<Bytes>> {
    let body = json::OrderedMap(vec![
        ("__type".to_owned(), err.code.as_str()),
        (err.code.message_key().to_owned(), err.message.as_ref()),
    ]);
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
    fn bodies_must_be_objects() {
        assert!(decode_body(b"").unwrap().is_object());
        assert!(decode_body(b" {} ").unwrap().is_object());
        assert_eq!(decode_body(b"[]").unwrap_err().code, ErrorCode::SerializationException);
        assert_eq!(decode_body(b"{").unwrap_err().code, ErrorCode::SerializationException);
        assert_eq!(decode_body(&[0xff, 0xfe]).unwrap_err().code, ErrorCode::SerializationException);
    }
}
