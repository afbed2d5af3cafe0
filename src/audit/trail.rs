//! Where events go: a ring bounded in count and bytes, an optional JSON-lines file written as
//! events happen (`--audit-log`), and with `--data-dir` the trail file that survives restarts.

use super::record::Event;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The trail's file in a data directory.
pub const TRAIL_FILE: &str = "audit.jsonl";
/// The trail's previous file: the current one moves here once it holds `--audit-retain` events.
pub const OLDER_TRAIL_FILE: &str = "audit.1.jsonl";

/// Whatever the count, the ring never holds more than this (see [`Event::weight`]).
pub const MAX_RING_BYTES: usize = 64 * 1024 * 1024;

/// How many rings the trail keeps side by side. Each thread records into one of them, so the
/// threads serving requests do not contend for one lock, nor free each other's events.
const SHARDS: usize = 8;

/// One thread's events, in the order of their sequence numbers.
#[derive(Default)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    /// What the ring gained or lost, in [`Event::weight`]s, since it last told the trail.
    unreported: isize,
}

/// A ring on cache lines of its own: two threads recording side by side write to none in common.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Ring>);

/// The trail files of a data directory: the current one is appended to, and once it holds what
/// the ring keeps it becomes the older one (replacing it) and a new one starts. Together they hold
/// at most twice what the ring keeps, and no event is written twice (rewriting the ring instead
/// cost a request, every `--audit-retain` events, the formatting and writing of them all).
struct Durable {
    path: PathBuf,
    older: PathBuf,
    file: File,
    /// Lines in the current file.
    lines: usize,
}

impl Durable {
    fn rotate(&mut self) -> std::io::Result<()> {
        std::fs::rename(&self.path, &self.older)?;
        self.file = open_append(&self.path)?;
        self.lines = 0;
        Ok(())
    }
}

/// The events kept: each of [`SHARDS`] rings keeps its newest `retain`, so together they hold
/// at least the newest `retain` of all, which is what readers see.
pub struct Trail {
    retain: usize,
    /// [`MAX_RING_BYTES`], but in tests.
    max_bytes: usize,
    shards: [Shard; SHARDS],
    /// Taken while the ring an event goes to is locked, so each ring is in sequence order.
    next_seq: AtomicU64,
    /// What all the rings hold, in [`Event::weight`]s, but for what each has not reported yet
    /// (less than [`Trail::report_every`] each).
    bytes: AtomicIsize,
    /// Set once at start, so a request takes no lock for a file that is not there.
    log: OnceLock<Mutex<File>>,
    durable: OnceLock<Mutex<Durable>>,
}

fn weight(event: &Event) -> isize {
    isize::try_from(event.weight()).unwrap_or(isize::MAX)
}

/// The ring the current thread records into.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

fn append_line(file: &mut File, record: &str) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(record.len() + 1);
    line.extend_from_slice(record.as_bytes());
    line.push(b'\n');
    file.write_all(&line)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Trail {
    #[must_use]
    pub fn new(retain: usize) -> Self {
        Self {
            retain: retain.max(1),
            max_bytes: MAX_RING_BYTES,
            shards: std::array::from_fn(|_| Shard::default()),
            next_seq: AtomicU64::new(0),
            bytes: AtomicIsize::new(0),
            log: OnceLock::new(),
            durable: OnceLock::new(),
        }
    }

    /// Appends every later event to `path` (created if missing, never truncated).
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open_log(&self, path: &Path) -> Result<(), String> {
        let file = open_append(path).map_err(|e| format!("--audit-log {}: cannot open it: {e}", path.display()))?;
        self.log.set(Mutex::new(file)).map_err(|_| "the audit log is already open".to_owned())
    }

    /// Loads the events a data directory kept (the newest the ring holds, from the older file
    /// and then the current one) and keeps later ones there. Lines that are not records (a torn
    /// last line) are skipped.
    ///
    /// # Errors
    /// A trail file cannot be read or appended to.
    pub fn open_dir(&self, dir: &Path) -> Result<usize, String> {
        let (path, older) = (dir.join(TRAIL_FILE), dir.join(OLDER_TRAIL_FILE));
        let mut kept = VecDeque::new();
        let mut lines = 0;
        let mut torn = false;
        for file in [&older, &path] {
            let failed = |e: std::io::Error| format!("{}: {e}", file.display());
            let mut reader = match File::open(file) {
                Ok(f) => std::io::BufReader::new(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(failed(e)),
            };
            let (mut count, mut cut) = (0, false);
            let mut line = Vec::new();
            loop {
                line.clear();
                if std::io::BufRead::read_until(&mut reader, b'\n', &mut line).map_err(failed)? == 0 {
                    break;
                }
                cut = line.last() != Some(&b'\n');
                if !cut {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                count += 1;
                if let Some(event) = std::str::from_utf8(&line).ok().and_then(|l| Event::from_record(l.to_owned())) {
                    kept.push_back(event);
                    if kept.len() > self.retain {
                        kept.pop_front();
                    }
                }
            }
            // Only the current file is appended to.
            if file == &path {
                (torn, lines) = (cut, count);
            }
        }
        let loaded = kept.len();
        let earlier = self.take_all();
        for event in kept.into_iter().chain(earlier.into_iter().map(Arc::unwrap_or_clone)) {
            self.keep(event);
        }
        let failed = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file = open_append(&path).map_err(failed)?;
        if torn {
            // A line cut off by a crash ends here, so the next record starts a line of its own.
            file.write_all(b"\n").map_err(failed)?;
        }
        let durable = Durable { path: path.clone(), older, file, lines };
        self.durable.set(Mutex::new(durable)).map_err(|_| format!("{}: the trail is already open", path.display()))?;
        Ok(loaded)
    }

    /// Every event of every ring, in sequence order (the rings emptied).
    fn take_all(&self) -> Vec<Arc<Event>> {
        let mut all: Vec<Arc<Event>> = Vec::new();
        for shard in &self.shards {
            let mut ring = shard.0.lock();
            let held: isize = ring.events.iter().map(|e| weight(e)).sum();
            self.bytes.fetch_sub(held - ring.unreported, Ordering::Relaxed);
            ring.unreported = 0;
            all.extend(ring.events.drain(..));
        }
        all.sort_by_key(|e| e.seq);
        all
    }

    /// Gives `event` the next sequence number and keeps it in this thread's ring, dropping
    /// that ring's oldest beyond the bounds.
    fn keep(&self, mut event: Event) -> Arc<Event> {
        let (event, reported) = {
            let mut ring = self.shards[shard()].0.lock();
            event.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            let event = Arc::new(event);
            ring.unreported += weight(&event);
            ring.events.push_back(Arc::clone(&event));
            while ring.events.len() > self.retain {
                if let Some(old) = ring.events.pop_front() {
                    ring.unreported -= weight(&old);
                }
            }
            // The shared total is written once in a while, not on every event.
            let reported = ring.unreported.abs() >= self.report_every();
            if reported {
                self.bytes.fetch_add(ring.unreported, Ordering::Relaxed);
                ring.unreported = 0;
            }
            (event, reported)
        };
        // Only large events get here (10,000 calls make some 10 MB): the oldest of all go.
        while reported && self.over_bytes() && self.drop_oldest(event.seq) {}
        event
    }

    fn report_every(&self) -> isize {
        isize::try_from(self.max_bytes / (4 * SHARDS)).unwrap_or(isize::MAX).clamp(1, 64 * 1024)
    }

    fn over_bytes(&self) -> bool {
        usize::try_from(self.bytes.load(Ordering::Relaxed)).is_ok_and(|b| b > self.max_bytes)
    }

    /// Drops the oldest event of all the rings, unless it is `newest`; whether one went.
    fn drop_oldest(&self, newest: u64) -> bool {
        let fronts = self.shards.iter().enumerate().filter_map(|(i, s)| s.0.lock().events.front().map(|e| (e.seq, i)));
        let Some((seq, i)) = fronts.min() else { return false };
        if seq == newest {
            return false;
        }
        let mut ring = self.shards[i].0.lock();
        match ring.events.front() {
            Some(front) if front.seq == seq => {
                if let Some(old) = ring.events.pop_front() {
                    self.bytes.fetch_sub(weight(&old), Ordering::Relaxed);
                }
                true
            }
            // Another thread dropped it meanwhile: look again.
            _ => true,
        }
    }

    /// Keeps `event` in the ring and writes it to the files.
    pub fn push(&self, event: Event) {
        let event = self.keep(event);
        let (log, durable) = (self.log.get(), self.durable.get());
        if log.is_none() && durable.is_none() {
            return;
        }
        let record = event.record();
        if let Some(file) = log
            && let Err(e) = append_line(&mut file.lock(), &record)
        {
            tracing::warn!(error = %e, "cannot write to the audit log");
        }
        if let Some(durable) = durable {
            let mut d = durable.lock();
            if let Err(e) = append_line(&mut d.file, &record) {
                tracing::warn!(error = %e, "cannot write the audit trail to the data directory");
            }
            d.lines += 1;
            if d.lines >= self.retain
                && let Err(e) = d.rotate()
            {
                tracing::warn!(error = %e, "cannot start a new audit trail file");
            }
        }
    }

    /// The events readers see, newest first: the newest `retain` of all the rings, from before
    /// sequence `before`.
    fn visible(&self, before: Option<u64>) -> Vec<Arc<Event>> {
        let mut all: Vec<Arc<Event>> = Vec::new();
        for shard in &self.shards {
            all.extend(shard.0.lock().events.iter().cloned());
        }
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.seq));
        all.truncate(self.retain);
        if let Some(before) = before {
            all.retain(|e| e.seq < before);
        }
        all
    }

    /// The events kept, oldest first.
    #[must_use]
    pub fn events(&self) -> Vec<Arc<Event>> {
        let mut events = self.visible(None);
        events.reverse();
        events
    }

    /// The events kept, newest first, that `keep` accepts, from before sequence `before`.
    pub fn newest_first(
        &self,
        before: Option<u64>,
        mut keep: impl FnMut(&Event) -> bool,
        limit: usize,
    ) -> Vec<Arc<Event>> {
        self.visible(before).into_iter().filter(|e| keep(e)).take(limit).collect()
    }

    /// Forgets every event kept (the `--audit-log` file keeps what it has).
    pub fn clear(&self) {
        drop(self.take_all());
        if let Some(durable) = self.durable.get() {
            let mut d = durable.lock();
            let cleared = match std::fs::remove_file(&d.older) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => d.file.set_len(0),
            };
            match cleared {
                Ok(()) => d.lines = 0,
                Err(e) => tracing::warn!(error = %e, "cannot clear the audit trail files"),
            }
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().events.len()).sum::<usize>().min(self.retain)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Draft, Identity, Named, Source};
    use crate::clock::Timestamp;

    fn event(name: &str, size: usize) -> Event {
        let agent = "a".repeat(size);
        Draft {
            source: Source::SecretsManager,
            name: name.to_owned().into(),
            service_event: true,
            identity: Identity::Service { account: "111122223333", by: "secretsmanager.amazonaws.com" },
            region: "us-east-1",
            source_ip: "127.0.0.1",
            user_agent: Some(&agent),
            error: None,
            request_parameters: None,
            response_elements: None,
            additional: None,
            request_id: "r",
            read_only: false,
            resources: Named::Nothing,
        }
        .into_event(Timestamp::from_secs(0))
    }

    fn names(trail: &Trail) -> Vec<String> {
        trail.events().iter().map(|e| e.name.to_string()).collect()
    }

    #[test]
    fn events_of_many_threads_read_back_in_order_and_only_the_newest() {
        let trail = Trail::new(50);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let trail = &trail;
                scope.spawn(move || {
                    for i in 0..100 {
                        trail.push(event(&format!("{t}-{i}"), 8));
                    }
                });
            }
        });
        let events = trail.events();
        assert_eq!(events.len(), 50);
        assert_eq!(trail.len(), 50);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (350..400).collect::<Vec<_>>(), "the newest 50 of 400, oldest first");
        let newest: Vec<u64> = trail.newest_first(Some(360), |_| true, 3).iter().map(|e| e.seq).collect();
        assert_eq!(newest, [359, 358, 357]);
        let before_kept = trail.newest_first(Some(340), |_| true, 3);
        assert!(before_kept.is_empty(), "what the trail no longer shows stays hidden");
        trail.clear();
        assert!(trail.is_empty());
        assert_eq!(trail.bytes.load(Ordering::Relaxed), 0);
    }

    fn lines_of(path: &Path) -> usize {
        std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
    }

    #[test]
    fn the_data_directory_files_rotate_and_load_back_the_newest() {
        let dir = std::env::temp_dir().join(format!("smemu-trail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (current, older) = (dir.join(TRAIL_FILE), dir.join(OLDER_TRAIL_FILE));
        let trail = Trail::new(3);
        trail.open_dir(&dir).unwrap();
        for i in 0..7 {
            trail.push(event(&format!("e{i}"), 8));
        }
        // e0..e2 moved to the older file and were replaced by e3..e5; e6 is in the current one.
        assert_eq!((lines_of(&older), lines_of(&current)), (3, 1));
        let again = Trail::new(3);
        assert_eq!(again.open_dir(&dir).unwrap(), 3);
        assert_eq!(names(&again), ["e4", "e5", "e6"]);
        again.push(event("e7", 8));
        again.push(event("e8", 8));
        assert_eq!((lines_of(&older), lines_of(&current)), (3, 0), "the count of the current file carried over");

        // A line cut off by a crash is skipped, and the next record starts a line of its own.
        std::fs::write(&current, "{\"eventVersion\":\"1.").unwrap();
        let torn = Trail::new(3);
        assert_eq!(torn.open_dir(&dir).unwrap(), 3);
        torn.push(event("after", 8));
        let reloaded = Trail::new(3);
        reloaded.open_dir(&dir).unwrap();
        assert_eq!(names(&reloaded), ["e7", "e8", "after"]);

        reloaded.clear();
        assert!(!older.exists());
        assert_eq!(lines_of(&current), 0);
        reloaded.push(event("fresh", 8));
        let cleared = Trail::new(3);
        cleared.open_dir(&dir).unwrap();
        assert_eq!(names(&cleared), ["fresh"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_events_of_any_thread() {
        let mut trail = Trail::new(1000);
        let weight = event("x", 1000).weight();
        trail.max_bytes = weight * 5;
        trail.push(event("first", 1000));
        std::thread::scope(|scope| {
            scope.spawn(|| trail.push(event("second", 1000)));
        });
        for i in 0..4 {
            trail.push(event(&format!("later-{i}"), 1000));
        }
        assert_eq!(names(&trail), ["second", "later-0", "later-1", "later-2", "later-3"]);
        assert!(!trail.over_bytes());
        std::thread::scope(|scope| {
            scope.spawn(|| trail.push(event("other-thread", 1000)));
        });
        assert_eq!(names(&trail), ["later-0", "later-1", "later-2", "later-3", "other-thread"]);
    }
}
