//! Regression tests, one per format variant of issue 6, plus log injection.
//! Expected values are written from the log lines by hand.

use super::*;
use std::net::IpAddr;
use ward_events::{EventData, SshFailed, SudoFailure};

fn ctx() -> ParseContext<'static> {
    ParseContext::new(2026, "/var/log/auth.log")
}

fn one(line: &str) -> Event {
    let mut p = parse_line(line, &ctx());
    assert_eq!(p.len(), 1, "{line}");
    p.next().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn failed(e: &Event) -> &SshFailed {
    match &e.data {
        EventData::SshFailed(f) => f,
        other => panic!("not ssh_failed: {other:?}"),
    }
}

// date -u -d '2026-12-10 06:55:48' +%s → 1796885748
const DEC10_065548: i64 = 1_796_885_748_000;

#[test]
fn variant_classic_syslog_timestamp() {
    let e = one("Dec 10 06:55:48 web-1 sshd[24200]: Failed password for root from 192.0.2.7 port 38926 ssh2");
    assert_eq!(e.host_time_ms, DEC10_065548);
    assert_eq!(e.host, "web-1");
    assert_eq!(e.source, "/var/log/auth.log");
    let f = failed(&e);
    assert_eq!(
        (f.user.as_str(), f.src_ip, f.src_port),
        ("root", ip("192.0.2.7"), 38926)
    );
    assert_eq!((f.method.as_str(), f.invalid_user), ("password", false));
}

#[test]
fn variant_rfc3339_timestamp() {
    let e = one("2026-12-10T07:55:48.250000+01:00 web-1 sshd[7]: Failed password for root from 192.0.2.7 port 22 ssh2");
    assert_eq!(e.host_time_ms, DEC10_065548 + 250);
}

#[test]
fn variant_sshd_session_process_name_without_pid() {
    let e = one(
        "Dec 10 06:55:48 web-1 sshd-session: Failed password for root from 192.0.2.7 port 22 ssh2",
    );
    assert_eq!(failed(&e).src_ip, ip("192.0.2.7"));
    let e = one("Dec 10 06:55:48 web-1 sshd-session[991]: Accepted publickey for alice from 198.51.100.4 port 50022 ssh2: ED25519 SHA256:AbCd");
    match e.data {
        EventData::SshAccepted(a) => {
            assert_eq!(a.user, "alice");
            assert_eq!(a.method, "publickey");
            assert_eq!(a.src_port, 50022);
            assert_eq!(a.key.as_deref(), Some("ED25519 SHA256:AbCd"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn variant_ipv6_source() {
    let e = one("Dec 10 06:55:48 web-1 sshd[1]: Failed password for invalid user oracle from 2001:db8::25 port 40022 ssh2");
    let f = failed(&e);
    assert_eq!((f.user.as_str(), f.invalid_user), ("oracle", true));
    assert_eq!(f.src_ip, ip("2001:db8::25"));
    let e = one("Dec 10 06:55:48 web-1 sshd[1]: Invalid user oracle from 2001:db8::25 port 40022");
    match e.data {
        EventData::SshInvalidUser(i) => {
            assert_eq!(i.src_ip, ip("2001:db8::25"));
            assert_eq!(i.src_port, Some(40022));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn variant_message_repeated_yields_n_events() {
    let line = "Dec 10 06:55:48 web-1 sshd[24227]: message repeated 5 times: [ Failed password for root from 192.0.2.9 port 42393 ssh2]";
    let events: Vec<Event> = parse_line(line, &ctx()).collect();
    assert_eq!(events.len(), 5);
    for e in &events {
        assert_eq!(failed(e).src_ip, ip("192.0.2.9"));
        assert_eq!(failed(e).src_port, 42393);
    }
    // Counts are capped; nested repeats are not a format.
    let big = "Dec 10 06:55:48 h sshd[1]: message repeated 999999999 times: [ Failed password for root from 192.0.2.9 port 1 ssh2]";
    assert_eq!(parse_line(big, &ctx()).len(), MAX_REPEAT as usize);
    let nested = "Dec 10 06:55:48 h sshd[1]: message repeated 2 times: [ message repeated 2 times: [ Failed password for root from 192.0.2.9 port 1 ssh2]]";
    assert!(parse_line(nested, &ctx()).is_empty());
}

#[test]
fn log_injection_in_user_name_does_not_move_the_source() {
    // The attacker at 198.51.100.7 picks the user name
    // "x from 192.0.2.1 port 22 ssh2"; sshd writes the real address last.
    let e = one("Dec 10 06:55:48 h sshd[1]: Failed password for invalid user x from 192.0.2.1 port 22 ssh2 from 198.51.100.7 port 5555 ssh2");
    let f = failed(&e);
    assert_eq!(f.src_ip, ip("198.51.100.7"));
    assert_eq!(f.src_port, 5555);
    assert_eq!(f.user, "x from 192.0.2.1 port 22 ssh2");
    let e = one("Dec 10 06:55:48 h sshd[1]: Invalid user a from 192.0.2.1 port 22 from 198.51.100.7 port 5555");
    match e.data {
        EventData::SshInvalidUser(i) => {
            assert_eq!(i.src_ip, ip("198.51.100.7"));
            assert_eq!(i.user, "a from 192.0.2.1 port 22");
        }
        other => panic!("{other:?}"),
    }
    let e = one("Dec 10 06:55:48 h sshd[1]: Connection closed by invalid user b 192.0.2.1 port 22 198.51.100.7 port 5555 [preauth]");
    match e.data {
        EventData::SshPreauthDisconnect(d) => {
            assert_eq!(d.src_ip, ip("198.51.100.7"));
            assert_eq!(d.user, "b 192.0.2.1 port 22");
        }
        other => panic!("{other:?}"),
    }
    // A crafted name that makes the real tail malformed yields no event
    // rather than an event with a guessed source.
    assert!(parse_line(
        "Dec 10 06:55:48 h sshd[1]: Failed password for x from 192.0.2.1 port 22 ssh2 trailing",
        &ctx()
    )
    .is_empty());
    // A crafted PAM user cannot fake rhost.
    let e = one("Dec 10 06:55:48 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=x rhost=192.0.2.1");
    match e.data {
        EventData::PamFailed(p) => {
            assert_eq!(p.src_ip, Some(ip("198.51.100.7")));
            assert_eq!(p.user.as_deref(), Some("x rhost=192.0.2.1"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn su_and_sudo_failures() {
    let e = one("Dec 10 06:55:48 h su[4242]: FAILED SU (to root) alice on pts/0");
    match e.data {
        EventData::SuFailed(s) => {
            assert_eq!((s.user.as_str(), s.target_user.as_str()), ("alice", "root"));
            assert_eq!(s.tty.as_deref(), Some("pts/0"));
        }
        other => panic!("{other:?}"),
    }
    let line = "Dec 10 06:55:48 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u";
    let events: Vec<Event> = parse_line(line, &ctx()).collect();
    assert_eq!(events.len(), 3);
    match &events[0].data {
        EventData::SudoFailed(s) => {
            assert_eq!(s.user, "alice");
            assert_eq!(s.reason, SudoFailure::IncorrectPassword);
            assert_eq!(s.tty.as_deref(), Some("pts/1"));
            assert_eq!(s.pwd.as_deref(), Some("/home/alice"));
            assert_eq!(s.target_user.as_deref(), Some("root"));
            assert_eq!(s.command.as_deref(), Some("/usr/bin/id -u"));
        }
        other => panic!("{other:?}"),
    }
    let e = one("Dec 10 06:55:48 h sudo: bob : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh");
    match e.data {
        EventData::SudoFailed(s) => assert_eq!(s.reason, SudoFailure::NotInSudoers),
        other => panic!("{other:?}"),
    }
    // A successful sudo is not a failure.
    assert!(parse_line(
        "Dec 10 06:55:48 h sudo:    alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
        &ctx()
    )
    .is_empty());
}

#[test]
fn non_auth_lines_yield_nothing() {
    for line in [
        "Dec 10 06:55:48 h sshd[1]: Received disconnect from 192.0.2.1 port 22:11: Bye Bye [preauth]",
        "Dec 10 06:55:48 h sshd[1]: Server listening on 0.0.0.0 port 22.",
        "Dec 10 06:55:48 h kernel: Failed password for root from 192.0.2.1 port 22 ssh2",
        "Dec 10 06:55:48 h CRON[5]: (root) CMD (run-parts /etc/cron.hourly)",
        "Dec 10 06:55:48 h sshd[1]: Failed password for root from 192.0.2.300 port 22 ssh2",
        "Dec 10 06:55:48 h sshd[1]: Failed password for root from 192.0.2.3 port 70000 ssh2",
        "Dec 10 06:55:48 h sshd[1]: Accepted password for invalid user x from 192.0.2.3 port 7 ssh2",
        "not a syslog line",
        "",
    ] {
        assert!(parse_line(line, &ctx()).is_empty(), "{line}");
    }
}

#[test]
fn raw_line_is_kept_only_on_request() {
    let line =
        "Dec 10 06:55:48 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\r\n";
    assert_eq!(one(line).raw, None);
    let mut c = ctx();
    c.keep_raw = true;
    let e = parse_line(line, &c).next().unwrap();
    assert_eq!(e.raw.as_deref(), Some(line.trim_end()));
}
