//! Typed host events: the schema that Ward's collectors produce and its rules read.
//!
//! This crate owns the event data model and nothing else: no parsing, no I/O.
//! Collectors (the auth-log parser in `ward-authlog`, the process and file
//! collectors in `ward-collect-proc` and `ward-collect-files`) build
//! [`Event`]s; the rule engine in `ward-rules` reads them
//! through [`Event::get`] / [`Event::field`] by field name.
//!
//! # Envelope
//!
//! Every event is an [`Event`]: a small envelope (`id`, `host_time_ms`,
//! `host`, `source`, optional bounded `raw` line) plus a kind-specific
//! payload, [`EventData`], serialized flat into the same JSON object and
//! tagged by its `"kind"` field:
//!
//! ```json
//! {"id":7,"host_time_ms":1765349748000,"host":"web-1","source":"/var/log/auth.log",
//!  "kind":"auth.ssh_failed","user":"root","src_ip":"192.0.2.10","src_port":38926,
//!  "method":"password","invalid_user":false}
//! ```
//!
//! [`EventData`] is `#[non_exhaustive]`: new kinds (process and file events)
//! are added as new variants, which is additive for the JSON schema and for
//! code outside this crate. The full schema and the field-name mapping used
//! by rules are documented in `crates/events/SCHEMA.md`.

mod auth;
mod field;
mod file;
mod host;
mod process;
mod sink;

pub use auth::{
    PamFailed, SessionClosed, SessionOpened, SshAccepted, SshFailed, SshInvalidUser,
    SshPreauthDisconnect, SuFailed, SudoFailed, SudoFailure,
};
pub use field::{Field, FieldValue, TextBuf, FIELD_NAMES};
pub use file::{AccountChange, FileChange, GroupChange, MAX_ADDED_LINES, MAX_ADDED_LINE_BYTES};
pub use host::kind_fields;
pub use process::{
    Actor, Ancestor, ExeDeleted, FdKind, FdTarget, NetConnect, ProcessCpu, ProcessInfo, TextCache,
    MAX_ANCESTORS,
};
pub use sink::Sink;

use serde::{Deserialize, Serialize};

/// Largest `raw` line, in bytes, an event carries; longer lines are cut at a
/// character boundary at or below this size.
pub const MAX_RAW_BYTES: usize = 1024;

/// One host event: envelope plus kind-specific payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Agent-unique, increasing sequence number (assigned by the collector's
    /// owner, not by parsers, which leave it 0). Unique per agent, not across
    /// agents: the pair (host, id) identifies an event fleet-wide.
    pub id: u64,
    /// When the event happened on the host, milliseconds since the Unix epoch
    /// (UTC), as the host's clock or log line says.
    pub host_time_ms: i64,
    /// The host the event happened on. Parsers put the host name of the log
    /// line here; the server may replace it with the asset id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// Where the collector read it: a file path, `journald`, `wtmp`, ...
    pub source: String,
    /// The kind-specific payload; its `kind` tag is flattened into the object.
    #[serde(flatten)]
    pub data: EventData,
    /// The original line, cut to [`MAX_RAW_BYTES`], when the collector keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// Kind-specific payload of an [`Event`], tagged by `"kind"`.
///
/// Kind names are `family.name`: `auth.` (logins), `process.`, `file.`,
/// `account.`/`group.` and `net.` (host activity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
#[non_exhaustive]
pub enum EventData {
    /// One failed SSH authentication attempt (`Failed <method> for ...`).
    #[serde(rename = "auth.ssh_failed")]
    SshFailed(SshFailed),
    /// A successful SSH authentication (`Accepted <method> for ...`).
    #[serde(rename = "auth.ssh_accepted")]
    SshAccepted(SshAccepted),
    /// A connection naming a user that does not exist (`Invalid user ...`).
    #[serde(rename = "auth.ssh_invalid_user")]
    SshInvalidUser(SshInvalidUser),
    /// A client left during authentication (`Connection closed by
    /// authenticating user ...`, `Disconnected from invalid user ...`).
    #[serde(rename = "auth.ssh_preauth_disconnect")]
    SshPreauthDisconnect(SshPreauthDisconnect),
    /// A PAM module reported an authentication failure (any service).
    #[serde(rename = "auth.pam_failed")]
    PamFailed(PamFailed),
    /// One failed `su` (`FAILED SU (to root) alice on pts/0`).
    #[serde(rename = "auth.su_failed")]
    SuFailed(SuFailed),
    /// One failed `sudo` attempt (wrong password, or not allowed).
    #[serde(rename = "auth.sudo_failed")]
    SudoFailed(SudoFailed),
    /// A PAM session was opened (login, su, sudo, cron ...).
    #[serde(rename = "auth.session_opened")]
    SessionOpened(SessionOpened),
    /// A PAM session was closed.
    #[serde(rename = "auth.session_closed")]
    SessionClosed(SessionClosed),
    /// A process executed a program (process connector exec, or found by
    /// `/proc` polling).
    #[serde(rename = "process.exec")]
    ProcessExec(ProcessInfo),
    /// A process that was already running when the agent started.
    #[serde(rename = "process.running")]
    ProcessRunning(ProcessInfo),
    /// A running process's executable was deleted.
    #[serde(rename = "process.exe_deleted")]
    ProcessExeDeleted(ExeDeleted),
    /// A process kept a core busy for a while.
    #[serde(rename = "process.cpu")]
    ProcessCpu(ProcessCpu),
    /// A watched path appeared.
    #[serde(rename = "file.created")]
    FileCreated(FileChange),
    /// A watched file's content (or type) changed.
    #[serde(rename = "file.modified")]
    FileModified(FileChange),
    /// A watched path was deleted.
    #[serde(rename = "file.deleted")]
    FileDeleted(FileChange),
    /// A watched path was renamed (`old_path` → `path`).
    #[serde(rename = "file.renamed")]
    FileRenamed(FileChange),
    /// Only the mode or owner of a watched path changed.
    #[serde(rename = "file.attrib")]
    FileAttrib(FileChange),
    /// An account appeared in `/etc/passwd`.
    #[serde(rename = "account.created")]
    AccountCreated(AccountChange),
    #[serde(rename = "account.deleted")]
    AccountDeleted(AccountChange),
    /// An account's uid, gid, home, shell or password changed, or it was
    /// locked or unlocked.
    #[serde(rename = "account.modified")]
    AccountModified(AccountChange),
    #[serde(rename = "group.created")]
    GroupCreated(GroupChange),
    #[serde(rename = "group.deleted")]
    GroupDeleted(GroupChange),
    /// A group's members or gid changed.
    #[serde(rename = "group.modified")]
    GroupModified(GroupChange),
    /// A TCP connection appeared.
    #[serde(rename = "net.connect")]
    NetConnect(NetConnect),
}

/// Number of distinct event kinds; kind indices are `0..KIND_COUNT`.
pub const KIND_COUNT: usize = 25;

/// Every kind name, indexed by [`EventData::kind_index`].
pub const KIND_NAMES: [&str; KIND_COUNT] = [
    "auth.ssh_failed",
    "auth.ssh_accepted",
    "auth.ssh_invalid_user",
    "auth.ssh_preauth_disconnect",
    "auth.pam_failed",
    "auth.su_failed",
    "auth.sudo_failed",
    "auth.session_opened",
    "auth.session_closed",
    "process.exec",
    "process.running",
    "process.exe_deleted",
    "process.cpu",
    "file.created",
    "file.modified",
    "file.deleted",
    "file.renamed",
    "file.attrib",
    "account.created",
    "account.deleted",
    "account.modified",
    "group.created",
    "group.deleted",
    "group.modified",
    "net.connect",
];

impl EventData {
    /// Dense index of this kind, `0..KIND_COUNT` (for per-kind rule tables).
    pub fn kind_index(&self) -> usize {
        match self {
            EventData::SshFailed(_) => 0,
            EventData::SshAccepted(_) => 1,
            EventData::SshInvalidUser(_) => 2,
            EventData::SshPreauthDisconnect(_) => 3,
            EventData::PamFailed(_) => 4,
            EventData::SuFailed(_) => 5,
            EventData::SudoFailed(_) => 6,
            EventData::SessionOpened(_) => 7,
            EventData::SessionClosed(_) => 8,
            EventData::ProcessExec(_) => 9,
            EventData::ProcessRunning(_) => 10,
            EventData::ProcessExeDeleted(_) => 11,
            EventData::ProcessCpu(_) => 12,
            EventData::FileCreated(_) => 13,
            EventData::FileModified(_) => 14,
            EventData::FileDeleted(_) => 15,
            EventData::FileRenamed(_) => 16,
            EventData::FileAttrib(_) => 17,
            EventData::AccountCreated(_) => 18,
            EventData::AccountDeleted(_) => 19,
            EventData::AccountModified(_) => 20,
            EventData::GroupCreated(_) => 21,
            EventData::GroupDeleted(_) => 22,
            EventData::GroupModified(_) => 23,
            EventData::NetConnect(_) => 24,
        }
    }

    /// The `kind` tag, e.g. `auth.ssh_failed`.
    pub fn kind(&self) -> &'static str {
        KIND_NAMES[self.kind_index()]
    }
}

/// The Sigma-style log source of a kind: `(product, category, service)`.
///
/// Rules whose `logsource` names a product, category or service are only
/// evaluated on kinds whose log source agrees (see `ward-rules`). Auth kinds
/// are `product: linux`, category `authentication`, service `auth` and, more
/// narrowly, `sshd`, `su` or `sudo`. Host kinds have no service; their
/// categories are Sigma's where Sigma has one (`process_creation`,
/// `file_event`, `file_change`, `file_delete`, `file_rename`,
/// `network_connection`) and Ward's otherwise (`process_state`, `account`).
pub fn kind_logsource(kind_index: usize) -> LogSource {
    let host = |category| LogSource {
        product: "linux",
        category,
        services: &[],
    };
    match kind_index {
        9 => return host("process_creation"),
        10..=12 => return host("process_state"),
        13 => return host("file_event"),
        14 | 17 => return host("file_change"),
        15 => return host("file_delete"),
        16 => return host("file_rename"),
        18..=23 => return host("account"),
        24 => return host("network_connection"),
        _ => {}
    }
    let services: &'static [&'static str] = match kind_index {
        0..=3 => &["auth", "sshd"],
        5 => &["auth", "su"],
        6 => &["auth", "sudo"],
        _ => &["auth"],
    };
    LogSource {
        product: "linux",
        category: "authentication",
        services,
    }
}

/// Log source of an event kind, for matching a rule's `logsource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSource {
    /// Sigma `product` (`linux`).
    pub product: &'static str,
    /// Sigma `category` (`authentication`, `process_creation`, ...).
    pub category: &'static str,
    /// Sigma `service` values this kind belongs to (`auth`, `sshd`, ...).
    pub services: &'static [&'static str],
}

impl Event {
    /// Builds an event with id 0, no host and no raw line.
    pub fn new(host_time_ms: i64, source: impl Into<String>, data: EventData) -> Event {
        Event {
            id: 0,
            host_time_ms,
            host: String::new(),
            source: source.into(),
            data,
            raw: None,
        }
    }

    /// The `kind` tag of the payload.
    pub fn kind(&self) -> &'static str {
        self.data.kind()
    }

    /// Sets `raw` to `line`, cut to at most [`MAX_RAW_BYTES`] at a character
    /// boundary.
    pub fn set_raw(&mut self, line: &str) {
        self.raw = Some(truncate_at_char(line, MAX_RAW_BYTES).to_string());
    }

    /// Value of a field by its rule-facing name (see [`Field::from_name`]).
    /// `None` when the name is unknown or this kind has no such field.
    pub fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        Field::from_name(name).and_then(|f| self.get(f))
    }

    /// Value of a field; `None` when this kind does not have it (or it is empty
    /// and optional).
    pub fn get(&self, field: Field) -> Option<FieldValue<'_>> {
        match field {
            Field::Kind => Some(FieldValue::Str(self.kind())),
            Field::Host => non_empty(&self.host),
            Field::Source => non_empty(&self.source),
            Field::Message => self.raw.as_deref().map(FieldValue::Str),
            _ if self.data.kind_index() >= 9 => host::get(&self.data, field),
            _ => auth::get(&self.data, field),
        }
    }
}

fn non_empty(s: &str) -> Option<FieldValue<'_>> {
    if s.is_empty() {
        None
    } else {
        Some(FieldValue::Str(s))
    }
}

/// The longest prefix of `s` of at most `max` bytes ending at a char boundary.
pub fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
