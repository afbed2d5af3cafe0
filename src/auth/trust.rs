//! Role trust policies: who may call `sts:AssumeRole` on a role.
//!
//! A deliberately small subset of IAM's policy language, enough for trust
//! policies as people write them:
//! * a statement applies when its `Action` matches the action (`*` and `?`
//!   wildcards, case-insensitive, as IAM matches actions) and its `Principal`
//!   names the caller: `"*"`, `{"AWS": "*"}`, the caller's ARN, the caller's
//!   account (`"111122223333"` or `arn:aws:iam::111122223333:root`), or, for a
//!   role session, the role it is a session of;
//! * an applying `Deny` wins over any `Allow`; without an applying `Allow` the
//!   answer is no;
//! * what this subset cannot evaluate (`Condition`, `NotAction`,
//!   `NotPrincipal`) makes the statement not apply, whatever its effect. For an
//!   `Allow` that refuses more than AWS would; for a `Deny` it refuses less.
//!
//! `Service`, `Federated` and `CanonicalUser` principals never match: smemu's
//! callers are always IAM identities.

use serde_json::Value;

/// What a trust policy says about one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows the caller.
    ImplicitDeny,
    /// A `Deny` statement names the caller.
    ExplicitDeny,
}

/// The caller a trust policy is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `arn:aws:iam::<account>:user/<name>`, `...:root`, or
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub principal_arn: &'a str,
    pub account_id: &'a str,
}

/// A parsed trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    principals: Principals,
    /// False when the statement uses what this subset cannot evaluate.
    evaluable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    Anyone,
    Aws(Vec<String>),
}

const STATEMENT_FIELDS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

impl TrustPolicy {
    /// Reads a policy given as a JSON document or as its text (plain JSON, or
    /// URL-encoded JSON as IAM's API returns `AssumeRolePolicyDocument`).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::from_text(text),
            other => Self::parse(other),
        }
    }

    /// Reads a policy from its text: plain JSON, or URL-encoded JSON.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let document = serde_json::from_str::<Value>(text).or_else(|e| {
            let decoded = crate::auth::sigv4::percent_decode(text, false);
            serde_json::from_slice::<Value>(&decoded).map_err(|_| format!("not a JSON policy document: {e}"))
        })?;
        Self::parse(&document)
    }

    fn parse(document: &Value) -> Result<Self, String> {
        let Value::Object(map) = document else {
            return Err("a policy document must be a JSON object".into());
        };
        let statements = match map.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(item @ Value::Object(_)) => vec![item],
            Some(_) => return Err("`Statement` must be a statement or a list of statements".into()),
            None => return Err("a policy document needs a `Statement`".into()),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| Statement::parse(s).map_err(|e| format!("Statement[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { statements })
    }

    /// What the policy says about `subject` performing `action`.
    pub fn evaluate(&self, action: &str, subject: Subject<'_>) -> Decision {
        let mut decision = Decision::ImplicitDeny;
        for statement in self.statements.iter().filter(|s| s.applies(action, subject)) {
            if !statement.allow {
                return Decision::ExplicitDeny;
            }
            decision = Decision::Allow;
        }
        decision
    }
}

impl Statement {
    fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("a statement must be a JSON object".into());
        };
        if let Some(unknown) = map.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
            return Err(format!("unknown element `{unknown}`"));
        }
        let allow = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err("`Effect` must be \"Allow\" or \"Deny\"".into()),
        };
        let actions = match (map.get("Action"), map.get("NotAction")) {
            (Some(action), None) => strings(action).ok_or("`Action` must be a string or a list of strings")?,
            (None, Some(not_action)) => {
                strings(not_action).ok_or("`NotAction` must be a string or a list of strings")?;
                Vec::new()
            }
            _ => return Err("give exactly one of `Action` and `NotAction`".into()),
        };
        let principals = match (map.get("Principal"), map.get("NotPrincipal")) {
            (Some(principal), None) => parse_principal(principal)?,
            (None, Some(not_principal)) => {
                parse_principal(not_principal)?;
                Principals::Aws(Vec::new())
            }
            _ => return Err("a trust policy statement needs exactly one of `Principal` and `NotPrincipal`".into()),
        };
        let evaluable = !["Condition", "NotAction", "NotPrincipal"].iter().any(|k| map.contains_key(*k));
        Ok(Self { allow, actions, principals, evaluable })
    }

    fn applies(&self, action: &str, subject: Subject<'_>) -> bool {
        self.evaluable
            && self
                .actions
                .iter()
                .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && match &self.principals {
                Principals::Anyone => true,
                Principals::Aws(names) => names.iter().any(|name| names_subject(name, subject)),
            }
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

fn parse_principal(value: &Value) -> Result<Principals, String> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) => {
            let mut aws = Vec::new();
            for (kind, names) in map {
                let names = strings(names)
                    .ok_or_else(|| format!("`Principal.{kind}` must be a string or a list of strings"))?;
                match kind.as_str() {
                    "AWS" => aws.extend(names),
                    "Service" | "Federated" | "CanonicalUser" => {}
                    other => return Err(format!("unknown principal type `{other}`")),
                }
            }
            Ok(Principals::Aws(aws))
        }
        _ => Err("`Principal` must be \"*\" or an object such as {\"AWS\": \"111122223333\"}".into()),
    }
}

/// Whether a principal named in an `AWS` element covers the subject. A
/// wildcard matches only on its own: IAM does not match part of a principal.
fn names_subject(name: &str, subject: Subject<'_>) -> bool {
    if name == "*" || name == subject.principal_arn || name == subject.account_id {
        return true;
    }
    let arn: Vec<&str> = name.splitn(6, ':').collect();
    let [_, _, service, _, account, resource] = arn.as_slice() else {
        return false;
    };
    if *account != subject.account_id {
        return false;
    }
    match (*service, *resource) {
        ("iam", "root") => true,
        // A role principal covers every session of that role.
        ("iam", role) => role.strip_prefix("role/").is_some_and(|path_and_name| {
            let role_name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
            session_role(subject.principal_arn) == Some(role_name)
        }),
        _ => false,
    }
}

/// The role name of an assumed-role session ARN.
fn session_role(principal_arn: &str) -> Option<&str> {
    let (_, rest) = principal_arn.split_once(":assumed-role/")?;
    rest.split_once('/').map(|(role, _)| role)
}

/// `*` matches any run of characters, `?` any one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ASSUME: &str = "sts:AssumeRole";
    const ALICE: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::111111111111:user/alice", account_id: "111111111111" };
    const ROOT: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::111111111111:root", account_id: "111111111111" };
    const OTHER: Subject<'static> =
        Subject { principal_arn: "arn:aws:iam::222222222222:user/bob", account_id: "222222222222" };
    const SESSION: Subject<'static> =
        Subject { principal_arn: "arn:aws:sts::111111111111:assumed-role/builder/ci", account_id: "111111111111" };

    fn allow(principal: Value) -> TrustPolicy {
        TrustPolicy::from_value(&json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
        }))
        .unwrap()
    }

    #[test]
    fn principals_that_name_the_caller() {
        let alice_only = allow(json!({"AWS": "arn:aws:iam::111111111111:user/alice"}));
        assert_eq!(alice_only.evaluate(ASSUME, ALICE), Decision::Allow);
        for principal in [
            json!({"AWS": "111111111111"}),
            json!({"AWS": "arn:aws:iam::111111111111:root"}),
            json!({"AWS": ["arn:aws:iam::999999999999:root", "111111111111"]}),
            json!({"AWS": "*"}),
            json!("*"),
        ] {
            assert_eq!(allow(principal.clone()).evaluate(ASSUME, ALICE), Decision::Allow, "{principal}");
            assert_eq!(allow(principal.clone()).evaluate(ASSUME, ROOT), Decision::Allow, "{principal}");
        }
        assert_eq!(alice_only.evaluate(ASSUME, ROOT), Decision::ImplicitDeny, "the account root does not bypass trust");
        assert_eq!(alice_only.evaluate(ASSUME, OTHER), Decision::ImplicitDeny);
        assert_eq!(allow(json!({"AWS": "111111111111"})).evaluate(ASSUME, OTHER), Decision::ImplicitDeny);
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::111111111111:user/*"})).evaluate(ASSUME, ALICE),
            Decision::ImplicitDeny
        );
        assert_eq!(allow(json!({"Service": "lambda.amazonaws.com"})).evaluate(ASSUME, ALICE), Decision::ImplicitDeny);
    }

    #[test]
    fn role_principals_cover_their_sessions() {
        let policy = allow(json!({"AWS": "arn:aws:iam::111111111111:role/ci/builder"}));
        assert_eq!(policy.evaluate(ASSUME, SESSION), Decision::Allow);
        assert_eq!(allow(json!({"AWS": SESSION.principal_arn})).evaluate(ASSUME, SESSION), Decision::Allow);
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::111111111111:role/other"})).evaluate(ASSUME, SESSION),
            Decision::ImplicitDeny
        );
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::222222222222:role/builder"})).evaluate(ASSUME, SESSION),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn actions_deny_and_what_cannot_be_evaluated() {
        let with_action = |action: Value| {
            TrustPolicy::from_value(&json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": action}}))
                .unwrap()
        };
        for action in [
            json!("sts:AssumeRole"),
            json!("STS:assumerole"),
            json!("sts:*"),
            json!("*"),
            json!(["s3:*", "sts:Assume*"]),
            json!("sts:AssumeRol?"),
        ] {
            assert_eq!(with_action(action.clone()).evaluate(ASSUME, ALICE), Decision::Allow, "{action}");
        }
        for action in [json!("sts:AssumeRoleWithSAML"), json!("sts:TagSession"), json!("s3:*")] {
            assert_eq!(with_action(action.clone()).evaluate(ASSUME, ALICE), Decision::ImplicitDeny, "{action}");
        }

        let deny = TrustPolicy::from_value(&json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "sts:*"}
        ]}))
        .unwrap();
        assert_eq!(deny.evaluate(ASSUME, ALICE), Decision::ExplicitDeny);
        assert_eq!(deny.evaluate(ASSUME, ROOT), Decision::Allow);

        let conditional = TrustPolicy::from_value(&json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x"}}},
            {"Effect": "Allow", "NotPrincipal": {"AWS": "222222222222"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": "*", "NotAction": "s3:*"}
        ]}))
        .unwrap();
        assert_eq!(conditional.evaluate(ASSUME, ALICE), Decision::ImplicitDeny);
    }

    #[test]
    fn documents_as_text_and_their_errors() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
        let encoded = crate::auth::sigv4::uri_encode(text.as_bytes(), false);
        assert_eq!(TrustPolicy::from_text(text).unwrap(), TrustPolicy::from_text(&encoded).unwrap());
        assert_eq!(TrustPolicy::from_value(&json!(text)).unwrap().evaluate(ASSUME, ALICE), Decision::Allow);

        for (document, error) in [
            (json!("{nope"), "not a JSON policy document: "),
            (json!([]), "a policy document must be a JSON object"),
            (json!({"Version": "2012-10-17"}), "a policy document needs a `Statement`"),
            (
                json!({"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: `Effect` must be \"Allow\" or \"Deny\"",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: a trust policy statement needs exactly one of `Principal` and `NotPrincipal`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*"}]}),
                "Statement[0]: give exactly one of `Action` and `NotAction`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 3}]}),
                "Statement[0]: `Action` must be a string or a list of strings",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Users": "x"}, "Action": "sts:AssumeRole"}]}),
                "Statement[0]: unknown principal type `Users`",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "someone", "Action": "sts:AssumeRole"}]}),
                "Statement[0]: `Principal` must be",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Extra": 1}]}),
                "Statement[0]: unknown element `Extra`",
            ),
        ] {
            let err = TrustPolicy::from_value(&document).unwrap_err();
            assert!(err.starts_with(error), "{document}: {err}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*b*", "abc"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("a**", "a"));
    }
}
