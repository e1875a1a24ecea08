//! Issue 2 acceptance: install, enrollment, session and status, end to end
//! with real processes.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use ward_e2e::netns::Host;
use ward_e2e::{run, stderr, stdout, wait_for, wait_status, Agent, Server};

/// The asset object of `GET /api/v1/assets/{id}` (tolerates a wrapper).
fn asset_of(v: &serde_json::Value) -> serde_json::Value {
    if v.get("asset").is_some() {
        v["asset"].clone()
    } else {
        v.clone()
    }
}

fn timeline(server: &Server, id: &str) -> Vec<serde_json::Value> {
    let v = server.asset(id);
    v["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("asset detail has a timeline: {v}"))
        .clone()
}

#[test]
fn install_command_makes_host_protected_and_status_connected() {
    let server = Server::start();
    let (_id, secret) = server.create_key("e2e-install");
    let cmd = server.install_command(&secret, None);
    assert!(
        cmd.contains("--pinnedpubkey") && cmd.contains(&server.pin),
        "install command pins the server key: {cmd}"
    );
    let agent = Agent::new_prefix();
    let out = agent.install(&cmd, None, &[]);
    let returned = Instant::now();
    assert!(
        out.status.success(),
        "install failed: {}\n{}",
        stderr(&out),
        server.log()
    );

    let id = agent.agent_id();
    let a = wait_status(
        &server,
        &id,
        "protected",
        None,
        Duration::from_secs(10).saturating_sub(returned.elapsed()),
    );
    assert!(returned.elapsed() <= Duration::from_secs(10));
    for field in [
        "id",
        "hostname",
        "status",
        "status_reason",
        "last_seen",
        "agent_version",
    ] {
        assert!(a.get(field).is_some(), "asset JSON has {field}: {a}");
    }
    assert_eq!(a["status_reason"], serde_json::Value::Null);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(a["hostname"], host.trim());
    assert_eq!(a["agent_version"], env!("CARGO_PKG_VERSION"));

    // The key is not kept after enrollment; the credential file is 0600.
    let mut found_key = false;
    for entry in walk(&agent.prefix) {
        if entry.is_file() {
            if let Ok(text) = fs::read(&entry) {
                found_key |= text.windows(secret.len()).any(|w| w == secret.as_bytes());
            }
        }
    }
    assert!(
        !found_key,
        "the verification key must not be stored in the prefix"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(agent.prefix.join("data/identity.json"))
        .expect("identity")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "identity.json is 0600");

    let st = agent.status();
    assert!(
        st.status.success(),
        "status exit 0 when connected: {}",
        stdout(&st)
    );
    let text = stdout(&st);
    assert!(text.contains(&id), "status shows the agent id: {text}");
    assert!(text.to_lowercase().contains("connected"), "status: {text}");
    assert!(
        text.contains(&server.url()),
        "status shows the endpoint: {text}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_symlink() {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn rerunning_install_repairs_and_never_duplicates() {
    let server = Server::start();
    let (_id, secret) = server.create_key("e2e-repair");
    let cmd = server.install_command(&secret, None);
    let agent = Agent::new_prefix();
    let out = agent.install(&cmd, None, &[]);
    assert!(out.status.success(), "first install: {}", stderr(&out));
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    // Damage the install: kill the agent and remove its program link.
    agent.kill9();
    fs::remove_file(agent.prefix.join("bin/ward-agent")).expect("remove bin link");
    let out = agent.install(&cmd, None, &[]);
    assert!(out.status.success(), "repair install: {}", stderr(&out));
    assert_eq!(agent.agent_id(), id, "repair keeps the identity");
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    // Even with the identity gone, the same host in the same prefix reclaims its asset.
    agent.stop();
    fs::remove_file(agent.prefix.join("data/identity.json")).expect("remove identity");
    let out = agent.install(&cmd, None, &[]);
    assert!(out.status.success(), "reinstall: {}", stderr(&out));
    assert_eq!(
        agent.agent_id(),
        id,
        "same host and prefix is the same asset"
    );
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    let assets = server.assets();
    assert_eq!(assets.len(), 1, "exactly one asset: {assets:?}");
}

#[test]
fn killed_agent_goes_offline_after_three_missed_keepalives() {
    let server = Server::start();
    let (_id, secret) = server.create_key("e2e-offline");
    let agent = Agent::new_prefix();
    let out = agent.install(&server.install_command(&secret, None), None, &[]);
    assert!(out.status.success(), "install: {}", stderr(&out));
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    // Both programs at once: a host crash (the guardian would restart a lone agent).
    agent.kill9_all();
    let killed = Instant::now();
    let a = wait_status(
        &server,
        &id,
        "unprotected",
        Some("offline"),
        Duration::from_secs(15),
    );
    // Policy: keepalive 1 s, 3 missed -> offline no earlier than ~3 s after the last keepalive.
    assert!(
        killed.elapsed() >= Duration::from_millis(2000),
        "offline declared after {:?}, before 3 keepalives could be missed",
        killed.elapsed()
    );
    assert!(a["last_seen"].is_string(), "last_seen kept: {a}");
    let st = agent.status();
    assert_eq!(
        st.status.code(),
        Some(3),
        "status says not running: {}",
        stdout(&st)
    );
}

#[test]
fn server_restart_agents_reconnect_without_false_transitions() {
    let mut server = Server::start();
    let (_id, secret) = server.create_key("e2e-restart");
    let cmd = server.install_command(&secret, None);
    let a1 = Agent::new_prefix();
    let a2 = Agent::new_prefix();
    for a in [&a1, &a2] {
        let out = a.install(
            &cmd,
            None,
            &[("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "1000")],
        );
        assert!(out.status.success(), "install: {}", stderr(&out));
    }
    let ids = [a1.agent_id(), a2.agent_id()];
    for id in &ids {
        wait_status(&server, id, "protected", None, Duration::from_secs(10));
    }
    let before: Vec<usize> = ids.iter().map(|id| timeline(&server, id).len()).collect();

    server.restart();
    for id in &ids {
        wait_for(
            "agent reconnects after restart",
            Duration::from_secs(15),
            || {
                let v = server.asset(id);
                (v["online"] == true && asset_of(&v)["status"] == "protected").then_some(())
            },
        );
    }
    // Keep watching a few keepalive windows: no transition to offline happened.
    std::thread::sleep(Duration::from_secs(4));
    for (id, n) in ids.iter().zip(before) {
        let tl = timeline(&server, id);
        let offline = tl
            .iter()
            .filter(|e| e["status_reason"] == "offline")
            .count();
        assert_eq!(offline, 0, "no offline transition across a restart: {tl:?}");
        assert!(tl.len() <= n + 1, "no storm of transitions: {tl:?}");
        assert_eq!(asset_of(&server.asset(id))["status"], "protected");
    }
    assert_eq!(server.assets().len(), 2, "no asset lost");
}

#[test]
fn namespace_host_enrolls_over_veth_and_follows_its_link() {
    let server = Server::start_on("0.0.0.0");
    let host = Host::create();
    let (_id, secret) = server.create_key("e2e-netns");
    let url = format!("https://{}:{}", host.host_addr, server.port);
    let cmd = server.install_command(&secret, Some(&url));
    let agent = Agent::new_prefix();
    let out = agent.install(
        &cmd,
        Some(&host.name),
        &[("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "1000")],
    );
    assert!(
        out.status.success(),
        "install in namespace: {}",
        stderr(&out)
    );
    let id = agent.agent_id();
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    let ips: Vec<&str> = a["ips"]
        .as_array()
        .expect("ips")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        ips.contains(&host.addr.as_str()),
        "reports its namespace address: {a}"
    );
    assert!(
        a["last_addr"].as_str().unwrap_or("").contains(&host.addr),
        "session comes from the namespace address: {a}"
    );

    host.cut();
    wait_status(
        &server,
        &id,
        "unprotected",
        Some("offline"),
        Duration::from_secs(15),
    );
    host.restore();
    wait_status(&server, &id, "protected", None, Duration::from_secs(15));
}

/// Every failure prints exactly one line naming the cause, exits non-zero,
/// and leaves nothing installed.
fn assert_clean_failure(agent: &Agent, out: &std::process::Output, cause: &[&str]) {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!out.status.success(), "must fail: {err}");
    assert_eq!(lines.len(), 1, "exactly one error line, got: {err:?}");
    let l = lines[0].to_lowercase();
    assert!(
        cause.iter().any(|c| l.contains(c)),
        "error line {l:?} names the cause (one of {cause:?})"
    );
    assert!(
        !agent.prefix.exists(),
        "nothing half-installed: {} exists",
        agent.prefix.display()
    );
    assert!(wait_for_no_agent(agent), "no agent process left running");
}

fn wait_for_no_agent(agent: &Agent) -> bool {
    let needle = agent.prefix.display().to_string();
    let o = run(Command::new("pgrep").args(["-f", &needle]));
    o.stdout.is_empty()
}

#[test]
fn install_failures_are_one_clear_line_and_leave_nothing() {
    let server = Server::start();
    let (key_id, secret) = server.create_key("e2e-fail");
    let good = server.install_command(&secret, None);

    // Wrong key.
    let wrong = good.replace(&secret, "wk_not_a_real_key_0000000000");
    let agent = Agent::new_prefix();
    let out = agent.install(&wrong, None, &[]);
    assert_clean_failure(&agent, &out, &["unknown", "not known", "invalid"]);

    // Revoked key.
    let rev = server.cli(&["keys", "revoke", &key_id]);
    assert!(rev.status.success(), "revoke: {}", stderr(&rev));
    let out = agent.install(&good, None, &[]);
    assert_clean_failure(&agent, &out, &["revoked"]);

    // Wrong pin (a well-formed pin of another key).
    let (_k2, secret2) = server.create_key("e2e-fail-2");
    let good2 = server.install_command(&secret2, None);
    let other_pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let bad_pin = good2.replace(&server.pin, other_pin);
    let out = agent.install(&bad_pin, None, &[]);
    assert_clean_failure(&agent, &out, &["pin", "public key"]);

    // Unreachable server (nothing listens on that port).
    let dead_port = ward_e2e::free_port();
    let dead = good2.replace(
        &format!("127.0.0.1:{}", server.port),
        &format!("127.0.0.1:{dead_port}"),
    );
    let out = agent.install(&dead, None, &[]);
    assert_clean_failure(&agent, &out, &["connect", "refused", "unreachable"]);

    // Nothing was enrolled by any of these.
    assert!(server.assets().is_empty(), "no asset created");
}

/// Opens the session endpoint with a credential, returns the HTTP status.
#[test]
fn one_agents_credential_cannot_act_as_another() {
    let server = Server::start();
    let (_id, secret) = server.create_key("e2e-authz");
    let cmd = server.install_command(&secret, None);
    let a = Agent::new_prefix();
    let b = Agent::new_prefix();
    for x in [&a, &b] {
        let out = x.install(&cmd, None, &[]);
        assert!(out.status.success(), "install: {}", stderr(&out));
    }
    let cred_a = a.identity()["credential"]
        .as_str()
        .expect("cred")
        .to_string();
    let id_b = b.agent_id();
    // A's secret with B's id.
    let secret_a = cred_a.rsplit('.').next().expect("secret part");
    let forged = format!("wa1.{id_b}.{secret_a}");
    assert_eq!(server.session_upgrade_status(&forged), 401);
    // A bogus credential and none at all.
    assert_eq!(server.session_upgrade_status("wa1.nobody.xxxx"), 401);
    // The genuine credential is accepted (101 Switching Protocols).
    assert_eq!(server.session_upgrade_status(&cred_a), 101);
    // B is untouched by all this.
    wait_status(&server, &id_b, "protected", None, Duration::from_secs(5));
}

#[test]
fn api_requires_a_token() {
    let server = Server::start();
    let o = run(Command::new("curl")
        .args(["-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--pinnedpubkey", &server.pin])
        .arg(format!("{}/api/v1/assets", server.url())));
    assert_eq!(stdout(&o), "401");
}
