//! SigV4 gaps and AssumeRole: what strict mode must refuse.
//!
//! Requests are signed with the `aws-sigv4` crate (as the SDKs sign) or with
//! smemu's own SigV4 functions when a request needs what no signer produces,
//! then altered the way an attacker holding a signed request would.

use crate::common::{ACCOUNT, KEY_ID, Raw, SECRET_KEY, TestServer};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use std::time::{Duration, SystemTime};

const JSON: (&str, &str) = ("content-type", "application/x-amz-json-1.1");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
const ROLE_ACCOUNT: &str = "444455556666";
const DEPLOYER: &str = "arn:aws:iam::444455556666:role/deployer";

/// How a request is signed.
#[derive(Clone, Copy)]
struct How<'a> {
    service: &'a str,
    region: &'a str,
    /// Sign for `UNSIGNED-PAYLOAD` and say so in `x-amz-content-sha256`.
    unsigned_payload: bool,
    presign: bool,
    key: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
}

const SM: How<'static> = How {
    service: "secretsmanager",
    region: "us-east-1",
    unsigned_payload: false,
    presign: false,
    key: KEY_ID,
    secret: SECRET_KEY,
    token: None,
};
const STS: How<'static> = How { service: "sts", ..SM };

/// A signed request: the request target (path and query) and its headers, `host` included.
#[derive(Clone)]
struct Signed {
    target: String,
    headers: Vec<(String, String)>,
}

impl Signed {
    fn new(server: &TestServer, how: How<'_>, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let host = server.addr.to_string();
        let identity =
            aws_credential_types::Credentials::new(how.key, how.secret, how.token.map(str::to_owned), None, "hostile")
                .into();
        let mut settings = SigningSettings::default();
        if how.unsigned_payload {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        if how.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(how.region)
            .name(how.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let mut all: Vec<(String, String)> = vec![("host".into(), host.clone())];
        all.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let body = if how.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
        let url = format!("http://{host}{target}");
        let request =
            SignableRequest::new("POST", url.clone(), all.iter().map(|(k, v)| (k.as_str(), v.as_str())), body).unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        for (k, v) in instructions.headers() {
            all.push((k.to_owned(), v.to_owned()));
        }
        let mut target = target.to_owned();
        for (i, (k, v)) in instructions.params().iter().enumerate() {
            let sep = if i == 0 && !target.contains('?') { '?' } else { '&' };
            target.push_str(&format!("{sep}{k}={}", smemu::auth::sigv4::uri_encode(v.as_bytes(), false)));
        }
        let signed = Self { target, headers: all };
        if how.presign && how.unsigned_payload {
            // What S3-style presigning declares; these services must not believe it.
            return signed.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        }
        signed
    }

    fn set(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    async fn send(&self, server: &TestServer, body: &[u8]) -> Raw {
        let mut head =
            format!("POST {} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", self.target, body.len());
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        server.raw_bytes(&bytes).await
    }
}

fn target(op: &str) -> (&'static str, String) {
    ("x-amz-target", format!("secretsmanager.{op}"))
}

async fn create_secret(server: &TestServer, name: &str) {
    let sm = server.client_with(KEY_ID, SECRET_KEY, None);
    sm.create_secret().name(name).secret_string("s3cr3t").send().await.unwrap();
}

async fn secret_names(server: &TestServer) -> Vec<String> {
    let sm = server.client_with(KEY_ID, SECRET_KEY, None);
    let listed = sm.list_secrets().send().await.unwrap();
    listed.secret_list().iter().filter_map(|s| s.name().map(str::to_owned)).collect()
}

fn xml_element(raw: &Raw, name: &str) -> String {
    let body = String::from_utf8_lossy(&raw.body);
    let open = format!("<{name}>");
    let start = body.find(&open).unwrap_or_else(|| panic!("no <{name}> in {body}")) + open.len();
    let end = start + body[start..].find(&format!("</{name}>")).unwrap();
    body[start..end].to_owned()
}

#[tokio::test]
async fn unsigned_payload_is_refused_by_secrets_manager() {
    let server = TestServer::start_strict().await;
    let (t, op) = target("ListSecrets");
    let how = How { unsigned_payload: true, ..SM };
    let r = Signed::new(&server, how, "/", &[JSON, (t, &op)], b"{}").send(&server, b"{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], "InvalidSignatureException");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("The request signature we calculated does not match"), "{message}");
    // The canonical request smemu expected ends with the body's hash, not UNSIGNED-PAYLOAD.
    let expected = format!("\n{}'\n\nThe String-to-Sign", smemu::auth::sigv4::sha256_hex(b"{}"));
    assert!(message.contains(&expected), "{message}");
}

#[tokio::test]
async fn unsigned_payload_is_refused_by_sts() {
    let server = TestServer::start_strict().await;
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let how = How { unsigned_payload: true, ..STS };
    let r = Signed::new(&server, how, "/", &[FORM], body).send(&server, body).await;
    assert_eq!(r.status, 403);
    assert_eq!(xml_element(&r, "Code"), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn a_body_swapped_after_signing_is_refused() {
    let server = TestServer::start_strict().await;
    let (t, op) = target("CreateSecret");
    // Signed for one secret, sent with another: the signature covers no body.
    let signed_body = br#"{"Name":"harmless","SecretString":"x"}"#;
    let swapped = br#"{"Name":"planted","SecretString":"attacker"}"#;
    let how = How { unsigned_payload: true, ..SM };
    let r = Signed::new(&server, how, "/", &[JSON, (t, &op)], signed_body).send(&server, swapped).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("InvalidSignatureException")));
    // A presigned POST declaring UNSIGNED-PAYLOAD is no way around it.
    let how = How { unsigned_payload: true, presign: true, ..SM };
    let r = Signed::new(&server, how, "/", &[JSON, (t, &op)], signed_body).send(&server, swapped).await;
    assert_eq!((r.status, r.json()["__type"].as_str()), (400, Some("InvalidSignatureException")));
    assert!(secret_names(&server).await.is_empty());
}

#[tokio::test]
async fn an_unsigned_target_is_refused_and_cannot_be_replayed_as_another_operation() {
    let server = TestServer::start_strict().await;
    create_secret(&server, "db/password").await;
    let body = br#"{"SecretId":"db/password"}"#;
    // Signed without x-amz-target: the operation is not covered by the signature.
    let signed = Signed::new(&server, SM, "/", &[JSON], body);
    let message = "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.";
    for op in ["GetSecretValue", "DeleteSecret"] {
        let request = signed.clone().set("x-amz-target", &format!("secretsmanager.{op}"));
        request.send(&server, body).await.assert_error(400, "IncompleteSignatureException", message);
    }
    assert_eq!(secret_names(&server).await, ["db/password"]);
    let sm = server.client_with(KEY_ID, SECRET_KEY, None);
    let described = sm.describe_secret().secret_id("db/password").send().await.unwrap();
    assert!(described.deleted_date().is_none(), "the replay deleted the secret");
}

#[tokio::test]
async fn an_unsigned_date_is_refused() {
    use smemu::auth::sigv4;
    let server = TestServer::start_strict().await;
    let host = server.addr.to_string();
    let now = sigv4::unix_seconds(SystemTime::now());
    let amz_date = sigv4::format_amz_date(now);
    let day = &amz_date[..8];
    let body = b"{}";
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    headers.insert("x-amz-target", "secretsmanager.ListSecrets".parse().unwrap());
    // Signed over host and target only: the date could be moved at will.
    let names = vec!["host".to_owned(), "x-amz-target".to_owned()];
    let uri: http::Uri = "/".parse().unwrap();
    let canonical =
        sigv4::canonical_request(&http::Method::POST, &uri, &headers, &names, &sigv4::sha256_hex(body), false);
    let scope = format!("{day}/us-east-1/secretsmanager/aws4_request");
    let to_sign = sigv4::string_to_sign(&amz_date, &scope, &canonical);
    let signature = sigv4::sign(&sigv4::signing_key(SECRET_KEY, day, "us-east-1", "secretsmanager"), &to_sign);
    let authorization =
        format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders=host;x-amz-target, Signature={signature}");
    let r = server
        .raw(
            "POST",
            &[
                ("X-Amz-Target", "secretsmanager.ListSecrets"),
                ("X-Amz-Date", &amz_date),
                ("Authorization", &authorization),
            ],
            body,
        )
        .await;
    r.assert_error(
        400,
        "IncompleteSignatureException",
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[tokio::test]
async fn a_credential_scoped_to_sts_is_refused_by_secrets_manager() {
    let server = TestServer::start_strict().await;
    let (t, op) = target("ListSecrets");
    let r = Signed::new(&server, STS, "/", &[JSON, (t, &op)], b"{}").send(&server, b"{}").await;
    r.assert_error(
        400,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'secretsmanager'. ",
    );
}

#[tokio::test]
async fn a_region_aws_does_not_have_is_refused() {
    let server = TestServer::start_strict().await;
    let (t, op) = target("ListSecrets");
    for region in ["us-east-1a", "local"] {
        let how = How { region, ..SM };
        let r = Signed::new(&server, how, "/", &[JSON, (t, &op)], b"{}").send(&server, b"{}").await;
        r.assert_error(
            400,
            "InvalidSignatureException",
            &format!("Credential should be scoped to a valid region, not '{region}'. "),
        );
    }
}

/// Roles for the AssumeRole tests: `deployer` trusts [`ACCOUNT`]; `locked`
/// trusts only a user that is not the caller. A key of the roles' own account
/// comes along, to show that being there is not enough.
fn roles() -> serde_json::Value {
    let trust = |principal: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
        ]})
    };
    serde_json::json!({
        "credentials": [{"access_key_id": "AKIDROLEACCOUNTROOT1", "secret_access_key": SECRET_KEY, "account_id": ROLE_ACCOUNT}],
        "roles": [
            {"arn": DEPLOYER, "trust_policy": trust(ACCOUNT)},
            {"arn": "arn:aws:iam::444455556666:role/locked", "trust_policy": trust(&format!("arn:aws:iam::{ACCOUNT}:user/someone-else"))},
        ]
    })
}

async fn assume_role(server: &TestServer, how: How<'_>, role_arn: &str) -> Raw {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=attacker",
        smemu::auth::sigv4::uri_encode(role_arn.as_bytes(), false)
    );
    Signed::new(server, how, "/", &[FORM], body.as_bytes()).send(server, body.as_bytes()).await
}

fn assert_access_denied(r: &Raw, caller: &str, role_arn: &str) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("text/xml"));
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"), "{body}");
    assert_eq!(xml_element(r, "Type"), "Sender");
    assert_eq!(xml_element(r, "Code"), "AccessDenied");
    assert_eq!(
        xml_element(r, "Message"),
        format!("User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    );
}

#[tokio::test]
async fn assume_role_into_an_undeclared_role_is_denied() {
    let server = TestServer::start_strict_with_credentials(roles()).await;
    let caller = format!("arn:aws:iam::{ACCOUNT}:root");
    for role in ["arn:aws:iam::999988887777:role/anything", "arn:aws:iam::444455556666:role/Deployer"] {
        assert_access_denied(&assume_role(&server, STS, role).await, &caller, role);
    }
}

#[tokio::test]
async fn assume_role_without_the_roles_trust_is_denied() {
    let server = TestServer::start_strict_with_credentials(roles()).await;
    let locked = "arn:aws:iam::444455556666:role/locked";
    assert_access_denied(&assume_role(&server, STS, locked).await, &format!("arn:aws:iam::{ACCOUNT}:root"), locked);
    // The root of the role's own account gets no more than trust says.
    let own_root = How { key: "AKIDROLEACCOUNTROOT1", ..STS };
    let caller = format!("arn:aws:iam::{ROLE_ACCOUNT}:root");
    assert_access_denied(&assume_role(&server, own_root, DEPLOYER).await, &caller, DEPLOYER);
}

#[tokio::test]
async fn a_trusted_caller_assumes_the_role_and_acts_in_its_account_but_no_further() {
    let server = TestServer::start_strict_with_credentials(roles()).await;
    let assumed = server
        .sts_with(KEY_ID, SECRET_KEY, None)
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("ci")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let (key, secret, token) = (creds.access_key_id(), creds.secret_access_key(), creds.session_token());
    let sm = server.client_with(key, secret, Some(token));
    let arn = sm.create_secret().name("from-role").secret_string("x").send().await.unwrap().arn().unwrap().to_owned();
    assert!(arn.starts_with(&format!("arn:aws:secretsmanager:us-east-1:{ROLE_ACCOUNT}:secret:from-role-")), "{arn}");
    let who = server.sts_with(key, secret, Some(token)).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some("arn:aws:sts::444455556666:assumed-role/deployer/ci"));
    assert_eq!(who.account(), Some(ROLE_ACCOUNT));

    // The session is trusted by nothing: it cannot hop on to another role.
    let session = How { key, secret, token: Some(token), ..STS };
    let locked = "arn:aws:iam::444455556666:role/locked";
    let r = assume_role(&server, session, locked).await;
    assert_access_denied(&r, "arn:aws:sts::444455556666:assumed-role/deployer/ci", locked);
}

// -- authorization (--authorize enforce) ------------------------------------------------------

mod authorization {
    use crate::common::TestServer;
    use serde_json::json;
    use smemu::config::Config;
    use smemu::iam::AuthorizeMode;

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const READER: &str = "AKIAAREADER000000001";

    /// A server enforcing authorization, with a user `reader` of A allowed `prod/db` only.
    async fn server(config: Config) -> TestServer {
        let server = TestServer::start_with(Config { authorize: AuthorizeMode::Enforce, ..config }).await;
        let policy = json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
            "Resource": format!("arn:aws:secretsmanager:us-east-1:{A}:secret:prod/db-??????")}]});
        let iam = json!({"UserDetailList": [{"UserName": "reader", "Account": A,
            "UserPolicyList": [{"PolicyName": "db", "PolicyDocument": policy}],
            "AccessKeys": [{"AccessKeyId": READER, "SecretAccessKey": "x"}]}]});
        server.app.auth.credentials().load_document("test", &json!({ "iam": iam })).unwrap();
        let owner = server.client_as(A, "us-east-1");
        owner.create_secret().name("prod/db").secret_string("db").send().await.unwrap();
        owner.create_secret().name("prod/api").secret_string("api").send().await.unwrap();
        server
    }

    fn as_key(key: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
        )
    }

    async fn call_as(server: &TestServer, key: &str, op: &str, body: &str) -> crate::common::Raw {
        let target = format!("secretsmanager.{op}");
        let auth = as_key(key);
        let headers = [
            ("X-Amz-Target", target.as_str()),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Authorization", auth.as_str()),
        ];
        server.raw("POST", &headers, body.as_bytes()).await
    }

    #[tokio::test]
    async fn a_duplicated_secret_id_is_authorised_as_the_handler_reads_it() {
        let server = server(Config::default()).await;
        // JSON parsers disagree on duplicate members; the check and the handler must not.
        let answer =
            call_as(&server, READER, "GetSecretValue", r#"{"SecretId":"prod/db","SecretId":"prod/api"}"#).await;
        assert_eq!(answer.status, 400);
        let body = answer.json();
        assert_eq!(body["__type"], "AccessDeniedException", "{body}");
        assert!(body["Message"].as_str().unwrap().contains("on resource: prod/api"), "{body}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("\"api\""));
    }

    #[tokio::test]
    async fn another_accounts_arn_does_not_tell_whether_the_secret_exists() {
        let server = server(Config::default()).await;
        for name in ["prod/db-AAAAAA", "never-there-AAAAAA"] {
            let arn = format!("arn:aws:secretsmanager:us-east-1:{A}:secret:{name}");
            let answer = call_as(&server, B, "GetSecretValue", &json!({"SecretId": arn}).to_string()).await;
            assert_eq!(answer.json()["__type"], "AccessDeniedException", "{name}");
        }
    }

    #[tokio::test]
    async fn an_arn_with_a_malformed_account_is_looked_up_in_the_callers_own_account() {
        let server = server(Config::default()).await;
        for account in ["../111111111111", "11111111111", "1111111111111", ""] {
            let arn = format!("arn:aws:secretsmanager:us-east-1:{account}:secret:prod/db-AAAAAA");
            let answer = call_as(&server, A, "GetSecretValue", &json!({"SecretId": arn}).to_string()).await;
            assert_eq!(answer.json()["__type"], "ResourceNotFoundException", "{account:?}");
        }
    }

    #[tokio::test]
    async fn a_secret_id_of_the_wrong_type_is_no_way_around_the_resource() {
        let server = server(Config::default()).await;
        for body in [r#"{"SecretId":["prod/api"]}"#, r#"{"SecretId":{"a":"prod/api"}}"#, r#"{"SecretId":7}"#] {
            let answer = call_as(&server, READER, "GetSecretValue", body).await;
            assert_eq!(answer.status, 400, "{body}");
            assert!(!String::from_utf8_lossy(&answer.body).contains("\"api\""), "{body}");
        }
    }

    /// Only the connection's peer is the source: a forwarding header naming an address outside
    /// the allowed range changes nothing (loopback here, which the policy admits).
    #[tokio::test]
    async fn forwarding_headers_do_not_move_the_source_ip() {
        let server = server(Config::default()).await;
        let only_from_loopback = json!({"Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}}]});
        let iam = json!({"UserDetailList": [{"UserName": "office", "Account": A,
            "UserPolicyList": [{"PolicyName": "office", "PolicyDocument": only_from_loopback}],
            "AccessKeys": [{"AccessKeyId": "AKIAAOFFICE000000001", "SecretAccessKey": "x"}]}]});
        server.app.auth.credentials().load_document("office", &json!({ "iam": iam })).unwrap();
        let auth = as_key("AKIAAOFFICE000000001");
        for (name, value) in
            [("X-Forwarded-For", "10.1.2.3"), ("X-Real-IP", "10.1.2.3"), ("Forwarded", "for=10.1.2.3"), ("Via", "x")]
        {
            let headers = [
                ("X-Amz-Target", "secretsmanager.GetSecretValue"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", auth.as_str()),
                (name, value),
            ];
            let answer = server.raw("POST", &headers, br#"{"SecretId":"prod/db"}"#).await;
            assert_eq!(answer.status, 200, "{name}: {}", String::from_utf8_lossy(&answer.body));
            assert_eq!(answer.json()["SecretString"], "db", "{name}");
        }
    }

    #[tokio::test]
    async fn without_enforcement_no_form_of_another_accounts_arn_reads_its_secret() {
        let server = TestServer::start().await;
        let owner = server.client_as(A, "us-east-1");
        let arn =
            owner.create_secret().name("prod/db").secret_string("db").send().await.unwrap().arn().unwrap().to_string();
        let partial = format!("arn:aws:secretsmanager:us-east-1:{A}:secret:prod/db");
        for id in [arn.as_str(), partial.as_str()] {
            for op in ["GetSecretValue", "DescribeSecret", "GetResourcePolicy", "ListSecretVersionIds"] {
                let answer = call_as(&server, B, op, &json!({"SecretId": id}).to_string()).await;
                assert_eq!(answer.json()["__type"], "AccessDeniedException", "{op} {id}");
            }
            let put = json!({"SecretId": id, "SecretString": "mine", "ClientRequestToken": "a".repeat(32)});
            let answer = call_as(&server, B, "PutSecretValue", &put.to_string()).await;
            assert_eq!(answer.json()["__type"], "AccessDeniedException", "{id}");
            let batch = call_as(&server, B, "BatchGetSecretValue", &json!({"SecretIdList": [id]}).to_string()).await;
            assert!(!String::from_utf8_lossy(&batch.body).contains("\"db\""), "{id}");
        }
        assert_eq!(owner.get_secret_value().secret_id("prod/db").send().await.unwrap().secret_string(), Some("db"));
    }

    #[tokio::test]
    async fn the_explain_endpoint_is_behind_the_control_token() {
        let token = smemu::guard::ControlToken::new("t0ken").unwrap();
        let server = server(Config { control_token: Some(token), ..Config::default() }).await;
        let question =
            json!({"caller": A, "action": "secretsmanager:GetSecretValue", "resource": "prod/db"}).to_string();
        let refused = server.control("POST", "/_smemu/authorize", &question).await;
        assert_eq!(refused.status, 403);
        let oversized = format!("{{\"caller\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
        let answer = server
            .request(
                "POST",
                "/_smemu/authorize",
                &[("Content-Type", "application/json"), ("X-Smemu-Control-Token", "t0ken")],
                &oversized,
            )
            .await;
        assert_eq!(answer.status, 413);
    }
}
