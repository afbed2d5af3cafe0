//! The journal on real files: round trips, group commit, torn tails, damage, snapshots, locking.

use super::format;
use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("smemu-persist-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn record(i: u64) -> Vec<u8> {
    format!("{{\"record\":{i},\"pad\":\"{}\"}}", "x".repeat((i % 7) as usize)).into_bytes()
}

fn records(range: std::ops::RangeInclusive<u64>) -> Vec<Vec<u8>> {
    range.map(record).collect()
}

fn open(dir: &Path) -> (Journal, Recovered) {
    match Journal::open(dir) {
        Ok(opened) => opened,
        Err(e) => panic!("open failed: {e}"),
    }
}

fn open_repair(dir: &Path) -> (Journal, Recovered) {
    Journal::open_with(dir, &JournalOptions { repair: true, ..JournalOptions::default() }).unwrap()
}

/// Appends records `range` and makes them durable.
fn write(journal: &Journal, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        assert_eq!(journal.append(&record(i)), i);
    }
    journal.flush_blocking().unwrap();
}

/// Writes records `range` into a journal in `dir` and closes it.
fn fill(dir: &Path, range: std::ops::RangeInclusive<u64>) {
    let (journal, _) = open(dir);
    write(&journal, range);
}

fn files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// `(offset, size)` of every record of a segment file.
fn record_spans(path: &Path) -> Vec<(usize, usize)> {
    let data = fs::read(path).unwrap();
    let mut offset = format::SEGMENT_HEADER_LEN;
    let mut spans = Vec::new();
    while offset < data.len() {
        let size = format::decode_record(&data[offset..]).unwrap().size;
        spans.push((offset, size));
        offset += size;
    }
    spans
}

fn flip(path: &Path, offset: usize) {
    let mut data = fs::read(path).unwrap();
    data[offset] ^= 0x40;
    fs::write(path, data).unwrap();
}

#[test]
fn crc32_matches_the_standard_check_value() {
    // CRC-32/ISO-HDLC (IEEE 802.3, reflected 0xEDB88320): the check value of its catalogue entry.
    assert_eq!(format::payload_crc(b"123456789").finalize(), 0xCBF4_3926);
    assert_eq!(format::payload_crc(b"").finalize(), 0);
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut pieces = format::payload_crc(&[]);
    for chunk in data.chunks(13) {
        pieces.update(chunk);
    }
    assert_eq!(format::payload_crc(&data).finalize(), pieces.finalize());
}

/// A record and a snapshot header as this journal format has always written them: a journal
/// written before any change to the checksum code must still open.
#[test]
fn framing_bytes_are_unchanged() {
    let payload = br#"{"op":"put","name":"prod/db"}"#;
    let mut record = Vec::new();
    format::encode_record(&mut record, 7, payload, format::payload_crc(payload));
    // Length 29, CRC 0x77fa1d8e (the old table-driven CRC and zlib agree), seq 7.
    assert_eq!(record[..16], [29, 0, 0, 0, 0x8e, 0x1d, 0xfa, 0x77, 7, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&record[16..], payload);
    let header = format::snapshot_header(42, payload);
    assert_eq!(header[24..], 0x067b_fabb_u32.to_le_bytes());
}

#[test]
fn file_names_round_trip() {
    assert_eq!(format::classify(&format::segment_name(42)), format::FileKind::Segment(42));
    assert_eq!(format::classify(&format::snapshot_name(7)), format::FileKind::Snapshot(7));
    assert_eq!(format::classify(&format::snapshot_temp_name(7)), format::FileKind::SnapshotTemp);
    assert_eq!(format::classify("journal-1.log"), format::FileKind::Other);
    assert_eq!(format::classify("journal-00000000000000000001.log.damaged"), format::FileKind::Other);
    assert_eq!(format::classify("LOCK"), format::FileKind::Other);
}

#[tokio::test]
async fn records_survive_a_restart_and_numbering_continues() {
    let dir = TempDir::new("roundtrip");
    {
        let (journal, recovered) = open(dir.path());
        assert!(recovered.snapshot.is_none() && recovered.records.is_empty() && recovered.warnings.is_empty());
        assert_eq!(journal.last_seq(), 0);
        let mut last = 0;
        for i in 1..=100 {
            last = journal.append(&record(i));
        }
        journal.wait_durable(last).await.unwrap();
        // Nothing new: resolves at once.
        journal.wait_durable(0).await.unwrap();
    }
    let (journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, records(1..=100));
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
    assert_eq!(journal.last_seq(), 100);
    let seq = journal.append(&record(101));
    assert_eq!(seq, 101);
    journal.wait_durable(seq).await.unwrap();
    drop(journal);
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, records(1..=101));
    assert_eq!(files(dir.path(), ".log").len(), 1);
}

#[test]
fn dropping_the_journal_writes_what_is_queued() {
    let dir = TempDir::new("drop");
    {
        let (journal, _) = open(dir.path());
        for i in 1..=10 {
            journal.append(&record(i));
        }
    }
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, records(1..=10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_one_sync() {
    let dir = TempDir::new("group");
    let (journal, _) = open(dir.path());
    let journal = Arc::new(journal);

    // With the files held, 64 writers queue up; releasing them takes exactly one sync.
    let held = journal.inner.io.lock();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let journal = Arc::clone(&journal);
            tokio::spawn(async move {
                let seq = journal.append(&record(i));
                journal.wait_durable(seq).await
            })
        })
        .collect();
    while journal.last_seq() < 64 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let before = journal.sync_count();
    drop(held);
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(journal.sync_count() - before, 1);

    // Free running: still far fewer syncs than records.
    let before = journal.sync_count();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let journal = Arc::clone(&journal);
            tokio::spawn(async move {
                for i in 0..20 {
                    let seq = journal.append(&record(t * 100 + i));
                    journal.wait_durable(seq).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let syncs = journal.sync_count() - before;
    assert!(syncs < 64 * 20 / 4, "{syncs} syncs for {} records", 64 * 20);
    drop(journal);
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records.len(), 64 + 64 * 20);
}

#[test]
fn a_torn_tail_at_any_byte_keeps_every_record_before_it() {
    let dir = TempDir::new("torn");
    fill(dir.path(), 1..=5);
    let segment = dir.file(&format::segment_name(1));
    let original = fs::read(&segment).unwrap();
    let (last_offset, last_size) = *record_spans(&segment).last().unwrap();
    assert_eq!(last_offset + last_size, original.len());
    for cut in last_offset..original.len() {
        fs::write(&segment, &original[..cut]).unwrap();
        let (journal, recovered) = open(dir.path());
        assert_eq!(recovered.records, records(1..=4), "cut at {cut}");
        if cut == last_offset {
            assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
        } else {
            assert_eq!(recovered.warnings.len(), 1, "cut at {cut}");
            let warning = &recovered.warnings[0];
            assert!(warning.contains(&segment.display().to_string()), "{warning}");
            assert!(warning.contains(&format!("byte offset {last_offset}")), "{warning}");
        }
        assert_eq!(fs::metadata(&segment).unwrap().len(), last_offset as u64);
        // The journal goes on cleanly from there.
        assert_eq!(journal.append(b"after"), 5);
        journal.flush_blocking().unwrap();
        drop(journal);
        let (_journal, recovered) = open(dir.path());
        assert_eq!(recovered.records.last().unwrap(), b"after");
        assert!(recovered.warnings.is_empty());
    }
}

#[test]
fn a_flipped_byte_in_the_last_record_is_cut_off_like_a_torn_tail() {
    let dir = TempDir::new("flip-last");
    fill(dir.path(), 1..=5);
    let segment = dir.file(&format::segment_name(1));
    let original = fs::read(&segment).unwrap();
    let (last_offset, _) = *record_spans(&segment).last().unwrap();
    for at in last_offset..original.len() {
        fs::write(&segment, &original).unwrap();
        flip(&segment, at);
        let (_journal, recovered) = open(dir.path());
        assert_eq!(recovered.records, records(1..=4), "flip at {at}");
        assert_eq!(recovered.warnings.len(), 1, "flip at {at}");
        if at >= last_offset + format::RECORD_HEADER_LEN {
            assert!(recovered.warnings[0].contains("checksum mismatch"), "{}", recovered.warnings[0]);
        }
    }
}

#[test]
fn damage_followed_by_intact_records_refuses_to_start_unless_repairing() {
    let dir = TempDir::new("middle");
    fill(dir.path(), 1..=5);
    let segment = dir.file(&format::segment_name(1));
    let (second, _) = record_spans(&segment)[1];
    for at in [second + format::RECORD_HEADER_LEN + 2, second, second + 9] {
        let original = fs::read(&segment).unwrap();
        flip(&segment, at);
        let damaged = fs::read(&segment).unwrap();
        let error = Journal::open(dir.path()).unwrap_err();
        let PersistError::Corrupt { path, offset, .. } = &error else { panic!("{error:?}") };
        assert_eq!((path, *offset), (&segment, second as u64));
        let message = error.to_string();
        assert!(message.contains(&segment.display().to_string()), "{message}");
        assert!(message.contains(&format!("byte offset {second}")), "{message}");
        assert!(message.contains(REPAIR_FLAG), "{message}");
        assert_eq!(fs::read(&segment).unwrap(), damaged, "a refused start changes nothing");
        fs::write(&segment, original).unwrap();
    }

    flip(&segment, second + format::RECORD_HEADER_LEN);
    let (journal, recovered) = open_repair(dir.path());
    assert_eq!(recovered.records, records(1..=1));
    assert_eq!(recovered.warnings.len(), 1);
    assert!(recovered.warnings[0].contains("repair"), "{}", recovered.warnings[0]);
    assert_eq!(files(dir.path(), ".damaged"), [format!("{}.{second}.damaged", format::segment_name(1))]);
    assert_eq!(journal.append(b"two"), 2);
    drop(journal);
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, [record(1), b"two".to_vec()]);
    assert!(recovered.warnings.is_empty());
}

#[test]
fn damage_at_the_end_of_a_segment_with_later_segments_is_refused() {
    let dir = TempDir::new("middle-file");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(1, b"s1").unwrap();
        write(&journal, 4..=6);
    }
    let first = dir.file(&format::segment_name(1));
    let (last_offset, _) = *record_spans(&first).last().unwrap();
    flip(&first, last_offset + format::RECORD_HEADER_LEN);
    let message = Journal::open(dir.path()).unwrap_err().to_string();
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(message.contains(&format::segment_name(4)), "{message}");
}

#[test]
fn a_snapshot_replaces_the_records_it_covers() {
    let dir = TempDir::new("snapshot");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=10);
        let covered = journal.last_seq();
        journal.write_snapshot(covered, b"state@10").unwrap();
        write(&journal, 11..=15);
    }
    assert_eq!(files(dir.path(), ".log"), [format::segment_name(11)]);
    assert_eq!(files(dir.path(), ".snap"), [format::snapshot_name(10)]);
    {
        let (journal, recovered) = open(dir.path());
        assert_eq!(recovered.snapshot.as_deref(), Some(&b"state@10"[..]));
        assert_eq!(recovered.records, records(11..=15));
        assert!(recovered.warnings.is_empty());
        assert_eq!(journal.last_seq(), 15);
        journal.write_snapshot(15, b"state@15").unwrap();
        // An older snapshot arriving late changes nothing.
        journal.write_snapshot(12, b"stale").unwrap();
        assert!(journal.write_snapshot(16, b"future").is_err());
    }
    assert_eq!(files(dir.path(), ".snap"), [format::snapshot_name(15)]);
    let (journal, recovered) = open(dir.path());
    assert_eq!(recovered.snapshot.as_deref(), Some(&b"state@15"[..]));
    assert!(recovered.records.is_empty());
    assert_eq!(journal.append(b"x"), 16);
}

#[test]
fn snapshots_taken_while_writers_run_lose_nothing() {
    type State = BTreeMap<u32, u64>;
    fn encode(key: u32, value: u64) -> Vec<u8> {
        format!("{key}={value}").into_bytes()
    }
    fn apply(state: &mut State, record: &[u8]) {
        let text = std::str::from_utf8(record).unwrap();
        let (key, value) = text.split_once('=').unwrap();
        state.insert(key.parse().unwrap(), value.parse().unwrap());
    }
    fn export(state: &State) -> Vec<u8> {
        state.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>().into_bytes()
    }

    let dir = TempDir::new("concurrent-snapshot");
    let options = JournalOptions { compact_threshold: 4096, ..JournalOptions::default() };
    let (journal, _) = Journal::open_with(dir.path(), &options).unwrap();
    let journal = Arc::new(journal);
    let state = Arc::new(Mutex::new(State::new()));
    // Writers keep going until several snapshots were taken while they ran.
    let snapshots = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let (journal, state, snapshots) = (Arc::clone(&journal), Arc::clone(&state), Arc::clone(&snapshots));
            std::thread::spawn(move || {
                let mut i = 0u64;
                while i < 2000 || snapshots.load(Ordering::Relaxed) < 3 {
                    let key = ((i * 31 + t * 17) % 97) as u32;
                    let value = t * 1_000_000 + i;
                    let mut state = state.lock();
                    state.insert(key, value);
                    journal.append(&encode(key, value));
                    drop(state);
                    i += 1;
                }
            })
        })
        .collect();
    while writers.iter().any(|w| !w.is_finished()) {
        if journal.should_compact() {
            let covered = journal.last_seq();
            let snapshot = export(&state.lock());
            journal.write_snapshot(covered, &snapshot).unwrap();
            snapshots.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::yield_now();
    }
    for writer in writers {
        writer.join().unwrap();
    }
    journal.flush_blocking().unwrap();
    let expected = state.lock().clone();
    drop(Arc::into_inner(journal).unwrap());

    let (_journal, recovered) = open(dir.path());
    let mut rebuilt = State::new();
    for line in recovered.snapshot.as_deref().unwrap_or_default().split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        apply(&mut rebuilt, line);
    }
    for record in &recovered.records {
        apply(&mut rebuilt, record);
    }
    assert_eq!(rebuilt, expected);
    assert!(files(dir.path(), ".log").len() <= 2, "{:?}", files(dir.path(), ".log"));
    assert_eq!(files(dir.path(), ".snap").len(), 1);
}

#[test]
fn a_snapshot_never_renamed_into_place_is_ignored() {
    let dir = TempDir::new("snapshot-temp");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(3, b"s3").unwrap();
        write(&journal, 4..=5);
    }
    // The process died after writing and syncing the temp file, before the rename.
    let temp = dir.file(&format::snapshot_temp_name(5));
    let mut bytes = format::snapshot_header(5, b"s5").to_vec();
    bytes.extend_from_slice(b"s5");
    fs::write(&temp, bytes).unwrap();

    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.snapshot.as_deref(), Some(&b"s3"[..]));
    assert_eq!(recovered.records, records(4..=5));
    assert_eq!(recovered.warnings.len(), 1);
    assert!(recovered.warnings[0].contains(&temp.display().to_string()), "{}", recovered.warnings[0]);
    assert!(!temp.exists());
}

#[test]
fn a_snapshot_ahead_of_the_synced_journal_starts_a_fresh_segment() {
    // A snapshot may cover records that were appended but not yet synced when the process died.
    let dir = TempDir::new("snapshot-ahead");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(3, b"s3").unwrap();
    }
    let mut bytes = format::snapshot_header(5, b"s5").to_vec();
    bytes.extend_from_slice(b"s5");
    fs::write(dir.file(&format::snapshot_name(5)), bytes).unwrap();
    {
        let (journal, recovered) = open(dir.path());
        assert_eq!(recovered.snapshot.as_deref(), Some(&b"s5"[..]));
        assert!(recovered.records.is_empty());
        assert_eq!(journal.last_seq(), 5);
        write(&journal, 6..=7);
    }
    assert_eq!(files(dir.path(), ".log"), [format::segment_name(6)]);
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, records(6..=7));
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
}

#[test]
fn a_segment_whose_header_was_never_finished_is_rewritten() {
    let dir = TempDir::new("torn-header");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(3, b"s3").unwrap();
    }
    let segment = dir.file(&format::segment_name(4));
    for cut in 0..format::SEGMENT_HEADER_LEN {
        let header = format::segment_header(4);
        fs::write(&segment, &header[..cut]).unwrap();
        let (journal, recovered) = open(dir.path());
        assert_eq!(recovered.snapshot.as_deref(), Some(&b"s3"[..]));
        assert_eq!(recovered.warnings.len(), 1, "cut at {cut}");
        assert_eq!(journal.append(b"four"), 4);
        drop(journal);
        let (_journal, recovered) = open(dir.path());
        assert_eq!(recovered.records, [b"four".to_vec()]);
        fs::write(&segment, header).unwrap();
    }
}

#[test]
fn a_journal_file_from_another_format_is_left_alone() {
    let dir = TempDir::new("foreign");
    fill(dir.path(), 1..=2);
    let segment = dir.file(&format::segment_name(1));
    let mut data = fs::read(&segment).unwrap();
    data[7] = 2; // a later format version
    fs::write(&segment, &data).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, PersistError::Invalid { .. }), "{error:?}");
    assert!(message.contains(&segment.display().to_string()) && message.contains("version 2"), "{message}");
    assert_eq!(fs::read(&segment).unwrap(), data);
}

#[test]
fn missing_journal_files_are_an_error() {
    let dir = TempDir::new("gap");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(1, b"s1").unwrap();
        write(&journal, 4..=6);
    }
    // The first segment holds records 2 and 3, which the snapshot does not cover.
    fs::remove_file(dir.file(&format::segment_name(1))).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, PersistError::Invalid { .. }), "{error:?}");
    assert!(message.contains(&format::segment_name(4)) && message.contains("records 2 to 3"), "{message}");

    let (journal, recovered) = open_repair(dir.path());
    assert_eq!(recovered.snapshot.as_deref(), Some(&b"s1"[..]));
    assert!(recovered.records.is_empty());
    assert_eq!(recovered.warnings.len(), 1);
    assert_eq!(journal.append(b"two"), 2);
}

#[test]
fn a_damaged_snapshot_falls_back_while_the_journal_has_its_records() {
    let dir = TempDir::new("snapshot-damaged");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(1, b"s1").unwrap();
        write(&journal, 4..=4);
    }
    let snapshot = dir.file(&format::snapshot_name(1));
    flip(&snapshot, format::SNAPSHOT_HEADER_LEN);
    {
        let (_journal, recovered) = open(dir.path());
        assert!(recovered.snapshot.is_none());
        assert_eq!(recovered.records, records(1..=4));
        assert_eq!(recovered.warnings.len(), 1);
        assert!(recovered.warnings[0].contains(&snapshot.display().to_string()));
    }
    assert!(!snapshot.exists());

    // Once the journal no longer holds what a damaged snapshot covered, that is an error.
    let dir = TempDir::new("snapshot-lost");
    {
        let (journal, _) = open(dir.path());
        write(&journal, 1..=3);
        journal.write_snapshot(3, b"s3").unwrap();
    }
    let snapshot = dir.file(&format::snapshot_name(3));
    flip(&snapshot, format::SNAPSHOT_HEADER_LEN);
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(error.to_string().contains(&snapshot.display().to_string()), "{error}");
}

#[test]
fn a_second_process_cannot_open_the_same_directory() {
    let dir = TempDir::new("lock");
    let (first, _) = open(dir.path());
    let error = Journal::open(dir.path()).unwrap_err();
    let PersistError::Locked { pid, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*pid, Some(std::process::id()));
    let message = error.to_string();
    assert!(message.contains(&dir.path().display().to_string()) && message.contains("in use"), "{message}");
    drop(first);
    open(dir.path());
}

#[test]
fn should_compact_follows_the_journal_size() {
    let dir = TempDir::new("compact");
    let options = JournalOptions { compact_threshold: 1000, ..JournalOptions::default() };
    let (journal, _) = Journal::open_with(dir.path(), &options).unwrap();
    let payload = [7u8; 100]; // 116 bytes framed
    for _ in 0..8 {
        journal.append(&payload);
    }
    assert!(!journal.should_compact());
    journal.append(&payload);
    assert!(journal.should_compact());
    journal.write_snapshot(journal.last_seq(), &[1u8; 5000]).unwrap();
    assert!(!journal.should_compact());
    // Now the journal must also outgrow the snapshot.
    for _ in 0..43 {
        journal.append(&payload);
    }
    assert!(!journal.should_compact());
    journal.append(&payload);
    assert!(journal.should_compact());
    drop(journal);
    // Recovered records count towards the next compaction.
    let (journal, _) = Journal::open_with(dir.path(), &options).unwrap();
    assert!(journal.should_compact());
}

#[tokio::test]
async fn a_failed_write_fails_the_waiters_and_stops_the_journal() {
    let dir = TempDir::new("failure");
    let (journal, _) = open(dir.path());
    let one = journal.append(&record(1));
    journal.wait_durable(one).await.unwrap();
    {
        // A handle that cannot write stands in for a full or failing disk.
        let mut io = journal.inner.io.lock();
        io.file = File::open(&io.path).unwrap();
    }
    let two = journal.append(&record(2));
    let error = journal.wait_durable(two).await.unwrap_err();
    assert!(matches!(error, PersistError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("journal stopped"), "{error}");
    journal.wait_durable(one).await.unwrap();
    let three = journal.append(&record(3));
    assert!(journal.wait_durable(three).await.is_err());
    assert!(journal.flush_blocking().is_err());
    assert!(journal.write_snapshot(three, b"s").is_err());
    drop(journal);
    let (_journal, recovered) = open(dir.path());
    assert_eq!(recovered.records, records(1..=1));
}

#[tokio::test]
async fn a_rollback_cuts_a_failed_write_off_and_the_journal_carries_on_once_the_disk_has_space() {
    let dir = TempDir::new("rollback");
    let faults = Arc::new(Faults::default());
    let options = JournalOptions { faults: Some(faults.clone()), ..JournalOptions::default() };
    let (journal, _) = Journal::open_with(dir.path(), &options).unwrap();
    write(&journal, 1..=3);
    assert!(!journal.is_degraded() && journal.roll_back().unwrap().is_none());

    faults.set_disk_full(true);
    let four = journal.append(&record(4));
    assert!(journal.wait_durable(four).await.is_err());
    // Appended after the failure: lost as well, and never written.
    let five = journal.append(&record(5));
    assert!(journal.is_degraded());
    assert!(journal.check_writable().is_err(), "no change is accepted before the rollback");

    let recovered = journal.roll_back().unwrap().expect("a failed journal rolls back");
    assert_eq!(recovered.records, records(1..=3), "the durable state, without the half-written record");
    assert!(journal.roll_back().unwrap().is_none(), "a second rollback has nothing to do");
    assert!(journal.wait_durable(five).await.is_err() && journal.wait_durable(four).await.is_err());
    journal.wait_durable(3).await.unwrap();
    assert!(!journal.is_durable(four), "lost, so never durable");
    assert!(journal.check_writable().is_err(), "the probe fails while the disk is still full");

    faults.set_disk_full(false);
    assert!(journal.is_degraded());
    journal.check_writable().unwrap();
    assert!(!journal.is_degraded(), "the probe showed the disk takes data again");
    // Seq 4 is given out again; its ticket is new, so the lost fourth record's waiters stay failed.
    let six = journal.append(&record(4));
    assert_eq!((six, journal.last_seq()), (6, 4));
    journal.wait_durable(six).await.unwrap();
    assert!(!journal.is_degraded() && journal.is_durable(six));
    assert!(journal.wait_durable(four).await.is_err());
    journal.write_snapshot(4, b"four").unwrap();
    let seven = journal.append(&record(5));
    journal.wait_durable(seven).await.unwrap();
    drop(journal);

    let (_journal, recovered) = open(dir.path());
    assert!(recovered.warnings.is_empty(), "no torn tail was left behind: {:?}", recovered.warnings);
    assert_eq!(recovered.snapshot.as_deref(), Some(&b"four"[..]));
    assert_eq!(recovered.records, records(5..=5));
}

#[tokio::test]
async fn a_failed_snapshot_or_segment_leaves_the_journal_healthy() {
    let dir = TempDir::new("snapfail");
    let faults = Arc::new(Faults::default());
    let options = JournalOptions { faults: Some(faults.clone()), ..JournalOptions::default() };
    let (journal, _) = Journal::open_with(dir.path(), &options).unwrap();
    write(&journal, 1..=2);
    faults.set_disk_full(true);
    assert!(journal.write_snapshot(2, b"two").is_err());
    assert!(files(dir.path(), ".tmp").is_empty(), "the unfinished snapshot is removed");
    faults.set_disk_full(false);
    assert!(!journal.is_degraded());
    write(&journal, 3..=3);
    drop(journal);
    assert_eq!(open(dir.path()).1.records, records(1..=3));
}
