//! IAM identities given in the shape of IAM's `GetAccountAuthorizationDetails`
//! answer, as in a seed file's `iam` section or a credentials file's `iam` key
//! (so the output of `aws iam get-account-authorization-details` can be pasted
//! in), plus `AccessKeys` per user and an `Account` per entry.
//!
//! ```yaml
//! iam:
//!   UserDetailList:
//!     - UserName: reader
//!       Account: "111122223333"       # optional, default the seed's account; or give Arn
//!       UserPolicyList:
//!         - PolicyName: read-db
//!           PolicyDocument: {Version: "2012-10-17", Statement: [...]}
//!       AttachedManagedPolicies: [{PolicyName: ops, PolicyArn: "arn:aws:iam::111122223333:policy/ops"}]
//!       Tags: [{Key: team, Value: db}]
//!       AccessKeys: [{AccessKeyId: AKIAREADER0000000001, SecretAccessKey: "..."}]
//!   RoleDetailList:
//!     - RoleName: deployer
//!       Path: /ci/                      # optional, default /
//!       Account: "444455556666"
//!       RoleId: AROAEXAMPLEDEPLOYER01   # optional
//!       AssumeRolePolicyDocument:       # a JSON object, or its text (plain or URL-encoded)
//!         Version: "2012-10-17"
//!         Statement:
//!           - Effect: Allow
//!             Principal: { AWS: "arn:aws:iam::111122223333:root" }
//!             Action: sts:AssumeRole
//!       RolePolicyList: [{PolicyName: ..., PolicyDocument: ...}]
//!   GroupDetailList:                # its users name it in their GroupList
//!     - GroupName: readers
//!       Account: "111122223333"
//!       GroupPolicyList: [{PolicyName: ..., PolicyDocument: ...}]
//!       AttachedManagedPolicies: [{PolicyName: ops, PolicyArn: "arn:aws:iam::111122223333:policy/ops"}]
//!   Policies:
//!     - PolicyName: ops
//!       Arn: arn:aws:iam::111122223333:policy/ops   # or PolicyName (+ Path, Account)
//!       DefaultVersionId: v1
//!       PolicyVersionList: [{VersionId: v1, IsDefaultVersion: true, Document: {...}}]
//! ```
//!
//! A user's `GroupList` names groups of its own account; their inline and attached
//! policies are the user's identity policies too.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::credentials::{derived_id, is_account_id};
use super::roles::{Role, check_role_id};
use super::trust::TrustPolicy;
use crate::iam::Document;
use crate::iam::store::{self, Declared, ManagedPolicy};

/// Everything an authorization-details document declares.
#[derive(Debug, Default)]
pub struct AuthorizationDetails {
    /// The roles AssumeRole may enter, with their trust policies.
    pub roles: Vec<Role>,
    /// Users, roles and managed policies for the identity store.
    pub identities: Declared,
    /// The users' access keys.
    pub access_keys: Vec<AccessKey>,
}

/// An access key declared with a user.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub user_arn: String,
    pub user_id: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("user_arn", &self.user_arn)
            .finish_non_exhaustive()
    }
}

/// Paging fields of the IAM answer, meaningless here.
const PAGING: [&str; 2] = ["IsTruncated", "Marker"];
const LISTS: &str = "UserDetailList, GroupDetailList, RoleDetailList, Policies";
/// Fields of a role detail smemu reads.
const ROLE_FIELDS: [&str; 11] = [
    "RoleName",
    "Path",
    "Account",
    "Arn",
    "RoleId",
    "AssumeRolePolicyDocument",
    "RolePolicyList",
    "AttachedManagedPolicies",
    "PermissionsBoundary",
    "Tags",
    "Description",
];
const USER_FIELDS: [&str; 11] = [
    "UserName",
    "Path",
    "Account",
    "Arn",
    "UserId",
    "UserPolicyList",
    "AttachedManagedPolicies",
    "PermissionsBoundary",
    "Tags",
    "AccessKeys",
    "GroupList",
];
const GROUP_FIELDS: [&str; 7] =
    ["GroupName", "Path", "Account", "Arn", "GroupId", "GroupPolicyList", "AttachedManagedPolicies"];
const POLICY_FIELDS: [&str; 8] =
    ["PolicyName", "Path", "Account", "Arn", "PolicyId", "DefaultVersionId", "PolicyVersionList", "Description"];
/// Fields of the IAM answer that describe what smemu does not model (instance profiles,
/// history, counters): accepted so a real answer loads, and ignored.
const IGNORED: [&str; 9] = [
    "CreateDate",
    "UpdateDate",
    "InstanceProfileList",
    "RoleLastUsed",
    "MaxSessionDuration",
    "AttachmentCount",
    "PermissionsBoundaryUsageCount",
    "IsAttachable",
    "PasswordLastUsed",
];

impl AuthorizationDetails {
    /// Reads a document; entries without an account or ARN are in
    /// `default_account`. Errors name the list, the entry and the field.
    pub fn parse(document: &Value, default_account: &str) -> Result<Self, String> {
        let Value::Object(map) = document else {
            return Err(format!("must be a mapping of {LISTS}"));
        };
        let mut details = Self::default();
        for (key, value) in map {
            let list = key.as_str();
            let entries = match list {
                "UserDetailList" | "GroupDetailList" | "RoleDetailList" | "Policies" => match value {
                    Value::Array(entries) => entries,
                    _ => return Err(format!("{list} must be a list")),
                },
                k if PAGING.contains(&k) => continue,
                other => return Err(format!("unknown field '{other}' (expected {LISTS})")),
            };
            let name_field = match list {
                "UserDetailList" => "UserName",
                "RoleDetailList" => "RoleName",
                "GroupDetailList" => "GroupName",
                _ => "PolicyName",
            };
            for (index, entry) in entries.iter().enumerate() {
                let label = match entry.get(name_field).and_then(Value::as_str) {
                    Some(name) => format!("{list}[{index}] ({name})"),
                    None => format!("{list}[{index}]"),
                };
                let at = |e: String| format!("{label}: {e}");
                match list {
                    "UserDetailList" => {
                        let (user, keys) = user(entry, default_account).map_err(at)?;
                        details.identities.users.push(user);
                        details.access_keys.extend(keys);
                    }
                    "GroupDetailList" => details.identities.groups.push(group(entry, default_account).map_err(at)?),
                    "RoleDetailList" => {
                        let (role, identity) = role(entry, default_account).map_err(at)?;
                        details.roles.push(role);
                        details.identities.roles.push(identity);
                    }
                    _ => details.identities.policies.push(policy(entry, default_account).map_err(at)?),
                }
            }
        }
        Ok(details)
    }
}

fn text<'a>(map: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("field '{field}' must be a string")),
    }
}

fn object<'a>(entry: &'a Value, fields: &[&str], what: &str) -> Result<&'a Map<String, Value>, String> {
    let Value::Object(map) = entry else {
        return Err(format!("must be a mapping of {what}"));
    };
    if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str()) && !IGNORED.contains(&k.as_str())) {
        return Err(format!("unknown field '{unknown}'"));
    }
    Ok(map)
}

fn list<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a [Value], String> {
    match map.get(field) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("field '{field}' must be a list")),
    }
}

/// An entry's path and account, checked, and the ARN it gives (or its own `Arn`).
fn identity_arn(
    map: &Map<String, Value>,
    name_field: &str,
    kind: &str,
    default_account: &str,
) -> Result<(String, String, String, String), String> {
    let name = text(map, name_field)?;
    let path = text(map, "Path")?.unwrap_or("/");
    if !(path.starts_with('/') && path.ends_with('/')) || path.contains("//") {
        return Err(format!("field 'Path': must begin and end with / (like /ci/), got {path:?}"));
    }
    let account = text(map, "Account")?;
    if let Some(account) = account
        && !is_account_id(account)
        && !(kind == "policy" && account == store::AWS_MANAGED)
    {
        return Err(format!("field 'Account': must be 12 digits (quoted in YAML), got {account:?}"));
    }
    let arn = match (text(map, "Arn")?, name) {
        (Some(arn), _) => arn.to_string(),
        (None, Some(name)) => format!("arn:aws:iam::{}:{kind}{path}{name}", account.unwrap_or(default_account)),
        (None, None) => return Err(format!("give {name_field} (with Account and Path) or Arn")),
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && (is_account_id(parts[4]) || (kind == "policy" && parts[4] == store::AWS_MANAGED))
        && parts[5].strip_prefix(kind).is_some_and(|rest| rest.starts_with('/') && !rest.ends_with('/'));
    if !well_formed {
        return Err(format!("field 'Arn': {arn:?} is not a {kind} ARN (like arn:aws:iam::111122223333:{kind}/NAME)"));
    }
    let (arn_account, resource) = (parts[4].to_string(), parts[5]);
    let arn_name = resource.rsplit('/').next().unwrap_or_default().to_string();
    let arn_path = resource[kind.len()..resource.len() - arn_name.len()].to_string();
    if let Some(name) = name
        && name != arn_name
    {
        return Err(format!("field '{name_field}': {name:?} is not the name in the ARN {arn}"));
    }
    if let Some(account) = account
        && account != arn_account
    {
        return Err(format!("field 'Account': {account} is not the account in the ARN {arn}"));
    }
    Ok((arn, arn_account, arn_name, arn_path))
}

/// `UserPolicyList` / `RolePolicyList`: `[{PolicyName, PolicyDocument}]`.
fn inline_policies(map: &Map<String, Value>, field: &str) -> Result<BTreeMap<String, Arc<Document>>, String> {
    let mut out = BTreeMap::new();
    for (index, entry) in list(map, field)?.iter().enumerate() {
        let at = |e: String| format!("field '{field}'[{index}]: {e}");
        let entry = object(entry, &["PolicyName", "PolicyDocument"], "PolicyName, PolicyDocument").map_err(at)?;
        let name = text(entry, "PolicyName").map_err(at)?.ok_or_else(|| at("PolicyName: missing".into()))?;
        let document = entry.get("PolicyDocument").ok_or_else(|| at("PolicyDocument: missing".into()))?;
        let document = Document::from_value(document).map_err(|e| at(format!("PolicyDocument: {e}")))?;
        if out.insert(name.to_string(), Arc::new(document)).is_some() {
            return Err(at(format!("the policy name {name} appears twice")));
        }
    }
    Ok(out)
}

/// `AttachedManagedPolicies`: `[{PolicyName, PolicyArn}]` → the ARNs.
fn attached(map: &Map<String, Value>) -> Result<Vec<String>, String> {
    let field = "AttachedManagedPolicies";
    list(map, field)?
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = |e: String| format!("field '{field}'[{index}]: {e}");
            let entry = object(entry, &["PolicyName", "PolicyArn"], "PolicyName, PolicyArn").map_err(at)?;
            text(entry, "PolicyArn").map_err(at)?.map(str::to_string).ok_or_else(|| at("PolicyArn: missing".into()))
        })
        .collect()
}

/// `PermissionsBoundary`: `{PermissionsBoundaryType, PermissionsBoundaryArn}` → the ARN.
fn boundary(map: &Map<String, Value>) -> Result<Option<String>, String> {
    let Some(value) = map.get("PermissionsBoundary") else { return Ok(None) };
    let at = |e: String| format!("field 'PermissionsBoundary': {e}");
    let entry = object(
        value,
        &["PermissionsBoundaryType", "PermissionsBoundaryArn"],
        "PermissionsBoundaryType, PermissionsBoundaryArn",
    )
    .map_err(at)?;
    text(entry, "PermissionsBoundaryArn")
        .map_err(at)?
        .map(|arn| Some(arn.to_string()))
        .ok_or_else(|| at("PermissionsBoundaryArn: missing".into()))
}

/// `Tags`: `[{Key, Value}]`.
fn tags(map: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    list(map, "Tags")?
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = |e: String| format!("field 'Tags'[{index}]: {e}");
            let entry = object(entry, &["Key", "Value"], "Key, Value").map_err(at)?;
            let key = text(entry, "Key").map_err(at)?.ok_or_else(|| at("Key: missing".into()))?;
            let value = text(entry, "Value").map_err(at)?.unwrap_or_default();
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

fn user(entry: &Value, default_account: &str) -> Result<(store::User, Vec<AccessKey>), String> {
    let map = object(entry, &USER_FIELDS, "UserName, UserPolicyList, AccessKeys, ...")?;
    let (arn, account_id, name, path) = identity_arn(map, "UserName", "user", default_account)?;
    let user_id = match text(map, "UserId")? {
        Some(id) if id.starts_with("AIDA") && id.len() > 4 && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            id.to_string()
        }
        Some(id) => {
            return Err(format!("field 'UserId': {id:?} is not a user id (AIDA followed by letters or digits)"));
        }
        None => derived_id("AIDA", &arn),
    };
    let mut keys = Vec::new();
    for (index, key) in list(map, "AccessKeys")?.iter().enumerate() {
        let at = |e: String| format!("field 'AccessKeys'[{index}]: {e}");
        let key =
            object(key, &["AccessKeyId", "SecretAccessKey", "Status"], "AccessKeyId, SecretAccessKey").map_err(at)?;
        let id = text(key, "AccessKeyId").map_err(at)?.ok_or_else(|| at("AccessKeyId: missing".into()))?;
        let secret = text(key, "SecretAccessKey").map_err(at)?.ok_or_else(|| at("SecretAccessKey: missing".into()))?;
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(at(format!("AccessKeyId must be 1 to 128 letters, digits or underscores, got {id:?}")));
        }
        if secret.is_empty() {
            return Err(at("SecretAccessKey must not be empty".into()));
        }
        keys.push(AccessKey {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            account_id: account_id.clone(),
            user_arn: arn.clone(),
            user_id: user_id.clone(),
        });
    }
    let user = store::User {
        inline: inline_policies(map, "UserPolicyList")?,
        attached: attached(map)?,
        boundary: boundary(map)?,
        tags: tags(map)?,
        access_keys: keys.iter().map(|k| k.access_key_id.clone()).collect(),
        groups: group_list(map)?,
        name,
        path,
        arn,
        user_id,
        account_id,
    };
    Ok((user, keys))
}

/// A user's `GroupList`: the names of its groups.
fn group_list(map: &Map<String, Value>) -> Result<Vec<String>, String> {
    list(map, "GroupList")?
        .iter()
        .enumerate()
        .map(|(index, name)| match name {
            Value::String(name) if !name.is_empty() => Ok(name.clone()),
            _ => Err(format!("field 'GroupList'[{index}]: must be a group name")),
        })
        .collect()
}

fn group(entry: &Value, default_account: &str) -> Result<store::Group, String> {
    let map = object(entry, &GROUP_FIELDS, "GroupName, GroupPolicyList, AttachedManagedPolicies, ...")?;
    let (arn, account_id, name, path) = identity_arn(map, "GroupName", "group", default_account)?;
    let group_id = match text(map, "GroupId")? {
        Some(id) if id.starts_with("AGPA") && id.len() > 4 && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            id.to_string()
        }
        Some(id) => {
            return Err(format!("field 'GroupId': {id:?} is not a group id (AGPA followed by letters or digits)"));
        }
        None => derived_id("AGPA", &arn),
    };
    Ok(store::Group {
        inline: inline_policies(map, "GroupPolicyList")?,
        attached: attached(map)?,
        name,
        path,
        arn,
        group_id,
        account_id,
    })
}

fn role(entry: &Value, default_account: &str) -> Result<(Role, store::Role), String> {
    let map = object(entry, &ROLE_FIELDS, "RoleName, AssumeRolePolicyDocument, ...")?;
    let (arn, account_id, name, path) = identity_arn(map, "RoleName", "role", default_account)?;
    let document = map.get("AssumeRolePolicyDocument").ok_or("field 'AssumeRolePolicyDocument': missing")?;
    let trust = TrustPolicy::from_value(document).map_err(|e| format!("field 'AssumeRolePolicyDocument': {e}"))?;
    let trust_document =
        Document::from_value(document).map_err(|e| format!("field 'AssumeRolePolicyDocument': {e}"))?;
    let role_id = text(map, "RoleId")?.map(check_role_id).transpose().map_err(|e| format!("field 'RoleId': {e}"))?;
    let role = Role::new(&arn, trust, role_id).map_err(|e| format!("field 'Arn': {e}"))?;
    let identity = store::Role {
        role_id: role.role_id.clone(),
        trust: Arc::new(trust_document),
        inline: inline_policies(map, "RolePolicyList")?,
        attached: attached(map)?,
        boundary: boundary(map)?,
        tags: tags(map)?,
        name,
        path,
        arn,
        account_id,
    };
    Ok((role, identity))
}

fn policy(entry: &Value, default_account: &str) -> Result<ManagedPolicy, String> {
    let map = object(entry, &POLICY_FIELDS, "PolicyName, PolicyVersionList, ...")?;
    let (arn, _account, name, path) = identity_arn(map, "PolicyName", "policy", default_account)?;
    let mut versions = BTreeMap::new();
    let mut default_version = text(map, "DefaultVersionId")?.map(str::to_string);
    for (index, version) in list(map, "PolicyVersionList")?.iter().enumerate() {
        let at = |e: String| format!("field 'PolicyVersionList'[{index}]: {e}");
        let version =
            object(version, &["VersionId", "IsDefaultVersion", "Document"], "VersionId, Document, ...").map_err(at)?;
        let id = text(version, "VersionId").map_err(at)?.map_or_else(|| format!("v{}", index + 1), str::to_string);
        let document = version.get("Document").ok_or_else(|| at("Document: missing".into()))?;
        let document = Document::from_value(document).map_err(|e| at(format!("Document: {e}")))?;
        if version.get("IsDefaultVersion") == Some(&Value::Bool(true)) && default_version.is_none() {
            default_version = Some(id.clone());
        }
        if versions.insert(id.clone(), Arc::new(document)).is_some() {
            return Err(at(format!("the version {id} appears twice")));
        }
    }
    if versions.is_empty() {
        return Err("field 'PolicyVersionList': give at least one version with its Document".into());
    }
    let default_version = match default_version {
        Some(id) if versions.contains_key(&id) => id,
        Some(id) => return Err(format!("field 'DefaultVersionId': {id} is not in PolicyVersionList")),
        None if versions.len() == 1 => versions.keys().next().cloned().unwrap_or_default(),
        None => return Err("field 'DefaultVersionId': missing (which version is in force?)".into()),
    };
    let policy_id = match text(map, "PolicyId")? {
        Some(id) => id.to_string(),
        None => derived_id("ANPA", &arn),
    };
    Ok(ManagedPolicy { name, path, arn, policy_id, versions, default_version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;

    fn trust() -> Value {
        serde_json::from_str(TRUST).unwrap()
    }

    #[test]
    fn roles_in_every_accepted_shape() {
        let encoded = crate::auth::sigv4::uri_encode(TRUST.as_bytes(), false);
        let document = json!({
            "RoleDetailList": [
                {"RoleName": "deployer", "Path": "/ci/", "Account": "222222222222", "AssumeRolePolicyDocument": trust()},
                {"Arn": "arn:aws:iam::333333333333:role/reader", "RoleId": "AROAREADERID00000001", "AssumeRolePolicyDocument": TRUST},
                {"RoleName": "plain", "AssumeRolePolicyDocument": encoded, "CreateDate": "2024-01-01T00:00:00Z",
                 "RolePolicyList": [], "AttachedManagedPolicies": [], "InstanceProfileList": [], "Tags": []},
            ],
            "IsTruncated": false,
        });
        let details = AuthorizationDetails::parse(&document, "444444444444").unwrap();
        let arns: Vec<&str> = details.roles.iter().map(|r| r.arn.as_str()).collect();
        assert_eq!(
            arns,
            [
                "arn:aws:iam::222222222222:role/ci/deployer",
                "arn:aws:iam::333333333333:role/reader",
                "arn:aws:iam::444444444444:role/plain"
            ]
        );
        assert_eq!(details.roles[1].role_id, "AROAREADERID00000001");
        assert_eq!(details.roles[0].trust, details.roles[2].trust);
    }

    #[test]
    fn users_policies_and_access_keys_as_iam_dumps_them() {
        let statement = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
        let document = json!({
            "UserDetailList": [{
                "UserName": "reader", "Path": "/apps/", "Account": "222222222222",
                "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": statement.to_string()}],
                "AttachedManagedPolicies": [{"PolicyName": "ops", "PolicyArn": "arn:aws:iam::222222222222:policy/ops"}],
                "Tags": [{"Key": "team", "Value": "db"}],
                "AccessKeys": [{"AccessKeyId": "AKIAREADER", "SecretAccessKey": "s3cret"}],
                "GroupList": [], "CreateDate": "2024-01-01T00:00:00Z",
            }],
            "RoleDetailList": [{"RoleName": "app", "AssumeRolePolicyDocument": TRUST,
                                "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": statement}]}],
            "Policies": [{"PolicyName": "ops", "Account": "222222222222", "DefaultVersionId": "v2",
                          "PolicyVersionList": [{"VersionId": "v1", "Document": statement},
                                                {"VersionId": "v2", "Document": statement, "IsDefaultVersion": true}]}],
        });
        let details = AuthorizationDetails::parse(&document, "444444444444").unwrap();
        let user = &details.identities.users[0];
        assert_eq!(user.arn, "arn:aws:iam::222222222222:user/apps/reader");
        assert_eq!((user.name.as_str(), user.path.as_str()), ("reader", "/apps/"));
        assert!(user.user_id.starts_with("AIDA"));
        assert_eq!(user.attached, ["arn:aws:iam::222222222222:policy/ops"]);
        assert_eq!(user.tags, [("team".to_string(), "db".to_string())]);
        assert_eq!(details.access_keys[0].user_arn, user.arn);
        assert_eq!(details.access_keys[0].account_id, "222222222222");
        assert!(!format!("{:?}", details.access_keys[0]).contains("s3cret"));
        let role = &details.identities.roles[0];
        assert_eq!(role.arn, "arn:aws:iam::444444444444:role/app");
        assert_eq!(role.inline.len(), 1);
        let policy = &details.identities.policies[0];
        assert_eq!(policy.arn, "arn:aws:iam::222222222222:policy/ops");
        assert_eq!(policy.default_version, "v2");

        let store = crate::iam::IdentityStore::default();
        store.declare(details.identities).unwrap();
        let permissions = store.permissions("222222222222", "arn:aws:iam::222222222222:user/apps/reader");
        let labels: Vec<&str> = permissions.identity.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(labels, ["read", "arn:aws:iam::222222222222:policy/ops"]);
        assert_eq!(permissions.username.as_deref(), Some("reader"));
        let session = store.permissions("444444444444", "arn:aws:sts::444444444444:assumed-role/app/s1");
        assert!(session.known && session.identity.len() == 1);
        assert!(!store.permissions("222222222222", "arn:aws:iam::222222222222:user/other/reader").known);
        assert!(!store.permissions("222222222222", "arn:aws:iam::222222222222:root").known);
    }

    #[test]
    fn a_users_groups_lend_it_their_inline_and_attached_policies() {
        let statement = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}]});
        let document = json!({
            "UserDetailList": [
                {"UserName": "member", "GroupList": ["readers", "ops"], "CreateDate": "2024-01-01T00:00:00Z"},
                {"UserName": "outsider"},
            ],
            "GroupDetailList": [
                {"GroupName": "readers", "Path": "/teams/", "GroupPolicyList": [{"PolicyName": "list", "PolicyDocument": statement}],
                 "CreateDate": "2024-01-01T00:00:00Z"},
                {"GroupName": "ops", "GroupId": "AGPAOPS0000000000001",
                 "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::444444444444:policy/p"}]},
            ],
            "Policies": [{"PolicyName": "p", "PolicyVersionList": [{"VersionId": "v1", "Document": statement}]}],
        });
        let details = AuthorizationDetails::parse(&document, "444444444444").unwrap();
        let groups = &details.identities.groups;
        assert_eq!(groups[0].arn, "arn:aws:iam::444444444444:group/teams/readers");
        assert!(groups[0].group_id.starts_with("AGPA"));
        assert_eq!(groups[1].group_id, "AGPAOPS0000000000001");
        let store = crate::iam::IdentityStore::default();
        store.declare(details.identities).unwrap();
        let member = store.permissions("444444444444", "arn:aws:iam::444444444444:user/member");
        let labels: Vec<&str> = member.identity.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(
            labels,
            ["arn:aws:iam::444444444444:group/teams/readers/list", "arn:aws:iam::444444444444:policy/p"]
        );
        assert!(store.permissions("444444444444", "arn:aws:iam::444444444444:user/outsider").identity.is_empty());

        let unknown = json!({"UserDetailList": [{"UserName": "u", "GroupList": ["nobody"]}]});
        let details = AuthorizationDetails::parse(&unknown, "444444444444").unwrap();
        let err = crate::iam::IdentityStore::default().declare(details.identities).unwrap_err();
        assert!(err.contains("is in the group nobody, which is not declared"), "{err}");
        let unknown_policy = json!({"GroupDetailList": [{"GroupName": "g",
            "AttachedManagedPolicies": [{"PolicyName": "q", "PolicyArn": "arn:aws:iam::444444444444:policy/q"}]}]});
        let details = AuthorizationDetails::parse(&unknown_policy, "444444444444").unwrap();
        let err = crate::iam::IdentityStore::default().declare(details.identities).unwrap_err();
        assert!(err.contains("policy/q, which is not declared"), "{err}");
    }

    #[test]
    fn an_attachment_must_name_a_declared_policy() {
        let document = json!({"UserDetailList": [{"UserName": "u",
            "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::444444444444:policy/p"}]}]});
        let details = AuthorizationDetails::parse(&document, "444444444444").unwrap();
        let err = crate::iam::IdentityStore::default().declare(details.identities).unwrap_err();
        assert!(err.contains("arn:aws:iam::444444444444:policy/p, which is not declared"), "{err}");
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        for (document, error) in [
            (json!([]), "must be a mapping of UserDetailList, GroupDetailList, RoleDetailList, Policies"),
            (
                json!({"Roles": []}),
                "unknown field 'Roles' (expected UserDetailList, GroupDetailList, RoleDetailList, Policies)",
            ),
            (
                json!({"UserDetailList": [{"UserName": "u", "GroupList": [{"GroupName": "g"}]}]}),
                "UserDetailList[0] (u): field 'GroupList'[0]: must be a group name",
            ),
            (
                json!({"GroupDetailList": [{"GroupName": "g", "GroupId": "AIDA1"}]}),
                "GroupDetailList[0] (g): field 'GroupId': \"AIDA1\" is not a group id",
            ),
            (json!({"RoleDetailList": {}}), "RoleDetailList must be a list"),
            (
                json!({"RoleDetailList": [{"AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0]: give RoleName (with Account and Path) or Arn",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r"}]}),
                "RoleDetailList[0] (r): field 'AssumeRolePolicyDocument': missing",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "AssumeRolePolicyDocument": "{"}]}),
                "RoleDetailList[0] (r): field 'AssumeRolePolicyDocument': not a JSON policy document",
            ),
            (
                json!({"UserDetailList": [{"UserName": "u", "AttachedManagedPolicies": [{"PolicyName": "p"}]}]}),
                "UserDetailList[0] (u): field 'AttachedManagedPolicies'[0]: PolicyArn: missing",
            ),
            (
                json!({"UserDetailList": [{"UserName": "u", "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": 3}]}]}),
                "UserDetailList[0] (u): field 'UserPolicyList'[0]: PolicyDocument: a policy document must be",
            ),
            (
                json!({"UserDetailList": [{"UserName": "u", "AccessKeys": [{"AccessKeyId": "AKIA1"}]}]}),
                "UserDetailList[0] (u): field 'AccessKeys'[0]: SecretAccessKey: missing",
            ),
            (
                json!({"Policies": [{"PolicyName": "p", "PolicyVersionList": []}]}),
                "Policies[0] (p): field 'PolicyVersionList': give at least one version",
            ),
            (
                json!({"Policies": [{"PolicyName": "p", "DefaultVersionId": "v2",
                       "PolicyVersionList": [{"VersionId": "v1", "Document": {"Statement": []}}]}]}),
                "Policies[0] (p): field 'DefaultVersionId': v2 is not in PolicyVersionList",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "Account": "12", "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0] (r): field 'Account': must be 12 digits",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "Path": "ci", "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0] (r): field 'Path': must begin and end with /",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "Arn": "arn:aws:iam::222222222222:role/s", "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0] (r): field 'RoleName': \"r\" is not the name in the ARN",
            ),
            (
                json!({"RoleDetailList": [{"Arn": "arn:aws:iam::222222222222:user/s", "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0]: field 'Arn': \"arn:aws:iam::222222222222:user/s\" is not a role ARN",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "RoleId": "x", "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0] (r): field 'RoleId': ",
            ),
            (
                json!({"RoleDetailList": [{"RoleName": "r", "Trust": 1, "AssumeRolePolicyDocument": TRUST}]}),
                "RoleDetailList[0] (r): unknown field 'Trust'",
            ),
        ] {
            let err = AuthorizationDetails::parse(&document, "444444444444").unwrap_err();
            assert!(err.starts_with(error), "{document}: {err}");
        }
    }
}
