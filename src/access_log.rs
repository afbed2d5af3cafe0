//! The request line: one `info` event per request, written once by the pipeline.
//!
//! The pipeline fills an [`Entry`] while it routes and answers a request (which service and
//! operation, what the request names, who called, how it ended) and [`Entry::write`]s it with the
//! answer's status and the time since the request's head arrived. An entry never holds a value:
//! only identifiers as the client sent them, cut to a bound and copied into a fixed buffer, so a
//! request costs no allocation for its line beyond the line itself.
//!
//! The events go to the target [`TARGET`]; their field names are stable (see README, "Logs").
//! Text that came from a request is recorded as a string field, which the formatter quotes and
//! escapes (text) or JSON-escapes (json), so a newline or an escape sequence in a SecretId cannot
//! forge a line or colour the terminal.

use crate::auth::Caller;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::fmt::{self, Write as _};
use std::time::Duration;

/// The `tracing` target of request lines: `--log-level smemu::access=warn,info` keeps every other
/// `info` event and drops these.
pub const TARGET: &str = "smemu::access";

/// The service a request was routed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    SecretsManager,
    Kms,
    Sts,
    CloudTrail,
    Lambda,
    Iam,
    /// smemu's own API under `/_smemu/` (and the health and reset paths of other emulators).
    Control,
}

impl Service {
    /// The name in the request line: the SigV4 signing name for AWS services.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SecretsManager => "secretsmanager",
            Self::Kms => "kms",
            Self::Sts => "sts",
            Self::CloudTrail => "cloudtrail",
            Self::Lambda => "lambda",
            Self::Iam => "iam",
            Self::Control => "control",
        }
    }
}

/// What a request names, as it was sent: the identifier the request line shows.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    None,
    One(&'a str),
    /// A list of identifiers (BatchGetSecretValue's `SecretIdList`); members that are not strings
    /// are skipped.
    List(&'a [serde_json::Value]),
}

/// How many identifiers of a list the line shows before it only counts the rest.
const LISTED: usize = 3;

/// Text copied from a request, bounded and without allocation.
///
/// The bound is on what the text may cost once a formatter has escaped it: a printable ASCII
/// character costs one byte (two for `"` and `\`), any other character is counted at the ten bytes
/// of the longest escape (`\u{10ffff}`). What does not fit is replaced by a marker saying how many
/// bytes were cut, so a 2,000-character SecretId, or one made of escape characters, still makes a
/// short line.
pub struct Echo {
    buf: [u8; Echo::CAPACITY],
    len: usize,
    /// The escaped width spent so far, against [`Echo::BUDGET`].
    spent: usize,
}

impl Echo {
    /// The escaped width of the text kept.
    pub const BUDGET: usize = 160;
    /// The budget plus room for the markers (`…[+N bytes]`, ` (+N more)`), never filled otherwise.
    const CAPACITY: usize = Self::BUDGET + 64;

    #[must_use]
    pub const fn new() -> Self {
        Self { buf: [0; Self::CAPACITY], len: 0, spent: 0 }
    }

    /// `text`, cut to the bound.
    #[must_use]
    pub fn of(text: &str) -> Self {
        let mut echo = Self::new();
        echo.push(text);
        echo
    }

    /// The list's first few identifiers, then how many more there were.
    #[must_use]
    pub fn of_list(list: &[serde_json::Value]) -> Self {
        let mut echo = Self::new();
        let ids = list.iter().filter_map(serde_json::Value::as_str);
        let total = ids.clone().count();
        let mut shown = 0;
        for id in ids.take(LISTED) {
            if shown > 0 && !echo.push(", ") {
                break;
            }
            shown += 1;
            if !echo.push(id) {
                break;
            }
        }
        if total > shown {
            let _ = write!(echo, " (+{} more)", total - shown);
        }
        echo
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only whole characters and whole strings are ever copied in, so this cannot fail.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `text` within the budget; false (after the cut marker) when it did not all fit.
    fn push(&mut self, text: &str) -> bool {
        if self.spent >= Self::BUDGET {
            return false;
        }
        for (at, c) in text.char_indices() {
            let cost = match c {
                '"' | '\\' => 2,
                ' '..='~' => 1,
                _ => 10,
            };
            if self.spent + cost > Self::BUDGET {
                self.spent = Self::BUDGET;
                let _ = write!(self, "…[+{} bytes]", text.len() - at);
                return false;
            }
            self.spent += cost;
            let _ = self.write_char(c);
        }
        true
    }
}

impl Default for Echo {
    fn default() -> Self {
        Self::new()
    }
}

/// Raw appends, for the markers: they fail rather than overflow the buffer.
impl fmt::Write for Echo {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl fmt::Debug for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Who made the request.
#[derive(Debug, Default)]
enum Principal {
    #[default]
    Unknown,
    /// Authenticated (or, with `--auth open`, taken at its word).
    Caller(std::sync::Arc<Caller>),
    /// Refused by authentication: the access key id the request carried, as sent.
    Refused(Box<Echo>),
}

/// What the request line of one request says, filled as the request goes through the pipeline.
#[derive(Debug, Default)]
pub struct Entry {
    service: Option<Service>,
    operation: Option<&'static str>,
    /// The identifier the request names, or for a control request its path.
    subject: Echo,
    /// A control request's method.
    method: Option<Method>,
    principal: Principal,
    error: Option<&'static str>,
    request_id: Option<String>,
}

impl Entry {
    /// A request for `service`'s `operation` (`None` when the request names none it knows).
    pub fn route(&mut self, service: Service, operation: Option<&'static str>) {
        self.service = Some(service);
        self.operation = operation;
    }

    /// A control request: its method and path (never its query, which may carry ids of anything).
    pub fn control(&mut self, method: &Method, path: &str) {
        self.service = Some(Service::Control);
        self.method = Some(method.clone());
        self.subject = Echo::of(path);
    }

    pub fn subject(&mut self, subject: Subject<'_>) {
        self.subject = match subject {
            Subject::None => Echo::new(),
            Subject::One(id) => Echo::of(id),
            Subject::List(list) => Echo::of_list(list),
        };
    }

    /// The identity the request ran as; it is moved here once the request no longer needs it.
    pub fn caller(&mut self, caller: impl Into<std::sync::Arc<Caller>>) {
        self.principal = Principal::Caller(caller.into());
    }

    /// Authentication refused the request: the line names the access key id it carried, the only
    /// part of a credential that is not secret.
    pub fn refused(&mut self, headers: &HeaderMap, uri: &Uri) {
        let key = crate::auth::sigv4::peek_credential_scope(headers, uri).map(|scope| scope.access_key_id);
        self.principal = key.map_or(Principal::Unknown, |key| Principal::Refused(Box::new(Echo::of(&key))));
    }

    /// The error code the answer carries.
    pub fn error(&mut self, code: &'static str) {
        self.error = Some(code);
    }

    pub fn request_id(&mut self, id: String) {
        self.request_id = Some(id);
    }

    /// Writes the line: the answer's `status`, and `elapsed` since the request's head arrived.
    pub fn write(&self, status: StatusCode, elapsed: Duration) {
        let control = self.service == Some(Service::Control);
        let subject = Some(self.subject.as_str()).filter(|s| !s.is_empty());
        let (id, path) = if control { (None, subject) } else { (subject, None) };
        let (account, region, principal) = match &self.principal {
            Principal::Unknown => (None, None, None),
            Principal::Caller(caller) => {
                (Some(caller.account_id.as_str()), Some(caller.region.as_str()), Some(caller.principal_arn.as_str()))
            }
            Principal::Refused(key) => (None, None, Some(key.as_str())),
        };
        // Microseconds, shown as milliseconds with three decimals at most.
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        tracing::info!(
            target: TARGET,
            service = self.service.map(|s| tracing::field::display(s.as_str())),
            operation = self.operation.map(tracing::field::display),
            id,
            method = self.method.as_ref().map(tracing::field::display),
            path,
            account,
            region,
            principal,
            status = status.as_u16(),
            error = self.error.map(tracing::field::display),
            duration_ms,
            request_id = self.request_id.as_deref(),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::tests::Captured;

    /// What `entry` writes through the subscriber smemu installs, in `format`.
    fn line(entry: &Entry, format: crate::logging::LogFormat) -> String {
        let out = Captured::default();
        let filter = crate::logging::parse_filter("info").unwrap();
        let dispatch = crate::logging::dispatch(&filter, format, false, out.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            entry.write(StatusCode::BAD_REQUEST, Duration::from_micros(1234));
        });
        out.text()
    }

    fn caller() -> Caller {
        Caller {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            principal_arn: "arn:aws:iam::111122223333:user/ci".into(),
            user_id: "AIDAEXAMPLE".into(),
            session_policy: None,
        }
    }

    fn failed_get(id: &str) -> Entry {
        let mut entry = Entry::default();
        entry.route(Service::SecretsManager, Some("GetSecretValue"));
        entry.subject(Subject::One(id));
        entry.caller(caller());
        entry.error("ResourceNotFoundException");
        entry.request_id("0b9c5cbb-8d9f-4a51-a0b1-8b5bfa0c1c39".into());
        entry
    }

    #[test]
    fn a_text_line_names_everything_but_a_value() {
        let text = line(&failed_get("app/db"), crate::logging::LogFormat::Text);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let fields = text.split_once("smemu::access: request ").unwrap().1.trim_end();
        assert_eq!(
            fields,
            "service=secretsmanager operation=GetSecretValue id=\"app/db\" account=\"111122223333\" \
             region=\"eu-west-1\" principal=\"arn:aws:iam::111122223333:user/ci\" status=400 \
             error=ResourceNotFoundException duration_ms=1.234 request_id=\"0b9c5cbb-8d9f-4a51-a0b1-8b5bfa0c1c39\""
        );
        assert!(text.contains(" INFO "), "{text}");
    }

    #[test]
    fn a_json_line_has_the_documented_fields() {
        let text = line(&failed_get("app/db"), crate::logging::LogFormat::Json);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], TARGET);
        assert_eq!(v["message"], "request");
        assert_eq!(v["service"], "secretsmanager");
        assert_eq!(v["operation"], "GetSecretValue");
        assert_eq!(v["id"], "app/db");
        assert_eq!(v["account"], "111122223333");
        assert_eq!(v["region"], "eu-west-1");
        assert_eq!(v["principal"], "arn:aws:iam::111122223333:user/ci");
        assert_eq!(v["status"], 400);
        assert_eq!(v["error"], "ResourceNotFoundException");
        assert_eq!(v["duration_ms"], 1.234);
        assert!(v["timestamp"].is_string());
        assert!(v.get("path").is_none() && v.get("method").is_none());
    }

    #[test]
    fn control_characters_cannot_forge_a_line_or_colour_it() {
        let hostile =
            "x\ny 2026-01-01T00:00:00Z  INFO smemu::access: forged\r\u{1b}[31mred\u{1b}[0m\u{9b}\u{202e}\"q\\";
        let text = line(&failed_get(hostile), crate::logging::LogFormat::Text);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(!text.contains('\r') && !text.contains('\u{1b}') && !text.contains('\u{9b}'), "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
        assert!(text.contains(r#"id="x\ny 2026"#), "{text}");
        assert!(text.contains(r"\u{1b}[31mred"), "{text}");
        assert!(text.contains(r#"\"q\\""#), "{text}");

        let json = line(&failed_get(hostile), crate::logging::LogFormat::Json);
        assert_eq!(json.matches('\n').count(), 1, "{json}");
        assert!(!json.contains('\r') && !json.contains('\u{1b}'), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["id"], hostile, "JSON keeps the exact text, escaped");
    }

    #[test]
    fn long_identifiers_are_cut_with_a_marker() {
        let long = "a".repeat(2000);
        let echo = Echo::of(&long);
        assert_eq!(echo.as_str(), format!("{}…[+1840 bytes]", "a".repeat(Echo::BUDGET)));
        let text = line(&failed_get(&long), crate::logging::LogFormat::Text);
        assert!(text.len() < 600, "{} bytes: {text}", text.len());

        // Escapes count at their escaped width, so a SecretId of control characters stays short too.
        let escapes = "\u{1b}".repeat(2000);
        let text = line(&failed_get(&escapes), crate::logging::LogFormat::Text);
        assert!(text.len() < 600, "{} bytes: {text}", text.len());
        assert!(Echo::of(&escapes).as_str().ends_with("…[+1984 bytes]"));

        // A multi-byte character is never split.
        let wide = "é".repeat(100);
        assert!(Echo::of(&wide).as_str().starts_with(&"é".repeat(16)));
        assert!(Echo::of(&wide).as_str().ends_with("…[+168 bytes]"));
        assert_eq!(Echo::of("just/right").as_str(), "just/right");
    }

    #[test]
    fn a_list_shows_its_first_ids_and_counts_the_rest() {
        let ids: Vec<serde_json::Value> = (1..=7).map(|i| format!("s{i}").into()).collect();
        assert_eq!(Echo::of_list(&ids).as_str(), "s1, s2, s3 (+4 more)");
        assert_eq!(Echo::of_list(&ids[..2]).as_str(), "s1, s2");
        assert_eq!(Echo::of_list(&[]).as_str(), "");
        let long: Vec<serde_json::Value> = (0..50).map(|_| "b".repeat(2048).into()).collect();
        let echo = Echo::of_list(&long);
        assert!(echo.as_str().ends_with("…[+1888 bytes] (+49 more)"), "{}", echo.as_str());
        let mixed = [serde_json::json!(1), "only".into()];
        assert_eq!(Echo::of_list(&mixed).as_str(), "only");
    }

    #[test]
    fn a_refused_request_names_the_access_key_as_sent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20250101/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        let mut entry = Entry::default();
        entry.route(Service::SecretsManager, Some("ListSecrets"));
        entry.refused(&headers, &Uri::from_static("/"));
        entry.error("UnrecognizedClientException");
        let v: serde_json::Value = serde_json::from_str(&line(&entry, crate::logging::LogFormat::Json)).unwrap();
        assert_eq!(v["principal"], "AKIDUNKNOWN");
        assert_eq!(v["error"], "UnrecognizedClientException");
        assert!(v.get("account").is_none() && v.get("id").is_none());
        assert!(!line(&entry, crate::logging::LogFormat::Text).contains("Signature"));
    }

    #[test]
    fn a_control_line_has_method_and_path() {
        let mut entry = Entry::default();
        entry.control(&Method::POST, "/_smemu/clock");
        let text = line(&entry, crate::logging::LogFormat::Text);
        assert!(
            text.contains("service=control method=POST path=\"/_smemu/clock\" status=400 duration_ms=1.234"),
            "{text}"
        );
    }
}
