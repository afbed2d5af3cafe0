//! Reading a data directory back at start: pick the newest intact snapshot, check every journal
//! record, cut off a torn tail, and refuse (or, in repair mode, set aside) real damage.

use super::format::{self, FileKind, HeaderProblem};
use super::{PersistError, REPAIR_FLAG};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A journal segment that survived recovery.
pub(super) struct Segment {
    pub path: PathBuf,
    pub first_seq: u64,
    /// Its last record's seq; `first_seq - 1` when it holds none.
    pub last_seq: u64,
}

pub(super) struct Found {
    pub snapshot: Option<Vec<u8>>,
    /// The seq the snapshot covers; 0 without one.
    pub snapshot_seq: u64,
    /// Records after `snapshot_seq`, in order.
    pub records: Vec<Vec<u8>>,
    pub warnings: Vec<String>,
    /// Surviving segments, oldest first.
    pub segments: Vec<Segment>,
    /// The seq the next record of the last segment would carry.
    pub next_seq: u64,
    /// Framed size of `records`.
    pub journal_bytes: u64,
}

struct DamagedSnapshot {
    seq: u64,
    path: PathBuf,
    reason: String,
}

pub(super) fn recover(dir: &Path, repair: bool) -> Result<Found, PersistError> {
    let mut warnings = Vec::new();
    let mut segment_files = Vec::new();
    let mut snapshot_files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| PersistError::io(dir, "cannot list data directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PersistError::io(dir, "cannot list data directory", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        match format::classify(name) {
            FileKind::Segment(first) => segment_files.push((first, entry.path())),
            FileKind::Snapshot(seq) => snapshot_files.push((seq, entry.path())),
            FileKind::SnapshotTemp => {
                let path = entry.path();
                fs::remove_file(&path)
                    .map_err(|e| PersistError::io(&path, "cannot remove an unfinished snapshot", e))?;
                warnings.push(format!(
                    "removed {}: a snapshot that was still being written when smemu stopped \
                     (the journal still holds everything it would have covered)",
                    path.display()
                ));
            }
            FileKind::Other => {}
        }
    }
    segment_files.sort_unstable_by_key(|(first, _)| *first);
    snapshot_files.sort_unstable_by_key(|(seq, _)| std::cmp::Reverse(*seq));

    // The newest snapshot that checks out.
    let mut snapshot = None;
    let mut snapshot_seq = 0;
    let mut damaged_snapshots = Vec::new();
    for (seq, path) in snapshot_files {
        let mut data = fs::read(&path).map_err(|e| PersistError::io(&path, "cannot read snapshot", e))?;
        match format::decode_snapshot(&data) {
            Ok((covered, payload)) if covered == seq => {
                data.truncate(payload.end);
                data.drain(..payload.start);
                snapshot = Some(data);
                snapshot_seq = seq;
                break;
            }
            Ok((covered, _)) => damaged_snapshots.push(DamagedSnapshot {
                seq,
                path,
                reason: format!("its header says it covers record {covered}, but its name says {seq}"),
            }),
            Err(reason) => damaged_snapshots.push(DamagedSnapshot { seq, path, reason }),
        }
    }

    let mut scan = Scan {
        dir,
        repair,
        snapshot_seq,
        damaged_snapshot: damaged_snapshots.first(),
        files: segment_files,
        next: 1,
        records: Vec::new(),
        journal_bytes: 0,
        segments: Vec::new(),
        warnings,
    };
    scan.run()?;
    let Scan { records, journal_bytes, segments, next, mut warnings, .. } = scan;

    // A damaged snapshot newer than anything the journal still holds took records with it.
    let last_seq = snapshot_seq.max(next - 1);
    for damaged in &damaged_snapshots {
        if damaged.seq > last_seq {
            if !repair {
                return Err(damaged.lost(last_seq));
            }
            warnings.push(format!(
                "repair: snapshot {} is damaged ({}); the changes between records {} and {} are lost",
                damaged.path.display(),
                damaged.reason,
                last_seq + 1,
                damaged.seq
            ));
        } else {
            warnings.push(format!(
                "skipped damaged snapshot {} ({}); the journal still holds every record it covered",
                damaged.path.display(),
                damaged.reason
            ));
        }
        set_aside(&damaged.path)?;
    }
    if !damaged_snapshots.is_empty() {
        super::sync_dir(dir)?;
    }

    Ok(Found { snapshot, snapshot_seq, records, warnings, segments, next_seq: next, journal_bytes })
}

impl DamagedSnapshot {
    /// The error when the journal no longer holds what this snapshot covered; `intact_up_to` is
    /// the last record that can still be recovered.
    fn lost(&self, intact_up_to: u64) -> PersistError {
        PersistError::Invalid {
            path: self.path.clone(),
            detail: format!(
                "this snapshot is damaged ({}), and the journal no longer holds the records up to {} that it \
                 covered. Restore the data directory from a backup, or start smemu with {REPAIR_FLAG} to continue \
                 from the newest state that is still intact (up to record {intact_up_to})",
                self.reason, self.seq
            ),
        }
    }
}

/// The walk over the journal segments, oldest first.
struct Scan<'a> {
    dir: &'a Path,
    repair: bool,
    snapshot_seq: u64,
    /// The newest damaged snapshot, when it is newer than the one in use: it explains a gap.
    damaged_snapshot: Option<&'a DamagedSnapshot>,
    files: Vec<(u64, PathBuf)>,
    /// The seq the next record must carry.
    next: u64,
    records: Vec<Vec<u8>>,
    journal_bytes: u64,
    segments: Vec<Segment>,
    warnings: Vec<String>,
}

/// Where reading stopped early.
enum Stop {
    /// Damage inside a segment's data at this offset (0 for its header).
    Damage { offset: usize, reason: String },
    /// The segment cannot be used at all.
    Unusable(String),
}

impl Scan<'_> {
    fn run(&mut self) -> Result<(), PersistError> {
        for index in 0..self.files.len() {
            let (first, path) = self.files[index].clone();
            if first < self.next {
                let detail = format!(
                    "it starts at record {first}, but the journal file before it already holds records up to {}",
                    self.next - 1
                );
                return self.unusable(index, detail);
            }
            if first > self.next && first > self.snapshot_seq + 1 {
                if let Some(damaged) = self.damaged_snapshot.filter(|d| d.seq + 1 >= first)
                    && !self.repair
                {
                    return Err(damaged.lost(self.snapshot_seq.max(self.next - 1)));
                }
                let missing_from = self.next.max(self.snapshot_seq + 1);
                let detail = format!(
                    "it starts at record {first}, but records {missing_from} to {} are in no snapshot or journal file \
                     (was a file deleted?)",
                    first - 1
                );
                return self.unusable(index, detail);
            }
            self.next = first;
            let data = fs::read(&path).map_err(|e| PersistError::io(&path, "cannot read journal file", e))?;
            match self.read_segment(&data, first) {
                Ok(()) => self.segments.push(Segment { path, first_seq: first, last_seq: self.next - 1 }),
                Err(Stop::Unusable(detail)) => return self.unusable(index, detail),
                Err(Stop::Damage { offset, reason }) => return self.damaged(index, &data, offset, &reason),
            }
        }
        Ok(())
    }

    /// Checks every record of one segment, collecting those the snapshot does not cover.
    fn read_segment(&mut self, data: &[u8], first: u64) -> Result<(), Stop> {
        match format::check_segment_header(data, first) {
            Ok(()) => {}
            Err(HeaderProblem::Torn(reason)) => return Err(Stop::Damage { offset: 0, reason }),
            Err(HeaderProblem::Foreign(detail)) => return Err(Stop::Unusable(detail)),
        }
        let mut offset = format::SEGMENT_HEADER_LEN;
        while offset < data.len() {
            let record = format::decode_record(&data[offset..]).map_err(|reason| Stop::Damage { offset, reason })?;
            if record.seq != self.next {
                let reason =
                    format!("the record carries sequence number {} where {} was expected", record.seq, self.next);
                return Err(Stop::Damage { offset, reason });
            }
            if record.seq > self.snapshot_seq {
                self.records.push(record.payload.to_vec());
                self.journal_bytes += record.size as u64;
            }
            self.next += 1;
            offset += record.size;
        }
        Ok(())
    }

    /// Damage at `offset` of segment `index`: a torn tail if no intact record follows anywhere,
    /// real damage otherwise.
    fn damaged(&mut self, index: usize, data: &[u8], offset: usize, reason: &str) -> Result<(), PersistError> {
        let (first, path) = self.files[index].clone();
        if let Some((later_path, later_offset)) = self.find_intact_after(index, data, offset)? {
            if !self.repair {
                let at = if later_path == path {
                    format!("at byte offset {later_offset}")
                } else {
                    format!("in {} at byte offset {later_offset}", later_path.display())
                };
                return Err(PersistError::Corrupt {
                    path,
                    offset: offset as u64,
                    detail: format!(
                        "{reason}. Intact records follow it ({at}), so this is not the torn end of a write \
                         interrupted by a crash, and smemu will not silently drop acknowledged changes. \
                         Restore the data directory from a backup, or start smemu with {REPAIR_FLAG} to keep \
                         every record before the damage (the rest is moved to *.damaged files, not deleted)"
                    ),
                });
            }
            let aside = self.dir.join(format!(
                "{}.{offset}{}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                format::DAMAGED_SUFFIX
            ));
            write_synced(&aside, &data[offset..])?;
            let later = self.set_aside_from(index + 1)?;
            self.cut(&path, first, offset)?;
            self.warnings.push(format!(
                "repair: {} was damaged at byte offset {offset} ({reason}); kept the {} records before it, \
                 moved the {} bytes from there on to {}{}; changes from record {} on are lost",
                path.display(),
                self.next - first,
                data.len() - offset,
                aside.display(),
                if later > 0 { format!(" and {later} later journal files to *.damaged") } else { String::new() },
                self.next
            ));
        } else {
            let later = self.set_aside_from(index + 1)?;
            self.cut(&path, first, offset)?;
            self.warnings.push(format!(
                "{}: cut off a torn or damaged end at byte offset {offset} ({reason}; {} bytes{}). \
                 This is usually the unfinished end of a write that a crash interrupted before it was \
                 acknowledged; the {} records before it are intact",
                path.display(),
                data.len() - offset,
                if later > 0 {
                    format!(", and moved {later} later journal files without intact records to *.damaged")
                } else {
                    String::new()
                },
                self.next - first,
            ));
        }
        self.segments.push(Segment { path, first_seq: first, last_seq: self.next - 1 });
        Ok(())
    }

    /// A segment that cannot be read at all (or cannot follow the one before it).
    fn unusable(&mut self, index: usize, detail: String) -> Result<(), PersistError> {
        let path = self.files[index].1.clone();
        if !self.repair {
            return Err(PersistError::Invalid {
                path,
                detail: format!(
                    "{detail}. Restore the data directory from a backup, or start smemu with {REPAIR_FLAG} to keep \
                     everything before this file (it and later journal files are moved to *.damaged files)"
                ),
            });
        }
        let moved = self.set_aside_from(index)?;
        self.warnings.push(format!(
            "repair: {} cannot be used ({detail}); moved it and {} later journal files to *.damaged; \
             changes from record {} on are lost",
            path.display(),
            moved - 1,
            self.next
        ));
        Ok(())
    }

    /// Looks for an intact record after the damage: later in this segment, or in a later one.
    fn find_intact_after(
        &self,
        index: usize,
        data: &[u8],
        offset: usize,
    ) -> Result<Option<(PathBuf, usize)>, PersistError> {
        let path = &self.files[index].1;
        if let Some(found) = find_record(data.get(offset + 1..).unwrap_or_default(), self.next) {
            return Ok(Some((path.clone(), offset + 1 + found)));
        }
        for (_, later_path) in &self.files[index + 1..] {
            let later =
                fs::read(later_path).map_err(|e| PersistError::io(later_path, "cannot read journal file", e))?;
            if let Some(found) = find_record(&later, self.next) {
                return Ok(Some((later_path.clone(), found)));
            }
        }
        Ok(None)
    }

    /// Moves segments `from..` aside; returns how many.
    fn set_aside_from(&self, from: usize) -> Result<usize, PersistError> {
        for (_, path) in &self.files[from..] {
            set_aside(path)?;
        }
        super::sync_dir(self.dir)?;
        Ok(self.files.len() - from)
    }

    /// Truncates a segment at `offset`; a damaged header is written afresh.
    fn cut(&self, path: &Path, first: u64, offset: usize) -> Result<(), PersistError> {
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| PersistError::io(path, "cannot open journal file", e))?;
        let keep = offset.max(format::SEGMENT_HEADER_LEN) as u64;
        let result = if offset < format::SEGMENT_HEADER_LEN {
            file.set_len(0).and_then(|()| file.write_all(&format::segment_header(first)))
        } else {
            file.set_len(keep)
        };
        result.and_then(|()| file.sync_all()).map_err(|e| PersistError::io(path, "cannot truncate journal file", e))
    }
}

/// The offset of the first intact record in `data` whose seq is at least `min_seq` (and no
/// larger than the number of records `data` could possibly hold beyond it).
fn find_record(data: &[u8], min_seq: u64) -> Option<usize> {
    let max_seq = min_seq.saturating_add((data.len() / format::RECORD_HEADER_LEN) as u64);
    (0..data.len().saturating_sub(format::RECORD_HEADER_LEN - 1)).find(|&at| {
        let seq = format::le_u64(&data[at + 8..at + 16]);
        (min_seq..=max_seq).contains(&seq) && format::decode_record(&data[at..]).is_ok()
    })
}

/// Renames a file to `<name>.damaged`, where nothing reads it again.
fn set_aside(path: &Path) -> Result<(), PersistError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format::DAMAGED_SUFFIX);
    fs::rename(path, &aside).map_err(|e| PersistError::io(path, "cannot move aside damaged file", e))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), PersistError> {
    super::write_file_synced(path, &[data], None)
}
