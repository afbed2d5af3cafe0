//! Condition operators and the request context they test.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use crate::clock::Timestamp;

use super::parse::Condition;
use super::pattern;

/// The condition keys of one request: name (matched case-insensitively) → values. Holds only
/// the keys the request really carries: a parameter the caller did not send is absent, not
/// defaulted (spec §2.4). Keys about the caller (`aws:PrincipalArn`, `aws:username`,
/// `aws:PrincipalTag/*` ...) come from the request's [`super::Principal`] unless set here.
///
/// A request carries a handful of keys, so they are a list, not a map; the global keys every
/// request has are written only if a condition asks for them.
///
/// Keys and values are borrowed where the request already holds them (the pipeline evaluates a
/// request once per policy target), owned where they are made for the evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context<'a> {
    keys: Vec<(Cow<'a, str>, Cow<'a, [String]>)>,
    globals: Option<Globals<'a>>,
}

/// What the global keys are made from, and each key's values once asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Globals<'a> {
    now: Timestamp,
    region: Cow<'a, str>,
    source_ip: Option<IpAddr>,
    made: [OnceLock<Vec<String>>; GLOBAL_KEYS.len()],
}

/// The keys [`Context::set_globals`] provides, in the order of [`Globals::made`].
const GLOBAL_KEYS: [&str; 5] =
    ["aws:CurrentTime", "aws:EpochTime", "aws:SecureTransport", "aws:RequestedRegion", "aws:SourceIp"];

impl<'a> Context<'a> {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&mut self, key: Cow<'a, str>, values: Cow<'a, [String]>) {
        match self.keys.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            Some(slot) => slot.1 = values,
            None => self.keys.push((key, values)),
        }
    }

    /// Sets a single-valued key.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.set(Cow::Owned(key.to_owned()), Cow::Owned(vec![value.into()]));
        self
    }

    /// Sets each of `pairs` with its values, borrowing them.
    pub fn borrow_pairs(&mut self, pairs: &[(&'a str, &'a [String])]) -> &mut Self {
        for (key, values) in pairs {
            self.set(Cow::Borrowed(key), Cow::Borrowed(values));
        }
        self
    }

    /// Sets each of `keys` with its values, borrowing them.
    pub fn borrow_all(&mut self, keys: &'a [(String, Vec<String>)]) -> &mut Self {
        for (key, values) in keys {
            self.set(Cow::Borrowed(key), Cow::Borrowed(values));
        }
        self
    }

    /// Sets a multivalued key (`aws:TagKeys`, `secretsmanager:AddReplicaRegions`); an empty
    /// list is a key present with no values.
    pub fn insert_all<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set(Cow::Owned(key.to_owned()), Cow::Owned(values.into_iter().map(Into::into).collect()));
        self
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Provides the global keys every request carries, unless set otherwise: `aws:CurrentTime`
    /// (ISO 8601) and `aws:EpochTime` from `now` (smemu's clock), `aws:SecureTransport` (smemu
    /// serves plain HTTP), `aws:RequestedRegion`, and `aws:SourceIp` when known.
    pub fn set_globals(&mut self, now: Timestamp, region: &'a str, source_ip: Option<IpAddr>) -> &mut Self {
        self.globals = Some(Globals { now, region: Cow::Borrowed(region), source_ip, made: Default::default() });
        self
    }

    /// The values of `key`, whatever its case.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if let Some((_, values)) = self.keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Some(values);
        }
        let globals = self.globals.as_ref()?;
        let index = GLOBAL_KEYS.iter().position(|k| k.eq_ignore_ascii_case(key))?;
        if let Some(values) = globals.made[index].get() {
            return Some(values);
        }
        let value = match index {
            0 => globals.now.to_iso8601(),
            1 => globals.now.millis().div_euclid(1000).to_string(),
            2 => "false".to_owned(),
            3 => globals.region.to_string(),
            _ => globals.source_ip?.to_string(),
        };
        Some(globals.made[index].get_or_init(|| vec![value]))
    }

    /// The keys set, with their values (not the global keys).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

/// `ForAllValues:` / `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

/// A condition operator without its qualifier and `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPERATORS: [(&str, Operator); 27] = [
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Operator::StringNotEqualsIgnoreCase),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    ("NumericGreaterThanEquals", Operator::NumericGreaterThanEquals),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// `ForAnyValue:StringEqualsIfExists` → (qualifier, operator, if_exists).
    pub(crate) fn parse_full(text: &str) -> Option<(Option<SetQualifier>, Self, bool)> {
        let (qualifier, rest) = match text.split_once(':') {
            Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => (Some(SetQualifier::ForAllValues), rest),
            Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => (Some(SetQualifier::ForAnyValue), rest),
            Some(_) => return None,
            None => (None, text),
        };
        let lookup = |name: &str| OPERATORS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, op)| *op);
        if let Some(op) = lookup(rest) {
            return Some((qualifier, op, false));
        }
        // Not a character boundary: then it cannot end in `IfExists` either.
        let base = rest.len().checked_sub("IfExists".len()).and_then(|n| rest.split_at_checked(n))?;
        if !base.1.eq_ignore_ascii_case("IfExists") {
            return None;
        }
        // Null tests existence itself; `NullIfExists` means nothing.
        lookup(base.0).filter(|op| *op != Self::Null).map(|op| (qualifier, op, true))
    }

    /// The name IAM documents.
    #[must_use]
    pub fn name(self) -> &'static str {
        OPERATORS.iter().find(|(_, op)| *op == self).map_or("", |(n, _)| n)
    }

    /// Negated operators must match none of the policy's values, and hold when the key is
    /// absent (spec §2.4).
    #[must_use]
    pub fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// Whether policy variables are substituted in this operator's values.
    fn takes_variables(self) -> bool {
        matches!(
            self,
            Self::StringEquals
                | Self::StringNotEquals
                | Self::StringEqualsIgnoreCase
                | Self::StringNotEqualsIgnoreCase
                | Self::StringLike
                | Self::StringNotLike
                | Self::ArnEquals
                | Self::ArnLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// The positive form's test of one request value against one policy value (already
    /// substituted). `None` policy value: a variable without value, which matches nothing.
    fn positive_match(self, request: &str, policy: &str) -> bool {
        use Operator as O;
        match self {
            O::StringEquals | O::StringNotEquals => request == policy,
            O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => request.to_lowercase() == policy.to_lowercase(),
            O::StringLike | O::StringNotLike => pattern::wildcard(policy, request, false),
            O::NumericEquals | O::NumericNotEquals => numbers(request, policy).is_some_and(|(r, p)| r == p),
            O::NumericLessThan => numbers(request, policy).is_some_and(|(r, p)| r < p),
            O::NumericLessThanEquals => numbers(request, policy).is_some_and(|(r, p)| r <= p),
            O::NumericGreaterThan => numbers(request, policy).is_some_and(|(r, p)| r > p),
            O::NumericGreaterThanEquals => numbers(request, policy).is_some_and(|(r, p)| r >= p),
            O::DateEquals | O::DateNotEquals => dates(request, policy).is_some_and(|(r, p)| r == p),
            O::DateLessThan => dates(request, policy).is_some_and(|(r, p)| r < p),
            O::DateLessThanEquals => dates(request, policy).is_some_and(|(r, p)| r <= p),
            O::DateGreaterThan => dates(request, policy).is_some_and(|(r, p)| r > p),
            O::DateGreaterThanEquals => dates(request, policy).is_some_and(|(r, p)| r >= p),
            O::Bool => request.eq_ignore_ascii_case(policy),
            O::BinaryEquals => request == policy,
            O::IpAddress | O::NotIpAddress => in_cidr(request, policy),
            O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => arn_like(policy, request),
            O::Null => false,
        }
    }
}

fn numbers(request: &str, policy: &str) -> Option<(f64, f64)> {
    Some((request.trim().parse().ok()?, policy.trim().parse().ok()?))
}

/// A date as IAM reads one: ISO 8601 (with or without time and offset) or epoch seconds.
/// Compared in milliseconds since the epoch.
pub fn date(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(epoch) = text.parse::<i64>() {
        return epoch.checked_mul(1000);
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let utc = jiff::tz::Offset::UTC;
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return utc.to_timestamp(dt).ok().map(jiff::Timestamp::as_millisecond);
    }
    let day = text.parse::<jiff::civil::Date>().ok()?;
    utc.to_timestamp(day.to_datetime(jiff::civil::Time::midnight())).ok().map(jiff::Timestamp::as_millisecond)
}

fn dates(request: &str, policy: &str) -> Option<(i64, i64)> {
    Some((date(request)?, date(policy)?))
}

/// Whether `ip` lies in `cidr` (a bare address is a /32 or /128).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match cidr.trim().split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = bits.unwrap_or(32);
            bits <= 32 && prefix_eq(u128::from(u32::from(ip)) << 96, u128::from(u32::from(net)) << 96, bits)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = bits.unwrap_or(128);
            bits <= 128 && prefix_eq(u128::from(ip), u128::from(net), bits)
        }
        _ => false,
    }
}

fn prefix_eq(a: u128, b: u128, bits: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - bits);
    a & mask == b & mask
}

/// ARN matching as `ArnLike` does it: the six colon-separated parts match one by one, each
/// with `*` and `?`; the last part keeps any further colons.
pub(crate) fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| pattern::wildcard(p, a, false))
}

/// Whether one condition holds for the request's values of its key (`None`: key absent).
pub(crate) fn holds(
    condition: &Condition,
    request_values: Option<&[String]>,
    resolve: Option<pattern::Resolve<'_>>,
) -> bool {
    let op = condition.operator;
    if op == Operator::Null {
        let absent = request_values.is_none_or(<[String]>::is_empty);
        return condition.values.iter().any(|v| v.eq_ignore_ascii_case("true") == absent);
    }
    let Some(values) = request_values else {
        return condition.if_exists
            || match condition.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => op.negated(),
            };
    };
    // Policy values after variable substitution; a variable with no value matches nothing.
    let substituted: Vec<String>;
    let policy: &[String] = match resolve.filter(|_| condition.variables && op.takes_variables()) {
        Some(resolve) => {
            substituted = condition.values.iter().filter_map(|v| substitute(v, resolve, op)).collect();
            &substituted
        }
        None => &condition.values,
    };
    let value_holds = |request: &String| {
        let any = policy.iter().any(|p| op.positive_match(request, p));
        if op.negated() { !any } else { any }
    };
    match condition.qualifier {
        Some(SetQualifier::ForAllValues) => values.iter().all(value_holds),
        Some(SetQualifier::ForAnyValue) => values.iter().any(value_holds),
        None if op.negated() => values.iter().all(value_holds),
        None => values.iter().any(value_holds),
    }
}

/// Substitutes the variables of a condition value. For the `*Like` operators the substituted
/// text must stay literal, so `*` and `?` coming from a variable are not wildcards; a value
/// that needs this is turned back into a pattern whose wildcards come only from the policy.
fn substitute(value: &str, resolve: pattern::Resolve<'_>, op: Operator) -> Option<String> {
    if !value.contains("${") {
        return Some(value.to_string());
    }
    let wild = matches!(
        op,
        Operator::StringLike
            | Operator::StringNotLike
            | Operator::ArnLike
            | Operator::ArnNotLike
            | Operator::ArnEquals
            | Operator::ArnNotEquals
    );
    let tokens = pattern::compile(value, wild, Some(resolve))?;
    if wild && tokens.iter().any(|t| matches!(t, pattern::Token::Char('*' | '?'))) {
        // A literal `*`/`?` inside a wildcard operator cannot be expressed as text: such a
        // value matches only a request value equal to the substituted text, which
        // `positive_match` cannot know. Rare (names with `*` are invalid in IAM); refuse.
        return None;
    }
    Some(
        tokens
            .iter()
            .map(|t| match t {
                pattern::Token::Char(c) => *c,
                pattern::Token::Any => '*',
                pattern::Token::One => '?',
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        assert_eq!(Operator::parse_full("StringEquals"), Some((None, Operator::StringEquals, false)));
        assert_eq!(
            Operator::parse_full("ForAnyValue:StringLikeIfExists"),
            Some((Some(SetQualifier::ForAnyValue), Operator::StringLike, true))
        );
        assert_eq!(Operator::parse_full("NullIfExists"), None);
        assert_eq!(Operator::parse_full("StringSortOf"), None);
        assert_eq!(Operator::parse_full("ForSomeValues:StringEquals"), None);
    }

    #[test]
    fn operator_names_of_any_text_parse_or_not_without_panicking() {
        assert_eq!(Operator::parse_full("StringEqualsIfExists"), Some((None, Operator::StringEquals, true)));
        // The last eight bytes start inside a three-byte character.
        assert_eq!(Operator::parse_full("SzuCffcUaEf\u{efef}[[tnals"), None);
        assert_eq!(Operator::parse_full("ForAnyValue:\u{e9}IfExists"), None);
        assert_eq!(Operator::parse_full("IfExist\u{e9}"), None);
    }

    #[test]
    fn globals() {
        let mut c = Context::new();
        c.set_globals(Timestamp(1_577_836_800_500), "eu-west-1", "10.0.0.1".parse().ok());
        assert_eq!(c.get("AWS:CurrentTime"), Some(&["2020-01-01T00:00:00.500Z".to_string()][..]));
        assert_eq!(c.get("aws:CurrentTime"), Some(&["2020-01-01T00:00:00.500Z".to_string()][..]), "asked again");
        assert_eq!(c.get("aws:epochtime"), Some(&["1577836800".to_string()][..]));
        assert_eq!(c.get("aws:SecureTransport"), Some(&["false".to_string()][..]));
        assert_eq!(c.get("aws:RequestedRegion"), Some(&["eu-west-1".to_string()][..]));
        assert_eq!(c.get("aws:SourceIp"), Some(&["10.0.0.1".to_string()][..]));
        assert_eq!(c.iter().count(), 0, "globals are not keys the request set");
        c.insert("AWS:REQUESTEDREGION", "us-east-2").insert("aws:requestedregion", "us-west-2");
        assert_eq!(c.get("aws:RequestedRegion"), Some(&["us-west-2".to_string()][..]), "set keys win, once each");
        assert_eq!(c.iter().count(), 1);
        c.set_globals(Timestamp(0), "eu-west-1", None);
        assert_eq!(c.get("aws:SourceIp"), None);
    }

    #[test]
    fn cidrs_dates_arns() {
        assert!(in_cidr("10.1.2.3", "10.0.0.0/8"));
        assert!(!in_cidr("11.1.2.3", "10.0.0.0/8"));
        assert!(in_cidr("10.1.2.3", "10.1.2.3"));
        assert!(in_cidr("1.2.3.4", "0.0.0.0/0"));
        assert!(in_cidr("2001:db8::1", "2001:db8::/32"));
        assert!(!in_cidr("2001:db9::1", "2001:db8::/32"));
        assert!(!in_cidr("10.1.2.3", "2001:db8::/32"));
        assert!(!in_cidr("nope", "10.0.0.0/8"));
        assert_eq!(date("2020-01-01T00:00:00Z"), Some(1_577_836_800_000));
        assert_eq!(date("2020-01-01"), Some(1_577_836_800_000));
        assert_eq!(date("1577836800"), Some(1_577_836_800_000));
        assert!(arn_like("arn:aws:iam::*:role/*", "arn:aws:iam::123:role/a/b"));
        assert!(!arn_like("arn:aws:iam::*:role/*", "arn:aws:iam::123:user/a"));
        assert!(arn_like("arn:aws:secretsmanager:*:*:secret:a:b*", "arn:aws:secretsmanager:us-east-1:1:secret:a:bc"));
    }
}
