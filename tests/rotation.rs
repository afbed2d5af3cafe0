//! RotateSecret and CancelRotateSecret against hooks, the rotation log, and schedules that fire
//! as smemu's clock moves.

mod common;

use aws_sdk_secretsmanager::types::RotationRulesType;
use common::{DAY, START, TestServer, err_of};
use serde_json::{Value, json};
use smemu::config::Config;
use std::collections::BTreeMap;

const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotator";
const TOKEN_R1: &str = "11111111-aaaa-4aaa-8aaa-000000000001";
const TOKEN_R2: &str = "11111111-aaaa-4aaa-8aaa-000000000002";
const TOKEN_R3: &str = "11111111-aaaa-4aaa-8aaa-000000000003";

/// For the tests that register command hooks over HTTP, which smemu allows only when told to.
async fn server_allowing_command_hooks() -> TestServer {
    TestServer::start_with(Config { allow_command_hooks: true, ..Config::default() }).await
}

async fn register(server: &TestServer, hook: Value) {
    let r = server.control("POST", "/_smemu/hooks", &hook.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.json());
}

async fn stages(sm: &aws_sdk_secretsmanager::Client, id: &str) -> BTreeMap<String, Vec<String>> {
    let d = sm.describe_secret().secret_id(id).send().await.unwrap();
    d.version_ids_to_stages().cloned().unwrap_or_default().into_iter().collect()
}

async fn log(server: &TestServer, secret: &str) -> Vec<Value> {
    let r = server.control("GET", &format!("/_smemu/rotations?secretId={secret}"), "").await;
    r.json().as_array().unwrap().clone()
}

/// A command hook written in Python's standard library: it performs each step against smemu
/// through the endpoint smemu puts in its environment, and fails on purpose at `fail_at`.
fn python_hook(fail_at: &str, store_value: bool) -> Value {
    let script = format!(
        r#"
import json, os, sys, urllib.request
event = json.load(sys.stdin)
step, arn, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
def call(op, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], json.dumps(body).encode(),
        {{"X-Amz-Target": "secretsmanager." + op, "Content-Type": "application/x-amz-json-1.1"}})
    return json.load(urllib.request.urlopen(req))
print("step", step)
if step == "{fail_at}":
    print("failing on purpose at", step, file=sys.stderr)
    sys.exit(1)
if step == "createSecret" and {store}:
    call("PutSecretValue", {{"SecretId": arn, "ClientRequestToken": token, "SecretString": "rotated-" + token[-4:], "VersionStages": ["AWSPENDING"]}})
if step == "finishSecret":
    current = [v for v, s in call("DescribeSecret", {{"SecretId": arn}})["VersionIdsToStages"].items() if "AWSCURRENT" in s][0]
    call("UpdateSecretVersionStage", {{"SecretId": arn, "VersionStage": "AWSCURRENT", "MoveToVersionId": token, "RemoveFromVersionId": current}})
"#,
        store = if store_value { "True" } else { "False" }
    );
    json!({ "functionArn": FN, "kind": "command", "program": "python3", "args": ["-c", script], "timeoutMs": 20000 })
}

#[tokio::test]
async fn builtin_rotation_moves_the_labels_like_aws() {
    let server = TestServer::start().await;
    let sm = server.client();
    register(&server, json!({ "functionArn": FN, "kind": "builtin", "jsonKey": "password" })).await;
    let old =
        sm.create_secret().name("db").secret_string(r#"{"username":"app","password":"old"}"#).send().await.unwrap();
    let old_version = old.version_id().unwrap().to_owned();
    server.advance(3_600_000);
    let out = sm
        .rotate_secret()
        .secret_id("db")
        .rotation_lambda_arn(FN)
        .rotation_rules(RotationRulesType::builder().automatically_after_days(30).build())
        .client_request_token(TOKEN_R1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(TOKEN_R1));
    let s = stages(&sm, "db").await;
    assert_eq!(s[TOKEN_R1], ["AWSCURRENT"]);
    assert_eq!(s[&old_version], ["AWSPREVIOUS"]);
    let value: Value =
        serde_json::from_str(sm.get_secret_value().secret_id("db").send().await.unwrap().secret_string().unwrap())
            .unwrap();
    assert_eq!(value["username"], "app");
    assert_ne!(value["password"], "old");
    let d = sm.describe_secret().secret_id("db").send().await.unwrap();
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(d.rotation_lambda_arn(), Some(FN));
    assert_eq!(d.rotation_rules().unwrap().automatically_after_days(), Some(30));
    assert_eq!(d.last_rotated_date().unwrap().secs(), START + 3600);
    assert_eq!(d.next_rotation_date().unwrap().secs(), START + 31 * 86_400 - 1);
    let entries = log(&server, "db").await;
    let steps: Vec<_> = entries.iter().map(|e| (e["step"].as_str().unwrap(), e["status"].as_str().unwrap())).collect();
    assert_eq!(
        steps,
        [
            ("createSecret", "succeeded"),
            ("setSecret", "succeeded"),
            ("testSecret", "succeeded"),
            ("finishSecret", "succeeded")
        ]
    );
}

#[tokio::test]
async fn rotate_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("r").secret_string("x").send().await.unwrap();
    let (code, msg) = err_of(sm.rotate_secret().secret_id("r").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
    );
    let (code, msg) = err_of(sm.rotate_secret().secret_id("r").rotation_lambda_arn(FN).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        msg,
        "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."
    );
    let raw = server.call("DescribeSecret", r#"{"SecretId":"r"}"#).await.json();
    assert!(raw.get("RotationEnabled").is_none() && raw.get("RotationLambdaARN").is_none(), "nothing saved: {raw}");
    let r = server.call("RotateSecret", &json!({"SecretId": "r", "RotationLambdaARN": FN}).to_string()).await;
    r.assert_error(
        400,
        "InvalidParameterException",
        "You must provide a ClientRequestToken value. We recommend a UUID-type value.",
    );
    let r = server.call("RotateSecret", &json!({"SecretId": "nope", "RotationLambdaARN": FN}).to_string()).await;
    assert_eq!(r.json()["__type"], "InvalidParameterException", "the token check comes before the lookup");
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    let both = RotationRulesType::builder().automatically_after_days(1).schedule_expression("rate(10 days)").build();
    let (code, _) = err_of(
        sm.rotate_secret().secret_id("r").rotation_lambda_arn(FN).rotation_rules(both).send().await.unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    let bad = RotationRulesType::builder().schedule_expression("rate(1 hour)").build();
    let (code, _) =
        err_of(sm.rotate_secret().secret_id("r").rotation_lambda_arn(FN).rotation_rules(bad).send().await.unwrap_err());
    assert_eq!(code, "InvalidParameterException");
    let (code, _) = err_of(sm.rotate_secret().secret_id("missing").rotation_lambda_arn(FN).send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    sm.delete_secret().secret_id("r").send().await.unwrap();
    let (code, msg) = err_of(sm.rotate_secret().secret_id("r").rotation_lambda_arn(FN).send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion."
        )
    );
}

#[tokio::test]
async fn a_command_hook_rotates_through_the_api() {
    let server = server_allowing_command_hooks().await;
    let sm = server.client();
    register(&server, python_hook("none", true)).await;
    let v1 = sm.create_secret().name("c").secret_string("v1").send().await.unwrap().version_id().unwrap().to_owned();
    sm.rotate_secret().secret_id("c").rotation_lambda_arn(FN).client_request_token(TOKEN_R1).send().await.unwrap();
    let current = sm.get_secret_value().secret_id("c").send().await.unwrap();
    assert_eq!(current.secret_string(), Some("rotated-0001"));
    let s = stages(&sm, "c").await;
    assert_eq!(s[TOKEN_R1], ["AWSCURRENT"]);
    assert_eq!(s[&v1], ["AWSPREVIOUS"]);
    assert!(sm.describe_secret().secret_id("c").send().await.unwrap().last_rotated_date().is_some());
    let entries = log(&server, "c").await;
    assert_eq!(entries.len(), 4);
    assert!(entries[0]["output"].as_str().unwrap().contains("step createSecret"), "{:?}", entries[0]);
}

#[tokio::test]
async fn a_hook_failing_at_set_secret_leaves_pending_and_blocks_the_next_rotation() {
    let server = server_allowing_command_hooks().await;
    let sm = server.client();
    register(&server, python_hook("setSecret", true)).await;
    let v1 = sm.create_secret().name("f").secret_string("v1").send().await.unwrap().version_id().unwrap().to_owned();
    let out =
        sm.rotate_secret().secret_id("f").rotation_lambda_arn(FN).client_request_token(TOKEN_R1).send().await.unwrap();
    assert_eq!(out.version_id(), Some(TOKEN_R1), "a failing step never turns the answer into an error");
    assert_eq!(sm.get_secret_value().secret_id("f").send().await.unwrap().secret_string(), Some("v1"));
    let s = stages(&sm, "f").await;
    assert_eq!(s[TOKEN_R1], ["AWSPENDING"]);
    assert_eq!(s[&v1], ["AWSCURRENT"]);
    let entries = log(&server, "f").await;
    let set = entries.iter().find(|e| e["step"] == "setSecret").unwrap();
    assert_eq!(set["status"], "failed");
    assert!(set["output"].as_str().unwrap().contains("failing on purpose at setSecret"), "{set}");
    assert_eq!(entries.iter().filter(|e| e["status"] == "skipped").count(), 2);
    assert!(sm.describe_secret().secret_id("f").send().await.unwrap().last_rotated_date().is_none());

    let (code, msg) =
        err_of(sm.rotate_secret().secret_id("f").client_request_token(TOKEN_R2).send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")
    );

    // Cancel, clean up the label, and rotate again with a hook that works.
    let cancelled = sm.cancel_rotate_secret().secret_id("f").send().await.unwrap();
    assert_eq!(cancelled.version_id(), Some(TOKEN_R1));
    assert_eq!(sm.describe_secret().secret_id("f").send().await.unwrap().rotation_enabled(), Some(false));
    sm.update_secret_version_stage()
        .secret_id("f")
        .version_stage("AWSPENDING")
        .remove_from_version_id(TOKEN_R1)
        .send()
        .await
        .unwrap();
    register(&server, python_hook("none", true)).await;
    sm.rotate_secret().secret_id("f").client_request_token(TOKEN_R2).send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("f").send().await.unwrap().secret_string(), Some("rotated-0002"));
}

#[tokio::test]
async fn a_hook_that_never_stores_the_value_fails_create_secret() {
    let server = server_allowing_command_hooks().await;
    let sm = server.client();
    register(&server, python_hook("none", false)).await;
    sm.create_secret().name("n").secret_string("v1").send().await.unwrap();
    sm.rotate_secret().secret_id("n").rotation_lambda_arn(FN).client_request_token(TOKEN_R1).send().await.unwrap();
    let entries = log(&server, "n").await;
    assert_eq!(entries[0]["step"], "createSecret");
    assert_eq!(entries[0]["status"], "failed");
    assert!(entries[0]["output"].as_str().unwrap().contains("AWSPENDING"), "{}", entries[0]);
    // The placeholder has no value: reading AWSPENDING finds nothing.
    let (code, _) = err_of(sm.get_secret_value().secret_id("n").version_stage("AWSPENDING").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn a_hook_that_hangs_is_killed_at_its_timeout() {
    let server = server_allowing_command_hooks().await;
    let sm = server.client();
    register(
        &server,
        json!({ "functionArn": FN, "kind": "command", "program": "python3", "args": ["-c", "import time; time.sleep(30)"], "timeoutMs": 300 }),
    )
    .await;
    sm.create_secret().name("t").secret_string("v1").send().await.unwrap();
    sm.rotate_secret().secret_id("t").rotation_lambda_arn(FN).client_request_token(TOKEN_R1).send().await.unwrap();
    let entries = log(&server, "t").await;
    assert_eq!(entries[0]["status"], "failed");
    assert_eq!(sm.get_secret_value().secret_id("t").send().await.unwrap().secret_string(), Some("v1"));
}

#[tokio::test]
async fn rotate_immediately_false_only_tests() {
    let server = TestServer::start().await;
    let sm = server.client();
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    let v1 = sm.create_secret().name("lazy").secret_string("v1").send().await.unwrap().version_id().unwrap().to_owned();
    let out = sm
        .rotate_secret()
        .secret_id("lazy")
        .rotation_lambda_arn(FN)
        .rotation_rules(RotationRulesType::builder().automatically_after_days(7).build())
        .rotate_immediately(false)
        .client_request_token(TOKEN_R1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(TOKEN_R1));
    assert_eq!(sm.get_secret_value().secret_id("lazy").send().await.unwrap().secret_string(), Some("v1"));
    let s = stages(&sm, "lazy").await;
    assert_eq!(s.len(), 1, "the temporary version is gone: {s:?}");
    assert_eq!(s[&v1], ["AWSCURRENT"]);
    let entries = log(&server, "lazy").await;
    let steps: Vec<_> = entries.iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["testSecret"]);
    let d = sm.describe_secret().secret_id("lazy").send().await.unwrap();
    assert_eq!(d.rotation_enabled(), Some(true));
    assert!(d.last_rotated_date().is_none());
    assert_eq!(d.next_rotation_date().unwrap().secs(), START + 8 * 86_400 - 1);
}

async fn versions(sm: &aws_sdk_secretsmanager::Client, id: &str) -> usize {
    sm.list_secret_version_ids().secret_id(id).include_deprecated(true).send().await.unwrap().versions().len()
}

#[tokio::test]
async fn automatically_after_days_fires_once_per_period() {
    let server = TestServer::start().await;
    let sm = server.client();
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    sm.create_secret().name("s").secret_string("v1").send().await.unwrap();
    server.advance(10 * 3_600_000); // rotate at 10:00
    let rules = RotationRulesType::builder().automatically_after_days(30).build();
    sm.rotate_secret().secret_id("s").rotation_lambda_arn(FN).rotation_rules(rules).send().await.unwrap();
    assert_eq!(versions(&sm, "s").await, 2);
    server.control("POST", "/_smemu/clock", r#"{"advance":"29d"}"#).await;
    assert_eq!(versions(&sm, "s").await, 2, "29 days: no rotation");
    server.control("POST", "/_smemu/clock", r#"{"advance":"1d"}"#).await;
    assert_eq!(versions(&sm, "s").await, 3, "30 days: exactly one more");
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(d.last_rotated_date().unwrap().secs(), START + 30 * 86_400, "rotated as the window opened");
    assert_eq!(log(&server, "s").await.iter().filter(|e| e["trigger"] == "schedule").count(), 4);
    // A cancelled schedule stops firing.
    sm.cancel_rotate_secret().secret_id("s").send().await.unwrap();
    server.control("POST", "/_smemu/clock", r#"{"advance":"90d"}"#).await;
    assert_eq!(versions(&sm, "s").await, 3);
}

#[tokio::test]
async fn rate_and_cron_schedules_fire_across_advances() {
    let server = TestServer::start().await;
    let sm = server.client();
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    for (name, expr) in [("rate", "rate(10 days)"), ("cron", "cron(0 12 * * ? *)")] {
        sm.create_secret().name(name).secret_string("v1").send().await.unwrap();
        let rules = RotationRulesType::builder().schedule_expression(expr).build();
        sm.rotate_secret().secret_id(name).rotation_lambda_arn(FN).rotation_rules(rules).send().await.unwrap();
    }
    // One advance of 20 days: rate(10 days) fires at day 10 and day 20, the daily cron 20 times.
    server.control("POST", "/_smemu/clock", r#"{"advance":"20d"}"#).await;
    assert_eq!(versions(&sm, "rate").await, 1 + 1 + 2);
    assert_eq!(versions(&sm, "cron").await, 1 + 1 + 20);
    let d = sm.describe_secret().secret_id("cron").send().await.unwrap();
    assert_eq!(d.last_rotated_date().unwrap().secs(), START + 19 * 86_400 + 12 * 3600);
    assert_eq!(d.rotation_rules().unwrap().schedule_expression(), Some("cron(0 12 * * ? *)"));
    assert_eq!(d.rotation_rules().unwrap().automatically_after_days(), Some(1), "a daily cron works out to 1 day");
    let d = sm.describe_secret().secret_id("rate").send().await.unwrap();
    assert_eq!(d.rotation_rules().unwrap().automatically_after_days(), Some(10));
    let _ = DAY;
}

#[tokio::test]
async fn rotations_of_different_secrets_run_side_by_side() {
    let server = TestServer::start().await;
    let sm = server.client();
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    for i in 0..8 {
        sm.create_secret().name(format!("p{i}")).secret_string("v1").send().await.unwrap();
    }
    let rotations = (0..8).map(|i| sm.rotate_secret().secret_id(format!("p{i}")).rotation_lambda_arn(FN).send());
    for result in futures_join(rotations).await {
        result.unwrap();
    }
    for i in 0..8 {
        assert_ne!(sm.get_secret_value().secret_id(format!("p{i}")).send().await.unwrap().secret_string(), Some("v1"));
    }
    let _ = TOKEN_R3;
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await);
    }
    out
}

#[tokio::test]
async fn hooks_are_listed_replaced_and_removed() {
    let server = TestServer::start().await;
    register(&server, json!({ "functionArn": FN, "kind": "builtin" })).await;
    let r = server
        .control(
            "POST",
            "/_smemu/hooks",
            &json!({ "functionArn": FN, "kind": "http", "url": "http://127.0.0.1:1/" }).to_string(),
        )
        .await;
    assert_eq!(r.json()["replaced"], true);
    let listed = server.control("GET", "/_smemu/hooks", "").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["kind"], "http");
    let r = server.control("POST", "/_smemu/hooks", r#"{"functionArn":"x","kind":"teleport"}"#).await;
    assert_eq!(r.status, 400);
    let encoded = FN.replace(':', "%3A");
    assert_eq!(server.control("DELETE", &format!("/_smemu/hooks?functionArn={encoded}"), "").await.status, 200);
    assert_eq!(server.control("DELETE", &format!("/_smemu/hooks?functionArn={encoded}"), "").await.status, 404);
}
