//! AWS Signature Version 4: parsing, canonicalisation and verification.
//!
//! Everything here is a pure function of its inputs. The policy (which
//! credentials exist, which errors to return, clock checks) lives in
//! `auth/mod.rs`; this module only knows how SigV4 is spelled.
//!
//! Rules followed (AWS "Create a signed AWS API request", non-S3 services):
//! * canonical URI: the path as received (already percent-encoded once by the
//!   client), normalised (empty and `.` segments dropped, `..` resolved) and
//!   percent-encoded once more, `/` kept — the "double encoding" every service
//!   except S3 expects;
//! * canonical query: every parameter percent-decoded then re-encoded with only
//!   the unreserved set left bare, sorted by name then value; a presigned
//!   request leaves out `X-Amz-Signature`;
//! * canonical headers: the signed header names, lower-cased and sorted, each
//!   with its values trimmed, runs of spaces folded to one, and repeated headers
//!   joined with `,`;
//! * payload: hex SHA-256 of the body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::Timestamp;
use http::{HeaderMap, Method, Uri};
use ring::{digest, hmac};

/// The only algorithm smemu verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";
/// Longest validity a presigned URL may ask for (`X-Amz-Expires`), in seconds.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;
/// Hex SHA-256 of the empty string.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX_LOWER[(b >> 4) as usize] as char);
        out.push(HEX_LOWER[(b & 0x0f) as usize] as char);
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case); `None` on odd length or a non-hex character.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some((hex_value(pair[0])? << 4) | hex_value(pair[1])?)).collect()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// SigV4 URI encoding: unreserved characters stay, every other byte becomes
/// `%XX` (upper-case hex). `/` stays too when `keep_slash` is set.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 0x0f) as usize] as char);
        }
    }
    out
}

/// Percent-decoding. A `%` not followed by two hex digits is kept as is.
/// With `plus_as_space`, `+` decodes to a space (HTML form encoding).
pub fn percent_decode(input: &str, plus_as_space: bool) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push((hi << 4) | lo);
            i += 3;
            continue;
        }
        out.push(if plus_as_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

/// Splits a raw query string (or form body) into percent-decoded pairs, in
/// order. A parameter without `=` has an empty value; empty pieces are skipped.
pub fn parse_query_pairs(raw: &str, plus_as_space: bool) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (
                String::from_utf8_lossy(&percent_decode(k, plus_as_space)).into_owned(),
                String::from_utf8_lossy(&percent_decode(v, plus_as_space)).into_owned(),
            )
        })
        .collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_encode(digest::digest(&digest::SHA256, data).as_ref())
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// The `SystemTime` of a Unix timestamp in seconds.
pub fn system_time_from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// ISO-8601 basic format as SigV4 uses it: `20150830T123600Z`.
pub fn format_amz_date(secs: i64) -> String {
    Timestamp::from_secs(secs).to_iso8601_basic()
}

/// ISO-8601 extended format, UTC, whole seconds: `2015-08-30T12:36:00Z`.
pub fn format_iso8601(secs: i64) -> String {
    Timestamp::from_secs(secs).to_iso8601_seconds()
}

/// Parses `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    Timestamp::parse_iso8601_basic(text).map(Timestamp::secs)
}

/// Parses an HTTP `Date` (`Sun, 30 Aug 2015 12:36:00 GMT`, or the two obsolete forms).
pub fn parse_http_date(text: &str) -> Option<i64> {
    Timestamp::parse_http_date(text).map(Timestamp::secs)
}

// ---------------------------------------------------------------------------
// Credential scope
// ---------------------------------------------------------------------------

/// `AKID/20150830/us-east-1/service/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminator: String,
}

impl CredentialScope {
    /// Splits a `Credential` value. The error is the text of AWS's
    /// IncompleteSignatureException for a malformed credential.
    pub fn parse(credential: &str) -> Result<Self, String> {
        let parts: Vec<&str> = credential.split('/').collect();
        if parts.len() != 5 {
            return Err(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
            ));
        }
        Ok(Self {
            access_key_id: parts[0].to_string(),
            date: parts[1].to_string(),
            region: parts[2].to_string(),
            service: parts[3].to_string(),
            terminator: parts[4].to_string(),
        })
    }

    /// The scope as it appears in the string to sign: `date/region/service/terminator`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.region, self.service, self.terminator)
    }
}

// ---------------------------------------------------------------------------
// Finding the signature in a request
// ---------------------------------------------------------------------------

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
    Header,
    /// Presigned URL: `X-Amz-Algorithm=…&X-Amz-Credential=…&…&X-Amz-Signature=…`
    QueryString,
}

/// Which request field the signing time came from, as AWS names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource {
    XAmzDate,
    Date,
}

impl DateSource {
    pub fn name(self) -> &'static str {
        match self {
            DateSource::XAmzDate => "X-Amz-Date",
            DateSource::Date => "Date",
        }
    }
}

/// The SigV4 fields of a request, syntactically complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub location: SignatureLocation,
    /// The raw `Credential` / `X-Amz-Credential` value.
    pub credential: String,
    /// Lower-cased, sorted, without duplicates.
    pub signed_headers: Vec<String>,
    /// As sent (expected: 64 lower-case hex digits).
    pub signature: String,
    /// Signing time in `YYYYMMDDTHHMMSSZ` form, as used in the string to sign.
    pub amz_date: String,
    /// `amz_date` as Unix seconds.
    pub timestamp: i64,
    pub date_source: DateSource,
    /// `X-Amz-Expires` of a presigned request.
    pub expires_secs: Option<u64>,
    /// `X-Amz-Security-Token` (header, or query parameter when presigned).
    pub security_token: Option<String>,
}

/// The pieces of an `Authorization` header, each `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub algorithm: String,
    pub credential: Option<String>,
    pub signed_headers: Option<String>,
    pub signature: Option<String>,
}

/// Splits `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
/// Parameters may be separated by `,` with or without spaces; empty values
/// count as absent.
pub fn parse_authorization_header(value: &str) -> AuthorizationHeader {
    let value = value.trim();
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let mut header = AuthorizationHeader { algorithm: algorithm.to_string(), ..Default::default() };
    for part in rest.split(',') {
        let Some((name, val)) = part.trim().split_once('=') else {
            continue;
        };
        let val = val.trim();
        if val.is_empty() {
            continue;
        }
        let slot = match name.trim() {
            "Credential" => &mut header.credential,
            "SignedHeaders" => &mut header.signed_headers,
            "Signature" => &mut header.signature,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(val.to_string());
        }
    }
    header
}

fn normalise_signed_headers(list: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .split(';')
        .map(|n| {
            let n = n.trim();
            if n.bytes().any(|b| b.is_ascii_uppercase()) { n.to_ascii_lowercase() } else { n.to_string() }
        })
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn bad_date_message(value: &str) -> String {
    format!("Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601")
}

/// True when the query string carries presigned-URL parameters.
pub fn has_presigned_query(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        parse_query_pairs(q, false).iter().any(|(k, _)| {
            matches!(k.as_str(), "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature" | "X-Amz-SignedHeaders")
        })
    })
}

/// Reads the SigV4 fields of a request.
///
/// * `Ok(None)`: neither an `Authorization` header nor presigned query
///   parameters (the request is unsigned).
/// * `Err(message)`: present but incomplete; `message` is the text of AWS's
///   `IncompleteSignatureException`.
///
/// An `Authorization` header wins over presigned parameters.
pub fn extract(headers: &HeaderMap, uri: &Uri) -> Result<Option<SignedRequest>, String> {
    if let Some(raw) = headers.get(http::header::AUTHORIZATION) {
        let raw = String::from_utf8_lossy(raw.as_bytes());
        return extract_from_header(&raw, headers).map(Some);
    }
    if has_presigned_query(uri) {
        return extract_from_query(uri.query().unwrap_or(""), headers).map(Some);
    }
    Ok(None)
}

fn extract_from_header(raw: &str, headers: &HeaderMap) -> Result<SignedRequest, String> {
    let parsed = parse_authorization_header(raw);
    let date = match header_str(headers, "x-amz-date") {
        Some(v) => Some((v.to_string(), DateSource::XAmzDate)),
        None => header_str(headers, "date").map(|v| (v.to_string(), DateSource::Date)),
    };
    let mut message = String::new();
    if parsed.credential.is_none() {
        message.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if parsed.signature.is_none() {
        message.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if parsed.signed_headers.is_none() {
        message.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if date.is_none() {
        message.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signature), Some(signed_headers), Some((date_value, date_source))) =
        (parsed.credential, parsed.signature, parsed.signed_headers, date)
    else {
        message.push_str("Authorization=");
        message.push_str(raw);
        return Err(message);
    };
    if parsed.algorithm != ALGORITHM {
        return Err(format!("Unsupported AWS 'algorithm': '{}'.", parsed.algorithm));
    }
    let timestamp = match date_source {
        DateSource::XAmzDate => parse_amz_date(&date_value),
        DateSource::Date => parse_http_date(&date_value),
    }
    .ok_or_else(|| bad_date_message(&date_value))?;
    // A valid X-Amz-Date is already in the canonical form.
    let amz_date = match date_source {
        DateSource::XAmzDate => date_value,
        DateSource::Date => format_amz_date(timestamp),
    };
    Ok(SignedRequest {
        location: SignatureLocation::Header,
        credential,
        signed_headers: normalise_signed_headers(&signed_headers),
        signature,
        amz_date,
        timestamp,
        date_source,
        expires_secs: None,
        security_token: header_str(headers, "x-amz-security-token").map(str::to_string),
    })
}

fn extract_from_query(query: &str, headers: &HeaderMap) -> Result<SignedRequest, String> {
    let pairs = parse_query_pairs(query, false);
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let algorithm = get("X-Amz-Algorithm");
    let credential = get("X-Amz-Credential");
    let signature = get("X-Amz-Signature");
    let signed_headers = get("X-Amz-SignedHeaders");
    let date = get("X-Amz-Date");
    let mut message = String::new();
    for (name, value) in [
        ("X-Amz-Algorithm", &algorithm),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Signature", &signature),
        ("X-Amz-SignedHeaders", &signed_headers),
        ("X-Amz-Date", &date),
    ] {
        if value.is_none() {
            message.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    if !message.is_empty() {
        message.push_str("Re-examine the query-string parameters.");
        return Err(message);
    }
    if algorithm.as_deref() != Some(ALGORITHM) {
        return Err(format!("X-Amz-Algorithm only supports \"{ALGORITHM}\""));
    }
    let date = date.unwrap_or_default();
    let timestamp = parse_amz_date(&date).ok_or_else(|| bad_date_message(&date))?;
    let expires_secs = match get("X-Amz-Expires") {
        None => None,
        Some(v) => {
            let secs: u64 = v.parse().map_err(|_| "X-Amz-Expires should be a number".to_string())?;
            if secs > MAX_PRESIGN_EXPIRES_SECS {
                return Err(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES_SECS}"
                ));
            }
            Some(secs)
        }
    };
    Ok(SignedRequest {
        location: SignatureLocation::QueryString,
        credential: credential.unwrap_or_default(),
        signed_headers: normalise_signed_headers(&signed_headers.unwrap_or_default()),
        signature: signature.unwrap_or_default(),
        amz_date: format_amz_date(timestamp),
        timestamp,
        date_source: DateSource::XAmzDate,
        expires_secs,
        security_token: get("X-Amz-Security-Token")
            .or_else(|| header_str(headers, "x-amz-security-token").map(str::to_string)),
    })
}

/// The credential scope of a request, read leniently (no other checks): the
/// `Credential=` of an `Authorization` header, else `X-Amz-Credential`.
/// `None` when absent or not five `/`-separated elements.
pub fn peek_credential_scope(headers: &HeaderMap, uri: &Uri) -> Option<CredentialScope> {
    let credential = match headers.get(http::header::AUTHORIZATION) {
        Some(raw) => parse_authorization_header(&String::from_utf8_lossy(raw.as_bytes())).credential?,
        None => {
            parse_query_pairs(uri.query()?, false).into_iter().find(|(k, _)| k == "X-Amz-Credential").map(|(_, v)| v)?
        }
    };
    CredentialScope::parse(&credential).ok()
}

/// The session token a request carries (`X-Amz-Security-Token` header, else
/// query parameter), read without other checks.
pub fn peek_security_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(token) = header_str(headers, "x-amz-security-token") {
        return Some(token.to_string());
    }
    parse_query_pairs(uri.query()?, false)
        .into_iter()
        .find(|(k, v)| k == "X-Amz-Security-Token" && !v.is_empty())
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------------------
// Canonical request and string to sign
// ---------------------------------------------------------------------------

/// Removes empty and `.` segments and resolves `..`; keeps a trailing `/`.
pub fn normalise_path(path: &str) -> String {
    if path.is_empty() || path == "/" {
        return "/".to_string();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    out
}

/// Canonical URI of a non-S3 request: the received (encoded) path,
/// normalised, encoded once more.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path == "/" {
        return raw_path.to_string();
    }
    uri_encode(normalise_path(raw_path).as_bytes(), true)
}

/// Canonical query string. `skip_signature` leaves out `X-Amz-Signature`
/// (presigned requests).
pub fn canonical_query_string(raw_query: &str, skip_signature: bool) -> String {
    if raw_query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (uri_encode(&percent_decode(k, false), false), uri_encode(&percent_decode(v, false), false))
        })
        .filter(|(k, _)| !(skip_signature && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value as SigV4 canonicalises it: trimmed, runs of spaces folded.
pub fn canonical_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_canonical_header_value(&mut out, value);
    out
}

fn push_canonical_header_value(out: &mut String, value: &str) {
    let mut pending_space = false;
    for c in value.trim_matches(|c| c == ' ' || c == '\t').chars() {
        if c == ' ' {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
}

/// The canonical request. `signed_headers` must be lower-cased and sorted
/// (as [`SignedRequest::signed_headers`] is). A signed header that the request
/// lacks appears with an empty value; `host` falls back to the URI authority
/// (HTTP/2 `:authority`).
pub fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(method.as_str());
    out.push('\n');
    out.push_str(&canonical_uri(uri.path()));
    out.push('\n');
    out.push_str(&canonical_query_string(uri.query().unwrap_or(""), presigned));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for value in headers.get_all(name.as_str()) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&canonical_header_value(&String::from_utf8_lossy(value.as_bytes())));
        }
        if first
            && (name == "host" || name == ":authority")
            && let Some(authority) = uri.authority()
        {
            out.push_str(authority.as_str());
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

// ---------------------------------------------------------------------------
// Keys and signatures
// ---------------------------------------------------------------------------

fn hmac_sign(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut seed = Vec::with_capacity(4 + secret_access_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sign(&seed, date.as_bytes());
    let k_region = hmac_sign(k_date.as_ref(), region.as_bytes());
    let k_service = hmac_sign(k_region.as_ref(), service.as_bytes());
    let k_signing = hmac_sign(k_service.as_ref(), TERMINATOR.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(k_signing.as_ref());
    out
}

/// Hex signature of `string_to_sign` under `signing_key`.
pub fn sign(signing_key: &[u8], string_to_sign: &str) -> String {
    hex_encode(hmac_sign(signing_key, string_to_sign.as_bytes()).as_ref())
}

/// Constant-time check of a hex signature (`ring::hmac::verify`). A value
/// that is not hex of the right length never matches.
pub fn verify(signing_key: &[u8], string_to_sign: &str, provided_hex: &str) -> bool {
    verify_with(&hmac_key(signing_key), string_to_sign, provided_hex)
}

/// A signing key ready for [`verify_with`] (worth keeping: setting up an HMAC
/// key costs two SHA-256 blocks).
pub fn hmac_key(signing_key: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, signing_key)
}

/// [`verify`] with a prepared key.
pub fn verify_with(key: &hmac::Key, string_to_sign: &str, provided_hex: &str) -> bool {
    let hex = provided_hex.as_bytes();
    if hex.len() != 64 {
        return false;
    }
    let mut provided = [0u8; 32];
    for (byte, pair) in provided.iter_mut().zip(hex.chunks_exact(2)) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(hi), Some(lo)) => *byte = (hi << 4) | lo,
            _ => return false,
        }
    }
    hmac::verify(key, string_to_sign.as_bytes(), &provided).is_ok()
}

/// Equality of two secrets without timing that depends on where they differ:
/// `b` is checked against an HMAC of `a` with `ring::hmac::verify`.
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"smemu secret comparison");
    let tag = hmac::sign(&key, a);
    hmac::verify(&key, b, tag.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    // Published SigV4 test-suite inputs.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const SCOPE: &str = "20150830/us-east-1/service/aws4_request";

    fn headers(list: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in list {
            map.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// Canonical request, string to sign and signature of a test-suite request
    /// signed in the `Authorization` header.
    fn suite_header_case(
        method: &str,
        target: &str,
        list: &[(&str, &str)],
        body: &[u8],
        signed: &str,
    ) -> (String, String, String) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = target.parse().unwrap();
        let signed = normalise_signed_headers(signed);
        let creq = canonical_request(&method, &uri, &headers(list), &signed, &sha256_hex(body), false);
        let sts = string_to_sign(DATE, SCOPE, &creq);
        let key = signing_key(SECRET, "20150830", "us-east-1", "service");
        let sig = sign(&key, &sts);
        (creq, sts, sig)
    }

    const BASE: [(&str, &str); 2] = [("host", "example.amazonaws.com"), ("x-amz-date", DATE)];

    #[test]
    fn get_vanilla() {
        let (creq, sts, sig) = suite_header_case("GET", "/", &BASE, b"", "host;x-amz-date");
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }

    #[test]
    fn post_vanilla() {
        let (_, sts, sig) = suite_header_case("POST", "/", &BASE, b"", "host;x-amz-date");
        assert!(sts.ends_with("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"));
        assert_eq!(sig, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    }

    #[test]
    fn query_order_key_case() {
        let (creq, _, sig) = suite_header_case("GET", "/?Param2=value2&Param1=value1", &BASE, b"", "host;x-amz-date");
        assert!(creq.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert_eq!(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    }

    #[test]
    fn query_order_encoded() {
        let (creq, _, sig) =
            suite_header_case("GET", "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", &BASE, b"", "host;x-amz-date");
        assert!(creq.starts_with("GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"));
        assert_eq!(sig, "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
    }

    #[test]
    fn empty_query_value_and_post_query() {
        let (_, _, sig) = suite_header_case("GET", "/?Param1=value1", &BASE, b"", "host;x-amz-date");
        assert_eq!(sig, "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
        let (_, _, sig) = suite_header_case("POST", "/?Param1=value1", &BASE, b"", "host;x-amz-date");
        assert_eq!(sig, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
    }

    #[test]
    fn header_value_trim() {
        let list = [
            ("host", "example.amazonaws.com"),
            ("my-header1", "value1"),
            ("my-header2", "\"a   b   c\""),
            ("x-amz-date", DATE),
        ];
        let (creq, _, sig) = suite_header_case("GET", "/", &list, b"", "host;my-header1;my-header2;x-amz-date");
        assert!(creq.contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n"));
        assert_eq!(sig, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
    }

    #[test]
    fn repeated_headers_keep_their_order() {
        let list = [
            ("host", "example.amazonaws.com"),
            ("my-header1", "value2"),
            ("my-header1", "value2"),
            ("my-header1", "value1"),
            ("x-amz-date", DATE),
        ];
        let (creq, _, sig) = suite_header_case("GET", "/", &list, b"", "host;my-header1;x-amz-date");
        assert!(creq.contains("\nmy-header1:value2,value2,value1\n"));
        assert_eq!(sig, "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");

        let list = [
            ("host", "example.amazonaws.com"),
            ("my-header1", "value4"),
            ("my-header1", "value1"),
            ("my-header1", "value3"),
            ("my-header1", "value2"),
            ("x-amz-date", DATE),
        ];
        let (_, _, sig) = suite_header_case("GET", "/", &list, b"", "host;my-header1;x-amz-date");
        assert_eq!(sig, "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
    }

    #[test]
    fn post_form_body_with_content_sha256() {
        let body = b"Param1=value1";
        let list = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "example.amazonaws.com"),
            ("content-length", "13"),
            ("x-amz-date", DATE),
            ("x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
        ];
        let (creq, _, sig) = suite_header_case(
            "POST",
            "/",
            &list,
            body,
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        );
        assert!(creq.ends_with("\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"));
        assert_eq!(sig, "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b");
    }

    #[test]
    fn session_token_in_header() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let list = [("host", "example.amazonaws.com"), ("x-amz-security-token", token), ("x-amz-date", DATE)];
        let (_, _, sig) = suite_header_case("GET", "/", &list, b"", "host;x-amz-date;x-amz-security-token");
        assert_eq!(sig, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
    }

    #[test]
    fn path_normalisation_vectors() {
        for path in ["/./", "/example1/example2/../..", "/example/.."] {
            let (creq, _, sig) = suite_header_case("GET", path, &BASE, b"", "host;x-amz-date");
            assert!(creq.starts_with("GET\n/\n"), "{path}: {creq}");
            assert_eq!(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "{path}");
        }
        let (creq, _, sig) = suite_header_case(
            "GET",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            &BASE,
            b"",
            "host;x-amz-date",
        );
        assert!(creq.starts_with("GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"));
        assert_eq!(sig, "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");

        assert_eq!(normalise_path("//example//"), "/example/");
        assert_eq!(normalise_path(""), "/");
        assert_eq!(normalise_path("/a/b/."), "/a/b/");
        assert_eq!(normalise_path("/../a"), "/a");
    }

    #[test]
    fn double_encoding_of_an_encoded_path() {
        // Test-suite case "double-url-encode" (Lambda, non-S3: encoded twice).
        let uri: Uri =
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations"
                .parse()
                .unwrap();
        let map = headers(&[("host", "lambda.us-east-2.amazonaws.com"), ("x-amz-date", "20210511T154045Z")]);
        let signed = normalise_signed_headers("host;x-amz-date");
        let creq = canonical_request(&Method::POST, &uri, &map, &signed, EMPTY_PAYLOAD_SHA256, false);
        assert_eq!(
            creq,
            "POST\n/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-west-2%253A892717189312%253Afunction%253Amy-rusty-fun/invocations\n\nhost:lambda.us-east-2.amazonaws.com\nx-amz-date:20210511T154045Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20210511T154045Z", "20210511/us-east-2/lambda/aws4_request", &creq);
        assert!(sts.ends_with("684dbb3c92a8b6b1e452e23e523c1ea941c713a4c13500bb9f3bdad1e19afaf7"));
        let key = signing_key(SECRET, "20210511", "us-east-2", "lambda");
        assert_eq!(sign(&key, &sts), "4b93abbcc68be32bd64c18e2c71150660ab4c29bbd6c32a383a7517a88fc1804");
        // "@" is encoded, "%3D" becomes "%253D" (test-suite case "double-encode-path").
        assert_eq!(canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D"), "/test/%40connections/JBDvjfGEIAMCERw%253D");
    }

    fn presigned_case(target: &str) -> (SignedRequest, String, String) {
        let uri: Uri = target.parse().unwrap();
        let map = headers(&[("host", "example.amazonaws.com")]);
        let request = extract(&map, &uri).unwrap().unwrap();
        assert_eq!(request.location, SignatureLocation::QueryString);
        let creq = canonical_request(&Method::GET, &uri, &map, &request.signed_headers, EMPTY_PAYLOAD_SHA256, true);
        let scope = CredentialScope::parse(&request.credential).unwrap();
        let sts = string_to_sign(&request.amz_date, &scope.scope(), &creq);
        (request, creq, sts)
    }

    #[test]
    fn presigned_get_vanilla() {
        let (request, creq, sts) = presigned_case(
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
        );
        assert_eq!(
            creq,
            "GET\n/\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\nhost:example.amazonaws.com\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(sts.ends_with("bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5"));
        assert_eq!(request.expires_secs, Some(3600));
        let key = signing_key(SECRET, "20150830", "us-east-1", "service");
        assert!(verify(&key, &sts, &request.signature));
        assert!(!verify(&key, &sts, "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865e"));
    }

    #[test]
    fn presigned_with_session_token() {
        let (request, creq, _) = presigned_case(
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267&X-Amz-Signature=7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c",
        );
        assert!(creq.contains("&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267&X-Amz-SignedHeaders=host\n"));
        assert_eq!(
            request.security_token.as_deref(),
            Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")
        );
        let scope = CredentialScope::parse(&request.credential).unwrap();
        let sts = string_to_sign(&request.amz_date, &scope.scope(), &creq);
        assert!(sts.ends_with("cb30434103085aa9e73780fc60dc9a9df818fd2a7b1de12a9f6f4d791f898761"));
        let key = signing_key(SECRET, "20150830", "us-east-1", "service");
        assert_eq!(sign(&key, &sts), request.signature);
    }

    #[test]
    fn signing_key_derivation() {
        // AWS documentation example: IAM, 2012-02-15.
        let key = signing_key(SECRET, "20120215", "us-east-1", "iam");
        assert_eq!(hex_encode(&key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
        // Same key as the aws-sigv4 crate derives.
        let theirs = aws_sigv4::sign::v4::generate_signing_key(
            SECRET,
            system_time_from_unix(1_440_938_160),
            "eu-west-3",
            "secretsmanager",
        );
        assert_eq!(&signing_key(SECRET, "20150830", "eu-west-3", "secretsmanager")[..], theirs.as_ref());
    }

    #[test]
    fn authorization_header_parsing() {
        let h = parse_authorization_header(
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
        );
        assert_eq!(h.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(h.credential.as_deref(), Some("AKID/20250101/us-east-1/secretsmanager/aws4_request"));
        assert_eq!(h.signed_headers.as_deref(), Some("host;x-amz-date"));
        assert_eq!(h.signature.as_deref(), Some("abcd"));
        // No spaces after commas, other order.
        let h = parse_authorization_header("AWS4-HMAC-SHA256 Signature=ff,Credential=K/d/r/s/t,SignedHeaders=host");
        assert_eq!(h.signature.as_deref(), Some("ff"));
        assert_eq!(h.credential.as_deref(), Some("K/d/r/s/t"));
        let h = parse_authorization_header("Bearer xyz");
        assert_eq!(h.algorithm, "Bearer");
        assert_eq!(h.credential, None);
    }

    #[test]
    fn incomplete_header_messages() {
        let uri: Uri = "/".parse().unwrap();
        let value = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/secretsmanager/aws4_request";
        let map = headers(&[("authorization", value), ("x-amz-date", "20250101T000000Z")]);
        assert_eq!(
            extract(&map, &uri).unwrap_err(),
            format!(
                "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={value}"
            )
        );
        let map = headers(&[("authorization", "garbage")]);
        assert_eq!(
            extract(&map, &uri).unwrap_err(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=garbage"
        );
        let full = "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00";
        let map = headers(&[("authorization", full), ("x-amz-date", "2025-01-01T00:00:00Z")]);
        assert_eq!(
            extract(&map, &uri).unwrap_err(),
            "Date must be in ISO-8601 'basic format'. Got '2025-01-01T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
        );
        // A `Date` header stands in for X-Amz-Date.
        let map = headers(&[("authorization", full), ("date", "Wed, 01 Jan 2025 00:00:00 GMT")]);
        let request = extract(&map, &uri).unwrap().unwrap();
        assert_eq!(request.amz_date, "20250101T000000Z");
        assert_eq!(request.date_source, DateSource::Date);
        // Nothing at all: unsigned.
        assert_eq!(extract(&HeaderMap::new(), &uri).unwrap(), None);
    }

    #[test]
    fn incomplete_query_messages() {
        let map = HeaderMap::new();
        let uri: Uri =
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20250101%2Fus-east-1%2Fsts%2Faws4_request"
                .parse()
                .unwrap();
        assert_eq!(
            extract(&map, &uri).unwrap_err(),
            "AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        );
        let uri: Uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20250101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801"
            .parse()
            .unwrap();
        assert_eq!(
            extract(&map, &uri).unwrap_err(),
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        );
        let uri: Uri = "/?Action=GetCallerIdentity".parse().unwrap();
        assert_eq!(extract(&map, &uri).unwrap(), None);
    }

    #[test]
    fn credential_scope() {
        let s = CredentialScope::parse("AKID/20250101/eu-west-1/secretsmanager/aws4_request").unwrap();
        assert_eq!(s.access_key_id, "AKID");
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.scope(), "20250101/eu-west-1/secretsmanager/aws4_request");
        assert_eq!(
            CredentialScope::parse("AKID/20250101/eu-west-1").unwrap_err(),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKID/20250101/eu-west-1'"
        );
    }

    #[test]
    fn encoding_helpers() {
        assert_eq!(uri_encode(b"a b/c~*", true), "a%20b/c~%2A");
        assert_eq!(uri_encode(b"a b/c", false), "a%20b%2Fc");
        assert_eq!(percent_decode("a%2Fb%zz%4", false), b"a/b%zz%4");
        assert_eq!(percent_decode("a+b%20c", true), b"a b c");
        assert_eq!(percent_decode("a+b", false), b"a+b");
        assert_eq!(hex_decode("00fF10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(canonical_query_string("b=2&a=1&a=0&c&X-Amz-Signature=s", true), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query_string("q=a+b", false), "q=a%2Bb");
        assert_eq!(canonical_header_value("  a   b \t"), "a b");
        assert!(secure_eq(b"token", b"token"));
        assert!(!secure_eq(b"token", b"tokem"));
        assert!(!secure_eq(b"token", b"token2"));
    }

    #[test]
    fn time_conversions() {
        for (text, secs) in [
            ("20150830T123600Z", 1_440_938_160),
            ("20000229T235959Z", 951_868_799),
            ("19691231T235959Z", -1),
            ("20250101T000000Z", 1_735_689_600),
            ("24000229T000000Z", 13_574_563_200),
            ("19000301T000000Z", -2_203_891_200),
        ] {
            assert_eq!(parse_amz_date(text), Some(secs), "{text}");
            assert_eq!(format_amz_date(secs), text);
        }
        assert_eq!(format_iso8601(1_440_938_160), "2015-08-30T12:36:00Z");
        for bad in [
            "20150230T000000Z",
            "19000229T000000Z",
            "20151301T000000Z",
            "20150830T246000Z",
            "20150830T123600",
            "2015083XT123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(1_440_938_160));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 PST"), None);
        assert_eq!(unix_seconds(system_time_from_unix(-5)), -5);
    }
}
