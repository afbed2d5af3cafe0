//! The control plane: tokens, browsers (CSRF, DNS rebinding), hooks and the clock.

use crate::common::{START, TestServer};
use serde_json::json;
use smemu::config::{Config, RotationTiming};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotator";

fn text(r: &crate::common::Raw) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-hostile-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
        assert!(message.contains("100 years") || message.contains("cannot read the instant"), "{body}: {message}");
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
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"9999-12-31T23:59:59.999Z"}"#).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(server.control("POST", "/_smemu/clock", r#"{"advance":"1ms"}"#).await.status, 400);
    assert_eq!(server.control("GET", "/_smemu/clock", "").await.json()["now"], "9999-12-31T23:59:59.999Z");
    assert_eq!(server.app.engine.secret_count(), 1);
    assert!(sm.get_secret_value().secret_id("kept").send().await.is_ok());
    let described = sm.describe_secret().secret_id("kept").send().await.unwrap();
    assert_eq!(described.last_accessed_date().unwrap().secs(), 253_402_214_400, "9999-12-31, the day it was read");
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
