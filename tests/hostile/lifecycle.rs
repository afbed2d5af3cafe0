//! Startup, loading and reset: requests that arrive before state has loaded, resets of worlds
//! that cannot exist.

use crate::common::TestServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any answer here takes; reaching it means smemu waited for bytes never sent.
const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_request_while_loading_is_refused_without_reading_its_body() {
    let server = TestServer::start().await;
    server.app.set_ready(false);
    // Announces a large body and sends none of it: the refusal must not wait for it.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: secretsmanager.ListSecrets\r\nContent-Length: 900000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await.expect("answered and closed").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains(r#""__type":"ServiceUnavailable""#), "{answer}");
    assert_eq!(server.app.engine.secret_count(), 0);
}

#[tokio::test]
async fn resets_of_impossible_worlds_are_refused_without_echoing_them() {
    let server = TestServer::start().await;
    server.client().create_secret().name("kept").secret_string("x").send().await.unwrap();
    let huge = "1".repeat(60_000);
    for body in [
        format!(r#"{{"account":"{huge}"}}"#),
        format!(r#"{{"account":"000000000000","region":"{huge}"}}"#),
        r#"{"account":"000000000000","region":"us-east-1\u0000"}"#.to_owned(),
        r#"{"account":"00000000000٠"}"#.to_owned(),
    ] {
        let r = server.control("POST", "/_smemu/reset", &body).await;
        assert_eq!(r.status, 400, "{}", &body[..40.min(body.len())]);
        assert!(r.body.len() < 200, "the answer does not repeat the value: {} bytes", r.body.len());
    }
    assert_eq!(server.app.engine.secret_count(), 1);
}
