//! Reading a policy document into statements, refusing what IAM refuses.

use serde_json::{Map, Value};

use super::condition::{Operator, SetQualifier};
use super::pattern::Pattern;

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) version: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement. `Not*` elements are kept as the element plus `negated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    /// Lower-cased: IAM matches actions case-insensitively.
    pub(crate) actions: Vec<Pattern>,
    pub(crate) not_action: bool,
    /// `None`: the statement has neither Resource nor NotResource.
    pub(crate) resources: Option<Vec<Pattern>>,
    pub(crate) not_resource: bool,
    /// `None`: the statement has neither Principal nor NotPrincipal.
    pub(crate) principals: Option<PrincipalSet>,
    pub(crate) not_principal: bool,
    pub(crate) conditions: Vec<Condition>,
}

/// The principals a `Principal` (or `NotPrincipal`) element names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrincipalSet {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    pub everyone: bool,
    /// `AWS` entries: account ids, `arn:aws:iam::<acct>:root`, user, role and session ARNs.
    pub aws: Vec<String>,
    /// `Service` entries, e.g. `secretsmanager.amazonaws.com`.
    pub services: Vec<String>,
    /// `Federated` and `CanonicalUser` entries: parsed, never matched (smemu has no such callers).
    pub other: Vec<String>,
}

/// One (operator, key, values) of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written, e.g. `ForAnyValue:StringEqualsIfExists`.
    pub operator_text: String,
    pub operator: Operator,
    pub qualifier: Option<SetQualifier>,
    pub if_exists: bool,
    /// The key as written; matched case-insensitively.
    pub key: String,
    pub values: Vec<String>,
    /// Some value holds `${`: a policy variable, when the policy's version substitutes them.
    pub(crate) variables: bool,
}

/// What is wrong with a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// Not JSON, or not shaped as a policy.
    Syntax,
    /// A `Principal` that is not `"*"` or an object of known principal types.
    Principal,
    /// A principal element where the policy type forbids one (identity policies).
    PrincipalNotAllowed,
    /// A principal element missing where the policy type needs one (resource, trust policies).
    PrincipalMissing,
    /// An unknown condition operator or a malformed condition block.
    Condition,
}

/// Why a document is not a valid policy: a kind for callers choosing their service's text,
/// and a detail saying exactly where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    pub detail: String,
}

impl PolicyError {
    fn new(kind: PolicyErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }

    fn at(mut self, index: usize) -> Self {
        self.detail = format!("Statement[{index}]: {}", self.detail);
        self
    }

    /// IAM's `MalformedPolicyDocument` text for this error.
    #[must_use]
    pub fn message(&self) -> &'static str {
        match self.kind {
            PolicyErrorKind::Syntax | PolicyErrorKind::Condition | PolicyErrorKind::Principal => {
                "Syntax errors in policy."
            }
            PolicyErrorKind::PrincipalNotAllowed => "Policy document should not specify a principal.",
            PolicyErrorKind::PrincipalMissing => "Missing required field Principal",
        }
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for PolicyError {}

const STATEMENT_FIELDS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

fn syntax(detail: impl Into<String>) -> PolicyError {
    PolicyError::new(PolicyErrorKind::Syntax, detail)
}

impl Policy {
    /// Parses a policy from its text: plain JSON, or URL-encoded JSON as IAM's API returns
    /// policy documents.
    ///
    /// # Errors
    /// What makes the text not a policy.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let document = serde_json::from_str::<Value>(text).or_else(|e| {
            let decoded = crate::auth::sigv4::percent_decode(text, false);
            serde_json::from_slice::<Value>(&decoded).map_err(|_| syntax(format!("not a JSON policy document: {e}")))
        })?;
        Self::from_json(&document)
    }

    /// Parses a policy given as a JSON document, or as its text inside a JSON string.
    ///
    /// # Errors
    /// What makes the document not a policy.
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        match value {
            Value::String(text) => Self::parse(text),
            other => Self::from_json(other),
        }
    }

    fn from_json(document: &Value) -> Result<Self, PolicyError> {
        let Value::Object(map) = document else {
            return Err(syntax("a policy document must be a JSON object"));
        };
        if let Some(unknown) = map.keys().find(|k| !["Version", "Id", "Statement"].contains(&k.as_str())) {
            return Err(syntax(format!("unknown element `{unknown}`")));
        }
        let version = match map.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => Some(v.clone()),
            Some(_) => return Err(syntax("`Version` must be \"2012-10-17\" or \"2008-10-17\"")),
        };
        let id = match map.get("Id") {
            None => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(_) => return Err(syntax("`Id` must be a string")),
        };
        let statements = match map.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(item @ Value::Object(_)) => vec![item],
            Some(_) => return Err(syntax("`Statement` must be a statement or a list of statements")),
            None => return Err(syntax("a policy document needs a `Statement`")),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| Statement::parse(s).map_err(|e| e.at(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { version, id, statements })
    }

    /// Checks the rules of an identity policy (and of a permissions boundary or session
    /// policy): no principal, a resource in every statement.
    ///
    /// # Errors
    /// The first statement breaking them.
    pub fn check_identity(&self) -> Result<(), PolicyError> {
        for (i, s) in self.statements.iter().enumerate() {
            if s.principals.is_some() {
                return Err(PolicyError::new(
                    PolicyErrorKind::PrincipalNotAllowed,
                    "an identity policy names no principal",
                )
                .at(i));
            }
            if s.resources.is_none() {
                return Err(syntax("a statement of an identity policy needs `Resource` or `NotResource`").at(i));
            }
        }
        Ok(())
    }

    /// Checks the rules of a resource, key or trust policy: a principal in every statement.
    ///
    /// # Errors
    /// The first statement breaking them.
    pub fn check_resource(&self) -> Result<(), PolicyError> {
        match self.statements.iter().position(|s| s.principals.is_none()) {
            Some(i) => Err(PolicyError::new(
                PolicyErrorKind::PrincipalMissing,
                "a statement needs `Principal` or `NotPrincipal`",
            )
            .at(i)),
            None => Ok(()),
        }
    }

    #[must_use]
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Policy variables are substituted only under version 2012-10-17; older policies
    /// match `${...}` literally.
    pub(crate) fn substitutes_variables(&self) -> bool {
        self.version.as_deref() == Some("2012-10-17")
    }
}

impl Statement {
    fn parse(value: &Value) -> Result<Self, PolicyError> {
        let Value::Object(map) = value else {
            return Err(syntax("a statement must be a JSON object"));
        };
        if let Some(unknown) = map.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
            return Err(syntax(format!("unknown element `{unknown}`")));
        }
        let sid = match map.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(syntax("`Sid` must be a string")),
        };
        let effect = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(syntax("`Effect` must be \"Allow\" or \"Deny\"")),
        };
        let (actions, not_action) = match exactly_one(map, "Action", "NotAction")? {
            Some((v, negated)) => (
                strings(v)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| syntax("`Action` must be a string or a non-empty list of strings"))?,
                negated,
            ),
            None => return Err(syntax("give exactly one of `Action` and `NotAction`")),
        };
        if let Some(bad) = actions.iter().find(|a| *a != "*" && !a.contains(':')) {
            return Err(syntax(format!("action `{bad}` is not of the form service:Action")));
        }
        let actions = actions.iter().map(|a| Pattern::new(a.to_ascii_lowercase())).collect();
        let (resources, not_resource) = match exactly_one(map, "Resource", "NotResource")? {
            Some((v, negated)) => (
                Some(
                    strings(v)
                        .filter(|l| !l.is_empty())
                        .ok_or_else(|| syntax("`Resource` must be a string or a non-empty list of strings"))?
                        .into_iter()
                        .map(Pattern::new)
                        .collect(),
                ),
                negated,
            ),
            None => (None, false),
        };
        let (principals, not_principal) = match exactly_one(map, "Principal", "NotPrincipal")? {
            Some((v, negated)) => (Some(parse_principal(v)?), negated),
            None => (None, false),
        };
        let conditions = match map.get("Condition") {
            None => Vec::new(),
            Some(Value::Object(block)) => parse_conditions(block)?,
            Some(_) => return Err(PolicyError::new(PolicyErrorKind::Condition, "`Condition` must be an object")),
        };
        Ok(Self { sid, effect, actions, not_action, resources, not_resource, principals, not_principal, conditions })
    }

    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    #[must_use]
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The `Principal` (or, with `true`, `NotPrincipal`) element.
    #[must_use]
    pub fn principal(&self) -> Option<(&PrincipalSet, bool)> {
        self.principals.as_ref().map(|p| (p, self.not_principal))
    }

    #[must_use]
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// The one of `name`/`not_name` present, with whether it is the negated one.
fn exactly_one<'v>(
    map: &'v Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Option<(&'v Value, bool)>, PolicyError> {
    match (map.get(name), map.get(not_name)) {
        (Some(_), Some(_)) => Err(syntax(format!("a statement has `{name}` or `{not_name}`, not both"))),
        (Some(v), None) => Ok(Some((v, false))),
        (None, Some(v)) => Ok(Some((v, true))),
        (None, None) => Ok(None),
    }
}

/// A string or a list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

fn parse_principal(value: &Value) -> Result<PrincipalSet, PolicyError> {
    let bad = |detail: String| PolicyError::new(PolicyErrorKind::Principal, detail);
    match value {
        Value::String(s) if s == "*" => Ok(PrincipalSet { everyone: true, ..PrincipalSet::default() }),
        Value::Object(map) if !map.is_empty() => {
            let mut set = PrincipalSet::default();
            for (kind, names) in map {
                let names = strings(names)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| bad(format!("`Principal.{kind}` must be a string or a list of strings")))?;
                match kind.as_str() {
                    "AWS" => {
                        for name in names {
                            if name == "*" {
                                set.everyone = true;
                            } else {
                                set.aws.push(name);
                            }
                        }
                    }
                    "Service" => set.services.extend(names),
                    "Federated" | "CanonicalUser" => set.other.extend(names),
                    other => return Err(bad(format!("unknown principal type `{other}`"))),
                }
            }
            Ok(set)
        }
        _ => Err(bad("`Principal` must be \"*\" or an object such as {\"AWS\": \"111122223333\"}".into())),
    }
}

fn parse_conditions(block: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let bad = |detail: String| PolicyError::new(PolicyErrorKind::Condition, detail);
    let mut out = Vec::new();
    for (operator_text, keys) in block {
        let (qualifier, operator, if_exists) = Operator::parse_full(operator_text)
            .ok_or_else(|| bad(format!("unknown condition operator `{operator_text}`")))?;
        let Value::Object(keys) = keys else {
            return Err(bad(format!("`Condition.{operator_text}` must be an object of keys")));
        };
        for (key, values) in keys {
            let values = condition_values(values)
                .ok_or_else(|| bad(format!("`Condition.{operator_text}.{key}` must be a value or a list of values")))?;
            let variables = values.iter().any(|v| v.contains("${"));
            out.push(Condition {
                operator_text: operator_text.clone(),
                operator,
                qualifier,
                if_exists,
                key: key.clone(),
                values,
                variables,
            });
        }
    }
    Ok(out)
}

/// Condition values: strings, numbers or booleans, alone or in a list; all compared as text.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|v| vec![v]),
    }
}
