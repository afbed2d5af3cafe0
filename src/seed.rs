//! Seeding: KMS keys and secrets that exist from the first request on, read from YAML or JSON
//! files.
//!
//! Seeding is idempotent: a secret whose name already exists in its account and region (say,
//! restored from `--data-dir`) is left exactly as it is, so restarts never duplicate versions
//! or undo changes made at runtime. So is a key whose id exists; a key declared without an `id`
//! gets one derived from its account, region and first alias, so it is found again.
//!
//! ```yaml
//! account: "000000000000"      # defaults for the entries below (optional)
//! region: us-east-1
//! keys:                        # created before the secrets, which may name them
//!   - aliases: [alias/certs]   # or `alias: alias/certs`; an id or an alias is required
//!     description: TLS material
//!     policy: { Version: "2012-10-17", Statement: [] }   # or its JSON text; default: KMS's
//!     tags: { team: core }
//!     enabled: true            # false: Disabled
//!     rotation: 90             # days between rotations; true for 365
//!   - id: 0b1c3e2a-5d7f-4c1e-9a8b-2f4d6e8a0c1b
//!     pendingWindowInDays: 7   # scheduled for deletion, 7 days from the start
//! secrets:
//!   - name: prod/db
//!     description: the database
//!     secretString: '{"user":"app","password":"pw"}'
//!     tags: { team: core }
//!   - name: certs/tls
//!     region: eu-west-1
//!     kmsKeyId: alias/certs
//!     rotation: { lambdaArn: "arn:aws:lambda:us-east-1:000000000000:function:rotate", automaticallyAfterDays: 30 }
//!     replicaRegions: [eu-west-2, { region: us-west-2, kmsKeyId: alias/replica }]
//!     versions:                # oldest first; stages default to the usual moves
//!       - secretBinary: AAEC   # base64
//!         stages: [AWSPREVIOUS]
//!       - secretBinary: AwQF
//!         stages: [AWSCURRENT]
//! iam:                         # users, roles, policies: see `auth::authorization_details`
//!   RoleDetailList:
//!     - RoleName: deployer
//!       AssumeRolePolicyDocument: { Statement: [{ Effect: Allow, Principal: { AWS: "111122223333" }, Action: sts:AssumeRole }] }
//! ```
//!
//! An entry is checked exactly as the API would check it: it becomes the CreateSecret,
//! PutSecretValue, PutResourcePolicy and RotateSecret inputs a client would send (a key: CreateKey,
//! CreateAlias, EnableKeyRotation and ScheduleKeyDeletion), and each goes through the model
//! validator and the operation's own checks; then the engine's limits apply.
//! Errors name the file, the entry and the seed's own field, never a value: a file is read into a
//! plain tree first and every field is then read here, so no parser ever words a type error by
//! quoting what it found.

use crate::App;
use crate::protocol::validate::Model;
use crate::rotation::HookSpec;
use crate::services::kms::SeedKey;
use crate::services::secretsmanager::ops::{self, Operation};
use crate::services::secretsmanager::state::secret::{self, AWSCURRENT, AWSPREVIOUS, Rotation};
use crate::services::secretsmanager::state::{Scope, SeedSecret, SeedVersion, replication};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
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

/// Stands in for the `ClientRequestToken` the API asks for: seeded versions get ids of their own.
const TOKEN: &str = "00000000-0000-4000-8000-000000000000";

const FILE_FIELDS: &[&str] = &["account", "region", "keys", "secrets", "hooks", "iam"];
const KEY_FIELDS: &[&str] = &[
    "id",
    "account",
    "region",
    "alias",
    "aliases",
    "description",
    "policy",
    "tags",
    "enabled",
    "rotation",
    "pendingWindowInDays",
];
/// Stands in for the key id the KMS inputs of a key entry ask for.
const KEY_ID: &str = "00000000-0000-4000-8000-000000000000";
const ENTRY_FIELDS: &[&str] = &[
    "name",
    "account",
    "region",
    "description",
    "kmsKeyId",
    "secretString",
    "secretBinary",
    "versions",
    "tags",
    "resourcePolicy",
    "blockPublicPolicy",
    "rotation",
    "replicaRegions",
];
const REPLICA_FIELDS: &[&str] = &["region", "kmsKeyId"];
const VERSION_FIELDS: &[&str] = &["id", "secretString", "secretBinary", "stages"];
const ROTATION_FIELDS: &[&str] = &["lambdaArn", "automaticallyAfterDays", "scheduleExpression", "duration", "enabled"];
const TAG_FIELDS: &[&str] = &["key", "value", "Key", "Value"];

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
    let mut planned = Vec::new();
    let mut planned_keys = Vec::new();
    let mut hooks = Vec::new();
    // Where each (account, region, key id or alias) was first seeded.
    let mut seen_keys: HashMap<(String, String, String), String> = HashMap::new();
    // Where each (account, region, name) was first seeded, so a second entry for it is refused.
    let mut seen: HashMap<(String, String, String), String> = HashMap::new();
    let mut declared_iam = Vec::new();
    for file in files(path)? {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| SeedError(format!("seed file {shown}: {e}")))?;
        let document = parse(&file, &text).map_err(|e| SeedError(format!("seed file {shown}: {e}")))?;
        let in_file = |p: Problem| SeedError(format!("seed file {shown}: {p}"));
        let top = Fields::of(&document, "", FILE_FIELDS).map_err(in_file)?;
        for (index, hook) in top.list("hooks").map_err(in_file)?.iter().enumerate() {
            let spec = HookSpec::from_value(hook.clone())
                .map_err(|e| SeedError(format!("seed file {shown}: hook #{}: {e}", index + 1)))?;
            hooks.push(spec);
        }
        let account = top.string("account").map_err(in_file)?.unwrap_or_else(|| app.config.default_account.clone());
        let region = top.string("region").map_err(in_file)?.unwrap_or_else(|| app.config.default_region.clone());
        if let Some(iam) = top.get("iam") {
            let details = crate::auth::AuthorizationDetails::parse(iam, &account)
                .map_err(|e| SeedError(format!("seed file {shown}: iam: {e}")))?;
            declared_iam.push((details, shown.clone()));
        }
        for (index, entry) in top.list("keys").map_err(in_file)?.iter().enumerate() {
            let label = match (entry.get("alias"), entry.get("id")) {
                (Some(Value::String(alias)), _) => format!("key #{} ({alias:?})", index + 1),
                (_, Some(Value::String(id))) => format!("key #{} ({id:?})", index + 1),
                _ => format!("key #{}", index + 1),
            };
            let at_entry = |p: Problem| SeedError(format!("seed file {shown}: {label}: {p}"));
            let (account, region, key) = check_key(&app.kms_model, entry, &account, &region).map_err(at_entry)?;
            let id = key.id.clone().map(|id| ("id", id));
            for (field, name) in id.into_iter().chain(key.aliases.iter().map(|a| ("aliases", a.clone()))) {
                let slot = (account.clone(), region.clone(), name);
                if let Some(first) = seen_keys.get(&slot) {
                    return Err(at_entry(Problem::new(field, format!("{} already seeded by {first}", slot.2))));
                }
                seen_keys.insert(slot, format!("{label} of {shown}"));
            }
            planned_keys.push((account, region, key, label, shown.clone()));
        }
        for (index, entry) in top.list("secrets").map_err(in_file)?.iter().enumerate() {
            let label = match entry.get("name") {
                Some(Value::String(name)) => format!("secret #{} ({name:?})", index + 1),
                _ => format!("secret #{}", index + 1),
            };
            let at_entry = |p: Problem| SeedError(format!("seed file {shown}: {label}: {p}"));
            let (account, region, secret) = check(&app.model, entry, &account, &region).map_err(at_entry)?;
            let key = (account.clone(), region.clone(), secret.name.clone());
            if let Some(first) = seen.get(&key) {
                return Err(at_entry(Problem::new("name", format!("already seeded by {first}"))));
            }
            seen.insert(key, format!("{label} of {shown}"));
            planned.push((account, region, secret, label, shown.clone()));
        }
    }
    for (details, shown) in declared_iam {
        let source = crate::auth::CredentialSource::File(shown.clone());
        app.auth
            .credentials()
            .declare_details(details, &source)
            .map_err(|e| SeedError(format!("seed file {shown}: iam: {e}")))?;
    }
    for spec in hooks {
        app.hooks.register(spec);
    }
    let mut created = 0;
    let mut keys = 0;
    for (account, region, key, label, shown) in planned_keys {
        if app
            .kms
            .seed_key(&account, &region, key)
            .map_err(|e| SeedError(format!("seed file {shown}: {label}: {e}")))?
        {
            keys += 1;
        }
    }
    tracing::debug!(keys, "seeded KMS keys created");
    for (account, region, secret, label, shown) in planned {
        let scope = Scope::of(&account, &region);
        // Every engine rule was checked above; an error here is one the checks do not foresee.
        if app.engine.seed_secret(scope, secret).map_err(|e| SeedError(format!("seed file {shown}: {label}: {e}")))? {
            created += 1;
        }
    }
    Ok(created)
}

/// A file as a plain tree. Parsing into [`Value`] leaves the parsers nothing to say but where the
/// syntax breaks; their messages never quote the text they stopped at.
fn parse(file: &Path, text: &str) -> Result<Value, String> {
    if file.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
    } else {
        let document: Option<Value> = serde_norway::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        Ok(document.unwrap_or(Value::Null))
    }
}

/// What is wrong, and with which field of the seed.
#[derive(Debug)]
struct Problem {
    field: String,
    message: String,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

/// The fields of one map in a seed file, read by name with the field's place for messages.
/// `null` counts as absent, as in a request.
struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// `value` as a map whose keys are all in `known`; `null` is an empty map.
    fn of(value: &'a Value, prefix: &str, known: &[&str]) -> Result<Self, Problem> {
        let map = match value {
            Value::Null => None,
            Value::Object(map) => Some(map),
            other => return Err(Problem::new(prefix, format!("must be a map of fields, not {}", kind_of(other)))),
        };
        if let Some(unknown) = map.and_then(|m| m.keys().find(|k| !known.contains(&k.as_str()))) {
            return Err(Problem::new(join(prefix, unknown), format!("unknown field (known: {})", known.join(", "))));
        }
        Ok(Self { map, prefix: prefix.to_owned() })
    }

    fn field(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> Problem {
        let hint = if expected == "a string" && matches!(found, Value::Number(_) | Value::Bool(_)) {
            " (in YAML, put it in quotes)"
        } else {
            ""
        };
        Problem::new(self.field(key), format!("must be {expected}, not {}{hint}", kind_of(found)))
    }

    fn string(&self, key: &str) -> Result<Option<String>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                Problem::new(self.field(key), "must be a whole number within the 64-bit range".to_owned())
            }),
            Some(other) => Err(self.wrong(key, "a number", other)),
        }
    }

    fn list(&self, key: &str) -> Result<&'a [Value], Problem> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(key, "a list", other)),
        }
    }
}

/// Where the members of one API input come from in the seed entry, so the validator's and the
/// handlers' findings are told in the seed's own words.
struct Origins {
    /// Model member path (as the validator writes it) and the seed field it came from.
    members: Vec<(&'static str, String)>,
    /// The seed's name for each tag, by position: `tags.team` (map form) or `tags[2]` (list form).
    tags: Vec<String>,
}

impl Origins {
    /// `tags.3.member.key` → `tags.team.key`; `versionStages.2.member` → `versions[1].stages[2]`.
    fn field(&self, path: &str) -> String {
        let Some((member, field)) = self
            .members
            .iter()
            .filter(|(m, _)| path == *m || path.strip_prefix(m).is_some_and(|rest| rest.starts_with('.')))
            .max_by_key(|(m, _)| m.len())
        else {
            return path.to_owned();
        };
        let mut out = field.clone();
        let mut rest = path[member.len()..].split('.').filter(|s| !s.is_empty()).peekable();
        while let Some(segment) = rest.next() {
            match segment.parse::<usize>() {
                Ok(n) => {
                    if rest.peek() == Some(&"member") {
                        rest.next();
                    }
                    match self.tags.get(n.wrapping_sub(1)) {
                        Some(label) if *member == "tags" => label.clone_into(&mut out),
                        _ => out.push_str(&format!("[{n}]")),
                    }
                }
                Err(_) => {
                    out.push('.');
                    out.push_str(segment);
                }
            }
        }
        out
    }
}

/// Runs `body` through what a request of `op` goes through before its handler: the model
/// validator, then decoding into the handler's input.
fn api_input<I: DeserializeOwned>(model: &Model, op: Operation, body: Value, origins: &Origins) -> Result<I, Problem> {
    let violations = model.violations(op.name(), &body).map_err(|e| Problem::new("", e.message().to_owned()))?;
    if let Some(v) = violations.first() {
        let message = if v.rule == "not be null" { "missing".to_owned() } else { format!("must {}", v.rule) };
        return Err(Problem::new(origins.field(&v.path), message));
    }
    ops::decode(body).map_err(|_| Problem::new("", format!("cannot be read as {} input", op.name())))
}

fn refused(origins: &Origins) -> impl Fn(ops::Refused) -> Problem + '_ {
    |r| Problem::new(origins.field(r.member), r.error.message.into_owned())
}

/// A value as the API's two members: `SecretString` as given, `SecretBinary` as base64.
fn value_members(body: &mut Map<String, Value>, fields: &Fields<'_>) -> Result<bool, Problem> {
    let string = fields.string("secretString")?;
    let binary = fields.string("secretBinary")?;
    if let Some(b) = &binary {
        let b = b.trim();
        if STANDARD.decode(b).is_err() {
            return Err(Problem::new(fields.field("secretBinary"), "not valid base64"));
        }
        body.insert("SecretBinary".into(), Value::String(b.to_owned()));
    }
    let given = string.is_some() || binary.is_some();
    if let Some(s) = string {
        body.insert("SecretString".into(), Value::String(s));
    }
    Ok(given)
}

/// Checks one entry as the API would check it, and plans the secret.
fn check(model: &Model, entry: &Value, account: &str, region: &str) -> Result<(String, String, SeedSecret), Problem> {
    let fields = Fields::of(entry, "", ENTRY_FIELDS)?;
    let account = fields.string("account")?.unwrap_or_else(|| account.to_owned());
    let region = fields.string("region")?.unwrap_or_else(|| region.to_owned());
    if !crate::auth::is_account_id(&account) {
        return Err(Problem::new("account", "must be 12 digits"));
    }
    if !crate::auth::is_region_like(&region) {
        return Err(Problem::new("region", "must be a region name such as us-east-1"));
    }
    let name = fields.string("name")?;

    // CreateSecret: name, description, key, tags, and the value when there are no versions.
    let (tags, tag_labels) = tags(&fields)?;
    let mut create = Map::new();
    create.insert("ClientRequestToken".into(), TOKEN.into());
    for (member, field) in [("Name", "name"), ("Description", "description"), ("KmsKeyId", "kmsKeyId")] {
        if let Some(text) = fields.string(field)? {
            create.insert(member.into(), Value::String(text));
        }
    }
    let has_value = value_members(&mut create, &fields)?;
    if let Some(tags) = tags {
        create.insert("Tags".into(), tags);
    }
    let replicas = replica_regions(&fields)?;
    if !replicas.is_empty() {
        create.insert("AddReplicaRegions".into(), Value::Array(replicas));
    }
    let origins = Origins {
        members: vec![
            ("name", "name".into()),
            ("description", "description".into()),
            ("kmsKeyId", "kmsKeyId".into()),
            ("secretString", "secretString".into()),
            ("secretBinary", "secretBinary".into()),
            ("tags", "tags".into()),
            ("addReplicaRegions", "replicaRegions".into()),
        ],
        tags: tag_labels,
    };
    let input: ops::CreateSecretInput = api_input(model, Operation::CreateSecret, Value::Object(create), &origins)?;
    let new = ops::prepare_create_secret(input).map_err(refused(&origins))?;
    for replica in &new.replicas {
        replication::check_region(&region, &replica.region)
            .map_err(|e| Problem::new("replicaRegions", e.message.into_owned()))?;
    }
    secret::check_tag_limit(&[], &new.tags).map_err(|e| Problem::new("tags", e.message.into_owned()))?;
    let name = name.unwrap_or_default();

    let listed = fields.list("versions")?;
    if has_value && !listed.is_empty() {
        return Err(Problem::new("versions", "give either a value or a list of versions, not both"));
    }
    let mut versions = Vec::new();
    if let Some(value) = new.value {
        versions.push(SeedVersion { id: None, value, stages: vec![AWSCURRENT.to_owned()] });
    }
    for (i, v) in listed.iter().enumerate() {
        versions.push(version(model, &name, v, i, listed.len())?);
    }
    check_stages(&versions)?;

    let policy = match fields.get("resourcePolicy") {
        None => None,
        Some(p) => Some(resource_policy(model, &name, p, &fields)?),
    };
    let rotation = match fields.get("rotation") {
        None => Rotation::default(),
        Some(r) => rotation(model, &name, r)?,
    };
    let secret = SeedSecret {
        name: new.name,
        description: new.description,
        kms_key_id: new.kms_key_id,
        tags: new.tags,
        versions,
        policy,
        rotation,
        replicas: new.replicas,
    };
    Ok((account, region, secret))
}

/// `replicaRegions`: Region codes, or `{region, kmsKeyId}`, as CreateSecret's AddReplicaRegions.
fn replica_regions(fields: &Fields<'_>) -> Result<Vec<Value>, Problem> {
    let mut out = Vec::new();
    for (i, entry) in fields.list("replicaRegions")?.iter().enumerate() {
        let prefix = format!("{}[{i}]", fields.field("replicaRegions"));
        let mut member = Map::new();
        match entry {
            Value::String(region) => {
                member.insert("Region".into(), Value::String(region.clone()));
            }
            other => {
                let replica = Fields::of(other, &prefix, REPLICA_FIELDS)?;
                for (name, field) in [("Region", "region"), ("KmsKeyId", "kmsKeyId")] {
                    if let Some(text) = replica.string(field)? {
                        member.insert(name.into(), Value::String(text));
                    }
                }
            }
        }
        out.push(Value::Object(member));
    }
    Ok(out)
}

/// Checks one key entry as CreateKey, CreateAlias, EnableKeyRotation and ScheduleKeyDeletion
/// would check it, and plans the key.
fn check_key(model: &Model, entry: &Value, account: &str, region: &str) -> Result<(String, String, SeedKey), Problem> {
    use crate::services::kms::{self, store};
    let fields = Fields::of(entry, "", KEY_FIELDS)?;
    let account = fields.string("account")?.unwrap_or_else(|| account.to_owned());
    let region = fields.string("region")?.unwrap_or_else(|| region.to_owned());
    if !crate::auth::is_account_id(&account) {
        return Err(Problem::new("account", "must be 12 digits"));
    }
    let id = fields.string("id")?;
    if let Some(id) = &id
        && (!store::is_key_id(id) || id.starts_with("mrk-"))
    {
        return Err(Problem::new("id", "must be a key id (a UUID)"));
    }
    let mut aliases: Vec<(String, String)> = Vec::new();
    if let Some(alias) = fields.string("alias")? {
        aliases.push(("alias".to_owned(), alias));
    }
    for (i, item) in fields.list("aliases")?.iter().enumerate() {
        let field = format!("aliases[{}]", i + 1);
        let Value::String(alias) = item else {
            return Err(Problem::new(field, format!("must be a string, not {}", kind_of(item))));
        };
        aliases.push((field, alias.clone()));
    }
    if id.is_none() && aliases.is_empty() {
        return Err(Problem::new("", "give an id or an alias, so that seeding again finds the same key"));
    }

    // CreateKey: description, policy, tags.
    let (tags, tag_labels) = tags(&fields)?;
    let mut create = Map::new();
    if let Some(description) = fields.string("description")? {
        create.insert("Description".into(), Value::String(description));
    }
    match fields.get("policy") {
        None => {}
        Some(Value::String(text)) => {
            create.insert("Policy".into(), Value::String(text.clone()));
        }
        Some(policy @ Value::Object(_)) => {
            create.insert("Policy".into(), Value::String(policy.to_string()));
        }
        Some(other) => return Err(fields.wrong("policy", "a policy document (a map or its JSON text)", other)),
    }
    if let Some(Value::Array(list)) = tags {
        let renamed = list
            .into_iter()
            .map(|tag| {
                let mut out = Map::new();
                if let Some(k) = tag.get("Key") {
                    out.insert("TagKey".into(), k.clone());
                }
                if let Some(v) = tag.get("Value") {
                    out.insert("TagValue".into(), v.clone());
                }
                Value::Object(out)
            })
            .collect();
        create.insert("Tags".into(), Value::Array(renamed));
    }
    let origins = Origins {
        members: vec![("description", "description".into()), ("policy", "policy".into()), ("tags", "tags".into())],
        tags: tag_labels,
    };
    let input: kms::CreateKeyInput = kms_input(model, "CreateKey", Value::Object(create), &origins)?;
    let new = kms::prepare_create_key(input).map_err(|e| Problem::new("", e.message().to_owned()))?;
    store::check_new_key(&new).map_err(|(member, e)| Problem::new(member, e.message().to_owned()))?;

    // CreateAlias, once per alias.
    for (field, alias) in &aliases {
        let body = json!({"AliasName": alias, "TargetKeyId": KEY_ID});
        let origins = Origins { members: vec![("aliasName", field.clone())], tags: Vec::new() };
        kms_input::<Value>(model, "CreateAlias", body, &origins)?;
        store::check_alias_name(alias).map_err(|e| Problem::new(field.clone(), e.message().to_owned()))?;
    }

    // EnableKeyRotation.
    let rotation_period_days = match fields.get("rotation") {
        None | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(store::DEFAULT_ROTATION_PERIOD_DAYS),
        Some(Value::Number(_)) => fields.integer("rotation")?,
        Some(other) => return Err(fields.wrong("rotation", "true, false or a number of days", other)),
    };
    if let Some(days) = rotation_period_days {
        let body = json!({"KeyId": KEY_ID, "RotationPeriodInDays": days});
        let origins = Origins { members: vec![("rotationPeriodInDays", "rotation".into())], tags: Vec::new() };
        kms_input::<Value>(model, "EnableKeyRotation", body, &origins)?;
    }

    // ScheduleKeyDeletion.
    let pending_window_days = fields.integer("pendingWindowInDays")?;
    if let Some(days) = pending_window_days {
        let body = json!({"KeyId": KEY_ID, "PendingWindowInDays": days});
        let origins =
            Origins { members: vec![("pendingWindowInDays", "pendingWindowInDays".into())], tags: Vec::new() };
        kms_input::<Value>(model, "ScheduleKeyDeletion", body, &origins)?;
        if !store::PENDING_WINDOW_DAYS.contains(&days) {
            return Err(Problem::new("pendingWindowInDays", kms::error::pending_window().message().to_owned()));
        }
    }
    let key = SeedKey {
        id,
        new,
        aliases: aliases.into_iter().map(|(_, a)| a).collect(),
        enabled: fields.bool("enabled")?.unwrap_or(true),
        rotation_period_days,
        pending_window_days,
    };
    Ok((account, region, key))
}

/// [`api_input`] for a KMS operation, against the KMS model.
fn kms_input<I: DeserializeOwned>(model: &Model, op: &str, body: Value, origins: &Origins) -> Result<I, Problem> {
    let violations = model.violations(op, &body).map_err(|e| Problem::new("", e.message().to_owned()))?;
    if let Some(v) = violations.first() {
        let message = if v.rule == "not be null" { "missing".to_owned() } else { format!("must {}", v.rule) };
        return Err(Problem::new(origins.field(&v.path), message));
    }
    ops::decode(body).map_err(|_| Problem::new("", format!("cannot be read as {op} input")))
}

/// The entry's tags as CreateSecret's `Tags`, and the seed's name for each.
fn tags(fields: &Fields<'_>) -> Result<(Option<Value>, Vec<String>), Problem> {
    let mut labels = Vec::new();
    let mut list = Vec::new();
    match fields.get("tags") {
        None => return Ok((None, labels)),
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let label = format!("tags.{key}");
                let Value::String(value) = value else {
                    return Err(Problem::new(label, format!("must be a string, not {}", kind_of(value))));
                };
                list.push(json!({"Key": key, "Value": value}));
                labels.push(label);
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let label = format!("tags[{}]", i + 1);
                let tag = Fields::of(item, &label, TAG_FIELDS)?;
                let mut entry = Map::new();
                if let Some(key) = tag.string("key")?.or(tag.string("Key")?) {
                    entry.insert("Key".into(), Value::String(key));
                }
                if let Some(value) = tag.string("value")?.or(tag.string("Value")?) {
                    entry.insert("Value".into(), Value::String(value));
                }
                list.push(Value::Object(entry));
                labels.push(label);
            }
        }
        Some(other) => return Err(fields.wrong("tags", "a map or a list of {key, value}", other)),
    }
    Ok((Some(Value::Array(list)), labels))
}

/// One listed version, as PutSecretValue would take it.
fn version(model: &Model, name: &str, v: &Value, i: usize, count: usize) -> Result<SeedVersion, Problem> {
    let prefix = format!("versions[{}]", i + 1);
    let fields = Fields::of(v, &prefix, VERSION_FIELDS)?;
    let id = fields.string("id")?;
    let mut put = Map::new();
    put.insert("SecretId".into(), Value::String(name.to_owned()));
    put.insert("ClientRequestToken".into(), Value::String(id.clone().unwrap_or_else(|| TOKEN.to_owned())));
    value_members(&mut put, &fields)?;
    let stages = match fields.get("stages") {
        None => None,
        Some(Value::Array(items)) => {
            let mut stages = Vec::with_capacity(items.len());
            for (n, item) in items.iter().enumerate() {
                let Value::String(stage) = item else {
                    let field = format!("{prefix}.stages[{}]", n + 1);
                    return Err(Problem::new(field, format!("must be a string, not {}", kind_of(item))));
                };
                stages.push(stage.clone());
            }
            Some(stages)
        }
        Some(other) => return Err(fields.wrong("stages", "a list", other)),
    };
    // An empty list is a deprecated version, which a seed may describe but PutSecretValue can't make.
    if let Some(stages) = stages.as_ref().filter(|s| !s.is_empty()) {
        put.insert("VersionStages".into(), json!(stages));
    }
    let origins = Origins {
        members: vec![
            ("secretId", "name".into()),
            ("clientRequestToken", format!("{prefix}.id")),
            ("secretString", format!("{prefix}.secretString")),
            ("secretBinary", format!("{prefix}.secretBinary")),
            ("versionStages", format!("{prefix}.stages")),
        ],
        tags: Vec::new(),
    };
    let input: ops::PutSecretValueInput = api_input(model, Operation::PutSecretValue, Value::Object(put), &origins)?;
    let new = ops::prepare_put_secret_value(input).map_err(refused(&origins))?;
    // Without explicit stages the newest version is current and the one before previous.
    let stages = stages.unwrap_or_else(|| match count - i {
        1 => vec![AWSCURRENT.to_owned()],
        2 => vec![AWSPREVIOUS.to_owned()],
        _ => Vec::new(),
    });
    Ok(SeedVersion { id, value: new.value, stages })
}

/// What the engine keeps true of a secret's versions: unique ids, each label on one version,
/// and a current version once there is any.
fn check_stages(versions: &[SeedVersion]) -> Result<(), Problem> {
    let mut ids = HashSet::new();
    let mut labels = HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        if let Some(id) = &v.id
            && !ids.insert(id.as_str())
        {
            return Err(Problem::new(format!("versions[{}].id", i + 1), "another version has the same id"));
        }
        for stage in &v.stages {
            if !labels.insert(stage.as_str()) {
                return Err(Problem::new(
                    format!("versions[{}].stages", i + 1),
                    format!("the label {stage} is on more than one version"),
                ));
            }
        }
    }
    if !versions.is_empty() && !labels.contains(AWSCURRENT) {
        return Err(Problem::new("versions", "one version must carry AWSCURRENT"));
    }
    Ok(())
}

/// The resource policy, as PutResourcePolicy would take it: a JSON text, or the policy itself.
fn resource_policy(
    model: &Model,
    name: &str,
    policy: &Value,
    fields: &Fields<'_>,
) -> Result<secret::ResourcePolicy, Problem> {
    let document = match policy {
        Value::String(s) => s.clone(),
        Value::Object(_) => policy.to_string(),
        other => return Err(fields.wrong("resourcePolicy", "a policy document (a map or its JSON text)", other)),
    };
    let mut put = Map::new();
    put.insert("SecretId".into(), Value::String(name.to_owned()));
    put.insert("ResourcePolicy".into(), Value::String(document));
    if let Some(block) = fields.bool("blockPublicPolicy")? {
        put.insert("BlockPublicPolicy".into(), Value::Bool(block));
    }
    let origins = Origins {
        members: vec![
            ("secretId", "name".into()),
            ("resourcePolicy", "resourcePolicy".into()),
            ("blockPublicPolicy", "blockPublicPolicy".into()),
        ],
        tags: Vec::new(),
    };
    let input: ops::PutResourcePolicyInput =
        api_input(model, Operation::PutResourcePolicy, Value::Object(put), &origins)?;
    let (_, policy) = ops::prepare_put_resource_policy(input).map_err(refused(&origins))?;
    Ok(policy)
}

/// The rotation configuration, as RotateSecret would take it.
fn rotation(model: &Model, name: &str, r: &Value) -> Result<Rotation, Problem> {
    let fields = Fields::of(r, "rotation", ROTATION_FIELDS)?;
    let mut rules = Map::new();
    if let Some(days) = fields.integer("automaticallyAfterDays")? {
        rules.insert("AutomaticallyAfterDays".into(), days.into());
    }
    for (member, field) in [("ScheduleExpression", "scheduleExpression"), ("Duration", "duration")] {
        if let Some(text) = fields.string(field)? {
            rules.insert(member.into(), Value::String(text));
        }
    }
    let lambda_arn = fields.string("lambdaArn")?;
    let mut rotate = Map::new();
    rotate.insert("SecretId".into(), Value::String(name.to_owned()));
    rotate.insert("ClientRequestToken".into(), TOKEN.into());
    if let Some(arn) = &lambda_arn {
        rotate.insert("RotationLambdaARN".into(), Value::String(arn.clone()));
    }
    rotate.insert("RotationRules".into(), Value::Object(rules));
    let origins = Origins {
        members: vec![
            ("secretId", "name".into()),
            ("rotationLambdaARN", "rotation.lambdaArn".into()),
            ("rotationRules", "rotation".into()),
            ("rotationRules.automaticallyAfterDays", "rotation.automaticallyAfterDays".into()),
            ("rotationRules.scheduleExpression", "rotation.scheduleExpression".into()),
            ("rotationRules.duration", "rotation.duration".into()),
        ],
        tags: Vec::new(),
    };
    let input: ops::RotateSecretInput = api_input(model, Operation::RotateSecret, Value::Object(rotate), &origins)?;
    let (_, request) = ops::prepare_rotate_secret(input).map_err(refused(&origins))?;
    let Some(rules) = request.rules.filter(|r| r.automatically_after_days.is_some() || r.schedule_expression.is_some())
    else {
        return Err(Problem::new("rotation", "give automaticallyAfterDays or scheduleExpression"));
    };
    // RotateSecret refuses a secret that has no rotation function yet, as a seeded one has not.
    if lambda_arn.is_none() {
        return Err(Problem::new(
            "rotation.lambdaArn",
            "missing: No Lambda rotation function ARN is associated with this secret.",
        ));
    }
    Ok(Rotation {
        enabled: Some(fields.bool("enabled")?.unwrap_or(true)),
        lambda_arn: request.lambda_arn,
        rules: Some(rules),
        last_rotated: None,
        next_rotation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Origins {
        Origins {
            members: vec![
                ("tags", "tags".into()),
                ("rotationRules", "rotation".into()),
                ("rotationRules.duration", "rotation.duration".into()),
                ("versionStages", "versions[2].stages".into()),
            ],
            tags: vec!["tags.team".into(), "tags.owner".into()],
        }
    }

    #[test]
    fn model_paths_become_seed_fields() {
        let o = origins();
        assert_eq!(o.field("tags.2.member.key"), "tags.owner.key");
        assert_eq!(o.field("tags"), "tags");
        assert_eq!(o.field("rotationRules.duration"), "rotation.duration");
        assert_eq!(o.field("rotationRules.automaticallyAfterDays"), "rotation.automaticallyAfterDays");
        assert_eq!(o.field("versionStages.3.member"), "versions[2].stages[3]");
        assert_eq!(o.field("other"), "other");
    }

    #[test]
    fn type_errors_never_quote_the_value() {
        let value = json!({"secretString": 4_815_162_342_u64, "name": true});
        let fields = Fields::of(&value, "", ENTRY_FIELDS).unwrap();
        let e = fields.string("secretString").unwrap_err().to_string();
        assert_eq!(e, "secretString: must be a string, not a number (in YAML, put it in quotes)");
        assert!(fields.list("name").unwrap_err().to_string().contains("must be a list, not true/false"));
        let unknown = Fields::of(&json!({"colour": 1}), "", ENTRY_FIELDS).err().unwrap().to_string();
        assert!(unknown.starts_with("colour: unknown field (known: name, "), "{unknown}");
    }
}
