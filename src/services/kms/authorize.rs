//! The pipeline's authorization step for KMS calls: the caller's identity policies and the
//! key's key policy, for the key the request names (by id, alias or ARN, in any account).

use serde_json::Value;

use super::Operation;
use super::crypto;
use super::store::{Caller as KmsCaller, Principal as KmsPrincipal};
use crate::auth::Caller;
use crate::error::Result;
use crate::iam::Access;
use crate::iam::enforce::Target;
use crate::iam::policy::ResourceKind;
use crate::protocol::json::Blob;
use crate::services::secretsmanager::ops::Ctx;

/// What a KMS request asks: `kms:<operation>` on the key its `KeyId` names, with
/// `kms:CallerAccount` and the encryption context it sends. Decrypt without a `KeyId` is about
/// the key its blob names; ReEncrypt is `kms:ReEncryptFrom` on its source key (and
/// `kms:ReEncryptTo` on its destination, see [`authorize`]), as in AWS.
#[must_use]
pub fn access(op: Operation, caller: &Caller, input: &Value) -> Access {
    let text = |member: &str| input.get(member).and_then(Value::as_str).map(str::to_string);
    let (action, key) = match op {
        Operation::ReEncrypt => ("kms:ReEncryptFrom", text("SourceKeyId").or_else(|| blob_key(input))),
        Operation::Decrypt => (op.action(), text("KeyId").or_else(|| blob_key(input))),
        _ => (op.action(), text("KeyId")),
    };
    let mut access = Access::new(action, key.as_deref()).with("kms:CallerAccount", vec![caller.account_id.clone()]);
    if let Some(Value::Object(context)) = input.get("EncryptionContext") {
        for (key, value) in context {
            if let Some(value) = value.as_str() {
                access.context.push((format!("kms:EncryptionContext:{key}"), vec![value.to_string()]));
            }
        }
        access.context.push(("kms:EncryptionContextKeys".into(), context.keys().cloned().collect()));
    }
    access
}

/// The id of the key a request's `CiphertextBlob` was sealed under: a key of the caller's own
/// account, where KMS looks for it when the request names none.
fn blob_key(input: &Value) -> Option<String> {
    let blob: Blob = serde_json::from_value(input.get("CiphertextBlob")?.clone()).ok()?;
    crypto::key_id_of(&blob.0).ok().map(|id| id.to_string())
}

/// The key `key_ref` names as a policy target (`None` when there is no such key), or the
/// caller's account for actions without a key.
#[must_use]
pub fn target_for(ctx: &Ctx<'_>, caller: &Caller, key_ref: Option<&str>) -> Option<Target> {
    let Some(key_ref) = key_ref else {
        return Some(Target { arn: None, account: caller.account_id.clone(), ..Target::default() });
    };
    let as_service = KmsCaller { account: ctx.account, region: ctx.region, principal: KmsPrincipal::SecretsManager };
    ctx.app
        .kms
        .inspect_key(as_service, key_ref, |key| Target {
            arn: Some(key.arn.clone()),
            account: key.account.clone(),
            policy: key.policy.parsed(),
            kind: ResourceKind::Key,
            context: Vec::new(),
        })
        .ok()
}

/// Whether `caller` may make the KMS request `access` states. A key that cannot be found is
/// left to the operation, which reports it; actions without a key are decided by identity
/// policies alone. With enforcement off only another account's key is checked, against its
/// key policy alone.
///
/// # Errors
/// `AccessDeniedException` with AWS's text, naming the key as sent.
pub fn authorize(ctx: &Ctx<'_>, caller: &Caller, op: Operation, access: &Access, input: &Value) -> Result<()> {
    check(ctx, caller, access)?;
    if op == Operation::ReEncrypt {
        let to = Access {
            action: "kms:ReEncryptTo",
            resource: input.get("DestinationKeyId").and_then(Value::as_str).map(str::to_string),
            ..access.clone()
        };
        check(ctx, caller, &to)?;
    }
    Ok(())
}

/// [`authorize`] for one action on one key.
fn check(ctx: &Ctx<'_>, caller: &Caller, access: &Access) -> Result<()> {
    let authorizer = &ctx.app.authorizer;
    // With enforcement off only another account's key is checked; only an ARN names one.
    let foreign = access.resource.as_deref().and_then(|r| r.strip_prefix("arn:")).and_then(|r| r.split(':').nth(3));
    if !authorizer.enforcing() && foreign.is_none_or(|account| account == caller.account_id) {
        return Ok(());
    }
    let Some(target) = target_for(ctx, caller, access.resource.as_deref()) else { return Ok(()) };
    let identities = ctx.app.auth.credentials().identities();
    // KMS names the key's ARN in its refusals, whatever form the request used.
    let shown = target.arn.clone();
    authorizer
        .check_action(
            identities,
            caller,
            access.action,
            shown.as_deref(),
            &access.context,
            &target,
            ctx.app.engine.now(),
        )
        .map_err(|r| r.api_error())
}
