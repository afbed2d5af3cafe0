//! The control plane: tokens, browsers (CSRF, DNS rebinding), hooks and the clock.

use crate::common::{KEY_ID, SECRET_KEY, START, TestServer};
use aws_sdk_secretsmanager::types::RotationRulesType;
use serde_json::{Value, json};
use smemu::auth::AuthMode;
use smemu::config::{Config, RotationTiming};
use smemu::guard::ControlToken;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "ctl-7d1f0c9a-test-token";
const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotator";
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// What an attacker wants from the control API, each with a body that would work.
const ATTACKS: &[(&str, &str, &str)] = &[
    ("GET", "/_smemu/state", ""),
    ("GET", "/_smemu/hooks", ""),
    ("GET", "/_smemu/rotations", ""),
    ("GET", "/_smemu/clock", ""),
    ("POST", "/_smemu/state", r#"{"stores":[]}"#),
    ("POST", "/_smemu/reset", ""),
    ("POST", "/moto-api/reset", ""),
    ("POST", "/_smemu/clock", r#"{"advance":"30d"}"#),
    ("POST", "/_smemu/hooks", r#"{"functionArn":"x","kind":"builtin"}"#),
    ("DELETE", "/_smemu/hooks?functionArn=x", ""),
    ("GET", "/_smemu/faults", ""),
    ("POST", "/_smemu/faults", r#"{"region":"eu-west-1","fail":true}"#),
    ("DELETE", "/_smemu/faults", ""),
];

fn with_token(config: Config) -> Config {
    Config { control_token: Some(ControlToken::new(TOKEN).unwrap()), ..config }
}

async fn server(auth: AuthMode, config: Config) -> TestServer {
    match auth {
        AuthMode::Strict => TestServer::start_strict_with(config).await,
        _ => TestServer::start_with(Config { auth_mode: auth, ..config }).await,
    }
}

/// A secret whose value must never leave without the token.
async fn plant_secret(server: &TestServer, auth: AuthMode) {
    let sm = match auth {
        AuthMode::Strict => server.client_with(KEY_ID, SECRET_KEY, None),
        _ => server.client(),
    };
    sm.create_secret().name("db").secret_string("hunter2").send().await.unwrap();
}

fn text(r: &crate::common::Raw) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn strict_mode_without_a_token_locks_every_control_endpoint() {
    let server = TestServer::start_strict().await;
    plant_secret(&server, AuthMode::Strict).await;
    for &(method, path, body) in ATTACKS {
        let r = server.request(method, path, &[JSON], body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", text(&r));
        assert!(text(&r).contains("--control-token"), "{method} {path}: {}", text(&r));
        assert!(!text(&r).contains("hunter2"));
    }
    assert_eq!(server.app.engine.secret_count(), 1, "nothing was reset or replaced");
    assert_eq!(server.clock.now().millis(), START * 1000, "the clock did not move");
    assert!(server.app.hooks.is_empty());
    // Health stays open, and says nothing about the state.
    let health = server.request("GET", "/_smemu/health", &[], "").await;
    assert_eq!(health.status, 200);
    assert_eq!(keys(&health.json()), ["status", "version"]);
}

#[tokio::test]
async fn only_the_token_opens_the_control_api_in_every_auth_mode() {
    for auth in [AuthMode::Open, AuthMode::Off, AuthMode::Strict] {
        let server = server(auth, with_token(Config::default())).await;
        plant_secret(&server, auth).await;
        for &(method, path, body) in ATTACKS {
            for headers in [
                vec![JSON],
                vec![JSON, ("X-Smemu-Control-Token", "wrong")],
                vec![JSON, ("Authorization", "Bearer wrong")],
                vec![JSON, ("X-Smemu-Control-Token", &TOKEN[1..])],
            ] {
                let r = server.request(method, path, &headers, body).await;
                assert_eq!(r.status, 403, "{auth:?} {method} {path} {headers:?}: {}", text(&r));
                assert!(!text(&r).contains("hunter2"));
            }
        }
        assert_eq!(server.app.engine.secret_count(), 1, "{auth:?}");
        let dump = server.request("GET", "/_smemu/state", &[("Authorization", &format!("Bearer {TOKEN}"))], "").await;
        assert_eq!(dump.status, 200, "{auth:?}: {}", text(&dump));
        assert!(text(&dump).contains("hunter2"));
        for &(method, path, body) in ATTACKS {
            let r = server.request(method, path, &[JSON, ("X-Smemu-Control-Token", TOKEN)], body).await;
            assert_eq!(r.status, 200, "{auth:?} {method} {path}: {}", text(&r));
        }
        let health = server.request("GET", "/_smemu/health", &[], "").await;
        assert_eq!(keys(&health.json()), ["status", "version"], "{auth:?}");
        let health = server.request("GET", "/_smemu/health", &[("X-Smemu-Control-Token", TOKEN)], "").await;
        assert_eq!(keys(&health.json()), ["authorize", "now", "secrets", "status", "version"], "{auth:?}");
    }
}

#[tokio::test]
async fn moto_and_localstack_calls_work_from_test_code_with_the_token() {
    let server = TestServer::start_with(with_token(Config::default())).await;
    plant_secret(&server, AuthMode::Open).await;
    // moto's and LocalStack's clients: a bare POST, no body, no content type.
    let r = server.request("POST", "/moto-api/reset", &[("X-Smemu-Control-Token", TOKEN)], "").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(server.app.engine.secret_count(), 0);
    let r = server.request("POST", "/_smemu/reset", &[("X-Smemu-Control-Token", TOKEN)], "").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    for method in ["GET", "HEAD"] {
        let r = server.request(method, "/_localstack/health", &[], "").await;
        assert_eq!(r.status, 200, "{method}");
    }
}

#[tokio::test]
async fn simple_cross_site_bodies_are_refused() {
    for config in [Config::default(), with_token(Config::default())] {
        let token = config.control_token.is_some().then_some(("X-Smemu-Control-Token", TOKEN));
        let server = TestServer::start_with(config).await;
        plant_secret(&server, AuthMode::Open).await;
        // What a web page can POST without a preflight: text/plain, form encodings, or a Blob with no type.
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            for (path, body) in [
                ("/_smemu/reset", "{}"),
                ("/moto-api/reset", "{}"),
                ("/_smemu/state", r#"{"stores":[]}"#),
                ("/_smemu/clock", r#"{"advance":"30d"}"#),
                ("/_smemu/hooks", r#"{"functionArn":"x","kind":"builtin"}"#),
            ] {
                let mut headers: Vec<(&str, &str)> = token.into_iter().collect();
                headers.extend(content_type.map(|t| ("Content-Type", t)));
                let r = server.request("POST", path, &headers, body).await;
                assert_eq!(r.status, 415, "{path} {content_type:?}: {}", text(&r));
                assert!(text(&r).contains("application/json"));
            }
        }
        assert_eq!(server.app.engine.secret_count(), 1);
        assert_eq!(server.clock.now().millis(), START * 1000);
        assert!(server.app.hooks.is_empty());
    }
}

#[tokio::test]
async fn web_pages_are_refused_on_both_planes() {
    let server = TestServer::start_with(with_token(Config::default())).await;
    plant_secret(&server, AuthMode::Open).await;
    let list = ("X-Amz-Target", "secretsmanager.ListSecrets");
    let aws_json = ("Content-Type", "application/x-amz-json-1.1");
    for origin in ["https://evil.example", "null", "http://localhost.evil.example", "http://192.168.1.7:8080"] {
        for (method, path) in [("GET", "/_smemu/state"), ("POST", "/_smemu/reset"), ("POST", "/_smemu/clock")] {
            let body = if path == "/_smemu/clock" { r#"{"advance":"30d"}"# } else { "" };
            let headers = [JSON, ("Origin", origin), ("X-Smemu-Control-Token", TOKEN)];
            let r = server.request(method, path, &headers, body).await;
            assert_eq!(r.status, 403, "{origin} {method} {path}: {}", text(&r));
            assert!(!text(&r).contains("hunter2"));
        }
        let r = server.request("POST", "/", &[list, aws_json, ("Origin", origin)], "{}").await;
        assert_eq!(r.status, 403, "{origin}: {}", text(&r));
        assert_eq!(r.json()["__type"], "AccessDeniedException");
        assert_eq!(r.header("x-amzn-errortype"), Some("AccessDeniedException"));
        assert!(!text(&r).contains("hunter2"));
    }
    assert_eq!(server.app.engine.secret_count(), 1);
    assert_eq!(server.clock.now().millis(), START * 1000);
    // A developer's own page on localhost is not a foreign site.
    let local = ("Origin", "http://localhost:3000");
    let r = server.request("POST", "/", &[list, aws_json, local], "{}").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = server.request("GET", "/_smemu/clock", &[local, ("X-Smemu-Control-Token", TOKEN)], "").await;
    assert_eq!(r.status, 200, "{}", text(&r));
}

#[tokio::test]
async fn rebound_host_names_cannot_read_the_control_api() {
    let server = TestServer::start_with(Config { allowed_hosts: vec!["smemu".into()], ..Config::default() }).await;
    plant_secret(&server, AuthMode::Open).await;
    let port = server.addr.port();
    for host in [format!("rebind.evil.example:{port}"), "rebind.evil.example".into(), format!("localhost.evil:{port}")]
    {
        for &(method, path, body) in ATTACKS {
            let r = server.request(method, path, &[JSON, ("Host", &host)], body).await;
            assert_eq!(r.status, 403, "{host} {method} {path}: {}", text(&r));
            assert!(!text(&r).contains("hunter2"));
        }
        let health = server.request("GET", "/_smemu/health", &[("Host", &host)], "").await;
        assert_eq!(health.status, 200);
        assert_eq!(keys(&health.json()), ["status", "version"]);
    }
    assert_eq!(server.app.engine.secret_count(), 1);
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "smemu:4566".into()]
    {
        let r = server.request("GET", "/_smemu/state", &[("Host", &host)], "").await;
        assert_eq!(r.status, 200, "{host}: {}", text(&r));
    }
    // With the token, the name a client uses is its own business.
    let server = TestServer::start_with(with_token(Config::default())).await;
    let headers = [("Host", "smemu.internal:4566"), ("X-Smemu-Control-Token", TOKEN)];
    assert_eq!(server.request("GET", "/_smemu/state", &headers, "").await.status, 200);
}

#[tokio::test]
async fn hook_listings_show_header_and_environment_names_not_values() {
    let server = TestServer::start().await;
    let http = json!({
        "functionArn": FN, "kind": "http", "url": "http://ops:hunter2@127.0.0.1:1/rotate",
        "headers": { "Authorization": "Bearer hunter2" },
    });
    assert_eq!(server.control("POST", "/_smemu/hooks", &http.to_string()).await.status, 200);
    let command = json!({
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:other", "kind": "command",
        "program": "true", "env": { "DB_PASSWORD": "hunter2" },
    });
    server.app.hooks.register(smemu::rotation::HookSpec::from_value(command).unwrap());
    let listed = server.control("GET", "/_smemu/hooks", "").await;
    assert!(!text(&listed).contains("hunter2"), "{}", text(&listed));
    let listed = listed.json();
    let by_kind = |kind: &str| listed.as_array().unwrap().iter().find(|h| h["kind"] == kind).unwrap().clone();
    assert_eq!(by_kind("http")["headers"], json!(["Authorization"]));
    assert_eq!(by_kind("http")["url"], "http://…@127.0.0.1:1/rotate");
    assert_eq!(by_kind("command")["env"], json!(["DB_PASSWORD"]));
    assert_eq!(by_kind("command")["program"], "true");
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-hostile-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn command_hooks_come_from_the_seed_file_not_from_http() {
    let dir = temp_dir("cmdhook");
    let marker = dir.join("ran");
    let command = json!({
        "functionArn": FN, "kind": "command", "program": "sh",
        "args": ["-c", format!("touch {}", marker.display())],
    });
    for config in [Config::default(), with_token(Config::default())] {
        let server = TestServer::start_with(config).await;
        let r = server
            .request("POST", "/_smemu/hooks", &[JSON, ("X-Smemu-Control-Token", TOKEN)], &command.to_string())
            .await;
        assert_eq!(r.status, 403, "{}", text(&r));
        let message = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains("--allow-command-hooks") && message.contains("SMEMU_ALLOW_COMMAND_HOOKS"),
            "{message}"
        );
        assert!(server.app.hooks.is_empty());
    }
    // The seed file is the operator's own: its command hooks load.
    let seed = dir.join("seed.json");
    std::fs::write(&seed, json!({ "hooks": [command] }).to_string()).unwrap();
    let server = TestServer::start().await;
    smemu::seed::load(&server.app, &seed).unwrap();
    assert_eq!(server.app.hooks.get(FN).unwrap().kind_name(), "command");
    // And the explicit opt-in lets HTTP register them.
    let server = TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await;
    assert_eq!(server.control("POST", "/_smemu/hooks", &command.to_string()).await.status, 200);
    assert!(!marker.exists(), "registering runs nothing");
}

#[tokio::test]
async fn a_state_import_brings_no_hooks_and_runs_no_program() {
    let dir = temp_dir("import");
    let marker = dir.join("ran");
    let source = TestServer::start().await;
    assert_eq!(
        source
            .control("POST", "/_smemu/hooks", &json!({"functionArn": FN, "kind": "builtin"}).to_string())
            .await
            .status,
        200
    );
    let sm = source.client();
    sm.create_secret().name("r").secret_string("v1").send().await.unwrap();
    sm.rotate_secret()
        .secret_id("r")
        .rotation_lambda_arn(FN)
        .rotation_rules(RotationRulesType::builder().automatically_after_days(1).build())
        .send()
        .await
        .unwrap();
    let mut state = source.control("GET", "/_smemu/state", "").await.json();
    let command = json!({
        "functionArn": FN, "kind": "command", "program": "sh",
        "args": ["-c", format!("touch {}", marker.display())],
    });
    state["hooks"] = json!([command]);
    state["stores"][0]["secrets"][0]["hooks"] = json!([command]);

    let target = TestServer::start().await;
    let r = target.control("POST", "/_smemu/state", &state.to_string()).await;
    assert!(r.status == 200 || r.status == 400, "{}", text(&r));
    assert!(target.app.hooks.is_empty(), "an import registers no hook");
    let r = target.control("POST", "/_smemu/clock", r#"{"advance":"3d"}"#).await;
    assert_eq!(r.status, 200);
    assert!(!marker.exists(), "the due rotation ran no program");
}

#[tokio::test]
async fn the_clock_refuses_to_jump_past_its_horizon() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("doomed").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("doomed").recovery_window_in_days(7).send().await.unwrap();
    for body in [
        r#"{"advance":"106751991167d"}"#,
        r#"{"advance":"36526d"}"#,
        r#"{"advance":"5300w"}"#,
        r#"{"advance":"9223372036854775807ms"}"#,
        r#"{"set":1e300}"#,
        r#"{"set":9.3e15}"#,
        r#"{"set":"292278994-08-17T07:12:55.807Z"}"#,
        r#"{"set":"2127-01-01T00:00:00Z"}"#,
        r#"{"set":"99999-01-01"}"#,
    ] {
        let r = server.control("POST", "/_smemu/clock", body).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        let message = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains("100 years") || message.contains("36525d") || message.contains("cannot read the instant"),
            "{body}: {message}"
        );
    }
    assert_eq!(server.clock.now().millis(), START * 1000, "every refused move left the clock alone");
    assert_eq!(server.app.engine.secret_count(), 1, "no window expired");
    // The horizon itself is allowed.
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"36525d"}"#).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["now"], "2126-01-02T00:00:00.000Z", "36525 days: 100 years of 365.25 days");
}

#[tokio::test]
async fn clock_input_never_overflows() {
    let server = TestServer::start().await;
    for body in [
        r#"{"set":"2026-01-01T-9223372036854775808:00:00Z"}"#,
        r#"{"set":"2026-01-01T99999999999999999999:00:00Z"}"#,
        r#"{"set":"9223372036854775807-01-01"}"#,
        r#"{"set":"-9223372036854775807-01-01"}"#,
        r#"{"set":-1e300}"#,
        r#"{"set":"NaN"}"#,
        r#"{"advance":"99999999999999999999d"}"#,
        r#"{"advance":"-1d"}"#,
    ] {
        let r = server.control("POST", "/_smemu/clock", body).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
    }
    assert_eq!(server.clock.now().millis(), START * 1000);
}

#[tokio::test]
async fn the_clock_reaches_its_last_instant_and_stops_there() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("kept").secret_string("v1").send().await.unwrap();
    sm.create_secret().name("gone").secret_string("v1").send().await.unwrap();
    sm.delete_secret().secret_id("gone").recovery_window_in_days(30).send().await.unwrap();
    let mut moves = 0;
    loop {
        let r = server.control("POST", "/_smemu/clock", r#"{"advance":"36525d"}"#).await;
        if r.status == 400 {
            break;
        }
        assert_eq!(r.status, 200, "{}", text(&r));
        moves += 1;
        assert!(moves < 100, "the clock kept going: {}", text(&r));
    }
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"9999-12-30T22:00:00Z"}"#).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(server.control("POST", "/_smemu/clock", r#"{"advance":"1ms"}"#).await.status, 400);
    assert_eq!(server.control("GET", "/_smemu/clock", "").await.json()["now"], "9999-12-30T22:00:00.000Z");
    assert_eq!(server.app.engine.secret_count(), 1);
    assert!(sm.get_secret_value().secret_id("kept").send().await.is_ok());
    let described = sm.describe_secret().secret_id("kept").send().await.unwrap();
    assert_eq!(described.last_accessed_date().unwrap().secs(), 253_402_128_000, "9999-12-30, the day it was read");
}

// ---------------------------------------------------------------------------------------------
// Hook processes

/// A FIFO the hook's processes hold open for writing: reading it to the end returns once every
/// one of them is gone, so the test waits on the processes themselves and never polls.
fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
    path
}

/// Reads `path` to the end on a thread of its own; the receiver gets what was read.
fn read_in_background(path: PathBuf) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&path) {
            let _ = file.read_to_string(&mut text);
        }
        let _ = tx.send(text);
    });
    rx
}

/// What the reader got, or `None` if it was still waiting after `secs` seconds.
async fn within(rx: mpsc::Receiver<String>, secs: u64) -> Option<String> {
    tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(secs)).ok()).await.unwrap()
}

/// A command hook (as the seed file gives it) whose script `script` gets `$0` = `alive`, `$1` = `started`.
fn register_shell_hook(server: &TestServer, script: &str, alive: &Path, started: &Path, timeout_ms: u64) {
    let spec = json!({
        "functionArn": FN, "kind": "command", "program": "sh",
        "args": ["-c", script, alive.to_str().unwrap(), started.to_str().unwrap()],
        "timeoutMs": timeout_ms,
    });
    server.app.hooks.register(smemu::rotation::HookSpec::from_value(spec).unwrap());
}

async fn rotate(server: &TestServer) {
    let sm = server.client();
    sm.create_secret().name("p").secret_string("v1").send().await.unwrap();
    sm.rotate_secret().secret_id("p").rotation_lambda_arn(FN).send().await.unwrap();
}

#[tokio::test]
async fn a_hook_past_its_timeout_is_killed_with_its_children() {
    let dir = temp_dir("timeout");
    let (alive, started) = (fifo(&dir, "alive"), fifo(&dir, "started"));
    let (gone, up) = (read_in_background(alive.clone()), read_in_background(started.clone()));
    let server = TestServer::start().await;
    // The hook starts a long-lived child (holding `alive` open) and waits for it.
    register_shell_hook(&server, r#"exec 3>"$0"; sleep 1000 & echo started >"$1"; wait"#, &alive, &started, 2000);
    rotate(&server).await;
    assert_eq!(within(up, 10).await.as_deref(), Some("started\n"), "the hook's child never started");
    let log = server.control("GET", "/_smemu/rotations?secretId=p", "").await.json();
    assert!(log[0]["output"].as_str().unwrap().contains("timed out"), "{log}");
    assert!(within(gone, 10).await.is_some(), "the hook's child outlived the hook's timeout");
}

#[tokio::test]
async fn what_a_finished_hook_leaves_running_is_killed() {
    let dir = temp_dir("leftover");
    let (alive, started) = (fifo(&dir, "alive"), fifo(&dir, "started"));
    let (gone, up) = (read_in_background(alive.clone()), read_in_background(started.clone()));
    let server = TestServer::start().await;
    register_shell_hook(&server, r#"exec 3>"$0"; sleep 1000 & echo started >"$1"; exit 1"#, &alive, &started, 30_000);
    rotate(&server).await;
    assert_eq!(within(up, 10).await.as_deref(), Some("started\n"));
    assert!(within(gone, 10).await.is_some(), "the hook's child outlived the hook");
}

#[tokio::test]
async fn shutdown_kills_running_hooks_with_their_children() {
    let dir = temp_dir("shutdown");
    let (alive, started) = (fifo(&dir, "alive"), fifo(&dir, "started"));
    let (gone, up) = (read_in_background(alive.clone()), read_in_background(started.clone()));
    let server = TestServer::start_with(Config { rotation_timing: RotationTiming::Async, ..Config::default() }).await;
    register_shell_hook(&server, r#"exec 3>"$0"; sleep 1000 & echo started >"$1"; wait"#, &alive, &started, 900_000);
    rotate(&server).await;
    assert_eq!(within(up, 10).await.as_deref(), Some("started\n"), "the hook never started");
    assert_eq!(server.app.hook_processes.running(), 1);
    let app = server.app.clone();
    server.stop().await;
    assert!(within(gone, 10).await.is_some(), "the hook and its child outlived smemu's shutdown");
    drop(app);
}

// ---------------------------------------------------------------------------------------------
// The binary on all interfaces, as the Docker image runs it

struct Smemu {
    child: Child,
    port: u16,
}

impl Smemu {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_smemu"));
        // Only what this test says: none of the caller's SMEMU_* settings.
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("SMEMU_")) {
            command.env_remove(name);
        }
        let mut child = command
            .args(["--host", "0.0.0.0", "--port", "0", "--log-level", "warn"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn smemu");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("smemu ready on http://0.0.0.0:"), "{line}");
        let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
        Self { child, port }
    }

    /// One request over loopback; the status and the body.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n", self.port);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(head.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.split(' ').nth(1).unwrap().parse().unwrap();
        (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut log);
        log
    }
}

impl Drop for Smemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn on_all_interfaces_the_control_api_waits_for_a_token() {
    let list = [("X-Amz-Target", "secretsmanager.ListSecrets"), ("Content-Type", "application/x-amz-json-1.1")];
    let smemu = Smemu::start(&[], &[]);
    let (status, body) = smemu.send("GET", "/_smemu/state", &[], "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("SMEMU_CONTROL_TOKEN"), "{body}");
    assert_eq!(smemu.send("POST", "/moto-api/reset", &[], "").0, 403);
    assert_eq!(smemu.send("POST", "/", &list, "{}").0, 200, "the AWS API works as before");
    assert_eq!(smemu.send("GET", "/_smemu/health", &[], "").0, 200);
    let banner = smemu.stop();
    assert!(banner.contains("--control-token") && banner.contains("SMEMU_CONTROL_TOKEN"), "{banner}");

    let smemu = Smemu::start(&[], &[("SMEMU_CONTROL_TOKEN", TOKEN)]);
    let token = ("X-Smemu-Control-Token", TOKEN);
    assert_eq!(smemu.send("GET", "/_smemu/state", &[], "").0, 403);
    assert_eq!(smemu.send("GET", "/_smemu/state", &[token], "").0, 200);
    assert_eq!(smemu.send("POST", "/moto-api/reset", &[token], "").0, 200);
    assert_eq!(smemu.send("POST", "/_smemu/reset", &[token], "").0, 200);
    assert_eq!(smemu.send("POST", "/", &list, "{}").0, 200);
    drop(smemu);

    // Open on every address only when told so.
    let smemu = Smemu::start(&["--control", "open"], &[]);
    assert_eq!(smemu.send("GET", "/_smemu/state", &[], "").0, 200);
}
