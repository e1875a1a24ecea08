//! Command delivery benchmark (test and benchmark tool, not shipped).
//!
//! N simulated agents enroll, open real pinned TLS WebSocket sessions with
//! `ward-agent-core`'s client announcing the lifecycle capabilities, and
//! wait. Then one `POST /api/v1/uninstall` names all of them (what the
//! console's bulk Uninstall does); each session records when its signed
//! command arrives, checks the signature with the server's command key and
//! answers `rejected` (so nothing is removed). Latency is measured from
//! just before the API call to each arrival.
//!
//! ```text
//! command_fanout --url https://127.0.0.1:8443 --pin sha256//... --key wk_... --token wt_... [--agents 1000]
//! ```
//!
//! stdout: one JSON summary line (`api_ms`, `p50_ms`, `p99_ms`, `max_ms`, `delivered`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, Barrier};
use tokio_tungstenite::tungstenite::Message;
use ward_agent_core::http::{connect_tls, post_json_auth, Endpoint};
use ward_agent_core::session::{agent_hello, handshake, open, send};
use ward_pki::signed::Verifier;
use ward_proto::lifecycle::COMMAND_DOMAIN;
use ward_proto::{AgentMsg, CommandOutcome, EnrollRequest, HostReport, ServerMsg};

struct Args {
    url: String,
    pin: String,
    key: String,
    token: String,
    agents: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!("command_fanout: {msg}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        url: String::new(),
        pin: String::new(),
        key: String::new(),
        token: String::new(),
        agents: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--url" => a.url = v,
            "--pin" => a.pin = v,
            "--key" => a.key = v,
            "--token" => a.token = v,
            "--agents" => {
                a.agents = v
                    .parse()
                    .unwrap_or_else(|_| usage("--agents: not a number"))
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.url.is_empty() || a.pin.is_empty() || a.key.is_empty() || a.token.is_empty() {
        usage("--url, --pin, --key and --token are required");
    }
    a
}

/// Enrolls, opens a session and waits for one command; sends its arrival.
async fn agent(
    i: usize,
    ep: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    key: String,
    ready: mpsc::Sender<(String, Verifier)>,
    arrived: mpsc::Sender<Instant>,
    go: Arc<Barrier>,
) -> Result<(), String> {
    let fingerprint = format!("fanout-{}-{i}", std::process::id());
    let req = EnrollRequest {
        key,
        fingerprint: fingerprint.clone(),
        agent_version: "0.0.0-fanout".into(),
        platform: "linux-x86_64".into(),
        report: HostReport {
            hostname: format!("fanout-{i}"),
            ..HostReport::default()
        },
    };
    let r = ward_agent_core::enroll::enroll(&ep, tls.clone(), &req)
        .await
        .map_err(|e| e.to_string())?;
    let mut ws = open(&ep, tls, &r.credential)
        .await
        .map_err(|e| e.to_string())?;
    let w = handshake(
        &mut ws,
        &agent_hello(&fingerprint, None, &ep, &format!("in{i}")),
    )
    .await
    .map_err(|e| e.to_string())?;
    let verifier = Verifier::from_b64(&w.command_key.ok_or("no command key in welcome")?)
        .map_err(|e| e.to_string())?;
    let _ = ready.send((r.agent_id, verifier.clone())).await;
    go.wait().await;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .map_err(|_| "no command within 120 s")?
            .ok_or("session closed")?
            .map_err(|e| e.to_string())?;
        let Message::Text(t) = frame else { continue };
        match ServerMsg::decode(t.as_str()).map_err(|e| e.to_string())? {
            ServerMsg::Command { command } => {
                let at = Instant::now();
                verifier
                    .verify(COMMAND_DOMAIN, &command)
                    .map_err(|e| format!("bad signature: {e}"))?;
                let id: serde_json::Value =
                    serde_json::from_str(&command.payload).map_err(|e| e.to_string())?;
                let _ = arrived.send(at).await;
                let answer = AgentMsg::CommandResult {
                    id: id["id"].as_str().unwrap_or_default().to_string(),
                    outcome: CommandOutcome::Rejected,
                    message: Some("benchmark".into()),
                };
                let _ = send(&mut ws, &answer).await;
                return Ok(());
            }
            ServerMsg::Error { code, message } => {
                return Err(format!("{}: {message}", code.as_str()))
            }
            _ => {}
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let ep = Endpoint::parse(&a.url).unwrap_or_else(|e| usage(&e));
    let tls = ward_pki::pin::pinned_client_config(&a.pin).unwrap_or_else(|e| usage(&e.to_string()));
    let (ready_tx, mut ready_rx) = mpsc::channel(a.agents);
    let (arr_tx, mut arr_rx) = mpsc::channel(a.agents);
    let go = Arc::new(Barrier::new(a.agents + 1));
    let mut tasks = Vec::new();
    for i in 0..a.agents {
        let (ep, tls, key) = (ep.clone(), tls.clone(), a.key.clone());
        let (r, t, g) = (ready_tx.clone(), arr_tx.clone(), go.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = agent(i, ep, tls, key, r, t, g.clone()).await {
                eprintln!("command_fanout: agent {i}: {e}");
            }
        }));
        // Pace enrollment a little: the bench measures delivery, not enrollment bursts.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop((ready_tx, arr_tx));
    let mut ids = Vec::with_capacity(a.agents);
    while ids.len() < a.agents {
        match tokio::time::timeout(Duration::from_secs(300), ready_rx.recv()).await {
            Ok(Some((id, _))) => ids.push(id),
            _ => usage(&format!(
                "only {} of {} sessions came up",
                ids.len(),
                a.agents
            )),
        }
    }
    go.wait().await;
    let body = serde_json::json!({ "asset_ids": ids }).to_string();
    let t0 = Instant::now();
    let mut stream = connect_tls(&ep, tls.clone())
        .await
        .unwrap_or_else(|e| usage(&e.to_string()));
    let resp = post_json_auth(&mut stream, &ep, "/api/v1/uninstall", &a.token, &body)
        .await
        .unwrap_or_else(|e| usage(&e.to_string()));
    let api_ms = t0.elapsed().as_secs_f64() * 1000.0;
    if resp.status != 200 {
        usage(&format!(
            "the API answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    let mut lat = Vec::with_capacity(a.agents);
    while let Ok(Some(at)) = tokio::time::timeout(Duration::from_secs(60), arr_rx.recv()).await {
        lat.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        if lat.len() == a.agents {
            break;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "{}",
        serde_json::json!({
            "agents": a.agents, "delivered": lat.len(), "api_ms": api_ms,
            "p50_ms": pct(&lat, 50.0), "p99_ms": pct(&lat, 99.0), "max_ms": lat.last().copied().unwrap_or(0.0),
        })
    );
    std::process::exit(i32::from(lat.len() != a.agents));
}
