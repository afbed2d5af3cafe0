//! Known credentials: static ones from a file or flags, temporary ones issued
//! by STS AssumeRole (see [`super::session`]: those are checked, not stored),
//! and the roles AssumeRole may issue them for.
//!
//! Credentials file (TOML when the name ends in `.toml`, JSON otherwise):
//!
//! ```toml
//! [[credentials]]
//! access_key_id = "AKIAIOSFODNN7EXAMPLE"
//! secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
//! account_id = "111111111111"
//! principal_arn = "arn:aws:iam::111111111111:user/alice"   # optional, default <account> root
//! session_token = "..."                                     # optional
//! user_id = "AIDAEXAMPLEUSERID0001"                        # optional, GetCallerIdentity UserId
//!
//! [[roles]]
//! arn = "arn:aws:iam::222222222222:role/deployer"
//! role_id = "AROAEXAMPLEDEPLOYER01"                        # optional
//! trust_policy = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
//!   "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "sts:AssumeRole"}]}'''
//! ```
//!
//! `trust_policy` may also be a table (`[roles.trust_policy]`). JSON takes the
//! same fields: `{"credentials": [{...}], "roles": [{...}]}`, or a bare array
//! of credentials `[{...}, ...]`. A file holding a single credential may also
//! give its fields at the top level.

use foldhash::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use ring::digest;
use serde_json::Value;

use super::roles::{self, RoleRegistry};
use super::session::{Claims, SessionKeys};

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Where a credential came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Loaded from a credentials file (the path as given).
    File(String),
    /// Given on the command line / environment.
    Flags,
    /// Issued by STS AssumeRole.
    AssumeRole,
    /// Created by IAM CreateAccessKey.
    Iam,
}

/// One access key smemu knows. `Debug` leaves the secret and token out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub principal_arn: String,
    /// `UserId` of GetCallerIdentity: the account id for root, `AIDA…` for a
    /// user, `AROA…:<session>` for an assumed role.
    pub user_id: String,
    /// Requests made with this key must carry exactly this token.
    pub session_token: Option<String>,
    /// After this instant the key is refused with ExpiredTokenException.
    pub expiration: Option<SystemTime>,
    pub source: CredentialSource,
    /// A role session's session policy.
    pub session_policy: Option<Arc<str>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("principal_arn", &self.principal_arn)
            .field("user_id", &self.user_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expiration", &self.expiration)
            .field("source", &self.source)
            .finish()
    }
}

/// What AssumeRole hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
    /// The role's account.
    pub account_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
    pub assumed_role_arn: String,
    /// `AROA…:<session name>`.
    pub assumed_role_id: String,
}

/// A credentials problem, worded for the person who wrote the file or flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsError {
    pub message: String,
}

impl CredentialsError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CredentialsError {}

/// A role ARN taken apart: `arn:<partition>:iam::<account>:role/<path/><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account_id: String,
    /// The last path element.
    pub role_name: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if partition.is_empty() || !is_account_id(account) {
            return None;
        }
        let path_and_name = resource.strip_prefix("role/")?;
        let role_name = path_and_name.rsplit('/').next()?;
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        if role_name.is_empty() || role_name.len() > 64 || !role_name.chars().all(valid_char) {
            return None;
        }
        Some(Self {
            partition: partition.to_string(),
            account_id: account.to_string(),
            role_name: role_name.to_string(),
        })
    }
}

/// Exactly 12 ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws:iam::<account>:root`.
pub fn root_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:root")
}

/// A stable IAM-style unique id: `prefix` followed by 17 characters derived
/// from `seed`.
pub fn derived_id(prefix: &str, seed: &str) -> String {
    let hash = digest::digest(&digest::SHA256, seed.as_bytes());
    let mut out = String::with_capacity(prefix.len() + 17);
    out.push_str(prefix);
    out.extend(hash.as_ref().iter().take(17).map(|b| BASE32[(b % 32) as usize] as char));
    out
}

/// The GetCallerIdentity `UserId` for a principal: the account id for root,
/// `AROA…:<session>` for an assumed role, a derived `AIDA…` id otherwise.
pub fn user_id_for(principal_arn: &str, account_id: &str) -> String {
    if principal_arn.ends_with(":root") {
        return account_id.to_string();
    }
    if let Some((head, rest)) = principal_arn.split_once(":assumed-role/")
        && let Some((role, session)) = rest.rsplit_once('/')
    {
        let partition = head.split(':').nth(1).unwrap_or("aws");
        let role = RoleArn {
            partition: partition.to_string(),
            account_id: account_id.to_string(),
            role_name: role.to_string(),
        };
        return format!("{}:{session}", roles::default_role_id(&role));
    }
    derived_id("AIDA", principal_arn)
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    // 32 and 64 divide 256, so `byte % len` is unbiased for both alphabets.
    debug_assert!(256 % alphabet.len() == 0);
    let mut bytes = vec![0u8; len];
    crate::random::fill(&mut bytes).expect("the system random generator failed");
    bytes.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect()
}

/// Why a credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown access key, or the wrong session token for it.
    Unknown,
    /// A temporary credential past its expiry.
    Expired,
}

/// The credentials smemu accepts. Thread-safe; share it behind an `Arc` (or
/// inside an [`crate::auth::Authenticator`]).
#[derive(Debug, Default)]
pub struct CredentialStore {
    /// Static credentials only: written while the credentials file and flags
    /// load, so readers never wait in practice.
    by_key: RwLock<HashMap<String, Arc<Credential>>>,
    /// Temporary credentials: sealed into their own session tokens.
    sessions: SessionKeys,
    roles: RoleRegistry,
    /// Users, roles and managed policies with their permissions, for authorization.
    identities: crate::iam::IdentityStore,
}

/// One entry's fields before validation.
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
    principal_arn: Option<String>,
    session_token: Option<String>,
    user_id: Option<String>,
}

const FIELDS: [&str; 6] =
    ["access_key_id", "secret_access_key", "account_id", "principal_arn", "session_token", "user_id"];

impl CredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding the entries of `path`.
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        let store = Self::new();
        store.load_file(path)?;
        Ok(store)
    }

    /// Adds the credentials and roles of a credentials file; returns how
    /// many. Nothing is added when any entry is wrong. Errors name the file,
    /// the entry and the field.
    pub fn load_file(&self, path: &Path) -> Result<usize, CredentialsError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CredentialsError::new(format!("credentials file {file}: cannot read it: {e}")))?;
        let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let document: Value = if is_toml {
            toml::from_str(&text).map_err(|e| toml_error(&file, &text, &e))?
        } else {
            // Into a plain `Value`, serde_json can only fail on syntax, and its syntax messages
            // never quote the document.
            serde_json::from_str(&text)
                .map_err(|e| CredentialsError::new(format!("credentials file {file}: not valid JSON: {e}")))?
        };
        self.load_document(&file, &document)
    }

    /// Adds the entries of an already parsed credentials document; `label`
    /// names it in errors.
    pub fn load_document(&self, label: &str, document: &Value) -> Result<usize, CredentialsError> {
        let list = |name: &str, value: Option<&'_ Value>| -> Result<Vec<Value>, CredentialsError> {
            match value {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items.clone()),
                Some(_) => Err(CredentialsError::new(format!(
                    "credentials file {label}: `{name}` must be a list of entries (in TOML: [[{name}]] tables)"
                ))),
            }
        };
        let (entries, role_entries) = match document {
            Value::Array(items) => (items.clone(), Vec::new()),
            Value::Object(map)
                if map.contains_key("credentials") || map.contains_key("roles") || map.contains_key("iam") =>
            {
                if let Some(unknown) = map.keys().find(|k| !matches!(k.as_str(), "credentials" | "roles" | "iam")) {
                    return Err(CredentialsError::new(format!(
                        "credentials file {label}: unknown top-level key `{unknown}` (expected credentials, roles, iam)"
                    )));
                }
                (list("credentials", map.get("credentials"))?, list("roles", map.get("roles"))?)
            }
            Value::Object(map) if map.contains_key("access_key_id") => (vec![document.clone()], Vec::new()),
            _ => {
                return Err(CredentialsError::new(format!(
                    "credentials file {label}: expected a `credentials` list of entries (in TOML: [[credentials]] tables)"
                )));
            }
        };
        let mut declared = Vec::with_capacity(role_entries.len());
        for (index, value) in role_entries.iter().enumerate() {
            let context = match value.get("arn").and_then(Value::as_str) {
                Some(arn) => format!("credentials file {label}: role {} ({arn})", index + 1),
                None => format!("credentials file {label}: role {}", index + 1),
            };
            declared.push(
                roles::from_credentials_entry(value).map_err(|m| CredentialsError::new(format!("{context}: {m}")))?,
            );
        }
        let mut parsed = Vec::with_capacity(entries.len());
        for (index, value) in entries.iter().enumerate() {
            let context = entry_label(label, index, value);
            parsed.push(parse_entry(value).map_err(|message| CredentialsError::new(format!("{context}: {message}")))?);
        }
        let details = match document.get("iam") {
            Some(iam) if !document.is_array() => {
                let default_account = parsed.first().map_or(crate::config::DEFAULT_ACCOUNT, |e| e.account_id.as_str());
                Some(
                    super::AuthorizationDetails::parse(iam, default_account)
                        .map_err(|m| CredentialsError::new(format!("credentials file {label}: iam: {m}")))?,
                )
            }
            _ => None,
        };
        let source = CredentialSource::File(label.to_string());
        let mut credentials = Vec::with_capacity(parsed.len());
        {
            let existing = self.by_key.read();
            for (index, entry) in parsed.into_iter().enumerate() {
                let context = format!("credentials file {label}: entry {}", index + 1);
                if existing.contains_key(&entry.access_key_id) {
                    return Err(CredentialsError::new(format!(
                        "{context}: access_key_id {:?} is already defined",
                        entry.access_key_id
                    )));
                }
                if credentials.iter().any(|c: &Credential| c.access_key_id == entry.access_key_id) {
                    return Err(CredentialsError::new(format!(
                        "{context}: access_key_id {:?} appears twice in the file",
                        entry.access_key_id
                    )));
                }
                credentials.push(entry.into_credential(source.clone()));
            }
        }
        let roles = self
            .roles
            .declare(declared)
            .map_err(|m| CredentialsError::new(format!("credentials file {label}: {m}")))?;
        let count = credentials.len();
        {
            let mut map = self.by_key.write();
            for c in credentials {
                map.insert(c.access_key_id.clone(), Arc::new(c));
            }
        }
        let declared = match details {
            Some(details) => self
                .declare_details(details, &source)
                .map_err(|m| CredentialsError::new(format!("credentials file {label}: iam: {m}")))?,
            None => 0,
        };
        Ok(count + roles + declared)
    }

    /// Enters what an `iam` section declares: the roles AssumeRole may enter, the identities
    /// and their policies, and the users' access keys. Returns how many identities.
    ///
    /// # Errors
    /// An access key already known, a role declared twice, an attachment to an undeclared policy.
    pub fn declare_details(
        &self,
        details: super::AuthorizationDetails,
        source: &CredentialSource,
    ) -> Result<usize, String> {
        {
            let existing = self.by_key.read();
            if let Some(key) = details.access_keys.iter().find(|k| existing.contains_key(&k.access_key_id)) {
                return Err(format!("access key {:?} of {} is already defined", key.access_key_id, key.user_arn));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(key) = details.access_keys.iter().find(|k| !seen.insert(k.access_key_id.as_str())) {
            return Err(format!("access key {:?} appears twice", key.access_key_id));
        }
        let count = details.identities.users.len() + details.identities.roles.len();
        self.identities.declare(details.identities)?;
        self.roles.declare(details.roles)?;
        let mut map = self.by_key.write();
        for key in details.access_keys {
            let credential = Credential {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret_access_key,
                account_id: key.account_id,
                principal_arn: key.user_arn,
                user_id: key.user_id,
                session_token: None,
                expiration: None,
                source: source.clone(),
                session_policy: None,
            };
            map.insert(key.access_key_id, Arc::new(credential));
        }
        Ok(count)
    }

    /// The users, roles and managed policies smemu knows.
    pub fn identities(&self) -> &crate::iam::IdentityStore {
        &self.identities
    }

    /// Adds one static pair (from flags). `principal_arn` defaults to the
    /// account's root.
    pub fn add_static(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        account_id: &str,
        principal_arn: Option<&str>,
        session_token: Option<&str>,
    ) -> Result<(), CredentialsError> {
        let entry = Entry {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            account_id: account_id.to_string(),
            principal_arn: principal_arn.map(str::to_string),
            session_token: session_token.map(str::to_string),
            user_id: None,
        };
        entry.validate().map_err(|m| CredentialsError::new(format!("credentials from flags: {m}")))?;
        let mut map = self.by_key.write();
        if map.contains_key(access_key_id) {
            return Err(CredentialsError::new(format!(
                "credentials from flags: access_key_id {access_key_id:?} is already defined"
            )));
        }
        map.insert(access_key_id.to_string(), Arc::new(entry.into_credential(CredentialSource::Flags)));
        Ok(())
    }

    /// Makes an access key created through the IAM API usable at once (and again, once it is
    /// made active after being inactive).
    ///
    /// # Errors
    /// The key id is already known.
    pub fn add_key(&self, credential: Credential) -> Result<(), CredentialsError> {
        let mut map = self.by_key.write();
        if map.contains_key(&credential.access_key_id) {
            return Err(CredentialsError::new(format!("access key {:?} is already defined", credential.access_key_id)));
        }
        map.insert(credential.access_key_id.clone(), Arc::new(credential));
        Ok(())
    }

    /// Stops accepting an access key (deleted or made inactive through the IAM API); returns it.
    pub fn remove_key(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.by_key.write().remove(access_key_id)
    }

    /// The static credential for an access key id.
    pub fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.by_key.read().get(access_key_id).cloned()
    }

    /// The roles AssumeRole may issue credentials for.
    pub fn roles(&self) -> &RoleRegistry {
        &self.roles
    }

    /// The credential a request signed with `access_key_id` (and
    /// `session_token`, when it carries one) runs as, checked: the key is
    /// known, the token is the key's own, and a temporary credential has not
    /// expired at `now`.
    ///
    /// A temporary credential is recognised by opening its token, which
    /// touches no shared state: no lock is taken, whatever the number of
    /// credentials issued.
    pub fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: SystemTime,
    ) -> Result<Arc<Credential>, Refusal> {
        if let Some(claims) = session_token.and_then(|t| self.open_session(access_key_id, t)) {
            if SessionKeys::expired(&claims, now) {
                return Err(Refusal::Expired);
            }
            return Ok(Arc::new(self.temporary(claims, session_token.unwrap_or_default())));
        }
        let credential = self.lookup(access_key_id).ok_or(Refusal::Unknown)?;
        let token_ok = match (&credential.session_token, session_token) {
            (Some(expected), Some(given)) => super::sigv4::secure_eq(expected.as_bytes(), given.as_bytes()),
            (None, None) => true,
            _ => false,
        };
        if token_ok { Ok(credential) } else { Err(Refusal::Unknown) }
    }

    /// Who a request claims to be, unchecked (open mode): a temporary
    /// credential by its token, expired or not; a static one by its key alone.
    pub fn identify(&self, access_key_id: &str, session_token: Option<&str>) -> Option<Arc<Credential>> {
        if let Some(token) = session_token
            && let Some(claims) = self.open_session(access_key_id, token)
        {
            return Some(Arc::new(self.temporary(claims, token)));
        }
        self.lookup(access_key_id)
    }

    fn open_session(&self, access_key_id: &str, token: &str) -> Option<Claims> {
        self.sessions.open(token).filter(|c| c.access_key_id == access_key_id)
    }

    fn temporary(&self, claims: Claims, token: &str) -> Credential {
        Credential {
            secret_access_key: self.sessions.secret_for(&claims.access_key_id),
            expiration: Some(claims.expiration()),
            access_key_id: claims.access_key_id,
            account_id: claims.account_id,
            principal_arn: claims.principal_arn,
            user_id: claims.user_id,
            session_token: Some(token.to_string()),
            source: CredentialSource::AssumeRole,
            session_policy: claims.session_policy.map(Arc::from),
        }
    }

    /// Holds the static credentials for writing, so a test can show a path
    /// that never waits for them.
    #[cfg(test)]
    pub(crate) fn lookup_guard_for_tests(&self) -> parking_lot::RwLockWriteGuard<'_, HashMap<String, Arc<Credential>>> {
        self.by_key.write()
    }

    /// Number of static credentials (temporary ones are not stored).
    pub fn len(&self) -> usize {
        self.by_key.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Issues temporary credentials for AssumeRole: an `ASIA…` key, its
    /// secret and a session token, valid for `duration` from `now`, whose
    /// principal is `arn:aws:sts::<role account>:assumed-role/<role name>/<session name>`
    /// in the role's account. Nothing is stored: the token carries it all.
    /// A declared role's own role id is used; otherwise one derived from the ARN.
    pub fn issue_temporary(
        &self,
        role_arn: &str,
        session_name: &str,
        duration: Duration,
        now: SystemTime,
    ) -> Result<TemporaryCredentials, CredentialsError> {
        self.issue_session(role_arn, session_name, duration, now, None)
    }

    /// [`Self::issue_temporary`] with the session policy AssumeRole was given, which the
    /// session token carries so every request of the session is capped by it.
    pub fn issue_session(
        &self,
        role_arn: &str,
        session_name: &str,
        duration: Duration,
        now: SystemTime,
        session_policy: Option<&str>,
    ) -> Result<TemporaryCredentials, CredentialsError> {
        let role = RoleArn::parse(role_arn).ok_or_else(|| CredentialsError::new(format!("{role_arn} is invalid")))?;
        let expires =
            super::sigv4::unix_seconds(now).saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX));
        let role_id = match self.roles.get(role_arn) {
            Some(declared) => declared.role_id.clone(),
            None => roles::default_role_id(&role),
        };
        let claims = Claims {
            access_key_id: format!("ASIA{}", random_string(BASE32, 16)),
            account_id: role.account_id.clone(),
            principal_arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{session_name}",
                role.partition, role.account_id, role.role_name
            ),
            user_id: format!("{role_id}:{session_name}"),
            expires,
            session_policy: session_policy.map(str::to_string),
        };
        Ok(TemporaryCredentials {
            secret_access_key: self.sessions.secret_for(&claims.access_key_id),
            session_token: self.sessions.seal(&claims),
            expiration: claims.expiration(),
            access_key_id: claims.access_key_id,
            account_id: claims.account_id,
            assumed_role_arn: claims.principal_arn,
            assumed_role_id: claims.user_id,
        })
    }
}

/// Where a TOML file stops parsing, and in which field, without quoting it: toml's own message
/// prints the offending line, which may hold a secret access key.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> CredentialsError {
    let Some(start) = e.span().map(|span| span.start) else {
        return CredentialsError::new(format!("credentials file {file}: not valid TOML"));
    };
    let before = text.get(..start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    // Only a known field name is named: any other text on the line could be part of a value.
    let key = text[line_start..]
        .lines()
        .next()
        .and_then(|l| l.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| FIELDS.contains(key));
    CredentialsError::new(match key {
        Some(key) => format!("credentials file {file}: not valid TOML at line {line}, column {column}, in `{key}`"),
        None => format!("credentials file {file}: not valid TOML at line {line}, column {column}"),
    })
}

fn entry_label(file: &str, index: usize, value: &Value) -> String {
    match value.get("access_key_id").and_then(Value::as_str) {
        Some(key) => format!("credentials file {file}: entry {} (access_key_id {key:?})", index + 1),
        None => format!("credentials file {file}: entry {}", index + 1),
    }
}

fn parse_entry(value: &Value) -> Result<Entry, String> {
    let Value::Object(map) = value else {
        return Err("must be a table of fields (access_key_id, secret_access_key, account_id, ...)".into());
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field `{unknown}` (expected one of: {})", FIELDS.join(", ")));
    }
    let text = |name: &str| -> Result<Option<String>, String> {
        match map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("field `{name}` must be a string")),
        }
    };
    let required =
        |name: &str| -> Result<String, String> { text(name)?.ok_or_else(|| format!("missing field `{name}`")) };
    let entry = Entry {
        access_key_id: required("access_key_id")?,
        secret_access_key: required("secret_access_key")?,
        account_id: required("account_id")?,
        principal_arn: text("principal_arn")?,
        session_token: text("session_token")?,
        user_id: text("user_id")?,
    };
    entry.validate()?;
    Ok(entry)
}

impl Entry {
    fn validate(&self) -> Result<(), String> {
        let key = &self.access_key_id;
        if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("field `access_key_id` must be 1 to 128 letters, digits or underscores, got {key:?}"));
        }
        if self.secret_access_key.is_empty() {
            return Err("field `secret_access_key` must not be empty".into());
        }
        if !is_account_id(&self.account_id) {
            return Err(format!("field `account_id` must be 12 digits, got {:?}", self.account_id));
        }
        if let Some(arn) = &self.principal_arn {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[4] != self.account_id {
                return Err(format!(
                    "field `principal_arn` must be an ARN in account {} (like arn:aws:iam::{}:user/NAME), got {arn:?}",
                    self.account_id, self.account_id
                ));
            }
        }
        if self.session_token.as_deref() == Some("") {
            return Err("field `session_token` must not be empty when given".into());
        }
        if self.user_id.as_deref() == Some("") {
            return Err("field `user_id` must not be empty when given".into());
        }
        Ok(())
    }

    fn into_credential(self, source: CredentialSource) -> Credential {
        let principal_arn = self.principal_arn.unwrap_or_else(|| root_arn(&self.account_id));
        let user_id = self.user_id.unwrap_or_else(|| user_id_for(&principal_arn, &self.account_id));
        Credential {
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            account_id: self.account_id,
            principal_arn,
            user_id,
            session_token: self.session_token,
            expiration: None,
            source,
            session_policy: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::UNIX_EPOCH;

    /// A file in the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(extension: &str, contents: &str) -> Self {
            let path = std::env::temp_dir().join(format!("smemu-credentials-{}.{extension}", uuid::Uuid::new_v4()));
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }

        fn name(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const TOML_FILE: &str = r#"
[[credentials]]
access_key_id = "AKIAALICE0000000001"
secret_access_key = "alice-secret"
account_id = "111111111111"
principal_arn = "arn:aws:iam::111111111111:user/alice"

[[credentials]]
access_key_id = "AKIAROOT00000000002"
secret_access_key = "root-secret"
account_id = "222222222222"
session_token = "tok"

[[roles]]
arn = "arn:aws:iam::222222222222:role/deployer"
trust_policy = '''{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}}'''

[[roles]]
arn = "arn:aws:iam::222222222222:role/ci/reader"
[roles.trust_policy]
Version = "2012-10-17"
[[roles.trust_policy.Statement]]
Effect = "Allow"
Principal = { AWS = "arn:aws:iam::111111111111:user/alice" }
Action = "sts:AssumeRole"
"#;

    #[test]
    fn loads_toml() {
        let file = TempFile::new("toml", TOML_FILE);
        let store = CredentialStore::from_file(&file.0).unwrap();
        assert_eq!(store.len(), 2);
        let alice = store.lookup("AKIAALICE0000000001").unwrap();
        assert_eq!(alice.secret_access_key, "alice-secret");
        assert_eq!(alice.account_id, "111111111111");
        assert_eq!(alice.principal_arn, "arn:aws:iam::111111111111:user/alice");
        assert!(alice.user_id.starts_with("AIDA") && alice.user_id.len() == 21);
        assert_eq!(alice.session_token, None);
        assert_eq!(alice.source, CredentialSource::File(file.name()));
        let root = store.lookup("AKIAROOT00000000002").unwrap();
        assert_eq!(root.principal_arn, "arn:aws:iam::222222222222:root");
        assert_eq!(root.user_id, "222222222222");
        assert_eq!(root.session_token.as_deref(), Some("tok"));
        assert!(store.lookup("AKIAUNKNOWN").is_none());
        assert_eq!(store.roles().len(), 2);
        let alice = ("arn:aws:iam::111111111111:user/alice", "111111111111");
        assert!(store.roles().may_assume(alice.0, alice.1, "arn:aws:iam::222222222222:role/deployer"));
        assert!(store.roles().may_assume(alice.0, alice.1, "arn:aws:iam::222222222222:role/ci/reader"));
        assert!(!store.roles().may_assume(
            "arn:aws:iam::111111111111:root",
            alice.1,
            "arn:aws:iam::222222222222:role/ci/reader"
        ));
    }

    #[test]
    fn loads_json_in_both_shapes() {
        let entry = r#"{"access_key_id":"AKIAJSON","secret_access_key":"s","account_id":"333333333333","user_id":"AIDAFIXEDID"}"#;
        for text in [format!("{{\"credentials\":[{entry}]}}"), format!("[{entry}]"), entry.to_string()] {
            let file = TempFile::new("json", &text);
            let store = CredentialStore::from_file(&file.0).unwrap();
            let c = store.lookup("AKIAJSON").unwrap();
            assert_eq!(c.account_id, "333333333333");
            assert_eq!(c.user_id, "AIDAFIXEDID");
        }
    }

    #[test]
    fn errors_name_file_entry_and_field() {
        let cases = [
            (
                "toml",
                "[[credentials]]\naccess_key_id = \"AKIA1\"\nsecret_access_key = \"s\"\naccount_id = \"12345\"\n",
                "entry 1 (access_key_id \"AKIA1\"): field `account_id` must be 12 digits, got \"12345\"",
            ),
            (
                "toml",
                "[[credentials]]\naccess_key_id = \"AKIA1\"\nsecret_access_key = \"s\"\naccount_id = \"111111111111\"\n\n[[credentials]]\naccess_key_id = \"AKIA2\"\naccount_id = \"111111111111\"\n",
                "entry 2 (access_key_id \"AKIA2\"): missing field `secret_access_key`",
            ),
            (
                "json",
                r#"[{"access_key_id":"AKIA1","secret_access_key":"s","account_id":"111111111111","secret_key":"x"}]"#,
                "entry 1 (access_key_id \"AKIA1\"): unknown field `secret_key` (expected one of: access_key_id, secret_access_key, account_id, principal_arn, session_token, user_id)",
            ),
            (
                "json",
                r#"[{"access_key_id":"AKIA1","secret_access_key":"s","account_id":111111111111}]"#,
                "entry 1 (access_key_id \"AKIA1\"): field `account_id` must be a string",
            ),
            (
                "json",
                r#"[{"access_key_id":"AKIA1","secret_access_key":"s","account_id":"111111111111","principal_arn":"arn:aws:iam::999999999999:user/x"}]"#,
                "entry 1 (access_key_id \"AKIA1\"): field `principal_arn` must be an ARN in account 111111111111",
            ),
            (
                "json",
                r#"[{"access_key_id":"AKIA1","secret_access_key":"s","account_id":"111111111111"},{"access_key_id":"AKIA1","secret_access_key":"t","account_id":"111111111111"}]"#,
                "entry 2: access_key_id \"AKIA1\" appears twice in the file",
            ),
            ("json", r#"{"users": []}"#, "expected a `credentials` list of entries"),
            (
                "json",
                r#"{"credentials": [], "role": []}"#,
                "unknown top-level key `role` (expected credentials, roles, iam)",
            ),
            ("json", r#"{"roles": {}}"#, "`roles` must be a list of entries (in TOML: [[roles]] tables)"),
            (
                "json",
                r#"{"roles": [{"arn": "arn:aws:iam::222222222222:role/r"}]}"#,
                "role 1 (arn:aws:iam::222222222222:role/r): missing field `trust_policy`",
            ),
            (
                "json",
                r#"{"roles": [{"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": {"Statement": []}}, {"arn": "arn:aws:iam::222222222222:role/r", "trust_policy": {"Statement": []}}]}"#,
                "role arn:aws:iam::222222222222:role/r is declared twice",
            ),
            ("json", "{not json", "not valid JSON"),
            ("toml", "credentials = [", "not valid TOML at line 1, column 16"),
            (
                "toml",
                "[[credentials]]\naccess_key_id = \"AKIA1\"\nsecret_access_key = \"wJalr/unterminated\naccount_id = \"1\"\n",
                "not valid TOML at line 3, column 40, in `secret_access_key`",
            ),
        ];
        for (extension, text, expected) in cases {
            let file = TempFile::new(extension, text);
            let store = CredentialStore::new();
            let err = store.load_file(&file.0).unwrap_err().message;
            let prefix = format!("credentials file {}: ", file.name());
            assert!(err.starts_with(&prefix), "{err}");
            assert!(err.contains(expected), "{err}\n  does not contain\n{expected}");
            assert!(store.is_empty() && store.roles().is_empty(), "nothing is added from a bad file");
            assert!(!err.contains("wJalr"), "a value is quoted: {err}");
        }
        let missing = CredentialStore::new().load_file(Path::new("/nonexistent/creds.toml")).unwrap_err();
        assert!(missing.message.starts_with("credentials file /nonexistent/creds.toml: cannot read it: "));
    }

    #[test]
    fn static_pair_from_flags() {
        let store = CredentialStore::new();
        store.add_static("AKIAFLAGS", "secret", "444444444444", None, None).unwrap();
        assert_eq!(store.lookup("AKIAFLAGS").unwrap().principal_arn, "arn:aws:iam::444444444444:root");
        assert_eq!(store.lookup("AKIAFLAGS").unwrap().source, CredentialSource::Flags);
        let err = store.add_static("AKIAFLAGS", "secret", "444444444444", None, None).unwrap_err();
        assert_eq!(err.message, "credentials from flags: access_key_id \"AKIAFLAGS\" is already defined");
        let err = store.add_static("AKIA X", "secret", "444444444444", None, None).unwrap_err();
        assert!(err.message.starts_with("credentials from flags: field `access_key_id` must be"));
        let err = store.add_static("AKIAOK", "", "444444444444", None, None).unwrap_err();
        assert_eq!(err.message, "credentials from flags: field `secret_access_key` must not be empty");
    }

    #[test]
    fn role_arns() {
        let role = RoleArn::parse("arn:aws:iam::123456789012:role/service-role/my-role").unwrap();
        assert_eq!(role.account_id, "123456789012");
        assert_eq!(role.role_name, "my-role");
        assert_eq!(role.partition, "aws");
        for bad in [
            "arn:aws:iam::12345:role/r",
            "arn:aws:iam::123456789012:user/u",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/",
            "not-an-arn",
        ] {
            assert_eq!(RoleArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn temporary_credentials() {
        let store = CredentialStore::new();
        let now = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        let t = store
            .issue_temporary("arn:aws:iam::555555555555:role/app/reader", "s1", Duration::from_secs(3600), now)
            .unwrap();
        assert!(t.access_key_id.starts_with("ASIA") && t.access_key_id.len() == 20);
        assert!(t.access_key_id[4..].bytes().all(|b| BASE32.contains(&b)));
        assert_eq!(t.secret_access_key.len(), 40);
        assert!(!t.session_token.is_empty());
        assert_eq!(t.expiration, now + Duration::from_secs(3600));
        assert_eq!(t.account_id, "555555555555");
        assert_eq!(t.assumed_role_arn, "arn:aws:sts::555555555555:assumed-role/reader/s1");
        assert!(t.assumed_role_id.starts_with("AROA") && t.assumed_role_id.ends_with(":s1"));
        // The same role always has the same role id, and user_id_for agrees.
        let again = store
            .issue_temporary("arn:aws:iam::555555555555:role/app/reader", "s2", Duration::from_secs(900), now)
            .unwrap();
        assert_eq!(again.assumed_role_id.split(':').next(), t.assumed_role_id.split(':').next());
        assert_eq!(user_id_for(&t.assumed_role_arn, "555555555555"), t.assumed_role_id);
        assert_ne!(again.access_key_id, t.access_key_id);
        assert_ne!(again.secret_access_key, t.secret_access_key);

        let resolved = store.resolve(&t.access_key_id, Some(&t.session_token), now).unwrap();
        assert_eq!(resolved.secret_access_key, t.secret_access_key);
        assert_eq!(resolved.session_token.as_deref(), Some(t.session_token.as_str()));
        assert_eq!(resolved.expiration, Some(t.expiration));
        assert_eq!(resolved.principal_arn, t.assumed_role_arn);
        assert_eq!(resolved.user_id, t.assumed_role_id);
        assert_eq!(resolved.account_id, "555555555555");
        assert_eq!(resolved.source, CredentialSource::AssumeRole);
        assert!(store.lookup(&t.access_key_id).is_none(), "temporary credentials are not stored");

        // The token belongs to its key; expiry is exact.
        assert_eq!(store.resolve(&t.access_key_id, None, now).unwrap_err(), Refusal::Unknown);
        assert_eq!(store.resolve(&again.access_key_id, Some(&t.session_token), now).unwrap_err(), Refusal::Unknown);
        let expiry = now + Duration::from_secs(3600);
        assert!(store.resolve(&t.access_key_id, Some(&t.session_token), expiry - Duration::from_secs(1)).is_ok());
        assert_eq!(store.resolve(&t.access_key_id, Some(&t.session_token), expiry).unwrap_err(), Refusal::Expired);
        // Open mode identifies it even when expired.
        assert_eq!(store.identify(&t.access_key_id, Some(&t.session_token)).unwrap().principal_arn, t.assumed_role_arn);
        // Another instance never accepts it.
        assert_eq!(
            CredentialStore::new().resolve(&t.access_key_id, Some(&t.session_token), now).unwrap_err(),
            Refusal::Unknown
        );

        let err = store.issue_temporary("arn:aws:iam::1:role/r", "s", Duration::from_secs(900), now).unwrap_err();
        assert_eq!(err.message, "arn:aws:iam::1:role/r is invalid");
    }

    #[test]
    fn declared_roles_keep_their_role_id() {
        let store = CredentialStore::new();
        let document = serde_json::json!({"roles": [{
            "arn": "arn:aws:iam::555555555555:role/app/reader",
            "role_id": "AROAREADERROLEID0001",
            "trust_policy": {"Statement": {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}},
        }]});
        assert_eq!(store.load_document("roles.json", &document).unwrap(), 1);
        let now = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        let t = store
            .issue_temporary("arn:aws:iam::555555555555:role/app/reader", "s1", Duration::from_secs(900), now)
            .unwrap();
        assert_eq!(t.assumed_role_id, "AROAREADERROLEID0001:s1");
        assert_eq!(store.resolve(&t.access_key_id, Some(&t.session_token), now).unwrap().user_id, t.assumed_role_id);
        assert!(store.roles().may_assume(
            "arn:aws:iam::111111111111:root",
            "111111111111",
            "arn:aws:iam::555555555555:role/app/reader"
        ));
    }

    /// Issuing costs no memory and no lock: a burst of AssumeRole calls leaves
    /// the store as it was, and every credential still checks out.
    #[test]
    fn issuing_does_not_grow_the_store() {
        let store = CredentialStore::new();
        store.add_static("AKIASTATIC", "s", "111111111111", None, None).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        let mut last = None;
        for i in 0..100_000 {
            let t = store
                .issue_temporary("arn:aws:iam::555555555555:role/r", &format!("s{i}"), Duration::from_secs(900), now)
                .unwrap();
            last = Some(t);
        }
        assert_eq!(store.len(), 1);
        assert_eq!(store.by_key.read().len(), 1);
        let last = last.unwrap();
        assert_eq!(
            store.resolve(&last.access_key_id, Some(&last.session_token), now).unwrap().principal_arn,
            "arn:aws:sts::555555555555:assumed-role/r/s99999"
        );
    }

    /// Checking a temporary credential takes no lock: it succeeds while the
    /// static map is locked for writing by another thread.
    #[test]
    fn resolving_a_temporary_credential_takes_no_lock() {
        let store = Arc::new(CredentialStore::new());
        let now = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        let t = store.issue_temporary("arn:aws:iam::555555555555:role/r", "s", Duration::from_secs(900), now).unwrap();
        let guard = store.by_key.write();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = {
            let store = store.clone();
            std::thread::spawn(move || {
                let _ =
                    tx.send(store.resolve(&t.access_key_id, Some(&t.session_token), now).map(|c| c.account_id.clone()));
            })
        };
        // A real timeout, not a sleep: it only matters when the test fails.
        let answer = rx.recv_timeout(Duration::from_secs(10));
        drop(guard);
        worker.join().unwrap();
        assert_eq!(answer.expect("resolve waited for the lock"), Ok("555555555555".to_string()));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let store = CredentialStore::new();
        store.add_static("AKIADEBUG", "very-secret", "111111111111", None, Some("tok3n")).unwrap();
        let text = format!("{store:?}");
        assert!(text.contains("AKIADEBUG"));
        assert!(!text.contains("very-secret") && !text.contains("tok3n"), "{text}");
    }

    #[test]
    fn user_ids() {
        assert_eq!(user_id_for("arn:aws:iam::111111111111:root", "111111111111"), "111111111111");
        let id = user_id_for("arn:aws:iam::111111111111:user/bob", "111111111111");
        assert!(id.starts_with("AIDA") && id.len() == 21);
        assert_eq!(id, user_id_for("arn:aws:iam::111111111111:user/bob", "111111111111"));
    }
}
