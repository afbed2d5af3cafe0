//! Evaluating one request against the policies that apply to it (spec §2.1–2.3), explaining
//! every statement on the way.

use std::borrow::Cow;

use super::condition::{self, Context};
use super::denial::{Denial, PolicyKind};
use super::parse::{Effect, Policy, PrincipalSet, Statement};
use super::pattern;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `arn:aws:iam::<acct>:root`, `...:user/<path/><name>`,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`; a service's name for a service.
    pub arn: String,
    /// Empty for services and anonymous callers, which belong to no account.
    pub account: String,
    pub kind: PrincipalKind,
    /// GetCallerIdentity's `UserId` (`aws:userid`).
    pub user_id: String,
    /// `aws:username`: IAM users only.
    pub username: Option<String>,
    /// `aws:PrincipalTag/*`.
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    User,
    /// A role session; `role_arn` is the role's ARN (its path may be unknown).
    AssumedRole {
        role_arn: String,
        session: String,
    },
    /// An AWS service acting on its own behalf, e.g. `secretsmanager.amazonaws.com`.
    Service(String),
    Anonymous,
}

impl Principal {
    /// The root user of `account`.
    #[must_use]
    pub fn root(account: &str) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_string(),
            kind: PrincipalKind::Root,
            user_id: account.to_string(),
            username: None,
            tags: Vec::new(),
        }
    }

    /// An IAM user from its ARN.
    #[must_use]
    pub fn user(arn: &str, user_id: &str) -> Self {
        let account = arn.split(':').nth(4).unwrap_or_default().to_string();
        let username = arn.rsplit('/').next().map(str::to_string);
        Self {
            arn: arn.to_string(),
            account,
            kind: PrincipalKind::User,
            user_id: user_id.to_string(),
            username,
            tags: Vec::new(),
        }
    }

    /// A session of `role_arn` named `session`.
    #[must_use]
    pub fn assumed_role(role_arn: &str, session: &str, role_id: &str) -> Self {
        let account = role_arn.split(':').nth(4).unwrap_or_default().to_string();
        let role_name = role_arn.rsplit('/').next().unwrap_or_default();
        Self {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            account,
            kind: PrincipalKind::AssumedRole { role_arn: role_arn.to_string(), session: session.to_string() },
            user_id: format!("{role_id}:{session}"),
            username: None,
            tags: Vec::new(),
        }
    }

    /// An AWS service principal such as `secretsmanager.amazonaws.com`.
    #[must_use]
    pub fn service(name: &str) -> Self {
        Self {
            arn: name.to_string(),
            account: String::new(),
            kind: PrincipalKind::Service(name.to_string()),
            user_id: name.to_string(),
            username: None,
            tags: Vec::new(),
        }
    }

    /// The principal a caller ARN names: root, user or role session (other forms are users).
    #[must_use]
    pub fn from_arn(arn: &str, user_id: &str) -> Self {
        let mut parts = arn.splitn(6, ':');
        let (account, resource) = match (parts.nth(4), parts.next()) {
            (Some(account), Some(resource)) => (account, resource),
            _ => ("", ""),
        };
        if resource == "root" {
            return Self::root(account);
        }
        if let Some(rest) = resource.strip_prefix("assumed-role/")
            && let Some((role, session)) = rest.split_once('/')
        {
            let mut p = Self::assumed_role(&format!("arn:aws:iam::{account}:role/{role}"), session, "");
            p.user_id = user_id.to_string();
            return p;
        }
        Self::user(arn, user_id)
    }

    #[must_use]
    pub fn with_tags(mut self, tags: Vec<(String, String)>) -> Self {
        self.tags = tags;
        self
    }

    /// The condition keys IAM derives from the caller itself.
    fn key(&self, key: &str) -> Option<String> {
        // Keys are short; a name too long for the buffer is none of these.
        let mut buf = [0u8; 64];
        let lower = lower_in(&mut buf, key).unwrap_or_default();
        let in_account = !self.account.is_empty();
        match lower {
            "aws:principalarn" => match &self.kind {
                PrincipalKind::AssumedRole { role_arn, .. } => Some(role_arn.clone()),
                PrincipalKind::Anonymous => None,
                _ => Some(self.arn.clone()),
            },
            "aws:principalaccount" if in_account => Some(self.account.clone()),
            "aws:userid" if !matches!(self.kind, PrincipalKind::Anonymous) => Some(self.user_id.clone()),
            "aws:username" => self.username.clone().filter(|_| self.kind == PrincipalKind::User),
            "aws:principaltype" => Some(
                match self.kind {
                    PrincipalKind::Root => "Account",
                    PrincipalKind::User => "User",
                    PrincipalKind::AssumedRole { .. } => "AssumedRole",
                    PrincipalKind::Service(_) => "AWSService",
                    PrincipalKind::Anonymous => "Anonymous",
                }
                .to_string(),
            ),
            "aws:principalisawsservice" => Some(matches!(self.kind, PrincipalKind::Service(_)).to_string()),
            "aws:principalservicename" => match &self.kind {
                PrincipalKind::Service(name) => Some(name.clone()),
                _ => None,
            },
            _ => {
                let prefix = "aws:principaltag/";
                let tag = key.get(prefix.len()..).filter(|_| key[..prefix.len()].eq_ignore_ascii_case(prefix))?;
                self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag)).map(|(_, v)| v.clone())
            }
        }
    }
}

/// `text` lower-cased into `buf`, when it fits: the names requests are matched by, without an
/// allocation per request.
fn lower_in<'b>(buf: &'b mut [u8], text: &str) -> Option<&'b str> {
    let out = buf.get_mut(..text.len())?;
    out.copy_from_slice(text.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `service:Action`, e.g. `secretsmanager:GetSecretValue`.
    pub action: &'a str,
    /// The resource's full ARN; `None` for actions without a resource (ListSecrets).
    pub resource: Option<&'a str>,
    /// The account owning the resource; `None` means the caller's own.
    pub resource_account: Option<&'a str>,
    pub context: &'a Context<'a>,
}

impl Request<'_> {
    /// A condition key's values: from the context, else derived from the principal.
    fn values(&self, key: &str) -> Option<Cow<'_, [String]>> {
        if let Some(v) = self.context.get(key) {
            return Some(Cow::Borrowed(v));
        }
        self.principal.key(key).map(|v| Cow::Owned(vec![v]))
    }

    /// A policy variable's value: single-valued keys only.
    fn variable(&self, name: &str) -> Option<String> {
        match self.values(name)? {
            Cow::Borrowed([one]) => Some(one.clone()),
            Cow::Owned(mut v) if v.len() == 1 => v.pop(),
            _ => None,
        }
    }

    fn cross_account(&self) -> bool {
        self.resource_account.is_some_and(|a| a != self.principal.account)
    }
}

/// A policy with the name it is reported under (an ARN, `inline:<name>`, `resource policy`).
#[derive(Debug, Clone)]
pub struct Named<'a> {
    pub label: Cow<'a, str>,
    pub policy: &'a Policy,
}

impl<'a> Named<'a> {
    #[must_use]
    pub fn new(label: impl Into<Cow<'a, str>>, policy: &'a Policy) -> Self {
        Self { label: label.into(), policy }
    }
}

/// What the resource-side policy of a [`PolicySet`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResourceKind {
    /// A resource policy (a secret's): within one account, identity and resource allows add up.
    #[default]
    Resource,
    /// A KMS key policy: the key policy must allow; an allow for the account principal lets
    /// identity policies grant the rest.
    Key,
    /// A role's trust policy on its own: it alone decides, as AssumeRole asks it.
    Trust,
}

/// The policies that apply to one request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    pub identity: Vec<Named<'a>>,
    pub resource: Option<Named<'a>>,
    pub boundary: Option<Named<'a>>,
    pub session: Option<Named<'a>>,
    pub resource_kind: ResourceKind,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

/// Why a statement did not apply: the first element that did not match, in the order action,
/// resource, principal, conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Action,
    Resource,
    Principal,
    /// The first condition that did not hold, with its operator as written.
    Condition {
        operator: String,
        key: String,
    },
}

impl Mismatch {
    /// How far the statement got before failing: higher is closer to applying.
    fn progress(&self) -> u8 {
        match self {
            Self::Action => 0,
            Self::Resource => 1,
            Self::Principal => 2,
            Self::Condition { .. } => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    NotApplied(Mismatch),
}

impl std::fmt::Display for Mismatch {
    /// Names the element, never a value: explanations go to logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Action => f.write_str("the action is not matched"),
            Self::Resource => f.write_str("the resource is not matched"),
            Self::Principal => f.write_str("the principal is not matched"),
            Self::Condition { operator, key } => write!(f, "condition {operator} on {key} does not hold"),
        }
    }
}

/// What one statement of one policy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub policy: String,
    pub kind: PolicyKind,
    /// The statement's position in its policy.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub outcome: Outcome,
}

impl Finding {
    /// `resource policy statement 2 (Sid "ReadOnly")`: how logs and explanations name it.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.sid {
            Some(sid) => format!("{} statement {} (Sid {sid:?})", self.policy, self.index),
            None => format!("{} statement {}", self.policy, self.index),
        }
    }
}

/// The decision, the refusal text that goes with it, and every statement's part in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub denial: Option<Denial>,
    pub statements: Vec<Finding>,
    /// Indexes into `statements` of the statements that decided: the applying denies of an
    /// explicit deny, the allows of an allow.
    pub deciding: Vec<usize>,
    /// On an implicit deny, the index into `statements` of the allow that came closest to
    /// applying (in the policy kind the refusal names when it has one).
    pub closest: Option<usize>,
}

impl Evaluation {
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// The statement that decided: the first applying deny, or the first applying allow.
    #[must_use]
    pub fn decided_by(&self) -> Option<&Finding> {
        self.deciding.first().and_then(|i| self.statements.get(*i))
    }

    /// On an implicit deny, the allow that came closest.
    #[must_use]
    pub fn closest_allow(&self) -> Option<&Finding> {
        self.closest.and_then(|i| self.statements.get(i))
    }
}

/// How an applying resource-policy statement named the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    /// The caller's account: a delegation to the account's identity policies.
    Account,
    /// The role the caller is a session of.
    Role,
    /// The caller itself, a service, or everyone.
    Direct,
}

/// Evaluates `req` against `set` as spec §2.1–2.2 describe, with every statement's part in it.
#[must_use]
pub fn evaluate(req: &Request<'_>, set: &PolicySet<'_>) -> Evaluation {
    evaluate_with(req, set, true)
}

/// The decision and its refusal text only: no statement is described (`statements`,
/// `deciding` and `closest` stay empty). Most requests are allowed, and nobody reads how.
#[must_use]
pub fn decide(req: &Request<'_>, set: &PolicySet<'_>) -> Evaluation {
    evaluate_with(req, set, false)
}

fn evaluate_with(req: &Request<'_>, set: &PolicySet<'_>, explain: bool) -> Evaluation {
    // Lower-cased once: statements hold their actions lower-cased.
    let mut buf = [0u8; 128];
    let action: Cow<'_, str> = match lower_in(&mut buf, req.action) {
        Some(lower) => Cow::Borrowed(lower),
        None => Cow::Owned(req.action.to_ascii_lowercase()),
    };
    let mut statements = Vec::new();
    let mut seen = 0;
    // Which kinds of policy had an applying allow or deny: all a decision needs. The applying
    // statements themselves are kept only to explain.
    let mut tally = Tally::default();
    let mut applied: Vec<(usize, Effect)> = Vec::new();
    let mut run = |named: &Named<'_>, kind: PolicyKind| {
        for (index, statement) in named.policy.statements.iter().enumerate() {
            let result = statement_applies(req, &action, named.policy, statement, kind);
            if let Ok(via) = &result {
                tally.add(kind, statement.effect, *via);
                if explain {
                    applied.push((seen, statement.effect));
                }
            }
            seen += 1;
            if explain {
                statements.push(Finding {
                    policy: named.label.to_string(),
                    kind,
                    index,
                    sid: statement.sid.clone(),
                    effect: statement.effect,
                    outcome: result
                        .map_or_else(|miss| Outcome::NotApplied(miss.describe(statement)), |_| Outcome::Applied),
                });
            }
        }
    };
    for named in &set.identity {
        run(named, PolicyKind::Identity);
    }
    if let Some(named) = &set.boundary {
        run(named, PolicyKind::Boundary);
    }
    if let Some(named) = &set.session {
        run(named, PolicyKind::Session);
    }
    if let Some(named) = &set.resource {
        run(named, PolicyKind::Resource);
    }

    if let Some(kind) = KIND_ORDER.into_iter().find(|k| tally.denied[*k as usize]) {
        let denies = applied.iter().filter(|a| a.1 == Effect::Deny).map(|a| a.0).collect();
        return Evaluation {
            decision: Decision::ExplicitDeny,
            denial: Some(Denial::ExplicitDeny(kind)),
            statements,
            deciding: denies,
            closest: None,
        };
    }

    let allows = |kind: PolicyKind| tally.allowed[kind as usize];
    let best_resource_via = tally.best_resource_via;
    let principal = req.principal;
    let has_identity =
        matches!(principal.kind, PrincipalKind::Root | PrincipalKind::User | PrincipalKind::AssumedRole { .. });
    // The root user holds every permission of its own account on the identity side.
    let identity_allows = principal.kind == PrincipalKind::Root || allows(PolicyKind::Identity);
    let boundary_ok = set.boundary.is_none() || allows(PolicyKind::Boundary);
    let session_ok = set.session.is_none() || allows(PolicyKind::Session);
    // Boundaries and session policies cap what identities (and role-ARN grants) allow.
    let capped = || {
        if !boundary_ok {
            Err(PolicyKind::Boundary)
        } else if !session_ok {
            Err(PolicyKind::Session)
        } else {
            Ok(())
        }
    };

    let result: Result<(), PolicyKind> = if set.resource_kind == ResourceKind::Trust {
        best_resource_via.map(|_| ()).ok_or(PolicyKind::Resource)
    } else if !has_identity {
        // Services and anonymous callers have no identity policies: only the resource says yes.
        best_resource_via.filter(|v| *v == Via::Direct).map(|_| ()).ok_or(PolicyKind::Resource)
    } else if req.cross_account() {
        // Both accounts must agree: the caller's for its identity, the owner's for its resource.
        if !identity_allows {
            Err(PolicyKind::Identity)
        } else {
            capped().and_then(|()| best_resource_via.map(|_| ()).ok_or(PolicyKind::Resource))
        }
    } else if set.resource_kind == ResourceKind::Key {
        match best_resource_via {
            Some(Via::Direct) => Ok(()),
            Some(Via::Role) => capped(),
            Some(Via::Account) if identity_allows => capped(),
            Some(Via::Account) => Err(PolicyKind::Identity),
            None => Err(PolicyKind::Resource),
        }
    } else {
        match best_resource_via {
            Some(Via::Direct) => Ok(()),
            Some(Via::Role) => capped(),
            _ if identity_allows => capped(),
            _ => Err(PolicyKind::Identity),
        }
    };

    match result {
        Ok(()) => {
            let deciding = applied.iter().filter(|a| a.1 == Effect::Allow).map(|a| a.0).collect();
            Evaluation { decision: Decision::Allow, denial: None, statements, deciding, closest: None }
        }
        Err(kind) => {
            let closest = closest_allow(&statements, Some(kind)).or_else(|| closest_allow(&statements, None));
            Evaluation {
                decision: Decision::ImplicitDeny,
                denial: Some(Denial::NoAllow(kind)),
                statements,
                deciding: Vec::new(),
                closest,
            }
        }
    }
}

/// The order in which an explicit deny names the policy kind it was found in.
const KIND_ORDER: [PolicyKind; 4] =
    [PolicyKind::Identity, PolicyKind::Boundary, PolicyKind::Session, PolicyKind::Resource];

/// What the applying statements of one evaluation add up to, by policy kind (indexed by
/// `PolicyKind as usize`).
#[derive(Default)]
struct Tally {
    allowed: [bool; 4],
    denied: [bool; 4],
    /// The strongest way an applying resource-side allow named the caller.
    best_resource_via: Option<Via>,
}

impl Tally {
    fn add(&mut self, kind: PolicyKind, effect: Effect, via: Option<Via>) {
        match effect {
            Effect::Deny => self.denied[kind as usize] = true,
            Effect::Allow => {
                self.allowed[kind as usize] = true;
                if kind == PolicyKind::Resource {
                    self.best_resource_via = self.best_resource_via.max(via);
                }
            }
        }
    }
}

/// The allow statement (of `kind`, when given) that got furthest before failing; the first
/// of equals.
fn closest_allow(statements: &[Finding], kind: Option<PolicyKind>) -> Option<usize> {
    let mut best: Option<(usize, u8)> = None;
    for (i, f) in statements.iter().enumerate() {
        if f.effect != Effect::Allow || kind.is_some_and(|k| k != f.kind) {
            continue;
        }
        if let Outcome::NotApplied(m) = &f.outcome
            && best.is_none_or(|(_, p)| m.progress() > p)
        {
            best = Some((i, m.progress()));
        }
    }
    best.map(|(i, _)| i)
}

/// Where a statement stopped applying, described only when an explanation is asked for.
#[derive(Debug, Clone, Copy)]
enum Miss {
    Action,
    Resource,
    Principal,
    /// The index of the condition in the statement.
    Condition(usize),
}

impl Miss {
    fn describe(self, statement: &Statement) -> Mismatch {
        match self {
            Miss::Action => Mismatch::Action,
            Miss::Resource => Mismatch::Resource,
            Miss::Principal => Mismatch::Principal,
            Miss::Condition(i) => {
                let c = &statement.conditions[i];
                Mismatch::Condition { operator: c.operator_text.clone(), key: c.key.clone() }
            }
        }
    }
}

/// Whether one statement applies to the request; for resource-side policies, how it named
/// the caller.
fn statement_applies(
    req: &Request<'_>,
    action: &str,
    policy: &Policy,
    statement: &Statement,
    kind: PolicyKind,
) -> Result<Option<Via>, Miss> {
    let named = statement.actions.iter().any(|p| p.matches(action, None));
    if named == statement.not_action {
        return Err(Miss::Action);
    }

    let resolve_fn = |name: &str| req.variable(name);
    let resolve: Option<pattern::Resolve<'_>> = if policy.substitutes_variables() { Some(&resolve_fn) } else { None };
    if let Some(resources) = &statement.resources {
        // An action without a resource is matched as `*`, which only `"Resource": "*"` covers.
        let target = req.resource.unwrap_or("*");
        let named = resources.iter().any(|r| r.matches(target, resolve));
        if named == statement.not_resource {
            return Err(Miss::Resource);
        }
    }

    let via = if kind == PolicyKind::Resource {
        let Some(set) = &statement.principals else {
            return Err(Miss::Principal);
        };
        match (principal_via(set, req.principal), statement.not_principal) {
            (Some(via), false) => Some(via),
            (None, true) => Some(Via::Direct),
            _ => return Err(Miss::Principal),
        }
    } else {
        None
    };

    for (i, c) in statement.conditions.iter().enumerate() {
        let values = req.values(&c.key);
        if !condition::holds(c, values.as_deref(), resolve) {
            return Err(Miss::Condition(i));
        }
    }
    Ok(via)
}

/// How a `Principal` element names `p`, if it does. Wildcards match only on their own:
/// IAM never matches part of a principal ARN.
fn principal_via(set: &PrincipalSet, p: &Principal) -> Option<Via> {
    if set.everyone {
        return Some(Via::Direct);
    }
    if let PrincipalKind::Service(name) = &p.kind {
        return set.services.iter().any(|s| s == name).then_some(Via::Direct);
    }
    if p.account.is_empty() {
        return None;
    }
    let mut best = None;
    for entry in &set.aws {
        let via = if *entry == p.arn && p.kind != PrincipalKind::Root {
            Some(Via::Direct)
        } else if *entry == p.account || is_root_of(entry, &p.account) {
            Some(Via::Account)
        } else if let PrincipalKind::AssumedRole { role_arn, .. } = &p.kind {
            same_role(entry, role_arn).then_some(Via::Role)
        } else {
            None
        };
        best = best.max(via);
    }
    best
}

/// Whether `entry` is `arn:aws:iam::<account>:root`.
fn is_root_of(entry: &str, account: &str) -> bool {
    entry.strip_prefix("arn:aws:iam::").and_then(|rest| rest.strip_prefix(account)) == Some(":root")
}

/// Whether a role ARN in a policy is the role a session belongs to. Session ARNs drop the
/// role's path, so the account and the role name decide.
fn same_role(entry: &str, role_arn: &str) -> bool {
    let split = |arn: &str| -> Option<(String, String)> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, "iam", _, account, resource] = parts.as_slice() else {
            return None;
        };
        let path_and_name = resource.strip_prefix("role/")?;
        Some(((*account).to_string(), path_and_name.rsplit('/').next().unwrap_or(path_and_name).to_string()))
    };
    matches!((split(entry), split(role_arn)), (Some(a), Some(b)) if a == b)
}
