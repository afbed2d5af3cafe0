//! GetSecretValue, PutSecretValue, BatchGetSecretValue, UpdateSecretVersionStage and
//! ListSecretVersionIds through the real SDK.

mod common;

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::primitives::{Blob, DateTime};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use common::{DAY, START, TOKEN_A, TOKEN_B, TOKEN_C, TestServer, err_of};
use std::collections::BTreeMap;

async fn stages(sm: &aws_sdk_secretsmanager::Client, id: &str) -> BTreeMap<String, Vec<String>> {
    let d = sm.describe_secret().secret_id(id).send().await.unwrap();
    d.version_ids_to_stages()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v.sort();
            (k.clone(), v)
        })
        .collect()
}

fn labels(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn get_by_stage_and_version() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("g").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    server.advance(1_500);
    sm.put_secret_value().secret_id("g").secret_string("v2").client_request_token(TOKEN_B).send().await.unwrap();

    let cur = sm.get_secret_value().secret_id("g").send().await.unwrap();
    assert_eq!((cur.secret_string(), cur.version_id()), (Some("v2"), Some(TOKEN_B)));
    assert_eq!(cur.version_stages(), ["AWSCURRENT"]);
    assert_eq!(cur.created_date(), Some(&DateTime::from_millis(START * 1000 + 1_500)));
    let prev = sm.get_secret_value().secret_id("g").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(prev.secret_string(), Some("v1"));
    let by_id = sm.get_secret_value().secret_id("g").version_id(TOKEN_A).send().await.unwrap();
    assert_eq!(by_id.version_stages(), ["AWSPREVIOUS"]);
    let both =
        sm.get_secret_value().secret_id("g").version_id(TOKEN_B).version_stage("AWSCURRENT").send().await.unwrap();
    assert_eq!(both.secret_string(), Some("v2"));
}

#[tokio::test]
async fn get_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    let err = sm.get_secret_value().secret_id("missing").send().await.unwrap_err().into_service_error();
    assert!(matches!(err, GetSecretValueError::ResourceNotFoundException(_)), "{err:?}");
    assert_eq!(err.meta().message(), Some("Secrets Manager can't find the specified secret."));

    sm.create_secret().name("g").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    let (code, msg) = err_of(sm.get_secret_value().secret_id("g").version_id(TOKEN_C).send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(msg, format!("Secrets Manager can't find the specified secret value for VersionId: {TOKEN_C}"));
    let (code, msg) = err_of(sm.get_secret_value().secret_id("g").version_stage("NOPE").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(msg, "Secrets Manager can't find the specified secret value for staging label: NOPE");
    for stage in ["AWSPREVIOUS", "NOWHERE"] {
        let (code, msg) = err_of(
            sm.get_secret_value().secret_id("g").version_id(TOKEN_A).version_stage(stage).send().await.unwrap_err(),
        );
        assert_eq!(code, "InvalidRequestException");
        assert_eq!(msg, "You provided a VersionStage that is not associated to the provided VersionId.");
    }
}

#[tokio::test]
async fn get_records_last_accessed_by_day() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("a").secret_string("v").client_request_token(TOKEN_A).send().await.unwrap();
    server.advance(DAY + 3_600_000);
    sm.get_secret_value().secret_id("a").send().await.unwrap();
    let d = sm.describe_secret().secret_id("a").send().await.unwrap();
    assert_eq!(d.last_accessed_date(), Some(&DateTime::from_millis(START * 1000 + DAY)));
    let v = sm.list_secret_version_ids().secret_id("a").send().await.unwrap();
    assert_eq!(v.versions()[0].last_accessed_date(), Some(&DateTime::from_millis(START * 1000 + DAY)));
    // DescribeSecret does not count as an access.
    server.advance(DAY);
    sm.describe_secret().secret_id("a").send().await.unwrap();
    let d = sm.describe_secret().secret_id("a").send().await.unwrap();
    assert_eq!(d.last_accessed_date(), Some(&DateTime::from_millis(START * 1000 + DAY)));
}

#[tokio::test]
async fn put_moves_labels_like_aws() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    // Custom and pending labels do not move AWSCURRENT.
    let out = sm
        .put_secret_value()
        .secret_id("p")
        .secret_string("v2")
        .client_request_token(TOKEN_B)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_stages(), ["AWSPENDING"]);
    assert_eq!(sm.get_secret_value().secret_id("p").send().await.unwrap().secret_string(), Some("v1"));
    // Listing AWSCURRENT demotes the old current to AWSPREVIOUS.
    sm.put_secret_value()
        .secret_id("p")
        .secret_string("v3")
        .client_request_token(TOKEN_C)
        .version_stages("AWSCURRENT")
        .version_stages("PUT0")
        .send()
        .await
        .unwrap();
    let s = stages(&sm, "p").await;
    assert_eq!(s[TOKEN_A], labels(&["AWSPREVIOUS"]));
    assert_eq!(s[TOKEN_B], labels(&["AWSPENDING"]));
    assert_eq!(s[TOKEN_C], labels(&["AWSCURRENT", "PUT0"]));
}

#[tokio::test]
async fn put_custom_stages_move_only_themselves() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    let put = |token: &'static str, st: &'static [&'static str]| {
        let mut req = sm.put_secret_value().secret_id("p").secret_string(token).client_request_token(token);
        for s in st {
            req = req.version_stages(*s);
        }
        req.send()
    };
    put(TOKEN_B, &["one", "two", "three"]).await.unwrap();
    put(TOKEN_C, &["four", "one", "two"]).await.unwrap();
    let s = stages(&sm, "p").await;
    assert_eq!(s[TOKEN_B], labels(&["three"]));
    assert_eq!(s[TOKEN_C], labels(&["four", "one", "two"]));
    assert_eq!(s[TOKEN_A], labels(&["AWSCURRENT"]));
}

#[tokio::test]
async fn put_on_empty_secret_becomes_current() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("e").send().await.unwrap();
    let out = sm.put_secret_value().secret_id("e").secret_string("first").send().await.unwrap();
    assert_eq!(out.version_stages(), ["AWSCURRENT"]);
    assert_eq!(sm.get_secret_value().secret_id("e").send().await.unwrap().secret_string(), Some("first"));
}

#[tokio::test]
async fn put_idempotency_and_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    let arn = sm
        .create_secret()
        .name("p")
        .secret_string("v1")
        .client_request_token(TOKEN_A)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let out =
        sm.put_secret_value().secret_id("p").secret_string("v2").client_request_token(TOKEN_B).send().await.unwrap();
    let again =
        sm.put_secret_value().secret_id("p").secret_string("v2").client_request_token(TOKEN_B).send().await.unwrap();
    assert_eq!(out.version_id(), again.version_id());
    assert_eq!(again.version_stages(), ["AWSCURRENT"]);
    assert_eq!(sm.list_secret_version_ids().secret_id("p").send().await.unwrap().versions().len(), 2);
    let (code, msg) = err_of(
        sm.put_secret_value()
            .secret_id("p")
            .secret_string("v3")
            .client_request_token(TOKEN_B)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException");
    assert_eq!(
        msg,
        format!(
            "You can't use ClientRequestToken {TOKEN_B} because that value is already in use for a version of secret {arn}."
        )
    );
    let (code, _) = err_of(
        sm.put_secret_value()
            .secret_id("p")
            .secret_binary(Blob::new(b"v2".to_vec()))
            .client_request_token(TOKEN_B)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException", "a binary value never equals a string value");
    let (code, msg) = err_of(sm.put_secret_value().secret_id("p").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
    );
    let (code, _) = err_of(
        sm.put_secret_value()
            .secret_id("p")
            .secret_string("a")
            .secret_binary(Blob::new(b"b".to_vec()))
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    let (code, _) = err_of(sm.put_secret_value().secret_id("nope").secret_string("a").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn update_version_stage_moves_and_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("s").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    sm.put_secret_value()
        .secret_id("s")
        .secret_string("v2")
        .client_request_token(TOKEN_B)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();

    let (code, msg) = err_of(
        sm.update_secret_version_stage()
            .secret_id("s")
            .version_stage("AWSCURRENT")
            .move_to_version_id(TOKEN_B)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(
        msg,
        format!(
            "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {TOKEN_A}, so you must explicitly reference that version in RemoveFromVersionId."
        )
    );
    let (code, _) = err_of(
        sm.update_secret_version_stage()
            .secret_id("s")
            .version_stage("AWSCURRENT")
            .move_to_version_id(TOKEN_C)
            .remove_from_version_id(TOKEN_A)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException", "unknown version");

    let out = sm
        .update_secret_version_stage()
        .secret_id("s")
        .version_stage("AWSCURRENT")
        .move_to_version_id(TOKEN_B)
        .remove_from_version_id(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(out.name(), Some("s"));
    let s = stages(&sm, "s").await;
    assert_eq!(s[TOKEN_B], labels(&["AWSCURRENT", "AWSPENDING"]));
    assert_eq!(s[TOKEN_A], labels(&["AWSPREVIOUS"]));

    // Detach a custom label, then the version without labels is deprecated.
    sm.update_secret_version_stage()
        .secret_id("s")
        .version_stage("AWSPENDING")
        .remove_from_version_id(TOKEN_B)
        .send()
        .await
        .unwrap();
    sm.update_secret_version_stage()
        .secret_id("s")
        .version_stage("AWSPREVIOUS")
        .remove_from_version_id(TOKEN_A)
        .send()
        .await
        .unwrap();
    let s = stages(&sm, "s").await;
    assert_eq!(s.len(), 1, "deprecated versions leave VersionIdsToStages: {s:?}");
    let raw = server.call("ListSecretVersionIds", r#"{"SecretId":"s","IncludeDeprecated":true}"#).await.json();
    let deprecated = raw["Versions"].as_array().unwrap().iter().find(|v| v["VersionId"] == TOKEN_A).unwrap().clone();
    assert!(deprecated.get("VersionStages").is_none(), "{deprecated}");

    let (code, _) = err_of(
        sm.update_secret_version_stage()
            .secret_id("s")
            .version_stage("AWSCURRENT")
            .remove_from_version_id(TOKEN_B)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException", "AWSCURRENT cannot be detached without a move");
    let (code, _) = err_of(
        sm.update_secret_version_stage()
            .secret_id("s")
            .version_stage("X")
            .remove_from_version_id(TOKEN_A)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException", "label not on that version");
    // Attaching a label that is nowhere needs no RemoveFromVersionId.
    sm.update_secret_version_stage()
        .secret_id("s")
        .version_stage("NEW")
        .move_to_version_id(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(stages(&sm, "s").await[TOKEN_A], labels(&["NEW"]));
}

#[tokio::test]
async fn list_version_ids_pages_and_hides_deprecated() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("l").secret_string("0").send().await.unwrap();
    for i in 1..5 {
        server.advance(1000);
        sm.put_secret_value().secret_id("l").secret_string(i.to_string()).send().await.unwrap();
    }
    let live = sm.list_secret_version_ids().secret_id("l").send().await.unwrap();
    assert_eq!(live.versions().len(), 2);
    assert_eq!(live.name(), Some("l"));
    assert!(live.next_token().is_none());
    assert_eq!(live.versions()[0].kms_key_ids(), ["DefaultEncryptionKey".to_owned()]);
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = sm
            .list_secret_version_ids()
            .secret_id("l")
            .include_deprecated(true)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        seen.extend(page.versions().iter().map(|v| v.version_id().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    let (code, _) = err_of(sm.list_secret_version_ids().secret_id("l").next_token("garbage").send().await.unwrap_err());
    assert_eq!(code, "InvalidNextTokenException");
    let (code, _) = err_of(sm.list_secret_version_ids().secret_id("nope").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn batch_get_by_ids_reports_errors_per_secret() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("b1").secret_string("one").send().await.unwrap();
    sm.create_secret().name("b2").secret_binary(Blob::new(b"two".to_vec())).send().await.unwrap();
    sm.create_secret().name("gone").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("gone").send().await.unwrap();
    let out = sm
        .batch_get_secret_value()
        .secret_id_list("b1")
        .secret_id_list("b2")
        .secret_id_list("missing")
        .secret_id_list("gone")
        .send()
        .await
        .unwrap();
    let values: Vec<_> = out.secret_values().iter().map(|v| v.name().unwrap()).collect();
    assert_eq!(values, ["b1", "b2"]);
    assert_eq!(out.secret_values()[1].secret_binary().unwrap().as_ref(), b"two");
    let errors: Vec<_> =
        out.errors().iter().map(|e| (e.secret_id().unwrap(), e.error_code().unwrap(), e.message().unwrap())).collect();
    assert_eq!(
        errors,
        [
            ("missing", "ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
            (
                "gone",
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion."
            ),
        ]
    );
}

#[tokio::test]
async fn batch_get_by_filters_pages() {
    let server = TestServer::start().await;
    let sm = server.client();
    for i in 0..5 {
        sm.create_secret().name(format!("app/{i}")).secret_string(format!("v{i}")).send().await.unwrap();
    }
    sm.create_secret().name("other").secret_string("x").send().await.unwrap();
    let filter = Filter::builder().key(FilterNameStringType::Name).values("app/").build();
    let first = sm.batch_get_secret_value().filters(filter.clone()).max_results(3).send().await.unwrap();
    assert_eq!(first.secret_values().len(), 3);
    let second = sm
        .batch_get_secret_value()
        .filters(filter)
        .max_results(3)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.secret_values().len(), 2);
    assert!(second.next_token().is_none());

    let (code, msg) = err_of(sm.batch_get_secret_value().send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidParameterException", "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
    );
    let (code, msg) =
        err_of(sm.batch_get_secret_value().secret_id_list("app/0").max_results(2).send().await.unwrap_err());
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(msg, "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.");
}
