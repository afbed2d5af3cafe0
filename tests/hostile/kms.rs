//! KMS: blobs, markers and references made up by hand, never what an SDK sends.

use crate::common::TestServer;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

async fn key(server: &TestServer) -> String {
    let r = server.kms_call("CreateKey", "{}").await;
    r.json()["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

async fn encrypt(server: &TestServer, key_id: &str) -> Vec<u8> {
    let r = server.kms_call("Encrypt", &format!(r#"{{"KeyId":"{key_id}","Plaintext":"c2VjcmV0"}}"#)).await;
    STANDARD.decode(r.json()["CiphertextBlob"].as_str().unwrap()).unwrap()
}

async fn decrypt_as(server: &TestServer, blob: &[u8], access_key: &str) -> crate::common::Raw {
    let body = format!(r#"{{"CiphertextBlob":"{}"}}"#, STANDARD.encode(blob));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00"
    );
    server
        .raw(
            "POST",
            &[
                ("X-Amz-Target", "TrentService.Decrypt"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", &auth),
            ],
            body.as_bytes(),
        )
        .await
}

#[tokio::test]
async fn forged_and_cut_blobs_are_invalid_ciphertext_never_a_panic() {
    let server = TestServer::start().await;
    let id = key(&server).await;
    let blob = encrypt(&server, &id).await;
    let mut other_version = blob.clone();
    other_version[0] = 2;
    let mut cases =
        vec![blob[..1].to_vec(), blob[..blob.len() - 1].to_vec(), other_version, vec![1; 45], vec![0xff; 6144]];
    // A header naming the key, and garbage after it.
    let mut forged = blob[..17].to_vec();
    forged.extend_from_slice(&[0u8; 40]);
    cases.push(forged);
    for case in cases {
        let r = decrypt_as(&server, &case, "000000000000").await;
        assert_eq!(r.status, 400, "{case:?}");
        assert!(
            matches!(r.json()["__type"].as_str(), Some("InvalidCiphertextException" | "NotFoundException")),
            "{}",
            r.json()
        );
    }
    // Still answers normally.
    assert_eq!(decrypt_as(&server, &blob, "000000000000").await.status, 200);
}

#[tokio::test]
async fn a_blob_opens_only_in_the_account_and_region_of_its_key() {
    let server = TestServer::start().await;
    let id = key(&server).await;
    let blob = encrypt(&server, &id).await;
    let r = decrypt_as(&server, &blob, "444455556666").await;
    r.assert_error(
        400,
        "NotFoundException",
        &format!("Key 'arn:aws:kms:us-east-1:444455556666:key/{id}' does not exist"),
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("c2VjcmV0"));
}

#[tokio::test]
async fn markers_made_up_by_hand_are_refused() {
    let server = TestServer::start().await;
    let id = key(&server).await;
    for marker in ["%%%", "LTE=", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "/w==", ""] {
        for (op, body) in [
            ("ListKeys", format!(r#"{{"Marker":"{marker}"}}"#)),
            ("ListResourceTags", format!(r#"{{"KeyId":"{id}","Marker":"{marker}"}}"#)),
            ("ListAliases", format!(r#"{{"Marker":"{marker}"}}"#)),
        ] {
            let r = server.kms_call(op, &body).await;
            // Either refused, or a page: never a server error.
            assert!(r.status == 200 || r.status == 400, "{op} {marker}: {}", r.status);
            if r.status == 400 {
                assert!(
                    matches!(r.json()["__type"].as_str(), Some("InvalidMarkerException" | "ValidationException")),
                    "{}",
                    r.json()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_huge_encryption_context_and_odd_references_are_handled() {
    let server = TestServer::start().await;
    let id = key(&server).await;
    let pairs: Vec<String> = (0..10_000).map(|i| format!(r#""k{i}":"v{i}""#)).collect();
    let body = format!(r#"{{"KeyId":"{id}","Plaintext":"eA==","EncryptionContext":{{{}}}}}"#, pairs.join(","));
    assert_eq!(server.kms_call("Encrypt", &body).await.status, 200);
    for reference in
        ["arn:aws:kms:us-east-1:000000000000:key/", "arn:aws:kms:us-east-1:x:alias/a", "alias/", "arn:::::", "é"]
    {
        let r = server.kms_call("DescribeKey", &format!(r#"{{"KeyId":"{reference}"}}"#)).await;
        assert_eq!(r.status, 400, "{reference}");
        assert_eq!(r.json()["__type"], "NotFoundException", "{reference}: {}", r.json());
    }
    let r = server.kms_call("DescribeKey", &format!(r#"{{"KeyId":"{}"}}"#, "a".repeat(2049))).await;
    assert_eq!(r.json()["__type"], "ValidationException");
    // A plaintext that is not base64: the value is not echoed.
    let r = server.kms_call("Encrypt", &format!(r#"{{"KeyId":"{id}","Plaintext":"not*base64*secret"}}"#)).await;
    assert_eq!(r.status, 400);
    assert!(!String::from_utf8_lossy(&r.body).contains("secret"));
}
