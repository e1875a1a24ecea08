//! The persistent session: a WebSocket (wire version 1, see `ward-proto`)
//! over TLS with the pinned server key, authenticated with the agent's
//! credential at the upgrade.
//!
//! * [`open`] connects and upgrades; [`probe`] opens a session, waits for
//!   `Welcome` and closes it (the install's repair check).
//! * [`live`] runs one session until it fails or the agent stops.
//! * [`runner`] loops over the endpoints with jittered backoff and keeps
//!   `data/status.json` current.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use ward_proto::{
    AgentMsg, ApiError, Credential, ErrorCode, Policy, ServerMsg, MAX_FRAME_BYTES, SESSION_PATH,
    WIRE_VERSION, WIRE_VERSION_HEADER,
};

use crate::error::exit_code;
use crate::http::{connect_tls_via, ConnectError, Endpoint, CONNECT_TIMEOUT};
use crate::net::{NetOptions, Route};

pub mod live;
pub mod runner;

pub use runner::{
    run_sessions, run_sessions_piped, run_sessions_with, NetRuntime, RunnerParams, SessionsEnd,
};

/// Time allowed between `Hello` and `Welcome`.
pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket over the TLS stream.
pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// Why a session could not be opened or ended, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("server refused session: {}", refusal(*status, *code, message))]
    Refused {
        status: u16,
        code: Option<ErrorCode>,
        message: String,
    },
    #[error("server closed session: {}: {message}", code.as_str())]
    Server { code: ErrorCode, message: String },
    #[error("server closed the connection")]
    Closed,
    #[error("server closed the session ({code}: {reason})")]
    ClosedBy { code: u16, reason: String },
    #[error("{0}")]
    Timeout(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("WebSocket: {0}")]
    Ws(String),
    /// Not a failure: instead of `Welcome` the server says this install is
    /// a copy of another host's and hands it an identity of its own.
    #[error("the server re-identified this install as a copy ({reason})")]
    Reidentify {
        credential: Credential,
        reason: String,
    },
}

fn refusal(status: u16, code: Option<ErrorCode>, message: &str) -> String {
    match code {
        Some(c) => format!("{}: {message}", c.as_str()),
        None => format!("HTTP {status}: {message}"),
    }
}

impl SessionError {
    /// The server says this identity is not (or no longer) valid.
    pub fn is_auth_rejection(&self) -> bool {
        let code = match self {
            SessionError::Refused { code, .. } => *code,
            SessionError::Server { code, .. } => Some(*code),
            _ => None,
        };
        matches!(
            code,
            Some(ErrorCode::Unauthorized | ErrorCode::AssetUninstalled)
        )
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Connect(_) | SessionError::Timeout(_) | SessionError::Ws(_) => {
                exit_code::UNREACHABLE
            }
            _ => exit_code::RUNTIME,
        }
    }
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// Connects, does the TLS handshake and upgrades to the session WebSocket.
pub async fn open(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    credential: &str,
) -> Result<Ws, SessionError> {
    open_via(ep, tls, &NetOptions::direct(), credential)
        .await
        .map(|(ws, _)| ws)
}

/// [`open`] dialed as `net` says; also returns the route taken.
pub async fn open_via(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    net: &NetOptions,
    credential: &str,
) -> Result<(Ws, Route), SessionError> {
    let (stream, route) = connect_tls_via(ep, tls, net).await?;
    let url = format!("wss://{}{}", ep.authority(), SESSION_PATH);
    let mut req = url
        .into_client_request()
        .map_err(|e| SessionError::Ws(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {credential}"))
        .map_err(|_| SessionError::Protocol("credential is not a valid header value".into()))?;
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    req.headers_mut()
        .insert(WIRE_VERSION_HEADER, HeaderValue::from(WIRE_VERSION));
    let upgrade = tokio_tungstenite::client_async_with_config(req, stream, Some(ws_config()));
    match tokio::time::timeout(CONNECT_TIMEOUT, upgrade).await {
        Ok(Ok((ws, _))) => Ok((ws, route)),
        Ok(Err(WsError::Http(resp))) => {
            let status = resp.status().as_u16();
            let body = resp.body().as_deref().unwrap_or_default();
            Err(match serde_json::from_slice::<ApiError>(body) {
                Ok(api) => SessionError::Refused {
                    status,
                    code: Some(api.error.code),
                    message: api.error.message,
                },
                Err(_) => SessionError::Refused {
                    status,
                    code: None,
                    message: resp
                        .status()
                        .canonical_reason()
                        .unwrap_or("upgrade refused")
                        .to_string(),
                },
            })
        }
        Ok(Err(e)) => Err(SessionError::Ws(e.to_string())),
        Err(_) => Err(SessionError::Timeout(format!(
            "WebSocket upgrade timed out after {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Sends one message as a text frame.
pub async fn send(ws: &mut Ws, msg: &AgentMsg) -> Result<(), SessionError> {
    ws.send(Message::text(msg.encode())).await.map_err(ws_error)
}

pub(crate) fn ws_error(e: WsError) -> SessionError {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => SessionError::Closed,
        WsError::Io(io) => SessionError::Ws(crate::http::io_reason(&io)),
        other => SessionError::Ws(other.to_string()),
    }
}

/// What the server said in a frame, or why the frame is not acceptable.
pub(crate) fn decode_frame(msg: Message) -> Result<Option<ServerMsg>, SessionError> {
    match msg {
        Message::Text(t) => ServerMsg::decode(t.as_str())
            .map(Some)
            .map_err(|e| SessionError::Protocol(e.to_string())),
        Message::Binary(_) => Err(SessionError::Protocol("binary frame".into())),
        Message::Close(frame) => match frame {
            Some(f) if !f.reason.is_empty() => Err(SessionError::ClosedBy {
                code: u16::from(f.code),
                reason: f.reason.to_string(),
            }),
            _ => Err(SessionError::Closed),
        },
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

/// The server's answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub agent_id: String,
    pub policy: Policy,
    pub server_time_ms: i64,
    /// The server's command key (standard base64).
    pub command_key: Option<String>,
}

/// Sends `hello` and waits up to [`WELCOME_TIMEOUT`] for `Welcome`.
pub async fn handshake(ws: &mut Ws, hello: &AgentMsg) -> Result<Welcome, SessionError> {
    send(ws, hello).await?;
    let wait = async {
        loop {
            let Some(frame) = ws.next().await else {
                return Err(SessionError::Closed);
            };
            match decode_frame(frame.map_err(ws_error)?)? {
                Some(ServerMsg::Welcome {
                    agent_id,
                    policy,
                    server_time_ms,
                    command_key,
                }) => {
                    return Ok(Welcome {
                        agent_id,
                        policy,
                        server_time_ms,
                        command_key,
                    })
                }
                Some(ServerMsg::Reidentify {
                    agent_id,
                    credential,
                    reason,
                }) => {
                    let credential = Credential::parse(&credential)
                        .ok()
                        .filter(|c| c.agent_id == agent_id)
                        .ok_or_else(|| {
                            SessionError::Protocol(
                                "re-identification with a malformed credential".into(),
                            )
                        })?;
                    return Err(SessionError::Reidentify { credential, reason });
                }
                Some(ServerMsg::Error { code, message }) => {
                    return Err(SessionError::Server { code, message })
                }
                Some(other) => {
                    return Err(SessionError::Protocol(format!(
                        "expected welcome, got {}",
                        other.encode()
                    )))
                }
                None => continue,
            }
        }
    };
    match tokio::time::timeout(WELCOME_TIMEOUT, wait).await {
        Ok(r) => r,
        Err(_) => Err(SessionError::Timeout(format!(
            "no welcome from the server within {} s",
            WELCOME_TIMEOUT.as_secs()
        ))),
    }
}

/// The `Hello` this agent sends (without lifecycle capabilities: the
/// install's repair check and other one-shot sessions).
pub fn hello(fingerprint: &str, last_error: Option<String>, endpoint: &Endpoint) -> AgentMsg {
    AgentMsg::Hello {
        wire_version: WIRE_VERSION,
        agent_version: crate::version().to_string(),
        fingerprint: fingerprint.to_string(),
        last_error,
        endpoint: Some(endpoint.url.clone()),
        instance: None,
        capabilities: Vec::new(),
    }
}

/// The `Hello` of the running agent: its process instance id and the
/// lifecycle capabilities.
pub fn agent_hello(
    fingerprint: &str,
    last_error: Option<String>,
    endpoint: &Endpoint,
    instance: &str,
) -> AgentMsg {
    let mut h = hello(fingerprint, last_error, endpoint);
    if let AgentMsg::Hello {
        instance: i,
        capabilities,
        ..
    } = &mut h
    {
        *i = Some(instance.to_string());
        *capabilities = crate::lifecycle::session::capabilities();
    }
    h
}

/// Opens a session with `credential`, waits for `Welcome` and closes it.
pub async fn probe(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    credential: &str,
    fingerprint: &str,
) -> Result<Welcome, SessionError> {
    probe_via(ep, tls, &NetOptions::direct(), credential, fingerprint).await
}

/// [`probe`] dialed as `net` says.
pub async fn probe_via(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    net: &NetOptions,
    credential: &str,
    fingerprint: &str,
) -> Result<Welcome, SessionError> {
    let (mut ws, _) = open_via(ep, tls, net, credential).await?;
    let welcome = handshake(&mut ws, &hello(fingerprint, None, ep)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    welcome
}
