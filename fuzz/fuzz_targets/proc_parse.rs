//! The process collector's pure parsers on any bytes: `/proc/PID/stat`,
//! `status`, `cmdline`, `loginuid`, executable and descriptor links,
//! `/proc/net/{tcp,tcp6,udp,unix}` tables, netlink process connector and
//! `sock_diag` datagrams. Never panics; outputs respect their bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_collect_proc::netlink::{parse_datagram, ProcEvent};
use ward_collect_proc::parse::{
    classify_fd, fmt_addr, parse_cmdline, parse_exe_link, parse_loginuid, parse_net_sockets,
    parse_stat, parse_status_uid, parse_unix_inodes, MAX_CMDLINE,
};

fuzz_target!(|data: &[u8]| {
    // sock_diag dump datagrams.
    let chunk = ward_collect_proc::sockdiag::parse(data);
    assert!(chunk.entries.len() <= data.len() / 88 + 1);
    // Netlink: every datagram, whatever it holds.
    for e in parse_datagram(data) {
        if let ProcEvent::Fork { parent, child } = e {
            let _ = (parent, child);
        }
    }
    let cmd = parse_cmdline(data);
    assert!(cmd.len() <= MAX_CMDLINE);
    assert!(!cmd.contains('\0'));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(s) = parse_stat(text) {
        // The numbers came from the text after the last ')'.
        assert!(text.contains(')'));
        let _ = s.utime.checked_add(s.stime);
    }
    let _ = parse_status_uid(text);
    if let Some(uid) = parse_loginuid(text) {
        assert_ne!(uid, u32::MAX);
    }
    let (path, deleted, memfd) = parse_exe_link(text);
    assert!(path.len() <= text.len());
    assert!(!memfd || path.starts_with("/memfd:"));
    assert!(!deleted || text.ends_with(" (deleted)"));
    let _ = classify_fd(text);
    for e in parse_net_sockets(text) {
        let _ = fmt_addr(e.local);
        let _ = fmt_addr(e.remote);
    }
    let _ = parse_unix_inodes(text);
});
