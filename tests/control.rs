//! The `/_smemu/` control API: clock, purges in time order, reset, export and import, health.

mod common;

use common::{DAY, START, TestServer, err_of};
use serde_json::json;

#[tokio::test]
async fn advancing_the_clock_ends_recovery_windows() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("gone-soon").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("gone-soon").recovery_window_in_days(7).send().await.unwrap();

    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"6d"}"#).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let (code, msg) = err_of(sm.create_secret().name("gone-soon").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    assert_eq!(msg, "You can't create this secret because a secret with this name is already scheduled for deletion.");

    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"1d"}"#).await;
    assert_eq!(r.json()["now"], "2026-01-08T00:00:00.000Z");
    // Purged during the advance itself, not lazily on the next touch.
    assert_eq!(server.app.engine.secret_count(), 0);
    sm.create_secret().name("gone-soon").secret_string("x").send().await.unwrap();
}

#[tokio::test]
async fn advance_purges_exactly_the_due_secrets() {
    let server = TestServer::start().await;
    let sm = server.client();
    for (name, days) in [("seven", 7), ("ten", 10), ("thirty", 30)] {
        sm.create_secret().name(name).secret_string("x").send().await.unwrap();
        sm.delete_secret().secret_id(name).recovery_window_in_days(days).send().await.unwrap();
    }
    sm.create_secret().name("kept").secret_string("x").send().await.unwrap();
    server.control("POST", "/_smemu/clock", r#"{"advance":"10d"}"#).await;
    let listed = sm.list_secrets().include_planned_deletion(true).send().await.unwrap();
    let names: Vec<_> = listed.secret_list().iter().map(|s| s.name().unwrap()).collect();
    assert_eq!(names, ["thirty", "kept"]);
    assert_eq!(server.app.engine.secret_count(), 2);
    let view = server.control("GET", "/_smemu/clock", "").await.json();
    assert_eq!(view["nextDue"], "2026-01-31T00:00:00.000Z");
}

#[tokio::test]
async fn restored_secrets_are_not_purged() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("r").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("r").recovery_window_in_days(7).send().await.unwrap();
    sm.restore_secret().secret_id("r").send().await.unwrap();
    server.control("POST", "/_smemu/clock", r#"{"advance":"8d"}"#).await;
    assert_eq!(sm.get_secret_value().secret_id("r").send().await.unwrap().secret_string(), Some("x"));
}

#[tokio::test]
async fn the_clock_moves_forward_only() {
    let server = TestServer::start().await;
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"2026-03-01T12:00:00Z"}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["now"], "2026-03-01T12:00:00.000Z");
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"2026-02-01T00:00:00Z"}"#).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("never runs backwards"));
    let r = server.control("POST", "/_smemu/clock", r#"{"set": 1900000000}"#).await;
    assert_eq!(r.json()["epochSeconds"], 1_900_000_000.0);
    for bad in [r#"{"advance":"soon"}"#, r#"{"advance":"1d","set":"2030-01-01"}"#, "{}", "{bad", r#"{"jump":"1d"}"#] {
        assert_eq!(server.control("POST", "/_smemu/clock", bad).await.status, 400, "{bad}");
    }
    // Dates the API reports follow smemu's clock.
    let sm = server.client();
    sm.create_secret().name("later").secret_string("x").send().await.unwrap();
    let d = sm.describe_secret().secret_id("later").send().await.unwrap();
    assert_eq!(d.created_date().unwrap().secs(), 1_900_000_000);
}

#[tokio::test]
async fn the_clock_reads_instants_with_utc_offsets() {
    let server = TestServer::start().await;
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"2026-03-01T14:00:00+02:00"}"#).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["now"], "2026-03-01T12:00:00.000Z");
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"2026-03-01T07:30:00.250-05:00"}"#).await;
    assert_eq!(r.json()["now"], "2026-03-01T12:30:00.250Z");
    // An earlier instant stays earlier, whatever its offset says on its face.
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"2026-03-01T13:00:00+01:00"}"#).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn reset_is_isolated_per_account_and_region() {
    let server = TestServer::start().await;
    let a = server.client_as("111111111111", "us-east-1");
    let a_west = server.client_as("111111111111", "eu-west-1");
    let b = server.client_as("222222222222", "us-east-1");
    for c in [&a, &a_west, &b] {
        c.create_secret().name("s").secret_string("x").send().await.unwrap();
    }
    let r = server.control("POST", "/_smemu/reset", r#"{"account":"111111111111","region":"eu-west-1"}"#).await;
    assert_eq!(r.status, 200);
    assert!(a_west.list_secrets().send().await.unwrap().secret_list().is_empty());
    assert_eq!(a.list_secrets().send().await.unwrap().secret_list().len(), 1);
    server.control("POST", "/_smemu/reset", r#"{"account":"111111111111"}"#).await;
    assert!(a.list_secrets().send().await.unwrap().secret_list().is_empty());
    assert_eq!(b.list_secrets().send().await.unwrap().secret_list().len(), 1);
    assert_eq!(server.control("POST", "/_smemu/reset", r#"{"region":"us-east-1"}"#).await.status, 400);
    server.control("POST", "/_smemu/reset", "").await;
    assert!(b.list_secrets().send().await.unwrap().secret_list().is_empty());
    // The alias existing setups call.
    b.create_secret().name("s").secret_string("x").send().await.unwrap();
    let r = server.control("POST", "/moto-api/reset", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(server.app.engine.secret_count(), 0);
}

#[tokio::test]
async fn reset_forgets_the_schedules_and_rotation_log_of_its_worlds_and_keeps_hooks() {
    use aws_sdk_secretsmanager::types::RotationRulesType;
    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotate";
    let server = TestServer::start().await;
    let hook = json!({ "functionArn": FN, "kind": "builtin", "jsonKey": "password" });
    assert_eq!(server.control("POST", "/_smemu/hooks", &hook.to_string()).await.status, 200);
    let a = server.client_as("111111111111", "us-east-1");
    let b = server.client_as("222222222222", "us-east-1");
    for (sm, days) in [(&a, 10), (&b, 20)] {
        sm.create_secret().name("db").secret_string(r#"{"password":"old"}"#).send().await.unwrap();
        let rules = RotationRulesType::builder().automatically_after_days(days).build();
        sm.rotate_secret().secret_id("db").rotation_lambda_arn(FN).rotation_rules(rules).send().await.unwrap();
    }
    a.create_secret().name("gone").secret_string("x").send().await.unwrap();
    a.delete_secret().secret_id("gone").recovery_window_in_days(7).send().await.unwrap();
    let next_due = || async { server.control("GET", "/_smemu/clock", "").await.json()["nextDue"].clone() };
    assert_eq!(next_due().await, "2026-01-08T00:00:00.000Z", "the purge in account 1111…");
    let log = || async {
        let entries = server.control("GET", "/_smemu/rotations", "").await.json();
        entries.as_array().unwrap().iter().map(|e| e["secretArn"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(log().await.len(), 8);

    let r = server.control("POST", "/_smemu/reset", r#"{"account":"111111111111"}"#).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let left = log().await;
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|arn| arn.contains(":222222222222:")), "{left:?}");
    // Neither the purge nor the rotation of the reset account is still due: the next due work is
    // account 2222…'s rotation, whose window opens 20 days after its last rotation.
    assert_eq!(next_due().await, "2026-01-21T00:00:00.000Z");
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"30d"}"#).await;
    assert_eq!(r.status, 200);
    let after = log().await;
    assert_eq!(after.len(), 8, "account 2222… rotated on schedule, account 1111… not at all");
    assert!(after.iter().all(|arn| arn.contains(":222222222222:")), "{after:?}");
    // Hooks are configuration, not state: they survive every reset.
    server.control("POST", "/_smemu/reset", "").await;
    assert!(log().await.is_empty());
    assert_eq!(next_due().await, serde_json::Value::Null);
    let hooks = server.control("GET", "/_smemu/hooks", "").await.json();
    assert_eq!(hooks[0]["functionArn"], FN);
    b.create_secret().name("db").secret_string(r#"{"password":"old"}"#).send().await.unwrap();
    b.rotate_secret().secret_id("db").rotation_lambda_arn(FN).send().await.unwrap();
    assert_eq!(log().await.len(), 4);
    assert_eq!(server.control("POST", "/moto-api/reset", "").await.status, 200);
    assert!(log().await.is_empty());
}

#[tokio::test]
async fn reset_refuses_an_invalid_account_or_region() {
    let server = TestServer::start().await;
    server.client().create_secret().name("kept").secret_string("x").send().await.unwrap();
    for (body, message) in [
        (r#"{"account":"abc"}"#, r#""account" must be a 12-digit account id, not "abc""#),
        (r#"{"account":"00000000000"}"#, r#""account" must be a 12-digit account id, not "00000000000""#),
        (
            r#"{"account":"000000000000","region":"US-EAST-1"}"#,
            r#""region" must be a region name such as us-east-1, not "US-EAST-1""#,
        ),
        (r#"{"account":"000000000000","region":""}"#, r#""region" must be a region name such as us-east-1, not """#),
        (r#"{"region":"us-east-1"}"#, "a region can only be reset together with its account"),
    ] {
        let r = server.control("POST", "/_smemu/reset", body).await;
        assert_eq!((r.status, r.json()["error"].as_str()), (400, Some(message)), "{body}");
    }
    assert_eq!(server.app.engine.secret_count(), 1, "a refused reset forgets nothing");
}

#[tokio::test]
async fn export_then_import_round_trips() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret()
        .name("a")
        .secret_string("one")
        .tags(aws_sdk_secretsmanager::types::Tag::builder().key("k").value("v").build())
        .send()
        .await
        .unwrap();
    sm.put_secret_value().secret_id("a").secret_string("two").version_stages("CUSTOM").send().await.unwrap();
    sm.create_secret()
        .name("b")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![0, 1, 2]))
        .send()
        .await
        .unwrap();
    sm.delete_secret().secret_id("b").send().await.unwrap();
    let exported = server.control("GET", "/_smemu/state", "").await;
    assert_eq!(exported.status, 200);
    let before = sm.describe_secret().secret_id("a").send().await.unwrap();

    let other = TestServer::start().await;
    let r = other.control("POST", "/_smemu/state", std::str::from_utf8(&exported.body).unwrap()).await;
    assert_eq!(r.json(), json!({ "imported": 2 }));
    let sm2 = other.client();
    let after = sm2.describe_secret().secret_id("a").send().await.unwrap();
    assert_eq!(before.arn(), after.arn());
    assert_eq!(before.version_ids_to_stages(), after.version_ids_to_stages());
    assert_eq!(before.tags(), after.tags());
    assert_eq!(sm2.get_secret_value().secret_id("a").send().await.unwrap().secret_string(), Some("one"));
    let (code, _) = err_of(sm2.get_secret_value().secret_id("b").send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException", "still scheduled for deletion after import");
    // The imported deletion still expires.
    other.control("POST", "/_smemu/clock", r#"{"advance":"30d"}"#).await;
    assert_eq!(other.app.engine.secret_count(), 1);
    // New secrets after an import do not collide with imported ones in ordering.
    sm2.create_secret().name("c").secret_string("x").send().await.unwrap();
    let names: Vec<_> =
        sm2.list_secrets().send().await.unwrap().secret_list().iter().map(|s| s.name().unwrap().to_owned()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(other.control("POST", "/_smemu/state", "{\"stores\": 5}").await.status, 400);
}

#[tokio::test]
async fn health_and_aliases() {
    let server = TestServer::start().await;
    let r = server.control("GET", "/_smemu/health", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ready");
    let r = server.control("GET", "/_localstack/health", "").await;
    assert_eq!(r.json()["services"]["secretsmanager"], "available");
    server.app.set_ready(false);
    assert_eq!(server.control("GET", "/_smemu/health", "").await.status, 503);
    assert_eq!(server.control("GET", "/_smemu/nope", "").await.status, 404);
    let _ = (START, DAY);
}

#[tokio::test]
async fn while_state_loads_only_health_and_listings_answer() {
    let server = TestServer::start().await;
    server.app.set_ready(false);
    let r = server.control("GET", "/_smemu/health", "").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), json!({ "status": "loading", "version": env!("CARGO_PKG_VERSION") }));
    let r = server.call("ListSecrets", "{}").await;
    r.assert_error(503, "ServiceUnavailable", "smemu is still loading its state (--data-dir, --seed); retry shortly.");
    assert_eq!(r.header("retry-after"), Some("1"));
    for (method, path) in [("POST", "/_smemu/reset"), ("GET", "/_smemu/state"), ("POST", "/_smemu/clock")] {
        let r = server.control(method, path, "{}").await;
        assert_eq!(r.status, 503, "{method} {path}");
        assert!(r.json()["error"].as_str().unwrap().contains("still loading"), "{method} {path}");
    }
    assert_eq!(server.control("GET", "/_smemu/", "").await.status, 200);
    let r = server.control("GET", "/_localstack/health", "").await;
    assert_eq!(r.json()["services"]["secretsmanager"], "initializing");
    let r = server.control("GET", "/_localstack/init", "").await;
    assert_eq!(r.json()["completed"]["READY"], false);
    assert_eq!(server.control("GET", "/_smemu/nope", "").await.status, 404, "unknown paths stay 404");

    server.app.set_ready(true);
    assert_eq!(server.control("GET", "/_smemu/health", "").await.json()["status"], "ready");
    assert_eq!(server.call("ListSecrets", "{}").await.status, 200);
    let r = server.control("GET", "/_localstack/init", "").await;
    assert_eq!(
        r.json(),
        json!({ "completed": { "BOOT": true, "START": true, "READY": true, "SHUTDOWN": false }, "scripts": [] })
    );
    assert_eq!(
        server.control("GET", "/_localstack/init/ready", "").await.json(),
        json!({ "completed": true, "scripts": [] })
    );
    let r = server.control("GET", "/_localstack/init/later", "").await;
    assert_eq!((r.status, r.json()["error"].as_str()), (404, Some("no init stage \"later\"")));
}

#[tokio::test]
async fn the_control_api_lists_its_endpoints() {
    let server = TestServer::start().await;
    let listed = server.control("GET", "/_smemu", "").await;
    assert_eq!(listed.status, 200);
    assert_eq!(server.control("GET", "/_smemu/", "").await.json(), listed.json());
    let endpoints = listed.json()["endpoints"].as_array().unwrap().clone();
    let names: Vec<String> = endpoints
        .iter()
        .map(|e| format!("{} {}", e["method"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    for expected in [
        "GET /_smemu",
        "GET /_smemu/health",
        "POST /_smemu/reset",
        "GET /_smemu/clock",
        "POST /_smemu/clock",
        "GET /_smemu/state",
        "POST /_smemu/state",
        "GET /_smemu/hooks",
        "POST /_smemu/hooks",
        "DELETE /_smemu/hooks",
        "GET /_smemu/rotations",
        "GET /_localstack/health",
        "HEAD /_localstack/health",
        "GET /_localstack/init",
        "GET /_localstack/init/{stage}",
        "POST /moto-api/reset",
    ] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    assert!(endpoints.iter().all(|e| !e["description"].as_str().unwrap().is_empty()));
    // Every listed endpoint is served (the library's tests check the converse).
    for (method, path) in names.iter().map(|n| n.split_once(' ').unwrap()) {
        let path = path.replace("{stage}", "ready");
        let r = server.control(method, &path, "").await;
        let error = if r.body.is_empty() { None } else { r.json()["error"].as_str().map(str::to_owned) };
        assert!(!error.is_some_and(|e| e.starts_with("no control endpoint")), "{method} {path}");
    }
}
