//! The audit trail: one CloudTrail record per call of every service, Secrets Manager's own
//! events, LookupEvents through the CloudTrail SDK, the control view, the files, and no secret
//! value anywhere in any of them.

mod common;

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_secretsmanager::primitives::Blob;
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use smemu::config::Config;

const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotator";

fn trail_client(server: &TestServer, access_key: &str, secret: &str, region: &str) -> aws_sdk_cloudtrail::Client {
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudtrail::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(access_key, secret, None, None, "tests"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_cloudtrail::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudtrail::Client::from_conf(config)
}

fn trail(server: &TestServer) -> aws_sdk_cloudtrail::Client {
    trail_client(server, "AKIAIOSFODNN7EXAMPLE", "secret", "us-east-1")
}

fn by(key: LookupAttributeKey, value: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(key).attribute_value(value).build().unwrap()
}

/// The events LookupEvents lists for one attribute, with the default client.
async fn lookup(server: &TestServer, key: LookupAttributeKey, value: &str) -> Vec<aws_sdk_cloudtrail::types::Event> {
    let out = trail(server).lookup_events().lookup_attributes(by(key, value)).send().await.unwrap();
    out.events().to_vec()
}

/// Every record the control API shows, oldest first.
async fn records(server: &TestServer, query: &str) -> Vec<Value> {
    let r = server.control("GET", &format!("/_smemu/audit{query}"), "").await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    r.json()["events"].as_array().cloned().unwrap_or_default()
}

/// The records of calls made by a client itself (not those Secrets Manager makes for one).
fn direct(records: Vec<Value>) -> Vec<Value> {
    records.into_iter().filter(|r| r["userIdentity"].get("invokedBy").is_none()).collect()
}

fn names(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["eventName"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn lookup_events_lists_a_read_and_a_refused_read_by_event_name() {
    let server = TestServer::start_strict().await;
    let alice = server.client_with(KEY_ID, SECRET_KEY, None);
    alice.create_secret().name("db").secret_string("s3cr3t-alice").send().await.unwrap();
    alice.get_secret_value().secret_id("db").send().await.unwrap();
    // Bob's key is unknown to smemu: authentication refuses him.
    let bob = server.client_with("AKIDBOB0000000000000", "wrong", None);
    bob.get_secret_value().secret_id("db").send().await.unwrap_err();

    let out = trail_client(&server, KEY_ID, SECRET_KEY, "us-east-1")
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventName, "GetSecretValue"))
        .send()
        .await
        .unwrap();
    let events = out.events();
    // The refused call runs in no account it could prove, so it lands in the default one.
    assert_eq!(events.len(), 1, "{events:?}");
    let read: Value = serde_json::from_str(events[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(read["userIdentity"]["type"], "Root");
    assert_eq!(read["requestParameters"], json!({ "secretId": "db" }));
    assert_eq!(read["responseElements"], Value::Null);
    assert_eq!(read["readOnly"], true);
    assert_eq!(events[0].read_only(), Some("true"));
    assert_eq!(events[0].access_key_id(), Some(KEY_ID));

    // Alice's key with a wrong secret: refused, and recorded in Alice's account.
    server.client_with(KEY_ID, "not-the-secret", None).get_secret_value().secret_id("db").send().await.unwrap_err();
    let mine = trail_client(&server, KEY_ID, SECRET_KEY, "us-east-1")
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventName, "GetSecretValue"))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.events().len(), 2);
    let forged: Value = serde_json::from_str(mine.events()[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(forged["errorCode"], "InvalidSignatureException");
    assert_eq!(forged["recipientAccountId"], ACCOUNT);

    let refused: Vec<Value> = server
        .app
        .audit
        .trail()
        .events()
        .iter()
        .filter(|e| e.name == "GetSecretValue")
        .map(|e| serde_json::from_str(&e.record()).unwrap())
        .collect();
    assert_eq!(refused.len(), 3);
    assert_eq!(refused[1]["errorCode"], "UnrecognizedClientException");
    assert_eq!(refused[1]["userIdentity"], json!({ "type": "Unknown", "accessKeyId": "AKIDBOB0000000000000" }));
}

#[tokio::test]
async fn a_refusal_is_recorded_as_access_denied_with_its_message() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("db").secret_string("v").send().await.unwrap();
    // No hook answers for the function: Secrets Manager cannot invoke it.
    let err = sm.rotate_secret().secret_id("db").rotation_lambda_arn(FN).send().await.unwrap_err();
    let (code, message) = err_of(err);
    assert_eq!(code, "AccessDeniedException");
    let events = lookup(&server, LookupAttributeKey::EventName, "RotateSecret").await;
    let record: Value = serde_json::from_str(events[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(record["errorCode"], "AccessDenied");
    assert_eq!(record["errorMessage"], message.as_str());
    assert_eq!(record["requestParameters"]["secretId"], "db");
    assert_eq!(record["requestParameters"]["rotationLambdaARN"], FN);
}

#[tokio::test]
async fn every_call_of_every_service_makes_exactly_one_event() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("app").secret_string("v1").send().await.unwrap();
    sm.describe_secret().secret_id("app").send().await.unwrap();
    sm.put_secret_value().secret_id("app").secret_string("v2").send().await.unwrap();
    sm.list_secrets().send().await.unwrap();
    sm.get_secret_value().secret_id("nope").send().await.unwrap_err();
    sm.delete_secret().secret_id("app").force_delete_without_recovery(true).send().await.unwrap();
    let kms = server.kms();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.describe_key().key_id(&key).send().await.unwrap();
    let sts = server.sts_with("AKIAIOSFODNN7EXAMPLE", "secret", None);
    sts.get_caller_identity().send().await.unwrap();
    trail(&server).lookup_events().send().await.unwrap();

    let all = direct(records(&server, "").await);
    assert_eq!(
        names(&all),
        [
            "CreateSecret",
            "DescribeSecret",
            "PutSecretValue",
            "ListSecrets",
            "GetSecretValue",
            "DeleteSecret",
            "CreateKey",
            "DescribeKey",
            "GetCallerIdentity",
            "LookupEvents"
        ]
    );
    let read_only: Vec<bool> = all.iter().map(|r| r["readOnly"].as_bool().unwrap()).collect();
    assert_eq!(read_only, [false, true, false, true, true, false, false, true, true, true]);
    let sources: Vec<&str> = all.iter().map(|r| r["eventSource"].as_str().unwrap()).collect();
    assert_eq!(sources[0], "secretsmanager.amazonaws.com");
    assert_eq!(sources[6], "kms.amazonaws.com");
    assert_eq!(sources[8], "sts.amazonaws.com");
    assert_eq!(sources[9], "cloudtrail.amazonaws.com");
    assert_eq!(all[4]["errorCode"], "ResourceNotFoundException");
    // A mutation shows what it answered (lower camel case); a read shows nothing.
    assert_eq!(all[0]["responseElements"]["name"], "app");
    assert!(all[0]["responseElements"]["arn"].as_str().unwrap().starts_with("arn:aws:secretsmanager:"));
    assert_eq!(all[1]["responseElements"], Value::Null);
    for record in &all {
        assert_eq!(record["eventVersion"], "1.11");
        assert_eq!(record["eventType"], "AwsApiCall");
        assert_eq!(record["eventCategory"], "Management");
        assert_eq!(record["managementEvent"], true);
        assert_eq!(record["eventTime"], "2026-01-01T00:00:00Z");
        assert_eq!(record["sourceIPAddress"], "127.0.0.1");
        assert!(record["userAgent"].as_str().is_some_and(|a| a.contains("aws-sdk-rust")), "{record}");
        assert!(record["requestID"].as_str().is_some_and(|id| !id.is_empty()));
    }
}

#[tokio::test]
async fn the_request_id_is_the_one_the_answer_carried() {
    let server = TestServer::start().await;
    let r = server.call("ListSecrets", "{}").await;
    let id = r.header("x-amzn-requestid").unwrap().to_owned();
    let all = records(&server, "").await;
    assert_eq!(all[0]["requestID"], id.as_str());
}

#[tokio::test]
async fn lookups_filter_by_each_attribute_and_page_newest_first() {
    let server = TestServer::start().await;
    let sm = server.client();
    for i in 0..5 {
        sm.create_secret().name(format!("s{i}")).secret_string("v").send().await.unwrap();
        server.advance(1000);
    }
    sm.describe_secret().secret_id("s3").send().await.unwrap();
    // The reader's own lookups carry another key than the calls it looks for; the KMS calls
    // Secrets Manager makes for each value are left out by the event source.
    let ct = trail_client(&server, "AKIATRAILREADER00000", "secret", "us-east-1");
    let page = ct
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventSource, "secretsmanager.amazonaws.com"))
        .max_results(2)
        .send()
        .await
        .unwrap();
    let first: Vec<&str> = page.events().iter().map(|e| e.event_name().unwrap()).collect();
    assert_eq!(first, ["DescribeSecret", "CreateSecret"]);
    let token = page.next_token().unwrap().to_owned();
    let page = ct
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventSource, "secretsmanager.amazonaws.com"))
        .max_results(2)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.events().len(), 2);
    assert_eq!(page.events()[0].resources()[0].resource_name(), Some("s3"));
    // The paginator walks to the end: 6 calls, 5 KMS calls made for them, and the two lookups above.
    let mut pages = ct.lookup_events().max_results(3).into_paginator().send();
    let mut seen = 0;
    while let Some(page) = pages.next().await {
        seen += page.unwrap().events().len();
    }
    assert_eq!(seen, 13);
    // A token is only good for the parameters it came with.
    let err = ct
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::ReadOnly, "true"))
        .next_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidNextTokenException"));

    let count = |key: LookupAttributeKey, value: &'static str| {
        let ct = ct.clone();
        async move { ct.lookup_events().lookup_attributes(by(key, value)).send().await.unwrap().events().len() }
    };
    assert_eq!(count(LookupAttributeKey::ResourceName, "s2").await, 1);
    assert_eq!(count(LookupAttributeKey::ResourceType, "AWS::SecretsManager::Secret").await, 6);
    assert_eq!(count(LookupAttributeKey::EventSource, "secretsmanager.amazonaws.com").await, 6);
    // The caller's calls and the KMS calls made on its behalf.
    assert_eq!(count(LookupAttributeKey::AccessKeyId, "AKIAIOSFODNN7EXAMPLE").await, 11);
    assert!(count(LookupAttributeKey::Username, "root").await > 6);
    assert_eq!(count(LookupAttributeKey::Username, "nobody").await, 0);
    assert_eq!(count(LookupAttributeKey::ReadOnly, "false").await, 5);
    let id = ct.lookup_events().max_results(1).send().await.unwrap().events()[0].event_id().unwrap().to_owned();
    let by_id = ct.lookup_events().lookup_attributes(by(LookupAttributeKey::EventId, &id)).send().await.unwrap();
    assert_eq!(by_id.events().len(), 1);

    // The time range is inclusive, on smemu's clock.
    let at = |secs: i64| aws_sdk_cloudtrail::primitives::DateTime::from_secs(START + secs);
    let window = ct.lookup_events().start_time(at(1)).end_time(at(2)).send().await.unwrap();
    let created: Vec<&str> = window
        .events()
        .iter()
        .filter(|e| e.event_name() == Some("CreateSecret"))
        .map(|e| e.resources()[0].resource_name().unwrap())
        .collect();
    assert_eq!(created, ["s2", "s1"]);
    let err = ct.lookup_events().start_time(at(2)).end_time(at(1)).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidTimeRangeException"));
    let err = ct.lookup_events().max_results(51).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidMaxResultsException"));
    let err = ct
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventName, "a"))
        .lookup_attributes(by(LookupAttributeKey::EventName, "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidLookupAttributesException"));
}

#[tokio::test]
async fn lookups_see_only_the_callers_account_and_region() {
    let server = TestServer::start().await;
    server.client_as("111111111111", "us-east-1").create_secret().name("a").secret_string("v").send().await.unwrap();
    server.client_as("222222222222", "us-east-1").create_secret().name("b").secret_string("v").send().await.unwrap();
    server.client_as("111111111111", "eu-west-1").create_secret().name("c").secret_string("v").send().await.unwrap();
    let out = trail_client(&server, "111111111111", "secret", "us-east-1")
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::EventSource, "secretsmanager.amazonaws.com"))
        .send()
        .await
        .unwrap();
    let named: Vec<&str> = out.events().iter().map(|e| e.resources()[0].resource_name().unwrap()).collect();
    assert_eq!(named, ["a"]);
}

#[tokio::test]
async fn a_rotation_that_succeeds_and_one_that_fails_leave_service_events() {
    let server = TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await;
    let r = server.control("POST", "/_smemu/hooks", &json!({ "functionArn": FN, "kind": "builtin" }).to_string()).await;
    assert_eq!(r.status, 200);
    let sm = server.client();
    let arn = sm.create_secret().name("db").secret_string("v").send().await.unwrap().arn.unwrap();
    sm.rotate_secret().secret_id("db").rotation_lambda_arn(FN).send().await.unwrap();
    let failing = json!({
        "functionArn": FN, "kind": "command", "program": "sh",
        "args": ["-c", "echo 'connection refused by db.internal' >&2; exit 3"], "timeoutMs": 20000,
    });
    let r = server.control("POST", "/_smemu/hooks", &failing.to_string()).await;
    assert_eq!(r.status, 200);
    sm.rotate_secret().secret_id("db").send().await.unwrap();

    let events = records(&server, &format!("?resource={arn}")).await;
    let service: Vec<&Value> = events.iter().filter(|r| r["eventType"] == "AwsServiceEvent").collect();
    let named: Vec<&str> = service.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(named, ["RotationStarted", "RotationSucceeded", "RotationStarted", "RotationFailed"]);
    let failed = service[3];
    assert_eq!(
        failed["userIdentity"],
        json!({ "accountId": "000000000000", "invokedBy": "secretsmanager.amazonaws.com" })
    );
    assert_eq!(failed["additionalEventData"], json!({ "SecretId": arn }));
    assert_eq!(failed["sourceIPAddress"], "secretsmanager.amazonaws.com");
    assert!(failed.get("errorCode").is_none());
    let message = failed["errorMessage"].as_str().unwrap();
    assert!(message.starts_with(&format!("Error when executing lambda {FN} during createSecret step")), "{message}");
    assert!(message.contains("connection refused by db.internal"), "{message}");
    assert!(failed["requestID"].as_str().unwrap().starts_with(&format!("Rotation-{arn}-")));
    let events = lookup(&server, LookupAttributeKey::EventName, "RotationFailed").await;
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_deletion_window_starts_is_cancelled_and_ends_on_the_clock() {
    let server = TestServer::start().await;
    let sm = server.client();
    let arn = sm.create_secret().name("old").secret_string("v").send().await.unwrap().arn.unwrap();
    sm.delete_secret().secret_id("old").recovery_window_in_days(7).send().await.unwrap();
    sm.restore_secret().secret_id("old").send().await.unwrap();
    sm.delete_secret().secret_id("old").recovery_window_in_days(7).send().await.unwrap();
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"8d"}"#).await;
    assert_eq!(r.status, 200);
    let service: Vec<Value> =
        records(&server, "").await.into_iter().filter(|r| r["eventType"] == "AwsServiceEvent").collect();
    assert_eq!(
        names(&service),
        ["StartSecretVersionDelete", "CancelSecretVersionDelete", "StartSecretVersionDelete", "EndSecretVersionDelete"]
    );
    assert!(service.iter().all(|r| r["additionalEventData"]["SecretId"] == arn.as_str()));
    assert_eq!(service[3]["eventTime"], "2026-01-08T00:00:00Z");
}

/// The replication events of the primary `arn`, as `(name, replica ARN, errorMessage)`.
async fn replication_steps(server: &TestServer, arn: &str) -> Vec<(String, String, Option<String>)> {
    let events = records(server, &format!("?resource={arn}")).await;
    events
        .iter()
        .filter(|r| r["eventName"].as_str().is_some_and(|n| n.starts_with("Replication")))
        .map(|r| {
            assert_eq!(r["eventType"], "AwsServiceEvent");
            assert_eq!(r["awsRegion"], "us-east-1", "recorded where the primary is");
            assert_eq!(r["additionalEventData"]["SecretId"], arn);
            assert!(r["userIdentity"].get("type").is_none());
            assert!(r.get("errorCode").is_none());
            (
                r["eventName"].as_str().unwrap().to_owned(),
                r["additionalEventData"]["ReplicaSecretARN"].as_str().unwrap().to_owned(),
                r["errorMessage"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// `app/db` in us-east-1 with a replica in eu-west-1; its ARN.
async fn replicated(sm: &aws_sdk_secretsmanager::Client) -> String {
    use aws_sdk_secretsmanager::types::ReplicaRegionType;
    let out = sm
        .create_secret()
        .name("app/db")
        .secret_string("s1")
        .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").build())
        .send()
        .await
        .unwrap();
    out.arn.unwrap()
}

#[tokio::test]
async fn copies_to_a_replica_leave_replication_events_that_succeed_fail_and_lag() {
    let server = TestServer::start().await;
    let sm = server.client();
    let arn = replicated(&sm).await;
    let replica = arn.replace(":us-east-1:", ":eu-west-1:");
    let step = |name: &str, error: Option<&str>| (name.to_owned(), replica.clone(), error.map(str::to_owned));
    assert_eq!(
        replication_steps(&server, &arn).await,
        [step("ReplicationStarted", None), step("ReplicationSucceeded", None)]
    );
    // A read copies nothing; a change copies again.
    sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    sm.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    assert_eq!(replication_steps(&server, &arn).await.len(), 4);

    let r = server.control("POST", "/_smemu/faults", r#"{"region":"eu-west-1","fail":"Region unreachable"}"#).await;
    assert_eq!(r.status, 200);
    sm.update_secret().secret_id("app/db").description("d").send().await.unwrap();
    server.control("DELETE", "/_smemu/faults", "").await;
    let steps = replication_steps(&server, &arn).await;
    assert_eq!(
        steps[4..],
        [
            step("ReplicationStarted", None),
            step("ReplicationFailed", Some("Region unreachable")),
            step("ReplicationStarted", None),
            step("ReplicationFailed", Some("Region unreachable")),
            step("ReplicationStarted", None),
            step("ReplicationSucceeded", None),
        ],
        "the fault fails the replica at once, then the change; clearing it catches up"
    );

    // A lagging copy starts with the change and lands when the clock passes the lag.
    server.control("POST", "/_smemu/faults", r#"{"region":"eu-west-1","lag":"10m"}"#).await;
    sm.put_secret_value().secret_id("app/db").secret_string("s3").send().await.unwrap();
    sm.put_secret_value().secret_id("app/db").secret_string("s4").send().await.unwrap();
    assert_eq!(replication_steps(&server, &arn).await[10..], [step("ReplicationStarted", None)]);
    server.control("POST", "/_smemu/clock", r#"{"advance":"10m"}"#).await;
    assert_eq!(
        replication_steps(&server, &arn).await[10..],
        [step("ReplicationStarted", None), step("ReplicationSucceeded", None)]
    );
    let events = lookup(&server, LookupAttributeKey::EventName, "ReplicationFailed").await;
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn a_restart_copies_replicas_again_without_recording_it() {
    let dir = std::env::temp_dir().join(format!("smemu-audit-replicas-{}", uuid::Uuid::new_v4()));
    let first = TestServer::start().await;
    first.app.open_data_dir(&dir, false).unwrap();
    let arn = replicated(&first.client()).await;
    first.stop().await;
    let second = TestServer::start().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let names: Vec<String> = replication_steps(&second, &arn).await.into_iter().map(|s| s.0).collect();
    assert_eq!(names, ["ReplicationStarted", "ReplicationSucceeded"], "the trail kept, nothing added");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_secret_value_reaches_a_record_or_the_audit_file() {
    let dir = std::env::temp_dir().join(format!("smemu-audit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    let server = TestServer::start().await;
    server.app.audit.open_log(&log).unwrap();
    let (first, second, third) = ("Zq7-first-distinct-value", "Zq7-second-distinct-value", "Zq7-third-distinct-bin");
    let sm = server.client();
    sm.create_secret().name("v").secret_string(first).send().await.unwrap();
    let put = sm.put_secret_value().secret_id("v").secret_string(second).send().await.unwrap();
    sm.update_secret().secret_id("v").secret_binary(Blob::new(third.as_bytes())).send().await.unwrap();
    sm.get_secret_value().secret_id("v").version_id(put.version_id.unwrap()).send().await.unwrap();
    sm.batch_get_secret_value().secret_id_list("v").send().await.unwrap();
    let password = sm.get_random_password().password_length(40).send().await.unwrap().random_password.unwrap();
    let kms = server.kms();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let sealed = kms
        .encrypt()
        .key_id(&key)
        .plaintext(aws_sdk_kms::primitives::Blob::new("Zq7-kms-plaintext"))
        .send()
        .await
        .unwrap();
    let blob = sealed.ciphertext_blob.unwrap();
    kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap();
    let data_key =
        kms.generate_data_key().key_id(&key).key_spec(aws_sdk_kms::types::DataKeySpec::Aes256).send().await.unwrap();

    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let forbidden = [
        first.to_owned(),
        second.to_owned(),
        third.to_owned(),
        b64(third.as_bytes()),
        password,
        "Zq7-kms-plaintext".to_owned(),
        b64(b"Zq7-kms-plaintext"),
        b64(blob.as_ref()),
        b64(data_key.plaintext.unwrap().as_ref()),
        "Zq7".to_owned(),
    ];
    let recorded: Vec<String> = server.app.audit.trail().events().iter().map(|e| e.record().into_owned()).collect();
    let parsed: Vec<Value> = recorded.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    assert_eq!(direct(parsed).len(), 10);
    let file = std::fs::read_to_string(&log).unwrap();
    assert_eq!(file.lines().count(), recorded.len());
    for value in &forbidden {
        for record in &recorded {
            assert!(!record.contains(value.as_str()), "{value} in {record}");
        }
        assert!(!file.contains(value.as_str()), "{value} in the audit file");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_trail_survives_a_restart_with_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("smemu-audit-dir-{}", uuid::Uuid::new_v4()));
    let first = TestServer::start().await;
    first.app.open_data_dir(&dir, false).unwrap();
    first.client().create_secret().name("kept").secret_string("v").send().await.unwrap();
    first.stop().await;
    let second = TestServer::start().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let events = lookup(&second, LookupAttributeKey::EventName, "CreateSecret").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].username(), Some("root"));
    let by_name = trail(&second)
        .lookup_events()
        .lookup_attributes(by(LookupAttributeKey::ResourceName, "kept"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.events().len(), 1);
    assert_eq!(by_name.events()[0].resources()[0].resource_type(), Some("AWS::SecretsManager::Secret"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_trail_keeps_only_its_retained_newest_events() {
    let server = TestServer::start_with(Config { audit_retain: 3, ..Config::default() }).await;
    for i in 0..5 {
        server.client().describe_secret().secret_id(format!("r{i}")).send().await.unwrap_err();
    }
    let kept: Vec<Value> = records(&server, "").await;
    let named: Vec<&str> = kept.iter().map(|r| r["requestParameters"]["secretId"].as_str().unwrap()).collect();
    assert_eq!(named, ["r2", "r3", "r4"]);
}

#[tokio::test]
async fn with_auditing_off_nothing_is_recorded() {
    let server = TestServer::start_with(Config { audit: false, ..Config::default() }).await;
    server.client().create_secret().name("x").secret_string("v").send().await.unwrap();
    assert!(trail(&server).lookup_events().send().await.unwrap().events().is_empty());
    let r = server.control("GET", "/_smemu/audit", "").await;
    assert_eq!(r.json(), json!({ "enabled": false, "events": [] }));
}

#[tokio::test]
async fn the_control_view_filters_and_clears_the_trail() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("x").secret_string("v").send().await.unwrap();
    sm.describe_secret().secret_id("missing").send().await.unwrap_err();
    assert_eq!(names(&records(&server, "?errorCode=ResourceNotFoundException").await), ["DescribeSecret"]);
    assert_eq!(names(&records(&server, "?eventName=CreateSecret&username=root").await), ["CreateSecret"]);
    // The value's data key, which Secrets Manager asked KMS for.
    assert_eq!(names(&records(&server, "?eventSource=kms.amazonaws.com").await), ["GenerateDataKey"]);
    let r = server.control("DELETE", "/_smemu/audit", "").await;
    assert_eq!(r.json(), json!({ "forgotten": 3 }));
    assert!(records(&server, "").await.is_empty());
}

#[tokio::test]
async fn every_operation_of_both_models_makes_exactly_one_event_with_its_outcome() {
    let server = TestServer::start().await;
    let mut expected = Vec::new();
    for op in smemu::services::secretsmanager::ops::Operation::ALL {
        let r = server.call(op.name(), "{}").await;
        expected.push((op.name().to_owned(), "secretsmanager.amazonaws.com", r.status == 200));
    }
    for op in smemu::services::kms::Operation::ALL {
        let r = server.kms_call(op.name(), "{}").await;
        expected.push((op.name().to_owned(), "kms.amazonaws.com", r.status == 200));
    }
    let all = direct(records(&server, "").await);
    let seen: Vec<(String, &str, bool)> = all
        .iter()
        .map(|r| {
            let source = if r["eventSource"] == "kms.amazonaws.com" {
                "kms.amazonaws.com"
            } else {
                "secretsmanager.amazonaws.com"
            };
            (r["eventName"].as_str().unwrap().to_owned(), source, r.get("errorCode").is_none())
        })
        .collect();
    assert_eq!(seen, expected);
    let read_only = |name: &str| all.iter().find(|r| r["eventName"] == name).unwrap()["readOnly"].as_bool().unwrap();
    for (name, expected) in [
        ("GetSecretValue", true),
        ("ListSecrets", true),
        ("PutSecretValue", false),
        ("Decrypt", true),
        ("CreateKey", false),
    ] {
        assert_eq!(read_only(name), expected, "{name}");
    }
}

#[tokio::test]
async fn deletion_events_come_one_per_version() {
    let server = TestServer::start().await;
    let sm = server.client();
    let arn = sm.create_secret().name("two").secret_string("v1").send().await.unwrap().arn.unwrap();
    sm.put_secret_value().secret_id("two").secret_string("v2").send().await.unwrap();
    sm.delete_secret().secret_id("two").recovery_window_in_days(7).send().await.unwrap();
    sm.restore_secret().secret_id("two").send().await.unwrap();
    sm.delete_secret().secret_id("two").recovery_window_in_days(7).send().await.unwrap();
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"8d"}"#).await;
    assert_eq!(r.status, 200);
    let service: Vec<Value> =
        records(&server, "").await.into_iter().filter(|r| r["eventType"] == "AwsServiceEvent").collect();
    assert_eq!(
        names(&service),
        [
            "StartSecretVersionDelete",
            "StartSecretVersionDelete",
            "CancelSecretVersionDelete",
            "CancelSecretVersionDelete",
            "StartSecretVersionDelete",
            "StartSecretVersionDelete",
            "EndSecretVersionDelete",
            "EndSecretVersionDelete"
        ]
    );
    assert!(service.iter().all(|r| r["additionalEventData"]["SecretId"] == arn.as_str()));
}

#[tokio::test]
async fn a_version_made_by_hand_during_a_rotation_abandons_it() {
    let server = TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await;
    // createSecret: instead of filling the rotation's version, a new version takes AWSPENDING
    // (as a person's PutSecretValue would), and the step fails.
    let script = r#"
import json, os, urllib.request
body = json.dumps({"SecretId": os.environ["SMEMU_SECRET_ID"], "ClientRequestToken": "manual-version-0000000000000000001",
                   "SecretString": "by hand", "VersionStages": ["AWSPENDING"]}).encode()
auth = "AWS4-HMAC-SHA256 Credential=000000000000/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=body, headers={
    "X-Amz-Target": "secretsmanager.PutSecretValue", "Content-Type": "application/x-amz-json-1.1",
    "Authorization": auth, "X-Amz-Date": "20260101T000000Z"})
urllib.request.urlopen(request, timeout=10).read()
raise SystemExit(1)
"#;
    let hook = json!({ "functionArn": FN, "kind": "command", "program": "python3", "args": ["-c", script], "timeoutMs": 20000 });
    let r = server.control("POST", "/_smemu/hooks", &hook.to_string()).await;
    assert_eq!(r.status, 200);
    let sm = server.client();
    let arn = sm.create_secret().name("busy").secret_string("v").send().await.unwrap().arn.unwrap();
    sm.rotate_secret().secret_id("busy").rotation_lambda_arn(FN).send().await.unwrap();
    let pending = sm.get_secret_value().secret_id("busy").version_stage("AWSPENDING").send().await.unwrap();
    assert_eq!(pending.secret_string(), Some("by hand"), "the hook's version took AWSPENDING");

    let events = records(&server, &format!("?resource={arn}")).await;
    let service: Vec<&Value> = events.iter().filter(|r| r["eventType"] == "AwsServiceEvent").collect();
    let named: Vec<&str> = service.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(named, ["RotationStarted", "RotationAbandoned"]);
    assert_eq!(service[1]["additionalEventData"], json!({ "SecretId": arn }));
    assert!(service[1].get("errorMessage").is_none());
}

#[tokio::test]
async fn a_key_whose_deletion_window_ends_leaves_kms_deletekey_event() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    kms.schedule_key_deletion().key_id(key.key_id()).pending_window_in_days(7).send().await.unwrap();
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"7d"}"#).await;
    assert_eq!(r.status, 200);
    let service: Vec<Value> =
        records(&server, "").await.into_iter().filter(|r| r["eventType"] == "AwsServiceEvent").collect();
    assert_eq!(names(&service), ["DeleteKey"]);
    let deleted = &service[0];
    assert_eq!(deleted["eventSource"], "kms.amazonaws.com");
    assert_eq!(deleted["userIdentity"], json!({ "accountId": ACCOUNT, "invokedBy": "kms.amazonaws.com" }));
    assert_eq!(deleted["sourceIPAddress"], "kms.amazonaws.com");
    assert_eq!(deleted["readOnly"], false);
    assert_eq!(deleted["resources"][0]["ARN"], key.arn().unwrap());
    assert_eq!(deleted["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(deleted["eventTime"], "2026-01-08T00:00:00Z");
}

#[tokio::test]
async fn lambda_calls_are_recorded_without_their_code_environment_or_payload() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let server = TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await;
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new("000000000000", "secret", None, None, "t"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    let lambda = aws_sdk_lambda::Client::from_conf(config);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("app.py", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, b"def handler(e, c):\n    return {'ok': True}\n").unwrap();
    let zip = zip.finish().unwrap().into_inner();
    lambda
        .create_function()
        .function_name("audited")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role("arn:aws:iam::000000000000:role/r")
        .environment(Environment::builder().variables("DB_PASSWORD", "lambda-env-distinct-91a").build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap();
    lambda.get_function().function_name("audited").send().await.unwrap();
    lambda
        .invoke()
        .function_name("audited")
        .payload(Blob::new(r#"{"card": "lambda-payload-distinct-5c2"}"#))
        .send()
        .await
        .unwrap();
    let missing = lambda.get_function().function_name("missing").send().await.unwrap_err();
    let missing = aws_sdk_lambda::error::ProvideErrorMetadata::message(&missing).unwrap().to_owned();

    let all = direct(records(&server, "?eventSource=lambda.amazonaws.com").await);
    assert_eq!(names(&all), ["CreateFunction", "GetFunction", "Invoke", "GetFunction"]);
    let read_only: Vec<bool> = all.iter().map(|r| r["readOnly"].as_bool().unwrap()).collect();
    assert_eq!(read_only, [false, true, false, true]);
    assert_eq!(all[0]["requestParameters"]["functionName"], "audited");
    assert_eq!(all[0]["requestParameters"]["runtime"], "python3.11");
    assert_eq!(all[1]["requestParameters"], json!({ "functionName": "audited" }));
    assert_eq!(all[3]["errorCode"], "ResourceNotFoundException");
    assert_eq!(all[3]["errorMessage"], missing.as_str(), "the message the caller was given");
    assert!(missing.contains("missing"), "{missing}");
    assert_eq!(all[0]["userIdentity"]["accountId"], "000000000000");
    let text = serde_json::to_string(&all).unwrap();
    for hidden in ["lambda-env-distinct-91a", "lambda-payload-distinct-5c2", "zipFile", "UEsDB"] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
}

#[tokio::test]
async fn iam_calls_are_recorded_without_the_secret_access_keys_they_create() {
    let server = TestServer::start().await;
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new("111122223333", "secret", None, None, "t"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    let iam = aws_sdk_iam::Client::from_conf(config);
    iam.create_user().user_name("auditor").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("auditor").policy_name("read").policy_document(policy).send().await.unwrap();
    let key = iam.create_access_key().user_name("auditor").send().await.unwrap().access_key.unwrap();
    iam.get_user().user_name("nobody").send().await.unwrap_err();

    let all = direct(records(&server, "?eventSource=iam.amazonaws.com").await);
    assert_eq!(names(&all), ["CreateUser", "PutUserPolicy", "CreateAccessKey", "GetUser"]);
    let read_only: Vec<bool> = all.iter().map(|r| r["readOnly"].as_bool().unwrap()).collect();
    assert_eq!(read_only, [false, false, false, true]);
    assert_eq!(all[0]["requestParameters"], json!({ "userName": "auditor" }));
    assert_eq!(all[1]["requestParameters"]["policyDocument"], policy);
    assert_eq!(all[3]["errorCode"], "NoSuchEntity");
    assert!(all[3]["errorMessage"].as_str().unwrap().contains("nobody"), "{}", all[3]);
    assert_eq!(all[0]["userIdentity"]["accountId"], "111122223333");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&key.secret_access_key), "a secret access key in {text}");
}
