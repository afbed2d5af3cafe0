//! Rotation schedules: `RotationRules` parsed and validated, and the next rotation window.
//!
//! Pure functions of their inputs; time comes in as [`Timestamp`]s (epoch ms, UTC).
//!
//! # What AWS documents, and what smemu decides
//! * `RotationRules` holds `AutomaticallyAfterDays` (1–1000) **or** `ScheduleExpression`, never both,
//!   and an optional `Duration` (`"3h"`): the rotation window. Rotation happens "at any time during the
//!   rotation window"; windows always open on the hour, in UTC.
//! * `rate(N hour|hours)` (N ≥ 4) and `rate(N day|days)` (N ≤ 999). For a rate in days the window opens at
//!   midnight; for a rate in hours the window opens at midnight too, and the increments restart every
//!   day, as cron hour increments do (`rate(8 hours)` ≡ windows at 00:00, 08:00 and 16:00). smemu
//!   accepts the singular and plural unit with any N (AWS lists all four spellings), and hours up to 23:
//!   longer intervals are written in days.
//! * `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: minutes must be `0`, year must be `*`,
//!   exactly one of day-of-month and day-of-week is `?`. Hours `0–23` with `, - * /`; day-of-month
//!   `1–31` with `, - * ? / L`; month `1–12` or `JAN–DEC` with `, - * /`; day-of-week `1–7` or
//!   `SUN–SAT` (1 = Sunday) with `# , - * ? / L` (`L` alone is Saturday, `5L` the month's last Thursday,
//!   `MON#2` its second Monday). Names are case-insensitive. A cron whose hours field names several
//!   hours is "a schedule in hours" (those hours must be at least four apart); otherwise it is "a
//!   schedule in days". An expression that never fires (`cron(0 0 30 2 ? *)`) is refused.
//! * Default window: one hour for schedules in hours; for schedules in days, until the end of the UTC
//!   day. `Duration` (`1h`–`24h`) replaces it, and must end before the next window opens and before
//!   midnight (for rates in hours AWS only asks that it be at most the interval).
//! * `AutomaticallyAfterDays = N` is treated as `rate(N days)` (N up to 1000).
//!
//! # The next window
//! Given the instant of the last rotation (or of the configuration, before any rotation), the next
//! window is the first one that opens strictly after it. For days-based schedules that is midnight of
//! (the last rotation's UTC date + N days): the documented "next rotation date based on the previous
//! rotation", and what AWS shows (a secret last rotated on a Monday with `cron(0 0 ? * 2 *)`
//! reported the next Monday 23:59:59 UTC).
//!
//! smemu rotates at the **start** of a window ([`FIRE_AT`]), so it is deterministic: after a rotation
//! with `AutomaticallyAfterDays=30`, advancing the clock 30 days always reaches the next window, and 29
//! days never does. `NextRotationDate` reports the window's **last second** ([`NEXT_ROTATION_DATE_AT`]),
//! as AWS's answers do (`…T23:59:59Z` for a whole-day window). Both are one constant to change.

use crate::clock::{MILLIS_PER_DAY, Timestamp};
use std::fmt;

pub const MILLIS_PER_HOUR: i64 = 3_600_000;

/// Which instant of a window a point refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowPoint {
    /// The instant the window opens.
    Start,
    /// One second before the window closes (`23:59:59` for a window that ends at midnight).
    LastSecond,
}

/// What `NextRotationDate` shows. AWS's recorded answers show the window's last second.
pub const NEXT_ROTATION_DATE_AT: WindowPoint = WindowPoint::LastSecond;

/// When smemu's scheduler starts a due rotation. AWS picks a random instant within the window;
/// smemu takes the first one so tests are reproducible.
pub const FIRE_AT: WindowPoint = WindowPoint::Start;

/// Longest `AutomaticallyAfterDays` the model allows.
pub const MAX_AUTOMATICALLY_AFTER_DAYS: i64 = 1000;
/// Longest `rate(N days)` the user guide allows.
pub const MAX_RATE_DAYS: u32 = 999;
/// Shortest interval between rotations.
pub const MIN_RATE_HOURS: u32 = 4;
/// How far ahead a cron expression is searched before it is called one that never fires.
const CRON_HORIZON_DAYS: i64 = 8 * 366;

/// A refused `RotationRules`. Every case answers `InvalidParameterException` with [`Self::message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub message: String,
}

impl ScheduleError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    fn expression(expr: &str, reason: &str) -> Self {
        Self::new(format!("The ScheduleExpression {expr} isn't valid: {reason}."))
    }

    fn duration(duration: &str, reason: &str) -> Self {
        Self::new(format!("The rotation window Duration {duration} isn't valid: {reason}."))
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScheduleError {}

/// AWS's text when both `AutomaticallyAfterDays` and `ScheduleExpression` are given.
pub const BOTH_FREQUENCY_AND_EXPRESSION: &str =
    "You cannot specify both rotation frequency and schedule expression together.";

/// A rotation window: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    #[must_use]
    pub fn point(self, point: WindowPoint) -> Timestamp {
        match point {
            WindowPoint::Start => self.start,
            WindowPoint::LastSecond => Timestamp(self.end.0 - 1000).max(self.start),
        }
    }

    /// The instant `NextRotationDate` reports for this window.
    #[must_use]
    pub fn next_rotation_date(self) -> Timestamp {
        self.point(NEXT_ROTATION_DATE_AT)
    }

    /// The instant smemu's scheduler starts the rotation.
    #[must_use]
    pub fn due_at(self) -> Timestamp {
        self.point(FIRE_AT)
    }

    #[must_use]
    pub fn contains(self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// How often rotation happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frequency {
    /// `AutomaticallyAfterDays = N`.
    AfterDays(u32),
    /// `rate(N days)`.
    RateDays(u32),
    /// `rate(N hours)`: windows at midnight and every N hours after, each day.
    RateHours(u32),
    /// `cron(...)`.
    Cron(Box<Cron>),
}

/// Validated `RotationRules`: when rotations are due and how long each window stays open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationSchedule {
    pub frequency: Frequency,
    /// `Duration` in hours, when given.
    pub duration_hours: Option<u32>,
}

impl RotationSchedule {
    /// Validates the three `RotationRules` members. `Ok(None)`: no schedule at all (no member given).
    ///
    /// # Errors
    /// [`ScheduleError`] (an `InvalidParameterException`) for both frequencies at once, a `Duration`
    /// without a frequency, a frequency out of range, an expression or a `Duration` that isn't valid.
    pub fn parse(
        automatically_after_days: Option<i64>,
        schedule_expression: Option<&str>,
        duration: Option<&str>,
    ) -> Result<Option<Self>, ScheduleError> {
        let frequency = match (automatically_after_days, schedule_expression) {
            (Some(_), Some(_)) => return Err(ScheduleError::new(BOTH_FREQUENCY_AND_EXPRESSION)),
            (Some(days), None) => {
                if !(1..=MAX_AUTOMATICALLY_AFTER_DAYS).contains(&days) {
                    return Err(ScheduleError::new(format!(
                        "AutomaticallyAfterDays must be between 1 and {MAX_AUTOMATICALLY_AFTER_DAYS}; you provided {days}."
                    )));
                }
                Frequency::AfterDays(u32::try_from(days).unwrap_or(1))
            }
            (None, Some(expr)) => parse_expression(expr)?,
            (None, None) => {
                return match duration {
                    None => Ok(None),
                    Some(_) => Err(ScheduleError::new(
                        "A rotation window Duration requires AutomaticallyAfterDays or a ScheduleExpression.",
                    )),
                };
            }
        };
        let duration_hours = duration.map(|d| parse_duration(d, &frequency)).transpose()?;
        Ok(Some(Self { frequency, duration_hours }))
    }

    /// True for schedules in hours (default window one hour).
    #[must_use]
    pub fn is_hourly(&self) -> bool {
        match &self.frequency {
            Frequency::RateHours(_) => true,
            Frequency::Cron(cron) => cron.hours.len() > 1,
            Frequency::AfterDays(_) | Frequency::RateDays(_) => false,
        }
    }

    /// Length of the window that opens at `start_hour` (0–23) of a day.
    fn window_hours(&self, start_hour: u32) -> u32 {
        match self.duration_hours {
            Some(hours) => hours,
            None if self.is_hourly() => 1,
            None => 24 - start_hour,
        }
    }

    /// The first window that opens strictly after `last_rotation`: the next rotation's window.
    /// `None` only for a cron expression that stopped firing (not possible once validated).
    #[must_use]
    pub fn next_window(&self, last_rotation: Timestamp) -> Option<Window> {
        let start = match &self.frequency {
            Frequency::AfterDays(days) | Frequency::RateDays(days) => {
                last_rotation.start_of_day().plus_days(i64::from(*days))
            }
            Frequency::RateHours(every) => {
                let day = last_rotation.start_of_day();
                let hour = (last_rotation.0 - day.0) / MILLIS_PER_HOUR;
                let next = (hour / i64::from(*every) + 1) * i64::from(*every);
                if next < 24 { day.plus_millis(next * MILLIS_PER_HOUR) } else { day.plus_days(1) }
            }
            Frequency::Cron(cron) => cron.next_fire_after(last_rotation)?,
        };
        let start_hour = u32::try_from((start.0 - start.start_of_day().0) / MILLIS_PER_HOUR).unwrap_or(0);
        let end = start.plus_millis(i64::from(self.window_hours(start_hour)) * MILLIS_PER_HOUR);
        Some(Window { start, end })
    }

    /// `NextRotationDate` after a rotation at `last_rotation`.
    #[must_use]
    pub fn next_rotation_date(&self, last_rotation: Timestamp) -> Option<Timestamp> {
        self.next_window(last_rotation).map(Window::next_rotation_date)
    }

    /// The `AutomaticallyAfterDays` AWS reports next to a `ScheduleExpression` ("calculated from the
    /// rotation schedule"): the days between the two windows that follow `last_rotation`, rounded up.
    /// `None` for schedules in hours. The formula is unconfirmed; a weekly cron gives 7, as on AWS.
    #[must_use]
    pub fn reported_days(&self, last_rotation: Timestamp) -> Option<i64> {
        match &self.frequency {
            Frequency::AfterDays(days) | Frequency::RateDays(days) => Some(i64::from(*days)),
            Frequency::RateHours(_) => None,
            Frequency::Cron(_) if self.is_hourly() => None,
            Frequency::Cron(_) => {
                let first = self.next_window(last_rotation)?;
                let second = self.next_window(first.start)?;
                Some(((second.start.0 - first.start.0) + MILLIS_PER_DAY - 1) / MILLIS_PER_DAY)
            }
        }
    }
}

fn parse_expression(expr: &str) -> Result<Frequency, ScheduleError> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        return parse_rate(expr, inner);
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return Cron::parse(inner)
            .map(|c| Frequency::Cron(Box::new(c)))
            .map_err(|r| ScheduleError::expression(expr, &r));
    }
    Err(ScheduleError::expression(
        expr,
        "use rate(Value Unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year)",
    ))
}

fn parse_rate(expr: &str, inner: &str) -> Result<Frequency, ScheduleError> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [value, unit] = parts[..] else {
        return Err(ScheduleError::expression(expr, "a rate needs a value and a unit, as in rate(10 days)"));
    };
    let value: u32 = parse_number(value)
        .ok_or_else(|| ScheduleError::expression(expr, "the rate value must be a positive whole number"))?;
    match unit {
        "day" | "days" => {
            if !(1..=MAX_RATE_DAYS).contains(&value) {
                return Err(ScheduleError::expression(
                    expr,
                    &format!("a rate in days must be between 1 and {MAX_RATE_DAYS} days"),
                ));
            }
            Ok(Frequency::RateDays(value))
        }
        "hour" | "hours" => {
            if value < MIN_RATE_HOURS {
                return Err(ScheduleError::expression(expr, "you can rotate a secret at most every four hours"));
            }
            if value > 23 {
                return Err(ScheduleError::expression(expr, "a rate in hours must be below 24 hours; use days"));
            }
            Ok(Frequency::RateHours(value))
        }
        _ => Err(ScheduleError::expression(expr, "the rate unit must be hour, hours, day or days")),
    }
}

fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_duration(text: &str, frequency: &Frequency) -> Result<u32, ScheduleError> {
    let hours = text
        .strip_suffix('h')
        .and_then(parse_number)
        .filter(|h| (1..=24).contains(h))
        .ok_or_else(|| ScheduleError::duration(text, "use a whole number of hours from 1h to 24h, as in 3h"))?;
    match frequency {
        Frequency::AfterDays(_) | Frequency::RateDays(_) => {}
        Frequency::RateHours(every) => {
            if hours > *every {
                return Err(ScheduleError::duration(
                    text,
                    "the rotation window must not extend into the next rotation window",
                ));
            }
        }
        Frequency::Cron(cron) => {
            let starts = &cron.hours;
            for (i, &start) in starts.iter().enumerate() {
                let limit = starts.get(i + 1).copied().unwrap_or(24);
                if start + hours > limit {
                    let reason = if limit == 24 {
                        "the rotation window must not extend into the next UTC day"
                    } else {
                        "the rotation window must not extend into the next rotation window"
                    };
                    return Err(ScheduleError::duration(text, reason));
                }
            }
        }
    }
    Ok(hours)
}

// ---------------------------------------------------------------------------------------------
// cron

/// A parsed `cron()` expression (minutes are always 0, the year always `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    /// Hours of the day the windows open, ascending.
    pub hours: Vec<u32>,
    /// Bit `m` set for each month `m` (1–12).
    months: u16,
    days: DaySpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DaySpec {
    /// Day-of-month given, day-of-week `?`.
    OfMonth {
        /// Bit `d` set for each day `d` (1–31).
        days: u32,
        /// `L`: the month's last day.
        last: bool,
    },
    /// Day-of-week given, day-of-month `?`.
    OfWeek {
        /// Bit `w` set for each weekday `w` (1 = Sunday … 7 = Saturday).
        days: u8,
        /// Bit `w` set for `wL`: the month's last such weekday.
        last_of_month: u8,
        /// `w#n`: the n-th such weekday of the month.
        nth: Vec<(u32, u32)>,
    },
}

const MONTH_NAMES: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One numeric cron field's domain.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const HOURS: Field = Field { name: "hours", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: Field = Field { name: "month", min: 1, max: 12, names: &MONTH_NAMES };
const DAY_OF_WEEK: Field = Field { name: "day-of-week", min: 1, max: 7, names: &WEEKDAY_NAMES };

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let value = if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            u32::try_from(i).unwrap_or(0) + self.min
        } else {
            parse_number(text).ok_or_else(|| format!("{text} isn't a valid {} value", self.name))?
        };
        if !(self.min..=self.max).contains(&value) {
            return Err(format!("the {} field takes values from {} to {}", self.name, self.min, self.max));
        }
        Ok(value)
    }

    /// Values of one plain item: `*`, `v`, `a-b`, each optionally followed by `/step`.
    fn plain_item(&self, item: &str) -> Result<Vec<u32>, String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = parse_number(step)
                    .filter(|&s| s >= 1)
                    .ok_or_else(|| format!("{step} isn't a valid increment in the {} field", self.name))?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (self.value(a)?, self.value(b)?);
            if a > b {
                return Err(format!("the range {range} in the {} field runs backwards", self.name));
            }
            (a, b)
        } else {
            let v = self.value(range)?;
            (v, if step.is_some() { self.max } else { v })
        };
        let step = usize::try_from(step.unwrap_or(1)).unwrap_or(1);
        Ok((low..=high).step_by(step).collect())
    }
}

fn bits<T: From<u8> + std::ops::BitOr<Output = T> + std::ops::Shl<u32, Output = T>>(values: &[u32]) -> T {
    values.iter().fold(T::from(0), |acc, &v| acc | (T::from(1) << v))
}

impl Cron {
    /// Parses the inside of `cron(...)`; the error is the reason, for [`ScheduleError::expression`].
    fn parse(inner: &str) -> Result<Self, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err(format!(
                "a cron expression has six fields (Minutes Hours Day-of-month Month Day-of-week Year), this one has {}",
                fields.len()
            ));
        };
        if parse_number(minutes) != Some(0) {
            return Err("the minutes field must be 0, because rotation windows open on the hour".into());
        }
        if year != "*" {
            return Err("the year field must be *".into());
        }
        let mut hour_values = Vec::new();
        for item in hours.split(',') {
            hour_values.extend(HOURS.plain_item(item)?);
        }
        hour_values.sort_unstable();
        hour_values.dedup();
        if hour_values.windows(2).any(|w| w[1] - w[0] < MIN_RATE_HOURS) {
            return Err("rotations must be at least four hours apart".into());
        }
        let mut month_values = Vec::new();
        for item in month.split(',') {
            month_values.extend(MONTH.plain_item(item)?);
        }
        let days = match (dom == "?", dow == "?") {
            (true, true) => return Err("only one of day-of-month and day-of-week can be ?".into()),
            (false, false) => return Err("one of day-of-month and day-of-week must be ?".into()),
            (false, true) => Self::day_of_month(dom)?,
            (true, false) => Self::day_of_week(dow)?,
        };
        let cron = Self { hours: hour_values, months: bits(&month_values), days };
        let reference = 10_957; // 2000-01-01, in days since the epoch
        if !(0..CRON_HORIZON_DAYS).any(|d| cron.matches_day(reference + d)) {
            return Err("it never matches a day".into());
        }
        Ok(cron)
    }

    fn day_of_month(field: &str) -> Result<DaySpec, String> {
        let mut values = Vec::new();
        let mut last = false;
        for item in field.split(',') {
            if item.eq_ignore_ascii_case("L") {
                last = true;
            } else {
                values.extend(DAY_OF_MONTH.plain_item(item)?);
            }
        }
        Ok(DaySpec::OfMonth { days: bits(&values), last })
    }

    fn day_of_week(field: &str) -> Result<DaySpec, String> {
        let mut values = Vec::new();
        let mut last_of_month = Vec::new();
        let mut nth = Vec::new();
        for item in field.split(',') {
            if item.eq_ignore_ascii_case("L") {
                values.push(7);
            } else if let Some((day, n)) = item.split_once('#') {
                let day = DAY_OF_WEEK.value(day)?;
                let n = parse_number(n)
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| format!("in {item}, the number after # must be from 1 to 5"))?;
                nth.push((day, n));
            } else if let Some(day) = item.strip_suffix('L').or_else(|| item.strip_suffix('l')) {
                last_of_month.push(DAY_OF_WEEK.value(day)?);
            } else {
                values.extend(DAY_OF_WEEK.plain_item(item)?);
            }
        }
        Ok(DaySpec::OfWeek { days: bits(&values), last_of_month: bits(&last_of_month), nth })
    }

    /// Whether the UTC day `days` (since the epoch) is a day the schedule fires on.
    fn matches_day(&self, days: i64) -> bool {
        let date = Timestamp(days.saturating_mul(MILLIS_PER_DAY)).date();
        let (month, day, month_len) = (small(date.month()), small(date.day()), small(date.days_in_month()));
        if self.months & (1 << month) == 0 {
            return false;
        }
        match &self.days {
            DaySpec::OfMonth { days: set, last } => set & (1 << day) != 0 || (*last && day == month_len),
            DaySpec::OfWeek { days: set, last_of_month, nth } => {
                let weekday = cron_weekday(date);
                set & (1 << weekday) != 0
                    || (last_of_month & (1 << weekday) != 0 && day + 7 > month_len)
                    || nth.iter().any(|&(w, n)| w == weekday && (day - 1) / 7 + 1 == n)
            }
        }
    }

    /// The first instant the expression fires strictly after `after`.
    #[must_use]
    pub fn next_fire_after(&self, after: Timestamp) -> Option<Timestamp> {
        let first_day = after.0.div_euclid(MILLIS_PER_DAY);
        // Days past the last representable instant (an imported date near i64::MAX) fire never.
        (first_day..first_day + CRON_HORIZON_DAYS).filter(|&d| self.matches_day(d)).find_map(|d| {
            let midnight = d.checked_mul(MILLIS_PER_DAY)?;
            self.hours
                .iter()
                .filter_map(|&h| midnight.checked_add(i64::from(h) * MILLIS_PER_HOUR).map(Timestamp))
                .find(|&t| t > after)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// civil dates (proleptic Gregorian, UTC)

/// A month, day or weekday number of jiff's (always positive) as the bit index cron uses.
fn small(n: i8) -> u32 {
    u32::from(n.unsigned_abs())
}

/// The day of the week as cron numbers it: 1 = Sunday … 7 = Saturday.
fn cron_weekday(date: jiff::civil::Date) -> u32 {
    small(date.weekday().to_sunday_one_offset())
}

/// `2024-05-01T12:00:00.000Z`.
#[must_use]
pub fn iso8601(t: Timestamp) -> String {
    t.to_iso8601()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i64, month: u32, day: u32, hour: i64) -> Timestamp {
        let date = Timestamp::parse(&format!("{year:04}-{month:02}-{day:02}")).unwrap();
        date.plus_millis(hour * MILLIS_PER_HOUR)
    }

    fn at_hms(year: i64, month: u32, day: u32, h: i64, m: i64, s: i64) -> Timestamp {
        at(year, month, day, h).plus_millis((m * 60 + s) * 1000)
    }

    fn expr(e: &str) -> RotationSchedule {
        RotationSchedule::parse(None, Some(e), None).unwrap().unwrap()
    }

    fn with_duration(e: &str, d: &str) -> Result<Option<RotationSchedule>, ScheduleError> {
        RotationSchedule::parse(None, Some(e), Some(d))
    }

    fn err(e: &str) -> String {
        RotationSchedule::parse(None, Some(e), None).unwrap_err().message
    }

    fn window(s: &RotationSchedule, after: Timestamp) -> (String, String) {
        let w = s.next_window(after).unwrap();
        (iso8601(w.start), iso8601(w.end))
    }

    #[test]
    fn windows_print_in_utc_with_milliseconds() {
        // 2018-04-17T12:34:56Z, the clock module's example.
        assert_eq!(iso8601(Timestamp::from_secs(1_523_968_496)), "2018-04-17T12:34:56.000Z");
        assert_eq!(iso8601(Timestamp(-1)), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn weekdays_count_from_sunday() {
        let weekday = |y, m, d| cron_weekday(at(y, m, d, 0).date());
        assert_eq!(weekday(1970, 1, 1), 5, "a Thursday");
        assert_eq!(weekday(2023, 10, 16), 2, "a Monday");
        assert_eq!(weekday(2024, 6, 1), 7, "a Saturday");
        assert_eq!(weekday(2024, 6, 2), 1, "a Sunday");
    }

    #[test]
    fn automatically_after_days_opens_a_whole_day_window() {
        let s = RotationSchedule::parse(Some(30), None, None).unwrap().unwrap();
        assert!(!s.is_hourly());
        let rotated = at_hms(2024, 1, 10, 15, 42, 7);
        let w = s.next_window(rotated).unwrap();
        assert_eq!(w.start, at(2024, 2, 9, 0));
        assert_eq!(w.end, at(2024, 2, 10, 0));
        assert_eq!(iso8601(w.next_rotation_date()), "2024-02-09T23:59:59.000Z");
        assert_eq!(w.due_at(), w.start);
        assert_eq!(s.reported_days(rotated), Some(30));
    }

    #[test]
    fn thirty_days_reach_the_next_window_and_twenty_nine_do_not() {
        let s = RotationSchedule::parse(Some(30), None, None).unwrap().unwrap();
        for hour in [0, 1, 12, 23] {
            let rotated = at_hms(2024, 3, 5, hour, 59, 59);
            let due = s.next_window(rotated).unwrap().due_at();
            assert!(rotated.plus_days(30) >= due, "30 days later is due (rotated at {hour}h)");
            assert!(rotated.plus_days(29) < due, "29 days later is not (rotated at {hour}h)");
            // After the scheduled rotation runs at the window start, the next one is 30 days on.
            assert_eq!(s.next_window(due).unwrap().start, due.plus_days(30));
        }
    }

    #[test]
    fn rate_in_days() {
        let s = expr("rate(10 days)");
        assert_eq!(s.frequency, Frequency::RateDays(10));
        assert_eq!(
            window(&s, at_hms(2024, 12, 25, 9, 0, 0)),
            ("2025-01-04T00:00:00.000Z".into(), "2025-01-05T00:00:00.000Z".into())
        );
        assert_eq!(expr("rate(1 day)").frequency, Frequency::RateDays(1));
        assert_eq!(expr("rate(1 days)").frequency, Frequency::RateDays(1));
        assert_eq!(expr("rate(999 days)").frequency, Frequency::RateDays(999));
        let s = with_duration("rate(10 days)", "3h").unwrap().unwrap();
        assert_eq!(
            window(&s, at(2024, 1, 1, 5)),
            ("2024-01-11T00:00:00.000Z".into(), "2024-01-11T03:00:00.000Z".into())
        );
        assert_eq!(iso8601(s.next_rotation_date(at(2024, 1, 1, 5)).unwrap()), "2024-01-11T02:59:59.000Z");
    }

    #[test]
    fn rate_in_hours_restarts_at_midnight() {
        let s = expr("rate(8 hours)");
        assert!(s.is_hourly());
        assert_eq!(window(&s, at_hms(2024, 1, 1, 0, 0, 0)).0, "2024-01-01T08:00:00.000Z");
        assert_eq!(window(&s, at_hms(2024, 1, 1, 7, 59, 59)).0, "2024-01-01T08:00:00.000Z");
        assert_eq!(
            window(&s, at(2024, 1, 1, 8)),
            ("2024-01-01T16:00:00.000Z".into(), "2024-01-01T17:00:00.000Z".into())
        );
        assert_eq!(window(&s, at_hms(2024, 1, 1, 16, 30, 0)).0, "2024-01-02T00:00:00.000Z");
        let s = expr("rate(5 hours)");
        assert_eq!(window(&s, at(2024, 1, 1, 21)).0, "2024-01-02T00:00:00.000Z");
        assert_eq!(window(&s, at(2024, 1, 1, 19)).0, "2024-01-01T20:00:00.000Z");
        assert_eq!(expr("rate(4 hours)").frequency, Frequency::RateHours(4));
        assert_eq!(expr("rate(23 hour)").frequency, Frequency::RateHours(23));
        assert_eq!(s.reported_days(at(2024, 1, 1, 0)), None);
        let s = with_duration("rate(6 hours)", "6h").unwrap().unwrap();
        assert_eq!(window(&s, at(2024, 1, 1, 1)).1, "2024-01-01T12:00:00.000Z");
    }

    #[test]
    fn daily_cron_at_noon() {
        let s = expr("cron(0 12 * * ? *)");
        assert!(!s.is_hourly());
        // Before noon: today's window; at or after noon: tomorrow's.
        assert_eq!(
            window(&s, at(2024, 7, 1, 11)),
            ("2024-07-01T12:00:00.000Z".into(), "2024-07-02T00:00:00.000Z".into())
        );
        assert_eq!(window(&s, at(2024, 7, 1, 12)).0, "2024-07-02T12:00:00.000Z");
        assert_eq!(window(&s, at_hms(2024, 12, 31, 13, 0, 0)).0, "2025-01-01T12:00:00.000Z");
        assert_eq!(iso8601(s.next_rotation_date(at(2024, 7, 1, 11)).unwrap()), "2024-07-01T23:59:59.000Z");
        assert_eq!(s.reported_days(at(2024, 7, 1, 11)), Some(1));
        let s = with_duration("cron(0 12 * * ? *)", "2h").unwrap().unwrap();
        assert_eq!(window(&s, at(2024, 7, 1, 11)).1, "2024-07-01T14:00:00.000Z");
    }

    #[test]
    fn weekly_cron_reports_the_end_of_the_day_like_aws() {
        // Recorded on AWS: last rotated Monday 2023-10-16T07:18Z, `cron(0 0 ? * 2 *)`,
        // NextRotationDate 2023-10-23T23:59:59Z, AutomaticallyAfterDays 7.
        let s = expr("cron(0 0 ? * 2 *)");
        let last = at_hms(2023, 10, 16, 7, 18, 2);
        assert_eq!(iso8601(s.next_rotation_date(last).unwrap()), "2023-10-23T23:59:59.000Z");
        assert_eq!(s.reported_days(last), Some(7));
        assert_eq!(expr("cron(0 0 ? * MON *)"), s);
        assert_eq!(expr("cron(0 0 ? * mon *)"), s);
    }

    #[test]
    fn second_monday_at_four_pm() {
        let s = expr("cron(0 16 ? * MON#2 *)");
        // June 2024: Mondays are the 3rd, 10th, 17th…
        assert_eq!(window(&s, at(2024, 6, 1, 0)).0, "2024-06-10T16:00:00.000Z");
        assert_eq!(window(&s, at(2024, 6, 10, 16)).0, "2024-07-08T16:00:00.000Z");
        assert_eq!(window(&s, at(2024, 6, 10, 16)).1, "2024-07-09T00:00:00.000Z");
        assert_eq!(expr("cron(0 16 ? * 2#2 *)"), s);
        let s = expr("cron(0 0 ? * SUN#5 *)");
        assert_eq!(window(&s, at(2024, 1, 1, 0)).0, "2024-03-31T00:00:00.000Z", "the first month with five Sundays");
    }

    #[test]
    fn last_day_of_the_month() {
        let s = expr("cron(0 8 L * ? *)");
        assert_eq!(window(&s, at(2024, 1, 31, 9)).0, "2024-02-29T08:00:00.000Z");
        assert_eq!(window(&s, at(2023, 2, 1, 0)).0, "2023-02-28T08:00:00.000Z");
        assert_eq!(window(&s, at(2024, 4, 30, 7)).0, "2024-04-30T08:00:00.000Z");
        assert_eq!(window(&s, at(2024, 4, 30, 7)).1, "2024-05-01T00:00:00.000Z");
        let s = expr("cron(0 0 ? * 6L *)");
        assert_eq!(window(&s, at(2024, 5, 1, 0)).0, "2024-05-31T00:00:00.000Z", "last Friday of May 2024");
        assert_eq!(window(&s, at(2024, 6, 1, 0)).0, "2024-06-28T00:00:00.000Z");
        let s = expr("cron(0 0 ? * L *)");
        assert_eq!(window(&s, at(2024, 6, 2, 0)).0, "2024-06-08T00:00:00.000Z", "L alone is Saturday");
        let s = expr("cron(0 0 1,L * ? *)");
        assert_eq!(window(&s, at(2024, 6, 1, 0)).0, "2024-06-30T00:00:00.000Z");
        assert_eq!(window(&s, at(2024, 6, 30, 0)).0, "2024-07-01T00:00:00.000Z");
    }

    #[test]
    fn hourly_crons_reset_each_day() {
        let s = expr("cron(0 4/12 * * ? *)");
        assert!(s.is_hourly());
        assert_eq!(
            window(&s, at(2024, 1, 1, 5)),
            ("2024-01-01T16:00:00.000Z".into(), "2024-01-01T17:00:00.000Z".into())
        );
        assert_eq!(window(&s, at(2024, 1, 1, 17)).0, "2024-01-02T04:00:00.000Z");
        let s = expr("cron(0 2/10 * * ? *)");
        assert_eq!(s.frequency, Frequency::Cron(Box::new(Cron::parse("0 2,12,22 * * ? *").unwrap())));
        let s = expr("cron(0 8-20/6 ? * MON-FRI *)");
        assert_eq!(window(&s, at(2024, 6, 7, 21)).0, "2024-06-10T08:00:00.000Z", "Friday night → Monday");
        assert_eq!(window(&s, at(2024, 6, 10, 8)).0, "2024-06-10T14:00:00.000Z");
        assert_eq!(s.reported_days(at(2024, 6, 10, 8)), None);
    }

    #[test]
    fn months_steps_and_lists() {
        let s = expr("cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)");
        assert_eq!(window(&s, at(2024, 6, 1, 0)).0, "2024-08-13T10:00:00.000Z");
        let s = expr("cron(0 0 1 */3 ? *)");
        assert_eq!(window(&s, at(2024, 2, 1, 0)).0, "2024-04-01T00:00:00.000Z");
        let s = expr("cron(0 8 1/7 * ? *)");
        assert_eq!(window(&s, at(2024, 6, 2, 0)).0, "2024-06-08T08:00:00.000Z");
        assert_eq!(window(&s, at(2024, 6, 29, 9)).0, "2024-07-01T08:00:00.000Z");
        let s = expr("cron(0 0 10-12 jan-feb ? *)");
        assert_eq!(window(&s, at(2024, 1, 12, 0)).0, "2024-02-10T00:00:00.000Z");
        assert_eq!(expr("cron(0  0  29  2  ?  *)").next_window(at(2024, 3, 1, 0)).unwrap().start, at(2028, 2, 29, 0));
    }

    #[test]
    fn invalid_expressions_are_refused_with_reasons() {
        let cases = [
            ("rate(3 hours)", "at most every four hours"),
            ("rate(0 days)", "between 1 and 999"),
            ("rate(1000 days)", "between 1 and 999"),
            ("rate(100000 days)", "between 1 and 999"),
            ("rate(24 hours)", "below 24 hours"),
            ("rate(10 minutes)", "unit must be hour, hours, day or days"),
            ("rate(10days)", "a value and a unit"),
            ("rate(-1 days)", "positive whole number"),
            ("rate(1.5 days)", "positive whole number"),
            ("rate 10 days", "use rate(Value Unit)"),
            ("every day", "use rate(Value Unit)"),
            ("cron(0 12 * * ?)", "six fields"),
            ("cron(30 12 * * ? *)", "minutes field must be 0"),
            ("cron(0 12 * * ? 2025)", "year field must be *"),
            ("cron(0 12 * * * *)", "must be ?"),
            ("cron(0 12 ? * ? *)", "only one"),
            ("cron(0 24 * * ? *)", "from 0 to 23"),
            ("cron(0 0/2 * * ? *)", "four hours apart"),
            ("cron(0 * * * ? *)", "four hours apart"),
            ("cron(0 1,3 * * ? *)", "four hours apart"),
            ("cron(0 0 32 * ? *)", "from 1 to 31"),
            ("cron(0 0 0 * ? *)", "from 1 to 31"),
            ("cron(0 0 * 13 ? *)", "from 1 to 12"),
            ("cron(0 0 ? * 8 *)", "from 1 to 7"),
            ("cron(0 0 ? * MON#6 *)", "from 1 to 5"),
            ("cron(0 0 ? * FUN *)", "isn't a valid day-of-week value"),
            ("cron(0 0 ? JUNE * *)", "isn't a valid month value"),
            ("cron(0 0 20-10 * ? *)", "runs backwards"),
            ("cron(0 0 1/0 * ? *)", "isn't a valid increment"),
            ("cron(0 0 30 2 ? *)", "never matches"),
            ("cron(0 0 15W * ? *)", "isn't a valid day-of-month value"),
        ];
        for (expression, reason) in cases {
            let message = err(expression);
            assert!(message.starts_with(&format!("The ScheduleExpression {expression} isn't valid: ")), "{message}");
            assert!(message.contains(reason), "{expression}: {message}");
        }
    }

    #[test]
    fn frequencies_and_durations_are_validated() {
        assert_eq!(
            RotationSchedule::parse(Some(30), Some("rate(10 days)"), None).unwrap_err().message,
            BOTH_FREQUENCY_AND_EXPRESSION
        );
        for days in [0, 1001, -5] {
            assert!(
                RotationSchedule::parse(Some(days), None, None).unwrap_err().message.contains("between 1 and 1000")
            );
        }
        assert!(RotationSchedule::parse(Some(1000), None, None).unwrap().is_some());
        assert_eq!(RotationSchedule::parse(None, None, None), Ok(None));
        assert!(RotationSchedule::parse(None, None, Some("2h")).unwrap_err().message.contains("requires"));
        for bad in ["0h", "25h", "2", "h", "2H", "1.5h", "-1h", "100h"] {
            let message = with_duration("rate(1 day)", bad).unwrap_err().message;
            assert!(message.contains("from 1h to 24h"), "{bad}: {message}");
        }
        assert!(with_duration("rate(1 day)", "24h").is_ok());
        assert!(RotationSchedule::parse(Some(7), None, Some("24h")).is_ok());
        assert!(with_duration("rate(4 hours)", "4h").is_ok());
        assert!(with_duration("rate(4 hours)", "5h").unwrap_err().message.contains("next rotation window"));
        assert!(with_duration("cron(0 20 * * ? *)", "4h").is_ok());
        assert!(with_duration("cron(0 20 * * ? *)", "5h").unwrap_err().message.contains("next UTC day"));
        assert!(with_duration("cron(0 4/12 * * ? *)", "8h").is_ok());
        assert!(with_duration("cron(0 4/12 * * ? *)", "9h").unwrap_err().message.contains("next UTC day"));
        assert!(with_duration("cron(0 2/10 * * ? *)", "2h").is_ok());
        assert!(with_duration("cron(0 2/10 * * ? *)", "3h").unwrap_err().message.contains("next UTC day"));
        assert!(with_duration("cron(0 0,6,12 * * ? *)", "7h").unwrap_err().message.contains("next rotation window"));
    }

    #[test]
    fn cron_after_the_last_representable_day_never_fires() {
        let Frequency::Cron(cron) = parse_expression("cron(0 0/6 ? * 5L *)").unwrap() else { panic!() };
        assert_eq!(cron.next_fire_after(Timestamp(i64::MAX - 1000)), None);
        assert!(cron.next_fire_after(Timestamp(0)).is_some());
    }

    #[test]
    fn windows_have_sensible_points() {
        let w = Window { start: Timestamp(0), end: Timestamp(MILLIS_PER_HOUR) };
        assert_eq!(w.point(WindowPoint::Start), Timestamp(0));
        assert_eq!(w.point(WindowPoint::LastSecond), Timestamp(MILLIS_PER_HOUR - 1000));
        assert!(w.contains(Timestamp(0)) && !w.contains(Timestamp(MILLIS_PER_HOUR)));
    }
}
