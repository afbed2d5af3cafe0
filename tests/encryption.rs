//! Secrets Manager values encrypted under KMS keys: the managed key, customer keys and aliases,
//! key states on writes and reads, key changes, and what is kept in memory and on disk.

mod common;

use aws_sdk_secretsmanager::primitives::Blob;
use common::{DAY, TOKEN_A, TOKEN_B, TestServer, err_of};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const KMS_SUFFIX: &str = "(Service: AWSKMS; Status Code: 400; Error Code: ";
const CANT_DECRYPT: &str = "Secrets Manager can't decrypt the protected secret text using the provided KMS key. ";
const CANT_ENCRYPT: &str = "Secrets Manager can't encrypt the secret value: ";

fn kms_of(server: &TestServer) -> aws_sdk_kms::Client {
    common::kms_client_for(&server.endpoint(), ACCESS_KEY, "us-east-1")
}

/// A new customer key's ARN, with `alias` naming it.
async fn key_with_alias(kms: &aws_sdk_kms::Client, alias: &str) -> String {
    let key = kms.create_key().send().await.unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    kms.create_alias().alias_name(alias).target_key_id(&arn).send().await.unwrap();
    arn
}

/// Asserts a wrapped KMS error: the Secrets Manager prefix, the KMS message and code.
fn assert_wrapped(message: &str, prefix: &str, kms_message: &str, kms_code: &str) {
    let rest = message.strip_prefix(prefix).unwrap_or_else(|| panic!("{message}"));
    let expected = format!("{kms_message} {KMS_SUFFIX}{kms_code}; Request ID: ");
    assert!(rest.starts_with(&expected), "{message}");
    assert!(rest.ends_with("; Proxy: null)"), "{message}");
}

#[tokio::test]
async fn the_managed_key_is_made_on_first_use_and_versions_name_it() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty(), "no key before a value needs one");
    sm.create_secret().name("s").secret_string("one").send().await.unwrap();
    let keys = kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1);
    let managed = kms.describe_key().key_id("alias/aws/secretsmanager").send().await.unwrap();
    let metadata = managed.key_metadata().unwrap();
    assert_eq!(metadata.key_manager().unwrap().as_str(), "AWS");
    assert_eq!(keys.keys()[0].key_arn(), metadata.arn());
    sm.put_secret_value().secret_id("s").secret_binary(Blob::new(vec![0, 1, 2, 255])).send().await.unwrap();
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 1, "one managed key per account and region");
    let v = sm.get_secret_value().secret_id("s").send().await.unwrap();
    assert_eq!(v.secret_binary().unwrap().as_ref(), [0, 1, 2, 255]);
    let prev = sm.get_secret_value().secret_id("s").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(prev.secret_string(), Some("one"));
    let versions = sm.list_secret_version_ids().secret_id("s").send().await.unwrap();
    for v in versions.versions() {
        assert_eq!(v.kms_key_ids(), ["DefaultEncryptionKey".to_owned()]);
    }
    let described = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(described.kms_key_id(), None, "the managed key is not shown");
}

#[tokio::test]
async fn a_disabled_key_stops_writes_and_reads_until_it_is_enabled() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    let arn = key_with_alias(&kms, "alias/app").await;
    sm.create_secret().name("db").kms_key_id("alias/app").secret_string("pw").send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("db").send().await.unwrap().secret_string(), Some("pw"));
    let versions = sm.list_secret_version_ids().secret_id("db").send().await.unwrap();
    assert_eq!(versions.versions()[0].kms_key_ids(), ["alias/app".to_owned()]);

    kms.disable_key().key_id(&arn).send().await.unwrap();
    let (code, message) = err_of(sm.get_secret_value().secret_id("db").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure");
    assert_wrapped(&message, CANT_DECRYPT, &format!("{arn} is disabled."), "DisabledException");
    let (code, message) = err_of(sm.put_secret_value().secret_id("db").secret_string("new").send().await.unwrap_err());
    assert_eq!(code, "EncryptionFailure");
    assert_wrapped(&message, CANT_ENCRYPT, &format!("{arn} is disabled."), "DisabledException");
    let batch = sm.batch_get_secret_value().secret_id_list("db").send().await.unwrap();
    assert!(batch.secret_values().is_empty());
    assert_eq!(batch.errors()[0].error_code(), Some("DecryptionFailure"));
    // The refused write left nothing behind.
    assert_eq!(sm.list_secret_version_ids().secret_id("db").send().await.unwrap().versions().len(), 1);

    kms.enable_key().key_id(&arn).send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("db").send().await.unwrap().secret_string(), Some("pw"));
    sm.put_secret_value().secret_id("db").secret_string("new").send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("db").send().await.unwrap().secret_string(), Some("new"));
}

#[tokio::test]
async fn a_key_pending_deletion_refuses_and_a_deleted_key_loses_the_value_for_good() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    let arn = key_with_alias(&kms, "alias/app").await;
    sm.create_secret().name("db").kms_key_id(&arn).secret_string("pw").send().await.unwrap();
    kms.schedule_key_deletion().key_id(&arn).pending_window_in_days(7).send().await.unwrap();
    let (code, message) = err_of(sm.get_secret_value().secret_id("db").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure");
    assert_wrapped(&message, CANT_DECRYPT, &format!("{arn} is pending deletion."), "KMSInvalidStateException");
    let (code, _) = err_of(sm.update_secret().secret_id("db").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "EncryptionFailure");

    server.control("POST", "/_smemu/clock", r#"{"advance":"7d"}"#).await;
    let (code, message) = err_of(sm.get_secret_value().secret_id("db").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure");
    assert_wrapped(&message, CANT_DECRYPT, &format!("Key '{arn}' does not exist"), "NotFoundException");
    assert!(kms.describe_key().key_id(&arn).send().await.is_err(), "the key is gone");
    // A new key does not bring the value back: it was sealed under the old one.
    let _ = key_with_alias(&kms, "alias/app").await;
    let (code, _) = err_of(sm.get_secret_value().secret_id("db").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure");
}

#[tokio::test]
async fn a_key_that_does_not_exist_is_an_encryption_failure() {
    let server = TestServer::start().await;
    let sm = server.client();
    let arn = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let (code, message) =
        err_of(sm.create_secret().name("s").kms_key_id(arn).secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "EncryptionFailure");
    assert_wrapped(&message, CANT_ENCRYPT, &format!("Key '{arn}' does not exist"), "NotFoundException");
    let (code, message) = err_of(sm.create_secret().name("s").kms_key_id("alias/none").send().await.unwrap_err());
    assert_eq!(code, "EncryptionFailure", "a key is checked even without a value");
    assert!(message.contains("Alias arn:aws:kms:us-east-1:"), "{message}");
    assert!(sm.describe_secret().secret_id("s").send().await.is_err(), "nothing was created");
}

#[tokio::test]
async fn an_alias_is_resolved_when_it_is_used() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    let first = key_with_alias(&kms, "alias/app").await;
    sm.create_secret().name("s").kms_key_id("alias/app").secret_string("one").send().await.unwrap();
    let second = kms.create_key().send().await.unwrap().key_metadata().unwrap().arn().unwrap().to_owned();
    kms.update_alias().alias_name("alias/app").target_key_id(&second).send().await.unwrap();
    sm.put_secret_value().secret_id("s").secret_string("two").send().await.unwrap();
    kms.disable_key().key_id(&first).send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("s").send().await.unwrap().secret_string(), Some("two"));
    let (code, _) = err_of(sm.get_secret_value().secret_id("s").version_stage("AWSPREVIOUS").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure", "the first version stays on the key the alias named then");
}

#[tokio::test]
async fn a_new_key_re_encrypts_the_labelled_versions_only() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    let old = key_with_alias(&kms, "alias/old").await;
    let _new = key_with_alias(&kms, "alias/new").await;
    sm.create_secret().name("s").kms_key_id("alias/old").secret_string("v1").send().await.unwrap();
    let v1 = sm.list_secret_version_ids().secret_id("s").send().await.unwrap().versions()[0]
        .version_id()
        .unwrap()
        .to_owned();
    sm.put_secret_value().secret_id("s").secret_string("v2").client_request_token(TOKEN_A).send().await.unwrap();
    sm.put_secret_value().secret_id("s").secret_string("v3").client_request_token(TOKEN_B).send().await.unwrap();
    // v1 is no longer labelled, v2 is AWSPREVIOUS, v3 AWSCURRENT.
    sm.update_secret().secret_id("s").kms_key_id("alias/new").send().await.unwrap();
    let described = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(described.kms_key_id(), Some("alias/new"));
    let listed = sm.list_secret_version_ids().secret_id("s").include_deprecated(true).send().await.unwrap();
    let keys_of =
        |id: &str| listed.versions().iter().find(|v| v.version_id() == Some(id)).unwrap().kms_key_ids().to_vec();
    assert_eq!(keys_of(&v1), ["alias/old"]);
    assert_eq!(keys_of(TOKEN_A), ["alias/old", "alias/new"]);
    assert_eq!(keys_of(TOKEN_B), ["alias/old", "alias/new"]);

    kms.disable_key().key_id(&old).send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("s").send().await.unwrap().secret_string(), Some("v3"));
    let prev = sm.get_secret_value().secret_id("s").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(prev.secret_string(), Some("v2"));
    let (code, _) = err_of(sm.get_secret_value().secret_id("s").version_id(&v1).send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure", "the unlabelled version stays on the old key");

    // A key KMS refuses changes nothing, not even the description sent with it.
    kms.enable_key().key_id(&old).send().await.unwrap();
    let (code, _) = err_of(
        sm.update_secret().secret_id("s").description("d").kms_key_id("alias/missing").send().await.unwrap_err(),
    );
    assert_eq!(code, "EncryptionFailure");
    let described = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!((described.kms_key_id(), described.description()), (Some("alias/new"), None));
    // The empty key id moves the secret back to the managed key.
    sm.update_secret().secret_id("s").kms_key_id("").send().await.unwrap();
    assert_eq!(sm.describe_secret().secret_id("s").send().await.unwrap().kms_key_id(), None);
    let listed = sm.list_secret_version_ids().secret_id("s").send().await.unwrap();
    let current = listed.versions().iter().find(|v| v.version_id() == Some(TOKEN_B)).unwrap();
    assert_eq!(current.kms_key_ids(), ["alias/old", "alias/new", "DefaultEncryptionKey"]);
}

#[tokio::test]
async fn a_repeated_request_is_compared_with_the_stored_value() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("s").secret_string("one").client_request_token(TOKEN_A).send().await.unwrap();
    sm.create_secret().name("s").secret_string("one").client_request_token(TOKEN_A).send().await.unwrap();
    let (code, _) = err_of(
        sm.create_secret().name("s").secret_string("two").client_request_token(TOKEN_A).send().await.unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException");
    sm.put_secret_value().secret_id("s").secret_string("one").client_request_token(TOKEN_A).send().await.unwrap();
    let (code, _) = err_of(
        sm.put_secret_value()
            .secret_id("s")
            .secret_string("two")
            .client_request_token(TOKEN_A)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "ResourceExistsException");
}

#[tokio::test]
async fn memory_holds_only_ciphertext_and_the_export_shows_plaintext_and_the_keys() {
    let server = TestServer::start().await;
    let (sm, kms) = (server.client(), kms_of(&server));
    let marker = "distinctive-value-0f3c9a";
    key_with_alias(&kms, "alias/app").await;
    sm.create_secret().name("s").kms_key_id("alias/app").secret_string(marker).send().await.unwrap();
    let kept = serde_json::to_string(&server.app.engine.export()).unwrap();
    assert!(!kept.contains(marker), "{kept}");

    let exported = server.control("GET", "/_smemu/state", "").await;
    let text = std::str::from_utf8(&exported.body).unwrap().to_owned();
    assert!(text.contains(marker), "the export is plaintext, for tests");
    let json = exported.json();
    assert_eq!(json["kms"][0]["aliases"][0]["name"], "alias/app");
    assert!(!text.contains("material\""), "never key material");

    let other = TestServer::start().await;
    let r = other.control("POST", "/_smemu/state", &text).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let sm2 = other.client();
    assert_eq!(sm2.get_secret_value().secret_id("s").send().await.unwrap().secret_string(), Some(marker));
    let key = kms_of(&other).describe_key().key_id("alias/app").send().await.unwrap();
    kms_of(&other).disable_key().key_id(key.key_metadata().unwrap().key_id()).send().await.unwrap();
    let (code, _) = err_of(sm2.get_secret_value().secret_id("s").send().await.unwrap_err());
    assert_eq!(code, "DecryptionFailure", "the import sealed the value under the imported key");
}

/// The value, its base64, and its hex, in any file of `dir`.
fn traces_in(dir: &std::path::Path, marker: &str) -> Vec<String> {
    use base64::Engine as _;
    let forms = [
        marker.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(marker),
        base64::engine::general_purpose::STANDARD.encode(format!("x{marker}")),
        base64::engine::general_purpose::STANDARD.encode(format!("xx{marker}")),
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for form in &forms {
            // Base64 of a value at another offset shares its middle with one of these three.
            let needle = if form == marker { form.as_str() } else { &form[4..form.len() - 4] };
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{} holds {needle}", path.display()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_data_directory_holds_no_trace_of_a_value() {
    let dir = std::env::temp_dir().join(format!("smemu-encryption-{}", uuid::Uuid::new_v4()));
    let marker = "correct-horse-battery-staple-7d1e";
    {
        let server = TestServer::start().await;
        server.app.open_data_dir(&dir, false).unwrap();
        let (sm, kms) = (server.client(), kms_of(&server));
        key_with_alias(&kms, "alias/app").await;
        sm.create_secret().name("a").secret_string(marker).send().await.unwrap();
        sm.create_secret().name("b").kms_key_id("alias/app").secret_string(marker).send().await.unwrap();
        sm.create_secret().name("c").secret_binary(Blob::new(marker.as_bytes().to_vec())).send().await.unwrap();
        sm.update_secret().secret_id("a").kms_key_id("alias/app").send().await.unwrap();
        sm.put_secret_value().secret_id("b").secret_string(format!("{marker}-2")).send().await.unwrap();
        assert!(traces_in(&dir, marker).is_empty(), "{:?}", traces_in(&dir, marker));
        server.app.flush();
        server.stop().await;
    }
    assert!(traces_in(&dir, marker).is_empty(), "{:?}", traces_in(&dir, marker));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keys")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // And a restart opens every value again.
    let server = TestServer::start().await;
    server.app.open_data_dir(&dir, false).unwrap();
    let sm = server.client();
    for name in ["a", "b"] {
        let v = sm.get_secret_value().secret_id(name).send().await.unwrap();
        assert!(v.secret_string().unwrap().starts_with(marker), "{name}");
    }
    let c = sm.get_secret_value().secret_id("c").send().await.unwrap();
    assert_eq!(c.secret_binary().unwrap().as_ref(), marker.as_bytes());
    let _ = DAY;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
