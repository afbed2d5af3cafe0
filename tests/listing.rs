//! ListSecrets (filters, sorting, paging), TagResource/UntagResource and GetRandomPassword.

mod common;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SortByType, SortOrderType, Tag};
use common::{TestServer, err_of};

fn filter(key: FilterNameStringType, values: &[&str]) -> Filter {
    let mut f = Filter::builder().key(key);
    for v in values {
        f = f.values(*v);
    }
    f.build()
}

async fn names(sm: &aws_sdk_secretsmanager::Client, filters: Vec<Filter>) -> Vec<String> {
    let out = sm.list_secrets().set_filters(Some(filters)).send().await.unwrap();
    out.secret_list().iter().map(|s| s.name().unwrap().to_owned()).collect()
}

async fn seed(server: &TestServer) -> aws_sdk_secretsmanager::Client {
    let sm = server.client();
    type Seed<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);
    let secrets: [Seed<'_>; 5] = [
        ("/prod/db", Some("a secret"), &[("env", "prod")]),
        ("/prod/api", Some("an secret"), &[("env", "prod"), ("team", "core")]),
        ("dev/db", Some("asecret"), &[("env", "dev")]),
        ("thesecret", None, &[]),
        ("SecretOne", Some("one and two"), &[("Owner", "Alice")]),
    ];
    for (name, description, tags) in secrets {
        let mut req = sm.create_secret().name(name).secret_string("x").set_description(description.map(str::to_owned));
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(*k).value(*v).build());
        }
        req.send().await.unwrap();
        server.advance(1000);
    }
    sm
}

#[tokio::test]
async fn lists_in_creation_order_with_entry_shape() {
    let server = TestServer::start().await;
    let sm = seed(&server).await;
    assert_eq!(names(&sm, vec![]).await, ["/prod/db", "/prod/api", "dev/db", "thesecret", "SecretOne"]);
    let raw = server.call("ListSecrets", "{}").await.json();
    let entry = &raw["SecretList"][0];
    assert!(entry.get("SecretVersionsToStages").is_some(), "{entry}");
    assert!(entry.get("VersionIdsToStages").is_none(), "{entry}");
    assert!(raw.get("NextToken").is_none());
    let no_desc = &raw["SecretList"][3];
    assert!(no_desc.get("Description").is_none() && no_desc.get("Tags").is_none(), "{no_desc}");
}

#[tokio::test]
async fn filters_match_like_aws() {
    let server = TestServer::start().await;
    let sm = seed(&server).await;
    use FilterNameStringType as K;
    assert_eq!(names(&sm, vec![filter(K::Name, &["/prod"])]).await, ["/prod/db", "/prod/api"]);
    assert_eq!(names(&sm, vec![filter(K::Name, &["!/"])]).await, ["dev/db", "thesecret", "SecretOne"]);
    assert!(names(&sm, vec![filter(K::Name, &["testing1 one"])]).await.is_empty());
    assert_eq!(names(&sm, vec![filter(K::Description, &["a secret"])]).await, ["/prod/db", "/prod/api"]);
    assert_eq!(names(&sm, vec![filter(K::Description, &["one two"])]).await, ["SecretOne"]);
    assert_eq!(names(&sm, vec![filter(K::Description, &["!c"])]).await.len(), 5);
    assert_eq!(names(&sm, vec![filter(K::TagKey, &["env"])]).await, ["/prod/db", "/prod/api", "dev/db"]);
    assert_eq!(names(&sm, vec![filter(K::TagValue, &["prod"])]).await, ["/prod/db", "/prod/api"]);
    assert_eq!(names(&sm, vec![filter(K::TagValue, &["prod", "dev"])]).await, ["/prod/db", "/prod/api", "dev/db"]);
    assert_eq!(names(&sm, vec![filter(K::TagKey, &["env"]), filter(K::TagValue, &["dev"])]).await, ["dev/db"]);
    assert_eq!(names(&sm, vec![filter(K::All, &["sec"])]).await, ["/prod/db", "/prod/api", "SecretOne"]);
    assert!(names(&sm, vec![filter(K::All, &["ret"])]).await.is_empty());
    assert_eq!(names(&sm, vec![filter(K::All, &["alice"])]).await, ["SecretOne"]);
}

#[tokio::test]
async fn filter_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    let raw = server.call("ListSecrets", r#"{"Filters":[{"Key":"invalid","Values":["x"]}]}"#).await;
    raw.assert_error(
        400,
        "ValidationException",
        "1 validation error detected: Value 'invalid' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]",
    );
    let raw = server.call("ListSecrets", r#"{"Filters":[{"Values":["x"]}]}"#).await;
    raw.assert_error(400, "InvalidParameterException", "Invalid filter key");
    let raw = server.call("ListSecrets", r#"{"Filters":[{"Key":"name"}]}"#).await;
    raw.assert_error(400, "InvalidParameterException", "Invalid filter values for key: name");
    let (code, _) = err_of(sm.list_secrets().next_token("not-a-token").send().await.unwrap_err());
    assert_eq!(code, "InvalidNextTokenException");
}

#[tokio::test]
async fn sorting() {
    let server = TestServer::start().await;
    let sm = seed(&server).await;
    let by = |sort: SortByType, order: SortOrderType| sm.list_secrets().sort_by(sort).sort_order(order).send();
    let list = |out: aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput| {
        out.secret_list().iter().map(|s| s.name().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(
        list(by(SortByType::Name, SortOrderType::Asc).await.unwrap()),
        ["/prod/api", "/prod/db", "SecretOne", "dev/db", "thesecret"]
    );
    assert_eq!(
        list(by(SortByType::Name, SortOrderType::Desc).await.unwrap()),
        ["thesecret", "dev/db", "SecretOne", "/prod/db", "/prod/api"]
    );
    assert_eq!(
        list(by(SortByType::CreatedDate, SortOrderType::Desc).await.unwrap()),
        ["SecretOne", "thesecret", "dev/db", "/prod/api", "/prod/db"]
    );
    sm.put_secret_value().secret_id("/prod/db").secret_string("y").send().await.unwrap();
    assert_eq!(list(by(SortByType::LastChangedDate, SortOrderType::Desc).await.unwrap())[0], "/prod/db");
}

#[tokio::test]
async fn paginates_over_many_secrets_without_gaps() {
    let server = TestServer::start().await;
    let sm = server.client();
    for i in 0..250 {
        sm.create_secret().name(format!("s{i:03}")).secret_string("x").send().await.unwrap();
    }
    for (sort, filters) in [
        (SortByType::CreatedDate, None),
        (SortByType::Name, None),
        (SortByType::CreatedDate, Some(vec![filter(FilterNameStringType::Name, &["s1"])])),
        (SortByType::LastChangedDate, None),
    ] {
        let expected = if filters.is_some() { 100 } else { 250 };
        let mut pages =
            sm.list_secrets().sort_by(sort.clone()).set_filters(filters).max_results(33).into_paginator().send();
        let mut seen = Vec::new();
        while let Some(page) = pages.next().await {
            seen.extend(page.unwrap().secret_list().iter().map(|s| s.name().unwrap().to_owned()));
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), expected, "{sort:?}: no duplicates, no gaps");
        assert_eq!(seen, sorted, "{sort:?}: names were created in name order");
    }
    let first = sm.list_secrets().send().await.unwrap();
    assert_eq!(first.secret_list().len(), 100, "default page size");
    assert!(first.next_token().is_some());
}

#[tokio::test]
async fn tags_upsert_and_remove() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("t").secret_string("x").send().await.unwrap();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    sm.tag_resource().secret_id("t").tags(tag("a", "1")).tags(tag("b", "2")).send().await.unwrap();
    sm.tag_resource().secret_id("t").tags(tag("a", "3")).tags(tag("A", "4")).send().await.unwrap();
    let d = sm.describe_secret().secret_id("t").send().await.unwrap();
    let tags: Vec<_> = d.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert_eq!(tags, [("a", "3"), ("b", "2"), ("A", "4")]);
    sm.untag_resource().secret_id("t").tag_keys("a").tag_keys("b").tag_keys("A").tag_keys("zz").send().await.unwrap();
    let raw = server.call("DescribeSecret", r#"{"SecretId":"t"}"#).await.json();
    assert_eq!(raw["Tags"], serde_json::json!([]), "a secret that had tags answers Tags: []");

    let raw = server.call("TagResource", r#"{"SecretId":"t","Tags":[{"Key":"k","Value":"v"}]}"#).await;
    assert_eq!(raw.status, 200);
    assert!(raw.body.is_empty(), "TagResource answers an empty body");
    assert_eq!(raw.header("content-length"), Some("0"));

    let (code, msg) = err_of(sm.tag_resource().secret_id("t").tags(tag("aws:x", "1")).send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidParameterException", "You can't modify system tags. Tag key: 'aws:x'.")
    );
    let (code, _) = err_of(sm.tag_resource().secret_id("nope").tags(tag("a", "1")).send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    let (code, _) = err_of(sm.tag_resource().secret_id("t").set_tags(Some(many)).send().await.unwrap_err());
    assert_eq!(code, "InvalidParameterException", "more than 50 tags");
    sm.delete_secret().secret_id("t").send().await.unwrap();
    let marked = "You can't perform this operation on the secret because it was marked for deletion.";
    let (code, msg) = err_of(sm.tag_resource().secret_id("t").tags(tag("a", "1")).send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidRequestException", marked));
    let (code, msg) = err_of(sm.untag_resource().secret_id("t").tag_keys("a").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidRequestException", marked));
}

#[tokio::test]
async fn random_passwords() {
    let server = TestServer::start().await;
    let sm = server.client();
    let p = sm.get_random_password().send().await.unwrap();
    assert_eq!(p.random_password().unwrap().len(), 32);
    let p = sm.get_random_password().password_length(120).exclude_characters("xyzDje@?!.").send().await.unwrap();
    let p = p.random_password().unwrap();
    assert_eq!(p.len(), 120);
    assert!(!p.chars().any(|c| "xyzDje@?!.".contains(c)));
    let p = sm
        .get_random_password()
        .password_length(64)
        .exclude_numbers(true)
        .exclude_punctuation(true)
        .exclude_uppercase(true)
        .send()
        .await
        .unwrap();
    assert!(p.random_password().unwrap().chars().all(|c| c.is_ascii_lowercase()));
    let p =
        sm.get_random_password().password_length(40).include_space(true).exclude_lowercase(true).send().await.unwrap();
    assert!(!p.random_password().unwrap().chars().any(|c| c.is_ascii_lowercase()));

    let (code, msg) = err_of(sm.get_random_password().password_length(3).send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidParameterException", "Password length is too short based on the required types.")
    );
    let (code, msg) = err_of(sm.get_random_password().password_length(5000).send().await.unwrap_err());
    assert_eq!(code, "ValidationException");
    assert_eq!(
        msg,
        "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"
    );
    let (code, _) = err_of(
        sm.get_random_password()
            .exclude_numbers(true)
            .exclude_punctuation(true)
            .exclude_uppercase(true)
            .exclude_lowercase(true)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
}
