//! Rotation: the four-step protocol, run against hooks the user configured, on schedules that fire.
//!
//! # The protocol
//! RotateSecret (or a schedule coming due) first makes a **value-less** version whose VersionId is
//! the ClientRequestToken, labelled `AWSPENDING`. Then the rotation function is called once per
//! step, in order, each time with `{"Step", "SecretId" (the ARN), "ClientRequestToken",
//! "RotationToken"}`:
//! 1. `createSecret`: the function stores the new value in that version, with
//!    `PutSecretValue(ClientRequestToken=token, VersionStages=[AWSPENDING])` (nothing to do if the
//!    version already has it, for retries);
//! 2. `setSecret`: the function sets the new credentials in the service they open;
//! 3. `testSecret`: the function checks the AWSPENDING credentials work;
//! 4. `finishSecret`: the function moves `AWSCURRENT` to the new version
//!    (`UpdateSecretVersionStage`), which leaves `AWSPREVIOUS` on the old one.
//!
//! Once finishSecret succeeded, the service removes `AWSPENDING` from the new current version and
//! sets `LastRotatedDate` and `NextRotationDate`. A step that fails stops the rotation: `AWSPENDING`
//! stays where it is, so the next RotateSecret answers "A previous rotation isn't complete" until
//! CancelRotateSecret and UpdateSecretVersionStage clean it up.
//!
//! With `RotateImmediately=false`, RotateSecret only saves the configuration and runs **testSecret**,
//! against a temporary `AWSPENDING` version holding a copy of the current value, removed afterwards
//! (behaviour spec §10.3).
//!
//! # Who does what
//! * [`hook`]: the hook kinds, their JSON specs and the registry; [`hook::SecretsApi`], the secret
//!   operations the builtin rotator needs.
//! * [`schedule`]: `RotationRules` validation and the next rotation window.
//! * [`log`]: the rotation log.
//! * [`process`]: `command` hooks' process groups, killed as a whole.
//! * [`drive`] (here): runs the steps of one rotation. The engine implements [`RotationHost`], makes
//!   the placeholder (or the temporary copy) under its lock, releases it, and then awaits [`drive`]
//!   (before answering RotateSecret, or in a spawned task for `--rotation-timing async`). No lock is
//!   held across a hook call: the hook calls back into smemu through its own SDK while it runs.

pub mod hook;
pub mod log;
pub mod process;
pub mod run;
pub mod schedule;

#[cfg(test)]
mod fake;

pub use hook::{
    DeployedFunctions, HookKind, HookRef, HookRegistry, HookSpec, InvokeContext, RotationEvent, SecretsApi, SpecError,
    Step, StepOutcome, StoredValue, ValueSelector,
};
pub use log::{LogEntry, RotationLog, RotationMode, StepStatus, Trigger};
pub use process::ProcessGroups;
pub use schedule::{RotationSchedule, ScheduleError, Window};

use crate::clock::Timestamp;
use std::sync::Arc;

/// One rotation to run, prepared by the engine.
#[derive(Clone, Debug)]
pub struct RotationJob {
    pub secret_arn: String,
    pub secret_name: String,
    /// The version the rotation fills (the ClientRequestToken), already labelled AWSPENDING; for
    /// [`RotationMode::TestOnly`], the temporary copy of the current value.
    pub version_id: String,
    /// The event's opaque `RotationToken`.
    pub rotation_token: String,
    pub mode: RotationMode,
    pub trigger: Trigger,
    pub hook: Arc<HookSpec>,
}

/// What the engine provides to [`drive`]. Every method is synchronous and must return without
/// holding a lock: [`drive`] calls them between hook calls, never during one.
pub trait RotationHost: Send + Sync {
    /// smemu's clock, for the log's `startedAt`.
    fn now(&self) -> Timestamp;

    /// The secret operations of the builtin rotator and of the driver's createSecret check.
    fn api(&self) -> &dyn SecretsApi;

    /// Where step outcomes go.
    fn log(&self) -> &RotationLog;

    /// Where `command` hooks' process groups are tracked, so shutdown can kill them.
    fn processes(&self) -> &ProcessGroups;

    /// The functions deployed to smemu's Lambda API, for rotation functions that name one.
    fn functions(&self) -> Option<&dyn hook::DeployedFunctions> {
        None
    }

    /// Environment for `command` hooks (above smemu's own environment, below the hook's `env`):
    /// suggested `AWS_ENDPOINT_URL` = smemu's URL, `AWS_REGION`/`AWS_DEFAULT_REGION` = the secret's
    /// region, and `AWS_ACCESS_KEY_ID` = the secret's account id with any `AWS_SECRET_ACCESS_KEY`, so
    /// that an SDK inside the hook reaches the same account.
    fn hook_env(&self, job: &RotationJob) -> Vec<(String, String)>;

    /// Called once finishSecret succeeded ([`RotationMode::Full`] only). Checks that
    /// `job.version_id` now holds `AWSCURRENT`; if so removes `AWSPENDING` from it and sets
    /// `LastRotatedDate = now` and `NextRotationDate` from the schedule (when rotation is enabled).
    ///
    /// # Errors
    /// Why the rotation can't be finished (the function didn't move `AWSCURRENT`, the secret is
    /// gone); the driver then records finishSecret as failed and the labels stay as they are.
    fn finish(&self, job: &RotationJob) -> Result<(), String>;

    /// Called after testSecret in [`RotationMode::TestOnly`], whatever its outcome: removes the
    /// temporary version `job.version_id` (and so its AWSPENDING label).
    ///
    /// # Errors
    /// Why it couldn't; the driver only reports it in the log output.
    fn discard_test_version(&self, job: &RotationJob) -> Result<(), String>;
}

/// How a rotation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationReport {
    /// Every step succeeded (and, for a full rotation, [`RotationHost::finish`] too).
    pub succeeded: bool,
    /// The step that failed; the following ones were skipped.
    pub failed_step: Option<Step>,
}

/// Runs the steps of `job` in order, logging each, and stops at the first failure.
///
/// For [`RotationMode::Full`]: createSecret, setSecret, testSecret, finishSecret. After a
/// successful createSecret, the version must have a value with `AWSPENDING` (else the step counts as
/// failed: the function never stored the new value); after a successful finishSecret,
/// [`RotationHost::finish`] completes the rotation. Steps after a failure are logged as skipped.
///
/// For [`RotationMode::TestOnly`]: testSecret alone, then [`RotationHost::discard_test_version`].
pub async fn drive<H: RotationHost + ?Sized>(host: &H, job: &RotationJob) -> RotationReport {
    let steps: &[Step] = match job.mode {
        RotationMode::Full => &Step::ALL,
        RotationMode::TestOnly => &[Step::TestSecret],
    };
    let env = host.hook_env(job);
    let mut failed_step = None;
    for &step in steps {
        let started_at = host.now();
        if let Some(failed) = failed_step {
            record(host, job, step, started_at, 0, StepStatus::Skipped, format!("not run: {failed} failed"));
            continue;
        }
        let event = RotationEvent {
            step,
            secret_id: job.secret_arn.clone(),
            client_request_token: job.version_id.clone(),
            rotation_token: job.rotation_token.clone(),
        };
        let outcome = job
            .hook
            .invoke(
                &event,
                &InvokeContext { api: host.api(), env: &env, processes: host.processes(), functions: host.functions() },
            )
            .await;
        let mut ok = outcome.ok;
        let mut output = outcome.output;
        let problem = match (ok, step, job.mode) {
            (true, Step::CreateSecret, RotationMode::Full) => pending_value_problem(host, job),
            (true, Step::FinishSecret, RotationMode::Full) => host.finish(job).err(),
            (_, Step::TestSecret, RotationMode::TestOnly) => {
                host.discard_test_version(job).err().map(|e| format!("couldn't remove the temporary version: {e}"))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            // A temporary version that outlived its test doesn't change the test's outcome.
            if job.mode == RotationMode::Full {
                ok = false;
            }
            append_note(&mut output, &problem);
        }
        tracing::info!(secret = %job.secret_name, version = %job.version_id, %step, ok, duration_ms = outcome.duration_ms, "rotation step");
        let status = if ok { StepStatus::Succeeded } else { StepStatus::Failed };
        record(host, job, step, started_at, outcome.duration_ms, status, output);
        if !ok {
            failed_step = Some(step);
        }
    }
    RotationReport { succeeded: failed_step.is_none(), failed_step }
}

/// Why the version createSecret should have filled has no AWSPENDING value, if it hasn't.
fn pending_value_problem<H: RotationHost + ?Sized>(host: &H, job: &RotationJob) -> Option<String> {
    let token = job.version_id.as_str();
    match host.api().get_value(&job.secret_arn, ValueSelector::version(token, hook::AWSPENDING)) {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!(
            "createSecret succeeded, but version {token} has no value with AWSPENDING: the function must call \
             PutSecretValue with ClientRequestToken {token} and VersionStages [AWSPENDING]"
        )),
        Err(e) => Some(format!("after createSecret, the secret can't be read: {e}")),
    }
}

fn append_note(output: &mut String, note: &str) {
    if !output.is_empty() && !output.ends_with('\n') {
        output.push('\n');
    }
    output.push_str("[smemu] ");
    output.push_str(note);
    *output = hook::cut_output(output);
}

fn record<H: RotationHost + ?Sized>(
    host: &H,
    job: &RotationJob,
    step: Step,
    started_at: Timestamp,
    duration_ms: u64,
    status: StepStatus,
    output: String,
) {
    host.log().push(LogEntry {
        id: 0,
        secret_arn: job.secret_arn.clone(),
        secret_name: job.secret_name.clone(),
        version_id: job.version_id.clone(),
        step,
        hook: HookRef::from(job.hook.as_ref()),
        trigger: job.trigger,
        mode: job.mode,
        started_at,
        duration_ms,
        status,
        output,
    });
}

#[cfg(test)]
mod tests;
