//! The web console at `GET /_smemu/ui`: one page and its script and style sheet, embedded in
//! the binary at compile time.
//!
//! The page holds no data. Everything it shows it asks for from the browser, through the same
//! doors every other client uses: the control API (with the control token when one is set) and
//! the services' own APIs, signed with SigV4 in the page. So serving it needs no token, and the
//! console adds no way to read or change state that did not exist without it.
//!
//! What the browser is allowed to do with the page is pinned by its headers: a
//! Content-Security-Policy that lets it load only its own script and style and talk only to its
//! own origin (no inline script, no framing, no form posts elsewhere), and `nosniff` so no
//! response of smemu's is ever read as script. A foreign `Origin` is refused here as on both
//! planes ([`crate::guard::Guard::check_origin`]).

use crate::App;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

/// Where the console lives.
pub const PATH: &str = "/_smemu/ui";

/// The policy of every console response. `connect-src 'self'` covers the control API and the
/// AWS APIs alike, since smemu serves both on the page's own origin.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: &'static str,
}

/// A content hash, computed at compile time, so a browser revalidates with `If-None-Match` and
/// gets 304 until the binary changes.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const fn hex_etag(hash: u64) -> [u8; 18] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = DIGITS[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {{
        const BODY: &[u8] = include_bytes!($file);
        const TAG: [u8; 18] = hex_etag(fnv1a(BODY));
        Asset {
            path: $path,
            content_type: $type,
            body: BODY,
            // Hex digits and quotes only: always valid UTF-8.
            etag: match std::str::from_utf8(&TAG) {
                Ok(tag) => tag,
                Err(_) => "\"0\"",
            },
        }
    }};
}

const ASSETS: &[Asset] = &[
    asset!("", "assets/index.html", "text/html; charset=utf-8"),
    asset!("/console.js", "assets/console.js", "text/javascript; charset=utf-8"),
    asset!("/console.css", "assets/console.css", "text/css; charset=utf-8"),
];

/// Whether `path` is the console's (the page, or one of its assets).
#[must_use]
pub fn owns(path: &str) -> bool {
    path == PATH || path.strip_prefix(PATH).is_some_and(|rest| rest.starts_with('/'))
}

/// The answer to a request for one of the console's files.
#[must_use]
pub fn serve(app: &App, parts: &Parts) -> Response<Full<Bytes>> {
    if let Err(refused) = app.guard().check_origin(&parts.headers) {
        return error(refused.status, &refused.message);
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("the console at {PATH} answers GET and HEAD, not {}", parts.method),
        );
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let rest = parts.uri.path().strip_prefix(PATH).unwrap_or_default();
    let rest = if rest == "/" { "" } else { rest };
    let Some(asset) = ASSETS.iter().find(|a| a.path == rest) else {
        return error(StatusCode::NOT_FOUND, &format!("the console has no file {}", parts.uri.path()));
    };
    let fresh = parts
        .headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else if parts.method == Method::HEAD {
        (StatusCode::OK, Bytes::new())
    } else {
        (StatusCode::OK, Bytes::from_static(asset.body))
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(ETAG, HeaderValue::from_static(asset.etag));
    // Revalidated on every load, so a new binary's console is never mixed with an old one's.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    protect(headers);
    response
}

fn protect(headers: &mut hyper::HeaderMap) {
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
}

/// A refusal in the control API's shape, with the console's protective headers.
fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = crate::control::error_response(status, message);
    protect(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_console_paths_are_owned() {
        for path in ["/_smemu/ui", "/_smemu/ui/", "/_smemu/ui/console.js", "/_smemu/ui/nope"] {
            assert!(owns(path), "{path}");
        }
        for path in ["/_smemu", "/_smemu/", "/_smemu/uix", "/_smemu/health", "/ui"] {
            assert!(!owns(path), "{path}");
        }
    }

    #[test]
    fn etags_follow_the_content() {
        assert_ne!(ASSETS[0].etag, ASSETS[1].etag);
        assert_eq!(ASSETS[0].etag.len(), 18);
        assert!(ASSETS.iter().all(|a| a.etag.starts_with('"') && a.etag.ends_with('"')));
    }
}
