//! Rule-facing field names and values.

use std::fmt;
use std::net::IpAddr;

/// A field rules can read. Resolve names once with [`Field::from_name`], then
/// read values with [`crate::Event::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Field {
    /// The event kind (`auth.ssh_failed`, ...).
    Kind,
    /// Host the event came from.
    Host,
    /// Collector source (file path, `journald`, ...).
    Source,
    /// The raw line (what Sigma `keywords` search).
    Message,
    /// The account concerned (the login account; for su/sudo the invoking user).
    User,
    /// The account su/sudo tried to become.
    TargetUser,
    /// Remote IP address.
    SourceIp,
    /// Remote TCP port.
    SourcePort,
    /// SSH authentication method.
    AuthMethod,
    /// True when the account does not exist.
    InvalidUser,
    /// PAM/auth service (`sshd`, `su`, `sudo`, `cron`, ...).
    Service,
    /// PAM `rhost` (name or address).
    RemoteHost,
    /// PAM `ruser`.
    RemoteUser,
    /// Terminal.
    Tty,
    /// Working directory (sudo `PWD=`).
    CurrentDirectory,
    /// Command line (sudo `COMMAND=`).
    CommandLine,
    /// Failure reason (sudo).
    Reason,
    /// SSH key description of an accepted publickey login.
    Key,
    /// Who opened a session.
    ByUser,
    // --- process family (Sigma `process_creation` names) ---
    /// Executable path of the process (file events: of the writer).
    Image,
    /// Executable path of the parent.
    ParentImage,
    /// Command line of the parent.
    ParentCommandLine,
    ProcessId,
    ParentProcessId,
    /// Audit login uid (Sysmon for Linux `LogonId`).
    LogonId,
    /// Numeric user id (process: real uid; account events: the account's).
    Uid,
    /// Executables of all ancestors, parent first, one per line.
    Ancestors,
    /// The executable was deleted.
    ExeDeleted,
    /// The executable is a memfd.
    Memfd,
    /// Kind of stdin / stdout / stderr: `tcp`, `udp`, `unix`, `socket`,
    /// `tty`, `pipe`, `file`, `null`, `other`.
    StdinType,
    StdoutType,
    StderrType,
    /// Peer (`ip:port`) of the first of stdin/stdout/stderr that is a TCP/UDP socket.
    StdioRemote,
    /// The TCP/UDP standard descriptors were inherited from the parent as they are.
    StdioInherited,
    /// Some details are missing (the process exited too soon).
    Partial,
    /// `process.cpu`: average percent of a core.
    CpuPercent,
    /// `process.cpu`: whether a package owns the executable.
    Packaged,
    /// `process.exe_deleted`: a new file replaced the executable.
    ExeReplaced,
    // --- file family (Sigma `file_event` names) ---
    TargetFilename,
    /// Previous path of a renamed file.
    SourceFilename,
    /// Ward path category (`cron`, `systemd`, `fim`, ...).
    FileCategory,
    /// `file`, `dir`, `symlink`, `other`.
    FileType,
    Sha256,
    OldSha256,
    /// Permission bits in octal digits (`4755`).
    FileMode,
    OldFileMode,
    /// A setuid or setgid bit is set.
    Setuid,
    /// A setuid or setgid bit was added.
    SetuidAdded,
    FileSize,
    OldFileSize,
    Truncated,
    LinesAdded,
    LinesRemoved,
    /// The first added lines, one per line.
    AddedLines,
    /// Package owning the path.
    Package,
    /// The package manager made the change.
    ByPackage,
    /// The system tool a file change is attributed to (`dpkg`, `logrotate`).
    Tool,
    LinkTarget,
    /// Owner uid of the file.
    OwnerUid,
    /// How the change was seen: `fanotify`, `inotify`, `scan`.
    SeenBy,
    // --- account family ---
    Gid,
    OldUid,
    HomeDirectory,
    Shell,
    /// What changed on an account (comma-separated).
    Changed,
    /// Group name.
    Group,
    /// Group members (comma-separated).
    Members,
    AddedMembers,
    RemovedMembers,
    // --- network family (Sigma `network_connection` names) ---
    DestinationIp,
    DestinationPort,
    /// True when this host opened the connection.
    Initiated,
    Protocol,
}

/// Every field with its canonical (Sigma-style) name first, then aliases.
/// Lookups compare ASCII case-insensitively.
pub const FIELD_NAMES: &[(Field, &[&str])] = &[
    (Field::Kind, &["EventType", "kind"]),
    (
        Field::Host,
        &["Computer", "host", "ComputerName", "Hostname"],
    ),
    (Field::Source, &["LogSource", "source"]),
    (Field::Message, &["Message", "raw", "message"]),
    (Field::User, &["User", "user", "TargetUserName", "username"]),
    (Field::TargetUser, &["TargetUser", "target_user"]),
    (
        Field::SourceIp,
        &[
            "SourceIp",
            "src_ip",
            "IpAddress",
            "SourceAddress",
            "source.ip",
        ],
    ),
    (
        Field::SourcePort,
        &["SourcePort", "src_port", "IpPort", "source.port"],
    ),
    (Field::AuthMethod, &["AuthMethod", "method"]),
    (Field::InvalidUser, &["InvalidUser", "invalid_user"]),
    (Field::Service, &["Service", "service"]),
    (Field::RemoteHost, &["RemoteHost", "rhost"]),
    (Field::RemoteUser, &["RemoteUser", "ruser"]),
    (Field::Tty, &["Tty", "tty", "Terminal"]),
    (Field::CurrentDirectory, &["CurrentDirectory", "pwd"]),
    (Field::CommandLine, &["CommandLine", "command"]),
    (Field::Reason, &["Reason", "reason"]),
    (Field::Key, &["Key", "key"]),
    (Field::ByUser, &["ByUser", "by_user"]),
    (Field::Image, &["Image", "exe"]),
    (Field::ParentImage, &["ParentImage", "parent_exe"]),
    (Field::ParentCommandLine, &["ParentCommandLine"]),
    (Field::ProcessId, &["ProcessId", "pid"]),
    (Field::ParentProcessId, &["ParentProcessId", "ppid"]),
    (Field::LogonId, &["LogonId", "login_uid", "auid"]),
    (Field::Uid, &["Uid", "uid", "UserId"]),
    (Field::Ancestors, &["Ancestors", "AncestorImages"]),
    (Field::ExeDeleted, &["ExeDeleted", "exe_deleted"]),
    (Field::Memfd, &["Memfd", "memfd"]),
    (Field::StdinType, &["StdinType"]),
    (Field::StdoutType, &["StdoutType"]),
    (Field::StderrType, &["StderrType"]),
    (Field::StdioRemote, &["StdioRemote"]),
    (
        Field::StdioInherited,
        &["StdioInherited", "stdio_inherited"],
    ),
    (Field::Partial, &["Partial", "partial"]),
    (Field::CpuPercent, &["CpuPercent", "cpu_percent"]),
    (Field::Packaged, &["Packaged", "packaged"]),
    (Field::ExeReplaced, &["ExeReplaced", "replaced"]),
    (
        Field::TargetFilename,
        &["TargetFilename", "path", "file.path"],
    ),
    (Field::SourceFilename, &["SourceFilename", "old_path"]),
    (Field::FileCategory, &["FileCategory", "category"]),
    (Field::FileType, &["FileType", "file_type"]),
    (Field::Sha256, &["Sha256", "sha256"]),
    (Field::OldSha256, &["OldSha256", "old_sha256"]),
    (Field::FileMode, &["FileMode", "mode"]),
    (Field::OldFileMode, &["OldFileMode", "old_mode"]),
    (Field::Setuid, &["Setuid"]),
    (Field::SetuidAdded, &["SetuidAdded"]),
    (Field::FileSize, &["FileSize", "size"]),
    (Field::OldFileSize, &["OldFileSize", "old_size"]),
    (Field::Truncated, &["Truncated", "truncated"]),
    (Field::LinesAdded, &["LinesAdded", "lines_added"]),
    (Field::LinesRemoved, &["LinesRemoved", "lines_removed"]),
    (Field::AddedLines, &["AddedLines", "added"]),
    (Field::Package, &["Package", "package"]),
    (Field::ByPackage, &["ByPackage", "by_package"]),
    (Field::Tool, &["Tool", "tool"]),
    (Field::LinkTarget, &["LinkTarget", "link_target"]),
    (Field::OwnerUid, &["OwnerUid", "owner_uid"]),
    (Field::SeenBy, &["SeenBy", "seen_by"]),
    (Field::Gid, &["Gid", "gid"]),
    (Field::OldUid, &["OldUid", "old_uid"]),
    (Field::HomeDirectory, &["HomeDirectory", "home"]),
    (Field::Shell, &["Shell", "shell"]),
    (Field::Changed, &["Changed", "changed"]),
    (Field::Group, &["Group", "group", "TargetGroup"]),
    (Field::Members, &["Members", "members"]),
    (Field::AddedMembers, &["AddedMembers"]),
    (Field::RemovedMembers, &["RemovedMembers"]),
    (
        Field::DestinationIp,
        &["DestinationIp", "dst_ip", "destination.ip"],
    ),
    (
        Field::DestinationPort,
        &["DestinationPort", "dst_port", "destination.port"],
    ),
    (Field::Initiated, &["Initiated", "initiated"]),
    (Field::Protocol, &["Protocol", "protocol"]),
];

impl Field {
    /// Resolves a rule-facing name (canonical or alias, ASCII
    /// case-insensitive). `None` for names no event kind has (yet).
    pub fn from_name(name: &str) -> Option<Field> {
        FIELD_NAMES
            .iter()
            .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|(f, _)| *f)
    }

    /// The canonical name (the first in [`FIELD_NAMES`]).
    pub fn name(self) -> &'static str {
        FIELD_NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, names)| names[0])
            .unwrap_or("?")
    }
}

/// A borrowed field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl FieldValue<'_> {
    /// The value as text, without allocating for strings; numbers, booleans
    /// and addresses are written into `buf` (which must hold 64 bytes).
    pub fn as_text<'b>(&'b self, buf: &'b mut TextBuf) -> &'b str {
        match self {
            FieldValue::Str(s) => s,
            other => buf.write(other),
        }
    }
}

impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Int(i) => write!(f, "{i}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A fixed 64-byte buffer for formatting non-string field values without
/// allocating (an IPv6 address needs at most 45 bytes).
pub struct TextBuf {
    bytes: [u8; 64],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl TextBuf {
    fn write(&mut self, v: &FieldValue<'_>) -> &str {
        use fmt::Write;
        self.len = 0;
        if let FieldValue::Ip(IpAddr::V4(ip)) = v {
            // Hot path (group keys of login rules): no formatter machinery.
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    self.push(b'.');
                }
                if octet >= 100 {
                    self.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    self.push(b'0' + (octet / 10) % 10);
                }
                self.push(b'0' + octet % 10);
            }
            return std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("");
        }
        // Writing can only fail when the text exceeds 64 bytes, which no
        // integer, boolean or address does; the text is then cut.
        let _ = write!(self, "{v}");
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl TextBuf {
    fn push(&mut self, b: u8) {
        if self.len < self.bytes.len() {
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
