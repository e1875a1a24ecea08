//! Payloads of the login (`auth.`) family and their rule-facing fields.

use crate::{EventData, Field, FieldValue};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `auth.ssh_failed`: one failed SSH authentication attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshFailed {
    /// The account tried (attacker-chosen when `invalid_user`).
    pub user: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    /// sshd's method name: `password`, `publickey`, `keyboard-interactive/pam`, `none`, ...
    pub method: String,
    /// True when sshd said `invalid user` (no such account).
    pub invalid_user: bool,
}

/// `auth.ssh_accepted`: a successful SSH authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshAccepted {
    pub user: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    /// `password`, `publickey`, `keyboard-interactive/pam`, `gssapi-with-mic`, ...
    pub method: String,
    /// Key description sshd logs after `ssh2: ` (e.g. `ED25519 SHA256:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `auth.ssh_invalid_user`: a client named an account that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshInvalidUser {
    pub user: String,
    pub src_ip: IpAddr,
    /// Absent in old sshd versions (`Invalid user X from IP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
}

/// `auth.ssh_preauth_disconnect`: a client left before authenticating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshPreauthDisconnect {
    pub user: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub invalid_user: bool,
}

/// `auth.pam_failed`: `pam_unix(<service>:auth): authentication failure; ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PamFailed {
    /// PAM service: `sshd`, `su`, `sudo`, `login`, ...
    pub service: String,
    /// `user=` (the account being authenticated), when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `ruser=` (the requesting user), when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruser: Option<String>,
    /// `rhost=`: remote host name or address, when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhost: Option<String>,
    /// `rhost` when it is an IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
}

/// `auth.su_failed`: one failed `su`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuFailed {
    /// The user who ran `su`.
    pub user: String,
    /// The account `su` tried to become.
    pub target_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
}

/// Why a `sudo` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SudoFailure {
    /// A wrong password (one event per attempt).
    IncorrectPassword,
    /// `user NOT in sudoers`.
    NotInSudoers,
    /// `command not allowed`.
    CommandNotAllowed,
}

/// `auth.sudo_failed`: one failed `sudo` attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SudoFailed {
    /// The user who ran `sudo`.
    pub user: String,
    pub reason: SudoFailure,
    /// `USER=` (the account sudo would run as), best effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// `PWD=`, best effort (user-controlled, may be ambiguous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
    /// `COMMAND=`, best effort (user-controlled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `auth.session_opened`: `pam_unix(<service>:session): session opened for user ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOpened {
    pub service: String,
    pub user: String,
    /// Who opened it (`by alice(uid=1000)` → `alice`), when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_user: Option<String>,
}

/// `auth.session_closed`: `pam_unix(<service>:session): session closed for user ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClosed {
    pub service: String,
    pub user: String,
}

fn s(v: &str) -> Option<FieldValue<'_>> {
    Some(FieldValue::Str(v))
}

fn os(v: &Option<String>) -> Option<FieldValue<'_>> {
    v.as_deref().map(FieldValue::Str)
}

/// Field lookup for auth payloads (envelope fields are handled by the caller).
pub(crate) fn get(data: &EventData, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match data {
        EventData::SshFailed(e) => match field {
            F::User => s(&e.user),
            F::SourceIp => Some(FieldValue::Ip(e.src_ip)),
            F::SourcePort => Some(FieldValue::Int(i64::from(e.src_port))),
            F::AuthMethod => s(&e.method),
            F::InvalidUser => Some(FieldValue::Bool(e.invalid_user)),
            F::Service => s("sshd"),
            _ => None,
        },
        EventData::SshAccepted(e) => match field {
            F::User => s(&e.user),
            F::SourceIp => Some(FieldValue::Ip(e.src_ip)),
            F::SourcePort => Some(FieldValue::Int(i64::from(e.src_port))),
            F::AuthMethod => s(&e.method),
            F::Key => os(&e.key),
            F::InvalidUser => Some(FieldValue::Bool(false)),
            F::Service => s("sshd"),
            _ => None,
        },
        EventData::SshInvalidUser(e) => match field {
            F::User => s(&e.user),
            F::SourceIp => Some(FieldValue::Ip(e.src_ip)),
            F::SourcePort => e.src_port.map(|p| FieldValue::Int(i64::from(p))),
            F::InvalidUser => Some(FieldValue::Bool(true)),
            F::Service => s("sshd"),
            _ => None,
        },
        EventData::SshPreauthDisconnect(e) => match field {
            F::User => s(&e.user),
            F::SourceIp => Some(FieldValue::Ip(e.src_ip)),
            F::SourcePort => Some(FieldValue::Int(i64::from(e.src_port))),
            F::InvalidUser => Some(FieldValue::Bool(e.invalid_user)),
            F::Service => s("sshd"),
            _ => None,
        },
        EventData::PamFailed(e) => match field {
            F::User => os(&e.user),
            F::Service => s(&e.service),
            F::RemoteUser => os(&e.ruser),
            F::RemoteHost => os(&e.rhost),
            F::SourceIp => e.src_ip.map(FieldValue::Ip),
            F::Tty => os(&e.tty),
            _ => None,
        },
        EventData::SuFailed(e) => match field {
            F::User => s(&e.user),
            F::TargetUser => s(&e.target_user),
            F::Tty => os(&e.tty),
            F::Service => s("su"),
            _ => None,
        },
        EventData::SudoFailed(e) => match field {
            F::User => s(&e.user),
            F::TargetUser => os(&e.target_user),
            F::Tty => os(&e.tty),
            F::CurrentDirectory => os(&e.pwd),
            F::CommandLine => os(&e.command),
            F::Reason => s(match e.reason {
                crate::SudoFailure::IncorrectPassword => "incorrect_password",
                crate::SudoFailure::NotInSudoers => "not_in_sudoers",
                crate::SudoFailure::CommandNotAllowed => "command_not_allowed",
            }),
            F::Service => s("sudo"),
            _ => None,
        },
        EventData::SessionOpened(e) => match field {
            F::User => s(&e.user),
            F::Service => s(&e.service),
            F::ByUser => os(&e.by_user),
            _ => None,
        },
        EventData::SessionClosed(e) => match field {
            F::User => s(&e.user),
            F::Service => s(&e.service),
            _ => None,
        },
        // Host kinds: see `host::get`.
        _ => None,
    }
}
