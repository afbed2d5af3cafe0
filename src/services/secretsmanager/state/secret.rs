//! One secret and its versions, and the staging-label moves each operation makes.
//!
//! Invariant kept here: within one secret a staging label is on at most one version.

use crate::clock::{MILLIS_PER_DAY, Timestamp};
use crate::error::{ApiError, Result};
use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";

/// AWS keeps at most this many versions once they are older than [`VERSION_MIN_AGE_MS`].
pub const MAX_VERSIONS: usize = 100;
/// Versions younger than a day are never pruned.
pub const VERSION_MIN_AGE_MS: i64 = MILLIS_PER_DAY;
/// Tags per secret, as AWS documents for TagResource.
pub const MAX_TAGS: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

/// What ListSecretVersionIds names a version on the AWS managed key by.
pub const DEFAULT_KEY_LABEL: &str = "DefaultEncryptionKey";

/// A secret value as the engine keeps it, in memory and on disk: AES-256-GCM under a data key of
/// its own, which is kept only wrapped by KMS keys. The plaintext is never stored; it exists only
/// while a request writes or reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    /// A SecretBinary (else a SecretString).
    pub binary: bool,
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
    /// The data key wrapped by each KMS key the version is encrypted under, oldest first: a
    /// secret moved to a new key keeps its labelled versions readable under the old one too.
    pub keys: Vec<WrappedKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappedKey {
    /// The key as the secret named it (`None`: the AWS managed key), as ListSecretVersionIds shows it.
    pub key_id: Option<String>,
    /// The key it resolved to when the data key was wrapped.
    pub key_arn: String,
    #[serde(with = "base64_bytes")]
    pub data_key: Vec<u8>,
}

impl Sealed {
    /// The keys ListSecretVersionIds reports for the version, oldest first.
    #[must_use]
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.key_id.clone().unwrap_or_else(|| DEFAULT_KEY_LABEL.to_owned())).collect()
    }
}

/// Ciphertext as base64 in JSON (the journal, snapshots), not as a list of numbers.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// A version whose labels or last-access date change, and nothing else (see [`Secret::relabel`]).
pub struct Relabel<'v>(&'v mut Version);

impl Relabel<'_> {
    fn remove_stage(&mut self, stage: &str) {
        self.0.stages.retain(|s| s != stage);
    }

    fn add_stage(&mut self, stage: &str) {
        self.0.add_stage(stage);
    }

    fn set_stages(&mut self, stages: Vec<String>) {
        self.0.stages = stages;
    }

    pub fn set_last_accessed(&mut self, day: Timestamp) {
        self.0.last_accessed = Some(day);
    }
}

/// What a journal record says of a version whose labels or last-access date alone changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Relabelled {
    pub id: String,
    pub stages: Vec<String>,
    pub last_accessed: Option<Timestamp>,
}

impl Relabelled {
    #[must_use]
    pub fn of(version: &Version) -> Self {
        Self { id: version.id.clone(), stages: version.stages.clone(), last_accessed: version.last_accessed }
    }

    /// Replay: the labels and date onto the version they describe.
    pub fn apply_to(&self, version: &mut Version) {
        version.stages.clone_from(&self.stages);
        version.last_accessed = self.last_accessed;
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    /// `None` for the placeholder a rotation creates before its function stores a value.
    pub value: Option<Sealed>,
    /// Ordered set of staging labels.
    pub stages: Vec<String>,
    pub created: Timestamp,
    pub last_accessed: Option<Timestamp>,
}

impl Version {
    #[must_use]
    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }

    fn add_stage(&mut self, stage: &str) {
        if !self.has_stage(stage) {
            self.stages.push(stage.to_owned());
        }
    }

    #[must_use]
    pub fn is_deprecated(&self) -> bool {
        self.stages.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Deletion {
    /// When DeleteSecret was called (the `DeletedDate` AWS reports).
    pub deleted_at: Timestamp,
    /// When the secret is purged (the `DeletionDate` DeleteSecret answered).
    pub purge_at: Timestamp,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRules {
    pub automatically_after_days: Option<i64>,
    pub duration: Option<String>,
    pub schedule_expression: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Rotation {
    /// `None` until rotation has been configured once.
    pub enabled: Option<bool>,
    pub lambda_arn: Option<String>,
    pub rules: Option<RotationRules>,
    pub last_rotated: Option<Timestamp>,
    pub next_rotation: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResourcePolicy {
    pub document: crate::iam::policy::StoredPolicy,
    pub block_public: bool,
    /// The name it is listed under when it is not the one a client attaches (`default`): the
    /// system-managed policy of a cross-account replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Where a replica stands, as `ReplicationStatus` and the cross-account entries report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaStatus {
    InSync,
    InProgress,
    Failed,
    /// A cross-account replica whose relationship is recorded but not yet copied.
    Pending,
    /// A cross-account link one side has stopped.
    Detached,
}

impl ReplicaStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "InSync",
            Self::InProgress => "InProgress",
            Self::Failed => "Failed",
            Self::Pending => "Pending",
            Self::Detached => "Detached",
        }
    }
}

/// A primary's record of one of its replicas in another Region of its account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaLink {
    pub region: String,
    /// The replica's own key as the request named it (`None`: that Region's AWS managed key).
    pub kms_key_id: Option<String>,
    pub status: ReplicaStatus,
    pub message: Option<String>,
    /// ForceOverwriteReplicaSecret: a same-named secret in the Region gives way to the replica.
    #[serde(default)]
    pub overwrite: bool,
    /// While replication to the Region lags: when it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
}

/// A cross-account replica's record of its primary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossAccountPrimary {
    pub primary_arn: String,
    pub status: ReplicaStatus,
    pub message: Option<String>,
}

/// A primary's record of its cross-account replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossAccountReplica {
    pub replica_arn: String,
    pub role_arn: Option<String>,
    pub restriction: Option<String>,
    pub status: ReplicaStatus,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secret {
    /// Creation sequence within its store; breaks ties between secrets created in the same millisecond.
    pub seq: u64,
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_type: Option<String>,
    pub owning_service: Option<String>,
    pub tags: Vec<Tag>,
    /// AWS answers `Tags: []` once a secret has had tags, and omits the key if it never had any.
    pub ever_tagged: bool,
    pub created: Timestamp,
    pub last_changed: Timestamp,
    pub last_accessed: Option<Timestamp>,
    pub deletion: Option<Deletion>,
    pub rotation: Rotation,
    pub policy: Option<ResourcePolicy>,
    /// Creation order; pruning removes from the front.
    pub versions: Vec<Version>,
    /// On a primary: its replicas in other Regions, in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaLink>,
    /// On a Regional replica: the Region of its primary (the rest of the ARN is the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// Counts the changes made to the secret; a replica keeps the count of the primary state it
    /// copies, so an older copy never overwrites a newer one.
    #[serde(default)]
    pub revision: u64,
    /// On a cross-account replica: its primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_account_primary: Option<CrossAccountPrimary>,
    /// On a primary: its cross-account replica (at most one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_account_replicas: Vec<CrossAccountReplica>,
    /// Ids of versions removed since the last journal record (not part of the state).
    #[serde(skip)]
    pub removed_versions: Vec<String>,
    /// Ids of versions added or changed since the last journal record (not part of the state):
    /// every change to a version goes through [`Secret::version_mut`] or [`Secret::push_version`].
    #[serde(skip)]
    pub touched_versions: Vec<String>,
    /// Ids of versions whose labels or last-access date alone changed since the last journal
    /// record (not part of the state): journalled without their values, which did not change.
    /// Every such change goes through [`Secret::relabel`].
    #[serde(skip)]
    pub relabelled_versions: Vec<String>,
    /// Position of each version by id, so a secret written thousands of times a day (every
    /// version younger than a day is kept) still finds a version without a scan. Rebuilt by
    /// [`Secret::reindex`] whenever versions are removed or the secret is loaded.
    #[serde(skip)]
    pub id_index: HashMap<String, usize>,
    /// The journal ticket of the last change to the secret (0 when durable at load, or in
    /// memory-only state): a reader of the secret has seen that change.
    #[serde(skip)]
    pub ticket: u64,
}

impl Secret {
    /// A new secret with nothing but its identity and creation time.
    #[must_use]
    pub fn new(seq: u64, name: String, arn: String, created: Timestamp) -> Self {
        Self {
            seq,
            name,
            arn,
            description: None,
            kms_key_id: None,
            secret_type: None,
            owning_service: None,
            tags: Vec::new(),
            ever_tagged: false,
            created,
            last_changed: created,
            last_accessed: None,
            deletion: None,
            rotation: Rotation::default(),
            policy: None,
            versions: Vec::new(),
            replicas: Vec::new(),
            replica_of: None,
            revision: 0,
            cross_account_primary: None,
            cross_account_replicas: Vec::new(),
            removed_versions: Vec::new(),
            touched_versions: Vec::new(),
            relabelled_versions: Vec::new(),
            id_index: HashMap::new(),
            ticket: 0,
        }
    }

    /// The one way to change a version in place: it records the change for the journal.
    pub fn version_mut(&mut self, index: usize) -> &mut Version {
        let id = &self.versions[index].id;
        if !self.touched_versions.contains(id) {
            self.touched_versions.push(id.clone());
        }
        &mut self.versions[index]
    }

    /// The way to change only a version's labels or last-access date: the journal then records
    /// just those. A change that touches more goes through [`Self::version_mut`].
    pub fn relabel(&mut self, index: usize) -> Relabel<'_> {
        let version = &mut self.versions[index];
        if !self.touched_versions.contains(&version.id) && !self.relabelled_versions.contains(&version.id) {
            self.relabelled_versions.push(version.id.clone());
        }
        Relabel(version)
    }

    /// Rebuilds the id index from the versions.
    pub fn reindex(&mut self) {
        self.id_index = self.versions.iter().enumerate().map(|(i, v)| (v.id.clone(), i)).collect();
    }

    /// Appends a version (the only way versions are added).
    pub fn push_version(&mut self, version: Version) {
        if self.id_index.len() == self.versions.len() {
            self.id_index.insert(version.id.clone(), self.versions.len());
        }
        self.touched_versions.push(version.id.clone());
        self.versions.push(version);
    }

    /// Removes a version entirely, remembering its id for the journal.
    pub fn remove_version(&mut self, id: &str) {
        let before = self.versions.len();
        self.versions.retain(|v| v.id != id);
        if self.versions.len() < before {
            self.removed_versions.push(id.to_owned());
            self.reindex();
        }
    }

    #[must_use]
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.version_index(id).map(|i| &self.versions[i])
    }

    pub(super) fn version_index(&self, id: &str) -> Option<usize> {
        if self.id_index.len() == self.versions.len() {
            self.id_index.get(id).copied()
        } else {
            // A secret built without its index (in a test, say): look the slow way.
            self.versions.iter().position(|v| v.id == id)
        }
    }

    /// Labels sit on recent versions, so the search runs newest first.
    #[must_use]
    pub fn holder_of(&self, stage: &str) -> Option<&Version> {
        self.versions.iter().rev().find(|v| v.has_stage(stage))
    }

    fn holder_index(&self, stage: &str) -> Option<usize> {
        self.versions.iter().rposition(|v| v.has_stage(stage))
    }

    /// Takes `stage` off whichever version other than `keep` holds it (at most one does).
    fn strip_stage_except(&mut self, stage: &str, keep: Option<usize>) {
        if let Some(holder) = self.holder_index(stage).filter(|&h| Some(h) != keep) {
            self.relabel(holder).remove_stage(stage);
        }
    }

    /// Whether the secret is a copy kept by its primary: a Regional replica, or a cross-account
    /// replica whose link has not been stopped from its side.
    #[must_use]
    pub fn is_replica(&self) -> bool {
        self.replica_of.is_some() || self.cross_account_primary.is_some()
    }

    /// The Region where the secret's primary lives, for a replicated secret (primary or replica).
    #[must_use]
    pub fn primary_region(&self) -> Option<&str> {
        if let Some(region) = &self.replica_of {
            return Some(region);
        }
        if self.replicas.is_empty() {
            return None;
        }
        // arn:<partition>:secretsmanager:<region>:...
        self.arn.split(':').nth(3)
    }

    #[must_use]
    pub fn is_deleted(&self) -> bool {
        self.deletion.is_some()
    }

    /// Adds a new version carrying `stages`, or, when `stages` is `None`, the plain
    /// "new value becomes current" move of PutSecretValue and UpdateSecret.
    pub fn add_version(&mut self, version: Version, stages: Option<&[String]>, now: Timestamp) {
        self.push_version(version);
        let index = self.versions.len() - 1;
        self.apply_stages(index, stages);
        self.prune_versions(now);
    }

    /// Gives the value-less rotation placeholder its value, then labels it like a new version.
    pub fn fill_placeholder(&mut self, id: &str, value: Sealed, stages: Option<&[String]>) {
        if let Some(index) = self.version_index(id) {
            self.version_mut(index).value = Some(value);
            self.apply_stages(index, stages);
        }
    }

    fn apply_stages(&mut self, index: usize, stages: Option<&[String]>) {
        let no_current = self.holder_index(AWSCURRENT).is_none();
        match stages {
            None => self.make_current(index),
            Some(stages) => {
                for stage in stages {
                    if stage == AWSCURRENT {
                        self.make_current(index);
                    } else {
                        self.strip_stage_except(stage, Some(index));
                        self.relabel(index).add_stage(stage);
                    }
                }
                // The first version of a secret is always current.
                if no_current && !self.versions[index].has_stage(AWSCURRENT) {
                    self.relabel(index).add_stage(AWSCURRENT);
                }
            }
        }
    }

    /// Moves AWSCURRENT to `index`. The version that held it keeps only AWSPREVIOUS, and the
    /// old AWSPREVIOUS holder loses that label.
    fn make_current(&mut self, index: usize) {
        match self.holder_index(AWSCURRENT) {
            Some(old) if old == index => {}
            Some(old) => {
                self.strip_stage_except(AWSPREVIOUS, None);
                self.relabel(old).set_stages(vec![AWSPREVIOUS.to_owned()]);
                self.relabel(index).add_stage(AWSCURRENT);
            }
            None => self.relabel(index).add_stage(AWSCURRENT),
        }
    }

    /// UpdateSecretVersionStage's move: `stage` leaves `from` (if given) and lands on `to`
    /// (if given). Other labels on both versions stay; moving AWSCURRENT leaves AWSPREVIOUS on `from`.
    pub fn move_stage(&mut self, stage: &str, from: Option<&str>, to: Option<&str>) {
        let from = from.and_then(|id| self.version_index(id));
        let to = to.and_then(|id| self.version_index(id));
        if let Some(from) = from {
            self.relabel(from).remove_stage(stage);
        }
        if let Some(to) = to {
            self.strip_stage_except(stage, Some(to));
            self.relabel(to).add_stage(stage);
            if stage == AWSCURRENT
                && let Some(from) = from.filter(|&f| f != to)
            {
                self.strip_stage_except(AWSPREVIOUS, None);
                self.relabel(from).add_stage(AWSPREVIOUS);
            }
        }
    }

    /// Drops the oldest unlabelled versions beyond [`MAX_VERSIONS`], sparing any younger than a day.
    /// Versions are kept in creation order, so only the prefix older than a day is looked at: a
    /// secret written many times a day costs nothing extra here.
    pub fn prune_versions(&mut self, now: Timestamp) {
        let mut excess = self.versions.len().saturating_sub(MAX_VERSIONS);
        if excess == 0 {
            return;
        }
        let old = self.versions.iter().take_while(|v| now.millis() - v.created.millis() >= VERSION_MIN_AGE_MS).count();
        if !self.versions[..old].iter().any(Version::is_deprecated) {
            return;
        }
        let mut index = 0;
        let mut removed = Vec::new();
        self.versions.retain(|v| {
            let removable = index < old && excess > 0 && v.is_deprecated();
            index += 1;
            if removable {
                excess -= 1;
                removed.push(v.id.clone());
            }
            !removable
        });
        self.removed_versions.extend(removed);
        self.reindex();
    }

    /// Adds or replaces tags, keeping first-insertion order.
    /// Merges `tags` in (a key already there only gets the new value), refusing a result over
    /// [`MAX_TAGS`]; nothing changes when it is refused.
    ///
    /// # Errors
    /// [`ApiError::too_many_tags`].
    pub fn add_tags(&mut self, tags: &[Tag]) -> Result<()> {
        check_tag_limit(&self.tags, tags)?;
        self.upsert_tags(tags);
        Ok(())
    }

    fn upsert_tags(&mut self, tags: &[Tag]) {
        for tag in tags {
            match self.tags.iter_mut().find(|t| t.key == tag.key) {
                Some(existing) => existing.value.clone_from(&tag.value),
                None => self.tags.push(tag.clone()),
            }
        }
        self.ever_tagged |= !tags.is_empty();
    }

    pub fn remove_tags(&mut self, keys: &[String]) {
        self.tags.retain(|t| !keys.contains(&t.key));
    }
}

/// Whether `existing` with `adding` merged in stays within [`MAX_TAGS`]; counts distinct keys,
/// so re-sending a key that is already there never hits the cap.
///
/// # Errors
/// [`ApiError::too_many_tags`].
pub fn check_tag_limit(existing: &[Tag], adding: &[Tag]) -> Result<()> {
    let mut keys: HashSet<&str> = existing.iter().map(|t| t.key.as_str()).collect();
    for tag in adding {
        keys.insert(&tag.key);
        if keys.len() > MAX_TAGS {
            return Err(ApiError::too_many_tags());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_limit_counts_distinct_keys_after_merging() {
        let tag = |k: usize| Tag { key: format!("k{k}"), value: String::new() };
        let fifty: Vec<Tag> = (0..50).map(tag).collect();
        assert!(check_tag_limit(&fifty, &fifty).is_ok());
        assert!(check_tag_limit(&[], &[tag(1), tag(1), tag(1)]).is_ok());
        assert_eq!(check_tag_limit(&fifty, &[tag(50)]), Err(ApiError::too_many_tags()));
        let mut s = secret();
        assert!(s.add_tags(&(0..51).map(tag).collect::<Vec<_>>()).is_err());
        assert!(s.tags.is_empty() && !s.ever_tagged, "a refused merge changes nothing");
    }

    fn secret() -> Secret {
        Secret::new(0, "s".into(), "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf".into(), Timestamp(0))
    }

    fn version(id: &str, at: i64) -> Version {
        Version {
            id: id.into(),
            value: Some(Sealed { binary: false, ciphertext: id.as_bytes().to_vec(), keys: Vec::new() }),
            stages: vec![],
            created: Timestamp(at),
            last_accessed: None,
        }
    }

    fn stages(s: &Secret, id: &str) -> Vec<String> {
        let mut v = s.version(id).unwrap().stages.clone();
        v.sort();
        v
    }

    fn labels(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn plain_puts_shift_current_and_previous() {
        let mut s = secret();
        s.add_version(version("v1", 0), None, Timestamp(0));
        s.add_version(version("v2", 1), None, Timestamp(1));
        s.add_version(version("v3", 2), None, Timestamp(2));
        assert_eq!(stages(&s, "v3"), [AWSCURRENT]);
        assert_eq!(stages(&s, "v2"), [AWSPREVIOUS]);
        assert!(s.version("v1").unwrap().is_deprecated());
    }

    #[test]
    fn demoted_current_keeps_only_previous() {
        let mut s = secret();
        s.add_version(version("v1", 0), None, Timestamp(0));
        s.add_version(version("v2", 1), Some(&labels(&[AWSPENDING])), Timestamp(1));
        s.move_stage(AWSCURRENT, Some("v1"), Some("v2"));
        assert_eq!(stages(&s, "v2"), [AWSCURRENT, AWSPENDING]);
        assert_eq!(stages(&s, "v1"), [AWSPREVIOUS]);
        s.add_version(version("v3", 2), None, Timestamp(2));
        assert_eq!(stages(&s, "v2"), [AWSPREVIOUS]);
        assert!(s.version("v1").unwrap().is_deprecated());
    }

    #[test]
    fn custom_stages_move_alone() {
        let mut s = secret();
        s.add_version(version("v1", 0), None, Timestamp(0));
        s.add_version(version("v2", 1), Some(&labels(&["one", "two", "three"])), Timestamp(1));
        s.add_version(version("v3", 2), Some(&labels(&["four", "one", "two"])), Timestamp(2));
        assert_eq!(stages(&s, "v2"), ["three"]);
        assert_eq!(stages(&s, "v1"), [AWSCURRENT]);
    }

    #[test]
    fn first_version_is_current_even_with_custom_stages() {
        let mut s = secret();
        s.add_version(version("v1", 0), Some(&labels(&["custom"])), Timestamp(0));
        assert_eq!(stages(&s, "v1"), [AWSCURRENT, "custom"]);
    }

    #[test]
    fn listing_current_in_stages_demotes_old_current() {
        let mut s = secret();
        s.add_version(version("v1", 0), None, Timestamp(0));
        s.add_version(version("v2", 1), Some(&labels(&[AWSCURRENT, "PUT0"])), Timestamp(1));
        assert_eq!(stages(&s, "v1"), [AWSPREVIOUS]);
        assert_eq!(stages(&s, "v2"), [AWSCURRENT, "PUT0"]);
    }

    #[test]
    fn moving_current_keeps_other_labels() {
        let mut s = secret();
        s.add_version(version("v1", 0), Some(&labels(&["c1"])), Timestamp(0));
        s.add_version(version("v2", 1), Some(&labels(&["c2"])), Timestamp(1));
        s.move_stage(AWSCURRENT, Some("v1"), Some("v2"));
        assert_eq!(stages(&s, "v1"), [AWSPREVIOUS, "c1"]);
        assert_eq!(stages(&s, "v2"), [AWSCURRENT, "c2"]);
    }

    #[test]
    fn pruning_spares_labelled_and_young_versions() {
        let mut s = secret();
        let day = VERSION_MIN_AGE_MS;
        for i in 0..120 {
            s.add_version(version(&format!("v{i}"), 0), None, Timestamp(0));
        }
        assert_eq!(s.versions.len(), 120, "young versions are kept");
        s.prune_versions(Timestamp(day));
        assert_eq!(s.versions.len(), MAX_VERSIONS);
        assert!(s.version("v119").unwrap().has_stage(AWSCURRENT));
        assert!(s.version("v118").unwrap().has_stage(AWSPREVIOUS));
        assert!(s.version("v0").is_none());
        assert!(s.version("v20").is_some());
    }

    #[test]
    fn tags_upsert_in_insertion_order() {
        let mut s = secret();
        let t = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        s.upsert_tags(&[t("a", "1"), t("b", "2")]);
        s.upsert_tags(&[t("a", "3"), t("c", "4")]);
        assert_eq!(s.tags, vec![t("a", "3"), t("b", "2"), t("c", "4")]);
        s.remove_tags(&["a".into(), "zz".into()]);
        assert_eq!(s.tags, vec![t("b", "2"), t("c", "4")]);
        assert!(s.ever_tagged);
    }
}
