//! Resource policies: stored, validated, BlockPublicPolicy.

mod common;

use common::{TestServer, err_of};

const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

#[tokio::test]
async fn put_get_delete_round_trip() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("x").send().await.unwrap();
    let got = sm.get_resource_policy().secret_id("p").send().await.unwrap();
    assert!(got.resource_policy().is_none());
    // ListResourcePolicies is newer than the Rust SDK: raw JSON.
    let listed = server.call("ListResourcePolicies", r#"{"SecretId":"p"}"#).await.json();
    assert_eq!(listed, serde_json::json!({"ResourcePolicies": []}));
    let put = sm.put_resource_policy().secret_id("p").resource_policy(PRIVATE).send().await.unwrap();
    assert_eq!(put.name(), Some("p"));
    let got = sm.get_resource_policy().secret_id("p").send().await.unwrap();
    assert_eq!(got.resource_policy(), Some(PRIVATE), "stored exactly as given");
    let listed = server.call("ListResourcePolicies", r#"{"SecretId":"p"}"#).await.json();
    assert_eq!(listed, serde_json::json!({"ResourcePolicies": [{"PolicyName": "default"}]}));
    // Public access is allowed unless BlockPublicPolicy asks otherwise.
    sm.put_resource_policy().secret_id("p").resource_policy(PUBLIC).send().await.unwrap();
    let (code, _) = err_of(
        sm.put_resource_policy()
            .secret_id("p")
            .resource_policy(PUBLIC)
            .block_public_policy(true)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "PublicPolicyException");
    sm.delete_resource_policy().secret_id("p").send().await.unwrap();
    assert!(sm.get_resource_policy().secret_id("p").send().await.unwrap().resource_policy().is_none());
    sm.delete_resource_policy().secret_id("p").send().await.unwrap();
}

#[tokio::test]
async fn policy_errors() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("x").send().await.unwrap();
    let (code, _) =
        err_of(sm.put_resource_policy().secret_id("p").resource_policy("{not json").send().await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocumentException");
    let body = serde_json::json!({"SecretId": "p", "ResourcePolicy": PRIVATE, "PolicyName": "other"}).to_string();
    assert_eq!(server.call("PutResourcePolicy", &body).await.json()["__type"], "InvalidParameterException");
    let (code, _) = err_of(sm.get_resource_policy().secret_id("missing").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException");
    sm.delete_secret().secret_id("p").send().await.unwrap();
    let (code, msg) =
        err_of(sm.put_resource_policy().secret_id("p").resource_policy(PRIVATE).send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion."
        )
    );
    assert!(sm.get_resource_policy().secret_id("p").send().await.is_ok(), "reading works while deletion is pending");
}

#[tokio::test]
async fn validate_reports_broad_access() {
    let server = TestServer::start().await;
    let sm = server.client();
    let ok = sm.validate_resource_policy().resource_policy(PRIVATE).send().await.unwrap();
    assert!(ok.policy_validation_passed());
    assert!(ok.validation_errors().is_empty());
    let raw =
        server.call("ValidateResourcePolicy", &serde_json::json!({"ResourcePolicy": PRIVATE}).to_string()).await.json();
    assert_eq!(raw, serde_json::json!({"PolicyValidationPassed": true, "ValidationErrors": []}));
    let public = sm.validate_resource_policy().resource_policy(PUBLIC).send().await.unwrap();
    assert!(!public.policy_validation_passed());
    assert_eq!(public.validation_errors().len(), 1);
    let (code, _) = err_of(sm.validate_resource_policy().resource_policy("[]").send().await.unwrap_err());
    assert_eq!(code, "MalformedPolicyDocumentException");
    let (code, _) =
        err_of(sm.validate_resource_policy().secret_id("bad name").resource_policy(PRIVATE).send().await.unwrap_err());
    assert_eq!(code, "ValidationException");
}

/// "Public" is a wildcard principal not pinned to accounts, organisations or sources: a
/// condition on something else (TLS) does not make it private, one on the organisation does.
#[tokio::test]
async fn block_public_policy_sees_through_conditions_that_do_not_restrict_who() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("x").send().await.unwrap();
    let with = |condition: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{condition}}}]}}"#
        )
    };
    for loose in [
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-abc"}}"#,
        r#"{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
    ] {
        let put = sm.put_resource_policy().secret_id("p").resource_policy(with(loose)).block_public_policy(true);
        let (code, _) = err_of(put.send().await.unwrap_err());
        assert_eq!(code, "PublicPolicyException", "{loose}");
        let report = sm.validate_resource_policy().resource_policy(with(loose)).send().await.unwrap();
        assert!(!report.policy_validation_passed(), "{loose}");
        assert_eq!(report.validation_errors()[0].check_name(), Some("BROAD_ACCESS_CHECK"));
    }
    let org = with(r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}"#);
    sm.put_resource_policy().secret_id("p").resource_policy(&org).block_public_policy(true).send().await.unwrap();
    assert!(sm.validate_resource_policy().resource_policy(&org).send().await.unwrap().policy_validation_passed());
}

/// A policy IAM would refuse is refused here too, not stored to fail later.
#[tokio::test]
async fn policies_iam_refuses_are_malformed() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("p").secret_string("x").send().await.unwrap();
    for (bad, message) in [
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringSortOf":{"a":"b"}}}]}"#,
            "This resource policy contains a syntax error.",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Colour":"red"}]}"#,
            "This resource policy contains a syntax error.",
        ),
        (
            r#"{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}"#,
            "This resource policy contains a syntax error.",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Group":"x"},"Action":"*"}]}"#,
            "This resource policy contains an unsupported principal.",
        ),
    ] {
        let (code, got) =
            err_of(sm.put_resource_policy().secret_id("p").resource_policy(bad).send().await.unwrap_err());
        assert_eq!((code.as_str(), got.as_str()), ("MalformedPolicyDocumentException", message), "{bad}");
        let (code, _) = err_of(sm.validate_resource_policy().resource_policy(bad).send().await.unwrap_err());
        assert_eq!(code, "MalformedPolicyDocumentException", "{bad}");
    }
    assert!(sm.get_resource_policy().secret_id("p").send().await.unwrap().resource_policy().is_none());
}
