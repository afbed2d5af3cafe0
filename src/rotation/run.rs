//! Running a prepared rotation: smemu as the [`RotationHost`] of the step driver.

use super::{RotationHost, RotationJob, RotationLog, RotationMode, SecretsApi, StoredValue, Trigger, ValueSelector};
use crate::App;
use crate::api_error;
use crate::clock::Timestamp;
use crate::error::{ApiError, ErrorCode, Result};
use crate::services::secretsmanager::state::rotation::RotationStart;
use crate::services::secretsmanager::state::secret::{AWSCURRENT, AWSPENDING};
use crate::services::secretsmanager::state::{Due, Scope, VersionSelector, ident};
use std::sync::Arc;

/// What RotateSecret answers when no hook is configured for the function: AWS's answer when it
/// cannot invoke the Lambda function.
fn cannot_invoke() -> ApiError {
    api_error!(
        AccessDeniedException,
        "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."
    )
}

/// Finds what runs a rotation function ARN for the secret `secret_arn`: the hook configured for
/// it, or the function deployed to smemu's Lambda API under it.
/// A configured hook wins over a function deployed under the same ARN. With `--authorize
/// enforce` a deployed function runs only if its resource policy (AddPermission) lets
/// `secretsmanager.amazonaws.com` invoke it for this secret, as in AWS.
///
/// # Errors
/// `AccessDeniedException` when there is neither, or the function's policy refuses.
pub fn hook_for(app: &App, function_arn: &str, secret_arn: &str) -> Result<Arc<super::HookSpec>> {
    if let Some(hook) = app.hooks.get(function_arn) {
        return Ok(hook);
    }
    let hook = app.lambda.rotation_hook(function_arn).ok_or_else(cannot_invoke)?;
    if app.authorizer.enforcing() {
        let secret_account = secret_arn.split(':').nth(4).unwrap_or_default();
        let allowed = app.lambda.resource_policy(function_arn).is_some_and(|policy| {
            crate::iam::enforce::service_may_invoke(
                &app.authorizer.policies,
                &policy,
                function_arn,
                SECRETS_MANAGER_SERVICE,
                secret_arn,
                secret_account,
            )
        });
        if !allowed {
            tracing::info!(
                target: "smemu::authorize",
                function = function_arn,
                secret = secret_arn,
                "refused: the function's resource policy does not let secretsmanager.amazonaws.com invoke it"
            );
            return Err(cannot_invoke());
        }
    }
    Ok(hook)
}

/// The principal Secrets Manager invokes rotation functions as.
const SECRETS_MANAGER_SERVICE: &str = "secretsmanager.amazonaws.com";

/// Builds the driver's job for a rotation the engine prepared.
#[must_use]
pub fn job(start: RotationStart<Arc<super::HookSpec>>, trigger: Trigger) -> RotationJob {
    RotationJob {
        secret_arn: start.arn,
        secret_name: start.name,
        version_id: start.version_id,
        rotation_token: uuid::Uuid::new_v4().to_string(),
        mode: if start.full { RotationMode::Full } else { RotationMode::TestOnly },
        trigger,
        hook: start.hook,
    }
}

/// Runs every step of `job` (no lock is held while a hook runs).
pub async fn run(app: &App, account: &str, region: &str, job: &RotationJob) {
    let functions = crate::services::lambda::RotationRunner { app };
    let host = Host { app, scope_account: account, scope_region: region, functions };
    let test = if job.mode == RotationMode::TestOnly { "Test" } else { "" };
    app.audit.service_event(account, region, &format!("{test}RotationStarted"), &job.secret_arn, None);
    let report = super::drive(&host, job).await;
    if report.succeeded {
        app.audit.service_event(account, region, &format!("{test}RotationSucceeded"), &job.secret_arn, None);
    } else if job.mode == RotationMode::Full && pending_taken(app, account, region, job) {
        // A version made by hand during the rotation took AWSPENDING: the rotation is abandoned.
        tracing::warn!(secret = %job.secret_name, "rotation abandoned: a new version took AWSPENDING during it");
        app.audit.service_event(account, region, "RotationAbandoned", &job.secret_arn, None);
    } else {
        tracing::warn!(secret = %job.secret_name, step = ?report.failed_step, "rotation failed; AWSPENDING stays where it is");
        let message = failure_message(app, job, report.failed_step);
        app.audit.service_event(account, region, &format!("{test}RotationFailed"), &job.secret_arn, Some(&message));
    }
}

/// Whether AWSPENDING is now on a version other than the rotation's own.
fn pending_taken(app: &App, account: &str, region: &str, job: &RotationJob) -> bool {
    use crate::services::secretsmanager::state::{Scope, secret::AWSPENDING};
    app.engine
        .read_secret(Scope::of(account, region), &job.secret_arn, |s| {
            Ok(s.holder_of(AWSPENDING).is_some_and(|v| v.id != job.version_id))
        })
        .unwrap_or(false)
}

/// How much of a failed step's output a RotationFailed event quotes.
const QUOTED_OUTPUT: usize = 512;

/// RotationFailed's `errorMessage`: AWS's sentence naming the function and the step, then the
/// first line of what the step reported.
fn failure_message(app: &App, job: &RotationJob, step: Option<super::Step>) -> String {
    let step_name = step.map_or("finishSecret", super::Step::as_str);
    let mut message = format!("Error when executing lambda {} during {step_name} step", job.hook.function_arn);
    let output = app
        .rotation_log
        .entries(Some(&job.secret_arn))
        .into_iter()
        .rev()
        .find(|e| e.version_id == job.version_id && Some(e.step) == step)
        .map(|e| e.output);
    if let Some(first) = output.as_deref().and_then(|o| o.lines().find(|l| !l.trim().is_empty())) {
        let mut end = first.len().min(QUOTED_OUTPUT);
        while !first.is_char_boundary(end) {
            end -= 1;
        }
        message.push_str(": ");
        message.push_str(first[..end].trim());
    }
    message
}

/// A rotation that fell due on smemu's clock.
pub async fn run_scheduled(app: &App, due: &Due) {
    let scope = Scope::of(&due.account, &due.region);
    let secret_arn = app.engine.read_secret(scope, &due.name, |s| Ok(s.arn.clone())).unwrap_or_default();
    match app.engine.begin_scheduled_rotation(scope, &due.name, due.at, |arn| hook_for(app, arn, &secret_arn)) {
        Ok(Some(start)) => run(app, &due.account, &due.region, &job(start, Trigger::Schedule)).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(secret = %due.name, error = %e, "scheduled rotation not started"),
    }
}

struct Host<'a> {
    app: &'a App,
    scope_account: &'a str,
    scope_region: &'a str,
    functions: crate::services::lambda::RotationRunner<'a>,
}

impl Host<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope::of(self.scope_account, self.scope_region)
    }
}

impl SecretsApi for Host<'_> {
    fn get_value(
        &self,
        secret_id: &str,
        selector: ValueSelector<'_>,
    ) -> std::result::Result<Option<StoredValue>, String> {
        let selector = VersionSelector { version_id: selector.version_id, stage: selector.stage };
        match self.app.engine.get_secret_value(self.scope(), secret_id, selector, |_, _, value| value) {
            Ok(value) => Ok(Some(value)),
            // The version, the label or the value is missing: nothing to read, which is an answer.
            Err(e) if e.code == ErrorCode::ResourceNotFoundException && e.message.contains("secret value") => Ok(None),
            Err(e) if e.code == ErrorCode::InvalidRequestException && e.message.contains("VersionStage") => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn put_pending(&self, secret_id: &str, token: &str, value: String) -> std::result::Result<(), String> {
        let stages = [AWSPENDING.to_owned()];
        self.app
            .engine
            .put_secret_value(self.scope(), secret_id, token.to_owned(), StoredValue::String(value), Some(&stages))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn move_current(&self, secret_id: &str, token: &str) -> std::result::Result<(), String> {
        let current = self
            .app
            .engine
            .read_secret(self.scope(), secret_id, |s| Ok(s.holder_of(AWSCURRENT).map(|v| v.id.clone())))
            .map_err(|e| e.to_string())?;
        if current.as_deref() == Some(token) {
            return Ok(());
        }
        self.app
            .engine
            .update_secret_version_stage(self.scope(), secret_id, AWSCURRENT, current.as_deref(), Some(token))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl RotationHost for Host<'_> {
    fn now(&self) -> Timestamp {
        self.app.engine.now()
    }

    fn api(&self) -> &dyn SecretsApi {
        self
    }

    fn log(&self) -> &RotationLog {
        &self.app.rotation_log
    }

    fn processes(&self) -> &super::ProcessGroups {
        &self.app.hook_processes
    }

    fn functions(&self) -> Option<&dyn super::DeployedFunctions> {
        Some(&self.functions)
    }

    fn hook_env(&self, _job: &RotationJob) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_REGION".to_owned(), self.scope_region.to_owned()),
            ("AWS_DEFAULT_REGION".to_owned(), self.scope_region.to_owned()),
            // In open mode a 12-digit access key selects the account the secret lives in.
            ("AWS_ACCESS_KEY_ID".to_owned(), self.scope_account.to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "smemu".to_owned()),
        ];
        if let Some(endpoint) = self.app.endpoint() {
            env.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()));
            env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(), endpoint.to_owned()));
        }
        env
    }

    fn finish(&self, job: &RotationJob) -> std::result::Result<(), String> {
        self.app.engine.finish_rotation(self.scope(), &job.secret_arn, &job.version_id)
    }

    fn discard_test_version(&self, job: &RotationJob) -> std::result::Result<(), String> {
        self.app.engine.discard_version(self.scope(), &job.secret_arn, &job.version_id)
    }
}

/// The account and region a secret ARN names (rotation jobs carry ARNs).
#[must_use]
pub fn scope_of(arn: &str) -> Option<(&str, &str)> {
    match ident::parse_secret_id(arn) {
        ident::SecretRef::Arn { account, region, .. } | ident::SecretRef::PartialArn { account, region, .. } => {
            Some((account, region))
        }
        _ => None,
    }
}
