//! KMS handlers and their wire shapes: each reads its input, checks what the model cannot say,
//! calls one key-store method and shapes the output.

use super::error::{self as err, Result};
use super::store::{AliasEntry, Caller, Key, KeyState, NewKey, Page, Principal, Tag};
use crate::clock::Timestamp;
use crate::protocol::json::{Blob, Epoch};
use crate::services::secretsmanager::ops::Ctx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";
const AWS_KMS: &str = "AWS_KMS";

fn caller<'a>(ctx: &'a Ctx<'_>) -> Caller<'a> {
    Caller { account: ctx.account, region: ctx.region, principal: Principal::User(ctx.principal) }
}

/// An encryption context as the key store takes it: pairs, in any order.
fn context(map: Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    map.unwrap_or_default().into_iter().collect()
}

fn limit(limit: Option<i64>) -> Option<usize> {
    limit.and_then(|l| usize::try_from(l).ok())
}

// -- shared shapes --------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    pub tag_key: String,
    pub tag_value: String,
}

/// Tags as the key store takes them.
#[must_use]
pub fn tags_of(tags: Option<Vec<TagShape>>) -> Vec<Tag> {
    tags.unwrap_or_default().into_iter().map(|t| Tag { key: t.tag_key, value: t.tag_value }).collect()
}

/// DescribeKey's and CreateKey's `KeyMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: Epoch,
    pub enabled: bool,
    pub description: String,
    pub key_usage: &'static str,
    pub key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Epoch>,
    pub origin: &'static str,
    pub key_manager: &'static str,
    pub customer_master_key_spec: &'static str,
    pub key_spec: &'static str,
    pub encryption_algorithms: [&'static str; 1],
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<i64>,
    pub current_key_material_id: String,
}

impl From<&Key> for KeyMetadata {
    fn from(key: &Key) -> Self {
        Self {
            aws_account_id: key.account.clone(),
            key_id: key.id.clone(),
            arn: key.arn.clone(),
            creation_date: Epoch(key.created),
            enabled: key.enabled(),
            description: key.description.clone(),
            key_usage: ENCRYPT_DECRYPT,
            key_state: key.state.as_str(),
            deletion_date: key.deletion.map(|d| Epoch(d.at)),
            origin: AWS_KMS,
            key_manager: key.manager.as_str(),
            customer_master_key_spec: SYMMETRIC_DEFAULT,
            key_spec: SYMMETRIC_DEFAULT,
            encryption_algorithms: [SYMMETRIC_DEFAULT],
            multi_region: false,
            pending_deletion_window_in_days: key.deletion.map(|d| d.window_days),
            current_key_material_id: key.material_id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataOutput {
    pub key_metadata: KeyMetadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput {
    pub key_id: String,
}

/// The `Truncated` / `NextMarker` pair of every KMS listing.
fn truncated<T>(page: &Page<T>) -> (bool, Option<String>) {
    (page.next_marker.is_some(), page.next_marker.clone())
}

// -- keys -----------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyInput {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub tags: Option<Vec<TagShape>>,
    pub multi_region: Option<bool>,
    pub xks_key_id: Option<String>,
}

/// CreateKey's own checks: only what smemu emulates, a symmetric encryption key of KMS's own.
///
/// # Errors
/// `UnsupportedOperationException` naming what is not supported.
pub fn prepare_create_key(input: CreateKeyInput) -> Result<NewKey> {
    let spec = input.key_spec.as_deref().or(input.customer_master_key_spec.as_deref());
    if let (Some(a), Some(b)) = (&input.key_spec, &input.customer_master_key_spec)
        && a != b
    {
        return Err(err::unsupported(&format!("KeySpec {a} with CustomerMasterKeySpec {b}")));
    }
    if let Some(spec) = spec.filter(|s| *s != SYMMETRIC_DEFAULT) {
        return Err(err::unsupported(&format!("KeySpec {spec}")));
    }
    if let Some(usage) = input.key_usage.as_deref().filter(|u| *u != ENCRYPT_DECRYPT) {
        return Err(err::unsupported(&format!("KeyUsage {usage}")));
    }
    if let Some(origin) = input.origin.as_deref().filter(|o| *o != AWS_KMS) {
        return Err(err::unsupported(&format!("Origin {origin}")));
    }
    if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
        return Err(err::unsupported("a custom key store"));
    }
    if input.multi_region == Some(true) {
        return Err(err::unsupported("a multi-Region key"));
    }
    Ok(NewKey { description: input.description, policy: input.policy, tags: tags_of(input.tags) })
}

pub fn create_key(ctx: &Ctx<'_>, input: CreateKeyInput) -> Result<KeyMetadataOutput> {
    let key = ctx.app.kms.create_key(caller(ctx), prepare_create_key(input)?)?;
    Ok(KeyMetadataOutput { key_metadata: KeyMetadata::from(&key) })
}

pub fn describe_key(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<KeyMetadataOutput> {
    let key = ctx.app.kms.describe_key(caller(ctx), &input.key_id)?;
    Ok(KeyMetadataOutput { key_metadata: KeyMetadata::from(&key) })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysOutput {
    pub keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn list_keys(ctx: &Ctx<'_>, input: ListInput) -> Result<ListKeysOutput> {
    let page = ctx.app.kms.list_keys(caller(ctx), limit(input.limit), input.marker.as_deref())?;
    let (truncated, next_marker) = truncated(&page);
    let keys = page.items.into_iter().map(|k| KeyListEntry { key_id: k.id, key_arn: k.arn }).collect();
    Ok(ListKeysOutput { keys, next_marker, truncated })
}

pub fn enable_key(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<()> {
    ctx.app.kms.enable_key(caller(ctx), &input.key_id)
}

pub fn disable_key(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<()> {
    ctx.app.kms.disable_key(caller(ctx), &input.key_id)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionInput {
    pub key_id: String,
    pub pending_window_in_days: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionOutput {
    pub key_id: String,
    pub deletion_date: Epoch,
    pub key_state: &'static str,
    pub pending_window_in_days: i64,
}

pub fn schedule_key_deletion(ctx: &Ctx<'_>, input: ScheduleKeyDeletionInput) -> Result<ScheduleKeyDeletionOutput> {
    let key = ctx.app.kms.schedule_key_deletion(caller(ctx), &input.key_id, input.pending_window_in_days)?;
    let deletion = key.deletion.ok_or_else(|| err::internal("a key scheduled for deletion has no date"))?;
    Ok(ScheduleKeyDeletionOutput {
        key_id: key.arn,
        deletion_date: Epoch(deletion.at),
        key_state: KeyState::PendingDeletion.as_str(),
        pending_window_in_days: deletion.window_days,
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdOutput {
    pub key_id: String,
}

pub fn cancel_key_deletion(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<KeyIdOutput> {
    Ok(KeyIdOutput { key_id: ctx.app.kms.cancel_key_deletion(caller(ctx), &input.key_id)? })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateKeyDescriptionInput {
    pub key_id: String,
    pub description: String,
}

pub fn update_key_description(ctx: &Ctx<'_>, input: UpdateKeyDescriptionInput) -> Result<()> {
    ctx.app.kms.update_key_description(caller(ctx), &input.key_id, input.description)
}

// -- aliases --------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub alias_name: String,
    pub target_key_id: String,
}

pub fn create_alias(ctx: &Ctx<'_>, input: AliasInput) -> Result<()> {
    ctx.app.kms.create_alias(caller(ctx), &input.alias_name, &input.target_key_id)
}

pub fn update_alias(ctx: &Ctx<'_>, input: AliasInput) -> Result<()> {
    ctx.app.kms.update_alias(caller(ctx), &input.alias_name, &input.target_key_id)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasInput {
    pub alias_name: String,
}

pub fn delete_alias(ctx: &Ctx<'_>, input: DeleteAliasInput) -> Result<()> {
    ctx.app.kms.delete_alias(caller(ctx), &input.alias_name)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesInput {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date: Epoch,
    pub last_updated_date: Epoch,
}

impl From<AliasEntry> for AliasListEntry {
    fn from(a: AliasEntry) -> Self {
        Self {
            alias_name: a.name,
            alias_arn: a.arn,
            target_key_id: a.target,
            creation_date: Epoch(a.created),
            last_updated_date: Epoch(a.updated),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesOutput {
    pub aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn list_aliases(ctx: &Ctx<'_>, input: ListAliasesInput) -> Result<ListAliasesOutput> {
    let page =
        ctx.app.kms.list_aliases(caller(ctx), input.key_id.as_deref(), limit(input.limit), input.marker.as_deref())?;
    let (truncated, next_marker) = truncated(&page);
    Ok(ListAliasesOutput {
        aliases: page.items.into_iter().map(AliasListEntry::from).collect(),
        next_marker,
        truncated,
    })
}

// -- cryptography ---------------------------------------------------------------------------

/// Only `SYMMETRIC_DEFAULT` goes with a symmetric key.
fn check_algorithm(algorithm: Option<&str>) -> Result<()> {
    match algorithm {
        Some(a) if a != SYMMETRIC_DEFAULT => Err(err::algorithm_not_valid(a)),
        _ => Ok(()),
    }
}

/// Nitro Enclaves attestation (`Recipient`) is not emulated.
fn check_recipient(recipient: Option<&serde_json::Value>) -> Result<()> {
    if recipient.is_some() { Err(err::unsupported("Recipient (attested enclaves)")) } else { Ok(()) }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    pub key_id: String,
    pub plaintext: Blob,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptOutput {
    pub ciphertext_blob: Blob,
    pub key_id: String,
    pub encryption_algorithm: &'static str,
}

pub fn encrypt(ctx: &Ctx<'_>, input: EncryptInput) -> Result<EncryptOutput> {
    check_algorithm(input.encryption_algorithm.as_deref())?;
    let context = context(input.encryption_context);
    let sealed = ctx.app.kms.encrypt(
        caller(ctx),
        &input.key_id,
        &zeroize::Zeroizing::new(input.plaintext.0),
        &context,
        input.dry_run.unwrap_or(false),
    )?;
    Ok(EncryptOutput {
        ciphertext_blob: Blob(sealed.blob),
        key_id: sealed.key_arn,
        encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    pub ciphertext_blob: Option<Blob>,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptOutput {
    pub key_id: String,
    pub plaintext: Blob,
    pub encryption_algorithm: &'static str,
    pub key_material_id: String,
}

pub fn decrypt(ctx: &Ctx<'_>, input: DecryptInput) -> Result<DecryptOutput> {
    let blob = input.ciphertext_blob.ok_or_else(|| err::missing("ciphertextBlob"))?;
    check_algorithm(input.encryption_algorithm.as_deref())?;
    check_recipient(input.recipient.as_ref())?;
    let context = context(input.encryption_context);
    let opened =
        ctx.app.kms.decrypt(caller(ctx), &blob.0, input.key_id.as_deref(), &context, input.dry_run.unwrap_or(false))?;
    Ok(DecryptOutput {
        key_id: opened.key_arn,
        // The wire encoding copies it; this copy lives only as long as the response is built.
        plaintext: Blob(opened.plaintext.as_bytes().to_vec()),
        encryption_algorithm: SYMMETRIC_DEFAULT,
        key_material_id: opened.material_id,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    pub ciphertext_blob: Option<Blob>,
    pub source_encryption_context: Option<BTreeMap<String, String>>,
    pub source_key_id: Option<String>,
    pub destination_key_id: String,
    pub destination_encryption_context: Option<BTreeMap<String, String>>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptOutput {
    pub ciphertext_blob: Blob,
    pub source_key_id: String,
    pub key_id: String,
    pub source_encryption_algorithm: &'static str,
    pub destination_encryption_algorithm: &'static str,
    pub source_key_material_id: String,
    pub destination_key_material_id: String,
}

pub fn re_encrypt(ctx: &Ctx<'_>, input: ReEncryptInput) -> Result<ReEncryptOutput> {
    let blob = input.ciphertext_blob.ok_or_else(|| err::missing("ciphertextBlob"))?;
    check_algorithm(input.source_encryption_algorithm.as_deref())?;
    check_algorithm(input.destination_encryption_algorithm.as_deref())?;
    let resealed = ctx.app.kms.re_encrypt(
        caller(ctx),
        &blob.0,
        input.source_key_id.as_deref(),
        &context(input.source_encryption_context),
        &input.destination_key_id,
        &context(input.destination_encryption_context),
        input.dry_run.unwrap_or(false),
    )?;
    Ok(ReEncryptOutput {
        ciphertext_blob: Blob(resealed.blob),
        source_key_id: resealed.source_arn,
        key_id: resealed.key_arn,
        source_encryption_algorithm: SYMMETRIC_DEFAULT,
        destination_encryption_algorithm: SYMMETRIC_DEFAULT,
        source_key_material_id: resealed.source_material_id,
        destination_key_material_id: resealed.material_id,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyInput {
    pub key_id: String,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// Exactly one of `KeySpec` (`AES_256`, `AES_128`) and `NumberOfBytes`.
fn data_key_length(input: &GenerateDataKeyInput) -> Result<usize> {
    match (input.key_spec.as_deref(), input.number_of_bytes) {
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (None, Some(n)) => usize::try_from(n).map_err(|_| err::key_spec_or_number_of_bytes()),
        _ => Err(err::key_spec_or_number_of_bytes()),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyOutput {
    pub ciphertext_blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<Blob>,
    pub key_id: String,
    pub key_material_id: String,
}

fn data_key(ctx: &Ctx<'_>, input: GenerateDataKeyInput, with_plaintext: bool) -> Result<GenerateDataKeyOutput> {
    let bytes = data_key_length(&input)?;
    check_recipient(input.recipient.as_ref())?;
    let action = if with_plaintext { "GenerateDataKey" } else { "GenerateDataKeyWithoutPlaintext" };
    let context = context(input.encryption_context);
    let key = ctx.app.kms.generate_data_key(
        caller(ctx),
        &input.key_id,
        bytes,
        &context,
        input.dry_run.unwrap_or(false),
        action,
    )?;
    Ok(GenerateDataKeyOutput {
        ciphertext_blob: Blob(key.ciphertext),
        plaintext: with_plaintext.then(|| Blob(key.plaintext.as_bytes().to_vec())),
        key_id: key.key_arn,
        key_material_id: key.material_id,
    })
}

pub fn generate_data_key(ctx: &Ctx<'_>, input: GenerateDataKeyInput) -> Result<GenerateDataKeyOutput> {
    data_key(ctx, input, true)
}

pub fn generate_data_key_without_plaintext(
    ctx: &Ctx<'_>,
    input: GenerateDataKeyInput,
) -> Result<GenerateDataKeyOutput> {
    data_key(ctx, input, false)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomInput {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
    pub recipient: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomOutput {
    pub plaintext: Blob,
}

pub fn generate_random(ctx: &Ctx<'_>, input: GenerateRandomInput) -> Result<GenerateRandomOutput> {
    let bytes = input.number_of_bytes.ok_or_else(err::number_of_bytes_required)?;
    if input.custom_key_store_id.is_some() {
        return Err(err::unsupported("a custom key store"));
    }
    check_recipient(input.recipient.as_ref())?;
    let bytes = usize::try_from(bytes).map_err(|_| err::number_of_bytes_required())?;
    let random = ctx.app.kms.random(bytes)?;
    Ok(GenerateRandomOutput { plaintext: Blob(random.as_bytes().to_vec()) })
}

// -- policies, rotation, tags ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyInput {
    pub key_id: String,
    pub policy_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyOutput {
    pub policy: String,
    pub policy_name: String,
}

pub fn get_key_policy(ctx: &Ctx<'_>, input: GetKeyPolicyInput) -> Result<GetKeyPolicyOutput> {
    let name = input.policy_name.as_deref();
    let policy = ctx.app.kms.get_key_policy(caller(ctx), &input.key_id, name)?;
    Ok(GetKeyPolicyOutput { policy, policy_name: name.unwrap_or(super::store::DEFAULT_POLICY_NAME).to_owned() })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutKeyPolicyInput {
    pub key_id: String,
    pub policy_name: Option<String>,
    pub policy: String,
}

pub fn put_key_policy(ctx: &Ctx<'_>, input: PutKeyPolicyInput) -> Result<()> {
    ctx.app.kms.put_key_policy(caller(ctx), &input.key_id, input.policy_name.as_deref(), input.policy)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyPoliciesOutput {
    pub policy_names: Vec<&'static str>,
    pub truncated: bool,
}

pub fn list_key_policies(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<ListKeyPoliciesOutput> {
    let policy_names = ctx.app.kms.list_key_policies(caller(ctx), &input.key_id)?;
    Ok(ListKeyPoliciesOutput { policy_names, truncated: false })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusOutput {
    pub key_rotation_enabled: bool,
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<Epoch>,
}

pub fn get_key_rotation_status(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<GetKeyRotationStatusOutput> {
    let (key, now): (Key, Timestamp) = ctx.app.kms.get_key_rotation_status(caller(ctx), &input.key_id)?;
    let status = key.rotation_status(now);
    Ok(GetKeyRotationStatusOutput {
        key_rotation_enabled: status.is_some(),
        key_id: key.id,
        rotation_period_in_days: status.map(|(days, _)| days),
        next_rotation_date: status.map(|(_, next)| Epoch(next)),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationInput {
    pub key_id: String,
    pub rotation_period_in_days: Option<i64>,
}

pub fn enable_key_rotation(ctx: &Ctx<'_>, input: EnableKeyRotationInput) -> Result<()> {
    ctx.app.kms.enable_key_rotation(caller(ctx), &input.key_id, input.rotation_period_in_days)
}

pub fn disable_key_rotation(ctx: &Ctx<'_>, input: KeyIdInput) -> Result<()> {
    ctx.app.kms.disable_key_rotation(caller(ctx), &input.key_id)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub key_id: String,
    pub tags: Vec<TagShape>,
}

pub fn tag_resource(ctx: &Ctx<'_>, input: TagResourceInput) -> Result<()> {
    ctx.app.kms.tag_resource(caller(ctx), &input.key_id, &tags_of(Some(input.tags)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub key_id: String,
    pub tag_keys: Vec<String>,
}

pub fn untag_resource(ctx: &Ctx<'_>, input: UntagResourceInput) -> Result<()> {
    ctx.app.kms.untag_resource(caller(ctx), &input.key_id, &input.tag_keys)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsInput {
    pub key_id: String,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsOutput {
    pub tags: Vec<TagShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn list_resource_tags(ctx: &Ctx<'_>, input: ListResourceTagsInput) -> Result<ListResourceTagsOutput> {
    let page =
        ctx.app.kms.list_resource_tags(caller(ctx), &input.key_id, limit(input.limit), input.marker.as_deref())?;
    let (truncated, next_marker) = truncated(&page);
    let tags = page.items.into_iter().map(|t| TagShape { tag_key: t.key, tag_value: t.value }).collect();
    Ok(ListResourceTagsOutput { tags, next_marker, truncated })
}
