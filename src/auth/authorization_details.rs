//! IAM identities given in the shape of IAM's `GetAccountAuthorizationDetails`
//! answer, as in a seed file's `iam` section (so the output of
//! `aws iam get-account-authorization-details` can be pasted in).
//!
//! Only `RoleDetailList` is read so far; the other lists are refused rather
//! than ignored, so nobody believes their users or policies are in force.
//!
//! ```yaml
//! iam:
//!   RoleDetailList:
//!     - RoleName: deployer
//!       Path: /ci/                      # optional, default /
//!       Account: "444455556666"         # optional, default the seed's account; or give Arn
//!       # Arn: arn:aws:iam::444455556666:role/ci/deployer
//!       RoleId: AROAEXAMPLEDEPLOYER01   # optional
//!       AssumeRolePolicyDocument:       # a JSON object, or its text (plain or URL-encoded)
//!         Version: "2012-10-17"
//!         Statement:
//!           - Effect: Allow
//!             Principal: { AWS: "arn:aws:iam::111122223333:root" }
//!             Action: sts:AssumeRole
//! ```

use serde_json::{Map, Value};

use super::credentials::is_account_id;
use super::roles::{Role, check_role_id};
use super::trust::TrustPolicy;

/// Everything an authorization-details document declares.
#[derive(Debug, Default)]
pub struct AuthorizationDetails {
    pub roles: Vec<Role>,
}

/// Lists of the IAM answer smemu does not read yet.
const NOT_YET: [&str; 3] = ["UserDetailList", "GroupDetailList", "Policies"];
/// Paging fields of the IAM answer, meaningless here.
const PAGING: [&str; 2] = ["IsTruncated", "Marker"];
/// Fields of a role detail smemu reads.
const ROLE_FIELDS: [&str; 6] = ["RoleName", "Path", "Account", "Arn", "RoleId", "AssumeRolePolicyDocument"];
/// Fields of a role detail that describe what smemu does not model (permissions,
/// instance profiles, history): accepted so a real answer loads, and ignored.
const ROLE_IGNORED: [&str; 9] = [
    "CreateDate",
    "InstanceProfileList",
    "RolePolicyList",
    "AttachedManagedPolicies",
    "PermissionsBoundary",
    "Tags",
    "RoleLastUsed",
    "Description",
    "MaxSessionDuration",
];

impl AuthorizationDetails {
    /// Reads a document; roles without an account or ARN are in
    /// `default_account`. Errors name the list, the entry and the field.
    pub fn parse(document: &Value, default_account: &str) -> Result<Self, String> {
        let Value::Object(map) = document else {
            return Err("must be a mapping such as {RoleDetailList: [...]}".into());
        };
        let mut details = Self::default();
        for (key, value) in map {
            match key.as_str() {
                "RoleDetailList" => {
                    let Value::Array(entries) = value else {
                        return Err("RoleDetailList must be a list of roles".into());
                    };
                    for (index, entry) in entries.iter().enumerate() {
                        let label = match entry.get("RoleName").and_then(Value::as_str) {
                            Some(name) => format!("RoleDetailList[{index}] ({name})"),
                            None => format!("RoleDetailList[{index}]"),
                        };
                        details.roles.push(role(entry, default_account).map_err(|e| format!("{label}: {e}"))?);
                    }
                }
                k if PAGING.contains(&k) => {}
                k if NOT_YET.contains(&k) => {
                    return Err(format!("{k} is not supported yet (only RoleDetailList is)"));
                }
                other => {
                    return Err(format!("unknown field '{other}' (expected RoleDetailList)"));
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

fn role(entry: &Value, default_account: &str) -> Result<Role, String> {
    let Value::Object(map) = entry else {
        return Err("must be a mapping of RoleName, AssumeRolePolicyDocument, ...".into());
    };
    if let Some(unknown) =
        map.keys().find(|k| !ROLE_FIELDS.contains(&k.as_str()) && !ROLE_IGNORED.contains(&k.as_str()))
    {
        return Err(format!("unknown field '{unknown}'"));
    }
    let name = text(map, "RoleName")?;
    let path = text(map, "Path")?.unwrap_or("/");
    let account = text(map, "Account")?;
    if !(path.starts_with('/') && path.ends_with('/')) || path.contains("//") {
        return Err(format!("field 'Path': must begin and end with / (like /ci/), got {path:?}"));
    }
    if let Some(account) = account
        && !is_account_id(account)
    {
        return Err(format!("field 'Account': must be 12 digits (quoted in YAML), got {account:?}"));
    }
    let arn = match (text(map, "Arn")?, name) {
        (Some(arn), _) => arn.to_string(),
        (None, Some(name)) => format!("arn:aws:iam::{}:role{path}{name}", account.unwrap_or(default_account)),
        (None, None) => return Err("give RoleName (with Account and Path) or Arn".into()),
    };
    let document = map.get("AssumeRolePolicyDocument").ok_or("field 'AssumeRolePolicyDocument': missing")?;
    let trust = TrustPolicy::from_value(document).map_err(|e| format!("field 'AssumeRolePolicyDocument': {e}"))?;
    let role_id = text(map, "RoleId")?.map(check_role_id).transpose().map_err(|e| format!("field 'RoleId': {e}"))?;
    let role = Role::new(&arn, trust, role_id).map_err(|e| format!("field 'Arn': {e}"))?;
    if let Some(name) = name
        && name != role.name
    {
        return Err(format!("field 'RoleName': {name:?} is not the name in the ARN {arn}"));
    }
    if let Some(account) = account
        && account != role.account_id
    {
        return Err(format!("field 'Account': {account} is not the account in the ARN {arn}"));
    }
    Ok(role)
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
    fn errors_name_the_entry_and_field() {
        for (document, error) in [
            (json!([]), "must be a mapping such as {RoleDetailList: [...]}"),
            (json!({"UserDetailList": []}), "UserDetailList is not supported yet (only RoleDetailList is)"),
            (json!({"Roles": []}), "unknown field 'Roles' (expected RoleDetailList)"),
            (json!({"RoleDetailList": {}}), "RoleDetailList must be a list of roles"),
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
                "RoleDetailList[0]: field 'Arn': ",
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
