//! Resource policies: syntax checks and the "does this grant public access" question.
//!
//! Pure functions over the policy text; the engine stores the text exactly as given.

use serde_json::Value;

/// Why a policy document is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// Checks that `document` is an IAM policy: a JSON object with a `Statement` (one object or a
/// list), each statement with `Effect` `Allow` or `Deny`, an action, and a principal.
///
/// # Errors
/// A description of the first problem found.
pub fn check(document: &str) -> Result<Value, Malformed> {
    let policy: Value = serde_json::from_str(document)
        .map_err(|_| Malformed("This resource policy contains a syntax error.".into()))?;
    let statements =
        statements(&policy).ok_or_else(|| Malformed("This resource policy contains a syntax error.".into()))?;
    if statements.is_empty() {
        return Err(Malformed("This resource policy contains a syntax error.".into()));
    }
    for statement in statements {
        let Some(obj) = statement.as_object() else {
            return Err(Malformed("This resource policy contains a syntax error.".into()));
        };
        if !matches!(obj.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
            return Err(Malformed("This resource policy contains a syntax error.".into()));
        }
        if !obj.contains_key("Action") && !obj.contains_key("NotAction") {
            return Err(Malformed("This resource policy contains a syntax error.".into()));
        }
        if !obj.contains_key("Principal") && !obj.contains_key("NotPrincipal") {
            return Err(Malformed("This resource policy contains an unsupported principal.".into()));
        }
    }
    Ok(policy)
}

fn statements(policy: &Value) -> Option<Vec<&Value>> {
    match policy.as_object()?.get("Statement")? {
        Value::Array(list) => Some(list.iter().collect()),
        one @ Value::Object(_) => Some(vec![one]),
        _ => None,
    }
}

/// True when an `Allow` statement names every principal (`"*"` or `{"AWS": "*"}`) without a
/// condition that narrows it: what BlockPublicPolicy refuses.
#[must_use]
pub fn grants_public_access(policy: &Value) -> bool {
    statements(policy).unwrap_or_default().into_iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Condition").is_none_or(|c| c.as_object().is_none_or(serde_json::Map::is_empty))
            && s.get("Principal").is_some_and(is_everyone)
    })
}

fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Array(list) => list.iter().any(is_everyone),
        Value::Object(map) => map.get("AWS").is_some_and(is_everyone),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

    #[test]
    fn syntax() {
        assert!(check(PRIVATE).is_ok());
        assert!(check("not json").is_err());
        assert!(check("{}").is_err());
        assert!(check(r#"{"Statement":[]}"#).is_err());
        assert!(check(r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}"#).is_err());
        assert!(check(r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#).is_err());
        assert_eq!(
            check(r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#).unwrap_err().0,
            "This resource policy contains an unsupported principal."
        );
    }

    #[test]
    fn public_access() {
        assert!(!grants_public_access(&check(PRIVATE).unwrap()));
        let public =
            check(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}}"#)
                .unwrap();
        assert!(grants_public_access(&public));
        let aws_star =
            check(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"*"}]}"#)
                .unwrap();
        assert!(grants_public_access(&aws_star));
        let conditioned = check(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}}"#,
        )
        .unwrap();
        assert!(!grants_public_access(&conditioned));
        let deny = check(r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}"#).unwrap();
        assert!(!grants_public_access(&deny));
    }
}
