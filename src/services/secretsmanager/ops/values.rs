//! Reading and writing secret values and their staging labels.

use super::shapes::{self, FilterShape};
use super::{At, Ctx, Refused, require_token};
use crate::api_error;
use crate::error::{ApiError, ErrorCode, Result};
use crate::protocol::json::{self, Blob, Epoch};
use crate::services::secretsmanager::state::secret::{Sealed, Secret, SecretValue, Version};
use crate::services::secretsmanager::state::{Cursor, ListQuery, VersionSelector, ident};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

/// GetSecretValue's output, and one entry of BatchGetSecretValue's `SecretValues`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretValueEntry {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<String>,
    version_stages: Vec<String>,
    created_date: Epoch,
}

impl SecretValueEntry {
    fn of(secret: &Secret, version: &Version, value: SecretValue) -> Self {
        let (secret_string, secret_binary) = match value {
            SecretValue::String(s) => (Some(s), None),
            SecretValue::Binary(b) => (None, Some(Blob(b))),
        };
        Self {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: version.id.clone(),
            secret_binary,
            secret_string,
            version_stages: version.stages.clone(),
            created_date: Epoch(version.created),
        }
    }

    /// The entry as GetSecretValue answers it: the JSON its `Serialize` writes, byte for byte,
    /// with the value escaped by [`json::write_string`] rather than a byte at a time.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let value_len = self.secret_string.as_ref().map_or(0, String::len);
        let mut out =
            Vec::with_capacity(256 + value_len + self.secret_binary.as_ref().map_or(0, |b| b.0.len() * 4 / 3));
        out.extend_from_slice(b"{\"ARN\":");
        json::write_string(&mut out, &self.arn);
        out.extend_from_slice(b",\"Name\":");
        json::write_string(&mut out, &self.name);
        out.extend_from_slice(b",\"VersionId\":");
        json::write_string(&mut out, &self.version_id);
        if let Some(binary) = &self.secret_binary {
            out.extend_from_slice(b",\"SecretBinary\":");
            json::write_string(&mut out, &STANDARD.encode(&binary.0));
        }
        if let Some(text) = &self.secret_string {
            out.extend_from_slice(b",\"SecretString\":");
            json::write_string(&mut out, text);
        }
        out.extend_from_slice(b",\"VersionStages\":[");
        for (i, stage) in self.version_stages.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_string(&mut out, stage);
        }
        out.extend_from_slice(b"],\"CreatedDate\":");
        // A number serde_json formats (shortest round-trip decimal): the same text as above.
        let _ = serde_json::to_writer(&mut out, &self.created_date);
        out.push(b'}');
        out
    }
}

pub fn get_secret_value(ctx: &Ctx<'_>, input: GetSecretValueInput) -> Result<SecretValueEntry> {
    ident::check_secret_id(&input.secret_id)?;
    let selector = VersionSelector { version_id: input.version_id.as_deref(), stage: input.version_stage.as_deref() };
    ctx.engine().get_secret_value(ctx.scope(), &input.secret_id, selector, SecretValueEntry::of)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetSecretValueInput {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<FilterShape>>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiErrorEntry {
    secret_id: String,
    error_code: &'static str,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetSecretValueOutput {
    secret_values: Vec<SecretValueEntry>,
    errors: Vec<ApiErrorEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// BatchGetSecretValue pages hold at most this many secrets when `MaxResults` is not given.
const BATCH_DEFAULT_PAGE: usize = 20;

pub fn batch_get_secret_value(ctx: &Ctx<'_>, input: BatchGetSecretValueInput) -> Result<BatchGetSecretValueOutput> {
    let (ids, next_token) = match (input.secret_id_list, input.filters) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(api_error!(
                InvalidParameterException,
                "Either 'SecretIdList' or 'Filters' must be provided, but not both."
            ));
        }
        (Some(_), None) if input.max_results.is_some() => {
            return Err(api_error!(
                InvalidParameterException,
                "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
            ));
        }
        (Some(ids), None) => (ids, None),
        (None, Some(filters)) => {
            let query = ListQuery {
                filters: shapes::filters_to_state(filters)?,
                max: input.max_results.unwrap_or(BATCH_DEFAULT_PAGE),
                after: input.next_token.as_deref().map(shapes::decode_token::<Cursor>).transpose()?,
                ..ListQuery::default()
            };
            let (arns, next) = ctx.engine().list_secrets(ctx.scope(), &query, |s| s.arn.clone());
            (arns, next.as_ref().map(shapes::encode_token))
        }
    };
    let mut output = BatchGetSecretValueOutput { secret_values: Vec::new(), errors: Vec::new(), next_token };
    for id in ids {
        let result = ident::check_secret_id(&id).and_then(|()| ctx.admit(&id)).and_then(|()| {
            ctx.engine().get_secret_value(ctx.scope(), &id, VersionSelector::default(), SecretValueEntry::of)
        });
        match result {
            Ok(entry) => output.secret_values.push(entry),
            Err(ApiError { code, message }) => {
                output.errors.push(ApiErrorEntry {
                    secret_id: id,
                    error_code: code.as_str(),
                    message: message.into_owned(),
                });
            }
        }
    }
    Ok(output)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<String>,
}

/// A new version as PutSecretValue asks for it, checked.
#[derive(Debug)]
pub struct NewValue {
    pub secret_id: String,
    pub token: String,
    pub value: SecretValue,
    pub stages: Option<Vec<String>>,
}

/// PutSecretValue's own checks, in the order AWS makes them.
///
/// # Errors
/// The first check that fails, with the member it is about.
pub fn prepare_put_secret_value(input: PutSecretValueInput) -> std::result::Result<NewValue, Refused> {
    ident::check_secret_id(&input.secret_id).at("secretId")?;
    let token =
        require_token(input.client_request_token, ErrorCode::InvalidRequestException).at("clientRequestToken")?;
    let value = shapes::secret_value(input.secret_string, input.secret_binary)
        .and_then(|value| {
            value.ok_or_else(|| {
                api_error!(InvalidRequestException, "You must provide either SecretString or SecretBinary.")
            })
        })
        .at("secretString")?;
    Ok(NewValue { secret_id: input.secret_id, token, value, stages: input.version_stages })
}

pub fn put_secret_value(ctx: &Ctx<'_>, input: PutSecretValueInput) -> Result<PutSecretValueOutput> {
    let new = prepare_put_secret_value(input)?;
    let stored =
        ctx.engine().put_secret_value(ctx.scope(), &new.secret_id, new.token, new.value, new.stages.as_deref())?;
    Ok(PutSecretValueOutput {
        arn: stored.arn,
        name: stored.name,
        version_id: stored.version_id,
        version_stages: stored.stages,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretVersionStageInput {
    secret_id: String,
    version_stage: String,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnAndName {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

pub fn update_secret_version_stage(ctx: &Ctx<'_>, input: UpdateSecretVersionStageInput) -> Result<ArnAndName> {
    ident::check_secret_id(&input.secret_id)?;
    let (arn, name) = ctx.engine().update_secret_version_stage(
        ctx.scope(),
        &input.secret_id,
        &input.version_stage,
        input.remove_from_version_id.as_deref(),
        input.move_to_version_id.as_deref(),
    )?;
    Ok(ArnAndName { arn, name })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretVersionIdsInput {
    secret_id: String,
    max_results: Option<usize>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionEntry {
    version_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    version_stages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_date: Option<Epoch>,
    created_date: Epoch,
    kms_key_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretVersionIdsOutput {
    versions: Vec<VersionEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

const DEFAULT_PAGE: usize = 100;

pub fn list_secret_version_ids(ctx: &Ctx<'_>, input: ListSecretVersionIdsInput) -> Result<ListSecretVersionIdsOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let include_deprecated = input.include_deprecated.unwrap_or(false);
    let max = input.max_results.unwrap_or(DEFAULT_PAGE);
    let after: Option<String> = input.next_token.as_deref().map(shapes::decode_token).transpose()?;
    ctx.engine().read_secret(ctx.scope(), &input.secret_id, |secret| {
        // Value-less rotation placeholders are never listed.
        let listed = secret.versions.iter().filter(|v| v.value.is_some() && (include_deprecated || !v.is_deprecated()));
        let mut listed: Vec<&Version> = match &after {
            None => listed.collect(),
            Some(last) => {
                let mut rest = listed.skip_while(|v| &v.id != last);
                if rest.next().is_none() {
                    return Err(api_error!(InvalidNextTokenException, "The NextToken value is invalid."));
                }
                rest.collect()
            }
        };
        let next_token = (listed.len() > max).then(|| {
            listed.truncate(max);
            shapes::encode_token(&listed[max - 1].id)
        });
        let versions = listed
            .into_iter()
            .map(|v| VersionEntry {
                version_id: v.id.clone(),
                version_stages: v.stages.clone(),
                last_accessed_date: v.last_accessed.map(Epoch),
                created_date: Epoch(v.created),
                kms_key_ids: v.value.as_ref().map(Sealed::key_ids).unwrap_or_default(),
            })
            .collect();
        Ok(ListSecretVersionIdsOutput { versions, next_token, arn: secret.arn.clone(), name: secret.name.clone() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    #[test]
    fn the_written_answer_is_what_serde_writes() {
        let entry = |string: Option<&str>, binary: Option<&[u8]>, stages: &[&str], at: i64| SecretValueEntry {
            arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/\"db\"-AbCdEf".into(),
            name: "app/\"db\"".into(),
            version_id: "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE".into(),
            secret_binary: binary.map(|b| Blob(b.to_vec())),
            secret_string: string.map(str::to_owned),
            version_stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            created_date: Epoch(Timestamp(at)),
        };
        for e in [
            entry(Some("{\"password\":\"p\\\"w\nd\u{1}\u{e9}\"}"), None, &["AWSCURRENT"], 1_523_477_145_713),
            entry(Some(""), None, &[], 0),
            entry(None, Some(&[0, 1, 2, 255]), &["AWSPREVIOUS", "custom"], 1_523_477_145_000),
            entry(None, None, &["AWSPENDING"], 1_523_477_145_710),
            entry(Some(&"x".repeat(4096)), None, &["AWSCURRENT"], -1),
        ] {
            assert_eq!(String::from_utf8(e.to_json()).unwrap(), serde_json::to_string(&e).unwrap());
        }
    }
}
