//! Authorization with `--authorize enforce`: identity policies, resource policies and key
//! policies, within and across accounts, with AWS's refusal texts; and the explain endpoint.

mod common;

use common::{TestServer, err_of, kms_client_for};
use serde_json::{Value, json};
use smemu::config::Config;
use smemu::iam::AuthorizeMode;

const A: &str = "111111111111";
const B: &str = "222222222222";
const REGION: &str = "us-east-1";
const OTHER_KEY: &str = "AKIABOTHERUSER000001";
const READER_KEY: &str = "AKIAAREADER000000001";

async fn enforcing() -> TestServer {
    TestServer::start_with(Config { authorize: AuthorizeMode::Enforce, ..Config::default() }).await
}

fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
}

/// Declares `iam` (GetAccountAuthorizationDetails shape) as a credentials file would.
fn declare(server: &TestServer, iam: Value) {
    server.app.auth.credentials().load_document("test", &json!({ "iam": iam })).expect("iam section");
}

fn sts_for(server: &TestServer, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
    server.sts_with(key, secret, token)
}

/// A's role-reading world: a role `reader` and a user `other` in B, both with broad identity
/// policies; a customer key of A whose policy lets B's role decrypt; `shared` on that key and
/// `plain` on the default key, both with a resource policy naming B's role.
async fn cross_account_world(server: &TestServer) -> (String, String) {
    declare(
        server,
        json!({
            "RoleDetailList": [{
                "RoleName": "reader", "Account": B,
                "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "sts:AssumeRole"}]},
                "RolePolicyList": [{"PolicyName": "read", "PolicyDocument": allow(&["secretsmanager:*", "kms:Decrypt"], "*")}],
            }],
            "UserDetailList": [{
                "UserName": "other", "Account": B,
                "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": allow(&["secretsmanager:*", "kms:Decrypt"], "*")}],
                "AccessKeys": [{"AccessKeyId": OTHER_KEY, "SecretAccessKey": "other-secret"}],
            }],
        }),
    );
    let role = format!("arn:aws:iam::{B}:role/reader");
    let key_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "reader", "Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:Decrypt", "Resource": "*"},
    ]});
    let kms = kms_client_for(&server.endpoint(), A, REGION);
    let key = kms.create_key().policy(key_policy.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let owner = server.client_as(A, REGION);
    let shared = owner.create_secret().name("shared").kms_key_id(&key).secret_string("s3cr3t").send().await.unwrap();
    let plain = owner.create_secret().name("plain").secret_string("pl41n").send().await.unwrap();
    let resource_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": role}, "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "*"}]});
    for arn in [shared.arn().unwrap(), plain.arn().unwrap()] {
        owner.put_resource_policy().secret_id(arn).resource_policy(resource_policy.to_string()).send().await.unwrap();
    }
    (shared.arn().unwrap().to_string(), plain.arn().unwrap().to_string())
}

#[tokio::test]
async fn another_accounts_role_reads_by_arn_with_a_customer_key_and_is_refused_on_the_default_key() {
    let server = enforcing().await;
    let (shared, plain) = cross_account_world(&server).await;
    let sts = sts_for(&server, B, "secret", None);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{B}:role/reader"))
        .role_session_name("app")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let role = server.client_with(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));

    let read = role.get_secret_value().secret_id(&shared).send().await.unwrap();
    assert_eq!(read.secret_string(), Some("s3cr3t"));

    let (code, message) = err_of(role.get_secret_value().secret_id(&plain).send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    assert_eq!(
        message,
        "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key."
    );
    let described = role.describe_secret().secret_id(&plain).send().await.unwrap();
    assert_eq!(described.name(), Some("plain"));

    let other = server.client_as(OTHER_KEY, REGION);
    let (code, message) = err_of(other.get_secret_value().secret_id(&shared).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{B}:user/other is not authorized to perform: secretsmanager:GetSecretValue on resource: {shared} because no resource-based policy allows the secretsmanager:GetSecretValue action"
        )
    );
    // B's listing never shows A's secrets.
    let listed = role.list_secrets().send().await.unwrap();
    assert!(listed.secret_list().is_empty(), "{listed:?}");
}

#[tokio::test]
async fn the_key_policy_decides_a_cross_account_read_even_with_the_resource_policy() {
    let server = enforcing().await;
    let (shared, _) = cross_account_world(&server).await;
    // B's root: the resource policy names B's role, not B; the key names the role too.
    let (code, message) =
        err_of(server.client_as(B, REGION).get_secret_value().secret_id(&shared).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("because no resource-based policy allows the secretsmanager:GetSecretValue action"));

    // A resource policy for all of B, but a key that still names the role only.
    let owner = server.client_as(A, REGION);
    let everyone_in_b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "secretsmanager:*", "Resource": "*"}]});
    owner.put_resource_policy().secret_id(&shared).resource_policy(everyone_in_b.to_string()).send().await.unwrap();
    let (code, message) =
        err_of(server.client_as(B, REGION).get_secret_value().secret_id(&shared).send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("AccessDeniedException", "Access to KMS is not allowed"));
}

#[tokio::test]
async fn a_least_privilege_reader_reads_one_secret_and_nothing_else() {
    let server = enforcing().await;
    declare(
        &server,
        json!({"UserDetailList": [{
            "UserName": "reader", "Account": A,
            "UserPolicyList": [{"PolicyName": "db", "PolicyDocument":
                allow(&["secretsmanager:GetSecretValue"], &format!("arn:aws:secretsmanager:{REGION}:{A}:secret:prod/db-??????"))}],
            "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "reader-secret"}],
        }]}),
    );
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("prod/db").secret_string("db-pass").send().await.unwrap();
    owner.create_secret().name("prod/api").secret_string("api-key").send().await.unwrap();

    let reader = server.client_as(READER_KEY, REGION);
    let read = reader.get_secret_value().secret_id("prod/db").send().await.unwrap();
    assert_eq!(read.secret_string(), Some("db-pass"));

    let (code, message) = err_of(reader.get_secret_value().secret_id("prod/api").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{A}:user/reader is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/api because no identity-based policy allows the secretsmanager:GetSecretValue action"
        )
    );
    let (code, message) = err_of(reader.list_secrets().send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{A}:user/reader is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"
        )
    );
    // Refused before existence is looked at.
    let (code, _) = err_of(reader.describe_secret().secret_id("prod/db").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = err_of(reader.get_secret_value().secret_id("nothing/here").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");

    // BatchGetSecretValue reports the refusal per secret, in Errors.
    let batch = json!({"SecretIdList": ["prod/db", "prod/api"]});
    declare(
        &server,
        json!({"UserDetailList": [{
            "UserName": "reader", "Account": A,
            "UserPolicyList": [
                {"PolicyName": "db", "PolicyDocument": allow(&["secretsmanager:GetSecretValue"], &format!("arn:aws:secretsmanager:{REGION}:{A}:secret:prod/db-??????"))},
                {"PolicyName": "batch", "PolicyDocument": allow(&["secretsmanager:BatchGetSecretValue"], "*")},
            ],
        }]}),
    );
    let answer = reader
        .batch_get_secret_value()
        .set_secret_id_list(Some(vec!["prod/db".into(), "prod/api".into()]))
        .send()
        .await
        .unwrap();
    let names: Vec<_> = answer.secret_values().iter().filter_map(|v| v.name()).collect();
    assert_eq!(names, ["prod/db"], "{batch}");
    let errors = answer.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].secret_id(), Some("prod/api"));
    assert_eq!(errors[0].error_code(), Some("AccessDeniedException"));
    assert!(errors[0].message().unwrap().contains("on resource: prod/api because no identity-based policy allows"));
}

/// A secret the batch refuses is never opened: no Decrypt on its behalf reaches KMS (nor the
/// audit trail), by id or through `Filters`.
#[tokio::test]
async fn a_batch_never_decrypts_the_secrets_it_refuses() {
    let server = enforcing().await;
    declare(
        &server,
        json!({"UserDetailList": [{
            "UserName": "reader", "Account": A,
            "UserPolicyList": [
                {"PolicyName": "db", "PolicyDocument": allow(&["secretsmanager:GetSecretValue"], &format!("arn:aws:secretsmanager:{REGION}:{A}:secret:prod/db-??????"))},
                {"PolicyName": "batch", "PolicyDocument": allow(&["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"], "*")},
            ],
            "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "reader-secret"}],
        }]}),
    );
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("prod/db").secret_string("db-pass").send().await.unwrap();
    let api = owner.create_secret().name("prod/api").secret_string("api-key").send().await.unwrap();
    let api_arn = api.arn().unwrap().to_string();
    let decrypts = || async {
        let trail = server.control("GET", "/_smemu/audit", "").await.json();
        let events = trail["events"].as_array().cloned().unwrap_or_default();
        events
            .into_iter()
            .filter(|e| e["eventName"] == "Decrypt" && e["userIdentity"].get("invokedBy").is_some())
            .map(|e| e["requestParameters"].to_string())
            .collect::<Vec<_>>()
    };
    let before = decrypts().await.len();

    let reader = server.client_as(READER_KEY, REGION);
    let by_id = reader
        .batch_get_secret_value()
        .set_secret_id_list(Some(vec!["prod/db".into(), "prod/api".into()]))
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.secret_values().len(), 1);
    assert_eq!(by_id.errors()[0].secret_id(), Some("prod/api"));
    let filter = aws_sdk_secretsmanager::types::Filter::builder()
        .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
        .values("prod/")
        .build();
    let by_filter = reader.batch_get_secret_value().filters(filter).send().await.unwrap();
    assert_eq!(by_filter.secret_values().len(), 1);
    assert_eq!(by_filter.errors()[0].secret_id(), Some(api_arn.as_str()));

    let after = decrypts().await;
    let new = &after[before..];
    assert_eq!(new.len(), 2, "one Decrypt per readable secret: {new:?}");
    assert!(new.iter().all(|params| !params.contains(&api_arn)), "the refused secret was decrypted: {new:?}");
    // Nor was its access date moved by the refused reads.
    let described = owner.describe_secret().secret_id("prod/api").send().await.unwrap();
    assert!(described.last_accessed_date().is_none(), "{described:?}");
}

/// Spec §2.7: B (admin identity policy, here B's root) against A's secret with a resource
/// policy allowing B `secretsmanager:*`, on the default key and on a customer key that allows B.
#[tokio::test]
async fn the_observed_cross_account_table() {
    let server = enforcing().await;
    let owner = server.client_as(A, REGION);
    let kms = kms_client_for(&server.endpoint(), A, REGION);
    let key_policy = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": B}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"},
    ]});
    let key = kms.create_key().policy(key_policy.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let grant = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{B}:root")}, "Action": "secretsmanager:*", "Resource": "*"}]});
    let default =
        owner.create_secret().name("default").secret_string("v1").send().await.unwrap().arn().unwrap().to_string();
    let custom = owner
        .create_secret()
        .name("custom")
        .kms_key_id(&key)
        .secret_string("v1")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    for arn in [&default, &custom] {
        owner.put_resource_policy().secret_id(arn).resource_policy(grant.to_string()).send().await.unwrap();
    }
    let b = server.client_as(B, REGION);

    // Default key: everything but the value.
    b.describe_secret().secret_id(&default).send().await.unwrap();
    b.get_resource_policy().secret_id(&default).send().await.unwrap();
    b.put_resource_policy().secret_id(&default).resource_policy(grant.to_string()).send().await.unwrap();
    b.list_secret_version_ids().secret_id(&default).send().await.unwrap();
    let tag = aws_sdk_secretsmanager::types::Tag::builder().key("team").value("b").build();
    b.tag_resource().secret_id(&default).tags(tag).send().await.unwrap();
    b.untag_resource().secret_id(&default).tag_keys("team").send().await.unwrap();
    for error in [
        err_of(b.get_secret_value().secret_id(&default).send().await.unwrap_err()),
        err_of(b.put_secret_value().secret_id(&default).secret_string("v2").send().await.unwrap_err()),
    ] {
        assert_eq!(error.0, "InvalidRequestException", "{error:?}");
        assert!(error.1.starts_with("You can't access a secret from a different AWS account"), "{error:?}");
    }
    b.delete_secret().secret_id(&default).force_delete_without_recovery(true).send().await.unwrap();

    // Customer key allowing B: the values too.
    assert_eq!(b.get_secret_value().secret_id(&custom).send().await.unwrap().secret_string(), Some("v1"));
    b.put_secret_value().secret_id(&custom).secret_string("v2").send().await.unwrap();
    assert_eq!(owner.get_secret_value().secret_id("custom").send().await.unwrap().secret_string(), Some("v2"));
    b.delete_secret().secret_id(&custom).recovery_window_in_days(7).send().await.unwrap();
    b.restore_secret().secret_id(&custom).send().await.unwrap();

    // A bare name always means the caller's own account; B's listing shows none of A's.
    let (code, _) = err_of(b.describe_secret().secret_id("custom").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    assert!(b.list_secrets().send().await.unwrap().secret_list().is_empty());
}

#[tokio::test]
async fn explicit_denies_win_and_are_worded_by_the_policy_that_denies() {
    let server = enforcing().await;
    declare(
        &server,
        json!({"UserDetailList": [{
            "UserName": "reader", "Account": A,
            "UserPolicyList": [{"PolicyName": "all", "PolicyDocument": allow(&["secretsmanager:*"], "*")}],
            "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "reader-secret"}],
        }]}),
    );
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("my-example-secret").secret_string("x").send().await.unwrap();
    let deny = json!({"Statement": [{"Sid": "nobody", "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:DescribeSecret", "Resource": "*"}]});
    owner.put_resource_policy().secret_id("my-example-secret").resource_policy(deny.to_string()).send().await.unwrap();
    let reader = server.client_as(READER_KEY, REGION);
    let (code, message) = err_of(reader.describe_secret().secret_id("my-example-secret").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{A}:user/reader is not authorized to perform: secretsmanager:DescribeSecret on resource: my-example-secret with an explicit deny in a resource-based policy"
        )
    );
    reader.get_secret_value().secret_id("my-example-secret").send().await.unwrap();
}

#[tokio::test]
async fn a_session_policy_caps_the_role_session() {
    let server = enforcing().await;
    declare(
        &server,
        json!({"RoleDetailList": [{
            "RoleName": "app", "Account": A,
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"}]},
            "RolePolicyList": [{"PolicyName": "all", "PolicyDocument": allow(&["secretsmanager:*"], "*")}],
        }]}),
    );
    server.client_as(A, REGION).create_secret().name("capped").secret_string("x").send().await.unwrap();
    let session_policy = allow(&["secretsmanager:DescribeSecret"], "*").to_string();
    let sts = sts_for(&server, A, "secret", None);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{A}:role/app"))
        .role_session_name("capped")
        .policy(session_policy)
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let session = server.client_with(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));
    session.describe_secret().secret_id("capped").send().await.unwrap();
    let (code, message) = err_of(session.get_secret_value().secret_id("capped").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:sts::{A}:assumed-role/app/capped is not authorized to perform: secretsmanager:GetSecretValue on resource: capped because no session policy allows the secretsmanager:GetSecretValue action"
        )
    );

    let malformed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{A}:role/app"))
        .role_session_name("bad")
        .policy("{\"Statement\": 3}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&malformed), Some("MalformedPolicyDocument"));
}

#[tokio::test]
async fn condition_keys_come_only_from_parameters_sent() {
    let server = enforcing().await;
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("staged2").secret_string("x").send().await.unwrap();
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:user/reader")}, "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}}]});
    declare(
        &server,
        json!({"UserDetailList": [{"UserName": "reader", "Account": A,
            "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "reader-secret"}]}]}),
    );
    owner.put_resource_policy().secret_id("staged2").resource_policy(policy.to_string()).send().await.unwrap();
    let reader = server.client_as(READER_KEY, REGION);
    let (code, _) = err_of(reader.get_secret_value().secret_id("staged2").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException", "no VersionStage sent: the condition does not hold");
    reader.get_secret_value().secret_id("staged2").version_stage("AWSCURRENT").send().await.unwrap();
}

#[tokio::test]
async fn kms_calls_are_authorised_against_the_key_policy_across_accounts() {
    let server = enforcing().await;
    let kms_a = kms_client_for(&server.endpoint(), A, REGION);
    let key = kms_a.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    kms_a.describe_key().key_id(&key).send().await.unwrap();
    let kms_b = kms_client_for(&server.endpoint(), B, REGION);
    let err = kms_b.describe_key().key_id(&key).send().await.unwrap_err();
    let (code, message) = common::kms_err(err);
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{B}:root is not authorized to perform: kms:DescribeKey on resource: {key} because no resource-based policy allows the kms:DescribeKey action"
        )
    );
}

#[tokio::test]
async fn without_enforcement_the_callers_own_account_is_open() {
    let server = TestServer::start().await;
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("open").secret_string("x").send().await.unwrap();
    let deny =
        json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}]});
    owner.put_resource_policy().secret_id("open").resource_policy(deny.to_string()).send().await.unwrap();
    // Stored, not enforced, within the account.
    assert_eq!(owner.get_secret_value().secret_id("open").send().await.unwrap().secret_string(), Some("x"));
    assert!(server.client_as(B, REGION).list_secrets().send().await.unwrap().secret_list().is_empty());
    let health = server.control("GET", "/_smemu/health", "").await.json();
    assert_eq!(health["authorize"], "off");
}

/// With enforcement off, a caller of another account still needs the owner's consent: the
/// secret's resource policy and, for a value, the customer key's policy.
#[tokio::test]
async fn without_enforcement_another_accounts_secret_needs_its_resource_policy() {
    let server = TestServer::start().await;
    let owner = server.client_as(A, REGION);
    let kms = kms_client_for(&server.endpoint(), A, REGION);
    let own_only = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"}]});
    let sealed = kms.create_key().policy(own_only.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let with_b = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": B}, "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": "*"}]});
    let open = kms.create_key().policy(with_b.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let mut arns = Vec::new();
    for (name, key) in [("default", None), ("sealed", Some(&sealed)), ("shared", Some(&open))] {
        let created = owner.create_secret().name(name).set_kms_key_id(key.cloned()).secret_string("v1").send().await;
        arns.push(created.unwrap().arn().unwrap().to_string());
    }
    let b = server.client_as(B, REGION);
    let refusal = |action: &str, resource: &str| {
        format!(
            "User: arn:aws:iam::{B}:root is not authorized to perform: secretsmanager:{action} on resource: {resource} because no resource-based policy allows the secretsmanager:{action} action"
        )
    };

    // No resource policy: refused as AWS refuses a cross-account call, existing or not.
    let (code, message) = err_of(b.get_secret_value().secret_id(&arns[0]).send().await.unwrap_err());
    assert_eq!((code.as_str(), message), ("AccessDeniedException", refusal("GetSecretValue", &arns[0])));
    let (code, message) = err_of(b.describe_secret().secret_id(&arns[2]).send().await.unwrap_err());
    assert_eq!((code.as_str(), message), ("AccessDeniedException", refusal("DescribeSecret", &arns[2])));
    let (code, _) = err_of(b.put_secret_value().secret_id(&arns[2]).secret_string("v2").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    let missing = format!("arn:aws:secretsmanager:{REGION}:{A}:secret:missing-AbCdEf");
    let (code, message) = err_of(b.describe_secret().secret_id(&missing).send().await.unwrap_err());
    assert_eq!((code.as_str(), message), ("AccessDeniedException", refusal("DescribeSecret", &missing)));
    let (code, _) = err_of(b.delete_secret().secret_id(&arns[2]).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");

    // With a resource policy for B: the default key still refuses the value, a key that does
    // not name B refuses it too, a key that names B lets it through.
    let grant = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "secretsmanager:*", "Resource": "*"}]});
    for arn in &arns {
        owner.put_resource_policy().secret_id(arn).resource_policy(grant.to_string()).send().await.unwrap();
    }
    b.describe_secret().secret_id(&arns[0]).send().await.unwrap();
    let (code, message) = err_of(b.get_secret_value().secret_id(&arns[0]).send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    assert!(message.starts_with("You can't access a secret from a different AWS account"), "{message}");
    let (code, message) = err_of(b.get_secret_value().secret_id(&arns[1]).send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("AccessDeniedException", "Access to KMS is not allowed"));
    assert_eq!(b.get_secret_value().secret_id(&arns[2]).send().await.unwrap().secret_string(), Some("v1"));
    b.put_secret_value().secret_id(&arns[2]).secret_string("v2").send().await.unwrap();

    // An explicit deny in the resource policy wins over the grant.
    let deny = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": B}, "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": B}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
    owner.put_resource_policy().secret_id(&arns[2]).resource_policy(deny.to_string()).send().await.unwrap();
    let (_, message) = err_of(b.get_secret_value().secret_id(&arns[2]).send().await.unwrap_err());
    assert!(message.ends_with("with an explicit deny in a resource-based policy"), "{message}");

    // KMS: another account's key by ARN needs its key policy.
    let kms_b = kms_client_for(&server.endpoint(), B, REGION);
    let (code, message) = common::kms_err(kms_b.describe_key().key_id(&sealed).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("because no resource-based policy allows the kms:DescribeKey action"), "{message}");
    kms_b.describe_key().key_id(&open).send().await.unwrap();
    // The owner itself is never asked.
    kms.describe_key().key_id(&sealed).send().await.unwrap();
    assert_eq!(owner.get_secret_value().secret_id("sealed").send().await.unwrap().secret_string(), Some("v1"));
}

#[tokio::test]
async fn the_explain_endpoint_names_the_missing_allow_and_the_closest_statement() {
    let server = enforcing().await;
    declare(
        &server,
        json!({"UserDetailList": [{
            "UserName": "reader", "Account": A,
            "UserPolicyList": [{"PolicyName": "db", "PolicyDocument": {"Statement": [
                {"Sid": "ListNothing", "Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:username": "somebody-else"}}},
                {"Sid": "ReadDb", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": format!("arn:aws:secretsmanager:{REGION}:{A}:secret:prod/db-??????")},
            ]}}],
        }]}),
    );
    server.client_as(A, REGION).create_secret().name("prod/api").secret_string("k").send().await.unwrap();
    let question = json!({"caller": format!("arn:aws:iam::{A}:user/reader"), "action": "secretsmanager:GetSecretValue", "resource": "prod/api"});
    let answer = server.control("POST", "/_smemu/authorize", &question.to_string()).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let v = answer.json();
    assert_eq!(v["decision"], "ImplicitDeny");
    assert_eq!(v["missingAllow"], "no identity-based policy allows the secretsmanager:GetSecretValue action");
    assert_eq!(v["closest"]["sid"], "ReadDb");
    assert_eq!(v["closest"]["reason"], "the resource is not among its resources");
    assert_eq!(v["statements"][0]["reason"], "secretsmanager:GetSecretValue is not among its actions");
    assert!(v["message"].as_str().unwrap().contains("on resource: prod/api because no identity-based policy"));

    let allowed = json!({"caller": A, "action": "secretsmanager:GetSecretValue", "resource": "prod/api"});
    let v = server.control("POST", "/_smemu/authorize", &allowed.to_string()).await.json();
    assert_eq!(v["decision"], "Allow");
    let bad = server.control("POST", "/_smemu/authorize", "{\"action\": 1}").await;
    assert_eq!(bad.status, 400);
    let health = server.control("GET", "/_smemu/health", "").await.json();
    assert_eq!(health["authorize"], "enforce");
}

/// `aws:SourceIp` is the address of the connection's peer (the tests connect from loopback).
#[tokio::test]
async fn source_ip_conditions_see_the_peer_of_the_connection() {
    let server = enforcing().await;
    let from = |cidr: &str| {
        json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": cidr}}}]})
    };
    let user = |name: &str, key: &str, cidr: &str| {
        json!({"UserName": name, "Account": A,
            "UserPolicyList": [{"PolicyName": "from", "PolicyDocument": from(cidr)}],
            "AccessKeys": [{"AccessKeyId": key, "SecretAccessKey": "secret"}]})
    };
    declare(
        &server,
        json!({"UserDetailList": [user("local", READER_KEY, "127.0.0.0/8"), user("remote", OTHER_KEY, "10.0.0.0/8")]}),
    );
    server.client_as(A, REGION).create_secret().name("ip").secret_string("x").send().await.unwrap();
    let local = server.client_as(READER_KEY, REGION);
    assert_eq!(local.get_secret_value().secret_id("ip").send().await.unwrap().secret_string(), Some("x"));
    let remote = server.client_as(OTHER_KEY, REGION);
    let (code, message) = err_of(remote.get_secret_value().secret_id("ip").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("because no identity-based policy allows the secretsmanager:GetSecretValue action"));
}

/// A user's groups lend it their inline and attached policies; an explicit deny in a group's
/// policy is a deny in an identity-based policy.
#[tokio::test]
async fn a_users_groups_grant_and_deny() {
    let server = enforcing().await;
    let deny_api = json!({"Statement": [{"Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
        "Resource": format!("arn:aws:secretsmanager:{REGION}:{A}:secret:prod/api-??????")}]});
    declare(
        &server,
        json!({
            "UserDetailList": [{"UserName": "member", "Account": A, "GroupList": ["readers", "careful"],
                "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "reader-secret"}]}],
            "GroupDetailList": [
                {"GroupName": "readers", "Account": A,
                 "AttachedManagedPolicies": [{"PolicyName": "read", "PolicyArn": format!("arn:aws:iam::{A}:policy/read")}]},
                {"GroupName": "careful", "Account": A, "GroupPolicyList": [{"PolicyName": "no-api", "PolicyDocument": deny_api}]},
            ],
            "Policies": [{"PolicyName": "read", "Account": A,
                "PolicyVersionList": [{"VersionId": "v1", "Document": allow(&["secretsmanager:GetSecretValue"], "*")}]}],
        }),
    );
    let owner = server.client_as(A, REGION);
    owner.create_secret().name("prod/db").secret_string("db").send().await.unwrap();
    owner.create_secret().name("prod/api").secret_string("api").send().await.unwrap();
    let member = server.client_as(READER_KEY, REGION);
    assert_eq!(member.get_secret_value().secret_id("prod/db").send().await.unwrap().secret_string(), Some("db"));
    let (code, message) = err_of(member.get_secret_value().secret_id("prod/api").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{A}:user/member is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/api with an explicit deny in an identity-based policy"
        )
    );
    let (code, _) = err_of(member.describe_secret().secret_id("prod/db").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
}

/// `secretsmanager:KmsKeyArn` is the ARN of the customer key the request names, however named.
#[tokio::test]
async fn kms_key_arn_is_the_named_keys_arn() {
    let server = enforcing().await;
    let kms = kms_client_for(&server.endpoint(), A, REGION);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    kms.create_alias().alias_name("alias/app").target_key_id(key.key_id()).send().await.unwrap();
    let only_that_key = json!({"Statement": [
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*",
         "Condition": {"ArnEquals": {"secretsmanager:KmsKeyArn": key.arn().unwrap()}}}]});
    declare(
        &server,
        json!({"UserDetailList": [{"UserName": "maker", "Account": A,
            "UserPolicyList": [{"PolicyName": "key", "PolicyDocument": only_that_key}],
            "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "secret"}]}]}),
    );
    let maker = server.client_as(READER_KEY, REGION);
    maker.create_secret().name("keyed").kms_key_id("alias/app").secret_string("x").send().await.unwrap();
    let (code, _) = err_of(maker.create_secret().name("unkeyed").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
}

/// Decrypt without a `KeyId` is decided by the key its blob names, as in AWS; ReEncrypt needs
/// `kms:ReEncryptFrom` on the source key, whichever account holds it.
#[tokio::test]
async fn decrypt_and_re_encrypt_are_authorised_against_the_key_in_the_blob() {
    use aws_sdk_kms::primitives::Blob;
    let server = enforcing().await;
    let admin = "AKIAAADMIN0000000001";
    declare(
        &server,
        json!({"UserDetailList": [
            {"UserName": "admin", "Account": A, "AccessKeys": [{"AccessKeyId": admin, "SecretAccessKey": "x"}]},
            {"UserName": "reader", "Account": A, "UserPolicyList": [{"PolicyName": "kms", "PolicyDocument": allow(&["kms:*"], "*")}],
             "AccessKeys": [{"AccessKeyId": READER_KEY, "SecretAccessKey": "x"}]},
        ]}),
    );
    let admin_only = json!({"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{A}:user/admin")}, "Action": "kms:*", "Resource": "*"}]});
    let owner = kms_client_for(&server.endpoint(), A, REGION);
    let key = owner.create_key().policy(admin_only.to_string()).send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn().unwrap().to_string();
    let admin = kms_client_for(&server.endpoint(), admin, REGION);
    let sealed = admin.encrypt().key_id(&key_arn).plaintext(Blob::new("s3cret")).send().await.unwrap();
    let blob = sealed.ciphertext_blob().unwrap().clone();
    assert_eq!(
        admin.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap().plaintext().unwrap().as_ref(),
        b"s3cret"
    );

    // The reader's identity policy allows kms:*, but the key's policy does not delegate to it.
    let reader = kms_client_for(&server.endpoint(), READER_KEY, REGION);
    let (code, message) = common::kms_err(reader.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains(&format!("kms:Decrypt on resource: {key_arn}")), "{message}");

    // Another account's caller cannot launder the blob into a key of its own.
    let b = kms_client_for(&server.endpoint(), B, REGION);
    let own = b.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let err = b
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_key_id(&key_arn)
        .destination_key_id(&own)
        .send()
        .await
        .unwrap_err();
    let (code, message) = common::kms_err(err);
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("kms:ReEncryptFrom"), "{message}");
    // Nor can the reader, into a key it may use.
    let (code, _) = common::kms_err(
        reader.re_encrypt().ciphertext_blob(blob.clone()).destination_key_id(&key_arn).send().await.unwrap_err(),
    );
    assert_eq!(code, "AccessDeniedException");
    admin.re_encrypt().ciphertext_blob(blob).destination_key_id(&key_arn).send().await.unwrap();
}

/// With enforcement off the same laundering needs the source key's policy too.
#[tokio::test]
async fn without_enforcement_another_accounts_key_cannot_be_re_encrypted_from() {
    use aws_sdk_kms::primitives::Blob;
    let server = TestServer::start().await;
    let owner = kms_client_for(&server.endpoint(), A, REGION);
    let key_arn = owner.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let sealed = owner.encrypt().key_id(&key_arn).plaintext(Blob::new("s3cret")).send().await.unwrap();
    let b = kms_client_for(&server.endpoint(), B, REGION);
    let own = b.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let err = b
        .re_encrypt()
        .ciphertext_blob(sealed.ciphertext_blob().unwrap().clone())
        .source_key_id(&key_arn)
        .destination_key_id(&own)
        .send()
        .await
        .unwrap_err();
    let (code, message) = common::kms_err(err);
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("because no resource-based policy allows the kms:ReEncryptFrom action"), "{message}");
}
