//! Bytes on disk: file names, headers, record framing, and the CRC-32 that guards them.
//!
//! Every integer is little-endian.
//!
//! ```text
//! journal-<first seq, 20 digits>.log
//!   header  "SMEMUJL" 0x01 | first seq u64                        16 bytes
//!   record  len u32 | crc u32 | seq u64 | payload (len bytes)     16 + len bytes, repeated
//! snapshot-<covered seq, 20 digits>.snap
//!   header  "SMEMUSN" 0x01 | covered seq u64 | len u64 | crc u32  28 bytes, then the payload
//! ```
//!
//! A record's CRC-32 (IEEE) covers its payload, then its seq, then its length, so a flipped bit
//! anywhere in a record except the CRC field itself is caught by the CRC; damage to the CRC field
//! is caught because it no longer matches. A snapshot's CRC covers payload, covered seq and length.

use std::ops::Range;

pub const SEGMENT_MAGIC: [u8; 8] = *b"SMEMUJL\x01";
pub const SEGMENT_HEADER_LEN: usize = 16;
pub const RECORD_HEADER_LEN: usize = 16;
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"SMEMUSN\x01";
pub const SNAPSHOT_HEADER_LEN: usize = 28;
/// The largest payload a record may carry. Engine records are a few KiB; the bound only keeps a
/// damaged length field from looking plausible.
pub const MAX_RECORD_LEN: usize = 1 << 30;

pub const LOCK_FILE: &str = "LOCK";
/// Written and deleted again to test whether the disk takes data (see `Journal::check_writable`).
pub const PROBE_FILE: &str = "PROBE";
const SEGMENT_PREFIX: &str = "journal-";
const SEGMENT_SUFFIX: &str = ".log";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
const TEMP_SUFFIX: &str = ".tmp";
/// Files that recovery or repair set aside get this suffix; nothing reads them again.
pub const DAMAGED_SUFFIX: &str = ".damaged";

pub fn segment_name(first_seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_seq:020}{SEGMENT_SUFFIX}")
}

pub fn snapshot_name(covered_seq: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{covered_seq:020}{SNAPSHOT_SUFFIX}")
}

pub fn snapshot_temp_name(covered_seq: u64) -> String {
    format!("{}{TEMP_SUFFIX}", snapshot_name(covered_seq))
}

/// What a directory entry is, judged by its name alone.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    Segment(u64),
    Snapshot(u64),
    /// A snapshot that was being written when the process stopped.
    SnapshotTemp,
    Other,
}

pub fn classify(name: &str) -> FileKind {
    fn number(digits: &str) -> Option<u64> {
        if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse().ok() } else { None }
    }
    if let Some(rest) = name.strip_prefix(SEGMENT_PREFIX).and_then(|r| r.strip_suffix(SEGMENT_SUFFIX)) {
        return number(rest).map_or(FileKind::Other, FileKind::Segment);
    }
    if let Some(rest) = name.strip_prefix(SNAPSHOT_PREFIX) {
        if let Some(digits) = rest.strip_suffix(SNAPSHOT_SUFFIX) {
            return number(digits).map_or(FileKind::Other, FileKind::Snapshot);
        }
        if let Some(digits) = rest.strip_suffix(TEMP_SUFFIX).and_then(|r| r.strip_suffix(SNAPSHOT_SUFFIX)) {
            return number(digits).map_or(FileKind::Other, |_| FileKind::SnapshotTemp);
        }
    }
    FileKind::Other
}

pub fn segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..].copy_from_slice(&first_seq.to_le_bytes());
    header
}

/// Why a segment's header is unusable.
#[derive(Debug)]
pub enum HeaderProblem {
    /// Short or blank: the file was being created when the process stopped.
    Torn(String),
    /// Present but not ours, not this version, or not matching the file name.
    Foreign(String),
}

pub fn check_segment_header(data: &[u8], first_seq: u64) -> Result<(), HeaderProblem> {
    if data.len() < SEGMENT_HEADER_LEN {
        return Err(HeaderProblem::Torn(format!(
            "the segment header is cut short ({} of {SEGMENT_HEADER_LEN} bytes)",
            data.len()
        )));
    }
    let header = &data[..SEGMENT_HEADER_LEN];
    if header.iter().all(|&b| b == 0) {
        return Err(HeaderProblem::Torn("the segment header is blank (all zero bytes)".to_owned()));
    }
    if header[..7] == SEGMENT_MAGIC[..7] && header[7] != SEGMENT_MAGIC[7] {
        return Err(HeaderProblem::Foreign(format!(
            "it is in journal format version {}, which this smemu does not read (it reads version {})",
            header[7], SEGMENT_MAGIC[7]
        )));
    }
    if header[..8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Foreign("it does not start with the smemu journal header".to_owned()));
    }
    let stated = le_u64(&header[8..]);
    if stated != first_seq {
        return Err(HeaderProblem::Foreign(format!(
            "its header says it starts at record {stated}, but its name says {first_seq}"
        )));
    }
    Ok(())
}

/// The CRC-32 (IEEE) state after a payload; cheap to finish once the seq is known.
pub fn payload_crc(payload: &[u8]) -> Crc32 {
    let mut crc = Crc32::new();
    crc.update(payload);
    crc
}

/// CRC-32/ISO-HDLC: IEEE 802.3's polynomial, reflected (0xEDB88320), the journal's checksum.
pub type Crc32 = crc32fast::Hasher;

fn record_crc(mut crc: Crc32, seq: u64, len: u32) -> u32 {
    crc.update(&seq.to_le_bytes());
    crc.update(&len.to_le_bytes());
    crc.finalize()
}

/// Appends one framed record to `out`; `crc` must be `payload_crc(payload)`.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8], crc: Crc32) {
    let len = u32::try_from(payload.len()).expect("record length checked against MAX_RECORD_LEN");
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record_crc(crc, seq, len).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One intact record found at the start of a buffer.
#[derive(Debug)]
pub struct Record<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
    /// Header plus payload: how far to step to the next record.
    pub size: usize,
}

/// Reads the record at the start of `buf` (which runs to the end of the file), or says what is
/// wrong with it.
pub fn decode_record(buf: &[u8]) -> Result<Record<'_>, String> {
    if buf.len() < RECORD_HEADER_LEN {
        return Err(format!("the record header is cut short ({} of {RECORD_HEADER_LEN} bytes)", buf.len()));
    }
    let len = le_u32(&buf[0..4]);
    let stored = le_u32(&buf[4..8]);
    let seq = le_u64(&buf[8..16]);
    let available = buf.len() - RECORD_HEADER_LEN;
    if len as usize > MAX_RECORD_LEN {
        return Err(format!("the record claims a length of {len} bytes, more than any record smemu writes"));
    }
    if len as usize > available {
        return Err(format!("the record claims {len} bytes of payload but only {available} follow"));
    }
    let payload = &buf[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len as usize];
    let computed = record_crc(payload_crc(payload), seq, len);
    if computed != stored {
        return Err(format!("checksum mismatch (stored {stored:08x}, computed {computed:08x})"));
    }
    Ok(Record { seq, payload, size: RECORD_HEADER_LEN + len as usize })
}

pub fn snapshot_header(covered_seq: u64, payload: &[u8]) -> [u8; SNAPSHOT_HEADER_LEN] {
    let len = payload.len() as u64;
    let mut crc = payload_crc(payload);
    crc.update(&covered_seq.to_le_bytes());
    crc.update(&len.to_le_bytes());
    let mut header = [0; SNAPSHOT_HEADER_LEN];
    header[..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..16].copy_from_slice(&covered_seq.to_le_bytes());
    header[16..24].copy_from_slice(&len.to_le_bytes());
    header[24..].copy_from_slice(&crc.finalize().to_le_bytes());
    header
}

/// Checks a whole snapshot file; returns the seq it covers and where its payload lies.
pub fn decode_snapshot(data: &[u8]) -> Result<(u64, Range<usize>), String> {
    if data.len() < SNAPSHOT_HEADER_LEN {
        return Err(format!("the file is {} bytes, shorter than a snapshot header", data.len()));
    }
    if data[..7] == SNAPSHOT_MAGIC[..7] && data[7] != SNAPSHOT_MAGIC[7] {
        return Err(format!("it is in snapshot format version {}, which this smemu does not read", data[7]));
    }
    if data[..8] != SNAPSHOT_MAGIC {
        return Err("it does not start with the smemu snapshot header".to_owned());
    }
    let covered = le_u64(&data[8..16]);
    let len = le_u64(&data[16..24]);
    let stored = le_u32(&data[24..28]);
    let available = (data.len() - SNAPSHOT_HEADER_LEN) as u64;
    if len != available {
        return Err(format!("its header promises {len} bytes of payload but the file holds {available}"));
    }
    let payload = &data[SNAPSHOT_HEADER_LEN..];
    let mut crc = payload_crc(payload);
    crc.update(&covered.to_le_bytes());
    crc.update(&len.to_le_bytes());
    let computed = crc.finalize();
    if computed != stored {
        return Err(format!("checksum mismatch (stored {stored:08x}, computed {computed:08x})"));
    }
    Ok((covered, SNAPSHOT_HEADER_LEN..data.len()))
}

pub fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}
