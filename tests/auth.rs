//! SigV4 in strict mode, through the real SDKs, and the STS calls clients make first.

mod common;

use common::{ACCOUNT, KEY_ID, SECRET_KEY, TestServer, err_of};

#[tokio::test]
async fn the_right_key_works_in_its_account() {
    let server = TestServer::start_strict().await;
    let sm = server.client_with(KEY_ID, SECRET_KEY, None);
    let arn = sm.create_secret().name("strict").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    assert!(arn.starts_with(&format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:strict-")), "{arn}");
    assert_eq!(sm.get_secret_value().secret_id("strict").send().await.unwrap().secret_string(), Some("x"));
}

#[tokio::test]
async fn a_wrong_secret_key_is_an_invalid_signature() {
    let server = TestServer::start_strict().await;
    let sm = server.client_with(KEY_ID, "not-the-secret", None);
    let (code, msg) = err_of(sm.list_secrets().send().await.unwrap_err());
    assert_eq!(code, "InvalidSignatureException");
    assert!(
        msg.starts_with("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'POST\n/\n"),
        "{msg}"
    );
    assert!(msg.contains("\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n"), "{msg}");
}

#[tokio::test]
async fn an_unknown_key_is_unrecognized() {
    let server = TestServer::start_strict().await;
    let sm = server.client_with("AKIDUNKNOWN000000000", SECRET_KEY, None);
    let (code, msg) = err_of(sm.list_secrets().send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("UnrecognizedClientException", "The security token included in the request is invalid.")
    );
}

#[tokio::test]
async fn unsigned_and_half_signed_requests_are_refused() {
    let server = TestServer::start_strict().await;
    let r = server.call("ListSecrets", "{}").await;
    r.assert_error(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token");
    let r = server
        .raw(
            "POST",
            &[("X-Amz-Target", "secretsmanager.ListSecrets"), ("Authorization", "AWS4-HMAC-SHA256 Credential=x")],
            b"{}",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], "IncompleteSignatureException");
    assert!(r.json().get("message").is_some(), "framework errors carry a lower-case message");
}

#[tokio::test]
async fn a_tampered_body_fails_verification() {
    let server = TestServer::start_strict().await;
    // Sign a request the way the SDK would, then change the body before sending it.
    let (headers, body) =
        signed(&server.addr.to_string(), "ListSecrets", "{}", KEY_ID, SECRET_KEY, std::time::SystemTime::now());
    let tampered = body.replace("{}", "{ }");
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(server.raw("POST", &refs, body.as_bytes()).await.status, 200);
    let r = server.raw("POST", &refs, tampered.as_bytes()).await;
    assert_eq!(r.json()["__type"], "InvalidSignatureException");
}

#[tokio::test]
async fn an_old_signature_has_expired() {
    let server = TestServer::start_strict().await;
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(20 * 60);
    let (headers, body) = signed(&server.addr.to_string(), "ListSecrets", "{}", KEY_ID, SECRET_KEY, old);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = server.raw("POST", &refs, body.as_bytes()).await;
    assert_eq!(r.json()["__type"], "InvalidSignatureException");
    assert!(r.json()["message"].as_str().unwrap().starts_with("Signature expired: "), "{}", r.json());
}

#[tokio::test]
async fn get_caller_identity_in_both_modes() {
    let strict = TestServer::start_strict().await;
    let who = strict.sts_with(KEY_ID, SECRET_KEY, None).get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some(ACCOUNT));
    assert_eq!(who.arn(), Some(format!("arn:aws:iam::{ACCOUNT}:root").as_str()));
    let err = strict.sts_with(KEY_ID, "wrong", None).get_caller_identity().send().await.unwrap_err();
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&err), Some("SignatureDoesNotMatch"));

    let open = TestServer::start().await;
    let who = open.sts_with("123456789012", "anything", None).get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some("123456789012"));
    let who = open.sts_with("AKIAOTHER", "anything", None).get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some("000000000000"));
}

/// A credentials document declaring `arn:aws:iam::444455556666:role/deployer`, trusting [`ACCOUNT`].
fn deployer_role() -> serde_json::Value {
    serde_json::json!({"roles": [{
        "arn": "arn:aws:iam::444455556666:role/deployer",
        "trust_policy": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]
        }
    }]})
}

#[tokio::test]
async fn assumed_role_credentials_act_in_the_role_account() {
    let server = TestServer::start_strict_with_credentials(deployer_role()).await;
    let sts = server.sts_with(KEY_ID, SECRET_KEY, None);
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::444455556666:role/deployer")
        .role_session_name("ci")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(assumed.assumed_role_user().unwrap().arn(), "arn:aws:sts::444455556666:assumed-role/deployer/ci");
    let sm = server.client_with(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));
    let arn = sm.create_secret().name("role").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    assert!(arn.contains(":444455556666:secret:role-"), "{arn}");
    let who = server.sts_with(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));
    let who = who.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some("arn:aws:sts::444455556666:assumed-role/deployer/ci"));
    // Without the session token the temporary key is refused.
    let (code, _) = err_of(
        server
            .client_with(creds.access_key_id(), creds.secret_access_key(), None)
            .list_secrets()
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "UnrecognizedClientException");
}

#[tokio::test]
async fn assume_role_is_refused_unless_declared_and_trusted() {
    let server = TestServer::start_strict_with_credentials(deployer_role()).await;
    let sts = server.sts_with(KEY_ID, SECRET_KEY, None);
    for role in ["arn:aws:iam::444455556666:role/undeclared", "arn:aws:iam::999988887777:role/deployer"] {
        let err = sts.assume_role().role_arn(role).role_session_name("ci").send().await.unwrap_err();
        let meta = aws_sdk_sts::error::ProvideErrorMetadata::meta(&err).clone();
        assert_eq!(meta.code(), Some("AccessDenied"), "{role}");
        assert_eq!(
            meta.message(),
            Some(
                format!(
                    "User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {role}"
                )
                .as_str()
            )
        );
    }
}

#[tokio::test]
async fn roles_from_a_seed_file_can_be_assumed() {
    let server = TestServer::start_strict().await;
    let dir = std::env::temp_dir().join(format!("smemu-seed-roles-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("iam.yaml");
    std::fs::write(
        &seed,
        format!(
            r#"account: "444455556666"
iam:
  RoleDetailList:
    - RoleName: reader
      Path: /apps/
      RoleId: AROASEEDEDREADER0001
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ AWS: "{ACCOUNT}" }}
            Action: sts:AssumeRole
"#
        ),
    )
    .unwrap();
    let loaded = smemu::seed::load(&server.app, &seed);
    std::fs::remove_dir_all(&dir).unwrap();
    loaded.unwrap();
    let assumed = server
        .sts_with(KEY_ID, SECRET_KEY, None)
        .assume_role()
        .role_arn("arn:aws:iam::444455556666:role/apps/reader")
        .role_session_name("job")
        .send()
        .await
        .unwrap();
    let user = assumed.assumed_role_user().unwrap();
    assert_eq!(user.arn(), "arn:aws:sts::444455556666:assumed-role/reader/job");
    assert_eq!(user.assumed_role_id(), "AROASEEDEDREADER0001:job");
    let creds = assumed.credentials().unwrap();
    let who = server.sts_with(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));
    let who = who.get_caller_identity().send().await.unwrap();
    assert_eq!(who.user_id(), Some("AROASEEDEDREADER0001:job"));
    assert_eq!(who.account(), Some("444455556666"));
}

/// Signs a Secrets Manager request with the `aws-sigv4` crate, as the SDKs do.
fn signed(
    host: &str,
    op: &str,
    body: &str,
    key: &str,
    secret: &str,
    at: std::time::SystemTime,
) -> (Vec<(String, String)>, String) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "tests").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("secretsmanager")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let target = format!("secretsmanager.{op}");
    let headers = [("host", host), ("x-amz-target", target.as_str()), ("content-type", "application/x-amz-json-1.1")];
    let request = SignableRequest::new(
        "POST",
        format!("http://{host}/"),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut all: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    all.retain(|(k, _)| k != "host");
    for (k, v) in instructions.headers() {
        all.push((k.to_owned(), v.to_owned()));
    }
    (all, body.to_owned())
}
