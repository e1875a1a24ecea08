//! Any bytes as a spool segment file: the decoder and the recovery of
//! `ward-spool` never panic, report consistent positions, and a spool
//! recovered from such a file stays usable (append, read, acknowledge).
//! Inputs whose first byte is even get a valid segment header in front, so
//! the record decoder is reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_events::{Event, EventData, SessionClosed};
use ward_spool::format::{decode_record, scan_segment, segment_header, Decoded};
use ward_spool::{Spool, SpoolConfig};

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::with_capacity(data.len() + 16);
    if data.first().is_some_and(|b| b % 2 == 0) {
        bytes.extend_from_slice(&segment_header());
        bytes.extend_from_slice(&data[1..]);
    } else {
        bytes.extend_from_slice(data);
    }
    let Ok(scan) = scan_segment(&bytes) else {
        return check_recovery(&bytes);
    };
    assert!(scan.valid_end as usize <= bytes.len());
    assert_eq!(scan.count == 0, scan.first_id.is_none());
    if let (Some(a), Some(b)) = (scan.first_id, scan.last_id) {
        assert!(a <= b);
        assert!(scan.count <= b - a + 1);
    }
    let mut prev_end = 0u64;
    for &(a, b) in &scan.bad_regions {
        assert!(a < b && a >= prev_end && b as usize <= bytes.len());
        prev_end = b;
    }
    // Payloads that pass the checksum decode as events or are refused, never panic.
    let mut pos = 16usize;
    while pos < scan.valid_end as usize {
        match decode_record(&bytes[pos..scan.valid_end as usize]) {
            Decoded::Record { payload, total, .. } => {
                let _ = serde_json::from_slice::<Event>(payload);
                pos += total;
            }
            _ => match scan.bad_regions.iter().find(|r| r.0 as usize == pos) {
                Some(&(_, b)) => pos = b as usize,
                None => break,
            },
        }
    }
    check_recovery(&bytes);
});

/// Opens a spool whose only segment holds `bytes`, then uses it.
fn check_recovery(bytes: &[u8]) {
    // tmpfs when there is one: fsync is free there, which keeps runs fast.
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("ward-fuzz-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("00000000000000000001.seg"), bytes).unwrap();
    let cfg = SpoolConfig {
        fsync_interval: std::time::Duration::from_secs(3600),
        ..SpoolConfig::default()
    };
    let mut spool = Spool::open(&dir, cfg).unwrap();
    let before = spool.stats();
    let mut ev = Event::new(
        1,
        "fuzz",
        EventData::SessionClosed(SessionClosed {
            service: "sshd".into(),
            user: "u".into(),
        }),
    );
    let id = spool.append(&mut ev).unwrap();
    assert!(id >= before.next_id);
    let mut after = 0;
    let mut seen = 0u64;
    loop {
        let batch = spool.peek_after(after, 100, 1 << 20).unwrap();
        let Some(last) = batch.last() else { break };
        assert!(batch.windows(2).all(|w| w[0].id < w[1].id));
        assert!(last.id > after);
        after = last.id;
        seen += batch.len() as u64;
    }
    assert_eq!(after, id, "the appended event is the newest");
    assert!(seen >= 1 && seen <= before.depth + 1);
    spool.ack(id).unwrap();
    assert_eq!(spool.stats().depth, 0);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}
