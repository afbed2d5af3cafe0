use super::*;
use crate::rotation::fake::{ARN, FakeSecrets};
use http::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;

const TOKEN: &str = "0b6c1d0e-7f0a-4a52-9a43-5d7f3b0f9e11";

fn event(step: Step) -> RotationEvent {
    RotationEvent { step, secret_id: ARN.into(), client_request_token: TOKEN.into(), rotation_token: "rt-1".into() }
}

fn spec(value: Value) -> HookSpec {
    HookSpec::from_value(value).unwrap()
}

fn spec_error(value: Value) -> String {
    HookSpec::from_value(value).unwrap_err().message
}

async fn invoke(spec: &HookSpec, step: Step, api: &FakeSecrets, env: &[(String, String)]) -> StepOutcome {
    spec.invoke(&event(step), &InvokeContext { api, env, processes: &ProcessGroups::new(), functions: None }).await
}

/// One request as the test server saw it.
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

fn respond(path: &str) -> Response<Full<Bytes>> {
    let reply = |status: u16, body: &'static str| {
        Response::builder().status(status).body(Full::new(Bytes::from_static(body.as_bytes()))).unwrap()
    };
    match path {
        "/ok" => reply(200, "rotated"),
        "/accepted" => reply(204, ""),
        "/fail" => reply(500, "setSecret failed: database unreachable"),
        "/2015-03-31/functions/good/invocations" => reply(200, "null"),
        "/2015-03-31/functions/bad/invocations" => {
            let mut r = reply(200, r#"{"errorMessage":"kaput","errorType":"ValueError"}"#);
            r.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            r
        }
        p if p.starts_with("/2015-03-31/functions/") => reply(200, "{}"),
        _ => reply(404, "no such path"),
    }
}

/// A tiny HTTP server on 127.0.0.1 recording every request.
async fn server() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<Incoming>| {
                    let record = record.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
                        let path = parts.uri.path().to_owned();
                        let response = respond(&path);
                        record.lock().push(Seen { path, headers: parts.headers, body });
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, seen)
}

#[test]
fn events_serialize_like_the_lambda_payload() {
    let json: Value = serde_json::from_slice(&event(Step::CreateSecret).to_json()).unwrap();
    assert_eq!(
        json,
        json!({"Step": "createSecret", "SecretId": ARN, "ClientRequestToken": TOKEN, "RotationToken": "rt-1"})
    );
    let steps: Vec<&str> = Step::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(steps, ["createSecret", "setSecret", "testSecret", "finishSecret"]);
    assert_eq!(serde_json::to_value(Step::FinishSecret).unwrap(), json!("finishSecret"));
}

#[test]
fn specs_of_every_kind_parse_and_round_trip() {
    let cases = [
        json!({"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:h", "kind": "http",
               "url": "http://127.0.0.1:8080/rotate", "headers": {"X-Token": "abc"}, "timeoutMs": 5000}),
        json!({"functionArn": "c", "kind": "command", "program": "python3", "args": ["rotate.py"],
               "env": {"A": "1"}, "cwd": "/tmp", "timeoutMs": 1000}),
        json!({"functionArn": "l", "kind": "lambda", "endpoint": "http://localhost:9000", "functionName": "function"}),
        json!({"functionArn": "b", "kind": "builtin", "passwordLength": 20, "excludePunctuation": true,
               "jsonKey": "password"}),
        json!({"functionArn": "b2", "kind": "builtin"}),
    ];
    for case in cases {
        let parsed = spec(case.clone());
        let round = parsed.to_value();
        assert_eq!(HookSpec::from_value(round.clone()).unwrap(), parsed);
        assert_eq!(round["kind"], case["kind"]);
        let via_serde: HookSpec = serde_json::from_value(case.clone()).unwrap();
        assert_eq!(via_serde, parsed);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), round);
    }
    let http = spec(json!({"functionArn": "h", "kind": "http", "url": "http://h/"}));
    assert_eq!(
        http.kind,
        HookKind::Http(HttpHook { url: "http://h/".into(), headers: BTreeMap::new(), timeout_ms: 30_000 })
    );
    assert_eq!(http.to_value(), json!({"functionArn": "h", "kind": "http", "url": "http://h/", "timeoutMs": 30000}));
    let builtin = spec(json!({"functionArn": "b", "kind": "builtin", "passwordLength": 12, "excludeNumbers": true}));
    let HookKind::Builtin(b) = &builtin.kind else { panic!() };
    let ps = b.password_spec();
    assert_eq!((ps.length, ps.exclude_numbers, ps.require_each_included_type), (12, true, true));
    assert_eq!(HookSpec::from_json(br#"{"functionArn":"x","kind":"builtin"}"#).unwrap().kind_name(), "builtin");
}

#[test]
fn bad_specs_are_refused_with_the_field_at_fault() {
    let cases = [
        (json!([1]), "a hook is a JSON object"),
        (json!({"kind": "http", "url": "http://h"}), "missing field functionArn"),
        (json!({"functionArn": " ", "kind": "http", "url": "http://h"}), "functionArn must not be empty"),
        (json!({"functionArn": 7, "kind": "http"}), "functionArn must be a string"),
        (json!({"functionArn": "a", "url": "http://h"}), "missing field kind"),
        (
            json!({"functionArn": "a", "kind": "python"}),
            "unknown kind \"python\": use http, command, lambda or builtin",
        ),
        (json!({"functionArn": "a", "kind": "http"}), "invalid http hook: missing field `url`"),
        (json!({"functionArn": "a", "kind": "http", "url": "http://h", "timout": 5}), "unknown field `timout`"),
        (json!({"functionArn": "a", "kind": "http", "url": "https://h"}), "https isn't supported"),
        (json!({"functionArn": "a", "kind": "http", "url": "/relative"}), "must be an absolute http:// URL"),
        (
            json!({"functionArn": "a", "kind": "http", "url": "http://h", "headers": {"bad header": "x"}}),
            "valid header name",
        ),
        (json!({"functionArn": "a", "kind": "http", "url": "http://h", "timeoutMs": 0}), "timeoutMs must be between"),
        (json!({"functionArn": "a", "kind": "http", "url": "http://h", "timeoutMs": "5"}), "invalid type"),
        (json!({"functionArn": "a", "kind": "command", "program": ""}), "program must name"),
        (
            json!({"functionArn": "a", "kind": "command", "program": "x", "env": {"A=B": "1"}}),
            "isn't a valid variable name",
        ),
        (json!({"functionArn": "a", "kind": "command", "program": "x", "args": "y"}), "invalid type"),
        (json!({"functionArn": "a", "kind": "lambda"}), "missing field `endpoint`"),
        (
            json!({"functionArn": "a", "kind": "lambda", "endpoint": "localhost:9000"}),
            "must be an absolute http:// URL",
        ),
        (
            json!({"functionArn": "a", "kind": "builtin", "passwordLength": 0}),
            "passwordLength must be between 1 and 4096",
        ),
        (json!({"functionArn": "a", "kind": "builtin", "passwordLength": 2}), "can't produce a password"),
        (
            json!({"functionArn": "a", "kind": "builtin", "excludeCharacters": "abcdefghijklmnopqrstuvwxyz",
                "excludeUppercase": true, "excludeNumbers": true, "excludePunctuation": true}),
            "can't produce a password",
        ),
        (json!({"functionArn": "a", "kind": "builtin", "jsonKey": ""}), "jsonKey must not be empty"),
    ];
    for (value, expected) in cases {
        let message = spec_error(value.clone());
        assert!(message.contains(expected), "{value}: {message}");
    }
    assert!(HookSpec::from_json(b"{").unwrap_err().message.contains("isn't valid JSON"));
}

#[tokio::test]
async fn http_hooks_post_the_event_and_read_the_status() {
    let (addr, seen) = server().await;
    let api = FakeSecrets::with_current("old");
    let ok = spec(json!({"functionArn": "h", "kind": "http", "url": format!("http://{addr}/ok"),
                         "headers": {"X-Rotation-Secret": "s3cr3t"}}));
    let outcome = invoke(&ok, Step::SetSecret, &api, &[]).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.output, "HTTP 200 OK\nrotated");
    {
        let seen = seen.lock();
        let request = seen.last().unwrap();
        assert_eq!(request.path, "/ok");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-rotation-secret"], "s3cr3t");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["Step"], "setSecret");
        assert_eq!(body["ClientRequestToken"], TOKEN);
    }
    let accepted = spec(json!({"functionArn": "h", "kind": "http", "url": format!("http://{addr}/accepted")}));
    assert!(invoke(&accepted, Step::SetSecret, &api, &[]).await.ok, "any 2xx succeeds");
    let fail = spec(json!({"functionArn": "h", "kind": "http", "url": format!("http://{addr}/fail")}));
    let outcome = invoke(&fail, Step::SetSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.output, "HTTP 500 Internal Server Error\nsetSecret failed: database unreachable");
}

#[tokio::test]
async fn http_hooks_fail_when_unreachable_or_silent() {
    let api = FakeSecrets::with_current("old");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let refused = spec(json!({"functionArn": "h", "kind": "http", "url": format!("http://{addr}/")}));
    let outcome = invoke(&refused, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.starts_with(&format!("POST http://{addr}/ failed")), "{}", outcome.output);

    // A server that accepts the connection and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let hook = spec(json!({"functionArn": "h", "kind": "http", "url": format!("http://{addr}/"), "timeoutMs": 200}));
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.contains("timed out after 200 ms"), "{}", outcome.output);
    assert!(outcome.duration_ms >= 200 && outcome.duration_ms < 5000, "{}", outcome.duration_ms);
}

#[tokio::test]
async fn lambda_hooks_call_the_invoke_api() {
    let (addr, seen) = server().await;
    let api = FakeSecrets::with_current("old");
    let good = spec(json!({"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:good", "kind": "lambda",
                           "endpoint": format!("http://{addr}/")}));
    let outcome = invoke(&good, Step::TestSecret, &api, &[]).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.output, "null");
    {
        let seen = seen.lock();
        let request = seen.last().unwrap();
        assert_eq!(request.path, "/2015-03-31/functions/good/invocations", "the name comes from the ARN");
        assert_eq!(request.headers["x-amz-invocation-type"], "RequestResponse");
        assert_eq!(serde_json::from_slice::<Value>(&request.body).unwrap()["Step"], "testSecret");
    }
    let bad = spec(json!({"functionArn": "anything", "kind": "lambda", "endpoint": format!("http://{addr}"),
                          "functionName": "bad"}));
    let outcome = invoke(&bad, Step::TestSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.output, r#"function error (Unhandled): {"errorMessage":"kaput","errorType":"ValueError"}"#);
    let by_arn = spec(json!({"functionArn": "my fn", "kind": "lambda", "endpoint": format!("http://{addr}")}));
    assert!(invoke(&by_arn, Step::TestSecret, &api, &[]).await.ok);
    assert_eq!(seen.lock().last().unwrap().path, "/2015-03-31/functions/my%20fn/invocations");
    let missing = spec(json!({"functionArn": "m", "kind": "lambda", "endpoint": format!("http://{addr}/nowhere/")}));
    let outcome = invoke(&missing, Step::TestSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.starts_with("HTTP 404 Not Found"), "{}", outcome.output);
}

fn sh(script: &str, timeout_ms: u64) -> HookSpec {
    spec(json!({"functionArn": "c", "kind": "command", "program": "sh", "args": ["-c", script],
                "env": {"FROM_SPEC": "spec", "SHARED": "spec wins"}, "timeoutMs": timeout_ms}))
}

#[tokio::test]
async fn command_hooks_get_the_event_on_stdin_and_in_the_environment() {
    let api = FakeSecrets::with_current("old");
    let hook = sh(
        r#"cat; echo; echo "$SMEMU_ROTATION_STEP $SMEMU_SECRET_ID $SMEMU_CLIENT_REQUEST_TOKEN $SMEMU_ROTATION_TOKEN"; echo "$FROM_SPEC|$FROM_CONTEXT|$SHARED""#,
        5000,
    );
    let env = [("FROM_CONTEXT".to_owned(), "context".to_owned()), ("SHARED".to_owned(), "context".to_owned())];
    let outcome = invoke(&hook, Step::FinishSecret, &api, &env).await;
    assert!(outcome.ok, "{outcome:?}");
    let lines: Vec<&str> = outcome.output.lines().collect();
    assert_eq!(
        serde_json::from_str::<Value>(lines[0]).unwrap(),
        serde_json::from_slice::<Value>(&event(Step::FinishSecret).to_json()).unwrap()
    );
    assert_eq!(lines[1], format!("finishSecret {ARN} {TOKEN} rt-1"));
    assert_eq!(lines[2], "spec|context|spec wins");
}

#[tokio::test]
async fn failing_commands_keep_their_output() {
    let api = FakeSecrets::with_current("old");
    let hook = sh("echo starting; echo 'Traceback: setSecret failed' >&2; exit 1", 5000);
    let outcome = invoke(&hook, Step::SetSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(
        outcome.output.starts_with("starting\nTraceback: setSecret failed\n[smemu] sh exited with exit status: 1"),
        "{}",
        outcome.output
    );
}

#[tokio::test]
async fn commands_past_their_timeout_are_killed() {
    let api = FakeSecrets::with_current("old");
    let hook = sh("echo before; sleep 5; echo after", 200);
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.starts_with("before\n"), "{}", outcome.output);
    assert!(outcome.output.contains("[smemu] sh timed out after 200 ms and was killed"), "{}", outcome.output);
    assert!(!outcome.output.lines().any(|l| l == "after"), "the process was stopped");
    assert!(outcome.duration_ms < 2000, "took {} ms", outcome.duration_ms);
}

#[tokio::test]
async fn commands_that_cannot_start_fail_the_step() {
    let api = FakeSecrets::with_current("old");
    let hook = spec(json!({"functionArn": "c", "kind": "command", "program": "/nonexistent/rotator"}));
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.starts_with("[smemu] can't start /nonexistent/rotator: "), "{}", outcome.output);
    let dir = std::env::temp_dir();
    let hook = spec(json!({"functionArn": "c", "kind": "command", "program": "pwd", "cwd": dir}));
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(outcome.ok);
    assert_eq!(std::fs::canonicalize(outcome.output.trim()).unwrap(), std::fs::canonicalize(&dir).unwrap());
    // A program that ignores stdin still succeeds.
    assert!(invoke(&sh("exit 0", 5000), Step::SetSecret, &api, &[]).await.ok);
}

#[tokio::test]
async fn long_output_is_cut() {
    let api = FakeSecrets::with_current("old");
    let outcome = invoke(&sh("yes line | head -n 5000; echo THE-END", 5000), Step::SetSecret, &api, &[]).await;
    assert!(outcome.ok);
    assert!(outcome.output.len() <= MAX_OUTPUT_BYTES);
    assert!(outcome.output.starts_with("line\nline\n"));
    assert!(outcome.output.trim_end().ends_with("THE-END"));
    assert!(outcome.output.contains("bytes in all, the middle is cut"));
}

async fn run_all(hook: &HookSpec, api: &FakeSecrets) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        outcomes.push(invoke(hook, step, api, &[]).await);
    }
    outcomes
}

#[tokio::test]
async fn builtin_rotates_a_plain_secret() {
    let api = FakeSecrets::with_current("old-password");
    api.add_placeholder(TOKEN);
    let hook = spec(json!({"functionArn": "b", "kind": "builtin", "passwordLength": 16, "excludePunctuation": true}));
    let outcomes = run_all(&hook, &api).await;
    assert!(outcomes.iter().all(|o| o.ok), "{outcomes:?}");
    let new = api.value(TOKEN).unwrap();
    assert_eq!(new.len(), 16);
    assert!(new.chars().all(char::is_alphanumeric));
    assert_eq!(api.stages(TOKEN), ["AWSCURRENT", "AWSPENDING"]);
    assert_eq!(api.stages("v1"), ["AWSPREVIOUS"]);
    assert!(!outcomes.iter().any(|o| o.output.contains(&new)), "the password never reaches the log");
    // createSecret again (a retried step) keeps the value it stored.
    let again = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(again.ok && again.output.contains("nothing to do"));
    assert_eq!(api.value(TOKEN).unwrap(), new);
}

#[tokio::test]
async fn builtin_rotates_one_key_of_a_json_secret() {
    let api = FakeSecrets::with_current(r#"{"username":"app","password":"old","port":5432}"#);
    api.add_placeholder(TOKEN);
    let hook = spec(json!({"functionArn": "b", "kind": "builtin", "jsonKey": "password"}));
    assert!(run_all(&hook, &api).await.iter().all(|o| o.ok));
    let new: Value = serde_json::from_str(&api.value(TOKEN).unwrap()).unwrap();
    assert_eq!(new["username"], "app");
    assert_eq!(new["port"], 5432);
    assert_eq!(new["password"].as_str().unwrap().len(), 32);
    assert_eq!(api.current_id(), TOKEN);
}

#[tokio::test]
async fn builtin_failures_say_why() {
    let hook = spec(json!({"functionArn": "b", "kind": "builtin", "jsonKey": "password"}));
    let api = FakeSecrets::with_current("not json");
    api.add_placeholder(TOKEN);
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert!(outcome.output.contains("isn't a JSON object"), "{}", outcome.output);
    assert_eq!(api.value(TOKEN), None, "nothing stored");
    let outcome = invoke(&hook, Step::TestSecret, &api, &[]).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.output, format!("testSecret: version {TOKEN} has no AWSPENDING value"));

    let api = FakeSecrets::with_current("x");
    api.versions.lock()[0].value = Some(StoredValue::Binary(vec![1, 2]));
    api.add_placeholder(TOKEN);
    let outcome = invoke(&hook, Step::CreateSecret, &api, &[]).await;
    assert!(!outcome.ok && outcome.output.contains("SecretBinary"), "{}", outcome.output);

    let plain = spec(json!({"functionArn": "b", "kind": "builtin"}));
    let mut wrong = event(Step::FinishSecret);
    wrong.client_request_token = "missing".into();
    let outcome = plain
        .invoke(&wrong, &InvokeContext { api: &api, env: &[], processes: &ProcessGroups::new(), functions: None })
        .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.output, "finishSecret: UpdateSecretVersionStage failed: version missing doesn't exist");
}

#[test]
fn the_registry_registers_replaces_finds_and_removes() {
    let registry = HookRegistry::new();
    assert!(registry.is_empty());
    let arn = "arn:aws:lambda:us-east-1:111111111111:function:rotate-db";
    let first = spec(json!({"functionArn": arn, "kind": "builtin"}));
    let second = spec(json!({"functionArn": arn, "kind": "http", "url": "http://h/"}));
    assert!(registry.register(first).is_none());
    assert_eq!(registry.register(second).unwrap().kind_name(), "builtin");
    registry.register(spec(json!({"functionArn": "plain-name", "kind": "builtin"})));
    assert_eq!(registry.len(), 2);
    assert_eq!(registry.get(arn).unwrap().kind_name(), "http");
    assert_eq!(registry.get("rotate-db").unwrap().function_arn, arn, "by function name");
    assert_eq!(
        registry.get("arn:aws:lambda:eu-west-1:222222222222:function:rotate-db").unwrap().function_arn,
        arn,
        "the same function in another account"
    );
    assert_eq!(registry.get("arn:aws:lambda:us-east-1:1:function:plain-name").unwrap().function_arn, "plain-name");
    assert!(registry.get("other").is_none());
    registry.register(spec(json!({"functionArn": "arn:aws:lambda:us-west-2:1:function:rotate-db", "kind": "builtin"})));
    assert!(registry.get("rotate-db").is_none(), "an ambiguous name matches nothing");
    let listed: Vec<String> = registry.list().iter().map(|h| h.function_arn.clone()).collect();
    assert_eq!(listed, [arn, "arn:aws:lambda:us-west-2:1:function:rotate-db", "plain-name"]);
    assert!(registry.remove("rotate-db").is_none(), "removal takes the exact ARN");
    assert!(registry.remove(arn).is_some());
    assert_eq!(registry.len(), 2);
}

#[test]
fn function_names_come_from_lambda_arns() {
    assert_eq!(lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:rot"), Some("rot"));
    assert_eq!(lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:rot:live"), Some("rot"));
    assert_eq!(lambda_function_name("arn:aws-cn:lambda:cn-north-1:1:function:r"), Some("r"));
    assert_eq!(lambda_function_name("arn:aws:sqs:us-east-1:1:function:r"), None);
    assert_eq!(lambda_function_name("rot"), None);
}

#[test]
fn output_is_cut_at_character_boundaries() {
    assert_eq!(cut_output("short"), "short");
    let exact = "a".repeat(MAX_OUTPUT_BYTES);
    assert_eq!(cut_output(&exact), exact);
    let long = format!("{}END", "é".repeat(5000));
    let cut = cut_output(&long);
    assert!(cut.len() <= MAX_OUTPUT_BYTES);
    assert!(cut.starts_with("éé") && cut.ends_with("éEND"));
    assert!(cut.contains(&format!("[… {} bytes in all, the middle is cut …]", long.len())));
}
