//! `ward-agent install/start/run/status/stop/config` as real processes
//! against the in-test TLS + WebSocket server.

mod common;
#[path = "../../../crates/agent-core/tests/support/mod.rs"]
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Output;

use common::{agent, text, StopOnDrop, FAST};
use support::{closed_port, tree_contains, wait_for, TestServer};

fn install(server: &TestServer, pin: &str, key: &str, prefix: &Path) -> Output {
    common::install(&server.url, pin, key, prefix)
}

/// Exactly one stderr line, `ward-agent: ...`.
fn one_error_line(out: &Output) -> String {
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {err:?}");
    assert!(lines[0].starts_with("ward-agent: "), "{err:?}");
    lines[0].to_string()
}

#[test]
fn refused_keys_exit_4_and_leave_no_prefix() {
    let server = TestServer::start(FAST);
    let tmp = tempfile::tempdir().unwrap();
    for (key, word) in [("wrong-key", "key_unknown"), ("revoked-key", "key_revoked")] {
        let prefix = tmp.path().join(format!("p-{key}"));
        let out = install(&server, &server.pin(), key, &prefix);
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
        let line = one_error_line(&out);
        assert!(line.contains(word), "{line}");
        assert!(!prefix.exists(), "nothing half-installed");
    }
    assert_eq!(server.enrollments(), 0);
}

#[test]
fn wrong_pin_and_unreachable_server_exit_5_and_leave_no_prefix() {
    let server = TestServer::start(FAST);
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("p");
    let other = support::make_cert();
    let out = install(&server, &other.pin, "good-key", &prefix);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(one_error_line(&out).contains("server key does not match pin"));
    assert!(!prefix.exists());

    let port = closed_port();
    let out = agent(&[
        "install",
        "--server",
        &format!("https://127.0.0.1:{port}"),
        "--pin",
        &server.pin(),
        "--key",
        "good-key",
        "--prefix",
        prefix.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        one_error_line(&out),
        format!("ward-agent: connect 127.0.0.1:{port}: connection refused")
    );
    assert!(!prefix.exists());

    let out = agent(&[
        "install",
        "--server",
        &server.url,
        "--pin",
        "sha256//nope",
        "--key",
        "k",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_error_line(&out).contains("--pin"));
    let out = agent(&["install", "--server", &server.url]);
    assert_eq!(out.status.code(), Some(2));
    one_error_line(&out);
}

#[test]
fn install_run_status_repair_stop() {
    let server = TestServer::start(FAST);
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("ward");
    let p = prefix.to_str().unwrap().to_string();
    let _guard = StopOnDrop(prefix.clone());

    // Install: enrolls, writes the layout, starts and waits for the session.
    let out = install(&server, &server.pin(), "good-key", &prefix);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // A ward-update next to ward-agent (target/ after `cargo build --bins`)
    // is installed and started too.
    let updater = Path::new(env!("CARGO_BIN_EXE_ward-agent")).with_file_name("ward-update");
    let expected = format!(
        "Ward agent ag_1 installed in {p}; connected to {}: protected; {}",
        server.url,
        if updater.is_file() {
            format!("ward-update {} running", env!("CARGO_PKG_VERSION"))
        } else {
            "ward-update not installed".to_string()
        }
    );
    assert_eq!(text(&out.stdout).trim(), expected);
    assert_eq!(server.enrollments(), 1);

    // Layout and modes.
    let mode = |rel: &str| std::fs::metadata(prefix.join(rel)).unwrap().mode() & 0o777;
    assert_eq!(mode("data"), 0o700);
    assert_eq!(mode("conf"), 0o755);
    assert_eq!(mode("data/identity.json"), 0o600);
    let link = std::fs::read_link(prefix.join("bin/ward-agent")).unwrap();
    assert_eq!(
        link,
        Path::new("../agent")
            .join(env!("CARGO_PKG_VERSION"))
            .join("ward-agent")
    );
    assert!(prefix.join("conf/agent.toml").is_file());
    let net = std::fs::read_to_string(prefix.join("conf/network.toml")).unwrap();
    assert!(
        net.contains(&server.url) && net.contains(&server.pin()),
        "{net}"
    );
    let identity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.join("data/identity.json")).unwrap())
            .unwrap();
    assert_eq!(identity["agent_id"], "ag_1");
    assert!(
        !tree_contains(&prefix, b"good-key"),
        "the key is never written"
    );

    // status: connected, exit 0; the JSON form too.
    let out = agent(&["status", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    assert!(s.contains("agent id:        ag_1"), "{s}");
    assert!(s.contains("session:         connected"), "{s}");
    assert!(
        s.contains(&format!("endpoint:        {}", server.url)),
        "{s}"
    );
    wait_for(10, "a keepalive ack in status", || {
        let out = agent(&["status", "--prefix", &p, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["last_keepalive_ack"].is_i64() && v["session"] == "connected" && v["running"] == true
    });

    // A second `run` for the same prefix refuses with one line, exit 1.
    let out = agent(&["run", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_error_line(&out).contains("already running"));
    // `start` while running is a no-op.
    let out = agent(&["start", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("already running"));

    // Re-running the install repairs: same agent, no second enrollment.
    let pid_before = std::fs::read_to_string(prefix.join("data/agent.pid")).unwrap();
    let out = install(&server, &server.pin(), "good-key", &prefix);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("repairing"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("Ward agent ag_1 installed in"));
    assert_eq!(
        server.enrollments(),
        1,
        "a repair never creates a second asset"
    );
    let pid_after = std::fs::read_to_string(prefix.join("data/agent.pid")).unwrap();
    assert_ne!(pid_before, pid_after, "the agent was restarted");

    // config validate: fine, then an unknown key is an error (exit 2).
    let out = agent(&["config", "validate", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let agent_toml = prefix.join("conf/agent.toml");
    let orig = std::fs::read_to_string(&agent_toml).unwrap();
    std::fs::write(&agent_toml, format!("{orig}colour = \"blue\"\n")).unwrap();
    let out = agent(&["config", "validate", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("colour"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(&agent_toml, orig).unwrap();

    // stop: the agent goes away; status says not running (exit 3).
    let out = agent(&["stop", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("stopped"));
    let out = agent(&["status", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stdout).contains("not running"));
    // The agent closed its session on SIGTERM and logged it.
    let log = std::fs::read_to_string(prefix.join("log/agent.log")).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(!log.contains("secret-1"), "the credential is never logged");

    // start again (detached) and it reconnects.
    let out = agent(&["start", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    wait_for(15, "connected after start", || {
        agent(&["status", "--prefix", &p]).status.code() == Some(0)
    });
}

#[test]
fn install_with_a_dead_identity_enrolls_again() {
    let server = TestServer::start(FAST);
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("w");
    let p = prefix.to_str().unwrap().to_string();
    let _guard = StopOnDrop(prefix.clone());
    let out = agent(&[
        "install",
        "--server",
        &server.url,
        "--pin",
        &server.pin(),
        "--key",
        "good-key",
        "--prefix",
        &p,
        "--no-start",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("not started"));
    // The server forgets the agent (as after an uninstall elsewhere).
    server.state.lock().unwrap().agents.clear();
    let out = install(&server, &server.pin(), "good-key", &prefix);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("enrolling again"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("Ward agent ag_2 installed"));
    assert_eq!(server.enrollments(), 2);
}
