//! SigV4: the `Authorization` header and presigned-query parsers, canonicalisation, and the
//! strict and open authenticators on whole requests.
//!
//! An input is a request as text: the method on the first line, the path and query on the
//! second, then `name: value` header lines up to an empty line, then the body.
//!
//! Checked besides "no panic": the same request, signed with the one known credential over
//! every header it carries, is accepted in strict mode.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use smemu::auth::credentials::CredentialStore;
use smemu::auth::sigv4;
use smemu::auth::{AuthMode, Authenticator};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY_ID: &str = "AKIDFUZZEXAMPLE00001";
const SECRET: &str = "fuzz/secret/access/key";
/// 2026-01-01T00:05:00Z: five minutes after the dates the seed inputs carry.
const NOW_SECS: u64 = 1_767_225_900;

struct Parsed<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

fn parse(data: &[u8]) -> Option<Parsed<'_>> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split('\n');
    let method = lines.next()?;
    let target = lines.next().unwrap_or("/");
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n, v.strip_prefix(' ').unwrap_or(v))).collect();
    Some(Parsed { method, target, headers, body })
}

fn authenticators() -> &'static (Authenticator, Authenticator) {
    static AUTH: OnceLock<(Authenticator, Authenticator)> = OnceLock::new();
    AUTH.get_or_init(|| {
        let make = |mode| {
            let store = CredentialStore::new();
            store.add_static(KEY_ID, SECRET, "111122223333", None, None).expect("a valid static credential");
            Authenticator::new(mode, "000000000000".into(), "us-east-1".into(), store)
        };
        (make(AuthMode::Strict), make(AuthMode::Open))
    })
}

/// The pure helpers, on the raw text (whatever http would accept).
fn pieces(p: &Parsed<'_>) {
    let (path, query) = p.target.split_once('?').unwrap_or((p.target, ""));
    let _ = sigv4::normalise_path(path);
    let _ = sigv4::canonical_uri(path);
    for skip in [false, true] {
        let _ = sigv4::canonical_query_string(query, skip);
        let _ = sigv4::parse_query_pairs(query, skip);
    }
    for (name, value) in &p.headers {
        let _ = sigv4::canonical_header_value(value);
        if name.eq_ignore_ascii_case("authorization") {
            let parsed = sigv4::parse_authorization_header(value);
            if let Some(credential) = parsed.credential
                && let Ok(scope) = sigv4::CredentialScope::parse(&credential)
            {
                let _ = scope.scope();
            }
        }
        if let Some(secs) = sigv4::parse_amz_date(value) {
            assert_eq!(sigv4::parse_amz_date(&sigv4::format_amz_date(secs)), Some(secs), "{value}");
        }
        if let Some(secs) = sigv4::parse_http_date(value) {
            let _ = sigv4::format_amz_date(secs);
            let _ = sigv4::format_iso8601(secs);
        }
        let _ = sigv4::hex_decode(value);
    }
}

fn request(p: &Parsed<'_>) -> Option<(Method, Uri, HeaderMap)> {
    let method = Method::from_bytes(p.method.as_bytes()).ok()?;
    let uri: Uri = p.target.parse().ok()?;
    let mut headers = HeaderMap::new();
    for (name, value) in &p.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
        headers.append(name, value);
    }
    Some((method, uri, headers))
}

/// Signs the request over all its headers, as an SDK would, with smemu's own primitives.
fn sign(method: &Method, uri: &Uri, headers: &mut HeaderMap, body: &[u8], now: SystemTime) {
    headers.remove(http::header::AUTHORIZATION);
    headers.remove("x-amz-security-token");
    let amz_date = sigv4::format_amz_date(sigv4::unix_seconds(now));
    headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).expect("an ASCII date"));
    if !headers.contains_key(http::header::HOST) {
        headers.insert(http::header::HOST, HeaderValue::from_static("localhost:4566"));
    }
    let mut names: Vec<String> = headers.keys().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    // Strict mode verifies the body's own hash (never UNSIGNED-PAYLOAD), as an SDK sends it.
    let payload = sigv4::sha256_hex(body);
    if headers.contains_key("x-amz-content-sha256") {
        headers.insert("x-amz-content-sha256", HeaderValue::from_str(&payload).expect("hex"));
    }
    let canonical = sigv4::canonical_request(method, uri, headers, &names, &payload, false);
    let scope = format!("{}/us-east-1/secretsmanager/aws4_request", &amz_date[..8]);
    let to_sign = sigv4::string_to_sign(&amz_date, &scope, &canonical);
    let key = sigv4::signing_key(SECRET, &amz_date[..8], "us-east-1", "secretsmanager");
    let signature = sigv4::sign(&key, &to_sign);
    let value = format!(
        "{} Credential={KEY_ID}/{scope}, SignedHeaders={}, Signature={signature}",
        sigv4::ALGORITHM,
        names.join(";")
    );
    headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&value).expect("an ASCII header"));
}

fuzz_target!(|data: &[u8]| {
    let Some(parsed) = parse(data) else { return };
    pieces(&parsed);
    let Some((method, uri, mut headers)) = request(&parsed) else { return };
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let (strict, open) = authenticators();
    if let Ok(Some(signed)) = sigv4::extract(&headers, &uri) {
        let _ = sigv4::canonical_request(&method, &uri, &headers, &signed.signed_headers, "UNSIGNED-PAYLOAD", true);
    }
    let _ = sigv4::peek_credential_scope(&headers, &uri);
    let _ = strict.authenticate(smemu::auth::SECRETS_MANAGER, &method, &uri, &headers, parsed.body, now);
    let _ = open.authenticate(smemu::auth::SECRETS_MANAGER, &method, &uri, &headers, parsed.body, now);

    sign(&method, &uri, &mut headers, parsed.body, now);
    if let Err(e) = strict.authenticate(smemu::auth::SECRETS_MANAGER, &method, &uri, &headers, parsed.body, now) {
        panic!("a request signed over all its headers is refused: {}: {}", e.code, e.message);
    }
});
