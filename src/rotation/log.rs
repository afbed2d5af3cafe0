//! The rotation log: the last [`DEFAULT_CAPACITY`] step outcomes, readable at `GET /_smemu/rotations`.
//!
//! One entry per step smemu ran (or skipped because an earlier step failed), oldest first, with the
//! hook that ran, how long it took, and its output cut to 4 KiB. Entries serialize in camelCase with
//! `startedAt` as an ISO-8601 UTC string on smemu's clock.

use super::hook::{HookRef, Step};
use super::schedule::iso8601;
use crate::clock::Timestamp;
use parking_lot::Mutex;
use serde::{Serialize, Serializer};
use std::collections::VecDeque;

pub const DEFAULT_CAPACITY: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepStatus {
    Succeeded,
    Failed,
    /// Not run, because an earlier step of the same rotation failed.
    Skipped,
}

/// What started the rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// A RotateSecret call.
    RotateSecret,
    /// The secret's schedule came due on smemu's clock.
    Schedule,
}

/// Which steps a rotation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RotationMode {
    /// The four steps.
    Full,
    /// `RotateImmediately=false`: only testSecret, against a temporary AWSPENDING copy of the
    /// current value.
    TestOnly,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Increases by one per entry, across all secrets; set by [`RotationLog::push`].
    pub id: u64,
    pub secret_arn: String,
    pub secret_name: String,
    /// The rotation's version (its ClientRequestToken).
    pub version_id: String,
    pub step: Step,
    pub hook: HookRef,
    pub trigger: Trigger,
    pub mode: RotationMode,
    #[serde(serialize_with = "as_iso8601")]
    pub started_at: Timestamp,
    pub duration_ms: u64,
    pub status: StepStatus,
    pub output: String,
}

fn as_iso8601<S: Serializer>(t: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&iso8601(*t))
}

impl LogEntry {
    /// Whether `secret` names this entry's secret: its name, its ARN, or its ARN without the
    /// six-character suffix (a partial ARN).
    #[must_use]
    pub fn is_for(&self, secret: &str) -> bool {
        secret == self.secret_name
            || secret == self.secret_arn
            || self
                .secret_arn
                .strip_prefix(secret)
                .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-') && !secret.is_empty())
    }
}

/// A bounded, thread-safe ring of [`LogEntry`]s.
pub struct RotationLog {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<LogEntry>,
    next_id: u64,
}

impl Default for RotationLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RotationLog {
    /// A log keeping the last `capacity` entries (at least one).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::new(Ring::default()) }
    }

    /// Appends `entry` with the next id, dropping the oldest entry when full; returns the id.
    pub fn push(&self, mut entry: LogEntry) -> u64 {
        let mut ring = self.inner.lock();
        ring.next_id += 1;
        entry.id = ring.next_id;
        if ring.entries.len() == self.capacity {
            ring.entries.pop_front();
        }
        ring.entries.push_back(entry);
        ring.next_id
    }

    /// The kept entries, oldest first; only those of `secret` (name, ARN or partial ARN) when given.
    #[must_use]
    pub fn entries(&self, secret: Option<&str>) -> Vec<LogEntry> {
        let ring = self.inner.lock();
        ring.entries.iter().filter(|e| secret.is_none_or(|s| e.is_for(s))).cloned().collect()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.inner.lock().entries.clear();
    }

    /// Drops the entries of every world, of one account, or of one account and region (a reset).
    /// Ids keep counting, so a reader that remembers the last id it saw is never confused.
    pub fn forget(&self, account: Option<&str>, region: Option<&str>) {
        let Some(account) = account else {
            self.clear();
            return;
        };
        let in_world = |e: &LogEntry| {
            super::run::scope_of(&e.secret_arn)
                .is_some_and(|(a, r)| a == account && region.is_none_or(|region| r == region))
        };
        self.inner.lock().entries.retain(|e| !in_world(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(name: &str, step: Step, status: StepStatus) -> LogEntry {
        LogEntry {
            id: 0,
            secret_arn: format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-AbCdEf"),
            secret_name: name.into(),
            version_id: "v2".into(),
            step,
            hook: HookRef { function_arn: "arn:aws:lambda:us-east-1:000000000000:function:r".into(), kind: "command" },
            trigger: Trigger::RotateSecret,
            mode: RotationMode::Full,
            started_at: Timestamp::from_secs(1_700_000_000),
            duration_ms: 12,
            status,
            output: "ok".into(),
        }
    }

    #[test]
    fn entries_serialize_for_the_control_api() {
        let log = RotationLog::default();
        log.push(entry("app/db", Step::SetSecret, StepStatus::Failed));
        let json = serde_json::to_value(log.entries(None)).unwrap();
        assert_eq!(
            json,
            json!([{
                "id": 1,
                "secretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf",
                "secretName": "app/db",
                "versionId": "v2",
                "step": "setSecret",
                "hook": {"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:r", "kind": "command"},
                "trigger": "rotateSecret",
                "mode": "full",
                "startedAt": "2023-11-14T22:13:20.000Z",
                "durationMs": 12,
                "status": "failed",
                "output": "ok"
            }])
        );
        let mut skipped = entry("x", Step::FinishSecret, StepStatus::Skipped);
        skipped.trigger = Trigger::Schedule;
        skipped.mode = RotationMode::TestOnly;
        let json = serde_json::to_value(&skipped).unwrap();
        assert_eq!(
            (json["status"].as_str(), json["trigger"].as_str(), json["mode"].as_str()),
            (Some("skipped"), Some("schedule"), Some("testOnly"))
        );
    }

    #[test]
    fn the_ring_keeps_the_newest_entries() {
        let log = RotationLog::with_capacity(3);
        for step in Step::ALL {
            log.push(entry("a", step, StepStatus::Succeeded));
        }
        assert_eq!(log.len(), 3);
        let entries = log.entries(None);
        assert_eq!(entries.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(entries[0].step, Step::SetSecret);
        log.clear();
        assert!(log.is_empty());
        assert_eq!(log.push(entry("a", Step::CreateSecret, StepStatus::Succeeded)), 5, "ids keep counting");
    }

    #[test]
    fn forget_drops_the_entries_of_one_world() {
        let log = RotationLog::default();
        let at = |account: &str, region: &str| {
            let mut e = entry("s", Step::CreateSecret, StepStatus::Succeeded);
            e.secret_arn = format!("arn:aws:secretsmanager:{region}:{account}:secret:s-AbCdEf");
            e
        };
        for (account, region) in
            [("111111111111", "us-east-1"), ("111111111111", "eu-west-1"), ("222222222222", "us-east-1")]
        {
            log.push(at(account, region));
        }
        let world = |e: LogEntry| e.secret_arn.split(':').skip(3).take(2).collect::<Vec<_>>().join(":");
        let worlds = |log: &RotationLog| log.entries(None).into_iter().map(world).collect::<Vec<_>>();
        log.forget(Some("111111111111"), Some("eu-west-1"));
        assert_eq!(worlds(&log), ["us-east-1:111111111111", "us-east-1:222222222222"]);
        log.forget(Some("111111111111"), None);
        assert_eq!(worlds(&log), ["us-east-1:222222222222"]);
        log.forget(None, None);
        assert!(log.is_empty());
    }

    #[test]
    fn entries_filter_by_name_arn_or_partial_arn() {
        let log = RotationLog::default();
        log.push(entry("app/db", Step::CreateSecret, StepStatus::Succeeded));
        log.push(entry("app/db-2", Step::CreateSecret, StepStatus::Succeeded));
        log.push(entry("other", Step::CreateSecret, StepStatus::Succeeded));
        let names = |filter: &str| log.entries(Some(filter)).into_iter().map(|e| e.secret_name).collect::<Vec<_>>();
        assert_eq!(names("app/db"), ["app/db"]);
        assert_eq!(names("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-2-AbCdEf"), ["app/db-2"]);
        assert_eq!(names("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db"), ["app/db"]);
        assert_eq!(names("app"), Vec::<String>::new());
        assert_eq!(names(""), Vec::<String>::new());
        assert_eq!(log.entries(None).len(), 3);
    }
}
