//! Signed commands reaching a real `ward-agent` process over a real session
//! (TLS + WebSocket, the in-test server): forged (another key), for another
//! agent, expired, tampered and replayed commands are refused or not run
//! again; a genuine uninstall removes everything and reports.

mod common;
#[path = "../../../crates/agent-core/tests/support/mod.rs"]
mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{install, updater, StopOnDrop, FAST};
use support::{server_key, sign_doc, wait_for, Control, TestServer};
use ward_proto::lifecycle::{COMMAND_DOMAIN, PAYLOAD_VERSION};
use ward_proto::{AgentMsg, CommandKind, CommandOutcome, CommandPayload, ServerMsg, Signed};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn payload(id: &str, agent_id: &str, kind: CommandKind, expires_at_ms: i64) -> CommandPayload {
    CommandPayload {
        v: PAYLOAD_VERSION,
        id: id.into(),
        agent_id: agent_id.into(),
        kind,
        issued_at_ms: now_ms() - 1000,
        expires_at_ms,
    }
}

/// Every answer the agent sent for command `id`, in order.
fn answers(server: &TestServer, id: &str) -> Vec<(CommandOutcome, String)> {
    let st = server.state.lock().unwrap();
    st.events
        .iter()
        .filter_map(|(_, _, m)| match m {
            AgentMsg::CommandResult {
                id: i,
                outcome,
                message,
            } if i == id => Some((*outcome, message.clone().unwrap_or_default())),
            _ => None,
        })
        .collect()
}

/// Sends `doc` on the live session and waits for the `n`-th answer to `id`.
fn send(server: &TestServer, doc: &Signed, id: &str, n: usize) -> (CommandOutcome, String) {
    let before = answers(server, id).len();
    server.control(Control::Send(ServerMsg::Command {
        command: doc.clone(),
    }));
    wait_for(10, &format!("answer to {id}"), || {
        answers(server, id).len() >= before + n
    });
    answers(server, id)[before].clone()
}

#[test]
fn forged_foreign_expired_tampered_and_replayed_commands_are_not_run() {
    let server = TestServer::start(FAST);
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("ward");
    let p = prefix.to_str().unwrap();
    let _guard = StopOnDrop(prefix.clone());
    let out = install(&server.url, &server.pin(), "good-key", &prefix);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command key came with the enrollment answer.
    let stored = std::fs::read_to_string(prefix.join("data/command-key.pub")).unwrap();
    assert_eq!(stored.trim(), support::public_b64(&server_key()));
    let id = "ag_1";
    let later = now_ms() + 60_000;

    // Signed by a key that is not the server's: refused, nothing happens.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let forged = sign_doc(
        &attacker,
        COMMAND_DOMAIN,
        &payload("cmd_forged", id, CommandKind::Uninstall, later),
    );
    let (o, m) = send(&server, &forged, "cmd_forged", 1);
    assert_eq!(o, CommandOutcome::Rejected);
    assert!(m.contains("not signed by this server's command key"), "{m}");

    // The server's key, but for another agent, or expired.
    let foreign = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_foreign", "ag_999", CommandKind::Uninstall, later),
    );
    let (o, m) = send(&server, &foreign, "cmd_foreign", 1);
    assert_eq!(
        (o, m.contains("for agent ag_999")),
        (CommandOutcome::Rejected, true),
        "{m}"
    );
    let expired = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_old", id, CommandKind::Uninstall, now_ms() - 5_000),
    );
    let (o, m) = send(&server, &expired, "cmd_old", 1);
    assert_eq!(
        (o, m.contains("expired")),
        (CommandOutcome::Rejected, true),
        "{m}"
    );

    // A genuine command whose payload was changed on the way.
    let mut tampered = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_t", "ag_999", CommandKind::Uninstall, later),
    );
    tampered.payload = tampered.payload.replace("ag_999", id);
    let (o, _) = send(&server, &tampered, "cmd_t", 1);
    assert_eq!(o, CommandOutcome::Rejected);
    assert!(
        prefix.join("data/identity.json").exists(),
        "nothing was removed"
    );
    let log = std::fs::read_to_string(prefix.join("log/agent.log")).unwrap();
    assert!(log.contains("command refused"), "{log}");

    // A genuine command runs once; the same command again is not run again.
    // The install put the workspace's ward-update next to the agent, so an
    // update check starts `bin/ward-update check`.
    assert!(
        prefix.join("bin/ward-update").exists(),
        "the install has no ward-update (build the workspace binaries first)"
    );
    let check = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_uc", id, CommandKind::UpdateCheck, later),
    );
    let (o, first) = send(&server, &check, "cmd_uc", 1);
    assert_eq!(o, CommandOutcome::Done, "{first}");
    assert!(
        first.starts_with("ward-update check started (pid "),
        "{first}"
    );
    // The replay repeats the first answer; nothing is started again.
    let (o, m) = send(&server, &check, "cmd_uc", 1);
    assert_eq!(o, CommandOutcome::Done);
    assert_eq!(m, format!("already executed; not run again ({first})"));
    let log = std::fs::read_to_string(prefix.join("log/agent.log")).unwrap();
    assert_eq!(log.matches("ward-update check started").count(), 1, "{log}");

    // Without an updater the agent says so.
    let out = updater(&["stop", "--prefix", p]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(prefix.join("bin/ward-update")).unwrap();
    let check = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_uc2", id, CommandKind::UpdateCheck, later),
    );
    let (o, m) = send(&server, &check, "cmd_uc2", 1);
    assert_eq!(
        (o, m.as_str()),
        (CommandOutcome::Failed, "updater not installed")
    );

    // A genuine uninstall: accepted, everything removed, done reported.
    let pid: i32 = std::fs::read_to_string(prefix.join("data/agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let un = sign_doc(
        &server_key(),
        COMMAND_DOMAIN,
        &payload("cmd_un", id, CommandKind::Uninstall, later),
    );
    let (o, _) = send(&server, &un, "cmd_un", 2);
    assert_eq!(o, CommandOutcome::Accepted);
    let (o, m) = answers(&server, "cmd_un")[1].clone();
    assert_eq!(o, CommandOutcome::Done, "{m}");
    assert!(m.starts_with(&format!("removed {p}")), "{m}");
    assert!(!prefix.exists(), "the prefix is gone");
    wait_for(5, "agent exits", || {
        // SAFETY: probing a pid with signal 0.
        unsafe { libc::kill(pid, 0) != 0 }
    });
}
