//! `wtmp`/`btmp` records (glibc `struct utmp`, 384 bytes on Linux x86_64,
//! i686 and aarch64) and the login events they mean. Pure functions.
//!
//! ```text
//! off size field
//!   0   2  ut_type (short) + 2 bytes padding
//!   4   4  ut_pid
//!   8  32  ut_line   (tty, e.g. "pts/0", "ssh:notty")
//!  40   4  ut_id
//!  44  32  ut_user
//!  76 256  ut_host   (remote host or address)
//! 332   4  ut_exit   (e_termination, e_exit)
//! 336   4  ut_session
//! 340   8  ut_tv     (tv_sec i32, tv_usec i32)
//! 348  16  ut_addr_v6 (IPv4 in the first word)
//! 364  20  reserved
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ward_events::{Event, EventData, PamFailed, SessionOpened};

/// Size of one record.
pub const UTMP_SIZE: usize = 384;

/// `ut_type` values that matter here.
pub const LOGIN_PROCESS: i16 = 6;
pub const USER_PROCESS: i16 = 7;

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtmpRecord {
    pub ut_type: i16,
    pub pid: i32,
    pub line: String,
    pub user: String,
    pub host: String,
    /// Seconds and microseconds since the epoch.
    pub time_ms: i64,
    /// `ut_addr_v6` when set.
    pub addr: Option<IpAddr>,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_ne_bytes(a)
}

/// Decodes one record; `None` when `rec` is not exactly [`UTMP_SIZE`] bytes.
pub fn parse_record(rec: &[u8]) -> Option<UtmpRecord> {
    if rec.len() != UTMP_SIZE {
        return None;
    }
    let ut_type = i16::from_ne_bytes([rec[0], rec[1]]);
    let secs = i64::from(i32_at(rec, 340));
    let usecs = i64::from(i32_at(rec, 344)).clamp(0, 999_999);
    let words = [
        i32_at(rec, 348),
        i32_at(rec, 352),
        i32_at(rec, 356),
        i32_at(rec, 360),
    ];
    let addr = if words == [0; 4] {
        None
    } else if words[1..] == [0; 3] {
        // IPv4: the address bytes in network order, as stored.
        Some(IpAddr::V4(Ipv4Addr::from(words[0].to_ne_bytes())))
    } else {
        let mut b = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    };
    Some(UtmpRecord {
        ut_type,
        pid: i32_at(rec, 4),
        line: cstr(&rec[8..40]),
        user: cstr(&rec[44..76]),
        host: cstr(&rec[76..332]),
        time_ms: secs * 1000 + usecs / 1000,
        addr,
    })
}

/// Which file a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UtmpKind {
    /// `wtmp`: logins and logouts.
    Wtmp,
    /// `btmp`: failed logins.
    Btmp,
}

/// The event a record means, if any:
/// * `wtmp` `USER_PROCESS` (a login) → `auth.session_opened`, service
///   `sshd` when the tty is `ssh…` or a remote host is set, else `login`;
/// * every `btmp` record with a user → `auth.pam_failed` (a failed login),
///   with the remote host / address and the tty.
pub fn to_event(rec: &UtmpRecord, kind: UtmpKind, source: &str) -> Option<Event> {
    if rec.user.is_empty() {
        return None;
    }
    let remote_ip = rec.addr.or_else(|| rec.host.parse().ok());
    let service = if rec.line.starts_with("ssh") || !rec.host.is_empty() {
        "sshd"
    } else {
        "login"
    };
    let data = match kind {
        UtmpKind::Wtmp if rec.ut_type == USER_PROCESS => EventData::SessionOpened(SessionOpened {
            service: service.into(),
            user: rec.user.clone(),
            by_user: None,
        }),
        UtmpKind::Wtmp => return None,
        UtmpKind::Btmp => EventData::PamFailed(PamFailed {
            service: service.into(),
            user: Some(rec.user.clone()),
            ruser: None,
            rhost: (!rec.host.is_empty()).then(|| rec.host.clone()),
            src_ip: remote_ip,
            tty: (!rec.line.is_empty()).then(|| rec.line.clone()),
        }),
    };
    let mut ev = Event::new(rec.time_ms, source, data);
    let mut raw = format!(
        "type={} pid={} line={} user={}",
        rec.ut_type, rec.pid, rec.line, rec.user
    );
    if !rec.host.is_empty() {
        raw.push_str(" host=");
        raw.push_str(&rec.host);
    }
    ev.set_raw(&raw);
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a record byte by byte, following the documented offsets.
    fn record(
        ut_type: i16,
        line: &str,
        user: &str,
        host: &str,
        secs: i32,
        addr: [u8; 16],
    ) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_SIZE];
        r[0..2].copy_from_slice(&ut_type.to_ne_bytes());
        r[4..8].copy_from_slice(&4242i32.to_ne_bytes());
        r[8..8 + line.len()].copy_from_slice(line.as_bytes());
        r[40..44].copy_from_slice(b"ts/0");
        r[44..44 + user.len()].copy_from_slice(user.as_bytes());
        r[76..76 + host.len()].copy_from_slice(host.as_bytes());
        r[340..344].copy_from_slice(&secs.to_ne_bytes());
        r[344..348].copy_from_slice(&250_000i32.to_ne_bytes());
        r[348..364].copy_from_slice(&addr);
        r
    }

    #[test]
    fn decodes_a_wtmp_login() {
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 10]);
        let r = record(
            USER_PROCESS,
            "pts/3",
            "alice",
            "192.0.2.10",
            1_700_000_000,
            v4,
        );
        let rec = parse_record(&r).unwrap();
        assert_eq!(rec.ut_type, 7);
        assert_eq!(rec.pid, 4242);
        assert_eq!(rec.line, "pts/3");
        assert_eq!(rec.user, "alice");
        assert_eq!(rec.host, "192.0.2.10");
        assert_eq!(rec.time_ms, 1_700_000_000_250);
        assert_eq!(rec.addr, Some("192.0.2.10".parse().unwrap()));
        let ev = to_event(&rec, UtmpKind::Wtmp, "/var/log/wtmp").unwrap();
        assert_eq!(ev.kind(), "auth.session_opened");
        assert_eq!(ev.host_time_ms, 1_700_000_000_250);
        assert_eq!(ev.source, "/var/log/wtmp");
        match &ev.data {
            EventData::SessionOpened(s) => {
                assert_eq!((s.service.as_str(), s.user.as_str()), ("sshd", "alice"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_a_btmp_failure_with_ipv6() {
        let addr: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let r = record(
            LOGIN_PROCESS,
            "ssh:notty",
            "root",
            "2001:db8::7",
            1_700_000_100,
            addr.octets(),
        );
        let rec = parse_record(&r).unwrap();
        assert_eq!(rec.addr, Some(IpAddr::V6(addr)));
        let ev = to_event(&rec, UtmpKind::Btmp, "/var/log/btmp").unwrap();
        assert_eq!(ev.kind(), "auth.pam_failed");
        match &ev.data {
            EventData::PamFailed(p) => {
                assert_eq!(p.service, "sshd");
                assert_eq!(p.user.as_deref(), Some("root"));
                assert_eq!(p.rhost.as_deref(), Some("2001:db8::7"));
                assert_eq!(p.src_ip, Some(IpAddr::V6(addr)));
                assert_eq!(p.tty.as_deref(), Some("ssh:notty"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_records_yield_nothing() {
        // Logout (DEAD_PROCESS, no user), boot record, wrong size.
        let dead = record(8, "pts/3", "", "", 1, [0; 16]);
        assert!(to_event(&parse_record(&dead).unwrap(), UtmpKind::Wtmp, "w").is_none());
        let boot = record(2, "~", "reboot", "6.1.0", 1, [0; 16]);
        assert!(to_event(&parse_record(&boot).unwrap(), UtmpKind::Wtmp, "w").is_none());
        assert!(parse_record(&dead[..383]).is_none());
        // A console login has service `login` and no address.
        let console = record(USER_PROCESS, "tty1", "bob", "", 5, [0; 16]);
        let ev = to_event(&parse_record(&console).unwrap(), UtmpKind::Wtmp, "w").unwrap();
        assert!(matches!(&ev.data, EventData::SessionOpened(s) if s.service == "login"));
        // Fields are NUL-terminated even when garbage follows the NUL.
        let mut r = record(USER_PROCESS, "pts/1", "eve", "", 5, [0; 16]);
        r[48] = b'X'; // after "eve\0"
        assert_eq!(parse_record(&r).unwrap().user, "eve");
    }
}
