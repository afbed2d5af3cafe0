//! Enforcement: whether a request may run, decided once in the pipeline from the facts its
//! operation states ([`Access`]), the caller's identity policies, the resource's policy and, for
//! the key behind a secret value, the key policy.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Whether calls are authorised (`--authorize`, env `SMEMU_AUTHORIZE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AuthorizeMode {
    /// Every authenticated caller may do everything (resource policies are stored, not enforced).
    #[default]
    Off,
    /// Every Secrets Manager and KMS call is evaluated as AWS evaluates it.
    Enforce,
}

impl AuthorizeMode {
    pub const ALL: [AuthorizeMode; 2] = [AuthorizeMode::Off, AuthorizeMode::Enforce];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeMode::Off => "off",
            AuthorizeMode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for AuthorizeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthorizeMode {
    type Err = String;

    /// `off` or `enforce` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        AuthorizeMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("invalid authorize mode '{s}' (expected one of: off, enforce)"))
    }
}

/// What one request asks to do, as its operation states it: the action, the resource as the
/// caller named it, and the condition keys taken from the parameters actually sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// `secretsmanager:GetSecretValue`, `kms:Decrypt`.
    pub action: &'static str,
    /// The resource as sent (a secret's name or ARN, a key id, alias or ARN); `None` for
    /// actions without a resource (ListSecrets, GetRandomPassword, CreateKey).
    pub resource: Option<String>,
    /// Condition keys and their values, only for parameters the request carries.
    pub context: Vec<(String, Vec<String>)>,
    /// Per-item checks of a batch (BatchGetSecretValue's `GetSecretValue` per secret).
    pub each: Vec<String>,
}

impl Access {
    #[must_use]
    pub fn new(action: &'static str, resource: Option<&str>) -> Self {
        Self { action, resource: resource.map(str::to_string), ..Self::default() }
    }

    /// Adds a condition key with its values (lower-case names are matched case-insensitively
    /// by the engine).
    #[must_use]
    pub fn with(mut self, key: &str, values: Vec<String>) -> Self {
        self.context.push((key.to_string(), values));
        self
    }
}

use foldhash::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::policy::{self, Context, Decision, Evaluation, Named, Outcome, Policy, PolicySet, Principal, ResourceKind};
use super::store::{IdentityStore, Permissions};
use crate::auth::Caller;
use crate::clock::Timestamp;
use crate::error::{ApiError, ErrorCode};

/// `Access to KMS is not allowed`: Secrets Manager's refusal when the key behind a value
/// refuses the caller (no trailing period, as AWS words it).
pub const KMS_NOT_ALLOWED: &str = "Access to KMS is not allowed";

/// The refusal of a value read or write across accounts on a secret under the managed key,
/// whose policy admits callers of its own account only.
pub const DEFAULT_KEY_CROSS_ACCOUNT: &str = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";

/// The resource side of a request: what it is, whose it is, and its policy.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The full ARN matched against `Resource` elements; `None` for actions without a resource.
    pub arn: Option<String>,
    /// The account that owns the resource (the caller's for actions without one).
    pub account: String,
    /// The resource's policy (a secret's resource policy, a key's policy); `None` for none, or
    /// for one that does not parse, which grants nothing.
    pub policy: Option<Arc<Policy>>,
    pub kind: ResourceKind,
    /// Condition keys the resource contributes (`aws:ResourceTag/*`, `secretsmanager:SecretId`).
    pub context: Vec<(String, Vec<String>)>,
}

impl Target {
    /// How explanations and logs name the target's policy.
    fn policy_label(&self) -> String {
        let arn = self.arn.as_deref().unwrap_or("*");
        match self.kind {
            ResourceKind::Key => format!("key policy of {arn}"),
            ResourceKind::Resource | ResourceKind::Trust => format!("resource policy of {arn}"),
        }
    }
}

/// Parsed resource and key policies by their text, so a policy is parsed once, not per request.
#[derive(Debug, Default)]
pub struct PolicyCache {
    parsed: RwLock<HashMap<String, Arc<Policy>>>,
}

/// Entries kept at most; the cache starts over when full (policies are few in practice).
const POLICY_CACHE_LIMIT: usize = 4096;

impl PolicyCache {
    /// The parsed form of `text`; `None` when it does not parse (then it grants nothing).
    #[must_use]
    pub fn get(&self, text: &str) -> Option<Arc<Policy>> {
        if let Some(policy) = self.parsed.read().get(text) {
            return Some(policy.clone());
        }
        let policy = Arc::new(Policy::parse(text).ok()?);
        let mut parsed = self.parsed.write();
        if parsed.len() >= POLICY_CACHE_LIMIT {
            parsed.clear();
        }
        parsed.insert(text.to_string(), policy.clone());
        Some(policy)
    }
}

tokio::task_local! {
    /// The address of the peer of the connection the current request came on: `aws:SourceIp`
    /// (the socket's peer, as AWS takes the address the request came from, not a header).
    static SOURCE_IP: std::net::IpAddr;
}

/// Runs the request `answer` knowing its peer's address, for `aws:SourceIp`.
pub async fn from_peer<F: std::future::Future>(peer: std::net::IpAddr, answer: F) -> F::Output {
    SOURCE_IP.scope(peer.to_canonical(), answer).await
}

/// How the identity side is labelled when `--authorize off` leaves it unchecked.
const IDENTITY_NOT_CHECKED: &str = "identity policies (not checked with --authorize off)";

/// The identity side with `--authorize off`: everything, so only resource and key policies decide.
static ALLOW_ALL: std::sync::LazyLock<Arc<super::Document>> = std::sync::LazyLock::new(|| {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let policy = Policy::parse(text).unwrap_or_else(|_| unreachable!("the allow-all policy parses"));
    Arc::new(super::Document { text: text.to_string(), policy })
});

/// The request's side of an evaluation: the keys its operation states, and the peer's address
/// when the request came over a connection (the explain endpoint's questions did not).
struct Asked<'a> {
    keys: &'a [(String, Vec<String>)],
    /// Keys the pipeline sets itself (the KMS keys of a use of a key through Secrets Manager).
    set: &'a [(&'a str, &'a [String])],
    source_ip: Option<std::net::IpAddr>,
}

/// Decides requests; one per process, shared by every request.
#[derive(Debug, Default)]
pub struct Authorizer {
    pub mode: AuthorizeMode,
    pub policies: PolicyCache,
}

/// What the pipeline is told about a refused request.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub evaluation: Evaluation,
    pub message: String,
}

impl Refusal {
    #[must_use]
    pub fn api_error(&self) -> ApiError {
        ApiError::new(ErrorCode::AccessDeniedException, self.message.clone())
    }
}

/// What the identity store says of one caller at one generation of the store.
struct Known {
    generation: u64,
    account: String,
    arn: String,
    user_id: String,
    permissions: Permissions,
    principal: Principal,
}

thread_local! {
    /// The caller each thread evaluated last: a request is evaluated for its secret and again
    /// for the key behind the value, and clients send many requests as one identity.
    static LAST: std::cell::RefCell<Option<std::rc::Rc<Known>>> = const { std::cell::RefCell::new(None) };
}

/// `caller`'s permissions and principal, read again from the store only when the caller or
/// the store has changed since this thread last asked.
fn identity_of(identities: &IdentityStore, caller: &Caller) -> std::rc::Rc<Known> {
    // Read before the store: a change in between only makes the next call read it again.
    let generation = identities.generation();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(known) = last.as_ref().filter(|k| {
            k.generation == generation
                && k.arn == caller.principal_arn
                && k.user_id == caller.user_id
                && k.account == caller.account_id
        }) {
            return std::rc::Rc::clone(known);
        }
        let permissions = identities.permissions(&caller.account_id, &caller.principal_arn);
        let principal = principal_of(caller, &permissions);
        let known = std::rc::Rc::new(Known {
            generation,
            account: caller.account_id.clone(),
            arn: caller.principal_arn.clone(),
            user_id: caller.user_id.clone(),
            permissions,
            principal,
        });
        *last = Some(std::rc::Rc::clone(&known));
        known
    })
}

/// The principal a caller is, with what the identity store knows of it.
#[must_use]
pub fn principal_of(caller: &Caller, permissions: &Permissions) -> Principal {
    let mut principal = Principal::from_arn(&caller.principal_arn, &caller.user_id).with_tags(permissions.tags.clone());
    if permissions.username.is_some() {
        principal.username.clone_from(&permissions.username);
    }
    principal
}

impl Authorizer {
    #[must_use]
    pub fn new(mode: AuthorizeMode) -> Self {
        Self { mode, policies: PolicyCache::default() }
    }

    #[must_use]
    pub fn enforcing(&self) -> bool {
        self.mode == AuthorizeMode::Enforce
    }

    /// Whether a request by `caller` on a resource of `owner` is checked at all: always under
    /// enforcement; with enforcement off only across accounts, where the owner's resource (or
    /// key) policy must admit the caller — otherwise any credentials would read any account.
    #[must_use]
    pub fn checks(&self, caller: &Caller, owner: &str) -> bool {
        self.enforcing() || caller.account_id != owner
    }

    /// Evaluates `access` by `caller` on `target` as AWS does, whatever the mode (the explain
    /// endpoint asks even with enforcement off). `now` feeds `aws:CurrentTime`/`aws:EpochTime`.
    #[must_use]
    pub fn evaluate(
        &self,
        identities: &IdentityStore,
        caller: &Caller,
        action: &str,
        request_keys: &[(String, Vec<String>)],
        target: &Target,
        now: Timestamp,
    ) -> Evaluation {
        let request = Asked { keys: request_keys, set: &[], source_ip: None };
        self.evaluate_as(AuthorizeMode::Enforce, identities, caller, action, &request, target, now, true)
    }

    /// [`Self::evaluate`] as `mode` decides: with enforcement off the caller's identity side
    /// (identity policies, boundary, session policy) is not checked and counts as allowing, so
    /// only the resource side (and its explicit denies) decides. Without `explain`, only the
    /// decision (see [`policy::decide`]).
    #[allow(clippy::too_many_arguments)]
    fn evaluate_as(
        &self,
        mode: AuthorizeMode,
        identities: &IdentityStore,
        caller: &Caller,
        action: &str,
        request: &Asked<'_>,
        target: &Target,
        now: Timestamp,
        explain: bool,
    ) -> Evaluation {
        let known = identity_of(identities, caller);
        let unchecked = mode == AuthorizeMode::Off;
        let not_checked;
        let permissions = if unchecked {
            not_checked = Permissions {
                identity: vec![(IDENTITY_NOT_CHECKED.to_string(), ALLOW_ALL.clone())],
                boundary: None,
                ..known.permissions.clone()
            };
            &not_checked
        } else {
            &known.permissions
        };
        let principal = &known.principal;
        let mut context = Context::new();
        context.borrow_all(request.keys).borrow_all(&target.context).borrow_pairs(request.set);
        context.set_globals(now, &caller.region, request.source_ip);
        let session = caller.session_policy.as_deref().filter(|_| !unchecked).and_then(|text| self.policies.get(text));
        let set = PolicySet {
            identity: permissions.identity.iter().map(|(label, doc)| Named::new(label.as_str(), &doc.policy)).collect(),
            // Labels are for explanations: a decision alone never shows them.
            resource: target.policy.as_ref().map(|policy| {
                let label = if explain { Cow::Owned(target.policy_label()) } else { Cow::Borrowed("") };
                Named::new(label, policy.as_ref())
            }),
            boundary: permissions.boundary.as_ref().map(|(label, doc)| Named::new(label.as_str(), &doc.policy)),
            session: session.as_deref().map(|policy| Named::new("session policy", policy)),
            resource_kind: target.kind,
        };
        let request = policy::Request {
            principal,
            action,
            resource: target.arn.as_deref(),
            resource_account: Some(&target.account),
            context: &context,
        };
        if explain { policy::evaluate(&request, &set) } else { policy::decide(&request, &set) }
    }

    /// Whether `caller` may perform `access` on `target`: `Ok` when enforcement is off or the
    /// policies allow; otherwise AWS's refusal, logged with the deciding policy and statement.
    ///
    /// # Errors
    /// The refusal.
    pub fn check(
        &self,
        identities: &IdentityStore,
        caller: &Caller,
        access: &Access,
        target: &Target,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        self.check_action(identities, caller, access.action, access.resource.as_deref(), &access.context, target, now)
    }

    /// [`Self::check`] for one action and resource as sent.
    ///
    /// # Errors
    /// The refusal.
    #[allow(clippy::too_many_arguments)]
    pub fn check_action(
        &self,
        identities: &IdentityStore,
        caller: &Caller,
        action: &str,
        as_sent: Option<&str>,
        request_keys: &[(String, Vec<String>)],
        target: &Target,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        let request = Asked { keys: request_keys, set: &[], source_ip: None };
        self.check_asked(identities, caller, action, as_sent, request, target, now)
    }

    /// [`Self::check_action`] for the request `request` describes (the peer's address is
    /// filled in here).
    #[allow(clippy::too_many_arguments)]
    fn check_asked(
        &self,
        identities: &IdentityStore,
        caller: &Caller,
        action: &str,
        as_sent: Option<&str>,
        mut request: Asked<'_>,
        target: &Target,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        if !self.checks(caller, &target.account) {
            return Ok(());
        }
        request.source_ip = SOURCE_IP.try_with(|ip| *ip).ok();
        if self.evaluate_as(self.mode, identities, caller, action, &request, target, now, false).allowed() {
            return Ok(());
        }
        // Refused: again, with every statement's part in it, for the log and the explanation.
        let evaluation = self.evaluate_as(self.mode, identities, caller, action, &request, target, now, true);
        let shown = as_sent.filter(|_| target.arn.is_some());
        let message = match evaluation.denial {
            Some(denial) => denial.message(&caller.principal_arn, action, shown),
            None => policy::Denial::NoAllow(policy::PolicyKind::Identity).message(&caller.principal_arn, action, shown),
        };
        log_refusal(caller, action, as_sent, &evaluation);
        Err(Refusal { evaluation, message })
    }

    /// Whether the key behind a secret value lets `caller` use it through Secrets Manager:
    /// `kms:Decrypt` for reads, `kms:GenerateDataKey` for writes, with `kms:ViaService` set.
    /// The managed key (`key: None`) admits callers of its own account only; a customer key's
    /// policy (and, where it delegates to the account, the caller's identity policies) decides.
    ///
    /// # Errors
    /// `InvalidRequestException` for another account's caller on the managed key;
    /// `AccessDeniedException` `Access to KMS is not allowed` when the key refuses.
    pub fn authorize_key_use(
        &self,
        identities: &IdentityStore,
        caller: &Caller,
        use_: &KeyUse<'_>,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let Some(key) = &use_.key else {
            if caller.account_id == use_.secret_account {
                return Ok(());
            }
            tracing::info!(
                target: "smemu::authorize",
                principal = %caller.principal_arn,
                action = use_.action,
                secret = use_.secret_arn,
                "refused: the managed key aws/secretsmanager admits its own account only"
            );
            return Err(ApiError::new(ErrorCode::InvalidRequestException, DEFAULT_KEY_CROSS_ACCOUNT));
        };
        let target = Target {
            arn: Some(key.arn.clone()),
            account: key.account.clone(),
            policy: key.policy.clone(),
            kind: ResourceKind::Key,
            context: Vec::new(),
        };
        let via = [format!("secretsmanager.{}.amazonaws.com", caller.region)];
        let set: [(&str, &[String]); 4] = [
            ("kms:ViaService", &via),
            ("kms:CallerAccount", std::slice::from_ref(&caller.account_id)),
            ("kms:EncryptionContext:SecretARN", std::slice::from_ref(use_.secret_arn)),
            ("kms:EncryptionContextKeys", &*SECRET_CONTEXT_KEYS),
        ];
        let request = Asked { keys: &[], set: &set, source_ip: None };
        self.check_asked(identities, caller, use_.action, Some(&key.arn), request, &target, now)
            .map_err(|_| ApiError::new(ErrorCode::AccessDeniedException, KMS_NOT_ALLOWED))
    }
}

/// Whether a Lambda function's resource policy (`policy`, as GetPolicy shows it) lets `service`
/// invoke it on behalf of the resource `source_arn` of `source_account` (`aws:SourceArn`,
/// `aws:SourceAccount`, which AddPermission's `--source-arn`/`--source-account` restrict), as
/// Lambda asks before Secrets Manager runs a rotation function. The service has no identity
/// policies: only an allow naming it (or everyone) admits it; an explicit deny refuses it.
#[must_use]
pub fn service_may_invoke(
    policies: &PolicyCache,
    policy: &str,
    function_arn: &str,
    service: &str,
    source_arn: &str,
    source_account: &str,
) -> bool {
    let Some(policy) = policies.get(policy) else { return false };
    let principal = Principal::service(service);
    let mut context = Context::new();
    context.insert("aws:SourceArn", source_arn.to_string());
    context.insert("aws:SourceAccount", source_account.to_string());
    let set = PolicySet {
        resource: Some(Named::new(format!("resource policy of {function_arn}"), policy.as_ref())),
        resource_kind: ResourceKind::Resource,
        ..PolicySet::default()
    };
    let request = policy::Request {
        principal: &principal,
        action: "lambda:InvokeFunction",
        resource: Some(function_arn),
        resource_account: function_arn.split(':').nth(4),
        context: &context,
    };
    policy::decide(&request, &set).allowed()
}

/// Whether `caller` may assume `role`: its trust policy alone decides, as AssumeRole asks it.
#[must_use]
pub fn may_assume(identities: &IdentityStore, caller: &Caller, role: &super::store::Role) -> bool {
    let permissions = identities.permissions(&caller.account_id, &caller.principal_arn);
    let principal = principal_of(caller, &permissions);
    let context = Context::new();
    let set = PolicySet {
        resource: Some(Named::new(role.arn.as_str(), &role.trust.policy)),
        resource_kind: ResourceKind::Trust,
        ..PolicySet::default()
    };
    let request = policy::Request {
        principal: &principal,
        action: crate::auth::roles::ASSUME_ROLE_ACTION,
        resource: Some(&role.arn),
        resource_account: Some(&role.account_id),
        context: &context,
    };
    policy::decide(&request, &set).allowed()
}

/// The keys of the encryption context Secrets Manager gives KMS for every value.
static SECRET_CONTEXT_KEYS: std::sync::LazyLock<[String; 2]> =
    std::sync::LazyLock::new(|| ["SecretARN".to_owned(), "SecretVersionId".to_owned()]);

/// A customer managed key as authorization sees it.
#[derive(Debug, Clone)]
pub struct KeyFacts {
    pub arn: String,
    pub account: String,
    /// `None`: a policy that does not parse (it grants nothing).
    pub policy: Option<Arc<Policy>>,
}

/// One use of the key behind a secret value.
#[derive(Debug, Clone)]
pub struct KeyUse<'a> {
    /// `kms:Decrypt` or `kms:GenerateDataKey`.
    pub action: &'static str,
    /// `None`: the managed key `aws/secretsmanager` of the secret's account.
    pub key: Option<KeyFacts>,
    pub secret_arn: &'a String,
    pub secret_account: &'a str,
}

/// Every refusal at info, with the policy and statement that decided it, so "why was I
/// denied?" is answered from the log. Never a value: actions, ARNs and policy names only.
fn log_refusal(caller: &Caller, action: &str, resource: Option<&str>, evaluation: &Evaluation) {
    let describe = |index: usize| {
        evaluation.statements.get(index).map(|f| {
            let sid = f.sid.as_deref().map_or_else(|| format!("#{}", f.index), |s| format!("{s:?}"));
            format!("{} ({} policy), statement {sid}", f.policy, f.kind.label())
        })
    };
    let (deciding, closest) = if evaluation.decision == Decision::ExplicitDeny {
        (evaluation.deciding.first().and_then(|i| describe(*i)), None)
    } else {
        (None, evaluation.closest.and_then(describe))
    };
    let reason = match evaluation.denial {
        Some(policy::Denial::ExplicitDeny(kind)) => format!("explicit deny in a {} policy", kind.label()),
        Some(policy::Denial::NoAllow(kind)) => format!("no {} policy allows it", kind.label()),
        None => "denied".to_string(),
    };
    let closest_miss = evaluation.closest.and_then(|i| evaluation.statements.get(i)).and_then(|f| match &f.outcome {
        Outcome::NotApplied(m) => Some(format!("{m:?}")),
        Outcome::Applied => None,
    });
    tracing::info!(
        target: "smemu::authorize",
        principal = %caller.principal_arn,
        action,
        resource = resource.unwrap_or("-"),
        reason,
        deciding = deciding.as_deref().unwrap_or("-"),
        closest = closest.as_deref().unwrap_or("-"),
        closest_mismatch = closest_miss.as_deref().unwrap_or("-"),
        "refused"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::store::{Declared, User};
    use std::collections::BTreeMap;

    const ARN: &str = "arn:aws:iam::111122223333:user/reader";

    fn reader(policy: Option<&str>) -> Declared {
        let inline: BTreeMap<String, Arc<super::super::Document>> = policy
            .map(|text| {
                let doc = super::super::Document::from_value(&serde_json::Value::String(text.to_owned())).unwrap();
                ("read".to_owned(), Arc::new(doc))
            })
            .into_iter()
            .collect();
        let user = User {
            name: "reader".into(),
            path: "/".into(),
            arn: ARN.into(),
            user_id: "AIDAREADER".into(),
            account_id: "111122223333".into(),
            inline,
            attached: Vec::new(),
            boundary: None,
            tags: Vec::new(),
            access_keys: Vec::new(),
            groups: Vec::new(),
        };
        Declared { users: vec![user], ..Declared::default() }
    }

    fn allowed(authorizer: &Authorizer, identities: &IdentityStore) -> bool {
        let caller = Caller {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            access_key_id: None,
            principal_arn: ARN.into(),
            user_id: "AIDAREADER".into(),
            session_policy: None,
        };
        let target = Target {
            arn: Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf".into()),
            account: "111122223333".into(),
            ..Target::default()
        };
        let access = Access::new("secretsmanager:GetSecretValue", Some("db"));
        authorizer.check(identities, &caller, &access, &target, Timestamp::from_secs(0)).is_ok()
    }

    #[test]
    fn what_is_kept_of_a_caller_goes_when_the_store_changes_or_is_another() {
        let authorizer = Authorizer::new(AuthorizeMode::Enforce);
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
        let store = IdentityStore::default();
        store.declare(reader(None)).unwrap();
        assert!(!allowed(&authorizer, &store));
        store.declare(reader(Some(allow))).unwrap();
        assert!(allowed(&authorizer, &store), "the policy given since is seen");
        let other = IdentityStore::default();
        other.declare(reader(None)).unwrap();
        assert!(!allowed(&authorizer, &other), "another store with the same caller is its own");
        assert!(allowed(&authorizer, &store));
        store.update("111122223333", |account, _| account.users.clear());
        assert!(!allowed(&authorizer, &store), "a change through the IAM API is seen too");
    }
}
