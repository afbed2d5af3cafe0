//! RotateSecret and CancelRotateSecret.

use super::shapes::RotationRulesShape;
use super::{Ctx, not_supported, require_token};
use crate::config::RotationTiming;
use crate::error::{ApiError, ErrorCode, Result};
use crate::rotation::{RotationSchedule, Trigger, run};
use crate::state::ident;
use crate::state::rotation::RotateRequest;
use crate::state::secret::RotationRules;
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

pub async fn rotate_secret(ctx: &Ctx<'_>, input: RotateSecretInput) -> Result<RotateSecretOutput> {
    ident::check_secret_id(&input.secret_id)?;
    let token = require_token(input.client_request_token, ErrorCode::InvalidParameterException)?;
    if input.external_secret_rotation_metadata.is_some() || input.external_secret_rotation_role_arn.is_some() {
        return Err(not_supported("managed external secret rotation"));
    }
    let rules = input
        .rotation_rules
        .map(|r| {
            RotationSchedule::parse(
                r.automatically_after_days,
                r.schedule_expression.as_deref(),
                r.duration.as_deref(),
            )
            .map_err(|e| ApiError::new(ErrorCode::InvalidParameterException, e.to_string()))?;
            Ok::<_, ApiError>(RotationRules {
                automatically_after_days: r.automatically_after_days,
                duration: r.duration,
                schedule_expression: r.schedule_expression,
            })
        })
        .transpose()?;
    let request = RotateRequest {
        token,
        lambda_arn: input.rotation_lambda_arn,
        rules,
        rotate_immediately: input.rotate_immediately.unwrap_or(true),
    };
    let app = ctx.app;
    let start = ctx.engine().begin_rotation(ctx.scope(), &input.secret_id, request, |arn| run::hook_for(app, arn))?;
    let Some(start) = start else {
        // Configuration saved, nothing to run (a test-only rotation of a secret without a value).
        let (arn, name) =
            ctx.engine().read_secret(ctx.scope(), &input.secret_id, |s| Ok((s.arn.clone(), s.name.clone())))?;
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
