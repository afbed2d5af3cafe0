//! IAM's Query protocol under floods of list members: bounded work and IAM's own errors.

use crate::common::TestServer;
use std::time::{Duration, Instant};

const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00";

async fn form(server: &TestServer, body: &str) -> (u16, String) {
    let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", AUTH)];
    let raw = server.raw("POST", &headers, body.as_bytes()).await;
    (raw.status, String::from_utf8_lossy(&raw.body).into_owned())
}

/// A body of almost 1 MiB of list members: reading them must cost one pass, not one per member.
fn flood(prefix: &str, head: &str, member: impl Fn(usize) -> String) -> String {
    let mut body = String::from(head);
    let mut i = 1;
    while body.len() < 1000 * 1024 {
        body.push_str(&format!("&{prefix}.member.{i}{}", member(i)));
        i += 1;
    }
    body
}

#[tokio::test]
async fn floods_of_tag_keys_and_tags_are_refused_in_one_pass() {
    let server = TestServer::start().await;
    let (status, _) = form(&server, "Action=CreateUser&UserName=u").await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let keys = flood("TagKeys", "Action=UntagUser&UserName=u", |i| format!("=k{i}"));
    let (status, body) = form(&server, &keys).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>ValidationError</Code>") && body.contains("'tagKeys'"), "{body}");
    let tags = flood("Tags", "Action=TagUser&UserName=u", |i| format!(".Key=k{i}&Tags.member.{i}.Value=v"));
    let (status, body) = form(&server, &tags).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'tags'"), "{body}");
    // Quadratic reading of ~50,000 members takes minutes; one pass takes well under a second.
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_simulation_of_millions_of_pairs_is_refused() {
    let server = TestServer::start().await;
    let mut body = String::from("Action=SimulateCustomPolicy&PolicyInputList.member.1=%7B%22Statement%22%3A%5B%5D%7D");
    for i in 1..=200 {
        body.push_str(&format!("&ActionNames.member.{i}=secretsmanager%3AGetSecretValue"));
        body.push_str(&format!(
            "&ResourceArns.member.{i}=arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A111122223333%3Asecret%3As{i}"
        ));
    }
    let (status, body) = form(&server, &body).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidInput</Code>"), "{body}");
}
