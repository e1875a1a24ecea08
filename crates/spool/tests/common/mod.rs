#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::time::Duration;

use ward_events::{Event, EventData, SshFailed};
use ward_spool::SpoolConfig;

/// A distinct event: `n` is carried in the user name and the time.
pub fn event(n: u64) -> Event {
    Event::new(
        1_700_000_000_000 + n as i64,
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: format!("user{n}"),
            src_ip: "192.0.2.7".parse().unwrap(),
            src_port: 22,
            method: "password".into(),
            invalid_user: false,
        }),
    )
}

/// The `n` an event was built from.
pub fn tag(e: &Event) -> u64 {
    (e.host_time_ms - 1_700_000_000_000) as u64
}

pub fn small_config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 8 * 1024,
        segment_bytes: 2 * 1024,
        max_files: 4,
        max_record_bytes: 512,
        fsync_interval: Duration::ZERO,
    }
}

pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

pub fn segment_bytes_on_disk(dir: &Path) -> u64 {
    segment_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

pub fn drain(spool: &mut ward_spool::Spool) -> Vec<Event> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = spool.peek_after(after, 7, 64 * 1024).unwrap();
        let Some(last) = batch.last() else { break };
        after = last.id;
        out.extend(batch);
    }
    out
}
