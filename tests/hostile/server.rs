//! Sockets and bodies: oversized, slow and endless requests, and the fd limit.

use crate::common::{Raw, TOKEN_A, TestServer};
use smemu::config::Config;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any answer here takes; reaching it means smemu waited for bytes never sent.
const PATIENCE: Duration = Duration::from_secs(5);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut).await.unwrap_or_else(|_| panic!("{what}: no answer within {PATIENCE:?}"))
}

/// A request head announcing `length` body bytes, followed by only `sent` of them.
fn partial(method: &str, path: &str, headers: &str, length: u64, sent: usize) -> Vec<u8> {
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}Content-Length: {length}\r\n\r\n"
    )
    .into_bytes();
    bytes.extend(std::iter::repeat_n(b'{', sent));
    bytes
}

const GET_SECRET: &str = "X-Amz-Target: secretsmanager.GetSecretValue\r\n";

/// Reads one answer off a connection that stays open: the head, then a Content-Length body.
async fn read_answer(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before a whole answer: {:?}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed in the middle of an answer");
        bytes.extend_from_slice(&buf[..n]);
    }
    Raw { status, headers, body: bytes[head_end..head_end + length].to_vec() }
}

/// Whether the server closes `stream` (EOF or reset) before [`PATIENCE`] runs out.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut sink)).await.is_ok()
}

#[tokio::test]
async fn unknown_control_paths_are_answered_404_before_their_body_is_read() {
    let server = TestServer::start().await;
    for path in ["/_smemu/nothing", "/_localstack/nothing", "/moto-api/nothing"] {
        let r = within(path, server.raw_bytes(&partial("POST", path, "", 1 << 30, 16))).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"], format!("no control endpoint POST {path}"));
        assert_eq!(r.header("connection"), Some("close"));
    }
    assert_eq!(server.control("GET", "/_smemu/health", "").await.status, 200);
}

#[tokio::test]
async fn control_bodies_over_their_cap_are_refused_from_the_declared_length() {
    let server = TestServer::start().await;
    let r = within("clock", server.raw_bytes(&partial("POST", "/_smemu/clock", "", 10 << 20, 16))).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"], "Request body exceeds the limit of 65536 bytes.");
    // The default import cap (256 MiB) is far below the 1 GiB the control API once buffered.
    let r = within("state", server.raw_bytes(&partial("POST", "/_smemu/state", "", 512 << 20, 16))).await;
    assert_eq!(r.status, 413);
    let r = within("health", server.raw_bytes(&partial("GET", "/_smemu/health", "", 1 << 20, 16))).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"], "GET /_smemu/health takes no request body");
    assert_eq!(server.control("GET", "/_smemu/health", "").await.status, 200);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_the_body_arrives() {
    let server = TestServer::start().await;
    let r = within("GetSecretValue", server.raw_bytes(&partial("POST", "/", GET_SECRET, 2 << 20, 0))).await;
    r.assert_error(413, "RequestEntityTooLargeException", "Request body exceeds the limit of 1048576 bytes.");
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(server.call("ListSecrets", "{}").await.status, 200);
}

#[tokio::test]
async fn the_state_import_has_its_own_cap_even_for_chunked_bodies() {
    let server = TestServer::start_with(Config { max_import_bytes: 4096, ..Config::default() }).await;
    let message = "the state import exceeds the limit of 4096 bytes; start smemu with a larger --max-import-bytes";
    let r = within("declared", server.raw_bytes(&partial("POST", "/_smemu/state", "", 8192, 16))).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some(message)));

    let mut chunked = b"POST /_smemu/state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(format!("400\r\n{}\r\n", " ".repeat(1024)).as_bytes());
    }
    let r = within("chunked", server.raw_bytes(&chunked)).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some(message)));

    // An import under the cap still works.
    assert_eq!(
        server
            .call("CreateSecret", &format!(r#"{{"Name":"kept","SecretString":"v","ClientRequestToken":"{TOKEN_A}"}}"#))
            .await
            .status,
        200
    );
    let export = server.control("GET", "/_smemu/state", "").await;
    assert!(export.body.len() < 4096);
    let r = server.control("POST", "/_smemu/state", &String::from_utf8_lossy(&export.body)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_and_closed() {
    let timeout = Duration::from_millis(200);
    let server = TestServer::start_with(Config { client_timeout: timeout, ..Config::default() }).await;

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&partial("POST", "/", GET_SECRET, 100, 10)).await.unwrap();
    let r = within("stalled body", read_answer(&mut stream)).await;
    r.assert_error(408, "RequestTimeoutException", "The request body did not arrive within 200ms.");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut stream).await, "the connection stays open after the timeout");

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&partial("POST", "/_smemu/reset", "", 100, 10)).await.unwrap();
    let r = within("stalled control body", read_answer(&mut stream)).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (408, Some("The request body did not arrive within 200ms.")));
    assert!(closed_by_server(&mut stream).await, "the connection stays open after the timeout");
}
