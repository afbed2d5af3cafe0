//! The state engine: every secret of every account and region, and every rule about them.
//!
//! No HTTP and no wire names in here. Each account+region pair has its own [`Store`] behind its
//! own lock, so traffic in one never waits on another. Reads take a read lock; a GetSecretValue
//! upgrades to a write only when the day-granular `LastAccessedDate` has to move.
//!
//! # Changes are all-or-nothing, and journalled in the order they are applied
//! - Every operation checks everything that can fail before it changes anything, so an error
//!   leaves the state exactly as it was (`tests/hostile/state.rs` and the property test in
//!   `state::atomic_tests` hold every operation to that).
//! - A change appends its journal record under the lock that orders it: a secret's own lock for
//!   changes to one secret, its store's map lock for creations and removals. Reset and import,
//!   which replace whole stores, hold the engine's `order` gate exclusively, while every other
//!   change holds it shared for as long as it runs; so no change can land in a store that a reset
//!   has already dropped, and the journal's order is the order in which changes were applied.
//!   Reads never touch the gate.
//! - Each secret (and each store, for what a listing or a miss reveals) remembers the journal
//!   *ticket* of the last change to it. Every operation reports to the [`ChangeLog`] the tickets
//!   of what it looked at and of the changes it made, so whoever answers can hold the answer
//!   back until those are durable: no one is ever shown a change that a failed write later takes
//!   back, not even as an error such as "already exists" (see `App::settled`).

pub mod cross_account;
pub mod ident;
pub mod listing;
pub mod replication;
pub mod rotation;
pub mod secret;

use crate::api_error;
use crate::clock::{Clock, Timestamp};
use crate::error::{ApiError, Result};
use foldhash::{HashMap, HashMapExt};
use ident::SecretRef;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use ring::rand::SystemRandom;
use secret::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Deletion, Rotation, Sealed, Secret, SecretValue, Tag, Version};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub use listing::{Cursor, ListQuery, SortBy};

/// Which account and region a request acts in.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// Who the request acts for, as KMS is told; `None` outside a request (the scheduler, a
    /// seed file), where the account itself acts.
    pub acting: Option<&'a crate::auth::Caller>,
}

impl<'a> Scope<'a> {
    /// A scope outside any request.
    #[must_use]
    pub const fn of(account: &'a str, region: &'a str) -> Self {
        Self { account, region, acting: None }
    }
}

/// Seals and opens secret values: envelope encryption under the secret's KMS key
/// (`services::secretsmanager::encryption` implements it over the key store). The engine never
/// keeps a plaintext value; it calls these under the lock of the secret the value belongs to, so
/// an error leaves the secret unchanged.
pub trait Vault: Send + Sync {
    /// Seals `value` for version `version_id` of the secret `arn`, under `key` (as the secret
    /// names it; `None`: the AWS managed key).
    ///
    /// # Errors
    /// `EncryptionFailure` (and the other answers a KMS refusal gets).
    fn seal(
        &self,
        scope: Scope<'_>,
        key: Option<&str>,
        arn: &str,
        version_id: &str,
        value: &SecretValue,
    ) -> Result<Sealed>;

    /// Opens what [`Self::seal`] made for the same secret and version.
    ///
    /// # Errors
    /// `DecryptionFailure` (and the other answers a KMS refusal gets).
    fn open(&self, scope: Scope<'_>, arn: &str, version_id: &str, sealed: &Sealed) -> Result<SecretValue>;

    /// The same value with its data key wrapped by `key` as well (a secret changing its key);
    /// `None` when the newest wrapping already uses that key.
    ///
    /// # Errors
    /// As [`Self::seal`] and [`Self::open`].
    fn rewrap(
        &self,
        scope: Scope<'_>,
        key: Option<&str>,
        arn: &str,
        version_id: &str,
        sealed: &Sealed,
    ) -> Result<Option<Sealed>>;

    /// Whether `key` can be used for the secret `arn` at all (a secret being given a key).
    ///
    /// # Errors
    /// As [`Self::seal`].
    fn check_key(&self, scope: Scope<'_>, key: Option<&str>, arn: &str) -> Result<()>;
}

pub const DEFAULT_RECOVERY_WINDOW_DAYS: i64 = 30;

/// Everything CreateSecret needs once the request has been validated.
#[derive(Debug, Default)]
pub struct NewSecret {
    pub name: String,
    pub token: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_type: Option<String>,
    pub value: Option<SecretValue>,
    pub tags: Vec<Tag>,
    /// AddReplicaRegions.
    pub replicas: Vec<replication::ReplicaRequest>,
    /// ForceOverwriteReplicaSecret.
    pub overwrite_replicas: bool,
    /// CrossAccountPrimaryARN: the secret is a cross-account replica of that primary.
    pub cross_account_primary: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Created {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
    /// The replicas' links as the creation left them, when replicas were asked for.
    pub replicas: Option<Vec<secret::ReplicaLink>>,
}

#[derive(Debug)]
pub struct Stored {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub stages: Vec<String>,
}

#[derive(Debug)]
pub struct Updated {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
}

#[derive(Debug)]
pub struct Deleted {
    pub arn: String,
    pub name: String,
    pub deletion_date: Timestamp,
}

/// UpdateSecret's optional changes.
#[derive(Debug, Default)]
pub struct SecretUpdate {
    pub token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_type: Option<String>,
    pub value: Option<SecretValue>,
}

/// A secret as a seed file describes it, already checked.
#[derive(Debug, Default)]
pub struct SeedSecret {
    pub name: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Vec<Tag>,
    /// Oldest first, with the exact stages each carries.
    pub versions: Vec<SeedVersion>,
    pub policy: Option<secret::ResourcePolicy>,
    pub rotation: Rotation,
    /// Replicas made once the secret is created.
    pub replicas: Vec<replication::ReplicaRequest>,
}

#[derive(Debug)]
pub struct SeedVersion {
    /// `None` derives a stable id from the secret's place, so re-seeding finds the same version.
    pub id: Option<String>,
    pub value: SecretValue,
    pub stages: Vec<String>,
}

/// Which version GetSecretValue asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct VersionSelector<'a> {
    pub version_id: Option<&'a str>,
    pub stage: Option<&'a str>,
}

pub struct Engine {
    clock: Arc<Clock>,
    /// Held shared by every change for as long as it runs, and exclusively by the changes that
    /// replace whole stores (reset, import, a rollback), so those never interleave with others.
    order: RwLock<()>,
    /// The ticket of the last reset or import: what a request that finds no store has seen.
    reset_ticket: AtomicU64,
    accounts: RwLock<HashMap<String, HashMap<String, Arc<Store>>>>,
    rng: SystemRandom,
    /// Receives the after-image of every change, when state is durable.
    changelog: OnceLock<Arc<dyn ChangeLog>>,
    /// Work that falls due on smemu's clock, shared with the other services (KMS key deletions).
    due: Arc<DueQueue>,
    /// Seals and opens every value (see [`Engine::set_vault`]).
    vault: OnceLock<Arc<dyn Vault>>,
    /// The replication faults a test has injected (see `replication`).
    faults: RwLock<Vec<replication::Fault>>,
    /// Where the copies to replicas are recorded as they happen (see [`Engine::attach_audit`]).
    audit: OnceLock<Arc<crate::audit::Audit>>,
}

/// Work that falls due at a time on smemu's clock, earliest first, for every service: the one
/// queue the scheduler sleeps on.
#[derive(Default)]
pub struct DueQueue {
    entries: Mutex<BTreeSet<Due>>,
    /// Woken whenever the queue gains an entry, so a sleeper can look at the new earliest time.
    changed: tokio::sync::Notify,
}

impl DueQueue {
    /// Adds scheduled work and wakes whoever sleeps until the earliest entry.
    pub fn schedule(&self, due: Due) {
        self.entries.lock().insert(due);
        self.changed.notify_waiters();
    }

    /// When the earliest scheduled work falls due.
    #[must_use]
    pub fn next(&self) -> Option<Timestamp> {
        self.entries.lock().first().map(|d| d.at)
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&self, keep: impl FnMut(&Due) -> bool) {
        self.entries.lock().retain(keep);
        self.changed.notify_waiters();
    }

    /// Removes and returns every entry.
    fn take_all(&self) -> BTreeSet<Due> {
        std::mem::take(&mut *self.entries.lock())
    }

    /// Adds every entry of `entries`.
    fn extend(&self, entries: BTreeSet<Due>) {
        self.entries.lock().extend(entries);
        self.changed.notify_waiters();
    }

    /// Removes and returns the scheduled work due at or before `now`, earliest first.
    pub fn take(&self, now: Timestamp) -> Vec<Due> {
        let mut due = self.entries.lock();
        let mut taken = Vec::new();
        while due.first().is_some_and(|d| d.at <= now) {
            taken.extend(due.pop_first());
        }
        taken
    }
}

/// Where the engine writes each change, as bytes, under the lock that made it.
pub trait ChangeLog: Send + Sync {
    /// Appends a record; returns its ticket, a number above every earlier record's.
    fn append(&self, record: &[u8]) -> u64;
    /// Whether a change may be made now; an error refuses it before anything is changed.
    fn check_writable(&self) -> Result<()>;
    /// The current operation looked at, or made, the change with `ticket` (or earlier ones): its
    /// answer must wait until that record is durable.
    fn observed(&self, ticket: u64);
}

/// One change, as journalled: replaying changes in order over a snapshot rebuilds the state.
/// Each is an after-image, so replaying one twice is harmless.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::large_enum_variant)] // lives only while one record is encoded or replayed
pub enum Change<'a> {
    Put {
        account: Cow<'a, str>,
        region: Cow<'a, str>,
        secret: Cow<'a, Secret>,
    },
    /// A change to an existing secret: its head, and only the versions the change added or
    /// altered (with their values), plus the ids of versions it removed. Keeps a record's size
    /// independent of how many versions the secret has.
    Update {
        account: Cow<'a, str>,
        region: Cow<'a, str>,
        secret: Cow<'a, Secret>,
        removed: Vec<String>,
        /// Versions whose labels or last-access date alone changed: just those, so moving
        /// AWSCURRENT and AWSPREVIOUS does not write the two older values again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        relabelled: Vec<secret::Relabelled>,
    },
    Remove {
        account: Cow<'a, str>,
        region: Cow<'a, str>,
        name: Cow<'a, str>,
    },
    Reset {
        account: Option<String>,
        region: Option<String>,
    },
    Import {
        state: Cow<'a, StateDump>,
    },
    /// smemu's clock moved forward: its offset from its base (see [`Clock::offset`]). Journalled
    /// before the move, so every change made at the new time comes after it.
    Clock {
        offset: i64,
    },
    /// A change to the KMS key store, which replays it (`services::kms`).
    Kms(crate::services::kms::Change),
    /// One IAM account after a change the IAM API made (`services::iam`).
    Iam(crate::services::iam::AccountImage),
    /// A change to the Lambda functions (`services::lambda`).
    Lambda(crate::services::lambda::durable::Change),
}

/// The whole state, for export, import and snapshots.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StateDump {
    pub stores: Vec<StoreDump>,
    /// KMS keys and aliases (never their material), in snapshots and in the control API's export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kms: Vec<crate::services::kms::StoreDump>,
    /// The IAM accounts the IAM API changed (secret access keys sealed in snapshots, plain in
    /// the control API's export).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam: Vec<crate::services::iam::AccountImage>,
    /// Lambda functions, in snapshots only (environment values sealed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda: Vec<crate::services::lambda::durable::FunctionImage>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreDump {
    pub account: String,
    pub region: String,
    pub secrets: Vec<Secret>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DueKind {
    /// The recovery window of a deleted secret has ended.
    Purge,
    /// A scheduled rotation is due.
    Rotate,
    /// The deletion window of a KMS key has ended (`name` is the key id).
    KeyDeletion,
    /// A lagging replication of the primary `name` is due (see `replication`).
    Replicate,
}

/// A piece of scheduled work. Entries can go stale (a restored secret, a changed schedule);
/// whoever runs one checks it against the secret first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Due {
    pub at: Timestamp,
    pub kind: DueKind,
    pub account: String,
    pub region: String,
    pub name: String,
}

/// One account+region's secrets.
#[derive(Default)]
pub struct Store {
    inner: RwLock<StoreInner>,
    /// The ticket of the newest change to any of its secrets: what a listing, or a lookup that
    /// finds nothing, has seen.
    changed: AtomicU64,
}

impl Store {
    fn note(&self, ticket: u64) {
        if ticket != 0 {
            self.changed.fetch_max(ticket, Ordering::AcqRel);
        }
    }
}

/// One secret behind its own lock: writes to a secret never make readers of another wait.
type Cell = Arc<RwLock<Secret>>;

/// The store's map is locked for writing only to add or remove a name; changing a secret holds
/// the map's read lock (so it cannot race with its removal) and that secret's write lock.
#[derive(Default)]
struct StoreInner {
    /// Keyed by name: a name is held by at most one secret (live or pending deletion).
    secrets: BTreeMap<String, Cell>,
    /// Creation order, the default ListSecrets order.
    by_created: BTreeMap<(Timestamp, u64), String>,
    next_seq: u64,
}

impl Engine {
    #[must_use]
    pub fn new(clock: Arc<Clock>) -> Self {
        Self {
            clock,
            order: RwLock::new(()),
            reset_ticket: AtomicU64::new(0),
            accounts: RwLock::new(HashMap::new()),
            rng: SystemRandom::new(),
            changelog: OnceLock::new(),
            due: Arc::new(DueQueue::default()),
            vault: OnceLock::new(),
            faults: RwLock::new(Vec::new()),
            audit: OnceLock::new(),
        }
    }

    /// Makes the engine record its copies to replicas in `audit`: the one service event that
    /// happens inside a change rather than around a request or on the clock.
    pub fn attach_audit(&self, audit: Arc<crate::audit::Audit>) {
        let _ = self.audit.set(audit);
    }

    /// Makes `vault` seal and open every value from now on (`App` hands it the key store).
    pub fn set_vault(&self, vault: Arc<dyn Vault>) {
        let _ = self.vault.set(vault);
    }

    /// The vault; an engine that was given none (a unit test) seals under a key store of its own,
    /// so no value is ever kept in plaintext.
    fn vault(&self) -> &dyn Vault {
        self.vault
            .get_or_init(|| {
                let kms = crate::services::kms::Kms::new(self.clock.clone(), self.due.clone());
                Arc::new(super::encryption::KmsVault::new(Arc::new(kms)))
            })
            .as_ref()
    }

    /// The scheduled-work queue, for the other services to schedule on.
    #[must_use]
    pub fn due_queue(&self) -> Arc<DueQueue> {
        self.due.clone()
    }

    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The CSPRNG behind ARN suffixes and generated passwords.
    #[must_use]
    pub fn rng(&self) -> &SystemRandom {
        &self.rng
    }

    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn existing_store(&self, scope: Scope<'_>) -> Option<Arc<Store>> {
        self.accounts.read().get(scope.account)?.get(scope.region).cloned()
    }

    fn store(&self, scope: Scope<'_>) -> Arc<Store> {
        if let Some(store) = self.existing_store(scope) {
            return store;
        }
        let mut accounts = self.accounts.write();
        accounts.entry(scope.account.to_owned()).or_default().entry(scope.region.to_owned()).or_default().clone()
    }

    fn random_suffix(&self) -> Result<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(ident::ARN_SUFFIX_LEN);
        let mut buf = [0u8; 16];
        while out.len() < ident::ARN_SUFFIX_LEN {
            crate::random::fill(&mut buf).map_err(|_| ApiError::internal("random source failed"))?;
            // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
            for &b in buf.iter().filter(|&&b| b < 248) {
                if out.len() < ident::ARN_SUFFIX_LEN {
                    out.push(char::from(ALPHABET[usize::from(b % 62)]));
                }
            }
        }
        Ok(out)
    }

    /// Tells the change log what a reader was shown (nothing to tell while state is in memory).
    fn observe(&self, ticket: u64) {
        if ticket != 0
            && let Some(log) = self.changelog.get()
        {
            log.observed(ticket);
        }
    }

    /// Notes a change the current operation made in `store`: readers of the store see it, and
    /// the operation's answer depends on it.
    fn changed(&self, store: &Store, ticket: u64) {
        store.note(ticket);
        self.observe(ticket);
    }

    /// The store a read looks in; a miss has seen the last reset or import.
    fn store_to_read(&self, scope: Scope<'_>) -> Option<Arc<Store>> {
        let store = self.existing_store(scope);
        if store.is_none() {
            self.observe(self.reset_ticket.load(Ordering::Acquire));
        }
        store
    }

    /// Admits one change: refused while the journal cannot take it, then ordered against
    /// resets and imports by the shared gate, held until the change is journalled.
    fn begin_change(&self) -> Result<RwLockReadGuard<'_, ()>> {
        if let Some(log) = self.changelog.get() {
            log.check_writable()?;
        }
        Ok(self.order.read())
    }

    /// Opens a value of an export (see `encryption::export_plain`).
    ///
    /// # Errors
    /// When KMS refuses.
    pub fn open_value(&self, scope: Scope<'_>, arn: &str, version_id: &str, sealed: &Sealed) -> Result<SecretValue> {
        self.vault().open(scope, arn, version_id, sealed)
    }

    /// Seals a value of an import (see `encryption::import_plain`).
    ///
    /// # Errors
    /// When KMS refuses.
    pub fn seal_value(
        &self,
        scope: Scope<'_>,
        key: Option<&str>,
        arn: &str,
        version_id: &str,
        value: &SecretValue,
    ) -> Result<Sealed> {
        self.vault().seal(scope, key.filter(|k| !k.is_empty()), arn, version_id, value)
    }

    /// Runs `f` on the secret `id` names, under a read lock.
    pub fn read_secret<R>(&self, scope: Scope<'_>, id: &str, f: impl FnOnce(&Secret) -> Result<R>) -> Result<R> {
        let store = self.store_to_read(scope).ok_or_else(ApiError::secret_not_found)?;
        let inner = store.inner.read();
        let Some(cell) = inner.resolve(scope, id, self.now()) else {
            self.observe(store.changed.load(Ordering::Acquire));
            return Err(ApiError::secret_not_found());
        };
        let secret = cell.read();
        self.observe(secret.ticket);
        f(&secret)
    }

    /// Runs `f` on the secret `id` names, under that secret's write lock, and journals the result.
    /// `f` must check everything that can fail before it changes anything: an error leaves the
    /// secret as it was, unjournalled.
    fn write_secret<R>(
        &self,
        scope: Scope<'_>,
        id: &str,
        f: impl FnOnce(&mut Secret, Timestamp) -> Result<R>,
    ) -> Result<R> {
        let _order = self.begin_change()?;
        let store = self.store_to_read(scope).ok_or_else(ApiError::secret_not_found)?;
        let inner = store.inner.read();
        let now = self.now();
        let Some(cell) = inner.resolve(scope, id, now) else {
            self.observe(store.changed.load(Ordering::Acquire));
            return Err(ApiError::secret_not_found());
        };
        let mut secret = cell.write();
        // An error below tells what the secret looks like (deleted, a token in use, ...).
        self.observe(secret.ticket);
        if is_due(&secret, now) {
            return Err(ApiError::secret_not_found());
        }
        // Only the primary changes a replica (see `replication`).
        if secret.is_replica() {
            return Err(ApiError::replica_read_only());
        }
        let result = f(&mut secret, now)?;
        secret.revision += 1;
        let ticket = self.log_update(scope, &mut secret);
        self.changed(&store, ticket);
        let replicated = replication::has_replicas(&secret);
        let name = secret.name.clone();
        drop(secret);
        drop(inner);
        drop(_order);
        // The one place a primary's change reaches its replicas: after it is applied and
        // journalled, and with no lock of its store held, since replicas live in other stores.
        if replicated {
            self.sync_replicas(scope, &name, replication::Announce::Yes);
        }
        Ok(result)
    }

    /// Like [`Self::write_secret`] for operations refused on a secret pending deletion.
    fn write_live_secret<R>(
        &self,
        scope: Scope<'_>,
        id: &str,
        f: impl FnOnce(&mut Secret, Timestamp) -> Result<R>,
    ) -> Result<R> {
        self.write_secret(scope, id, |secret, now| {
            if secret.is_deleted() {
                return Err(ApiError::marked_for_deletion());
            }
            f(secret, now)
        })
    }

    pub fn create_secret(&self, scope: Scope<'_>, mut new: NewSecret) -> Result<Created> {
        for replica in &new.replicas {
            replication::check_region(scope.region, &replica.region)?;
        }
        if let Some(primary) = &new.cross_account_primary {
            cross_account::other_account_arn(scope, primary, "CrossAccountPrimaryARN")?;
        }
        let links = replication::links_for(&std::mem::take(&mut new.replicas), new.overwrite_replicas);
        let replicated = !links.is_empty();
        let mut created = self.create_one(scope, new, links)?;
        // The secret is journalled with its links; the copies follow once its store is unlocked,
        // as after any change (see `replication`).
        if replicated && created.replicas.is_some() {
            self.sync_replicas(scope, &created.name, replication::Announce::Yes);
        } else {
            created.replicas = None;
        }
        Ok(created)
    }

    fn create_one(&self, scope: Scope<'_>, new: NewSecret, links: Vec<secret::ReplicaLink>) -> Result<Created> {
        // Before anything below changes state (a due purge, the creation counter).
        secret::check_tag_limit(&[], &new.tags)?;
        let suffix = self.random_suffix()?;
        let arn = ident::secret_arn(scope.region, scope.account, &new.name, &suffix);
        let kms_key_id = new.kms_key_id.filter(|k| !k.is_empty());
        // Sealed before any lock: KMS may have to create the managed key, which writes a file.
        let sealed = match &new.value {
            Some(value) => Some(self.vault().seal(scope, kms_key_id.as_deref(), &arn, &new.token, value)?),
            None if kms_key_id.is_some() => {
                self.vault().check_key(scope, kms_key_id.as_deref(), &arn)?;
                None
            }
            None => None,
        };
        let _order = self.begin_change()?;
        let store = self.store(scope);
        let mut inner = store.inner.write();
        // Whether the name is taken is an answer too.
        self.observe(store.changed.load(Ordering::Acquire));
        let now = self.now();
        if inner.purge_if_due(&new.name, now).is_some() {
            self.changed(&store, self.log_remove(scope, &new.name));
        }
        if let Some(existing) = inner.secrets.get(&new.name) {
            let existing = existing.read();
            if existing.is_deleted() {
                return Err(api_error!(
                    InvalidRequestException,
                    "You can't create this secret because a secret with this name is already scheduled for deletion."
                ));
            }
            if let (Some(value), Some(version)) = (&new.value, existing.version(&new.token)) {
                self.check_same_value(scope, &existing, version, value, &new.token)?;
                return Ok(Created {
                    arn: existing.arn.clone(),
                    name: existing.name.clone(),
                    version_id: Some(version.id.clone()),
                    replicas: None,
                });
            }
            return Err(api_error!(
                ResourceExistsException,
                "The operation failed because the secret {} already exists.",
                new.name
            ));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let mut secret = Secret::new(seq, new.name, arn, now);
        secret.description = new.description.filter(|d| !d.is_empty());
        secret.kms_key_id = kms_key_id;
        secret.secret_type = new.secret_type;
        secret.add_tags(&new.tags)?;
        if let Some(primary) = new.cross_account_primary {
            let primary_account = primary.split(':').nth(4).unwrap_or_default().to_owned();
            cross_account::start_replica(&mut secret, primary, &primary_account, ident::partition_of(scope.region));
        }
        let version_id = sealed.map(|sealed| {
            let version = new_version(new.token, sealed, now);
            let id = version.id.clone();
            secret.add_version(version, None, now);
            id
        });
        secret.replicas = links;
        let replicas = (!secret.replicas.is_empty()).then(|| secret.replicas.clone());
        let created = Created { arn: secret.arn.clone(), name: secret.name.clone(), version_id, replicas };
        secret.ticket = self.log_put(scope, &secret);
        self.changed(&store, secret.ticket);
        inner.insert(secret);
        Ok(created)
    }

    /// Finds the version GetSecretValue asks for and hands it to `f`; then records the access.
    pub fn get_secret_value<R>(
        &self,
        scope: Scope<'_>,
        id: &str,
        selector: VersionSelector<'_>,
        f: impl FnOnce(&Secret, &Version, SecretValue) -> R,
    ) -> Result<R> {
        let today = self.now().start_of_day();
        let (result, name, version_id, stale) = self.read_secret(scope, id, |secret| {
            if secret.is_deleted() {
                return Err(ApiError::marked_for_deletion());
            }
            let version = select_version(secret, selector)?;
            let Some(sealed) = &version.value else {
                return Err(match selector.version_id {
                    Some(id) => value_not_found_for_version(id),
                    None => value_not_found_for_stage(selector.stage.unwrap_or(AWSCURRENT)),
                });
            };
            let value = self.vault().open(scope, &secret.arn, &version.id, sealed)?;
            let stale = secret.last_accessed != Some(today) || version.last_accessed != Some(today);
            Ok((f(secret, version, value), secret.name.clone(), version.id.clone(), stale))
        })?;
        if stale {
            self.record_access(scope, &name, &version_id, today);
        }
        Ok(result)
    }

    /// Moves the access dates; skipped (they are only dates) while the journal refuses changes.
    /// The read's answer does not depend on them, so it does not wait for their record.
    fn record_access(&self, scope: Scope<'_>, name: &str, version_id: &str, today: Timestamp) {
        let Ok(_order) = self.begin_change() else { return };
        let Some(store) = self.existing_store(scope) else {
            return;
        };
        let inner = store.inner.read();
        if let Some(cell) = inner.secrets.get(name) {
            let mut secret = cell.write();
            secret.last_accessed = Some(today);
            if let Some(index) = secret.version_index(version_id) {
                secret.relabel(index).set_last_accessed(today);
            }
            store.note(self.log_update(scope, &mut secret));
        }
    }

    pub fn put_secret_value(
        &self,
        scope: Scope<'_>,
        id: &str,
        token: String,
        value: SecretValue,
        stages: Option<&[String]>,
    ) -> Result<Stored> {
        self.write_live_secret(scope, id, |secret, now| {
            let prepared = self.prepare_value(scope, secret, secret.kms_key_id.as_deref(), &token, &value)?;
            Ok(apply_value(secret, token, prepared, stages, now)).map(|version_id| {
                let stages = secret.version(&version_id).map(|v| v.stages.clone()).unwrap_or_default();
                Stored { arn: secret.arn.clone(), name: secret.name.clone(), version_id, stages }
            })
        })
    }

    pub fn update_secret(&self, scope: Scope<'_>, id: &str, update: SecretUpdate) -> Result<Updated> {
        self.write_live_secret(scope, id, |secret, now| {
            // Everything that can fail comes before any change: a token already used for another
            // value, or a key KMS refuses, leaves description and key as they were.
            let new_key = update.kms_key_id.map(|k| Some(k).filter(|k| !k.is_empty()));
            let key_changes = new_key.as_ref().is_some_and(|k| *k != secret.kms_key_id);
            let key = new_key.clone().unwrap_or_else(|| secret.kms_key_id.clone());
            let value = match (update.value, update.token) {
                (Some(value), Some(token)) => {
                    let prepared = self.prepare_value(scope, secret, key.as_deref(), &token, &value)?;
                    Some((prepared, token))
                }
                _ => None,
            };
            let rewrapped = if key_changes { self.rewrap_labelled(scope, secret, key.as_deref())? } else { Vec::new() };
            if let Some(description) = update.description {
                secret.description = Some(description).filter(|d| !d.is_empty());
            }
            if let Some(new_key) = new_key {
                secret.kms_key_id = new_key;
            }
            for (index, sealed) in rewrapped {
                secret.version_mut(index).value = Some(sealed);
            }
            if let Some(secret_type) = update.secret_type {
                secret.secret_type = Some(secret_type);
            }
            let version_id = value.map(|(prepared, token)| apply_value(secret, token, prepared, None, now));
            secret.last_changed = now;
            Ok(Updated { arn: secret.arn.clone(), name: secret.name.clone(), version_id })
        })
    }

    /// Schedules deletion, or purges at once with `force`. `window_days` is already range-checked.
    pub fn delete_secret(&self, scope: Scope<'_>, id: &str, window_days: Option<i64>, force: bool) -> Result<Deleted> {
        let order = self.begin_change()?;
        let now = self.now();
        // AWS answers a forced delete of an unknown secret as if it had existed.
        let phantom = || {
            if force {
                Ok(Deleted { arn: self.phantom_arn(scope, id)?, name: id.to_owned(), deletion_date: now })
            } else {
                Err(ApiError::secret_not_found())
            }
        };
        // Never `self.store`: a delete that finds nothing must not leave an empty store behind.
        let Some(store) = self.store_to_read(scope) else { return phantom() };
        let mut inner = store.inner.write();
        let Some(name) = inner.resolve(scope, id, now).map(|s| s.read().name.clone()) else {
            self.observe(store.changed.load(Ordering::Acquire));
            return phantom();
        };
        if let Some(cell) = inner.secrets.get(&name) {
            replication::check_deletable(&cell.read())?;
        }
        if force {
            let secret = inner.remove(&name).ok_or_else(ApiError::secret_not_found)?;
            self.changed(&store, self.log_remove(scope, &secret.name));
            return Ok(Deleted { arn: secret.arn, name: secret.name, deletion_date: now });
        }
        let cell = inner.secrets.get(&name).ok_or_else(ApiError::secret_not_found)?.clone();
        let mut secret = cell.write();
        self.observe(secret.ticket);
        if secret.is_deleted() {
            return Err(api_error!(
                InvalidRequestException,
                "You tried to perform the operation on a secret that's currently marked deleted."
            ));
        }
        let purge_at = now.plus_days(window_days.unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS));
        secret.deletion = Some(Deletion { deleted_at: now, purge_at });
        let ticket = self.log_update(scope, &mut secret);
        self.changed(&store, ticket);
        let deleted = Deleted { arn: secret.arn.clone(), name: secret.name.clone(), deletion_date: purge_at };
        drop(secret);
        drop(inner);
        drop(order);
        self.schedule(Due {
            at: purge_at,
            kind: DueKind::Purge,
            account: scope.account.to_owned(),
            region: scope.region.to_owned(),
            name: deleted.name.clone(),
        });
        Ok(deleted)
    }

    fn phantom_arn(&self, scope: Scope<'_>, id: &str) -> Result<String> {
        if id.starts_with("arn:") {
            return Ok(id.to_owned());
        }
        Ok(ident::secret_arn(scope.region, scope.account, id, &self.random_suffix()?))
    }

    pub fn restore_secret(&self, scope: Scope<'_>, id: &str) -> Result<(String, String)> {
        self.write_secret(scope, id, |secret, _| {
            secret.deletion = None;
            Ok((secret.arn.clone(), secret.name.clone()))
        })
    }

    /// UpdateSecretVersionStage.
    pub fn update_secret_version_stage(
        &self,
        scope: Scope<'_>,
        id: &str,
        stage: &str,
        remove_from: Option<&str>,
        move_to: Option<&str>,
    ) -> Result<(String, String)> {
        self.write_live_secret(scope, id, |secret, _| {
            check_stage_move(secret, stage, remove_from, move_to)?;
            secret.move_stage(stage, remove_from, move_to);
            Ok((secret.arn.clone(), secret.name.clone()))
        })
    }

    /// Attaches (or, with `None`, removes) the secret's resource policy.
    pub fn set_policy(
        &self,
        scope: Scope<'_>,
        id: &str,
        policy: Option<secret::ResourcePolicy>,
    ) -> Result<(String, String)> {
        self.write_live_secret(scope, id, |secret, now| {
            secret.policy = policy;
            secret.last_changed = now;
            Ok((secret.arn.clone(), secret.name.clone()))
        })
    }

    pub fn tag_resource(&self, scope: Scope<'_>, id: &str, tags: &[Tag]) -> Result<()> {
        self.write_live_secret(scope, id, |secret, now| {
            secret.add_tags(tags)?;
            secret.last_changed = now;
            Ok(())
        })
    }

    pub fn untag_resource(&self, scope: Scope<'_>, id: &str, keys: &[String]) -> Result<()> {
        self.write_live_secret(scope, id, |secret, now| {
            secret.remove_tags(keys);
            secret.last_changed = now;
            Ok(())
        })
    }

    /// Creates a seeded secret unless its name is already taken (seeding is idempotent).
    /// Returns whether it was created.
    pub fn seed_secret(&self, scope: Scope<'_>, mut seed: SeedSecret) -> Result<bool> {
        let replicas = std::mem::take(&mut seed.replicas);
        let name = seed.name.clone();
        let created = self.seed_one(scope, seed)?;
        if created && !replicas.is_empty() {
            self.replicate_to_regions(scope, &name, &replicas, false)?;
        }
        Ok(created)
    }

    fn seed_one(&self, scope: Scope<'_>, seed: SeedSecret) -> Result<bool> {
        let suffix = self.random_suffix()?;
        if self.existing_store(scope).is_some_and(|s| s.inner.read().secrets.contains_key(&seed.name)) {
            return Ok(false);
        }
        let arn = ident::secret_arn(scope.region, scope.account, &seed.name, &suffix);
        let kms_key_id = seed.kms_key_id.filter(|k| !k.is_empty());
        // Sealed before any lock, as in CreateSecret.
        let sealed = seed
            .versions
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let id = v.id.unwrap_or_else(|| stable_version_id(scope, &seed.name, i));
                let sealed = self.vault().seal(scope, kms_key_id.as_deref(), &arn, &id, &v.value)?;
                Ok((id, sealed, v.stages))
            })
            .collect::<Result<Vec<_>>>()?;
        let _order = self.begin_change()?;
        let store = self.store(scope);
        let mut inner = store.inner.write();
        self.observe(store.changed.load(Ordering::Acquire));
        if inner.secrets.contains_key(&seed.name) {
            return Ok(false);
        }
        let now = self.now();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let versions = sealed
            .into_iter()
            .map(|(id, sealed, stages)| Version { id, value: Some(sealed), stages, created: now, last_accessed: None })
            .collect();
        let mut secret = Secret::new(seq, seed.name, arn, now);
        secret.description = seed.description.filter(|d| !d.is_empty());
        secret.kms_key_id = kms_key_id;
        secret.rotation = seed.rotation;
        secret.policy = seed.policy;
        secret.versions = versions;
        secret.add_tags(&seed.tags)?;
        rotation::refresh_next_rotation(&mut secret);
        self.schedule_for(scope.account, scope.region, &secret);
        secret.ticket = self.log_put(scope, &secret);
        self.changed(&store, secret.ticket);
        inner.insert(secret);
        Ok(true)
    }

    /// Attaches the durable journal; from now on every change is appended to it.
    pub fn set_changelog(&self, log: Arc<dyn ChangeLog>) {
        let _ = self.changelog.set(log);
    }

    /// Journals one change; returns its ticket (0 while state is in memory only).
    fn log(&self, change: &Change<'_>) -> u64 {
        self.append(self.encode(change).as_deref())
    }

    /// A change's record, when state is durable.
    fn encode(&self, change: &Change<'_>) -> Option<Vec<u8>> {
        self.changelog.get()?;
        // The journal's own writer (fast escaping of its base64 and ARNs); the same bytes as
        // serde_json, which every debug build checks, and serde_json for what it declines.
        let fast = crate::protocol::json::to_vec(change);
        debug_assert!(
            fast.as_ref().is_err() || fast.as_deref().ok() == serde_json::to_vec(change).ok().as_deref(),
            "the journal's writer and serde_json disagree"
        );
        match fast.or_else(|_| serde_json::to_vec(change)) {
            Ok(bytes) => Some(bytes),
            // Every part of a change is a string, a number or a list of them: encoding cannot fail.
            Err(e) => {
                tracing::error!(error = %e, "a change could not be encoded for the journal");
                None
            }
        }
    }

    fn append(&self, record: Option<&[u8]>) -> u64 {
        match (self.changelog.get(), record) {
            (Some(log), Some(record)) => log.append(record),
            _ => 0,
        }
    }

    /// Journals the clock's offset (see [`Change::Clock`]); the answer to the move waits for it.
    pub fn journal_clock(&self, offset: i64) {
        let ticket = self.log(&Change::Clock { offset });
        self.observe(ticket);
    }

    fn log_put(&self, scope: Scope<'_>, secret: &Secret) -> u64 {
        if self.changelog.get().is_none() {
            return 0;
        }
        self.log(&Change::Put {
            account: Cow::Borrowed(scope.account),
            region: Cow::Borrowed(scope.region),
            secret: Cow::Borrowed(secret),
        })
    }

    /// Journals a change to an existing secret: its head, the versions it added or changed, and
    /// the ids of those it removed — never the untouched versions, so a record's size does not
    /// grow with the secret's history. Returns the record's ticket, which the secret keeps.
    fn log_update(&self, scope: Scope<'_>, secret: &mut Secret) -> u64 {
        let removed = std::mem::take(&mut secret.removed_versions);
        let touched = std::mem::take(&mut secret.touched_versions);
        let relabelled = std::mem::take(&mut secret.relabelled_versions);
        if self.changelog.get().is_none() {
            return 0;
        }
        let mut indexes: Vec<usize> = touched.iter().filter_map(|id| secret.version_index(id)).collect();
        indexes.sort_unstable();
        // Each version is lent once (a second loan would hand back the stand-in).
        indexes.dedup();
        let relabelled = relabelled
            .iter()
            .filter(|id| !touched.contains(id))
            .filter_map(|id| secret.version(id))
            .map(secret::Relabelled::of)
            .collect();
        // The record is the secret with only the touched versions: they are lent to it for the
        // encoding and put back, rather than the secret and its values copied.
        let mut all = std::mem::take(&mut secret.versions);
        secret.versions = indexes.iter().map(|&i| std::mem::replace(&mut all[i], lent_out())).collect();
        let record = self.encode(&Change::Update {
            account: Cow::Borrowed(scope.account),
            region: Cow::Borrowed(scope.region),
            secret: Cow::Borrowed(secret),
            removed,
            relabelled,
        });
        for (&i, version) in indexes.iter().zip(std::mem::take(&mut secret.versions)) {
            all[i] = version;
        }
        secret.versions = all;
        secret.ticket = self.append(record.as_deref());
        secret.ticket
    }

    fn log_remove(&self, scope: Scope<'_>, name: &str) -> u64 {
        self.log(&Change::Remove {
            account: Cow::Borrowed(scope.account),
            region: Cow::Borrowed(scope.region),
            name: Cow::Borrowed(name),
        })
    }

    /// Adds scheduled work and wakes whoever sleeps until the earliest entry.
    pub fn schedule(&self, due: Due) {
        self.due.schedule(due);
    }

    /// When the earliest scheduled work falls due.
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        self.due.next()
    }

    /// Notified when new work is scheduled or the clock jumps: a sleeper should look again.
    #[must_use]
    pub fn due_notify(&self) -> &tokio::sync::Notify {
        &self.due.changed
    }

    /// Removes and returns the scheduled work due at or before `now`, earliest first.
    pub fn take_due(&self, now: Timestamp) -> Vec<Due> {
        self.due.take(now)
    }

    /// Purges the secret of a `Purge` entry if its recovery window has really ended.
    /// Returns the ARN of the secret removed and how many versions it had, if one was.
    /// While the journal refuses changes nothing is purged; a secret past its window already
    /// reads as gone, a CreateSecret of its name purges it, and a restart schedules it again.
    pub fn purge(&self, due: &Due) -> Option<(String, usize)> {
        let Ok(_order) = self.begin_change() else { return None };
        let scope = Scope::of(&due.account, &due.region);
        let store = self.existing_store(scope)?;
        let mut inner = store.inner.write();
        let removed = inner.purge_if_due(&due.name, self.now());
        if removed.is_some() {
            self.changed(&store, self.log_remove(scope, &due.name));
            tracing::debug!(name = %due.name, "recovery window ended; secret purged");
        }
        removed
    }

    /// Forgets every secret, or those of one account, or of one account and region.
    ///
    /// Never refused up front: if its record cannot be written, the journal fails and the
    /// rollback that follows puts the secrets back before anyone is told of the reset.
    pub fn reset(&self, account: Option<&str>, region: Option<&str>) {
        let _order = self.order.write();
        self.unschedule(account, region);
        let mut accounts = self.accounts.write();
        drop_stores(&mut accounts, account, region);
        let ticket =
            self.log(&Change::Reset { account: account.map(str::to_owned), region: region.map(str::to_owned) });
        self.reset_ticket.store(ticket, Ordering::Release);
        self.observe(ticket);
    }

    /// Drops the scheduled work of every world, of one account, or of one account and region:
    /// a reset world has nothing left to purge or rotate, and its old due times must not show
    /// in `nextDue` or stop a clock advance.
    fn unschedule(&self, account: Option<&str>, region: Option<&str>) {
        // As in `reset`: without an account, every world.
        let in_world = |d: &Due| account.is_none_or(|a| d.account == a && region.is_none_or(|r| d.region == r));
        // Key deletions belong to the key store, which a reset of the key store unschedules.
        self.due.retain(|d| d.kind == DueKind::KeyDeletion || !in_world(d));
    }

    /// A copy of the whole state.
    #[must_use]
    pub fn export(&self) -> StateDump {
        let accounts = self.accounts.read();
        self.observe(self.reset_ticket.load(Ordering::Acquire));
        let mut stores = Vec::new();
        for (account, regions) in accounts.iter() {
            for (region, store) in regions {
                let inner = store.inner.read();
                self.observe(store.changed.load(Ordering::Acquire));
                let secrets =
                    inner.by_created.values().filter_map(|n| inner.secrets.get(n)).map(|c| c.read().clone()).collect();
                stores.push(StoreDump { account: account.clone(), region: region.clone(), secrets });
            }
        }
        stores.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        StateDump { stores, kms: Vec::new(), iam: Vec::new(), lambda: Vec::new() }
    }

    /// Replaces the whole state with `state`. Like [`Self::reset`], never refused up front.
    pub fn import(&self, mut state: StateDump) {
        // KMS's and IAM's parts, if any, are not the engine's (and IAM's may hold plain keys).
        state.kms.clear();
        state.iam.clear();
        state.lambda.clear();
        // Encoded before any lock: a large state takes a while, and readers need not wait for it.
        let record = self.encode(&Change::Import { state: Cow::Borrowed(&state) });
        let _order = self.order.write();
        let ticket = self.append(record.as_deref());
        self.unschedule(None, None);
        {
            let mut accounts = self.accounts.write();
            Self::load_into(&mut accounts, state, ticket, |account, region, secret| {
                self.schedule_for(account, region, secret);
            });
            self.reset_ticket.store(ticket, Ordering::Release);
            self.observe(ticket);
        }
        drop(_order);
        // An export taken while a copy was on its way holds a replica behind its primary.
        self.reconcile_replicas();
    }

    /// Runs `f` while no change is being made and none can start (a rollback swaps the state in
    /// it). Reads go on meanwhile.
    pub fn exclusive<R>(&self, f: impl FnOnce() -> R) -> R {
        let _order = self.order.write();
        f()
    }

    /// Runs `f` while no reset, import or rollback can run: changes to single secrets go on, so
    /// a journal position read in `f` and state exported in `f` describe the same history.
    pub fn shared<R>(&self, f: impl FnOnce() -> R) -> R {
        let _order = self.order.read();
        f()
    }

    /// Replaces every store with those of `state`; each secret remembers `ticket`.
    fn load_into(
        accounts: &mut HashMap<String, HashMap<String, Arc<Store>>>,
        state: StateDump,
        ticket: u64,
        mut schedule: impl FnMut(&str, &str, &Secret),
    ) {
        accounts.clear();
        for dump in state.stores {
            let store = Arc::new(Store { changed: AtomicU64::new(ticket), ..Store::default() });
            {
                let mut inner = store.inner.write();
                for mut secret in dump.secrets {
                    schedule(&dump.account, &dump.region, &secret);
                    secret.ticket = ticket;
                    inner.put(secret);
                }
            }
            accounts.entry(dump.account).or_default().insert(dump.region, store);
        }
    }

    /// An empty engine on the same clock, to rebuild a state in before [`Self::adopt`] swaps it in.
    #[must_use]
    pub fn sibling(&self) -> Engine {
        Engine::new(self.clock.clone())
    }

    /// Takes over every store and the scheduled work of `other` at once, so readers see the old
    /// state or the new one, never one half rebuilt.
    pub fn adopt(&self, other: Engine) {
        let stores = std::mem::take(&mut *other.accounts.write());
        let due = other.due.take_all();
        *self.accounts.write() = stores;
        self.reset_ticket.store(0, Ordering::Release);
        // Entries for secrets that are gone now are harmless: each is checked when it runs.
        self.due.extend(due);
    }

    /// Replays one journalled change (recovery, and the rollback after a failed write). Nothing
    /// is journalled again.
    pub fn apply_change(&self, change: Change<'_>) {
        match change {
            Change::Put { account, region, secret } => {
                let scope = Scope::of(&account, &region);
                let secret = secret.into_owned();
                self.schedule_for(&account, &region, &secret);
                self.store(scope).inner.write().put(secret);
            }
            Change::Update { account, region, secret: patch, removed, relabelled } => {
                let scope = Scope::of(&account, &region);
                let store = self.store(scope);
                let mut inner = store.inner.write();
                let merged = match inner.secrets.get(&patch.name) {
                    Some(cell) => {
                        let mut versions = cell.read().versions.clone();
                        versions.retain(|v| !removed.contains(&v.id));
                        for version in &patch.versions {
                            match versions.iter_mut().find(|v| v.id == version.id) {
                                Some(slot) => slot.clone_from(version),
                                None => versions.push(version.clone()),
                            }
                        }
                        for labels in &relabelled {
                            if let Some(slot) = versions.iter_mut().find(|v| v.id == labels.id) {
                                labels.apply_to(slot);
                            }
                        }
                        Secret { versions, ..patch.into_owned() }
                    }
                    None => patch.into_owned(),
                };
                self.schedule_for(&account, &region, &merged);
                inner.put(merged);
            }
            Change::Remove { account, region, name } => {
                if let Some(store) = self.existing_store(Scope::of(&account, &region)) {
                    store.inner.write().remove(&name);
                }
            }
            // What replay rebuilds is on disk already: nothing in it waits for a ticket.
            Change::Reset { account, region } => {
                self.unschedule(account.as_deref(), region.as_deref());
                drop_stores(&mut self.accounts.write(), account.as_deref(), region.as_deref());
                self.reset_ticket.store(0, Ordering::Release);
            }
            Change::Import { state } => {
                self.unschedule(None, None);
                Self::load_into(&mut self.accounts.write(), state.into_owned(), 0, |account, region, secret| {
                    self.schedule_for(account, region, secret);
                });
                self.reset_ticket.store(0, Ordering::Release);
            }
            Change::Clock { offset } => {
                self.clock.raise_offset(offset);
            }
            // The key store's and IAM's own records: `App` hands them to them, never here.
            Change::Kms(_) | Change::Iam(_) | Change::Lambda(_) => {}
        }
    }

    /// Re-creates the scheduled work a loaded secret carries.
    fn schedule_for(&self, account: &str, region: &str, secret: &Secret) {
        if let Some(at) = rotation::rotation_due(secret) {
            self.schedule(Due {
                at,
                kind: DueKind::Rotate,
                account: account.to_owned(),
                region: region.to_owned(),
                name: secret.name.clone(),
            });
        }
        if let Some(deletion) = secret.deletion {
            self.schedule(Due {
                at: deletion.purge_at,
                kind: DueKind::Purge,
                account: account.to_owned(),
                region: region.to_owned(),
                name: secret.name.clone(),
            });
        }
    }

    /// How many secrets smemu holds, over every account and region.
    #[must_use]
    pub fn secret_count(&self) -> usize {
        self.accounts.read().values().flat_map(HashMap::values).map(|s| s.inner.read().secrets.len()).sum()
    }

    /// One ListSecrets page: `f` maps each listed secret while the read lock is held.
    pub fn list_secrets<R>(
        &self,
        scope: Scope<'_>,
        query: &ListQuery,
        f: impl FnMut(&Secret) -> R,
    ) -> (Vec<R>, Option<Cursor>) {
        let Some(store) = self.store_to_read(scope) else {
            return (Vec::new(), None);
        };
        let inner = store.inner.read();
        self.observe(store.changed.load(Ordering::Acquire));
        listing::page(&inner.secrets, &inner.by_created, query, self.now(), f)
    }
}

impl StoreInner {
    /// The secret `id` names in this store, if any. Secrets whose deletion date has passed count as gone.
    fn resolve(&self, scope: Scope<'_>, id: &str, now: Timestamp) -> Option<&Cell> {
        let cell = match ident::parse_secret_id(id) {
            SecretRef::Name(name) => self.secrets.get(name)?,
            SecretRef::Arn { region, account, name, suffix } => {
                let cell = self.secrets.get(name).filter(|_| region == scope.region && account == scope.account)?;
                // The stored ARN ends in `<name>-<suffix>`.
                cell.read().arn.ends_with(suffix).then_some(cell)?
            }
            SecretRef::PartialArn { region, account, name } => {
                self.secrets.get(name).filter(|_| region == scope.region && account == scope.account)?
            }
            SecretRef::Unresolvable => return None,
        };
        (!is_due(&cell.read(), now)).then_some(cell)
    }

    /// Inserts or replaces a secret by name (replay and import), keeping the indexes right.
    fn put(&mut self, secret: Secret) {
        self.remove(&secret.name);
        self.next_seq = self.next_seq.max(secret.seq + 1);
        self.insert(secret);
    }

    fn insert(&mut self, mut secret: Secret) {
        secret.reindex();
        secret.touched_versions.clear();
        secret.relabelled_versions.clear();
        secret.removed_versions.clear();
        self.by_created.insert((secret.created, secret.seq), secret.name.clone());
        self.secrets.insert(secret.name.clone(), Arc::new(RwLock::new(secret)));
    }

    fn remove(&mut self, name: &str) -> Option<Secret> {
        let cell = self.secrets.remove(name)?;
        let secret = cell.read().clone();
        self.by_created.remove(&(secret.created, secret.seq));
        Some(secret)
    }

    /// Removes the secret `name` if its recovery window has ended; returns its ARN then.
    fn purge_if_due(&mut self, name: &str, now: Timestamp) -> Option<(String, usize)> {
        let arn = self.secrets.get(name).map(|s| s.read()).filter(|s| is_due(s, now)).map(|s| s.arn.clone())?;
        let versions = self.remove(name).map_or(0, |s| s.versions.len());
        Some((arn, versions))
    }
}

/// What a reset removes: every store, one account's, or one account and region's.
fn drop_stores(
    accounts: &mut HashMap<String, HashMap<String, Arc<Store>>>,
    account: Option<&str>,
    region: Option<&str>,
) {
    match (account, region) {
        (None, _) => accounts.clear(),
        (Some(a), None) => {
            accounts.remove(a);
        }
        (Some(a), Some(r)) => {
            if let Some(regions) = accounts.get_mut(a) {
                regions.remove(r);
            }
        }
    }
}

/// A UUID-shaped version id derived from where a seeded version sits.
fn stable_version_id(scope: Scope<'_>, name: &str, index: usize) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}/{}/{name}/{index}", scope.account, scope.region).as_bytes(),
    );
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

fn is_due(secret: &Secret, now: Timestamp) -> bool {
    secret.deletion.is_some_and(|d| d.purge_at <= now)
}

fn new_version(id: String, value: Sealed, now: Timestamp) -> Version {
    Version { id, value: Some(value), stages: Vec::new(), created: now, last_accessed: None }
}

/// What [`apply_value`] does with a value [`Engine::prepare_value`] checked and sealed.
enum Prepared {
    /// A new version.
    New(Sealed),
    /// The rotation placeholder with this id gets its value.
    Fill(Sealed),
    /// The same request again: nothing changes.
    Repeat,
}

fn token_in_use(token: &str, arn: &str) -> ApiError {
    api_error!(
        ResourceExistsException,
        "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {arn}."
    )
}

/// Stores what [`Engine::prepare_value`] made under `token`: a new version, an idempotent
/// repeat, or the rotation placeholder getting its value. Returns the version id.
/// What stands in a version's place while [`Engine::log_update`] lends it to a record.
fn lent_out() -> Version {
    Version {
        id: String::new(),
        value: None,
        stages: Vec::new(),
        created: Timestamp::from_secs(0),
        last_accessed: None,
    }
}

fn apply_value(
    secret: &mut Secret,
    token: String,
    prepared: Prepared,
    stages: Option<&[String]>,
    now: Timestamp,
) -> String {
    match prepared {
        Prepared::Fill(sealed) => secret.fill_placeholder(&token, sealed, stages),
        Prepared::Repeat => {}
        Prepared::New(sealed) => {
            let version = new_version(token.clone(), sealed, now);
            secret.add_version(version, stages, now);
        }
    }
    secret.last_changed = now;
    token
}

impl Engine {
    /// Repeating a request with the same token is harmless only when it carries the same value,
    /// which takes opening the stored one.
    fn check_same_value(
        &self,
        scope: Scope<'_>,
        secret: &Secret,
        version: &Version,
        value: &SecretValue,
        token: &str,
    ) -> Result<()> {
        let same = match &version.value {
            Some(sealed) => self.vault().open(scope, &secret.arn, &version.id, sealed)? == *value,
            None => false,
        };
        if same { Ok(()) } else { Err(token_in_use(token, &secret.arn)) }
    }

    /// Checks `value` for `token` and seals it under `key`, changing nothing: what
    /// [`apply_value`] then stores.
    fn prepare_value(
        &self,
        scope: Scope<'_>,
        secret: &Secret,
        key: Option<&str>,
        token: &str,
        value: &SecretValue,
    ) -> Result<Prepared> {
        match secret.version(token) {
            Some(existing) if existing.value.is_some() => {
                self.check_same_value(scope, secret, existing, value, token).map(|()| Prepared::Repeat)
            }
            Some(_) => self.vault().seal(scope, key, &secret.arn, token, value).map(Prepared::Fill),
            None => self.vault().seal(scope, key, &secret.arn, token, value).map(Prepared::New),
        }
    }

    /// A secret moving to `key`: the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS
    /// get their data keys wrapped by it too, the others stay on the keys they have. Changes
    /// nothing: returns each version's index and new value.
    fn rewrap_labelled(&self, scope: Scope<'_>, secret: &Secret, key: Option<&str>) -> Result<Vec<(usize, Sealed)>> {
        self.vault().check_key(scope, key, &secret.arn)?;
        let mut out = Vec::new();
        for (index, version) in secret.versions.iter().enumerate() {
            let labelled = [AWSCURRENT, AWSPENDING, AWSPREVIOUS].iter().any(|s| version.has_stage(s));
            if let (true, Some(sealed)) = (labelled, &version.value)
                && let Some(resealed) = self.vault().rewrap(scope, key, &secret.arn, &version.id, sealed)?
            {
                out.push((index, resealed));
            }
        }
        Ok(out)
    }
}

fn value_not_found_for_stage(stage: &str) -> ApiError {
    api_error!(
        ResourceNotFoundException,
        "Secrets Manager can't find the specified secret value for staging label: {stage}"
    )
}

fn value_not_found_for_version(id: &str) -> ApiError {
    api_error!(ResourceNotFoundException, "Secrets Manager can't find the specified secret value for VersionId: {id}")
}

fn select_version<'s>(secret: &'s Secret, selector: VersionSelector<'_>) -> Result<&'s Version> {
    match (selector.version_id, selector.stage) {
        (Some(id), stage) => {
            let version = secret.version(id).ok_or_else(|| value_not_found_for_version(id))?;
            if stage.is_some_and(|s| !version.has_stage(s)) {
                return Err(api_error!(
                    InvalidRequestException,
                    "You provided a VersionStage that is not associated to the provided VersionId."
                ));
            }
            Ok(version)
        }
        (None, stage) => {
            let stage = stage.unwrap_or(AWSCURRENT);
            secret.holder_of(stage).ok_or_else(|| value_not_found_for_stage(stage))
        }
    }
}

fn check_stage_move(secret: &Secret, stage: &str, remove_from: Option<&str>, move_to: Option<&str>) -> Result<()> {
    for id in [remove_from, move_to].into_iter().flatten() {
        if secret.version(id).is_none() {
            return Err(api_error!(
                InvalidParameterException,
                "Secrets Manager can't find the specified secret version: {id}."
            ));
        }
    }
    let holder = secret.holder_of(stage).map(|v| v.id.as_str());
    match (remove_from, move_to) {
        (None, None) => Err(api_error!(
            InvalidParameterException,
            "You must specify at least one of the parameters RemoveFromVersionId and MoveToVersionId."
        )),
        (remove_from, Some(to)) => match holder {
            Some(current) if current != to && remove_from != Some(current) => Err(match remove_from {
                None => api_error!(
                    InvalidParameterException,
                    "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {current}, so you must explicitly reference that version in RemoveFromVersionId."
                ),
                Some(other) => api_error!(
                    InvalidParameterException,
                    "The parameter RemoveFromVersionId {other} doesn't match the version {current} that staging label {stage} is currently attached to."
                ),
            }),
            _ => Ok(()),
        },
        (Some(from), None) => {
            if holder != Some(from) {
                return Err(api_error!(
                    InvalidParameterException,
                    "Staging label {stage} is not attached to version {from}, so it can't be removed from it."
                ));
            }
            if stage == AWSCURRENT {
                return Err(api_error!(
                    InvalidParameterException,
                    "You can't remove the staging label AWSCURRENT from a version without moving it to another version (MoveToVersionId)."
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod atomic_tests;
#[cfg(test)]
mod tests;
