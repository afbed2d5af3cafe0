//! Operations: one enum, one exhaustive dispatch, and thin typed handlers.
//!
//! A handler validates what the model cannot express, calls one engine method and maps the
//! result to its output shape. Model constraints (types, lengths, patterns, enums) are checked
//! before any handler runs, from the embedded service model.

mod access;
mod lifecycle;
mod listing;
mod password;
mod policy;
mod replication;
mod rotation;
pub mod shapes;
mod tags;
mod values;

use crate::App;
use crate::access_log::Subject;
use crate::api_error;
use crate::error::{ApiError, ErrorCode, Result};
use crate::protocol::validate::Invalid;
use crate::services::secretsmanager::state::{Engine, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

// What seed files go through: the same inputs and checks as the requests.
pub use lifecycle::{CreateSecretInput, prepare_create_secret};
pub use policy::{PutResourcePolicyInput, prepare_put_resource_policy};
pub use rotation::{RotateSecretInput, prepare_rotate_secret};
pub use values::{NewValue, PutSecretValueInput, prepare_put_secret_value};

/// Who is calling and where: everything a handler needs besides its input.
pub struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub account: &'a str,
    pub region: &'a str,
    /// The calling principal's ARN, for resource policies.
    pub principal: &'a str,
    /// The whole identity, for the calls Secrets Manager makes to KMS on the caller's behalf.
    pub caller: &'a crate::auth::Caller,
}

impl<'a> Ctx<'a> {
    /// The context of a request by `caller`, served from its own account.
    #[must_use]
    pub fn of(app: &'a Arc<App>, caller: &'a crate::auth::Caller) -> Self {
        Self::in_account(app, &caller.account_id, caller)
    }

    /// The context of a request by `caller`, served from `account` (another account's secret
    /// named by ARN).
    #[must_use]
    pub fn in_account(app: &'a Arc<App>, account: &'a str, caller: &'a crate::auth::Caller) -> Self {
        Self { app, account, region: &caller.region, principal: &caller.principal_arn, caller }
    }

    /// Whether a batch read may read the secret `id`: the pipeline's per-secret check, asked
    /// before the value is touched.
    ///
    /// # Errors
    /// The refusal, reported in the batch's `Errors`.
    pub fn admit(&self, id: &str) -> Result<()> {
        crate::services::secretsmanager::authorize::admit_to_batch(self, id)
    }

    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.app.engine
    }

    #[must_use]
    pub fn scope(&self) -> Scope<'_> {
        Scope { account: self.account, region: self.region, acting: Some(self.caller) }
    }
}

macro_rules! operations {
    ($($op:ident),+ $(,)?) => {
        /// Every operation of the Secrets Manager model.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Operation { $($op),+ }

        impl Operation {
            /// Every operation, in the model's (alphabetical) order.
            pub const ALL: &[Operation] = &[$(Self::$op),+];

            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($op) => Some(Self::$op),)+ _ => None }
            }

            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Self::$op => stringify!($op)),+ }
            }

            /// The IAM action: `secretsmanager:<operation>`.
            #[must_use]
            pub const fn action(self) -> &'static str {
                match self { $(Self::$op => concat!("secretsmanager:", stringify!($op))),+ }
            }
        }
    };
}

operations!(
    AssociateCrossAccountReplica,
    BatchGetSecretValue,
    CancelRotateSecret,
    CreateSecret,
    DeleteResourcePolicy,
    DeleteSecret,
    DescribeSecret,
    DisassociateCrossAccountReplica,
    GetRandomPassword,
    GetResourcePolicy,
    GetSecretValue,
    ListResourcePolicies,
    ListSecretVersionIds,
    ListSecrets,
    PutResourcePolicy,
    PutSecretValue,
    RemoveRegionsFromReplication,
    ReplicateSecretToRegions,
    RestoreSecret,
    RotateSecret,
    StopReplicationToReplica,
    TagResource,
    UntagResource,
    UpdateSecret,
    UpdateSecretVersionStage,
    ValidateResourcePolicy,
);

impl Operation {
    /// Whether the operation changes state, so its answer must wait until the change is durable.
    #[must_use]
    pub const fn is_mutating(self) -> bool {
        !matches!(
            self,
            Self::BatchGetSecretValue
                | Self::DescribeSecret
                | Self::GetRandomPassword
                | Self::GetResourcePolicy
                | Self::GetSecretValue
                | Self::ListResourcePolicies
                | Self::ListSecretVersionIds
                | Self::ListSecrets
                | Self::ValidateResourcePolicy
        )
    }
}

impl Operation {
    /// What the request names, as sent, for the request line: the member that identifies the
    /// secret (never one that carries a value).
    #[must_use]
    pub fn subject(self, input: &serde_json::Value) -> Subject<'_> {
        let member = match self {
            Self::CreateSecret => "Name",
            Self::BatchGetSecretValue => {
                return input
                    .get("SecretIdList")
                    .and_then(serde_json::Value::as_array)
                    .map_or(Subject::None, |ids| Subject::List(ids));
            }
            Self::GetRandomPassword | Self::ListSecrets => return Subject::None,
            Self::AssociateCrossAccountReplica
            | Self::CancelRotateSecret
            | Self::DeleteResourcePolicy
            | Self::DeleteSecret
            | Self::DescribeSecret
            | Self::DisassociateCrossAccountReplica
            | Self::GetResourcePolicy
            | Self::GetSecretValue
            | Self::ListResourcePolicies
            | Self::ListSecretVersionIds
            | Self::PutResourcePolicy
            | Self::PutSecretValue
            | Self::RemoveRegionsFromReplication
            | Self::ReplicateSecretToRegions
            | Self::RestoreSecret
            | Self::RotateSecret
            | Self::StopReplicationToReplica
            | Self::TagResource
            | Self::UntagResource
            | Self::UpdateSecret
            | Self::UpdateSecretVersionStage
            | Self::ValidateResourcePolicy => "SecretId",
        };
        input.get(member).and_then(serde_json::Value::as_str).map_or(Subject::None, Subject::One)
    }
}

/// Runs one request: model validation, decoding, the handler, encoding.
/// `Ok(None)` is a success with an empty body.
pub async fn dispatch(ctx: &Ctx<'_>, op: Operation, body: serde_json::Value) -> Result<Option<Vec<u8>>> {
    ctx.app.model.validate(op.name(), &body).map_err(|invalid| match invalid {
        Invalid::Serialization(m) => ApiError::new(ErrorCode::SerializationException, m),
        Invalid::Validation(m) => ApiError::new(ErrorCode::ValidationException, m),
    })?;
    match op {
        Operation::BatchGetSecretValue => call(ctx, body, values::batch_get_secret_value),
        Operation::CreateSecret => call(ctx, body, lifecycle::create_secret),
        Operation::DeleteSecret => call(ctx, body, lifecycle::delete_secret),
        Operation::DescribeSecret => call(ctx, body, lifecycle::describe_secret),
        Operation::GetRandomPassword => call(ctx, body, password::get_random_password),
        // The one answer written by hand: it is most of what smemu serves (see `to_json`).
        Operation::GetSecretValue => values::get_secret_value(ctx, decode(body)?).map(|entry| Some(entry.to_json())),
        Operation::ListSecretVersionIds => call(ctx, body, values::list_secret_version_ids),
        Operation::ListSecrets => call(ctx, body, listing::list_secrets),
        Operation::PutSecretValue => call(ctx, body, values::put_secret_value),
        Operation::RestoreSecret => call(ctx, body, lifecycle::restore_secret),
        Operation::TagResource => call_no_output(ctx, body, tags::tag_resource),
        Operation::UntagResource => call_no_output(ctx, body, tags::untag_resource),
        Operation::UpdateSecret => call(ctx, body, lifecycle::update_secret),
        Operation::UpdateSecretVersionStage => call(ctx, body, values::update_secret_version_stage),
        Operation::RotateSecret => {
            let output = rotation::rotate_secret(ctx, decode(body)?).await?;
            encode(&output)
        }
        Operation::CancelRotateSecret => call(ctx, body, rotation::cancel_rotate_secret),
        Operation::PutResourcePolicy => call(ctx, body, policy::put_resource_policy),
        Operation::GetResourcePolicy => call(ctx, body, policy::get_resource_policy),
        Operation::DeleteResourcePolicy => call(ctx, body, policy::delete_resource_policy),
        Operation::ValidateResourcePolicy => call(ctx, body, policy::validate_resource_policy),
        Operation::ListResourcePolicies => call(ctx, body, policy::list_resource_policies),
        Operation::ReplicateSecretToRegions => call(ctx, body, replication::replicate_secret_to_regions),
        Operation::RemoveRegionsFromReplication => call(ctx, body, replication::remove_regions_from_replication),
        Operation::StopReplicationToReplica => call(ctx, body, replication::stop_replication_to_replica),
        Operation::AssociateCrossAccountReplica => call(ctx, body, replication::associate_cross_account_replica),
        Operation::DisassociateCrossAccountReplica => call(ctx, body, replication::disassociate_cross_account_replica),
    }
}

/// What an operation smemu does not implement yet answers.
fn not_supported(what: &str) -> ApiError {
    api_error!(NotImplementedException, "smemu does not support {what} yet.")
}

/// A handler's own check that failed, with the input member it is about, so that a caller
/// bringing the input from elsewhere (a seed file) can name its own field.
#[derive(Debug)]
pub struct Refused {
    /// The member's path as the model validator writes it: `secretString`, `rotationRules.duration`.
    pub member: &'static str,
    pub error: ApiError,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        refused.error
    }
}

/// Ties a check's error to the member it is about.
trait At<T> {
    fn at(self, member: &'static str) -> std::result::Result<T, Refused>;
}

impl<T> At<T> for Result<T> {
    fn at(self, member: &'static str) -> std::result::Result<T, Refused> {
        self.map_err(|error| Refused { member, error })
    }
}

/// Decodes an input the model check has passed.
///
/// # Errors
/// `SerializationException` only on a gap between the model and the input type.
pub fn decode<I: DeserializeOwned>(body: serde_json::Value) -> Result<I> {
    // The model check has already vetted every member's type; this only fails on a gap in it.
    // serde's own text would quote the value it choked on, which may be a secret.
    serde_json::from_value(body).map_err(|_| {
        ApiError::new(ErrorCode::SerializationException, "A member of the request has a type the operation can't read.")
    })
}

fn encode<O: Serialize>(output: &O) -> Result<Option<Vec<u8>>> {
    serde_json::to_vec(output).map(Some).map_err(|_| ApiError::internal("response encoding failed"))
}

fn call<I: DeserializeOwned, O: Serialize>(
    ctx: &Ctx<'_>,
    body: serde_json::Value,
    handler: fn(&Ctx<'_>, I) -> Result<O>,
) -> Result<Option<Vec<u8>>> {
    encode(&handler(ctx, decode(body)?)?)
}

fn call_no_output<I: DeserializeOwned>(
    ctx: &Ctx<'_>,
    body: serde_json::Value,
    handler: fn(&Ctx<'_>, I) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    handler(ctx, decode(body)?).map(|()| None)
}

/// The token check AWS makes before it looks the secret up.
fn require_token(token: Option<String>, code: ErrorCode) -> Result<String> {
    token.ok_or_else(|| {
        ApiError::new(code, "You must provide a ClientRequestToken value. We recommend a UUID-type value.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_operation_is_known() {
        for name in ["CreateSecret", "GetSecretValue", "ValidateResourcePolicy", "AssociateCrossAccountReplica"] {
            assert_eq!(Operation::from_name(name).unwrap().name(), name);
        }
        assert!(Operation::from_name("createsecret").is_none());
    }

    #[test]
    fn the_subject_is_the_identifier_never_a_value() {
        let input = serde_json::json!({
            "SecretId": "app/db", "Name": "new/one", "SecretString": "hunter2",
            "SecretIdList": ["a", "b"], "ClientRequestToken": "tok"
        });
        let one = |op: Operation| match op.subject(&input) {
            Subject::One(id) => Some(id),
            _ => None,
        };
        assert_eq!(one(Operation::GetSecretValue), Some("app/db"));
        assert_eq!(one(Operation::PutSecretValue), Some("app/db"));
        assert_eq!(one(Operation::CreateSecret), Some("new/one"));
        assert!(matches!(Operation::BatchGetSecretValue.subject(&input), Subject::List(ids) if ids.len() == 2));
        assert!(matches!(Operation::ListSecrets.subject(&input), Subject::None));
        assert!(matches!(Operation::GetSecretValue.subject(&serde_json::json!({"SecretId": 7})), Subject::None));
    }
}
