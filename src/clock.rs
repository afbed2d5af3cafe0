//! The only place smemu reads the time that ends up in state.
//!
//! smemu's time is a base (the system clock, or a fixed instant for reproducible runs and tests)
//! plus an offset that only grows. Moving the offset is how tests and the control API make a
//! seven-day recovery window pass in a second; it never touches the host clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC. The wire shows them as fractional epoch seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

pub const MILLIS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The wire form: epoch seconds with millisecond precision.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // exact for every date before the year 287396
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Midnight UTC of this instant's day (AWS records LastAccessedDate at day granularity).
    #[must_use]
    pub const fn start_of_day(self) -> Self {
        Self(self.0.saturating_sub(self.0.rem_euclid(MILLIS_PER_DAY)))
    }

    #[must_use]
    pub const fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(MILLIS_PER_DAY)))
    }

    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-date algorithm).
#[must_use]
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
#[must_use]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // month and day are small and positive
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

/// Days in a month of the proleptic Gregorian calendar (0 for a month that does not exist).
#[must_use]
pub const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Timestamp {
    /// `2026-01-01T00:00:00.000Z`.
    #[must_use]
    pub fn to_iso8601(self) -> String {
        let days = self.0.div_euclid(MILLIS_PER_DAY);
        let ms = self.0.rem_euclid(MILLIS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let (h, min, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`), a date alone, or epoch seconds.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<f64>() {
            // The same years as the ISO form: 0000 to 9999.
            const RANGE: std::ops::RangeInclusive<f64> = -62_167_219_200.0..=253_402_300_799.999;
            #[allow(clippy::cast_possible_truncation)]
            return RANGE.contains(&secs).then(|| Self((secs * 1000.0).round() as i64));
        }
        let text = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00")).unwrap_or(text);
        let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00"));
        let mut d = date.splitn(3, '-');
        let (year, month, day): (i64, u32, u32) =
            (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
        // Four-digit years only: anything larger would overflow the day count.
        if !(0..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
        let mut t = hms.splitn(3, ':');
        // Unsigned, so `-1` is refused rather than counted backwards.
        let (h, min, s): (u32, u32, u32) =
            (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next().unwrap_or("0").parse().ok()?);
        let (h, min, s) = (i64::from(h), i64::from(min), i64::from(s));
        if h > 23 || min > 59 || s > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let millis: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
        let days = days_from_civil(year, month, day);
        Some(Self(days * MILLIS_PER_DAY + ((h * 60 + min) * 60 + s) * 1000 + millis))
    }
}

/// Parses a duration such as `7d`, `36h`, `90m`, `30s`, `250ms` or `1d12h` into milliseconds.
#[must_use]
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => MILLIS_PER_DAY,
            "w" => 7 * MILLIS_PER_DAY,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// smemu's clock: `base + offset`, where the base is the system clock or a fixed instant.
#[derive(Debug)]
pub struct Clock {
    /// `None` follows the system clock; `Some(ms)` is a fixed base that only moves with the offset.
    fixed_base: Option<i64>,
    offset: AtomicI64,
}

impl Clock {
    /// Follows the system clock.
    #[must_use]
    pub fn system() -> Self {
        Self { fixed_base: None, offset: AtomicI64::new(0) }
    }

    /// Starts at `start` and then runs with the system clock (for `--start-time`).
    #[must_use]
    pub fn starting_at(start: Timestamp) -> Self {
        let clock = Self::system();
        clock.offset.store(start.0 - system_now().0, Ordering::SeqCst);
        clock
    }

    /// Stands still at `start` until advanced: the clock tests use, so nothing ever sleeps.
    #[must_use]
    pub fn manual(start: Timestamp) -> Self {
        Self { fixed_base: Some(start.0), offset: AtomicI64::new(0) }
    }

    #[must_use]
    pub fn now(&self) -> Timestamp {
        let base = self.fixed_base.unwrap_or_else(|| system_now().0);
        Timestamp(base.saturating_add(self.offset.load(Ordering::SeqCst)))
    }

    /// Moves time forward by `ms` (negative values are ignored: time never runs backwards).
    pub fn advance(&self, ms: i64) -> Timestamp {
        self.offset.fetch_add(ms.max(0), Ordering::SeqCst);
        self.now()
    }

    /// Moves time forward to `target`; an instant in the past leaves the clock where it is.
    pub fn advance_to(&self, target: Timestamp) -> Timestamp {
        let now = self.now();
        if target > now {
            self.advance(target.0 - now.0);
        }
        self.now()
    }

    #[must_use]
    pub fn is_manual(&self) -> bool {
        self.fixed_base.is_some()
    }
}

fn system_now() -> Timestamp {
    let ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(Timestamp::from_secs(1_700_000_000));
        assert_eq!(clock.now(), Timestamp::from_secs(1_700_000_000));
        clock.advance(1500);
        assert_eq!(clock.now().millis(), 1_700_000_001_500);
        clock.advance(-10_000);
        assert_eq!(clock.now().millis(), 1_700_000_001_500);
        clock.advance_to(Timestamp::from_secs(1));
        assert_eq!(clock.now().millis(), 1_700_000_001_500);
        clock.advance_to(Timestamp::from_secs(1_800_000_000));
        assert_eq!(clock.now(), Timestamp::from_secs(1_800_000_000));
    }

    #[test]
    fn start_of_day_truncates_to_midnight_utc() {
        // 2018-04-17T12:34:56Z → 2018-04-17T00:00:00Z (the documented example 1523923200)
        assert_eq!(Timestamp::from_secs(1_523_968_496).start_of_day(), Timestamp::from_secs(1_523_923_200));
        assert_eq!(Timestamp(-1).start_of_day(), Timestamp(-MILLIS_PER_DAY));
    }

    #[test]
    fn iso8601_round_trips() {
        let t = Timestamp(1_767_225_600_123);
        assert_eq!(t.to_iso8601(), "2026-01-01T00:00:00.123Z");
        assert_eq!(Timestamp::parse("2026-01-01T00:00:00.123Z"), Some(t));
        assert_eq!(Timestamp::parse("2026-01-01"), Some(Timestamp(1_767_225_600_000)));
        assert_eq!(Timestamp::parse("1767225600"), Some(Timestamp(1_767_225_600_000)));
        assert_eq!(Timestamp::parse("2024-02-29T23:59:59Z").unwrap().to_iso8601(), "2024-02-29T23:59:59.000Z");
        assert_eq!(Timestamp(-1).to_iso8601(), "1969-12-31T23:59:59.999Z");
        assert!(Timestamp::parse("2026-13-01").is_none());
        assert!(Timestamp::parse("2026-02-29").is_none());
        assert!(Timestamp::parse("soon").is_none());
    }

    #[test]
    fn instants_with_huge_years_are_refused() {
        assert!(Timestamp::parse("600000000-7-5").is_none());
        assert!(Timestamp::parse("9223372036854775807-01-01").is_none());
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59Z").unwrap().to_iso8601(), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn epoch_seconds_beyond_the_year_9999_are_refused() {
        assert!(Timestamp::parse("1e300").is_none());
        assert!(Timestamp::parse("-1e300").is_none());
        assert!(Timestamp::parse("NaN").is_none());
        assert_eq!(Timestamp::parse("253402300799").unwrap().to_iso8601(), "9999-12-31T23:59:59.000Z");
        assert_eq!(Timestamp::parse("-62167219200").unwrap().to_iso8601(), "0000-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(i64::MIN).start_of_day(), Timestamp(i64::MIN));
    }

    #[test]
    fn instants_with_negative_times_are_refused() {
        assert!(Timestamp::parse("2026-05-06T-0111000000000000:000").is_none());
        assert!(Timestamp::parse("2026-01-01T-1:00:00Z").is_none());
        assert!(Timestamp::parse("2026-01-01T00:-5:00Z").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(7 * MILLIS_PER_DAY));
        assert_eq!(parse_duration("36h"), Some(36 * 3_600_000));
        assert_eq!(parse_duration("1d12h30m"), Some(MILLIS_PER_DAY + 12 * 3_600_000 + 30 * 60_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }

    #[test]
    fn system_clock_follows_wall_time_with_offset() {
        let clock = Clock::starting_at(Timestamp::from_secs(1_000_000_000));
        let now = clock.now();
        assert!(now >= Timestamp::from_secs(1_000_000_000));
        assert!(now < Timestamp::from_secs(1_000_000_100));
        assert!(!clock.is_manual());
    }
}
