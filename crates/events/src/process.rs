//! Payloads of the process (`process.`) and network (`net.`) families.

use serde::{Deserialize, Serialize};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// A lazily joined text view of a list field (e.g. every ancestor's
/// executable), so rules can read it as one borrowed string. Not
/// serialized; always equal (it is derived data).
#[derive(Clone, Default)]
pub struct TextCache(std::sync::OnceLock<String>);

impl PartialEq for TextCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for TextCache {}

impl std::fmt::Debug for TextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextCache")
    }
}

impl TextCache {
    pub(crate) fn get_or(&self, f: impl FnOnce() -> String) -> &str {
        self.0.get_or_init(f)
    }
}

/// Most ancestors a process event carries (parent first).
pub const MAX_ANCESTORS: usize = 8;

/// What a standard descriptor (stdin, stdout, stderr) of a process refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FdKind {
    /// A TCP socket (IPv4 or IPv6).
    Tcp,
    /// A UDP socket (IPv4 or IPv6).
    Udp,
    /// A Unix domain socket.
    Unix,
    /// Another socket (netlink, raw, ...) or one that could not be resolved.
    Socket,
    /// A terminal (`/dev/pts/N`, `/dev/ttyN`, `/dev/console`).
    Tty,
    Pipe,
    /// A regular file or another path.
    File,
    /// `/dev/null`.
    Null,
    /// Anything else (`anon_inode:...`, closed).
    Other,
}

impl FdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FdKind::Tcp => "tcp",
            FdKind::Udp => "udp",
            FdKind::Unix => "unix",
            FdKind::Socket => "socket",
            FdKind::Tty => "tty",
            FdKind::Pipe => "pipe",
            FdKind::File => "file",
            FdKind::Null => "null",
            FdKind::Other => "other",
        }
    }

    /// A network (TCP or UDP) socket.
    pub fn is_inet(self) -> bool {
        matches!(self, FdKind::Tcp | FdKind::Udp)
    }
}

/// One standard descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdTarget {
    pub kind: FdKind,
    /// The `/proc/PID/fd/N` link text: `/dev/pts/0`, `socket:[1234]`, `pipe:[99]`, a path.
    pub target: String,
    /// For TCP/UDP sockets: the local address, `ip:port` (`[v6]:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// For TCP/UDP sockets: the peer address, `ip:port` (`[v6]:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

/// One ancestor of a process (parent first in [`ProcessInfo::ancestors`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    pub pid: u32,
    /// Executable path ("" when unknown).
    pub exe: String,
    /// Command line (arguments joined by spaces), when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cmdline: String,
}

/// A process as the process collector saw it (from the process connector
/// and `/proc`). Field names for rules are the Sigma ones: `Image`,
/// `CommandLine`, `ParentImage`, ... (see `SCHEMA.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Effective user id (the owner of `/proc/PID`).
    pub uid: u32,
    /// The user name of `uid`, when the host's passwd file names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Executable path, without the kernel's ` (deleted)` suffix ("" when
    /// unreadable); `/memfd:NAME` for a memfd.
    pub exe: String,
    /// The executable file was deleted (the kernel says ` (deleted)`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub exe_deleted: bool,
    /// The executable is a memfd (`memfd_create` + `fexecve`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub memfd: bool,
    /// Arguments joined by spaces, cut at 4 KiB.
    pub cmdline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The audit login uid (`/proc/PID/loginuid`), absent when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<FdTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<FdTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<FdTarget>,
    /// Parent, grandparent, ... (at most [`MAX_ANCESTORS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<Ancestor>,
    /// The process exited before every detail could be read.
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
    /// Its TCP/UDP standard descriptors are the very ones its parent has
    /// (a program started inside a shell that already had them).
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdio_inherited: bool,
    /// Derived text of `ancestors` for rules (leave it default).
    #[serde(skip)]
    pub ancestor_text: TextCache,
}

impl ProcessInfo {
    /// The first of stdin, stdout, stderr that is a TCP/UDP socket, with its peer.
    pub fn inet_stdio(&self) -> Option<&FdTarget> {
        [&self.stdin, &self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .find(|t| t.kind.is_inet())
    }

    /// Ancestors' executables, parent first, one per line (rules search it
    /// with `|contains`).
    pub fn ancestor_images(&self) -> &str {
        self.ancestor_text.get_or(|| join_images(&self.ancestors))
    }
}

pub(crate) fn join_images(ancestors: &[Ancestor]) -> String {
    let mut s = String::new();
    for a in ancestors {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&a.exe);
    }
    s
}

/// `process.exe_deleted`: a running process's executable was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExeDeleted {
    #[serde(flatten)]
    pub process: ProcessInfo,
    /// A file exists again at the executable's path (an upgrade replaced
    /// it), as opposed to the path being gone.
    pub replaced: bool,
}

/// `process.cpu`: a process kept a core busy for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessCpu {
    #[serde(flatten)]
    pub process: ProcessInfo,
    /// Average CPU over the window, percent of one core.
    pub cpu_percent: u32,
    /// The window, seconds.
    pub window_secs: u32,
    /// Whether a package (dpkg) owns the executable; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaged: Option<bool>,
}

/// The process behind a file change or a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    pub pid: u32,
    pub exe: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cmdline: String,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Parent first, at most [`MAX_ANCESTORS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<Ancestor>,
    /// Derived text of `ancestors` for rules (leave it default).
    #[serde(skip)]
    pub ancestor_text: TextCache,
}

impl Actor {
    /// Ancestors' executables, parent first, one per line.
    pub fn ancestor_images(&self) -> &str {
        self.ancestor_text.get_or(|| join_images(&self.ancestors))
    }
}

/// `net.connect`: a TCP connection this host opened (or accepted, with
/// `initiated: false`), seen in the socket table (netlink `sock_diag`, else
/// `/proc/net/tcp{,6}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConnect {
    /// `tcp` or `tcp6`.
    pub protocol: String,
    pub src_ip: std::net::IpAddr,
    pub src_port: u16,
    pub dst_ip: std::net::IpAddr,
    pub dst_port: u16,
    /// True when this host opened the connection (the local port is not a
    /// listening port).
    pub initiated: bool,
    /// The owning process, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Actor>,
}
