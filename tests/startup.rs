//! The smemu binary itself: flags, the ready line, seeding, and shutdown.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

struct Binary {
    child: Child,
    port: u16,
}

impl Binary {
    fn start(args: &[&str]) -> Result<Self, String> {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
            .args(["--port", "0", "--log-level", "warn"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn smemu");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if line.is_empty() {
            let output = child.wait_with_output().unwrap();
            return Err(format!("{}|{}", output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr)));
        }
        let port = line.trim().rsplit(':').next().unwrap().parse().expect("port in the ready line");
        assert!(line.starts_with("smemu ready on http://127.0.0.1:"), "{line}");
        Ok(Self { child, port })
    }

    fn get(&self, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    }

    fn post(&self, target: &str, body: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: secretsmanager.{target}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-test-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn port_zero_prints_the_real_port_and_sigterm_stops_cleanly() {
    let mut bin = Binary::start(&[]).unwrap();
    assert!(bin.get("/_smemu/health").contains("\"ready\""));
    let status = Command::new("kill").args(["-TERM", &bin.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = bin.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// SIGTERM the moment the ready line is read, many times over: the handler must already be in place.
/// bash's `kill` builtin sends it within microseconds of the read, far sooner than a spawned
/// `kill` could.
#[test]
fn sigterm_right_after_the_ready_line_stops_cleanly() {
    let script = r#"
        unclean=0
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            coproc SMEMU { exec "$0" --port 0 --log-level warn 2>/dev/null; }
            pid=$SMEMU_PID
            read -r line <&"${SMEMU[0]}"
            kill -TERM "$pid"
            wait "$pid" || unclean=$((unclean + 1))
        done
        echo "unclean=$unclean"
    "#;
    let out = Command::new("bash").args(["-c", script, env!("CARGO_BIN_EXE_smemu")]).output().expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), "unclean=0", "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn start_time_takes_an_instant_with_a_utc_offset() {
    let bin = Binary::start(&["--start-time", "2030-01-01T02:00:00+02:00"]).unwrap();
    let health = bin.get("/_smemu/health");
    // The clock then runs with the system clock: allow it a few minutes.
    assert!(health.contains(r#""now":"2030-01-01T00:0"#), "{health}");
}

#[test]
fn probe_reports_health() {
    let bin = Binary::start(&[]).unwrap();
    let url = format!("http://127.0.0.1:{}/_smemu/health", bin.port);
    let ok = Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--probe", &url]).status().unwrap();
    assert!(ok.success());
    let missing = format!("http://127.0.0.1:{}/_smemu/nope", bin.port);
    assert!(!Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--probe", &missing]).status().unwrap().success());
}

#[test]
fn seed_file_secrets_are_there_when_health_says_ready() {
    let dir = temp_dir("seed");
    let seed = dir.join("seed.yaml");
    std::fs::write(
        &seed,
        r#"
secrets:
  - name: app/db
    description: the database
    secretString: '{"user":"app"}'
    tags: { team: core }
  - name: app/bin
    account: "111111111111"
    secretBinary: AAEC
  - name: app/versions
    versions:
      - secretString: old
      - secretString: new
"#,
    )
    .unwrap();
    let bin = Binary::start(&["--seed", seed.to_str().unwrap()]).unwrap();
    assert!(bin.get("/_smemu/health").contains("\"ready\""));
    let listed = bin.post("ListSecrets", "{}");
    assert!(listed.contains("app/db") && listed.contains("app/versions") && !listed.contains("app/bin"), "{listed}");
    let value = bin.post("GetSecretValue", r#"{"SecretId":"app/versions"}"#);
    assert!(value.contains(r#""SecretString":"new""#), "{value}");
    let prev = bin.post("GetSecretValue", r#"{"SecretId":"app/versions","VersionStage":"AWSPREVIOUS"}"#);
    assert!(prev.contains(r#""SecretString":"old""#), "{prev}");
}

#[test]
fn a_bad_seed_stops_startup_naming_file_entry_and_field() {
    let dir = temp_dir("badseed");
    for (file, body, expected) in [
        ("a.yaml", "secrets:\n  - name: ok\n  - name: 'bad name'\n", "secret #2 (\"bad name\"): name: Invalid name."),
        (
            "b.yaml",
            "secrets:\n  - name: x\n    secretString: a\n    secretBinary: YQ==\n",
            "secret #1 (\"x\"): secretString: You can't specify both",
        ),
        ("c.json", r#"{"secrets":[{"name":"x","colour":"red"}]}"#, "secret #1 (\"x\"): colour: unknown field"),
        (
            "d.yaml",
            "secrets:\n  - name: x\n    versions:\n      - secretString: a\n        stages: [custom]\n",
            "secret #1 (\"x\"): versions: one version must carry AWSCURRENT",
        ),
        (
            "f.yaml",
            "secrets:\n  - name: x\n    region: EU\n    secretString: a\n",
            "secret #1 (\"x\"): region: must be a region name",
        ),
        (
            "e.yaml",
            "secrets:\n  - name: x\n    secretString: a\n  - name: x\n    secretString: b\n",
            "secret #2 (\"x\"): name: already seeded by secret #1 (\"x\")",
        ),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, body).unwrap();
        let err = Binary::start(&["--seed", path.to_str().unwrap()]).err().expect("startup must fail");
        assert!(err.starts_with("2|"), "{err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
        assert!(err.contains(expected), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_seed_directory_loads_every_file() {
    let dir = temp_dir("seeddir");
    std::fs::write(dir.join("1.yaml"), "secrets:\n  - name: one\n    secretString: a\n").unwrap();
    std::fs::write(dir.join("2.json"), r#"{"region":"eu-west-1","secrets":[{"name":"two","secretString":"b"}]}"#)
        .unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let bin = Binary::start(&["--seed", dir.to_str().unwrap()]).unwrap();
    assert!(bin.get("/_smemu/health").contains("\"secrets\":2"));
}

/// A client of the binary on `port` that signs with this key pair.
fn signed_client(port: u16, key: &str, secret: &str) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "tests"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

#[tokio::test]
async fn the_static_secret_comes_from_a_file_or_the_environment() {
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    let dir = temp_dir("keyfile");
    let file = dir.join("secret");
    std::fs::write(&file, "file-secret\n").unwrap();
    let key = "AKIDSTARTUP000000001";
    let from_file = ["--auth", "strict", "--access-key-id", key, "--secret-access-key-file", file.to_str().unwrap()];
    let bin = Binary::start(&from_file).unwrap();
    signed_client(bin.port, key, "file-secret").list_secrets().send().await.unwrap();
    let err = signed_client(bin.port, key, "other").list_secrets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    drop(bin);
    let bin = Binary::start_with_env(
        &["--auth", "strict", "--access-key-id", key],
        &[("SMEMU_SECRET_ACCESS_KEY", "env-secret")],
    )
    .unwrap();
    signed_client(bin.port, key, "env-secret").list_secrets().send().await.unwrap();
    let both = Binary::start_with_env(&from_file, &[("SMEMU_SECRET_ACCESS_KEY", "env-secret")]).err().unwrap();
    assert!(both.starts_with("2|smemu: give the secret access key once"), "{both}");
}

#[test]
fn health_says_loading_until_the_seed_has_loaded_and_only_then_comes_the_ready_line() {
    let dir = temp_dir("loading");
    // A seed that is a FIFO: loading blocks until the test writes it, so the test knows smemu is
    // still loading without any timing.
    let seed = dir.join("seed.yaml");
    assert!(Command::new("mkfifo").arg(&seed).status().unwrap().success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
        .args(["--port", "0", "--log-level", "info", "--seed", seed.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "smemu exited before listening");
        if let Some((_, rest)) = line.split_once("listening on http://127.0.0.1:") {
            break rest.split(';').next().unwrap().parse().unwrap();
        }
    };
    let mut bin = Binary { child, port };
    let health = bin.get("/_smemu/health");
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    assert!(
        health.ends_with(&format!(r#"{{"status":"loading","version":"{}"}}"#, env!("CARGO_PKG_VERSION"))),
        "{health}"
    );
    let listed = bin.post("ListSecrets", "{}");
    assert!(listed.starts_with("HTTP/1.1 503") && listed.contains(r#""__type":"ServiceUnavailable""#), "{listed}");
    let probe = format!("http://127.0.0.1:{port}/_smemu/health");
    assert!(!Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--probe", &probe]).status().unwrap().success());

    std::fs::write(&seed, "secrets:\n  - name: seeded\n    secretString: v\n").unwrap();
    let mut ready = String::new();
    BufReader::new(bin.child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready, format!("smemu ready on http://127.0.0.1:{port}\n"));
    assert!(bin.get("/_smemu/health").contains(r#""status":"ready""#));
    assert!(bin.post("GetSecretValue", r#"{"SecretId":"seeded"}"#).contains(r#""SecretString":"v""#));
    assert!(Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--probe", &probe]).status().unwrap().success());
    drop(stderr);
}

#[test]
fn sigterm_while_loading_stops_at_once() {
    let dir = temp_dir("loading-stop");
    let seed = dir.join("seed.yaml");
    assert!(Command::new("mkfifo").arg(&seed).status().unwrap().success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
        .args(["--port", "0", "--log-level", "info", "--seed", seed.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("loading state") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "smemu exited before listening");
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    // The seed is never written: smemu must not wait for it.
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(out.is_empty(), "no ready line: {out}");
}

#[cfg(unix)]
fn executable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether the process `pid` is gone (or a zombie waiting to be reaped: it runs no more).
fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
}

/// Whether `pid` ends soon: a signal is delivered asynchronously, so a process killed a moment ago
/// may still be on its way out. Waits on /proc, not on a timer, up to a generous deadline.
fn dies(pid: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gone(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Starts smemu with `--init-dir`; returns it and its stderr, read up to its ready line.
fn start_with_init(
    dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Binary, BufReader<std::process::ChildStdout>, BufReader<std::process::ChildStderr>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smemu"));
    command.args(["--port", "0", "--log-level", "info", "--init-dir", dir.to_str().unwrap()]).args(extra);
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"] {
        command.env_remove(name);
    }
    let mut child = command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().expect("the ready line");
    (Binary { child, port }, stdout, stderr)
}

#[cfg(unix)]
#[test]
fn init_scripts_run_in_order_against_smemu_and_are_reported() {
    let dir = temp_dir("init");
    let ready = dir.join("ready.d");
    std::fs::create_dir_all(ready.join("sub")).unwrap();
    let marker = dir.join("marker");
    std::fs::write(
        ready.join("01-env.sh"),
        r#"echo "01 $AWS_ENDPOINT_URL $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_DEFAULT_REGION $AWS_REGION" >> "$MARKER""#,
    )
    .unwrap();
    executable(&ready.join("02-fails"), "#!/bin/sh\necho 02 >> \"$MARKER\"\nexit 3\n");
    std::fs::write(
        ready.join("03-api.py"),
        r#"
import json, os, urllib.request, uuid
body = {"Name": "from-init", "SecretString": "v", "ClientRequestToken": str(uuid.uuid4())}
req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], json.dumps(body).encode(),
    {"X-Amz-Target": "secretsmanager.CreateSecret", "Content-Type": "application/x-amz-json-1.1"})
status = urllib.request.urlopen(req).status
with open(os.environ["MARKER"], "a") as f:
    f.write(f"03 {status}\n")
"#,
    )
    .unwrap();
    std::fs::write(ready.join("notes.txt"), "not a script").unwrap();
    std::fs::write(ready.join("sub/04-nested.sh"), "echo 04 >> \"$MARKER\"").unwrap();
    // Hangs, with a child of its own: past the timeout its whole process group is killed.
    std::fs::write(ready.join("sub/05-hangs.sh"), "sleep 60 &\necho $! > \"$MARKER.child\"\nwait\n").unwrap();
    let marker_env = marker.to_str().unwrap().to_owned();
    let (bin, _stdout, mut stderr) = start_with_init(
        &dir,
        &["--init-timeout", "3s", "--region", "eu-west-3"],
        &[("MARKER", &marker_env), ("AWS_REGION", "ap-south-2")],
    );
    let mut log = String::new();
    while !log.contains("init scripts finished") {
        assert!(stderr.read_line(&mut log).unwrap() > 0, "smemu stopped: {log}");
    }
    assert!(log.contains("notes.txt skipped"), "{log}");
    let lines = std::fs::read_to_string(&marker).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", bin.port);
    assert_eq!(lines, format!("01 {endpoint} test test eu-west-3 ap-south-2\n02\n03 200\n04\n"), "{log}");
    let child = std::fs::read_to_string(format!("{marker_env}.child")).unwrap();
    assert!(dies(child.trim()), "the hanging script's child was killed with it");
    assert!(bin.post("GetSecretValue", r#"{"SecretId":"from-init"}"#).contains(r#""SecretString":"v""#));
    let report = bin.get("/_localstack/init");
    let body: serde_json::Value = serde_json::from_str(&report[report.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let state = |name: &str, state: &str| serde_json::json!({ "stage": "READY", "name": name, "state": state });
    assert_eq!(
        body,
        serde_json::json!({
            "completed": { "BOOT": true, "START": true, "READY": true, "SHUTDOWN": false },
            "scripts": [
                state("01-env.sh", "SUCCESSFUL"),
                state("02-fails", "ERROR"),
                state("03-api.py", "SUCCESSFUL"),
                state("sub/04-nested.sh", "SUCCESSFUL"),
                state("sub/05-hangs.sh", "ERROR"),
            ]
        })
    );
    assert!(bin.get("/_localstack/init/ready").contains(r#""completed":true"#));
    assert!(bin.get("/_localstack/init/nope").starts_with("HTTP/1.1 404"));
}

#[cfg(unix)]
#[test]
fn stopping_smemu_stops_the_running_init_script_and_what_it_started() {
    let dir = temp_dir("init-stop");
    std::fs::write(dir.join("hangs.sh"), "sleep 60 &\necho \"child $!\"\nwait\n").unwrap();
    std::fs::write(dir.join("never.sh"), "echo never ran").unwrap();
    let (mut bin, mut stdout, _stderr) = start_with_init(&dir, &[], &[]);
    // The script's output is smemu's own: its line says it runs.
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let child = line.trim().strip_prefix("child ").expect("the script's line").to_owned();
    assert!(!gone(&child));
    let running = bin.get("/_localstack/init");
    assert!(running.contains(r#""READY":false"#) && running.contains(r#""state":"RUNNING""#), "{running}");
    assert!(Command::new("kill").args(["-TERM", &bin.child.id().to_string()]).status().unwrap().success());
    assert!(bin.child.wait().unwrap().success());
    assert!(dies(&child), "the script's child was stopped with smemu");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(!rest.contains("never ran"), "{rest}");
}

#[test]
fn the_audit_flags_switch_recording_and_name_its_file() {
    let dir = temp_dir("audit-flags");
    let log = dir.join("trail.jsonl");
    let on = Binary::start(&["--audit-log", log.to_str().unwrap()]).unwrap();
    on.post("ListSecrets", "{}");
    assert!(on.get("/_smemu/audit").contains("\"eventName\":\"ListSecrets\""));
    drop(on);
    let line = std::fs::read_to_string(&log).unwrap();
    assert!(line.lines().count() == 1 && line.contains("\"eventName\":\"ListSecrets\""), "{line}");
    let off = Binary::start(&["--audit", "off"]).unwrap();
    off.post("ListSecrets", "{}");
    assert!(off.get("/_smemu/audit").contains("\"events\":[]"));
    drop(off);
    let Err(err) = Binary::start(&["--audit-retain", "0"]) else { panic!("--audit-retain 0 started") };
    assert!(err.contains("--audit-retain"), "{err}");
    let Err(err) = Binary::start(&["--audit-log", dir.join("missing/trail").to_str().unwrap()]) else {
        panic!("an --audit-log in a missing directory started")
    };
    assert!(err.starts_with("2|") && err.contains("--audit-log"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
