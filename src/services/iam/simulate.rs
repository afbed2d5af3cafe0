//! IAM's policy simulator, answered by the evaluation engine enforcement uses, so a test can ask
//! "may this role read that secret?" and get the answer the real call gets.

use std::collections::HashMap;

use super::entities::{account, find_role, find_user};
use super::{Answer, Ctx, IamError, Xml, page, parse_document};
use crate::iam::Document;
use crate::iam::policy::{self, Context, Decision, Named, Outcome, PolicySet, Principal, ResourceKind};

/// The most (action, resource) pairs one simulation evaluates: smemu's own bound, so one request
/// cannot ask for millions of evaluations.
const MAX_EVALUATIONS: usize = 10_000;

/// The policies of one simulation, with how each is reported (`SourcePolicyType`).
struct Sources {
    identity: Vec<(String, &'static str, Document)>,
    boundary: Option<(String, Document)>,
    principal: Principal,
}

pub fn simulate_principal_policy(ctx: &Ctx<'_>) -> Answer {
    let source = ctx.required("PolicySourceArn")?;
    let parts: Vec<&str> = source.splitn(6, ':').collect();
    let (account_id, resource) = match parts.as_slice() {
        ["arn", _, "iam", "", account, resource] => (*account, *resource),
        _ => return Err(IamError::invalid_input(format!("Invalid ARN: {source}"))),
    };
    if account_id != ctx.account {
        return Err(IamError::no_such_entity(format!("Could not find entity {source}")));
    }
    let account = account(ctx);
    let name = resource.rsplit('/').next().unwrap_or_default();
    let (mut identity, boundary_arn, principal) = if resource.starts_with("user/") {
        let user = find_user(&account, name)?;
        let permissions = ctx.store().permissions(ctx.account, &user.arn);
        let principal = Principal::user(&user.arn, &user.user_id).with_tags(user.tags.clone());
        (permissions.identity, user.boundary.clone(), principal)
    } else if resource.starts_with("role/") {
        let role = find_role(&account, name)?;
        let session = format!("arn:aws:sts::{}:assumed-role/{}/simulation", ctx.account, role.name);
        let permissions = ctx.store().permissions(ctx.account, &session);
        let principal = Principal::assumed_role(&role.arn, "simulation", &role.role_id).with_tags(role.tags.clone());
        (permissions.identity, role.boundary.clone(), principal)
    } else {
        return Err(IamError::invalid_input(format!("Invalid ARN: {source}. Only users and roles are simulated.")));
    };
    let kind = if resource.starts_with("user/") { "user" } else { "role" };
    let mut sources = Sources { identity: Vec::new(), boundary: None, principal };
    for (label, document) in identity.drain(..) {
        let source_type = if label.starts_with("arn:aws:iam::aws:") {
            "aws-managed"
        } else if label.starts_with("arn:") {
            "user-managed"
        } else {
            kind
        };
        sources.identity.push((label, source_type, (*document).clone()));
    }
    if let Some(arn) = boundary_arn {
        let owner = crate::iam::store::policy_account(&arn);
        if let Some(document) =
            ctx.store().account(owner).and_then(|a| a.policies.get(&arn).and_then(|p| p.document().cloned()))
        {
            sources.boundary = Some((arn, (*document).clone()));
        }
    }
    simulate(ctx, sources)
}

pub fn simulate_custom_policy(ctx: &Ctx<'_>) -> Answer {
    if ctx.params.list("PolicyInputList").is_empty() {
        return Err(IamError::validation(
            "Value null at 'policyInputList' failed to satisfy constraint: Member must not be null",
        ));
    }
    if ctx.get("ResourcePolicy").is_some() && ctx.get("CallerArn").is_none() {
        return Err(IamError::invalid_input("CallerArn is required when a ResourcePolicy is given."));
    }
    // The policies alone decide: never the requester, whose root would be allowed everything.
    let placeholder = format!("arn:aws:iam::{}:user/SimulatedCaller", ctx.account);
    let principal = Principal::user(&placeholder, "SimulatedCaller");
    simulate(ctx, Sources { identity: Vec::new(), boundary: None, principal })
}

/// Runs every (action, resource) pair of the request against `sources` plus the request's own
/// policies and context.
fn simulate(ctx: &Ctx<'_>, mut sources: Sources) -> Answer {
    let actions = ctx.params.list("ActionNames");
    if actions.is_empty() {
        return Err(IamError::validation(
            "Value null at 'actionNames' failed to satisfy constraint: Member must not be null",
        ));
    }
    let (max, marker) = ctx.paging()?;
    for (i, text) in ctx.params.list("PolicyInputList").into_iter().enumerate() {
        sources.identity.push((format!("PolicyInputList.{}", i + 1), "none", parse_document(text, true)?));
    }
    if let Some(text) = ctx.params.list("PermissionsBoundaryPolicyInputList").first() {
        sources.boundary = Some(("PermissionsBoundaryPolicyInputList.1".to_string(), parse_document(text, true)?));
    }
    let resource_policy = match ctx.get("ResourcePolicy") {
        Some(text) => Some(parse_document(text, false)?),
        None => None,
    };
    if let Some(caller) = ctx.get("CallerArn") {
        sources.principal = Principal::from_arn(caller, "").with_tags(sources.principal.tags.clone());
    }
    let owner = ctx.get("ResourceOwner").map(|o| o.split(':').nth(4).unwrap_or(o).to_string());
    let context = context(ctx)?;
    let mut resources: Vec<&str> = ctx.params.list("ResourceArns");
    if resources.is_empty() {
        resources.push("*");
    }
    if actions.len().saturating_mul(resources.len()) > MAX_EVALUATIONS {
        return Err(IamError::invalid_input(format!(
            "A simulation may evaluate at most {MAX_EVALUATIONS} action and resource pairs; ask for fewer ActionNames or ResourceArns."
        )));
    }
    let mut types: HashMap<&str, &str> =
        sources.identity.iter().map(|(label, kind, _)| (label.as_str(), *kind)).collect();
    types.insert("ResourcePolicy", "resource");
    let set = PolicySet {
        identity: sources.identity.iter().map(|(label, _, d)| Named::new(label.as_str(), &d.policy)).collect(),
        resource: resource_policy.as_ref().map(|d| Named::new("ResourcePolicy", &d.policy)),
        boundary: sources.boundary.as_ref().map(|(label, d)| Named::new(label.as_str(), &d.policy)),
        session: None,
        resource_kind: ResourceKind::Resource,
    };
    let mut statements: HashMap<&str, &policy::Policy> = HashMap::new();
    for named in set.identity.iter().chain(&set.resource).chain(&set.boundary) {
        statements.insert(named.label.as_ref(), named.policy);
    }
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let resource_account = owner
                .clone()
                .or_else(|| resource.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_string))
                .unwrap_or_else(|| sources.principal.account.clone());
            let request = policy::Request {
                principal: &sources.principal,
                action,
                resource: Some(resource),
                resource_account: Some(&resource_account),
                context: &context,
            };
            let evaluation = policy::evaluate(&request, &set);
            let decision = match evaluation.decision {
                Decision::Allow => "allowed",
                Decision::ExplicitDeny => "explicitDeny",
                Decision::ImplicitDeny => "implicitDeny",
            };
            let matched: Vec<(String, &str)> = evaluation
                .deciding
                .iter()
                .filter_map(|i| evaluation.statements.get(*i))
                .map(|f| (f.policy.clone(), types.get(f.policy.as_str()).copied().unwrap_or("none")))
                .collect();
            let mut missing: Vec<String> = Vec::new();
            for finding in &evaluation.statements {
                let relevant = matches!(
                    &finding.outcome,
                    Outcome::Applied
                        | Outcome::NotApplied(policy::Mismatch::Principal | policy::Mismatch::Condition { .. })
                );
                let Some(policy) = statements.get(finding.policy.as_str()) else { continue };
                let Some(statement) = policy.statements().get(finding.index).filter(|_| relevant) else { continue };
                for condition in &statement.conditions {
                    let key = &condition.key;
                    if context.get(key).is_none()
                        && !derived(key)
                        && !missing.iter().any(|m| m.eq_ignore_ascii_case(key))
                    {
                        missing.push(key.clone());
                    }
                }
            }
            results.push(((*action).to_string(), (*resource).to_string(), decision, matched, missing));
        }
    }
    let indexed: Vec<(usize, _)> = results.into_iter().enumerate().collect();
    let (indexed, paging) = page(indexed, |(i, _)| format!("{i:08}"), max, marker);
    let mut xml = Xml::new();
    xml.members("EvaluationResults", &indexed, |xml, (_, (action, resource, decision, matched, missing))| {
        xml.field("EvalActionName", action).field("EvalResourceName", resource).field("EvalDecision", decision);
        xml.members("MatchedStatements", matched, |xml, (id, kind)| {
            xml.field("SourcePolicyId", id).field("SourcePolicyType", kind);
        });
        xml.open("MissingContextValues");
        for key in missing {
            xml.field("member", key);
        }
        xml.close("MissingContextValues");
    });
    Ok(Some(xml.finish() + &paging))
}

/// Keys the engine takes from the principal itself, never missing.
fn derived(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    ["aws:principal", "aws:username", "aws:userid"].iter().any(|p| lower.starts_with(p))
}

/// `ContextEntries.member.N.ContextKeyName` / `.ContextKeyValues.member.M`, and the time.
fn context(ctx: &Ctx<'_>) -> Result<Context<'static>, IamError> {
    let mut context = Context::new();
    for prefix in ctx.params.structures("ContextEntries") {
        let Some(name) = ctx.get(&format!("{prefix}ContextKeyName")) else {
            return Err(IamError::invalid_input("A context entry needs a ContextKeyName."));
        };
        let values = ctx.params.list(&format!("{prefix}ContextKeyValues"));
        let kind = match ctx.get(&format!("{prefix}ContextKeyType")) {
            None => KeyType::String,
            Some(text) => KeyType::of(text).ok_or_else(|| {
                IamError::validation(format!(
                    "Value '{text}' at 'contextEntries.{}.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    entry_number(&prefix),
                    KeyType::NAMES.join(", ")
                ))
            })?,
        };
        let values = values.into_iter().map(|value| kind.read(name, value)).collect::<Result<Vec<_>, _>>()?;
        context.insert_all(name, values);
    }
    if context.get("aws:CurrentTime").is_none() {
        context.insert("aws:CurrentTime", ctx.now.to_iso8601());
    }
    if context.get("aws:EpochTime").is_none() {
        context.insert("aws:EpochTime", (ctx.now.millis() / 1000).to_string());
    }
    Ok(context)
}

/// `ContextEntries.member.N.` → `N`.
fn entry_number(prefix: &str) -> &str {
    prefix.trim_end_matches('.').rsplit('.').next().unwrap_or_default()
}

/// A context entry's `ContextKeyType`: how its values are read. A `…List` type reads each value
/// as its element type; the engine then sees the values as the condition operators expect them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    String,
    Numeric,
    Boolean,
    Date,
    Ip,
    Binary,
}

impl KeyType {
    /// [AWS] The enum's values, in the model's order.
    const NAMES: [&'static str; 12] = [
        "string",
        "stringList",
        "numeric",
        "numericList",
        "boolean",
        "booleanList",
        "ip",
        "ipList",
        "binary",
        "binaryList",
        "date",
        "dateList",
    ];

    fn of(text: &str) -> Option<Self> {
        if !Self::NAMES.contains(&text) {
            return None;
        }
        Some(match text.trim_end_matches("List") {
            "string" => Self::String,
            "numeric" => Self::Numeric,
            "boolean" => Self::Boolean,
            "date" => Self::Date,
            "ip" => Self::Ip,
            _ => Self::Binary,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Numeric => "numeric",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Ip => "ip",
            Self::Binary => "binary",
        }
    }

    /// One value of key `name`, checked and put in the form the condition operators compare:
    /// booleans in lower case, dates as ISO 8601 or epoch seconds, addresses as an address or a
    /// CIDR block, binaries as base64.
    fn read(self, name: &str, value: &str) -> Result<String, IamError> {
        let trimmed = value.trim();
        let read = match self {
            Self::String => Some(value.to_string()),
            Self::Numeric => trimmed.parse::<f64>().ok().filter(|n| n.is_finite()).map(|_| trimmed.to_string()),
            Self::Boolean => {
                ["true", "false"].into_iter().find(|b| trimmed.eq_ignore_ascii_case(b)).map(str::to_string)
            }
            Self::Date => policy::date(trimmed).map(|_| trimmed.to_string()),
            Self::Ip => ip_or_cidr(trimmed).then(|| trimmed.to_string()),
            Self::Binary => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(trimmed).ok().map(|_| trimmed.to_string())
            }
        };
        read.ok_or_else(|| bad_context_value(name, value, self.name()))
    }
}

/// An IP address, or one with a prefix length that fits it.
fn ip_or_cidr(text: &str) -> bool {
    let (address, bits) = match text.split_once('/') {
        Some((address, bits)) => (address, Some(bits)),
        None => (text, None),
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else { return false };
    let max = if address.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|bits| bits.parse::<u8>().is_ok_and(|b| b <= max))
}

/// [unconfirmed] IAM's refusal of a context value that is not of its entry's type: the
/// documented `InvalidInput` ("an invalid or out-of-range value was supplied for an input
/// parameter"); the exact text is smemu's.
fn bad_context_value(name: &str, value: &str, kind: &str) -> IamError {
    IamError::invalid_input(format!("Invalid value '{value}' for context key {name}: expected a {kind} value."))
}
