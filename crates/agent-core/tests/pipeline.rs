//! The event pipeline end to end inside the agent: a log file written while
//! the agent runs → collector → disk spool → session batches → a real TLS +
//! WebSocket server that acknowledges them; across dropped connections, a
//! server that stops answering, and agent restarts.

mod support;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use support::{fast_agent_config, runner_params, stop_agent, wait_for, Control, TestServer, FAST};
use tokio::sync::watch;
use ward_agent_core::config::AgentConfig;
use ward_agent_core::layout::Layout;
use ward_agent_core::pipeline::Pipeline;
use ward_agent_core::session::{run_sessions_piped, NetRuntime};
use ward_agent_core::status_file::AgentStatus;
use ward_events::EventData;
use ward_proto::{AgentMsg, MAX_EVENTS_PER_BATCH};

struct Agent {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<ward_agent_core::session::SessionsEnd>,
    pipeline: Pipeline,
}

fn config(log: &Path) -> AgentConfig {
    let mut c = fast_agent_config();
    c.collect.auth.paths = vec![log.display().to_string()];
    c.collect.auth.journald = "off".into();
    c.collect.auth.wtmp = false;
    c.collect.auth.poll_ms = 100;
    // Only the login collector: the host collectors report the whole machine.
    c.collect.process.enabled = false;
    c.collect.files.enabled = false;
    c
}

fn start(server: &TestServer, prefix: &Path, log: &Path, credential: &str) -> Agent {
    let layout = Layout::new(prefix);
    let config = config(log);
    let pipeline = Pipeline::start(&layout, &config).unwrap();
    let params = runner_params(
        std::slice::from_ref(&server.url),
        &server.pin(),
        "ag_pipe",
        credential,
        "fp",
        config,
        layout.status(),
    );
    let (stop, rx) = watch::channel(false);
    server.rt.spawn(pipeline.run(rx.clone()));
    let handle = pipeline.handle();
    let task = server.rt.spawn(run_sessions_piped(
        params,
        NetRuntime::default(),
        Some(handle),
        rx,
    ));
    Agent {
        stop,
        task,
        pipeline,
    }
}

impl Agent {
    fn shutdown(self, server: &TestServer) {
        stop_agent(&server.rt, &self.stop, self.task);
        self.pipeline.shutdown();
    }
}

fn failure(n: u32) -> String {
    format!(
        "Dec  3 06:55:46 web-1 sshd[99]: Failed password for root from 192.0.2.8 port {n} ssh2\n"
    )
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Every event the server received: id → source port (the line's tag).
/// Panics if one id arrived with two different contents.
fn received(server: &TestServer) -> (BTreeMap<u64, u32>, Vec<Vec<u64>>) {
    let st = server.state.lock().unwrap();
    let mut by_id = BTreeMap::new();
    let mut batches = Vec::new();
    for (_, _, m) in &st.events {
        if let AgentMsg::Events { events } = m {
            batches.push(events.iter().map(|e| e.id).collect());
            for e in events {
                let EventData::SshFailed(f) = &e.data else {
                    panic!("unexpected {e:?}")
                };
                let port = u32::from(f.src_port);
                if let Some(old) = by_id.insert(e.id, port) {
                    assert_eq!(old, port, "id {} reused for another event", e.id);
                }
            }
        }
    }
    (by_id, batches)
}

/// The tags stored once each, as a server that drops ids it already has
/// would store them.
fn tags(server: &TestServer) -> Vec<u32> {
    let mut v: Vec<u32> = received(server).0.into_values().collect();
    v.sort_unstable();
    v
}

#[test]
fn events_arrive_once_across_drops_outages_and_restarts() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_pipe");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let log = dir.path().join("auth.log");
    let agent = start(&server, &prefix, &log, &cred);
    for n in 1..=30 {
        append(&log, &failure(n));
    }
    wait_for(10, "30 events", || tags(&server).len() == 30);
    // Connection dropped without a close: the agent reconnects.
    server.control(Control::DropAll);
    for n in 31..=60 {
        append(&log, &failure(n));
    }
    wait_for(15, "60 events", || tags(&server).len() == 60);
    // The server stops answering (no acks, no keepalive acks): the agent
    // gives up on that session, reconnects and sends what is unacknowledged.
    let muted_session = server.sessions();
    server.control(Control::Mute);
    for n in 61..=90 {
        append(&log, &failure(n));
    }
    wait_for(20, "90 events", || tags(&server).len() == 90);
    wait_for(20, "a new session", || server.sessions() > muted_session);
    let resent = || {
        let mut ports: Vec<u32> = server
            .messages(server.sessions())
            .into_iter()
            .flat_map(|(_, m)| match m {
                AgentMsg::Events { events } => events,
                _ => Vec::new(),
            })
            .map(|e| match e.data {
                EventData::SshFailed(f) => u32::from(f.src_port),
                _ => 0,
            })
            .collect();
        ports.sort_unstable();
        ports
    };
    // What the muted session never acknowledged is sent again (the server
    // drops the ids it already stored).
    wait_for(10, "unacknowledged events sent again", || {
        resent() == (61..=90).collect::<Vec<_>>()
    });
    // Agent restart with lines written while it is down.
    agent.shutdown(&server);
    for n in 91..=120 {
        append(&log, &failure(n));
    }
    let agent = start(&server, &prefix, &log, &cred);
    wait_for(15, "120 events", || tags(&server).len() == 120);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tags(&server), (1..=120).collect::<Vec<_>>());
    let (by_id, batches) = received(&server);
    // Ids only grow within a batch, and never repeat across restarts.
    for b in &batches {
        assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
        assert!(b.len() <= MAX_EVENTS_PER_BATCH);
    }
    assert_eq!(by_id.len(), 120);
    // Spool stats reach the server with keepalives; everything is acked.
    wait_for(10, "spool depth 0 reported", || {
        let st = server.state.lock().unwrap();
        st.events.iter().rev().find_map(|(_, _, m)| match m {
            AgentMsg::SpoolStats {
                depth,
                dropped_total,
            } => Some((*depth, *dropped_total)),
            _ => None,
        }) == Some((0, 0))
    });
    // status.json carries the spool and the collector next to the session.
    let status_path = prefix.join("data/status.json");
    let read = || AgentStatus::read(&status_path).unwrap().unwrap();
    wait_for(5, "status.json spool depth 0", || {
        read().spool.is_some_and(|s| s.depth == 0)
    });
    let status = read();
    assert!(status.spool.unwrap().next_id > 120);
    assert_eq!(status.collectors.len(), 1);
    assert_eq!(
        status.collectors[0].sources[0].source,
        log.display().to_string()
    );
    assert_eq!(status.collectors[0].sources[0].state, "following");
    assert!(!status.agent_id.is_empty());
    agent.shutdown(&server);
}

#[test]
fn a_backlog_is_sent_in_bounded_batches() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_pipe");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let log = dir.path().join("auth.log");
    let text: String = (1..=2500).map(failure).collect();
    let agent = start(&server, &prefix, &log, &cred);
    append(&log, &text);
    wait_for(20, "2500 events", || tags(&server).len() == 2500);
    let (_, batches) = received(&server);
    assert!(batches.iter().all(|b| b.len() <= MAX_EVENTS_PER_BATCH));
    assert!(batches.len() >= 3, "{} batches", batches.len());
    agent.shutdown(&server);
}
