//! Lambda's errors as its REST-JSON protocol sends them: the code in the `x-amzn-ErrorType`
//! header, and a body `{"Type": "User", "message": "..."}` (`"Message"` for the shapes whose
//! model spells it so, which is what SDKs read the text from).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl LambdaError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self { code, status, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 404, message)
    }

    /// The answer for a function name or ARN that names no function.
    pub fn no_function(arn: &str) -> Self {
        Self::not_found(format!("Function not found: {arn}"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new("ResourceConflictException", 409, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", 400, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new("PreconditionFailedException", 412, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDeniedException", 403, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new("RequestTooLargeException", 413, message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new("UnsupportedMediaTypeException", 415, message)
    }

    pub fn unknown_operation() -> Self {
        Self::new("UnknownOperationException", 404, "Unknown operation")
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new("ServiceException", 500, message)
    }

    /// `"Message"` or `"message"`: the member name of the shape in Lambda's model.
    const fn message_member(&self) -> &'static str {
        match self.code.as_bytes() {
            b"ResourceNotFoundException" | b"ServiceException" | b"AccessDeniedException" => "Message",
            _ => "message",
        }
    }

    pub fn response(&self, request_id: &str) -> Response<Full<Bytes>> {
        let mut body = serde_json::Map::new();
        body.insert("Type".into(), json!(if self.status >= 500 { "Service" } else { "User" }));
        body.insert(self.message_member().into(), json!(self.message));
        let mut response = Response::new(Full::new(Bytes::from(serde_json::Value::Object(body).to_string())));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response.extensions_mut().insert(Message(self.message.clone()));
        response
    }
}

/// An error answer's message, kept with the response for the audit record's `errorMessage`.
#[derive(Clone, Debug)]
pub struct Message(pub String);

impl std::fmt::Display for LambdaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
