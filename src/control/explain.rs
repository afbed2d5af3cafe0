//! `POST /_smemu/authorize`: how a call would be decided, and why — the decision, the
//! statements that decided it, and for every other statement the element that did not match.
//! Asks the same evaluation the pipeline does, whether or not enforcement is on.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::auth::Caller;
use crate::iam::policy::{Decision, Denial, Effect, Evaluation, Finding, Mismatch, Outcome};
use crate::services::kms::authorize as kms;
use crate::services::secretsmanager::authorize as sm;
use crate::services::secretsmanager::ops::{Ctx, Operation};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Question {
    /// A principal ARN (user, role session, root) or a 12-digit account (its root).
    caller: String,
    /// `secretsmanager:GetSecretValue`, `kms:Decrypt`, ...
    action: String,
    /// The secret or key as a request would name it; absent for actions without one.
    resource: Option<String>,
    region: Option<String>,
    /// Condition keys the request would carry: a string or a list of strings each.
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

/// Answers a question given as JSON.
///
/// # Errors
/// A message for a body that is not a question.
pub fn answer(app: &std::sync::Arc<App>, body: &[u8]) -> Result<Value, String> {
    let q: Question = serde_json::from_slice(body).map_err(|e| {
        format!("invalid question: {e} (expected {{\"caller\", \"action\", \"resource\"?, \"region\"?, \"context\"?}})")
    })?;
    let caller = caller_of(app, &q)?;
    let mut request_keys = Vec::new();
    for (key, value) in &q.context {
        let values = match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => {
                items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
            }
            other => vec![other.to_string()],
        };
        request_keys.push((key.clone(), values));
    }
    let (service, operation) =
        q.action.split_once(':').ok_or("action must be service:Operation, like secretsmanager:GetSecretValue")?;
    let target = match service {
        "secretsmanager" => {
            let op = Operation::from_name(operation)
                .ok_or_else(|| format!("unknown Secrets Manager action {}", q.action))?;
            let access = crate::iam::Access::new("", q.resource.as_deref());
            let account = sm::serving_account(&caller, &access).to_string();
            let ctx = Ctx::in_account(app, &account, &caller);
            sm::target_for(&ctx, op, q.resource.as_deref())
        }
        "kms" => {
            let ctx = Ctx::of(app, &caller);
            kms::target_for(&ctx, &caller, q.resource.as_deref()).ok_or_else(|| {
                format!("no KMS key {} for {}", q.resource.as_deref().unwrap_or_default(), caller.account_id)
            })?
        }
        other => return Err(format!("smemu authorizes secretsmanager and kms actions, not {other}")),
    };
    let evaluation = app.authorizer.evaluate(
        app.auth.credentials().identities(),
        &caller,
        &q.action,
        &request_keys,
        &target,
        app.engine.now(),
    );
    Ok(render(&evaluation, &caller, &q, target.arn.is_some(), app.authorizer.enforcing()))
}

fn caller_of(app: &App, q: &Question) -> Result<Caller, String> {
    let arn = if crate::auth::is_account_id(&q.caller) { crate::auth::root_arn(&q.caller) } else { q.caller.clone() };
    let account = arn.split(':').nth(4).filter(|a| crate::auth::is_account_id(a)).ok_or_else(|| {
        format!(
            "caller must be a principal ARN (like arn:aws:iam::111122223333:user/NAME) or an account id, got {:?}",
            q.caller
        )
    })?;
    let name = arn.rsplit('/').next().unwrap_or_default();
    let user_id = app
        .auth
        .credentials()
        .identities()
        .user(account, name)
        .filter(|u| u.arn == arn)
        .map_or_else(|| crate::auth::user_id_for(&arn, account), |u| u.user_id.clone());
    Ok(Caller {
        account_id: account.to_string(),
        region: q.region.clone().unwrap_or_else(|| app.config.default_region.clone()),
        access_key_id: None,
        principal_arn: arn.clone(),
        user_id,
        session_policy: None,
    })
}

fn render(evaluation: &Evaluation, caller: &Caller, q: &Question, has_resource: bool, enforcing: bool) -> Value {
    let finding = |f: &Finding| {
        let (applied, reason) = match &f.outcome {
            Outcome::Applied => (true, "applies".to_string()),
            Outcome::NotApplied(Mismatch::Action) => (false, format!("{} is not among its actions", q.action)),
            Outcome::NotApplied(Mismatch::Resource) => (false, "the resource is not among its resources".to_string()),
            Outcome::NotApplied(Mismatch::Principal) => (false, "its principal does not name the caller".to_string()),
            Outcome::NotApplied(Mismatch::Condition { operator, key }) => {
                (false, format!("its condition {operator} on {key} does not hold"))
            }
        };
        json!({
            "policy": f.policy,
            "kind": f.kind.label(),
            "statement": f.index,
            "sid": f.sid,
            "effect": if f.effect == Effect::Allow { "Allow" } else { "Deny" },
            "applied": applied,
            "reason": reason,
        })
    };
    let decision = match evaluation.decision {
        Decision::Allow => "Allow",
        Decision::ImplicitDeny => "ImplicitDeny",
        Decision::ExplicitDeny => "ExplicitDeny",
    };
    let shown = q.resource.as_deref().filter(|_| has_resource);
    let message = evaluation.denial.map(|d| d.message(&caller.principal_arn, &q.action, shown));
    let missing = match evaluation.denial {
        Some(Denial::NoAllow(kind)) => Some(format!("no {} allows the {} action", kind.phrase(), q.action)),
        _ => None,
    };
    let pick = |i: &usize| evaluation.statements.get(*i).map(finding);
    json!({
        "decision": decision,
        "allowed": evaluation.allowed(),
        "enforcing": enforcing,
        "caller": caller.principal_arn,
        "action": q.action,
        "message": message,
        "missingAllow": missing,
        "deciding": evaluation.deciding.iter().filter_map(pick).collect::<Vec<_>>(),
        "closest": evaluation.closest.as_ref().and_then(pick),
        "statements": evaluation.statements.iter().map(finding).collect::<Vec<_>>(),
    })
}
