//! `ListSecrets` / `BatchGetSecretValue` filters as pure predicates
//! (behaviour spec §9).
//!
//! * Filters combine with AND, a repeated key included.
//! * The values of one filter combine with OR.
//! * A value starting with `!` is negated: it matches when the rest of the
//!   value does **not** match. Each value is judged on its own and the results
//!   are OR-ed, negated or not; so `["one", "!two"]` keeps every secret that
//!   matches `one` *or* does not match `two`. AWS's rule for mixing is
//!   unconfirmed; this is the literal reading of "values are OR-ed".
//!
//! Per key:
//!
//! | key | matches when | case |
//! |---|---|---|
//! | `name` | the value is a prefix of the whole name (no word splitting) | sensitive |
//! | `description` | every space-separated word of the value is a prefix of some whitespace-separated word of the description | insensitive |
//! | `tag-key`, `tag-value` | the value is a prefix of some tag key / tag value | sensitive |
//! | `primary-region` | the value is a prefix of the primary Region | sensitive |
//! | `owning-service` | the value is a prefix of the owning service | sensitive (see [`OWNING_SERVICE_CASE_SENSITIVE`]) |
//! | `all` | every space-separated word of the value matches at token starts in the name, the description, a tag key or a tag value (see below) | insensitive |
//!
//! A secret that lacks the attribute (no description, no primary Region, no
//! owning service) never matches a plain value, and therefore always matches
//! a negated one (`!x` is exactly "not `x`"). A value with no words (empty or
//! only spaces) for `description` or `all` matches nothing. A filter with no
//! values matches nothing; refusing it (`InvalidParameterException`) is the
//! caller's job, like refusing an unknown key.
//!
//! # Tokenisation for `all`
//!
//! Each attribute is cut on whitespace into words, and each word into tokens
//! the way AWS was observed to cut names:
//!
//! * If the word contains exactly one kind of separator among `/ _ + = . @ -`,
//!   it is split there and the separators are dropped (`prod/AppBeta/x`). If
//!   it contains two different kinds (`prod-AppBeta/x`) it stays one token,
//!   not even split at case changes.
//! * Otherwise a token also ends at a lower→upper change (`SecretOne` →
//!   `Secret`, `One`) and, in a run of capitals followed by a lower-case
//!   letter, before the last capital (`COMPANYthings` → `COMPAN`, `Ythings`).
//!   Digits never split (`abc1Def` is one token).
//!
//! Descriptions, tag keys and tag values are tokenised with the same rules as
//! names (`:` is not a separator: `aws:cloudformation:stack-name` gives
//! `aws:cloudformation:stack`, `name`).
//!
//! The mixed-separator rule comes from a remark in a test run against AWS, in
//! which that secret was not actually created; treat it as the weakest of
//! these rules.
//!
//! Each space-separated word of the filter value is tokenised the same way,
//! and matches when its tokens line up with a run of adjacent tokens of one
//! attribute word, in order, each a case-insensitive prefix of the token
//! under it. So `AppBeta` (`App`,`Beta`) and `beta` match `prod/AppBeta/x`;
//! `SecretOne` matches `SecretOne1234`; `company` matches `uat/COMPANY/x` but
//! not `uat/COMPANYthings/x` (whose token is `COMPAN`); `ret` does not match
//! `SecretOne`. The value word taken whole, as a single token, is tried too,
//! so `prod-App` matches the unsplit `prod-AppBeta/x`. A value word with no
//! letter or digit (`+`) matches nothing.
//! One consequence, unconfirmed on AWS: an all-lower-case `appbeta` is one
//! token and does not match `AppBeta`.

use crate::services::secretsmanager::state::secret::Tag;

/// `owning-service` is compared case-sensitively, as the API model documents;
/// the user guide says otherwise and AWS's behaviour is unconfirmed.
pub const OWNING_SERVICE_CASE_SENSITIVE: bool = true;

/// Separators that split a name into words for the `all` filter.
const SEPARATORS: [char; 7] = ['/', '_', '+', '=', '.', '@', '-'];

/// A filter key, as sent on the wire in `Filters[].Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterKey {
    Description,
    Name,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

impl FilterKey {
    /// Parses a wire key (`description`, `name`, `tag-key`, `tag-value`,
    /// `primary-region`, `owning-service`, `all`). Exact, case-sensitive.
    #[must_use]
    pub fn parse(s: &str) -> Option<FilterKey> {
        Some(match s {
            "description" => Self::Description,
            "name" => Self::Name,
            "tag-key" => Self::TagKey,
            "tag-value" => Self::TagValue,
            "primary-region" => Self::PrimaryRegion,
            "owning-service" => Self::OwningService,
            "all" => Self::All,
            _ => return None,
        })
    }

    /// The wire spelling of the key.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Name => "name",
            Self::TagKey => "tag-key",
            Self::TagValue => "tag-value",
            Self::PrimaryRegion => "primary-region",
            Self::OwningService => "owning-service",
            Self::All => "all",
        }
    }
}

/// One entry of `Filters`: a key and its values (each possibly `!`-negated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: FilterKey,
    pub values: Vec<String>,
}

impl Filter {
    /// Whether `s` passes this filter: some value matches (OR).
    #[must_use]
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        self.values.iter().any(|value| {
            let (negated, pattern) = split_negation(value);
            key_matches(self.key, pattern, s) != negated
        })
    }
}

/// What a filter looks at in one secret.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub tags: &'a [Tag],
    pub primary_region: Option<&'a str>,
    pub owning_service: Option<&'a str>,
}

/// Whether `s` passes every filter (AND). An empty list matches everything.
#[must_use]
pub fn matches_all(filters: &[Filter], s: &Subject<'_>) -> bool {
    filters.iter().all(|f| f.matches(s))
}

/// A name prefix that every matching secret must have, so the caller can walk
/// an ordered index from there instead of scanning every secret.
///
/// It comes from a `name` filter with exactly one value that is not negated;
/// if there are several such filters, the longest prefix is returned (all of
/// them must hold). Otherwise `None`. The secrets found this way still have to
/// pass [`matches_all`].
#[must_use]
pub fn name_prefix(filters: &[Filter]) -> Option<&str> {
    filters
        .iter()
        .filter(|f| f.key == FilterKey::Name)
        .filter_map(|f| match f.values.as_slice() {
            [only] if !only.starts_with('!') => Some(only.as_str()),
            _ => None,
        })
        .max_by_key(|p| p.len())
}

/// `"!x"` → `(true, "x")`; anything else → `(false, value)`.
fn split_negation(value: &str) -> (bool, &str) {
    match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    }
}

/// The positive match of one (already un-negated) value.
fn key_matches(key: FilterKey, pattern: &str, s: &Subject<'_>) -> bool {
    match key {
        FilterKey::Name => s.name.starts_with(pattern),
        FilterKey::Description => s.description.is_some_and(|d| description_matches(pattern, d)),
        FilterKey::TagKey => s.tags.iter().any(|t| t.key.starts_with(pattern)),
        FilterKey::TagValue => s.tags.iter().any(|t| t.value.starts_with(pattern)),
        FilterKey::PrimaryRegion => s.primary_region.is_some_and(|r| r.starts_with(pattern)),
        FilterKey::OwningService => s.owning_service.is_some_and(|o| {
            if OWNING_SERVICE_CASE_SENSITIVE { o.starts_with(pattern) } else { starts_with_ignore_case(o, pattern) }
        }),
        FilterKey::All => all_matches(pattern, s),
    }
}

/// Every word of `pattern` is a case-insensitive prefix of some word of
/// `description`. A pattern without words matches nothing.
fn description_matches(pattern: &str, description: &str) -> bool {
    let mut words = pattern.split_whitespace().peekable();
    words.peek().is_some() && words.all(|w| description.split_whitespace().any(|d| starts_with_ignore_case(d, w)))
}

/// The `all` key: every word of `pattern` matches, token by token, some word
/// of the name, the description, a tag key or a tag value. Different words may
/// match in different attributes.
fn all_matches(pattern: &str, s: &Subject<'_>) -> bool {
    let mut words = pattern.split_whitespace().peekable();
    if words.peek().is_none() {
        return false;
    }
    let fields = || {
        std::iter::once(s.name)
            .chain(s.description)
            .chain(s.tags.iter().flat_map(|t| [t.key.as_str(), t.value.as_str()]))
    };
    words.all(|w| {
        if !w.chars().any(char::is_alphanumeric) {
            return false;
        }
        let wanted = tokens(w);
        fields().any(|field| {
            field.split_whitespace().any(|word| {
                let have = tokens(word);
                tokens_match(&wanted, &have) || tokens_match(&[w], &have)
            })
        })
    })
}

/// `wanted` is non-empty and appears as a run of adjacent tokens of `have`,
/// each wanted token a case-insensitive prefix of the token it lines up with.
fn tokens_match(wanted: &[&str], have: &[&str]) -> bool {
    !wanted.is_empty()
        && have.windows(wanted.len()).any(|run| run.iter().zip(wanted).all(|(h, w)| starts_with_ignore_case(h, w)))
}

/// Cuts `word` (which has no whitespace) into tokens; see the module
/// documentation for the rules. Separators are dropped, so a word made only
/// of one kind of separator has no tokens.
fn tokens(word: &str) -> Vec<&str> {
    let mut kinds = SEPARATORS.iter().copied().filter(|&sep| word.contains(sep));
    let separator = kinds.next();
    if kinds.next().is_some() {
        return vec![word];
    }
    let mut out = Vec::new();
    for segment in word.split(|c| Some(c) == separator).filter(|seg| !seg.is_empty()) {
        split_case_changes(segment, &mut out);
    }
    out
}

/// Splits at lower→upper changes, and before the last capital of a run of
/// capitals that is followed by a lower-case letter.
fn split_case_changes<'a>(segment: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = segment.char_indices().collect();
    let mut start = 0;
    for k in 1..chars.len() {
        let (at, cur) = chars[k];
        let prev = chars[k - 1].1;
        let next = chars.get(k + 1).map(|&(_, c)| c);
        let lower_to_upper = prev.is_lowercase() && cur.is_uppercase();
        let end_of_capital_run = prev.is_uppercase() && cur.is_uppercase() && next.is_some_and(char::is_lowercase);
        if lower_to_upper || end_of_capital_run {
            out.push(&segment[start..at]);
            start = at;
        }
    }
    out.push(&segment[start..]);
}

/// `haystack` starts with `needle`, comparing lower-cased characters.
fn starts_with_ignore_case(haystack: &str, needle: &str) -> bool {
    let mut hay = haystack.chars().flat_map(char::to_lowercase);
    needle.chars().flat_map(char::to_lowercase).all(|n| hay.next() == Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned secret for tests; `subject()` borrows it.
    #[derive(Default)]
    struct Secret {
        name: String,
        description: Option<String>,
        tags: Vec<Tag>,
        primary_region: Option<String>,
        owning_service: Option<String>,
    }

    impl Secret {
        fn named(name: &str) -> Self {
            Self { name: name.to_owned(), ..Self::default() }
        }
        fn desc(mut self, d: &str) -> Self {
            self.description = Some(d.to_owned());
            self
        }
        fn tag(mut self, k: &str, v: &str) -> Self {
            self.tags.push(Tag { key: k.to_owned(), value: v.to_owned() });
            self
        }
        fn subject(&self) -> Subject<'_> {
            Subject {
                name: &self.name,
                description: self.description.as_deref(),
                tags: &self.tags,
                primary_region: self.primary_region.as_deref(),
                owning_service: self.owning_service.as_deref(),
            }
        }
    }

    fn f(key: &str, values: &[&str]) -> Filter {
        Filter {
            key: FilterKey::parse(key).expect("known key"),
            values: values.iter().map(|&v| v.to_owned()).collect(),
        }
    }

    /// Names of the secrets that pass `filters`, in input order.
    fn select<'a>(secrets: &'a [Secret], filters: &[Filter]) -> Vec<&'a str> {
        secrets.iter().filter(|s| matches_all(filters, &s.subject())).map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn parse_keys() {
        for key in [
            FilterKey::Description,
            FilterKey::Name,
            FilterKey::TagKey,
            FilterKey::TagValue,
            FilterKey::PrimaryRegion,
            FilterKey::OwningService,
            FilterKey::All,
        ] {
            assert_eq!(FilterKey::parse(key.as_str()), Some(key));
        }
        assert_eq!(FilterKey::parse("tag-key"), Some(FilterKey::TagKey));
        assert_eq!(FilterKey::parse("Name"), None);
        assert_eq!(FilterKey::parse("tag_key"), None);
        assert_eq!(FilterKey::parse(""), None);
    }

    #[test]
    fn no_filters_match_everything() {
        assert!(matches_all(&[], &Secret::named("x").subject()));
    }

    /// The four secrets of the AWS-recorded `ListSecrets` filtering test.
    fn recorded() -> Vec<Secret> {
        vec![
            Secret::named("testing1/one-12345").desc("a secret"),
            Secret::named("/testing2/two-12345").desc("an secret"),
            Secret::named("testing3/three-12345").desc("asecret"),
            Secret::named("/testing4/four-12345").desc("thesecret"),
        ]
    }

    #[test]
    fn name_is_a_case_sensitive_prefix_of_the_whole_name() {
        let s = recorded();
        assert_eq!(select(&s, &[f("name", &["/"])]), ["/testing2/two-12345", "/testing4/four-12345"]);
        assert_eq!(select(&s, &[f("name", &["!/"])]), ["testing1/one-12345", "testing3/three-12345"]);
        assert!(select(&s, &[f("name", &["testing1 one"])]).is_empty());
        assert_eq!(select(&s, &[f("name", &["testing1/"])]), ["testing1/one-12345"]);
        assert!(select(&s, &[f("name", &["Testing1"])]).is_empty());
        assert!(select(&s, &[f("name", &["one"])]).is_empty());
    }

    #[test]
    fn description_words_are_case_insensitive_word_prefixes() {
        let s = recorded();
        assert_eq!(
            select(&s, &[f("description", &["a"])]),
            ["testing1/one-12345", "/testing2/two-12345", "testing3/three-12345"]
        );
        assert_eq!(select(&s, &[f("description", &["!a"])]), ["/testing4/four-12345"]);
        assert_eq!(select(&s, &[f("description", &["a secret"])]), ["testing1/one-12345", "/testing2/two-12345"]);
        assert_eq!(select(&s, &[f("description", &["!c"])]).len(), 4);
        assert_eq!(select(&s, &[f("description", &["A SECRET"])]).len(), 2);
    }

    #[test]
    fn recorded_and_combinations_match_nothing() {
        let s = recorded();
        assert!(select(&s, &[f("description", &["a"]), f("name", &["secret"])]).is_empty());
        assert!(select(&s, &[f("description", &["a"]), f("name", &["an"])]).is_empty());
    }

    /// Descriptions made of the words "one" and "two" in different combinations.
    fn one_two_secrets() -> Vec<Secret> {
        vec![
            Secret::named("foo").desc("one two"),
            Secret::named("bar").desc("one and two"),
            Secret::named("baz").desc("one"),
            Secret::named("qux").desc("two"),
            Secret::named("none").desc("unrelated"),
        ]
    }

    #[test]
    fn description_multi_word_values() {
        let s = one_two_secrets();
        assert_eq!(select(&s, &[f("description", &["one two"])]), ["foo", "bar"]);
        assert_eq!(select(&s, &[f("description", &["o t"])]), ["foo", "bar"]);
        assert_eq!(select(&s, &[f("description", &["t"])]), ["foo", "bar", "qux"]);
        // Extra spaces in the value do not create empty words.
        assert_eq!(select(&s, &[f("description", &["  one   two "])]), ["foo", "bar"]);
    }

    #[test]
    fn description_absent() {
        let s = vec![Secret::named("nodesc"), Secret::named("empty").desc("")];
        assert!(select(&s, &[f("description", &["a"])]).is_empty());
        // Negation is "not matches": a secret without a description passes.
        assert_eq!(select(&s, &[f("description", &["!a"])]), ["nodesc", "empty"]);
        // A value without words matches nothing; negated, everything.
        assert!(select(&s, &[f("description", &[""])]).is_empty());
        assert!(select(&s, &[f("description", &["   "])]).is_empty());
        assert_eq!(select(&s, &[f("description", &["!"])]).len(), 2);
    }

    #[test]
    fn repeated_key_is_and() {
        let s = vec![
            Secret::named("foo").desc("one two"),
            Secret::named("bar").desc("one"),
            Secret::named("baz").desc("two"),
            Secret::named("qux").desc("unrelated"),
        ];
        assert_eq!(select(&s, &[f("description", &["one"]), f("description", &["two"])]), ["foo"]);
        assert!(select(&s, &[f("name", &["foo"]), f("name", &["bar"])]).is_empty());
    }

    #[test]
    fn multiple_values_are_or() {
        let s = vec![Secret::named("foo"), Secret::named("bar"), Secret::named("baz")];
        assert_eq!(select(&s, &[f("name", &["foo", "bar"])]), ["foo", "bar"]);
        assert_eq!(select(&s, &[f("name", &["ba"])]), ["bar", "baz"]);
        assert_eq!(select(&s, &[f("name", &["x", "y"])]), Vec::<&str>::new());
    }

    #[test]
    fn mixed_negated_and_plain_values_are_or() {
        let s = one_two_secrets();
        // `one` OR NOT `two`.
        assert_eq!(select(&s, &[f("description", &["one", "!two"])]), ["foo", "bar", "baz", "none"]);
        assert_eq!(select(&s, &[f("description", &["!o"])]), ["qux", "none"]);
        // NOT `foo` OR NOT `bar`: only something matching both is dropped.
        let names = vec![Secret::named("foo"), Secret::named("bar")];
        assert_eq!(select(&names, &[f("name", &["!foo", "!bar"])]), ["foo", "bar"]);
    }

    #[test]
    fn multiple_filters_are_and() {
        let s = vec![
            Secret::named("foo").tag("right", "right"),
            Secret::named("bar").tag("right", "wrong"),
            Secret::named("baz").tag("wrong", "right"),
            Secret::named("qux").tag("wrong", "wrong"),
        ];
        assert_eq!(select(&s, &[f("tag-key", &["right"]), f("tag-value", &["right"])]), ["foo"]);
    }

    #[test]
    fn tag_key_and_value_prefixes() {
        let s = vec![
            Secret::named("a").tag("Environment", "prod").tag("team", "Blue"),
            Secret::named("b").tag("env", "production"),
            Secret::named("c"),
        ];
        assert_eq!(select(&s, &[f("tag-key", &["Env"])]), ["a"]);
        assert_eq!(select(&s, &[f("tag-key", &["env"])]), ["b"]);
        assert_eq!(select(&s, &[f("tag-key", &["te"])]), ["a"]);
        assert_eq!(select(&s, &[f("tag-value", &["prod"])]), ["a", "b"]);
        assert_eq!(select(&s, &[f("tag-value", &["blue"])]), Vec::<&str>::new());
        assert_eq!(select(&s, &[f("tag-value", &["Blu"])]), ["a"]);
        // A key is not a value and vice versa.
        assert!(select(&s, &[f("tag-value", &["team"])]).is_empty());
        assert!(select(&s, &[f("tag-key", &["Blue"])]).is_empty());
        // Negated: no tag key starts with `env` (untagged secrets pass).
        assert_eq!(select(&s, &[f("tag-key", &["!env"])]), ["a", "c"]);
        // Empty prefix: any tag at all.
        assert_eq!(select(&s, &[f("tag-key", &[""])]), ["a", "b"]);
    }

    #[test]
    fn primary_region_and_owning_service() {
        let mut replicated = Secret::named("r");
        replicated.primary_region = Some("eu-west-1".to_owned());
        let mut managed = Secret::named("m");
        managed.primary_region = Some("us-east-1".to_owned());
        managed.owning_service = Some("rds".to_owned());
        let plain = Secret::named("p");
        let s = vec![replicated, managed, plain];
        assert_eq!(select(&s, &[f("primary-region", &["eu-"])]), ["r"]);
        assert_eq!(select(&s, &[f("primary-region", &["us-east-1"])]), ["m"]);
        assert_eq!(select(&s, &[f("primary-region", &["!eu"])]), ["m", "p"]);
        assert_eq!(select(&s, &[f("owning-service", &["rd"])]), ["m"]);
        assert_eq!(select(&s, &[f("owning-service", &["RDS"])]), Vec::<&str>::new());
        assert!(select(&s, &[f("owning-service", &["n/a"])]).is_empty());
        assert_eq!(select(&s, &[f("owning-service", &["!rds"])]), ["r", "p"]);
    }

    #[test]
    fn tokenisation() {
        assert_eq!(tokens("SecretOne"), ["Secret", "One"]);
        assert_eq!(tokens("prod/AppBeta/x1"), ["prod", "App", "Beta", "x1"]);
        assert_eq!(tokens("COMPANYthings"), ["COMPAN", "Ythings"]);
        assert_eq!(tokens("COMPANY"), ["COMPANY"]);
        assert_eq!(tokens("SecretFTag"), ["Secret", "F", "Tag"]);
        assert_eq!(tokens("prod-AppBeta/x"), ["prod-AppBeta/x"]);
        assert_eq!(tokens("XMLParser"), ["XML", "Parser"]);
        assert_eq!(tokens("a//b"), ["a", "b"]);
        assert_eq!(tokens("/testing2/two"), ["testing2", "two"]);
        assert_eq!(tokens("abc123Def"), ["abc123Def"]);
        assert_eq!(tokens("x9Y"), ["x9Y"]);
        assert_eq!(tokens("+"), Vec::<&str>::new());
        assert_eq!(tokens("///"), Vec::<&str>::new());
        assert_eq!(tokens("a:b-c"), ["a:b", "c"]);
        for sep in SEPARATORS {
            let name = format!("prod{sep}AppBeta{sep}u1");
            assert_eq!(tokens(&name), ["prod", "App", "Beta", "u1"], "{name}");
        }
    }

    /// The secrets of the AWS-verified `all` filter test.
    fn all_fixture() -> Vec<Secret> {
        vec![
            Secret::named("SecretOne1a2b3c"),
            Secret::named("SecretTwo1a2b3c").desc("DescTwo"),
            Secret::named("Thirdsecret1a2b3c"),
            Secret::named("SecretFTag1a2b3c").tag("1", "foo"),
            Secret::named("SecretFValue1a2b3c").tag("foo", "v"),
            Secret::named("none1a2b3c"),
        ]
    }

    #[test]
    fn all_filter_recorded_examples() {
        let s = all_fixture();
        let all = |v: &str| select(&s, &[f("all", &[v])]);
        assert_eq!(all("SecretOne"), ["SecretOne1a2b3c"]);
        assert_eq!(all("foo"), ["SecretFTag1a2b3c", "SecretFValue1a2b3c"]);
        let starts_with_secret = ["SecretOne1a2b3c", "SecretTwo1a2b3c", "SecretFTag1a2b3c", "SecretFValue1a2b3c"];
        assert_eq!(all("Secret"), starts_with_secret);
        assert_eq!(all("secret"), starts_with_secret);
        assert!(all("ret").is_empty());
        assert_eq!(all("sec"), starts_with_secret);
        assert!(all("SomeSecret").is_empty());
        assert_eq!(all("d"), ["SecretTwo1a2b3c"]);
        assert_eq!(all("d t"), ["SecretTwo1a2b3c"]);
        assert_eq!(all("t"), ["SecretTwo1a2b3c", "Thirdsecret1a2b3c", "SecretFTag1a2b3c"]);
    }

    /// The secrets of the AWS-verified `all` special-characters test.
    fn special_fixture() -> (Vec<Secret>, Vec<&'static str>) {
        let single = vec![
            "prod/AppBeta/9f8e7d",
            "prod_AppBeta_9f8e7d",
            "prod+AppBeta+9f8e7d",
            "prod=AppBeta=9f8e7d",
            "prod.AppBeta.9f8e7d",
            "prod@AppBeta@9f8e7d",
            "prod-AppBeta-9f8e7d",
        ];
        let mut names = single.clone();
        names.extend(["prod-AppBeta/9f8e7d", "uat/COMPANY/9f8e7d", "uat/COMPANYthings/9f8e7d"]);
        (names.into_iter().map(Secret::named).collect(), single)
    }

    #[test]
    fn all_filter_special_characters() {
        let (s, single) = special_fixture();
        let all = |v: &[&str]| select(&s, &[f("all", v)]);
        assert_eq!(all(&["AppBeta"]), single);
        assert_eq!(all(&["Beta"]), single);
        assert_eq!(all(&["AppBeta", "prod"]).len(), single.len() + 1);
        assert!(all(&["AppBeta", "prod"]).contains(&"prod-AppBeta/9f8e7d"));
        assert!(all(&["+"]).is_empty());
        let mut unique = single.clone();
        unique.extend(["uat/COMPANY/9f8e7d", "uat/COMPANYthings/9f8e7d"]);
        assert_eq!(all(&["9f8e7d"]), unique);
        assert_eq!(all(&["company"]), ["uat/COMPANY/9f8e7d"]);
        assert!(all(&["things"]).is_empty());
        assert_eq!(all(&["Ythings"]), ["uat/COMPANYthings/9f8e7d"]);
        assert!(all(&["N"]).is_empty());
        assert!(all(&["pany"]).is_empty());
    }

    #[test]
    fn all_filter_mixed_separators_only_match_from_the_start() {
        let s = vec![Secret::named("prod-AppBeta/x")];
        let all = |v: &str| select(&s, &[f("all", &[v])]);
        assert!(all("AppBeta").is_empty());
        assert!(all("Beta").is_empty());
        assert!(all("x").is_empty());
        assert_eq!(all("prod"), ["prod-AppBeta/x"]);
        assert_eq!(all("PROD-app"), ["prod-AppBeta/x"]);
    }

    #[test]
    fn all_filter_separator_only_words_match_nothing() {
        let s = vec![Secret::named("+plus"), Secret::named("a/b").desc("- / +")];
        for v in ["+", "/", "-", "/+", "+ /"] {
            assert!(select(&s, &[f("all", &[v])]).is_empty(), "{v}");
        }
        assert!(select(&s, &[f("all", &[""])]).is_empty());
        // `!` alone negates a value without words, which matches nothing.
        assert_eq!(select(&s, &[f("all", &["!"])]).len(), 2);
        assert_eq!(select(&s, &[f("all", &["!+"])]).len(), 2);
        // A word with letters may still carry a separator.
        assert_eq!(select(&s, &[f("all", &["+pl"])]), ["+plus"]);
        assert_eq!(select(&s, &[f("all", &["a/b"])]), ["a/b"]);
    }

    #[test]
    fn all_filter_searches_description_and_tags_with_the_same_rules() {
        let s = vec![
            Secret::named("one").desc("Used by the BillingService cron"),
            Secret::named("two").tag("aws:cloudformation:stack-name", "MyStack"),
            Secret::named("four").tag("stack-id", "x"),
            Secret::named("three").tag("owner", "team_platform"),
        ];
        let all = |v: &str| select(&s, &[f("all", &[v])]);
        assert_eq!(all("service"), ["one"]);
        assert_eq!(all("billing cron"), ["one"]);
        assert_eq!(all("stack"), ["two", "four"]);
        assert_eq!(all("aws:cloud"), ["two"]);
        assert_eq!(all("cloudformation"), Vec::<&str>::new());
        assert_eq!(all("name"), ["two"]);
        assert_eq!(all("platform"), ["three"]);
        assert_eq!(all("owner"), ["three"]);
        // Words of one value may match in different attributes.
        assert_eq!(all("three platform"), ["three"]);
        assert!(all("three billing").is_empty());
        // Negated `all`.
        assert_eq!(all("!stack"), ["one", "three"]);
    }

    #[test]
    fn all_filter_value_words_match_adjacent_tokens_in_order() {
        let s = vec![Secret::named("prod/AppBeta/x"), Secret::named("SecretOneTwo")];
        let all = |v: &str| select(&s, &[f("all", &[v])]);
        assert_eq!(all("BETA"), ["prod/AppBeta/x"]);
        assert_eq!(all("AppBeta/x"), ["prod/AppBeta/x"]);
        assert_eq!(all("beta/x"), ["prod/AppBeta/x"]);
        assert_eq!(all("prod/App"), ["prod/AppBeta/x"]);
        assert!(all("App/x").is_empty());
        assert_eq!(all("OneTwo"), ["SecretOneTwo"]);
        assert_eq!(all("SecOne"), ["SecretOneTwo"]);
        assert!(all("TwoOne").is_empty());
        assert!(all("etOne").is_empty());
        // One lower-case token cannot span a case change.
        assert!(all("onetwo").is_empty());
        assert!(all("appbeta").is_empty());
    }

    #[test]
    fn case_insensitive_comparison_handles_non_ascii() {
        assert!(starts_with_ignore_case("Ünïcode word", "üNÏ"));
        assert!(!starts_with_ignore_case("ab", "abc"));
        assert!(starts_with_ignore_case("anything", ""));
        let s = vec![Secret::named("x").desc("Größe Straße")];
        assert_eq!(select(&s, &[f("description", &["GRÖ str"])]), ["x"]);
        assert_eq!(select(&s, &[f("all", &["straße"])]), ["x"]);
    }

    #[test]
    fn name_prefix_for_index_lookups() {
        assert_eq!(name_prefix(&[]), None);
        assert_eq!(name_prefix(&[f("name", &["prod/"])]), Some("prod/"));
        assert_eq!(name_prefix(&[f("name", &["!prod/"])]), None);
        assert_eq!(name_prefix(&[f("name", &["a", "b"])]), None);
        assert_eq!(name_prefix(&[f("name", &["a", "!b"])]), None);
        assert_eq!(name_prefix(&[f("description", &["prod"])]), None);
        assert_eq!(name_prefix(&[f("all", &["prod"])]), None);
        assert_eq!(
            name_prefix(&[f("description", &["x"]), f("name", &["a", "b"]), f("name", &["prod"])]),
            Some("prod")
        );
        assert_eq!(name_prefix(&[f("name", &["prod"]), f("name", &["prod/app"])]), Some("prod/app"));
    }

    #[test]
    fn name_prefix_agrees_with_matches_all() {
        let names = ["prod/a", "prod/b", "dev/a", "prod", "pro"];
        let secrets: Vec<Secret> = names.iter().map(|&n| Secret::named(n)).collect();
        let filters = [f("name", &["prod"]), f("name", &["pro"])];
        let prefix = name_prefix(&filters).expect("prefix");
        for s in &secrets {
            if matches_all(&filters, &s.subject()) {
                assert!(s.name.starts_with(prefix));
            }
        }
    }
}
