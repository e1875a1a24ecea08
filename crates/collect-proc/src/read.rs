//! Reading one process's details from `/proc` (I/O around the pure
//! parsers of [`crate::parse`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use ward_events::{FdKind, FdTarget, ProcessInfo};
use ward_hostinfo::accounts::parse_passwd;

use crate::parse::{
    classify_fd, fmt_addr, parse_cmdline, parse_exe_link, parse_loginuid, parse_net_sockets,
    parse_stat, parse_unix_inode, Stat, MAX_CMDLINE,
};

/// uid → user name from the host's passwd file, re-read when it changes
/// (checked at most once a second).
struct Users {
    path: PathBuf,
    names: Vec<(u32, String)>,
    mtime: Option<SystemTime>,
    checked: Option<Instant>,
}

impl Users {
    fn name(&mut self, uid: u32) -> Option<String> {
        let stale = self
            .checked
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if stale {
            self.checked = Some(Instant::now());
            let mtime = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if mtime != self.mtime || self.names.is_empty() {
                self.mtime = mtime;
                self.names = std::fs::read_to_string(&self.path)
                    .map(|t| {
                        parse_passwd(&t)
                            .into_iter()
                            .map(|e| (e.uid, e.name))
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
        self.names
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, n)| n.clone())
    }
}

/// Most bytes of a socket table read when looking for one socket (the
/// fallback of kernels without `pidfd_getfd`): a host with a huge table
/// costs a bounded read, and the socket stays unresolved.
const MAX_TABLE_SCAN: u64 = 4 << 20;

/// Lines of a file, at most [`MAX_TABLE_SCAN`] bytes.
fn bounded_lines(f: std::fs::File) -> impl Iterator<Item = String> {
    use std::io::{BufRead, Read};
    std::io::BufReader::new(f.take(MAX_TABLE_SCAN))
        .lines()
        .map_while(Result::ok)
}

/// The entry of socket `ino` in a `/proc/.../net/tcp`-style table.
fn find_socket(path: &Path, ino: u64) -> Option<crate::parse::SockEntry> {
    let f = std::fs::File::open(path).ok()?;
    bounded_lines(f).find_map(|l| {
        parse_net_sockets(&l)
            .into_iter()
            .next()
            .filter(|e| e.inode == ino)
    })
}

/// `/proc` (or a test root) and the passwd file used to name users.
pub struct ProcFs {
    root: PathBuf,
    users: Mutex<Users>,
}

fn read_link(p: &Path) -> Option<String> {
    std::fs::read_link(p)
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

impl ProcFs {
    pub fn new(root: impl Into<PathBuf>, passwd: impl Into<PathBuf>) -> ProcFs {
        ProcFs {
            root: root.into(),
            users: Mutex::new(Users {
                path: passwd.into(),
                names: Vec::new(),
                mtime: None,
                checked: None,
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pid_path(&self, pid: u32, rest: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(rest)
    }

    /// Every numeric entry of `/proc`.
    pub fn pids(&self) -> Vec<u32> {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect()
    }

    pub fn stat(&self, pid: u32) -> Option<Stat> {
        std::fs::read_to_string(self.pid_path(pid, "stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
    }

    /// `(path, deleted, memfd)` of the executable.
    pub fn exe(&self, pid: u32) -> Option<(String, bool, bool)> {
        read_link(&self.pid_path(pid, "exe")).map(|l| parse_exe_link(&l))
    }

    pub fn cmdline(&self, pid: u32) -> String {
        use std::io::Read;
        let mut buf = Vec::with_capacity(256);
        if let Ok(f) = std::fs::File::open(self.pid_path(pid, "cmdline")) {
            let _ = f.take(MAX_CMDLINE as u64).read_to_end(&mut buf);
        }
        parse_cmdline(&buf)
    }

    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.users.lock().ok()?.name(uid)
    }

    /// The effective uid: the owner of `/proc/PID` (one `stat(2)`, no
    /// text to format; for a non-dumpable process the kernel shows root).
    pub fn uid(&self, pid: u32) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(self.root.join(pid.to_string()))
            .ok()
            .map(|m| m.uid())
    }

    /// Descriptor `n` of `pid`, sockets resolved to their addresses in the
    /// process's own network namespace (`/proc/PID/net/...`).
    pub fn fd(&self, pid: u32, n: u32) -> Option<FdTarget> {
        let link = read_link(&self.pid_path(pid, &format!("fd/{n}")))?;
        let (kind, ino) = classify_fd(&link);
        let mut t = FdTarget {
            kind,
            target: link,
            local: None,
            remote: None,
        };
        if let Some(ino) = ino {
            self.resolve_socket(pid, n, ino, &mut t);
        }
        Some(t)
    }

    fn resolve_socket(&self, pid: u32, n: u32, ino: u64, t: &mut FdTarget) {
        if let Some((kind, local, remote)) = crate::sockinfo::describe(pid, n) {
            t.kind = kind;
            t.local = local.map(|a| fmt_addr((a.ip(), a.port())));
            t.remote = remote.map(|a| fmt_addr((a.ip(), a.port())));
            return;
        }
        for (table, kind) in [
            ("net/tcp", FdKind::Tcp),
            ("net/tcp6", FdKind::Tcp),
            ("net/udp", FdKind::Udp),
            ("net/udp6", FdKind::Udp),
        ] {
            if let Some(e) = find_socket(&self.pid_path(pid, table), ino) {
                t.kind = kind;
                t.local = Some(fmt_addr(e.local));
                t.remote = Some(fmt_addr(e.remote));
                return;
            }
        }
        if let Ok(f) = std::fs::File::open(self.pid_path(pid, "net/unix")) {
            let found = bounded_lines(f).any(|l| parse_unix_inode(&l) == Some(ino));
            if found {
                t.kind = FdKind::Unix;
            }
        }
    }

    /// The process's details (no ancestors), with its stat. `None` when it
    /// is gone or a kernel thread.
    pub fn info(&self, pid: u32) -> Option<(ProcessInfo, Stat)> {
        self.info_with(pid, None)
    }

    /// [`ProcFs::info`] for a process whose parent is already known (the
    /// process connector's fork event): `stat` is not read, the start time
    /// is left 0 (read later when needed). An exec'd process is never a
    /// kernel thread.
    pub fn info_with(&self, pid: u32, ppid: Option<u32>) -> Option<(ProcessInfo, Stat)> {
        let stat = match ppid {
            Some(ppid) => Stat {
                pid,
                comm: [0; 16],
                state: 'R',
                ppid,
                utime: 0,
                stime: 0,
                start_time: 0,
                kernel_thread: false,
            },
            None => self.stat(pid)?,
        };
        if stat.kernel_thread {
            return None;
        }
        let (exe, exe_deleted, memfd, partial) = match self.exe(pid) {
            Some((p, d, m)) => (p, d, m, false),
            // Gone before anything was read, when nothing vouched for it.
            None if ppid.is_some() && !self.root.join(pid.to_string()).exists() => return None,
            None => (String::new(), false, false, true),
        };
        // What rules test most comes first: a short-lived process may be
        // gone before the rest is read.
        let cmdline = self.cmdline(pid);
        let uid = self.uid(pid);
        let cwd = read_link(&self.pid_path(pid, "cwd"));
        let login_uid = std::fs::read_to_string(self.pid_path(pid, "loginuid"))
            .ok()
            .and_then(|t| parse_loginuid(&t));
        let info = ProcessInfo {
            pid,
            ppid: stat.ppid,
            uid: uid.unwrap_or(0),
            user: uid.and_then(|u| self.user_name(u)),
            exe,
            exe_deleted,
            memfd,
            cmdline,
            cwd,
            login_uid,
            stdin: self.fd(pid, 0),
            stdout: self.fd(pid, 1),
            stderr: self.fd(pid, 2),
            partial: partial || uid.is_none(),
            ..ProcessInfo::default()
        };
        // Gone while we read: whatever was read is kept, marked partial.
        let gone = self
            .stat(pid)
            .is_none_or(|s| s.start_time != stat.start_time);
        Some((
            ProcessInfo {
                partial: info.partial || gone,
                ..info
            },
            stat,
        ))
    }

    /// Whether every TCP/UDP standard descriptor of `info` is the same one
    /// its parent has at that number (the process inherited a shell's
    /// socket rather than being handed one). `false` when the parent cannot
    /// be read.
    pub fn stdio_inherited(&self, info: &ProcessInfo) -> bool {
        let mut any = false;
        for (n, t) in [&info.stdin, &info.stdout, &info.stderr]
            .into_iter()
            .enumerate()
        {
            let Some(t) = t.as_ref().filter(|t| t.kind.is_inet()) else {
                continue;
            };
            any = true;
            let parent = read_link(&self.pid_path(info.ppid, &format!("fd/{n}")));
            if parent.as_deref() != Some(t.target.as_str()) {
                return false;
            }
        }
        any
    }

    /// The owners of socket inodes: scans every process's descriptors.
    pub fn socket_owners(&self, inodes: &[u64]) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        if inodes.is_empty() {
            return out;
        }
        for pid in self.pids() {
            let Ok(rd) = std::fs::read_dir(self.pid_path(pid, "fd")) else {
                continue;
            };
            for e in rd.flatten() {
                let Some(link) = read_link(&e.path()) else {
                    continue;
                };
                if let (FdKind::Socket, Some(ino)) = classify_fd(&link) {
                    if inodes.contains(&ino) && !out.iter().any(|(i, _)| *i == ino) {
                        out.push((ino, pid));
                    }
                }
            }
            if out.len() == inodes.len() {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn real() -> ProcFs {
        ProcFs::new("/proc", "/etc/passwd")
    }

    #[test]
    fn reads_this_process() {
        let fs = real();
        let me = std::process::id();
        let (info, stat) = fs.info(me).expect("own /proc entry");
        assert_eq!(info.pid, me);
        assert_eq!(stat.pid, me);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(info.exe, exe.display().to_string());
        assert!(!info.exe_deleted);
        assert!(info
            .cmdline
            .contains(exe.file_name().unwrap().to_str().unwrap()));
        // SAFETY: getuid/getppid have no preconditions.
        let (uid, ppid) = unsafe { (libc::getuid(), libc::getppid()) };
        assert_eq!(info.uid, uid);
        assert_eq!(info.ppid, ppid as u32);
        assert_eq!(
            info.cwd.as_deref(),
            Some(std::env::current_dir().unwrap().to_str().unwrap())
        );
        assert!(fs.pids().contains(&me));
    }

    #[test]
    fn resolves_a_tcp_socket_descriptor_to_its_peer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        let fs = real();
        let t = fs
            .fd(std::process::id(), c.as_raw_fd() as u32)
            .expect("descriptor");
        assert_eq!(t.kind, FdKind::Tcp);
        assert_eq!(
            t.remote.as_deref(),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        assert_eq!(
            t.local,
            Some(c.local_addr().unwrap().to_string()),
            "local address"
        );
        let owners = fs.socket_owners(&[socket_inode(&t.target)]);
        assert_eq!(owners.first().map(|o| o.1), Some(std::process::id()));
    }

    fn socket_inode(target: &str) -> u64 {
        crate::parse::classify_fd(target).1.expect("socket inode")
    }

    #[test]
    fn unix_sockets_and_pipes_are_told_apart() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fs = real();
        let t = fs.fd(std::process::id(), a.as_raw_fd() as u32).unwrap();
        assert_eq!(t.kind, FdKind::Unix);
        let (r, _w) = std::io::pipe().unwrap();
        let t = fs.fd(std::process::id(), r.as_raw_fd() as u32).unwrap();
        assert_eq!(t.kind, FdKind::Pipe);
    }

    #[test]
    fn user_names_follow_the_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("passwd");
        std::fs::write(&p, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let fs = ProcFs::new("/proc", &p);
        assert_eq!(fs.user_name(0).as_deref(), Some("root"));
        assert_eq!(fs.user_name(1234), None);
        std::fs::write(
            &p,
            "root:x:0:0::/root:/bin/sh\neve:x:1234:1234::/h:/bin/sh\n",
        )
        .unwrap();
        // Not re-read within a second of the last check...
        assert_eq!(fs.user_name(1234), None);
        // ...then re-read because the file changed.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(fs.user_name(1234).as_deref(), Some("eve"));
    }
}
