//! Event ingestion load generator (test and benchmark tool, not shipped).
//!
//! Simulated agents enroll with a verification key (or reuse a credential),
//! open real pinned TLS WebSocket sessions with `ward-agent-core`'s client,
//! and send `Events` batches of synthetic `auth.ssh_failed` events with
//! increasing ids, keeping up to `--window` batches in flight. Every
//! `EventsAck` can be printed as it arrives, so a test can compare what was
//! acknowledged with what the store holds (e.g. after `kill -9`).
//!
//! ```text
//! ingest_load --url https://127.0.0.1:8443 --pin sha256//... --key wk_...
//!     [--credential wa1...] [--agents 1] [--events 100000] [--batch 1000]
//!     [--window 4] [--start-id 1] [--print-acks]
//! ```
//!
//! stdout, one JSON object per line: `{"agent":i,"agent_id":..,"credential":..}`
//! per agent at start, `{"agent":i,"ack":N}` per ack with `--print-acks`,
//! and a final `{"summary":{"events":..,"secs":..,"events_per_sec":..}}`.
//! Exit status 1 when a session fails (e.g. the server was killed).

use std::collections::VecDeque;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use ward_agent_core::http::Endpoint;
use ward_agent_core::session::{handshake, hello, open, send};
use ward_events::{Event, EventData, SshFailed};
use ward_proto::{AgentMsg, EnrollRequest, HostReport, ServerMsg};

#[derive(Clone)]
struct Args {
    url: String,
    pin: String,
    key: Option<String>,
    credential: Option<String>,
    agents: usize,
    events: u64,
    batch: u64,
    window: usize,
    start_id: u64,
    print_acks: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("ingest_load: {msg}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        url: String::new(),
        pin: String::new(),
        key: None,
        credential: None,
        agents: 1,
        events: 100_000,
        batch: 1000,
        window: 4,
        start_id: 1,
        print_acks: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--print-acks" {
            a.print_acks = true;
            continue;
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--url" => a.url = v,
            "--pin" => a.pin = v,
            "--key" => a.key = Some(v),
            "--credential" => a.credential = Some(v),
            "--agents" => a.agents = num(&v) as usize,
            "--events" => a.events = num(&v),
            "--batch" => a.batch = num(&v).clamp(1, ward_proto::MAX_EVENTS_PER_BATCH as u64),
            "--window" => a.window = num(&v).max(1) as usize,
            "--start-id" => a.start_id = num(&v).max(1),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.url.is_empty() || a.pin.is_empty() || (a.key.is_none() && a.credential.is_none()) {
        usage("--url, --pin and --key (or --credential) are required");
    }
    a
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Synthetic failed login `id` from a documentation address.
fn event(id: u64) -> Event {
    let (net, host) = ((id / 250) % 3, (id % 250) as u8 + 1);
    let ip = match net {
        0 => Ipv4Addr::new(192, 0, 2, host),
        1 => Ipv4Addr::new(198, 51, 100, host),
        _ => Ipv4Addr::new(203, 0, 113, host),
    };
    let mut e = Event::new(
        now_ms(),
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: format!("load{}", id % 97),
            src_ip: IpAddr::V4(ip),
            src_port: 1024 + (id % 60_000) as u16,
            method: "password".into(),
            invalid_user: true,
        }),
    );
    e.id = id;
    e
}

fn emit(line: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn run_agent(
    i: usize,
    a: Args,
    ep: Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> Result<u64, String> {
    let fingerprint = format!("ingest-load-{}-{i}", std::process::id());
    let credential = match &a.credential {
        Some(c) => c.clone(),
        None => {
            let req = EnrollRequest {
                key: a.key.clone().unwrap_or_default(),
                fingerprint: fingerprint.clone(),
                agent_version: "0.0.0-load".into(),
                platform: "linux-x86_64".into(),
                report: HostReport {
                    hostname: format!("load-{i}"),
                    ..HostReport::default()
                },
            };
            let r = ward_agent_core::enroll::enroll(&ep, tls.clone(), &req)
                .await
                .map_err(|e| e.to_string())?;
            emit(
                &serde_json::json!({"agent": i, "agent_id": r.agent_id, "credential": r.credential}),
            );
            r.credential
        }
    };
    let mut ws = open(&ep, tls, &credential)
        .await
        .map_err(|e| e.to_string())?;
    handshake(&mut ws, &hello(&fingerprint, None, &ep))
        .await
        .map_err(|e| e.to_string())?;
    let end = a.start_id + a.events;
    let mut next = a.start_id;
    let mut in_flight: VecDeque<u64> = VecDeque::new();
    let mut acked = 0u64;
    while next < end || !in_flight.is_empty() {
        while next < end && in_flight.len() < a.window {
            let last = (next + a.batch).min(end);
            let events: Vec<Event> = (next..last).map(event).collect();
            send(&mut ws, &AgentMsg::Events { events })
                .await
                .map_err(|e| e.to_string())?;
            in_flight.push_back(last - 1);
            next = last;
        }
        let frame = ws
            .next()
            .await
            .ok_or("the server closed the session")?
            .map_err(|e| e.to_string())?;
        let Message::Text(t) = frame else { continue };
        match ServerMsg::decode(t.as_str()).map_err(|e| e.to_string())? {
            ServerMsg::EventsAck { up_to } => {
                acked = up_to;
                while in_flight.front().is_some_and(|&l| l <= up_to) {
                    in_flight.pop_front();
                }
                if a.print_acks {
                    emit(&serde_json::json!({"agent": i, "ack": up_to}));
                }
            }
            ServerMsg::Error { code, message } => {
                return Err(format!("server error {}: {message}", code.as_str()))
            }
            _ => {}
        }
    }
    Ok(acked)
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let ep = Endpoint::parse(&a.url).unwrap_or_else(|e| usage(&e));
    let tls = ward_pki::pin::pinned_client_config(&a.pin).unwrap_or_else(|e| usage(&e.to_string()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..a.agents)
        .map(|i| tokio::spawn(run_agent(i, a.clone(), ep.clone(), tls.clone())))
        .collect();
    let mut failed = false;
    for t in tasks {
        match t.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                eprintln!("ingest_load: {e}");
                failed = true;
            }
            Err(e) => {
                eprintln!("ingest_load: task failed: {e}");
                failed = true;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = a.events * a.agents as u64;
    emit(&serde_json::json!({"summary": {
        "agents": a.agents, "events": total, "batch": a.batch, "window": a.window,
        "secs": secs, "events_per_sec": if secs > 0.0 { total as f64 / secs } else { 0.0 },
        "failed": failed,
    }}));
    std::process::exit(i32::from(failed));
}
