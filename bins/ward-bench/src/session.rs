//! One simulated agent: TCP from its source address, TLS with the pinned
//! key, the WebSocket upgrade with its credential, `Hello` → `Welcome`
//! (`ward-agent-core`'s `session::handshake`), one `Report`, then a
//! `Keepalive` every policy interval, counting acks and their latency.
//! A failed session reconnects with the agent's jittered backoff.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep_until, Instant};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use ward_agent_core::backoff::Backoff;
use ward_agent_core::http::{io_reason, Endpoint};
use ward_agent_core::session::{handshake, hello, send, SessionError, Ws};
use ward_proto::{
    AgentMsg, ApiError, Policy, ServerMsg, SESSION_PATH, WIRE_VERSION, WIRE_VERSION_HEADER,
};

use crate::enroll::{connect_error_kind, simulated_report};
use crate::net::connect_from;
use crate::stats::Stats;

/// What every simulated agent shares.
pub struct Shared {
    pub ep: Endpoint,
    pub server: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
    /// Bound on connect + TLS + upgrade + Welcome, per attempt.
    pub open_timeout: Duration,
    /// Overrides the server's keepalive interval when set.
    pub keepalive_override: Option<Duration>,
    /// Sessions being opened at once.
    pub open_permits: Semaphore,
    /// Reconnect after a failure (as a real agent does).
    pub reconnect: bool,
    /// Number of agents; when `agents_up` reaches it, `all_up` is set.
    pub target: u64,
    pub stats: Stats,
}

/// One simulated agent.
pub struct Agent {
    pub index: usize,
    pub name: String,
    pub credential: String,
    pub source: Option<IpAddr>,
}

/// Per-session WebSocket buffers: small, there are many sessions.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(ward_proto::MAX_FRAME_BYTES))
        .max_frame_size(Some(ward_proto::MAX_FRAME_BYTES))
}

/// Short, address-free kind of a session failure.
pub fn session_error_kind(e: &SessionError) -> String {
    let short = |s: &str| s.chars().take(80).collect::<String>();
    match e {
        SessionError::Connect(c) => connect_error_kind(c),
        SessionError::Refused { status, code, .. } => format!(
            "upgrade refused: HTTP {status}{}",
            code.map(|c| format!(" {}", c.as_str())).unwrap_or_default()
        ),
        SessionError::Server { code, .. } => format!("server error: {}", code.as_str()),
        SessionError::Closed => "closed by server".into(),
        SessionError::ClosedBy { code, reason } => {
            format!("closed by server: {code} {}", short(reason))
        }
        SessionError::Timeout(m) => format!("timeout: {}", short(m)),
        SessionError::Protocol(m) => format!("protocol: {}", short(m)),
        SessionError::Ws(m) => format!("websocket: {}", short(m)),
        SessionError::Reidentify { .. } => "re-identified as a copy".into(),
    }
}

fn tls_kind(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::General(m)) => format!("tls: {m}"),
        Some(other) => format!("tls: {other}"),
        None => format!("tls: {}", io_reason(e)),
    }
}

/// Connect, TLS, upgrade, Hello/Welcome, Report. Errors are error kinds.
async fn open(sh: &Shared, a: &Agent) -> Result<(Ws, Policy), String> {
    let tcp = connect_from(sh.server, a.source, sh.open_timeout)
        .await
        .map_err(|e| format!("connect: {}", io_reason(&e)))?;
    let name = sh.ep.server_name().map_err(|e| connect_error_kind(&e))?;
    let tls = TlsConnector::from(sh.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| tls_kind(&e))?;
    let mut req = format!("wss://{}{}", sh.ep.authority(), SESSION_PATH)
        .into_client_request()
        .map_err(|e| format!("request: {e}"))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", a.credential))
        .map_err(|_| "credential is not a valid header value".to_string())?;
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    req.headers_mut()
        .insert(WIRE_VERSION_HEADER, HeaderValue::from(WIRE_VERSION));
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, tls, Some(ws_config()))
        .await
        .map_err(|e| upgrade_kind(&e))?;
    let welcome = handshake(&mut ws, &hello(&a.name, None, &sh.ep))
        .await
        .map_err(|e| session_error_kind(&e))?;
    let report = AgentMsg::Report {
        report: simulated_report(&a.name, a.index),
    };
    send(&mut ws, &report)
        .await
        .map_err(|e| session_error_kind(&e))?;
    Ok((ws, welcome.policy))
}

fn upgrade_kind(e: &WsError) -> String {
    match e {
        WsError::Http(resp) => {
            let code = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<ApiError>(b).ok())
                .map(|a| format!(" {}", a.error.code.as_str()))
                .unwrap_or_default();
            format!("upgrade refused: HTTP {}{code}", resp.status().as_u16())
        }
        WsError::Io(io) => format!("upgrade: {}", io_reason(io)),
        other => format!("upgrade: {other}"),
    }
}

/// How a live session ended.
enum Ended {
    Stop,
    Failed(String),
}

/// Runs one agent until `stop` turns true (or its first failure when
/// reconnecting is off).
pub async fn run_agent(sh: Arc<Shared>, a: Agent, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut was_up = false;
    loop {
        if *stop.borrow() {
            return;
        }
        Stats::inc(&sh.stats.open_attempts);
        let opened = {
            let Ok(_permit) = sh.open_permits.acquire().await else {
                return;
            };
            let t0 = Instant::now();
            let r = tokio::select! {
                r = tokio::time::timeout(sh.open_timeout, open(&sh, &a)) => r,
                _ = stop.changed() => return,
            };
            match r {
                Ok(Ok(x)) => {
                    sh.stats.open_latency.record(t0.elapsed());
                    Ok(x)
                }
                Ok(Err(kind)) => Err(kind),
                Err(_) => Err("timeout: session not open in time".to_string()),
            }
        };
        let ended = match opened {
            Ok((mut ws, policy)) => {
                if !was_up {
                    was_up = true;
                    let up = sh
                        .stats
                        .agents_up
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if up + 1 == sh.target {
                        let _ = sh.stats.all_up.set(std::time::Instant::now());
                    }
                }
                Stats::inc(&sh.stats.sessions_opened);
                sh.stats
                    .live
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (ended, healthy) = live(&sh, &mut ws, policy, &mut stop).await;
                sh.stats
                    .live
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                if matches!(ended, Ended::Failed(_)) {
                    Stats::inc(&sh.stats.sessions_lost);
                }
                if healthy {
                    backoff.reset();
                }
                ended
            }
            Err(kind) => Ended::Failed(kind),
        };
        match ended {
            Ended::Stop => return,
            Ended::Failed(kind) => {
                sh.stats.errors.add(kind);
                if !sh.reconnect {
                    if !was_up {
                        Stats::inc(&sh.stats.gave_up);
                    }
                    return;
                }
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// The live part of a session; returns how it ended and whether any
/// keepalive was acknowledged.
async fn live(
    sh: &Shared,
    ws: &mut Ws,
    policy: Policy,
    stop: &mut watch::Receiver<bool>,
) -> (Ended, bool) {
    let st = &sh.stats;
    let secs = |p: &Policy| Duration::from_secs(u64::from(p.keepalive_secs.max(1)));
    let mut interval = sh.keepalive_override.unwrap_or_else(|| secs(&policy));
    let mut missed = policy.missed_keepalives.max(1);
    st.keepalive_ms.store(
        interval.as_millis() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    // Agents start at random times in real fleets: spread the first keepalive.
    let mut next_ka = Instant::now() + interval.mul_f64(rand::thread_rng().gen::<f64>());
    let mut last_inbound = Instant::now();
    let mut pending: Option<(u64, Instant)> = None;
    let mut seq = 0u64;
    let mut healthy = false;
    loop {
        if *stop.borrow() {
            return (Ended::Stop, healthy);
        }
        let silence = interval * missed + interval / 2;
        tokio::select! {
            _ = stop.changed() => return (Ended::Stop, healthy),
            frame = ws.next() => {
                last_inbound = Instant::now();
                let msg = match frame {
                    None => return (Ended::Failed("closed by server".into()), healthy),
                    Some(Err(e)) => return (Ended::Failed(ws_read_kind(&e)), healthy),
                    Some(Ok(m)) => m,
                };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(f) => {
                        let why = f.map(|f| format!(": {} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                        return (Ended::Failed(format!("closed by server{why}")), healthy);
                    }
                    Message::Binary(_) => return (Ended::Failed("protocol: binary frame".into()), healthy),
                    _ => continue,
                };
                match ServerMsg::decode(text.as_str()) {
                    Ok(ServerMsg::KeepaliveAck { seq: s }) => match pending {
                        Some((p, sent)) if p == s => {
                            st.ack_latency.record(sent.elapsed());
                            Stats::inc(&st.acks);
                            pending = None;
                            healthy = true;
                        }
                        _ => Stats::inc(&st.acks_unmatched),
                    },
                    Ok(ServerMsg::Policy { policy: p }) => {
                        Stats::inc(&st.policy_pushes);
                        missed = p.missed_keepalives.max(1);
                        if sh.keepalive_override.is_none() {
                            interval = secs(&p);
                            next_ka = next_ka.min(Instant::now() + interval);
                        }
                    }
                    Ok(ServerMsg::Error { code, .. }) => {
                        return (Ended::Failed(format!("server error: {}", code.as_str())), healthy);
                    }
                    // A second Welcome, or messages this simulator does not use.
                    Ok(_) => {}
                    Err(e) => return (Ended::Failed(format!("protocol: {e}")), healthy),
                }
            }
            _ = sleep_until(next_ka) => {
                seq += 1;
                if pending.is_some() {
                    // The previous keepalive is still unanswered.
                    Stats::inc(&st.acks_overdue);
                }
                pending = Some((seq, Instant::now()));
                Stats::inc(&st.keepalives_sent);
                if let Err(e) = send(ws, &AgentMsg::Keepalive { seq }).await {
                    return (Ended::Failed(session_error_kind(&e)), healthy);
                }
                next_ka += interval;
            }
            _ = sleep_until(last_inbound + silence) => {
                return (Ended::Failed("timeout: server silent for the offline window".into()), healthy);
            }
        }
    }
}

fn ws_read_kind(e: &WsError) -> String {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => "closed by server".into(),
        WsError::Io(io) => format!("websocket: {}", io_reason(io)),
        other => format!("websocket: {other}"),
    }
}
