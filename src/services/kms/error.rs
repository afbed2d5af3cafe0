//! Every error KMS answers, with its text: the one place to change a wording.
//!
//! Texts recorded from AWS are marked [AWS]; the others are smemu's choice where AWS's wording is
//! unconfirmed (security-and-replication.md §1 names each open point).

use crate::error::{ApiError, ErrorCode};
use std::borrow::Cow;
use std::fmt;

/// A KMS error: its wire code and message. Another service that calls the key store gets one of
/// these and words its own error around [`KmsError::code`] and [`KmsError::message`], as Secrets
/// Manager does (`... (Service: AWSKMS; Status Code: 400; Error Code: <code>; ...)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsError(ApiError);

impl KmsError {
    fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self(ApiError::new(code, message))
    }

    /// The `__type`, e.g. `NotFoundException`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.0.code.as_str()
    }

    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        self.0.code
    }

    /// The HTTP status KMS answers it with.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.0.code.status()
    }

    #[must_use]
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for KmsError {}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        e.0
    }
}

pub type Result<T, E = KmsError> = std::result::Result<T, E>;

/// [AWS] `Key '<key ARN>' does not exist`: always the ARN, even when a bare id was sent.
pub fn key_not_found(key_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::NotFoundException, format!("Key '{key_arn}' does not exist"))
}

/// [AWS] A key id that is neither a UUID, an `mrk-` id, an alias nor an ARN.
pub fn invalid_key_id(input: &str) -> KmsError {
    KmsError::new(ErrorCode::NotFoundException, format!("Invalid keyId '{input}'"))
}

/// [AWS] A key ARN of another region than the endpoint's.
pub fn invalid_arn_region(region: &str) -> KmsError {
    KmsError::new(ErrorCode::NotFoundException, format!("Invalid arn {region}"))
}

/// [AWS] The alias ARN, with a trailing period.
pub fn alias_not_found(alias_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::NotFoundException, format!("Alias {alias_arn} is not found."))
}

/// [AWS] The alias ARN, no trailing period.
pub fn alias_exists(alias_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::AlreadyExistsException, format!("An alias with the name {alias_arn} already exists"))
}

/// [AWS]
pub fn alias_prefix() -> KmsError {
    KmsError::new(
        ErrorCode::ValidationException,
        "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    )
}

/// Unconfirmed: `alias/aws/` is reserved for AWS managed keys; the code is what KMS emulators
/// have answered, the text is smemu's.
pub fn alias_reserved() -> KmsError {
    KmsError::new(
        ErrorCode::NotAuthorizedException,
        "Aliases that begin with alias/aws/ are reserved for AWS managed keys.",
    )
}

/// Unconfirmed (what KMS emulators answer): an alias must name a key, not another alias.
pub fn alias_to_alias() -> KmsError {
    KmsError::new(ErrorCode::ValidationException, "Aliases must refer to keys. Not aliases")
}

/// [AWS] key-state footnote 1.
pub fn disabled(key_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::DisabledException, format!("{key_arn} is disabled."))
}

/// [AWS code; text from the key-state page without its "(or pending replica deletion)"].
pub fn pending_deletion(key_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::KMSInvalidStateException, format!("{key_arn} is pending deletion."))
}

/// Key-state footnote 4, as [`pending_deletion`].
pub fn not_pending_deletion(key_arn: &str) -> KmsError {
    KmsError::new(ErrorCode::KMSInvalidStateException, format!("{key_arn} is not pending deletion."))
}

/// [AWS] No message at all: the body is `{"__type": "InvalidCiphertextException"}`.
pub fn invalid_ciphertext() -> KmsError {
    KmsError::new(ErrorCode::InvalidCiphertextException, "")
}

/// [AWS] A KeyId that is not the key the ciphertext was sealed with.
pub fn incorrect_key() -> KmsError {
    KmsError::new(
        ErrorCode::IncorrectKeyException,
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
}

/// Unconfirmed: an encryption algorithm other than `SYMMETRIC_DEFAULT` with a symmetric key.
pub fn algorithm_not_valid(algorithm: &str) -> KmsError {
    KmsError::new(
        ErrorCode::InvalidKeyUsageException,
        format!("The encryption algorithm {algorithm} is not valid for a SYMMETRIC_DEFAULT key."),
    )
}

/// [AWS] ScheduleKeyDeletion's window, which the model allows from 1 to 365.
pub fn pending_window() -> KmsError {
    KmsError::new(ErrorCode::ValidationException, "PendingWindowInDays must be between 7 and 30")
}

/// [AWS] Tag keys starting with `aws:`, in any case.
pub fn tag_reserved() -> KmsError {
    KmsError::new(ErrorCode::TagException, "Tags beginning with aws: are reserved")
}

/// [AWS]
pub fn tag_duplicate() -> KmsError {
    KmsError::new(ErrorCode::TagException, "Duplicate tag keys")
}

/// [AWS] More than [`super::store::MAX_TAGS`] tags on a key.
pub fn tag_too_many() -> KmsError {
    KmsError::new(ErrorCode::TagException, "Too many tags")
}

/// [AWS] GenerateRandom without NumberOfBytes (which the model does not require).
pub fn number_of_bytes_required() -> KmsError {
    KmsError::new(ErrorCode::ValidationException, "NumberOfBytes is required.")
}

/// Unconfirmed (what KMS emulators answer): GenerateDataKey needs exactly one of the two.
pub fn key_spec_or_number_of_bytes() -> KmsError {
    KmsError::new(ErrorCode::ValidationException, "Please specify either number of bytes or key spec.")
}

/// A member the model leaves optional but the operation needs, worded as the model validator
/// words a missing required member.
pub fn missing(member: &str) -> KmsError {
    KmsError::new(
        ErrorCode::ValidationException,
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

/// A key or a request smemu does not emulate (another key spec, usage or origin, custom key
/// stores, multi-Region keys, attestation).
pub fn unsupported(what: &str) -> KmsError {
    KmsError::new(
        ErrorCode::UnsupportedOperationException,
        format!(
            "smemu supports symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) only: {what} is not supported."
        ),
    )
}

/// An operation of the KMS model smemu does not answer.
pub fn operation_not_supported(op: &str) -> KmsError {
    KmsError::new(ErrorCode::UnsupportedOperationException, format!("smemu does not support {op}."))
}

/// What the key policy of an AWS managed key refuses a direct caller (it allows only
/// `kms:Describe*`, `kms:Get*`, `kms:List*` and `kms:RevokeGrant` outside Secrets Manager).
/// Worded as IAM words a denial by a resource policy; the exact KMS text is unconfirmed.
pub fn access_denied(principal: &str, action: &str, key_arn: &str) -> KmsError {
    KmsError::new(
        ErrorCode::AccessDeniedException,
        format!(
            "User: {principal} is not authorized to perform: kms:{action} on resource: {key_arn} because no resource-based policy allows the kms:{action} action"
        ),
    )
}

/// Unconfirmed: a request with `DryRun: true` that would have succeeded.
pub fn dry_run() -> KmsError {
    KmsError::new(
        ErrorCode::DryRunOperationException,
        "The request would have succeeded, but the DryRun option is set.",
    )
}

/// Unconfirmed: a Marker this listing did not hand out.
pub fn invalid_marker() -> KmsError {
    KmsError::new(ErrorCode::InvalidMarkerException, "The marker is not valid for this listing.")
}

/// Unconfirmed: a key policy that is not a JSON object.
pub fn malformed_policy() -> KmsError {
    KmsError::new(ErrorCode::MalformedPolicyDocumentException, "The key policy is not a valid JSON policy document.")
}

/// Unconfirmed: a PolicyName other than `default` (smemu shares no key through RAM).
pub fn no_such_policy(name: &str) -> KmsError {
    KmsError::new(ErrorCode::NotFoundException, format!("No such policy exists: {name}"))
}

/// Unconfirmed: the key's material could not be written, or the random source failed.
pub fn internal(context: &str) -> KmsError {
    tracing::error!(%context, "KMS internal error");
    KmsError::new(ErrorCode::KMSInternalException, "An internal error occurred in the key store.")
}
