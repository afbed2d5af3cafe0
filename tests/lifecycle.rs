//! CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret, RestoreSecret through the real SDK.

mod common;

use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::primitives::{Blob, DateTime};
use aws_sdk_secretsmanager::types::Tag;
use common::{DAY, START, TOKEN_A, TOKEN_B, TestServer, err_of};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
const MARKED: &str = "You can't perform this operation on the secret because it was marked for deletion.";
const INVALID_NAME: &str =
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[tokio::test]
async fn create_returns_arn_name_and_version() {
    let server = TestServer::start().await;
    let sm = server.client();
    let out =
        sm.create_secret().name("prod/db").secret_string("s3cr3t").client_request_token(TOKEN_A).send().await.unwrap();
    let arn = out.arn().unwrap();
    let prefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-";
    assert!(arn.starts_with(prefix), "{arn}");
    let suffix = &arn[prefix.len()..];
    assert_eq!(suffix.len(), 6);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(out.name(), Some("prod/db"));
    assert_eq!(out.version_id(), Some(TOKEN_A));

    let d = sm.describe_secret().secret_id("prod/db").send().await.unwrap();
    assert_eq!(d.arn(), Some(arn));
    assert_eq!(d.created_date(), Some(&DateTime::from_secs(START)));
    assert_eq!(d.last_changed_date(), Some(&DateTime::from_secs(START)));
    assert_eq!(d.version_ids_to_stages().unwrap()[TOKEN_A], vec!["AWSCURRENT".to_owned()]);
    assert!(d.description().is_none());
    assert!(d.kms_key_id().is_none());
    assert!(d.tags().is_empty(), "never tagged: no Tags key");
    assert!(d.rotation_enabled().is_none());
    assert!(d.last_accessed_date().is_none());
    assert!(d.deleted_date().is_none());
}

#[tokio::test]
async fn create_without_value_has_no_version() {
    let server = TestServer::start().await;
    let sm = server.client();
    let out = sm.create_secret().name("empty").description("").send().await.unwrap();
    assert!(out.version_id().is_none());
    let raw = server.call("DescribeSecret", r#"{"SecretId":"empty"}"#).await.json();
    assert!(raw.get("VersionIdsToStages").is_none(), "{raw}");
    assert!(raw.get("Description").is_none(), "empty description is not returned: {raw}");
    assert!(raw.get("Tags").is_none(), "{raw}");
    let (code, msg) = err_of(sm.get_secret_value().secret_id("empty").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
        )
    );
}

#[tokio::test]
async fn create_binary_secret() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("bin").secret_binary(Blob::new(b"footest".to_vec())).send().await.unwrap();
    let v = sm.get_secret_value().secret_id("bin").send().await.unwrap();
    assert_eq!(v.secret_binary().unwrap().as_ref(), b"footest");
    assert!(v.secret_string().is_none());
    let raw = server.call("GetSecretValue", r#"{"SecretId":"bin"}"#).await.json();
    assert_eq!(raw["SecretBinary"], "Zm9vdGVzdA==");
}

#[tokio::test]
async fn create_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("dup").secret_string("a").send().await.unwrap();

    let err = sm.create_secret().name("dup").secret_string("b").send().await.unwrap_err();
    let service = err.into_service_error();
    assert!(matches!(service, CreateSecretError::ResourceExistsException(_)), "{service:?}");
    assert_eq!(service.meta().message(), Some("The operation failed because the secret dup already exists."));

    let (code, msg) = err_of(sm.create_secret().name("dup").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("ResourceExistsException", "The operation failed because the secret dup already exists.")
    );

    for bad in ["Inv Name", " Inv*Name? ", "bang!", "üml"] {
        let (code, msg) = err_of(sm.create_secret().name(bad).secret_string("x").send().await.unwrap_err());
        assert_eq!((code.as_str(), msg.as_str()), ("ValidationException", INVALID_NAME), "{bad}");
    }

    let (code, msg) = err_of(
        sm.create_secret()
            .name("both")
            .secret_string("x")
            .secret_binary(Blob::new(b"y".to_vec()))
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(msg, "You can't specify both a binary secret value and a string secret value in the same secret.");

    let (code, msg) = err_of(sm.create_secret().name("kms").kms_key_id("my-key").send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidParameterException", "The operation failed because of an invalid KMS key: Invalid keyId")
    );

    let (code, msg) = err_of(
        sm.create_secret().name("systag").tags(tag("aws:cloudformation:stack-name", "x")).send().await.unwrap_err(),
    );
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidParameterException", "You can't modify system tags. Tag key: 'aws:cloudformation:stack-name'.")
    );

    // Nothing was created by the refused calls.
    let listed = sm.list_secrets().send().await.unwrap();
    assert_eq!(listed.secret_list().len(), 1);
}

#[tokio::test]
async fn create_is_idempotent_per_token() {
    let server = TestServer::start().await;
    let sm = server.client();
    let first = sm.create_secret().name("idem").secret_string("v").client_request_token(TOKEN_A).send().await.unwrap();
    let again = sm.create_secret().name("idem").secret_string("v").client_request_token(TOKEN_A).send().await.unwrap();
    assert_eq!(first.arn(), again.arn());
    assert_eq!(again.version_id(), Some(TOKEN_A));
    let versions = sm.list_secret_version_ids().secret_id("idem").send().await.unwrap();
    assert_eq!(versions.versions().len(), 1);

    let (code, msg) = err_of(
        sm.create_secret().name("idem").secret_string("other").client_request_token(TOKEN_A).send().await.unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException");
    assert_eq!(
        msg,
        format!(
            "You can't use ClientRequestToken {TOKEN_A} because that value is already in use for a version of secret {}.",
            first.arn().unwrap()
        )
    );
}

#[tokio::test]
async fn description_kms_and_tags_are_described() {
    let server = TestServer::start().await;
    let sm = server.client();
    // The key must exist: Secrets Manager encrypts under it.
    let kms = common::kms_client_for(&server.endpoint(), "AKIAIOSFODNN7EXAMPLE", "us-east-1");
    let created = kms.create_key().send().await.unwrap();
    let key = created.key_metadata().unwrap().arn().unwrap();
    sm.create_secret()
        .name("full")
        .description("the db")
        .kms_key_id(key)
        .secret_string("x")
        .tags(tag("tag1", "v1"))
        .tags(tag("tag2", "v2"))
        .send()
        .await
        .unwrap();
    let d = sm.describe_secret().secret_id("full").send().await.unwrap();
    assert_eq!(d.description(), Some("the db"));
    assert_eq!(d.kms_key_id(), Some(key));
    let tags: Vec<_> = d.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert_eq!(tags, [("tag1", "v1"), ("tag2", "v2")]);
    let versions = sm.list_secret_version_ids().secret_id("full").send().await.unwrap();
    assert_eq!(versions.versions()[0].kms_key_ids(), [key.to_owned()]);
}

#[tokio::test]
async fn update_description_only_makes_no_version() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("u").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    server.advance(1000);
    let out = sm.update_secret().secret_id("u").description("new").send().await.unwrap();
    assert!(out.version_id().is_none(), "SDKs always send a token; no version without a value");
    let d = sm.describe_secret().secret_id("u").send().await.unwrap();
    assert_eq!(d.description(), Some("new"));
    assert_eq!(d.last_changed_date(), Some(&DateTime::from_secs(START + 1)));
    assert_eq!(d.version_ids_to_stages().unwrap().len(), 1);

    sm.update_secret().secret_id("u").description("").send().await.unwrap();
    let raw = server.call("DescribeSecret", r#"{"SecretId":"u"}"#).await.json();
    assert!(raw.get("Description").is_none(), "{raw}");
}

#[tokio::test]
async fn update_with_value_moves_current() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("u").secret_string("v1").client_request_token(TOKEN_A).send().await.unwrap();
    let out = sm.update_secret().secret_id("u").secret_string("v2").client_request_token(TOKEN_B).send().await.unwrap();
    assert_eq!(out.version_id(), Some(TOKEN_B));
    let again =
        sm.update_secret().secret_id("u").secret_string("v2").client_request_token(TOKEN_B).send().await.unwrap();
    assert_eq!(again.version_id(), Some(TOKEN_B));
    let v = sm.get_secret_value().secret_id("u").send().await.unwrap();
    assert_eq!(v.secret_string(), Some("v2"));
    let prev = sm.get_secret_value().secret_id("u").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(prev.secret_string(), Some("v1"));
    let (code, _) = err_of(
        sm.update_secret().secret_id("u").secret_string("v3").client_request_token(TOKEN_B).send().await.unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException");
    // The same value under a new token is still a new version.
    sm.update_secret().secret_id("u").secret_string("v2").send().await.unwrap();
    assert_eq!(sm.list_secret_version_ids().secret_id("u").send().await.unwrap().versions().len(), 2);
    assert_eq!(
        sm.list_secret_version_ids().secret_id("u").include_deprecated(true).send().await.unwrap().versions().len(),
        3
    );
}

#[tokio::test]
async fn update_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    let (code, msg) = err_of(sm.update_secret().secret_id("missing").secret_string("x").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ResourceNotFoundException", NOT_FOUND));
    sm.create_secret().name("u").secret_string("x").send().await.unwrap();
    let (code, _) = err_of(
        sm.update_secret()
            .secret_id("u")
            .secret_string("x")
            .secret_binary(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    let (code, _) = err_of(sm.update_secret().secret_id("u").kms_key_id("nope").send().await.unwrap_err());
    assert_eq!(code, "InvalidParameterException");
    let (code, msg) = err_of(sm.update_secret().secret_id("a b").description("x").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ValidationException", INVALID_NAME));
    sm.delete_secret().secret_id("u").send().await.unwrap();
    let (code, msg) = err_of(sm.update_secret().secret_id("u").description("x").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidRequestException", MARKED));
}

#[tokio::test]
async fn secret_id_forms_all_resolve() {
    let server = TestServer::start().await;
    let sm = server.client();
    for name in ["s-c64bdc03", "Valid/_+=.@-Name", "Valid/_+=.@-Name-a1b2", "Valid/_+=.@-Name-a1b2c3-"] {
        let arn = sm.create_secret().name(name).secret_string(name).send().await.unwrap().arn().unwrap().to_owned();
        let partial = &arn[..arn.len() - 7];
        for id in [name, arn.as_str(), partial] {
            let v = sm.get_secret_value().secret_id(id).send().await.unwrap();
            assert_eq!(v.name(), Some(name), "{id}");
            assert_eq!(v.arn(), Some(arn.as_str()));
        }
    }
    // A partial ARN that itself ends in '-' + 6 characters reads as a full ARN and is not found.
    let arn = sm
        .create_secret()
        .name("Invalid/_+=.@-Name-a1b2c3")
        .secret_string("x")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let (code, msg) = err_of(sm.get_secret_value().secret_id(&arn[..arn.len() - 7]).send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ResourceNotFoundException", NOT_FOUND));
    assert!(sm.get_secret_value().secret_id(&arn).send().await.is_ok());

    // The name with its suffix, or a full ARN with a wrong suffix, names nothing.
    let arn = sm.create_secret().name("plain").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    let suffixed = &arn[arn.find(":secret:").unwrap() + 8..];
    for id in [suffixed.to_owned(), format!("{}XXXXXX", &arn[..arn.len() - 6])] {
        let err = sm.describe_secret().secret_id(&id).send().await.unwrap_err().into_service_error();
        assert!(matches!(err, DescribeSecretError::ResourceNotFoundException(_)), "{id}: {err:?}");
    }
}

#[tokio::test]
async fn delete_schedules_and_restore_undoes() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("d").secret_string("x").send().await.unwrap();
    server.advance(5_000);
    let out = sm.delete_secret().secret_id("d").send().await.unwrap();
    assert_eq!(out.name(), Some("d"));
    assert_eq!(out.deletion_date(), Some(&DateTime::from_millis(START * 1000 + 5_000 + 30 * DAY)));

    let d = sm.describe_secret().secret_id("d").send().await.unwrap();
    assert_eq!(d.deleted_date(), Some(&DateTime::from_millis(START * 1000 + 5_000)));

    let (code, msg) = err_of(sm.get_secret_value().secret_id("d").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidRequestException", MARKED));
    let (code, msg) = err_of(sm.put_secret_value().secret_id("d").secret_string("y").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidRequestException", MARKED));
    let (code, msg) = err_of(sm.create_secret().name("d").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    assert_eq!(msg, "You can't create this secret because a secret with this name is already scheduled for deletion.");
    let (code, msg) = err_of(sm.delete_secret().secret_id("d").send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    assert_eq!(msg, "You tried to perform the operation on a secret that's currently marked deleted.");

    assert!(sm.list_secrets().send().await.unwrap().secret_list().is_empty());
    let planned = sm.list_secrets().include_planned_deletion(true).send().await.unwrap();
    assert_eq!(planned.secret_list().len(), 1);
    assert!(planned.secret_list()[0].deleted_date().is_some());

    let restored = sm.restore_secret().secret_id("d").send().await.unwrap();
    assert_eq!(restored.name(), Some("d"));
    assert_eq!(sm.get_secret_value().secret_id("d").send().await.unwrap().secret_string(), Some("x"));
    assert!(sm.describe_secret().secret_id("d").send().await.unwrap().deleted_date().is_none());
    // Restoring a live secret is a harmless no-op.
    sm.restore_secret().secret_id("d").send().await.unwrap();
}

#[tokio::test]
async fn recovery_window_expires_on_the_clock() {
    let server = TestServer::start().await;
    let sm = server.client();
    let first = sm.create_secret().name("w").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    sm.delete_secret().secret_id("w").recovery_window_in_days(7).send().await.unwrap();
    server.advance(6 * DAY);
    let (code, _) = err_of(sm.create_secret().name("w").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "InvalidRequestException");
    server.advance(DAY);
    let (code, _) = err_of(sm.describe_secret().secret_id(&first).send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    let second = sm.create_secret().name("w").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    assert_ne!(first, second, "a re-created secret gets a new suffix");
}

#[tokio::test]
async fn delete_errors_and_force() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("f").secret_string("x").send().await.unwrap();
    for days in [0, 6, 31] {
        for force in [false, true] {
            let (code, msg) = err_of(
                sm.delete_secret()
                    .secret_id("f")
                    .recovery_window_in_days(days)
                    .force_delete_without_recovery(force)
                    .send()
                    .await
                    .unwrap_err(),
            );
            assert_eq!(code, "InvalidParameterException");
            assert_eq!(msg, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
        }
    }
    let (code, msg) = err_of(
        sm.delete_secret()
            .secret_id("f")
            .recovery_window_in_days(7)
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(msg, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    let (code, msg) = err_of(sm.delete_secret().secret_id("missing").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ResourceNotFoundException", NOT_FOUND));

    // Deleted, then force-deleted: both succeed and the name is free at once.
    sm.delete_secret().secret_id("f").send().await.unwrap();
    let out = sm.delete_secret().secret_id("f").force_delete_without_recovery(true).send().await.unwrap();
    assert_eq!(out.deletion_date(), Some(&DateTime::from_secs(START)));
    sm.create_secret().name("f").secret_string("again").send().await.unwrap();

    // Forcing the deletion of a secret that never existed still answers as if it had.
    let out = sm.delete_secret().secret_id("ghost").force_delete_without_recovery(true).send().await.unwrap();
    assert_eq!(out.name(), Some("ghost"));
    assert!(out.arn().unwrap().starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:ghost-"));
    assert!(out.deletion_date().is_some());

    let (code, msg) = err_of(sm.restore_secret().secret_id("ghost").send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ResourceNotFoundException", NOT_FOUND));
    let (code, msg) =
        err_of(sm.delete_secret().secret_id("bad name").force_delete_without_recovery(true).send().await.unwrap_err());
    assert_eq!((code.as_str(), msg.as_str()), ("ValidationException", INVALID_NAME));
}

#[tokio::test]
async fn accounts_and_regions_are_isolated() {
    let server = TestServer::start().await;
    let a = server.client_as("111111111111", "us-east-1");
    let b = server.client_as("222222222222", "us-east-1");
    let a_west = server.client_as("111111111111", "eu-west-1");
    let arn_a = a.create_secret().name("same").secret_string("a").send().await.unwrap().arn().unwrap().to_owned();
    assert!(arn_a.contains(":111111111111:"));
    let arn_b = b.create_secret().name("same").secret_string("b").send().await.unwrap().arn().unwrap().to_owned();
    assert!(arn_b.contains(":222222222222:"));
    a_west.create_secret().name("same").secret_string("west").send().await.unwrap();
    assert_eq!(a.get_secret_value().secret_id("same").send().await.unwrap().secret_string(), Some("a"));
    assert_eq!(b.get_secret_value().secret_id("same").send().await.unwrap().secret_string(), Some("b"));
    assert_eq!(a_west.get_secret_value().secret_id("same").send().await.unwrap().secret_string(), Some("west"));
    // Another account's ARN reaches that account's secret, which its resource policy must
    // admit even with authorization off (see tests/authorization.rs); another region's does not.
    let (code, _) = err_of(a.get_secret_value().secret_id(&arn_b).send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = err_of(a_west.describe_secret().secret_id(&arn_a).send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(a.list_secrets().send().await.unwrap().secret_list().len(), 1);
    // A non-numeric key lands in the default account.
    let d = server.client();
    assert!(d.list_secrets().send().await.unwrap().secret_list().is_empty());
}
