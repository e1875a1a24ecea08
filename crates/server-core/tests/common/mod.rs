//! Test harness: a real server on 127.0.0.1:0 with a temporary data dir and
//! a real SQLite store, reached over real TLS with the pin.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use ward_config::ServerConfig;
use ward_proto::{
    AgentMsg, EnrollRequest, EnrollResponse, HostReport, Policy, ServerMsg, ENROLL_PATH,
    SESSION_PATH, WIRE_VERSION, WIRE_VERSION_HEADER,
};
use ward_server_core::{admin, RunningServer, StartOptions};

pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub pin: String,
    pub token: String,
    pub tls: Arc<rustls::ClientConfig>,
}

pub fn config(dir: &std::path::Path, policy: Policy) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        policy,
        ..ServerConfig::default()
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Policy::default()).await
    }

    pub async fn start_with(policy: Policy) -> TestServer {
        Self::start_with_rules(policy, &[]).await
    }

    /// A server whose `rules_dir` (`<data_dir>/rules`) holds `rules`
    /// (file name, text) when it starts.
    pub async fn start_with_rules(policy: Policy, rules: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        if !rules.is_empty() {
            let rd = dir.path().join("data").join("rules");
            std::fs::create_dir_all(&rd).unwrap();
            for (name, text) in rules {
                std::fs::write(rd.join(name), text).unwrap();
            }
        }
        let server = ward_server_core::start(config(dir.path(), policy), StartOptions::default())
            .await
            .expect("server starts");
        let (_, token) = admin::create_api_token(&*server.store(), "tests")
            .await
            .unwrap();
        let pin = server.pin().to_string();
        TestServer {
            addr: server.local_addr,
            tls: ward_pki::pin::pinned_client_config(&pin).unwrap(),
            pin,
            token,
            server: Some(server),
            dir,
        }
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the server and starts it again on the same data dir (new port).
    pub async fn restart(&mut self, policy: Policy) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let server =
            ward_server_core::start(config(self.dir.path(), policy), StartOptions::default())
                .await
                .expect("server restarts");
        assert_eq!(server.pin(), self.pin, "the pin survives a restart");
        self.addr = server.local_addr;
        self.server = Some(server);
    }

    pub async fn tls_connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        TlsConnector::from(self.tls.clone())
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS with the pin")
    }

    /// One HTTP/1.1 request over a fresh pinned TLS connection.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
        let tls = self.tls_connect().await;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = send.send_request(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec(), headers)
    }

    /// An authenticated API call; returns status and JSON body.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let auth = format!("Bearer {}", self.token);
        let (status, bytes, _) = self
            .request(
                method,
                path,
                &[("authorization", &auth)],
                body.map(|b| b.to_string()),
            )
            .await;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.api(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub async fn asset(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/assets/{id}")).await
    }

    /// Creates a verification key through the API; returns (id, secret).
    pub async fn create_key(&self, label: &str) -> (String, String) {
        let (status, v) = self
            .api(
                Method::POST,
                "/api/v1/keys",
                Some(serde_json::json!({ "label": label })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        (
            v["id"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    }

    /// `POST ENROLL_PATH`; returns status and body.
    pub async fn enroll_raw(&self, key: &str, hostname: &str) -> (StatusCode, Value) {
        let req = EnrollRequest {
            key: key.to_string(),
            fingerprint: format!("fp-{hostname}"),
            agent_version: "0.1.0-test".into(),
            platform: "linux-x86_64".into(),
            report: report(hostname),
        };
        let (status, bytes, _) = self
            .request(
                Method::POST,
                ENROLL_PATH,
                &[],
                Some(serde_json::to_string(&req).unwrap()),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn enroll(&self, key: &str, hostname: &str) -> EnrollResponse {
        let (status, v) = self.enroll_raw(key, hostname).await;
        assert_eq!(status, StatusCode::OK, "enroll: {v}");
        serde_json::from_value(v).unwrap()
    }

    /// Opens a session WebSocket with these headers (None = header absent).
    pub async fn ws_raw(
        &self,
        credential: Option<&str>,
        version: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("wss://localhost{SESSION_PATH}")
            .into_client_request()
            .unwrap();
        if let Some(c) = credential {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {c}")).unwrap(),
            );
        }
        if let Some(v) = version {
            req.headers_mut()
                .insert(WIRE_VERSION_HEADER, HeaderValue::from_str(v).unwrap());
        }
        let tls = self.tls_connect().await;
        let (ws, _) = tokio_tungstenite::client_async(req, tls).await?;
        Ok(Ws { ws })
    }

    /// A session that said Hello and got Welcome.
    pub async fn session(&self, credential: &str) -> (Ws, ServerMsg) {
        let mut ws = self
            .ws_raw(Some(credential), Some(&WIRE_VERSION.to_string()))
            .await
            .expect("session upgrade");
        ws.send(&hello()).await;
        let welcome = ws.recv().await.expect("welcome");
        (ws, welcome)
    }

    /// A session that sent `hello` and got the first answer (Welcome,
    /// Reidentify or Error).
    pub async fn session_with(&self, credential: &str, hello: &AgentMsg) -> (Ws, ServerMsg) {
        let mut ws = self
            .ws_raw(Some(credential), Some(&WIRE_VERSION.to_string()))
            .await
            .expect("session upgrade");
        ws.send(hello).await;
        let first = ws.recv().await.expect("an answer to hello");
        (ws, first)
    }

    /// The command key's public half, as `server.json` publishes it.
    pub fn command_key(&self) -> ward_pki::signed::Verifier {
        ward_pki::signed::Verifier::from_b64(&self.running().info.command_key).unwrap()
    }

    /// Polls asset `id` until `pred` holds or the deadline passes.
    pub async fn wait_asset(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let a = self.asset(id).await;
            if pred(&a) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {a}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn report(hostname: &str) -> HostReport {
    HostReport {
        hostname: hostname.to_string(),
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        ips: vec!["192.0.2.10".into()],
        agent_version: "0.1.0-test".into(),
        ..HostReport::default()
    }
}

pub fn hello() -> AgentMsg {
    AgentMsg::Hello {
        wire_version: WIRE_VERSION,
        agent_version: "0.1.0-test".into(),
        fingerprint: "fp".into(),
        last_error: Some("connection refused".into()),
        endpoint: Some("https://127.0.0.1".into()),
        instance: None,
        capabilities: Vec::new(),
    }
}

/// The `Hello` of a lifecycle-aware agent process.
pub fn agent_hello(fingerprint: &str, instance: &str) -> AgentMsg {
    AgentMsg::Hello {
        wire_version: WIRE_VERSION,
        agent_version: "0.1.0-test".into(),
        fingerprint: fingerprint.into(),
        last_error: None,
        endpoint: None,
        instance: Some(instance.into()),
        capabilities: ward_proto::lifecycle::capability::ALL
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

pub type WsStream = WebSocketStream<TlsStream<TcpStream>>;

pub struct Ws {
    pub ws: WsStream,
}

/// What the next incoming message was.
#[derive(Debug)]
pub enum Incoming {
    Msg(ServerMsg),
    Closed,
}

impl Ws {
    pub async fn send(&mut self, msg: &AgentMsg) {
        self.ws.send(Message::text(msg.encode())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        // The server may close as soon as it has read a bad frame.
        let _ = self.ws.send(m).await;
    }

    /// Next server message (skipping pings), or `Closed`.
    pub async fn next(&mut self) -> Incoming {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within the deadline");
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Incoming::Msg(ServerMsg::decode(t.as_str()).expect("valid server msg"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => panic!("server sent a binary frame"),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Incoming::Closed,
            }
        }
    }

    pub async fn recv(&mut self) -> Option<ServerMsg> {
        match self.next().await {
            Incoming::Msg(m) => Some(m),
            Incoming::Closed => None,
        }
    }

    /// Sends a keepalive and expects its ack.
    pub async fn keepalive(&mut self, seq: u64) {
        self.send(&AgentMsg::Keepalive { seq }).await;
        loop {
            match self.recv().await {
                Some(ServerMsg::KeepaliveAck { seq: s }) if s == seq => return,
                Some(ServerMsg::Policy { .. } | ServerMsg::Protection { .. }) => continue,
                other => panic!("expected KeepaliveAck {seq}, got {other:?}"),
            }
        }
    }

    /// Expects `Error{code}` (after any protection statements) then the
    /// end of the session.
    pub async fn expect_error_and_close(&mut self, code: ward_proto::ErrorCode) -> String {
        let msg = loop {
            match self.recv().await {
                Some(ServerMsg::Error { code: c, message }) if c == code => break message,
                Some(ServerMsg::Protection { .. }) => continue,
                other => panic!("expected Error{{{code:?}}}, got {other:?}"),
            }
        };
        assert!(
            matches!(self.next().await, Incoming::Closed),
            "the session must close after an error"
        );
        msg
    }
}
