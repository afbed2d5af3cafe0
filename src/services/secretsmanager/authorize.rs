//! The pipeline's authorization step for Secrets Manager: which account's store a request is
//! served from, and whether the caller may make it (identity policies, the secret's resource
//! policy, and the key behind any value the request reads or writes).

use serde_json::Value;

use super::ops::{Ctx, Operation};
use super::state::ident::{self, SecretRef};
use crate::auth::Caller;
use crate::error::Result;
use crate::iam::Access;
use crate::iam::enforce::{KeyFacts, KeyUse, Target};
use crate::iam::policy::ResourceKind;
use crate::services::kms::store::{Caller as KmsCaller, KeyManager, Principal as KmsPrincipal};

/// The account whose secrets a request reaches: the owner named by a secret ARN (full or
/// partial), else the caller's own. A caller of another account is then authorised against the
/// owner's policies, as in AWS; a bare name always means the caller's own account.
#[must_use]
pub fn serving_account<'a>(caller: &'a Caller, access: &'a Access) -> &'a str {
    match access.resource.as_deref().map(ident::parse_secret_id) {
        Some(SecretRef::Arn { account, .. } | SecretRef::PartialArn { account, .. })
            if crate::auth::is_account_id(account) =>
        {
            account
        }
        _ => &caller.account_id,
    }
}

/// What authorization needs of a secret.
struct SecretFacts {
    arn: String,
    policy: Option<std::sync::Arc<crate::iam::policy::Policy>>,
    tags: Vec<(String, String)>,
    kms_key_id: Option<String>,
    rotation_lambda: Option<String>,
    secret_type: Option<String>,
}

fn secret_facts(ctx: &Ctx<'_>, id: &str) -> Option<SecretFacts> {
    ctx.engine()
        .read_secret(ctx.scope(), id, |s| {
            Ok(SecretFacts {
                arn: s.arn.clone(),
                policy: s.policy.as_ref().and_then(|p| p.document.parsed()),
                tags: s.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
                kms_key_id: s.kms_key_id.clone(),
                rotation_lambda: s.rotation.lambda_arn.clone(),
                secret_type: s.secret_type.clone(),
            })
        })
        .ok()
}

/// The ARN policies are matched against for a secret that is not there (yet): the ARN as sent,
/// or one built from the name. A secret being created has no suffix yet: `-??????` stands in,
/// so the pattern AWS recommends (`name-??????`) covers it.
fn absent_arn(ctx: &Ctx<'_>, op: Operation, id: &str) -> String {
    if id.starts_with("arn:") {
        return id.to_string();
    }
    let suffix = if op == Operation::CreateSecret { "-??????" } else { "" };
    format!("arn:{}:secretsmanager:{}:{}:secret:{id}{suffix}", ident::partition_of(ctx.region), ctx.region, ctx.account)
}

/// The secret `id` names, as a policy target for `op` (the explain endpoint asks too).
#[must_use]
pub fn target_for(ctx: &Ctx<'_>, op: Operation, id: Option<&str>) -> Target {
    target(ctx, op, id).0
}

/// The secret as a policy target, with the condition keys it contributes.
fn target(ctx: &Ctx<'_>, op: Operation, id: Option<&str>) -> (Target, Option<SecretFacts>) {
    let Some(id) = id else {
        return (Target { arn: None, account: ctx.account.to_string(), ..Target::default() }, None);
    };
    let facts = (op != Operation::CreateSecret).then(|| secret_facts(ctx, id)).flatten();
    let Some(facts) = facts else {
        let target =
            Target { arn: Some(absent_arn(ctx, op, id)), account: ctx.account.to_string(), ..Target::default() };
        return (target, None);
    };
    let mut context = vec![
        ("secretsmanager:SecretId".to_string(), vec![facts.arn.clone()]),
        ("secretsmanager:SecretPrimaryRegion".to_string(), vec![ctx.region.to_string()]),
    ];
    for (key, value) in &facts.tags {
        context.push((format!("aws:ResourceTag/{key}"), vec![value.clone()]));
        context.push((format!("secretsmanager:ResourceTag/{key}"), vec![value.clone()]));
    }
    if let Some(lambda) = &facts.rotation_lambda {
        context.push(("secretsmanager:resource/AllowRotationLambdaArn".to_string(), vec![lambda.clone()]));
    }
    if let Some(kind) = &facts.secret_type {
        context.push(("secretsmanager:resource/Type".to_string(), vec![kind.clone()]));
    }
    let target = Target {
        arn: Some(facts.arn.clone()),
        account: ctx.account.to_string(),
        policy: facts.policy.clone(),
        kind: ResourceKind::Resource,
        context,
    };
    (target, Some(facts))
}

/// Whether `caller` may make the request `op` states in `access`, served from `ctx`'s account:
/// the action itself, the actions AWS also requires with it, and the key behind any value.
/// With enforcement off only a request into another account is checked, against the
/// secret's resource policy and the key's policy alone.
///
/// # Errors
/// `AccessDeniedException` with AWS's text; the key's own refusals (see
/// [`crate::iam::enforce::Authorizer::authorize_key_use`]).
pub fn authorize(ctx: &Ctx<'_>, caller: &Caller, op: Operation, access: &Access, input: &Value) -> Result<()> {
    let authorizer = &ctx.app.authorizer;
    if !authorizer.checks(caller, ctx.account) {
        return Ok(());
    }
    let identities = ctx.app.auth.credentials().identities();
    let now = ctx.engine().now();
    let (target, facts) = target(ctx, op, access.resource.as_deref());
    // CreateSecret and a key change name the key in the request; otherwise the secret's own.
    let named_key = input.get("KmsKeyId").and_then(Value::as_str);
    // `secretsmanager:KmsKeyArn`: the ARN of the customer key the request names.
    let with_key_arn;
    let request_keys = match named_key.filter(|k| !k.is_empty()).and_then(|k| key_facts(ctx, Some(k))).flatten() {
        Some(key) => {
            with_key_arn =
                [access.context.clone(), vec![("secretsmanager:KmsKeyArn".to_string(), vec![key.arn])]].concat();
            &with_key_arn
        }
        None => &access.context,
    };
    let check = |action: &str| {
        authorizer
            .check_action(identities, caller, action, access.resource.as_deref(), request_keys, &target, now)
            .map_err(|r| r.api_error())
    };
    check(access.action)?;
    for also in also_required(op, input) {
        check(also)?;
    }
    if op == Operation::AssociateCrossAccountReplica
        && let Some(replica) = input.get("CrossAccountReplicaARN").and_then(Value::as_str)
    {
        accept_replication(ctx, caller, replica, now)?;
    }
    let Some(use_action) = key_use(op, input) else { return Ok(()) };
    let key_ref = match (named_key, &facts) {
        (Some(key), _) => Some(key.to_string()).filter(|k| !k.is_empty()),
        (None, Some(facts)) => facts.kms_key_id.clone(),
        (None, None) if op == Operation::CreateSecret => None,
        // The secret is not there: the handler answers ResourceNotFoundException.
        (None, None) => return Ok(()),
    };
    let Some(key) = key_facts(ctx, key_ref.as_deref()) else { return Ok(()) };
    let secret_arn = facts.as_ref().map_or_else(|| target.arn.clone().unwrap_or_default(), |f| f.arn.clone());
    let use_ = KeyUse { action: use_action, key, secret_arn: &secret_arn, secret_account: ctx.account };
    authorizer.authorize_key_use(identities, caller, &use_, now)
}

/// AssociateCrossAccountReplica also needs `AcceptCrossAccountReplication` on the replica, in
/// its own account: the replica's (system-managed) policy must admit the caller's account.
fn accept_replication(ctx: &Ctx<'_>, caller: &Caller, replica: &str, now: crate::clock::Timestamp) -> Result<()> {
    let SecretRef::Arn { account, .. } = ident::parse_secret_id(replica) else { return Ok(()) };
    let there = Ctx::in_account(ctx.app, account, caller);
    let (target, _) = target(&there, Operation::AssociateCrossAccountReplica, Some(replica));
    let action = "secretsmanager:AcceptCrossAccountReplication";
    let identities = ctx.app.auth.credentials().identities();
    ctx.app
        .authorizer
        .check_action(identities, caller, action, Some(replica), &[], &target, now)
        .map_err(|r| r.api_error())
}

/// The key a value uses, for authorization: `Some(None)` is the managed key; `None` means the
/// key cannot be found, which the operation itself reports.
fn key_facts(ctx: &Ctx<'_>, key_ref: Option<&str>) -> Option<Option<KeyFacts>> {
    let Some(key_ref) = key_ref else { return Some(None) };
    let as_service = KmsCaller { account: ctx.account, region: ctx.region, principal: KmsPrincipal::SecretsManager };
    ctx.app
        .kms
        .inspect_key(as_service, key_ref, |key| {
            (key.manager != KeyManager::Aws).then(|| KeyFacts {
                arn: key.arn.clone(),
                account: key.account.clone(),
                policy: key.policy.parsed(),
            })
        })
        .ok()
}

/// Actions AWS requires besides the operation's own (Service Authorization Reference).
fn also_required(op: Operation, input: &Value) -> Vec<&'static str> {
    match op {
        Operation::ValidateResourcePolicy => vec!["secretsmanager:PutResourcePolicy"],
        Operation::CreateSecret => {
            let mut also = Vec::new();
            if input.get("Tags").and_then(Value::as_array).is_some_and(|t| !t.is_empty()) {
                also.push("secretsmanager:TagResource");
            }
            if input.get("AddReplicaRegions").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
                also.push("secretsmanager:ReplicateSecretToRegions");
            }
            // The replica gets the system-managed cross-account-replication policy.
            if input.get("CrossAccountPrimaryARN").is_some() {
                also.push("secretsmanager:PutResourcePolicy");
            }
            also
        }
        Operation::AssociateCrossAccountReplica => vec!["secretsmanager:GetSecretValue"],
        _ => Vec::new(),
    }
}

/// The KMS action the key behind a value must allow, when the request reads or writes one.
fn key_use(op: Operation, input: &Value) -> Option<&'static str> {
    let has_value = input.get("SecretString").is_some() || input.get("SecretBinary").is_some();
    match op {
        Operation::GetSecretValue | Operation::BatchGetSecretValue => Some("kms:Decrypt"),
        Operation::PutSecretValue => Some("kms:GenerateDataKey"),
        Operation::CreateSecret if has_value => Some("kms:GenerateDataKey"),
        Operation::UpdateSecret if has_value || input.get("KmsKeyId").is_some() => Some("kms:GenerateDataKey"),
        _ => None,
    }
}

/// BatchGetSecretValue: AWS requires `GetSecretValue` on each secret and reports each refusal
/// in `Errors` instead of failing the call. The batch asks before it reads each secret, so a
/// refused secret is never decrypted (nor its access date moved); `id` is the secret as the
/// caller sent it, or its ARN for the secrets `Filters` found.
///
/// # Errors
/// The refusal, for the batch's `Errors`.
pub fn admit_to_batch(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let one = Operation::GetSecretValue.access(&serde_json::json!({ "SecretId": id }));
    authorize(ctx, ctx.caller, Operation::GetSecretValue, &one, &Value::Null)
}
