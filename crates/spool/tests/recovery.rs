//! Crash and damage recovery on real segment files.

mod common;

use common::*;
use std::fs::OpenOptions;
use ward_spool::format::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use ward_spool::{Spool, SpoolConfig};

/// Writes `n` events into a fresh spool with one big segment and closes it;
/// returns the segment path and each record's (start, end) offsets, derived
/// from the file by walking the documented layout.
fn one_segment(dir: &std::path::Path, n: u64) -> (std::path::PathBuf, Vec<(usize, usize)>) {
    let mut s = Spool::open(dir, SpoolConfig::default()).unwrap();
    for i in 0..n {
        s.append(&mut event(i)).unwrap();
    }
    s.close().unwrap();
    let files = segment_files(dir);
    let path = files
        .iter()
        .find(|p| std::fs::metadata(p).unwrap().len() > SEGMENT_HEADER_LEN as u64)
        .unwrap()
        .clone();
    let bytes = std::fs::read(&path).unwrap();
    let mut records = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < bytes.len() {
        assert_eq!(&bytes[pos..pos + 4], b"WREC");
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        records.push((pos, pos + RECORD_HEADER_LEN + len));
        pos += RECORD_HEADER_LEN + len;
    }
    assert_eq!(records.len() as u64, n);
    (path, records)
}

fn tags_after_reopen(dir: &std::path::Path) -> (Vec<u64>, ward_spool::SpoolStats) {
    let mut s = Spool::open(dir, SpoolConfig::default()).unwrap();
    let tags = drain(&mut s).iter().map(tag).collect();
    (tags, s.stats())
}

#[test]
fn torn_last_record_is_truncated_at_every_offset() {
    let probe = tempfile::tempdir().unwrap();
    let (_, records) = one_segment(probe.path(), 5);
    let (start, end) = records[4];
    for cut in start + 1..end {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = one_segment(dir.path(), 5);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let mut s = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
        let st = s.stats();
        assert_eq!(st.damaged_total, 1, "cut at {cut}");
        assert_eq!(st.dropped_total, 1, "cut at {cut}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            start as u64,
            "truncated"
        );
        // The four complete events survive; new appends get fresh ids.
        let id = s.append(&mut event(77)).unwrap();
        assert!(id > 5, "id {id} reused");
        let tags: Vec<u64> = drain(&mut s).iter().map(tag).collect();
        assert_eq!(tags, vec![0, 1, 2, 3, 77], "cut at {cut}");
        s.close().unwrap();
        // Counted once, not again at the next open.
        let (_, st) = tags_after_reopen(dir.path());
        assert_eq!(st.damaged_total, 1);
    }
}

#[test]
fn flipped_byte_in_a_middle_record_is_skipped_and_counted() {
    let probe = tempfile::tempdir().unwrap();
    let (_, records) = one_segment(probe.path(), 6);
    let (start, end) = records[2];
    // Every byte of record 3 (header and payload), one at a time.
    for at in start..end {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = one_segment(dir.path(), 6);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 0x5A;
        std::fs::write(&path, &bytes).unwrap();
        let (tags, st) = tags_after_reopen(dir.path());
        assert_eq!(tags, vec![0, 1, 3, 4, 5], "flip at {at}");
        assert_eq!(st.damaged_total, 1, "flip at {at}");
        assert_eq!(st.dropped_total, 1, "flip at {at}");
        // Counted once: the damaged record is gone from the file.
        let (tags, st) = tags_after_reopen(dir.path());
        assert_eq!((tags.len(), st.damaged_total), (5, 1), "flip at {at}");
    }
}

#[test]
fn damage_found_while_reading_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    for i in 0..6 {
        s.append(&mut event(i)).unwrap();
    }
    s.sync().unwrap();
    // Damage record 2 under the open spool (bit rot).
    let path = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let second = SEGMENT_HEADER_LEN
        + RECORD_HEADER_LEN
        + u32::from_le_bytes(
            bytes[SEGMENT_HEADER_LEN + 4..SEGMENT_HEADER_LEN + 8]
                .try_into()
                .unwrap(),
        ) as usize;
    bytes[second + RECORD_HEADER_LEN + 3] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let tags: Vec<u64> = drain(&mut s).iter().map(tag).collect();
    assert_eq!(tags, vec![0, 2, 3, 4, 5]);
    assert_eq!(s.stats().damaged_records, 1);
    // Reading again does not count it twice.
    let _ = drain(&mut s);
    assert_eq!(s.stats().damaged_records, 1);
}

#[test]
fn deleted_or_garbage_segments_do_not_crash_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    for i in 0..60 {
        s.append(&mut event(i)).unwrap();
    }
    s.close().unwrap();
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    // Delete a middle segment, fill another with garbage.
    std::fs::remove_file(&files[1]).unwrap();
    std::fs::write(&files[0], b"this is not a segment at all, just text").unwrap();
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    let tags: Vec<u64> = drain(&mut s).iter().map(tag).collect();
    assert!(!tags.is_empty());
    assert!(tags.windows(2).all(|w| w[0] < w[1]), "{tags:?}");
    assert_eq!(*tags.last().unwrap(), 59);
    assert!(s.stats().damaged_total >= 1);
    assert!(s.append(&mut event(60)).unwrap() > 60);
}

#[test]
fn unknown_format_version_is_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = one_segment(dir.path(), 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let c = ward_spool::crc32c(&bytes[..12]);
    bytes[12..16].copy_from_slice(&c.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let (tags, st) = tags_after_reopen(dir.path());
    assert!(tags.is_empty());
    assert_eq!(st.damaged_total, 1);
}

#[test]
fn damaged_meta_file_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = one_segment(dir.path(), 4);
    std::fs::write(dir.path().join("spool.meta"), b"{not json").unwrap();
    let mut s = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    // The records are still there; ids continue above them.
    assert_eq!(drain(&mut s).len(), 4);
    assert!(s.append(&mut event(9)).unwrap() > 4);
}
