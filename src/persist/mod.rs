//! Durable state for `--data-dir`: an append-only journal with group commit, compacted into
//! snapshots.
//!
//! The engine owns the meaning of the bytes; this module only keeps them safe and in order.
//!
//! # How it is used
//! - Under its per-store lock, after a mutation, the engine [`Journal::append`]s an after-image
//!   record (opaque bytes) and gets back the record's sequence number. Appending only copies the
//!   bytes into memory, so it is cheap enough to do under a lock.
//! - Before answering, the request awaits [`Journal::wait_durable`] for that number. One
//!   background thread writes whatever has piled up with a single `write` and a single
//!   `fdatasync`, then wakes every waiter it covered: concurrent requests share one sync (group
//!   commit) without any timer, so a lone request waits for exactly one sync.
//! - When [`Journal::should_compact`] says so, the engine reads [`Journal::last_seq`], *then*
//!   exports its whole state, and hands both to [`Journal::write_snapshot`]. The snapshot covers
//!   at least every record up to that number, perhaps more; records are idempotent upserts, so
//!   replaying a record the snapshot already reflects is harmless.
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
//! If a write or sync fails, the journal stops: that request and every later one get the error
//! from [`Journal::wait_durable`] (the engine answers InternalServiceError), because after a
//! failed `fsync` nothing the kernel still holds can be trusted. Records that were durable before
//! stay durable; restart smemu once the cause (a full disk, say) is fixed.

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
use std::sync::atomic::{AtomicU64, Ordering};
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
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self { repair: false, compact_threshold: DEFAULT_COMPACT_THRESHOLD }
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
    last_seq: AtomicU64,
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
    last_seq: u64,
    shutdown: bool,
    /// Set once a commit failed: appends then stop buffering.
    failed: bool,
}

struct Io {
    file: File,
    path: PathBuf,
    first_seq: u64,
    /// The last seq written and synced.
    written_seq: u64,
    /// Earlier segments still on disk, oldest first.
    closed: Vec<ClosedSegment>,
    spare: Vec<u8>,
    failed: Option<PersistError>,
}

struct ClosedSegment {
    path: PathBuf,
    last_seq: u64,
}

#[derive(Clone, Debug, Default)]
struct Durable {
    seq: u64,
    failed: Option<PersistError>,
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
        let active = match segments.pop() {
            Some(last) if continue_last => {
                let file = OpenOptions::new()
                    .append(true)
                    .open(&last.path)
                    .map_err(|e| PersistError::io(&last.path, "cannot open journal file", e))?;
                (file, last.path, last.first_seq)
            }
            other => {
                segments.extend(other);
                let (file, path) = create_segment(dir, last_seq + 1)?;
                (file, path, last_seq + 1)
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

        let (file, path, first_seq) = active;
        let io = Io { file, path, first_seq, written_seq: last_seq, closed, spare: Vec::new(), failed: None };
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            pending: Mutex::new(Pending { buf: Vec::new(), last_seq, shutdown: false, failed: false }),
            wake: Condvar::new(),
            io: Mutex::new(io),
            durable: watch::Sender::new(Durable { seq: last_seq, failed: None }),
            last_seq: AtomicU64::new(last_seq),
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

    /// Queues one record and returns its seq. Only copies the bytes into memory; call it under
    /// the lock that orders the mutation it describes, then [`Self::wait_durable`] outside it.
    ///
    /// # Panics
    /// If the record is longer than [`MAX_RECORD_LEN`].
    pub fn append(&self, record: &[u8]) -> u64 {
        assert!(record.len() <= MAX_RECORD_LEN, "journal record of {} bytes is too long", record.len());
        let crc = format::payload_crc(record);
        let seq = {
            let mut pending = self.inner.pending.lock();
            pending.last_seq += 1;
            let seq = pending.last_seq;
            if !pending.failed {
                format::encode_record(&mut pending.buf, seq, record, crc);
            }
            self.inner.last_seq.store(seq, Ordering::Release);
            seq
        };
        let size = (format::RECORD_HEADER_LEN + record.len()) as u64;
        self.inner.bytes_since_snapshot.fetch_add(size, Ordering::Relaxed);
        self.inner.wake.notify_one();
        seq
    }

    /// The seq of the newest appended record (durable or not); 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.inner.last_seq.load(Ordering::Acquire)
    }

    /// Resolves once every record up to `seq` is on disk and synced, or with the error that
    /// stopped the journal before that.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), PersistError> {
        let mut rx = self.inner.durable.subscribe();
        let state = match rx.wait_for(|d| d.seq >= seq || d.failed.is_some()).await {
            Ok(state) => state.clone(),
            Err(_) => unreachable!("the sender lives as long as the journal"),
        };
        match state.failed {
            Some(error) if state.seq < seq => Err(error),
            _ => Ok(()),
        }
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
        if let Err(error) = write_file_synced(&temp, &[&format::snapshot_header(covered_seq, snapshot), snapshot]) {
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
            let (file, new_path) = create_segment(dir, first)?;
            let old_path = std::mem::replace(&mut io.path, new_path);
            io.file = file;
            io.first_seq = first;
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
    /// durable seq. Concurrent appends pile up meanwhile and form the next batch.
    fn commit(&self) -> Result<(), PersistError> {
        let mut io = self.io.lock();
        let io = &mut *io;
        let upto = {
            let mut pending = self.pending.lock();
            std::mem::swap(&mut pending.buf, &mut io.spare);
            pending.last_seq
        };
        if let Some(error) = &io.failed {
            io.spare.clear();
            return Err(error.clone());
        }
        if io.spare.is_empty() {
            return Ok(());
        }
        let result = io.file.write_all(&io.spare).and_then(|()| io.file.sync_data());
        io.spare.clear();
        io.spare.shrink_to(SPARE_CAPACITY);
        match result {
            Ok(()) => {
                self.syncs.fetch_add(1, Ordering::Relaxed);
                io.written_seq = upto;
                self.durable.send_modify(|d| d.seq = d.seq.max(upto));
                Ok(())
            }
            Err(e) => {
                let error = PersistError::io(&io.path, "journal stopped: cannot write to", e);
                io.failed = Some(error.clone());
                {
                    let mut pending = self.pending.lock();
                    pending.failed = true;
                    pending.buf = Vec::new();
                }
                self.durable.send_modify(|d| d.failed = Some(error.clone()));
                Err(error)
            }
        }
    }
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
fn create_segment(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), PersistError> {
    let path = dir.join(format::segment_name(first_seq));
    let created = OpenOptions::new().append(true).create_new(true).open(&path);
    let mut file = created.map_err(|e| PersistError::io(&path, "cannot create journal file", e))?;
    if let Err(e) = file.write_all(&format::segment_header(first_seq)).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&path);
        return Err(PersistError::io(&path, "cannot write journal file", e));
    }
    sync_dir(dir)?;
    Ok((file, path))
}

fn write_file_synced(path: &Path, parts: &[&[u8]]) -> Result<(), PersistError> {
    let mut file = File::create(path).map_err(|e| PersistError::io(path, "cannot create", e))?;
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
