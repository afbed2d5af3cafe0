//! Wildcard patterns (`*`, `?`) and policy variables (`${aws:username}`, `${*}` ...), the one
//! matcher behind Action, Resource, principals and the `*Like` condition operators.

/// Looks up a policy variable's value by its name (`aws:username`).
pub(crate) type Resolve<'r> = &'r dyn Fn(&str) -> Option<String>;

/// One element of a compiled pattern. Text that came from a policy variable is literal even
/// when it holds `*` or `?`: a user named `a*` must not become a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Char(char),
    /// `*`: any run of characters, including none.
    Any,
    /// `?`: exactly one character.
    One,
}

/// Compiles `text` as a pattern. With `wild`, `*` and `?` are wildcards; variables are
/// substituted through `resolve` when given (policy version 2012-10-17). `None` when a
/// variable has no value and no default: the element then matches nothing.
pub(crate) fn compile(text: &str, wild: bool, resolve: Option<Resolve<'_>>) -> Option<Vec<Token>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(resolve) = resolve
            && let Some(body) = rest.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            let inner = &body[..end];
            rest = &body[end + 1..];
            let value = match inner {
                "*" | "?" | "$" => Some(inner.to_string()),
                _ => {
                    let (name, default) = split_default(inner);
                    resolve(name.trim()).or(default)
                }
            }?;
            out.extend(value.chars().map(Token::Char));
            continue;
        }
        out.push(match c {
            '*' if wild => Token::Any,
            '?' if wild => Token::One,
            c => Token::Char(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// `aws:username, 'default'` → the name and the default (IAM's variable-default syntax).
fn split_default(inner: &str) -> (&str, Option<String>) {
    if let Some((name, default)) = inner.split_once(',') {
        let default = default.trim();
        if let Some(quoted) = default.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')) {
            return (name, Some(quoted.to_string()));
        }
    }
    (inner, None)
}

/// Whether `tokens` matches all of `text`; `fold` compares ASCII case-insensitively.
pub(crate) fn matches(tokens: &[Token], text: &str, fold: bool) -> bool {
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match tokens.get(pi) {
            Some(Token::One) => {
                pi += 1;
                ti += 1;
                continue;
            }
            Some(Token::Char(c)) if eq(*c, t[ti]) => {
                pi += 1;
                ti += 1;
                continue;
            }
            Some(Token::Any) => {
                backtrack = Some((pi, ti));
                pi += 1;
                continue;
            }
            _ => {}
        }
        let Some((star, matched)) = backtrack else {
            return false;
        };
        pi = star + 1;
        ti = matched + 1;
        backtrack = Some((star, matched + 1));
    }
    tokens[pi..].iter().all(|t| *t == Token::Any)
}

/// A plain wildcard match without variables: the same match as [`matches`] over the compiled
/// pattern, walked on the text itself, because every statement's Action and Resource are matched
/// on every authorised request and compiling allocates.
pub(crate) fn wildcard(pattern: &str, text: &str, fold: bool) -> bool {
    // Most patterns are a name, `*`, or a prefix and `*`: compare up to the first wildcard, where
    // most mismatches show (`secretsmanager:getsecretvalue` against `…:putsecretvalue`).
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let same = |a: u8, b: u8| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    let Some(first) = p.iter().position(|&b| b == b'*' || b == b'?') else {
        return if fold { p.eq_ignore_ascii_case(t) } else { p == t };
    };
    if t.len() < first {
        return false;
    }
    let mut i = 0;
    while i < p.len() && p[i] != b'*' && p[i] != b'?' {
        if i == t.len() || !same(p[i], t[i]) {
            return false;
        }
        i += 1;
    }
    if i == p.len() {
        return i == t.len();
    }
    if p[i..].iter().all(|&b| b == b'*') {
        return true;
    }
    // The bytes before `i` are the same characters on both sides (a wildcard is ASCII, so `i`
    // is a character boundary of both), and the walk goes on from there.
    let (Some(pattern), Some(text)) = (pattern.get(i..), text.get(i..)) else { return false };
    // ASCII text (ARNs, actions): one byte is one character, whatever the pattern holds.
    if text.is_ascii() {
        return walk(pattern.as_bytes(), text.as_bytes(), b'*', b'?', same);
    }
    let eq = |a: char, b: char| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    walk(&pattern, &text, '*', '?', eq)
}

/// The wildcard walk with one backtrack point (the last `*`), over bytes or characters.
fn walk<T: Copy + PartialEq>(pattern: &[T], text: &[T], any: T, one: T, eq: impl Fn(T, T) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was (just after it, in the pattern) and how far into the text it reaches.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == any => {
                while pattern.get(p) == Some(&any) {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                backtrack = Some((p, t));
                continue;
            }
            Some(&c) if c == one || eq(c, text[t]) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        let Some((star, reached)) = backtrack else {
            return false;
        };
        p = star;
        t = reached + 1;
        backtrack = Some((star, t));
    }
    pattern[p..].iter().all(|&c| c == any)
}

/// An Action or Resource element of a statement, with what matching needs to know of it worked
/// out once when the policy is parsed: every statement's elements are matched on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    /// How many bytes come before the first `*` or `?` (all of them when there is none).
    literal: usize,
    /// Only `*`s follow the literal part (`prefix/*`, `*`).
    star_tail: bool,
    /// Holds `${`: a policy variable, when the policy's version substitutes them.
    variables: bool,
}

impl Pattern {
    pub(crate) fn new(text: String) -> Self {
        let literal = text.bytes().position(|b| b == b'*' || b == b'?').unwrap_or(text.len());
        let star_tail = literal < text.len() && text.as_bytes()[literal..].iter().all(|&b| b == b'*');
        let variables = text.contains("${");
        Self { text, literal, star_tail, variables }
    }

    /// Whether the pattern matches all of `text` (case-sensitively), its variables resolved
    /// through `resolve` when given; one without variables is matched as a plain wildcard,
    /// without compiling it.
    pub(crate) fn matches(&self, text: &str, resolve: Option<Resolve<'_>>) -> bool {
        if self.variables
            && let Some(resolve) = resolve
        {
            return compile(&self.text, true, Some(resolve)).is_some_and(|p| matches(&p, text, false));
        }
        let (p, t) = (self.text.as_bytes(), text.as_bytes());
        if t.len() < self.literal || p[..self.literal] != t[..self.literal] {
            return false;
        }
        if self.literal == p.len() {
            return t.len() == p.len();
        }
        if self.star_tail {
            return true;
        }
        // Both sides hold the same bytes before `literal`, which ends before an ASCII wildcard:
        // a character boundary of both.
        match (self.text.get(self.literal..), text.get(self.literal..)) {
            (Some(pattern), Some(text)) => wildcard(pattern, text, false),
            _ => false,
        }
    }
}

impl std::ops::Deref for Pattern {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_pattern_matches_as_the_wildcard_walk_does() {
        let patterns = [
            "",
            "*",
            "**",
            "?",
            "a",
            "a*",
            "a?",
            "*a",
            "a*c",
            "a?c",
            "*b*",
            "a**",
            "abc",
            "ab*c*d",
            "prod/db-??????",
            "arn:aws:secretsmanager:*:111122223333:secret:db-*",
            "é*",
            "*é",
            "a*é?",
        ];
        let texts = [
            "",
            "a",
            "ab",
            "abc",
            "abbbc",
            "ac",
            "abcd",
            "aXcYd",
            "prod/db-AbCdEf",
            "prod/db-AbCdE",
            "é",
            "aé",
            "aéx",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-x1",
        ];
        for p in patterns {
            let compiled = Pattern::new(p.to_owned());
            for t in texts {
                assert_eq!(compiled.matches(t, None), wildcard(p, t, false), "{p:?} against {t:?}");
            }
        }
        let resolve = |name: &str| (name == "aws:username").then(|| "bob".to_owned());
        let with_variable = Pattern::new("home/${aws:username}/*".to_owned());
        assert!(with_variable.matches("home/bob/x", Some(&resolve)));
        assert!(!with_variable.matches("home/bob/x", None), "literal text without substitution");
        assert!(Pattern::new("home/${aws:username}".to_owned()).matches("home/${aws:username}", None));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("a*c", "abbbc", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("a?c", "abc", false));
        assert!(!wildcard("a?c", "ac", false));
        assert!(wildcard("*b*", "abc", false));
        assert!(!wildcard("abc", "abcd", false));
        assert!(wildcard("a**", "a", false));
        assert!(!wildcard("ABC", "abc", false));
        assert!(wildcard("ABC", "abc", true));
        assert!(wildcard("prod/db-??????", "prod/db-AbCdEf", false));
        assert!(!wildcard("prod/db-??????", "prod/db-AbCdE", false));
    }

    /// Every pattern against every text, both ways of folding: the walk on the text itself
    /// answers as the compiled pattern does.
    fn walk_agrees(patterns: &[&str], texts: &[&str]) {
        for pattern in patterns {
            let compiled = compile(pattern, true, None).unwrap();
            for text in texts {
                for fold in [false, true] {
                    assert_eq!(
                        wildcard(pattern, text, fold),
                        matches(&compiled, text, fold),
                        "{pattern:?} {text:?} {fold}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_direct_walk_matches_what_the_compiled_pattern_matches() {
        walk_agrees(
            &["", "*", "?", "a*", "*a", "a?c", "*b*", "a**b", "é?*", "?*?", "arn:*:secret:*-??????", "ab*ab"],
            &["", "a", "ab", "abc", "abab", "aab", "éxy", "é", "arn:aws:secret:db-AbCdEf", "ABAB"],
        );
    }

    #[test]
    fn shortcuts_match_what_the_walk_matches() {
        walk_agrees(
            &["", "*", "**", "abc", "ab*", "ab**", "AB*", "é*", "a*b", "?*", "x"],
            &["", "a", "ab", "abc", "ABC", "abcd", "é", "éa", "xb", "a\u{e9}"],
        );
        assert!(wildcard(&"*".repeat(50_000), "anything", false));
        assert!(!wildcard(&("*".repeat(50_000) + "x"), &"a".repeat(2_048), false));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // The longest pattern a 20 KiB policy can hold against the longest ARN: the single
        // backtrack point keeps this quadratic at worst, not exponential.
        let pattern = "*a".repeat(10_000) + "b";
        let text = "a".repeat(2_048);
        assert!(!wildcard(&pattern, &text, false));
        assert!(wildcard(&"*a".repeat(1_000), &text, false));
    }

    #[test]
    fn variables() {
        let resolve = |name: &str| (name == "aws:username").then(|| "a*".to_string());
        let p = compile("home/${aws:username}/*", true, Some(&resolve)).unwrap();
        assert!(matches(&p, "home/a*/x", false));
        assert!(!matches(&p, "home/ab/x", false), "substituted text is literal");
        assert!(compile("${aws:PrincipalTag/team}", true, Some(&resolve)).is_none());
        let d = compile("${aws:PrincipalTag/team, 'all'}", true, Some(&resolve)).unwrap();
        assert!(matches(&d, "all", false));
        let lit = compile("a${*}b${?}${$}", true, Some(&resolve)).unwrap();
        assert!(matches(&lit, "a*b?$", false));
        assert!(!matches(&lit, "axb?$", false));
        let unsubstituted = compile("${aws:username}", true, None).unwrap();
        assert!(matches(&unsubstituted, "${aws:username}", false));
    }
}
