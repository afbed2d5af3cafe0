//! Who may use the control API, and which browser requests smemu refuses: the one place for the
//! control token, `Host`, `Origin` and content-type decisions.
//!
//! smemu trusts the processes that can reach it, when it listens on loopback and does not check
//! signatures: that is what a local emulator is for. Beyond that the control API (which dumps
//! every secret, wipes state and moves time) needs a token. Browsers are the remaining hole, in
//! every mode: any web page can send a simple cross-origin request to localhost (CSRF), and a
//! name that rebinds to 127.0.0.1 lets a page read the answers (DNS rebinding). So:
//! - a request whose `Origin` is not local (or a name in `--allowed-hosts`) is refused, on the
//!   control API and on the AWS API alike;
//! - a control request with a body must say `Content-Type: application/json`, which no page can
//!   send cross-origin without a preflight that smemu never approves;
//! - a control request's `Host` must be an IP address, a loopback name or an allowed name, unless
//!   it carries the token: a rebound name is none of these.
//!
//! [`Guard`] is built once, when smemu knows the address it listens on; every check is a pure
//! function of it and the request's headers.

use crate::auth::AuthMode;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, ORIGIN, TRANSFER_ENCODING};
use hyper::{Response, StatusCode};
use ring::hmac;
use std::fmt;
use std::net::IpAddr;

/// The header that carries the control token (`Authorization: Bearer TOKEN` works too).
pub const TOKEN_HEADER: &str = "x-smemu-control-token";

/// How the control API is guarded (`--control`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ControlMode {
    /// With a token, every control endpoint but health needs it; without one, the control API is
    /// open on loopback unless `--auth strict`, and locked otherwise.
    #[default]
    Auto,
    /// No token needed anywhere, on any address: an explicit choice, e.g. in a private network.
    Open,
}

/// The control token. Never shown: `Debug` prints a placeholder, so a logged `Config` leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(String);

impl ControlToken {
    /// # Errors
    /// When the text is empty or is not something a header can carry unchanged.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the control token must not be empty".into());
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the control token may only hold visible ASCII characters (no spaces)".into());
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(<hidden>)")
    }
}

/// What a control request without the token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything (`--control open`, or loopback without `--auth strict` and without a token).
    Open,
    /// Nothing but health without the token.
    Token,
    /// Nothing but health, and no token can be given: none is configured.
    Locked,
}

/// Whether an admitted control request may see everything, or only the health endpoints' minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Full,
    HealthOnly,
}

/// Why a request is refused: a status and a message that says how to get in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    fn forbidden(message: impl Into<String>) -> Self {
        Self { status: StatusCode::FORBIDDEN, message: message.into() }
    }
}

const HOW_TO_SEND: &str = "send it in the X-Smemu-Control-Token header (or as Authorization: Bearer TOKEN)";

/// The access decisions, fixed at startup.
pub struct Guard {
    access: Access,
    /// Why the control API is locked, for the refusal and the startup banner.
    locked_because: &'static str,
    /// The token is kept only as an HMAC under a key drawn at startup, so checking a presented
    /// token is one constant-time comparison of equal-length tags, whatever its length.
    token: Option<(hmac::Key, hmac::Tag)>,
    allowed_hosts: Vec<String>,
    /// `--control open`, rather than open because smemu is on loopback.
    explicitly_open: bool,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").field("access", &self.access).field("allowed_hosts", &self.allowed_hosts).finish()
    }
}

impl Guard {
    /// The decisions for `config` when smemu listens on `bound` (`None`: not known, so not loopback).
    #[must_use]
    pub fn new(config: &Config, bound: Option<IpAddr>) -> Self {
        let token = config.control_token.as_ref().map(|t| {
            let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, uuid::Uuid::new_v4().as_bytes()));
            let tag = hmac::sign(&key, t.0.as_bytes());
            (key, tag)
        });
        let loopback = bound.is_some_and(|ip| ip.is_loopback());
        let strict = config.auth_mode == AuthMode::Strict;
        let (access, locked_because) = match (config.control, token.is_some()) {
            (ControlMode::Open, _) => (Access::Open, ""),
            (ControlMode::Auto, true) => (Access::Token, ""),
            (ControlMode::Auto, false) if strict => (Access::Locked, "smemu runs with --auth strict"),
            (ControlMode::Auto, false) if !loopback => (Access::Locked, "smemu listens beyond loopback"),
            (ControlMode::Auto, false) => (Access::Open, ""),
        };
        let allowed_hosts = config.allowed_hosts.iter().map(|h| normalize_name(h)).filter(|h| !h.is_empty()).collect();
        Self { access, locked_because, token, allowed_hosts, explicitly_open: config.control == ControlMode::Open }
    }

    #[must_use]
    pub const fn access(&self) -> Access {
        self.access
    }

    /// Whether the control API refuses everything but health (no token can open it).
    #[must_use]
    pub fn is_locked(&self) -> bool {
        matches!(self.access, Access::Locked)
    }

    /// One line for the startup banner: how the control API is guarded, and how to get in.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.access {
            Access::Open if self.explicitly_open => {
                "control API: open to anyone who can reach smemu (--control open); no token needed".to_owned()
            }
            Access::Open => "control API: open to local clients (no token set)".to_owned(),
            Access::Token => format!("control API: needs the control token; {HOW_TO_SEND}"),
            Access::Locked => format!("control API: locked, {}; {}", self.locked_because, how_to_unlock()),
        }
    }

    /// The check of both planes: a request from a web page must come from a local origin.
    ///
    /// # Errors
    /// A [`Refusal`] naming the origin and `--allowed-hosts`.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
        let text = String::from_utf8_lossy(origin.as_bytes());
        let host = origin_host(&text);
        if host.as_deref().is_some_and(|h| is_local_name(h) || self.is_allowed(h)) {
            return Ok(());
        }
        Err(Refusal::forbidden(format!(
            "smemu refuses requests from the web page at Origin {text:?}: only local origins (localhost, \
             127.0.0.1, [::1]) and the names in --allowed-hosts (SMEMU_ALLOWED_HOSTS) may call it"
        )))
    }

    /// Screens a control request before its body is read.
    ///
    /// # Errors
    /// A [`Refusal`]: a foreign `Origin` or `Host`, a body that is not JSON, or no valid token where one is needed.
    pub fn admit_control(&self, health: bool, headers: &HeaderMap) -> Result<Admission, Refusal> {
        self.check_origin(headers)?;
        if has_body(headers) && !is_json(headers) {
            return Err(Refusal {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "the control API takes JSON bodies: send Content-Type: application/json".into(),
            });
        }
        let token = self.presented_token(headers);
        if token == Presented::Wrong {
            if health {
                return Ok(Admission::HealthOnly);
            }
            return Err(Refusal::forbidden(format!("the control token is wrong; {HOW_TO_SEND}")));
        }
        let host_ok = token == Presented::Valid || headers.get(HOST).is_none_or(|h| self.is_local_host(h.as_bytes()));
        let granted = host_ok
            && match self.access {
                Access::Open => true,
                Access::Token | Access::Locked => token == Presented::Valid,
            };
        if granted {
            return Ok(Admission::Full);
        }
        if health {
            return Ok(Admission::HealthOnly);
        }
        if !host_ok {
            let host =
                headers.get(HOST).map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned()).unwrap_or_default();
            return Err(Refusal::forbidden(format!(
                "smemu's control API answers only requests addressed to an IP address, localhost, or a name in \
                 --allowed-hosts (SMEMU_ALLOWED_HOSTS), not to Host {host:?}, unless they carry the control token"
            )));
        }
        Err(Refusal::forbidden(match self.access {
            Access::Locked => format!("the control API is locked: {}; {}", self.locked_because, how_to_unlock()),
            Access::Open | Access::Token => format!("this control endpoint needs the control token; {HOW_TO_SEND}"),
        }))
    }

    fn presented_token(&self, headers: &HeaderMap) -> Presented {
        let presented = headers.get(TOKEN_HEADER).map(|v| v.as_bytes()).or_else(|| {
            let value = headers.get(AUTHORIZATION)?.as_bytes();
            let (scheme, rest) = value.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        });
        match (presented, &self.token) {
            // Test code may send a token from its environment to a smemu started without one:
            // it proves nothing, so the request is judged as if it carried none.
            (None, _) | (Some(_), None) => Presented::None,
            (Some(value), Some((key, tag))) => {
                if hmac::verify(key, trim_ows(value), tag.as_ref()).is_ok() {
                    Presented::Valid
                } else {
                    Presented::Wrong
                }
            }
        }
    }

    fn is_allowed(&self, name: &str) -> bool {
        self.allowed_hosts.iter().any(|h| h == name)
    }

    /// An IP address is never a rebound name (a page can only reach the address its own origin
    /// names), so every IP literal passes; names must be local or allowed.
    fn is_local_host(&self, value: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(value) else { return false };
        let Some(host) = split_host_port(text.trim()) else { return false };
        let host = normalize_name(host);
        host.parse::<IpAddr>().is_ok() || is_local_name(&host) || self.is_allowed(&host)
    }
}

/// The AWS-shaped answer to a refused AWS API request: `AccessDeniedException`, with 403 (the
/// status of a request refused before any service sees it, rather than the service's 400).
#[must_use]
pub fn refuse_aws_request(request_id: &str, refusal: &Refusal) -> Response<Full<Bytes>> {
    let error = ApiError::new(ErrorCode::AccessDeniedException, refusal.message.clone());
    let mut response = crate::protocol::error(request_id, &error);
    *response.status_mut() = refusal.status;
    response
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presented {
    None,
    Valid,
    Wrong,
}

fn how_to_unlock() -> &'static str {
    "start smemu with --control-token TOKEN (or SMEMU_CONTROL_TOKEN=TOKEN) and send the token in the \
     X-Smemu-Control-Token header, or start it with --control open to leave the control API open to anyone \
     who can reach it"
}

/// Header values may carry optional whitespace around them.
fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &value[start..end]
}

/// Lower case, without the trailing dot of a fully qualified name or the brackets of an IPv6 literal.
fn normalize_name(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost`, a name under `.localhost` (RFC 6761 keeps both on loopback), or a loopback IP.
fn is_local_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        })
}

/// The host of `host[:port]` or `[v6][:port]`; `None` when the port is not a number.
fn split_host_port(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(is_port)).then_some(v6);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if is_port(port) && !host.contains(':') => Some(host),
        Some(_) => None,
        None => Some(text),
    }
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The host an `Origin` names (`scheme://host[:port]`), normalized; `None` for `null` or junk.
fn origin_host(origin: &str) -> Option<String> {
    let (_, rest) = origin.trim().split_once("://")?;
    if rest.contains(['/', '@', '?', '#']) {
        return None;
    }
    split_host_port(rest).map(normalize_name).filter(|h| !h.is_empty())
}

/// Whether the request carries a body, judged from its framing headers before it is read.
fn has_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(TRANSFER_ENCODING) {
        return true;
    }
    match headers.get(CONTENT_LENGTH).map(|v| v.to_str().map(str::trim)) {
        Some(Ok("0")) => false,
        Some(_) => true,
        None => false,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LOOPBACK: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    const ANY: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    fn guard(control: ControlMode, token: Option<&str>, auth: AuthMode, bound: Option<IpAddr>) -> Guard {
        let config = Config {
            control,
            control_token: token.map(|t| ControlToken::new(t).unwrap()),
            auth_mode: auth,
            allowed_hosts: vec!["Smemu.Internal.".into()],
            ..Config::default()
        };
        Guard::new(&config, bound)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn access_follows_mode_token_auth_and_address() {
        use AuthMode::{Off, Open, Strict};
        let cases = [
            (ControlMode::Auto, None, Open, LOOPBACK, Access::Open),
            (ControlMode::Auto, None, Off, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), Access::Open),
            (ControlMode::Auto, None, Strict, LOOPBACK, Access::Locked),
            (ControlMode::Auto, None, Open, ANY, Access::Locked),
            (ControlMode::Auto, None, Open, None, Access::Locked),
            (ControlMode::Auto, Some("t"), Open, LOOPBACK, Access::Token),
            (ControlMode::Auto, Some("t"), Strict, ANY, Access::Token),
            (ControlMode::Open, None, Strict, ANY, Access::Open),
        ];
        for (mode, token, auth, bound, expected) in cases {
            assert_eq!(guard(mode, token, auth, bound).access(), expected, "{mode:?} {token:?} {auth:?} {bound:?}");
        }
    }

    #[test]
    fn the_token_is_checked_wherever_it_is_sent() {
        let g = guard(ControlMode::Auto, Some("s3cret"), AuthMode::Open, ANY);
        for ok in [
            headers(&[("x-smemu-control-token", "s3cret")]),
            headers(&[("authorization", "Bearer s3cret")]),
            headers(&[("authorization", "bearer  s3cret ")]),
        ] {
            assert_eq!(g.admit_control(false, &ok), Ok(Admission::Full), "{ok:?}");
        }
        for bad in [
            headers(&[]),
            headers(&[("x-smemu-control-token", "s3cre")]),
            headers(&[("x-smemu-control-token", "s3cret2")]),
            headers(&[("authorization", "Basic s3cret")]),
        ] {
            assert_eq!(g.admit_control(false, &bad).unwrap_err().status, StatusCode::FORBIDDEN, "{bad:?}");
            assert_eq!(g.admit_control(true, &bad), Ok(Admission::HealthOnly), "{bad:?}");
        }
        // A token where none is configured changes nothing.
        let open = guard(ControlMode::Auto, None, AuthMode::Open, LOOPBACK);
        assert_eq!(open.admit_control(false, &headers(&[("x-smemu-control-token", "x")])), Ok(Admission::Full));
        let locked = guard(ControlMode::Auto, None, AuthMode::Strict, LOOPBACK);
        assert!(locked.admit_control(false, &headers(&[("x-smemu-control-token", "x")])).is_err());
    }

    #[test]
    fn locked_refusals_say_how_to_unlock() {
        let g = guard(ControlMode::Auto, None, AuthMode::Open, ANY);
        let refusal = g.admit_control(false, &headers(&[])).unwrap_err();
        assert!(refusal.message.contains("beyond loopback"), "{}", refusal.message);
        assert!(refusal.message.contains("--control-token") && refusal.message.contains("SMEMU_CONTROL_TOKEN"));
        assert!(g.describe().contains("--control open"));
    }

    #[test]
    fn origins_must_be_local_or_allowed() {
        let g = guard(ControlMode::Open, None, AuthMode::Open, LOOPBACK);
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "http://127.8.9.1:80",
            "http://[::1]:4566",
            "https://app.localhost",
            "http://smemu.internal:8080",
        ] {
            assert!(g.check_origin(&headers(&[("origin", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "null",
            "https://evil.example",
            "http://localhost.evil.example",
            "http://192.168.1.10",
            "http://127.0.0.1@evil.example",
            "file://",
            "",
        ] {
            assert_eq!(
                g.check_origin(&headers(&[("origin", bad)])).unwrap_err().status,
                StatusCode::FORBIDDEN,
                "{bad}"
            );
        }
        assert!(g.check_origin(&headers(&[])).is_ok());
    }

    #[test]
    fn hosts_must_be_addresses_local_or_allowed_unless_the_token_comes_along() {
        let g = guard(ControlMode::Open, Some("t"), AuthMode::Open, LOOPBACK);
        for ok in ["127.0.0.1:4566", "localhost", "LOCALHOST.:1", "[::1]:4566", "10.0.0.5:4566", "smemu.internal"] {
            assert!(g.admit_control(false, &headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in ["rebind.evil.example:4566", "localhost:x", "evil:1:2", "[::1]x"] {
            assert!(g.admit_control(false, &headers(&[("host", bad)])).is_err(), "{bad}");
            let with_token = headers(&[("host", bad), ("x-smemu-control-token", "t")]);
            assert_eq!(g.admit_control(false, &with_token), Ok(Admission::Full), "{bad}");
        }
        assert_eq!(g.admit_control(true, &headers(&[("host", "rebind.evil.example")])), Ok(Admission::HealthOnly));
    }

    #[test]
    fn bodies_must_be_json() {
        let g = guard(ControlMode::Open, None, AuthMode::Open, LOOPBACK);
        let refused = |h: &HeaderMap| g.admit_control(false, h).err().map(|r| r.status);
        let media = Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(refused(&headers(&[("content-length", "2"), ("content-type", "text/plain")])), media);
        assert_eq!(refused(&headers(&[("content-length", "2")])), media);
        assert_eq!(refused(&headers(&[("transfer-encoding", "chunked")])), media);
        assert_eq!(
            refused(&headers(&[("content-length", "2"), ("content-type", "application/json; charset=utf-8")])),
            None
        );
        // moto's and LocalStack's clients POST their resets with no body at all.
        assert_eq!(refused(&headers(&[])), None);
        assert_eq!(refused(&headers(&[("content-length", "0")])), None);
    }
}
