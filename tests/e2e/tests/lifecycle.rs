//! Issue 4 acceptance (command half): remote uninstall online and offline
//! (queued, delivered on reconnect, or expired), manual uninstall
//! (`ward-agent uninstall`, the served `uninstall.sh`), tamper protection
//! with and without a token. Real `ward-server` and `ward-agent` processes,
//! real TLS, real SQLite.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use ward_e2e::{
    alive, processes_naming, run, stderr, stdout, wait_for, wait_status, Agent, Server, Value,
};

fn install(server: &Server, secret: &str) -> Agent {
    let agent = Agent::new_prefix();
    let out = agent.install(&server.install_command(secret, None), None, &[]);
    assert!(
        out.status.success(),
        "install: {}\n{}",
        stderr(&out),
        server.log()
    );
    wait_status(
        server,
        &agent.agent_id(),
        "protected",
        None,
        Duration::from_secs(10),
    );
    agent
}

/// A server with an installed agent that was killed and is now offline.
fn offline_agent(key_label: &str) -> (Server, Agent, String) {
    let server = Server::start();
    let (_, secret) = server.create_key(key_label);
    let agent = install(&server, &secret);
    let id = agent.agent_id();
    agent.kill9_all();
    wait_status(
        &server,
        &id,
        "unprotected",
        Some("offline"),
        Duration::from_secs(10),
    );
    (server, agent, id)
}

fn commands(server: &Server, asset: &str) -> Vec<Value> {
    server.api_get(&format!("/api/v1/commands?asset_id={asset}"))["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn alerts(server: &Server, rule: &str, asset: &str) -> Vec<Value> {
    server.api_get(&format!("/api/v1/alerts?rule={rule}&asset={asset}"))["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn gone(agent: &Agent) -> bool {
    fs::symlink_metadata(&agent.prefix).is_err()
}

/// Nothing of the install runs any more, and nothing starts it again: no
/// guardian resurrects an agent or updater that is being uninstalled.
fn nothing_runs_for(agent: &Agent) {
    std::thread::sleep(Duration::from_secs(2));
    let left = processes_naming(&agent.prefix);
    assert!(
        left.is_empty(),
        "processes of {:?} remain: {left:?}",
        agent.prefix
    );
}

#[test]
fn remote_uninstall_of_an_online_agent_leaves_nothing_within_5_seconds() {
    let server = Server::start();
    let (_, secret) = server.create_key("e2e-remote");
    let agent = install(&server, &secret);
    let id = agent.agent_id();
    let credential = agent.identity()["credential"].as_str().unwrap().to_string();
    let pid = agent.pid().expect("agent pid");
    let updater = wait_for("ward-update running", Duration::from_secs(10), || {
        agent.update_pid().filter(|p| alive(*p))
    });
    assert!(
        agent.prefix.join("bin/ward-update").exists() && agent.prefix.join("update").is_dir(),
        "the install has its updater"
    );

    let asked = Instant::now();
    let (code, v) = server.api_post(&format!("/api/v1/assets/{id}/uninstall"), "{}");
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["delivery"], "sent", "{v}");
    let cmd_id = v["command"]["id"].as_str().expect("command id").to_string();
    wait_for(
        "prefix removed, asset uninstalled",
        Duration::from_secs(5),
        || {
            let a = server.asset(&id);
            (gone(&agent) && !alive(pid) && !alive(updater) && a["status_reason"] == "uninstalled")
                .then_some(())
        },
    );
    assert!(asked.elapsed() <= Duration::from_secs(5));
    nothing_runs_for(&agent);
    assert_eq!(server.asset(&id)["status"], "unprotected");
    // The agent reported the removal; the command is done.
    let cmd = wait_for("command done", Duration::from_secs(5), || {
        let c = server.api_get(&format!("/api/v1/commands/{cmd_id}"));
        (c["state"] == "done").then_some(c)
    });
    assert!(
        cmd["result"].as_str().unwrap_or("").starts_with("removed "),
        "{cmd}"
    );
    // The identity is dead: the credential no longer opens a session.
    assert_eq!(server.session_upgrade_status(&credential), 403);
    // Asking again is refused as already uninstalled.
    let (code, v) = server.api_post(&format!("/api/v1/assets/{id}/uninstall"), "{}");
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{v}"
    );
}

#[test]
fn offline_agent_is_refused_then_queued_and_uninstalled_on_reconnect() {
    let (server, agent, id) = offline_agent("e2e-queued");

    // Not queued: the API says it cannot be delivered now.
    let (code, v) = server.api_post(&format!("/api/v1/assets/{id}/uninstall"), "{}");
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "agent_offline");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("offline"),
        "{v}"
    );
    assert!(commands(&server, &id).is_empty(), "nothing was stored");

    let (code, v) = server.api_post(
        &format!("/api/v1/assets/{id}/uninstall"),
        r#"{"queue": true, "expires_in_secs": 300}"#,
    );
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["delivery"], "queued");
    let listed = commands(&server, &id);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(listed[0]["kind"], "uninstall");
    assert!(listed[0]["expires_at"].is_string());
    assert!(!gone(&agent), "nothing happens while the agent is offline");

    // The agent comes back: the queued command is delivered at once.
    let out = agent.cli(&["start"]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    wait_for(
        "queued uninstall delivered",
        Duration::from_secs(10),
        || {
            let a = server.asset(&id);
            (gone(&agent) && a["status_reason"] == "uninstalled").then_some(())
        },
    );
    let c = wait_for("command done", Duration::from_secs(5), || {
        let c = commands(&server, &id);
        (c[0]["state"] == "done").then_some(c)
    });
    assert!(c[0]["delivered_at"].is_string());
}

#[test]
fn a_queued_command_expires_and_is_never_delivered() {
    let (server, agent, id) = offline_agent("e2e-expiry");
    let (code, v) = server.api_post(
        &format!("/api/v1/assets/{id}/uninstall"),
        r#"{"queue": true, "expires_in_secs": 1}"#,
    );
    assert_eq!((code, v["delivery"].as_str()), (202, Some("queued")), "{v}");
    let c = wait_for("command expired", Duration::from_secs(8), || {
        let c = commands(&server, &id);
        (c[0]["state"] == "expired").then_some(c)
    });
    assert!(c[0]["delivered_at"].is_null());
    // The agent reconnects: nothing is delivered, it stays protected.
    let out = agent.cli(&["start"]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!gone(&agent), "an expired command must not uninstall");
    assert_eq!(server.asset(&id)["status"], "protected");
    assert_eq!(commands(&server, &id)[0]["state"], "expired");
}

/// Installs an agent with a key of `group`.
fn install_in_group(server: &Server, group: &str) -> Agent {
    let out = server.cli(&["keys", "create", "--label", group, "--group", group]);
    assert!(out.status.success(), "keys create: {}", stderr(&out));
    let keys = server.api_get("/api/v1/keys");
    let secret = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == group)
        .and_then(|k| k["secret"].as_str())
        .expect("key secret")
        .to_string();
    install(server, &secret)
}

fn token(server: &Server, asset: &str, body: &str) -> String {
    let (code, v) = server.api_post(&format!("/api/v1/assets/{asset}/uninstall-token"), body);
    assert_eq!(code, 201, "{v}");
    v["token"].as_str().expect("token").to_string()
}

fn protection_on(agent: &Agent) -> bool {
    fs::read_to_string(agent.prefix.join("data/protection.json"))
        .is_ok_and(|t| t.contains(r#"\"tamper_protection\":true"#))
}

fn assert_refused(out: &std::process::Output, why: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(7), "exit code: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("refused") && err.contains("tamper protection") && err.contains(why),
        "{err}"
    );
}

#[test]
fn tamper_protection_refuses_stop_and_uninstall_without_a_token_and_alerts() {
    let server = Server::start();
    let guarded = install_in_group(&server, "prod");
    let free = install_in_group(&server, "lab");
    let (gid, fid) = (guarded.agent_id(), free.agent_id());
    let (code, text) = server.curl(
        "PUT",
        "/api/v1/settings/tamper-protection",
        Some(r#"{"default": false, "groups": {"prod": true}}"#),
    );
    assert_eq!(code, 200, "{text}");
    wait_for(
        "protection reaches the agent",
        Duration::from_secs(5),
        || protection_on(&guarded).then_some(()),
    );
    assert!(!protection_on(&free), "lab is not protected");
    let pid = guarded.pid().expect("pid");

    // No token: refused, the agent keeps running, an urgent alert is raised.
    let out = guarded.cli(&["stop"]);
    assert_refused(&out, "no uninstall token given");
    assert!(alive(pid));
    assert!(
        !guarded.prefix.join("data/stopped").exists(),
        "a refused stop must not switch the guardian off"
    );
    let a = wait_for("stop alert", Duration::from_secs(5), || {
        alerts(&server, "ward.tamper.stop", &gid).pop()
    });
    assert_eq!(a["severity"], "urgent");
    assert_eq!(a["technique"], "T1562.001");
    assert_eq!(a["asset_id"], gid);
    let out = guarded.cli(&["uninstall"]);
    assert_refused(&out, "no uninstall token given");
    assert!(
        guarded.prefix.join("data/identity.json").exists(),
        "nothing removed"
    );
    wait_for("uninstall alert", Duration::from_secs(5), || {
        alerts(&server, "ward.tamper.uninstall", &gid).pop()
    });
    wait_status(&server, &gid, "protected", None, Duration::from_secs(5));

    // Tokens that do not fit are refused too: another asset's, expired, stop-only.
    let other = token(&server, &fid, "{}");
    assert_refused(
        &guarded.cli(&["uninstall", "--token", &other]),
        &format!("for agent {fid}"),
    );
    let short = token(&server, &gid, r#"{"expires_in_secs": 1}"#);
    std::thread::sleep(Duration::from_millis(1500));
    assert_refused(&guarded.cli(&["uninstall", "--token", &short]), "expired");
    let stop_only = token(&server, &gid, r#"{"actions": ["stop"]}"#);
    assert_refused(
        &guarded.cli(&["uninstall", "--token", &stop_only]),
        "does not allow uninstall",
    );
    let refused = alerts(&server, "ward.tamper.uninstall", &gid);
    assert_eq!(refused.len(), 4, "one alert per refused attempt");

    // The unprotected group needs no token.
    let out = free.cli(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(alerts(&server, "ward.tamper.stop", &fid).is_empty());

    // With a valid token: stop works, and uninstall removes everything.
    let out = guarded.cli(&["stop", "--token", &stop_only]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(guarded.prefix.join("data/stopped").exists());
    let full = token(&server, &gid, "{}");
    let out = guarded.cli(&["uninstall", "--token", &full]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("the server was told"),
        "{}",
        stdout(&out)
    );
    assert!(gone(&guarded));
    nothing_runs_for(&guarded);
    wait_status(
        &server,
        &gid,
        "unprotected",
        Some("uninstalled"),
        Duration::from_secs(5),
    );
}

#[test]
fn an_uninstall_token_works_on_a_host_without_a_session() {
    let mut server = Server::start();
    let agent = install_in_group(&server, "dmz");
    let id = agent.agent_id();
    let (code, _) = server.curl(
        "PUT",
        "/api/v1/settings/tamper-protection",
        Some(r#"{"default": true}"#),
    );
    assert_eq!(code, 200);
    wait_for("protection on", Duration::from_secs(5), || {
        protection_on(&agent).then_some(())
    });
    let t = token(&server, &id, "{}");
    server.stop();
    // Offline: still refused without the token...
    let out = agent.cli(&["uninstall"]);
    assert_refused(&out, "will be reported when the agent reaches the server");
    // ...and done with it, verified locally against the command key.
    let out = agent.cli(&["uninstall", "--token", &t]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the server could not be told"),
        "{}",
        stdout(&out)
    );
    assert!(gone(&agent));
}

fn uninstall_command(server: &Server) -> String {
    let v = server.api_get("/api/v1/uninstall-command");
    v["command"].as_str().expect("command").to_string()
}

#[test]
fn uninstall_sh_from_the_server_removes_the_agent_and_tells_the_server() {
    let server = Server::start();
    let (_, secret) = server.create_key("e2e-sh");
    let a = install(&server, &secret);
    let b = install(&server, &secret);
    let a_id = a.agent_id();
    let cmd = uninstall_command(&server);
    assert!(
        cmd.contains("--pinnedpubkey") && cmd.contains("/uninstall.sh"),
        "{cmd}"
    );

    // The usual path: the script runs `ward-agent uninstall`.
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} --prefix '{}'", a.prefix.display())));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(gone(&a));
    nothing_runs_for(&a);
    wait_status(
        &server,
        &a_id,
        "unprotected",
        Some("uninstalled"),
        Duration::from_secs(5),
    );

    // A damaged install (the agent binary does not run): refused without
    // --force, removed with it, and the server is told with curl.
    let id = b.agent_id();
    let bin = fs::canonicalize(b.agent_bin()).unwrap();
    fs::remove_file(&bin).unwrap();
    fs::write(&bin, "not a program").unwrap();
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} --prefix '{}'", b.prefix.display())));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(b.prefix.join("data/identity.json").exists());
    let pid = b.pid().expect("pid");
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} --prefix '{}' --force", b.prefix.display())));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the server was told"),
        "{}",
        stderr(&out)
    );
    assert!(gone(&b) && !alive(pid));
    nothing_runs_for(&b);
    wait_status(
        &server,
        &id,
        "unprotected",
        Some("uninstalled"),
        Duration::from_secs(5),
    );

    // Nothing installed there any more: nothing to do, exit 0.
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} --prefix '{}'", b.prefix.display())));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to do"));
}
