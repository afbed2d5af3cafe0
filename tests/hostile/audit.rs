//! Audit: identifiers made to forge lines or records, oversized parameters, and LookupEvents
//! requests no SDK sends.

use crate::common::TestServer;
use serde_json::Value;

async fn lookup(server: &TestServer, body: &[u8]) -> crate::common::Raw {
    server
        .raw(
            "POST",
            &[
                ("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
                ("Content-Type", "application/x-amz-json-1.1"),
            ],
            body,
        )
        .await
}

#[tokio::test]
async fn an_identifier_built_to_forge_a_line_stays_inside_one_record() {
    let dir = std::env::temp_dir().join(format!("smemu-hostile-audit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    let server = TestServer::start().await;
    server.app.audit.open_log(&log).unwrap();
    let forged = "x\"}\n{\"eventName\":\"Forged\"\u{1b}[31m\u{0}";
    let body = serde_json::json!({ "SecretId": forged }).to_string();
    server.call("DescribeSecret", &body).await;
    let file = std::fs::read_to_string(&log).unwrap();
    assert_eq!(file.lines().count(), 1, "{file}");
    let record: Value = serde_json::from_str(file.trim_end()).unwrap();
    assert_eq!(record["requestParameters"]["secretId"], forged);
    assert_eq!(record["eventName"], "DescribeSecret");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn oversized_parameters_are_left_out_of_the_record() {
    let server = TestServer::start().await;
    let policy = "p".repeat(200_000);
    let body = serde_json::json!({ "SecretId": "x", "ResourcePolicy": policy }).to_string();
    server.call("PutResourcePolicy", &body).await;
    let events = server.app.audit.trail().events();
    assert_eq!(events.len(), 1);
    assert!(events[0].record().len() < 4096, "{} bytes", events[0].record().len());
    let record: Value = serde_json::from_str(&events[0].record()).unwrap();
    assert_eq!(record["requestParameters"], Value::Null);
}

#[tokio::test]
async fn lookup_requests_no_sdk_sends_get_json_errors() {
    let server = TestServer::start().await;
    let cases: [(&[u8], &str); 8] = [
        (b"{\"MaxResults\":\"ten\"}", "SerializationException"),
        (b"{\"LookupAttributes\":{\"AttributeKey\":\"EventName\"}}", "SerializationException"),
        (b"{\"LookupAttributes\":[{\"AttributeKey\":\"Nope\",\"AttributeValue\":\"x\"}]}", "ValidationException"),
        (b"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":\"\"}]}", "ValidationException"),
        (b"{\"StartTime\":\"yesterday\"}", "SerializationException"),
        (b"{\"NextToken\":\"\xff\xfe\"}", "SerializationException"),
        (b"{\"NextToken\":\"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\"}", "InvalidNextTokenException"),
        (b"[1,2,3]", "SerializationException"),
    ];
    for (body, code) in cases {
        let r = lookup(&server, body).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.json()["__type"], code, "{}", String::from_utf8_lossy(body));
    }
    let r = lookup(&server, format!("{{\"NextToken\":\"{}\"}}", "A".repeat(500_000)).as_bytes()).await;
    assert_eq!(r.json()["__type"], "InvalidNextTokenException");
    // The eight refusals above and the long token are each one event, recorded as failures.
    let events = server.app.audit.trail().events();
    assert!(events.iter().all(|e| e.name == "LookupEvents" && e.error_code().is_some()));
}
