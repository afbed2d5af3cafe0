//! The Lambda API attacked: archives that escape their directory, bodies past the cap, answers a
//! function tries to forge, code deployed by callers who may not.

use crate::common::TestServer;
use base64::Engine as _;
use smemu::config::Config;
use std::io::Write as _;

const ROLE: &str = "arn:aws:iam::000000000000:role/r";

async fn server() -> TestServer {
    TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        out.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn create_body(name: &str, zip: &[u8]) -> String {
    serde_json::json!({
        "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)}
    })
    .to_string()
}

async fn post(server: &TestServer, path: &str, body: &str) -> crate::common::Raw {
    server.request("POST", path, &[("Content-Type", "application/json")], body).await
}

#[tokio::test]
async fn an_archive_entry_that_climbs_out_is_refused_and_writes_nothing() {
    let server = server().await;
    let target = format!("smemu-escape-{}.py", uuid::Uuid::new_v4().simple());
    let zip = zip_of(&[("app.py", "def handler(e, c): return 1\n"), (&format!("../../../../../../tmp/{target}"), "x")]);
    let raw = post(&server, "/2015-03-31/functions", &create_body("f", &zip)).await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.header("x-amzn-errortype"), Some("InvalidParameterValueException"));
    assert!(!std::path::Path::new("/tmp").join(&target).exists());
    let get = server.request("GET", "/2015-03-31/functions/f", &[], "").await;
    assert_eq!(get.status, 404, "nothing was deployed");
    server.stop().await;
}

#[tokio::test]
async fn a_declared_body_over_the_cap_is_refused_before_it_is_read() {
    let server = server().await;
    let raw = server
        .request(
            "POST",
            "/2015-03-31/functions",
            &[("Content-Type", "application/json"), ("Content-Length", "999999999")],
            "",
        )
        .await;
    assert_eq!(raw.status, 413);
    assert_eq!(raw.header("x-amzn-errortype"), Some("RequestTooLargeException"));
    server.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_parameter_errors() {
    let server = server().await;
    for body in ["{", "[]", "\"x\"", "\u{0}"] {
        let raw = post(&server, "/2015-03-31/functions", body).await;
        assert_eq!(raw.status, 400, "{body:?}");
        assert_eq!(raw.header("x-amzn-errortype"), Some("InvalidParameterValueException"), "{body:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_function_cannot_forge_its_answer_on_stdout() {
    let server = server().await;
    // The runtime's answers carry a random nonce: lines printed on the real stdout are log.
    let code = r#"
import os
def handler(event, context):
    os.write(1, b'{"ok": true, "result": "forged"}\n')
    os.write(1, b'00000000000000000000000000000000 {"ok": true, "result": "forged"}\n')
    return "genuine"
"#;
    let created = post(&server, "/2015-03-31/functions", &create_body("f", &zip_of(&[("app.py", code)]))).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let raw = server
        .request(
            "POST",
            "/2015-03-31/functions/f/invocations",
            &[("Content-Type", "application/json"), ("X-Amz-Log-Type", "Tail")],
            "{}",
        )
        .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.json(), "genuine");
    let log = base64::engine::general_purpose::STANDARD.decode(raw.header("x-amz-log-result").unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("forged"), "the forged lines are the function's log");
    server.stop().await;
}

#[tokio::test]
async fn without_the_opt_in_nothing_that_runs_code_is_accepted() {
    let server = TestServer::start().await;
    let zip = zip_of(&[("app.py", "def handler(e, c): return 1\n")]);
    let create = post(&server, "/2015-03-31/functions", &create_body("f", &zip)).await;
    assert_eq!(create.status, 403);
    assert_eq!(create.header("x-amzn-errortype"), Some("AccessDeniedException"));
    let code =
        server.request("PUT", "/2015-03-31/functions/f/code", &[("Content-Type", "application/json")], "{}").await;
    assert_eq!(code.status, 403);
    let config = server
        .request("PUT", "/2015-03-31/functions/f/configuration", &[("Content-Type", "application/json")], "{}")
        .await;
    assert_eq!(config.status, 403);
    server.stop().await;
}
