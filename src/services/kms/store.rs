//! The key store: keys, their material, aliases, states, policies and tags, per account and
//! region, and every KMS rule about them.
//!
//! No HTTP and no wire names in here. Each account+region has its own [`KeyStore`] behind its own
//! lock, shared with nothing else: Encrypt, Decrypt and GenerateDataKey take its read lock only.
//! Other services (Secrets Manager) call the typed methods at the end of this file, never HTTP.

use super::crypto::{self, CryptoError, Material};
use super::error::{self as err, KmsError, Result};
use super::keyfile::KeyFile;
use crate::clock::{Clock, MILLIS_PER_DAY, Timestamp};
use crate::services::secretsmanager::state::ident::partition_of;
use crate::services::secretsmanager::state::{ChangeLog, Due, DueKind, DueQueue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use foldhash::{HashMap, HashMapExt};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use zeroize::Zeroizing;

/// The alias of the key Secrets Manager uses when a secret names none.
pub const SECRETS_MANAGER_ALIAS: &str = "alias/aws/secretsmanager";
/// [AWS] KeyMetadata.Description of that key.
pub const SECRETS_MANAGER_KEY_DESCRIPTION: &str =
    "Default key that protects my Secrets Manager data when no other key is defined";
const RESERVED_ALIAS_PREFIX: &str = "alias/aws/";
const ALIAS_PREFIX: &str = "alias/";
pub const MAX_TAGS: usize = 50;
pub const DEFAULT_PENDING_WINDOW_DAYS: i64 = 30;
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 7..=30;
pub const DEFAULT_ROTATION_PERIOD_DAYS: i64 = 365;
pub const DEFAULT_POLICY_NAME: &str = "default";
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// ListResourceTags pages hold at most this many tags (its Limit is 1 to 50).
pub const DEFAULT_TAG_LIST_LIMIT: usize = 50;

/// Who acts, and where. Resolving a key ARN may reach another account's store.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub principal: Principal<'a>,
}

#[derive(Clone, Copy, Debug)]
pub enum Principal<'a> {
    /// A client, by ARN: the managed keys' policy keeps it to their metadata.
    User(&'a str),
    /// Secrets Manager in this process, acting for a caller of its own API.
    SecretsManager,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Aws => "AWS",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingDeletion {
    pub at: Timestamp,
    pub window_days: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotation {
    pub enabled_at: Timestamp,
    pub period_days: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A key's metadata. Its material is kept apart (in the store, and in the `keys` file), so that
/// nothing that writes a key — the journal, a snapshot, an export — can carry the material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    pub arn: String,
    pub account: String,
    pub created: Timestamp,
    /// Creation order within the store: ListKeys lists keys in it.
    pub seq: u64,
    pub description: String,
    pub state: KeyState,
    pub deletion: Option<PendingDeletion>,
    pub manager: KeyManager,
    pub policy: crate::iam::policy::StoredPolicy,
    pub tags: Vec<Tag>,
    pub rotation: Option<KeyRotation>,
    /// 64 hex digits naming the key's (single) material, as KMS's `KeyMaterialId`.
    pub material_id: String,
}

impl Key {
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.state == KeyState::Enabled
    }

    /// Whether rotation is on, as GetKeyRotationStatus reports it: AWS managed keys always
    /// rotate; a key pending deletion reports `false`.
    #[must_use]
    pub fn rotation_status(&self, now: Timestamp) -> Option<(i64, Timestamp)> {
        if self.state == KeyState::PendingDeletion {
            return None;
        }
        let rotation = match self.manager {
            KeyManager::Aws => KeyRotation { enabled_at: self.created, period_days: DEFAULT_ROTATION_PERIOD_DAYS },
            KeyManager::Customer => self.rotation?,
        };
        // Rotations happen on the clock as time passes; the next is the first one still ahead.
        let period = rotation.period_days.max(1).saturating_mul(MILLIS_PER_DAY);
        let elapsed = now.millis().saturating_sub(rotation.enabled_at.millis()).max(0);
        let next = rotation.enabled_at.plus_millis((elapsed / period + 1).saturating_mul(period));
        Some((rotation.period_days, next))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    /// With its `alias/` prefix.
    pub name: String,
    pub target: String,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// An alias as ListAliases shows it.
#[derive(Clone, Debug)]
pub struct AliasEntry {
    pub name: String,
    pub arn: String,
    pub target: String,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// One page of a listing and the marker of the next.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// Plaintext on its way out (decrypted data, a data key, random bytes); wiped when dropped.
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({} bytes)", self.0.len())
    }
}

/// A blob sealed under a key.
#[derive(Debug)]
pub struct Sealed {
    pub blob: Vec<u8>,
    pub key_arn: String,
    pub material_id: String,
}

/// A blob opened.
#[derive(Debug)]
pub struct Opened {
    pub plaintext: Plaintext,
    pub key_arn: String,
    pub material_id: String,
}

/// A data key: its plaintext (for the caller to encrypt with, then forget) and the same key
/// sealed under the KMS key (for the caller to store).
#[derive(Debug)]
pub struct DataKey {
    pub plaintext: Plaintext,
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
    pub material_id: String,
}

/// ReEncrypt's result.
#[derive(Debug)]
pub struct ReSealed {
    pub blob: Vec<u8>,
    pub source_arn: String,
    pub source_material_id: String,
    pub key_arn: String,
    pub material_id: String,
}

/// CreateKey's checked input.
#[derive(Debug, Default)]
pub struct NewKey {
    pub description: Option<String>,
    pub policy: Option<String>,
    pub tags: Vec<Tag>,
}

/// A key as a seed file declares it: CreateKey's input plus what later calls would set.
#[derive(Debug, Default)]
pub struct SeedKey {
    /// `None` gives a key id derived from the key's place and its first alias, so a re-seeded
    /// file finds the same key.
    pub id: Option<String>,
    pub new: NewKey,
    pub aliases: Vec<String>,
    pub enabled: bool,
    pub rotation_period_days: Option<i64>,
    pub pending_window_days: Option<i64>,
}

/// One journalled KMS change (an after-image); replaying them over a snapshot rebuilds the store.
/// Key material never appears here.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    PutKey {
        account: String,
        region: String,
        key: Key,
    },
    /// The key and every alias that named it.
    RemoveKey {
        account: String,
        region: String,
        key_id: String,
    },
    PutAlias {
        account: String,
        region: String,
        alias: Alias,
    },
    RemoveAlias {
        account: String,
        region: String,
        name: String,
    },
    Reset {
        account: Option<String>,
        region: Option<String>,
    },
}

/// One account+region's keys and aliases, for snapshots. No material.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreDump {
    pub account: String,
    pub region: String,
    pub keys: Vec<Key>,
    pub aliases: Vec<Alias>,
}

/// The key stores an import replaced, until it is known whether the import stands.
#[must_use = "an import that fails part-way puts these back with Kms::undo_import"]
pub struct Replaced(HashMap<String, HashMap<String, Arc<KeyStore>>>);

#[derive(Default)]
struct KeyStore {
    inner: RwLock<KeyStoreInner>,
}

#[derive(Default)]
struct KeyStoreInner {
    keys: HashMap<String, Key>,
    by_seq: BTreeMap<u64, String>,
    materials: HashMap<String, Material>,
    /// By name, which is ListAliases' order.
    aliases: BTreeMap<String, Alias>,
    next_seq: u64,
}

/// Which forms of key reference an operation accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forms {
    /// Key id, key ARN, alias name or alias ARN (cryptographic operations, DescribeKey).
    Any,
    /// Key id or key ARN only.
    Key,
    /// Key id or key ARN, as an alias's target: an alias here is refused as such.
    Target,
}

/// Where a reference points before the store is consulted.
enum Target<'i> {
    Key(&'i str),
    /// The full alias name, `alias/...`.
    Alias(String),
}

struct Located<'i> {
    account: &'i str,
    region: &'i str,
    target: Target<'i>,
}

/// The state rule of the key-state table an operation follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Any state (DescribeKey, the policy and listing calls).
    Any,
    /// Refused while pending deletion (enable, disable, tags, descriptions, aliases).
    NotPending,
    /// Refused while disabled or pending deletion (rotation settings).
    Enabled,
    /// Cryptographic use: disabled and pending deletion each have their own error.
    Crypto,
    /// CancelKeyDeletion: only while pending deletion.
    Pending,
}

pub struct Kms {
    clock: Arc<Clock>,
    stores: RwLock<HashMap<String, HashMap<String, Arc<KeyStore>>>>,
    due: Arc<DueQueue>,
    changelog: OnceLock<Arc<dyn ChangeLog>>,
    /// The `keys` file behind `--data-dir`.
    keyfile: OnceLock<KeyFile>,
    /// Where the calls Secrets Manager makes are recorded.
    audit: OnceLock<Arc<crate::audit::Audit>>,
}

impl Kms {
    /// A key store on `clock`, scheduling deletions on `due` (the queue the scheduler runs).
    #[must_use]
    pub fn new(clock: Arc<Clock>, due: Arc<DueQueue>) -> Self {
        Self {
            clock,
            stores: RwLock::new(HashMap::new()),
            due,
            changelog: OnceLock::new(),
            keyfile: OnceLock::new(),
            audit: OnceLock::new(),
        }
    }

    /// Records the calls Secrets Manager makes ([`ForSecretsManager`]) in `audit`.
    pub fn attach_audit(&self, audit: Arc<crate::audit::Audit>) {
        let _ = self.audit.set(audit);
    }

    /// Records one call Secrets Manager made, with its outcome.
    fn audit_for_secrets_manager(
        &self,
        acting: crate::audit::Acting<'_>,
        operation: &'static str,
        key_arn: Option<&str>,
        context: &[(String, String)],
        error: Option<&KmsError>,
    ) {
        if let Some(audit) = self.audit.get() {
            let error = error.map(|e| (e.code(), e.message()));
            audit.kms_for_secrets_manager(acting, crate::audit::KmsCall { operation, key_arn, context, error });
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn existing_store(&self, account: &str, region: &str) -> Option<Arc<KeyStore>> {
        self.stores.read().get(account)?.get(region).cloned()
    }

    fn store(&self, account: &str, region: &str) -> Arc<KeyStore> {
        if let Some(store) = self.existing_store(account, region) {
            return store;
        }
        let mut stores = self.stores.write();
        stores.entry(account.to_owned()).or_default().entry(region.to_owned()).or_default().clone()
    }

    // -- keys -------------------------------------------------------------------------------

    pub fn create_key(&self, caller: Caller<'_>, new: NewKey) -> Result<Key> {
        let policy = match new.policy {
            Some(policy) => checked_policy(policy)?,
            None => default_policy(caller.account, caller.region),
        };
        let tags = merged_tags(&[], &new.tags)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.insert_key(caller.account, caller.region, &id, |key| {
            key.description = new.description.unwrap_or_default();
            key.policy = policy.into();
            key.tags = tags;
        })
    }

    /// Creates a key with fresh material: the material is durable (in the `keys` file, with
    /// `--data-dir`) before the key exists for anyone, so no acknowledged key can lose it.
    fn insert_key(&self, account: &str, region: &str, id: &str, shape: impl FnOnce(&mut Key)) -> Result<Key> {
        let material = Material::generate().map_err(|_| err::internal("random source failed"))?;
        let material_id = self.random_hex(32)?;
        if let Some(file) = self.keyfile.get() {
            file.add(account, region, id, &material).map_err(|e| err::internal(&e))?;
        }
        let now = self.now();
        let store = self.store(account, region);
        let mut inner = store.inner.write();
        let seq = inner.next_seq;
        let mut key = Key {
            id: id.to_owned(),
            arn: key_arn(region, account, id),
            account: account.to_owned(),
            created: now,
            seq,
            description: String::new(),
            state: KeyState::Enabled,
            deletion: None,
            manager: KeyManager::Customer,
            policy: String::new().into(),
            tags: Vec::new(),
            rotation: None,
            material_id,
        };
        shape(&mut key);
        inner.materials.insert(key.id.clone(), material);
        self.log_key(account, region, &key);
        inner.put(key.clone());
        drop(inner);
        if let Some(deletion) = key.deletion {
            self.schedule(account, region, &key.id, deletion.at);
        }
        Ok(key)
    }

    fn random_hex(&self, bytes: usize) -> Result<String> {
        let mut buf = vec![0u8; bytes];
        crate::random::fill(&mut buf).map_err(|_| err::internal("random source failed"))?;
        Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// DescribeKey. Naming the predefined `alias/aws/secretsmanager` creates its key the first
    /// time, as AWS services do through DescribeKey.
    pub fn describe_key(&self, caller: Caller<'_>, key_ref: &str) -> Result<Key> {
        self.inspect_key(caller, key_ref, Key::clone)
    }

    /// What `f` reads of the key `key_ref` names, as DescribeKey finds it (the managed key made
    /// on first use), without copying the key.
    ///
    /// # Errors
    /// DescribeKey's.
    pub fn inspect_key<R>(&self, caller: Caller<'_>, key_ref: &str, f: impl FnOnce(&Key) -> R) -> Result<R> {
        self.ensure_managed_for(caller, key_ref)?;
        self.read_key(caller, key_ref, Forms::Any, "DescribeKey", Rule::Any, |key, _| Ok(f(key)))
    }

    pub fn list_keys(&self, caller: Caller<'_>, limit: Option<usize>, marker: Option<&str>) -> Result<Page<Key>> {
        let after: Option<u64> =
            decode_marker(marker)?.map(|m| m.parse().map_err(|_| err::invalid_marker())).transpose()?;
        let Some(store) = self.existing_store(caller.account, caller.region) else {
            return Ok(Page { items: Vec::new(), next_marker: None });
        };
        let inner = store.inner.read();
        let now = self.now();
        let start = after.map_or(0, |a| a.saturating_add(1));
        let live = inner.by_seq.range(start..).filter_map(|(_, id)| inner.keys.get(id)).filter(|k| !is_due(k, now));
        Ok(page(live, limit.unwrap_or(DEFAULT_LIST_LIMIT), |k| k.seq.to_string(), |k| (*k).clone()))
    }

    pub fn enable_key(&self, caller: Caller<'_>, key_ref: &str) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "EnableKey", Rule::NotPending, |key, _| {
            key.state = KeyState::Enabled;
            Ok(())
        })
    }

    pub fn disable_key(&self, caller: Caller<'_>, key_ref: &str) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "DisableKey", Rule::NotPending, |key, _| {
            key.state = KeyState::Disabled;
            Ok(())
        })
    }

    /// Starts a key's deletion window; at its end (on smemu's clock) the key, its aliases and its
    /// material are gone for good.
    pub fn schedule_key_deletion(&self, caller: Caller<'_>, key_ref: &str, window_days: Option<i64>) -> Result<Key> {
        let window = window_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
        if !PENDING_WINDOW_DAYS.contains(&window) {
            return Err(err::pending_window());
        }
        let key =
            self.write_key(caller, key_ref, Forms::Key, "ScheduleKeyDeletion", Rule::NotPending, |key, now| {
                // Whole seconds, as AWS shows DeletionDate.
                let at = Timestamp::from_secs(now.millis().div_euclid(1000)).plus_days(window);
                key.state = KeyState::PendingDeletion;
                key.deletion = Some(PendingDeletion { at, window_days: window });
                Ok(key.clone())
            })?;
        if let Some(deletion) = key.deletion {
            self.schedule(arn_account(&key.arn), arn_region(&key.arn), &key.id, deletion.at);
        }
        Ok(key)
    }

    /// Returns the key's ARN; the key is left disabled.
    pub fn cancel_key_deletion(&self, caller: Caller<'_>, key_ref: &str) -> Result<String> {
        self.write_key(caller, key_ref, Forms::Key, "CancelKeyDeletion", Rule::Pending, |key, _| {
            key.state = KeyState::Disabled;
            key.deletion = None;
            Ok(key.arn.clone())
        })
    }

    pub fn update_key_description(&self, caller: Caller<'_>, key_ref: &str, description: String) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "UpdateKeyDescription", Rule::NotPending, |key, _| {
            key.description = description;
            Ok(())
        })
    }

    // -- policies, rotation, tags -----------------------------------------------------------

    pub fn get_key_policy(&self, caller: Caller<'_>, key_ref: &str, name: Option<&str>) -> Result<String> {
        let name = name.unwrap_or(DEFAULT_POLICY_NAME);
        self.read_key(caller, key_ref, Forms::Key, "GetKeyPolicy", Rule::Any, |key, _| {
            if name != DEFAULT_POLICY_NAME {
                return Err(err::no_such_policy(name));
            }
            Ok(key.policy.to_string())
        })
    }

    pub fn put_key_policy(&self, caller: Caller<'_>, key_ref: &str, name: Option<&str>, policy: String) -> Result<()> {
        let name = name.unwrap_or(DEFAULT_POLICY_NAME);
        self.write_key(caller, key_ref, Forms::Key, "PutKeyPolicy", Rule::Any, |key, _| {
            if name != DEFAULT_POLICY_NAME {
                return Err(err::no_such_policy(name));
            }
            key.policy = checked_policy(policy)?.into();
            Ok(())
        })
    }

    /// ListKeyPolicies: the key must exist; its one policy is `default`.
    pub fn list_key_policies(&self, caller: Caller<'_>, key_ref: &str) -> Result<Vec<&'static str>> {
        self.read_key(caller, key_ref, Forms::Key, "ListKeyPolicies", Rule::Any, |_, _| Ok(vec![DEFAULT_POLICY_NAME]))
    }

    /// The key, for GetKeyRotationStatus (see [`Key::rotation_status`]).
    pub fn get_key_rotation_status(&self, caller: Caller<'_>, key_ref: &str) -> Result<(Key, Timestamp)> {
        let now = self.now();
        self.read_key(caller, key_ref, Forms::Key, "GetKeyRotationStatus", Rule::Any, |key, _| Ok((key.clone(), now)))
    }

    pub fn enable_key_rotation(&self, caller: Caller<'_>, key_ref: &str, period_days: Option<i64>) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "EnableKeyRotation", Rule::Enabled, |key, now| {
            let period_days = period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
            key.rotation = Some(match key.rotation {
                Some(on) => KeyRotation { period_days, ..on },
                None => KeyRotation { enabled_at: now, period_days },
            });
            Ok(())
        })
    }

    pub fn disable_key_rotation(&self, caller: Caller<'_>, key_ref: &str) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "DisableKeyRotation", Rule::Enabled, |key, _| {
            key.rotation = None;
            Ok(())
        })
    }

    pub fn tag_resource(&self, caller: Caller<'_>, key_ref: &str, tags: &[Tag]) -> Result<()> {
        self.write_key(caller, key_ref, Forms::Key, "TagResource", Rule::NotPending, |key, _| {
            key.tags = merged_tags(&key.tags, tags)?;
            Ok(())
        })
    }

    pub fn untag_resource(&self, caller: Caller<'_>, key_ref: &str, tag_keys: &[String]) -> Result<()> {
        if tag_keys.iter().any(|k| is_reserved_tag(k)) {
            return Err(err::tag_reserved());
        }
        self.write_key(caller, key_ref, Forms::Key, "UntagResource", Rule::NotPending, |key, _| {
            key.tags.retain(|t| !tag_keys.contains(&t.key));
            Ok(())
        })
    }

    pub fn list_resource_tags(
        &self,
        caller: Caller<'_>,
        key_ref: &str,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Result<Page<Tag>> {
        let after: Option<usize> =
            decode_marker(marker)?.map(|m| m.parse().map_err(|_| err::invalid_marker())).transpose()?;
        self.read_key(caller, key_ref, Forms::Key, "ListResourceTags", Rule::Any, |key, _| {
            let start = after.map_or(0, |a| a.saturating_add(1));
            let tags = key.tags.iter().enumerate().skip(start);
            let limit = limit.unwrap_or(DEFAULT_TAG_LIST_LIMIT);
            let paged = page(tags, limit, |(i, _)| i.to_string(), |(_, t)| (*t).clone());
            Ok(paged)
        })
    }

    // -- aliases ----------------------------------------------------------------------------

    pub fn create_alias(&self, caller: Caller<'_>, name: &str, target: &str) -> Result<()> {
        check_alias_name(name)?;
        let located = self.locate(caller, target, Forms::Target)?;
        let store = self.store(caller.account, caller.region);
        let mut inner = store.inner.write();
        let now = self.now();
        // An alias lives in the caller's account and region, and names a key there.
        let key = inner.find_key(&located, now)?;
        check_managed(key, caller, "CreateAlias")?;
        check_rule(key, Rule::NotPending)?;
        if inner.aliases.contains_key(name) {
            return Err(err::alias_exists(&alias_arn(caller.region, caller.account, name)));
        }
        let alias = Alias { name: name.to_owned(), target: key.id.clone(), created: now, updated: now };
        self.log_alias(caller.account, caller.region, &alias);
        inner.aliases.insert(alias.name.clone(), alias);
        Ok(())
    }

    pub fn update_alias(&self, caller: Caller<'_>, name: &str, target: &str) -> Result<()> {
        check_alias_name(name)?;
        let located = self.locate(caller, target, Forms::Target)?;
        let store = self.store(caller.account, caller.region);
        let mut inner = store.inner.write();
        let now = self.now();
        if !inner.aliases.contains_key(name) {
            return Err(err::alias_not_found(&alias_arn(caller.region, caller.account, name)));
        }
        let key = inner.find_key(&located, now)?;
        check_managed(key, caller, "UpdateAlias")?;
        // The key the alias leaves may be pending deletion; the one it moves to may not.
        check_rule(key, Rule::NotPending)?;
        let target = key.id.clone();
        let Some(alias) = inner.aliases.get_mut(name) else {
            return Err(err::alias_not_found(&alias_arn(caller.region, caller.account, name)));
        };
        alias.target = target;
        alias.updated = now;
        let alias = alias.clone();
        self.log_alias(caller.account, caller.region, &alias);
        Ok(())
    }

    pub fn delete_alias(&self, caller: Caller<'_>, name: &str) -> Result<()> {
        check_alias_name(name)?;
        let not_found = || err::alias_not_found(&alias_arn(caller.region, caller.account, name));
        let store = self.existing_store(caller.account, caller.region).ok_or_else(not_found)?;
        let mut inner = store.inner.write();
        let now = self.now();
        let live = inner.aliases.get(name).is_some_and(|a| inner.keys.get(&a.target).is_some_and(|k| !is_due(k, now)));
        if !live {
            return Err(not_found());
        }
        inner.aliases.remove(name);
        self.log(Change::RemoveAlias {
            account: caller.account.to_owned(),
            region: caller.region.to_owned(),
            name: name.to_owned(),
        });
        Ok(())
    }

    /// ListAliases, of one key (by id or ARN) or of the whole account and region.
    pub fn list_aliases(
        &self,
        caller: Caller<'_>,
        key_ref: Option<&str>,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Result<Page<AliasEntry>> {
        let after = decode_marker(marker)?;
        let located = key_ref.map(|r| self.locate(caller, r, Forms::Key)).transpose()?;
        let now = self.now();
        let Some(store) = self.existing_store(caller.account, caller.region) else {
            return match &located {
                Some(located) => Err(not_found(located)),
                None => Ok(Page { items: Vec::new(), next_marker: None }),
            };
        };
        let inner = store.inner.read();
        let only = match &located {
            Some(located) => Some(inner.find_key(located, now)?.id.clone()),
            None => None,
        };
        let range = match &after {
            Some(after) => {
                inner.aliases.range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            }
            None => inner.aliases.range::<String, _>(..),
        };
        let listed = range.map(|(_, a)| a).filter(|a| {
            only.as_ref().is_none_or(|id| &a.target == id) && inner.keys.get(&a.target).is_some_and(|k| !is_due(k, now))
        });
        Ok(page(
            listed,
            limit.unwrap_or(DEFAULT_LIST_LIMIT),
            |a| a.name.clone(),
            |a| AliasEntry {
                name: a.name.clone(),
                arn: alias_arn(caller.region, caller.account, &a.name),
                target: a.target.clone(),
                created: a.created,
                updated: a.updated,
            },
        ))
    }

    // -- cryptography -----------------------------------------------------------------------

    pub fn encrypt(
        &self,
        caller: Caller<'_>,
        key_ref: &str,
        plaintext: &[u8],
        context: &[(String, String)],
        dry_run: bool,
    ) -> Result<Sealed> {
        self.read_key(caller, key_ref, Forms::Any, "Encrypt", Rule::Crypto, |key, material| {
            if dry_run {
                return Err(err::dry_run());
            }
            let blob = seal(key, material, plaintext, context)?;
            Ok(Sealed { blob, key_arn: key.arn.clone(), material_id: key.material_id.clone() })
        })
    }

    /// Decrypt: the blob names its key; `key_ref`, when given, must name the same one.
    pub fn decrypt(
        &self,
        caller: Caller<'_>,
        blob: &[u8],
        key_ref: Option<&str>,
        context: &[(String, String)],
        dry_run: bool,
    ) -> Result<Opened> {
        self.open_blob(caller, blob, key_ref, context, "Decrypt", |key, plaintext| {
            if dry_run {
                return Err(err::dry_run());
            }
            Ok(Opened { plaintext, key_arn: key.arn.clone(), material_id: key.material_id.clone() })
        })
    }

    #[allow(clippy::too_many_arguments)] // ReEncrypt's own members, source and destination
    pub fn re_encrypt(
        &self,
        caller: Caller<'_>,
        blob: &[u8],
        source_ref: Option<&str>,
        source_context: &[(String, String)],
        destination_ref: &str,
        destination_context: &[(String, String)],
        dry_run: bool,
    ) -> Result<ReSealed> {
        // One store lock at a time: the source's to open, then the destination's to seal.
        let opened = self.open_blob(caller, blob, source_ref, source_context, "ReEncrypt", |key, plaintext| {
            Ok(Opened { plaintext, key_arn: key.arn.clone(), material_id: key.material_id.clone() })
        })?;
        let sealed =
            self.read_key(caller, destination_ref, Forms::Any, "ReEncrypt", Rule::Crypto, |key, material| {
                if dry_run {
                    return Err(err::dry_run());
                }
                let blob = seal(key, material, opened.plaintext.as_bytes(), destination_context)?;
                Ok(Sealed { blob, key_arn: key.arn.clone(), material_id: key.material_id.clone() })
            })?;
        Ok(ReSealed {
            blob: sealed.blob,
            source_arn: opened.key_arn,
            source_material_id: opened.material_id,
            key_arn: sealed.key_arn,
            material_id: sealed.material_id,
        })
    }

    /// GenerateDataKey and GenerateDataKeyWithoutPlaintext (`action`): `bytes` random bytes,
    /// and the same sealed under the key.
    pub fn generate_data_key(
        &self,
        caller: Caller<'_>,
        key_ref: &str,
        bytes: usize,
        context: &[(String, String)],
        dry_run: bool,
        action: &str,
    ) -> Result<DataKey> {
        self.read_key(caller, key_ref, Forms::Any, action, Rule::Crypto, |key, material| {
            if dry_run {
                return Err(err::dry_run());
            }
            let plaintext = self.random(bytes)?;
            let ciphertext = seal(key, material, plaintext.as_bytes(), context)?;
            Ok(DataKey { plaintext, ciphertext, key_arn: key.arn.clone(), material_id: key.material_id.clone() })
        })
    }

    /// GenerateRandom's bytes (the count is checked by the model: 1 to 1024).
    pub fn random(&self, bytes: usize) -> Result<Plaintext> {
        let mut out = Zeroizing::new(vec![0u8; bytes]);
        crate::random::fill(&mut out).map_err(|_| err::internal("random source failed"))?;
        Ok(Plaintext(out))
    }

    fn open_blob<R>(
        &self,
        caller: Caller<'_>,
        blob: &[u8],
        key_ref: Option<&str>,
        context: &[(String, String)],
        action: &str,
        f: impl FnOnce(&Key, Plaintext) -> Result<R>,
    ) -> Result<R> {
        let id = crypto::key_id_of(blob).map_err(|_| err::invalid_ciphertext())?.to_string();
        let now = self.now();
        // A key named in the request must exist, and be the one the blob was sealed under; it
        // also says whose store the blob's key is in.
        let (account, region) = match key_ref {
            Some(key_ref) => {
                let named = self.locate(caller, key_ref, Forms::Any)?;
                if self.resolve_id(&named, now)? != id {
                    return Err(err::incorrect_key());
                }
                (named.account, named.region)
            }
            None => (caller.account, caller.region),
        };
        let located = Located { account, region, target: Target::Key(&id) };
        let store = self.existing_store(account, region).ok_or_else(|| not_found(&located))?;
        let inner = store.inner.read();
        let key = inner.find_key(&located, now)?;
        check_managed(key, caller, action)?;
        check_rule(key, Rule::Crypto)?;
        let material = inner.materials.get(&key.id).ok_or_else(|| err::internal("a key has no material"))?;
        let plaintext = crypto::open(material, blob, context).map_err(|e| match e {
            CryptoError::Invalid => err::invalid_ciphertext(),
            CryptoError::Unavailable => err::internal("the cipher could not be set up"),
        })?;
        f(key, Plaintext(plaintext))
    }

    /// The id of the key a located reference names, under a short read lock.
    fn resolve_id(&self, located: &Located<'_>, now: Timestamp) -> Result<String> {
        let store = self.existing_store(located.account, located.region).ok_or_else(|| not_found(located))?;
        let inner = store.inner.read();
        inner.find_key(located, now).map(|k| k.id.clone())
    }

    // -- resolution and the two lock helpers ------------------------------------------------

    /// Reads a key reference without looking anything up: its account, region and target.
    fn locate<'i>(&self, caller: Caller<'i>, input: &'i str, forms: Forms) -> Result<Located<'i>> {
        let alias_refused = || match forms {
            Forms::Any => None,
            Forms::Key => Some(err::invalid_key_id(input)),
            Forms::Target => Some(err::alias_to_alias()),
        };
        let here = |target| Located { account: caller.account, region: caller.region, target };
        if input.starts_with(ALIAS_PREFIX) {
            return match alias_refused() {
                Some(e) => Err(e),
                None => Ok(here(Target::Alias(input.to_owned()))),
            };
        }
        if let Some(rest) = input.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, "kms", region, account, resource] = parts[..] else {
                return Err(err::invalid_key_id(input));
            };
            if !partition.starts_with("aws") || !crate::auth::is_account_id(account) {
                return Err(err::invalid_key_id(input));
            }
            if region != caller.region {
                return Err(err::invalid_arn_region(region));
            }
            if let Some(id) = resource.strip_prefix("key/").filter(|id| is_key_id(id)) {
                return Ok(Located { account, region, target: Target::Key(id) });
            }
            if resource.starts_with(ALIAS_PREFIX) && resource.len() > ALIAS_PREFIX.len() {
                return match alias_refused() {
                    Some(e) => Err(e),
                    None => Ok(Located { account, region, target: Target::Alias(resource.to_owned()) }),
                };
            }
            return Err(err::invalid_key_id(input));
        }
        if is_key_id(input) { Ok(here(Target::Key(input))) } else { Err(err::invalid_key_id(input)) }
    }

    /// Runs `f` on the key `key_ref` names, with its material, under its store's read lock.
    fn read_key<R>(
        &self,
        caller: Caller<'_>,
        key_ref: &str,
        forms: Forms,
        action: &str,
        rule: Rule,
        f: impl FnOnce(&Key, &Material) -> Result<R>,
    ) -> Result<R> {
        let located = self.locate(caller, key_ref, forms)?;
        let now = self.now();
        let store = self.existing_store(located.account, located.region).ok_or_else(|| not_found(&located))?;
        let inner = store.inner.read();
        let key = inner.find_key(&located, now)?;
        check_managed(key, caller, action)?;
        check_rule(key, rule)?;
        let material = inner.materials.get(&key.id).ok_or_else(|| err::internal("a key has no material"))?;
        f(key, material)
    }

    /// Runs `f` on the key `key_ref` names under its store's write lock, and journals the key.
    fn write_key<R>(
        &self,
        caller: Caller<'_>,
        key_ref: &str,
        forms: Forms,
        action: &str,
        rule: Rule,
        f: impl FnOnce(&mut Key, Timestamp) -> Result<R>,
    ) -> Result<R> {
        let located = self.locate(caller, key_ref, forms)?;
        let now = self.now();
        let store = self.existing_store(located.account, located.region).ok_or_else(|| not_found(&located))?;
        let mut inner = store.inner.write();
        let id = inner.find_key(&located, now)?.id.clone();
        let Some(key) = inner.keys.get_mut(&id) else {
            return Err(err::key_not_found(&located_arn(&located)));
        };
        check_managed(key, caller, action)?;
        check_rule(key, rule)?;
        let result = f(key, now)?;
        let key = key.clone();
        self.log_key(located.account, located.region, &key);
        Ok(result)
    }

    // -- the AWS managed key ----------------------------------------------------------------

    /// Creates the caller's `aws/secretsmanager` key if `key_ref` is its predefined alias (name
    /// or ARN) and it does not exist yet. Another account's alias ARN creates nothing there.
    fn ensure_managed_for(&self, caller: Caller<'_>, key_ref: &str) -> Result<()> {
        let Ok(located) = self.locate(caller, key_ref, Forms::Any) else { return Ok(()) };
        match located.target {
            Target::Alias(name) if name == SECRETS_MANAGER_ALIAS && located.account == caller.account => {
                self.managed_key(located.account, located.region).map(drop)
            }
            _ => Ok(()),
        }
    }

    /// The id of the `aws/secretsmanager` key, created on first use with its alias, description
    /// and key policy.
    fn managed_key(&self, account: &str, region: &str) -> Result<String> {
        let existing = |kms: &Self| {
            kms.existing_store(account, region)
                .and_then(|s| s.inner.read().aliases.get(SECRETS_MANAGER_ALIAS).map(|a| a.target.clone()))
        };
        if let Some(id) = existing(self) {
            return Ok(id);
        }
        // Two first uses at once create one key: the loser's material is never used.
        let id = uuid::Uuid::new_v4().to_string();
        let key = self.insert_key(account, region, &id, |key| {
            key.manager = KeyManager::Aws;
            key.description = SECRETS_MANAGER_KEY_DESCRIPTION.to_owned();
            key.policy = managed_policy(account, region).into();
        })?;
        let store = self.store(account, region);
        let mut inner = store.inner.write();
        if let Some(winner) = inner.aliases.get(SECRETS_MANAGER_ALIAS).map(|a| a.target.clone()) {
            inner.remove_key(&key.id);
            self.log(Change::RemoveKey {
                account: account.to_owned(),
                region: region.to_owned(),
                key_id: key.id.clone(),
            });
            // Its material stays in the keys file until the next start drops it as unused: the
            // key's removal is not durable yet.
            return Ok(winner);
        }
        let alias = Alias {
            name: SECRETS_MANAGER_ALIAS.to_owned(),
            target: key.id.clone(),
            created: key.created,
            updated: key.created,
        };
        self.log_alias(account, region, &alias);
        inner.aliases.insert(alias.name.clone(), alias);
        Ok(key.id)
    }

    // -- deletion on the clock --------------------------------------------------------------

    fn schedule(&self, account: &str, region: &str, key_id: &str, at: Timestamp) {
        self.due.schedule(Due {
            at,
            kind: DueKind::KeyDeletion,
            account: account.to_owned(),
            region: region.to_owned(),
            name: key_id.to_owned(),
        });
    }

    /// Deletes the key of a `KeyDeletion` entry if its window has really ended (entries go stale
    /// when a deletion is cancelled): the key, its aliases and its material. Returns whether a
    /// key was deleted.
    pub fn purge(&self, due: &Due) -> bool {
        let Some(store) = self.existing_store(&due.account, &due.region) else { return false };
        let mut inner = store.inner.write();
        let now = self.now();
        if !inner.keys.get(&due.name).is_some_and(|k| is_due(k, now)) {
            return false;
        }
        inner.remove_key(&due.name);
        self.log(Change::RemoveKey {
            account: due.account.clone(),
            region: due.region.clone(),
            key_id: due.name.clone(),
        });
        drop(inner);
        self.forget_material(&[(due.account.clone(), due.region.clone(), due.name.clone())]);
        tracing::debug!(key = %due.name, "deletion window ended; key deleted");
        if let Some(audit) = self.audit.get() {
            audit.key_deleted(&due.account, &due.region, &key_arn(&due.region, &due.account, &due.name));
        }
        true
    }

    fn forget_material(&self, keys: &[(String, String, String)]) {
        if let Some(file) = self.keyfile.get()
            && let Err(e) = file.remove(keys)
        {
            // The key is gone from state; its material is unreachable and dropped at the next start.
            tracing::error!(error = %e, "key material could not be removed from the keys file");
        }
    }

    /// Forgets every key, or those of one account, or of one account and region.
    ///
    /// Their material stays in the keys file until the next start drops it as unused: the reset
    /// is not durable yet when this returns, and a journal write that fails takes it back (see
    /// [`Self::restore`]), so the keys must still open what they sealed.
    pub fn reset(&self, account: Option<&str>, region: Option<&str>) {
        self.reset_in_memory(account, region);
        self.log(Change::Reset { account: account.map(str::to_owned), region: region.map(str::to_owned) });
    }

    /// After a failed journal write: rebuilds the store from what the disk holds (a snapshot's
    /// keys and the journalled changes after it), each key with the material it had, here or in
    /// the keys file.
    pub fn restore(&self, dumps: Vec<StoreDump>, changes: Vec<Change>) {
        let mut materials: HashMap<(String, String, String), Material> = HashMap::new();
        for (account, regions) in self.stores.read().iter() {
            for (region, store) in regions {
                for (id, material) in &store.inner.read().materials {
                    materials.insert((account.clone(), region.clone(), id.clone()), material.clone());
                }
            }
        }
        self.load(dumps);
        for change in changes {
            self.apply_change(change);
        }
        for (account, regions) in self.stores.read().iter() {
            for (region, store) in regions {
                let mut inner = store.inner.write();
                let ids: Vec<String> = inner.keys.keys().cloned().collect();
                for id in ids {
                    let place = (account.clone(), region.clone(), id.clone());
                    let material = materials
                        .remove(&place)
                        .or_else(|| self.keyfile.get().and_then(|f| f.get(account, region, &id)));
                    match material {
                        Some(material) => {
                            inner.materials.insert(id, material);
                        }
                        None => tracing::error!(key = %id, "a restored KMS key has no material"),
                    }
                }
            }
        }
    }

    fn reset_in_memory(&self, account: Option<&str>, region: Option<&str>) {
        let mut stores = self.stores.write();
        match (account, region) {
            (None, _) => stores.clear(),
            (Some(a), None) => {
                stores.remove(a);
            }
            (Some(a), Some(r)) => {
                if let Some(regions) = stores.get_mut(a) {
                    regions.remove(r);
                }
            }
        }
    }

    /// How many keys smemu holds, over every account and region.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.stores.read().values().flat_map(HashMap::values).map(|s| s.inner.read().keys.len()).sum()
    }

    // -- seeding ----------------------------------------------------------------------------

    /// Creates a seeded key unless its id is taken (seeding is idempotent): with its aliases,
    /// state, rotation and pending deletion. Aliases already taken by another key stay as they
    /// are. Returns whether the key was created.
    pub fn seed_key(&self, account: &str, region: &str, seed: SeedKey) -> Result<bool> {
        let id = match seed.id {
            Some(id) => id,
            None => stable_key_id(account, region, seed.aliases.first().map_or("", String::as_str)),
        };
        if self.existing_store(account, region).is_some_and(|s| s.inner.read().keys.contains_key(&id)) {
            return Ok(false);
        }
        let policy = match seed.new.policy {
            Some(policy) => checked_policy(policy)?,
            None => default_policy(account, region),
        };
        let tags = merged_tags(&[], &seed.new.tags)?;
        let now = self.now();
        let key = self.insert_key(account, region, &id, |key| {
            key.description = seed.new.description.unwrap_or_default();
            key.policy = policy.into();
            key.tags = tags;
            if !seed.enabled {
                key.state = KeyState::Disabled;
            }
            key.rotation = seed.rotation_period_days.map(|period_days| KeyRotation { enabled_at: now, period_days });
            if let Some(window) = seed.pending_window_days {
                key.state = KeyState::PendingDeletion;
                key.deletion = Some(PendingDeletion { at: now.plus_days(window), window_days: window });
            }
        })?;
        let store = self.store(account, region);
        let mut inner = store.inner.write();
        for name in seed.aliases {
            if inner.aliases.contains_key(&name) {
                continue;
            }
            let alias = Alias { name, target: key.id.clone(), created: now, updated: now };
            self.log_alias(account, region, &alias);
            inner.aliases.insert(alias.name.clone(), alias);
        }
        Ok(true)
    }

    // -- durability -------------------------------------------------------------------------

    /// Attaches the durable journal; from now on every change is appended to it.
    pub fn set_changelog(&self, log: Arc<dyn ChangeLog>) {
        let _ = self.changelog.set(log);
    }

    fn log(&self, change: super::Change) {
        if let Some(log) = self.changelog.get() {
            match serde_json::to_vec(&crate::services::secretsmanager::state::Change::Kms(change)) {
                Ok(bytes) => {
                    log.append(&bytes);
                }
                Err(e) => tracing::error!(error = %e, "a KMS change could not be encoded for the journal"),
            }
        }
    }

    fn log_key(&self, account: &str, region: &str, key: &Key) {
        if self.changelog.get().is_some() {
            self.log(Change::PutKey { account: account.to_owned(), region: region.to_owned(), key: key.clone() });
        }
    }

    fn log_alias(&self, account: &str, region: &str, alias: &Alias) {
        if self.changelog.get().is_some() {
            self.log(Change::PutAlias { account: account.to_owned(), region: region.to_owned(), alias: alias.clone() });
        }
    }

    /// Every key and alias, without material, for a snapshot.
    #[must_use]
    pub fn export(&self) -> Vec<StoreDump> {
        let stores = self.stores.read();
        let mut out = Vec::new();
        for (account, regions) in stores.iter() {
            for (region, store) in regions {
                let inner = store.inner.read();
                let keys = inner.by_seq.values().filter_map(|id| inner.keys.get(id)).cloned().collect();
                let aliases = inner.aliases.values().cloned().collect();
                out.push(StoreDump { account: account.clone(), region: region.clone(), keys, aliases });
            }
        }
        out.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        out
    }

    /// Replays one journalled change (recovery). Nothing is journalled again; material is
    /// attached afterwards by [`Self::attach_material`].
    pub fn apply_change(&self, change: super::Change) {
        match change {
            Change::PutKey { account, region, key } => {
                if let Some(deletion) = key.deletion {
                    self.schedule(&account, &region, &key.id, deletion.at);
                }
                self.store(&account, &region).inner.write().put(key);
            }
            Change::RemoveKey { account, region, key_id } => {
                if let Some(store) = self.existing_store(&account, &region) {
                    store.inner.write().remove_key(&key_id);
                }
            }
            Change::PutAlias { account, region, alias } => {
                self.store(&account, &region).inner.write().aliases.insert(alias.name.clone(), alias);
            }
            Change::RemoveAlias { account, region, name } => {
                if let Some(store) = self.existing_store(&account, &region) {
                    store.inner.write().aliases.remove(&name);
                }
            }
            Change::Reset { account, region } => self.reset_in_memory(account.as_deref(), region.as_deref()),
        }
    }

    /// Replaces every key and alias with those of an export (`POST /_smemu/state`). An export
    /// holds no material: a key already here keeps its own, any other gets fresh material, on
    /// disk before the key exists. Journalled as a reset followed by each key and alias.
    ///
    /// Returns what it replaced, for [`Self::undo_import`] when the rest of an import fails.
    ///
    /// # Errors
    /// When fresh material cannot be made or written; nothing has changed then.
    pub fn import(&self, dumps: Vec<StoreDump>) -> Result<Replaced> {
        let mut kept: HashMap<(String, String, String), Material> = HashMap::new();
        for dump in &dumps {
            for key in &dump.keys {
                let place = (dump.account.clone(), dump.region.clone(), key.id.clone());
                let existing = self
                    .existing_store(&dump.account, &dump.region)
                    .and_then(|s| s.inner.read().materials.get(&key.id).cloned());
                let material = match existing {
                    Some(material) => material,
                    None => {
                        let material = Material::generate().map_err(|_| err::internal("random source failed"))?;
                        if let Some(file) = self.keyfile.get() {
                            file.add(&dump.account, &dump.region, &key.id, &material).map_err(|e| err::internal(&e))?;
                        }
                        material
                    }
                };
                kept.insert(place, material);
            }
        }
        let replaced = Replaced(std::mem::take(&mut *self.stores.write()));
        self.log(Change::Reset { account: None, region: None });
        for dump in dumps {
            let store = self.store(&dump.account, &dump.region);
            let mut inner = store.inner.write();
            for key in dump.keys {
                if let Some(material) = kept.remove(&(dump.account.clone(), dump.region.clone(), key.id.clone())) {
                    inner.materials.insert(key.id.clone(), material);
                }
                if let Some(deletion) = key.deletion {
                    self.schedule(&dump.account, &dump.region, &key.id, deletion.at);
                }
                self.log_key(&dump.account, &dump.region, &key);
                inner.put(key);
            }
            for alias in dump.aliases {
                self.log_alias(&dump.account, &dump.region, &alias);
                inner.aliases.insert(alias.name.clone(), alias);
            }
        }
        Ok(replaced)
    }

    /// Puts back the keys an [`Self::import`] replaced, material included, and journals them
    /// so. The material the import made stays in the keys file until the next start drops it
    /// as unused; deletions it scheduled find no such key when due.
    pub fn undo_import(&self, replaced: Replaced) {
        *self.stores.write() = replaced.0;
        self.log(Change::Reset { account: None, region: None });
        if self.changelog.get().is_some() {
            for dump in self.export() {
                for key in &dump.keys {
                    self.log_key(&dump.account, &dump.region, key);
                }
                for alias in &dump.aliases {
                    self.log_alias(&dump.account, &dump.region, alias);
                }
            }
        }
    }

    /// Loads a snapshot's keys and aliases (recovery), replacing what the store holds.
    pub fn load(&self, dumps: Vec<StoreDump>) {
        self.reset_in_memory(None, None);
        for dump in dumps {
            let store = self.store(&dump.account, &dump.region);
            let mut inner = store.inner.write();
            for key in dump.keys {
                if let Some(deletion) = key.deletion {
                    self.schedule(&dump.account, &dump.region, &key.id, deletion.at);
                }
                inner.put(key);
            }
            for alias in dump.aliases {
                inner.aliases.insert(alias.name.clone(), alias);
            }
        }
    }

    /// After recovery: gives every key its material from `file` and keeps `file` for the changes
    /// to come. A key pending deletion whose material is gone (its deletion was under way when
    /// smemu stopped) is deleted; any other key without material is an error, since what it
    /// encrypted could never be read again. Material of keys that no longer exist is dropped.
    ///
    /// # Errors
    /// A message naming the key, and the keys file if it cannot be rewritten.
    pub fn attach_material(&self, file: KeyFile) -> std::result::Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        let mut kept = Vec::new();
        let stores: Vec<(String, String, Arc<KeyStore>)> = self
            .stores
            .read()
            .iter()
            .flat_map(|(a, regions)| regions.iter().map(|(r, s)| (a.clone(), r.clone(), s.clone())))
            .collect();
        for (account, region, store) in stores {
            let mut inner = store.inner.write();
            let ids: Vec<String> = inner.keys.keys().cloned().collect();
            for id in ids {
                if let Some(material) = file.get(&account, &region, &id) {
                    inner.materials.insert(id.clone(), material);
                    kept.push((account.clone(), region.clone(), id));
                    continue;
                }
                let pending = inner.keys.get(&id).is_some_and(|k| k.state == KeyState::PendingDeletion);
                if !pending {
                    return Err(format!(
                        "KMS key {id} of account {account} in {region} has no key material in {}",
                        file.path().display()
                    ));
                }
                inner.remove_key(&id);
                warnings.push(format!("KMS key {id} of account {account} in {region} was being deleted; deleted"));
            }
        }
        let orphans = file.len().saturating_sub(kept.len());
        if orphans > 0 {
            file.retain(|a, r, id| kept.iter().any(|(ka, kr, kid)| ka == a && kr == r && kid == id))
                .map_err(|e| e.clone())?;
            warnings.push(format!("{orphans} unused key material entries dropped from {}", file.path().display()));
        }
        let _ = self.keyfile.set(file);
        Ok(warnings)
    }

    /// The key store as Secrets Manager uses it for a request of `acting`: see
    /// [`ForSecretsManager`].
    #[must_use]
    pub fn for_secrets_manager<'a>(&'a self, acting: &'a crate::auth::Caller) -> ForSecretsManager<'a> {
        ForSecretsManager { kms: self, acting, home: (&acting.account_id, &acting.region) }
    }
}

/// The typed calls Secrets Manager makes for envelope encryption, as the principal
/// `secretsmanager.amazonaws.com` acting for a caller of its own API (`acting`): no HTTP, no key
/// policy beyond the managed key's (which lets Secrets Manager use it). Keys are looked up in the
/// acting caller's account and region at each call, so an alias is resolved when it is used.
pub struct ForSecretsManager<'a> {
    kms: &'a Kms,
    acting: &'a crate::auth::Caller,
    /// The account and region of the secret, whose keys are used: a caller of another account
    /// reading a secret by ARN acts there, with that account's keys.
    home: (&'a str, &'a str),
}

impl<'a> ForSecretsManager<'a> {
    /// The same calls for a secret of `account` in `region`.
    #[must_use]
    pub fn of_secret_in(self, account: &'a str, region: &'a str) -> Self {
        Self { home: (account, region), ..self }
    }

    fn caller(&self) -> Caller<'_> {
        Caller { account: self.home.0, region: self.home.1, principal: Principal::SecretsManager }
    }

    /// The account and region of the secret.
    fn place(&self) -> (&str, &str) {
        self.home
    }

    /// `key_ref`, or the id of the `aws/secretsmanager` key (created on first use) for `None`.
    fn key_or_managed<'k>(&self, key_ref: Option<&'k str>, id: &'k mut String) -> Result<&'k str> {
        match key_ref {
            Some(key_ref) => Ok(key_ref),
            None => {
                let (account, region) = self.place();
                *id = self.kms.managed_key(account, region)?;
                Ok(id.as_str())
            }
        }
    }

    /// GenerateDataKey with `KeySpec: AES_256`, as Secrets Manager calls it for each secret
    /// value. `key_ref` (any of the four forms) `None` means the account's `aws/secretsmanager`
    /// key, created on first use.
    ///
    /// # Errors
    /// The KMS error (NotFoundException, DisabledException, KMSInvalidStateException, ...), for
    /// the caller to wrap in its own.
    pub fn generate_data_key(&self, key_ref: Option<&str>, context: &[(String, String)]) -> Result<DataKey> {
        let mut id = String::new();
        let key_ref = self.key_or_managed(key_ref, &mut id)?;
        let made = self.kms.generate_data_key(self.caller(), key_ref, 32, context, false, "GenerateDataKey");
        let key = made.as_ref().map_or(key_ref, |k| k.key_arn.as_str());
        self.kms.audit_for_secrets_manager(
            self.acting.into(),
            "GenerateDataKey",
            Some(key),
            context,
            made.as_ref().err(),
        );
        made
    }

    /// Encrypt: seals a data key Secrets Manager already holds under another key (a secret
    /// moving to a new key keeps its versions' data keys).
    ///
    /// # Errors
    /// As [`Self::generate_data_key`].
    pub fn encrypt(&self, key_ref: Option<&str>, plaintext: &[u8], context: &[(String, String)]) -> Result<Sealed> {
        let mut id = String::new();
        let key_ref = self.key_or_managed(key_ref, &mut id)?;
        let sealed = self.kms.encrypt(self.caller(), key_ref, plaintext, context, false);
        self.kms.audit_for_secrets_manager(
            self.acting.into(),
            "Encrypt",
            Some(key_ref),
            context,
            sealed.as_ref().err(),
        );
        sealed
    }

    /// Decrypt: the blob names its key.
    ///
    /// # Errors
    /// As [`Self::generate_data_key`]; `InvalidCiphertextException` for a wrong context or an
    /// altered blob; `NotFoundException` once the key is deleted.
    pub fn decrypt(&self, blob: &[u8], context: &[(String, String)]) -> Result<Plaintext> {
        let opened = self.kms.decrypt(self.caller(), blob, None, context, false);
        let key = opened.as_ref().ok().map(|o| o.key_arn.as_str());
        self.kms.audit_for_secrets_manager(self.acting.into(), "Decrypt", key, context, opened.as_ref().err());
        opened.map(|opened| opened.plaintext)
    }

    /// The ARN of the key `key_ref` names (`None`: the managed key, created on first use), to
    /// check a `KmsKeyId` before a secret uses it.
    ///
    /// # Errors
    /// As [`Self::generate_data_key`].
    pub fn key_arn(&self, key_ref: Option<&str>) -> Result<String> {
        let (account, region) = self.place();
        match key_ref {
            Some(key_ref) => self.kms.describe_key(self.caller(), key_ref).map(|k| k.arn),
            None => self.kms.managed_key(account, region).map(|id| key_arn(region, account, &id)),
        }
    }
}

impl KeyStoreInner {
    /// The key a located reference names, following an alias. A key whose deletion date has
    /// passed counts as gone, even before the scheduler has deleted it.
    fn find_key(&self, located: &Located<'_>, now: Timestamp) -> Result<&Key> {
        match &located.target {
            Target::Key(id) => {
                self.keys.get(*id).filter(|k| !is_due(k, now)).ok_or_else(|| err::key_not_found(&located_arn(located)))
            }
            Target::Alias(name) => {
                let not_found = || err::alias_not_found(&alias_arn(located.region, located.account, name));
                let alias = self.aliases.get(name).ok_or_else(not_found)?;
                self.keys.get(&alias.target).filter(|k| !is_due(k, now)).ok_or_else(not_found)
            }
        }
    }

    fn put(&mut self, key: Key) {
        if let Some(old) = self.keys.get(&key.id) {
            self.by_seq.remove(&old.seq);
        }
        self.next_seq = self.next_seq.max(key.seq + 1);
        self.by_seq.insert(key.seq, key.id.clone());
        self.keys.insert(key.id.clone(), key);
    }

    fn remove_key(&mut self, id: &str) {
        if let Some(key) = self.keys.remove(id) {
            self.by_seq.remove(&key.seq);
        }
        self.materials.remove(id);
        self.aliases.retain(|_, a| a.target != id);
    }
}

fn seal(key: &Key, material: &Material, plaintext: &[u8], context: &[(String, String)]) -> Result<Vec<u8>> {
    let id = uuid::Uuid::parse_str(&key.id).map_err(|_| err::internal("a key id is not a UUID"))?;
    crypto::seal(material, id, plaintext, context).map_err(|_| err::internal("encryption failed"))
}

fn is_due(key: &Key, now: Timestamp) -> bool {
    key.deletion.is_some_and(|d| d.at <= now)
}

fn check_rule(key: &Key, rule: Rule) -> Result<()> {
    match (rule, key.state) {
        (Rule::Any, _)
        | (Rule::NotPending | Rule::Enabled | Rule::Crypto, KeyState::Enabled)
        | (Rule::NotPending, KeyState::Disabled)
        | (Rule::Pending, KeyState::PendingDeletion) => Ok(()),
        (Rule::Enabled | Rule::Crypto, KeyState::Disabled) => Err(err::disabled(&key.arn)),
        (Rule::NotPending | Rule::Enabled | Rule::Crypto, KeyState::PendingDeletion) => {
            Err(err::pending_deletion(&key.arn))
        }
        (Rule::Pending, KeyState::Enabled | KeyState::Disabled) => Err(err::not_pending_deletion(&key.arn)),
    }
}

/// The managed key's policy: a direct caller of its own account may only read metadata; its
/// cryptographic use goes through Secrets Manager.
fn check_managed(key: &Key, caller: Caller<'_>, action: &str) -> Result<()> {
    let Principal::User(principal) = caller.principal else { return Ok(()) };
    if key.manager == KeyManager::Customer {
        return Ok(());
    }
    let reads = ["Describe", "Get", "List"].iter().any(|p| action.starts_with(p)) || action == "RevokeGrant";
    if reads && caller.account == key.account { Ok(()) } else { Err(err::access_denied(principal, action, &key.arn)) }
}

/// What CreateKey checks of its input beyond the model, with the member each check is about
/// (`policy`, `tags`), for a seed file to name its own field.
///
/// # Errors
/// The member and the KMS error.
pub fn check_new_key(new: &NewKey) -> std::result::Result<(), (&'static str, KmsError)> {
    if let Some(policy) = &new.policy {
        checked_policy(policy.clone()).map_err(|e| ("policy", e))?;
    }
    merged_tags(&[], &new.tags).map_err(|e| ("tags", e))?;
    Ok(())
}

/// What CreateAlias checks of an alias name beyond the model.
///
/// # Errors
/// The prefix and reserved-name errors.
pub fn check_alias_name(name: &str) -> Result<()> {
    if !name.starts_with(ALIAS_PREFIX) {
        return Err(err::alias_prefix());
    }
    if name.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(err::alias_reserved());
    }
    Ok(())
}

fn is_reserved_tag(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// `existing` with `added` merged in (a key already there gets the new value), checked as
/// TagResource and CreateKey check tags.
fn merged_tags(existing: &[Tag], added: &[Tag]) -> Result<Vec<Tag>> {
    if added.iter().any(|t| is_reserved_tag(&t.key)) {
        return Err(err::tag_reserved());
    }
    for (i, tag) in added.iter().enumerate() {
        if added[..i].iter().any(|t| t.key == tag.key) {
            return Err(err::tag_duplicate());
        }
    }
    let mut tags = existing.to_vec();
    for tag in added {
        match tags.iter_mut().find(|t| t.key == tag.key) {
            Some(slot) => slot.value.clone_from(&tag.value),
            None => tags.push(tag.clone()),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(err::tag_too_many());
    }
    Ok(tags)
}

/// A key policy must be a JSON object; it is kept as sent.
fn checked_policy(policy: String) -> Result<String> {
    match serde_json::from_str::<serde_json::Value>(&policy) {
        Ok(serde_json::Value::Object(_)) => Ok(policy),
        _ => Err(err::malformed_policy()),
    }
}

/// A UUID (8-4-4-4-12 hex digits) or a multi-Region key id (`mrk-` and 32 hex digits).
#[must_use]
pub fn is_key_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    uuid || s.strip_prefix("mrk-").is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[must_use]
pub fn key_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:{}:kms:{region}:{account}:key/{id}", partition_of(region))
}

/// `alias/name` → `arn:aws:kms:<region>:<account>:alias/name`.
#[must_use]
pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:kms:{region}:{account}:{name}", partition_of(region))
}

fn located_arn(located: &Located<'_>) -> String {
    match &located.target {
        Target::Key(id) => key_arn(located.region, located.account, id),
        Target::Alias(name) => alias_arn(located.region, located.account, name),
    }
}

/// What a reference to nothing answers: the key's or the alias's own not-found error.
fn not_found(located: &Located<'_>) -> KmsError {
    match &located.target {
        Target::Key(_) => err::key_not_found(&located_arn(located)),
        Target::Alias(_) => err::alias_not_found(&located_arn(located)),
    }
}

fn arn_field(arn: &str, index: usize) -> &str {
    arn.split(':').nth(index).unwrap_or_default()
}

fn arn_region(arn: &str) -> &str {
    arn_field(arn, 3)
}

fn arn_account(arn: &str) -> &str {
    arn_field(arn, 4)
}

/// A UUID-shaped key id derived from where a seeded key sits, so seeding twice finds it.
fn stable_key_id(account: &str, region: &str, alias: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("kms/{account}/{region}/{alias}").as_bytes());
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

fn decode_marker(marker: Option<&str>) -> Result<Option<String>> {
    marker
        .map(|m| {
            STANDARD.decode(m).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(err::invalid_marker)
        })
        .transpose()
}

/// The first `limit` items, and a marker after the last of them when more follow.
fn page<I, T, R>(items: I, limit: usize, sort_key: impl Fn(&T) -> String, f: impl Fn(&T) -> R) -> Page<R>
where
    I: Iterator<Item = T>,
{
    let mut out = Vec::new();
    let mut items = items.peekable();
    while out.len() < limit {
        let Some(item) = items.next() else { break };
        let more = items.peek().is_some();
        out.push(f(&item));
        if out.len() == limit && more {
            return Page { items: out, next_marker: Some(STANDARD.encode(sort_key(&item))) };
        }
    }
    Page { items: out, next_marker: None }
}

/// [AWS doc] The key policy CreateKey gives a key when none is sent, pretty-printed as AWS prints
/// the policies it writes. The Sid is the one the API has long used (unconfirmed for today).
#[must_use]
pub fn default_policy(account: &str, region: &str) -> String {
    let partition = partition_of(region);
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:{partition}:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// [AWS] The key policy of the `aws/secretsmanager` key (`auto-secretsmanager-2`).
#[must_use]
pub fn managed_policy(account: &str, region: &str) -> String {
    let partition = partition_of(region);
    let sid = "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager";
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-secretsmanager-2",
  "Statement" : [ {{
    "Sid" : "{sid}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : "secretsmanager.{region}.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "{sid}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : "kms:GenerateDataKey*",
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}"
      }},
      "StringLike" : {{
        "kms:ViaService" : "secretsmanager.*.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:{partition}:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  }} ]
}}"#
    )
}

#[cfg(test)]
mod tests;
