//! journald, read through `journalctl -f -o json` (no libsystemd): entries
//! of the `auth` and `authpriv` facilities, rendered as RFC 3339 syslog
//! lines for the auth-log parser, resumed after a persisted cursor.
//!
//! The facilities are chosen here, not with journalctl matches: systemd
//! 252's `journalctl --follow` with a match (`SYSLOG_FACILITY=10`) prints
//! only the last of several entries written at once and skips the others
//! (seen with Debian 12's journald; `tests/e2e/tests/detection.rs` writes
//! such a burst), so every entry is read and the others are dropped.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::clock::rfc3339_utc_micros;

/// Longest journal JSON line kept (longer ones are skipped).
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// Syslog facilities of login messages: `auth` (4) and `authpriv` (10).
pub const AUTH_FACILITIES: [&str; 2] = ["4", "10"];

/// One journal entry as a syslog line, with its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub line: String,
    pub cursor: Option<String>,
    /// The entry's `SYSLOG_FACILITY` is `auth` or `authpriv`.
    pub auth: bool,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        // journald gives non-UTF-8 fields as arrays of bytes.
        Value::Array(a) => {
            let bytes: Vec<u8> = a
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Renders one `journalctl -o json` line as
/// `RFC3339 host ident[pid]: message`; `None` when it is not an entry with
/// a message and a time.
pub fn entry_to_line(json: &[u8]) -> Option<JournalLine> {
    let v: Value = serde_json::from_slice(json).ok()?;
    let obj = v.as_object()?;
    let field = |k: &str| obj.get(k).and_then(text);
    let us: i64 = field("__REALTIME_TIMESTAMP")?.parse().ok()?;
    let msg = field("MESSAGE")?;
    let host = field("_HOSTNAME").filter(|h| !h.is_empty() && !h.contains(' '));
    let ident = field("SYSLOG_IDENTIFIER")
        .or_else(|| field("_COMM"))
        .filter(|i| !i.is_empty() && !i.contains(' '))
        .unwrap_or_else(|| "-".into());
    let pid = field("SYSLOG_PID").or_else(|| field("_PID"));
    // One line: a newline inside a message must not start a forged line.
    let msg = msg.replace(['\n', '\r'], " ");
    let line = match pid {
        Some(p) => format!(
            "{} {} {ident}[{p}]: {msg}",
            rfc3339_utc_micros(us),
            host.as_deref().unwrap_or("localhost")
        ),
        None => format!(
            "{} {} {ident}: {msg}",
            rfc3339_utc_micros(us),
            host.as_deref().unwrap_or("localhost")
        ),
    };
    Some(JournalLine {
        line,
        cursor: field("__CURSOR"),
        auth: field("SYSLOG_FACILITY").is_some_and(|f| AUTH_FACILITIES.contains(&f.as_str())),
    })
}

/// A running `journalctl -f`.
pub struct JournalProcess {
    child: Child,
    stdout: ChildStdout,
    buf: Vec<u8>,
    skipping: bool,
}

impl JournalProcess {
    /// Starts `journalctl` after `cursor` (or at the end / the beginning of
    /// the journal when there is none).
    pub fn spawn(journalctl: &Path, cursor: Option<&str>, from_start: bool) -> io::Result<Self> {
        let mut cmd = Command::new(journalctl);
        cmd.args(["--follow", "--output=json", "--no-pager", "--quiet"]);
        match cursor {
            Some(c) => {
                cmd.arg(format!("--after-cursor={c}"));
            }
            None if from_start => {
                cmd.arg("--lines=all");
            }
            None => {
                cmd.arg("--lines=0");
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and touches no memory of ours;
        // journalctl ends with the agent even when the agent is killed.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("journalctl has no stdout"));
        };
        let fd = stdout.as_raw_fd();
        // SAFETY: fcntl on a pipe descriptor we own; no memory is passed.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                let e = io::Error::last_os_error();
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
        Ok(JournalProcess {
            child,
            stdout,
            buf: Vec::new(),
            skipping: false,
        })
    }

    /// The descriptor to wait on.
    pub fn fd(&self) -> i32 {
        self.stdout.as_raw_fd()
    }

    /// Reads complete lines available now (at most `budget`). `Ok(None)`
    /// once journalctl has exited and its output is drained.
    pub fn read_lines(&mut self, budget: usize, out: &mut Vec<Vec<u8>>) -> io::Result<Option<()>> {
        let mut chunk = [0u8; 8192];
        let start = out.len();
        loop {
            if let Some(line) = self.take_line() {
                out.push(line);
                if out.len() - start >= budget {
                    return Ok(Some(()));
                }
                continue;
            }
            match self.stdout.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.push(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some(())),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn push(&mut self, data: &[u8]) {
        for part in data.split_inclusive(|&b| b == b'\n') {
            if self.skipping {
                if part.ends_with(b"\n") {
                    self.skipping = false;
                }
                continue;
            }
            self.buf.extend_from_slice(part);
            if self.buf.len() > MAX_ENTRY_BYTES && !self.buf.ends_with(b"\n") {
                self.buf.clear();
                self.skipping = true;
            }
        }
    }

    fn take_line(&mut self) -> Option<Vec<u8>> {
        let nl = self.buf.iter().position(|&b| b == b'\n')?;
        let rest = self.buf.split_off(nl + 1);
        let mut line = std::mem::replace(&mut self.buf, rest);
        line.pop();
        Some(line)
    }

    /// The exit status, if journalctl has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for JournalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_sshd_entry() {
        let json = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1796292000123456","_HOSTNAME":"web-1","SYSLOG_IDENTIFIER":"sshd-session","_PID":"812","MESSAGE":"Failed password for root from 192.0.2.9 port 4711 ssh2","SYSLOG_FACILITY":"10"}"#;
        let l = entry_to_line(json).unwrap();
        assert_eq!(
            l.line,
            "2026-12-03T10:00:00.123456+00:00 web-1 sshd-session[812]: Failed password for root from 192.0.2.9 port 4711 ssh2"
        );
        assert_eq!(l.cursor.as_deref(), Some("s=1;i=2"));
        assert!(l.auth);
        let ev: Vec<_> =
            ward_authlog::parse_line(&l.line, &ward_authlog::ParseContext::new(2026, "journald"))
                .collect();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind(), "auth.ssh_failed");
        assert_eq!(ev[0].host_time_ms, 1_796_292_000_123);
    }

    #[test]
    fn byte_array_messages_and_injected_newlines() {
        // "Invalid user a\nb" as bytes, with a newline that must not split.
        let msg: Vec<String> = "Invalid user a\nb from 192.0.2.1 port 22"
            .bytes()
            .map(|b| b.to_string())
            .collect();
        let json = format!(
            r#"{{"__REALTIME_TIMESTAMP":"1000000","SYSLOG_IDENTIFIER":"sshd","MESSAGE":[{}]}}"#,
            msg.join(",")
        );
        let l = entry_to_line(json.as_bytes()).unwrap();
        assert_eq!(
            l.line,
            "1970-01-01T00:00:01.000000+00:00 localhost sshd: Invalid user a b from 192.0.2.1 port 22"
        );
        assert!(!l.auth, "no facility: not a login message");
        let daemon = br#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":"x","SYSLOG_FACILITY":"3"}"#;
        assert!(!entry_to_line(daemon).unwrap().auth);
        assert!(entry_to_line(b"{\"MESSAGE\":\"x\"}").is_none());
        assert!(entry_to_line(b"not json").is_none());
    }
}
