//! Payloads of the file (`file.`) and account (`account.`, `group.`) families.

use serde::{Deserialize, Serialize};

use crate::process::{is_false, Actor};

/// Most added lines a file event quotes.
pub const MAX_ADDED_LINES: usize = 8;
/// Longest quoted line, bytes (cut at a character boundary).
pub const MAX_ADDED_LINE_BYTES: usize = 256;

/// One change of a watched file (`file.created`, `file.modified`,
/// `file.deleted`, `file.renamed`, `file.attrib`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileChange {
    /// The file's path (for a rename: the new one).
    pub path: String,
    /// For `file.renamed`: the previous path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// What the path is for: `cron`, `systemd`, `rc_local`, `profile`,
    /// `authorized_keys`, `ld_preload`, `pam`, `sudoers`, `accounts`,
    /// `history`, `log`, `temp`, `fim` (see `SCHEMA.md`).
    pub category: String,
    /// `file`, `dir`, `symlink` or `other` (absent once deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    /// SHA-256 of the content, hex (regular files within the hashing limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_sha256: Option<String>,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_mode: Option<u32>,
    /// Owner of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_gid: Option<u32>,
    /// For symlinks: where it points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// For line-tracked files (persistence categories): lines added and
    /// removed against the previous content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_added: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_removed: Option<u32>,
    /// The first added lines, one per line ([`MAX_ADDED_LINES`], each cut
    /// to [`MAX_ADDED_LINE_BYTES`]). Never filled for secret files
    /// (`/etc/shadow`, `/etc/gshadow`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub added: String,
    /// The size went down (and the content is not a replacement by rename).
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Made by the package manager: the writer descends from dpkg/rpm/...,
    /// or a package manager ran at the time, or the content matches the
    /// package database.
    #[serde(default, skip_serializing_if = "is_false")]
    pub by_package: bool,
    /// The package owning the path, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The system tool the change is attributed to: a package manager
    /// (`dpkg`, `rpm`, ...) or `logrotate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The process that made the change (fanotify), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// `fanotify`, `inotify` or `scan` (found by periodic hashing or at start).
    pub seen_by: String,
}

impl FileChange {
    /// Setuid or setgid bit set now.
    pub fn setuid(&self) -> bool {
        self.mode.is_some_and(|m| m & 0o6000 != 0)
    }

    /// A setuid/setgid bit is set now that was not set before (or the file
    /// is new with one).
    pub fn setuid_added(&self) -> bool {
        let now = self.mode.unwrap_or(0) & 0o6000;
        let before = self.old_mode.unwrap_or(0) & 0o6000;
        now & !before != 0 && self.file_type.as_deref() == Some("file")
    }
}

/// An account of `/etc/passwd` (`account.created`, `account.deleted`,
/// `account.modified`). Password hashes are never carried: a password
/// change is the word `password` in `changed`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountChange {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_home: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_shell: Option<String>,
    /// For `account.modified`: which of `uid`, `gid`, `home`, `shell`,
    /// `password` (shadow hash changed), `locked`, `unlocked` changed,
    /// comma-separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub changed: String,
    /// A package manager ran when the change was seen (e.g. a package's
    /// `postinst` creating its system user).
    #[serde(default, skip_serializing_if = "is_false")]
    pub by_package: bool,
}

/// A group of `/etc/group` (`group.created`, `group.deleted`, `group.modified`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupChange {
    pub group: String,
    pub gid: u32,
    /// Members, comma-separated (as in `/etc/group`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub members: String,
    /// Members added / removed (for `group.modified`), comma-separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub added: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub removed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_gid: Option<u32>,
    /// A package manager ran when the change was seen.
    #[serde(default, skip_serializing_if = "is_false")]
    pub by_package: bool,
}
