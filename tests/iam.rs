//! IAM on the same port, through `aws-sdk-iam`: users, access keys, roles, inline and managed
//! policies, attachments, tags, paging, IAM's errors, and the policy simulator; keys and
//! policies created here are in force at once for Secrets Manager in strict mode.

mod common;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{EntityType, PolicyEvaluationDecisionType, StatusType, Tag};
use common::{ACCOUNT, KEY_ID, SECRET_KEY, TestServer};
use serde_json::json;
use smemu::config::Config;
use smemu::iam::AuthorizeMode;

fn iam_with(server: &TestServer, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(key, secret, None, None, "tests"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// The default account's IAM, authentication off.
fn iam(server: &TestServer) -> aws_sdk_iam::Client {
    iam_with(server, "111122223333", "secret")
}

fn err<E: ProvideErrorMetadata, R>(e: aws_sdk_iam::error::SdkError<E, R>) -> (String, String) {
    (e.code().unwrap_or_default().to_owned(), e.message().unwrap_or_default().to_owned())
}

fn allow(action: &str, resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
        .to_string()
}

fn trust(principal: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
        .to_string()
}

fn decode(document: &str) -> serde_json::Value {
    let text = percent_decode(document);
    serde_json::from_str(&text).expect("a URL-encoded JSON document")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn users_are_created_listed_tagged_and_deleted_with_iams_errors() {
    let server = TestServer::start().await;
    let iam = iam(&server);
    let created = iam.create_user().user_name("alice").path("/team/").send().await.unwrap();
    let alice = created.user.unwrap();
    assert_eq!(alice.arn, "arn:aws:iam::111122223333:user/team/alice");
    assert_eq!(alice.path, "/team/");
    assert!(alice.user_id.starts_with("AIDA") && alice.user_id.len() == 21, "{}", alice.user_id);

    let (code, message) = err(iam.create_user().user_name("Alice").send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("EntityAlreadyExists", "User with name Alice already exists."));
    let (code, message) = err(iam.get_user().user_name("nobody").send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", "The user with name nobody cannot be found."));
    let (code, message) = err(iam.create_user().user_name("bad name").send().await.unwrap_err());
    assert_eq!(code, "ValidationError");
    assert!(message.contains("at 'userName' failed to satisfy constraint"), "{message}");

    let got = iam.get_user().user_name("alice").send().await.unwrap().user.unwrap();
    assert_eq!(got.user_id, alice.user_id);
    // Without a name: the caller itself, here the account's root.
    let root = iam.get_user().send().await.unwrap().user.unwrap();
    assert_eq!(root.arn, "arn:aws:iam::111122223333:root");

    for name in ["bob", "carol"] {
        iam.create_user().user_name(name).send().await.unwrap();
    }
    let first = iam.list_users().max_items(2).send().await.unwrap();
    let names: Vec<_> = first.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(first.is_truncated);
    let rest = iam.list_users().marker(first.marker.unwrap()).send().await.unwrap();
    assert_eq!(rest.users.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), ["carol"]);
    assert!(!rest.is_truncated);
    let team = iam.list_users().path_prefix("/team/").send().await.unwrap();
    assert_eq!(team.users.len(), 1);
    let (code, _) = err(iam.list_users().max_items(0).send().await.unwrap_err());
    assert_eq!(code, "ValidationError");

    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    iam.tag_user().user_name("bob").tags(tag("team", "a")).tags(tag("env", "dev")).send().await.unwrap();
    iam.tag_user().user_name("bob").tags(tag("team", "b")).send().await.unwrap();
    iam.untag_user().user_name("bob").tag_keys("env").send().await.unwrap();
    let tags = iam.list_user_tags().user_name("bob").send().await.unwrap().tags;
    assert_eq!(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect::<Vec<_>>(), [("team", "b")]);
    let (code, _) = err(iam.tag_user().user_name("nobody").tags(tag("a", "b")).send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");

    iam.delete_user().user_name("bob").send().await.unwrap();
    let (code, _) = err(iam.delete_user().user_name("bob").send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn unknown_actions_and_versions_get_iams_xml_error() {
    let server = TestServer::start().await;
    let auth = "AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00";
    let form = [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", auth)];
    let raw = server.raw("POST", &form, b"Action=CreateGroup&Version=2010-05-08").await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.header("content-type"), Some("text/xml"));
    let body = String::from_utf8_lossy(&raw.body).into_owned();
    assert!(body.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"), "{body}");
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
    assert!(body.contains("Could not find operation CreateGroup for version 2010-05-08"), "{body}");
    let raw = server.raw("POST", &form, b"Action=ListUsers&Version=2011-06-15").await;
    assert!(String::from_utf8_lossy(&raw.body).contains("<Code>InvalidAction</Code>"));
}

#[tokio::test]
async fn roles_keep_their_trust_and_inline_policies_url_encoded() {
    let server = TestServer::start().await;
    let iam = iam(&server);
    let trust_text = trust("arn:aws:iam::111122223333:root");
    let role = iam
        .create_role()
        .role_name("app")
        .assume_role_policy_document(&trust_text)
        .description("the app")
        .max_session_duration(7200)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(role.arn, "arn:aws:iam::111122223333:role/app");
    assert!(role.role_id.starts_with("AROA"));
    let got = iam.get_role().role_name("app").send().await.unwrap().role.unwrap();
    let document = got.assume_role_policy_document.unwrap();
    assert!(document.starts_with("%7B"), "{document}");
    assert_eq!(decode(&document), serde_json::from_str::<serde_json::Value>(&trust_text).unwrap());
    assert_eq!(got.description.as_deref(), Some("the app"));
    assert_eq!(got.max_session_duration, Some(7200));

    let (code, _) =
        err(iam.create_role().role_name("app").assume_role_policy_document(&trust_text).send().await.unwrap_err());
    assert_eq!(code, "EntityAlreadyExists");
    let no_principal = allow("sts:AssumeRole", "*");
    let (code, _) =
        err(iam.create_role().role_name("other").assume_role_policy_document(no_principal).send().await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocument");
    let (code, _) =
        err(iam.create_role().role_name("other").assume_role_policy_document("{").send().await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocument");

    let read = allow("secretsmanager:GetSecretValue", "*");
    iam.put_role_policy().role_name("app").policy_name("read").policy_document(&read).send().await.unwrap();
    let got = iam.get_role_policy().role_name("app").policy_name("read").send().await.unwrap();
    assert_eq!(decode(&got.policy_document), serde_json::from_str::<serde_json::Value>(&read).unwrap());
    let names = iam.list_role_policies().role_name("app").send().await.unwrap().policy_names;
    assert_eq!(names, ["read"]);
    let (code, message) = err(iam.get_role_policy().role_name("app").policy_name("nope").send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", "The role policy with name nope cannot be found."));
    let with_principal = trust("*");
    let (code, _) = err(iam
        .put_role_policy()
        .role_name("app")
        .policy_name("bad")
        .policy_document(with_principal)
        .send()
        .await
        .unwrap_err());
    assert_eq!(code, "MalformedPolicyDocument");

    let (code, message) = err(iam.delete_role().role_name("app").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    );
    iam.update_assume_role_policy().role_name("app").policy_document(trust("*")).send().await.unwrap();
    let roles = iam.list_roles().send().await.unwrap().roles;
    assert_eq!(roles.len(), 1);
    let profiles = iam.list_instance_profiles_for_role().role_name("app").send().await.unwrap();
    assert!(profiles.instance_profiles.is_empty() && !profiles.is_truncated);
    iam.delete_role_policy().role_name("app").policy_name("read").send().await.unwrap();
    iam.delete_role().role_name("app").send().await.unwrap();
    let (code, message) = err(iam.get_role().role_name("app").send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", "The role with name app cannot be found."));
}

#[tokio::test]
async fn managed_policies_have_versions_attachments_and_conflicts() {
    let server = TestServer::start().await;
    let iam = iam(&server);
    iam.create_user().user_name("alice").send().await.unwrap();
    iam.create_role().role_name("app").assume_role_policy_document(trust("*")).send().await.unwrap();
    let v1 = allow("secretsmanager:GetSecretValue", "*");
    let policy = iam
        .create_policy()
        .policy_name("read")
        .path("/app/")
        .policy_document(&v1)
        .description("reads")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let arn = policy.arn.clone().unwrap();
    assert_eq!(arn, "arn:aws:iam::111122223333:policy/app/read");
    assert!(policy.policy_id.unwrap().starts_with("ANPA"));
    assert_eq!(policy.default_version_id.as_deref(), Some("v1"));
    let (code, message) = err(iam.create_policy().policy_name("read").policy_document(&v1).send().await.unwrap_err());
    assert_eq!(code, "EntityAlreadyExists");
    assert_eq!(message, "A policy called read already exists. Duplicate names are not allowed.");
    let (code, _) =
        err(iam.create_policy().policy_name("bad").policy_document("{\"Statement\": 1}").send().await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocument");

    for i in 2..=5 {
        let version = iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(allow("secretsmanager:DescribeSecret", "*"))
            .set_as_default(i == 3)
            .send()
            .await
            .unwrap()
            .policy_version
            .unwrap();
        assert_eq!(version.version_id.as_deref(), Some(format!("v{i}").as_str()));
    }
    let (code, _) = err(iam.create_policy_version().policy_arn(&arn).policy_document(&v1).send().await.unwrap_err());
    assert_eq!(code, "LimitExceeded");
    let got = iam.get_policy().policy_arn(&arn).send().await.unwrap().policy.unwrap();
    assert_eq!(got.default_version_id.as_deref(), Some("v3"));
    assert_eq!(got.description.as_deref(), Some("reads"));
    let version = iam.get_policy_version().policy_arn(&arn).version_id("v1").send().await.unwrap();
    let version = version.policy_version.unwrap();
    assert_eq!(decode(&version.document.unwrap()), serde_json::from_str::<serde_json::Value>(&v1).unwrap());
    assert!(!version.is_default_version);
    let (code, message) = err(iam.delete_policy_version().policy_arn(&arn).version_id("v3").send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("DeleteConflict", "Cannot delete the default version of a policy."));
    let (code, _) = err(iam.get_policy_version().policy_arn(&arn).version_id("v9").send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");
    let versions = iam.list_policy_versions().policy_arn(&arn).send().await.unwrap();
    let versions = versions.versions();
    assert_eq!(versions.len(), 5);

    iam.attach_user_policy().user_name("alice").policy_arn(&arn).send().await.unwrap();
    iam.attach_role_policy().role_name("app").policy_arn(&arn).send().await.unwrap();
    let missing = "arn:aws:iam::111122223333:policy/nope";
    let (code, _) = err(iam.attach_user_policy().user_name("alice").policy_arn(missing).send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = err(iam.attach_user_policy().user_name("alice").policy_arn("not-an-arn").send().await.unwrap_err());
    assert_eq!(code, "InvalidInput");
    let attached = iam.list_attached_user_policies().user_name("alice").send().await.unwrap();
    let attached = attached.attached_policies();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].policy_name.as_deref(), Some("read"));
    let entities = iam.list_entities_for_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(entities.policy_users()[0].user_name.as_deref(), Some("alice"));
    assert_eq!(entities.policy_roles()[0].role_name.as_deref(), Some("app"));
    let only_roles =
        iam.list_entities_for_policy().policy_arn(&arn).entity_filter(EntityType::Role).send().await.unwrap();
    assert!(only_roles.policy_users().is_empty());
    assert_eq!(iam.get_policy().policy_arn(&arn).send().await.unwrap().policy.unwrap().attachment_count, Some(2));

    let (code, message) = err(iam.delete_policy().policy_arn(&arn).send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("DeleteConflict", "Cannot delete a policy attached to entities."));
    let (code, message) = err(iam.delete_user().user_name("alice").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    );
    iam.detach_user_policy().user_name("alice").policy_arn(&arn).send().await.unwrap();
    iam.detach_role_policy().role_name("app").policy_arn(&arn).send().await.unwrap();
    let (code, _) = err(iam.detach_role_policy().role_name("app").policy_arn(&arn).send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = err(iam.delete_policy().policy_arn(&arn).send().await.unwrap_err());
    assert_eq!(code, "DeleteConflict", "versions other than the default remain");
    for v in ["v1", "v2", "v4", "v5"] {
        iam.delete_policy_version().policy_arn(&arn).version_id(v).send().await.unwrap();
    }
    let local = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert_eq!(local.policies().len(), 1);
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();
    let (code, message) = err(iam.get_policy().policy_arn(&arn).send().await.unwrap_err());
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", format!("Policy {arn} was not found.").as_str()));
}

async fn strict_enforcing() -> TestServer {
    TestServer::start_strict_with(Config { authorize: AuthorizeMode::Enforce, ..Config::default() }).await
}

#[tokio::test]
async fn a_created_key_reads_what_its_policy_allows_and_the_simulator_agrees() {
    let server = strict_enforcing().await;
    let admin = iam_with(&server, KEY_ID, SECRET_KEY);
    let root_sm = server.client_with(KEY_ID, SECRET_KEY, None);
    let allowed = root_sm.create_secret().name("app/allowed").secret_string("yes").send().await.unwrap();
    let allowed_arn = allowed.arn.unwrap();
    let other = root_sm.create_secret().name("app/other").secret_string("no").send().await.unwrap();
    let other_arn = other.arn.unwrap();

    let user = admin.create_user().user_name("reader").send().await.unwrap().user.unwrap();
    let key = admin.create_access_key().user_name("reader").send().await.unwrap().access_key.unwrap();
    assert!(key.access_key_id.starts_with("AKIA") && key.access_key_id.len() == 20);
    assert_eq!(key.status, StatusType::Active);
    admin
        .put_user_policy()
        .user_name("reader")
        .policy_name("read-one")
        .policy_document(allow("secretsmanager:GetSecretValue", &allowed_arn))
        .send()
        .await
        .unwrap();

    let reader = server.client_with(&key.access_key_id, &key.secret_access_key, None);
    let value = reader.get_secret_value().secret_id(&allowed_arn).send().await.unwrap();
    assert_eq!(value.secret_string(), Some("yes"));
    let refused = reader.get_secret_value().secret_id(&other_arn).send().await.unwrap_err();
    let (code, message) = common::err_of(refused);
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: secretsmanager:GetSecretValue on resource: {other_arn} because no identity-based policy allows the secretsmanager:GetSecretValue action"
        )
    );

    let simulated = admin
        .simulate_principal_policy()
        .policy_source_arn(&user.arn)
        .action_names("secretsmanager:GetSecretValue")
        .resource_arns(&allowed_arn)
        .resource_arns(&other_arn)
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> = simulated.evaluation_results().iter().map(|r| r.eval_decision.clone()).collect();
    assert_eq!(decisions, [PolicyEvaluationDecisionType::Allowed, PolicyEvaluationDecisionType::ImplicitDeny]);
    let matched = simulated.evaluation_results()[0].matched_statements();
    assert_eq!(matched[0].source_policy_id.as_deref(), Some("read-one"));

    // IAM calls are authorized too: the reader's policy grants no IAM action.
    let as_reader = iam_with(&server, &key.access_key_id, &key.secret_access_key);
    let (code, message) = err(as_reader.create_user().user_name("mallory").send().await.unwrap_err());
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/mallory because no identity-based policy allows the iam:CreateUser action"
        )
    );

    // The key itself is listed, can be made inactive (refused at once) and active again.
    let listed = admin.list_access_keys().user_name("reader").send().await.unwrap().access_key_metadata;
    assert_eq!(listed[0].access_key_id.as_deref(), Some(key.access_key_id.as_str()));
    admin
        .update_access_key()
        .user_name("reader")
        .access_key_id(&key.access_key_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let (code, _) = common::err_of(reader.get_secret_value().secret_id(&allowed_arn).send().await.unwrap_err());
    assert_eq!(code, "UnrecognizedClientException");
    admin
        .update_access_key()
        .user_name("reader")
        .access_key_id(&key.access_key_id)
        .status(StatusType::Active)
        .send()
        .await
        .unwrap();
    reader.get_secret_value().secret_id(&allowed_arn).send().await.unwrap();

    let (code, message) = err(admin.delete_user().user_name("reader").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must delete access keys first.")
    );
    admin.create_access_key().user_name("reader").send().await.unwrap();
    let (code, _) = err(admin.create_access_key().user_name("reader").send().await.unwrap_err());
    assert_eq!(code, "LimitExceeded");
    admin.delete_access_key().user_name("reader").access_key_id(&key.access_key_id).send().await.unwrap();
    let (code, _) = common::err_of(reader.get_secret_value().secret_id(&allowed_arn).send().await.unwrap_err());
    assert_eq!(code, "UnrecognizedClientException");
    let (code, _) =
        err(admin.delete_access_key().user_name("reader").access_key_id(&key.access_key_id).send().await.unwrap_err());
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn a_created_role_is_assumed_through_sts_and_reads_with_its_inline_policy() {
    let server = strict_enforcing().await;
    let admin = iam_with(&server, KEY_ID, SECRET_KEY);
    let root_sm = server.client_with(KEY_ID, SECRET_KEY, None);
    let secret = root_sm.create_secret().name("db").secret_string("pw").send().await.unwrap().arn.unwrap();
    let role = admin
        .create_role()
        .role_name("app")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCOUNT}:root")))
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    admin
        .put_role_policy()
        .role_name("app")
        .policy_name("read")
        .policy_document(allow("secretsmanager:GetSecretValue", &secret))
        .send()
        .await
        .unwrap();
    let sts = server.sts_with(KEY_ID, SECRET_KEY, None);
    let assumed = sts.assume_role().role_arn(&role.arn).role_session_name("s1").send().await.unwrap();
    let c = assumed.credentials.unwrap();
    let session = server.client_with(&c.access_key_id, &c.secret_access_key, Some(&c.session_token));
    assert_eq!(session.get_secret_value().secret_id(&secret).send().await.unwrap().secret_string(), Some("pw"));
    let (code, _) = common::err_of(session.describe_secret().secret_id(&secret).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    let simulated = admin
        .simulate_principal_policy()
        .policy_source_arn(&role.arn)
        .action_names("secretsmanager:GetSecretValue")
        .action_names("secretsmanager:DescribeSecret")
        .resource_arns(&secret)
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> = simulated.evaluation_results().iter().map(|r| r.eval_decision.clone()).collect();
    assert_eq!(decisions, [PolicyEvaluationDecisionType::Allowed, PolicyEvaluationDecisionType::ImplicitDeny]);
}

#[tokio::test]
async fn the_custom_simulator_weighs_denies_resource_policies_and_missing_context() {
    let server = TestServer::start().await;
    let iam = iam(&server);
    let secret = "arn:aws:secretsmanager:us-east-1:444455556666:secret:shared-AbCdEf";
    let identity = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}},
        {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*"}]})
    .to_string();
    let answer = iam
        .simulate_custom_policy()
        .policy_input_list(&identity)
        .action_names("secretsmanager:DeleteSecret")
        .action_names("secretsmanager:GetSecretValue")
        .send()
        .await
        .unwrap();
    let results = answer.evaluation_results();
    assert_eq!(results[0].eval_decision, PolicyEvaluationDecisionType::ExplicitDeny);
    assert_eq!(results[0].eval_resource_name.as_deref(), Some("*"));
    assert_eq!(results[1].eval_decision, PolicyEvaluationDecisionType::ImplicitDeny);
    assert_eq!(results[1].missing_context_values(), ["aws:ResourceTag/team"]);

    // Cross-account: the identity policy of 111122223333 allows; the owner's resource policy decides.
    let grant = allow("secretsmanager:GetSecretValue", "*");
    let resource_policy = |principal: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal},
            "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
        .to_string()
    };
    let ask = |policy: String| {
        iam.simulate_custom_policy()
            .policy_input_list(&grant)
            .action_names("secretsmanager:GetSecretValue")
            .resource_arns(secret)
            .resource_policy(policy)
            .caller_arn("arn:aws:iam::111122223333:user/alice")
            .send()
    };
    let named = ask(resource_policy("arn:aws:iam::111122223333:user/alice")).await.unwrap();
    assert_eq!(named.evaluation_results()[0].eval_decision, PolicyEvaluationDecisionType::Allowed);
    let someone_else = ask(resource_policy("arn:aws:iam::999999999999:root")).await.unwrap();
    assert_eq!(someone_else.evaluation_results()[0].eval_decision, PolicyEvaluationDecisionType::ImplicitDeny);
    let (code, _) = err(ask("{".to_string()).await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocument");
}

/// Every file of a data directory, read whole.
fn data_dir_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// [`strict_enforcing`] with the control API open (the export and import).
async fn strict_enforcing_open() -> TestServer {
    TestServer::start_strict_with(Config {
        authorize: AuthorizeMode::Enforce,
        control: smemu::guard::ControlMode::Open,
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn what_the_iam_api_creates_survives_a_restart_and_its_secret_keys_are_sealed_on_disk() {
    let dir = std::env::temp_dir().join(format!("smemu-iam-dir-{}", uuid::Uuid::new_v4()));
    let first = strict_enforcing().await;
    first.app.open_data_dir(&dir, false).unwrap();
    let admin = iam_with(&first, KEY_ID, SECRET_KEY);
    let root_sm = first.client_with(KEY_ID, SECRET_KEY, None);
    let secret_arn = root_sm.create_secret().name("app/kept").secret_string("yes").send().await.unwrap().arn.unwrap();
    admin
        .create_user()
        .user_name("reader")
        .tags(Tag::builder().key("team").value("a").build().unwrap())
        .send()
        .await
        .unwrap();
    let key = admin.create_access_key().user_name("reader").send().await.unwrap().access_key.unwrap();
    let spare = admin.create_access_key().user_name("reader").send().await.unwrap().access_key.unwrap();
    admin
        .update_access_key()
        .user_name("reader")
        .access_key_id(&spare.access_key_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    admin
        .put_user_policy()
        .user_name("reader")
        .policy_name("read-one")
        .policy_document(allow("secretsmanager:GetSecretValue", &secret_arn))
        .send()
        .await
        .unwrap();
    admin
        .create_role()
        .role_name("app")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCOUNT}:root")))
        .description("the app")
        .send()
        .await
        .unwrap();
    admin
        .put_role_policy()
        .role_name("app")
        .policy_name("inline")
        .policy_document(allow("secretsmanager:DescribeSecret", "*"))
        .send()
        .await
        .unwrap();
    let policy = admin
        .create_policy()
        .policy_name("managed")
        .policy_document(allow("secretsmanager:ListSecrets", "*"))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let policy_arn = policy.arn.unwrap();
    admin
        .create_policy_version()
        .policy_arn(&policy_arn)
        .policy_document(allow("secretsmanager:ListSecrets", "*"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    admin.attach_role_policy().role_name("app").policy_arn(&policy_arn).send().await.unwrap();
    first.stop().await;

    for (file, bytes) in data_dir_bytes(&dir) {
        for secret in [&key.secret_access_key, &spare.secret_access_key] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret access key in {file}");
        }
    }

    let second = strict_enforcing_open().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let reader = second.client_with(&key.access_key_id, &key.secret_access_key, None);
    let value = reader.get_secret_value().secret_id(&secret_arn).send().await.unwrap();
    assert_eq!(value.secret_string(), Some("yes"), "the key and its inline policy came back");
    let inactive = second.client_with(&spare.access_key_id, &spare.secret_access_key, None);
    assert_eq!(common::err_of(inactive.list_secrets().send().await.unwrap_err()).0, "UnrecognizedClientException");
    let admin = iam_with(&second, KEY_ID, SECRET_KEY);
    let keys = admin.list_access_keys().user_name("reader").send().await.unwrap();
    let statuses: Vec<_> = keys
        .access_key_metadata()
        .iter()
        .map(|k| (k.access_key_id().unwrap().to_owned(), k.status.clone().unwrap()))
        .collect();
    assert!(statuses.contains(&(spare.access_key_id.clone(), StatusType::Inactive)), "{statuses:?}");
    let tags = admin.list_user_tags().user_name("reader").send().await.unwrap();
    assert_eq!(tags.tags()[0].key(), "team");
    let role = admin.get_role().role_name("app").send().await.unwrap().role.unwrap();
    assert_eq!(role.description(), Some("the app"));
    assert_eq!(decode(role.assume_role_policy_document().unwrap())["Statement"][0]["Action"], "sts:AssumeRole");
    let inline = admin.list_role_policies().role_name("app").send().await.unwrap();
    assert_eq!(inline.policy_names(), ["inline"]);
    let attached = admin.list_attached_role_policies().role_name("app").send().await.unwrap();
    assert_eq!(attached.attached_policies()[0].policy_arn(), Some(policy_arn.as_str()));
    let kept = admin.get_policy().policy_arn(&policy_arn).send().await.unwrap().policy.unwrap();
    assert_eq!(kept.default_version_id(), Some("v2"));
    let next = admin
        .create_policy_version()
        .policy_arn(&policy_arn)
        .policy_document(allow("secretsmanager:ListSecrets", "*"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.policy_version.unwrap().version_id(), Some("v3"), "version ids are never reused");

    // The control API's export carries the keys, and an import elsewhere makes them work there.
    let export = second.control("GET", "/_smemu/state", "").await;
    assert_eq!(export.status, 200);
    let third = strict_enforcing_open().await;
    let imported = third.control("POST", "/_smemu/state", std::str::from_utf8(&export.body).unwrap()).await;
    assert_eq!(imported.status, 200, "{}", String::from_utf8_lossy(&imported.body));
    let reader = third.client_with(&key.access_key_id, &key.secret_access_key, None);
    assert_eq!(reader.get_secret_value().secret_id(&secret_arn).send().await.unwrap().secret_string(), Some("yes"));
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_accounts_are_kept_in_snapshots_with_sealed_keys() {
    let dir = std::env::temp_dir().join(format!("smemu-iam-snap-{}", uuid::Uuid::new_v4()));
    let first = strict_enforcing().await;
    let options = smemu::persist::JournalOptions { compact_threshold: 1, ..Default::default() };
    first.app.open_data_dir_with(&dir, &options).unwrap();
    let admin = iam_with(&first, KEY_ID, SECRET_KEY);
    let secret_arn = first
        .client_with(KEY_ID, SECRET_KEY, None)
        .create_secret()
        .name("app/snap")
        .secret_string("yes")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    admin.create_user().user_name("snapper").send().await.unwrap();
    admin
        .put_user_policy()
        .user_name("snapper")
        .policy_name("read")
        .policy_document(allow("secretsmanager:GetSecretValue", &secret_arn))
        .send()
        .await
        .unwrap();
    let key = admin.create_access_key().user_name("snapper").send().await.unwrap().access_key.unwrap();
    // A change starts a snapshot once the journal has grown past the last one; each is awaited,
    // so the snapshots that follow the key cover it.
    for i in 0..20 {
        while first.app.is_compacting() {
            tokio::task::yield_now().await;
        }
        let tag = Tag::builder().key(format!("k{i}")).value("v").build().unwrap();
        admin.tag_user().user_name("snapper").tags(tag).send().await.unwrap();
    }
    while first.app.is_compacting() {
        tokio::task::yield_now().await;
    }
    first.stop().await;
    let snapshots: Vec<_> =
        data_dir_bytes(&dir).into_iter().filter(|(name, _)| name.ends_with(".snap")).map(|(_, b)| b).collect();
    assert_eq!(snapshots.len(), 1);
    let snapshot = String::from_utf8_lossy(&snapshots[0]).into_owned();
    assert!(snapshot.contains("snapper") && snapshot.contains(&key.access_key_id), "the account is in the snapshot");
    assert!(!snapshot.contains(&key.secret_access_key), "the secret access key is sealed");

    let second = strict_enforcing().await;
    second.app.open_data_dir(&dir, false).unwrap();
    let reader = second.client_with(&key.access_key_id, &key.secret_access_key, None);
    assert_eq!(reader.get_secret_value().secret_id(&secret_arn).send().await.unwrap().secret_string(), Some("yes"));
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn context_values_are_read_as_their_context_key_type_says() {
    use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
    let server = TestServer::start().await;
    let iam = iam(&server);
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {
            "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
            "Bool": {"aws:SecureTransport": "true"},
            "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}
        }
    }]})
    .to_string();
    let entry = |name: &str, kind: ContextKeyTypeEnum, values: &[&str]| {
        let mut entry = ContextEntry::builder().context_key_name(name).context_key_type(kind);
        for value in values {
            entry = entry.context_key_values(*value);
        }
        entry.build()
    };
    let simulate = |entries: Vec<ContextEntry>| {
        iam.simulate_custom_policy()
            .policy_input_list(&policy)
            .action_names("secretsmanager:GetSecretValue")
            .set_context_entries(Some(entries))
            .send()
    };
    let typed = || {
        vec![
            entry("aws:MultiFactorAuthAge", ContextKeyTypeEnum::Numeric, &["120"]),
            entry("aws:SecureTransport", ContextKeyTypeEnum::Boolean, &["TRUE"]),
            entry("aws:CurrentTime", ContextKeyTypeEnum::Date, &["2026-01-01T00:00:00Z"]),
            entry("aws:SourceIp", ContextKeyTypeEnum::IpList, &["10.1.2.3", "192.168.0.1"]),
        ]
    };
    let allowed = simulate(typed()).await.unwrap();
    assert_eq!(allowed.evaluation_results()[0].eval_decision, PolicyEvaluationDecisionType::Allowed);

    for (i, (name, kind, value)) in [
        ("aws:MultiFactorAuthAge", ContextKeyTypeEnum::Numeric, "soon"),
        ("aws:SecureTransport", ContextKeyTypeEnum::Boolean, "yes"),
        ("aws:CurrentTime", ContextKeyTypeEnum::Date, "not a date"),
        ("aws:SourceIp", ContextKeyTypeEnum::IpList, "10.0.0.300"),
        ("aws:SourceIp", ContextKeyTypeEnum::Ip, "10.0.0.0/33"),
        ("aws:SourceIp", ContextKeyTypeEnum::Binary, "!!"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut entries = typed();
        entries.push(entry(name, kind.clone(), &[value]));
        let (code, message) = err(simulate(entries).await.unwrap_err());
        assert_eq!(code, "InvalidInput", "case {i}");
        assert!(message.contains(name) && message.contains(value), "case {i}: {message}");
    }
    let (code, message) =
        err(simulate(vec![entry("aws:SourceIp", ContextKeyTypeEnum::from("cidr"), &["10.0.0.1"])]).await.unwrap_err());
    assert_eq!(code, "ValidationError");
    assert!(message.contains("Member must satisfy enum value set: [string, stringList, numeric"), "{message}");
}
