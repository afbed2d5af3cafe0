//! Every error smemu can answer: its wire `__type`, its HTTP status and the recurring texts.
//!
//! The state engine returns [`ApiError`] directly: the engine *is* the AWS semantics, so there is
//! no second error type to translate. Only `protocol` turns an `ApiError` into bytes.

use std::borrow::Cow;
use std::fmt;

/// Wire error codes, spelled exactly as the `__type` AWS sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum ErrorCode {
    // Modelled Secrets Manager errors.
    ResourceNotFoundException,
    InvalidParameterException,
    InvalidRequestException,
    ResourceExistsException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    PublicPolicyException,
    PreconditionNotMetException,
    InvalidNextTokenException,
    EncryptionFailure,
    DecryptionFailure,
    InternalServiceError,
    // Modelled KMS errors (LimitExceededException and MalformedPolicyDocumentException are
    // spelled as Secrets Manager's).
    NotFoundException,
    AlreadyExistsException,
    DisabledException,
    KMSInvalidStateException,
    InvalidCiphertextException,
    IncorrectKeyException,
    InvalidKeyUsageException,
    InvalidMarkerException,
    InvalidArnException,
    InvalidAliasNameException,
    TagException,
    UnsupportedOperationException,
    DryRunOperationException,
    KMSInternalException,
    /// Not in the KMS model: what KMS emulators answer for the reserved `alias/aws/` prefix.
    NotAuthorizedException,
    // Modelled CloudTrail errors of LookupEvents (InvalidNextTokenException and
    // UnsupportedOperationException are spelled as above).
    InvalidLookupAttributesException,
    InvalidTimeRangeException,
    InvalidMaxResultsException,
    InvalidEventCategoryException,
    // Errors of the AWS request framework, shared by every JSON service.
    AccessDeniedException,
    ValidationException,
    SerializationException,
    UnknownOperationException,
    MissingAuthenticationTokenException,
    IncompleteSignatureException,
    UnrecognizedClientException,
    InvalidSignatureException,
    ExpiredTokenException,
    RequestEntityTooLargeException,
    /// A body that did not arrive in time (a code the SDKs retry).
    RequestTimeoutException,
    /// More connections than smemu serves at once (AWS's common 503 code; the SDKs retry it).
    ServiceUnavailable,
    /// An operation of the model that smemu does not serve yet.
    NotImplementedException,
}

impl ErrorCode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::InvalidParameterException => "InvalidParameterException",
            Self::InvalidRequestException => "InvalidRequestException",
            Self::ResourceExistsException => "ResourceExistsException",
            Self::LimitExceededException => "LimitExceededException",
            Self::MalformedPolicyDocumentException => "MalformedPolicyDocumentException",
            Self::PublicPolicyException => "PublicPolicyException",
            Self::PreconditionNotMetException => "PreconditionNotMetException",
            Self::InvalidNextTokenException => "InvalidNextTokenException",
            Self::EncryptionFailure => "EncryptionFailure",
            Self::DecryptionFailure => "DecryptionFailure",
            Self::InternalServiceError => "InternalServiceError",
            Self::NotFoundException => "NotFoundException",
            Self::AlreadyExistsException => "AlreadyExistsException",
            Self::DisabledException => "DisabledException",
            Self::KMSInvalidStateException => "KMSInvalidStateException",
            Self::InvalidCiphertextException => "InvalidCiphertextException",
            Self::IncorrectKeyException => "IncorrectKeyException",
            Self::InvalidKeyUsageException => "InvalidKeyUsageException",
            Self::InvalidMarkerException => "InvalidMarkerException",
            Self::InvalidArnException => "InvalidArnException",
            Self::InvalidAliasNameException => "InvalidAliasNameException",
            Self::TagException => "TagException",
            Self::UnsupportedOperationException => "UnsupportedOperationException",
            Self::DryRunOperationException => "DryRunOperationException",
            Self::KMSInternalException => "KMSInternalException",
            Self::NotAuthorizedException => "NotAuthorizedException",
            Self::InvalidLookupAttributesException => "InvalidLookupAttributesException",
            Self::InvalidTimeRangeException => "InvalidTimeRangeException",
            Self::InvalidMaxResultsException => "InvalidMaxResultsException",
            Self::InvalidEventCategoryException => "InvalidEventCategoryException",
            Self::AccessDeniedException => "AccessDeniedException",
            Self::ValidationException => "ValidationException",
            Self::SerializationException => "SerializationException",
            Self::UnknownOperationException => "UnknownOperationException",
            Self::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            Self::IncompleteSignatureException => "IncompleteSignatureException",
            Self::UnrecognizedClientException => "UnrecognizedClientException",
            Self::InvalidSignatureException => "InvalidSignatureException",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::RequestEntityTooLargeException => "RequestEntityTooLargeException",
            Self::RequestTimeoutException => "RequestTimeoutException",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::NotImplementedException => "NotImplementedException",
        }
    }

    /// Every Secrets Manager error is a client error (400) except `InternalServiceError`;
    /// even `ResourceNotFoundException` and `AccessDeniedException` are 400 on the real service.
    /// No KMS exception declares a status either: all are 400 but the `fault` ones.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            Self::InternalServiceError | Self::KMSInternalException => 500,
            Self::RequestEntityTooLargeException => 413,
            Self::RequestTimeoutException => 408,
            Self::ServiceUnavailable => 503,
            Self::NotImplementedException => 501,
            Self::ResourceNotFoundException
            | Self::InvalidParameterException
            | Self::InvalidRequestException
            | Self::ResourceExistsException
            | Self::LimitExceededException
            | Self::MalformedPolicyDocumentException
            | Self::PublicPolicyException
            | Self::PreconditionNotMetException
            | Self::InvalidNextTokenException
            | Self::EncryptionFailure
            | Self::DecryptionFailure
            | Self::NotFoundException
            | Self::AlreadyExistsException
            | Self::DisabledException
            | Self::KMSInvalidStateException
            | Self::InvalidCiphertextException
            | Self::IncorrectKeyException
            | Self::InvalidKeyUsageException
            | Self::InvalidMarkerException
            | Self::InvalidArnException
            | Self::InvalidAliasNameException
            | Self::TagException
            | Self::UnsupportedOperationException
            | Self::DryRunOperationException
            | Self::NotAuthorizedException
            | Self::InvalidLookupAttributesException
            | Self::InvalidTimeRangeException
            | Self::InvalidMaxResultsException
            | Self::InvalidEventCategoryException
            | Self::AccessDeniedException
            | Self::ValidationException
            | Self::SerializationException
            | Self::UnknownOperationException
            | Self::MissingAuthenticationTokenException
            | Self::IncompleteSignatureException
            | Self::UnrecognizedClientException
            | Self::InvalidSignatureException
            | Self::ExpiredTokenException => 400,
        }
    }

    /// Secrets Manager's own exceptions carry `Message`; the request framework's carry `message`.
    /// (KMS's carry `message` too: see `protocol::Dialect`.)
    #[must_use]
    pub const fn message_key(self) -> &'static str {
        match self {
            Self::ValidationException
            | Self::SerializationException
            | Self::UnknownOperationException
            | Self::MissingAuthenticationTokenException
            | Self::IncompleteSignatureException
            | Self::UnrecognizedClientException
            | Self::InvalidSignatureException
            | Self::ExpiredTokenException
            | Self::RequestEntityTooLargeException
            | Self::RequestTimeoutException
            | Self::ServiceUnavailable
            | Self::NotImplementedException => "message",
            _ => "Message",
        }
    }
}

/// An error answer: a code and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// `api_error!(Code, "text {x}")` keeps each error site to one line.
#[macro_export]
macro_rules! api_error {
    ($code:ident, $($arg:tt)+) => {
        $crate::error::ApiError::new($crate::error::ErrorCode::$code, format!($($arg)+))
    };
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into() }
    }

    #[must_use]
    pub fn secret_not_found() -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, "Secrets Manager can't find the specified secret.")
    }

    #[must_use]
    pub fn marked_for_deletion() -> Self {
        Self::new(
            ErrorCode::InvalidRequestException,
            "You can't perform this operation on the secret because it was marked for deletion.",
        )
    }

    #[must_use]
    pub fn invalid_name() -> Self {
        Self::new(
            ErrorCode::ValidationException,
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        )
    }

    #[must_use]
    pub fn replica_read_only() -> Self {
        Self::new(
            ErrorCode::InvalidParameterException,
            "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
        )
    }

    #[must_use]
    pub fn both_values() -> Self {
        Self::new(
            ErrorCode::InvalidParameterException,
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )
    }

    /// More than [`crate::services::secretsmanager::state::secret::MAX_TAGS`] tags on one secret. AWS documents the cap
    /// (aws: tags aside) but not the answer; this code and text are smemu's choice.
    #[must_use]
    pub fn too_many_tags() -> Self {
        Self::new(
            ErrorCode::InvalidParameterException,
            format!(
                "You can't attach more than {} tags to a secret.",
                crate::services::secretsmanager::state::secret::MAX_TAGS
            ),
        )
    }

    #[must_use]
    pub fn unknown_operation() -> Self {
        Self::new(ErrorCode::UnknownOperationException, "The requested operation is not recognized by the service.")
    }

    #[must_use]
    pub fn internal(context: &str) -> Self {
        tracing::error!(%context, "internal error");
        Self::new(ErrorCode::InternalServiceError, "An error occurred on the server side.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_service() {
        assert_eq!(ErrorCode::ResourceNotFoundException.status(), 400);
        assert_eq!(ErrorCode::AccessDeniedException.status(), 400);
        assert_eq!(ErrorCode::InternalServiceError.status(), 500);
        assert_eq!(ErrorCode::NotFoundException.status(), 400);
        assert_eq!(ErrorCode::KMSInternalException.status(), 500);
    }

    #[test]
    fn macro_formats() {
        let name = "x";
        let e = api_error!(ResourceExistsException, "The operation failed because the secret {name} already exists.");
        assert_eq!(e.message, "The operation failed because the secret x already exists.");
        assert_eq!(e.code.as_str(), "ResourceExistsException");
    }
}
