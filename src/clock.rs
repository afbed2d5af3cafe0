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
        Self(self.0 - self.0.rem_euclid(MILLIS_PER_DAY))
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
    fn system_clock_follows_wall_time_with_offset() {
        let clock = Clock::starting_at(Timestamp::from_secs(1_000_000_000));
        let now = clock.now();
        assert!(now >= Timestamp::from_secs(1_000_000_000));
        assert!(now < Timestamp::from_secs(1_000_000_100));
        assert!(!clock.is_manual());
    }
}
