//! Where events go: a ring bounded in count and bytes, an optional JSON-lines file written as
//! events happen (`--audit-log`), and with `--data-dir` the trail file that survives restarts.

use super::record::Event;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The trail's file in a data directory.
pub const TRAIL_FILE: &str = "audit.jsonl";

/// Whatever the count, the ring never holds more than this (see [`Event::weight`]).
pub const MAX_RING_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    bytes: usize,
    next_seq: u64,
}

/// The trail file of a data directory: appended to, and rewritten from the ring once it holds
/// twice what the ring keeps, so it stays bounded too.
struct Durable {
    path: PathBuf,
    file: File,
    lines: usize,
}

pub struct Trail {
    retain: usize,
    ring: Mutex<Ring>,
    /// Set once at start, so a request takes no lock for a file that is not there.
    log: OnceLock<Mutex<File>>,
    durable: OnceLock<Mutex<Durable>>,
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
        Self { retain: retain.max(1), ring: Mutex::default(), log: OnceLock::new(), durable: OnceLock::new() }
    }

    /// Appends every later event to `path` (created if missing, never truncated).
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open_log(&self, path: &Path) -> Result<(), String> {
        let file = open_append(path).map_err(|e| format!("--audit-log {}: cannot open it: {e}", path.display()))?;
        self.log.set(Mutex::new(file)).map_err(|_| "the audit log is already open".to_owned())
    }

    /// Loads the events a data directory kept (the newest the ring holds) and keeps later ones
    /// there. Lines that are not records (a torn last line) are skipped.
    ///
    /// # Errors
    /// The trail file cannot be read or rewritten.
    pub fn open_dir(&self, dir: &Path) -> Result<usize, String> {
        let path = dir.join(TRAIL_FILE);
        let failed = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut kept = VecDeque::new();
        match File::open(&path) {
            Ok(file) => {
                for line in BufReader::new(file).lines() {
                    let line = line.map_err(failed)?;
                    if let Some(event) = Event::from_record(line) {
                        kept.push_back(event);
                        if kept.len() > self.retain {
                            kept.pop_front();
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let loaded = kept.len();
        {
            let mut ring = self.ring.lock();
            let earlier = std::mem::take(&mut ring.events);
            ring.bytes = 0;
            for event in kept.into_iter().map(Arc::new).chain(earlier) {
                Self::push_into(&mut ring, self.retain, event);
            }
        }
        let durable = self.rewrite(&path).map_err(failed)?;
        self.durable.set(Mutex::new(durable)).map_err(|_| format!("{}: the trail is already open", path.display()))?;
        Ok(loaded)
    }

    /// Writes the ring to `path` afresh (through a temporary file, so a crash leaves the old
    /// file or the new one) and opens it for appending.
    fn rewrite(&self, path: &Path) -> std::io::Result<Durable> {
        let events: Vec<Arc<Event>> = self.ring.lock().events.iter().cloned().collect();
        let fresh = path.with_extension("jsonl.new");
        {
            let _ = std::fs::remove_file(&fresh);
            let mut file = open_append(&fresh)?;
            let mut text = String::new();
            for event in &events {
                text.push_str(&event.record());
                text.push('\n');
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&fresh, path)?;
        Ok(Durable { path: path.to_owned(), file: open_append(path)?, lines: events.len() })
    }

    fn push_into(ring: &mut Ring, retain: usize, event: Arc<Event>) -> Arc<Event> {
        let mut event = event;
        if let Some(e) = Arc::get_mut(&mut event) {
            e.seq = ring.next_seq;
        }
        ring.next_seq += 1;
        ring.bytes += event.weight();
        ring.events.push_back(event.clone());
        while ring.events.len() > retain || (ring.bytes > MAX_RING_BYTES && ring.events.len() > 1) {
            if let Some(old) = ring.events.pop_front() {
                ring.bytes -= old.weight();
            }
        }
        event
    }

    /// Keeps `event` in the ring and writes it to the files.
    pub fn push(&self, event: Event) {
        let event = Self::push_into(&mut self.ring.lock(), self.retain, Arc::new(event));
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
            if d.lines >= self.retain.saturating_mul(2) {
                let path = d.path.clone();
                match self.rewrite(&path) {
                    Ok(fresh) => *d = fresh,
                    Err(e) => tracing::warn!(error = %e, "cannot compact the audit trail"),
                }
            }
        }
    }

    /// The events kept, oldest first.
    #[must_use]
    pub fn events(&self) -> Vec<Arc<Event>> {
        self.ring.lock().events.iter().cloned().collect()
    }

    /// The events kept, newest first, that `keep` accepts, from before sequence `before`.
    pub fn newest_first(
        &self,
        before: Option<u64>,
        mut keep: impl FnMut(&Event) -> bool,
        limit: usize,
    ) -> Vec<Arc<Event>> {
        let ring = self.ring.lock();
        ring.events
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.seq < b))
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Forgets every event kept (the `--audit-log` file keeps what it has).
    pub fn clear(&self) {
        {
            let mut ring = self.ring.lock();
            ring.events.clear();
            ring.bytes = 0;
        }
        if let Some(durable) = self.durable.get() {
            let mut d = durable.lock();
            let path = d.path.clone();
            match self.rewrite(&path) {
                Ok(fresh) => *d = fresh,
                Err(e) => tracing::warn!(error = %e, "cannot clear the audit trail file"),
            }
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.ring.lock().events.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
