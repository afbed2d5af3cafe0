//! The Lambda API through aws-sdk-lambda, the python and nodejs runtimes with small handlers,
//! and rotations run by deployed functions.

mod common;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, InvocationType, LogType, Runtime};
use common::{ACCOUNT, KEY_ID, SECRET_KEY, TestServer};
use smemu::config::Config;
use std::io::Write as _;

const ROLE: &str = "arn:aws:iam::000000000000:role/rotation";
const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:000000000000:function:";

fn lambda_for(server: &TestServer, key: &str, secret: &str) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "tests"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn lambda(server: &TestServer) -> Client {
    lambda_for(server, "000000000000", "secret")
}

/// A server that lets its (unsigned) local callers deploy code.
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

const PYTHON: &str = r#"
import os, time

def handler(event, context):
    print("event", event.get("n"), "left", context.get_remaining_time_in_millis())
    if event.get("raise"):
        raise ValueError("the handler was told to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    return {"pid": os.getpid(), "name": context.function_name, "arn": context.invoked_function_arn,
            "region": os.environ["AWS_REGION"], "greeting": os.environ.get("GREETING"),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "key": os.environ.get("AWS_ACCESS_KEY_ID")}
"#;

async fn deploy(client: &Client, name: &str, runtime: Runtime, handler: &str, files: &[(&str, &str)]) {
    client
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .handler(handler)
        .role(ROLE)
        .timeout(5)
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(files))).build())
        .send()
        .await
        .expect("create-function");
}

async fn invoke(client: &Client, name: &str, payload: &str) -> aws_sdk_lambda::operation::invoke::InvokeOutput {
    client
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload))
        .log_type(LogType::Tail)
        .send()
        .await
        .expect("invoke")
}

fn payload_json(out: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> serde_json::Value {
    serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON payload")
}

fn log_of(out: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> String {
    use base64::Engine as _;
    let tail = out.log_result().expect("LogResult");
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(tail).unwrap()).unwrap()
}

#[tokio::test]
async fn functions_are_created_read_listed_updated_and_deleted() {
    let server = server().await;
    let client = lambda(&server);
    let created = client
        .create_function()
        .function_name("rotate")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role(ROLE)
        .environment(Environment::builder().variables("GREETING", "hi").build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("app.py", PYTHON)]))).build())
        .send()
        .await
        .unwrap();
    assert_eq!(created.function_arn(), Some(format!("{ARN_PREFIX}rotate").as_str()));
    assert_eq!(created.timeout(), Some(3));
    assert_eq!(created.memory_size(), Some(128));
    assert!(created.code_sha256().is_some_and(|s| s.len() == 44));

    let got = client.get_function().function_name(format!("{ARN_PREFIX}rotate")).send().await.unwrap();
    let config = got.configuration().unwrap();
    assert_eq!(config.handler(), Some("app.handler"));
    assert_eq!(
        config.environment().and_then(|e| e.variables()).and_then(|v| v.get("GREETING")).map(String::as_str),
        Some("hi")
    );

    let listed = client.list_functions().send().await.unwrap();
    let names: Vec<_> = listed.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["rotate"]);

    let updated = client
        .update_function_configuration()
        .function_name("rotate")
        .timeout(30)
        .description("d")
        .send()
        .await
        .unwrap();
    assert_eq!(updated.timeout(), Some(30));
    assert_ne!(updated.revision_id(), created.revision_id());
    let config = client.get_function_configuration().function_name("rotate").send().await.unwrap();
    assert_eq!(config.description(), Some("d"));

    let code = client
        .update_function_code()
        .function_name("rotate")
        .zip_file(Blob::new(zip_of(&[("app.py", "def handler(e, c):\n    return 'v2'\n")])))
        .send()
        .await
        .unwrap();
    assert_ne!(code.code_sha256(), created.code_sha256());
    assert_eq!(payload_json(&invoke(&client, "rotate", "{}").await), "v2");

    client.delete_function().function_name("rotate").send().await.unwrap();
    let err = client.get_function().function_name("rotate").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn errors_have_lambdas_codes_and_texts() {
    let server = server().await;
    let client = lambda(&server);
    let err = client.get_function().function_name("nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());
    assert_eq!(err.meta().message(), Some(format!("Function not found: {ARN_PREFIX}nope").as_str()));

    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let again = client
        .create_function()
        .function_name("f")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("app.py", PYTHON)]))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(again.is_resource_conflict_exception(), "{again:?}");
    assert_eq!(again.meta().message(), Some("Function already exist: f"));

    let java = client
        .create_function()
        .function_name("g")
        .runtime(Runtime::Java21)
        .handler("x")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("a", "")]))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(java.is_invalid_parameter_value_exception(), "{java:?}");

    let bad_zip = client
        .create_function()
        .function_name("g")
        .runtime(Runtime::Python311)
        .handler("x.y")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(b"not a zip".to_vec())).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad_zip.is_invalid_parameter_value_exception(), "{bad_zip:?}");
    assert!(bad_zip.meta().message().unwrap().starts_with("Could not unzip uploaded file"));

    let bad_role = client
        .update_function_configuration()
        .function_name("f")
        .role("not-a-role")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad_role.is_invalid_parameter_value_exception(), "{bad_role:?}");

    let no_policy = client.get_policy().function_name("f").send().await.unwrap_err().into_service_error();
    assert!(no_policy.is_resource_not_found_exception(), "{no_policy:?}");

    let stale = client
        .update_function_configuration()
        .function_name("f")
        .revision_id("00000000-0000-0000-0000-000000000000")
        .timeout(5)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(stale.is_precondition_failed_exception(), "{stale:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_error_shape_is_lambdas_on_the_wire() {
    let server = server().await;
    let raw = server.request("GET", "/2015-03-31/functions/nope", &[], "").await;
    assert_eq!(raw.status, 404);
    assert_eq!(raw.header("x-amzn-errortype"), Some("ResourceNotFoundException"));
    assert_eq!(
        raw.json(),
        serde_json::json!({"Type": "User", "Message": format!("Function not found: {ARN_PREFIX}nope")})
    );
    let conflict = server.request("PATCH", "/2015-03-31/functions/nope", &[], "").await;
    assert_eq!(conflict.status, 404);
    assert_eq!(conflict.header("x-amzn-errortype"), Some("UnknownOperationException"));
    server.stop().await;
}

#[tokio::test]
async fn one_worker_serves_many_invocations_with_the_functions_environment() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    client
        .update_function_configuration()
        .function_name("f")
        .environment(Environment::builder().variables("GREETING", "hello").build())
        .send()
        .await
        .unwrap();
    let first = invoke(&client, "f", r#"{"n": 1}"#).await;
    assert_eq!(first.status_code(), 200);
    assert_eq!(first.function_error(), None);
    let one = payload_json(&first);
    assert_eq!(one["name"], "f");
    assert_eq!(one["arn"], format!("{ARN_PREFIX}f"));
    assert_eq!(one["region"], "us-east-1");
    assert_eq!(one["greeting"], "hello");
    assert_eq!(one["endpoint"], server.endpoint());
    assert!(one["key"].as_str().is_some_and(|k| k.starts_with("ASIA")), "{one}");
    let log = log_of(&first);
    assert!(log.starts_with("START RequestId: "), "{log}");
    let left: u64 = log
        .lines()
        .find_map(|l| l.strip_prefix("event 1 left "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{log}"));
    assert!((1..=5000).contains(&left), "the context's remaining time: {left}");
    assert!(log.contains("REPORT RequestId: "), "{log}");

    let second = payload_json(&invoke(&client, "f", r#"{"n": 2}"#).await);
    assert_eq!(second["pid"], one["pid"], "the second invocation reuses the worker");
    server.stop().await;
}

#[tokio::test]
async fn a_raise_is_a_function_error_with_its_traceback() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let out = invoke(&client, "f", r#"{"raise": true}"#).await;
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let error = payload_json(&out);
    assert_eq!(error["errorType"], "ValueError");
    assert_eq!(error["errorMessage"], "the handler was told to fail");
    let log = log_of(&out);
    assert!(log.contains("[ERROR] ValueError: the handler was told to fail"), "{log}");
    assert!(log.contains("Traceback (most recent call last):"), "{log}");
    assert!(log.contains("app.py\", line 7, in handler"), "{log}");
    server.stop().await;
}

#[tokio::test]
async fn a_timeout_kills_the_worker_and_the_next_invocation_gets_a_new_one() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    client.update_function_configuration().function_name("f").timeout(1).send().await.unwrap();
    let before = payload_json(&invoke(&client, "f", "{}").await);
    // Timeout is 1 s, Lambda's least; the handler would sleep a minute.
    let out = invoke(&client, "f", r#"{"sleep": 60}"#).await;
    assert_eq!(out.function_error(), Some("Unhandled"));
    let message = payload_json(&out)["errorMessage"].as_str().unwrap().to_owned();
    assert!(message.ends_with("Task timed out after 1.00 seconds"), "{message}");
    let pid = before["pid"].as_i64().unwrap();
    assert!(stops(pid).await, "the timed-out worker is gone");
    let after = payload_json(&invoke(&client, "f", "{}").await);
    assert_ne!(after["pid"], before["pid"]);
    server.stop().await;
}

#[tokio::test]
async fn a_worker_that_exits_is_an_error_not_a_hang() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let out = invoke(&client, "f", r#"{"exit": true}"#).await;
    assert_eq!(out.function_error(), Some("Unhandled"));
    let error = payload_json(&out);
    assert_eq!(error["errorType"], "Runtime.ExitError");
    assert!(error["errorMessage"].as_str().unwrap().contains("exit status: 3"), "{error}");
    assert_eq!(payload_json(&invoke(&client, "f", "{}").await)["name"], "f");
    server.stop().await;
}

#[tokio::test]
async fn an_import_error_is_reported_per_invocation() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "missing.handler", &[("app.py", PYTHON)]).await;
    let out = invoke(&client, "f", "{}").await;
    assert_eq!(out.function_error(), Some("Unhandled"));
    assert_eq!(payload_json(&out)["errorType"], "Runtime.ImportModuleError");
    server.stop().await;
}

#[tokio::test]
async fn nodejs_handlers_run_async_and_with_callbacks() {
    let server = server().await;
    let client = lambda(&server);
    let index = r"
exports.handler = async (event, context) => {
  console.log('event', event.n);
  if (event.fail) throw new TypeError('told to fail');
  return { pid: process.pid, name: context.functionName, left: context.getRemainingTimeInMillis() > 0 };
};
exports.callback = (event, context, callback) => callback(null, 'called back');
";
    deploy(&client, "n", Runtime::Nodejs20x, "index.handler", &[("index.js", index)]).await;
    let out = invoke(&client, "n", r#"{"n": 7}"#).await;
    assert_eq!(out.function_error(), None);
    let result = payload_json(&out);
    assert_eq!(result["name"], "n");
    assert_eq!(result["left"], true);
    assert!(log_of(&out).contains("\tINFO\tevent 7\n"), "{}", log_of(&out));
    let again = payload_json(&invoke(&client, "n", "{}").await);
    assert_eq!(again["pid"], result["pid"]);
    let failed = invoke(&client, "n", r#"{"fail": true}"#).await;
    assert_eq!(failed.function_error(), Some("Unhandled"));
    assert_eq!(payload_json(&failed)["errorType"], "TypeError");

    client.update_function_configuration().function_name("n").handler("index.callback").send().await.unwrap();
    assert_eq!(payload_json(&invoke(&client, "n", "{}").await), "called back");
    server.stop().await;
}

#[tokio::test]
async fn event_invocations_answer_202_and_dry_runs_204() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let event = client.invoke().function_name("f").invocation_type(InvocationType::Event).send().await.unwrap();
    assert_eq!(event.status_code(), 202);
    let dry = client.invoke().function_name("f").invocation_type(InvocationType::DryRun).send().await.unwrap();
    assert_eq!(dry.status_code(), 204);
    let missing = client.invoke().function_name("nope").send().await.unwrap_err().into_service_error();
    assert!(missing.is_resource_not_found_exception());
    server.stop().await;
}

#[tokio::test]
async fn permissions_are_added_read_and_removed() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let added = client
        .add_permission()
        .function_name("f")
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await
        .unwrap();
    let statement: serde_json::Value = serde_json::from_str(added.statement().unwrap()).unwrap();
    assert_eq!(statement["Principal"]["Service"], "secretsmanager.amazonaws.com");
    assert_eq!(statement["Resource"], format!("{ARN_PREFIX}f"));
    assert!(server.app.lambda.allows_service(&format!("{ARN_PREFIX}f"), "secretsmanager.amazonaws.com"));

    let twice = client
        .add_permission()
        .function_name("f")
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(twice.is_resource_conflict_exception(), "{twice:?}");

    let policy = client.get_policy().function_name("f").send().await.unwrap();
    let document: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(document["Statement"][0]["Sid"], "SecretsManagerAccess");

    client.remove_permission().function_name("f").statement_id("SecretsManagerAccess").send().await.unwrap();
    let gone =
        client.remove_permission().function_name("f").statement_id("SecretsManagerAccess").send().await.unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
    assert!(!server.app.lambda.allows_service(&format!("{ARN_PREFIX}f"), "secretsmanager.amazonaws.com"));
    server.stop().await;
}

#[tokio::test]
async fn unsigned_callers_cannot_deploy_code_unless_the_operator_allows_it() {
    let server = TestServer::start().await;
    let client = lambda(&server);
    let err = client
        .create_function()
        .function_name("f")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("app.py", PYTHON)]))).build())
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(403));
    let meta = err.into_service_error();
    assert_eq!(meta.meta().code(), Some("AccessDeniedException"));
    assert!(meta.meta().message().unwrap().contains("--auth strict"), "{meta:?}");
    assert!(server.app.lambda.rotation_hook(&format!("{ARN_PREFIX}f")).is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_rebound_host_name_cannot_deploy_code_even_with_the_opt_in() {
    let server = server().await;
    let body = serde_json::json!({
        "FunctionName": "f", "Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE,
        "Code": {"ZipFile": base64_of(&zip_of(&[("app.py", PYTHON)]))}
    })
    .to_string();
    let raw = server
        .request(
            "POST",
            "/2015-03-31/functions",
            &[("Host", "attacker.example:80"), ("Content-Type", "application/json")],
            &body,
        )
        .await;
    assert_eq!(raw.status, 403);
    assert_eq!(raw.header("x-amzn-errortype"), Some("AccessDeniedException"));
    server.stop().await;
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn signed_callers_deploy_code_in_strict_mode() {
    let server = TestServer::start_strict().await;
    let client = lambda_for(&server, KEY_ID, SECRET_KEY);
    let created = client
        .create_function()
        .function_name("f")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role(format!("arn:aws:iam::{ACCOUNT}:role/r"))
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("app.py", PYTHON)]))).build())
        .send()
        .await
        .unwrap();
    assert_eq!(created.function_arn(), Some(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:f").as_str()));
    let unsigned = lambda_for(&server, KEY_ID, "wrong").list_functions().send().await.unwrap_err();
    assert_eq!(unsigned.into_service_error().meta().code(), Some("InvalidSignatureException"));
    server.stop().await;
}

/// A rotation function in the shape of AWS's templates, calling smemu over raw HTTP (the JSON
/// 1.1 protocol; the open mode needs no signature) so it needs no SDK installed.
const ROTATOR: &str = r#"
import json, os, urllib.request

def sm(op, body):
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=json.dumps(body).encode(), headers={
        "X-Amz-Target": "secretsmanager." + op, "Content-Type": "application/x-amz-json-1.1"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())

def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    print("step", step)
    if step == "createSecret":
        sm("PutSecretValue", {"SecretId": arn, "ClientRequestToken": token,
                              "SecretString": "rotated-" + token[:8], "VersionStages": ["AWSPENDING"]})
    elif step == "setSecret" and os.environ.get("FAIL_SET"):
        raise RuntimeError("the database refused the new password")
    elif step == "finishSecret":
        versions = sm("DescribeSecret", {"SecretId": arn})["VersionIdsToStages"]
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        sm("UpdateSecretVersionStage", {"SecretId": arn, "VersionStage": "AWSCURRENT",
                                        "MoveToVersionId": token, "RemoveFromVersionId": current})
"#;

#[tokio::test]
async fn rotate_secret_runs_the_four_steps_in_a_deployed_function() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "rotate", Runtime::Python311, "lambda_function.lambda_handler", &[("lambda_function.py", ROTATOR)])
        .await;
    let sm = server.client_as("000000000000", "us-east-1");
    sm.create_secret().name("app/db").secret_string("first").send().await.unwrap();
    let started = std::time::Instant::now();
    let rotated = sm
        .rotate_secret()
        .secret_id("app/db")
        .rotation_lambda_arn(format!("{ARN_PREFIX}rotate"))
        .client_request_token("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(rotated.version_id(), Some("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"));
    let value = sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("rotated-aaaaaaaa"));
    // One worker for the four steps: well under a second on any machine that runs the tests.
    assert!(took < std::time::Duration::from_secs(5), "rotation took {took:?}");
    let log = server.control("GET", "/_smemu/rotations?secretId=app/db", "").await.json();
    let steps: Vec<_> = log.as_array().unwrap().iter().map(|e| e["status"].clone()).collect();
    assert_eq!(steps, ["succeeded", "succeeded", "succeeded", "succeeded"], "{log}");
    assert!(log[1]["output"].as_str().unwrap().contains("step setSecret"), "{log}");
    server.stop().await;
}

#[tokio::test]
async fn a_function_that_raises_in_set_secret_leaves_awspending_and_its_traceback() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "rotate", Runtime::Python311, "lambda_function.lambda_handler", &[("lambda_function.py", ROTATOR)])
        .await;
    client
        .update_function_configuration()
        .function_name("rotate")
        .environment(Environment::builder().variables("FAIL_SET", "1").build())
        .send()
        .await
        .unwrap();
    let sm = server.client_as("000000000000", "us-east-1");
    sm.create_secret().name("app/db").secret_string("first").send().await.unwrap();
    let _ = sm
        .rotate_secret()
        .secret_id("app/db")
        .rotation_lambda_arn(format!("{ARN_PREFIX}rotate"))
        .client_request_token("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
        .send()
        .await;
    let versions = sm.list_secret_version_ids().secret_id("app/db").send().await.unwrap();
    let pending = versions
        .versions()
        .iter()
        .find(|v| v.version_stages().contains(&"AWSPENDING".to_owned()))
        .and_then(|v| v.version_id());
    assert_eq!(pending, Some("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"));
    assert_eq!(sm.get_secret_value().secret_id("app/db").send().await.unwrap().secret_string(), Some("first"));
    let log = server.control("GET", "/_smemu/rotations?secretId=app/db", "").await.json();
    let set = &log[1];
    assert_eq!(set["step"], "setSecret");
    assert_eq!(set["status"], "failed");
    let output = set["output"].as_str().unwrap();
    assert!(output.contains("Traceback (most recent call last):"), "{output}");
    assert!(output.contains("RuntimeError: the database refused the new password"), "{output}");
    server.stop().await;
}

#[tokio::test]
async fn a_hook_for_the_same_arn_wins_over_the_deployed_function() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "rotate", Runtime::Python311, "lambda_function.lambda_handler", &[("lambda_function.py", ROTATOR)])
        .await;
    let hook = serde_json::json!({"functionArn": format!("{ARN_PREFIX}rotate"), "kind": "builtin"}).to_string();
    assert_eq!(server.control("POST", "/_smemu/hooks", &hook).await.status, 200);
    let sm = server.client_as("000000000000", "us-east-1");
    sm.create_secret().name("app/db").secret_string("first").send().await.unwrap();
    sm.rotate_secret().secret_id("app/db").rotation_lambda_arn(format!("{ARN_PREFIX}rotate")).send().await.unwrap();
    let value = sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert!(!value.secret_string().unwrap().starts_with("rotated-"), "the builtin hook ran, not the function");
    server.stop().await;
}

#[tokio::test]
async fn a_rotation_arn_with_no_function_nor_hook_is_refused_as_aws_does() {
    let server = server().await;
    let sm = server.client_as("000000000000", "us-east-1");
    sm.create_secret().name("app/db").secret_string("first").send().await.unwrap();
    let err = sm
        .rotate_secret()
        .secret_id("app/db")
        .rotation_lambda_arn(format!("{ARN_PREFIX}nothing"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("AccessDeniedException"));
    server.stop().await;
}

/// With authorization enforced, Secrets Manager may invoke a deployed function only when the
/// function's policy (AddPermission) lets `secretsmanager.amazonaws.com` in for this secret.
#[tokio::test]
async fn with_enforcement_rotation_needs_the_functions_permission_for_secrets_manager() {
    let server = TestServer::start_with(Config {
        allow_command_hooks: true,
        authorize: smemu::iam::AuthorizeMode::Enforce,
        ..Config::default()
    })
    .await;
    let client = lambda(&server);
    deploy(&client, "rotate", Runtime::Python311, "lambda_function.lambda_handler", &[("lambda_function.py", ROTATOR)])
        .await;
    let sm = server.client_as("000000000000", "us-east-1");
    let arn = sm.create_secret().name("app/db").secret_string("first").send().await.unwrap().arn().unwrap().to_owned();
    let rotate = |token: &'static str| {
        sm.rotate_secret()
            .secret_id("app/db")
            .rotation_lambda_arn(format!("{ARN_PREFIX}rotate"))
            .client_request_token(token)
            .send()
    };
    let refused = |err: aws_sdk_secretsmanager::error::SdkError<_, _>| {
        let (code, message) = common::err_of(err);
        assert_eq!(code, "AccessDeniedException");
        assert_eq!(
            message,
            "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."
        );
    };
    refused(rotate("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa").await.unwrap_err());
    // Nothing is saved, as in AWS.
    let described = sm.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(described.rotation_lambda_arn(), None);

    // A permission for the service, but only for another account's secrets.
    let permit = |sid: &'static str| {
        client
            .add_permission()
            .function_name("rotate")
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal("secretsmanager.amazonaws.com")
    };
    permit("OtherAccount").source_account("999999999999").send().await.unwrap();
    refused(rotate("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb").await.unwrap_err());
    permit("ThisSecret").source_arn(&arn).send().await.unwrap();
    rotate("cccccccc-cccc-4ccc-8ccc-cccccccccccc").await.unwrap();
    let value = sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("rotated-cccccccc"));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_kills_the_workers() {
    let server = server().await;
    let client = lambda(&server);
    deploy(&client, "f", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    let pid = payload_json(&invoke(&client, "f", "{}").await)["pid"].as_i64().unwrap();
    assert!(runs(pid));
    let app = server.app.clone();
    server.stop().await;
    drop(app);
    // SIGKILL to the group is immediate; the zombie is reaped by tokio shortly after, but the
    // process no longer runs: its state is Z or it is gone.
    assert!(stops(pid).await, "worker {pid} still runs");
}

/// Whether process `pid` stops within a few seconds of being killed: SIGKILL takes effect once
/// the process is next scheduled (a moment on a loaded machine). A pidfd becomes readable when
/// its process ends, so this waits on that rather than polling.
async fn stops(pid: i64) -> bool {
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let Some(id) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return false };
    let Ok(fd) = pidfd_open(id, PidfdFlags::NONBLOCK) else {
        // Gone already (and reaped).
        return !runs(pid);
    };
    let ended = tokio::task::spawn_blocking(move || {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        loop {
            match poll(&mut fds, Some(&Timespec { tv_sec: 5, tv_nsec: 0 })) {
                Err(rustix::io::Errno::INTR) => {}
                answer => break answer.is_ok_and(|ready| ready == 1),
            }
        }
    });
    ended.await.unwrap_or(false) && !runs(pid)
}

fn runs(pid: i64) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    state.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').next()).is_some_and(|s| s != "Z" && s != "X")
}

#[tokio::test]
async fn functions_their_code_environment_and_permissions_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("smemu-lambda-dir-{}", uuid::Uuid::new_v4()));
    let first = server().await;
    first.app.open_data_dir(&dir, false).unwrap();
    let client = lambda(&first);
    deploy(&client, "kept", Runtime::Python311, "app.handler", &[("app.py", PYTHON)]).await;
    deploy(&client, "gone", Runtime::Python311, "app.handler", &[("app.py", "def handler(e, c):\n    return 1\n")])
        .await;
    client
        .update_function_configuration()
        .function_name("kept")
        .environment(Environment::builder().variables("GREETING", "distinct-greeting-7c1f").build())
        .description("kept across restarts")
        .send()
        .await
        .unwrap();
    client
        .add_permission()
        .function_name("kept")
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await
        .unwrap();
    client.delete_function().function_name("gone").send().await.unwrap();
    let before = client.get_function_configuration().function_name("kept").send().await.unwrap();
    first.stop().await;

    for entry in walk(&dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(b"distinct-greeting-7c1f".len()).any(|w| w == b"distinct-greeting-7c1f"),
            "an environment value in plaintext in {}",
            entry.display()
        );
    }
    let packages = std::fs::read_dir(dir.join("lambda")).unwrap().count();
    assert_eq!(packages, 2, "both packages are kept until a start finds one unused");

    let second = server().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let client = lambda(&second);
    let after = client.get_function_configuration().function_name("kept").send().await.unwrap();
    assert_eq!(after.code_sha256(), before.code_sha256());
    assert_eq!(after.revision_id(), before.revision_id());
    assert_eq!(after.description(), Some("kept across restarts"));
    assert!(second.app.lambda.allows_service(&format!("{ARN_PREFIX}kept"), "secretsmanager.amazonaws.com"));
    let out = invoke(&client, "kept", r#"{"n": 1}"#).await;
    assert_eq!(payload_json(&out)["greeting"], "distinct-greeting-7c1f");
    let gone = client.get_function().function_name("gone").send().await.unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
    assert_eq!(std::fs::read_dir(dir.join("lambda")).unwrap().count(), 1, "the unused package is removed");
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_are_kept_in_snapshots_with_sealed_environments() {
    let dir = std::env::temp_dir().join(format!("smemu-lambda-snap-{}", uuid::Uuid::new_v4()));
    let first = server().await;
    let options = smemu::persist::JournalOptions { compact_threshold: 1, ..Default::default() };
    first.app.open_data_dir_with(&dir, &options).unwrap();
    let client = lambda(&first);
    client
        .create_function()
        .function_name("snapped")
        .runtime(Runtime::Python311)
        .handler("app.handler")
        .role(ROLE)
        .environment(Environment::builder().variables("GREETING", "snapshot-greeting-3d9e").build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("app.py", PYTHON)]))).build())
        .send()
        .await
        .unwrap();
    // A change starts a snapshot once the journal has grown past the last one; each is awaited,
    // so the snapshots that follow the function cover it.
    for i in 0..20 {
        while first.app.is_compacting() {
            tokio::task::yield_now().await;
        }
        client
            .add_permission()
            .function_name("snapped")
            .statement_id(format!("s{i}"))
            .action("lambda:InvokeFunction")
            .principal("secretsmanager.amazonaws.com")
            .send()
            .await
            .unwrap();
    }
    while first.app.is_compacting() {
        tokio::task::yield_now().await;
    }
    first.stop().await;
    let snapshot = walk(&dir).into_iter().find(|p| p.extension().is_some_and(|e| e == "snap")).expect("a snapshot");
    let text = String::from_utf8_lossy(&std::fs::read(snapshot).unwrap()).into_owned();
    assert!(text.contains("snapped") && !text.contains("snapshot-greeting-3d9e"), "{text}");

    let second = server().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let out = invoke(&lambda(&second), "snapped", "{}").await;
    assert_eq!(payload_json(&out)["greeting"], "snapshot-greeting-3d9e");
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
