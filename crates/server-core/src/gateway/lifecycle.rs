//! The lifecycle part of one session: what the agent understands, whether
//! this `Hello` comes from a copy of the install (re-identification), the
//! protection statement, pending commands and the agent's answers and
//! notices. See `crate::lifecycle` for the shared logic.

use std::collections::HashSet;

use axum::extract::ws::WebSocket;
use ward_proto::lifecycle::capability;
use ward_proto::{AgentNotice, CommandOutcome, ServerMsg};
use ward_store::AgentAuth;

use super::registry::{Registered, Registration};
use super::session::send;
use crate::clock::now_ms;
use crate::lifecycle::clones::{self, NewIdentity, ReidError};
use crate::lifecycle::{commands, tamper};
use crate::state::AppState;

/// What the agent said it understands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub commands: bool,
    pub protection: bool,
    pub reidentify: bool,
    pub notices: bool,
}

impl Caps {
    pub fn of(list: &[String]) -> Caps {
        let has = |c: &str| list.iter().any(|x| x == c);
        Caps {
            commands: has(capability::COMMANDS),
            protection: has(capability::PROTECTION),
            reidentify: has(capability::REIDENTIFY),
            notices: has(capability::NOTICES),
        }
    }
}

/// How the gateway answers a `Hello`.
pub enum Admission {
    /// A normal session.
    Welcome(Registration),
    /// The agent is a copy: send it this identity instead of `Welcome`.
    Reidentify(NewIdentity, String),
    /// Refused with this message (rate limited, store failure).
    Refuse(String),
}

/// Decides how to answer the `Hello` of the session authenticated as `auth`.
pub async fn admit(
    st: &AppState,
    auth: &AgentAuth,
    fingerprint: &str,
    instance: Option<&str>,
    caps: Caps,
) -> Admission {
    let agent_id = auth.asset_id.as_str();
    if fingerprint != auth.fingerprint {
        if caps.reidentify {
            let reason = "host fingerprint differs from the enrolled one";
            return reidentify(st, agent_id, fingerprint, reason).await;
        }
        tracing::warn!(
            asset = %agent_id,
            "session with a host fingerprint other than the enrolled one (agent too old to re-identify)"
        );
    }
    match st
        .registry
        .register(agent_id, instance, caps.commands, now_ms())
    {
        Registered::Ok(r) => Admission::Welcome(r),
        Registered::Conflict { live_instance } if caps.reidentify => {
            let reason = format!(
                "a second live agent process uses this identity (instance {live_instance} is connected)"
            );
            reidentify(st, agent_id, fingerprint, &reason).await
        }
        Registered::Conflict { .. } => Admission::Refuse(
            "another live agent uses this identity; this agent is too old to re-identify".into(),
        ),
    }
}

async fn reidentify(st: &AppState, source: &str, fingerprint: &str, reason: &str) -> Admission {
    match clones::reidentify(st, source, fingerprint, reason).await {
        Ok(id) => Admission::Reidentify(id, reason.to_string()),
        Err(ReidError::Limited) => Admission::Refuse(format!(
            "this install is a copy ({reason}) but this identity made {} copies in the last hour; retry later",
            clones::MAX_PER_HOUR
        )),
        Err(ReidError::Store(e)) => {
            tracing::error!(asset = %source, error = %e, "re-identifying a copy failed");
            Admission::Refuse("the server could not re-identify this copy; retry later".into())
        }
    }
}

/// Per-session lifecycle state.
pub struct SessionLife {
    pub caps: Caps,
    agent_id: String,
    /// Commands sent on this session (each once per session).
    sent: HashSet<String>,
    group: Option<String>,
}

impl SessionLife {
    pub fn new(caps: Caps, agent_id: &str, group: Option<String>) -> SessionLife {
        SessionLife {
            caps,
            agent_id: agent_id.to_string(),
            sent: HashSet::new(),
            group,
        }
    }

    /// After `Welcome`: the protection statement, then pending commands.
    pub async fn start(&mut self, st: &AppState, ws: &mut WebSocket) -> Result<(), ()> {
        self.send_protection(st, ws).await?;
        self.deliver(st, ws).await
    }

    /// Sends the current protection statement (after `Welcome` and when
    /// the settings change).
    pub async fn send_protection(&mut self, st: &AppState, ws: &mut WebSocket) -> Result<(), ()> {
        if !self.caps.protection {
            return Ok(());
        }
        let on = st.lifecycle.tamper().protects(self.group.as_deref());
        match tamper::statement(st, &self.agent_id, on) {
            Some(statement) => send(ws, &ServerMsg::Protection { statement }).await,
            None => Ok(()),
        }
    }

    /// Sends every pending command not sent on this session yet.
    pub async fn deliver(&mut self, st: &AppState, ws: &mut WebSocket) -> Result<(), ()> {
        if !self.caps.commands {
            return Ok(());
        }
        for c in commands::pending_of(st, std::slice::from_ref(&self.agent_id)).await {
            if !self.sent.insert(c.id.clone()) {
                continue;
            }
            tracing::info!(asset = %self.agent_id, command = %c.id, kind = c.kind.as_str(), "delivering command");
            send(
                ws,
                &ServerMsg::Command {
                    command: c.envelope,
                },
            )
            .await?;
        }
        Ok(())
    }

    pub async fn on_result(
        &mut self,
        st: &AppState,
        id: &str,
        outcome: CommandOutcome,
        message: Option<String>,
    ) {
        commands::on_result(st, &self.agent_id, id, outcome, message).await;
    }

    /// Records a notice; acknowledges it when stored (an invalid one is
    /// acknowledged too, so the agent does not send it for ever).
    pub async fn on_notice(
        &mut self,
        st: &AppState,
        ws: &mut WebSocket,
        n: AgentNotice,
    ) -> Result<(), ()> {
        match tamper::record_notice(st, &self.agent_id, &n).await {
            Ok(_) => {}
            Err(e) if n.validate().is_err() => {
                tracing::warn!(asset = %self.agent_id, error = %e, "invalid notice dropped");
            }
            // Not stored (store failure): no ack, the agent sends it again.
            Err(_) => return Ok(()),
        }
        send(ws, &ServerMsg::NoticeAck { id: n.id }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_by_name() {
        let c = Caps::of(&["commands".into(), "reidentify".into(), "future".into()]);
        assert!(c.commands && c.reidentify && !c.protection && !c.notices);
        assert_eq!(Caps::of(&[]), Caps::default());
    }
}
