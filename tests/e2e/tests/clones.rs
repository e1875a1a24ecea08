//! Issue 4 acceptance, cloned hosts: an installed prefix copied to a second
//! network-namespace host and started becomes a second asset with its own
//! identity; both stay protected and nobody flaps, over many keepalive
//! periods (1 s keepalives). Real processes, real TLS, real namespaces.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ward_e2e::netns::Host;
use ward_e2e::{run, stderr, wait_for, wait_status, Agent, Server, Value};

/// How long both copies must stay stable (150 keepalive periods).
const STABLE: Duration = Duration::from_secs(150);

/// A namespace host that reaches every address of this machine (a default
/// route over its link), as hosts on one network reach their server.
fn host() -> Host {
    let h = Host::create();
    h.ip(&["route", "add", "default", "via", &h.host_addr]);
    h
}

/// A server on all addresses, two namespace hosts, and an agent installed
/// and protected on the first one.
fn lab(key_label: &str) -> (Server, Host, Host, Agent, String) {
    let server = Server::start_on("0.0.0.0");
    let (h1, h2) = (host(), host());
    let (_, secret) = server.create_key(key_label);
    let url = format!("https://{}:{}", h1.host_addr, server.port);
    let original = Agent::new_prefix();
    let out = original.install(
        &server.install_command(&secret, Some(&url)),
        Some(&h1.name),
        &[],
    );
    assert!(
        out.status.success(),
        "install: {}\n{}",
        stderr(&out),
        server.log()
    );
    let id = original.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    (server, h1, h2, original, id)
}

fn copy_prefix(from: &Path, to: &Path) {
    let o = run(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(o.status.success(), "cp -a: {}", stderr(&o));
}

fn agent_id_of(prefix: &Path) -> String {
    let text = std::fs::read_to_string(prefix.join("data/identity.json")).expect("identity");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["agent_id"].as_str().expect("agent_id").to_string()
}

fn pid_of(prefix: &Path) -> Option<i32> {
    std::fs::read_to_string(prefix.join("data/agent.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn asset_ids(server: &Server) -> BTreeSet<String> {
    server
        .assets()
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect()
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

/// Both assets protected, ids, files and processes unchanged for `d`.
fn assert_stable(server: &Server, ids: &BTreeSet<String>, prefixes: &[(&Path, &str)], d: Duration) {
    let pids: Vec<Option<i32>> = prefixes.iter().map(|(p, _)| pid_of(p)).collect();
    let start = Instant::now();
    let mut checks = 0;
    while start.elapsed() < d {
        assert_eq!(&asset_ids(server), ids, "the set of assets changed");
        for id in ids {
            let a = server.asset(id);
            assert_eq!(
                a["status"],
                "protected",
                "asset {id} after {:?}: {a}",
                start.elapsed()
            );
        }
        for ((p, want), pid) in prefixes.iter().zip(&pids) {
            assert_eq!(&agent_id_of(p), want, "identity in {} changed", p.display());
            assert_eq!(&pid_of(p), pid, "the agent of {} restarted", p.display());
        }
        checks += 1;
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(checks >= d.as_secs() as usize / 3, "only {checks} checks");
    for id in ids {
        let tl = server.asset(id)["timeline"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let offline = tl.iter().filter(|e| e["reason"] == "offline").count();
        assert_eq!(offline, 0, "asset {id} went offline: {tl:?}");
    }
}

#[test]
fn a_prefix_copied_to_a_second_host_becomes_a_second_stable_asset() {
    let (server, h1, h2, original, id) = lab("e2e-clone");

    // Copy the installed prefix while the agent runs (as an image would be
    // taken) and start the copy on the second host.
    let copy = Agent::new_prefix();
    copy_prefix(&original.prefix, &copy.prefix);
    let out = run(h2
        .command(copy.agent_bin())
        .arg("start")
        .arg("--prefix")
        .arg(&copy.prefix));
    assert!(out.status.success(), "start the copy: {}", stderr(&out));

    let new_id = wait_for(
        "the copy gets its own identity",
        Duration::from_secs(15),
        || {
            let n = agent_id_of(&copy.prefix);
            (n != id).then_some(n)
        },
    );
    wait_status(&server, &new_id, "protected", None, Duration::from_secs(10));
    assert_eq!(
        agent_id_of(&original.prefix),
        id,
        "the original keeps its identity"
    );
    let ids: BTreeSet<String> = [id.clone(), new_id.clone()].into();
    assert_eq!(asset_ids(&server), ids);
    // Each asset is the host it runs on.
    let addr = |i: &str| {
        server.asset(i)["last_addr"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        addr(&id).starts_with(&format!("{}:", h1.addr)),
        "{}",
        addr(&id)
    );
    assert!(
        addr(&new_id).starts_with(&format!("{}:", h2.addr)),
        "{}",
        addr(&new_id)
    );
    let detail = server.asset(&new_id)["timeline"].to_string();
    assert!(detail.contains(&format!("copy of {id}")), "{detail}");

    let log_before = server.log();
    assert_stable(
        &server,
        &ids,
        &[
            (&original.prefix, id.as_str()),
            (&copy.prefix, new_id.as_str()),
        ],
        STABLE,
    );
    let log = server.log();
    let later = &log[log_before.len()..];
    assert_eq!(
        count(&log, "cloned install detected"),
        1,
        "one re-identification"
    );
    assert_eq!(count(later, "superseded"), 0, "no session kicked another");
    assert_eq!(
        count(later, "session started"),
        0,
        "no reconnects while stable"
    );
}

#[test]
fn two_live_copies_with_the_same_fingerprint_get_separate_identities() {
    let (server, _h1, h2, original, id) = lab("e2e-twin");

    // The copy runs at the same path (its own mount namespace) on the same
    // machine id: the same host fingerprint, like a VM image cloned with
    // its machine id. Only the two live sessions tell them apart.
    let twin = Agent::new_prefix();
    copy_prefix(&original.prefix, &twin.prefix);
    let script = format!(
        "mount --bind '{copy}' '{orig}' && exec '{orig}/bin/ward-agent' start --prefix '{orig}'",
        copy = twin.prefix.display(),
        orig = original.prefix.display()
    );
    let out =
        run(h2
            .command("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script]));
    assert!(out.status.success(), "start the twin: {}", stderr(&out));

    let (a, b) = wait_for(
        "one of the two re-identified",
        Duration::from_secs(20),
        || {
            let (a, b) = (agent_id_of(&original.prefix), agent_id_of(&twin.prefix));
            (a != b).then_some((a, b))
        },
    );
    assert!(a == id || b == id, "one keeps the identity: {a} {b}");
    let ids: BTreeSet<String> = [a.clone(), b.clone()].into();
    for i in &ids {
        wait_status(&server, i, "protected", None, Duration::from_secs(10));
    }
    assert_eq!(asset_ids(&server), ids);
    let log = server.log();
    assert!(
        log.contains("a second live agent process uses this identity"),
        "{log}"
    );
    assert_stable(
        &server,
        &ids,
        &[(&original.prefix, a.as_str()), (&twin.prefix, b.as_str())],
        Duration::from_secs(30),
    );
    assert_eq!(count(&server.log(), "cloned install detected"), 1);
}
