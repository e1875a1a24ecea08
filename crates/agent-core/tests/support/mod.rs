//! A tiny in-test Ward server speaking the real wire contract over real TLS
//! (hyper + tokio-rustls + tokio-tungstenite), with a self-signed rcgen
//! certificate whose pin is computed by the `openssl` CLI (the oracle).
//!
//! Keys: `good-key` enrolls, `revoked-key` is `key_revoked`, anything else
//! `key_unknown`. Shared by the agent-core and ward-agent integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use ward_proto::{
    AgentMsg, ApiError, EnrollRequest, EnrollResponse, ErrorCode, Policy, ServerMsg, Signed,
    ENROLL_PATH, SESSION_PATH, WIRE_VERSION_HEADER,
};

/// The test server's command-signing key (a fixed seed: tests sign with it
/// and with other keys).
pub fn server_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42u8; 32])
}

/// Standard base64 of a key's public half.
pub fn public_b64(k: &ed25519_dalek::SigningKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(k.verifying_key().to_bytes())
}

/// Signs `payload` (as JSON) for `domain` with `key`, the way ward-pki does.
pub fn sign_doc<T: serde::Serialize>(
    key: &ed25519_dalek::SigningKey,
    domain: &str,
    payload: &T,
) -> Signed {
    use base64::Engine as _;
    use ed25519_dalek::Signer;
    let text = serde_json::to_string(payload).unwrap();
    let sig = key.sign(&ward_pki::signed::message(domain, &text));
    Signed {
        payload: text,
        signature: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
    }
}

/// A self-signed certificate, its PKCS#8 key and its pin per openssl.
#[derive(Clone)]
pub struct TestCert {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    pub pin: String,
}

/// The pin of a DER certificate, computed by the openssl CLI.
pub fn openssl_pin(cert_der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.der"), cert_der).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "openssl x509 -inform der -in c.der -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    format!("sha256//{}", String::from_utf8(out.stdout).unwrap().trim())
}

pub fn make_cert() -> TestCert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der = ck.cert.der().to_vec();
    TestCert {
        pin: openssl_pin(&cert_der),
        cert_der,
        key_der: ck.key_pair.serialize_der(),
    }
}

/// What the server saw.
#[derive(Default)]
pub struct State {
    pub policy: Policy,
    /// credential -> agent id
    pub agents: HashMap<String, String>,
    pub enrollments: Vec<EnrollRequest>,
    /// Accepted WebSocket sessions.
    pub sessions: u32,
    pub refused_upgrades: u32,
    /// (when, session number starting at 1, message)
    pub events: Vec<(Instant, u32, AgentMsg)>,
    pub wire_versions: Vec<Option<String>>,
}

#[derive(Clone, Debug)]
pub enum Control {
    Push(Policy),
    /// Drop every session's connection without a close frame.
    DropAll,
    /// Stop answering (no acks) on current sessions.
    Mute,
    /// Send this message on every current session.
    Send(ServerMsg),
}

pub struct TestServer {
    pub rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub url: String,
    pub cert: TestCert,
    pub state: Arc<Mutex<State>>,
    control: broadcast::Sender<Control>,
}

impl TestServer {
    pub fn start(policy: Policy) -> TestServer {
        Self::start_with_cert(policy, make_cert())
    }

    pub fn start_with_cert(policy: Policy, cert: TestCert) -> TestServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Mutex::new(State {
            policy,
            ..Default::default()
        }));
        let (control, _) = broadcast::channel(16);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone())),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
        let (st, ctl) = (state.clone(), control.clone());
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, st, ctl) = (acceptor.clone(), st.clone(), ctl.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc =
                        hyper::service::service_fn(move |req| handle(req, st.clone(), ctl.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        TestServer {
            rt,
            url: format!("https://127.0.0.1:{}", addr.port()),
            addr,
            cert,
            state,
            control,
        }
    }

    pub fn pin(&self) -> String {
        self.cert.pin.clone()
    }

    /// Registers an agent without enrollment; returns its credential.
    pub fn add_agent(&self, agent_id: &str) -> String {
        let cred = format!("wa1.{agent_id}.s3cret{agent_id}");
        self.state
            .lock()
            .unwrap()
            .agents
            .insert(cred.clone(), agent_id.to_string());
        cred
    }

    pub fn control(&self, c: Control) {
        let _ = self.control.send(c);
    }

    /// Messages of session `n`.
    pub fn messages(&self, session: u32) -> Vec<(Instant, AgentMsg)> {
        let st = self.state.lock().unwrap();
        st.events
            .iter()
            .filter(|(_, s, _)| *s == session)
            .map(|(t, _, m)| (*t, m.clone()))
            .collect()
    }

    pub fn keepalives(&self, session: u32) -> Vec<(Instant, u64)> {
        self.messages(session)
            .into_iter()
            .filter_map(|(t, m)| match m {
                AgentMsg::Keepalive { seq } => Some((t, seq)),
                _ => None,
            })
            .collect()
    }

    pub fn sessions(&self) -> u32 {
        self.state.lock().unwrap().sessions
    }

    pub fn enrollments(&self) -> usize {
        self.state.lock().unwrap().enrollments.len()
    }
}

/// Polls `cond` every 50 ms until it holds or `secs` pass.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Recursively true if any file under `dir` contains `needle`.
pub fn tree_contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_symlink() {
            false
        } else if p.is_dir() {
            tree_contains(&p, needle)
        } else {
            std::fs::read(&p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

fn json_response(status: StatusCode, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn api_error(status: StatusCode, code: ErrorCode, msg: &str) -> Response<String> {
    json_response(
        status,
        serde_json::to_string(&ApiError::new(code, msg)).unwrap(),
    )
}

async fn read_body(mut body: Incoming) -> Vec<u8> {
    let mut buf = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Ok(Ok(data)) = frame.map(|f| f.into_data()) {
            buf.extend_from_slice(&data);
        }
    }
    buf
}

async fn handle(
    req: Request<Incoming>,
    st: Arc<Mutex<State>>,
    ctl: broadcast::Sender<Control>,
) -> Result<Response<String>, Infallible> {
    match (req.method().clone(), req.uri().path()) {
        (Method::POST, ENROLL_PATH) => {
            let body = read_body(req.into_body()).await;
            let Ok(er) = serde_json::from_slice::<EnrollRequest>(&body) else {
                return Ok(api_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    "bad body",
                ));
            };
            match er.key.as_str() {
                "good-key" => {}
                "revoked-key" => {
                    return Ok(api_error(
                        StatusCode::FORBIDDEN,
                        ErrorCode::KeyRevoked,
                        "verification key revoked",
                    ))
                }
                _ => {
                    return Ok(api_error(
                        StatusCode::UNAUTHORIZED,
                        ErrorCode::KeyUnknown,
                        "unknown verification key",
                    ))
                }
            }
            let mut s = st.lock().unwrap();
            s.enrollments.push(er);
            let id = format!("ag_{}", s.enrollments.len());
            let cred = format!("wa1.{id}.secret-{}", s.enrollments.len());
            s.agents.insert(cred.clone(), id.clone());
            let resp = EnrollResponse {
                agent_id: id,
                credential: cred,
                policy: s.policy,
                release_key: None,
                command_key: Some(public_b64(&server_key())),
            };
            Ok(json_response(
                StatusCode::OK,
                serde_json::to_string(&resp).unwrap(),
            ))
        }
        (Method::GET, SESSION_PATH) => {
            let bearer = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string);
            let agent = {
                let mut s = st.lock().unwrap();
                let agent = bearer.and_then(|b| s.agents.get(&b).cloned());
                if agent.is_none() {
                    s.refused_upgrades += 1;
                }
                agent
            };
            let Some(agent_id) = agent else {
                return Ok(api_error(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "unknown agent credential",
                ));
            };
            let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
                return Ok(api_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    "no upgrade",
                ));
            };
            let wire = req
                .headers()
                .get(WIRE_VERSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let session = {
                let mut s = st.lock().unwrap();
                s.sessions += 1;
                s.wire_versions.push(wire);
                s.sessions
            };
            let rx = ctl.subscribe();
            tokio::spawn(async move {
                if let Ok(up) = hyper::upgrade::on(req).await {
                    let ws = WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, None)
                        .await;
                    session_loop(ws, session, agent_id, st, rx).await;
                }
            });
            let mut r = Response::new(String::new());
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let h = r.headers_mut();
            h.insert(UPGRADE, HeaderValue::from_static("websocket"));
            h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(
                "sec-websocket-accept",
                HeaderValue::from_str(&derive_accept_key(key.as_bytes())).unwrap(),
            );
            Ok(r)
        }
        _ => Ok(api_error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such path",
        )),
    }
}

async fn session_loop<S>(
    mut ws: WebSocketStream<S>,
    session: u32,
    agent_id: String,
    st: Arc<Mutex<State>>,
    mut ctl: broadcast::Receiver<Control>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut muted = false;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(Message::Text(text))) = msg else { return };
                let Ok(m) = AgentMsg::decode(text.as_str()) else { return };
                st.lock().unwrap().events.push((Instant::now(), session, m.clone()));
                if muted {
                    continue;
                }
                let reply = match m {
                    AgentMsg::Hello { .. } => Some(ServerMsg::Welcome {
                        agent_id: agent_id.clone(),
                        policy: st.lock().unwrap().policy,
                        server_time_ms: 0,
                        command_key: Some(public_b64(&server_key())),
                    }),
                    AgentMsg::Keepalive { seq } => Some(ServerMsg::KeepaliveAck { seq }),
                    AgentMsg::Report { .. } => None,
                    // Stored at once: acknowledge up to the last id.
                    AgentMsg::Events { events } => events
                        .last()
                        .map(|e| ServerMsg::EventsAck { up_to: e.id }),
                    AgentMsg::SpoolStats { .. } => None,
                    AgentMsg::CommandResult { .. } => None,
                    AgentMsg::Notice { notice } => Some(ServerMsg::NoticeAck { id: notice.id }),
                };
                if let Some(r) = reply {
                    if ws.send(Message::text(r.encode())).await.is_err() {
                        return;
                    }
                }
            }
            c = ctl.recv() => match c {
                Ok(Control::Push(policy)) => {
                    st.lock().unwrap().policy = policy;
                    let _ = ws.send(Message::text(ServerMsg::Policy { policy }.encode())).await;
                }
                Ok(Control::DropAll) => return,
                Ok(Control::Mute) => muted = true,
                Ok(Control::Send(m)) => {
                    let _ = ws.send(Message::text(m.encode())).await;
                }
                Err(_) => {}
            }
        }
    }
}

/// A policy with 1 s keepalives, so tests see several in a few seconds.
pub const FAST: Policy = Policy {
    keepalive_secs: 1,
    missed_keepalives: 3,
    report_interval_secs: 3600,
};

/// Agent settings that reconnect within 50–200 ms.
pub fn fast_agent_config() -> ward_agent_core::config::AgentConfig {
    ward_agent_core::config::AgentConfig {
        reconnect_min_backoff_ms: 50,
        reconnect_max_backoff_ms: 200,
        report_check_secs: 1,
        ..Default::default()
    }
}

/// Session runner parameters for a test agent `agent_id` (fingerprint
/// `fingerprint`) trusting `pin` and trying `endpoints` in order.
pub fn runner_params(
    endpoints: &[String],
    pin: &str,
    agent_id: &str,
    credential: &str,
    fingerprint: &str,
    config: ward_agent_core::config::AgentConfig,
    status_path: std::path::PathBuf,
) -> ward_agent_core::session::RunnerParams {
    ward_agent_core::session::RunnerParams {
        endpoints: endpoints
            .iter()
            .map(|e| ward_agent_core::http::Endpoint::parse(e).unwrap())
            .collect(),
        tls: ward_pki::pin::pinned_client_config(pin).unwrap(),
        identity: ward_agent_core::identity::Identity {
            agent_id: agent_id.into(),
            credential: credential.into(),
            fingerprint: fingerprint.into(),
        },
        fingerprint: fingerprint.into(),
        config,
        status_path,
        host_paths: Default::default(),
        layout: None,
    }
}

/// Asks a running agent task to stop and checks it returns within 5 s.
pub fn stop_agent<T>(
    rt: &tokio::runtime::Runtime,
    stop: &tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<T>,
) -> T {
    stop.send(true).unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
        .expect("agent stops within 5 s of shutdown")
        .unwrap()
}
