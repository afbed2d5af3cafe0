use super::fake::{ARN, FakeSecrets};
use super::*;
use crate::clock::Clock;
use parking_lot::Mutex;
use serde_json::json;

const TOKEN: &str = "5f0c2b7e-1d7a-4c8e-9b1f-3a2d4e6f8a01";

/// The engine's side, over [`FakeSecrets`].
struct Host {
    secrets: FakeSecrets,
    log: RotationLog,
    processes: ProcessGroups,
    clock: Clock,
    finished: Mutex<Vec<(String, Timestamp)>>,
    discarded: Mutex<Vec<String>>,
}

impl Host {
    fn new(current: &str) -> Self {
        Self {
            secrets: FakeSecrets::with_current(current),
            log: RotationLog::default(),
            processes: ProcessGroups::new(),
            clock: Clock::manual(Timestamp::from_secs(1_700_000_000)),
            finished: Mutex::default(),
            discarded: Mutex::default(),
        }
    }

    fn statuses(&self) -> Vec<(Step, StepStatus)> {
        self.log.entries(Some(ARN)).into_iter().map(|e| (e.step, e.status)).collect()
    }
}

impl RotationHost for Host {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn api(&self) -> &dyn SecretsApi {
        &self.secrets
    }

    fn log(&self) -> &RotationLog {
        &self.log
    }

    fn processes(&self) -> &ProcessGroups {
        &self.processes
    }

    fn hook_env(&self, _job: &RotationJob) -> Vec<(String, String)> {
        vec![("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into())]
    }

    fn finish(&self, job: &RotationJob) -> Result<(), String> {
        let mut versions = self.secrets.versions.lock();
        let current = versions.iter_mut().find(|v| v.stages.iter().any(|s| s == hook::AWSCURRENT)).unwrap();
        if current.id != job.version_id {
            return Err(format!("AWSCURRENT is still on version {}, not on {}", current.id, job.version_id));
        }
        current.stages.retain(|s| s != hook::AWSPENDING);
        self.finished.lock().push((job.version_id.clone(), self.clock.now()));
        Ok(())
    }

    fn discard_test_version(&self, job: &RotationJob) -> Result<(), String> {
        self.secrets.versions.lock().retain(|v| v.id != job.version_id);
        self.discarded.lock().push(job.version_id.clone());
        Ok(())
    }
}

fn job(hook: serde_json::Value, mode: RotationMode) -> RotationJob {
    RotationJob {
        secret_arn: ARN.into(),
        secret_name: "app/db".into(),
        version_id: TOKEN.into(),
        rotation_token: "rotation-token".into(),
        mode,
        trigger: Trigger::RotateSecret,
        hook: Arc::new(HookSpec::from_value(hook).unwrap()),
    }
}

fn command(script: &str) -> serde_json::Value {
    json!({"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:rotate", "kind": "command",
           "program": "sh", "args": ["-c", script], "timeoutMs": 5000})
}

use Step::{CreateSecret, FinishSecret, SetSecret, TestSecret};
use StepStatus::{Failed, Skipped, Succeeded};

#[tokio::test]
async fn a_full_rotation_runs_four_steps_and_finishes() {
    let host = Host::new("old");
    host.secrets.add_placeholder(TOKEN);
    let job = job(json!({"functionArn": "builtin-rotator", "kind": "builtin"}), RotationMode::Full);
    let report = drive(&host, &job).await;
    assert_eq!(report, RotationReport { succeeded: true, failed_step: None });
    assert_eq!(
        host.statuses(),
        [(CreateSecret, Succeeded), (SetSecret, Succeeded), (TestSecret, Succeeded), (FinishSecret, Succeeded)]
    );
    assert_eq!(host.secrets.stages(TOKEN), ["AWSCURRENT"]);
    assert_eq!(host.secrets.stages("v1"), ["AWSPREVIOUS"]);
    assert_eq!(host.finished.lock().as_slice(), [(TOKEN.to_owned(), Timestamp::from_secs(1_700_000_000))]);
    let entry = &host.log.entries(Some("app/db"))[0];
    assert_eq!((entry.hook.function_arn.as_str(), entry.hook.kind), ("builtin-rotator", "builtin"));
    assert_eq!(
        (entry.version_id.as_str(), entry.trigger, entry.mode),
        (TOKEN, Trigger::RotateSecret, RotationMode::Full)
    );
    assert!(host.discarded.lock().is_empty());
}

#[tokio::test]
async fn a_failing_step_stops_the_rotation_and_leaves_awspending() {
    let host = Host::new("old");
    host.secrets.add_placeholder(TOKEN);
    // As if createSecret had stored the value: the command below only decides success.
    host.secrets.put_pending(ARN, TOKEN, "new".into()).unwrap();
    let job = job(
        command(
            r#"if [ "$SMEMU_ROTATION_STEP" = setSecret ]; then echo "cannot reach $AWS_ENDPOINT_URL" >&2; exit 1; fi"#,
        ),
        RotationMode::Full,
    );
    let report = drive(&host, &job).await;
    assert_eq!(report, RotationReport { succeeded: false, failed_step: Some(SetSecret) });
    assert_eq!(
        host.statuses(),
        [(CreateSecret, Succeeded), (SetSecret, Failed), (TestSecret, Skipped), (FinishSecret, Skipped)]
    );
    let entries = host.log.entries(None);
    assert!(
        entries[1].output.starts_with("cannot reach http://127.0.0.1:1\n[smemu] sh exited with exit status: 1"),
        "{}",
        entries[1].output
    );
    assert_eq!(entries[2].output, "not run: setSecret failed");
    assert_eq!(entries[2].duration_ms, 0);
    assert_eq!(host.secrets.current_id(), "v1", "the old value stays current");
    assert_eq!(host.secrets.stages(TOKEN), ["AWSPENDING"]);
    assert!(host.finished.lock().is_empty());
}

#[tokio::test]
async fn a_function_that_never_stores_the_value_fails_at_create_secret() {
    let host = Host::new("old");
    host.secrets.add_placeholder(TOKEN);
    let job = job(command("echo done"), RotationMode::Full);
    let report = drive(&host, &job).await;
    assert_eq!(report.failed_step, Some(CreateSecret));
    assert_eq!(
        host.statuses(),
        [(CreateSecret, Failed), (SetSecret, Skipped), (TestSecret, Skipped), (FinishSecret, Skipped)]
    );
    let output = &host.log.entries(None)[0].output;
    assert!(
        output.starts_with(&format!(
            "done\n[smemu] createSecret succeeded, but version {TOKEN} has no value with AWSPENDING"
        )),
        "{output}"
    );
    assert_eq!(host.secrets.stages(TOKEN), ["AWSPENDING"]);
}

#[tokio::test]
async fn a_function_that_never_moves_awscurrent_fails_at_finish_secret() {
    let host = Host::new("old");
    host.secrets.add_placeholder(TOKEN);
    host.secrets.put_pending(ARN, TOKEN, "new".into()).unwrap();
    let job = job(command("exit 0"), RotationMode::Full);
    let report = drive(&host, &job).await;
    assert_eq!(report.failed_step, Some(FinishSecret));
    let output = &host.log.entries(None)[3].output;
    assert_eq!(output, &format!("[smemu] AWSCURRENT is still on version v1, not on {TOKEN}"));
    assert_eq!(host.secrets.stages(TOKEN), ["AWSPENDING"]);
    assert_eq!(host.secrets.current_id(), "v1");
}

#[tokio::test]
async fn test_only_runs_test_secret_and_discards_the_copy() {
    for (script, ok) in [(r#"[ "$SMEMU_ROTATION_STEP" = testSecret ]"#, true), ("exit 3", false)] {
        let host = Host::new("old");
        // The engine's temporary copy of the current value.
        host.secrets.put_pending(ARN, TOKEN, "old".into()).unwrap();
        let job = job(command(script), RotationMode::TestOnly);
        let report = drive(&host, &job).await;
        assert_eq!(report.succeeded, ok);
        let expected = if ok { Succeeded } else { Failed };
        assert_eq!(host.statuses(), [(TestSecret, expected)]);
        assert_eq!(host.log.entries(None)[0].mode, RotationMode::TestOnly);
        assert_eq!(host.discarded.lock().as_slice(), [TOKEN]);
        assert!(host.finished.lock().is_empty());
        assert_eq!(host.secrets.versions.lock().len(), 1);
        assert_eq!(host.secrets.stages("v1"), ["AWSCURRENT"]);
    }
}

#[tokio::test]
async fn rotations_of_different_secrets_run_side_by_side() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    a.secrets.add_placeholder(TOKEN);
    b.secrets.add_placeholder(TOKEN);
    let builtin = job(json!({"functionArn": "r", "kind": "builtin", "jsonKey": "password"}), RotationMode::Full);
    let plain = job(json!({"functionArn": "r", "kind": "builtin"}), RotationMode::Full);
    let (ra, rb) = tokio::join!(drive(&a, &builtin), drive(&b, &plain));
    assert_eq!(ra.failed_step, Some(CreateSecret), "\"a\" isn't a JSON object");
    assert!(rb.succeeded);
    assert_eq!(b.secrets.current_id(), TOKEN);
}

#[test]
fn the_driver_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let host = Host::new("old");
    let job = job(json!({"functionArn": "r", "kind": "builtin"}), RotationMode::Full);
    let future = drive(&host, &job);
    assert_send(&future);
    let dyn_host: &dyn RotationHost = &host;
    assert_send(&drive(dyn_host, &job));
}
