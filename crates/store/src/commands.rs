//! Records of the agent lifecycle: signed server commands (queued with an
//! expiry, delivered, answered) and re-identified copies of assets (see the
//! `Store` methods under "commands" and "cloned hosts").

use serde::{Deserialize, Serialize};
use ward_proto::{CommandKind, Signed};

/// Where a command is in its life.
///
/// ```text
/// pending ──> delivered ──> done | failed
///    │  └────────────────> done | failed | rejected
///    └──> expired | cancelled
/// ```
/// `done`, `failed`, `rejected`, `expired` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Waiting for the agent (sent to every new session until answered).
    Pending,
    /// The agent verified it and committed to it (`accepted`).
    Delivered,
    Done,
    Failed,
    /// The agent refused it (bad signature, expired, another agent's…).
    Rejected,
    /// Not delivered before its expiry.
    Expired,
    /// Withdrawn by an operator before delivery.
    Cancelled,
}

impl CommandState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Delivered => "delivered",
            CommandState::Done => "done",
            CommandState::Failed => "failed",
            CommandState::Rejected => "rejected",
            CommandState::Expired => "expired",
            CommandState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CommandState> {
        Some(match s {
            "pending" => CommandState::Pending,
            "delivered" => CommandState::Delivered,
            "done" => CommandState::Done,
            "failed" => CommandState::Failed,
            "rejected" => CommandState::Rejected,
            "expired" => CommandState::Expired,
            "cancelled" => CommandState::Cancelled,
            _ => return None,
        })
    }

    /// No transition leaves this state.
    pub fn is_final(&self) -> bool {
        !matches!(self, CommandState::Pending | CommandState::Delivered)
    }

    /// True when a command in `self` may move to `to`.
    pub fn can_become(&self, to: CommandState) -> bool {
        match self {
            CommandState::Pending => to != CommandState::Pending,
            CommandState::Delivered => matches!(to, CommandState::Done | CommandState::Failed),
            _ => false,
        }
    }
}

/// Input to [`crate::Store::create_command`]: the command as signed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommand {
    pub id: String,
    pub asset_id: String,
    pub kind: CommandKind,
    /// The signed envelope sent to the agent, exactly as signed.
    pub envelope: Signed,
    pub created_at: i64,
    pub expires_at: i64,
    /// Who asked (`api`, `console`), for the audit trail.
    pub created_by: String,
}

/// A stored command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub id: String,
    pub asset_id: String,
    pub kind: CommandKind,
    pub envelope: Signed,
    pub state: CommandState,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the agent accepted (or answered) it.
    pub delivered_at: Option<i64>,
    /// When it reached a final state.
    pub finished_at: Option<i64>,
    /// The agent's message, or why it expired or was cancelled.
    pub result: Option<String>,
    pub created_by: String,
}

/// A state change of [`crate::Store::update_command`].
#[derive(Debug, Clone, PartialEq)]
pub struct CommandUpdate {
    pub state: CommandState,
    pub at: i64,
    pub result: Option<String>,
}

/// Filter and page of [`crate::Store::list_commands`]: newest first; pass
/// the previous page's `next_cursor` as `before`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandQuery {
    pub asset_id: Option<String>,
    pub state: Option<CommandState>,
    pub before: Option<String>,
    /// Page size; 0 means 50, at most 1000.
    pub limit: u32,
}

/// Input to [`crate::Store::reidentify`]: a copy of `source_id`'s install
/// gets its own identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Reidentification {
    pub source_id: String,
    /// Id for a new asset (ignored when an earlier attempt is reused).
    pub new_id: String,
    /// The copy's host fingerprint.
    pub fingerprint: String,
    /// SHA-256 hex of the new credential's secret.
    pub credential_hash: String,
    /// Why (`fingerprint`, `duplicate session`), for the timeline.
    pub reason: String,
    pub at: i64,
}
