//! Sockets and bodies: oversized, slow and endless requests, and the fd limit.

use crate::common::{Raw, TOKEN_A, TestServer};
use smemu::config::Config;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

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

const HEALTH: &[u8] = b"GET /_smemu/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
const HEALTH_KEEP_ALIVE: &[u8] = b"GET /_smemu/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Polls the health endpoint on fresh connections until it answers 200, for at most `limit`.
async fn served_within(server: &TestServer, limit: Duration) -> Vec<u16> {
    let start = Instant::now();
    let mut statuses = Vec::new();
    loop {
        let status = within("health", server.raw_bytes(HEALTH)).await.status;
        statuses.push(status);
        if status == 200 {
            return statuses;
        }
        assert!(start.elapsed() < limit, "never served again within {limit:?}: {} refusals", statuses.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A kept-alive connection proven to hold a slot by one answered request. A slot given back by
/// an earlier connection may take a moment to free, so a refusal is retried.
async fn holding_a_slot(server: &TestServer, recv_buffer: Option<u32>) -> TcpStream {
    let start = Instant::now();
    loop {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let mut stream = socket.connect(server.addr).await.unwrap();
        stream.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
        let status = within("a slot", read_answer(&mut stream)).await.status;
        if status == 200 {
            return stream;
        }
        assert!(status == 503 && start.elapsed() < PATIENCE, "no slot: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

#[tokio::test]
async fn over_the_connection_cap_a_client_gets_503_and_is_served_once_a_slot_frees() {
    let server = TestServer::start_with(Config { max_connections: 2, ..Config::default() }).await;
    // Two kept-alive connections, each proven to hold a slot by one answered request.
    let mut held = vec![holding_a_slot(&server, None).await, holding_a_slot(&server, None).await];

    let r = within("refused", server.raw_bytes(HEALTH)).await;
    r.assert_error(
        503,
        "ServiceUnavailable",
        "smemu is serving its limit of 2 connections (--max-connections); retry shortly.",
    );
    assert_eq!(r.header("x-amzn-errortype"), Some("ServiceUnavailable"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.header("x-amzn-requestid").is_some_and(|id| id.len() == 36));

    // The held connections are still served.
    held[1].write_all(HEALTH_KEEP_ALIVE).await.unwrap();
    assert_eq!(within("still held", read_answer(&mut held[1])).await.status, 200);

    drop(held.remove(0));
    served_within(&server, PATIENCE).await;
}

#[tokio::test]
async fn slow_headers_and_idle_connections_give_their_slot_back() {
    let timeout = Duration::from_millis(200);
    let server =
        TestServer::start_with(Config { max_connections: 1, client_timeout: timeout, ..Config::default() }).await;

    // Headers that never end.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /_smemu/health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    served_within(&server, PATIENCE).await;
    assert!(closed_by_server(&mut slow).await);

    // A kept-alive connection that never sends its next request.
    let mut idle = holding_a_slot(&server, None).await;
    served_within(&server, PATIENCE).await;
    assert!(closed_by_server(&mut idle).await);
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answers_is_cut_off() {
    let timeout = Duration::from_millis(300);
    let server =
        TestServer::start_with(Config { max_connections: 1, client_timeout: timeout, ..Config::default() }).await;
    let value = "x".repeat(60_000);
    let r = server
        .call("CreateSecret", &format!(r#"{{"Name":"big","SecretString":"{value}","ClientRequestToken":"{TOKEN_A}"}}"#))
        .await;
    assert_eq!(r.status, 200);

    let body = r#"{"SecretId":"big"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{GET_SECRET}Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut reader = holding_a_slot(&server, Some(4096)).await;
    // About 18 MB of answers, far more than the socket buffers hold, and none of it read.
    let pipelined = 300;
    within("pipelining", reader.write_all(request.repeat(pipelined).as_bytes())).await.unwrap();

    let statuses = served_within(&server, PATIENCE).await;
    assert_eq!(statuses[0], 503, "the stalled connection held the only slot at first");
    let mut delivered = Vec::new();
    let _ = within("rest", reader.read_to_end(&mut delivered)).await;
    let answers = delivered.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
    assert!(answers < pipelined, "all {answers} answers were delivered: the connection was not cut off");
}

/// The binary under a low open-file limit, with more clients than descriptors.
#[test]
fn at_the_fd_limit_smemu_backs_off_instead_of_spinning_and_serves_again() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    const LIMIT: usize = 32;

    let mut child = Command::new("sh")
        .args(["-c", &format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_smemu")])
        .args(["--port", "0", "--log-level", "error"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn smemu");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("the ready line");
    let kill = KillOnDrop(child);

    // Every descriptor number under the limit in use: accept() can only fail with EMFILE.
    let exhausted = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<usize>().ok()).filter(|&fd| fd < LIMIT).count()
            })
            .unwrap_or(0)
            == LIMIT
    };
    let clients: Vec<_> = (0..2 * LIMIT).map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let start = Instant::now();
    while !exhausted() {
        assert!(start.elapsed() < PATIENCE, "smemu never reached its descriptor limit");
        std::thread::sleep(Duration::from_millis(10));
    }

    // CPU time (user + system, in clock ticks of 10 ms) while the backlog waits.
    let cpu_ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let window = Duration::from_secs(2);
    let before = cpu_ticks();
    let start = Instant::now();
    while start.elapsed() < window {
        std::thread::sleep(Duration::from_millis(100));
    }
    let used = cpu_ticks() - before;
    assert!(used < 20, "smemu burned {used} ticks of CPU in {window:?} while it could not accept");

    drop(clients);
    let start = Instant::now();
    loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(PATIENCE))?;
            s.write_all(HEALTH)?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        if answer.as_ref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(start.elapsed() < 2 * PATIENCE, "not served again once the clients left: {answer:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(kill);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
