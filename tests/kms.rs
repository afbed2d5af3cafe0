//! KMS through `aws-sdk-kms`: every operation's normal path and the errors of the spec's §1.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyManagerType, KeySpec, KeyState, KeyUsageType, Tag};
use common::{DAY, TestServer, kms_err};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

async fn new_key(kms: &Client) -> (String, String) {
    let meta = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    (meta.key_id, meta.arn.unwrap())
}

fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}")
}

fn alias_arn(name: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:{name}")
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().tag_key(key).tag_value(value).build().unwrap()
}

#[tokio::test]
async fn create_key_answers_the_recorded_key_metadata() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let created = kms.create_key().description("app data").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(created.aws_account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(created.arn.as_deref(), Some(key_arn(&created.key_id).as_str()));
    assert_eq!(created.key_state, Some(KeyState::Enabled));
    assert!(created.enabled);
    assert_eq!(created.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(created.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(created.key_manager, Some(KeyManagerType::Customer));
    assert_eq!(created.description.as_deref(), Some("app data"));
    assert_eq!(created.creation_date.unwrap().secs(), common::START);
    assert_eq!(created.current_key_material_id.as_ref().map(String::len), Some(64));

    // The raw shape: Description present (empty) when none was given, no DeletionDate.
    let raw = server.kms_call("CreateKey", "{}").await;
    assert_eq!(raw.status, 200);
    let meta = &raw.json()["KeyMetadata"];
    for (member, value) in [
        ("Description", ""),
        ("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
        ("KeySpec", "SYMMETRIC_DEFAULT"),
        ("KeyState", "Enabled"),
        ("KeyUsage", "ENCRYPT_DECRYPT"),
        ("KeyManager", "CUSTOMER"),
        ("Origin", "AWS_KMS"),
    ] {
        assert_eq!(meta[member], value, "{member}");
    }
    assert_eq!(meta["EncryptionAlgorithms"], serde_json::json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(meta["MultiRegion"], false);
    assert!(meta.get("DeletionDate").is_none());

    let described = kms.describe_key().key_id(&created.key_id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(described.arn, created.arn);
}

#[tokio::test]
async fn other_key_specs_and_options_are_refused_clearly() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let e = kms_err(kms.create_key().key_spec(KeySpec::Rsa2048).send().await.unwrap_err());
    assert_eq!(e.0, "UnsupportedOperationException");
    assert!(e.1.contains("KeySpec RSA_2048 is not supported"), "{}", e.1);
    let e = kms_err(kms.create_key().key_usage(KeyUsageType::SignVerify).send().await.unwrap_err());
    assert!(e.1.contains("KeyUsage SIGN_VERIFY"), "{}", e.1);
    let e = kms_err(kms.create_key().multi_region(true).send().await.unwrap_err());
    assert!(e.1.contains("multi-Region"), "{}", e.1);
    let e = kms_err(kms.create_key().origin(aws_sdk_kms::types::OriginType::External).send().await.unwrap_err());
    assert!(e.1.contains("Origin EXTERNAL"), "{}", e.1);
    assert_eq!(kms.list_keys().send().await.unwrap().keys.unwrap_or_default().len(), 0);
}

#[tokio::test]
async fn key_references_that_name_nothing() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, arn) = new_key(&kms).await;
    let missing = "134f2428-cec1-4b25-a1ae-9048164dba47";
    let describe = |key: String| {
        let kms = kms.clone();
        async move { kms_err(kms.describe_key().key_id(key).send().await.unwrap_err()) }
    };
    let not_found = ("NotFoundException".to_owned(), format!("Key '{}' does not exist", key_arn(missing)));
    assert_eq!(describe(missing.to_owned()).await, not_found);
    assert_eq!(describe(key_arn(missing)).await, not_found);
    for bad in ["fake-key-id", "134f2428cec14b25a1ae9048164dba47", "mrk-fake-key-id"] {
        assert_eq!(describe(bad.to_owned()).await, ("NotFoundException".to_owned(), format!("Invalid keyId '{bad}'")));
    }
    let mrk = "mrk-0123456789abcdef0123456789abcdef";
    assert_eq!(describe(mrk.to_owned()).await.1, format!("Key '{}' does not exist", key_arn(mrk)));
    assert_eq!(describe(arn.replace(REGION, "us-west-2")).await.1, "Invalid arn us-west-2");
    assert_eq!(describe("alias/nope".to_owned()).await.1, format!("Alias {} is not found.", alias_arn("alias/nope")));
    // The same key id from another region is another key.
    let west = common::kms_client_for(&server.endpoint(), ACCOUNT, "us-west-2");
    let e = kms_err(west.describe_key().key_id(&id).send().await.unwrap_err());
    assert_eq!(e.1, format!("Key 'arn:aws:kms:us-west-2:{ACCOUNT}:key/{id}' does not exist"));
    // Typed, as an SDK user matches it.
    let err = kms.describe_key().key_id(missing).send().await.unwrap_err().into_service_error();
    assert!(err.is_not_found_exception());
}

#[tokio::test]
async fn list_keys_pages_with_markers() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_key(&kms).await.0);
    }
    let first = kms.list_keys().limit(2).send().await.unwrap();
    assert!(first.truncated);
    let listed: Vec<String> = first.keys.unwrap().into_iter().map(|k| k.key_id.unwrap()).collect();
    assert_eq!(listed, ids[..2]);
    let rest = kms.list_keys().limit(2).marker(first.next_marker.unwrap()).send().await.unwrap();
    assert!(!rest.truncated);
    let rest = rest.keys.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].key_arn.as_deref(), Some(key_arn(&ids[2]).as_str()));
    let e = kms_err(kms.list_keys().marker("not-a-marker!").send().await.unwrap_err());
    assert_eq!(e.0, "InvalidMarkerException");
    // The model's range for Limit.
    let e = kms_err(kms.list_keys().limit(0).send().await.unwrap_err());
    assert_eq!(e.0, "ValidationException");
}

#[tokio::test]
async fn aliases_create_list_update_delete_and_their_errors() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (a, _) = new_key(&kms).await;
    let (b, b_arn) = new_key(&kms).await;
    kms.create_alias().alias_name("alias/app").target_key_id(&a).send().await.unwrap();

    let aliases = kms.list_aliases().send().await.unwrap().aliases.unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].alias_name.as_deref(), Some("alias/app"));
    assert_eq!(aliases[0].alias_arn.as_deref(), Some(alias_arn("alias/app").as_str()));
    assert_eq!(aliases[0].target_key_id.as_deref(), Some(a.as_str()));
    assert!(aliases[0].creation_date.is_some() && aliases[0].last_updated_date.is_some());

    let create = |name: &str, target: &str| kms.create_alias().alias_name(name).target_key_id(target).send();
    let e = kms_err(create("app", &a).await.unwrap_err());
    assert_eq!(e.0, "ValidationException");
    assert_eq!(
        e.1,
        "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    );
    let e = kms_err(create("alias/app", &b).await.unwrap_err());
    assert_eq!(
        e,
        ("AlreadyExistsException".into(), format!("An alias with the name {} already exists", alias_arn("alias/app")))
    );
    assert_eq!(kms_err(create("alias/aws/mine", &a).await.unwrap_err()).0, "NotAuthorizedException");
    let e = kms_err(create("alias/two", "alias/app").await.unwrap_err());
    assert_eq!(e, ("ValidationException".into(), "Aliases must refer to keys. Not aliases".into()));
    let e = kms_err(create("alias/bad name", &a).await.unwrap_err());
    assert_eq!(
        e.1,
        "1 validation error detected: Value 'alias/bad name' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    );
    let missing_target = kms_err(create("alias/x", "134f2428-cec1-4b25-a1ae-9048164dba47").await.unwrap_err());
    assert_eq!(missing_target.0, "NotFoundException");

    kms.update_alias().alias_name("alias/app").target_key_id(&b_arn).send().await.unwrap();
    let of_b = kms.list_aliases().key_id(&b).send().await.unwrap().aliases.unwrap();
    assert_eq!(of_b.len(), 1);
    assert!(kms.list_aliases().key_id(&a).send().await.unwrap().aliases.unwrap().is_empty());
    let e = kms_err(kms.update_alias().alias_name("alias/none").target_key_id(&a).send().await.unwrap_err());
    assert_eq!(e, ("NotFoundException".into(), format!("Alias {} is not found.", alias_arn("alias/none"))));

    // Encrypt through the alias, then delete it.
    kms.encrypt().key_id("alias/app").plaintext(Blob::new("x")).send().await.unwrap();
    kms.delete_alias().alias_name("alias/app").send().await.unwrap();
    let e = kms_err(kms.delete_alias().alias_name("alias/app").send().await.unwrap_err());
    assert_eq!(e.0, "NotFoundException");
    assert!(kms.list_aliases().send().await.unwrap().aliases.unwrap().is_empty());
}

#[tokio::test]
async fn encrypt_decrypt_with_a_context() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, arn) = new_key(&kms).await;
    let sealed = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("the data"))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(sealed.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(sealed.encryption_algorithm.as_ref().map(|a| a.as_str()), Some("SYMMETRIC_DEFAULT"));
    let blob = sealed.ciphertext_blob.unwrap();

    // Decrypt needs no key id: the blob names its key.
    let opened = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "a")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"the data");
    assert_eq!(opened.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(opened.key_material_id.as_ref().map(String::len), Some(64));

    // A wrong or missing context, or an altered blob: InvalidCiphertextException, no message.
    let wrong = kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("purpose", "test").send().await;
    let err = wrong.unwrap_err().into_service_error();
    assert!(err.is_invalid_ciphertext_exception());
    assert_eq!(aws_sdk_kms::error::ProvideErrorMetadata::message(&err), None);
    let mut bytes = blob.clone().into_inner();
    bytes[20] ^= 1;
    let tampered = kms.decrypt().ciphertext_blob(Blob::new(bytes)).send().await.unwrap_err();
    assert!(tampered.into_service_error().is_invalid_ciphertext_exception());
    let raw = server
        .kms_call(
            "Decrypt",
            r#"{"CiphertextBlob": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"}"#,
        )
        .await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.json(), serde_json::json!({"__type": "InvalidCiphertextException"}));

    // Naming another key than the sealing one.
    let (other, _) = new_key(&kms).await;
    let e = kms_err(kms.decrypt().ciphertext_blob(blob.clone()).key_id(&other).send().await.unwrap_err());
    assert_eq!(
        e,
        (
            "IncorrectKeyException".into(),
            "The key ID in the request does not identify a CMK that can perform this operation.".into()
        )
    );

    // Plaintext size: sensitive, so the value is never echoed.
    let e = kms_err(kms.encrypt().key_id(&id).plaintext(Blob::new(vec![0u8; 4097])).send().await.unwrap_err());
    assert_eq!(
        e,
        (
            "ValidationException".into(),
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096".into()
        )
    );
    let e = kms_err(
        kms.encrypt()
            .key_id(&id)
            .plaintext(Blob::new("x"))
            .encryption_algorithm(aws_sdk_kms::types::EncryptionAlgorithmSpec::RsaesOaepSha256)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidKeyUsageException");
    let e = kms_err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).dry_run(true).send().await.unwrap_err());
    assert_eq!(e.0, "DryRunOperationException");
}

#[tokio::test]
async fn re_encrypt_moves_a_blob_to_another_key() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (a, a_arn) = new_key(&kms).await;
    let (b, b_arn) = new_key(&kms).await;
    let blob = kms.encrypt().key_id(&a).plaintext(Blob::new("moving")).send().await.unwrap().ciphertext_blob.unwrap();
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .destination_key_id(&b)
        .destination_encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.source_key_id.as_deref(), Some(a_arn.as_str()));
    assert_eq!(moved.key_id.as_deref(), Some(b_arn.as_str()));
    assert!(moved.source_key_material_id.is_some() && moved.destination_key_material_id.is_some());
    let opened = kms
        .decrypt()
        .ciphertext_blob(moved.ciphertext_blob.unwrap())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"moving");
    assert_eq!(opened.key_id.as_deref(), Some(b_arn.as_str()));
    let e = kms.re_encrypt().ciphertext_blob(blob).source_key_id(&b).destination_key_id(&a).send().await.unwrap_err();
    assert!(e.into_service_error().is_incorrect_key_exception());
}

#[tokio::test]
async fn data_keys_and_random_bytes() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, arn) = new_key(&kms).await;
    let data_key = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("a", "b")
        .send()
        .await
        .unwrap();
    let plaintext = data_key.plaintext.unwrap();
    assert_eq!(plaintext.as_ref().len(), 32);
    assert_eq!(data_key.key_id.as_deref(), Some(arn.as_str()));
    let opened = kms
        .decrypt()
        .ciphertext_blob(data_key.ciphertext_blob.unwrap())
        .encryption_context("a", "b")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap(), plaintext);
    let small = kms.generate_data_key().key_id(&id).number_of_bytes(7).send().await.unwrap();
    assert_eq!(small.plaintext.unwrap().as_ref().len(), 7);
    let aes128 = kms.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes128).send().await.unwrap();
    assert_eq!(aes128.plaintext.unwrap().as_ref().len(), 16);

    let without =
        kms.generate_data_key_without_plaintext().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    let raw_blob = without.ciphertext_blob.unwrap();
    assert_eq!(kms.decrypt().ciphertext_blob(raw_blob).send().await.unwrap().plaintext.unwrap().as_ref().len(), 32);
    let raw =
        server.kms_call("GenerateDataKeyWithoutPlaintext", &format!(r#"{{"KeyId":"{id}","NumberOfBytes":16}}"#)).await;
    assert!(raw.json().get("Plaintext").is_none());

    for both_or_neither in [
        kms.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send().await,
        kms.generate_data_key().key_id(&id).send().await,
    ] {
        let e = kms_err(both_or_neither.unwrap_err());
        assert_eq!(e, ("ValidationException".into(), "Please specify either number of bytes or key spec.".into()));
    }

    assert_eq!(kms.generate_random().number_of_bytes(64).send().await.unwrap().plaintext.unwrap().as_ref().len(), 64);
    let e = kms_err(kms.generate_random().send().await.unwrap_err());
    assert_eq!(e, ("ValidationException".into(), "NumberOfBytes is required.".into()));
    for (n, rule) in [(0, "greater than or equal to 1"), (1025, "less than or equal to 1024")] {
        let e = kms_err(kms.generate_random().number_of_bytes(n).send().await.unwrap_err());
        assert_eq!(
            e.1,
            format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value {rule}"
            )
        );
    }
}

#[tokio::test]
async fn disabled_keys_refuse_cryptography_until_enabled() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, arn) = new_key(&kms).await;
    let blob = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((meta.enabled, meta.key_state), (false, Some(KeyState::Disabled)));
    let disabled = ("DisabledException".to_owned(), format!("{arn} is disabled."));
    assert_eq!(kms_err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap_err()), disabled);
    assert_eq!(kms_err(kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err()), disabled);
    assert_eq!(kms_err(kms.generate_data_key().key_id(&id).number_of_bytes(8).send().await.unwrap_err()), disabled);
    assert_eq!(kms_err(kms.enable_key_rotation().key_id(&id).send().await.unwrap_err()), disabled);
    kms.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(kms.decrypt().ciphertext_blob(blob).send().await.unwrap().plaintext.unwrap().as_ref(), b"x");
}

#[tokio::test]
async fn deletion_is_scheduled_cancelled_and_carried_out_on_the_clock() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, arn) = new_key(&kms).await;
    kms.create_alias().alias_name("alias/doomed").target_key_id(&id).send().await.unwrap();
    let blob = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();

    for window in [1, 6, 31] {
        let e =
            kms_err(kms.schedule_key_deletion().key_id(&id).pending_window_in_days(window).send().await.unwrap_err());
        assert_eq!(e, ("ValidationException".into(), "PendingWindowInDays must be between 7 and 30".into()));
    }
    let e = kms_err(kms.cancel_key_deletion().key_id(&id).send().await.unwrap_err());
    assert_eq!(e, ("KMSInvalidStateException".into(), format!("{arn} is not pending deletion.")));

    let scheduled = kms.schedule_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(scheduled.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(scheduled.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days, Some(30));
    assert_eq!(scheduled.deletion_date.unwrap().secs(), common::START + 30 * 86_400);
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((meta.enabled, meta.key_state), (false, Some(KeyState::PendingDeletion)));
    assert!(meta.deletion_date.is_some());
    let pending = ("KMSInvalidStateException".to_owned(), format!("{arn} is pending deletion."));
    assert_eq!(kms_err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap_err()), pending);
    assert_eq!(kms_err(kms.schedule_key_deletion().key_id(&id).send().await.unwrap_err()), pending);
    assert_eq!(kms_err(kms.enable_key().key_id(&id).send().await.unwrap_err()), pending);
    assert_eq!(kms_err(kms.tag_resource().key_id(&id).tags(tag("a", "b")).send().await.unwrap_err()), pending);

    // Cancel leaves it disabled; enable, and the old blob opens again.
    assert_eq!(kms.cancel_key_deletion().key_id(&id).send().await.unwrap().key_id.as_deref(), Some(arn.as_str()));
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((meta.key_state, meta.deletion_date), (Some(KeyState::Disabled), None));
    kms.enable_key().key_id(&id).send().await.unwrap();

    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"6d"}"#).await;
    assert_eq!(r.status, 200);
    assert!(kms.describe_key().key_id(&id).send().await.is_ok());
    server.control("POST", "/_smemu/clock", r#"{"advance":"1d"}"#).await;
    assert_eq!(server.app.kms.key_count(), 0, "the advance deleted the key");
    let e = kms_err(kms.describe_key().key_id(&id).send().await.unwrap_err());
    assert_eq!(e, ("NotFoundException".into(), format!("Key '{arn}' does not exist")));
    let e = kms_err(kms.decrypt().ciphertext_blob(blob).send().await.unwrap_err());
    assert_eq!(e.0, "NotFoundException");
    let e = kms_err(kms.describe_key().key_id("alias/doomed").send().await.unwrap_err());
    assert_eq!(e.1, format!("Alias {} is not found.", alias_arn("alias/doomed")));
    assert!(kms.list_aliases().send().await.unwrap().aliases.unwrap().is_empty());
}

#[tokio::test]
async fn a_passing_window_deletes_the_key_even_before_the_sweep() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, _) = new_key(&kms).await;
    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    // Moving the clock directly (not through the control API) runs no due work.
    server.advance(7 * DAY);
    assert_eq!(server.app.kms.key_count(), 1);
    assert!(kms.describe_key().key_id(&id).send().await.unwrap_err().into_service_error().is_not_found_exception());
}

#[tokio::test]
async fn key_policies_get_put_list() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, _) = new_key(&kms).await;
    let got = kms.get_key_policy().key_id(&id).send().await.unwrap();
    assert_eq!(got.policy_name.as_deref(), Some("default"));
    let policy: serde_json::Value = serde_json::from_str(got.policy.as_deref().unwrap()).unwrap();
    assert_eq!(policy["Id"], "key-default-1");
    assert_eq!(policy["Statement"][0]["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(policy["Statement"][0]["Action"], "kms:*");

    let mine = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#;
    kms.put_key_policy().key_id(&id).policy(mine).send().await.unwrap();
    assert_eq!(
        kms.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap().policy.as_deref(),
        Some(mine)
    );
    let listed = kms.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(listed.policy_names.unwrap(), ["default"]);
    assert!(!listed.truncated);
    let e = kms_err(kms.put_key_policy().key_id(&id).policy("not json").send().await.unwrap_err());
    assert_eq!(e.0, "MalformedPolicyDocumentException");
    let created = kms.create_key().policy(mine).send().await.unwrap().key_metadata.unwrap();
    let theirs = kms.get_key_policy().key_id(created.key_id).send().await.unwrap();
    assert_eq!(theirs.policy.as_deref(), Some(mine));
}

#[tokio::test]
async fn rotation_status_enable_disable() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, _) = new_key(&kms).await;
    let status = kms.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(!status.key_rotation_enabled);
    assert_eq!(status.key_id.as_deref(), Some(id.as_str()));
    kms.enable_key_rotation().key_id(&id).send().await.unwrap();
    let status = kms.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    assert_eq!(status.next_rotation_date.unwrap().secs(), common::START + 365 * 86_400);
    kms.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.unwrap();
    assert_eq!(kms.get_key_rotation_status().key_id(&id).send().await.unwrap().rotation_period_in_days, Some(90));
    let e = kms_err(kms.enable_key_rotation().key_id(&id).rotation_period_in_days(89).send().await.unwrap_err());
    assert_eq!(e.0, "ValidationException");
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    assert!(!kms.get_key_rotation_status().key_id(&id).send().await.unwrap().key_rotation_enabled);
}

#[tokio::test]
async fn tags_and_descriptions() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let created = kms.create_key().tags(tag("team", "core")).send().await.unwrap().key_metadata.unwrap();
    let id = created.key_id;
    kms.tag_resource().key_id(&id).tags(tag("env", "dev")).tags(tag("team", "platform")).send().await.unwrap();
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let pairs: Vec<(String, String)> = tags.tags.unwrap().into_iter().map(|t| (t.tag_key, t.tag_value)).collect();
    assert_eq!(pairs, [("team".to_owned(), "platform".to_owned()), ("env".to_owned(), "dev".to_owned())]);
    assert!(!tags.truncated);
    kms.untag_resource().key_id(&id).tag_keys("team").send().await.unwrap();
    assert_eq!(kms.list_resource_tags().key_id(&id).send().await.unwrap().tags.unwrap().len(), 1);

    let tag_error = |result: Result<_, _>| kms_err(result.unwrap_err());
    let e = tag_error(kms.tag_resource().key_id(&id).tags(tag("aws:x", "v")).send().await);
    assert_eq!(e, ("TagException".into(), "Tags beginning with aws: are reserved".into()));
    let e = tag_error(kms.tag_resource().key_id(&id).tags(tag("AWS:x", "v")).send().await);
    assert_eq!(e.1, "Tags beginning with aws: are reserved");
    let e = tag_error(kms.tag_resource().key_id(&id).tags(tag("d", "1")).tags(tag("d", "2")).send().await);
    assert_eq!(e.1, "Duplicate tag keys");
    let mut too_many = kms.tag_resource().key_id(&id);
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    assert_eq!(tag_error(too_many.send().await).1, "Too many tags");
    let e = tag_error(kms.tag_resource().key_id(&id).tags(tag(&"k".repeat(129), "v")).send().await);
    assert_eq!(e.0, "ValidationException");
    assert!(
        e.1.contains(
            "at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"
        ),
        "{}",
        e.1
    );
    let e = kms_err(kms.create_key().tags(tag("aws:x", "v")).send().await.unwrap_err());
    assert_eq!(e.0, "TagException");

    kms.update_key_description().key_id(&id).description("new words").send().await.unwrap();
    let meta = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.description.as_deref(), Some("new words"));
}

#[tokio::test]
async fn the_secrets_manager_key_appears_on_first_describe() {
    let server = TestServer::start().await;
    let kms = server.kms();
    assert!(kms.list_keys().send().await.unwrap().keys.unwrap().is_empty());
    let meta = kms.describe_key().key_id("alias/aws/secretsmanager").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.key_manager, Some(KeyManagerType::Aws));
    assert_eq!(
        meta.description.as_deref(),
        Some("Default key that protects my Secrets Manager data when no other key is defined")
    );
    let again =
        kms.describe_key().key_id(alias_arn("alias/aws/secretsmanager")).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(again.key_id, meta.key_id);
    assert_eq!(kms.list_keys().send().await.unwrap().keys.unwrap().len(), 1);
    let aliases = kms.list_aliases().send().await.unwrap().aliases.unwrap();
    assert_eq!(aliases[0].alias_name.as_deref(), Some("alias/aws/secretsmanager"));
    let policy = kms.get_key_policy().key_id(&meta.key_id).send().await.unwrap().policy.unwrap();
    assert!(policy.contains("auto-secretsmanager-2"));
    assert!(kms.get_key_rotation_status().key_id(&meta.key_id).send().await.unwrap().key_rotation_enabled);
    // Its key policy keeps direct callers to metadata.
    let e =
        kms_err(kms.encrypt().key_id("alias/aws/secretsmanager").plaintext(Blob::new("x")).send().await.unwrap_err());
    assert_eq!(e.0, "AccessDeniedException");
    assert!(e.1.contains("kms:Encrypt"), "{}", e.1);
    assert_eq!(kms_err(kms.disable_key().key_id(&meta.key_id).send().await.unwrap_err()).0, "AccessDeniedException");
    let e = kms_err(kms.delete_alias().alias_name("alias/aws/secretsmanager").send().await.unwrap_err());
    assert_eq!(e.0, "NotAuthorizedException");
}

#[tokio::test]
async fn keys_are_per_account() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, _) = new_key(&kms).await;
    let other = common::kms_client_for(&server.endpoint(), "444455556666", REGION);
    let e = kms_err(other.describe_key().key_id(&id).send().await.unwrap_err());
    assert_eq!(e.1, format!("Key 'arn:aws:kms:{REGION}:444455556666:key/{id}' does not exist"));
    assert!(other.list_keys().send().await.unwrap().keys.unwrap().is_empty());
}

#[tokio::test]
async fn operations_smemu_does_not_answer_say_so() {
    let server = TestServer::start().await;
    let kms = server.kms();
    let (id, _) = new_key(&kms).await;
    let e = kms_err(
        kms.sign()
            .key_id(&id)
            .message(Blob::new("m"))
            .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e, ("UnsupportedOperationException".into(), "smemu does not support Sign.".into()));
    let e = kms_err(
        kms.create_grant()
            .key_id(&id)
            .grantee_principal("arn:aws:iam::111122223333:root")
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "UnsupportedOperationException");
}

#[tokio::test]
async fn the_wire_speaks_kms() {
    let server = TestServer::start().await;
    let r = server.kms_call("DescribeKey", r#"{"KeyId":"nope"}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("NotFoundException"));
    assert_eq!(r.json(), serde_json::json!({"__type": "NotFoundException", "message": "Invalid keyId 'nope'"}));
    let r = server.kms_call("DescribeKey", "{}").await;
    r.assert_error(
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
    assert!(r.json().get("message").is_some() && r.json().get("Message").is_none());
    let r = server.kms_call("DescribeKey", r#"{"KeyId": 5}"#).await;
    assert_eq!(r.json()["__type"], "SerializationException");
    let r = server.kms_call("NoSuchOperation", "{}").await;
    assert_eq!(r.json()["__type"], "UnknownOperationException");
    assert!(r.json().get("message").is_some());
    let r = server.kms_call("Decrypt", "{}").await;
    r.assert_error(400, "ValidationException", "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
    let r = server
        .raw("GET", &[("X-Amz-Target", "TrentService.ListKeys"), ("Content-Type", "application/x-amz-json-1.1")], b"")
        .await;
    assert_eq!(r.json()["__type"], "UnknownOperationException");
    // Secrets Manager keeps its own dialect.
    let r = server.call("DescribeSecret", r#"{"SecretId":"nope"}"#).await;
    assert!(r.json().get("Message").is_some());
}

#[tokio::test]
async fn reset_forgets_keys_too() {
    let server = TestServer::start().await;
    let kms = server.kms();
    new_key(&kms).await;
    let r = server.control("POST", "/_smemu/reset", "{}").await;
    assert_eq!(r.status, 200);
    assert!(kms.list_keys().send().await.unwrap().keys.unwrap().is_empty());
}

#[tokio::test]
async fn strict_mode_accepts_a_kms_signature() {
    let server = TestServer::start_strict().await;
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            common::KEY_ID,
            common::SECRET_KEY,
            None,
            None,
            "tests",
        ))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let kms = Client::from_conf(config);
    let meta = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.aws_account_id.as_deref(), Some(common::ACCOUNT));
    let bad = common::kms_client_for(&server.endpoint(), common::KEY_ID, REGION);
    let e = kms_err(bad.list_keys().send().await.unwrap_err());
    assert_eq!(e.0, "InvalidSignatureException");
}

fn seed_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-kms-seed-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seed.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn keys_declared_in_a_seed_file_exist_with_their_aliases_state_and_policy() {
    let server = TestServer::start().await;
    let path = seed_file(
        "ok",
        r#"
account: "111122223333"
keys:
  - aliases: [alias/app, alias/app-v2]
    description: app data
    policy: { Version: "2012-10-17", Id: seeded, Statement: [] }
    tags: { team: core }
    rotation: 90
  - alias: alias/off
    enabled: false
  - id: 0b1c3e2a-5d7f-4c1e-9a8b-2f4d6e8a0c1b
    pendingWindowInDays: 7
secrets:
  - name: prod/db
    kmsKeyId: alias/app
    secretString: pw
"#,
    );
    smemu::seed::load(&server.app, &path).unwrap();
    let kms = server.kms();
    let app = kms.describe_key().key_id("alias/app-v2").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(app.description.as_deref(), Some("app data"));
    let policy = kms.get_key_policy().key_id(&app.key_id).send().await.unwrap().policy.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&policy).unwrap()["Id"], "seeded");
    let tags = kms.list_resource_tags().key_id(&app.key_id).send().await.unwrap().tags.unwrap();
    assert_eq!((tags[0].tag_key.as_str(), tags[0].tag_value.as_str()), ("team", "core"));
    assert_eq!(
        kms.get_key_rotation_status().key_id(&app.key_id).send().await.unwrap().rotation_period_in_days,
        Some(90)
    );
    let blob =
        kms.encrypt().key_id("alias/app").plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();
    assert_eq!(kms.decrypt().ciphertext_blob(blob).send().await.unwrap().key_id, app.arn);
    let off = kms.describe_key().key_id("alias/off").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(off.key_state, Some(KeyState::Disabled));
    let doomed =
        kms.describe_key().key_id("0b1c3e2a-5d7f-4c1e-9a8b-2f4d6e8a0c1b").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(doomed.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(doomed.deletion_date.unwrap().secs(), common::START + 7 * 86_400);
    let secret = server.client_as(ACCOUNT, REGION).describe_secret().secret_id("prod/db").send().await.unwrap();
    assert_eq!(secret.kms_key_id(), Some("alias/app"));

    // Seeding again finds the same keys.
    smemu::seed::load(&server.app, &path).unwrap();
    assert_eq!(kms.list_keys().send().await.unwrap().keys.unwrap().len(), 3);
    assert_eq!(kms.describe_key().key_id("alias/app").send().await.unwrap().key_metadata.unwrap().key_id, app.key_id);
    // And the window ends on the clock like any other.
    server.control("POST", "/_smemu/clock", r#"{"advance":"7d"}"#).await;
    assert_eq!(kms.list_keys().send().await.unwrap().keys.unwrap().len(), 2);
}

#[tokio::test]
async fn seeded_keys_pass_the_checks_of_the_api() {
    let server = TestServer::start().await;
    for (entry, expected) in [
        ("- alias: app", "key #1 (\"app\"): alias: Alias must start with the prefix \"alias/\"."),
        ("- alias: alias/aws/mine", "alias: Aliases that begin with alias/aws/ are reserved"),
        ("- alias: alias/bad name", "alias: must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
        ("- alias: alias/a\n  policy: \"not json\"", "policy: The key policy is not a valid JSON policy document."),
        ("- alias: alias/a\n  tags: { \"aws:x\": v }", "tags: Tags beginning with aws: are reserved"),
        (
            "- alias: alias/a\n  pendingWindowInDays: 3",
            "pendingWindowInDays: PendingWindowInDays must be between 7 and 30",
        ),
        (
            "- alias: alias/a\n  pendingWindowInDays: 400",
            "pendingWindowInDays: must have value less than or equal to 365",
        ),
        ("- alias: alias/a\n  rotation: 10", "rotation: must have value greater than or equal to 90"),
        ("- alias: alias/a\n  colour: red", "colour: unknown field"),
        ("- description: no name", "give an id or an alias"),
        ("- id: not-a-uuid", "id: must be a key id (a UUID)"),
        ("- alias: alias/a\n- alias: alias/a", "key #2 (\"alias/a\"): aliases: alias/a already seeded by key #1"),
    ] {
        let path = seed_file("bad", &format!("keys:\n{entry}\n"));
        let e = smemu::seed::load(&server.app, &path).unwrap_err().to_string();
        assert!(e.contains(expected), "{entry:?}: {e}");
    }
    assert_eq!(server.app.kms.key_count(), 0, "nothing is created from a bad file");
}
