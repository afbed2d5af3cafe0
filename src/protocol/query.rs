//! The awsQuery wire shared by STS and IAM: parameters from a form body (or the query string),
//! answers in XML, and the one encoder of their success and error documents.
//!
//! A service names only its XML namespace; the envelope (`<{Action}Response>`,
//! `<{Action}Result>`, `<ResponseMetadata>`, `<ErrorResponse>`) is written here alone.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

use crate::auth::sigv4;

/// Content type of every Query-protocol answer.
pub const CONTENT_TYPE: &str = "text/xml";

/// A Query-protocol answer, ready to send with `x-amzn-RequestId: <request_id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// The `RequestId` inside the body.
    pub request_id: String,
    /// The error `Code` inside the body, for the request line.
    pub code: Option<&'static str>,
}

impl QueryResponse {
    /// The HTTP response.
    #[must_use]
    pub fn into_http(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let headers = response.headers_mut();
        headers.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Ok(id) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }
}

/// The SigV4 signing name a request's credential scope names, when it has a readable one.
#[must_use]
pub fn signing_name(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    sigv4::peek_credential_scope(headers, uri).map(|scope| scope.service)
}

/// A request's parameters, read once: the form body (for a POST), then the query string for
/// names the body lacks. Indexed by name, so reading a list of n members costs n lookups, not n
/// scans of every parameter (a 1 MiB body holds tens of thousands of them).
#[derive(Debug, Default, Clone)]
pub struct Params {
    /// First value of each name.
    values: HashMap<String, String>,
}

impl Params {
    #[must_use]
    pub fn parse(method: &Method, uri: &Uri, body: &[u8]) -> Self {
        let mut values = HashMap::new();
        if method == Method::POST && !body.is_empty() {
            for (k, v) in sigv4::parse_query_pairs(&String::from_utf8_lossy(body), true) {
                values.entry(k).or_insert(v);
            }
        }
        if let Some(query) = uri.query() {
            for (k, v) in sigv4::parse_query_pairs(query, true) {
                values.entry(k).or_insert(v);
            }
        }
        Self { values }
    }

    /// The value of `name`, when sent.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The `Action` parameter, when sent and not empty.
    #[must_use]
    pub fn action(&self) -> Option<&str> {
        self.get("Action").filter(|a| !a.is_empty())
    }

    /// A list member: `{name}.member.1`, `{name}.member.2`, ... in order, up to the first gap.
    #[must_use]
    pub fn list(&self, name: &str) -> Vec<&str> {
        (1..).map_while(|i| self.get(&format!("{name}.member.{i}"))).collect()
    }

    /// A list of structures: the prefixes `{name}.member.1.`, ... of the entries with at
    /// least one field sent, up to the first gap.
    #[must_use]
    pub fn structures(&self, name: &str) -> Vec<String> {
        let head = format!("{name}.member.");
        let present: HashSet<usize> =
            self.values.keys().filter_map(|k| k.strip_prefix(head.as_str())?.split_once('.')?.0.parse().ok()).collect();
        (1..).take_while(|i| present.contains(i)).map(|i| format!("{head}{i}.")).collect()
    }
}

/// Escapes text for XML element content.
#[must_use]
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A success: `<{action}Response>` holding `<{action}Result>` (left out when `result` is
/// `None`, as for operations without output) and the request id.
#[must_use]
pub fn success(xmlns: &str, action: &str, result: Option<&str>, request_id: String) -> QueryResponse {
    let result = result.map(|r| format!("  <{action}Result>\n{r}  </{action}Result>\n")).unwrap_or_default();
    let body = format!(
        "<{action}Response xmlns=\"{xmlns}\">\n{result}  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    QueryResponse { status: 200, content_type: CONTENT_TYPE, body, request_id, code: None }
}

/// An error document (`Type` is always `Sender`, as STS and IAM send for client errors;
/// `Receiver` for 5xx).
#[must_use]
pub fn error(xmlns: &str, status: u16, code: &'static str, message: &str, request_id: String) -> QueryResponse {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message)
    );
    QueryResponse { status, content_type: CONTENT_TYPE, body, request_id, code: Some(code) }
}

/// Writes the elements of a result, indented as the envelope expects.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    /// Elements that go inside `<{Action}Result>`.
    #[must_use]
    pub fn new() -> Self {
        Self { out: String::new(), depth: 2 }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// `<name>text</name>`, the text escaped.
    pub fn field(&mut self, name: &str, text: &str) -> &mut Self {
        self.indent();
        self.out.push_str(&format!("<{name}>{}</{name}>\n", xml_escape(text)));
        self
    }

    /// [`Self::field`] when `text` is there.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.field(name, text);
        }
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.indent();
        self.out.push_str(&format!("<{name}>\n"));
        self.depth += 1;
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
        self
    }

    /// `<name>` holding one `<member>` per item, each written by `write`.
    pub fn members<T>(&mut self, name: &str, items: &[T], mut write: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("member");
            write(self, item);
            self.close("member");
        }
        self.close(name)
    }

    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_the_body_then_the_query_string_and_lists_in_order() {
        let uri: Uri = "/?Version=2010-05-08&Action=Ignored".parse().unwrap();
        let body = b"Action=ListUsers&Tags.member.1.Key=a&TagKeys.member.1=x&TagKeys.member.2=y+z&TagKeys.member.4=gap";
        let params = Params::parse(&Method::POST, &uri, body);
        assert_eq!(params.action(), Some("ListUsers"));
        assert_eq!(params.get("Version"), Some("2010-05-08"));
        assert_eq!(params.list("TagKeys"), ["x", "y z"]);
        assert_eq!(params.structures("Tags"), ["Tags.member.1."]);
    }

    #[test]
    fn documents_carry_the_envelope_and_escape_text() {
        let mut xml = Xml::new();
        xml.field("UserName", "a<b&c");
        let ok = success("urn:x", "GetUser", Some(&xml.finish()), "rid".into());
        assert!(ok.body.starts_with("<GetUserResponse xmlns=\"urn:x\">\n  <GetUserResult>\n"));
        assert!(ok.body.contains("<UserName>a&lt;b&amp;c</UserName>"));
        assert!(ok.body.contains("<RequestId>rid</RequestId>"));
        let empty = success("urn:x", "DeleteUser", None, "rid".into());
        assert!(!empty.body.contains("DeleteUserResult"));
        let err = error("urn:x", 404, "NoSuchEntity", "The user with name <x> cannot be found.", "rid".into());
        assert_eq!((err.status, err.code), (404, Some("NoSuchEntity")));
        assert!(err.body.contains("<Type>Sender</Type>"));
        assert!(err.body.contains("<Message>The user with name &lt;x&gt; cannot be found.</Message>"));
    }
}
