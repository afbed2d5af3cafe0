//! A smemu server per test, on an ephemeral port, with a clock the test moves by hand.
#![allow(dead_code)]

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A client of `endpoint` (any smemu, in-process or a spawned binary).
pub fn client_for(endpoint: &str, access_key: &str, region: &str) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(access_key, "secret", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// 2026-01-01T00:00:00Z: every test starts here and time moves only when the test says so.
pub const START: i64 = 1_767_225_600;
pub const DAY: i64 = 86_400_000;

pub struct TestServer {
    pub addr: SocketAddr,
    pub clock: Arc<Clock>,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        Self::serve(config, smemu::auth::CredentialStore::default()).await
    }

    /// Serves an app on an ephemeral port, on a manual clock at [`START`].
    async fn serve(config: Config, credentials: smemu::auth::CredentialStore) -> Self {
        let clock = Arc::new(Clock::manual(Timestamp::from_secs(START)));
        let app = Arc::new(App::with_credentials(config, clock.clone(), credentials));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(smemu::run(listener, app.clone(), async {
            let _ = rx.await;
        }));
        Self { addr, clock, app, shutdown: Some(tx), task: Some(task) }
    }

    /// Shuts the server down the way SIGTERM does, and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server stops cleanly");
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client of the default account in us-east-1.
    pub fn client(&self) -> Client {
        self.client_as("AKIAIOSFODNN7EXAMPLE", "us-east-1")
    }

    pub fn client_as(&self, access_key: &str, region: &str) -> Client {
        client_for(&self.endpoint(), access_key, region)
    }

    /// Advances smemu's clock by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// A JSON-1.1 request with `X-Amz-Target: secretsmanager.<op>`.
    pub async fn call(&self, op: &str, body: &str) -> Raw {
        let target = format!("secretsmanager.{op}");
        self.raw("POST", &[("X-Amz-Target", &target), ("Content-Type", "application/x-amz-json-1.1")], body.as_bytes())
            .await
    }

    pub async fn call_bytes(&self, op: &str, body: &[u8]) -> Raw {
        let target = format!("secretsmanager.{op}");
        self.raw("POST", &[("X-Amz-Target", &target), ("Content-Type", "application/x-amz-json-1.1")], body).await
    }

    /// Writes arbitrary bytes and returns whatever comes back, without parsing it.
    pub async fn raw_bytes_unparsed(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        let _ = stream.write_all(request).await;
        let _ = stream.shutdown().await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        out
    }

    /// Sends exactly these bytes of header and body over a fresh connection.
    pub async fn raw(&self, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Raw {
        let mut head = format!(
            "{method} / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.raw_bytes(&bytes).await
    }

    pub async fn raw_bytes(&self, request: &[u8]) -> Raw {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        // The server may answer (and close) before it has read a body it refuses.
        let _ = stream.write_all(request).await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        Raw::parse(&out)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Self {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete HTTP response");
        let head = String::from_utf8_lossy(&bytes[..split]);
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Self { status, headers, body: bytes[split + 4..].to_vec() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an error answer: status, `__type` and message.
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        let json = self.json();
        assert_eq!(self.status, status, "status of {json}");
        assert_eq!(json["__type"], code, "type of {json}");
        let text = json.get("Message").or_else(|| json.get("message")).and_then(|m| m.as_str()).unwrap_or_default();
        assert_eq!(text, message, "message of {json}");
    }
}

/// The service error's code and message, for asserting on SDK errors.
pub fn err_of<E, R>(err: aws_sdk_secretsmanager::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata,
{
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    (err.code().unwrap_or_default().to_owned(), err.message().unwrap_or_default().to_owned())
}

pub const TOKEN_A: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
pub const TOKEN_B: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
pub const TOKEN_C: &str = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";

impl TestServer {
    /// A request with exactly these header lines (and `Host`, `Connection` and `Content-Length`
    /// unless given), for the control API's checks of headers.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Raw {
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        let given = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if !given("host") {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        if !given("content-length") && !given("transfer-encoding") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.raw_bytes(head.as_bytes()).await
    }

    /// A request to the control API.
    pub async fn control(&self, method: &str, path: &str, body: &str) -> Raw {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.raw_bytes(head.as_bytes()).await
    }
}

/// Known credentials for strict-mode tests.
pub const KEY_ID: &str = "AKIDSMEMUTEST0000001";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const ACCOUNT: &str = "111122223333";

impl TestServer {
    /// A server that verifies every signature against one known key in [`ACCOUNT`].
    pub async fn start_strict() -> Self {
        Self::start_strict_with(Config::default()).await
    }

    /// Like [`Self::start_strict`], with the rest of `config`.
    pub async fn start_strict_with(config: Config) -> Self {
        let credentials = smemu::auth::CredentialStore::default();
        credentials.add_static(KEY_ID, SECRET_KEY, ACCOUNT, None, None).expect("credentials");
        let config = Config { auth_mode: smemu::auth::AuthMode::Strict, ..config };
        Self::serve(config, credentials).await
    }

    /// A strict server, as [`Self::start_strict`], that also loads `document`
    /// as a credentials file, e.g. `{"roles": [...]}`.
    pub async fn start_strict_with_credentials(document: serde_json::Value) -> Self {
        let credentials = smemu::auth::CredentialStore::default();
        credentials.add_static(KEY_ID, SECRET_KEY, ACCOUNT, None, None).expect("credentials");
        credentials.load_document("test credentials", &document).expect("credentials document");
        let config = Config { auth_mode: smemu::auth::AuthMode::Strict, ..Config::default() };
        Self::serve(config, credentials).await
    }

    pub fn client_with(&self, key: &str, secret: &str, token: Option<&str>) -> Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, token.map(str::to_owned), None, "tests"))
            .endpoint_url(self.endpoint())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }

    pub fn sts_with(&self, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                key,
                secret,
                token.map(str::to_owned),
                None,
                "tests",
            ))
            .endpoint_url(self.endpoint())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }
}

/// A KMS client of `endpoint`.
pub fn kms_client_for(endpoint: &str, access_key: &str, region: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(access_key, "secret", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

impl TestServer {
    /// A KMS client of the account `111122223333` in us-east-1.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        kms_client_for(&self.endpoint(), "111122223333", "us-east-1")
    }

    /// A JSON-1.1 request with `X-Amz-Target: TrentService.<op>`.
    pub async fn kms_call(&self, op: &str, body: &str) -> Raw {
        let target = format!("TrentService.{op}");
        self.raw("POST", &[("X-Amz-Target", &target), ("Content-Type", "application/x-amz-json-1.1")], body.as_bytes())
            .await
    }
}

/// A KMS error's code and message, for asserting on SDK errors.
pub fn kms_err<E, R>(err: aws_sdk_kms::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    use aws_sdk_kms::error::ProvideErrorMetadata;
    (err.code().unwrap_or_default().to_owned(), err.message().unwrap_or_default().to_owned())
}
