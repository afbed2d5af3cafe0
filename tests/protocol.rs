//! The wire protocol seen from raw HTTP: what SDKs never send, and the exact shape of answers.

mod common;

use common::{TOKEN_A, TestServer};
use serde_json::{Value, json};

const UNKNOWN_OP: &str = "The requested operation is not recognized by the service.";

#[tokio::test]
async fn every_answer_has_a_request_id_and_json_content_type() {
    let server = TestServer::start().await;
    for (op, body) in [("ListSecrets", "{}"), ("GetSecretValue", r#"{"SecretId":"nope"}"#), ("Nope", "{}")] {
        let r = server.call(op, body).await;
        let id = r.header("x-amzn-requestid").expect("x-amzn-RequestId");
        assert_eq!(id.len(), 36, "{id}");
        assert!(uuid::Uuid::parse_str(id).is_ok());
        assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    }
}

#[tokio::test]
async fn not_found_is_a_400_with_bare_type_and_capital_message() {
    let server = TestServer::start().await;
    let r = server.call("GetSecretValue", r#"{"SecretId":"nope"}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}"#
    );
    assert_eq!(r.header("x-amzn-errortype"), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn routing_errors() {
    let server = TestServer::start().await;
    server.call("Nope", "{}").await.assert_error(400, "UnknownOperationException", UNKNOWN_OP);
    server.call("", "{}").await.assert_error(400, "UnknownOperationException", UNKNOWN_OP);
    let r = server.raw("POST", &[("X-Amz-Target", "kms.ListKeys")], b"{}").await;
    r.assert_error(400, "UnknownOperationException", UNKNOWN_OP);
    let r = server.raw("POST", &[], b"{}").await;
    r.assert_error(400, "UnknownOperationException", UNKNOWN_OP);
    let r = server.raw("GET", &[("X-Amz-Target", "secretsmanager.ListSecrets")], b"").await;
    r.assert_error(400, "UnknownOperationException", UNKNOWN_OP);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects() {
    let server = TestServer::start().await;
    for body in
        [&b"{"[..], b"[]", b"\"x\"", b"null", b"{\"SecretId\":}", &[0xff, 0xfe, 0x00, 0x80], b"{\"SecretId\":\"\xff\"}"]
    {
        let r = server.call_bytes("GetSecretValue", body).await;
        assert_eq!(r.status, 400, "{body:?}");
        assert_eq!(r.json()["__type"], "SerializationException", "{body:?}");
    }
    // An empty body counts as `{}`; unknown members are ignored.
    assert_eq!(server.call("ListSecrets", "").await.status, 200);
    assert_eq!(server.call("ListSecrets", r#"{"Whatever":[1,{"x":null}]}"#).await.status, 200);
    let deep = "[".repeat(100_000);
    let r = server.call("ListSecrets", &format!(r#"{{"X":{deep}}}"#)).await;
    assert_eq!(r.json()["__type"], "SerializationException");
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_server_goes_on() {
    let server = TestServer::start().await;
    let big = format!(r#"{{"Name":"big","SecretString":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
    let r = server.call("CreateSecret", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["__type"], "RequestEntityTooLargeException");
    assert_eq!(server.call("ListSecrets", "{}").await.status, 200);
}

#[tokio::test]
async fn garbage_on_the_socket_never_stops_the_server() {
    let server = TestServer::start().await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 100, 4096, 65_536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        let _ = server.raw_bytes_unparsed(&bytes).await;
    }
    let _ = server.raw_bytes_unparsed(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n").await;
    let _ = server.raw_bytes_unparsed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").await;
    assert_eq!(server.call("ListSecrets", "{}").await.status, 200);
}

/// Sends each member of each operation with a JSON type the model does not allow.
#[tokio::test]
async fn wrong_types_in_every_member_are_serialization_errors() {
    let server = TestServer::start().await;
    let model: Value = serde_json::from_str(include_str!("../model/secretsmanager.json")).unwrap();
    let shapes = &model["shapes"];
    let mut checked = 0;
    for (op, input) in model["operations"].as_object().unwrap() {
        let members = shapes[input.as_str().unwrap()]["members"].as_array().unwrap();
        for member in members {
            let (name, shape) = (member[0].as_str().unwrap(), member[1].as_str().unwrap());
            let wrong: &[Value] = match shapes[shape]["type"].as_str().unwrap() {
                "string" | "blob" => &[json!(12), json!(true), json!({}), json!([])],
                "boolean" => &[json!("true"), json!(1), json!([])],
                "integer" | "long" => &[json!("5"), json!(true), json!(1.5), json!(1e300), json!({})],
                "list" => &[json!("x"), json!({}), json!(5)],
                "structure" => &[json!("x"), json!([]), json!(5)],
                "timestamp" => &[json!("x"), json!([])],
                other => panic!("unexpected type {other}"),
            };
            for value in wrong {
                let body = json!({ name: value }).to_string();
                let r = server.call(op, &body).await;
                assert_eq!(r.status, 400, "{op} {body}");
                assert_eq!(r.json()["__type"], "SerializationException", "{op} {body}: {}", r.json());
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
    assert_eq!(server.call("ListSecrets", "{}").await.status, 200);
}

#[tokio::test]
async fn model_constraints_are_validation_errors() {
    let server = TestServer::start().await;
    server.call("GetSecretValue", "{}").await.assert_error(
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
    );
    server.call("CreateSecret", r#"{"Name":"n","ClientRequestToken":"short"}"#).await.assert_error(
        400,
        "ValidationException",
        "1 validation error detected: Value 'short' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32",
    );
    let r = server.call("CreateSecret", &json!({"Name": "n", "SecretString": "x".repeat(65_537)}).to_string()).await;
    r.assert_error(
        400,
        "ValidationException",
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
    );
    let r = server.call("DeleteSecret", r#"{}"#).await;
    assert_eq!(r.json()["__type"], "ValidationException");
    // The name check fires before the token check and before any lookup.
    server.call("PutSecretValue", r#"{"SecretId":"bad name","SecretString":"x"}"#).await.assert_error(
        400,
        "ValidationException",
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
    );
}

#[tokio::test]
async fn a_missing_token_is_refused_before_the_lookup() {
    let server = TestServer::start().await;
    let msg = "You must provide a ClientRequestToken value. We recommend a UUID-type value.";
    server.call("CreateSecret", r#"{"Name":"n","SecretString":"x"}"#).await.assert_error(
        400,
        "InvalidRequestException",
        msg,
    );
    server.call("PutSecretValue", r#"{"SecretId":"missing","SecretString":"x"}"#).await.assert_error(
        400,
        "InvalidRequestException",
        msg,
    );
    server.call("UpdateSecret", r#"{"SecretId":"missing","SecretString":"x"}"#).await.assert_error(
        400,
        "InvalidRequestException",
        msg,
    );
    let create = format!(r#"{{"Name":"n","SecretString":"x","ClientRequestToken":"{TOKEN_A}"}}"#);
    assert_eq!(server.call("CreateSecret", &create).await.status, 200);
    // Without a value, UpdateSecret needs no token.
    assert_eq!(server.call("UpdateSecret", r#"{"SecretId":"n","Description":"d"}"#).await.status, 200);
}

#[tokio::test]
async fn timestamps_are_epoch_seconds_with_millis() {
    let server = TestServer::start().await;
    server.advance(123);
    let create = format!(r#"{{"Name":"n","SecretString":"x","ClientRequestToken":"{TOKEN_A}"}}"#);
    server.call("CreateSecret", &create).await;
    let body = String::from_utf8(server.call("DescribeSecret", r#"{"SecretId":"n"}"#).await.body).unwrap();
    assert!(body.contains(r#""CreatedDate":1767225600.123"#), "{body}");
}

#[tokio::test]
async fn requests_signed_for_a_region_and_account_land_there() {
    let server = TestServer::start().await;
    let auth = "AWS4-HMAC-SHA256 Credential=123456789012/20260101/eu-central-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
    let create = format!(r#"{{"Name":"n","SecretString":"x","ClientRequestToken":"{TOKEN_A}"}}"#);
    let r = server
        .raw(
            "POST",
            &[
                ("X-Amz-Target", "secretsmanager.CreateSecret"),
                ("Authorization", auth),
                ("X-Amz-Date", "20260101T000000Z"),
            ],
            create.as_bytes(),
        )
        .await;
    assert_eq!(
        r.json()["ARN"].as_str().unwrap().split(':').take(5).collect::<Vec<_>>(),
        ["arn", "aws", "secretsmanager", "eu-central-1", "123456789012"]
    );
    // Unsigned requests use the default account and region, which do not see it.
    let r = server.call("DescribeSecret", r#"{"SecretId":"n"}"#).await;
    assert_eq!(r.json()["__type"], "ResourceNotFoundException");
}
