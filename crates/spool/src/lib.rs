//! `ward-spool`: the agent's durable event buffer, in the style of a disk
//! buffer (vector's): events wait on disk until the server acknowledged them.
//!
//! This crate owns the spool directory (`data/spool/` of an install) and its
//! format, and nothing else: no network, no collectors. The agent appends
//! [`ward_events::Event`]s (the spool assigns their ids), reads the oldest
//! unacknowledged ones to send, and acknowledges cumulatively.
//!
//! # Layout
//!
//! * `NNNNNNNNNNNNNNNNNNNN.seg`: segment files, named by the first id they
//!   were created for (20 digits, so names sort like ids). The format is in
//!   [`format`]: a versioned, checksummed 16-byte header, then records
//!   `magic | len | id | crc32c | JSON payload`.
//! * `spool.meta`: counters (id reservation, acknowledged id, drop counters),
//!   replaced atomically.
//!
//! # Invariants (each has a test in `tests/`)
//!
//! 1. **Checksummed, versioned records.** Every record is length-prefixed
//!    and carries a CRC-32C over its length, id and payload; every segment
//!    starts with a header naming the format version. A segment of an
//!    unknown version or with a damaged header is never misread.
//! 2. **Bounded.** Segment files never exceed `segment_bytes`, their sum never
//!    exceeds `max_bytes`, and there are never more than `max_files` of them
//!    (the small `spool.meta` is not counted).
//! 3. **Durable on a cadence.** Appended records are fsynced at least every
//!    `fsync_interval` (when [`Spool::sync_if_due`] or an append runs; zero
//!    means on every append) and on [`Spool::close`]. Sealed segments are
//!    fsynced before a new one is started.
//! 4. **Deleted only once acknowledged.** A segment is deleted only when every
//!    event in it has an id `<=` the cumulative [`Spool::ack`] — except under
//!    invariant 5.
//! 5. **Full: the oldest goes, counted.** When an append needs room, the
//!    oldest sealed segment is dropped, its unacknowledged events are added to
//!    `dropped_total` (persisted *before* the file is deleted; never
//!    decreases) and the newest data is kept.
//! 6. **Crash recovery.** [`Spool::open`] scans every segment. A torn tail (a
//!    crash in the middle of a write) is truncated after the last valid
//!    record and counted; a damaged record in the middle of a segment is
//!    detected by its checksum, skipped (the next valid record is found by
//!    re-synchronising on the record magic) and counted; nothing panics on
//!    any file content. Ids known lost to damage are added to
//!    `damaged_total` and `dropped_total` (a torn tail counts as one).
//! 7. **Ids are never reused.** Ids only grow, across restarts and even when
//!    the spool was emptied: ids are reserved in blocks in `spool.meta`
//!    before use, and the next id after a restart is above every reserved
//!    and every stored one (after a crash, up to one block is skipped).
//! 8. **Reopen gives exactly the unacknowledged events, in order.**
//!
//! Losing an acknowledgement (a crash before `spool.meta` is rewritten) only
//! means events are sent again; the server drops ids it already stored.

mod crc;
pub mod format;
mod meta;
mod read;
mod segment;
mod spool;
mod write;

use std::path::PathBuf;
use std::time::Duration;

pub use crc::crc32c;
pub use spool::Spool;

/// Ids reserved per `spool.meta` write (at most this many are skipped after
/// a crash).
pub const ID_BLOCK: u64 = 4096;

/// Limits and cadence of a spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Most bytes all segment files may hold together.
    pub max_bytes: u64,
    /// Most bytes of one segment file.
    pub segment_bytes: u64,
    /// Most segment files.
    pub max_files: usize,
    /// Largest record payload (an event's JSON) accepted by `append`.
    pub max_record_bytes: usize,
    /// Longest time an appended record may stay unsynced (zero: fsync on
    /// every append).
    pub fsync_interval: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_bytes: 64 * 1024 * 1024,
            segment_bytes: 4 * 1024 * 1024,
            max_files: 64,
            max_record_bytes: 256 * 1024,
            fsync_interval: Duration::from_secs(1),
        }
    }
}

impl SpoolConfig {
    /// What is wrong with the values, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.max_record_bytes < 64 || self.max_record_bytes > format::MAX_RECORD_BYTES {
            p.push(format!(
                "max_record_bytes must be between 64 and {}, got {}",
                format::MAX_RECORD_BYTES,
                self.max_record_bytes
            ));
        }
        let min_segment =
            (format::SEGMENT_HEADER_LEN + format::RECORD_HEADER_LEN + self.max_record_bytes) as u64;
        if self.segment_bytes < min_segment {
            p.push(format!(
                "segment_bytes must be at least {min_segment} (one largest record), got {}",
                self.segment_bytes
            ));
        }
        if self.max_bytes < self.segment_bytes.saturating_mul(2) {
            p.push(format!(
                "max_bytes must be at least twice segment_bytes ({}), got {}",
                self.segment_bytes.saturating_mul(2),
                self.max_bytes
            ));
        }
        if self.max_files < 2 {
            p.push(format!(
                "max_files must be at least 2, got {}",
                self.max_files
            ));
        }
        p
    }
}

/// What a spool holds and has lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Events waiting for acknowledgement.
    pub depth: u64,
    /// Events lost without acknowledgement since the spool was created:
    /// dropped because it was full, plus those lost to damage. Never
    /// decreases.
    pub dropped_total: u64,
    /// Of `dropped_total`, events lost to damaged records (torn tails count
    /// one each).
    pub damaged_total: u64,
    /// Damaged regions found and skipped (this process).
    pub damaged_records: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Highest acknowledged id.
    pub acked: u64,
    /// The id the next appended event gets.
    pub next_id: u64,
}

/// Spool failures.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid spool configuration: {0}")]
    Config(String),
    #[error("event of {size} bytes exceeds the {max} byte record limit")]
    RecordTooLarge { size: usize, max: usize },
    #[error("encoding: {0}")]
    Encode(String),
}

pub(crate) fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> SpoolError {
    let path = path.to_path_buf();
    move |source| SpoolError::Io { op, path, source }
}
