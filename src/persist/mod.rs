//! Durable state for `--data-dir`: an append-only journal with group commit, compacted into
//! snapshots.
//!
//! The engine owns the meaning of the bytes; this module only keeps them safe and in order.
//!
//! # How it is used
//! - Under the lock that orders a mutation, the engine [`Journal::append`]s an after-image record
//!   (opaque bytes) and gets back the record's *ticket*. Appending only copies the bytes into
//!   memory, so it is cheap enough to do under a lock.
//! - Before answering, the request awaits [`Journal::wait_durable`] for that ticket. One
//!   background thread writes whatever has piled up with a single `write` and a single
//!   `fdatasync`, then wakes every waiter it covered: concurrent requests share one sync (group
//!   commit) without any timer, so a lone request waits for exactly one sync.
//! - Tickets and sequence numbers are the same until a write fails: records on disk carry
//!   consecutive sequence numbers, so the records a failure discards give their numbers back
//!   ([`Journal::roll_back`]), while tickets keep growing, so a waiter from before the failure can
//!   never mistake a later record for its own.
//! - When [`Journal::should_compact`] says so, the engine reads [`Journal::last_seq`], *then*
//!   exports its whole state, and hands both to [`Journal::write_snapshot`] once that state is
//!   durable. The snapshot covers at least every record up to that number, perhaps more; records
//!   are idempotent upserts, so replaying a record the snapshot already reflects is harmless.
//! - At start, [`Journal::open`] returns the newest intact snapshot and every record after the
//!   seq it covers, in order.
//!
//! # Files in the data directory
//! - `LOCK`: held with an exclusive advisory lock (`flock`) while a process uses the directory;
//!   it holds that process's id. The lock dies with the process, so `kill -9` leaves nothing to
//!   clean up.
//! - `journal-<first seq>.log`: segments of the journal (byte layout in `format.rs`). Records carry
//!   consecutive sequence numbers; each segment is named after its first. A snapshot starts a new
//!   segment, and segments whose records it all covers are deleted.
//! - `snapshot-<covered seq>.snap`: written to `….snap.tmp`, fsynced, renamed, and the directory
//!   fsynced; only then are older snapshots and covered segments deleted. A leftover `.tmp` is a
//!   compaction that never finished: it is removed at start (the journal still has its records).
//! - `PROBE`: written, synced and deleted again while the journal is degraded, to learn whether
//!   the disk takes data again. Nothing reads it; a leftover one is harmless.
//!
//! # Damage
//! Each record has a length, a CRC-32 and its seq. At start every record is checked:
//! - A bad record with no intact record anywhere after it is a *torn tail*: the end of a write
//!   that a crash or `kill -9` interrupted, never acknowledged. It is cut off (the file is
//!   truncated), a warning names the file, the offset and what was wrong, and every record before
//!   it is kept.
//! - A bad record *followed by intact records*, a missing stretch of sequence numbers, or a file
//!   that is not a smemu journal is real damage: [`Journal::open`] fails with
//!   [`PersistError::Corrupt`] or [`PersistError::Invalid`], naming the file and byte offset, and
//!   changes nothing on disk. With [`JournalOptions::repair`], smemu instead keeps the longest
//!   intact prefix (the snapshot and every record before the first damage), moves the rest aside
//!   into `*.damaged` files (never deleted), and warns. The repaired state is exactly the state
//!   at one moment in the past, never a mix.
//! - A damaged snapshot is skipped in favour of an older one when the journal still holds every
//!   record it covered; otherwise that is an error too.
//!
//! Segments only ever grow by appending (no preallocated, zero-filled space written in place).
//! That costs a metadata update per sync, but it means a crash can only leave a *prefix* of the
//! last write on disk, never a later part of it without an earlier one, so "damage followed by
//! intact records" really is damage and never the remains of an unacknowledged batch.
//!
//! # Failure while running
//! A failed write or sync (a full disk, say) *fails* the journal: every record not yet synced is
//! lost, and so is every record appended until the owner calls [`Journal::roll_back`]. Their
//! waiters get the error from [`Journal::wait_durable`]. After a failed `fsync` nothing the kernel
//! still holds for the file can be trusted, so the rollback cuts the active segment back to the
//! length it had after its last good sync (a later start must never find, and replay, records
//! that were never acknowledged), gives the lost sequence numbers back, and reads the durable
//! state back from the files so the owner can serve exactly that. The journal is then
//! *degraded*: [`Journal::check_writable`] first proves with a small synced write (the `PROBE`
//! file) that the disk takes data again, and the first batch that reaches the disk makes the
//! journal healthy again. No restart is needed.
//!
//! [`Faults`] makes writes fail on demand, as a full disk would, so tests can take these paths.

mod format;
mod recover;
#[cfg(test)]
mod tests;

use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use tokio::sync::watch;

pub use format::MAX_RECORD_LEN;

/// The flag named in messages that suggest a repair; the CLI must offer it.
pub const REPAIR_FLAG: &str = "--repair-journal";

/// Journal bytes since the last snapshot before [`Journal::should_compact`] says yes.
pub const DEFAULT_COMPACT_THRESHOLD: u64 = 16 * 1024 * 1024;

/// An empty buffer keeps at most this much capacity between batches.
const SPARE_CAPACITY: usize = 4 * 1024 * 1024;

/// What [`Journal::open`] found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The newest intact snapshot, as handed to [`Journal::write_snapshot`].
    pub snapshot: Option<Vec<u8>>,
    /// Every record after the one the snapshot covers, oldest first.
    pub records: Vec<Vec<u8>>,
    /// Things repaired or skipped on the way (a torn tail, an unfinished snapshot), one line
    /// each, naming the file. Worth logging at warn level.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct JournalOptions {
    /// Keep the intact prefix of a damaged journal instead of refusing to start.
    pub repair: bool,
    /// See [`Journal::should_compact`].
    pub compact_threshold: u64,
    /// Failures to inject into the journal's writes; `None` outside tests.
    pub faults: Option<Arc<Faults>>,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self { repair: false, compact_threshold: DEFAULT_COMPACT_THRESHOLD, faults: None }
    }
}

/// Failures injected into the journal's file writes, as a full disk would cause them: the seam
/// through which tests reach the failure paths without filling a real disk. smemu itself never
/// sets one.
#[derive(Debug, Default)]
pub struct Faults {
    disk_full: AtomicBool,
}

impl Faults {
    /// While set, every journal, snapshot and probe write fails with "no space left", after a
    /// journal write has put half its bytes in the file (as a write that runs out of space does).
    pub fn set_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::SeqCst);
    }

    fn check(faults: Option<&Self>) -> io::Result<()> {
        match faults {
            Some(f) if f.disk_full.load(Ordering::SeqCst) => Err(io::Error::from(io::ErrorKind::StorageFull)),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum PersistError {
    /// A file operation failed; `action` says what smemu was doing ("cannot write to", …).
    Io { path: PathBuf, action: &'static str, source: Arc<io::Error> },
    /// Another process holds the data directory's lock.
    Locked { dir: PathBuf, pid: Option<u32> },
    /// Damage that is not a torn tail: intact records follow it.
    Corrupt { path: PathBuf, offset: u64, detail: String },
    /// A file that is not a usable part of the journal, or records missing between files.
    Invalid { path: PathBuf, detail: String },
    /// The caller broke the contract (for example a snapshot covering records never appended).
    Misuse(String),
}

impl PersistError {
    fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io { path: path.to_owned(), action, source: Arc::new(source) }
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, action, source } => write!(f, "{action} {}: {source}", path.display()),
            Self::Locked { dir, pid } => {
                write!(f, "data directory {} is in use by another smemu process", dir.display())?;
                if let Some(pid) = pid {
                    write!(f, " (pid {pid})")?;
                }
                write!(f, "; two processes cannot share one data directory")
            }
            Self::Corrupt { path, offset, detail } => {
                write!(f, "journal file {} is damaged at byte offset {offset}: {detail}", path.display())
            }
            Self::Invalid { path, detail } => write!(f, "cannot use {}: {detail}", path.display()),
            Self::Misuse(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// The durable journal of one data directory. `Send + Sync`; share it through an `Arc`.
pub struct Journal {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<()>>,
}

struct Inner {
    dir: PathBuf,
    /// Records appended and not yet taken by a commit.
    pending: Mutex<Pending>,
    /// Wakes the writer thread when `pending` gains bytes or shutdown is asked for.
    wake: Condvar,
    /// The files. Held for a whole commit, so commits (writer thread or
    /// [`Journal::flush_blocking`]) and segment rotation never interleave.
    io: Mutex<Io>,
    durable: watch::Sender<Durable>,
    /// Mirrors of `durable` for the lock-free check in [`Journal::is_durable`].
    durable_ticket: AtomicU64,
    last_lost_ticket: AtomicU64,
    last_seq: AtomicU64,
    last_ticket: AtomicU64,
    /// One of the `HEALTHY`… constants.
    status: AtomicU8,
    /// Held while a probe write runs, so concurrent changes wait for one probe instead of each
    /// writing their own.
    probing: Mutex<()>,
    faults: Option<Arc<Faults>>,
    bytes_since_snapshot: AtomicU64,
    snapshot_len: AtomicU64,
    syncs: AtomicU64,
    compact_threshold: u64,
    /// The seq the newest snapshot covers; serialises snapshot writers.
    snapshot_seq: Mutex<u64>,
    /// Holds the directory's lock for as long as the journal lives.
    _lock: File,
}

struct Pending {
    buf: Vec<u8>,
    /// The seq of the last record in `buf` (or written before it).
    last_seq: u64,
    /// The last ticket handed out.
    last_ticket: u64,
    /// The ticket of the last record in `buf` (or written before it): what a commit of `buf`
    /// makes durable. Behind `last_ticket` only while the journal is failed.
    buffered_ticket: u64,
    shutdown: bool,
    /// Set once the journal failed: appends then stop buffering, until the rollback.
    failed: bool,
}

/// The journal's health, in [`Inner::status`].
const HEALTHY: u8 = 0;
/// A write failed; nothing is written until [`Journal::roll_back`].
const FAILED: u8 = 1;
/// Rolled back; a probe must show that the disk takes data before changes are accepted again.
const DEGRADED: u8 = 2;
/// Rolled back, and a probe succeeded; the next successful commit makes the journal healthy.
const PROBED: u8 = 3;

/// How much the probe writes: about what a busy batch of records takes.
const PROBE_LEN: usize = 64 * 1024;

struct Io {
    file: File,
    path: PathBuf,
    first_seq: u64,
    /// The last seq written and synced.
    written_seq: u64,
    /// The active segment's length after its last successful sync: where a rollback cuts it.
    len: u64,
    /// Earlier segments still on disk, oldest first.
    closed: Vec<ClosedSegment>,
    spare: Vec<u8>,
    failed: Option<PersistError>,
    /// Set by [`Journal::stop`]: no rollback brings the journal back.
    stopped: bool,
}

struct ClosedSegment {
    path: PathBuf,
    last_seq: u64,
}

#[derive(Clone, Debug, Default)]
struct Durable {
    /// Every ticket up to this one is settled: durable, or lost in one of `lost`.
    ticket: u64,
    /// Why the journal is failed right now.
    failed: Option<PersistError>,
    /// Tickets discarded by rollbacks, as `(after, up to]` ranges in increasing order.
    lost: Vec<(u64, u64)>,
    /// The failure behind the latest lost range.
    lost_because: Option<PersistError>,
}

impl Durable {
    /// What a waiter for `ticket` learns once this state settles it.
    fn outcome(&self, ticket: u64) -> Result<(), PersistError> {
        if ticket > self.ticket {
            return Err(self
                .failed
                .clone()
                .unwrap_or_else(|| PersistError::Misuse(format!("ticket {ticket} is unsettled"))));
        }
        let range = self.lost.partition_point(|&(_, upto)| upto < ticket);
        match self.lost.get(range) {
            Some(&(after, _)) if after < ticket => Err(self
                .lost_because
                .clone()
                .unwrap_or_else(|| PersistError::Misuse("a record was lost to a failed write".to_owned()))),
            _ => Ok(()),
        }
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` with default options.
    pub fn open(dir: &Path) -> Result<(Journal, Recovered), PersistError> {
        Self::open_with(dir, &JournalOptions::default())
    }

    /// Opens (creating if needed) the journal in `dir`: takes the directory's lock, recovers
    /// the newest snapshot and the records after it, cuts off a torn tail, and starts the writer.
    pub fn open_with(dir: &Path, options: &JournalOptions) -> Result<(Journal, Recovered), PersistError> {
        fs::create_dir_all(dir).map_err(|e| PersistError::io(dir, "cannot create data directory", e))?;
        let lock = lock_dir(dir)?;
        let found = recover::recover(dir, options.repair)?;
        let last_seq = found.snapshot_seq.max(found.next_seq - 1);

        let mut closed: Vec<ClosedSegment> = Vec::new();
        let mut segments = found.segments;
        let continue_last = found.snapshot_seq < found.next_seq;
        let faults = options.faults.clone();
        let active = match segments.pop() {
            Some(last) if continue_last => {
                let file = OpenOptions::new()
                    .append(true)
                    .open(&last.path)
                    .map_err(|e| PersistError::io(&last.path, "cannot open journal file", e))?;
                let len =
                    file.metadata().map_err(|e| PersistError::io(&last.path, "cannot read the size of", e))?.len();
                (file, last.path, last.first_seq, len)
            }
            other => {
                segments.extend(other);
                let (file, path) = create_segment(dir, last_seq + 1, faults.as_deref())?;
                (file, path, last_seq + 1, format::SEGMENT_HEADER_LEN as u64)
            }
        };
        for segment in segments {
            // Whatever an interrupted compaction left behind.
            if segment.last_seq <= found.snapshot_seq && fs::remove_file(&segment.path).is_ok() {
                continue;
            }
            closed.push(ClosedSegment { path: segment.path, last_seq: segment.last_seq });
        }
        sync_dir(dir)?;

        let (file, path, first_seq, len) = active;
        let io = Io {
            file,
            path,
            first_seq,
            written_seq: last_seq,
            len,
            closed,
            spare: Vec::new(),
            failed: None,
            stopped: false,
        };
        let pending = Pending {
            buf: Vec::new(),
            last_seq,
            last_ticket: last_seq,
            buffered_ticket: last_seq,
            shutdown: false,
            failed: false,
        };
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            pending: Mutex::new(pending),
            wake: Condvar::new(),
            io: Mutex::new(io),
            durable: watch::Sender::new(Durable { ticket: last_seq, ..Durable::default() }),
            durable_ticket: AtomicU64::new(last_seq),
            last_lost_ticket: AtomicU64::new(0),
            last_seq: AtomicU64::new(last_seq),
            last_ticket: AtomicU64::new(last_seq),
            status: AtomicU8::new(HEALTHY),
            probing: Mutex::new(()),
            faults,
            bytes_since_snapshot: AtomicU64::new(found.journal_bytes),
            snapshot_len: AtomicU64::new(found.snapshot.as_ref().map_or(0, |s| s.len() as u64)),
            syncs: AtomicU64::new(0),
            compact_threshold: options.compact_threshold,
            snapshot_seq: Mutex::new(found.snapshot_seq),
            _lock: lock,
        });
        let writer = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("smemu-journal".to_owned())
                .spawn(move || inner.run_writer())
                .map_err(|e| PersistError::io(dir, "cannot start the journal writer for", e))?
        };
        let recovered = Recovered { snapshot: found.snapshot, records: found.records, warnings: found.warnings };
        Ok((Journal { inner, writer: Some(writer) }, recovered))
    }

    /// Queues one record and returns its ticket. Only copies the bytes into memory; call it under
    /// the lock that orders the mutation it describes, then [`Self::wait_durable`] outside it.
    /// A record longer than [`MAX_RECORD_LEN`] fails the journal, as a failed write would.
    pub fn append(&self, record: &[u8]) -> u64 {
        let fits = record.len() <= MAX_RECORD_LEN;
        let crc = format::payload_crc(if fits { record } else { &[] });
        let (ticket, refused) = {
            let mut pending = self.inner.pending.lock();
            pending.last_ticket += 1;
            let ticket = pending.last_ticket;
            if !pending.failed && fits {
                pending.last_seq += 1;
                let seq = pending.last_seq;
                format::encode_record(&mut pending.buf, seq, record, crc);
                pending.buffered_ticket = ticket;
                self.inner.last_seq.store(seq, Ordering::Release);
            }
            // Stop buffering at once: a record after this one must not become durable without it.
            pending.failed |= !fits;
            self.inner.last_ticket.store(ticket, Ordering::Release);
            (ticket, !fits)
        };
        if refused {
            let error =
                PersistError::Misuse(format!("a journal record of {} bytes is too long to be written", record.len()));
            self.inner.fail(&mut self.inner.io.lock(), error);
            return ticket;
        }
        let size = (format::RECORD_HEADER_LEN + record.len()) as u64;
        self.inner.bytes_since_snapshot.fetch_add(size, Ordering::Relaxed);
        self.inner.wake.notify_one();
        ticket
    }

    /// The seq of the newest appended record (durable or not); 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.inner.last_seq.load(Ordering::Acquire)
    }

    /// The newest ticket handed out.
    pub fn last_ticket(&self) -> u64 {
        self.inner.last_ticket.load(Ordering::Acquire)
    }

    /// Whether the record with `ticket` is known to be durable, without waiting or locking: the
    /// fast path before [`Self::wait_durable`]. `false` means "not known yet", not "lost".
    pub fn is_durable(&self, ticket: u64) -> bool {
        // A rollback stores the lost range before it moves the durable ticket past it, so a
        // ticket the durable ticket covers is either committed or seen here as possibly lost.
        ticket <= self.inner.durable_ticket.load(Ordering::Acquire)
            && ticket > self.inner.last_lost_ticket.load(Ordering::Acquire)
    }

    /// Resolves once the record with `ticket` is on disk and synced, or with the error that
    /// lost it (a failed write, before or after it was appended).
    pub async fn wait_durable(&self, ticket: u64) -> Result<(), PersistError> {
        let mut rx = self.inner.durable.subscribe();
        match rx.wait_for(|d| d.ticket >= ticket || d.failed.is_some()).await {
            Ok(state) => state.outcome(ticket),
            Err(_) => unreachable!("the sender lives as long as the journal"),
        }
    }

    /// Whether the journal is failed, or rolled back and not yet shown to write again (by a
    /// probe or a successful commit).
    pub fn is_degraded(&self) -> bool {
        matches!(self.inner.status.load(Ordering::Acquire), FAILED | DEGRADED)
    }

    /// Whether a change may be made now. At once while healthy; while degraded, only after a
    /// probe write shows the disk takes data again; never while failed (before the rollback).
    /// A change refused here was never made, so it needs no rollback.
    pub fn check_writable(&self) -> Result<(), PersistError> {
        match self.inner.status.load(Ordering::Acquire) {
            HEALTHY | PROBED => Ok(()),
            FAILED => Err(self.inner.failure()),
            _ => self.inner.probe(),
        }
    }

    /// Recovers from a failed write. Cuts the active segment back to its length after the last
    /// good sync, forgets every record not durable (their seqs are reused, their tickets never),
    /// reads back the durable state (the newest snapshot and the records after it, as
    /// [`Self::open`] would), and leaves the journal degraded. Returns `None` when the journal
    /// has not failed.
    ///
    /// The caller must keep every append out until this returns, and then serve exactly the
    /// state returned: that is what a restart would find.
    ///
    /// # Errors
    /// When the file cannot be cut back or read; the journal stays failed and may be rolled
    /// back again later.
    pub fn roll_back(&self) -> Result<Option<Recovered>, PersistError> {
        let _snapshots = self.inner.snapshot_seq.lock();
        let mut io = self.inner.io.lock();
        match &io.failed {
            None => return Ok(None),
            Some(error) if io.stopped => return Err(error.clone()),
            Some(_) => {}
        }
        let keep = io.len;
        io.file
            .set_len(keep)
            .and_then(|()| io.file.sync_all())
            .map_err(|e| PersistError::io(&io.path, "cannot cut back journal file", e))?;
        let found = recover::recover(&self.inner.dir, false)?;
        let on_disk = found.snapshot_seq.max(found.next_seq - 1);
        if on_disk != io.written_seq {
            return Err(PersistError::Invalid {
                path: io.path.clone(),
                detail: format!(
                    "after a failed write the journal on disk ends at record {on_disk}, but record {} was the \
                     last one synced",
                    io.written_seq
                ),
            });
        }
        let lost_upto = {
            let mut pending = self.inner.pending.lock();
            pending.buf.clear();
            pending.failed = false;
            pending.last_seq = io.written_seq;
            pending.buffered_ticket = pending.last_ticket;
            self.inner.last_seq.store(io.written_seq, Ordering::Release);
            pending.last_ticket
        };
        let because = io.failed.take();
        self.inner.last_lost_ticket.store(lost_upto, Ordering::Release);
        self.inner.durable_ticket.store(lost_upto, Ordering::Release);
        self.inner.durable.send_modify(|d| {
            if lost_upto > d.ticket {
                d.lost.push((d.ticket, lost_upto));
                d.ticket = lost_upto;
            }
            d.failed = None;
            d.lost_because = because;
        });
        self.inner.status.store(DEGRADED, Ordering::Release);
        Ok(Some(Recovered { snapshot: found.snapshot, records: found.records, warnings: found.warnings }))
    }

    /// Stops the journal for good (until a restart): for a state the owner cannot bring back in
    /// line with the disk.
    pub fn stop(&self, reason: &str) {
        let mut io = self.inner.io.lock();
        io.failed = None;
        self.inner.fail(&mut io, PersistError::Misuse(format!("journal stopped: {reason}")));
        io.stopped = true;
    }

    /// Whether the journal has grown enough since the last snapshot that writing a new one is
    /// worth it: at least the threshold ([`JournalOptions::compact_threshold`]) and at least
    /// the size of the last snapshot (so compaction never writes more than twice what the
    /// journal takes in). Stays true until a snapshot is written: the caller makes sure only
    /// one compaction runs at a time.
    pub fn should_compact(&self) -> bool {
        let bytes = self.inner.bytes_since_snapshot.load(Ordering::Relaxed);
        bytes >= self.inner.compact_threshold && bytes >= self.inner.snapshot_len.load(Ordering::Relaxed)
    }

    /// Durably stores `snapshot`, which covers at least every record up to `covered_seq` (read
    /// with [`Self::last_seq`] *before* exporting the state), then starts a new journal segment
    /// and deletes older snapshots and the segments it covers. Blocking: run it off the async
    /// workers (`spawn_blocking`). A snapshot older than the newest one on disk is ignored.
    pub fn write_snapshot(&self, covered_seq: u64, snapshot: &[u8]) -> Result<(), PersistError> {
        let mut newest = self.inner.snapshot_seq.lock();
        let last = self.last_seq();
        if covered_seq > last {
            return Err(PersistError::Misuse(format!(
                "a snapshot cannot cover record {covered_seq}: only {last} records were appended"
            )));
        }
        if covered_seq < *newest {
            return Ok(());
        }
        if let Some(error) = &self.inner.io.lock().failed {
            return Err(error.clone());
        }
        let dir = &self.inner.dir;
        let temp = dir.join(format::snapshot_temp_name(covered_seq));
        let path = dir.join(format::snapshot_name(covered_seq));
        let header = format::snapshot_header(covered_seq, snapshot);
        if let Err(error) = write_file_synced(&temp, &[&header, snapshot], self.inner.faults.as_deref()) {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        fs::rename(&temp, &path).map_err(|e| PersistError::io(&path, "cannot rename a new snapshot to", e))?;
        sync_dir(dir)?;
        *newest = covered_seq;
        self.inner.bytes_since_snapshot.store(0, Ordering::Relaxed);
        self.inner.snapshot_len.store(snapshot.len() as u64, Ordering::Relaxed);

        // From here on the snapshot is durable; what follows only frees space.
        let mut io = self.inner.io.lock();
        let io = &mut *io;
        if io.written_seq >= io.first_seq {
            let first = io.written_seq + 1;
            let (file, new_path) = create_segment(dir, first, self.inner.faults.as_deref())?;
            let old_path = std::mem::replace(&mut io.path, new_path);
            io.file = file;
            io.first_seq = first;
            io.len = format::SEGMENT_HEADER_LEN as u64;
            io.closed.push(ClosedSegment { path: old_path, last_seq: first - 1 });
        }
        // A segment that fails to go now is retried at the next snapshot.
        io.closed.retain(|segment| segment.last_seq > covered_seq || fs::remove_file(&segment.path).is_err());
        drop_other_snapshots(dir, covered_seq);
        sync_dir(dir)
    }

    /// Writes and syncs everything appended so far, on the calling thread (for shutdown).
    pub fn flush_blocking(&self) -> Result<(), PersistError> {
        self.inner.commit()
    }

    /// How many times the journal has been synced since it was opened.
    pub fn sync_count(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

impl Drop for Journal {
    /// Writes what is still queued, then stops the writer thread.
    fn drop(&mut self) {
        self.inner.pending.lock().shutdown = true;
        self.inner.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal").field("dir", &self.inner.dir).field("last_seq", &self.last_seq()).finish()
    }
}

impl Inner {
    fn run_writer(&self) {
        loop {
            {
                let mut pending = self.pending.lock();
                while pending.buf.is_empty() && !pending.shutdown {
                    self.wake.wait(&mut pending);
                }
                if pending.buf.is_empty() {
                    return;
                }
            }
            // A failure is published to the waiters inside `commit`.
            let _ = self.commit();
        }
    }

    /// Takes everything pending, writes it with one write and one sync, and publishes the new
    /// durable ticket. Concurrent appends pile up meanwhile and form the next batch.
    fn commit(&self) -> Result<(), PersistError> {
        let mut io = self.io.lock();
        let io = &mut *io;
        let (upto_seq, upto_ticket) = {
            let mut pending = self.pending.lock();
            std::mem::swap(&mut pending.buf, &mut io.spare);
            (pending.last_seq, pending.buffered_ticket)
        };
        if let Some(error) = &io.failed {
            io.spare.clear();
            return Err(error.clone());
        }
        if io.spare.is_empty() {
            return Ok(());
        }
        let result = write_batch(&mut io.file, &io.spare, self.faults.as_deref());
        let written = io.spare.len() as u64;
        io.spare.clear();
        io.spare.shrink_to(SPARE_CAPACITY);
        match result {
            Ok(()) => {
                self.syncs.fetch_add(1, Ordering::Relaxed);
                io.written_seq = upto_seq;
                io.len += written;
                // Healthy before anyone is woken: a waiter that sees its record durable must not
                // then see the journal still degraded.
                self.status.store(HEALTHY, Ordering::Release);
                self.durable_ticket.fetch_max(upto_ticket, Ordering::Release);
                self.durable.send_modify(|d| d.ticket = d.ticket.max(upto_ticket));
                Ok(())
            }
            Err(e) => {
                let error = PersistError::io(&io.path, "journal stopped: cannot write to", e);
                self.fail(io, error.clone());
                Err(error)
            }
        }
    }

    /// Fails the journal: what is pending is dropped, appends stop buffering, waiters of every
    /// record not yet durable get `error`.
    fn fail(&self, io: &mut Io, error: PersistError) {
        if io.failed.is_some() {
            return;
        }
        io.failed = Some(error.clone());
        {
            let mut pending = self.pending.lock();
            pending.failed = true;
            pending.buf = Vec::new();
        }
        self.status.store(FAILED, Ordering::Release);
        self.durable.send_modify(|d| d.failed = Some(error));
    }

    fn failure(&self) -> PersistError {
        let failed = self.durable.borrow().failed.clone();
        failed.unwrap_or_else(|| PersistError::Misuse("the journal is being rolled back".to_owned()))
    }

    /// One synced write beside the journal, to learn whether the disk takes data again.
    fn probe(&self) -> Result<(), PersistError> {
        static ZEROS: [u8; PROBE_LEN] = [0; PROBE_LEN];
        let _one = self.probing.lock();
        match self.status.load(Ordering::Acquire) {
            HEALTHY | PROBED => return Ok(()),
            FAILED => return Err(self.failure()),
            _ => {}
        }
        let path = self.dir.join(format::PROBE_FILE);
        let written = write_file_synced(&path, &[&ZEROS], self.faults.as_deref());
        let _ = fs::remove_file(&path);
        written?;
        let _ = self.status.compare_exchange(DEGRADED, PROBED, Ordering::AcqRel, Ordering::Acquire);
        Ok(())
    }
}

/// Writes one batch to the end of a segment and syncs it.
fn write_batch(file: &mut File, batch: &[u8], faults: Option<&Faults>) -> io::Result<()> {
    if let Err(full) = Faults::check(faults) {
        // A write that runs out of space still puts what fits into the file.
        let _ = file.write_all(&batch[..batch.len() / 2]);
        return Err(full);
    }
    file.write_all(batch)?;
    file.sync_data()
}

fn lock_dir(dir: &Path) -> Result<File, PersistError> {
    let path = dir.join(format::LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| PersistError::io(&path, "cannot open lock file", e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
            return Err(PersistError::Locked { dir: dir.to_owned(), pid });
        }
        Err(fs::TryLockError::Error(e)) => return Err(PersistError::io(&path, "cannot lock", e)),
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.write_all(pid.as_bytes()))
        .map_err(|e| PersistError::io(&path, "cannot write lock file", e))?;
    Ok(file)
}

/// Creates an empty segment whose first record will be `first_seq`, durably.
fn create_segment(dir: &Path, first_seq: u64, faults: Option<&Faults>) -> Result<(File, PathBuf), PersistError> {
    let path = dir.join(format::segment_name(first_seq));
    let created = OpenOptions::new().append(true).create_new(true).open(&path);
    let mut file = created.map_err(|e| PersistError::io(&path, "cannot create journal file", e))?;
    let header = format::segment_header(first_seq);
    if let Err(e) = Faults::check(faults).and_then(|()| file.write_all(&header)).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&path);
        return Err(PersistError::io(&path, "cannot write journal file", e));
    }
    sync_dir(dir)?;
    Ok((file, path))
}

fn write_file_synced(path: &Path, parts: &[&[u8]], faults: Option<&Faults>) -> Result<(), PersistError> {
    let mut file = File::create(path).map_err(|e| PersistError::io(path, "cannot create", e))?;
    Faults::check(faults).map_err(|e| PersistError::io(path, "cannot write", e))?;
    for part in parts {
        file.write_all(part).map_err(|e| PersistError::io(path, "cannot write", e))?;
    }
    file.sync_all().map_err(|e| PersistError::io(path, "cannot sync", e))
}

/// Deletes every snapshot but the one covering `keep`; failures are retried next time.
fn drop_other_snapshots(dir: &Path, keep: u64) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(format::FileKind::Snapshot(seq)) = name.to_str().map(format::classify)
            && seq != keep
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes renames, creations and deletions in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| PersistError::io(dir, "cannot sync directory", e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
