//! Limits and leaks: what the API refuses must be refused from seed files too; no value in errors.

use crate::common::{TOKEN_A, TestServer, err_of};
use aws_sdk_secretsmanager::types::Tag;

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
