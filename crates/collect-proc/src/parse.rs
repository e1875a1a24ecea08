//! Pure parsers of `/proc` files (fuzzed: `fuzz/fuzz_targets/proc_parse.rs`).
//! None of them panics or allocates without bound on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ward_events::FdKind;

/// Longest command line kept, bytes.
pub const MAX_CMDLINE: usize = 4096;

/// The fields of `/proc/PID/stat` the collector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// The command name (`comm`, at most 15 bytes); an exec changes it.
    pub comm: [u8; 16],
    /// `R`, `S`, `Z`, ...
    pub state: char,
    pub ppid: u32,
    /// User and system time, clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// Start time after boot, clock ticks (with the pid, identifies a process).
    pub start_time: u64,
    /// `PF_KTHREAD` in `flags`: a kernel thread.
    pub kernel_thread: bool,
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses
/// and may hold spaces and `)`: the fields after it start after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let pid: u32 = text[..open].trim().parse().ok()?;
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state).
    let field = |n: usize| rest.get(n - 3).copied();
    let state = field(3)?.chars().next()?;
    let num = |n: usize| field(n).and_then(|v| v.parse::<u64>().ok());
    const PF_KTHREAD: u64 = 0x0020_0000;
    let mut comm = [0u8; 16];
    let name = text.get(open + 1..close)?.as_bytes();
    let n = name.len().min(16);
    comm[..n].copy_from_slice(&name[..n]);
    Some(Stat {
        pid,
        comm,
        state,
        ppid: u32::try_from(num(4)?).ok()?,
        utime: num(14)?,
        stime: num(15)?,
        start_time: num(22)?,
        kernel_thread: num(9).is_some_and(|f| f & PF_KTHREAD != 0),
    })
}

/// The real uid from the `Uid:` line of `/proc/PID/status`.
pub fn parse_status_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `/proc/PID/cmdline`: NUL-separated arguments joined by spaces, cut at
/// [`MAX_CMDLINE`] bytes (at a character boundary), invalid UTF-8 replaced.
pub fn parse_cmdline(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_CMDLINE)];
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    // Arguments are NUL-terminated; a process may rewrite its argv.
    let trimmed = s.trim_end_matches('\0').len();
    s.truncate(trimmed);
    let joined = s.replace('\0', " ");
    let s = redact_secrets(&joined);
    ward_events::truncate_at_char(&s, MAX_CMDLINE).to_string()
}

/// Options whose value is a secret. Ward's own install command carries the
/// verification key as `--key KEY`, and a process running it when the agent
/// starts would otherwise put the key in the spool and the server's events:
/// the key must not be kept after enrollment.
pub const SECRET_OPTIONS: [&str; 5] = ["--key", "--token", "--password", "--passwd", "--secret"];

/// What replaces a secret option's value.
pub const REDACTED: &str = "<redacted>";

/// Replaces the value of every [`SECRET_OPTIONS`] option in a command line
/// (`--key VALUE` and `--key=VALUE`, also inside a `sh -c` script) with
/// [`REDACTED`].
pub fn redact_secrets(cmdline: &str) -> std::borrow::Cow<'_, str> {
    if !SECRET_OPTIONS.iter().any(|o| cmdline.contains(o)) {
        return std::borrow::Cow::Borrowed(cmdline);
    }
    let mut out = String::with_capacity(cmdline.len());
    let mut redact_next = false;
    for (i, word) in cmdline.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if redact_next && !word.is_empty() {
            out.push_str(REDACTED);
            redact_next = false;
            continue;
        }
        if let Some((opt, _)) = word.split_once('=') {
            if SECRET_OPTIONS.contains(&opt) {
                out.push_str(opt);
                out.push('=');
                out.push_str(REDACTED);
                continue;
            }
        }
        redact_next = redact_next || SECRET_OPTIONS.contains(&word);
        out.push_str(word);
    }
    std::borrow::Cow::Owned(out)
}

/// `/proc/PID/loginuid`: `None` for the unset value (`4294967295`).
pub fn parse_loginuid(text: &str) -> Option<u32> {
    let v: u32 = text.trim().parse().ok()?;
    (v != u32::MAX).then_some(v)
}

/// An executable link (`/proc/PID/exe`): the path, whether it was deleted,
/// and whether it is a memfd (`/memfd:name (deleted)`).
pub fn parse_exe_link(link: &str) -> (String, bool, bool) {
    let (path, deleted) = match link.strip_suffix(" (deleted)") {
        Some(p) => (p, true),
        None => (link, false),
    };
    let memfd = path.starts_with("/memfd:");
    (path.to_string(), deleted, memfd)
}

/// What a descriptor link (`/proc/PID/fd/N`) is, and the socket inode for
/// `socket:[N]`.
pub fn classify_fd(link: &str) -> (FdKind, Option<u64>) {
    if let Some(ino) = link
        .strip_prefix("socket:[")
        .and_then(|r| r.strip_suffix(']'))
    {
        return (FdKind::Socket, ino.parse().ok());
    }
    if link.starts_with("pipe:[") {
        return (FdKind::Pipe, None);
    }
    if link == "/dev/null" {
        return (FdKind::Null, None);
    }
    if link.starts_with("/dev/pts/")
        || link.starts_with("/dev/tty")
        || link == "/dev/console"
        || link == "/dev/ptmx"
    {
        return (FdKind::Tty, None);
    }
    if link.starts_with('/') {
        return (FdKind::File, None);
    }
    (FdKind::Other, None)
}

/// TCP states of `/proc/net/tcp` (hex `st` column).
pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_SYN_SENT: u8 = 0x02;
pub const TCP_LISTEN: u8 = 0x0A;

/// One socket line of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockEntry {
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub state: u8,
    pub uid: u32,
    pub inode: u64,
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6), in the kernel's
/// host-order 32-bit words, then the port in hex.
fn parse_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok();
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?.to_ne_bytes())),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = word(ip.get(i * 8..i * 8 + 8)?)?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            // Show v4-mapped peers of dual-stack sockets as IPv4.
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parses a socket table; the header and malformed lines are skipped.
pub fn parse_net_sockets(text: &str) -> Vec<SockEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || !f[0].ends_with(':') {
                return None;
            }
            Some(SockEntry {
                local: parse_addr(f[1])?,
                remote: parse_addr(f[2])?,
                state: u8::from_str_radix(f[3], 16).ok()?,
                uid: f[7].parse().ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// `ip:port`, with brackets for IPv6.
pub fn fmt_addr((ip, port): (IpAddr, u16)) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// The inode of one `/proc/net/unix` line (the `Inode` column).
pub fn parse_unix_inode(line: &str) -> Option<u64> {
    line.split_whitespace().nth(6)?.parse().ok()
}

/// Inodes of `/proc/net/unix` (the header line is skipped).
pub fn parse_unix_inodes(text: &str) -> Vec<u64> {
    text.lines().skip(1).filter_map(parse_unix_inode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_command_name() {
        let text = "4242 (a) b) (c) S 100 4242 4242 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 123456 1000 10 18446744073709551615";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(&s.comm[..7], b"a) b) (");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 100);
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(s.start_time, 123456);
        assert!(!s.kernel_thread);
        let k = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0";
        assert!(parse_stat(k).unwrap().kernel_thread);
        for bad in ["", "x", "1 (a", "1 a) S", ") (", "1 (a) S"] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn status_uid_and_loginuid() {
        assert_eq!(
            parse_status_uid("Name:\tbash\nUid:\t1000\t0\t0\t0\nGid:\t1\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid("Name: x\n"), None);
        assert_eq!(parse_loginuid("4294967295"), None);
        assert_eq!(parse_loginuid("1000\n"), Some(1000));
        assert_eq!(parse_loginuid("x"), None);
    }

    #[test]
    fn cmdline_joins_arguments_and_is_bounded() {
        assert_eq!(parse_cmdline(b"bash\0-i\0"), "bash -i");
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            "nginx: worker process"
        );
        assert_eq!(parse_cmdline(b""), "");
        assert_eq!(parse_cmdline(b"a\xff\0"), "a\u{fffd}");
        let long = vec![b'x'; 10_000];
        assert_eq!(parse_cmdline(&long).len(), MAX_CMDLINE);
        // A multi-byte character across the cut.
        let mut cut = vec![b'a'; MAX_CMDLINE - 1];
        cut.extend_from_slice("é".as_bytes());
        assert!(parse_cmdline(&cut).len() <= MAX_CMDLINE);
    }

    #[test]
    fn secret_option_values_are_redacted() {
        // Ward's printed install command, as sh sees it.
        assert_eq!(
            parse_cmdline(
                b"sh\0-c\0$(curl -fsSk https://h/install.sh)\0ward-install\0--server\0https://h\0--key\0'wk_s3cret'\0--platform\0linux-x86_64\0"
            ),
            "sh -c $(curl -fsSk https://h/install.sh) ward-install --server https://h --key <redacted> --platform linux-x86_64"
        );
        assert_eq!(
            parse_cmdline(b"ward-agent\0install\0--key=good-key\0--token\0wut1.abc\0"),
            "ward-agent install --key=<redacted> --token <redacted>"
        );
        // Inside one argument (a script), and a trailing option with no value.
        assert_eq!(
            redact_secrets("bash -c tool --password  hunter2 --other x"),
            "bash -c tool --password  <redacted> --other x"
        );
        assert_eq!(redact_secrets("prog --key"), "prog --key");
        // Look-alikes are kept.
        assert_eq!(
            redact_secrets("gpg --keyring k --key-file f --keys"),
            "gpg --keyring k --key-file f --keys"
        );
        assert!(matches!(
            redact_secrets("bash -i"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn exe_links_and_descriptor_kinds() {
        assert_eq!(
            parse_exe_link("/tmp/x (deleted)"),
            ("/tmp/x".into(), true, false)
        );
        assert_eq!(
            parse_exe_link("/memfd:payload (deleted)"),
            ("/memfd:payload".into(), true, true)
        );
        assert_eq!(
            parse_exe_link("/usr/bin/bash"),
            ("/usr/bin/bash".into(), false, false)
        );
        assert_eq!(classify_fd("socket:[4242]"), (FdKind::Socket, Some(4242)));
        assert_eq!(classify_fd("socket:[x]"), (FdKind::Socket, None));
        assert_eq!(classify_fd("pipe:[1]").0, FdKind::Pipe);
        assert_eq!(classify_fd("/dev/null").0, FdKind::Null);
        assert_eq!(classify_fd("/dev/pts/3").0, FdKind::Tty);
        assert_eq!(classify_fd("/var/log/x.log").0, FdKind::File);
        assert_eq!(classify_fd("anon_inode:[eventfd]").0, FdKind::Other);
    }

    #[test]
    fn tcp_tables_v4_and_v6() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:9C40 0100007F:115C 01 00000000:00000000 00:00000000 00000000  1000        0 5678 1 0000000000000000 20 4 30 10 -1\n\
   bogus line\n";
        let e = parse_net_sockets(v4);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].state, TCP_LISTEN);
        assert_eq!(fmt_addr(e[0].local), "127.0.0.1:8080");
        assert_eq!(e[1].state, TCP_ESTABLISHED);
        assert_eq!(fmt_addr(e[1].remote), "127.0.0.1:4444");
        assert_eq!((e[1].uid, e[1].inode), (1000, 5678));
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0 100 0 0 10 0\n\
   1: 0000000000000000FFFF00000100007F:0016 0000000000000000FFFF00000200000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0\n";
        let e = parse_net_sockets(v6);
        assert_eq!(fmt_addr(e[0].local), "[::1]:22");
        assert_eq!(fmt_addr(e[1].local), "127.0.0.1:22");
        assert_eq!(fmt_addr(e[1].remote), "10.0.0.2:50000");
    }

    #[test]
    fn unix_inodes() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                 0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/x.sock\n\
                 0000000000000000: 00000003 00000000 00000000 0001 03 23456\n";
        assert_eq!(parse_unix_inodes(t), vec![12345, 23456]);
    }
}
