//! Rotation schedules (`rate()`, `cron()`, `AutomaticallyAfterDays`, `Duration`) and the clock
//! durations and instants of the control API and `--start-time`.
//!
//! An input is `expression \n duration \n` then eight bytes of the last rotation's instant and
//! two of `AutomaticallyAfterDays`; the first byte's low bits say which members are present.
//!
//! Checked besides "no panic": each next window opens strictly after the instant it follows
//! and closes after it opens.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smemu::clock::Timestamp;
use smemu::rotation::schedule::RotationSchedule;

/// Year 1 to year 9999: instants a clock, a seed or an import can plausibly hold.
const PLAUSIBLE: std::ops::Range<i64> = -62_135_596_800_000..253_402_300_800_000;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let parts = smemu_fuzz::split(rest, b'\n', 3);
    let text = |i: usize| parts.get(i).and_then(|p| std::str::from_utf8(p).ok());
    let (Some(expression), duration) = (text(0), text(1)) else { return };
    let tail = parts.get(2).copied().unwrap_or_default();
    let mut instant = [0u8; 8];
    let n = tail.len().min(8);
    instant[..n].copy_from_slice(&tail[..n]);
    let last = Timestamp(i64::from_le_bytes(instant));
    let days = tail.get(8..10).map(|b| i64::from(i16::from_le_bytes([b[0], b[1]])));

    let _ = smemu::clock::parse_duration(expression);
    let _ = Timestamp::parse(expression);

    let expression = (flags & 1 != 0).then_some(expression);
    let duration = if flags & 2 != 0 { duration } else { None };
    let days = if flags & 4 != 0 { days } else { None };
    let Ok(Some(schedule)) = RotationSchedule::parse(days, expression, duration) else { return };
    let _ = schedule.is_hourly();
    let _ = schedule.reported_days(last);
    let _ = schedule.next_rotation_date(last);
    let mut at = last;
    for _ in 0..4 {
        let Some(window) = schedule.next_window(at) else { break };
        if PLAUSIBLE.contains(&at.0) && PLAUSIBLE.contains(&window.start.0) {
            assert!(window.start > at, "{schedule:?}: the window after {at:?} opens at {:?}", window.start);
            assert!(window.end > window.start, "{schedule:?}: empty window {window:?}");
        }
        let _ = window.next_rotation_date();
        let _ = window.contains(at);
        at = window.start;
    }
});
