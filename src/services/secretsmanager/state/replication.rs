//! Replicas: a primary's copies in other Regions of its account, kept true to it.
//!
//! A replica is a real secret in its Region's store, under the primary's ARN with only the
//! Region changed, carrying every version with its labels, the description, tags, resource
//! policy and deletion mark, each value sealed under the replica's own KMS key in its Region.
//! Only its primary changes it: every change a request makes to a secret goes through
//! `Engine::write_secret`, which calls [`Engine::sync_replicas`] once the change is applied.
//!
//! # No lock of one store is held while another is locked
//! A change to a primary is applied and journalled under the primary's locks, which are then
//! released; the copy to each replica is made under that replica's locks alone, and the statuses
//! go back to the primary under its lock again. So two primaries replicating into each other's
//! Regions can never wait on each other. Each replica keeps the primary's `revision` it copies,
//! so a copy made from an older state never overwrites a newer one.
//!
//! # Crashes
//! Each of those steps is its own journal record. A replica is derived state: after recovery,
//! and after an import, [`Engine::reconcile_replicas`] copies every primary to its replicas
//! again and drops replicas no primary lists, so wherever a kill -9 fell, a restarted smemu
//! holds replicas equal to their primaries. The steps are ordered so that what recovery finds
//! can be read one way only: a link is added before its replica is made and removed before its
//! replica is (an unlisted replica is an orphan), and a replica is promoted before its link is
//! dropped (a listed secret under the replica's ARN that is no longer a replica was promoted).

use super::secret::{ReplicaLink, ReplicaStatus, Secret, Version};
use super::{Due, DueKind, Engine, Scope, Store};
use crate::api_error;
use crate::clock::Timestamp;
use crate::error::{ApiError, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// [DOC: aws-cli describe-secret] A replica that holds its primary's state.
pub const REPLICATION_SUCCEEDED: &str = "Replication succeeded";
/// [DOC model, "such as"] A replica Region already has a secret of that name.
pub const NAME_TAKEN: &str = "Secret with this name already exists in this region";
/// How `ReplicationStatus` names the AWS managed key of a replica without a key of its own.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";
/// What a replica failed by a fault reports unless the fault gives its own message.
pub const FAULT_MESSAGE: &str = "Replication to this Region failed: the Region is unavailable.";

/// A fault injected through the control API: replication into `region` fails, or lags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// `None`: every account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    /// Replication into the Region fails with this status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<String>,
    /// Replication into the Region completes this long (milliseconds on smemu's clock) after
    /// the change; meanwhile the replica reads `InProgress` and keeps its previous state.
    #[serde(default)]
    pub lag_ms: i64,
}

/// One Region of `AddReplicaRegions`.
#[derive(Clone, Debug)]
pub struct ReplicaRequest {
    pub region: String,
    pub kms_key_id: Option<String>,
}

/// How a copy to one replica stands once a change has tried it, for its audit events.
#[derive(Clone, Debug)]
enum ReplicationStep {
    /// Scheduled to land later (a lag injected for the Region).
    InProgress,
    Succeeded,
    Failed(String),
}

/// What one copy to a replica came to.
enum Outcome {
    Status(ReplicaStatus, Option<String>, Option<Timestamp>),
    /// The replica now holds the primary's state, copied by this call.
    Copied,
    /// The replica already held the primary's state (or a newer one): nothing was copied.
    Current,
    /// The replica was promoted (StopReplicationToReplica): the link goes.
    Promoted,
    /// Nothing could be tried (the journal refuses changes): the link stays as it is.
    Untried,
}

fn failed(message: impl Into<String>) -> Outcome {
    Outcome::Status(ReplicaStatus::Failed, Some(message.into()), None)
}

/// Whether a copy to replicas is recorded in the audit trail: every copy a change makes is,
/// the ones recovery and an import make to bring replicas back in line are not (they repeat
/// copies already made).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announce {
    Yes,
    No,
}

/// Whether a change to `secret` has replicas to reach: Regional ones, or a cross-account
/// replica still associated.
#[must_use]
pub fn has_replicas(secret: &Secret) -> bool {
    !secret.replicas.is_empty() || secret.cross_account_replicas.iter().any(|l| l.status != ReplicaStatus::Detached)
}

/// The replica's ARN: the primary's with only the Region changed.
#[must_use]
pub fn replica_arn(primary_arn: &str, region: &str) -> String {
    let mut parts: Vec<&str> = primary_arn.splitn(5, ':').collect();
    if let Some(slot) = parts.get_mut(3) {
        *slot = region;
    }
    parts.join(":")
}

/// The guards DeleteSecret adds: a replica is deleted only through its primary, and a primary
/// only once it has no replica left.
///
/// # Errors
/// `InvalidParameterException` with AWS's texts.
pub fn check_deletable(secret: &Secret) -> Result<()> {
    if secret.is_replica() {
        return Err(ApiError::replica_read_only());
    }
    if !secret.replicas.is_empty() {
        let regions: Vec<&str> = secret.replicas.iter().map(|r| r.region.as_str()).collect();
        return Err(api_error!(
            InvalidParameterException,
            "You can't delete secret {} that still has replica regions [{}].",
            secret.arn,
            regions.join(", ")
        ));
    }
    if let Some(link) = secret.cross_account_replicas.iter().find(|r| r.status != ReplicaStatus::Detached) {
        // [unconfirmed text] Worded like the Regional one.
        return Err(api_error!(
            InvalidParameterException,
            "You can't delete secret {} that still has a cross-account replica [{}].",
            secret.arn,
            link.replica_arn
        ));
    }
    Ok(())
}

/// A replica Region must be another Region of the primary's partition.
///
/// # Errors
/// [AWS] `InvalidParameterException` `Invalid replica region.`
pub fn check_region(primary: &str, replica: &str) -> Result<()> {
    if replica == primary || super::ident::partition_of(replica) != super::ident::partition_of(primary) {
        return Err(api_error!(InvalidParameterException, "Invalid replica region."));
    }
    Ok(())
}

/// The links a new primary starts with: one per Region asked for (the last key given wins),
/// `InProgress`.
#[must_use]
pub fn links_for(requests: &[ReplicaRequest], overwrite: bool) -> Vec<ReplicaLink> {
    let mut links: Vec<ReplicaLink> = Vec::new();
    for request in requests {
        let key = request.kms_key_id.clone().filter(|k| !k.is_empty());
        match links.iter_mut().find(|l| l.region == request.region) {
            Some(link) => link.kms_key_id = key,
            None => links.push(ReplicaLink {
                region: request.region.clone(),
                kms_key_id: key,
                status: ReplicaStatus::InProgress,
                message: None,
                overwrite,
                due: None,
            }),
        }
    }
    links
}

impl Engine {
    /// ReplicateSecretToRegions (and a seeded secret's replicas, once it exists):
    /// records a link per Region, `InProgress`; the copies follow at once (or after a lag).
    /// A Region already replicated gets the new key. Returns the primary's ARN and its links
    /// as they stood when the change was made.
    ///
    /// # Errors
    /// `Invalid replica region.`, the lookup's and the replica guard's errors.
    pub fn replicate_to_regions(
        &self,
        scope: Scope<'_>,
        id: &str,
        requests: &[ReplicaRequest],
        overwrite: bool,
    ) -> Result<(String, Vec<ReplicaLink>)> {
        for request in requests {
            check_region(scope.region, &request.region)?;
        }
        self.write_live_secret(scope, id, |secret, _| {
            for request in requests {
                let key = request.kms_key_id.clone().filter(|k| !k.is_empty());
                match secret.replicas.iter_mut().find(|l| l.region == request.region) {
                    Some(link) => {
                        link.kms_key_id = key;
                        link.status = ReplicaStatus::InProgress;
                        link.message = None;
                        link.overwrite = overwrite;
                    }
                    None => secret.replicas.push(ReplicaLink {
                        region: request.region.clone(),
                        kms_key_id: key,
                        status: ReplicaStatus::InProgress,
                        message: None,
                        overwrite,
                        due: None,
                    }),
                }
            }
            Ok((secret.arn.clone(), secret.replicas.clone()))
        })
    }

    /// RemoveRegionsFromReplication: drops the links, then deletes those replicas at once (no
    /// recovery window). A Region that is not replicated is ignored.
    ///
    /// # Errors
    /// The lookup's and the replica guard's errors.
    pub fn remove_regions(&self, scope: Scope<'_>, id: &str, regions: &[String]) -> Result<(String, Vec<ReplicaLink>)> {
        let mut removed = Vec::new();
        let (arn, name, left) = self.write_secret(scope, id, |secret, _| {
            secret.replicas.retain(|link| {
                let goes = regions.contains(&link.region);
                if goes {
                    removed.push(link.region.clone());
                }
                !goes
            });
            Ok((secret.arn.clone(), secret.name.clone(), secret.replicas.clone()))
        })?;
        for region in &removed {
            self.drop_replica(Scope { region, ..scope }, &name, &replica_arn(&arn, region), scope.region);
        }
        Ok((arn, left))
    }

    /// StopReplicationToReplica, called on the replica in its Region: the replica becomes a
    /// standalone secret (same ARN), then its primary forgets it. Returns the replica's ARN.
    ///
    /// # Errors
    /// `InvalidRequestException` on a secret that is not a replica; the lookup's errors.
    pub fn stop_replication(&self, scope: Scope<'_>, id: &str) -> Result<String> {
        let (arn, name, primary_region, cross) = self.read_secret(scope, id, |s| {
            let cross = s.cross_account_primary.as_ref().map(|c| c.primary_arn.clone());
            match (&s.replica_of, cross) {
                (Some(region), _) => Ok((s.arn.clone(), s.name.clone(), Some(region.clone()), None)),
                (None, Some(primary)) => Ok((s.arn.clone(), s.name.clone(), None, Some(primary))),
                // [unconfirmed text]
                (None, None) => Err(api_error!(
                    InvalidRequestException,
                    "You can't stop replication on secret {} because it isn't a replica secret.",
                    s.arn
                )),
            }
        })?;
        if let Some(primary_arn) = cross {
            return self.stop_cross_account(scope, &name, &arn, &primary_arn).map(|()| arn);
        }
        let _ = self.write_quietly(scope, &name, |secret| {
            let ours = secret.arn == arn && secret.replica_of.is_some();
            if ours {
                secret.replica_of = None;
                secret.last_changed = self.now();
            }
            ours
        })?;
        if let Some(primary_region) = primary_region {
            let primary = Scope { region: &primary_region, ..scope };
            let region = scope.region;
            let _ = self.write_quietly(primary, &name, |secret| {
                let before = secret.replicas.len();
                secret.replicas.retain(|l| l.region != region);
                secret.replicas.len() != before
            });
        }
        Ok(arn)
    }

    /// Copies the primary `name` of `scope` to every replica it lists (the one propagation of
    /// every change), then records each outcome in the primary's links. Never fails: a replica
    /// that cannot be written reads `Failed` with the reason.
    pub(crate) fn sync_replicas(&self, scope: Scope<'_>, name: &str, announce: Announce) {
        let Some(primary) = self.snapshot(scope, name) else { return };
        if !has_replicas(&primary) || primary.is_replica() {
            return;
        }
        let now = self.now();
        let mut outcomes = Vec::new();
        let mut steps = Vec::new();
        for link in &primary.replicas {
            // A copy that lags started when it was scheduled; it only lands or fails now.
            let started = link.due.is_none();
            let outcome = match self.fault_for(scope.account, &link.region) {
                Some(Fault { fail: Some(message), .. }) => failed(message),
                Some(fault) if fault.lag_ms > 0 && link.due.is_none_or(|at| at > now) => {
                    let at = link.due.unwrap_or_else(|| now.plus_millis(fault.lag_ms));
                    self.schedule(Due {
                        at,
                        kind: DueKind::Replicate,
                        account: scope.account.to_owned(),
                        region: scope.region.to_owned(),
                        name: name.to_owned(),
                    });
                    Outcome::Status(ReplicaStatus::InProgress, None, Some(at))
                }
                _ => self.copy_to(scope, &primary, link),
            };
            let arn = || replica_arn(&primary.arn, &link.region);
            match &outcome {
                Outcome::Copied => steps.push((arn(), started, ReplicationStep::Succeeded)),
                // Nothing needed copying, but the replica was reported behind (a fault cleared).
                Outcome::Current if link.status != ReplicaStatus::InSync => {
                    steps.push((arn(), started, ReplicationStep::Succeeded));
                }
                Outcome::Status(ReplicaStatus::Failed, message, _) => {
                    steps.push((arn(), started, ReplicationStep::Failed(message.clone().unwrap_or_default())));
                }
                Outcome::Status(ReplicaStatus::InProgress, _, Some(_)) if started => {
                    steps.push((arn(), true, ReplicationStep::InProgress));
                }
                _ => {}
            }
            outcomes.push((link.region.clone(), outcome));
        }
        let mut cross = Vec::new();
        for link in primary.cross_account_replicas.iter().filter(|l| l.status != ReplicaStatus::Detached) {
            let (status, message, copied) = self.copy_cross_account(&primary, link);
            match status {
                ReplicaStatus::Failed => steps.push((
                    link.replica_arn.clone(),
                    true,
                    ReplicationStep::Failed(message.clone().unwrap_or_default()),
                )),
                ReplicaStatus::InSync if copied => {
                    steps.push((link.replica_arn.clone(), true, ReplicationStep::Succeeded))
                }
                _ => {}
            }
            cross.push((link.replica_arn.clone(), (status, message)));
        }
        if announce == Announce::Yes {
            self.announce(scope, &primary.arn, &steps);
        }
        let _ = self.write_quietly(scope, name, |secret| {
            let mut changed = false;
            for (arn, (status, message)) in cross {
                if let Some(link) = secret.cross_account_replicas.iter_mut().find(|l| l.replica_arn == arn)
                    && link.status != ReplicaStatus::Detached
                    && (link.status, &link.message) != (status, &message)
                {
                    link.status = status;
                    link.message = message;
                    changed = true;
                }
            }
            for (region, outcome) in outcomes {
                let outcome = match outcome {
                    Outcome::Copied | Outcome::Current => {
                        Outcome::Status(ReplicaStatus::InSync, Some(REPLICATION_SUCCEEDED.into()), None)
                    }
                    other => other,
                };
                match outcome {
                    Outcome::Untried | Outcome::Copied | Outcome::Current => {}
                    Outcome::Promoted => {
                        let before = secret.replicas.len();
                        secret.replicas.retain(|l| l.region != region);
                        changed |= secret.replicas.len() != before;
                    }
                    Outcome::Status(status, message, due) => {
                        if let Some(link) = secret.replicas.iter_mut().find(|l| l.region == region) {
                            let overwrite = link.overwrite && status != ReplicaStatus::InSync;
                            let new = ReplicaLink { status, message, due, overwrite, ..link.clone() };
                            if *link != new {
                                *link = new;
                                changed = true;
                            }
                        }
                    }
                }
            }
            changed
        });
    }

    /// Records the steps of the copies one change made: `(replica ARN, whether the copy started
    /// now, how it stands)`.
    fn announce(&self, scope: Scope<'_>, primary_arn: &str, steps: &[(String, bool, ReplicationStep)]) {
        let Some(audit) = self.audit.get() else { return };
        for (replica_arn, started, step) in steps {
            let event = |step| crate::audit::Replication {
                account: scope.account,
                region: scope.region,
                primary_arn,
                replica_arn,
                step,
            };
            if *started {
                audit.replication_event(&event(crate::audit::ReplicationStep::Started));
            }
            match step {
                ReplicationStep::InProgress => {}
                ReplicationStep::Succeeded => audit.replication_event(&event(crate::audit::ReplicationStep::Succeeded)),
                ReplicationStep::Failed(message) => {
                    audit.replication_event(&event(crate::audit::ReplicationStep::Failed(message)));
                }
            }
        }
    }

    /// Runs a lagging replication that has fallen due (the scheduler's `Replicate` entries).
    pub fn run_replication(&self, due: &Due) {
        self.sync_replicas(Scope::of(&due.account, &due.region), &due.name, Announce::Yes);
    }

    /// Makes every replica agree with its primary again and removes replicas no primary lists:
    /// what recovery and an import end with (see the module's notes on crashes).
    pub fn reconcile_replicas(&self) {
        for (account, region, store) in self.all_stores() {
            let secrets: Vec<(String, bool, Option<String>, String)> = store
                .inner
                .read()
                .secrets
                .values()
                .map(|c| {
                    let s = c.read();
                    (s.name.clone(), has_replicas(&s), s.replica_of.clone(), s.arn.clone())
                })
                .collect();
            for (name, primary, replica_of, arn) in secrets {
                let scope = Scope::of(&account, &region);
                if primary {
                    self.sync_replicas(scope, &name, Announce::No);
                }
                if let Some(primary_region) = replica_of {
                    let listed = self.snapshot(Scope::of(&account, &primary_region), &name).is_some_and(|p| {
                        replica_arn(&p.arn, &region) == arn && p.replicas.iter().any(|l| l.region == region)
                    });
                    if !listed {
                        self.drop_replica(scope, &name, &arn, &primary_region);
                    }
                }
            }
        }
    }

    /// Injects a fault (replacing one for the same account and Region); a failing Region's
    /// replicas read `Failed` at once. Returns the primaries to copy again (`catch_up`).
    pub fn set_fault(&self, fault: Fault) -> Vec<Due> {
        let failing = fault.fail.is_some();
        let (account, region) = (fault.account.clone(), fault.region.clone());
        {
            let mut faults = self.faults.write();
            faults.retain(|f| !(f.account == fault.account && f.region == fault.region));
            faults.push(fault);
        }
        if failing { self.replicating_to(account.as_deref(), Some(&region)) } else { Vec::new() }
    }

    /// The faults in force.
    #[must_use]
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.read().clone()
    }

    /// Clears the faults of one Region, or all of them. Returns the primaries whose replicas in
    /// those Regions are behind, for the caller to schedule (`catch_up`).
    pub fn clear_faults(&self, region: Option<&str>) -> Vec<Due> {
        let cleared: Vec<Fault> = {
            let mut faults = self.faults.write();
            let (gone, kept) = faults.drain(..).partition(|f| region.is_none_or(|r| f.region == r));
            *faults = kept;
            gone
        };
        if cleared.is_empty() {
            return Vec::new();
        }
        let mut due = Vec::new();
        for fault in cleared {
            due.extend(self.replicating_to(fault.account.as_deref(), Some(&fault.region)));
        }
        due.sort();
        due.dedup();
        due
    }

    /// Queues a copy of each primary in `due` now, on the scheduler's queue.
    pub fn catch_up(&self, due: Vec<Due>) {
        for entry in due {
            self.schedule(entry);
        }
    }

    /// `Replicate` entries due now for every primary with a replica in `region` (of `account`).
    fn replicating_to(&self, account: Option<&str>, region: Option<&str>) -> Vec<Due> {
        let now = self.now();
        let mut due = Vec::new();
        for (a, r, store) in self.all_stores() {
            if account.is_some_and(|want| want != a) {
                continue;
            }
            for cell in store.inner.read().secrets.values() {
                let s = cell.read();
                if s.replicas.iter().any(|l| region.is_none_or(|want| l.region == want)) {
                    due.push(Due {
                        at: now,
                        kind: DueKind::Replicate,
                        account: a.clone(),
                        region: r.clone(),
                        name: s.name.clone(),
                    });
                }
            }
        }
        due
    }

    fn fault_for(&self, account: &str, region: &str) -> Option<Fault> {
        let faults = self.faults.read();
        let matching = |f: &&Fault| f.region == region;
        // One for the account itself wins over one for every account.
        faults
            .iter()
            .filter(matching)
            .find(|f| f.account.as_deref() == Some(account))
            .or_else(|| faults.iter().filter(matching).find(|f| f.account.is_none()))
            .cloned()
    }

    fn all_stores(&self) -> Vec<(String, String, Arc<Store>)> {
        let accounts = self.accounts.read();
        let mut out = Vec::new();
        for (account, regions) in accounts.iter() {
            for (region, store) in regions {
                out.push((account.clone(), region.clone(), store.clone()));
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    /// A copy of the secret stored under `name`, if any.
    fn snapshot(&self, scope: Scope<'_>, name: &str) -> Option<Secret> {
        let store = self.existing_store(scope)?;
        let inner = store.inner.read();
        let secret = inner.secrets.get(name)?.read().clone();
        Some(secret)
    }

    /// Changes the secret stored under `name` without the checks and side effects of a
    /// request's change (no replica guard, no new revision, no copy to replicas): the
    /// replication bookkeeping. `f` says whether it changed anything; only then is it journalled.
    pub(super) fn write_quietly(
        &self,
        scope: Scope<'_>,
        name: &str,
        f: impl FnOnce(&mut Secret) -> bool,
    ) -> Result<bool> {
        let _order = self.begin_change()?;
        let Some(store) = self.existing_store(scope) else { return Ok(false) };
        let inner = store.inner.read();
        let Some(cell) = inner.secrets.get(name) else { return Ok(false) };
        let mut secret = cell.write();
        if !f(&mut secret) {
            return Ok(false);
        }
        let ticket = self.log_update(scope, &mut secret);
        self.changed(&store, ticket);
        Ok(true)
    }

    /// Deletes the replica of the primary in `primary_region` stored under `name`, if it is one.
    fn drop_replica(&self, scope: Scope<'_>, name: &str, arn: &str, primary_region: &str) {
        let Ok(_order) = self.begin_change() else { return };
        let Some(store) = self.existing_store(scope) else { return };
        let mut inner = store.inner.write();
        let ours = inner.secrets.get(name).is_some_and(|c| {
            let s = c.read();
            s.arn == arn && s.replica_of.as_deref() == Some(primary_region)
        });
        if ours {
            inner.remove(name);
            self.changed(&store, self.log_remove(scope, name));
        }
    }

    /// Makes the replica `link` names equal to `primary`: creates it, updates it, or (with
    /// ForceOverwriteReplicaSecret) replaces a same-named secret.
    fn copy_to(&self, scope: Scope<'_>, primary: &Secret, link: &ReplicaLink) -> Outcome {
        let replica_scope = Scope { region: &link.region, ..scope };
        let arn = replica_arn(&primary.arn, &link.region);
        let Ok(_order) = self.begin_change() else { return Outcome::Untried };
        // A Region without secrets gets its store only with its replica: a copy that fails
        // there leaves nothing behind (an empty store would be state no record describes).
        let mut prepared = None;
        if self.existing_store(replica_scope).is_none() {
            match self.replica_versions(scope, replica_scope, primary, &arn, link, None) {
                Ok(versions) => prepared = Some(versions),
                Err(e) => return failed(e.message),
            }
        }
        let store = self.store(replica_scope);
        let mut inner = store.inner.write();
        let now = self.now();
        if inner.purge_if_due(&primary.name, now).is_some() {
            self.changed(&store, self.log_remove(replica_scope, &primary.name));
        }
        let existing = inner.secrets.get(&primary.name).cloned();
        if let Some(cell) = existing {
            let mut replica = cell.write();
            let ours = replica.arn == arn && replica.replica_of.as_deref() == Some(scope.region);
            if replica.arn == arn && !replica.is_replica() {
                return Outcome::Promoted;
            }
            if ours {
                if replica.revision > primary.revision {
                    return Outcome::Current;
                }
                let behind = replica.revision < primary.revision;
                let versions = match self.replica_versions(scope, replica_scope, primary, &arn, link, Some(&replica)) {
                    Ok(versions) => versions,
                    Err(e) => return failed(e.message),
                };
                let removed = replica
                    .versions
                    .iter()
                    .filter(|v| !versions.iter().any(|(n, _)| n.id == v.id))
                    .map(|v| v.id.clone());
                replica.removed_versions = removed.collect();
                replica.touched_versions =
                    versions.iter().filter(|(_, changed)| *changed).map(|(v, _)| v.id.clone()).collect();
                replica.versions = versions.into_iter().map(|(v, _)| v).collect();
                replica.reindex();
                copy_head(&mut replica, primary, link, scope.region);
                self.schedule_for(scope.account, &link.region, &replica);
                let ticket = self.log_update(replica_scope, &mut replica);
                self.changed(&store, ticket);
                return if behind { Outcome::Copied } else { Outcome::Current };
            }
            if !link.overwrite {
                return failed(NAME_TAKEN);
            }
        }
        let versions =
            match prepared.map_or_else(|| self.replica_versions(scope, replica_scope, primary, &arn, link, None), Ok) {
                Ok(versions) => versions,
                Err(e) => return failed(e.message),
            };
        // A secret being overwritten goes first, so the indexes hold only the replica.
        inner.remove(&primary.name);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let mut replica = Secret::new(seq, primary.name.clone(), arn, now);
        replica.versions = versions.into_iter().map(|(v, _)| v).collect();
        copy_head(&mut replica, primary, link, scope.region);
        self.schedule_for(scope.account, &link.region, &replica);
        replica.ticket = self.log_put(replica_scope, &replica);
        self.changed(&store, replica.ticket);
        inner.insert(replica);
        Outcome::Copied
    }

    /// The primary's versions as the replica keeps them, each with whether it is new or changed.
    /// A value the replica already holds under the same key is kept; any other is opened under
    /// the primary's key and sealed under the replica's, for the replica's ARN. A key the
    /// replica is given is checked first, so a replica without a value fails on a bad key too.
    pub(super) fn replica_versions(
        &self,
        primary_scope: Scope<'_>,
        replica_scope: Scope<'_>,
        primary: &Secret,
        arn: &str,
        link: &ReplicaLink,
        base: Option<&Secret>,
    ) -> Result<Vec<(Version, bool)>> {
        let key = link.kms_key_id.as_deref();
        let base = base.filter(|b| b.kms_key_id.as_deref() == key);
        if base.is_none() {
            self.vault().check_key(replica_scope, key, arn)?;
        }
        let mut out = Vec::with_capacity(primary.versions.len());
        for version in &primary.versions {
            let kept = base.and_then(|b| b.version(&version.id));
            let (value, fresh) = match (kept, &version.value) {
                (Some(k), Some(_)) if k.value.is_some() => (k.value.clone(), false),
                (Some(k), None) if k.value.is_none() => (None, false),
                (_, Some(sealed)) => {
                    let plain = self.vault().open(primary_scope, &primary.arn, &version.id, sealed)?;
                    (Some(self.vault().seal(replica_scope, key, arn, &version.id, &plain)?), true)
                }
                (_, None) => (None, true),
            };
            let changed = fresh || kept.is_none_or(|k| k.stages != version.stages);
            out.push((
                Version {
                    id: version.id.clone(),
                    value,
                    stages: version.stages.clone(),
                    created: version.created,
                    last_accessed: kept.and_then(|k| k.last_accessed),
                },
                changed,
            ));
        }
        Ok(out)
    }
}

/// What a replica takes from its primary besides the versions. Rotation stays with the primary
/// (it rotates there and its new versions propagate), and the replica keeps its own access dates.
fn copy_head(replica: &mut Secret, primary: &Secret, link: &ReplicaLink, primary_region: &str) {
    replica.description.clone_from(&primary.description);
    replica.secret_type.clone_from(&primary.secret_type);
    replica.owning_service.clone_from(&primary.owning_service);
    replica.tags.clone_from(&primary.tags);
    replica.ever_tagged = primary.ever_tagged;
    replica.policy.clone_from(&primary.policy);
    replica.deletion = primary.deletion;
    replica.last_changed = primary.last_changed;
    replica.kms_key_id.clone_from(&link.kms_key_id);
    replica.revision = primary.revision;
    replica.replica_of = Some(primary_region.to_owned());
}
