//! AWS KMS on the same port: `X-Amz-Target: TrentService.<Op>`, SigV4 service `kms`.
//!
//! Symmetric encryption keys (`SYMMETRIC_DEFAULT`) with real AES-256-GCM, aliases, key states,
//! deletion windows on smemu's clock, key policies (kept, not evaluated, but for the AWS managed
//! key's), rotation settings and tags, per account and region. Other operations of the model
//! answer `UnsupportedOperationException`.
//!
//! - `ops`: thin handlers and wire shapes.
//! - `store`: the key store, every rule and state; the typed API Secrets Manager uses.
//! - `crypto`: AES-256-GCM and the ciphertext blob format.
//! - `error`: every KMS error and its text.
//! - `keyfile`: key material on disk, apart from the journal.

pub mod authorize;
pub mod crypto;
pub mod error;
pub mod keyfile;
mod ops;
pub mod sealer;
pub mod store;

use crate::error::{ApiError, ErrorCode};
use crate::protocol::validate::Invalid;
use crate::services::secretsmanager::ops::Ctx;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::KmsError;
pub use ops::{CreateKeyInput, TagShape, prepare_create_key};
pub use store::{Change, DataKey, ForSecretsManager, Kms, Plaintext, Replaced, SeedKey, StoreDump};

/// The `X-Amz-Target` prefix of every KMS operation.
pub const TARGET_PREFIX: &str = "TrentService.";
/// The SigV4 signing name a KMS request's credential scope carries.
pub const SIGNING_NAME: &str = crate::auth::KMS;

macro_rules! operations {
    ($($op:ident),+ $(,)?) => {
        /// Every operation of the KMS model.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Operation { $($op),+ }

        impl Operation {
            pub const ALL: &[Operation] = &[$(Self::$op),+];

            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($op) => Some(Self::$op),)+ _ => None }
            }

            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Self::$op => stringify!($op)),+ }
            }

            /// The IAM action: `kms:<operation>`.
            #[must_use]
            pub const fn action(self) -> &'static str {
                match self { $(Self::$op => concat!("kms:", stringify!($op))),+ }
            }
        }
    };
}

operations!(
    CancelKeyDeletion,
    ConnectCustomKeyStore,
    CreateAlias,
    CreateCustomKeyStore,
    CreateGrant,
    CreateKey,
    Decapsulate,
    Decrypt,
    DeleteAlias,
    DeleteCustomKeyStore,
    DeleteImportedKeyMaterial,
    DeriveSharedSecret,
    DescribeCustomKeyStores,
    DescribeKey,
    DisableKey,
    DisableKeyRotation,
    DisconnectCustomKeyStore,
    EnableKey,
    EnableKeyRotation,
    Encapsulate,
    Encrypt,
    GenerateDataKey,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateDataKeyWithoutPlaintext,
    GenerateMac,
    GenerateRandom,
    GetKeyLastUsage,
    GetKeyPolicy,
    GetKeyRotationStatus,
    GetParametersForImport,
    GetPublicKey,
    ImportKeyMaterial,
    ListAliases,
    ListGrants,
    ListKeyPolicies,
    ListKeyRotations,
    ListKeys,
    ListResourceTags,
    ListRetirableGrants,
    PutKeyPolicy,
    ReEncrypt,
    ReplicateKey,
    RetireGrant,
    RevokeGrant,
    RotateKeyOnDemand,
    ScheduleKeyDeletion,
    Sign,
    TagResource,
    UntagResource,
    UpdateAlias,
    UpdateCustomKeyStore,
    UpdateKeyDescription,
    UpdatePrimaryRegion,
    Verify,
    VerifyMac,
);

impl Operation {
    /// Whether the operation may change state, so its answer waits until the change is durable.
    /// DescribeKey counts: it creates the AWS managed key the first time it is named.
    #[must_use]
    pub const fn is_mutating(self) -> bool {
        !matches!(
            self,
            Self::Encrypt
                | Self::Decrypt
                | Self::ReEncrypt
                | Self::GenerateDataKey
                | Self::GenerateDataKeyWithoutPlaintext
                | Self::GenerateRandom
                | Self::GetKeyPolicy
                | Self::GetKeyRotationStatus
                | Self::ListAliases
                | Self::ListKeyPolicies
                | Self::ListKeys
                | Self::ListResourceTags
        )
    }
}

/// Runs one request: model validation, decoding, the handler, encoding.
/// `Ok(None)` is a success with an empty body.
///
/// # Errors
/// The request's error, for the protocol layer to encode in KMS's dialect.
pub fn dispatch(ctx: &Ctx<'_>, op: Operation, body: serde_json::Value) -> Result<Option<Vec<u8>>, ApiError> {
    ctx.app.kms_model.validate(op.name(), &body).map_err(|invalid| match invalid {
        Invalid::Serialization(m) => ApiError::new(ErrorCode::SerializationException, m),
        Invalid::Validation(m) => ApiError::new(ErrorCode::ValidationException, m),
    })?;
    match op {
        Operation::CreateKey => call(ctx, body, ops::create_key),
        Operation::DescribeKey => call(ctx, body, ops::describe_key),
        Operation::ListKeys => call(ctx, body, ops::list_keys),
        Operation::EnableKey => call_no_output(ctx, body, ops::enable_key),
        Operation::DisableKey => call_no_output(ctx, body, ops::disable_key),
        Operation::ScheduleKeyDeletion => call(ctx, body, ops::schedule_key_deletion),
        Operation::CancelKeyDeletion => call(ctx, body, ops::cancel_key_deletion),
        Operation::UpdateKeyDescription => call_no_output(ctx, body, ops::update_key_description),
        Operation::CreateAlias => call_no_output(ctx, body, ops::create_alias),
        Operation::UpdateAlias => call_no_output(ctx, body, ops::update_alias),
        Operation::DeleteAlias => call_no_output(ctx, body, ops::delete_alias),
        Operation::ListAliases => call(ctx, body, ops::list_aliases),
        Operation::Encrypt => call(ctx, body, ops::encrypt),
        Operation::Decrypt => call(ctx, body, ops::decrypt),
        Operation::ReEncrypt => call(ctx, body, ops::re_encrypt),
        Operation::GenerateDataKey => call(ctx, body, ops::generate_data_key),
        Operation::GenerateDataKeyWithoutPlaintext => call(ctx, body, ops::generate_data_key_without_plaintext),
        Operation::GenerateRandom => call(ctx, body, ops::generate_random),
        Operation::GetKeyPolicy => call(ctx, body, ops::get_key_policy),
        Operation::PutKeyPolicy => call_no_output(ctx, body, ops::put_key_policy),
        Operation::ListKeyPolicies => call(ctx, body, ops::list_key_policies),
        Operation::GetKeyRotationStatus => call(ctx, body, ops::get_key_rotation_status),
        Operation::EnableKeyRotation => call_no_output(ctx, body, ops::enable_key_rotation),
        Operation::DisableKeyRotation => call_no_output(ctx, body, ops::disable_key_rotation),
        Operation::TagResource => call_no_output(ctx, body, ops::tag_resource),
        Operation::UntagResource => call_no_output(ctx, body, ops::untag_resource),
        Operation::ListResourceTags => call(ctx, body, ops::list_resource_tags),
        Operation::ConnectCustomKeyStore
        | Operation::CreateCustomKeyStore
        | Operation::CreateGrant
        | Operation::Decapsulate
        | Operation::DeleteCustomKeyStore
        | Operation::DeleteImportedKeyMaterial
        | Operation::DeriveSharedSecret
        | Operation::DescribeCustomKeyStores
        | Operation::DisconnectCustomKeyStore
        | Operation::Encapsulate
        | Operation::GenerateDataKeyPair
        | Operation::GenerateDataKeyPairWithoutPlaintext
        | Operation::GenerateMac
        | Operation::GetKeyLastUsage
        | Operation::GetParametersForImport
        | Operation::GetPublicKey
        | Operation::ImportKeyMaterial
        | Operation::ListGrants
        | Operation::ListKeyRotations
        | Operation::ListRetirableGrants
        | Operation::ReplicateKey
        | Operation::RetireGrant
        | Operation::RevokeGrant
        | Operation::RotateKeyOnDemand
        | Operation::Sign
        | Operation::UpdateCustomKeyStore
        | Operation::UpdatePrimaryRegion
        | Operation::Verify
        | Operation::VerifyMac => Err(error::operation_not_supported(op.name()).into()),
    }
}

/// What a failure outside the key store (the journal could not write) answers in KMS's terms.
#[must_use]
pub fn internal_error(cause: &ApiError) -> ApiError {
    error::internal(&cause.message).into()
}

fn encode<O: Serialize>(output: &O) -> Result<Option<Vec<u8>>, ApiError> {
    serde_json::to_vec(output).map(Some).map_err(|_| error::internal("response encoding failed").into())
}

fn call<I: DeserializeOwned, O: Serialize>(
    ctx: &Ctx<'_>,
    body: serde_json::Value,
    handler: fn(&Ctx<'_>, I) -> error::Result<O>,
) -> Result<Option<Vec<u8>>, ApiError> {
    encode(&handler(ctx, crate::services::secretsmanager::ops::decode(body)?)?)
}

fn call_no_output<I: DeserializeOwned>(
    ctx: &Ctx<'_>,
    body: serde_json::Value,
    handler: fn(&Ctx<'_>, I) -> error::Result<()>,
) -> Result<Option<Vec<u8>>, ApiError> {
    handler(ctx, crate::services::secretsmanager::ops::decode(body)?).map(|()| None).map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_operation_is_known() {
        let model = crate::protocol::validate::Model::kms();
        for name in ["CreateKey", "Encrypt", "Sign", "VerifyMac", "GetKeyLastUsage", "Decapsulate"] {
            assert!(model.has_operation(name), "{name}");
            assert_eq!(Operation::from_name(name).unwrap().name(), name);
        }
        // Every operation is the model's, and there are as many: the two lists are the same.
        assert_eq!(Operation::ALL.len(), 56);
        for op in Operation::ALL {
            assert!(model.has_operation(op.name()), "{}", op.name());
        }
        assert!(Operation::from_name("encrypt").is_none());
        assert!(Operation::from_name("CreateSecret").is_none());
    }
}
