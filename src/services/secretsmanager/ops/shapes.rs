//! Wire shapes shared by several operations, and their mapping to and from state types.

use crate::api_error;
use crate::clock::Timestamp;
use crate::error::{ApiError, Result};
use crate::protocol::json::{Blob, Epoch, OrderedMap};
use crate::services::secretsmanager::filter::{Filter, FilterKey};
use crate::services::secretsmanager::state::replication;
use crate::services::secretsmanager::state::secret::{self, RotationRules, Secret, SecretValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

impl Tag {
    fn from_state(t: &secret::Tag) -> Self {
        Self { key: Some(t.key.clone()), value: Some(t.value.clone()) }
    }
}

/// Validates tags for TagResource and CreateSecret; AWS refuses to touch `aws:` system tags.
pub fn tags_to_state(tags: Vec<Tag>) -> Result<Vec<secret::Tag>> {
    tags.into_iter()
        .map(|t| {
            let key =
                t.key.ok_or_else(|| api_error!(InvalidParameterException, "You must provide a key for every tag."))?;
            check_tag_key(&key)?;
            Ok(secret::Tag { key, value: t.value.unwrap_or_default() })
        })
        .collect()
}

pub fn check_tag_key(key: &str) -> Result<()> {
    if key.starts_with("aws:") {
        return Err(api_error!(InvalidParameterException, "You can't modify system tags. Tag key: '{key}'."));
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterShape {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

pub fn filters_to_state(filters: Vec<FilterShape>) -> Result<Vec<Filter>> {
    filters
        .into_iter()
        .map(|f| {
            let key_text = f.key.ok_or_else(|| api_error!(InvalidParameterException, "Invalid filter key"))?;
            let key = FilterKey::parse(&key_text)
                .ok_or_else(|| api_error!(InvalidParameterException, "Invalid filter key"))?;
            let values = f
                .values
                .filter(|v| !v.is_empty())
                .ok_or_else(|| api_error!(InvalidParameterException, "Invalid filter values for key: {key_text}"))?;
            Ok(Filter { key, values })
        })
        .collect()
}

/// Exactly one of `SecretString` and `SecretBinary`, or neither.
pub fn secret_value(string: Option<String>, binary: Option<Blob>) -> Result<Option<SecretValue>> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(ApiError::both_values()),
        (Some(s), None) => Ok(Some(SecretValue::String(s))),
        (None, Some(b)) => Ok(Some(SecretValue::Binary(b.0))),
        (None, None) => Ok(None),
    }
}

/// Splits a value into the two wire members.
/// A KMS key reference must be a key id, a key ARN, an alias (`alias/…`) or an alias ARN.
/// The empty string means the AWS-managed default key.
pub fn check_kms_key_id(key: &str) -> Result<()> {
    let is_uuid = |s: &str| {
        s.len() == 36
            && s.char_indices().all(
                |(i, c)| {
                    if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() }
                },
            )
    };
    let is_mrk =
        |s: &str| s.strip_prefix("mrk-").is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let is_alias = |s: &str| s.strip_prefix("alias/").is_some_and(|a| !a.is_empty());
    let is_arn = |s: &str| {
        s.strip_prefix("arn:").is_some_and(|rest| {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts[..], [_, "kms", _, _, resource]
                if resource.strip_prefix("key/").is_some_and(|k| is_uuid(k) || is_mrk(k)) || is_alias(resource))
        })
    };
    if key.is_empty() || is_uuid(key) || is_mrk(key) || is_alias(key) || is_arn(key) {
        Ok(())
    } else {
        Err(api_error!(InvalidParameterException, "The operation failed because of an invalid KMS key: Invalid keyId"))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRulesShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

impl From<&RotationRules> for RotationRulesShape {
    fn from(r: &RotationRules) -> Self {
        Self {
            automatically_after_days: r.automatically_after_days,
            duration: r.duration.clone(),
            schedule_expression: r.schedule_expression.clone(),
        }
    }
}

/// DescribeSecret's output, and (with `SecretVersionsToStages`) a ListSecrets entry.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretDescription {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN", skip_serializing_if = "Option::is_none")]
    pub rotation_lambda_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_rules: Option<RotationRulesShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_ids_to_stages: Option<OrderedMap<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_versions_to_stages: Option<OrderedMap<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owning_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<Vec<ReplicationStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_account_primary: Option<CrossAccountPrimaryShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_account_replicas: Option<Vec<CrossAccountReplicaShape>>,
}

/// `ReplicaRegionType`: one Region of `AddReplicaRegions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaRegion {
    pub region: Option<String>,
    pub kms_key_id: Option<String>,
}

/// `AddReplicaRegions` as the engine takes it: every entry names a Region and a well-formed
/// key, if any.
///
/// # Errors
/// `Invalid replica region.` for an entry without a Region; the key check's error.
pub fn replica_requests(regions: Vec<ReplicaRegion>) -> Result<Vec<replication::ReplicaRequest>> {
    regions
        .into_iter()
        .map(|r| {
            let region = r.region.ok_or_else(|| api_error!(InvalidParameterException, "Invalid replica region."))?;
            if let Some(key) = &r.kms_key_id {
                check_kms_key_id(key)?;
            }
            Ok(replication::ReplicaRequest { region, kms_key_id: r.kms_key_id })
        })
        .collect()
}

/// `ReplicationStatusType`: one replica as its primary reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationStatus {
    pub region: String,
    pub kms_key_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

impl ReplicationStatus {
    #[must_use]
    pub fn of(link: &secret::ReplicaLink) -> Self {
        Self {
            region: link.region.clone(),
            kms_key_id: link.kms_key_id.clone().unwrap_or_else(|| replication::DEFAULT_KEY_ALIAS.to_owned()),
            status: link.status.as_str(),
            status_message: link.message.clone(),
        }
    }

    #[must_use]
    pub fn list(links: &[secret::ReplicaLink]) -> Vec<Self> {
        links.iter().map(Self::of).collect()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CrossAccountPrimaryShape {
    #[serde(rename = "PrimarySecretARN")]
    pub primary_secret_arn: String,
    pub replication_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CrossAccountReplicaShape {
    #[serde(rename = "ReplicaSecretARN")]
    pub replica_secret_arn: String,
    #[serde(rename = "ReplicationRoleARN", skip_serializing_if = "Option::is_none")]
    pub replication_role_arn: Option<String>,
    pub replication_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// Which of the two names the version map goes by.
#[derive(Clone, Copy)]
pub enum Flavor {
    Describe,
    ListEntry,
}

impl SecretDescription {
    #[must_use]
    pub fn of(s: &Secret, flavor: Flavor) -> Self {
        let stages: Vec<(String, Vec<String>)> =
            s.versions.iter().filter(|v| !v.stages.is_empty()).map(|v| (v.id.clone(), v.stages.clone())).collect();
        let stages = (!stages.is_empty()).then_some(OrderedMap(stages));
        let (version_ids_to_stages, secret_versions_to_stages) = match flavor {
            Flavor::Describe => (stages, None),
            Flavor::ListEntry => (None, stages),
        };
        let rotation = &s.rotation;
        Self {
            arn: s.arn.clone(),
            name: s.name.clone(),
            r#type: s.secret_type.clone(),
            description: s.description.clone(),
            kms_key_id: s.kms_key_id.clone(),
            rotation_enabled: rotation.enabled,
            rotation_lambda_arn: rotation.lambda_arn.clone(),
            rotation_rules: rotation.rules.as_ref().map(|rules| {
                let mut shape = RotationRulesShape::from(rules);
                // Next to a schedule expression AWS also reports the days it works out to.
                if shape.automatically_after_days.is_none() {
                    let last = rotation.last_rotated.unwrap_or(s.created);
                    shape.automatically_after_days = crate::services::secretsmanager::state::rotation::schedule_of(s)
                        .and_then(|schedule| schedule.reported_days(last));
                }
                shape
            }),
            last_rotated_date: rotation.last_rotated.map(Epoch),
            last_changed_date: Some(Epoch(s.last_changed)),
            last_accessed_date: s.last_accessed.map(Epoch),
            deleted_date: s.deletion.map(|d| Epoch(d.deleted_at)),
            next_rotation_date: rotation.next_rotation.filter(|_| rotation.enabled == Some(true)).map(Epoch),
            tags: s.ever_tagged.then(|| s.tags.iter().map(Tag::from_state).collect()),
            version_ids_to_stages,
            secret_versions_to_stages,
            owning_service: s.owning_service.clone(),
            created_date: Some(Epoch(s.created)),
            // A ListSecrets entry names the primary Region only.
            primary_region: s.primary_region().map(str::to_owned),
            replication_status: match flavor {
                Flavor::Describe if !s.replicas.is_empty() => Some(ReplicationStatus::list(&s.replicas)),
                _ => None,
            },
            cross_account_primary: s.cross_account_primary.as_ref().filter(|_| matches!(flavor, Flavor::Describe)).map(
                |c| CrossAccountPrimaryShape {
                    primary_secret_arn: c.primary_arn.clone(),
                    replication_status: c.status.as_str(),
                    status_message: c.message.clone(),
                },
            ),
            cross_account_replicas: match flavor {
                Flavor::Describe if !s.cross_account_replicas.is_empty() => Some(
                    s.cross_account_replicas
                        .iter()
                        .map(|r| CrossAccountReplicaShape {
                            replica_secret_arn: r.replica_arn.clone(),
                            replication_role_arn: r.role_arn.clone(),
                            replication_status: r.status.as_str(),
                            status_message: r.message.clone(),
                        })
                        .collect(),
                ),
                _ => None,
            },
        }
    }
}

/// Pagination tokens are opaque to clients: URL-safe base64 of a JSON position.
#[must_use]
pub fn encode_token<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

pub fn decode_token<T: DeserializeOwned>(token: &str) -> Result<T> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| api_error!(InvalidNextTokenException, "The NextToken value is invalid."))
}

pub fn epoch(t: Timestamp) -> Option<Epoch> {
    Some(Epoch(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_key_forms() {
        for ok in [
            "",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/my-key",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:alias/my-key",
        ] {
            assert!(check_kms_key_id(ok).is_ok(), "{ok}");
        }
        for bad in ["my-key", "alias/", "arn:aws:kms:us-east-1:1:key/nope", "1234"] {
            assert!(check_kms_key_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token(&(1, "x"));
        let back: (i32, String) = decode_token(&t).unwrap();
        assert_eq!(back, (1, "x".to_owned()));
        assert!(decode_token::<(i32, String)>("%%%").is_err());
    }
}
