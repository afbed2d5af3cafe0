//! Journal recovery: whatever is in the data directory, opening it either recovers a state or
//! answers a clear error; it never panics, hangs or loses what it recovered once.
//!
//! An input is a flags byte (bit 0: how the directory is made, bit 1: open with repair), then
//! entries of `tag u8, len u16 LE, len bytes`:
//! - raw (bit 0 clear): each entry is a file, `tag` picks its kind (segment, snapshot, unfinished
//!   snapshot, lock, other) and the entry's first byte its sequence number;
//! - written (bit 0 set): the real journal writes the directory. Tag 0 appends a record, 1
//!   writes a snapshot of the entry's bytes, 2 damages a file once the journal is closed
//!   (`file index, operation, offset u16 LE, bytes`: truncate, xor, delete or append), 3 closes
//!   and reopens the journal in between.
//!
//! Checked besides "no panic": after a successful open, a second open succeeds with the same
//! state (recovery is stable: nothing it kept the first time is lost by the next start).

#![no_main]

use libfuzzer_sys::fuzz_target;
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use smemu::persist::Journal;
use std::path::Path;
use std::sync::Arc;

fn entries(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let [tag, lo, hi, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        out.push((*tag, &rest[..len]));
        data = &rest[len..];
    }
    out
}

fn raw(dir: &Path, entries: &[(u8, &[u8])]) {
    for (tag, bytes) in entries {
        let (seq, content) = bytes.split_first().map_or((0, &[][..]), |(s, c)| (u64::from(*s), c));
        let name = match tag % 5 {
            0 => format!("journal-{seq:020}.log"),
            1 => format!("snapshot-{seq:020}.snap"),
            2 => format!("snapshot-{seq:020}.snap.tmp"),
            3 => "LOCK".to_owned(),
            _ => format!("journal-{seq}.log"),
        };
        std::fs::write(dir.join(name), content).expect("write a file");
    }
}

fn damage(dir: &Path, bytes: &[u8]) {
    let [index, op, lo, hi, value @ ..] = bytes else { return };
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("list the directory").flatten().map(|e| e.path()).collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    let path = &files[usize::from(*index) % files.len()];
    let Ok(mut content) = std::fs::read(path) else { return };
    let offset = usize::from(u16::from_le_bytes([*lo, *hi]));
    match op % 4 {
        0 => content.truncate(offset),
        1 => {
            if let Some(b) = content.get_mut(offset) {
                *b ^= value.first().copied().unwrap_or(0xFF);
            }
        }
        2 => {
            let _ = std::fs::remove_file(path);
            return;
        }
        _ => content.extend_from_slice(value),
    }
    std::fs::write(path, content).expect("rewrite a file");
}

fn written(dir: &Path, entries: &[(u8, &[u8])]) {
    let mut journal = Some(Journal::open(dir).map(|(j, _)| j).expect("a fresh journal opens"));
    let mut damages = Vec::new();
    for (tag, bytes) in entries {
        match tag % 4 {
            0 => {
                if let Some(j) = &journal {
                    j.append(bytes);
                }
            }
            1 => {
                if let Some(j) = &journal {
                    let _ = j.write_snapshot(j.last_seq(), bytes);
                }
            }
            2 => damages.push(*bytes),
            _ => {
                drop(journal.take());
                journal = Journal::open(dir).map(|(j, _)| j).ok();
            }
        }
    }
    drop(journal);
    for bytes in damages {
        damage(dir, bytes);
    }
}

fn open(dir: &Path, repair: bool) -> Result<serde_json::Value, String> {
    let app = App::new(Config::default(), Arc::new(Clock::manual(Timestamp(1_767_225_600_000))));
    app.open_data_dir(dir, repair)?;
    Ok(serde_json::to_value(app.engine.export()).expect("the state serialises"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let entries = entries(rest);
    let dir = smemu_fuzz::TempDir::new("journal");
    if flags & 1 == 0 {
        raw(dir.path(), &entries);
    } else {
        written(dir.path(), &entries);
    }
    let Ok(first) = open(dir.path(), flags & 2 != 0) else { return };
    match open(dir.path(), false) {
        Ok(second) => assert!(first == second, "a second open recovered a different state"),
        Err(e) => panic!("a directory that opened once no longer opens: {e}"),
    }
});
