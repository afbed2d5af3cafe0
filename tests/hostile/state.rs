//! State that never diverges: all-or-nothing operations, journal order, disk full, kill -9.
//!
//! "Restart" here means opening a copy of the data directory in a fresh app, once everything
//! acknowledged is on disk: what it rebuilds must be exactly what was served.

use crate::common::{self, START, TOKEN_A, TOKEN_B};
use aws_sdk_secretsmanager::primitives::Blob;
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use smemu::persist::{Faults, JournalOptions};
use smemu::services::secretsmanager::state::secret::SecretValue;
use smemu::services::secretsmanager::state::{NewSecret, Scope};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SCOPE: Scope<'static> = Scope::of("000000000000", "us-east-1");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-hostile-state-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn app_on(dir: &Path, options: &JournalOptions) -> Arc<App> {
    let app = App::new(Config::default(), Arc::new(Clock::manual(Timestamp::from_secs(START))));
    app.open_data_dir_with(dir, options).unwrap();
    Arc::new(app)
}

fn with_faults(faults: &Arc<Faults>) -> JournalOptions {
    JournalOptions { faults: Some(faults.clone()), ..JournalOptions::default() }
}

/// What a restart from `dir` serves: the export of a fresh app opened on a copy of it.
fn restarted_export(dir: &Path) -> serde_json::Value {
    let copy = temp_dir("copy");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
    }
    let export = serde_json::to_value(app_on(&copy, &JournalOptions::default()).engine.export()).unwrap();
    let _ = std::fs::remove_dir_all(&copy);
    export
}

fn served_export(app: &App) -> serde_json::Value {
    serde_json::to_value(app.engine.export()).unwrap()
}

/// An in-process smemu with its state in `dir`.
struct Durable {
    app: Arc<App>,
    endpoint: String,
    dir: PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Durable {
    async fn start(tag: &str, options: &JournalOptions) -> Self {
        let dir = temp_dir(tag);
        let app = app_on(&dir, options);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(smemu::run(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        Self { app, endpoint, dir, _stop: stop }
    }

    fn client(&self) -> aws_sdk_secretsmanager::Client {
        common::client_for(&self.endpoint, "AKIAIOSFODNN7EXAMPLE", "us-east-1")
    }

    fn assert_restart_serves_the_same(&self) {
        self.app.flush();
        assert_eq!(restarted_export(&self.dir), served_export(&self.app), "a restart would serve another state");
    }
}

/// A control-API request; the status and the JSON answer.
async fn control(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let authority = endpoint.trim_start_matches("http://");
    let token = std::env::var("SMEMU_CONTROL_TOKEN").map(|t| format!("X-Smemu-Control-Token: {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{body}",
        token.unwrap_or_default(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
    (status, serde_json::from_slice(&answer[split + 4..]).unwrap_or_default())
}

async fn control_get(endpoint: &str, path: &str) -> serde_json::Value {
    control(endpoint, "GET", path, "").await.1
}

async fn health(endpoint: &str) -> String {
    control_get(endpoint, "/_smemu/health").await["status"].as_str().unwrap().to_owned()
}

// --- 5. UpdateSecret is all-or-nothing --------------------------------------------------------

#[tokio::test]
async fn update_secret_refused_for_a_reused_token_changes_nothing_in_memory_or_on_disk() {
    let smemu = Durable::start("update", &JournalOptions::default()).await;
    let sm = smemu.client();
    sm.create_secret()
        .name("app/db")
        .description("original")
        .secret_string("one")
        .client_request_token(TOKEN_A)
        .send()
        .await
        .unwrap();
    let err = sm
        .update_secret()
        .secret_id("app/db")
        .description("changed")
        .kms_key_id("alias/other")
        .secret_string("two")
        .client_request_token(TOKEN_A)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::err_of(err).0, "ResourceExistsException");
    let described = sm.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(described.description(), Some("original"));
    assert_eq!(described.kms_key_id(), None);
    let value = sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("one"));
    smemu.assert_restart_serves_the_same();
}

// --- 6. Journal order is apply order ----------------------------------------------------------

fn put(app: &App, name: &str, value: &str) -> bool {
    let token = uuid::Uuid::new_v4().to_string();
    app.engine.put_secret_value(SCOPE, name, token, SecretValue::String(value.to_owned()), None).is_ok()
}

fn create(app: &App, name: &str, value: &str) -> bool {
    let new = NewSecret {
        name: name.to_owned(),
        token: uuid::Uuid::new_v4().to_string(),
        value: Some(SecretValue::String(value.to_owned())),
        ..NewSecret::default()
    };
    app.engine.create_secret(SCOPE, new).is_ok()
}

/// Two writers hammer one secret (and create others) while `replace` runs again and again;
/// then the journal must replay to exactly the state served.
fn race_writers_against(tag: &str, replace: impl Fn(&App) + Sync) {
    for trial in 0..4 {
        let dir = temp_dir(tag);
        let app = app_on(&dir, &JournalOptions::default());
        create(&app, "s", "first");
        let stop = AtomicBool::new(false);
        std::thread::scope(|threads| {
            for writer in 0..2 {
                let (app, stop) = (&app, &stop);
                threads.spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        put(app, "s", &format!("w{writer}-{i}"));
                        if i % 16 == 0 {
                            create(app, &format!("w{writer}/{i}"), "x");
                        }
                        i += 1;
                    }
                });
            }
            for _ in 0..150 {
                replace(&app);
                create(&app, "s", "again");
                put(&app, "s", "after");
            }
            stop.store(true, Ordering::Relaxed);
        });
        app.flush();
        let (served, restarted) = (served_export(&app), restarted_export(&dir));
        assert!(served == restarted, "trial {trial}: the journal replays to another state than the one served");
        drop(app);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_reset_racing_writers_is_journalled_in_the_order_it_was_applied() {
    race_writers_against("reset", |app| app.engine.reset(Some(SCOPE.account), Some(SCOPE.region)));
}

#[test]
fn an_import_racing_writers_is_journalled_in_the_order_it_was_applied() {
    race_writers_against("import", |app| {
        let mut state = app.engine.export();
        // An older picture of the secret: a write merged into it on replay would show.
        for store in &mut state.stores {
            for secret in &mut store.secrets {
                secret.versions.truncate(1);
                secret.versions[0].stages = vec!["AWSCURRENT".to_owned()];
            }
        }
        app.engine.import(state);
    });
}

// --- 7. A full disk -----------------------------------------------------------------------------

#[tokio::test]
async fn a_write_the_disk_refuses_is_never_visible_and_writes_resume_without_a_restart() {
    let faults = Arc::new(Faults::default());
    let smemu = Durable::start("full", &with_faults(&faults)).await;
    let sm = smemu.client();
    sm.create_secret().name("kept").secret_string("v1").send().await.unwrap();
    assert_eq!(health(&smemu.endpoint).await, "ready");

    faults.set_disk_full(true);
    let create = || sm.create_secret().name("phantom").secret_string("p").client_request_token(TOKEN_B).send();
    let err = create().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let err = sm.get_secret_value().secret_id("phantom").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "ResourceNotFoundException", "a write answered 500 must not be readable");
    assert_eq!(health(&smemu.endpoint).await, "degraded");
    // While the disk stays full, every change is refused before it is made.
    let err = sm.put_secret_value().secret_id("kept").secret_string("v2").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let err = sm.update_secret().secret_id("kept").description("d").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let err = sm.delete_secret().secret_id("kept").force_delete_without_recovery(true).send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let kept = sm.describe_secret().secret_id("kept").send().await.unwrap();
    assert_eq!((kept.description(), kept.version_ids_to_stages().unwrap().len()), (None, 1));
    assert_eq!(sm.list_secrets().send().await.unwrap().secret_list().len(), 1);

    faults.set_disk_full(false);
    // What a failed write took back is no reason to fail the next requests.
    let err = sm.put_secret_value().secret_id("nope").secret_string("v").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "ResourceNotFoundException");
    assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/clock", r#"{"advance":"1s"}"#).await.0, 200);
    let created = create().await.expect("the retry of a write answered 500 is a fresh write");
    assert_eq!(created.name(), Some("phantom"));
    sm.put_secret_value().secret_id("kept").secret_string("v2").send().await.unwrap();
    assert_eq!(health(&smemu.endpoint).await, "ready");
    smemu.assert_restart_serves_the_same();
}

#[tokio::test]
async fn a_reader_is_never_shown_a_change_that_a_failed_write_takes_back() {
    let faults = Arc::new(Faults::default());
    let smemu = Durable::start("reader", &with_faults(&faults)).await;
    let sm = smemu.client();
    sm.create_secret().name("s").secret_string("durable").send().await.unwrap();

    // A change applied in memory whose record the disk then refuses: a write in flight.
    faults.set_disk_full(true);
    assert!(put(&smemu.app, "s", "lost"));
    match sm.get_secret_value().secret_id("s").send().await {
        Ok(value) => assert_eq!(value.secret_string(), Some("durable")),
        Err(err) => assert_eq!(common::err_of(err).0, "InternalServiceError"),
    }
    let value = sm.get_secret_value().secret_id("s").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("durable"));
    assert_eq!(sm.list_secret_version_ids().secret_id("s").send().await.unwrap().versions().len(), 1);

    // Once a write succeeds the journal is healthy again; the same for a creation and a listing.
    faults.set_disk_full(false);
    sm.tag_resource()
        .secret_id("s")
        .tags(aws_sdk_secretsmanager::types::Tag::builder().key("k").value("v").build())
        .send()
        .await
        .unwrap();
    faults.set_disk_full(true);
    assert!(create(&smemu.app, "new", "lost"));
    // Not even an error may tell of it.
    let err = sm.create_secret().name("new").secret_string("other").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let names = |page: aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput| -> Vec<String> {
        page.secret_list().iter().filter_map(|s| s.name().map(str::to_owned)).collect()
    };
    match sm.list_secrets().send().await {
        Ok(page) => assert_eq!(names(page), ["s"]),
        Err(err) => assert_eq!(common::err_of(err).0, "InternalServiceError"),
    }
    assert_eq!(names(sm.list_secrets().send().await.unwrap()), ["s"]);
    let err = sm.describe_secret().secret_id("new").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "ResourceNotFoundException");
    faults.set_disk_full(false);
    smemu.assert_restart_serves_the_same();
}

#[tokio::test]
async fn a_reset_or_import_the_disk_refuses_is_undone() {
    let faults = Arc::new(Faults::default());
    let smemu = Durable::start("reset", &with_faults(&faults)).await;
    let sm = smemu.client();
    sm.create_secret().name("s").secret_binary(Blob::new(b"b".to_vec())).send().await.unwrap();
    faults.set_disk_full(true);
    assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/reset", "{}").await.0, 500);
    assert!(sm.describe_secret().secret_id("s").send().await.is_ok(), "a refused reset is undone");
    assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/state", r#"{"stores":[]}"#).await.0, 500);
    assert!(sm.describe_secret().secret_id("s").send().await.is_ok(), "a refused import is undone");
    faults.set_disk_full(false);
    smemu.assert_restart_serves_the_same();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_taken_while_writes_resets_and_imports_race_restart_to_the_state_served() {
    let options = JournalOptions { compact_threshold: 16 * 1024, ..JournalOptions::default() };
    let smemu = Durable::start("compact", &options).await;
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let sm = smemu.client();
            tokio::spawn(async move {
                for i in 0..30 {
                    let name = format!("w{w}/{i}");
                    let _ = sm.create_secret().name(&name).secret_string("one").send().await;
                    let _ = sm.put_secret_value().secret_id(&name).secret_string("two").send().await;
                    let _ = sm.put_secret_value().secret_id(format!("w{w}/0")).secret_string(&name).send().await;
                }
            })
        })
        .collect();
    for i in 0..12 {
        if i % 3 == 0 {
            assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/reset", "{}").await.0, 200);
        } else {
            let (_, state) = control(&smemu.endpoint, "GET", "/_smemu/state", "").await;
            assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/state", &state.to_string()).await.0, 200);
        }
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(smemu.app.durable().await.is_ok());
    while smemu.app.is_compacting() {
        tokio::task::yield_now().await;
    }
    let snapshots = std::fs::read_dir(&smemu.dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".snap"))
        .count();
    assert!(snapshots > 0, "the journal was compacted meanwhile");
    smemu.assert_restart_serves_the_same();
}

/// A real full disk: smemu's binary on a small tmpfs. Needs root to mount; skipped otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_full_disk_leaves_no_phantom_and_writes_resume_when_space_returns() {
    let Some(mount) = Tmpfs::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let data = mount.0.join("data");
    let smemu = Binary::start(&data);
    let sm = common::client_for(&smemu.endpoint, "AKIAIOSFODNN7EXAMPLE", "us-east-1");
    sm.create_secret().name("before").secret_string("v").send().await.unwrap();

    let filler = mount.0.join("filler");
    fill(&filler);
    let big = "x".repeat(16 * 1024);
    let create = || sm.create_secret().name("phantom").secret_string(&big).client_request_token(TOKEN_A).send();
    let err = create().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "InternalServiceError");
    let err = sm.get_secret_value().secret_id("phantom").send().await.unwrap_err();
    assert_eq!(common::err_of(err).0, "ResourceNotFoundException", "a write answered 500 must not be readable");
    assert_eq!(health(&smemu.endpoint).await, "degraded");

    std::fs::remove_file(&filler).unwrap();
    create().await.expect("once the disk has space, writes resume without a restart");
    assert_eq!(health(&smemu.endpoint).await, "ready");
    let served = control_get(&smemu.endpoint, "/_smemu/state").await;
    smemu.kill_9();
    let smemu = Binary::start(&data);
    assert_eq!(control_get(&smemu.endpoint, "/_smemu/state").await, served);
    smemu.kill_9();
}

/// Fills the filesystem of `path` until it refuses more.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![1u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = temp_dir("tmpfs");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir.to_str()?])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(Self(dir))
        } else {
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// smemu's binary on a data directory.
struct Binary {
    child: std::process::Child,
    endpoint: String,
}

impl Binary {
    fn start(data: &Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smemu"))
            .args(["--port", "0", "--log-level", "error", "--data-dir", data.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let endpoint = line.trim().trim_start_matches("smemu ready on ").to_owned();
        assert!(endpoint.starts_with("http://"), "smemu did not start: {line:?}");
        Self { child, endpoint }
    }

    fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- KMS keys go back with a refused reset ----------------------------------------------------

#[tokio::test]
async fn a_reset_the_disk_refuses_keeps_the_keys_and_what_they_sealed() {
    let faults = Arc::new(Faults::default());
    let smemu = Durable::start("kms-reset", &with_faults(&faults)).await;
    let sm = smemu.client();
    let kms = common::kms_client_for(&smemu.endpoint, "AKIAIOSFODNN7EXAMPLE", "us-east-1");
    let key = kms.create_key().send().await.unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    sm.create_secret().name("s").kms_key_id(&arn).secret_string("sealed").send().await.unwrap();
    faults.set_disk_full(true);
    assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/reset", "{}").await.0, 500);
    faults.set_disk_full(false);
    // A read (DescribeKey may create the managed key, so it waits for the journal like a write).
    let listed = kms.list_keys().send().await.unwrap();
    assert!(listed.keys().iter().any(|k| k.key_arn() == Some(arn.as_str())), "the key is back with its secret");
    let value = sm.get_secret_value().secret_id("s").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("sealed"), "and still opens what it sealed");
    smemu.assert_restart_serves_the_same();
}

// --- IAM's secret access keys are sealed with the data directory's key ------------------------

/// One IAM Query call in `--auth open` mode (the signature is not checked there); the XML answer.
async fn iam_call(endpoint: &str, body: &str) -> String {
    let authority = endpoint.trim_start_matches("http://");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=000000000000/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_swapped_sealing_key_stops_the_start_naming_the_file_and_never_the_secret() {
    let server = Durable::start("sealing", &JournalOptions::default()).await;
    let created = iam_call(&server.endpoint, "Action=CreateUser&UserName=sealed&Version=2010-05-08").await;
    assert!(created.contains("<UserName>sealed</UserName>"), "{created}");
    let key = iam_call(&server.endpoint, "Action=CreateAccessKey&UserName=sealed&Version=2010-05-08").await;
    let secret = key.split("<SecretAccessKey>").nth(1).and_then(|r| r.split('<').next()).unwrap().to_owned();
    server.app.flush();
    let dir = server.dir.clone();
    drop(server);

    // Another directory's key in its place: the sealed secret no longer opens.
    let other = temp_dir("other-key");
    let sealer = smemu::services::kms::sealer::Sealer::open(&other).unwrap();
    sealer.seal(b"x", &[]).unwrap();
    std::fs::copy(other.join("sealing-key"), dir.join("sealing-key")).unwrap();
    let copy = temp_dir("sealing-copy");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
    }
    let app = App::new(Config::default(), Arc::new(Clock::manual(Timestamp::from_secs(START))));
    let refused = app.open_data_dir(&copy, false).unwrap_err();
    assert!(refused.contains("sealing-key") && refused.contains("does not open"), "{refused}");
    assert!(!refused.contains(&secret));
    for dir in [dir, other, copy] {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn an_import_with_a_bad_iam_part_changes_nothing() {
    let server = Durable::start("iam-import", &JournalOptions::default()).await;
    server.client().create_secret().name("stays").secret_string("v").send().await.unwrap();
    let before = served_export(&server.app);
    let export = serde_json::json!({
        "stores": [],
        "iam": [{"account": "000000000000", "users": [{
            "name": "u", "path": "/", "arn": "arn:aws:iam::000000000000:user/u", "userId": "AIDAEXAMPLE",
            "inline": {"p": "{not a policy"}, "attached": [], "boundary": null, "tags": [], "accessKeys": []
        }]}]
    });
    let (status, answer) = control(&server.endpoint, "POST", "/_smemu/state", &export.to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("not a smemu state export"), "{answer}");
    assert_eq!(served_export(&server.app), before, "the secrets were not replaced");
    let _ = std::fs::remove_dir_all(&server.dir);
}
