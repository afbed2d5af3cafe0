//! CreateSecret, UpdateSecret, DescribeSecret, DeleteSecret, RestoreSecret.

use super::shapes::{self, Flavor, SecretDescription, Tag};
use super::{At, Ctx, Refused, require_token};
use crate::api_error;
use crate::error::{ErrorCode, Result};
use crate::protocol::json::{Blob, Epoch};
use crate::services::secretsmanager::state::{NewSecret, SecretUpdate, cross_account, ident};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    tags: Option<Vec<Tag>>,
    add_replica_regions: Option<Vec<shapes::ReplicaRegion>>,
    force_overwrite_replica_secret: Option<bool>,
    #[serde(rename = "CrossAccountPrimaryARN")]
    cross_account_primary_arn: Option<String>,
    r#type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_status: Option<Vec<shapes::ReplicationStatus>>,
}

/// CreateSecret's own checks, in the order AWS makes them, and what the engine then gets.
///
/// # Errors
/// The first check that fails, with the member it is about.
pub fn prepare_create_secret(input: CreateSecretInput) -> std::result::Result<NewSecret, Refused> {
    ident::check_name(&input.name).at("name")?;
    let token =
        require_token(input.client_request_token, ErrorCode::InvalidRequestException).at("clientRequestToken")?;
    if input.cross_account_primary_arn.is_some() {
        let given = [
            ("SecretString", input.secret_string.is_some()),
            ("SecretBinary", input.secret_binary.is_some()),
            ("Description", input.description.is_some()),
            ("AddReplicaRegions", input.add_replica_regions.is_some()),
            ("Type", input.r#type.is_some()),
        ];
        let given: Vec<&str> = given.iter().filter(|(_, g)| *g).map(|(m, _)| *m).collect();
        cross_account::check_new_replica(&given, input.kms_key_id.as_deref()).at("crossAccountPrimaryARN")?;
    }
    let value = shapes::secret_value(input.secret_string, input.secret_binary).at("secretString")?;
    let replicas = shapes::replica_requests(input.add_replica_regions.unwrap_or_default()).at("addReplicaRegions")?;
    if let Some(key) = &input.kms_key_id {
        shapes::check_kms_key_id(key).at("kmsKeyId")?;
    }
    let tags = shapes::tags_to_state(input.tags.unwrap_or_default()).at("tags")?;
    Ok(NewSecret {
        name: input.name,
        token,
        description: input.description,
        kms_key_id: input.kms_key_id,
        secret_type: input.r#type,
        value,
        tags,
        replicas,
        overwrite_replicas: input.force_overwrite_replica_secret.unwrap_or(false),
        cross_account_primary: input.cross_account_primary_arn,
    })
}

pub fn create_secret(ctx: &Ctx<'_>, input: CreateSecretInput) -> Result<CreateSecretOutput> {
    let created = ctx.engine().create_secret(ctx.scope(), prepare_create_secret(input)?)?;
    Ok(CreateSecretOutput {
        arn: created.arn,
        name: created.name,
        version_id: created.version_id,
        replication_status: created.replicas.as_deref().map(shapes::ReplicationStatus::list),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    r#type: Option<String>,
}

pub fn update_secret(ctx: &Ctx<'_>, input: UpdateSecretInput) -> Result<CreateSecretOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let value = shapes::secret_value(input.secret_string, input.secret_binary)?;
    // The token only matters when a new version is made; AWS asks for it before the lookup.
    let token = match value {
        Some(_) => Some(require_token(input.client_request_token, ErrorCode::InvalidRequestException)?),
        None => None,
    };
    if let Some(key) = &input.kms_key_id {
        shapes::check_kms_key_id(key)?;
    }
    let updated = ctx.engine().update_secret(
        ctx.scope(),
        &input.secret_id,
        SecretUpdate {
            token,
            description: input.description,
            kms_key_id: input.kms_key_id,
            secret_type: input.r#type,
            value,
        },
    )?;
    Ok(CreateSecretOutput {
        arn: updated.arn,
        name: updated.name,
        version_id: updated.version_id,
        replication_status: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: String,
}

pub fn describe_secret(ctx: &Ctx<'_>, input: SecretIdInput) -> Result<SecretDescription> {
    ident::check_secret_id(&input.secret_id)?;
    ctx.engine().read_secret(ctx.scope(), &input.secret_id, |s| Ok(SecretDescription::of(s, Flavor::Describe)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretInput {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: Epoch,
}

pub fn delete_secret(ctx: &Ctx<'_>, input: DeleteSecretInput) -> Result<DeleteSecretOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let force = input.force_delete_without_recovery.unwrap_or(false);
    if let Some(days) = input.recovery_window_in_days {
        if !(7..=30).contains(&days) {
            return Err(api_error!(
                InvalidParameterException,
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            ));
        }
        if force {
            return Err(api_error!(
                InvalidParameterException,
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            ));
        }
    }
    let deleted = ctx.engine().delete_secret(ctx.scope(), &input.secret_id, input.recovery_window_in_days, force)?;
    Ok(DeleteSecretOutput { arn: deleted.arn, name: deleted.name, deletion_date: Epoch(deleted.deletion_date) })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

pub fn restore_secret(ctx: &Ctx<'_>, input: SecretIdInput) -> Result<RestoreSecretOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let (arn, name) = ctx.engine().restore_secret(ctx.scope(), &input.secret_id)?;
    Ok(RestoreSecretOutput { arn, name })
}
