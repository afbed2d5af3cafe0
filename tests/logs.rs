//! The binary's logs: one line per request on stderr, text or JSON, never a value.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

/// A secret value that must never appear in a log.
const VALUE: &str = "pa55-Distinctive-VALUE-9f3c";

struct Smemu {
    child: Child,
    port: u16,
}

impl Smemu {
    /// Starts the binary on a free port with `args`; stderr is a pipe (not a terminal) and
    /// `NO_COLOR` is unset, so only the terminal check decides about colour.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
            .args(["--port", "0"])
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("SMEMU_LOG_LEVEL")
            .env_remove("SMEMU_LOG_FORMAT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn smemu");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().rsplit(':').next().unwrap().parse().unwrap_or_else(|_| panic!("ready line: {line:?}"));
        Self { child, port }
    }

    /// Stops smemu with SIGTERM and returns everything it wrote to stderr.
    fn stop(&mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success());
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        stderr
    }

    fn client(&self, key: &str, secret: &str) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "tests"))
            .endpoint_url(format!("http://127.0.0.1:{}", self.port))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// A raw Secrets Manager call, unsigned.
    fn post(&self, target: &str, body: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: secretsmanager.{target}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Smemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request lines of `log` (text format) for `operation`.
fn lines_for<'a>(log: &'a str, operation: &str) -> Vec<&'a str> {
    let needle = format!(" operation={operation} ");
    log.lines().filter(|l| l.contains("smemu::access") && l.contains(&needle)).collect()
}

/// The `duration_ms=` of a text line, which must be a number.
fn duration(line: &str) -> f64 {
    let value = line.split(" duration_ms=").nth(1).and_then(|rest| rest.split(' ').next());
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no duration in {line}"))
}

#[tokio::test]
async fn a_failing_call_is_logged_with_its_code_and_duration_and_no_value_anywhere() {
    let mut smemu = Smemu::start(&[], &[]);
    let client = smemu.client("111122223333", "any");
    let err = client.get_secret_value().secret_id("missing/one").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    client.create_secret().name("app/db").send().await.unwrap();
    client.put_secret_value().secret_id("app/db").secret_string(VALUE).send().await.unwrap();
    let read = client.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert_eq!(read.secret_string(), Some(VALUE));
    let log = smemu.stop();

    let failed = lines_for(&log, "GetSecretValue");
    assert_eq!(failed.len(), 2, "{log}");
    let failed = failed[0];
    for part in [
        " INFO ",
        "service=secretsmanager",
        "id=\"missing/one\"",
        "account=\"111122223333\"",
        "region=\"eu-west-1\"",
        "principal=\"arn:aws:iam::111122223333:root\"",
        "status=400",
        "error=ResourceNotFoundException",
    ] {
        assert!(failed.contains(part), "{part} missing from {failed}");
    }
    assert!(duration(failed) >= 0.0);
    let put = lines_for(&log, "PutSecretValue");
    assert_eq!(put.len(), 1, "{log}");
    assert!(put[0].contains("id=\"app/db\"") && put[0].contains("status=200"), "{}", put[0]);
    assert!(!put[0].contains("error="), "{}", put[0]);
    assert!(!log.contains(VALUE), "the secret value is in the log:\n{log}");
    // stderr is no terminal: no colour codes.
    assert!(!log.contains('\u{1b}'), "{log:?}");
    // The banner.
    let banner = log.lines().next().unwrap();
    for part in
        ["version=\"", "listen=127.0.0.1:", "auth=\"open\"", "data_dir=\"in memory\"", "seed=\"none\"", "control="]
    {
        assert!(banner.contains(part), "{part} missing from {banner}");
    }
}

#[tokio::test]
async fn json_lines_parse_one_by_one_with_stable_fields() {
    let mut smemu = Smemu::start(&["--log-format", "json"], &[]);
    let client = smemu.client("AKIDJSON", "any");
    client.get_secret_value().secret_id("missing/two").send().await.unwrap_err();
    client.create_secret().name("json/one").secret_string(VALUE).send().await.unwrap();
    smemu.post("ListSecrets", "{}");
    let log = smemu.stop();
    assert!(!log.contains(VALUE), "{log}");
    let events: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let banner = &events[0];
    assert_eq!(banner["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(banner["auth"], "open");
    let requests: Vec<_> = events.iter().filter(|e| e["target"] == "smemu::access").collect();
    assert_eq!(requests.len(), 3, "{log}");
    let failed = requests[0];
    assert_eq!(failed["level"], "INFO");
    assert_eq!(failed["message"], "request");
    assert_eq!(failed["service"], "secretsmanager");
    assert_eq!(failed["operation"], "GetSecretValue");
    assert_eq!(failed["id"], "missing/two");
    assert_eq!(failed["account"], "000000000000");
    assert_eq!(failed["status"], 400);
    assert_eq!(failed["error"], "ResourceNotFoundException");
    assert!(failed["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{failed}");
    assert!(failed["request_id"].is_string() && failed["timestamp"].is_string(), "{failed}");
    assert_eq!(requests[1]["operation"], "CreateSecret");
    assert_eq!(requests[1]["id"], "json/one");
    assert_eq!(requests[1]["status"], 200);
    assert!(requests[1].get("error").is_none());
    assert_eq!(requests[2]["operation"], "ListSecrets");
    assert!(requests[2].get("id").is_none());
}

#[tokio::test]
async fn requests_refused_by_authentication_are_logged() {
    let key = "AKIDLOGSTRICT0000001";
    let secret = "strict-secret-key-value";
    let mut smemu = Smemu::start(&["--auth", "strict", "--access-key-id", key], &[("SMEMU_SECRET_ACCESS_KEY", secret)]);
    smemu.client(key, secret).list_secrets().send().await.unwrap();
    let err = smemu.client(key, "wrong").get_secret_value().secret_id("app/x").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    let err = smemu.client("AKIDNOBODY", secret).describe_secret().secret_id("app/y").send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
    smemu.post("ListSecrets", "{}");
    let log = smemu.stop();
    assert!(!log.contains(secret), "{log}");

    let ok = lines_for(&log, "ListSecrets");
    assert_eq!(ok.len(), 2, "{log}");
    assert!(
        ok[0].contains("status=200") && ok[0].contains("principal=\"arn:aws:iam::000000000000:root\""),
        "{}",
        ok[0]
    );
    assert!(ok[1].contains("error=MissingAuthenticationTokenException"), "{}", ok[1]);
    let bad_signature = lines_for(&log, "GetSecretValue");
    assert_eq!(bad_signature.len(), 1, "{log}");
    for part in [&format!("principal=\"{key}\""), "id=\"app/x\"", "status=400", "error=InvalidSignatureException"] {
        assert!(bad_signature[0].contains(part), "{part} missing from {}", bad_signature[0]);
    }
    let unknown_key = lines_for(&log, "DescribeSecret");
    assert_eq!(unknown_key.len(), 1, "{log}");
    assert!(unknown_key[0].contains("principal=\"AKIDNOBODY\""), "{}", unknown_key[0]);
    assert!(unknown_key[0].contains("error=UnrecognizedClientException"), "{}", unknown_key[0]);
    // The banner says how callers are checked.
    assert!(log.lines().next().unwrap().contains("auth=\"strict\""), "{log}");
}

#[test]
fn an_identifier_cannot_forge_a_line_or_send_escape_codes() {
    let mut smemu = Smemu::start(&[], &[]);
    let forged =
        r#"{"SecretId":"a\n2026-01-01T00:00:00Z  INFO smemu::access: request status=200 \u001b[31mred\u001b[0m"}"#;
    smemu.post("GetSecretValue", forged);
    let long = format!(r#"{{"SecretId":"{}"}}"#, "L".repeat(2000));
    smemu.post("DescribeSecret", &long);
    let log = smemu.stop();
    let lines = lines_for(&log, "GetSecretValue");
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(r#"id="a\n2026-01-01T00:00:00Z  INFO smemu::access: request status=200 \u{1b}[31mred"#),
        "{}",
        lines[0]
    );
    assert!(!log.contains('\u{1b}'), "{log:?}");
    assert_eq!(log.lines().filter(|l| l.contains("status=200")).count(), 1, "only the forged text says 200: {log}");
    let long = lines_for(&log, "DescribeSecret");
    assert!(long[0].len() < 600 && long[0].contains("…[+"), "{} bytes: {}", long[0].len(), long[0]);
}

#[test]
fn log_level_warn_drops_request_lines() {
    let mut smemu = Smemu::start(&["--log-level", "WARN"], &[]);
    smemu.post("ListSecrets", "{}");
    let log = smemu.stop();
    assert!(!log.contains("smemu::access"), "{log}");
}

#[test]
fn an_unknown_log_level_stops_startup_naming_the_valid_ones() {
    for (args, env) in [(vec!["--log-level", "verbose"], vec![]), (vec![], vec![("SMEMU_LOG_LEVEL", "verbose")])] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--port", "0"]).args(args).envs(env).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("verbose") && stderr.contains("error, warn, info, debug, trace, off"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--log-format", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The banner as smemu writes it on a terminal (a pseudo-terminal made by util-linux `script`).
fn banner_on_a_terminal(no_color: Option<&str>) -> String {
    let command = format!("exec {} --port 0", env!("CARGO_BIN_EXE_smemu"));
    let mut script = Command::new("script");
    script.args(["-qfec", &command, "/dev/null"]).env_remove("NO_COLOR").stdin(Stdio::null()).stdout(Stdio::piped());
    if let Some(value) = no_color {
        script.env("NO_COLOR", value);
    }
    let mut child = script.spawn().expect("util-linux script");
    // The banner is written by the log thread, so it may come before or after the ready line.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("starting") {
            break;
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let coloured = banner_on_a_terminal(None);
    assert!(coloured.contains("starting") && coloured.contains("\u{1b}["), "{coloured:?}");
    let empty = banner_on_a_terminal(Some(""));
    assert!(empty.contains("\u{1b}["), "an empty NO_COLOR does not count: {empty:?}");
    let plain = banner_on_a_terminal(Some("1"));
    assert!(plain.contains("starting") && !plain.contains('\u{1b}'), "{plain:?}");
}
