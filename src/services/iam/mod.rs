//! IAM on the same port: the operations that say who may do what (users and their access keys,
//! roles, inline and managed policies, attachments, tags) and the policy simulator, over the
//! Query protocol ([`crate::protocol::query`]), routed by the SigV4 signing name `iam`.
//!
//! IAM is global: one set of identities per account, whatever region a request is signed for.
//! Every write goes into the identity store the credentials file and seeds fill
//! ([`crate::iam::store`]), so a created user, key or policy is in force on the next request;
//! the simulator asks the same evaluation engine enforcement does ([`crate::iam::policy`]).
//! What the store does not keep (creation dates, key states and secrets, descriptions,
//! managed-policy tags) is kept here, in [`Iam`].

mod durable;
mod entities;
mod managed;
mod simulate;

pub use durable::{AccountImage, Secrets};

use std::collections::HashMap;

use http::{HeaderMap, Method, Uri};
use parking_lot::Mutex;

use crate::App;
use crate::auth::Caller;
use crate::clock::Timestamp;
use crate::iam::Document;
use crate::iam::policy::Policy;
use crate::protocol::query::{self, Params, QueryResponse, Xml};

/// XML namespace of every IAM response.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The one API version IAM has.
pub const API_VERSION: &str = "2010-05-08";
/// The SigV4 signing name.
pub const SIGNING_NAME: &str = "iam";

/// Access keys a user may have at once.
const ACCESS_KEYS_PER_USER: usize = 2;
/// Versions a managed policy may have at once.
const VERSIONS_PER_POLICY: usize = 5;
/// Tags an entity may carry.
const TAGS_PER_ENTITY: usize = 50;
const DEFAULT_MAX_ITEMS: usize = 100;
const MAX_ITEMS: usize = 1000;

/// True when the request is for IAM: never one with an `X-Amz-Target` header (a JSON service);
/// otherwise one whose SigV4 credential scope names `iam`.
#[must_use]
pub fn is_iam_request(headers: &HeaderMap, uri: &Uri) -> bool {
    !headers.contains_key("x-amz-target") && query::signing_name(headers, uri).as_deref() == Some(SIGNING_NAME)
}

/// What IAM keeps beside the identity store.
#[derive(Default)]
pub struct Iam {
    meta: Mutex<Meta>,
    /// Held from a change until its image is journalled, so images reach the journal in the
    /// order of the changes they show.
    order: Mutex<()>,
    changelog: std::sync::OnceLock<std::sync::Arc<dyn crate::services::secretsmanager::state::ChangeLog>>,
    sealer: std::sync::OnceLock<std::sync::Arc<crate::services::kms::sealer::Sealer>>,
}

#[derive(Debug, Default)]
struct Meta {
    /// Creation dates by ARN (users, roles, policies) or access key id; identities declared in
    /// files have none and show when smemu started.
    created: HashMap<String, Timestamp>,
    /// Managed policy versions' creation dates, by (policy ARN, version id).
    version_created: HashMap<(String, String), Timestamp>,
    /// The next version number of each managed policy: ids are never reused.
    next_version: HashMap<String, u32>,
    /// Access keys created here (declared ones are active and have no entry).
    keys: HashMap<String, KeyRecord>,
    /// Role and managed policy descriptions, by ARN.
    descriptions: HashMap<String, String>,
    /// Role maximum session durations, by ARN.
    max_session: HashMap<String, u32>,
    /// Managed policy tags, by ARN.
    policy_tags: HashMap<String, Vec<(String, String)>>,
    started: Option<Timestamp>,
    /// Accounts the API changed: those kept under `--data-dir` and in the export.
    touched: std::collections::BTreeSet<String>,
}

/// An access key created through the API. The secret is kept so the key can be made active
/// again after being made inactive; it never leaves memory.
#[derive(Clone)]
struct KeyRecord {
    user: String,
    active: bool,
    credential: crate::auth::Credential,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord").field("user", &self.user).field("active", &self.active).finish_non_exhaustive()
    }
}

impl Meta {
    fn created(&self, key: &str) -> Timestamp {
        self.created.get(key).copied().or(self.started).unwrap_or_default()
    }
}

/// An IAM error: its code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl IamError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(404, "NoSuchEntity", message)
    }

    fn already_exists(message: impl Into<String>) -> Self {
        Self::new(409, "EntityAlreadyExists", message)
    }

    fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new(409, "DeleteConflict", message)
    }

    fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(409, "LimitExceeded", message)
    }

    fn malformed(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedPolicyDocument", message)
    }

    fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidInput", message)
    }

    /// AWS's `ValidationError` for one member: `1 validation error detected: ...`.
    fn validation(problem: impl std::fmt::Display) -> Self {
        Self::new(400, "ValidationError", format!("1 validation error detected: {problem}"))
    }
}

type Answer = Result<Option<String>, IamError>;

/// The operations smemu serves, one per IAM action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateUser,
    GetUser,
    ListUsers,
    DeleteUser,
    TagUser,
    UntagUser,
    ListUserTags,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    UpdateAssumeRolePolicy,
    TagRole,
    UntagRole,
    ListRoleTags,
    ListInstanceProfilesForRole,
    PutUserPolicy,
    GetUserPolicy,
    DeleteUserPolicy,
    ListUserPolicies,
    PutRolePolicy,
    GetRolePolicy,
    DeleteRolePolicy,
    ListRolePolicies,
    CreatePolicy,
    GetPolicy,
    DeletePolicy,
    ListPolicies,
    CreatePolicyVersion,
    GetPolicyVersion,
    DeletePolicyVersion,
    ListPolicyVersions,
    SetDefaultPolicyVersion,
    AttachUserPolicy,
    DetachUserPolicy,
    AttachRolePolicy,
    DetachRolePolicy,
    ListAttachedUserPolicies,
    ListAttachedRolePolicies,
    ListEntitiesForPolicy,
    SimulatePrincipalPolicy,
    SimulateCustomPolicy,
}

macro_rules! operations {
    ($($op:ident),* $(,)?) => {
        impl Operation {
            const ALL: &'static [Operation] = &[$(Operation::$op),*];

            #[must_use]
            pub fn name(self) -> &'static str {
                match self { $(Operation::$op => stringify!($op)),* }
            }
        }
    };
}

operations!(
    CreateUser,
    GetUser,
    ListUsers,
    DeleteUser,
    TagUser,
    UntagUser,
    ListUserTags,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    UpdateAssumeRolePolicy,
    TagRole,
    UntagRole,
    ListRoleTags,
    ListInstanceProfilesForRole,
    PutUserPolicy,
    GetUserPolicy,
    DeleteUserPolicy,
    ListUserPolicies,
    PutRolePolicy,
    GetRolePolicy,
    DeleteRolePolicy,
    ListRolePolicies,
    CreatePolicy,
    GetPolicy,
    DeletePolicy,
    ListPolicies,
    CreatePolicyVersion,
    GetPolicyVersion,
    DeletePolicyVersion,
    ListPolicyVersions,
    SetDefaultPolicyVersion,
    AttachUserPolicy,
    DetachUserPolicy,
    AttachRolePolicy,
    DetachRolePolicy,
    ListAttachedUserPolicies,
    ListAttachedRolePolicies,
    ListEntitiesForPolicy,
    SimulatePrincipalPolicy,
    SimulateCustomPolicy,
);

impl Operation {
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// Whether the operation changes IAM's state (and so is journalled).
    #[must_use]
    pub fn is_mutating(self) -> bool {
        const READS: [&str; 3] = ["Get", "List", "Simulate"];
        !READS.iter().any(|prefix| self.name().starts_with(prefix))
    }
}

/// An IAM request's parameters, read once: the pipeline takes what the request line shows from
/// them before [`handle`] serves them.
#[derive(Debug)]
pub struct IamRequest {
    params: Params,
}

impl IamRequest {
    pub fn parse(method: &Method, uri: &Uri, body: &[u8]) -> Self {
        Self { params: Params::parse(method, uri, body) }
    }

    /// The action, when it is one smemu serves.
    #[must_use]
    pub fn operation(&self) -> Option<Operation> {
        self.params.action().and_then(Operation::from_name)
    }

    /// The parameters its audit record shows: what it names and the documents it sets, as
    /// CloudTrail records IAM calls; never a secret access key (IAM takes none as a parameter).
    #[must_use]
    pub fn audited_parameters(&self) -> Vec<(&'static str, Option<&str>)> {
        [
            "UserName",
            "RoleName",
            "PolicyName",
            "PolicyArn",
            "PolicySourceArn",
            "PolicyDocument",
            "AssumeRolePolicyDocument",
            "PermissionsBoundary",
            "VersionId",
            "AccessKeyId",
            "Status",
            "Path",
            "Description",
        ]
        .into_iter()
        .map(|name| (name, self.params.get(name)))
        .collect()
    }

    /// What the request names, as sent (never a policy document).
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        ["UserName", "RoleName", "PolicyArn", "PolicySourceArn"].iter().find_map(|name| self.params.get(name))
    }
}

/// An authentication failure as IAM reports it.
#[must_use]
pub fn auth_error_response(err: &crate::auth::AuthError) -> QueryResponse {
    let answer = crate::services::sts::auth_error_response(err);
    // The same codes and statuses as STS, in IAM's namespace.
    QueryResponse { body: answer.body.replace(crate::services::sts::XMLNS, XMLNS), ..answer }
}

/// What one operation sees.
struct Ctx<'a> {
    app: &'a App,
    caller: &'a Caller,
    /// The account whose identities the request reads and writes: the caller's.
    account: &'a str,
    params: &'a Params,
    now: Timestamp,
}

/// Serves one IAM request made by `caller` (already authenticated). A change is answered once
/// it is durable (`--data-dir`).
pub async fn handle(app: &std::sync::Arc<App>, caller: &Caller, request: &IamRequest) -> QueryResponse {
    let request_id = crate::protocol::request_id();
    let params = &request.params;
    let Some(action) = params.action() else {
        return query::error(
            XMLNS,
            400,
            "MissingAction",
            "The request is missing an action or a required parameter.",
            request_id,
        );
    };
    let version = params.get("Version").unwrap_or(API_VERSION);
    let Some(op) = Operation::from_name(action).filter(|_| version == API_VERSION) else {
        return query::error(
            XMLNS,
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version {version}"),
            request_id,
        );
    };
    let ctx = Ctx { app, caller, account: &caller.account_id, params, now: app.engine.now() };
    if let Err(refused) = authorize(&ctx, op) {
        return query::error(XMLNS, refused.status, refused.code, &refused.message, request_id);
    }
    let outcome = if op.is_mutating() {
        let order = app.iam.order.lock();
        let outcome = dispatch(&ctx, op);
        // A refused change changed nothing; only a made one is journalled.
        let kept = match &outcome {
            Ok(_) => app.iam.journal(app, ctx.account),
            Err(_) => Ok(()),
        };
        drop(order);
        match kept {
            Ok(()) => match app.durable().await {
                Ok(()) => outcome,
                Err(e) => Err(not_kept(&e.message)),
            },
            Err(e) => Err(not_kept(&e)),
        }
    } else {
        dispatch(&ctx, op)
    };
    match outcome {
        Ok(result) => query::success(XMLNS, op.name(), result.as_deref(), request_id),
        Err(e) => query::error(XMLNS, e.status, e.code, &e.message, request_id),
    }
}

/// IAM's answer when a change could not be made durable.
fn not_kept(why: &str) -> IamError {
    tracing::error!(error = %why, "an IAM change could not be kept");
    IamError::new(500, "ServiceFailure", "The request processing has failed because of an unknown error.")
}

/// With `--authorize enforce`, whether the caller's policies allow `iam:<Action>` on what the
/// request names, as the pipeline asks for every other service.
fn authorize(ctx: &Ctx<'_>, op: Operation) -> Result<(), IamError> {
    if !ctx.app.authorizer.enforcing() {
        return Ok(());
    }
    let resource = resource_of(ctx, op);
    let action = format!("iam:{}", op.name());
    let target = crate::iam::enforce::Target {
        arn: Some(resource.clone()),
        account: ctx.account.to_string(),
        ..crate::iam::enforce::Target::default()
    };
    let evaluation = ctx.app.authorizer.evaluate(ctx.store(), ctx.caller, &action, &[], &target, ctx.now);
    if evaluation.allowed() {
        return Ok(());
    }
    let denial =
        evaluation.denial.unwrap_or(crate::iam::policy::Denial::NoAllow(crate::iam::policy::PolicyKind::Identity));
    Err(IamError::new(403, "AccessDenied", denial.message(&ctx.caller.principal_arn, &action, Some(&resource))))
}

/// The ARN an IAM action is authorized on: the named user, role or policy (with its path when
/// it exists), or the account's kind of entity for listings.
fn resource_of(ctx: &Ctx<'_>, op: Operation) -> String {
    let account = ctx.store().account(ctx.account).unwrap_or_default();
    let iam = |rest: &str| format!("arn:aws:iam::{}:{rest}", ctx.account);
    let path = ctx.get("Path").unwrap_or("/");
    if let Some(arn) = ctx.get("PolicyArn").or_else(|| ctx.get("PolicySourceArn")) {
        return arn.to_string();
    }
    if let Some(name) = ctx.get("RoleName") {
        return entities::key_of(&account.roles, name)
            .and_then(|k| account.roles.get(&k).map(|r| r.arn.clone()))
            .unwrap_or_else(|| iam(&format!("role{path}{name}")));
    }
    if let Some(name) = ctx.get("UserName") {
        return entities::key_of(&account.users, name)
            .and_then(|k| account.users.get(&k).map(|u| u.arn.clone()))
            .unwrap_or_else(|| iam(&format!("user{path}{name}")));
    }
    match op {
        Operation::CreatePolicy => iam(&format!("policy{path}{}", ctx.get("PolicyName").unwrap_or_default())),
        Operation::ListUsers => iam("user/"),
        Operation::ListRoles => iam("role/"),
        Operation::ListPolicies => iam("policy/"),
        Operation::SimulateCustomPolicy => "*".to_string(),
        // The caller's own user (GetUser, the access key calls without a name).
        _ => ctx.caller.principal_arn.clone(),
    }
}

fn dispatch(ctx: &Ctx<'_>, op: Operation) -> Answer {
    use Operation as O;
    match op {
        O::CreateUser => entities::create_user(ctx),
        O::GetUser => entities::get_user(ctx),
        O::ListUsers => entities::list_users(ctx),
        O::DeleteUser => entities::delete_user(ctx),
        O::TagUser => entities::tag(ctx, entities::Kind::User),
        O::UntagUser => entities::untag(ctx, entities::Kind::User),
        O::ListUserTags => entities::list_tags(ctx, entities::Kind::User),
        O::CreateAccessKey => entities::create_access_key(ctx),
        O::ListAccessKeys => entities::list_access_keys(ctx),
        O::UpdateAccessKey => entities::update_access_key(ctx),
        O::DeleteAccessKey => entities::delete_access_key(ctx),
        O::CreateRole => entities::create_role(ctx),
        O::GetRole => entities::get_role(ctx),
        O::ListRoles => entities::list_roles(ctx),
        O::DeleteRole => entities::delete_role(ctx),
        O::UpdateAssumeRolePolicy => entities::update_assume_role_policy(ctx),
        O::TagRole => entities::tag(ctx, entities::Kind::Role),
        O::UntagRole => entities::untag(ctx, entities::Kind::Role),
        O::ListRoleTags => entities::list_tags(ctx, entities::Kind::Role),
        O::ListInstanceProfilesForRole => entities::list_instance_profiles_for_role(ctx),
        O::PutUserPolicy => entities::put_inline(ctx, entities::Kind::User),
        O::GetUserPolicy => entities::get_inline(ctx, entities::Kind::User),
        O::DeleteUserPolicy => entities::delete_inline(ctx, entities::Kind::User),
        O::ListUserPolicies => entities::list_inline(ctx, entities::Kind::User),
        O::PutRolePolicy => entities::put_inline(ctx, entities::Kind::Role),
        O::GetRolePolicy => entities::get_inline(ctx, entities::Kind::Role),
        O::DeleteRolePolicy => entities::delete_inline(ctx, entities::Kind::Role),
        O::ListRolePolicies => entities::list_inline(ctx, entities::Kind::Role),
        O::CreatePolicy => managed::create_policy(ctx),
        O::GetPolicy => managed::get_policy(ctx),
        O::DeletePolicy => managed::delete_policy(ctx),
        O::ListPolicies => managed::list_policies(ctx),
        O::CreatePolicyVersion => managed::create_policy_version(ctx),
        O::GetPolicyVersion => managed::get_policy_version(ctx),
        O::DeletePolicyVersion => managed::delete_policy_version(ctx),
        O::ListPolicyVersions => managed::list_policy_versions(ctx),
        O::SetDefaultPolicyVersion => managed::set_default_policy_version(ctx),
        O::AttachUserPolicy => managed::attach(ctx, entities::Kind::User),
        O::DetachUserPolicy => managed::detach(ctx, entities::Kind::User),
        O::AttachRolePolicy => managed::attach(ctx, entities::Kind::Role),
        O::DetachRolePolicy => managed::detach(ctx, entities::Kind::Role),
        O::ListAttachedUserPolicies => managed::list_attached(ctx, entities::Kind::User),
        O::ListAttachedRolePolicies => managed::list_attached(ctx, entities::Kind::Role),
        O::ListEntitiesForPolicy => managed::list_entities_for_policy(ctx),
        O::SimulatePrincipalPolicy => simulate::simulate_principal_policy(ctx),
        O::SimulateCustomPolicy => simulate::simulate_custom_policy(ctx),
    }
}

impl Ctx<'_> {
    fn iam(&self) -> &Iam {
        &self.app.iam
    }

    fn store(&self) -> &crate::iam::IdentityStore {
        self.app.auth.credentials().identities()
    }

    fn meta(&self) -> parking_lot::MutexGuard<'_, Meta> {
        let mut meta = self.iam().meta.lock();
        meta.started.get_or_insert(self.now);
        meta
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// A required member; `wire` is its name in AWS's validation messages (`userName`).
    fn required(&self, name: &str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| {
            IamError::validation(format!(
                "Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// A required name of 1 to `max` characters of `[\w+=,.@-]`.
    fn name(&self, member: &str, max: usize) -> Result<&str, IamError> {
        let value = self.required(member)?;
        check_name(member, value, max)?;
        Ok(value)
    }

    /// The `Path` (or `PathPrefix`) member, `/` when not sent.
    fn path(&self, member: &str) -> Result<String, IamError> {
        let Some(path) = self.get(member) else { return Ok("/".to_string()) };
        let valid = path.len() <= 512
            && path.starts_with('/')
            && (member == "PathPrefix" || path.ends_with('/'))
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !valid {
            return Err(IamError::validation(format!(
                "Value '{path}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
                lower_first(member)
            )));
        }
        Ok(path.to_string())
    }

    /// `Tags.member.N.Key` / `.Value`.
    fn tags(&self) -> Result<Vec<(String, String)>, IamError> {
        let entries = self.params.structures("Tags");
        // Counted before reading them, so a flood of tags costs no duplicate checks.
        if entries.len() > TAGS_PER_ENTITY {
            return Err(IamError::validation(format!(
                "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {TAGS_PER_ENTITY}"
            )));
        }
        let mut tags: Vec<(String, String)> = Vec::new();
        for prefix in entries {
            let key = self.get(&format!("{prefix}Key")).unwrap_or_default();
            let value = self.get(&format!("{prefix}Value")).unwrap_or_default();
            if key.is_empty() || key.chars().count() > 128 {
                return Err(IamError::validation(format!(
                    "Value '{key}' at 'tags.{}.member.key' failed to satisfy constraint: Member must have length between 1 and 128",
                    tags.len() + 1
                )));
            }
            if value.chars().count() > 256 {
                return Err(IamError::validation(format!(
                    "Value at 'tags.{}.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
                    tags.len() + 1
                )));
            }
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(IamError::invalid_input(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
            tags.push((key.to_string(), value.to_string()));
        }
        Ok(tags)
    }

    /// `MaxItems` (1 to 1000, 100 when not sent) and `Marker`.
    fn paging(&self) -> Result<(usize, Option<&str>), IamError> {
        let max = match self.get("MaxItems") {
            None => DEFAULT_MAX_ITEMS,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n < 1 => {
                    return Err(IamError::validation(format!(
                        "Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
                    )));
                }
                Ok(n) if n > MAX_ITEMS as i64 => {
                    return Err(IamError::validation(format!(
                        "Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to {MAX_ITEMS}"
                    )));
                }
                Ok(n) => usize::try_from(n).unwrap_or(DEFAULT_MAX_ITEMS),
                Err(_) => return Err(IamError::invalid_input(format!("Invalid value for MaxItems: {text}"))),
            },
        };
        Ok((max, self.get("Marker").filter(|m| !m.is_empty())))
    }

    /// A policy document member, parsed by the policy engine: `identity` for identity policies,
    /// otherwise a trust policy (every statement names a principal).
    fn document(&self, member: &str, identity: bool) -> Result<Document, IamError> {
        let text = self.required(member)?;
        parse_document(text, identity)
    }
}

fn parse_document(text: &str, identity: bool) -> Result<Document, IamError> {
    if text.is_empty() {
        return Err(IamError::validation(
            "Value at 'policyDocument' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let policy = Policy::parse(text).map_err(|e| IamError::malformed(e.message()))?;
    let checked = if identity { policy.check_identity() } else { policy.check_resource() };
    checked.map_err(|e| IamError::malformed(e.message()))?;
    Ok(Document { text: text.to_string(), policy })
}

/// Characters of a policy that count against IAM's size quotas: all but whitespace.
fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn check_name(member: &str, value: &str, max: usize) -> Result<(), IamError> {
    let wire = lower_first(member);
    if value.is_empty() || value.chars().count() > max {
        return Err(IamError::validation(format!(
            "Value '{value}' at '{wire}' failed to satisfy constraint: Member must have length {}",
            if value.is_empty() {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {max}")
            }
        )));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        return Err(IamError::validation(format!(
            "Value '{value}' at '{wire}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

/// `UserName` → `userName`, as AWS names members in validation messages.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A policy document as IAM returns it: URL-encoded.
fn encode_document(text: &str) -> String {
    crate::auth::sigv4::uri_encode(text.as_bytes(), false)
}

fn date(t: Timestamp) -> String {
    t.to_iso8601_seconds()
}

/// A random IAM id: `prefix` (`AIDA`, `AROA`, `ANPA`) and 17 upper-case letters and digits.
fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17))
}

fn random(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // Without the system's random source nothing smemu issues could be trusted; ids from a
    // failed draw would all be equal, so a failure is not hidden.
    if crate::random::fill(&mut bytes).is_err() {
        tracing::error!("the system random generator failed");
    }
    bytes.iter().map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()])).collect()
}

/// One page of `items` (sorted by `key`), starting after the marker, and the `IsTruncated` /
/// `Marker` elements that go with it.
fn page<T>(items: Vec<T>, key: impl Fn(&T) -> String, max: usize, marker: Option<&str>) -> (Vec<T>, String) {
    let start = marker.map_or(0, |m| items.iter().position(|item| key(item).as_str() >= m).unwrap_or(items.len()));
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = (rest.len() > max).then(|| key(&rest[max]));
    rest.truncate(max);
    let mut xml = Xml::new();
    xml.field("IsTruncated", if next.is_some() { "true" } else { "false" });
    xml.opt("Marker", next.as_deref());
    (rest, xml.finish())
}

/// The tags element of an entity.
fn write_tags(xml: &mut Xml, tags: &[(String, String)]) {
    if !tags.is_empty() {
        xml.members("Tags", tags, |xml, (key, value)| {
            xml.field("Key", key).field("Value", value);
        });
    }
}

/// The account a policy ARN belongs to, and whether it is well formed.
fn policy_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "iam", "", account, resource]
        if (crate::auth::is_account_id(account) || *account == crate::iam::store::AWS_MANAGED)
            && resource.starts_with("policy/"))
}
