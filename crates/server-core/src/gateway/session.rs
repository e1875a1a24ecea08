//! One agent session, after the upgrade: Hello/Welcome, then keepalives,
//! reports and policy pushes until either side goes away.
//!
//! Nothing on the per-keepalive path touches the store: a keepalive updates
//! the in-memory engine and is acknowledged; `last_seen` reaches the store in
//! batches (see `runtime`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use tokio::time::timeout;
use ward_proto::{AgentMsg, ErrorCode, ServerMsg, MAX_FRAME_BYTES, WIRE_VERSION};
use ward_store::{AgentAuth, SessionStart};

use super::lifecycle::{admit, Admission, Caps, SessionLife};
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Time an agent has to send `Hello` after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a single send may take before the session is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Time given to the peer to answer our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How a session ends.
enum End {
    /// The connection dropped.
    Gone,
    /// The peer sent a close frame: let our reply go out, then stop.
    PeerClosed,
    /// We close with an error frame first.
    Error(ErrorCode, String, u16),
    /// Server shutdown or idle: close without an error frame.
    Close(u16, &'static str),
}

/// What one received message means.
enum Step {
    Continue,
    End(End),
}

/// Runs a session for the agent authenticated as `auth`.
pub async fn run(st: Arc<AppState>, mut ws: WebSocket, auth: AgentAuth, addr: SocketAddr) {
    let agent_id = auth.asset_id.clone();
    let Some(_open) = st
        .metrics
        .try_open_session(u64::from(st.limits.max_sessions))
    else {
        let _ = close(&mut ws, close_code::AGAIN, "session limit").await;
        return;
    };
    let hello = match timeout(HELLO_TIMEOUT, first_frame(&mut ws)).await {
        Ok(Ok(h)) => h,
        Ok(Err(end)) => return finish(&st, &mut ws, end).await,
        Err(_) => {
            let end = End::Error(
                ErrorCode::Protocol,
                "no hello within 10 s".into(),
                close_code::POLICY,
            );
            return finish(&st, &mut ws, end).await;
        }
    };
    let AgentMsg::Hello {
        wire_version,
        agent_version,
        fingerprint,
        last_error,
        endpoint,
        instance,
        capabilities,
    } = hello
    else {
        let end = End::Error(
            ErrorCode::Protocol,
            "the first message must be hello".into(),
            close_code::POLICY,
        );
        return finish(&st, &mut ws, end).await;
    };
    if wire_version != WIRE_VERSION {
        let end = End::Error(
            ErrorCode::UnsupportedVersion,
            format!("this server speaks wire version {WIRE_VERSION}"),
            close_code::POLICY,
        );
        return finish(&st, &mut ws, end).await;
    }

    let caps = Caps::of(&capabilities);
    let mut reg = match admit(&st, &auth, &fingerprint, instance.as_deref(), caps).await {
        Admission::Welcome(reg) => reg,
        Admission::Reidentify(new, reason) => {
            let msg = ServerMsg::Reidentify {
                agent_id: new.agent_id,
                credential: new.credential,
                reason,
            };
            let end = match send(&mut ws, &msg).await {
                Ok(()) => End::Close(close_code::NORMAL, "re-identified"),
                Err(()) => End::Gone,
            };
            return finish(&st, &mut ws, end).await;
        }
        Admission::Refuse(message) => {
            let end = End::Error(ErrorCode::RateLimited, message, close_code::AGAIN);
            return finish(&st, &mut ws, end).await;
        }
    };
    let now = now_ms();
    if st.session_started(&agent_id, now).is_err() {
        st.registry.unregister(&agent_id, reg.session);
        let end = End::Error(
            ErrorCode::AssetUninstalled,
            "this asset was uninstalled".into(),
            close_code::POLICY,
        );
        return finish(&st, &mut ws, end).await;
    }
    tracing::info!(asset = %agent_id, %addr, version = %agent_version, "session started");

    let mut policy_rx = st.subscribe_policy();
    let policy = *policy_rx.borrow_and_update();
    let welcome = ServerMsg::Welcome {
        agent_id: agent_id.clone(),
        policy,
        server_time_ms: now,
        command_key: Some(st.lifecycle.public_key()),
    };
    let mut end = match send(&mut ws, &welcome).await {
        Ok(()) => None,
        Err(()) => Some(End::Gone),
    };
    if end.is_none() {
        let start = SessionStart {
            at: now,
            addr: addr.to_string(),
            endpoint,
            last_error,
            agent_version,
        };
        if let Err(e) = st.store.record_session_start(&agent_id, &start).await {
            tracing::error!(asset = %agent_id, error = %e, "recording the session start failed");
        }
    }
    let group = match caps.protection {
        true => st
            .store
            .get_asset(&agent_id)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.group),
        false => None,
    };
    let mut life = SessionLife::new(caps, &agent_id, group);
    let mut tamper_rx = st.lifecycle.subscribe_tamper();
    tamper_rx.borrow_and_update();
    if end.is_none() && life.start(&st, &mut ws).await.is_err() {
        end = Some(End::Gone);
    }

    let mut shutdown = st.shutdown.clone();
    while end.is_none() {
        let p = *policy_rx.borrow();
        let idle = Duration::from_millis(
            (p.offline_after_ms() + i64::from(p.keepalive_secs) * 1000).max(1000) as u64,
        );
        tokio::select! {
            _ = &mut reg.superseded => {
                end = Some(End::Error(
                    ErrorCode::Superseded,
                    "another session with this identity took over".into(),
                    close_code::POLICY,
                ));
            }
            _ = shutdown.changed() => end = Some(End::Close(close_code::AWAY, "server shutting down")),
            changed = policy_rx.changed() => {
                if changed.is_ok() {
                    let policy = *policy_rx.borrow_and_update();
                    if send(&mut ws, &ServerMsg::Policy { policy }).await.is_err() {
                        end = Some(End::Gone);
                    }
                }
            }
            _ = reg.poke.notified() => {
                if life.deliver(&st, &mut ws).await.is_err() {
                    end = Some(End::Gone);
                }
            }
            changed = tamper_rx.changed() => {
                if changed.is_ok() {
                    tamper_rx.borrow_and_update();
                    if life.send_protection(&st, &mut ws).await.is_err() {
                        end = Some(End::Gone);
                    }
                }
            }
            msg = timeout(idle, ws.recv()) => {
                let step = match msg {
                    Err(_) => Step::End(End::Close(close_code::AWAY, "idle")),
                    Ok(msg) => on_message(&st, &mut ws, &agent_id, &mut life, msg).await,
                };
                if let Step::End(e) = step {
                    end = Some(e);
                }
            }
        }
    }
    st.registry.unregister(&agent_id, reg.session);
    st.session_ended(&agent_id);
    if let Some(end) = end {
        finish(&st, &mut ws, end).await;
    }
    tracing::info!(asset = %agent_id, "session ended");
}

/// Reads until the first text frame and decodes it.
async fn first_frame(ws: &mut WebSocket) -> Result<AgentMsg, End> {
    loop {
        match ws.recv().await {
            None => return Err(End::Gone),
            Some(Err(e)) => return Err(read_error(e)),
            Some(Ok(Message::Text(t))) => return decode(t.as_str()),
            Some(Ok(Message::Binary(_))) => return Err(binary()),
            Some(Ok(Message::Close(_))) => return Err(End::PeerClosed),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        }
    }
}

async fn on_message(
    st: &AppState,
    ws: &mut WebSocket,
    agent_id: &str,
    life: &mut SessionLife,
    msg: Option<Result<Message, axum::Error>>,
) -> Step {
    let msg = match msg {
        None => return Step::End(End::Gone),
        Some(Err(e)) => return Step::End(read_error(e)),
        Some(Ok(m)) => m,
    };
    let now = now_ms();
    let text = match msg {
        Message::Text(t) => t,
        Message::Binary(_) => return Step::End(binary()),
        Message::Close(_) => return Step::End(End::PeerClosed),
        Message::Ping(_) | Message::Pong(_) => {
            st.touch(agent_id, now);
            return Step::Continue;
        }
    };
    let msg = match decode(text.as_str()) {
        Ok(m) => m,
        Err(end) => return Step::End(end),
    };
    st.touch(agent_id, now);
    match msg {
        AgentMsg::Keepalive { seq } => {
            Metrics::inc(&st.metrics.keepalives);
            if send(ws, &ServerMsg::KeepaliveAck { seq }).await.is_err() {
                return Step::End(End::Gone);
            }
        }
        AgentMsg::Report { report } => {
            if let Err(e) = st.store.update_report(agent_id, &report, now).await {
                tracing::error!(asset = %agent_id, error = %e, "storing a report failed");
            }
        }
        AgentMsg::Hello { .. } => {
            return Step::End(protocol("hello is only valid as the first message"));
        }
        AgentMsg::Events { events } => return on_events(st, ws, agent_id, events, now).await,
        AgentMsg::SpoolStats {
            depth,
            dropped_total,
        } => st.detect.spool_stats(agent_id, depth, dropped_total, now),
        AgentMsg::CommandResult {
            id,
            outcome,
            message,
        } => life.on_result(st, &id, outcome, message).await,
        AgentMsg::Notice { notice } => {
            if life.on_notice(st, ws, notice).await.is_err() {
                return Step::End(End::Gone);
            }
        }
    }
    Step::Continue
}

/// Stores a batch (de-duplicated, one transaction) and acknowledges it only
/// after the commit. The asset id comes from the session; the store sets
/// each event's `host` to it.
async fn on_events(
    st: &AppState,
    ws: &mut WebSocket,
    agent_id: &str,
    events: Vec<ward_events::Event>,
    now: i64,
) -> Step {
    if let Err(m) = crate::detect::ingest::validate_batch(&events) {
        return Step::End(protocol(&m));
    }
    match st.store.ingest_events(agent_id, &events, now).await {
        Ok(out) => {
            st.detect.ingested(&out);
            let ack = ServerMsg::EventsAck {
                up_to: out.high_water,
            };
            if send(ws, &ack).await.is_err() {
                return Step::End(End::Gone);
            }
            Step::Continue
        }
        Err(e) => {
            tracing::error!(asset = %agent_id, error = %e, count = events.len(), "storing events failed");
            Step::End(End::Error(
                ErrorCode::Internal,
                "the server could not store events; retry later".into(),
                close_code::ERROR,
            ))
        }
    }
}

fn decode(text: &str) -> Result<AgentMsg, End> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(protocol(&format!(
            "frame of {} bytes exceeds the {MAX_FRAME_BYTES} byte limit",
            text.len()
        )));
    }
    AgentMsg::decode(text).map_err(|e| protocol(&e.to_string()))
}

fn protocol(message: &str) -> End {
    End::Error(ErrorCode::Protocol, message.to_string(), close_code::POLICY)
}

fn binary() -> End {
    protocol("binary frames are not part of the protocol")
}

/// A read error: connection-level (I/O) errors just end the session; anything
/// else (oversized frame, invalid UTF-8, framing violation) is a protocol error.
fn read_error(e: axum::Error) -> End {
    let inner = e.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(err) = source {
        if err.is::<std::io::Error>() {
            return End::Gone;
        }
        source = err.source();
    }
    let text = inner.to_string();
    if text.contains("Connection closed") || text.contains("closed connection") {
        return End::Gone;
    }
    End::Error(
        ErrorCode::Protocol,
        format!("unreadable frame: {text}"),
        if text.contains("too long") || text.contains("Space limit") {
            close_code::SIZE
        } else {
            close_code::PROTOCOL
        },
    )
}

pub(crate) async fn send(ws: &mut WebSocket, msg: &ServerMsg) -> Result<(), ()> {
    match timeout(SEND_TIMEOUT, ws.send(Message::Text(msg.encode().into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn close(ws: &mut WebSocket, code: u16, reason: &'static str) -> Result<(), ()> {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    match timeout(SEND_TIMEOUT, ws.send(Message::Close(Some(frame)))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Ends a session: for errors, sends `Error{code}` first; then a close frame,
/// then waits briefly for the peer's close so the error is not lost to a reset.
async fn finish(st: &AppState, ws: &mut WebSocket, end: End) {
    let (code, reason) = match end {
        End::Gone => return,
        End::PeerClosed => {
            // Reading again flushes the close reply queued by the WebSocket layer.
            let _ = timeout(CLOSE_GRACE, ws.recv()).await;
            return;
        }
        End::Close(code, reason) => (code, reason),
        End::Error(err, message, code) => {
            if err == ErrorCode::Protocol {
                Metrics::inc(&st.metrics.frames_rejected);
            }
            tracing::info!(code = err.as_str(), %message, "closing session with an error");
            let _ = send(ws, &ServerMsg::Error { code: err, message }).await;
            (code, err.as_str())
        }
    };
    if close(ws, code, reason).await.is_err() {
        return;
    }
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(Ok(m)) = ws.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
