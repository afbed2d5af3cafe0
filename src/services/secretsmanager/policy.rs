//! A secret's resource policy as Secrets Manager judges it: the syntax check behind
//! PutResourcePolicy and ValidateResourcePolicy, and the "public" test behind
//! BlockPublicPolicy, both on the policy engine ([`crate::iam::policy`]).
//!
//! The engine stores nothing: the secret keeps the text exactly as given.

use crate::iam::policy::{Condition, Effect, Operator, Policy, PolicyErrorKind, SetQualifier, Statement};

/// Why a policy document is refused (the text of MalformedPolicyDocumentException).
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

const SYNTAX_ERROR: &str = "This resource policy contains a syntax error.";
const UNSUPPORTED_PRINCIPAL: &str = "This resource policy contains an unsupported principal.";

/// Checks that `document` is a resource policy: valid IAM policy syntax, at least one
/// statement, a principal in each.
///
/// # Errors
/// Secrets Manager's text for the first problem found.
pub fn check(document: &str) -> Result<Policy, Malformed> {
    // Secrets Manager takes the policy as JSON text only, not URL-encoded as IAM returns it.
    if serde_json::from_str::<serde_json::Value>(document).is_err() {
        return Err(Malformed(SYNTAX_ERROR.into()));
    }
    let policy = Policy::parse(document).map_err(|e| Malformed(text_for(e.kind).into()))?;
    if policy.statements().is_empty() {
        return Err(Malformed(SYNTAX_ERROR.into()));
    }
    policy.check_resource().map_err(|e| Malformed(text_for(e.kind).into()))?;
    Ok(policy)
}

fn text_for(kind: PolicyErrorKind) -> &'static str {
    match kind {
        PolicyErrorKind::Principal | PolicyErrorKind::PrincipalMissing => UNSUPPORTED_PRINCIPAL,
        PolicyErrorKind::Syntax | PolicyErrorKind::Condition | PolicyErrorKind::PrincipalNotAllowed => SYNTAX_ERROR,
    }
}

/// One finding of ValidateResourcePolicy: a stable check name and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check_name: &'static str,
    pub error_message: &'static str,
}

/// The broad-access check: the policy grants a wildcard principal.
pub const BROAD_ACCESS_CHECK: &str = "BROAD_ACCESS_CHECK";
const BROAD_ACCESS_MESSAGE: &str =
    "This resource policy grants access to every principal (\"*\") without a condition that narrows it.";

/// What ValidateResourcePolicy reports about a policy that passed [`check`].
#[must_use]
pub fn findings(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if grants_public_access(policy) {
        out.push(Finding { check_name: BROAD_ACCESS_CHECK, error_message: BROAD_ACCESS_MESSAGE });
    }
    out
}

/// True when an `Allow` statement grants a wildcard principal (`"*"`, `{"AWS": "*"}`, or
/// `NotPrincipal`, which admits everyone not listed) without a condition restricting it to
/// accounts, organisations or sources: what BlockPublicPolicy refuses.
#[must_use]
pub fn grants_public_access(policy: &Policy) -> bool {
    policy.statements().iter().any(|s| s.effect() == Effect::Allow && wildcard_principal(s) && !restricted(s))
}

fn wildcard_principal(s: &Statement) -> bool {
    s.principal().is_some_and(|(set, negated)| negated || set.everyone)
}

/// Condition keys that pin a wildcard principal to known accounts, organisations or sources.
const RESTRICTING_KEYS: [&str; 14] = [
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:userid",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceowner",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "kms:calleraccount",
];

/// Whether one condition of the statement restricts who it admits. Only a positive test that
/// must hold can: a negated operator, `IfExists`, or `ForAllValues` also pass callers that
/// lack the key, and a value that is all wildcards admits anyone.
fn restricted(s: &Statement) -> bool {
    s.conditions().iter().any(|c: &Condition| {
        RESTRICTING_KEYS.contains(&c.key.to_ascii_lowercase().as_str())
            && !c.operator.negated()
            && !c.if_exists
            && c.qualifier != Some(SetQualifier::ForAllValues)
            && c.operator != Operator::Null
            && !c.values.is_empty()
            && c.values.iter().all(|v| v.chars().any(|ch| ch != '*' && ch != '?'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

    #[test]
    fn syntax() {
        assert!(check(PRIVATE).is_ok());
        for bad in [
            "not json",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringMaybe":{"a":"b"}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Colour":"red"}}"#,
            "%7B%22Statement%22%3A%5B%5D%7D",
        ] {
            assert_eq!(check(bad).unwrap_err().0, SYNTAX_ERROR, "{bad}");
        }
        for bad in [
            r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"someone","Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Group":"x"},"Action":"*"}}"#,
        ] {
            assert_eq!(check(bad).unwrap_err().0, UNSUPPORTED_PRINCIPAL, "{bad}");
        }
    }

    fn public(statement: &str) -> bool {
        grants_public_access(&check(&format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)).unwrap())
    }

    #[test]
    fn public_access() {
        assert!(!grants_public_access(&check(PRIVATE).unwrap()));
        assert!(public(r#"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#));
        assert!(public(r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"*"}"#));
        assert!(public(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"*"}"#));
        assert!(!public(r#"{"Effect":"Deny","Principal":"*","Action":"*"}"#));
        for restricting in [
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
            r#"{"StringEquals":{"AWS:PrincipalAccount":["111122223333"]}}"#,
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:*"}}"#,
            r#"{"StringEquals":{"aws:SourceVpce":"vpce-1"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-1/r-1/*"}}"#,
        ] {
            let statement = format!(r#"{{"Effect":"Allow","Principal":"*","Action":"*","Condition":{restricting}}}"#);
            assert!(!public(&statement), "{restricting}");
        }
        for loose in [
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            r#"{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
            r#"{"StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}"#,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
            r#"{"StringLike":{"aws:PrincipalAccount":"*"}}"#,
            r#"{"Null":{"aws:PrincipalAccount":"false"}}"#,
        ] {
            let statement = format!(r#"{{"Effect":"Allow","Principal":"*","Action":"*","Condition":{loose}}}"#);
            assert!(public(&statement), "{loose}");
        }
    }

    #[test]
    fn findings_have_stable_check_names() {
        assert!(findings(&check(PRIVATE).unwrap()).is_empty());
        let open = check(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}"#).unwrap();
        assert_eq!(
            findings(&open),
            vec![Finding { check_name: "BROAD_ACCESS_CHECK", error_message: BROAD_ACCESS_MESSAGE }]
        );
    }
}
