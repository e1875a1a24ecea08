//! Agent lifecycle on the wire: signed server commands, uninstall tokens,
//! the tamper-protection statement, agent notices and re-identification.
//!
//! # Signed documents
//!
//! Commands, uninstall tokens and protection statements are [`Signed`]: the
//! exact JSON text of a payload and an ed25519 signature of
//! `DOMAIN || 0x00 || payload` by the server's command key (the
//! `ward-pki` `signed` module signs and verifies; the domain keeps one kind
//! of document from being passed off as another). The agent learns the
//! command key's public half once, over the pinned TLS connection
//! ([`crate::EnrollResponse::command_key`], [`crate::ServerMsg::Welcome`])
//! and keeps it in `data/`.
//!
//! * [`CommandPayload`]: bound to one agent id, with a unique id and an
//!   expiry. The agent refuses a command that is not signed by the key it
//!   holds, is for another agent, is expired (or issued in the future), or
//!   whose id it already executed (a replay).
//! * [`UninstallTokenPayload`]: what an operator passes to `ward-agent stop`
//!   or `ward-agent uninstall` on a tamper-protected host. Scoped to one
//!   agent and to actions, **time bound** (usable any number of times until
//!   it expires), verified offline.
//! * [`ProtectionPayload`]: whether tamper protection is on for the agent.
//!
//! # Capabilities
//!
//! An agent lists in `Hello.capabilities` what it understands
//! ([`capability`]); the server sends `command`, `protection` and
//! `reidentify` messages only to agents that announced them, so older
//! agents keep working.

use serde::{Deserialize, Serialize};

/// Feature names an agent announces in `Hello.capabilities`.
pub mod capability {
    /// Understands `ServerMsg::Command` and answers `AgentMsg::CommandResult`.
    pub const COMMANDS: &str = "commands";
    /// Understands `ServerMsg::Protection`.
    pub const PROTECTION: &str = "protection";
    /// Understands `ServerMsg::Reidentify` (cloned-host handling).
    pub const REIDENTIFY: &str = "reidentify";
    /// Sends `AgentMsg::Notice` and understands `ServerMsg::NoticeAck`.
    pub const NOTICES: &str = "notices";
    /// Everything this version of the contract defines.
    pub const ALL: &[&str] = &[COMMANDS, PROTECTION, REIDENTIFY, NOTICES];
}

/// Signature domain of [`CommandPayload`] documents.
pub const COMMAND_DOMAIN: &str = "ward-command-v1";
/// Signature domain of [`UninstallTokenPayload`] documents.
pub const TOKEN_DOMAIN: &str = "ward-uninstall-token-v1";
/// Signature domain of [`ProtectionPayload`] documents.
pub const PROTECTION_DOMAIN: &str = "ward-protection-v1";
/// Version of the signed payloads below.
pub const PAYLOAD_VERSION: u16 = 1;
/// Agent-authenticated HTTPS endpoint for [`AgentNotice`]s (`ward-agent
/// uninstall`, refused `stop`), `Authorization: Bearer <credential>`.
pub const NOTICE_PATH: &str = "/api/v1/agent/notice";
/// Largest signed payload accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// A payload's exact JSON text and its signature (standard base64 of 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub payload: String,
    pub signature: String,
}

impl Signed {
    /// Decodes the payload as `T` (bounded in size; unknown fields ignored).
    pub fn decode_payload<T: for<'de> Deserialize<'de>>(&self) -> Result<T, String> {
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "payload of {} bytes exceeds {MAX_PAYLOAD_BYTES}",
                self.payload.len()
            ));
        }
        serde_json::from_str(&self.payload).map_err(|e| format!("malformed payload: {e}"))
    }
}

/// What a command asks the agent to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Remove everything the agent installed and report.
    Uninstall,
    /// Run `bin/ward-update check` now.
    UpdateCheck,
    /// A kind this agent does not know (refused).
    #[serde(other)]
    Unknown,
}

impl CommandKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CommandKind::Uninstall => "uninstall",
            CommandKind::UpdateCheck => "update_check",
            CommandKind::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<CommandKind> {
        match s {
            "uninstall" => Some(CommandKind::Uninstall),
            "update_check" => Some(CommandKind::UpdateCheck),
            _ => None,
        }
    }
}

/// The signed body of a server command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPayload {
    /// [`PAYLOAD_VERSION`].
    pub v: u16,
    /// Unique command id, e.g. `cmd_…`.
    pub id: String,
    /// The only agent that may execute it.
    pub agent_id: String,
    pub kind: CommandKind,
    pub issued_at_ms: i64,
    /// The agent refuses it after this time (server clock).
    pub expires_at_ms: i64,
}

/// Local actions an uninstall token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalAction {
    Stop,
    Uninstall,
    #[serde(other)]
    Unknown,
}

impl LocalAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            LocalAction::Stop => "stop",
            LocalAction::Uninstall => "uninstall",
            LocalAction::Unknown => "unknown",
        }
    }
}

/// The signed body of an uninstall token (`wut1.<payload>.<signature>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UninstallTokenPayload {
    pub v: u16,
    /// Token id (for the audit trail; the token itself is never logged).
    pub id: String,
    pub agent_id: String,
    pub actions: Vec<LocalAction>,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
}

/// The signed tamper-protection statement for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionPayload {
    pub v: u16,
    pub agent_id: String,
    pub tamper_protection: bool,
    /// Newer statements replace older ones.
    pub issued_at_ms: i64,
}

/// How an agent answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Verified and committed to (for `uninstall`: the asset is uninstalled
    /// from now on; the agent finishes even across a restart).
    Accepted,
    /// Carried out.
    Done,
    /// Accepted but it failed; `message` says why.
    Failed,
    /// Not executed: bad signature, another agent's, expired, replayed,
    /// unknown kind (`message` says which).
    Rejected,
}

impl CommandOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CommandOutcome::Accepted => "accepted",
            CommandOutcome::Done => "done",
            CommandOutcome::Failed => "failed",
            CommandOutcome::Rejected => "rejected",
        }
    }
}

/// What an agent notices about itself and tells the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A local stop or uninstall without a valid token was refused.
    TamperAttempt,
    /// `ward-agent uninstall` removed the agent (the identity dies).
    Uninstalled,
    #[serde(other)]
    Unknown,
}

/// A report from the agent (over the session or [`NOTICE_PATH`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentNotice {
    /// Unique per notice: the server stores each once.
    pub id: String,
    pub kind: NoticeKind,
    /// `stop` or `uninstall` for tamper attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<LocalAction>,
    /// Host time, Unix ms.
    pub at_ms: i64,
    /// Why (e.g. `no uninstall token given`).
    #[serde(default)]
    pub reason: String,
    /// Who tried: uid, parent process.
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// Longest notice field the server keeps.
pub const MAX_NOTICE_FIELD: usize = 512;

impl AgentNotice {
    /// Checks lengths and characters; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err("notice id must be 1 to 64 characters of [A-Za-z0-9_-]".into());
        }
        for (name, v) in [
            ("reason", Some(&self.reason)),
            ("parent", self.parent.as_ref()),
        ] {
            if v.is_some_and(|v| v.len() > MAX_NOTICE_FIELD) {
                return Err(format!("{name} is longer than {MAX_NOTICE_FIELD} bytes"));
            }
        }
        if self.kind == NoticeKind::Unknown {
            return Err("unknown notice kind".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_payload_has_the_documented_shape() {
        // Written by hand from the docs above.
        let text = r#"{"v":1,"id":"cmd_1","agent_id":"ag_1","kind":"uninstall","issued_at_ms":10,"expires_at_ms":20}"#;
        let p: CommandPayload = serde_json::from_str(text).unwrap();
        assert_eq!(p.kind, CommandKind::Uninstall);
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
        let later =
            r#"{"v":1,"id":"c","agent_id":"a","kind":"reboot","issued_at_ms":1,"expires_at_ms":2}"#;
        let p: CommandPayload = serde_json::from_str(later).unwrap();
        assert_eq!(
            p.kind,
            CommandKind::Unknown,
            "unknown kinds decode, to be refused"
        );
    }

    #[test]
    fn signed_payload_decoding_is_bounded() {
        let s = Signed {
            payload: format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_PAYLOAD_BYTES)),
            signature: String::new(),
        };
        assert!(s.decode_payload::<serde_json::Value>().is_err());
        let s = Signed {
            payload: "{".into(),
            signature: String::new(),
        };
        assert!(s
            .decode_payload::<CommandPayload>()
            .unwrap_err()
            .contains("malformed"));
    }

    #[test]
    fn notice_validation() {
        let mut n = AgentNotice {
            id: "ntc_1".into(),
            kind: NoticeKind::TamperAttempt,
            action: Some(LocalAction::Stop),
            at_ms: 1,
            reason: "no uninstall token given".into(),
            uid: Some(0),
            parent: Some("bash".into()),
        };
        assert!(n.validate().is_ok());
        n.id = "a b".into();
        assert!(n.validate().is_err());
        n.id = "ok".into();
        n.reason = "r".repeat(MAX_NOTICE_FIELD + 1);
        assert!(n.validate().is_err());
        n.reason.clear();
        n.kind = NoticeKind::Unknown;
        assert!(n.validate().is_err());
    }
}
