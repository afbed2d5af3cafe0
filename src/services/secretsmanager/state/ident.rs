//! Secret names, ARNs, and what a `SecretId` refers to.

use crate::error::{ApiError, Result};

/// Characters AWS allows in a secret name besides ASCII letters and digits.
const NAME_PUNCTUATION: &[u8] = b"/_+=.@-";
pub const ARN_SUFFIX_LEN: usize = 6;

#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(&b))
}

/// The charset check AWS applies to a `Name`, and to a `SecretId` that is not an ARN,
/// before it looks anything up.
pub fn check_secret_id(id: &str) -> Result<()> {
    if id.starts_with("arn:") || is_valid_name(id) { Ok(()) } else { Err(ApiError::invalid_name()) }
}

pub fn check_name(name: &str) -> Result<()> {
    if is_valid_name(name) { Ok(()) } else { Err(ApiError::invalid_name()) }
}

#[must_use]
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[must_use]
pub fn secret_arn(region: &str, account: &str, name: &str, suffix: &str) -> String {
    format!("arn:{}:secretsmanager:{region}:{account}:secret:{name}-{suffix}", partition_of(region))
}

/// What a `SecretId` names, once parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretRef<'a> {
    Name(&'a str),
    /// A full ARN: the name and the random suffix it must carry.
    Arn {
        region: &'a str,
        account: &'a str,
        name: &'a str,
        suffix: &'a str,
    },
    /// An ARN without the random suffix.
    PartialArn {
        region: &'a str,
        account: &'a str,
        name: &'a str,
    },
    /// Starts with `arn:` but is no secret ARN at all.
    Unresolvable,
}

/// Parses a `SecretId`. An ARN whose last segment ends in `-` plus six characters is taken as
/// a full ARN even when it was meant as a partial one, as AWS does.
#[must_use]
pub fn parse_secret_id(id: &str) -> SecretRef<'_> {
    let Some(rest) = id.strip_prefix("arn:") else {
        return SecretRef::Name(id);
    };
    // partition:service:region:account:secret:name — names never contain ':'.
    let parts: Vec<&str> = rest.splitn(6, ':').collect();
    let [_partition, service, region, account, resource, name] = parts[..] else {
        return SecretRef::Unresolvable;
    };
    if service != "secretsmanager" || resource != "secret" || name.is_empty() {
        return SecretRef::Unresolvable;
    }
    if let Some((base, suffix)) = split_suffix(name) {
        return SecretRef::Arn { region, account, name: base, suffix };
    }
    SecretRef::PartialArn { region, account, name }
}

fn split_suffix(name: &str) -> Option<(&str, &str)> {
    let dash = name.len().checked_sub(ARN_SUFFIX_LEN + 1)?;
    let (base, tail) = name.split_at(dash);
    let suffix = tail.strip_prefix('-')?;
    (!base.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric())).then_some((base, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("Valid/_+=.@-Name"));
        assert!(!is_valid_name("Inv Name"));
        assert!(!is_valid_name(" Inv*Name? "));
        assert!(!is_valid_name("bang!"));
        assert!(!is_valid_name(""));
        assert!(check_secret_id("arn:aws:whatever").is_ok());
        assert_eq!(check_secret_id("a b").unwrap_err(), ApiError::invalid_name());
    }

    #[test]
    fn arns() {
        let arn = secret_arn("us-east-1", "123456789012", "prod/db", "Ab3xYz");
        assert_eq!(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-Ab3xYz");
        assert_eq!(
            parse_secret_id(&arn),
            SecretRef::Arn { region: "us-east-1", account: "123456789012", name: "prod/db", suffix: "Ab3xYz" }
        );
        assert_eq!(
            parse_secret_id("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"),
            SecretRef::PartialArn { region: "us-east-1", account: "123456789012", name: "prod/db" }
        );
        assert_eq!(secret_arn("cn-north-1", "1", "n", "x"), "arn:aws-cn:secretsmanager:cn-north-1:1:secret:n-x");
    }

    #[test]
    fn partial_arn_that_looks_full_is_taken_as_full() {
        let partial = "arn:aws:secretsmanager:us-east-1:1:secret:Invalid/_+=.@-Name-a1b2c3";
        assert!(matches!(
            parse_secret_id(partial),
            SecretRef::Arn { name: "Invalid/_+=.@-Name", suffix: "a1b2c3", .. }
        ));
        let ok = "arn:aws:secretsmanager:us-east-1:1:secret:Valid-Name-a1b2c3-";
        assert!(matches!(parse_secret_id(ok), SecretRef::PartialArn { name: "Valid-Name-a1b2c3-", .. }));
        assert!(matches!(
            parse_secret_id("arn:aws:secretsmanager:us-east-1:1:secret:s-c64bdc03"),
            SecretRef::PartialArn { .. }
        ));
    }

    #[test]
    fn foreign_arns_are_unresolvable() {
        assert_eq!(parse_secret_id("arn:aws:s3:::bucket"), SecretRef::Unresolvable);
        assert_eq!(parse_secret_id("arn:"), SecretRef::Unresolvable);
        assert_eq!(parse_secret_id("arn:aws:secretsmanager:r:a:secret:"), SecretRef::Unresolvable);
    }
}
