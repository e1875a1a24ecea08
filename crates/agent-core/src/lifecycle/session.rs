//! What a live session does with lifecycle messages: the command key and
//! server clock from `Welcome`, commands (verified, answered, executed
//! once), protection statements, and queued notices (sent, deleted when
//! acknowledged).

use std::collections::HashSet;

use ward_pki::signed::Verifier;
use ward_proto::lifecycle::capability;
use ward_proto::{AgentMsg, CommandKind, CommandOutcome, CommandPayload, Signed};

use super::commands::{self, Executed, Record};
use super::uninstall::{self, Marker};
use super::{keys, notices, protection};
use crate::layout::Layout;

/// The capabilities a lifecycle-aware agent announces.
pub fn capabilities() -> Vec<String> {
    capability::ALL.iter().map(|c| c.to_string()).collect()
}

/// What the session must do after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Continue,
    /// An uninstall was accepted: stop everything and remove the agent
    /// (keep the session open to report the result).
    Uninstall {
        command_id: String,
    },
}

/// Per-agent lifecycle state kept across sessions.
pub struct Lifecycle {
    layout: Layout,
    agent_id: String,
    key: Option<Verifier>,
    /// Server clock minus local clock, measured at `Welcome`.
    offset_ms: i64,
    record: Record,
    sent_notices: HashSet<String>,
}

impl Lifecycle {
    pub fn new(layout: Layout, agent_id: &str) -> Lifecycle {
        let record = Record::load(&layout.commands_file());
        let key = keys::load(&layout).ok().flatten();
        Lifecycle {
            layout,
            agent_id: agent_id.to_string(),
            key,
            offset_ms: 0,
            record,
            sent_notices: HashSet::new(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The agent has a new identity: its old protection statement and
    /// command record are for the old one.
    pub fn reidentified(&mut self, agent_id: &str) {
        self.agent_id = agent_id.to_string();
        let _ = std::fs::remove_file(self.layout.protection_file());
        let _ = std::fs::remove_file(self.layout.commands_file());
        self.record = Record::default();
    }

    /// A new session was welcomed.
    pub fn welcomed(&mut self, command_key: Option<&str>, server_time_ms: i64) {
        self.key = keys::adopt(&self.layout, command_key);
        self.offset_ms = if server_time_ms > 0 {
            server_time_ms - crate::now_ms()
        } else {
            0
        };
        // Each session sends the queue again until it is acknowledged.
        self.sent_notices.clear();
    }

    fn server_now(&self) -> i64 {
        crate::now_ms() + self.offset_ms
    }

    /// Handles a command; returns the answer to send and what to do next.
    pub fn on_command(&mut self, doc: &Signed) -> (AgentMsg, After) {
        let answer = |id: &str, outcome: CommandOutcome, message: String| AgentMsg::CommandResult {
            id: id.to_string(),
            outcome,
            message: Some(message),
        };
        let now = self.server_now();
        let p = match commands::verify(doc, self.key.as_ref(), &self.agent_id, now) {
            Ok(p) => p,
            Err(why) => {
                // The id, if the payload says one, so the server can match it.
                let id = doc
                    .decode_payload::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
                    .unwrap_or_default();
                tracing::warn!(command = %id, reason = %why, "command refused");
                return (
                    answer(&id, CommandOutcome::Rejected, why.to_string()),
                    After::Continue,
                );
            }
        };
        if let Some(done) = self.record.get(&p.id) {
            tracing::warn!(command = %p.id, "command already executed; not run again (replay)");
            let msg = format!(
                "already executed; not run again ({})",
                done.message.as_deref().unwrap_or(done.outcome.as_str())
            );
            return (answer(&p.id, done.outcome, msg), After::Continue);
        }
        match p.kind {
            CommandKind::Uninstall => self.accept_uninstall(&p, doc),
            CommandKind::UpdateCheck => {
                let (outcome, msg) = commands::update_check(&self.layout);
                tracing::info!(command = %p.id, outcome = outcome.as_str(), %msg, "update check");
                self.remember(&p, outcome, &msg);
                (answer(&p.id, outcome, msg), After::Continue)
            }
            CommandKind::Unknown => (
                answer(
                    &p.id,
                    CommandOutcome::Rejected,
                    "unknown command kind".into(),
                ),
                After::Continue,
            ),
        }
    }

    fn remember(&mut self, p: &CommandPayload, outcome: CommandOutcome, msg: &str) {
        let e = Executed {
            id: p.id.clone(),
            outcome,
            message: Some(msg.to_string()),
            expires_at_ms: p.expires_at_ms,
        };
        self.record
            .record(&self.layout.commands_file(), e, crate::now_ms());
    }

    fn accept_uninstall(&mut self, p: &CommandPayload, doc: &Signed) -> (AgentMsg, After) {
        let marker = Marker {
            at_ms: crate::now_ms(),
            by: "command".into(),
            command: Some(doc.clone()),
        };
        if let Err(e) = uninstall::write_marker(&self.layout, &marker) {
            let msg = format!("cannot start the uninstall: {}", crate::one_line(&e));
            tracing::error!(command = %p.id, %msg);
            return (
                AgentMsg::CommandResult {
                    id: p.id.clone(),
                    outcome: CommandOutcome::Failed,
                    message: Some(msg),
                },
                After::Continue,
            );
        }
        self.remember(p, CommandOutcome::Accepted, "uninstall accepted");
        tracing::warn!(command = %p.id, "uninstall command accepted; removing the agent");
        (
            AgentMsg::CommandResult {
                id: p.id.clone(),
                outcome: CommandOutcome::Accepted,
                message: Some("uninstall accepted; removing the agent".into()),
            },
            After::Uninstall {
                command_id: p.id.clone(),
            },
        )
    }

    /// A protection statement arrived.
    pub fn on_protection(&mut self, doc: &Signed) {
        if let Err(e) =
            protection::accept_statement(&self.layout, self.key.as_ref(), &self.agent_id, doc)
        {
            tracing::warn!(error = %e, "protection statement refused");
        }
    }

    /// Queued notices not sent on this session yet.
    pub fn notices_to_send(&mut self) -> Vec<AgentMsg> {
        notices::pending(&self.layout)
            .into_iter()
            .filter(|n| self.sent_notices.insert(n.id.clone()))
            .map(|notice| AgentMsg::Notice { notice })
            .collect()
    }

    pub fn on_notice_ack(&mut self, id: &str) {
        notices::remove(&self.layout, id);
    }
}
