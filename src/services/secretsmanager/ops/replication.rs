//! ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica,
//! AssociateCrossAccountReplica and DisassociateCrossAccountReplica.

use super::Ctx;
use super::shapes::{self, ReplicaRegion, ReplicationStatus};
use crate::error::Result;
use crate::services::secretsmanager::state::ident;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateInput {
    secret_id: String,
    add_replica_regions: Vec<ReplicaRegion>,
    force_overwrite_replica_secret: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationOutput {
    #[serde(rename = "ARN")]
    arn: String,
    replication_status: Vec<ReplicationStatus>,
}

pub fn replicate_secret_to_regions(ctx: &Ctx<'_>, input: ReplicateInput) -> Result<ReplicationOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let requests = shapes::replica_requests(input.add_replica_regions)?;
    let overwrite = input.force_overwrite_replica_secret.unwrap_or(false);
    let (arn, links) = ctx.engine().replicate_to_regions(ctx.scope(), &input.secret_id, &requests, overwrite)?;
    Ok(ReplicationOutput { arn, replication_status: ReplicationStatus::list(&links) })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRegionsInput {
    secret_id: String,
    remove_replica_regions: Vec<String>,
}

pub fn remove_regions_from_replication(ctx: &Ctx<'_>, input: RemoveRegionsInput) -> Result<ReplicationOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let (arn, links) = ctx.engine().remove_regions(ctx.scope(), &input.secret_id, &input.remove_replica_regions)?;
    Ok(ReplicationOutput { arn, replication_status: ReplicationStatus::list(&links) })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateInput {
    secret_id: String,
    #[serde(rename = "CrossAccountReplicaARN")]
    cross_account_replica_arn: String,
    replica_restriction: Option<String>,
    #[serde(rename = "ReplicationRoleARN")]
    replication_role_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateOutput {
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(rename = "CrossAccountReplicaARN")]
    cross_account_replica_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_status: Option<&'static str>,
}

pub fn associate_cross_account_replica(ctx: &Ctx<'_>, input: AssociateInput) -> Result<AssociateOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let (arn, status) = ctx.engine().associate_cross_account(
        ctx.scope(),
        &input.secret_id,
        &input.cross_account_replica_arn,
        input.replication_role_arn,
        input.replica_restriction,
    )?;
    Ok(AssociateOutput {
        arn,
        cross_account_replica_arn: input.cross_account_replica_arn,
        replication_status: Some(status.as_str()),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateInput {
    secret_id: String,
    #[serde(rename = "CrossAccountReplicaARN")]
    cross_account_replica_arn: String,
}

pub fn disassociate_cross_account_replica(ctx: &Ctx<'_>, input: DisassociateInput) -> Result<AssociateOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let arn =
        ctx.engine().disassociate_cross_account(ctx.scope(), &input.secret_id, &input.cross_account_replica_arn)?;
    Ok(AssociateOutput { arn, cross_account_replica_arn: input.cross_account_replica_arn, replication_status: None })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopInput {
    secret_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopOutput {
    #[serde(rename = "ARN")]
    arn: String,
}

pub fn stop_replication_to_replica(ctx: &Ctx<'_>, input: StopInput) -> Result<StopOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let arn = ctx.engine().stop_replication(ctx.scope(), &input.secret_id)?;
    Ok(StopOutput { arn })
}
