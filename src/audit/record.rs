//! One CloudTrail record: its fields, the `userIdentity` of each kind of principal, and what of
//! a request or an answer it may show.
//!
//! A record's JSON is written from the event whenever it is read: LookupEvents'
//! `CloudTrailEvent`, the audit files and `GET /_smemu/audit` all serve that same text.

use crate::auth::Caller;
use crate::clock::Timestamp;
use crate::protocol::json::Raw;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The record format this trail writes (CloudTrail's current one).
pub const EVENT_VERSION: &str = "1.11";
/// Who emits the service events and the calls Secrets Manager makes on a caller's behalf.
pub const SECRETS_MANAGER_PRINCIPAL: &str = "secretsmanager.amazonaws.com";
/// Who emits KMS's own events (a key deleted when its window ends).
pub const KMS_PRINCIPAL: &str = "kms.amazonaws.com";
/// CloudTrail's limit on `userAgent` and `errorMessage`.
const TEXT_LIMIT: usize = 1024;
/// Parameters or response elements larger than this, serialised, are left out of a record (null),
/// so one request cannot make a record of megabytes.
pub const ELEMENTS_LIMIT: usize = 64 * 1024;
/// What a record's text usually takes (a call's record is 0.8–1.5 KB).
const RECORD_CAPACITY: usize = 1536;

/// The service a record is about, by its `eventSource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    SecretsManager,
    Kms,
    Sts,
    CloudTrail,
    Lambda,
    Iam,
}

impl Source {
    pub const ALL: [Source; 6] =
        [Self::SecretsManager, Self::Kms, Self::Sts, Self::CloudTrail, Self::Lambda, Self::Iam];

    #[must_use]
    pub const fn event_source(self) -> &'static str {
        match self {
            Self::SecretsManager => "secretsmanager.amazonaws.com",
            Self::Kms => "kms.amazonaws.com",
            Self::Sts => "sts.amazonaws.com",
            Self::CloudTrail => "cloudtrail.amazonaws.com",
            Self::Lambda => "lambda.amazonaws.com",
            Self::Iam => "iam.amazonaws.com",
        }
    }

    /// The CloudTrail resource type of what the service's requests name.
    #[must_use]
    pub const fn resource_type(self) -> Option<&'static str> {
        match self {
            Self::SecretsManager => Some("AWS::SecretsManager::Secret"),
            Self::Kms => Some("AWS::KMS::Key"),
            Self::Sts => Some("AWS::IAM::Role"),
            Self::CloudTrail => None,
            Self::Lambda => Some("AWS::Lambda::Function"),
            // IAM's calls name users, roles and policies alike: no one type fits them all.
            Self::Iam => None,
        }
    }

    /// Whether a call of `operation` only reads: CloudTrail's `readOnly`. KMS's cryptographic
    /// calls and every STS call count as reads, as CloudTrail marks them.
    #[must_use]
    pub fn read_only(self, operation: &str) -> bool {
        const READS: [&str; 6] = ["Get", "List", "Describe", "BatchGet", "Lookup", "Validate"];
        match self {
            Self::Sts => true,
            Self::Iam if operation.starts_with("Simulate") => true,
            Self::Kms
                if matches!(
                    operation,
                    "Encrypt"
                        | "Decrypt"
                        | "ReEncrypt"
                        | "GenerateDataKey"
                        | "GenerateDataKeyWithoutPlaintext"
                        | "GenerateRandom"
                ) =>
            {
                true
            }
            _ => READS.iter().any(|prefix| operation.starts_with(prefix)),
        }
    }
}

/// Members never recorded, whatever the service's model says: values, tokens, plaintexts,
/// passwords and credentials, in requests and answers alike.
const NEVER_RECORDED: &[&str] = &[
    "SecretString",
    "SecretBinary",
    "RotationToken",
    "Plaintext",
    "CiphertextBlob",
    "CiphertextForRecipient",
    "RandomPassword",
    "SecretAccessKey",
    "SessionToken",
    "SecretValues",
];

/// Whether a member of that name is ever left out of a record.
#[must_use]
pub fn never_recorded(member: &str) -> bool {
    NEVER_RECORDED.contains(&member)
}

/// `requestParameters` of a JSON request: the members sent, in lower camel case, without what
/// `omit` (the service model's sensitive and binary members) or [`never_recorded`] exclude.
#[must_use]
pub fn parameters(input: &Value, omit: impl Fn(&str) -> bool) -> Option<Value> {
    let Value::Object(members) = input else { return None };
    let mut out = Map::new();
    for (name, value) in members {
        if never_recorded(name) || omit(name) {
            continue;
        }
        out.insert(lower_camel(name), camel_value(name, value));
    }
    bounded(Value::Object(out))
}

/// [`parameters`] written as JSON text straight from the request, without building a value
/// first (it happens on every call); `None` when it does not fit a record.
#[must_use]
pub fn parameters_text(input: &Value, omit: impl Fn(&str) -> bool) -> Option<String> {
    let Value::Object(members) = input else { return None };
    let members = Members { members, omit: &omit, top: true };
    let text = match crate::protocol::json::to_vec(&members) {
        Ok(bytes) => String::from_utf8(bytes).ok()?,
        Err(_) => serde_json::to_string(&members).ok()?,
    };
    (text.len() <= ELEMENTS_LIMIT).then_some(text)
}

/// The members of a structure as a record shows them (see [`camel_value`]).
struct Members<'a, F> {
    members: &'a Map<String, Value>,
    omit: &'a F,
    /// Whether these are the request's own members, which `omit` applies to.
    top: bool,
}

impl<F: Fn(&str) -> bool> Serialize for Members<'_, F> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let shown = |name: &&String| !(never_recorded(name) || (self.top && (self.omit)(name)));
        let mut map = out.serialize_map(None)?;
        for (name, value) in self.members.iter().filter(|(name, _)| shown(name)) {
            map.serialize_entry(&lower_camel(name), &Member { name, value, omit: self.omit })?;
        }
        map.end()
    }
}

/// One member's value, with its structures' member names in lower camel case.
struct Member<'a, F> {
    name: &'a str,
    value: &'a Value,
    omit: &'a F,
}

impl<F: Fn(&str) -> bool> Serialize for Member<'_, F> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.value {
            Value::Object(_) if self.name == "EncryptionContext" => self.value.serialize(out),
            Value::Object(members) => Members { members, omit: self.omit, top: false }.serialize(out),
            Value::Array(items) => {
                let mut seq = out.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Member { name: self.name, value, omit: self.omit })?;
                }
                seq.end()
            }
            _ => self.value.serialize(out),
        }
    }
}

/// `responseElements` of a JSON answer: as [`parameters`], without a model.
#[must_use]
pub fn response_elements(output: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(output).ok()?;
    parameters(&value, |_| false)
}

/// Parameters that do not fit a record are left out.
fn bounded(value: Value) -> Option<Value> {
    (text_size(&value) <= ELEMENTS_LIMIT).then_some(value)
}

/// Roughly what `value` costs serialised (text, names and a few bytes per item), counted
/// without serialising it.
fn text_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(|v| text_size(v) + 1).sum::<usize>() + 2,
        Value::Object(members) => members.iter().map(|(k, v)| k.len() + 4 + text_size(v)).sum::<usize>() + 2,
        Value::Number(_) | Value::Bool(_) | Value::Null => 8,
    }
}

/// A member's value with its structures' member names in lower camel case. A map's keys are
/// the caller's data (an encryption context, say) and keep their spelling.
fn camel_value(member: &str, value: &Value) -> Value {
    match value {
        Value::Object(_) if member == "EncryptionContext" => value.clone(),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(name, _)| !never_recorded(name))
                .map(|(name, v)| (lower_camel(name), camel_value(name, v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| camel_value(member, v)).collect()),
        _ => value.clone(),
    }
}

/// `SecretId` → `secretId`, `ARN` → `arn`, `KMSKeyId` → `kmsKeyId`: the leading capitals are
/// lowered, but for the one that starts the next word.
#[must_use]
pub fn lower_camel(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let upper = chars.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let lowered = match upper {
        0 => 0,
        n if n == chars.len() => n,
        1 => 1,
        n => n - 1,
    };
    chars.iter().enumerate().map(|(i, c)| if i < lowered { c.to_ascii_lowercase() } else { *c }).collect()
}

/// Who made a call, as the record's `userIdentity` shows it.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// An authenticated (or, with `--auth open`, assumed) caller.
    Caller(&'a Caller),
    /// A call Secrets Manager made for its caller (`invokedBy`).
    Via(&'a Caller),
    /// A call Secrets Manager made for an account, when no caller is at hand.
    ViaAccount(&'a str),
    /// A request authentication refused: only the access key it carried is known.
    Refused { account: &'a str, access_key_id: Option<&'a str> },
    /// A service on its own (Secrets Manager's rotations and deletions, KMS's key deletions):
    /// only the account, and the service as `invokedBy`.
    Service { account: &'a str, by: &'static str },
}

/// What a caller's ARN says about it.
struct Principal<'a> {
    kind: &'static str,
    /// A user's name, a role's name.
    name: Option<&'a str>,
    /// An assumed role's session name.
    session: Option<&'a str>,
}

fn principal_of(arn: &str) -> Principal<'_> {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    if resource == "root" {
        return Principal { kind: "Root", name: None, session: None };
    }
    if let Some(path) = resource.strip_prefix("user/") {
        return Principal { kind: "IAMUser", name: path.rsplit('/').next(), session: None };
    }
    if let Some(rest) = resource.strip_prefix("assumed-role/")
        && let Some((role, session)) = rest.rsplit_once('/')
    {
        return Principal { kind: "AssumedRole", name: Some(role), session: Some(session) };
    }
    Principal { kind: "Unknown", name: None, session: None }
}

/// Which kind of [`Identity`] a record describes; its names and keys are kept as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Caller,
    Via,
    ViaAccount,
    Refused,
    Service(&'static str),
}

/// An identity as a record shows it, borrowed from a caller or from an event's text.
#[derive(Clone, Copy)]
struct Person<'a> {
    who: Who,
    account: &'a str,
    arn: &'a str,
    user_id: &'a str,
    access_key_id: Option<&'a str>,
}

impl<'a> Identity<'a> {
    fn person(self) -> Person<'a> {
        let nobody = |who, account| Person { who, account, arn: "", user_id: "", access_key_id: None };
        match self {
            Self::Caller(c) | Self::Via(c) => Person {
                who: if matches!(self, Self::Via(_)) { Who::Via } else { Who::Caller },
                account: &c.account_id,
                arn: &c.principal_arn,
                user_id: &c.user_id,
                access_key_id: c.access_key_id.as_deref(),
            },
            Self::ViaAccount(account) => nobody(Who::ViaAccount, account),
            Self::Refused { account, access_key_id } => Person { access_key_id, ..nobody(Who::Refused, account) },
            Self::Service { account, by } => nobody(Who::Service(by), account),
        }
    }

    /// The account the record belongs to.
    #[must_use]
    pub fn account(&self) -> &str {
        self.person().account
    }

    /// LookupEvents' `Username`: a user's name, a role session's name, `root`.
    #[must_use]
    pub fn username(&self) -> Option<&'a str> {
        self.person().username()
    }

    #[must_use]
    pub fn access_key_id(&self) -> Option<&'a str> {
        self.person().access_key_id
    }

    #[cfg(test)]
    fn to_value(self) -> Value {
        serde_json::to_value(self.person().shape()).unwrap_or_default()
    }
}

impl<'a> Person<'a> {
    fn username(self) -> Option<&'a str> {
        if !matches!(self.who, Who::Caller | Who::Via) {
            return None;
        }
        let principal = principal_of(self.arn);
        match principal.kind {
            "Root" => Some("root"),
            "IAMUser" => principal.name,
            "AssumedRole" => principal.session,
            _ => None,
        }
    }

    /// The record's `userIdentity`, serialised without building a JSON value first.
    fn shape(self) -> UserIdentity<'a> {
        let mut out = UserIdentity::default();
        match self.who {
            Who::Caller | Who::Via => {
                let principal = principal_of(self.arn);
                out.kind = Some(principal.kind);
                out.principal_id = Some(self.user_id);
                out.arn = Some(self.arn);
                out.account_id = Some(self.account);
                out.access_key_id = self.access_key_id;
                match principal.kind {
                    "IAMUser" => out.user_name = Some(principal.name.unwrap_or_default()),
                    "AssumedRole" => {
                        let role = principal.name.unwrap_or_default();
                        out.session_context = Some(SessionContext {
                            attributes: SessionAttributes { mfa_authenticated: "false" },
                            session_issuer: SessionIssuer {
                                kind: "Role",
                                principal_id: self.user_id.split(':').next().unwrap_or_default(),
                                arn: format!("arn:aws:iam::{}:role/{role}", self.account),
                                account_id: self.account,
                                user_name: role,
                            },
                        });
                    }
                    _ => {}
                }
                if self.who == Who::Via {
                    out.invoked_by = Some(SECRETS_MANAGER_PRINCIPAL);
                }
            }
            Who::ViaAccount => {
                out.account_id = Some(self.account);
                out.invoked_by = Some(SECRETS_MANAGER_PRINCIPAL);
            }
            Who::Service(by) => {
                out.account_id = Some(self.account);
                out.invoked_by = Some(by);
            }
            Who::Refused => {
                out.kind = Some("Unknown");
                out.access_key_id = self.access_key_id;
            }
        }
        out
    }
}

/// `userIdentity` as CloudTrail writes it; what a kind of principal lacks is left out.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    /// Not known for a request authentication refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    attributes: SessionAttributes,
    session_issuer: SessionIssuer<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionAttributes {
    mfa_authenticated: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: &'a str,
    arn: String,
    account_id: &'a str,
    user_name: &'a str,
}

/// What is known of a call or a service event when its record is made.
pub struct Draft<'a> {
    pub source: Source,
    pub name: Cow<'static, str>,
    /// `AwsApiCall`, or `AwsServiceEvent` for what Secrets Manager does on its own.
    pub service_event: bool,
    pub identity: Identity<'a>,
    pub region: &'a str,
    pub source_ip: &'a str,
    pub user_agent: Option<&'a str>,
    /// The error code and message of a failure.
    pub error: Option<(&'a str, &'a str)>,
    pub request_parameters: Option<Elements<'a>>,
    pub response_elements: Option<Value>,
    pub additional: Option<Value>,
    pub request_id: &'a str,
    pub read_only: bool,
    /// What the call names, as sent (ARNs also appear as the record's `resources`).
    pub resources: Named<'a>,
}

/// What a call names.
#[derive(Clone, Copy, Debug)]
pub enum Named<'a> {
    Nothing,
    One(&'a str),
    List(&'a [String]),
}

impl<'a> Named<'a> {
    fn iter(self) -> impl Iterator<Item = &'a str> {
        let (one, list): (Option<&'a str>, &'a [String]) = match self {
            Self::Nothing => (None, &[]),
            Self::One(name) => (Some(name), &[]),
            Self::List(names) => (None, names),
        };
        one.into_iter().chain(list.iter().map(String::as_str))
    }
}

/// `requestParameters`: the members of a request as sent, or the few a KMS call Secrets Manager
/// makes has, written straight from what the call borrows (it happens on every value read).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Elements<'a> {
    Value(Value),
    Kms(KmsParameters<'a>),
    /// Written already (see [`parameters_text`]).
    #[serde(skip)]
    Json(&'a str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KmsParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<&'a str>,
    #[serde(serialize_with = "context_map")]
    pub encryption_context: &'a [(String, String)],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<&'static str>,
}

fn context_map<S: serde::Serializer>(pairs: &&[(String, String)], out: S) -> Result<S::Ok, S::Error> {
    out.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

impl KmsParameters<'_> {
    /// The JSON its `Serialize` writes, written directly: one of these is recorded for every
    /// value Secrets Manager reads or writes.
    fn write_json(&self, out: &mut Vec<u8>) {
        use crate::protocol::json::write_string;
        out.push(b'{');
        if let Some(key) = self.key_id {
            out.extend_from_slice(b"\"keyId\":");
            write_string(out, key);
            out.push(b',');
        }
        out.extend_from_slice(b"\"encryptionContext\":{");
        for (i, (k, v)) in self.encryption_context.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(out, k);
            out.push(b':');
            write_string(out, v);
        }
        out.push(b'}');
        for (name, value) in [("keySpec", self.key_spec), ("encryptionAlgorithm", self.encryption_algorithm)] {
            if let Some(value) = value {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                write_string(out, value);
            }
        }
        out.push(b'}');
    }
}

/// A record in the trail, with the fields LookupEvents filters on.
///
/// An event made here keeps what its record says as text in one string, and the record's JSON
/// is written only when something reads it: every call makes one or two events, most of which
/// are never read, and a full trail then costs the allocator two blocks per event.
#[derive(Clone, Debug)]
pub struct Event {
    /// The order events were recorded in; NextToken points into it.
    pub seq: u64,
    pub id: uuid::Uuid,
    pub time: Timestamp,
    pub name: Cow<'static, str>,
    pub source: Source,
    pub read_only: bool,
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    Made(Made),
    /// Read back from a trail file: the record as it was written.
    Read(Box<Read>),
}

#[derive(Clone, Debug)]
struct Made {
    service_event: bool,
    who: Who,
    text: Fields,
}

#[derive(Clone, Debug)]
struct Read {
    record: String,
    username: Option<String>,
    access_key_id: Option<String>,
    resources: Vec<String>,
    account: String,
    region: String,
    error_code: Option<String>,
}

/// What an event made here keeps, in this order in [`Fields`].
#[derive(Clone, Copy)]
enum Field {
    Account,
    Region,
    Arn,
    UserId,
    AccessKeyId,
    UserAgent,
    SourceIp,
    RequestId,
    ErrorCode,
    ErrorMessage,
    /// JSON text.
    Parameters,
    /// JSON text.
    Response,
    /// JSON text.
    Additional,
    /// Separated by NUL, which no name or ARN holds.
    Resources,
}

const FIELDS: usize = Field::Resources as usize + 1;

/// Several texts in one string: where each ends, and which are there at all.
#[derive(Clone, Debug, Default)]
struct Fields {
    /// UTF-8 (every piece is a `str` or JSON written from one), checked a field at a time when
    /// a field is read: most events are never read.
    text: Vec<u8>,
    ends: [u32; FIELDS],
    present: u16,
}

impl Fields {
    fn get(&self, field: Field) -> Option<&str> {
        let i = field as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).and_then(|bytes| std::str::from_utf8(bytes).ok())
    }
}

/// Writes [`Fields`] in their order; each field is written once, present or not.
struct Packer {
    text: Vec<u8>,
    ends: [u32; FIELDS],
    present: u16,
}

impl Packer {
    fn end(&mut self, field: Field, present: bool) {
        self.ends[field as usize] = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        if present {
            self.present |= 1 << field as usize;
        }
    }

    fn text(&mut self, field: Field, value: Option<&str>) {
        if let Some(value) = value {
            self.text.extend_from_slice(value.as_bytes());
        }
        self.end(field, value.is_some());
    }

    fn json(&mut self, field: Field, value: Option<&impl Serialize>) {
        let written = value.is_some_and(|v| {
            let start = self.text.len();
            let ok = serde_json::to_writer(&mut self.text, v).is_ok();
            if !ok {
                self.text.truncate(start);
            }
            ok
        });
        self.end(field, written);
    }

    fn finish(self) -> Fields {
        Fields { text: self.text, ends: self.ends, present: self.present }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: &'static str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    request_parameters: Option<Raw<'a>>,
    response_elements: Option<Raw<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<Raw<'a>>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: uuid::Uuid,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<RecordResource<'a>>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
}

#[derive(Serialize)]
struct RecordResource<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "ARN")]
    arn: &'a str,
}

/// Cuts `text` to CloudTrail's 1 KB on a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= TEXT_LIMIT {
        return text;
    }
    let mut end = TEXT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Draft<'_> {
    /// The event at `time`; its record is written when it is read.
    #[must_use]
    pub fn into_event(self, time: Timestamp) -> Event {
        let person = self.identity.person();
        let lengths = [person.account, self.region, person.arn, person.user_id, self.source_ip, self.request_id]
            .iter()
            .map(|s| s.len())
            .sum::<usize>()
            + self.user_agent.map_or(0, str::len)
            + self.resources.iter().map(|r| r.len() + 1).sum::<usize>();
        let mut out = Packer { text: Vec::with_capacity(lengths + 160), ends: [0; FIELDS], present: 0 };
        out.text(Field::Account, Some(person.account));
        out.text(Field::Region, Some(self.region));
        out.text(Field::Arn, Some(person.arn));
        out.text(Field::UserId, Some(person.user_id));
        out.text(Field::AccessKeyId, person.access_key_id);
        out.text(Field::UserAgent, self.user_agent.map(cut));
        out.text(Field::SourceIp, Some(self.source_ip));
        out.text(Field::RequestId, Some(self.request_id));
        out.text(Field::ErrorCode, self.error.map(|(code, _)| code).filter(|c| !c.is_empty()));
        out.text(Field::ErrorMessage, self.error.map(|(_, message)| cut(message)).filter(|m| !m.is_empty()));
        match &self.request_parameters {
            Some(Elements::Json(text)) => out.text(Field::Parameters, Some(text)),
            Some(Elements::Kms(parameters)) => {
                parameters.write_json(&mut out.text);
                out.end(Field::Parameters, true);
            }
            other => out.json(Field::Parameters, other.as_ref()),
        }
        out.json(Field::Response, if self.read_only { None } else { self.response_elements.as_ref() });
        out.json(Field::Additional, self.additional.as_ref());
        let mut named = self.resources.iter().filter(|r| !r.contains('\0')).peekable();
        let any = named.peek().is_some();
        for (i, resource) in named.enumerate() {
            if i > 0 {
                out.text.push(0);
            }
            out.text.extend_from_slice(resource.as_bytes());
        }
        out.end(Field::Resources, any);
        Event {
            seq: 0,
            id: uuid::Uuid::new_v4(),
            time,
            name: self.name,
            source: self.source,
            read_only: self.read_only,
            body: Body::Made(Made { service_event: self.service_event, who: person.who, text: out.finish() }),
        }
    }
}

impl Made {
    fn person(&self) -> Person<'_> {
        let text = |field| self.text.get(field).unwrap_or_default();
        Person {
            who: self.who,
            account: text(Field::Account),
            arn: text(Field::Arn),
            user_id: text(Field::UserId),
            access_key_id: self.text.get(Field::AccessKeyId),
        }
    }
}

impl Event {
    /// The CloudTrail record, as JSON text.
    #[must_use]
    pub fn record(&self) -> Cow<'_, str> {
        match &self.body {
            Body::Read(read) => Cow::Borrowed(&read.record),
            Body::Made(made) => Cow::Owned(self.render(made)),
        }
    }

    fn render(&self, made: &Made) -> String {
        let person = made.person();
        let text = |field| made.text.get(field);
        // These fields hold JSON this module wrote (with the same writer, or serde_json).
        let json = |field| text(field).map(Raw);
        let resources: Vec<RecordResource<'_>> = match self.source.resource_type() {
            Some(kind) => self
                .resources()
                .filter(|r| r.starts_with("arn:"))
                .map(|arn| RecordResource { account_id: person.account, kind, arn })
                .collect(),
            None => Vec::new(),
        };
        let record = Record {
            event_version: EVENT_VERSION,
            user_identity: person.shape(),
            event_time: self.time.to_iso8601_seconds(),
            event_source: self.source.event_source(),
            event_name: &self.name,
            aws_region: text(Field::Region).unwrap_or_default(),
            source_ip_address: text(Field::SourceIp).unwrap_or_default(),
            user_agent: text(Field::UserAgent),
            error_code: text(Field::ErrorCode),
            error_message: text(Field::ErrorMessage),
            request_parameters: json(Field::Parameters),
            response_elements: json(Field::Response),
            additional_event_data: json(Field::Additional),
            request_id: text(Field::RequestId).unwrap_or_default(),
            event_id: self.id,
            read_only: self.read_only,
            resources,
            event_type: if made.service_event { "AwsServiceEvent" } else { "AwsApiCall" },
            management_event: true,
            recipient_account_id: person.account,
            event_category: "Management",
        };
        let written = crate::protocol::json::to_vec_with_capacity(&record, RECORD_CAPACITY);
        debug_assert!(
            written.as_deref().ok() == serde_json::to_vec(&record).ok().as_deref(),
            "the record's writer and serde_json disagree"
        );
        written.ok().and_then(|out| String::from_utf8(out).ok()).unwrap_or_default()
    }

    /// What the event holds, in bytes: the trail's bound counts this.
    #[must_use]
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + match &self.body {
                Body::Made(made) => made.text.text.capacity(),
                Body::Read(read) => read.record.len() + std::mem::size_of::<Read>(),
            }
    }

    #[must_use]
    pub fn account(&self) -> &str {
        match &self.body {
            Body::Made(made) => made.text.get(Field::Account).unwrap_or_default(),
            Body::Read(read) => &read.account,
        }
    }

    #[must_use]
    pub fn region(&self) -> &str {
        match &self.body {
            Body::Made(made) => made.text.get(Field::Region).unwrap_or_default(),
            Body::Read(read) => &read.region,
        }
    }

    /// LookupEvents' `Username`.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        match &self.body {
            Body::Made(made) => made.person().username(),
            Body::Read(read) => read.username.as_deref(),
        }
    }

    #[must_use]
    pub fn access_key_id(&self) -> Option<&str> {
        match &self.body {
            Body::Made(made) => made.text.get(Field::AccessKeyId),
            Body::Read(read) => read.access_key_id.as_deref(),
        }
    }

    /// The record's `errorCode`.
    #[must_use]
    pub fn error_code(&self) -> Option<&str> {
        match &self.body {
            Body::Made(made) => made.text.get(Field::ErrorCode),
            Body::Read(read) => read.error_code.as_deref(),
        }
    }

    /// What the call named, as sent, and the ARNs recorded: LookupEvents' `ResourceName`s.
    pub fn resources(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match &self.body {
            Body::Made(made) => Box::new(made.text.get(Field::Resources).into_iter().flat_map(|t| t.split('\0'))),
            Body::Read(read) => Box::new(read.resources.iter().map(String::as_str)),
        }
    }

    /// LookupEvents' `ResourceType`: the type of what the service's calls name, when the call
    /// named anything.
    #[must_use]
    pub fn resource_type(&self) -> Option<&'static str> {
        let named = match &self.body {
            Body::Made(made) => made.text.get(Field::Resources).is_some(),
            Body::Read(read) => !read.resources.is_empty(),
        };
        self.source.resource_type().filter(|_| named)
    }

    /// An event read back from a trail file; `None` for a line that is not a record.
    #[must_use]
    pub fn from_record(record: String) -> Option<Event> {
        let value: Value = serde_json::from_str(&record).ok()?;
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let identity = value.get("userIdentity");
        let id_text = |key: &str| identity.and_then(|i| i.get(key)).and_then(Value::as_str);
        let username = match id_text("type") {
            Some("Root") => Some("root".to_owned()),
            Some("IAMUser") => id_text("userName").map(str::to_owned),
            Some("AssumedRole") => id_text("arn").and_then(|a| a.rsplit('/').next()).map(str::to_owned),
            _ => None,
        };
        // What the request named, as sent (LookupEvents' ResourceName), then the ARNs recorded.
        let params = value.get("requestParameters");
        let named = ["secretId", "name", "keyId", "roleArn"]
            .iter()
            .filter_map(|key| params.and_then(|p| p.get(key)).and_then(Value::as_str))
            .take(1);
        let listed = params.and_then(|p| p.get("secretIdList")).and_then(Value::as_array).into_iter().flatten();
        let arns = value.get("resources").and_then(Value::as_array).into_iter().flatten();
        let mut resources: Vec<String> = named
            .chain(listed.filter_map(Value::as_str))
            .chain(arns.filter_map(|r| r.get("ARN").and_then(Value::as_str)))
            .map(str::to_owned)
            .collect();
        resources.dedup();
        let source = value.get("eventSource").and_then(Value::as_str).unwrap_or_default();
        let source = Source::ALL.into_iter().find(|s| s.event_source() == source)?;
        Some(Event {
            seq: 0,
            id: text("eventID")?.parse().ok()?,
            time: Timestamp::parse(value.get("eventTime")?.as_str()?)?,
            name: Cow::Owned(text("eventName")?),
            source,
            read_only: value.get("readOnly").and_then(Value::as_bool).unwrap_or(false),
            body: Body::Read(Box::new(Read {
                username,
                access_key_id: id_text("accessKeyId").map(str::to_owned),
                resources,
                account: text("recipientAccountId")?,
                region: text("awsRegion")?,
                error_code: text("errorCode"),
                record,
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_parameters_are_written_as_serde_writes_them() {
        let context = [
            ("SecretARN".to_owned(), "arn:aws:secretsmanager:us-east-1:1:secret:a\"b-x".to_owned()),
            ("SecretVersionId".to_owned(), "v\n1".to_owned()),
        ];
        for (key_id, spec, algorithm, context) in [
            (Some("arn:aws:kms:us-east-1:1:key/k"), Some("AES_256"), None, &context[..]),
            (None, None, Some("SYMMETRIC_DEFAULT"), &context[..1]),
            (Some("k"), None, None, &[][..]),
        ] {
            let p =
                KmsParameters { key_id, encryption_context: context, key_spec: spec, encryption_algorithm: algorithm };
            let mut out = Vec::new();
            p.write_json(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&p).unwrap());
        }
    }

    fn caller(arn: &str, user_id: &str) -> Caller {
        Caller {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            principal_arn: arn.into(),
            user_id: user_id.into(),
            session_policy: None,
        }
    }

    #[test]
    fn member_names_go_lower_camel_as_cloudtrail_writes_them() {
        assert_eq!(lower_camel("SecretId"), "secretId");
        assert_eq!(lower_camel("ARN"), "arn");
        assert_eq!(lower_camel("KMSKeyId"), "kmsKeyId");
        assert_eq!(lower_camel("KmsKeyId"), "kmsKeyId");
        assert_eq!(lower_camel("already"), "already");
        assert_eq!(lower_camel(""), "");
    }

    #[test]
    fn parameters_keep_what_was_sent_without_values_or_tokens() {
        let input = serde_json::json!({
            "SecretId": "db", "SecretString": "hunter2", "RotationToken": "tok",
            "Filters": [{"Key": "name", "Values": ["a"]}],
            "EncryptionContext": {"SecretARN": "arn"},
        });
        let out = parameters(&input, |m| m == "VersionStages").unwrap();
        let text = parameters_text(&input, |m| m == "VersionStages").unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), out);
        assert_eq!(
            out,
            serde_json::json!({
                "secretId": "db", "filters": [{"key": "name", "values": ["a"]}],
                "encryptionContext": {"SecretARN": "arn"},
            })
        );
        let huge = serde_json::json!({ "Policy": "x".repeat(ELEMENTS_LIMIT) });
        assert_eq!(parameters(&huge, |_| false), None);
        assert_eq!(parameters_text(&huge, |_| false), None);
    }

    #[test]
    fn identities_take_the_shape_of_their_principal() {
        let user = caller("arn:aws:iam::111122223333:user/dev/alice", "AIDAEXAMPLE");
        let value = Identity::Caller(&user).to_value();
        assert_eq!(value["type"], "IAMUser");
        assert_eq!(value["userName"], "alice");
        assert_eq!(Identity::Caller(&user).username(), Some("alice"));
        let role = caller("arn:aws:sts::111122223333:assumed-role/app/s1", "AROAEXAMPLE:s1");
        let value = Identity::Via(&role).to_value();
        assert_eq!(value["type"], "AssumedRole");
        assert_eq!(value["sessionContext"]["sessionIssuer"]["arn"], "arn:aws:iam::111122223333:role/app");
        assert_eq!(value["sessionContext"]["sessionIssuer"]["principalId"], "AROAEXAMPLE");
        assert_eq!(value["invokedBy"], SECRETS_MANAGER_PRINCIPAL);
        assert_eq!(Identity::Via(&role).username(), Some("s1"));
        let root = caller("arn:aws:iam::111122223333:root", "111122223333");
        assert_eq!(Identity::Caller(&root).to_value()["type"], "Root");
        let service = Identity::Service { account: "111122223333", by: SECRETS_MANAGER_PRINCIPAL }.to_value();
        assert_eq!(service, serde_json::json!({"accountId": "111122223333", "invokedBy": SECRETS_MANAGER_PRINCIPAL}));
    }

    #[test]
    fn a_record_reads_back_into_the_same_event() {
        let user = caller("arn:aws:iam::111122223333:user/alice", "AIDAEXAMPLE");
        let event = Draft {
            source: Source::SecretsManager,
            name: "DeleteSecret".into(),
            service_event: false,
            identity: Identity::Caller(&user),
            region: "eu-west-1",
            source_ip: "127.0.0.1",
            user_agent: Some("aws-cli"),
            error: Some(("ResourceNotFoundException", "nope")),
            request_parameters: Some(Elements::Value(serde_json::json!({
                "secretId": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x-abcdef"
            }))),
            response_elements: None,
            additional: None,
            request_id: "req",
            read_only: false,
            resources: Named::One("arn:aws:secretsmanager:eu-west-1:111122223333:secret:x-abcdef"),
        }
        .into_event(Timestamp::from_secs(1_767_225_600));
        let value: Value = serde_json::from_str(&event.record()).unwrap();
        assert_eq!(value["eventTime"], "2026-01-01T00:00:00Z");
        assert_eq!(value["eventName"], "DeleteSecret");
        assert_eq!(value["awsRegion"], "eu-west-1");
        assert_eq!(value["sourceIPAddress"], "127.0.0.1");
        assert_eq!(value["userAgent"], "aws-cli");
        assert_eq!(value["requestID"], "req");
        assert_eq!(value["errorCode"], "ResourceNotFoundException");
        assert_eq!(value["errorMessage"], "nope");
        assert_eq!(value["userIdentity"]["userName"], "alice");
        assert_eq!(value["userIdentity"]["accessKeyId"], "AKIAEXAMPLE");
        assert_eq!(
            value["requestParameters"]["secretId"],
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x-abcdef"
        );
        assert_eq!(value["responseElements"], Value::Null);
        assert_eq!(value["resources"][0]["type"], "AWS::SecretsManager::Secret");
        assert_eq!(value["recipientAccountId"], "111122223333");
        let back = Event::from_record(event.record().into_owned()).unwrap();
        assert_eq!(back.record(), event.record());
        let fields =
            |e: &Event| (e.id, e.name.to_string(), e.username().map(str::to_owned), e.error_code().map(str::to_owned));
        assert_eq!(fields(&back), fields(&event));
        let places = |e: &Event| (e.account().to_owned(), e.region().to_owned(), e.access_key_id().map(str::to_owned));
        assert_eq!(places(&back), places(&event));
        assert_eq!(back.resources().collect::<Vec<_>>(), event.resources().collect::<Vec<_>>());
        assert_eq!(back.resource_type(), event.resource_type());
    }

    #[test]
    fn an_event_keeps_its_texts_apart_and_leaves_out_what_is_absent() {
        let event = Draft {
            source: Source::Kms,
            name: "Decrypt".into(),
            service_event: false,
            identity: Identity::ViaAccount("111122223333"),
            region: "us-east-1",
            source_ip: SECRETS_MANAGER_PRINCIPAL,
            user_agent: Some(""),
            error: None,
            request_parameters: None,
            response_elements: Some(serde_json::json!({"ignored": true})),
            additional: Some(serde_json::json!({"SecretId": "a\u{0}b"})),
            request_id: "r",
            read_only: true,
            resources: Named::List(&["one".to_owned(), "bad\0name".to_owned(), "two".to_owned()]),
        }
        .into_event(Timestamp::from_secs(0));
        let value: Value = serde_json::from_str(&event.record()).unwrap();
        assert_eq!(value["userAgent"], "");
        assert!(value.get("errorCode").is_none() && value.get("errorMessage").is_none());
        assert_eq!(value["requestParameters"], Value::Null);
        assert_eq!(value["responseElements"], Value::Null, "a read's answer is never recorded");
        assert_eq!(value["additionalEventData"]["SecretId"], "a\u{0}b");
        assert!(value["userIdentity"].get("accessKeyId").is_none());
        assert_eq!(event.username(), None);
        assert_eq!(event.resources().collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(event.resource_type(), Some("AWS::KMS::Key"));
    }
}
