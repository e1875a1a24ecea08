//! Behaviour of the spool through its public API, on real files.

mod common;

use common::*;
use std::time::Duration;
use ward_spool::{Spool, SpoolConfig};

#[test]
fn append_assigns_increasing_ids_and_peek_returns_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(s.append(&mut event(n)).unwrap());
    }
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    let batch = s.peek_unacked(4, 1 << 20).unwrap();
    assert_eq!(
        batch.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(batch.iter().map(tag).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    // Peeking does not consume.
    assert_eq!(s.peek_unacked(1, 1 << 20).unwrap()[0].id, 1);
    assert_eq!(s.peek_after(8, 100, 1 << 20).unwrap().len(), 2);
    s.ack(3).unwrap();
    assert_eq!(s.peek_unacked(100, 1 << 20).unwrap()[0].id, 4);
    let st = s.stats();
    assert_eq!(
        (st.depth, st.acked, st.next_id, st.dropped_total),
        (7, 3, 11, 0)
    );
}

#[test]
fn byte_limit_bounds_a_batch_but_never_starves() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    let one = serde_json::to_vec(&{
        let mut e = event(1);
        e.id = 1;
        e
    })
    .unwrap()
    .len();
    for n in 1..=5 {
        s.append(&mut event(n)).unwrap();
    }
    // Room for two events of this size (ids 1..9 encode to the same length).
    assert_eq!(s.peek_unacked(100, 2 * one + 1).unwrap().len(), 2);
    // A limit below one event still yields one.
    assert_eq!(s.peek_unacked(100, 1).unwrap().len(), 1);
}

#[test]
fn reopen_returns_exactly_the_unacked_events_and_never_reuses_ids() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 1 << 20,
        max_files: 64,
        ..small_config()
    };
    {
        let mut s = Spool::open(dir.path(), cfg).unwrap();
        for n in 0..50 {
            s.append(&mut event(n)).unwrap();
        }
        s.ack(20).unwrap();
        s.close().unwrap();
    }
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    let got = drain(&mut s);
    assert_eq!(
        got.iter().map(|e| e.id).collect::<Vec<_>>(),
        (21..=50).collect::<Vec<_>>()
    );
    assert_eq!(
        got.iter().map(tag).collect::<Vec<_>>(),
        (20..50).collect::<Vec<_>>()
    );
    // Clean close: the sequence continues exactly.
    assert_eq!(s.next_id(), 51);
    s.ack(50).unwrap();
    assert_eq!(s.stats().depth, 0);
    s.close().unwrap();
    // Emptied spool: ids still continue.
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(s.stats().depth, 0);
    assert_eq!(s.append(&mut event(99)).unwrap(), 51);
    // A crash (no close): the next id is above every id handed out.
    std::mem::forget(s);
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    let id = s.append(&mut event(100)).unwrap();
    assert!(id > 51, "id {id} reused after a crash");
    let got = drain(&mut s);
    assert_eq!(got.iter().map(tag).collect::<Vec<_>>(), vec![99, 100]);
}

#[test]
fn acked_segments_are_deleted_and_unacked_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), small_config()).unwrap();
    for n in 0..40 {
        s.append(&mut event(n)).unwrap();
    }
    let before = segment_files(dir.path()).len();
    assert!(before >= 3, "expected several segments, got {before}");
    // Acknowledging part of the first segment deletes nothing.
    s.ack(1).unwrap();
    assert_eq!(segment_files(dir.path()).len(), before);
    s.ack(40).unwrap();
    // Only the active segment is left.
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(s.stats().depth, 0);
    assert!(s.peek_unacked(10, 1 << 20).unwrap().is_empty());
    // An ack beyond the last id is clamped.
    s.ack(1_000).unwrap();
    assert_eq!(s.acked(), 40);
}

#[test]
fn full_spool_drops_the_oldest_counts_it_and_stays_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    let mut last_dropped = 0;
    for n in 0..500 {
        s.append(&mut event(n)).unwrap();
        let files = segment_files(dir.path());
        assert!(files.len() <= cfg.max_files, "{} files", files.len());
        assert!(segment_bytes_on_disk(dir.path()) <= cfg.max_bytes);
        for f in &files {
            assert!(std::fs::metadata(f).unwrap().len() <= cfg.segment_bytes);
        }
        let st = s.stats();
        assert!(st.dropped_total >= last_dropped, "dropped_total decreased");
        last_dropped = st.dropped_total;
        // Nothing is acked: everything appended is either waiting or dropped.
        assert_eq!(st.depth + st.dropped_total, n + 1);
        assert_eq!(st.bytes, segment_bytes_on_disk(dir.path()));
    }
    assert!(last_dropped > 0);
    // The newest data is kept: the waiting events are the last ones, in order.
    let got = drain(&mut s);
    let tags: Vec<u64> = got.iter().map(tag).collect();
    let first = 500 - tags.len() as u64;
    assert_eq!(tags, (first..500).collect::<Vec<_>>());
    s.close().unwrap();
    // dropped_total is persisted.
    let s = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(s.stats().dropped_total, last_dropped);
}

#[test]
fn partially_acked_segment_dropped_counts_only_unacked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let mut s = Spool::open(dir.path(), cfg).unwrap();
    for n in 0..10 {
        s.append(&mut event(n)).unwrap();
    }
    s.ack(3).unwrap();
    for n in 10..400 {
        s.append(&mut event(n)).unwrap();
    }
    let st = s.stats();
    assert_eq!(st.depth + st.dropped_total + 3, 400);
}

#[test]
fn fsync_cadence() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        fsync_interval: Duration::from_secs(3600),
        ..SpoolConfig::default()
    };
    let cfg_zero = SpoolConfig {
        fsync_interval: Duration::ZERO,
        ..SpoolConfig::default()
    };
    let mut every = Spool::open(dir.path().join("a0"), cfg_zero).unwrap();
    every.append(&mut event(1)).unwrap();
    assert!(!every.unsynced(), "interval 0 must sync every append");
    let mut lazy = Spool::open(dir.path().join("b"), cfg).unwrap();
    lazy.append(&mut event(1)).unwrap();
    assert!(lazy.unsynced(), "a 1 h cadence must not sync at once");
    lazy.sync_if_due().unwrap();
    assert!(lazy.unsynced());
    lazy.sync().unwrap();
    assert!(!lazy.unsynced());
    lazy.append(&mut event(2)).unwrap();
    lazy.close().unwrap();
    let mut again = Spool::open(dir.path().join("b"), cfg).unwrap();
    assert_eq!(drain(&mut again).len(), 2);
}

#[test]
fn too_large_events_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), small_config()).unwrap();
    let mut big = event(1);
    if let ward_events::EventData::SshFailed(f) = &mut big.data {
        f.user = "x".repeat(600);
    }
    let mut batch = vec![event(0), big];
    let err = s.append_batch(&mut batch).unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    assert_eq!(s.stats().depth, 0);
    assert_eq!(s.append(&mut event(2)).unwrap(), 1);
    // The caller that cannot spool it counts it as lost: the counter is
    // written at once and survives a crash (no close) and a reopen.
    s.count_lost(1).unwrap();
    assert_eq!(s.stats().dropped_total, 1);
    std::mem::forget(s);
    let s = Spool::open(dir.path(), small_config()).unwrap();
    assert_eq!(s.stats().dropped_total, 1);
    assert_eq!(s.stats().depth, 1);
}

#[test]
fn invalid_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for cfg in [
        SpoolConfig {
            max_files: 1,
            ..SpoolConfig::default()
        },
        SpoolConfig {
            max_bytes: 4 * 1024 * 1024,
            ..SpoolConfig::default()
        },
        SpoolConfig {
            segment_bytes: 1024,
            ..SpoolConfig::default()
        },
    ] {
        assert!(!cfg.problems().is_empty());
        assert!(Spool::open(dir.path(), cfg).is_err());
    }
    assert!(SpoolConfig::default().problems().is_empty());
}
