//! Property: any sequence of appends, acks, clean and crash reopens leaves
//! exactly the unacknowledged events, in order, with ids never reused.

mod common;

use common::*;
use proptest::prelude::*;
use ward_spool::Spool;

#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    Ack(u8),
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..30).prop_map(Op::Append),
        2 => any::<u8>().prop_map(Op::Ack),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn append_ack_reopen_keeps_exactly_the_unacked(ops in proptest::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        // Large enough that nothing is dropped: this property is about acks.
        let cfg = ward_spool::SpoolConfig {
            max_bytes: 1 << 22,
            max_files: 512,
            fsync_interval: std::time::Duration::from_secs(3600),
            ..small_config()
        };
        let mut spool = Spool::open(dir.path(), cfg).unwrap();
        // Model: (id, tag) of every unacked event, and the highest id handed out.
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut max_id = 0u64;
        let mut next_tag = 0u64;
        for op in ops {
            match op {
                Op::Append(n) => {
                    for _ in 0..n {
                        let id = spool.append(&mut event(next_tag)).unwrap();
                        prop_assert!(id > max_id, "id {} not above {}", id, max_id);
                        max_id = id;
                        model.push((id, next_tag));
                        next_tag += 1;
                    }
                }
                Op::Ack(k) => {
                    // Ack up to the k-th waiting event (cumulative), if any.
                    if let Some(&(id, _)) = model.get(k as usize % (model.len() + 1)) {
                        spool.ack(id).unwrap();
                        model.retain(|&(i, _)| i > id);
                    }
                }
                Op::Reopen => {
                    spool.close().unwrap();
                    spool = Spool::open(dir.path(), cfg).unwrap();
                }
                Op::Crash => {
                    // kill -9 after the fsync cadence ran (see
                    // `unsynced_ack_is_resent_after_a_crash` for before).
                    spool.sync().unwrap();
                    std::mem::forget(spool);
                    spool = Spool::open(dir.path(), cfg).unwrap();
                }
            }
            prop_assert_eq!(spool.stats().depth, model.len() as u64);
        }
        spool.close().unwrap();
        let mut spool = Spool::open(dir.path(), cfg).unwrap();
        let got: Vec<(u64, u64)> = drain(&mut spool).iter().map(|e| (e.id, tag(e))).collect();
        prop_assert_eq!(got, model);
        prop_assert!(spool.next_id() > max_id);
    }
}

#[test]
fn unsynced_ack_is_resent_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ward_spool::SpoolConfig {
        fsync_interval: std::time::Duration::from_secs(3600),
        ..small_config()
    };
    let mut spool = Spool::open(dir.path(), cfg).unwrap();
    for n in 0..5 {
        spool.append(&mut event(n)).unwrap();
    }
    spool.sync().unwrap();
    spool.ack(3).unwrap();
    std::mem::forget(spool); // crash before the ack reached spool.meta
    let mut spool = Spool::open(dir.path(), cfg).unwrap();
    // Nothing is lost; acknowledged events may come again (the server drops
    // ids it already stored).
    let ids: Vec<u64> = drain(&mut spool).iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}
