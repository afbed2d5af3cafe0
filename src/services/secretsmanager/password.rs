//! `GetRandomPassword`: password generation as a pure function of a
//! [`PasswordSpec`] and a CSPRNG (behaviour spec §14).
//!
//! The character classes are `A-Z`, `a-z`, `0-9`, the 32 ASCII punctuation
//! symbols in [`PUNCTUATION`], and the space when [`PasswordSpec::include_space`]
//! is set. `ExcludeCharacters` removes characters from every class.
//!
//! Every choice is made by rejection sampling over fresh random bytes, so each
//! candidate character (and each shuffle position) is exactly uniform: there is
//! no modulo bias.
//!
//! Range validation of `PasswordLength` (1–4096, a `ValidationException`) is the
//! caller's job; this module still never panics, whatever the input (see
//! [`generate`] for the edge cases).

use std::fmt;

use ring::rand::SecureRandom;

/// Largest `PasswordLength` the model allows. Longer requests are refused with
/// [`PasswordError::TooLong`] rather than allocating without bound.
pub const MAX_LENGTH: u64 = 4096;

/// The 32 ASCII punctuation symbols of the `ExcludePunctuation` documentation.
pub const PUNCTUATION: &str = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;

const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const SPACE: &str = " ";

/// The `GetRandomPassword` input, with the service defaults applied by
/// [`Default`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "one field per flag of the GetRandomPassword input")]
pub struct PasswordSpec {
    /// Number of characters to produce (`PasswordLength`, default 32).
    pub length: u64,
    /// Characters that must not appear (`ExcludeCharacters`).
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    /// Adds the space character to the pool (`IncludeSpace`, default false).
    pub include_space: bool,
    /// At least one character of each included class (`RequireEachIncludedType`,
    /// default true).
    pub require_each_included_type: bool,
}

impl Default for PasswordSpec {
    fn default() -> Self {
        Self {
            length: 32,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// Why no password could be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    /// `RequireEachIncludedType` needs more characters than `PasswordLength`
    /// allows. Maps to `InvalidParameterException`.
    TooShortForRequiredTypes,
    /// The exclusions leave no character at all. Maps to
    /// `InvalidParameterException`.
    NothingToChooseFrom,
    /// `length` is above [`MAX_LENGTH`]. The caller's model validation should
    /// have answered `ValidationException` before getting here.
    TooLong,
    /// The random source failed. Maps to `InternalServiceError`.
    RandomSourceFailed,
}

impl PasswordError {
    /// The `Message` text to send with the error.
    #[must_use]
    pub fn message(&self) -> &'static str {
        match self {
            // Text as reported by other emulators; plausible, not confirmed on AWS.
            Self::TooShortForRequiredTypes => "Password length is too short based on the required types.",
            // AWS's text for this case is unknown.
            Self::NothingToChooseFrom => {
                "The password can't be generated because the excluded characters and \
                 character types leave no characters to choose from."
            }
            Self::TooLong => "Password length must be less than or equal to 4096.",
            Self::RandomSourceFailed => "An error occurred on the server side.",
        }
    }
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PasswordError {}

/// Generates a password as `GetRandomPassword` does.
///
/// * Each character not forced by `RequireEachIncludedType` is uniform over the
///   union of all included characters.
/// * With `RequireEachIncludedType`, one character is drawn from each included
///   class that still has characters after `ExcludeCharacters` (a class emptied
///   by exclusions no longer counts), and the finished password is shuffled, so
///   those characters land at uniformly random positions.
/// * The space is never a *required* type: it only joins the pool. The model
///   documents `RequireEachIncludedType` as "at least one upper and lowercase
///   letter, one number, and one punctuation", which leaves the space out;
///   AWS's behaviour here is unconfirmed.
/// * `length == 0` is not refused here: it yields
///   [`PasswordError::TooShortForRequiredTypes`] when some type is required, and
///   an empty string otherwise.
///
/// # Errors
///
/// Checked in this order: [`PasswordError::TooLong`] when `length` exceeds
/// [`MAX_LENGTH`]; [`PasswordError::NothingToChooseFrom`] when no character is
/// left; [`PasswordError::TooShortForRequiredTypes`] when `length` is below the
/// number of required classes; [`PasswordError::RandomSourceFailed`] when `rng`
/// fails.
pub fn generate(spec: &PasswordSpec, rng: &dyn SecureRandom) -> Result<String, PasswordError> {
    if spec.length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let length = usize::try_from(spec.length).map_err(|_| PasswordError::TooLong)?;

    let keep = |class: &str| -> Vec<u8> {
        class.bytes().filter(|&b| !spec.exclude_characters.contains(char::from(b))).collect()
    };
    // Classes that may be required, each with what is left after exclusions.
    let mut required: Vec<Vec<u8>> = Vec::with_capacity(4);
    for (excluded, class) in [
        (spec.exclude_uppercase, UPPERCASE),
        (spec.exclude_lowercase, LOWERCASE),
        (spec.exclude_numbers, DIGITS),
        (spec.exclude_punctuation, PUNCTUATION),
    ] {
        if !excluded {
            let left = keep(class);
            if !left.is_empty() {
                required.push(left);
            }
        }
    }

    let mut pool: Vec<u8> = required.concat();
    if spec.include_space {
        pool.extend(keep(SPACE));
    }
    if pool.is_empty() {
        return Err(PasswordError::NothingToChooseFrom);
    }
    if !spec.require_each_included_type {
        required.clear();
    }
    if length < required.len() {
        return Err(PasswordError::TooShortForRequiredTypes);
    }

    let mut sampler = Sampler::new(rng);
    let mut password: Vec<u8> = Vec::with_capacity(length);
    for class in &required {
        password.push(sampler.pick(class)?);
    }
    while password.len() < length {
        password.push(sampler.pick(&pool)?);
    }
    if !required.is_empty() {
        // Fisher–Yates: a uniformly random permutation moves the forced
        // characters to uniformly random positions. The other characters are
        // independent and identically distributed, so shuffling leaves their
        // distribution unchanged.
        for i in (1..password.len()).rev() {
            let j = sampler.below(i + 1)?;
            password.swap(i, j);
        }
    }
    Ok(password.into_iter().map(char::from).collect())
}

/// Unbiased integers from a [`SecureRandom`], read in blocks to keep the number
/// of calls into the random source small.
struct Sampler<'a> {
    rng: &'a dyn SecureRandom,
    buf: [u8; 256],
    used: usize,
}

impl<'a> Sampler<'a> {
    fn new(rng: &'a dyn SecureRandom) -> Self {
        let buf = [0; 256];
        Self { rng, buf, used: buf.len() }
    }

    fn next_u32(&mut self) -> Result<u32, PasswordError> {
        if self.used + 4 > self.buf.len() {
            self.rng.fill(&mut self.buf).map_err(|_| PasswordError::RandomSourceFailed)?;
            self.used = 0;
        }
        let mut word = [0; 4];
        word.copy_from_slice(&self.buf[self.used..self.used + 4]);
        self.used += 4;
        Ok(u32::from_le_bytes(word))
    }

    /// A uniform integer in `0..n`, by rejection sampling: 32-bit draws at or
    /// above the largest multiple of `n` that fits are thrown away, so every
    /// residue is equally likely. `n` must be in `1..=u32::MAX`.
    fn below(&mut self, n: usize) -> Result<usize, PasswordError> {
        let n = u64::try_from(n)
            .ok()
            .filter(|&n| (1..=u64::from(u32::MAX)).contains(&n))
            .ok_or(PasswordError::RandomSourceFailed)?;
        let zone = (1u64 << 32) / n * n;
        loop {
            let draw = u64::from(self.next_u32()?);
            if draw < zone {
                // `draw % n < n <= u32::MAX`, so the conversion cannot fail.
                return usize::try_from(draw % n).map_err(|_| PasswordError::RandomSourceFailed);
            }
        }
    }

    /// A uniformly chosen element of a non-empty slice.
    fn pick(&mut self, from: &[u8]) -> Result<u8, PasswordError> {
        let i = self.below(from.len())?;
        Ok(from[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn gen_ok(spec: &PasswordSpec) -> String {
        generate(spec, &SystemRandom::new()).expect("password")
    }

    fn spec(f: impl FnOnce(&mut PasswordSpec)) -> PasswordSpec {
        let mut s = PasswordSpec::default();
        f(&mut s);
        s
    }

    fn is_punct(c: char) -> bool {
        PUNCTUATION.contains(c)
    }

    #[test]
    fn punctuation_is_the_32_ascii_symbols() {
        assert_eq!(PUNCTUATION.len(), 32);
        assert!(PUNCTUATION.bytes().all(|b| b.is_ascii_punctuation()));
        let all: usize = (0u8..128).filter(u8::is_ascii_punctuation).count();
        assert_eq!(all, 32);
    }

    #[test]
    fn defaults() {
        let s = PasswordSpec::default();
        assert_eq!(s.length, 32);
        assert!(s.require_each_included_type);
        assert!(!s.include_space);
        assert!(s.exclude_characters.is_empty());
        let p = gen_ok(&s);
        assert_eq!(p.chars().count(), 32);
        assert!(p.chars().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn lengths_are_exact() {
        for length in [1, 2, 3, 4, 5, 31, 32, 33, 100, 1000, 4096] {
            let s = spec(|s| {
                s.length = length;
                s.require_each_included_type = length >= 4;
            });
            let p = gen_ok(&s);
            assert_eq!(p.len() as u64, length);
            assert_eq!(p.chars().count() as u64, length);
        }
    }

    #[test]
    fn each_class_present_when_required() {
        // Length 4 with four required classes: exactly one of each, every time.
        for _ in 0..200 {
            let p = gen_ok(&spec(|s| s.length = 4));
            assert_eq!(p.chars().filter(char::is_ascii_uppercase).count(), 1, "{p}");
            assert_eq!(p.chars().filter(char::is_ascii_lowercase).count(), 1, "{p}");
            assert_eq!(p.chars().filter(char::is_ascii_digit).count(), 1, "{p}");
            assert_eq!(p.chars().filter(|&c| is_punct(c)).count(), 1, "{p}");
        }
        for _ in 0..200 {
            let p = gen_ok(&PasswordSpec::default());
            assert!(p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
            assert!(p.chars().any(is_punct), "{p}");
        }
    }

    #[test]
    fn required_characters_land_at_random_positions() {
        // Length 4, four required classes: each password is a permutation of
        // one character per class. Over 2000 passwords, every (position, class)
        // pair must occur; a given pair is missing with probability
        // (3/4)^2000 < 1e-249.
        let mut seen = [[false; 4]; 4];
        for _ in 0..2000 {
            let p = gen_ok(&spec(|s| s.length = 4));
            for (pos, c) in p.chars().enumerate() {
                let class = if c.is_ascii_uppercase() {
                    0
                } else if c.is_ascii_lowercase() {
                    1
                } else if c.is_ascii_digit() {
                    2
                } else {
                    3
                };
                seen[pos][class] = true;
            }
        }
        assert!(seen.iter().flatten().all(|&b| b), "{seen:?}");
    }

    #[test]
    fn exclude_numbers() {
        let p = gen_ok(&spec(|s| {
            s.length = 500;
            s.exclude_numbers = true;
        }));
        assert!(!p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(is_punct));
    }

    #[test]
    fn exclude_punctuation() {
        let p = gen_ok(&spec(|s| {
            s.length = 500;
            s.exclude_punctuation = true;
        }));
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn exclude_uppercase() {
        let p = gen_ok(&spec(|s| {
            s.length = 500;
            s.exclude_uppercase = true;
        }));
        assert!(!p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn exclude_lowercase() {
        let p = gen_ok(&spec(|s| {
            s.length = 500;
            s.exclude_lowercase = true;
        }));
        assert!(!p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
    }

    #[test]
    fn only_digits() {
        let p = gen_ok(&spec(|s| {
            s.length = 64;
            s.exclude_uppercase = true;
            s.exclude_lowercase = true;
            s.exclude_punctuation = true;
        }));
        assert_eq!(p.len(), 64);
        assert!(p.chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn exclude_characters_120_chars() {
        // The case recorded against AWS: 120 characters, none of `xyzDje@?!.`.
        let excluded = "xyzDje@?!.";
        for _ in 0..50 {
            let p = gen_ok(&spec(|s| {
                s.length = 120;
                s.exclude_characters = excluded.to_owned();
            }));
            assert_eq!(p.len(), 120);
            assert!(!p.chars().any(|c| excluded.contains(c)), "{p}");
        }
    }

    #[test]
    fn exclude_characters_can_empty_a_class() {
        // All digits excluded by name: digits no longer count as required, so
        // length 3 (upper, lower, punctuation) is enough.
        let p = gen_ok(&spec(|s| {
            s.length = 3;
            s.exclude_characters = DIGITS.to_owned();
        }));
        assert_eq!(p.len(), 3);
        assert!(!p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(is_punct));
    }

    #[test]
    fn exclude_characters_leaves_single_character() {
        let all_but_q: String = UPPERCASE
            .chars()
            .chain(LOWERCASE.chars())
            .chain(DIGITS.chars())
            .chain(PUNCTUATION.chars())
            .filter(|&c| c != 'q')
            .collect();
        let p = gen_ok(&spec(|s| {
            s.length = 10;
            s.exclude_characters = all_but_q;
        }));
        assert_eq!(p, "qqqqqqqqqq");
    }

    #[test]
    fn exclude_characters_tolerates_duplicates_and_non_ascii() {
        let p = gen_ok(&spec(|s| {
            s.length = 200;
            s.exclude_characters = "aaaé€🦀 AA".to_owned();
        }));
        assert_eq!(p.len(), 200);
        assert!(!p.contains('a') && !p.contains('A'));
    }

    #[test]
    fn no_space_by_default() {
        let p = gen_ok(&spec(|s| s.length = 4096));
        assert!(!p.contains(' '));
    }

    #[test]
    fn include_space_adds_space_to_the_pool() {
        // 4096 draws over 95 characters: a space is missing with probability
        // (94/95)^4092 < 1e-18.
        let p = gen_ok(&spec(|s| {
            s.length = 4096;
            s.include_space = true;
        }));
        assert!(p.contains(' '));
    }

    #[test]
    fn space_is_not_a_required_type() {
        // Four classes plus space, length 4: accepted, and never a space
        // because all four slots go to the required classes.
        for _ in 0..200 {
            let p = gen_ok(&spec(|s| {
                s.length = 4;
                s.include_space = true;
            }));
            assert!(!p.contains(' '), "{p:?}");
        }
    }

    #[test]
    fn space_only() {
        let p = gen_ok(&spec(|s| {
            s.length = 5;
            s.exclude_uppercase = true;
            s.exclude_lowercase = true;
            s.exclude_numbers = true;
            s.exclude_punctuation = true;
            s.include_space = true;
        }));
        assert_eq!(p, "     ");
    }

    #[test]
    fn include_space_but_space_excluded() {
        let p = gen_ok(&spec(|s| {
            s.length = 4096;
            s.include_space = true;
            s.exclude_characters = " ".to_owned();
        }));
        assert!(!p.contains(' '));
    }

    #[test]
    fn too_short_for_required_types() {
        let rng = SystemRandom::new();
        for length in 0..4 {
            let s = spec(|s| s.length = length);
            assert_eq!(generate(&s, &rng), Err(PasswordError::TooShortForRequiredTypes));
        }
        // Two classes left: length 2 is fine, length 1 is not.
        let two = |length| {
            spec(|s| {
                s.length = length;
                s.exclude_numbers = true;
                s.exclude_punctuation = true;
            })
        };
        assert_eq!(generate(&two(1), &rng), Err(PasswordError::TooShortForRequiredTypes));
        assert_eq!(gen_ok(&two(2)).len(), 2);
        assert_eq!(
            PasswordError::TooShortForRequiredTypes.message(),
            "Password length is too short based on the required types."
        );
    }

    #[test]
    fn short_lengths_without_requirement() {
        let p = gen_ok(&spec(|s| {
            s.length = 1;
            s.require_each_included_type = false;
        }));
        assert_eq!(p.len(), 1);
        let empty = gen_ok(&spec(|s| {
            s.length = 0;
            s.require_each_included_type = false;
        }));
        assert_eq!(empty, "");
    }

    #[test]
    fn nothing_to_choose_from() {
        let rng = SystemRandom::new();
        let all_types = spec(|s| {
            s.exclude_uppercase = true;
            s.exclude_lowercase = true;
            s.exclude_numbers = true;
            s.exclude_punctuation = true;
        });
        assert_eq!(generate(&all_types, &rng), Err(PasswordError::NothingToChooseFrom));

        let every_char: String = [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION, SPACE].concat();
        let all_chars = spec(|s| {
            s.exclude_characters.clone_from(&every_char);
            s.include_space = true;
        });
        assert_eq!(generate(&all_chars, &rng), Err(PasswordError::NothingToChooseFrom));

        // Takes precedence over the length check, even at length 0.
        let zero = spec(|s| {
            s.length = 0;
            s.exclude_characters = every_char;
        });
        assert_eq!(generate(&zero, &rng), Err(PasswordError::NothingToChooseFrom));
        assert!(!PasswordError::NothingToChooseFrom.message().is_empty());
    }

    #[test]
    fn too_long_is_refused_without_panicking() {
        let rng = SystemRandom::new();
        for length in [MAX_LENGTH + 1, u64::from(u32::MAX) + 1, u64::MAX] {
            let s = spec(|s| s.length = length);
            assert_eq!(generate(&s, &rng), Err(PasswordError::TooLong));
        }
        assert_eq!(gen_ok(&spec(|s| s.length = MAX_LENGTH)).len(), 4096);
    }

    #[test]
    fn error_display_is_the_message() {
        for e in [
            PasswordError::TooShortForRequiredTypes,
            PasswordError::NothingToChooseFrom,
            PasswordError::TooLong,
            PasswordError::RandomSourceFailed,
        ] {
            assert_eq!(e.to_string(), e.message());
        }
    }

    #[test]
    fn below_stays_in_range() {
        let rng = SystemRandom::new();
        let mut sampler = Sampler::new(&rng);
        for n in [1, 2, 3, 94, 95, 4096, usize::try_from(u32::MAX).unwrap()] {
            for _ in 0..100 {
                assert!(sampler.below(n).unwrap() < n);
            }
        }
        assert_eq!(sampler.below(0), Err(PasswordError::RandomSourceFailed));
    }

    #[test]
    fn distribution_is_roughly_uniform() {
        // 20 passwords of 4096 characters with no requirement: 81,920
        // independent uniform draws over 94 characters, so each character is
        // expected mu = 871.5 times. Bounds are mu/2 and 2*mu. By Chernoff,
        // P(X <= mu/2) <= exp(-mu/8) < 1e-47 and P(X >= 2mu) <= exp(-mu/3)
        // < 1e-126 per character, so over 94 characters the test fails by
        // chance with probability below 1e-44. Choosing a class first and
        // then a character (digits 2.35x overweight) would fail it.
        const PASSWORDS: usize = 20;
        let s = spec(|s| {
            s.length = MAX_LENGTH;
            s.require_each_included_type = false;
        });
        let mut counts = [0usize; 128];
        for _ in 0..PASSWORDS {
            for b in gen_ok(&s).bytes() {
                counts[usize::from(b)] += 1;
            }
        }
        let alphabet: Vec<u8> = [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION].concat().into_bytes();
        assert_eq!(alphabet.len(), 94);
        let total = PASSWORDS * 4096;
        let mu = total / alphabet.len();
        for &c in &alphabet {
            let n = counts[usize::from(c)];
            assert!(n > mu / 2 && n < 2 * mu, "{:?} appeared {n} times, expected about {mu}", char::from(c));
        }
        let outside: usize = (0..128u8).filter(|c| !alphabet.contains(c)).map(|c| counts[usize::from(c)]).sum();
        assert_eq!(outside, 0);
    }
}
