//! Limits and leaks: what the API refuses must be refused from seed files too; no value in errors.

use crate::common::{TOKEN_A, TestServer, err_of};
use aws_sdk_secretsmanager::types::Tag;
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

const TOO_MANY_TAGS: &str = "You can't attach more than 50 tags to a secret.";

fn tags(count: usize) -> Vec<Tag> {
    (0..count).map(|i| Tag::builder().key(format!("k{i}")).value("v").build()).collect()
}

fn tags_json(count: usize) -> String {
    let tags: Vec<String> = (0..count).map(|i| format!(r#"{{"Key":"t{i}","Value":""}}"#)).collect();
    format!("[{}]", tags.join(","))
}

#[tokio::test]
async fn fifty_one_tags_are_refused_on_create_secret_and_on_tag_resource() {
    let server = TestServer::start().await;
    let sm = server.client();
    let err = sm.create_secret().name("crowded").set_tags(Some(tags(51))).send().await.unwrap_err();
    assert_eq!(err_of(err), ("InvalidParameterException".to_owned(), TOO_MANY_TAGS.to_owned()));
    assert!(sm.describe_secret().secret_id("crowded").send().await.is_err(), "nothing was created");

    sm.create_secret().name("full").set_tags(Some(tags(50))).send().await.unwrap();
    let one_more = vec![Tag::builder().key("k50").value("v").build()];
    let err = sm.tag_resource().secret_id("full").set_tags(Some(one_more)).send().await.unwrap_err();
    assert_eq!(err_of(err), ("InvalidParameterException".to_owned(), TOO_MANY_TAGS.to_owned()));
    // The cap counts the tags after merging: new values for keys already there are fine.
    let again: Vec<Tag> = (0..50).map(|i| Tag::builder().key(format!("k{i}")).value("w").build()).collect();
    sm.tag_resource().secret_id("full").set_tags(Some(again)).send().await.unwrap();
    let described = sm.describe_secret().secret_id("full").send().await.unwrap();
    assert_eq!(described.tags().len(), 50);
    assert!(described.tags().iter().all(|t| t.value() == Some("w")));
}

#[tokio::test]
async fn ten_thousand_tags_are_refused_with_the_tag_limit_error() {
    let server = TestServer::start().await;
    let body = format!(r#"{{"Name":"flood","ClientRequestToken":"{TOKEN_A}","Tags":{}}}"#, tags_json(10_000));
    server.call("CreateSecret", &body).await.assert_error(400, "InvalidParameterException", TOO_MANY_TAGS);
    server.call("DescribeSecret", r#"{"SecretId":"flood"}"#).await.assert_error(
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    );
    server.client().create_secret().name("target").send().await.unwrap();
    let body = format!(r#"{{"SecretId":"target","Tags":{}}}"#, tags_json(10_000));
    server.call("TagResource", &body).await.assert_error(400, "InvalidParameterException", TOO_MANY_TAGS);
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-hostile-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn app() -> App {
    App::new(Config::default(), Arc::new(Clock::manual(Timestamp::from_secs(crate::common::START))))
}

/// Loads `body` as a seed file named `name` and returns the error it must give.
fn seed_error(name: &str, body: &str) -> (String, PathBuf) {
    let path = temp_dir("seed").join(name);
    std::fs::write(&path, body).unwrap();
    let app = app();
    let err = smemu::seed::load(&app, &path).expect_err("the seed must be refused").to_string();
    assert_eq!(app.engine.secret_count(), 0, "nothing is created from a bad seed: {err}");
    (err, path)
}

/// Starts the binary expecting it to refuse; returns its exit code and what it printed on stderr.
fn refused_start(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
        .args(["--port", "0", "--log-level", "warn"])
        .args(args)
        .env_remove("SMEMU_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn smemu");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("smemu started although it must refuse: {line}");
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn an_over_long_seed_secret_string_is_refused() {
    let value = "Q".repeat(70_007);
    let (err, path) = seed_error("big.yaml", &format!("secrets:\n  - name: big\n    secretString: '{value}'\n"));
    let expected = format!(
        "seed file {}: secret #1 (\"big\"): secretString: must have length less than or equal to 65536",
        path.display()
    );
    assert_eq!(err, expected);
    let (err, _) = seed_error(
        "versions.json",
        &format!(r#"{{"secrets":[{{"name":"v","versions":[{{"secretString":"a"}},{{"secretString":"{value}"}}]}}]}}"#),
    );
    assert!(
        err.ends_with(": secret #1 (\"v\"): versions[2].secretString: must have length less than or equal to 65536"),
        "{err}"
    );
}

#[test]
fn a_seed_rotation_of_rate_one_hour_stops_startup_naming_file_entry_and_field() {
    let dir = temp_dir("rate");
    let path = dir.join("seed.yaml");
    let body = "secrets:\n  - name: app/ok\n    secretString: a\n  - name: app/db\n    secretString: a\n    \
                rotation: { lambdaArn: 'arn:aws:lambda:us-east-1:000000000000:function:rotate', scheduleExpression: 'rate(1 hours)' }\n";
    std::fs::write(&path, body).unwrap();
    let (code, stderr) = refused_start(&["--seed", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    let prefix = format!("smemu: seed file {}: secret #2 (\"app/db\"): rotation.scheduleExpression: ", path.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(stderr.contains("at most every four hours"), "{stderr}");
}

#[test]
fn seed_rotation_rules_go_through_the_rotate_secret_checks() {
    let rotate = |rules: &str| {
        format!(
            "secrets:\n  - name: r\n    rotation: {{ lambdaArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', {rules} }}\n"
        )
    };
    for (rules, field, problem) in [
        ("scheduleExpression: 'every day'", "rotation.scheduleExpression", "isn't valid"),
        ("scheduleExpression: 'rate(1 days)', duration: '30h'", "rotation.duration", "isn't valid"),
        (
            "scheduleExpression: 'rate(1 days)', duration: 'hour'",
            "rotation.duration",
            "must satisfy regular expression pattern",
        ),
        (
            "automaticallyAfterDays: 1001",
            "rotation.automaticallyAfterDays",
            "must have value less than or equal to 1000",
        ),
        ("automaticallyAfterDays: 3, scheduleExpression: 'rate(3 days)'", "rotation", "cannot specify both"),
        ("duration: '2h'", "rotation.duration", "requires AutomaticallyAfterDays or a ScheduleExpression"),
    ] {
        let (err, _) = seed_error("rules.yaml", &rotate(rules));
        let at = format!("secret #1 (\"r\"): {field}: ");
        assert!(err.contains(&at) && err.contains(problem), "{rules}: {err}");
    }
    let (err, _) = seed_error("nolambda.yaml", "secrets:\n  - name: r\n    rotation: { automaticallyAfterDays: 3 }\n");
    assert!(err.contains("secret #1 (\"r\"): rotation.lambdaArn: "), "{err}");
}

#[test]
fn seed_entries_pass_the_limits_the_api_enforces() {
    let tags: Vec<String> = (0..51).map(|i| format!("k{i}: v")).collect();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"secretsmanager:GetSecretValue","Resource":"*","Sid":"{}"}}]}}"#,
        "s".repeat(20_480)
    );
    let long_key = "k".repeat(129);
    let long_key_field = format!("tags.{long_key}.key");
    for (entry, field, problem) in [
        (format!("{{ name: x, tags: {{ {} }} }}", tags.join(", ")), "tags", "more than 50 tags"),
        (format!("{{ name: x, description: '{}' }}", "d".repeat(2049)), "description", "less than or equal to 2048"),
        (format!("{{ name: '{}' }}", "n".repeat(513)), "name", "less than or equal to 512"),
        ("{ name: x, tags: [ { key: 'aws:owner', value: v } ] }".to_owned(), "tags", "can't modify system tags"),
        (format!("{{ name: x, tags: {{ '{long_key}': v }} }}"), long_key_field.as_str(), "less than or equal to 128"),
        ("{ name: x, kmsKeyId: 'not-a-key' }".to_owned(), "kmsKeyId", "invalid KMS key"),
        (format!("{{ name: x, resourcePolicy: '{policy}' }}"), "resourcePolicy", "less than or equal to 20480"),
        (
            "{ name: x, versions: [ { id: short, secretString: a } ] }".to_owned(),
            "versions[1].id",
            "greater than or equal to 32",
        ),
        ("{ name: x, secretString: '' }".to_owned(), "secretString", "greater than or equal to 1"),
    ] {
        let (err, _) = seed_error("limits.yaml", &format!("secrets:\n  - {entry}\n"));
        assert!(err.contains("secret #1 (\"") && err.contains(&format!("\"): {field}: ")), "{field}: {err}");
        assert!(err.contains(problem), "{field}: {err}");
    }
}

#[test]
fn a_seed_type_error_on_a_secret_string_does_not_echo_it() {
    for (file, body) in [
        ("typed.json", r#"{"secrets":[{"name":"app/db","secretString":4815162342}]}"#),
        ("typed.yaml", "secrets:\n  - name: app/db\n    secretString: 4815162342\n"),
        ("typed-version.yaml", "secrets:\n  - name: app/db\n    versions:\n      - secretString: 4815162342\n"),
    ] {
        let (err, _) = seed_error(file, body);
        assert!(!err.contains("4815162342"), "the value is echoed: {err}");
        assert!(!err.contains("invalid type") && !err.contains("expected"), "serde's wording: {err}");
        assert!(err.contains("secret #1 (\"app/db\"): ") && err.contains("secretString: must be a string"), "{err}");
    }
}

#[test]
fn a_malformed_toml_credentials_file_does_not_print_the_secret() {
    let path = temp_dir("creds").join("creds.toml");
    let secret = "Zq8SecretThatMustNeverBePrinted/K7MDENG";
    std::fs::write(
        &path,
        format!(
            "[[credentials]]\naccess_key_id = \"AKIAEXAMPLE0001\"\nsecret_access_key = \"{secret}\naccount_id = \"111122223333\"\n"
        ),
    )
    .unwrap();
    let (code, stderr) = refused_start(&["--auth", "strict", "--credentials", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("Zq8Secret"), "the secret is printed: {stderr}");
    assert!(stderr.contains(&format!("credentials file {}: not valid TOML at line 3", path.display())), "{stderr}");
    assert!(stderr.contains("`secret_access_key`"), "{stderr}");
}

#[test]
fn a_secret_access_key_on_the_command_line_is_refused() {
    let secret = "Zq8CommandLineSecret";
    for args in [
        vec!["--auth", "strict", "--access-key-id", "AKIAEXAMPLE0001", "--secret-access-key", secret],
        vec!["--access-key-id", "AKIAEXAMPLE0001", &format!("--secret-access-key={secret}")],
    ] {
        let (code, stderr) = refused_start(&args);
        assert_eq!(code, 2, "{stderr}");
        assert!(!stderr.contains(secret), "{stderr}");
        assert!(stderr.contains("SMEMU_SECRET_ACCESS_KEY") && stderr.contains("--secret-access-key-file"), "{stderr}");
    }
}

#[tokio::test]
async fn replication_inputs_no_sdk_sends_get_aws_shaped_answers() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("s").secret_string("hunter2").send().await.unwrap();
    let call = |body: &'static str| server.call("ReplicateSecretToRegions", body);
    let r = call(r#"{"SecretId":"s","AddReplicaRegions":[{}]}"#).await;
    r.assert_error(400, "InvalidParameterException", "Invalid replica region.");
    let r = call(r#"{"SecretId":"s","AddReplicaRegions":[{"Region":"EU-WEST-1"}]}"#).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("ValidationException")));
    let r = call(r#"{"SecretId":"s","AddReplicaRegions":"eu-west-1"}"#).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("SerializationException")));
    let r = server
        .call(
            "CreateSecret",
            &format!(
                r#"{{"Name":"cn","ClientRequestToken":"{TOKEN_A}","AddReplicaRegions":[{{"Region":"cn-north-1"}}]}}"#
            ),
        )
        .await;
    r.assert_error(400, "InvalidParameterException", "Invalid replica region.");
    assert!(sm.describe_secret().secret_id("cn").send().await.is_err(), "nothing was created");
    // The same Region a thousand times is one replica.
    let many: Vec<String> = (0..1000).map(|_| r#"{"Region":"eu-west-1"}"#.to_owned()).collect();
    let body = format!(r#"{{"SecretId":"s","AddReplicaRegions":[{}]}}"#, many.join(","));
    let r = server.call("ReplicateSecretToRegions", &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ReplicationStatus"].as_array().unwrap().len(), 1);
    let r = server.call("RemoveRegionsFromReplication", r#"{"SecretId":"s","RemoveReplicaRegions":[]}"#).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("ValidationException")));
    let r = server.call("StopReplicationToReplica", r#"{"SecretId":"s"}"#).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("InvalidRequestException")));
    let dump = String::from_utf8_lossy(&server.control("GET", "/_smemu/faults", "").await.body).into_owned();
    assert!(!dump.contains("hunter2"));
}
