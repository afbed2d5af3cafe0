//! Cross-account replicas (the 2026 model): a secret another account creates with
//! `CrossAccountPrimaryARN` and no value, which the primary's owner then associates; from then
//! on the primary's versions reach it as they reach Regional replicas (`replication`), sealed
//! under the replica's own customer managed key.
//!
//! Every text here is unconfirmed (security-and-replication.md §4.8 names none); each is worded
//! like its nearest confirmed neighbour and kept in this one file.

use super::ident::{self, SecretRef};
use super::secret::{CrossAccountPrimary, CrossAccountReplica, ReplicaStatus, ResourcePolicy, Secret};
use super::{Engine, Scope};
use crate::api_error;
use crate::error::Result;

/// The name AWS gives the policy it attaches to a cross-account replica.
pub const SYSTEM_POLICY_NAME: &str = "cross-account-replication";

/// The system-managed policy of a cross-account replica: the primary's account may have
/// Secrets Manager accept replication into it (and nothing else).
#[must_use]
pub fn system_policy(primary_account: &str, partition: &str) -> ResourcePolicy {
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CrossAccountReplication",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:{partition}:iam::{primary_account}:root") },
            "Action": "secretsmanager:AcceptCrossAccountReplication",
            "Resource": "*"
        }]
    });
    ResourcePolicy {
        document: document.to_string().into(),
        block_public: false,
        name: Some(SYSTEM_POLICY_NAME.to_owned()),
    }
}

/// The account, Region and name of a full secret ARN in another account of the same Region
/// and partition as `scope`.
///
/// # Errors
/// `InvalidParameterException` for anything else.
pub fn other_account_arn<'a>(scope: Scope<'_>, arn: &'a str, member: &str) -> Result<(&'a str, &'a str)> {
    match ident::parse_secret_id(arn) {
        SecretRef::Arn { region, account, name, .. }
            if region == scope.region
                && account != scope.account
                && crate::auth::is_account_id(account)
                && arn.starts_with(&format!("arn:{}:", ident::partition_of(scope.region))) =>
        {
            Ok((account, name))
        }
        _ => Err(api_error!(
            InvalidParameterException,
            "The {member} must be the full ARN of a secret in another account of the same Region and partition."
        )),
    }
}

/// What CreateSecret refuses next to `CrossAccountPrimaryARN`.
///
/// # Errors
/// `InvalidParameterException`.
pub fn check_new_replica(members_given: &[&str], kms_key_id: Option<&str>) -> Result<()> {
    if let Some(member) = members_given.first() {
        return Err(api_error!(
            InvalidParameterException,
            "You can't specify {member} when you create a cross-account replica: it takes its value and metadata from its primary."
        ));
    }
    match kms_key_id {
        Some(key) if !key.is_empty() && !key.ends_with("alias/aws/secretsmanager") => Ok(()),
        _ => Err(api_error!(
            InvalidParameterException,
            "A cross-account replica must be encrypted with a customer managed key: give its KmsKeyId. The AWS managed key aws/secretsmanager doesn't support cross-account access."
        )),
    }
}

/// The replica's state as a new cross-account replica starts: no value, `Pending`.
pub fn start_replica(secret: &mut Secret, primary_arn: String, primary_account: &str, partition: &str) {
    secret.cross_account_primary =
        Some(CrossAccountPrimary { primary_arn, status: ReplicaStatus::Pending, message: None });
    secret.policy = Some(system_policy(primary_account, partition));
}

impl Engine {
    /// AssociateCrossAccountReplica, called on the primary: checks the replica names this
    /// primary and its key can be used, records the link and copies the primary to it.
    /// Repeating it repairs the link. Returns the primary's ARN and the link's status as the
    /// call leaves it.
    ///
    /// # Errors
    /// The lookups' errors, a second replica, a replica of another primary, an unusable key;
    /// nothing is changed then.
    pub fn associate_cross_account(
        &self,
        scope: Scope<'_>,
        id: &str,
        replica_arn: &str,
        role_arn: Option<String>,
        restriction: Option<String>,
    ) -> Result<(String, ReplicaStatus)> {
        let (account, name) = other_account_arn(scope, replica_arn, "CrossAccountReplicaARN")?;
        let replica_scope = Scope { account, region: scope.region, acting: None };
        let primary_arn = self.read_secret(scope, id, |s| Ok(s.arn.clone()))?;
        let replica_key = self.read_secret(replica_scope, replica_arn, |r| match &r.cross_account_primary {
            Some(link) if link.primary_arn == primary_arn => Ok(r.kms_key_id.clone()),
            _ => Err(api_error!(
                InvalidRequestException,
                "The secret {replica_arn} isn't a cross-account replica of {primary_arn}."
            )),
        })?;
        // The dry run: the replica's key must take a value before anything is recorded.
        self.vault().check_key(replica_scope, replica_key.as_deref(), replica_arn)?;
        self.write_live_secret(scope, id, |secret, _| {
            if let Some(other) = secret
                .cross_account_replicas
                .iter()
                .find(|r| r.replica_arn != replica_arn && r.status != ReplicaStatus::Detached)
            {
                return Err(api_error!(
                    InvalidRequestException,
                    "The secret {} already has the cross-account replica {}; a primary secret can have one.",
                    secret.arn,
                    other.replica_arn
                ));
            }
            secret.cross_account_replicas.retain(|r| r.replica_arn != replica_arn);
            secret.cross_account_replicas.push(CrossAccountReplica {
                replica_arn: replica_arn.to_owned(),
                role_arn,
                restriction,
                status: ReplicaStatus::InProgress,
                message: None,
            });
            Ok(())
        })?;
        let _ = name;
        Ok((primary_arn, ReplicaStatus::InProgress))
    }

    /// DisassociateCrossAccountReplica: replication stops; both sides read `Detached` and the
    /// replica stays (its owner makes it standalone with StopReplicationToReplica).
    ///
    /// # Errors
    /// The lookup's errors; a replica the primary is not linked to.
    pub fn disassociate_cross_account(&self, scope: Scope<'_>, id: &str, replica_arn: &str) -> Result<String> {
        let (account, name) = other_account_arn(scope, replica_arn, "CrossAccountReplicaARN")?;
        let arn = self.write_live_secret(scope, id, |secret, _| {
            let Some(link) = secret.cross_account_replicas.iter_mut().find(|r| r.replica_arn == replica_arn) else {
                return Err(api_error!(
                    InvalidRequestException,
                    "The secret {} has no cross-account replica {replica_arn}.",
                    secret.arn
                ));
            };
            link.status = ReplicaStatus::Detached;
            link.message = None;
            Ok(secret.arn.clone())
        })?;
        let replica_scope = Scope { account, region: scope.region, acting: None };
        let _ = self.write_quietly(replica_scope, name, |replica| match &mut replica.cross_account_primary {
            Some(link) if link.primary_arn == arn && replica.arn == replica_arn => {
                link.status = ReplicaStatus::Detached;
                link.message = None;
                true
            }
            _ => false,
        });
        Ok(arn)
    }

    /// StopReplicationToReplica on a cross-account replica: it becomes standalone and loses the
    /// system-managed policy; its primary's entry reads `Detached`.
    pub(super) fn stop_cross_account(&self, scope: Scope<'_>, name: &str, arn: &str, primary_arn: &str) -> Result<()> {
        self.write_quietly(scope, name, |secret| {
            secret.cross_account_primary = None;
            if secret.policy.as_ref().is_some_and(|p| p.name.as_deref() == Some(SYSTEM_POLICY_NAME)) {
                secret.policy = None;
            }
            secret.last_changed = self.now();
            true
        })?;
        if let SecretRef::Arn { region, account, name: primary_name, .. } = ident::parse_secret_id(primary_arn) {
            let _ = self.write_quietly(Scope { account, region, acting: scope.acting }, primary_name, |secret| {
                let mut changed = false;
                for link in secret.cross_account_replicas.iter_mut().filter(|l| l.replica_arn == arn) {
                    link.status = ReplicaStatus::Detached;
                    link.message = None;
                    changed = true;
                }
                changed
            });
        }
        Ok(())
    }

    /// Copies `primary`'s versions and description to its cross-account replica; the outcome
    /// for the primary's entry. The replica keeps its own key, tags and system policy.
    pub(super) fn copy_cross_account(
        &self,
        primary: &Secret,
        link: &CrossAccountReplica,
    ) -> (ReplicaStatus, Option<String>, bool) {
        let SecretRef::Arn { region, account, name, .. } = ident::parse_secret_id(&link.replica_arn) else {
            return (ReplicaStatus::Failed, Some("The replica's ARN is not a secret ARN.".into()), false);
        };
        let primary_scope = Scope::of(primary.arn.split(':').nth(4).unwrap_or_default(), region);
        let replica_scope = Scope::of(account, region);
        let Ok(_order) = self.begin_change() else { return (link.status, link.message.clone(), false) };
        let Some(store) = self.existing_store(replica_scope) else {
            return (ReplicaStatus::Failed, Some("The replica secret no longer exists.".into()), false);
        };
        let inner = store.inner.read();
        let Some(cell) = inner.secrets.get(name) else {
            return (ReplicaStatus::Failed, Some("The replica secret no longer exists.".into()), false);
        };
        let mut replica = cell.write();
        let ours = replica.arn == link.replica_arn
            && replica
                .cross_account_primary
                .as_ref()
                .is_some_and(|c| c.primary_arn == primary.arn && c.status != ReplicaStatus::Detached);
        if !ours {
            return (ReplicaStatus::Detached, None, false);
        }
        if replica.revision > primary.revision {
            return (ReplicaStatus::InSync, Some(super::replication::REPLICATION_SUCCEEDED.into()), false);
        }
        let behind = replica.revision < primary.revision;
        let key_link = super::secret::ReplicaLink {
            region: region.to_owned(),
            kms_key_id: replica.kms_key_id.clone(),
            status: ReplicaStatus::InProgress,
            message: None,
            overwrite: false,
            due: None,
        };
        let versions = match self.replica_versions(
            primary_scope,
            replica_scope,
            primary,
            &link.replica_arn,
            &key_link,
            Some(&replica),
        ) {
            Ok(versions) => versions,
            Err(e) => {
                let message = e.message.into_owned();
                if let Some(c) = replica.cross_account_primary.as_mut() {
                    c.status = ReplicaStatus::Failed;
                    c.message = Some(message.clone());
                }
                let ticket = self.log_update(replica_scope, &mut replica);
                self.changed(&store, ticket);
                return (ReplicaStatus::Failed, Some(message), false);
            }
        };
        let removed =
            replica.versions.iter().filter(|v| !versions.iter().any(|(n, _)| n.id == v.id)).map(|v| v.id.clone());
        replica.removed_versions = removed.collect();
        replica.touched_versions = versions.iter().filter(|(_, changed)| *changed).map(|(v, _)| v.id.clone()).collect();
        replica.versions = versions.into_iter().map(|(v, _)| v).collect();
        replica.reindex();
        replica.description.clone_from(&primary.description);
        replica.last_changed = primary.last_changed;
        replica.revision = primary.revision;
        if let Some(c) = replica.cross_account_primary.as_mut() {
            c.status = ReplicaStatus::InSync;
            c.message = Some(super::replication::REPLICATION_SUCCEEDED.into());
        }
        let ticket = self.log_update(replica_scope, &mut replica);
        self.changed(&store, ticket);
        (ReplicaStatus::InSync, Some(super::replication::REPLICATION_SUCCEEDED.into()), behind)
    }
}
