//! The session loop against a real TLS + WebSocket server in the test.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{fast_agent_config, runner_params, stop_agent, wait_for, Control, TestServer, FAST};
use tokio::sync::watch;
use ward_agent_core::session::run_sessions;
use ward_agent_core::status_file::{AgentStatus, SessionState};
use ward_proto::{AgentMsg, Policy};

struct Agent {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<ward_agent_core::session::SessionsEnd>,
    status_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn status(&self) -> Option<AgentStatus> {
        AgentStatus::read(&self.status_path).ok().flatten()
    }

    /// Stops the agent, checks it returns promptly; returns its last status.
    fn shutdown(self, server: &TestServer) -> AgentStatus {
        stop_agent(&server.rt, &self.stop, self.task);
        AgentStatus::read(&self.status_path).unwrap().unwrap()
    }
}

fn start_agent(server: &TestServer, credential: &str, agent_id: &str, pin: &str) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let status_path = dir.path().join("status.json");
    let params = runner_params(
        std::slice::from_ref(&server.url),
        pin,
        agent_id,
        credential,
        "fp-test",
        fast_agent_config(),
        status_path.clone(),
    );
    let (stop, rx) = watch::channel(false);
    let task = server.rt.spawn(run_sessions(params, rx));
    Agent {
        stop,
        task,
        status_path,
        _dir: dir,
    }
}

#[test]
fn hello_welcome_report_then_keepalives_at_policy_interval() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_a");
    let agent = start_agent(&server, &cred, "ag_a", &server.pin());

    wait_for(15, "3 keepalives", || server.keepalives(1).len() >= 3);
    let msgs = server.messages(1);
    match &msgs[0].1 {
        AgentMsg::Hello {
            wire_version,
            fingerprint,
            endpoint,
            last_error,
            ..
        } => {
            assert_eq!(*wire_version, 1);
            assert_eq!(fingerprint, "fp-test");
            assert_eq!(endpoint.as_deref(), Some(server.url.as_str()));
            assert_eq!(*last_error, None);
        }
        other => panic!("first message must be hello, got {other:?}"),
    }
    match &msgs[1].1 {
        AgentMsg::Report { report } => {
            assert_eq!(report.agent_version, ward_agent_core::version());
            assert!(!report.hostname.is_empty());
        }
        other => panic!("second message must be a report, got {other:?}"),
    }
    let kas = server.keepalives(1);
    assert_eq!(
        kas.iter().map(|k| k.1).take(3).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for w in kas.windows(2) {
        let gap = w[1].0 - w[0].0;
        // Timers never fire early; the upper bound only guards against a
        // keepalive per report-check or similar mistakes.
        assert!(gap >= Duration::from_millis(800), "gap {gap:?}");
        assert!(gap <= Duration::from_secs(5), "gap {gap:?}");
    }
    assert_eq!(
        server.state.lock().unwrap().wire_versions[0].as_deref(),
        Some("1")
    );

    wait_for(5, "status with an ack", || {
        agent
            .status()
            .is_some_and(|s| s.session == SessionState::Connected && s.last_keepalive_ack.is_some())
    });
    let s = agent.status().unwrap();
    assert_eq!(s.policy, Some(FAST));
    assert_eq!(s.agent_id, "ag_a");
    assert_eq!(s.endpoint.as_deref(), Some(server.url.as_str()));
    assert!(s.connected_since.is_some());
    let last = agent.shutdown(&server);
    assert_eq!(last.session, SessionState::Disconnected);
}

#[test]
fn policy_push_applies_at_once() {
    let slow = Policy {
        keepalive_secs: 600,
        missed_keepalives: 3,
        report_interval_secs: 3600,
    };
    let server = TestServer::start(slow);
    let cred = server.add_agent("ag_p");
    let agent = start_agent(&server, &cred, "ag_p", &server.pin());
    wait_for(10, "the first report", || server.messages(1).len() >= 2);
    assert!(server.keepalives(1).is_empty());

    server.control(Control::Push(FAST));
    // With the old policy the next keepalive is 10 minutes away.
    wait_for(10, "keepalives at the pushed interval", || {
        server.keepalives(1).len() >= 2
    });
    wait_for(5, "the pushed policy in status.json", || {
        agent.status().and_then(|s| s.policy) == Some(FAST)
    });
    agent.shutdown(&server);
}

#[test]
fn reconnects_after_the_server_drops_the_connection() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_r");
    let agent = start_agent(&server, &cred, "ag_r", &server.pin());
    wait_for(10, "first keepalive", || !server.keepalives(1).is_empty());

    server.control(Control::DropAll);
    wait_for(15, "a second session", || server.sessions() >= 2);
    wait_for(10, "hello of session 2", || !server.messages(2).is_empty());
    match &server.messages(2)[0].1 {
        AgentMsg::Hello { last_error, .. } => {
            let e = last_error
                .as_deref()
                .expect("the drop is reported in hello");
            assert!(!e.is_empty());
        }
        other => panic!("expected hello, got {other:?}"),
    }
    wait_for(10, "connected again", || {
        agent
            .status()
            .is_some_and(|s| s.session == SessionState::Connected && s.last_error.is_none())
    });
    agent.shutdown(&server);
}

#[test]
fn a_silent_server_is_declared_dead_and_left() {
    let server = TestServer::start(Policy {
        keepalive_secs: 1,
        missed_keepalives: 2,
        report_interval_secs: 3600,
    });
    let cred = server.add_agent("ag_d");
    let agent = start_agent(&server, &cred, "ag_d", &server.pin());
    wait_for(10, "first keepalive", || !server.keepalives(1).is_empty());
    server.control(Control::Mute);
    wait_for(15, "a new session after silence", || {
        !server.messages(2).is_empty()
    });
    match &server.messages(2)[0].1 {
        AgentMsg::Hello { last_error, .. } => {
            let e = last_error.clone().unwrap_or_default();
            assert!(e.contains("no message from the server"), "{e}");
        }
        other => panic!("expected hello, got {other:?}"),
    }
    agent.shutdown(&server);
}

#[test]
fn refuses_a_server_with_another_key() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_x");
    let other = support::make_cert();
    assert_ne!(other.pin, server.pin());
    let agent = start_agent(&server, &cred, "ag_x", &other.pin);
    wait_for(10, "the pin error in status.json", || {
        agent.status().and_then(|s| s.last_error).is_some_and(|e| {
            e.contains("server key does not match pin") && e.contains(&server.pin())
        })
    });
    assert_eq!(agent.status().unwrap().session, SessionState::Disconnected);
    assert_eq!(server.sessions(), 0, "no session over an unpinned key");
    agent.shutdown(&server);
}

#[test]
fn an_unknown_credential_is_reported_as_unauthorized() {
    let server = TestServer::start(FAST);
    let agent = start_agent(&server, "wa1.ag_z.forged", "ag_z", &server.pin());
    wait_for(10, "the refusal in status.json", || {
        agent
            .status()
            .and_then(|s| s.last_error)
            .is_some_and(|e| e.contains("server refused session: unauthorized"))
    });
    assert_eq!(server.sessions(), 0);
    assert!(server.state.lock().unwrap().refused_upgrades >= 1);
    agent.shutdown(&server);
}
