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
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
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
