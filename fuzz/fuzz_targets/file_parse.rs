//! The file collector's pure parsers on any bytes: fanotify and inotify
//! event buffers, the baseline file (a parsed baseline formats back to
//! itself), account databases and dpkg's status conffiles, and the state
//! diff on states derived from the input. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_collect_files::classify::Category;
use ward_collect_files::diff::diff;
use ward_collect_files::state::{line_hashes, FileState, Kind};
use ward_collect_files::watch::{fanotify, inotify};
use ward_collect_files::{baseline, pkg};
use ward_hostinfo::accounts::{parse_group, parse_passwd, parse_shadow};

fuzz_target!(|data: &[u8]| {
    for r in fanotify::parse(data) {
        assert!(r.dir_key.len() <= 8 + 4 + 128);
    }
    for r in inotify::parse(data) {
        assert!(r.name.len() <= data.len());
    }
    if let Ok(b) = baseline::parse(data) {
        let text = baseline::format(&b);
        assert_eq!(baseline::parse(text.as_bytes()), Ok(b));
    }
    // Two states from the input: the diff never panics and is consistent.
    let half = data.len() / 2;
    let st = |c: &[u8], mode: u32| FileState {
        kind: if c.first().is_some_and(|b| b % 2 == 0) { Kind::File } else { Kind::Symlink },
        size: c.len() as u64,
        mode,
        uid: 0,
        gid: 0,
        mtime_ns: 0,
        ctime_ns: 0,
        dev: 1,
        ino: c.len() as u64,
        sha256: Some([c.len() as u8; 32]),
        lines: Some(line_hashes(c)),
        link: None,
    };
    let (a, b) = (&data[..half], &data[half..]);
    let (old, new) = (st(a, 0o644), st(b, u32::from(data.first().copied().unwrap_or(0)) & 0o7777));
    if let Some((_, f)) = diff("/etc/cron.d/x", Category::Cron, Some(&old), Some(&new), Some(b)) {
        assert!(f.added.lines().count() <= ward_events::MAX_ADDED_LINES);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_passwd(text);
    let _ = parse_group(text);
    for s in parse_shadow(text) {
        assert_eq!(s.digest.len(), 16);
    }
    let _ = pkg::conffiles(text);
});
