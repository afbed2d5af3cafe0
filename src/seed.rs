//! Seeding: secrets that exist from the first request on, read from YAML or JSON files.
//!
//! Seeding is idempotent: a secret whose name already exists in its account and region (say,
//! restored from `--data-dir`) is left exactly as it is, so restarts never duplicate versions
//! or undo changes made at runtime.
//!
//! ```yaml
//! account: "000000000000"      # defaults for the entries below (optional)
//! region: us-east-1
//! secrets:
//!   - name: prod/db
//!     description: the database
//!     secretString: '{"user":"app","password":"pw"}'
//!     tags: { team: core }
//!   - name: certs/tls
//!     region: eu-west-1
//!     kmsKeyId: alias/certs
//!     rotation: { lambdaArn: "arn:aws:lambda:us-east-1:000000000000:function:rotate", automaticallyAfterDays: 30 }
//!     versions:                # oldest first; stages default to the usual moves
//!       - secretBinary: AAEC   # base64
//!         stages: [AWSPREVIOUS]
//!       - secretBinary: AwQF
//!         stages: [AWSCURRENT]
//! iam:                         # roles AssumeRole may enter: see `auth::authorization_details`
//!   RoleDetailList:
//!     - RoleName: deployer
//!       AssumeRolePolicyDocument: { Statement: [{ Effect: Allow, Principal: { AWS: "111122223333" }, Action: sts:AssumeRole }] }
//! ```

use crate::App;
use crate::ops::shapes;
use crate::rotation::HookSpec;
use crate::state::secret::{AWSCURRENT, AWSPREVIOUS, ResourcePolicy, Rotation, RotationRules, SecretValue, Tag};
use crate::state::{Scope, SeedSecret, SeedVersion, ident};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A seed problem, naming the file, the entry and the field.
#[derive(Debug)]
pub struct SeedError(pub String);

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedError {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedFile {
    account: Option<String>,
    region: Option<String>,
    #[serde(default)]
    secrets: Vec<SeedEntry>,
    /// Rotation hooks, in the JSON form of `POST /_smemu/hooks`.
    #[serde(default)]
    hooks: Vec<serde_json::Value>,
    /// IAM roles, in the shape of `GetAccountAuthorizationDetails` (read by `auth`).
    iam: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedEntry {
    name: String,
    account: Option<String>,
    region: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    #[serde(default)]
    versions: Vec<SeedVersionEntry>,
    tags: Option<Tags>,
    resource_policy: Option<serde_json::Value>,
    block_public_policy: Option<bool>,
    rotation: Option<SeedRotation>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Tags {
    Map(BTreeMap<String, String>),
    List(Vec<TagEntry>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagEntry {
    #[serde(alias = "Key")]
    key: String,
    #[serde(alias = "Value", default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedVersionEntry {
    id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    stages: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedRotation {
    lambda_arn: Option<String>,
    automatically_after_days: Option<i64>,
    schedule_expression: Option<String>,
    duration: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// The files a `--seed` path names: the file itself, or every `.yaml`/`.yml`/`.json` in a
/// directory, in name order.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, SeedError> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| SeedError(format!("seed directory {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads and checks every seed file, then creates the secrets that do not exist yet.
/// Returns how many secrets were created. Nothing is created if any file is bad.
pub fn load(app: &App, path: &Path) -> Result<usize, SeedError> {
    let (engine, default_account, default_region) =
        (&app.engine, &app.config.default_account, &app.config.default_region);
    let mut planned = Vec::new();
    let mut hooks = Vec::new();
    let mut roles = Vec::new();
    for file in files(path)? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| SeedError(format!("seed file {}: {e}", file.display())))?;
        let parsed: SeedFile = if file.extension().and_then(|e| e.to_str()) == Some("json") {
            serde_json::from_str(&text).map_err(|e| SeedError(format!("seed file {}: {e}", file.display())))?
        } else {
            serde_norway::from_str::<Option<SeedFile>>(&text)
                .map_err(|e| SeedError(format!("seed file {}: {e}", file.display())))?
                .unwrap_or_default()
        };
        for (index, hook) in parsed.hooks.into_iter().enumerate() {
            let spec = HookSpec::from_value(hook)
                .map_err(|e| SeedError(format!("seed file {}: hooks[{index}]: {e}", file.display())))?;
            hooks.push(spec);
        }
        let account = parsed.account.clone().unwrap_or_else(|| default_account.to_owned());
        let region = parsed.region.clone().unwrap_or_else(|| default_region.to_owned());
        if let Some(iam) = &parsed.iam {
            let details = crate::auth::AuthorizationDetails::parse(iam, &account)
                .map_err(|e| SeedError(format!("seed file {}: iam: {e}", file.display())))?;
            roles.extend(details.roles);
        }
        for (index, entry) in parsed.secrets.into_iter().enumerate() {
            let name = entry.name.clone();
            let at = |field: &str, problem: &str| {
                SeedError(format!(
                    "seed file {}: secrets[{index}] ({name}): field '{field}': {problem}",
                    file.display()
                ))
            };
            planned.push(check(entry, &account, &region, at)?);
        }
    }
    app.auth.credentials().roles().declare(roles).map_err(|e| SeedError(format!("seed: iam: {e}")))?;
    for spec in hooks {
        app.hooks.register(spec);
    }
    let mut created = 0;
    for (account, region, secret) in planned {
        if engine
            .seed_secret(Scope { account: &account, region: &region }, secret)
            .map_err(|e| SeedError(e.to_string()))?
        {
            created += 1;
        }
    }
    Ok(created)
}

fn value(
    string: Option<String>,
    binary: Option<String>,
    field: &str,
    at: &impl Fn(&str, &str) -> SeedError,
) -> Result<Option<SecretValue>, SeedError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(at(field, "give secretString or secretBinary, not both")),
        (Some(s), None) => Ok(Some(SecretValue::String(s))),
        (None, Some(b)) => STANDARD
            .decode(b.trim())
            .map(|bytes| Some(SecretValue::Binary(bytes)))
            .map_err(|_| at(&format!("{field}.secretBinary"), "not valid base64")),
        (None, None) => Ok(None),
    }
}

fn check(
    entry: SeedEntry,
    account: &str,
    region: &str,
    at: impl Fn(&str, &str) -> SeedError,
) -> Result<(String, String, SeedSecret), SeedError> {
    let account = entry.account.clone().unwrap_or_else(|| account.to_owned());
    let region = entry.region.clone().unwrap_or_else(|| region.to_owned());
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at("account", "must be 12 digits"));
    }
    if ident::check_name(&entry.name).is_err() || entry.name.len() > 512 {
        return Err(at("name", "must be 1-512 letters, digits or /_+=.@-"));
    }
    if let Some(key) = &entry.kms_key_id {
        shapes::check_kms_key_id(key).map_err(|e| at("kmsKeyId", &e.message))?;
    }
    let top = value(entry.secret_string, entry.secret_binary, "secretString", &at)?;
    if top.is_some() && !entry.versions.is_empty() {
        return Err(at("versions", "give either a value or a list of versions, not both"));
    }
    let mut versions = Vec::new();
    if let Some(v) = top {
        versions.push(SeedVersion { id: None, value: v, stages: vec![AWSCURRENT.to_owned()] });
    }
    let count = entry.versions.len();
    for (i, v) in entry.versions.into_iter().enumerate() {
        let field = format!("versions[{i}]");
        let value = value(v.secret_string, v.secret_binary, &field, &at)?
            .ok_or_else(|| at(&field, "a version needs secretString or secretBinary"))?;
        if let Some(id) = &v.id
            && !(32..=64).contains(&id.len())
        {
            return Err(at(&format!("{field}.id"), "must be 32-64 characters"));
        }
        // Without explicit stages the newest version is current and the one before previous.
        let stages = v.stages.unwrap_or_else(|| match count - i {
            1 => vec![AWSCURRENT.to_owned()],
            2 => vec![AWSPREVIOUS.to_owned()],
            _ => Vec::new(),
        });
        versions.push(SeedVersion { id: v.id, value, stages });
    }
    let mut seen = std::collections::HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        for stage in &v.stages {
            if !seen.insert(stage.clone()) {
                return Err(at(
                    &format!("versions[{i}].stages"),
                    &format!("the label {stage} is on more than one version"),
                ));
            }
        }
    }
    if !versions.is_empty() && !seen.contains(AWSCURRENT) {
        return Err(at("versions", "one version must carry AWSCURRENT"));
    }
    let tags = match entry.tags {
        None => Vec::new(),
        Some(Tags::Map(map)) => map.into_iter().map(|(key, value)| Tag { key, value }).collect(),
        Some(Tags::List(list)) => list.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect(),
    };
    if let Some(t) = tags.iter().find(|t| t.key.starts_with("aws:")) {
        return Err(at("tags", &format!("system tag keys (aws:…) can't be set: {}", t.key)));
    }
    let policy = entry
        .resource_policy
        .map(|p| {
            let document = match p {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            serde_json::from_str::<serde_json::Value>(&document)
                .map_err(|e| at("resourcePolicy", &format!("not a JSON policy document: {e}")))?;
            Ok(ResourcePolicy { document, block_public: entry.block_public_policy.unwrap_or(false) })
        })
        .transpose()?;
    let rotation = match entry.rotation {
        None => Rotation::default(),
        Some(r) => {
            if r.automatically_after_days.is_some() == r.schedule_expression.is_some() {
                return Err(at("rotation", "give exactly one of automaticallyAfterDays and scheduleExpression"));
            }
            if r.automatically_after_days.is_some_and(|d| !(1..=1000).contains(&d)) {
                return Err(at("rotation.automaticallyAfterDays", "must be 1-1000"));
            }
            Rotation {
                enabled: Some(r.enabled),
                lambda_arn: r.lambda_arn,
                rules: Some(RotationRules {
                    automatically_after_days: r.automatically_after_days,
                    duration: r.duration,
                    schedule_expression: r.schedule_expression,
                }),
                last_rotated: None,
                next_rotation: None,
            }
        }
    };
    let secret = SeedSecret {
        name: entry.name,
        description: entry.description,
        kms_key_id: entry.kms_key_id,
        tags,
        versions,
        policy,
        rotation,
    };
    Ok((account, region, secret))
}
