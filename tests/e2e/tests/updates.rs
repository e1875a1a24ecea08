//! Issue 4 acceptance (updater half): signed releases picked up and run
//! from `agent/<N+1>/`, rollback of a release that never comes online,
//! refusals (tampered, bad signature, older, expired), and the guardian
//! (`kill -9` of either program; crash loops; the agent's resource caps).
//! Real ward-server, ward-agent and ward-update processes, real TLS.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ward_e2e::lifecycle::{
    configure_updater, exe_of, hanging_binary, lifecycle, publish, stamp_version, update_check,
    wait_lifecycle,
};
use ward_e2e::{bin, stderr, stdout, wait_for, wait_status, Agent, Server};

const V0: &str = env!("CARGO_PKG_VERSION");

fn installed(server: &Server) -> (Agent, String) {
    let (_id, secret) = server.create_key("e2e-lifecycle");
    let agent = Agent::new_prefix();
    let out = agent.install(&server.install_command(&secret, None), None, &[]);
    assert!(
        out.status.success(),
        "install: {} {}\n{}",
        stdout(&out),
        stderr(&out),
        server.log()
    );
    assert!(
        stdout(&out).contains("ward-update") && stdout(&out).contains("running"),
        "the install starts ward-update: {}",
        stdout(&out)
    );
    let id = agent.agent_id();
    wait_status(server, &id, "protected", None, Duration::from_secs(10));
    // The release key came with the enrollment, and is the server's.
    let info: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(server.data().join("server.json")).unwrap())
            .unwrap();
    let trusted = fs::read_to_string(agent.prefix.join("conf/release.pub")).unwrap();
    assert_eq!(trusted.trim(), info["release_key"].as_str().unwrap());
    (agent, id)
}

fn linked(agent: &Agent, name: &str) -> String {
    fs::read_link(agent.prefix.join("bin").join(name))
        .expect("bin link")
        .display()
        .to_string()
}

fn update_log(agent: &Agent) -> String {
    fs::read_to_string(agent.prefix.join("log/update.log")).unwrap_or_default()
}

/// Pids of the processes whose executable is `exe`.
fn running(exe: &Path) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<i32>().ok())
        .filter(|p| exe_of(*p).as_deref() == Some(exe))
        .collect()
}

fn next_patch(v: &str, add: u64) -> String {
    let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().expect("x.y.z")).collect();
    parts[2] += add;
    format!("{}.{}.{}", parts[0], parts[1], parts[2])
}

#[test]
fn published_release_is_picked_up_and_runs_from_its_version_dir() {
    let server = Server::start();
    let (agent, id) = installed(&server);
    assert_eq!(
        linked(&agent, "ward-agent"),
        format!("../agent/{V0}/ward-agent")
    );
    assert_eq!(
        linked(&agent, "ward-update"),
        format!("../update/{V0}/ward-update")
    );
    // Check every 10 s, no jitter: the release is found by the schedule.
    configure_updater(
        &agent,
        "check_interval_secs = 10\ncheck_jitter_secs = 0\nhealth_deadline_secs = 60\n",
    );

    let n1 = next_patch(V0, 1);
    let dir = tempfile::tempdir().unwrap();
    let (a1, u1) = (
        dir.path().join("ward-agent"),
        dir.path().join("ward-update"),
    );
    stamp_version(&bin("ward-agent"), &a1, &n1);
    stamp_version(&bin("ward-update"), &u1, &n1);
    // While the agent is stopped (`ward-agent stop`), nothing is installed.
    let st = std::process::Command::new(agent.agent_bin())
        .args(["stop", "--prefix"])
        .arg(&agent.prefix)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr(&st));
    publish(&server, &n1, &a1, Some(&u1));
    let skipped = update_check(&agent, &[], None);
    assert_eq!(skipped.status.code(), Some(0), "{}", stderr(&skipped));
    assert!(stdout(&skipped).contains("stopped"), "{}", stdout(&skipped));
    assert_eq!(
        linked(&agent, "ward-agent"),
        format!("../agent/{V0}/ward-agent")
    );
    assert!(!agent.prefix.join(format!("agent/{n1}")).exists());
    let st = std::process::Command::new(agent.agent_bin())
        .args(["start", "--prefix"])
        .arg(&agent.prefix)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr(&st));
    let published = Instant::now();

    let a = wait_for(
        "the API reports the new version",
        Duration::from_secs(60),
        || {
            let a = server.asset(&id);
            (a["agent_version"] == n1.as_str() && a["status"] == "protected").then_some(a)
        },
    );
    eprintln!("picked up and online after {:?}", published.elapsed());
    assert_eq!(a["agent_version"], n1.as_str());
    // It really runs from agent/<N+1>/: the link and the process's executable.
    assert_eq!(
        linked(&agent, "ward-agent"),
        format!("../agent/{n1}/ward-agent")
    );
    let pid = agent.pid().expect("agent pid");
    let exe = exe_of(pid).expect("agent exe");
    assert_eq!(exe, agent.prefix.join(format!("agent/{n1}/ward-agent")));
    assert_eq!(
        fs::read(&exe).unwrap(),
        fs::read(&a1).unwrap(),
        "the published bytes"
    );
    // The previous version stays on disk for a rollback.
    assert!(agent
        .prefix
        .join(format!("agent/{V0}/ward-agent"))
        .is_file());
    // The report reached the asset.
    let e = wait_lifecycle(
        &server,
        &id,
        "update_installed",
        None,
        Duration::from_secs(10),
    );
    assert_eq!(
        (e["from_version"].as_str(), e["to_version"].as_str()),
        (Some(V0), Some(n1.as_str()))
    );
    // The updater switched to the release's ward-update and re-executed.
    wait_for(
        "ward-update runs the new release",
        Duration::from_secs(20),
        || {
            let p = agent.update_pid()?;
            (exe_of(p)? == agent.prefix.join(format!("update/{n1}/ward-update"))).then_some(())
        },
    );
    assert_eq!(
        linked(&agent, "ward-update"),
        format!("../update/{n1}/ward-update")
    );
    // Nothing half-done is left in agent/.
    let leftovers: Vec<_> = fs::read_dir(agent.prefix.join("agent"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn release_that_never_comes_online_is_rolled_back_within_the_deadline() {
    let server = Server::start();
    let (agent, id) = installed(&server);
    let deadline = Duration::from_secs(15);
    configure_updater(
        &agent,
        &format!("health_deadline_secs = {}\n", deadline.as_secs()),
    );
    let old_pid = agent.pid().expect("agent pid");

    // A real executable for this platform that runs and never connects.
    let dir = tempfile::tempdir().unwrap();
    let hang = hanging_binary(dir.path());
    let bad = next_patch(V0, 1);
    publish(&server, &bad, &hang, None);

    let started = Instant::now();
    let out = update_check(&agent, &[], None);
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(4),
        "rolled back: {} {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        took <= deadline + Duration::from_secs(10),
        "rollback took {took:?}, deadline {deadline:?}"
    );
    assert!(
        stderr(&out).contains(&format!("ward-agent {bad} did not come online")),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(&format!("rolled back to {V0}")));
    // The old version runs again, online, from its own directory.
    assert_eq!(
        linked(&agent, "ward-agent"),
        format!("../agent/{V0}/ward-agent")
    );
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    assert_eq!(a["agent_version"], V0);
    let pid = agent.pid().expect("agent pid");
    assert_ne!(pid, old_pid, "the agent was restarted");
    assert_eq!(
        exe_of(pid).unwrap(),
        agent.prefix.join(format!("agent/{V0}/ward-agent"))
    );
    // The hung release process is gone.
    let survivors = running(&agent.prefix.join(format!("agent/{bad}/ward-agent")));
    assert!(
        survivors.is_empty(),
        "the never-online agent still runs: {survivors:?}"
    );
    // The asset shows the failed update, with the reason.
    let e = wait_lifecycle(
        &server,
        &id,
        "update_rolled_back",
        None,
        Duration::from_secs(10),
    );
    assert_eq!(e["to_version"], bad.as_str());
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("did not come online"),
        "{e}"
    );
    assert!(update_log(&agent).contains("did not come online"));
    // The console's asset page shows it too.
    let page = server.console_page(&format!("/console/assets/{id}"));
    assert!(
        page.contains("Rolled back") && page.contains(&bad),
        "asset page shows the failed update"
    );

    // The bad release is not retried; a release that exits at once is
    // rolled back at once.
    let again = update_check(&agent, &[], None);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("rolled back on this host before"),
        "{}",
        stdout(&again)
    );
    let exits = next_patch(V0, 2);
    publish(&server, &exits, Path::new("/bin/false"), None);
    let started = Instant::now();
    let out = update_check(&agent, &[], None);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("exited at start"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    wait_lifecycle(
        &server,
        &id,
        "update_rolled_back",
        Some("exited_at_start"),
        Duration::from_secs(10),
    );
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
}

#[test]
fn tampered_badly_signed_older_and_expired_releases_are_refused() {
    let mut server = Server::start();
    let (agent, id) = installed(&server);
    let dir = tempfile::tempdir().unwrap();
    let refused = |server: &Server, out: &std::process::Output, cause: &str, detail: &str| {
        assert_eq!(
            out.status.code(),
            Some(3),
            "refused: {} {}",
            stdout(out),
            stderr(out)
        );
        assert!(stderr(out).contains(cause), "{cause:?} in {}", stderr(out));
        assert_eq!(
            linked(&agent, "ward-agent"),
            format!("../agent/{V0}/ward-agent")
        );
        wait_lifecycle(
            server,
            &id,
            "update_refused",
            Some(detail),
            Duration::from_secs(10),
        )
    };

    // Older than what runs.
    let older = "0.0.1";
    let a_old = dir.path().join("old");
    stamp_version(&bin("ward-agent"), &a_old, older);
    publish(&server, older, &a_old, None);
    let e = refused(
        &server,
        &update_check(&agent, &[], None),
        &format!("release {older} is older than the running version {V0}"),
        "older_version",
    );
    assert_eq!(e["to_version"], older);
    assert!(update_log(&agent).contains("downgrade refused"));

    // Tampered: one byte of the published file changed on the server.
    let n1 = next_patch(V0, 1);
    let a1 = dir.path().join("n1");
    stamp_version(&bin("ward-agent"), &a1, &n1);
    publish(&server, &n1, &a1, None);
    let stored = server
        .data()
        .join(format!("releases/{n1}/linux-x86_64/ward-agent"));
    let mut bytes = fs::read(&stored).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&stored, &bytes).unwrap();
    let e = refused(
        &server,
        &update_check(&agent, &[], None),
        &format!("ward-agent of release {n1} was tampered with: sha256"),
        "tampered",
    );
    assert_eq!(e["to_version"], n1.as_str());
    assert!(
        !agent.prefix.join(format!("agent/{n1}")).exists(),
        "nothing of it is installed"
    );
    assert!(update_log(&agent).contains("tampered with"));

    // Expired: this host's clock 8 days ahead (metadata lives 7 days). The
    // check runs in-process under faketime, so no `run` may hold the lock.
    agent.kill9_all();
    let out = update_check(&agent, &[], Some("+8d"));
    let e = refused(
        &server,
        &out,
        "release metadata expired",
        "expired_metadata",
    );
    assert!(e["message"].as_str().unwrap().contains("stale"), "{e}");
    let start = std::process::Command::new(agent.agent_bin())
        .args(["start", "--prefix"])
        .arg(&agent.prefix)
        .output()
        .unwrap();
    assert!(start.status.success(), "{}", stderr(&start));
    wait_for(
        "ward-update started again by the agent",
        Duration::from_secs(10),
        || agent.update_pid(),
    );

    // Bad signature: the server's release key replaced (a new key at
    // restart); the agent keeps trusting the key it got at enrollment.
    fs::remove_file(server.data().join("keys/release.ed25519")).unwrap();
    server.restart();
    let e = refused(
        &server,
        &update_check(&agent, &[], None),
        "release metadata is not signed by the trusted release key",
        "bad_signature",
    );
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("not signed by the trusted release key"));
    assert!(update_log(&agent).contains("not signed by the trusted release key"));
    // Through all of it the agent stayed protected on its version.
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    assert_eq!(a["agent_version"], V0);
    assert_eq!(lifecycle(&server, &id).len(), 4, "one report per refusal");
}

#[test]
fn guardians_restart_each_other_after_kill_9_without_systemd() {
    assert!(
        !Path::new("/run/systemd/system").is_dir(),
        "this test is about hosts without systemd"
    );
    let server = Server::start();
    let (agent, id) = installed(&server);

    for _ in 0..2 {
        let old = agent.pid().expect("agent pid");
        ward_e2e::signal(old, libc::SIGKILL);
        let killed = Instant::now();
        let new = wait_for("ward-agent running again", Duration::from_secs(10), || {
            agent
                .pid()
                .filter(|p| *p != old && Path::new(&format!("/proc/{p}")).exists())
        });
        eprintln!("ward-agent back after {:?}", killed.elapsed());
        assert_ne!(new, old);
        wait_status(&server, &id, "protected", None, Duration::from_secs(10));

        let old = agent.update_pid().expect("ward-update pid");
        ward_e2e::signal(old, libc::SIGKILL);
        let killed = Instant::now();
        wait_for("ward-update running again", Duration::from_secs(10), || {
            agent
                .update_pid()
                .filter(|p| *p != old && Path::new(&format!("/proc/{p}")).exists())
        });
        eprintln!("ward-update back after {:?}", killed.elapsed());
    }
    assert!(update_log(&agent).contains("ward-agent was not running"));
    assert!(fs::read_to_string(agent.prefix.join("log/agent.log"))
        .unwrap()
        .contains("ward-update was not running"));

    // A crash loop: killed as soon as it is back, again and again. The
    // restarts back off and the loop is reported.
    let mut kills = 0;
    let looping = Instant::now();
    while looping.elapsed() < Duration::from_secs(40) {
        if update_log(&agent).contains("ward-agent is crash-looping") {
            break;
        }
        if let Some(p) = agent
            .pid()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            ward_e2e::signal(p, libc::SIGKILL);
            kills += 1;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        update_log(&agent).contains("ward-agent is crash-looping"),
        "after {kills} kills"
    );
    let e = wait_lifecycle(&server, &id, "crash_loop", None, Duration::from_secs(10));
    assert_eq!(e["program"], "ward-agent");
    // Backed off: not restarted at once…
    let entered = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        agent
            .pid()
            .is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists()),
        "no restart during the backoff"
    );
    // …but after it (10 s).
    wait_for(
        "ward-agent started after the backoff",
        Duration::from_secs(20),
        || {
            agent
                .pid()
                .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        },
    );
    assert!(entered.elapsed() >= Duration::from_secs(5));
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    // `ward-agent stop` is respected: nobody brings it back.
    let st = std::process::Command::new(agent.agent_bin())
        .args(["stop", "--prefix"])
        .arg(&agent.prefix)
        .output()
        .unwrap();
    assert!(st.status.success());
    std::thread::sleep(Duration::from_secs(4));
    assert!(agent
        .pid()
        .is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists()));
}

#[test]
fn agent_over_its_memory_cap_restarts_itself_and_reports_it() {
    let server = Server::start();
    let (agent, id) = installed(&server);
    let toml_path = agent.prefix.join("conf/agent.toml");
    let normal = fs::read_to_string(&toml_path).unwrap();
    let capped = normal
        .replace("max_rss_mib = 200", "max_rss_mib = 1")
        .replace("check_secs = 5", "check_secs = 1");
    assert_ne!(capped, normal, "agent.toml has the watchdog keys");
    fs::write(&toml_path, &capped).unwrap();
    let old = agent.pid().unwrap();
    ward_e2e::signal(old, libc::SIGTERM); // the guardian starts it with the new caps
    let e = wait_lifecycle(
        &server,
        &id,
        "resource_cap",
        Some("rss"),
        Duration::from_secs(20),
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("over the cap of 1 MiB"),
        "{e}"
    );
    let log = fs::read_to_string(agent.prefix.join("log/agent.log")).unwrap();
    assert!(log.contains("over the cap of 1 MiB; restarting cleanly"));
    // Fixed caps: the next fresh process stays up.
    fs::write(&toml_path, &normal).unwrap();
    wait_for(
        "a stable agent under the normal caps",
        Duration::from_secs(20),
        || {
            let p = agent.pid()?;
            std::thread::sleep(Duration::from_secs(3));
            (agent.pid() == Some(p) && Path::new(&format!("/proc/{p}")).exists()).then_some(p)
        },
    );
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
}

#[test]
fn updater_killed_in_the_middle_of_a_switch_rolls_back_at_its_next_start() {
    let server = Server::start();
    let (agent, id) = installed(&server);
    configure_updater(&agent, "health_deadline_secs = 20\n");
    let dir = tempfile::tempdir().unwrap();
    let bad = next_patch(V0, 1);
    publish(&server, &bad, &hanging_binary(dir.path()), None);

    // The running updater checks (SIGUSR1), switches to the release and
    // waits for it to come online; it is killed while it waits.
    let upid = agent.update_pid().expect("ward-update pid");
    ward_e2e::signal(upid, libc::SIGUSR1);
    wait_for(
        "the switch to the new release",
        Duration::from_secs(30),
        || (linked(&agent, "ward-agent") == format!("../agent/{bad}/ward-agent")).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(1));
    ward_e2e::signal(upid, libc::SIGKILL);
    // Its agent was stopped for the switch, so nobody restarts it: the next
    // start (boot, or an operator) does, and finds the interrupted switch.
    let st = std::process::Command::new(agent.prefix.join("bin/ward-update"))
        .args(["start", "--prefix"])
        .arg(&agent.prefix)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr(&st));
    let e = wait_lifecycle(
        &server,
        &id,
        "update_rolled_back",
        Some("interrupted"),
        Duration::from_secs(60),
    );
    assert_eq!(e["to_version"], bad.as_str());
    assert_eq!(
        linked(&agent, "ward-agent"),
        format!("../agent/{V0}/ward-agent")
    );
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    assert_eq!(a["agent_version"], V0);
    let survivors = running(&agent.prefix.join(format!("agent/{bad}/ward-agent")));
    assert!(
        survivors.is_empty(),
        "the never-online release still runs: {survivors:?}"
    );
    assert!(update_log(&agent).contains("an update was interrupted"));
}
