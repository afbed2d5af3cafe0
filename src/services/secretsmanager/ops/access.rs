//! What each operation asks of authorization: its action, the secret as the caller named it,
//! and the condition keys of the parameters the request actually carries (a GetSecretValue
//! without `VersionStage` has no `secretsmanager:VersionStage`, as in AWS).

use super::Operation;
use crate::iam::Access;
use serde_json::Value;

impl Operation {
    /// The authorization facts of a request whose body is `input` (already JSON, not yet
    /// validated: a member of the wrong type simply contributes no key).
    #[must_use]
    pub fn access(self, input: &Value) -> Access {
        let text = |member: &str| input.get(member).and_then(Value::as_str);
        let resource = match self {
            Self::CreateSecret => text("Name"),
            Self::BatchGetSecretValue | Self::GetRandomPassword | Self::ListSecrets => None,
            _ => text("SecretId"),
        };
        let mut access = Access::new(self.action(), resource);
        let mut key = |name: &str, member: &str| {
            if let Some(values) = values_of(input.get(member)) {
                access.context.push((name.to_string(), values));
            }
        };
        match self {
            Self::CreateSecret => {
                key("secretsmanager:Name", "Name");
                key("secretsmanager:Description", "Description");
                key("secretsmanager:KmsKeyId", "KmsKeyId");
                key("secretsmanager:Type", "Type");
                key("secretsmanager:ForceOverwriteReplicaSecret", "ForceOverwriteReplicaSecret");
                add_replica_regions(input, &mut access);
                request_tags(input, &mut access);
            }
            Self::UpdateSecret => {
                key("secretsmanager:Description", "Description");
                key("secretsmanager:KmsKeyId", "KmsKeyId");
                key("secretsmanager:Type", "Type");
            }
            Self::GetSecretValue => {
                key("secretsmanager:VersionId", "VersionId");
                key("secretsmanager:VersionStage", "VersionStage");
            }
            Self::UpdateSecretVersionStage => key("secretsmanager:VersionStage", "VersionStage"),
            Self::DeleteSecret => {
                key("secretsmanager:ForceDeleteWithoutRecovery", "ForceDeleteWithoutRecovery");
                key("secretsmanager:RecoveryWindowInDays", "RecoveryWindowInDays");
            }
            Self::PutResourcePolicy => {
                key("secretsmanager:BlockPublicPolicy", "BlockPublicPolicy");
                key("secretsmanager:PolicyName", "PolicyName");
            }
            Self::DeleteResourcePolicy => key("secretsmanager:PolicyName", "PolicyName"),
            Self::RotateSecret => {
                key("secretsmanager:RotationLambdaARN", "RotationLambdaARN");
                key("secretsmanager:RotateImmediately", "RotateImmediately");
                key("secretsmanager:ExternalSecretRotationRoleArn", "ExternalSecretRotationRoleArn");
                if input.get("RotationRules").is_some() {
                    access.context.push(("secretsmanager:ModifyRotationRules".into(), vec!["true".into()]));
                }
            }
            Self::ReplicateSecretToRegions => {
                key("secretsmanager:ForceOverwriteReplicaSecret", "ForceOverwriteReplicaSecret");
                add_replica_regions(input, &mut access);
            }
            Self::TagResource => request_tags(input, &mut access),
            Self::UntagResource => {
                if let Some(keys) = values_of(input.get("TagKeys")) {
                    access.context.push(("aws:TagKeys".into(), keys));
                }
            }
            Self::BatchGetSecretValue => {
                access.each = input
                    .get("SecretIdList")
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
            }
            _ => {}
        }
        access
    }
}

/// A parameter's values as condition values: strings as they are, numbers and booleans as
/// their JSON text, lists of those element by element.
fn values_of(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Bool(b) => Some(vec![b.to_string()]),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Array(items) => Some(items.iter().filter_map(|v| values_of(Some(v))).flatten().collect()),
        _ => None,
    }
}

/// `AddReplicaRegions: [{Region, KmsKeyId}]` → `secretsmanager:AddReplicaRegions`.
fn add_replica_regions(input: &Value, access: &mut Access) {
    if let Some(regions) = input.get("AddReplicaRegions").and_then(Value::as_array) {
        let regions = regions.iter().filter_map(|r| r.get("Region").and_then(Value::as_str)).map(str::to_string);
        access.context.push(("secretsmanager:AddReplicaRegions".into(), regions.collect()));
    }
}

/// `Tags: [{Key, Value}]` → `aws:RequestTag/<key>` and `aws:TagKeys`.
fn request_tags(input: &Value, access: &mut Access) {
    let Some(tags) = input.get("Tags").and_then(Value::as_array) else { return };
    let mut keys = Vec::new();
    for tag in tags {
        if let Some(key) = tag.get("Key").and_then(Value::as_str) {
            let value = tag.get("Value").and_then(Value::as_str).unwrap_or_default();
            access.context.push((format!("aws:RequestTag/{key}"), vec![value.to_string()]));
            keys.push(key.to_string());
        }
    }
    access.context.push(("aws:TagKeys".into(), keys));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(access: &Access) -> Vec<&str> {
        access.context.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn keys_come_only_from_parameters_sent() {
        let bare = Operation::GetSecretValue.access(&json!({"SecretId": "prod/db"}));
        assert_eq!(bare.action, "secretsmanager:GetSecretValue");
        assert_eq!(bare.resource.as_deref(), Some("prod/db"));
        assert!(bare.context.is_empty(), "no VersionStage sent, so no VersionStage key");
        let staged = Operation::GetSecretValue.access(&json!({"SecretId": "x", "VersionStage": "AWSCURRENT"}));
        assert_eq!(staged.context, [("secretsmanager:VersionStage".to_string(), vec!["AWSCURRENT".to_string()])]);
    }

    #[test]
    fn resources_and_typed_values() {
        assert_eq!(Operation::ListSecrets.access(&json!({})).resource, None);
        assert_eq!(Operation::CreateSecret.access(&json!({"Name": "n"})).resource.as_deref(), Some("n"));
        let delete = Operation::DeleteSecret.access(&json!({"SecretId": "s", "RecoveryWindowInDays": 7}));
        assert_eq!(delete.context, [("secretsmanager:RecoveryWindowInDays".to_string(), vec!["7".to_string()])]);
        let create = Operation::CreateSecret.access(&json!({
            "Name": "n", "Tags": [{"Key": "team", "Value": "db"}],
            "AddReplicaRegions": [{"Region": "eu-west-1"}], "SecretString": "never a key"
        }));
        assert_eq!(
            keys(&create),
            ["secretsmanager:Name", "secretsmanager:AddReplicaRegions", "aws:RequestTag/team", "aws:TagKeys"]
        );
        assert!(!format!("{create:?}").contains("never a key"));
        let batch = Operation::BatchGetSecretValue.access(&json!({"SecretIdList": ["a", "b", 3]}));
        assert_eq!((batch.resource, batch.each), (None, vec!["a".to_string(), "b".to_string()]));
        let typed = Operation::UpdateSecret.access(&json!({"SecretId": "s", "Type": "aws/rds"}));
        assert_eq!(typed.context, [("secretsmanager:Type".to_string(), vec!["aws/rds".to_string()])]);
        for op in [Operation::PutResourcePolicy, Operation::DeleteResourcePolicy] {
            let named = op.access(&json!({"SecretId": "s", "PolicyName": "default"}));
            assert_eq!(keys(&named), ["secretsmanager:PolicyName"], "{op:?}");
        }
    }
}
