//! RotateSecret and CancelRotateSecret.

use super::shapes::RotationRulesShape;
use super::{At, Ctx, Refused, not_supported, require_token};
use crate::config::RotationTiming;
use crate::error::{ApiError, ErrorCode, Result};
use crate::rotation::{RotationSchedule, ScheduleError, Trigger, run};
use crate::services::secretsmanager::state::ident;
use crate::services::secretsmanager::state::rotation::RotateRequest;
use crate::services::secretsmanager::state::secret::RotationRules;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<RotationRulesShape>,
    rotate_immediately: Option<bool>,
    external_secret_rotation_metadata: Option<serde_json::Value>,
    external_secret_rotation_role_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

/// RotateSecret's own checks, in the order AWS makes them, and what the engine then gets.
///
/// # Errors
/// The first check that fails, with the member it is about.
pub fn prepare_rotate_secret(input: RotateSecretInput) -> std::result::Result<(String, RotateRequest), Refused> {
    ident::check_secret_id(&input.secret_id).at("secretId")?;
    let token =
        require_token(input.client_request_token, ErrorCode::InvalidParameterException).at("clientRequestToken")?;
    if input.external_secret_rotation_metadata.is_some() || input.external_secret_rotation_role_arn.is_some() {
        return Err(not_supported("managed external secret rotation")).at("externalSecretRotationMetadata");
    }
    let rules = input.rotation_rules.map(checked_rules).transpose()?;
    let request = RotateRequest {
        token,
        lambda_arn: input.rotation_lambda_arn,
        rules,
        rotate_immediately: input.rotate_immediately.unwrap_or(true),
    };
    Ok((input.secret_id, request))
}

/// The rules, parsed as the scheduler will read them. The frequency is parsed before the window,
/// so a refusal names the member at fault.
fn checked_rules(r: RotationRulesShape) -> std::result::Result<RotationRules, Refused> {
    let days = r.automatically_after_days;
    let expression = r.schedule_expression.as_deref();
    let frequency_member = match (days, expression) {
        (Some(_), Some(_)) => "rotationRules",
        (Some(_), None) => "rotationRules.automaticallyAfterDays",
        _ => "rotationRules.scheduleExpression",
    };
    let refused = |member| {
        move |e: ScheduleError| Refused {
            member,
            error: ApiError::new(ErrorCode::InvalidParameterException, e.message),
        }
    };
    RotationSchedule::parse(days, expression, None).map_err(refused(frequency_member))?;
    RotationSchedule::parse(days, expression, r.duration.as_deref()).map_err(refused("rotationRules.duration"))?;
    Ok(RotationRules {
        automatically_after_days: r.automatically_after_days,
        duration: r.duration,
        schedule_expression: r.schedule_expression,
    })
}

pub async fn rotate_secret(ctx: &Ctx<'_>, input: RotateSecretInput) -> Result<RotateSecretOutput> {
    let (secret_id, request) = prepare_rotate_secret(input)?;
    let app = ctx.app;
    // The function's resource policy is asked about this secret (`aws:SourceArn`).
    let secret_arn = ctx.engine().read_secret(ctx.scope(), &secret_id, |s| Ok(s.arn.clone())).unwrap_or_default();
    let start =
        ctx.engine().begin_rotation(ctx.scope(), &secret_id, request, |arn| run::hook_for(app, arn, &secret_arn))?;
    let Some(start) = start else {
        // Configuration saved, nothing to run (a test-only rotation of a secret without a value).
        let (arn, name) = ctx.engine().read_secret(ctx.scope(), &secret_id, |s| Ok((s.arn.clone(), s.name.clone())))?;
        return Ok(RotateSecretOutput { arn, name, version_id: None });
    };
    let output = RotateSecretOutput {
        arn: start.arn.clone(),
        name: start.name.clone(),
        version_id: Some(start.version_id.clone()),
    };
    let job = run::job(start, Trigger::RotateSecret);
    let (account, region) = (ctx.account.to_owned(), ctx.region.to_owned());
    match app.config.rotation_timing {
        RotationTiming::Sync => run::run(app, &account, &region, &job).await,
        RotationTiming::Async => {
            let app = app.clone();
            tokio::spawn(async move { run::run(&app, &account, &region, &job).await });
        }
    }
    Ok(output)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelRotateSecretInput {
    secret_id: String,
}

pub fn cancel_rotate_secret(ctx: &Ctx<'_>, input: CancelRotateSecretInput) -> Result<RotateSecretOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let (arn, name, version_id) = ctx.engine().cancel_rotation(ctx.scope(), &input.secret_id)?;
    Ok(RotateSecretOutput { arn, name, version_id })
}
