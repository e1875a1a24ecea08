//! Signed commands: issue (sign, store, deliver now or queue), answers,
//! expiry, cancellation. The API and the console both go through here.
//!
//! A command is always stored first (`pending`) and then the asset's live
//! session, if any, is poked to send it; a session sends every pending,
//! unexpired command of its asset when it starts. So a command for an
//! online agent whose session drops before delivery is delivered on
//! reconnect, like a queued one, until it expires.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ward_pki::secret::random_token;
use ward_proto::lifecycle::{COMMAND_DOMAIN, PAYLOAD_VERSION};
use ward_proto::{CommandKind, CommandOutcome, CommandPayload};
use ward_store::{
    CommandQuery, CommandRecord, CommandState, CommandUpdate, NewCommand, StatusReason, StoreError,
};

use crate::clock::{now_ms, rfc3339};
use crate::state::AppState;

/// Default, smallest and largest lifetime of a command.
pub const DEFAULT_EXPIRY_SECS: u64 = 86_400;
pub const MAX_EXPIRY_SECS: u64 = 30 * 86_400;
/// How often pending commands past their expiry are marked `expired`.
pub const EXPIRE_EVERY: Duration = Duration::from_secs(2);
/// Longest agent message kept with a command.
const MAX_RESULT: usize = 512;

/// What happened to a command request for one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The agent is online: sent to its session now.
    Sent,
    /// The agent is offline: queued until it reconnects or the command expires.
    Queued,
    /// The agent is offline and queueing was not asked for: nothing stored.
    Offline,
    /// The asset is already uninstalled: nothing stored.
    Uninstalled,
    /// No such asset.
    NotFound,
    /// The agent's version cannot receive commands: nothing stored.
    Unsupported,
}

impl Delivery {
    pub fn as_str(&self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Queued => "queued",
            Delivery::Offline => "offline",
            Delivery::Uninstalled => "uninstalled",
            Delivery::NotFound => "not_found",
            Delivery::Unsupported => "unsupported",
        }
    }
}

/// The answer for one asset.
#[derive(Debug, Clone)]
pub struct Issued {
    pub asset_id: String,
    pub delivery: Delivery,
    pub command: Option<CommandRecord>,
    /// One sentence for the operator.
    pub message: String,
}

/// How a request wants it done.
#[derive(Debug, Clone, Copy)]
pub struct IssueOptions {
    /// Queue for offline agents (otherwise they are only reported).
    pub queue: bool,
    /// Lifetime; clamped to 1..=[`MAX_EXPIRY_SECS`].
    pub expires_in_secs: u64,
}

impl Default for IssueOptions {
    fn default() -> Self {
        IssueOptions {
            queue: false,
            expires_in_secs: DEFAULT_EXPIRY_SECS,
        }
    }
}

fn issued(
    asset_id: &str,
    delivery: Delivery,
    command: Option<CommandRecord>,
    message: String,
) -> Issued {
    Issued {
        asset_id: asset_id.to_string(),
        delivery,
        command,
        message,
    }
}

/// Issues `kind` for `asset_id` (see [`Delivery`]).
pub async fn issue(
    st: &AppState,
    asset_id: &str,
    kind: CommandKind,
    opts: IssueOptions,
    created_by: &str,
) -> Result<Issued, StoreError> {
    let Some(asset) = st.store.get_asset(asset_id).await? else {
        return Ok(issued(
            asset_id,
            Delivery::NotFound,
            None,
            format!("no asset {asset_id:?}"),
        ));
    };
    let live_reason = st.live_status(asset_id).and_then(|(_, r, _, _)| r);
    if asset.status_reason == Some(StatusReason::Uninstalled)
        || live_reason == Some(StatusReason::Uninstalled)
    {
        return Ok(issued(
            asset_id,
            Delivery::Uninstalled,
            None,
            format!("{} is already uninstalled", asset.hostname),
        ));
    }
    let live = st.registry.live(asset_id);
    if live.as_ref().is_some_and(|l| !l.commands) {
        return Ok(issued(
            asset_id,
            Delivery::Unsupported,
            None,
            format!(
                "the agent on {} (version {}) cannot receive commands; update it first",
                asset.hostname, asset.agent_version
            ),
        ));
    }
    if live.is_none() && !opts.queue {
        let seen = st
            .live_status(asset_id)
            .and_then(|(_, _, _, seen)| seen)
            .or(asset.last_seen)
            .map_or("never connected".to_string(), |t| {
                format!("last seen {}", rfc3339(t))
            });
        return Ok(issued(
            asset_id,
            Delivery::Offline,
            None,
            format!(
                "{} is offline ({seen}): the command cannot be delivered now; queue it to send it when the agent reconnects",
                asset.hostname
            ),
        ));
    }
    let now = now_ms();
    let expires_at = now + (opts.expires_in_secs.clamp(1, MAX_EXPIRY_SECS) as i64) * 1000;
    let payload = CommandPayload {
        v: PAYLOAD_VERSION,
        id: random_token("cmd", 12),
        agent_id: asset_id.to_string(),
        kind,
        issued_at_ms: now,
        expires_at_ms: expires_at,
    };
    let envelope = st
        .lifecycle
        .key
        .sign_document(COMMAND_DOMAIN, &payload)
        .map_err(|e| StoreError::Backend(format!("signing a command: {e}")))?;
    let rec = st
        .store
        .create_command(&NewCommand {
            id: payload.id.clone(),
            asset_id: asset_id.to_string(),
            kind,
            envelope,
            created_at: now,
            expires_at,
            created_by: created_by.to_string(),
        })
        .await?;
    let sent = st.registry.poke(asset_id);
    tracing::info!(
        command = %rec.id,
        asset = %asset_id,
        kind = kind.as_str(),
        by = created_by,
        online = sent,
        expires_at = %rfc3339(expires_at),
        "command issued"
    );
    let (delivery, message) = if sent {
        (Delivery::Sent, format!("sent to {}", asset.hostname))
    } else {
        (
            Delivery::Queued,
            format!(
                "{} is offline: queued until it reconnects or the command expires at {}",
                asset.hostname,
                rfc3339(expires_at)
            ),
        )
    };
    Ok(issued(asset_id, delivery, Some(rec), message))
}

/// The state an agent's answer moves a command to.
pub fn state_of(outcome: CommandOutcome) -> CommandState {
    match outcome {
        CommandOutcome::Accepted => CommandState::Delivered,
        CommandOutcome::Done => CommandState::Done,
        CommandOutcome::Failed => CommandState::Failed,
        CommandOutcome::Rejected => CommandState::Rejected,
    }
}

/// Applies an answer of `agent_id` (from its session) to command `id`.
pub async fn on_result(
    st: &AppState,
    agent_id: &str,
    id: &str,
    outcome: CommandOutcome,
    message: Option<String>,
) {
    let rec = match st.store.get_command(id).await {
        Ok(Some(r)) if r.asset_id == agent_id => r,
        Ok(_) => {
            tracing::warn!(asset = %agent_id, command = %id, "answer for a command of another asset ignored");
            return;
        }
        Err(e) => {
            tracing::error!(command = %id, error = %e, "reading a command failed");
            return;
        }
    };
    let now = now_ms();
    let to = state_of(outcome);
    let message = message.map(|m| m.chars().take(MAX_RESULT).collect::<String>());
    if rec.state.can_become(to) {
        let u = CommandUpdate {
            state: to,
            at: now,
            result: message.clone(),
        };
        if let Err(e) = st.store.update_command(id, &u).await {
            tracing::error!(command = %id, error = %e, "recording a command answer failed");
        }
    }
    tracing::info!(
        asset = %agent_id,
        command = %id,
        kind = rec.kind.as_str(),
        outcome = outcome.as_str(),
        detail = message.as_deref().unwrap_or(""),
        "command answered"
    );
    let committed = matches!(outcome, CommandOutcome::Accepted | CommandOutcome::Done);
    if rec.kind == CommandKind::Uninstall && committed {
        st.asset_uninstalled(agent_id, now);
        cancel_pending(st, agent_id, "the asset was uninstalled").await;
    }
}

/// Cancels one pending command.
pub async fn cancel(st: &AppState, id: &str) -> Result<CommandRecord, StoreError> {
    let u = CommandUpdate {
        state: CommandState::Cancelled,
        at: now_ms(),
        result: Some("cancelled by an operator".into()),
    };
    let rec = st.store.update_command(id, &u).await?;
    tracing::info!(command = %id, asset = %rec.asset_id, "command cancelled");
    Ok(rec)
}

/// Cancels every pending command of an asset (it is gone).
pub async fn cancel_pending(st: &AppState, asset_id: &str, why: &str) {
    let now = now_ms();
    let pending = match st
        .store
        .pending_commands(&[asset_id.to_string()], i64::MIN)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(asset = %asset_id, error = %e, "listing pending commands failed");
            return;
        }
    };
    for c in pending {
        let u = CommandUpdate {
            state: CommandState::Cancelled,
            at: now,
            result: Some(why.to_string()),
        };
        if let Err(e) = st.store.update_command(&c.id, &u).await {
            tracing::warn!(command = %c.id, error = %e, "cancelling a pending command failed");
        }
    }
}

/// The pending commands of many assets (console flags).
pub async fn pending_of(st: &AppState, asset_ids: &[String]) -> Vec<CommandRecord> {
    st.store
        .pending_commands(asset_ids, now_ms())
        .await
        .inspect_err(|e| tracing::error!(error = %e, "listing pending commands failed"))
        .unwrap_or_default()
}

/// The newest commands of one asset.
pub async fn of_asset(
    st: &AppState,
    asset_id: &str,
    limit: u32,
) -> Result<Vec<CommandRecord>, StoreError> {
    Ok(st
        .store
        .list_commands(&CommandQuery {
            asset_id: Some(asset_id.to_string()),
            limit,
            ..Default::default()
        })
        .await?
        .items)
}

/// Marks pending commands past their expiry `expired`, every [`EXPIRE_EVERY`].
pub async fn expiry_task(st: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match st.store.expire_commands(now_ms()).await {
            Ok(gone) => {
                for c in gone {
                    tracing::info!(command = %c.id, asset = %c.asset_id, kind = c.kind.as_str(), "command expired undelivered");
                }
            }
            Err(e) => tracing::error!(error = %e, "expiring commands failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_states() {
        assert_eq!(state_of(CommandOutcome::Accepted), CommandState::Delivered);
        assert_eq!(state_of(CommandOutcome::Done), CommandState::Done);
        assert_eq!(state_of(CommandOutcome::Failed), CommandState::Failed);
        assert_eq!(state_of(CommandOutcome::Rejected), CommandState::Rejected);
        assert_eq!(Delivery::Queued.as_str(), "queued");
    }
}
