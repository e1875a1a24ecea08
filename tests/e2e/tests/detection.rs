//! Issue 6 acceptance: the event pipeline and login detection end to end,
//! with real processes (ward-server, ward-agent, Debian's sshd and rsyslog,
//! ssh/sshpass) in network namespaces.
//!
//! Build first: `cargo build --bins` (the `ingest_load` example is built by
//! `cargo test -p ward-e2e` itself). The login lab needs root and the
//! packages of `scripts/install-test-deps.sh`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use ward_e2e::journald::Journald;
use ward_e2e::login::{ssh_login, Link, Rsyslog, Sshd, TestUser};
use ward_e2e::netns::Host;
use ward_e2e::{bin, run, stderr, stdout, wait_for, wait_status, Agent, Server};
use ward_store::Store;

// --- helpers -------------------------------------------------------------

/// A program built as an example of this package (`cargo test` builds them).
fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p ward-e2e --examples`",
        path.display()
    );
    path
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `ms` as an RFC 3339 timestamp with microseconds, as rsyslog writes them.
fn rfc3339(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = civil(days);
    let s = rest / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        s / 3600,
        s / 60 % 60,
        s % 60,
        rest % 1000
    )
}

/// Parses the API's `YYYY-MM-DDTHH:MM:SS.mmmZ` into Unix ms.
fn parse_api_time(s: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 { s[a..b].parse().expect("digits") };
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    // days_from_civil
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = if s.len() > 20 { n(20, 23) } else { 0 };
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + ms
}

#[test]
fn time_helpers_agree() {
    // 2023-11-14T22:13:20Z is 1_700_000_000 s after the epoch.
    assert_eq!(
        rfc3339(1_700_000_000_123),
        "2023-11-14T22:13:20.123000+00:00"
    );
    assert_eq!(
        parse_api_time("2023-11-14T22:13:20.123Z"),
        1_700_000_000_123
    );
    assert_eq!(
        parse_api_time("2024-02-29T00:00:00.000Z"),
        1_709_164_800_000
    );
}

/// Runs `f` on the server's store, opened from its data directory (also
/// while the server runs: SQLite in WAL mode, several processes allowed).
fn with_store<T>(server: &Server, f: impl AsyncFnOnce(&dyn Store) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = ward_store_sqlite::SqliteStore::open(&server.data().join("ward.db"))
            .await
            .expect("open the server's store");
        f(&store).await
    })
}

/// Every stored event of `asset`, in ingest order.
fn stored_events(server: &Server, asset: &str) -> Vec<ward_events::Event> {
    with_store(server, async |s: &dyn Store| {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let page = s.events_after(cursor, 10_000).await.expect("events_after");
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            out.extend(
                page.into_iter()
                    .filter(|e| e.asset_id == asset)
                    .map(|e| e.event),
            );
        }
        out
    })
}

fn count_events(server: &Server, asset: &str) -> u64 {
    with_store(server, async |s: &dyn Store| {
        s.count_events(Some(asset)).await.expect("count")
    })
}

/// Installs an agent whose login collector follows only `log`.
fn install_agent(server: &Server, url: Option<&str>, netns: Option<&str>, log: &Path) -> Agent {
    let conf = format!(
        "[collect.auth]\npaths = [\"{}\"]\njournald = \"off\"\nwtmp = false\n\
         [collect.process]\nenabled = false\n[collect.files]\nenabled = false\n",
        log.display()
    );
    install_agent_with(server, url, netns, &conf)
}

/// Installs an agent with `agent_toml` as its `conf/agent.toml`.
fn install_agent_with(
    server: &Server,
    url: Option<&str>,
    netns: Option<&str>,
    agent_toml: &str,
) -> Agent {
    let (_, secret) = server.create_key(&format!("e2e-detect-{}", now_ms()));
    let cmd = server.install_command(&secret, url);
    let agent = Agent::new_prefix();
    let conf = agent.prefix.join("conf");
    fs::create_dir_all(&conf).expect("conf dir");
    fs::write(conf.join("agent.toml"), agent_toml).expect("agent.toml");
    let out = agent.install(
        &cmd,
        netns,
        &[("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "1000")],
    );
    assert!(
        out.status.success(),
        "install: {}\n{}",
        stderr(&out),
        server.log()
    );
    agent
}

fn agent_status(agent: &Agent) -> Value {
    fs::read_to_string(agent.prefix.join("data/status.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn alerts(server: &Server, query: &str) -> Vec<Value> {
    server.api_get(&format!("/api/v1/alerts?limit=1000{query}"))["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// The alerts of `rule` whose group has `SourceIp == ip`.
fn alerts_for(server: &Server, asset: &str, rule: &str, ip: &str) -> Vec<Value> {
    alerts(server, &format!("&asset={asset}&rule={rule}"))
        .into_iter()
        .filter(|a| a["group"]["SourceIp"] == ip)
        .collect()
}

fn append(path: &Path, lines: &[String]) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open log");
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).expect("append");
}

/// A `Failed password` line as rsyslog writes it, for user `user` from `ip`.
fn failed_line(user: &str, ip: &str, port: u32) -> String {
    format!(
        "{} labhost sshd[4242]: Failed password for invalid user {user} from {ip} port {port} ssh2",
        rfc3339(now_ms())
    )
}

// --- a. offline replay of the real corpus ----------------------------------

/// A file of the `ward-rules` acceptance oracle (`crates/rules/tests/golden/`):
/// the awk program that derives the expected brute-force sources from the
/// log independently of Ward, and its hand-checked result.
fn oracle(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/rules/tests/golden")
        .join(name)
}

/// `ADDRESS COUNT` lines (comments with `#`) as a map.
fn address_counts(text: &str) -> BTreeMap<String, usize> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (ip, n) = l.split_once(' ')?;
            Some((ip.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

fn corpus() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/loghub-openssh/OpenSSH_2k.log");
    assert!(
        p.is_file(),
        "corpus {} is missing: the acceptance test needs it",
        p.display()
    );
    p
}

#[test]
fn rules_test_on_the_openssh_corpus_alerts_exactly_the_brute_forcing_sources() {
    let want = address_counts(
        &fs::read_to_string(oracle("openssh_2k_bruteforce.expected")).expect("expected list"),
    );
    assert_eq!(want.len(), 6, "the hand-checked list");
    // The list re-derived now with awk, the independent oracle.
    let o = run(Command::new("awk")
        .arg("-f")
        .arg(oracle("openssh_2k_bruteforce.awk"))
        .arg(corpus()));
    assert!(o.status.success(), "awk: {}", stderr(&o));
    assert_eq!(
        address_counts(&stdout(&o)),
        want,
        "the awk derivation and the expected list agree"
    );
    let o = run(Command::new(bin("ward-server"))
        .args(["rules", "test"])
        .arg(corpus())
        .args(["--year", "2026"]));
    assert!(o.status.success(), "rules test: {}", stderr(&o));
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for line in stdout(&o).lines() {
        let a: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for f in [
            "rule_id",
            "rule_title",
            "severity",
            "host",
            "first_ms",
            "last_ms",
            "evidence",
        ] {
            assert!(a.get(f).is_some(), "alert has {f}: {a}");
        }
        if a["rule_id"] == "ward-login-001" {
            assert_eq!(a["severity"], "suspicious");
            assert_eq!(a["technique"], "T1110.001");
            let ip = a["group"]["SourceIp"]
                .as_str()
                .expect("SourceIp")
                .to_string();
            *got.entry(ip).or_default() += 1;
        }
    }
    assert_eq!(got, want);
    assert!(
        stderr(&o).contains("alert(s) from 2000 line(s)"),
        "{}",
        stderr(&o)
    );
}

// --- b. a real sshd + rsyslog under attack --------------------------------

#[test]
fn real_sshd_brute_force_then_login_raises_alerts_within_2_seconds() {
    let server = Server::start_on("0.0.0.0");
    let target = Host::create();
    let attacker = Host::create();
    let link = Link::between(&target, &attacker);
    let lab = tempfile::Builder::new()
        .prefix("ward-e2e-sshlab")
        .tempdir()
        .expect("tempdir");
    let syslog = Rsyslog::start(&target, lab.path());
    let user = TestUser::create();
    let _sshd = Sshd::start(&target, lab.path(), &link.addr_a, &user.name, &syslog);

    let url = format!("https://{}:{}", target.host_addr, server.port);
    let agent = install_agent(&server, Some(&url), Some(&target.name), &syslog.log);
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(15));
    let src = link.addr_b.as_str();

    let mut latency_from_8th = None;
    for i in 1..=10 {
        assert!(
            !ssh_login(&attacker, &link.addr_a, &user.name, "wrong-password"),
            "attempt {i} with a wrong password must fail"
        );
        if i == 8 {
            // The threshold (8 failures in 120 s) is crossed by this attempt.
            let t8 = Instant::now();
            wait_for(
                "the brute-force alert after the 8th failure",
                Duration::from_secs(2),
                || (!alerts_for(&server, &id, "ward-login-001", src).is_empty()).then_some(()),
            );
            latency_from_8th = Some(t8.elapsed());
        }
    }
    let t10 = Instant::now();
    let bf = alerts_for(&server, &id, "ward-login-001", src);
    assert!(t10.elapsed() <= Duration::from_secs(2));
    assert_eq!(bf.len(), 1, "one alert for the burst: {bf:?}");
    assert_eq!(bf[0]["severity"], "suspicious");
    assert_eq!(bf[0]["state"], "unhandled");
    eprintln!("brute-force alert visible {latency_from_8th:?} after the 8th failure returned");

    let detail = server.api_get(&format!("/api/v1/alerts/{}", bf[0]["id"]));
    let ev = detail["evidence_events"].as_array().expect("evidence");
    assert_eq!(ev.len(), 8, "{detail}");
    for e in ev {
        assert_eq!(e["kind"], "auth.ssh_failed", "{e}");
        assert_eq!(e["src_ip"], src);
        assert_eq!(e["user"], user.name.as_str());
        assert_eq!(e["host"], id.as_str(), "the asset, not the log's host name");
        let raw = e["raw"].as_str().unwrap_or("");
        assert!(raw.contains("Failed password for"), "{raw}");
    }

    // The attacker now gets in: the urgent alert.
    assert!(
        ssh_login(&attacker, &link.addr_a, &user.name, &user.password),
        "the right password logs in: {}",
        fs::read_to_string(lab.path().join("sshd.out")).unwrap_or_default()
    );
    let ok_at = Instant::now();
    let urgent = wait_for(
        "the brute force then login alert",
        Duration::from_secs(2),
        || {
            let a = alerts_for(&server, &id, "ward-login-003", src);
            (!a.is_empty()).then_some(a)
        },
    );
    eprintln!(
        "urgent alert visible {:?} after the login returned",
        ok_at.elapsed()
    );
    assert_eq!(urgent.len(), 1);
    assert_eq!(urgent[0]["severity"], "urgent");
    assert_eq!(urgent[0]["technique"], "T1110.001");

    // Cross-check: the offline replay of the very log rsyslog wrote agrees.
    let o = run(Command::new(bin("ward-server"))
        .args(["rules", "test"])
        .arg(&syslog.log));
    assert!(o.status.success(), "{}", stderr(&o));
    let offline: Vec<(String, String)> = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|a| {
            (
                a["rule_id"].as_str().unwrap_or("").to_string(),
                a["group"]["SourceIp"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for rule in ["ward-login-001", "ward-login-003"] {
        let n = offline
            .iter()
            .filter(|(r, ip)| r == rule && ip == src)
            .count();
        assert_eq!(n, 1, "offline {rule}: {offline:?}");
    }
}

// --- b2. journald where there is no auth log ---------------------------------

#[test]
fn journald_is_read_where_there_is_no_auth_log_file() {
    let server = Server::start();
    let dir = tempfile::Builder::new()
        .prefix("ward-e2e-journald")
        .tempdir()
        .expect("tempdir");
    let journal = Journald::start(dir.path());
    let conf = format!(
        "[collect.auth]\npaths = [\"{}\"]\njournald = \"auto\"\njournalctl = \"{}\"\nwtmp = false\n\
         [collect.process]\nenabled = false\n[collect.files]\nenabled = false\n",
        dir.path().join("no-such-auth.log").display(),
        journal.journalctl().display()
    );
    let agent = install_agent_with(&server, None, None, &conf);
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(15));
    // The collector follows the journal (it starts at its end).
    wait_for(
        "the agent to follow journald",
        Duration::from_secs(15),
        || {
            let st = agent_status(&agent);
            st["collectors"][0]["sources"]
                .as_array()?
                .iter()
                .any(|s| s["source"] == "journald" && s["state"] == "following")
                .then_some(())
        },
    );
    // sshd's failures as journald stores them (facility authpriv), plus a
    // message of another facility that the collector must not read.
    journal.log(
        "daemon.info",
        "sshd",
        77,
        "Failed password for root from 203.0.113.9 port 1 ssh2",
    );
    for i in 0..8 {
        journal.log(
            "authpriv.info",
            "sshd",
            4000 + i,
            &format!(
                "Failed password for invalid user guest{i} from 2001:db8::44 port {} ssh2",
                50_000 + i
            ),
        );
    }
    let a = wait_for(
        "the brute-force alert from journald",
        Duration::from_secs(15),
        || {
            alerts_for(&server, &id, "ward-login-001", "2001:db8::44")
                .into_iter()
                .next()
        },
    );
    let detail = server.api_get(&format!("/api/v1/alerts/{}", a["id"]));
    let ev = detail["evidence_events"].as_array().expect("evidence");
    assert_eq!(ev.len(), 8, "{detail}");
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e["source"], "journald");
        assert_eq!(e["user"], format!("guest{i}"));
        assert_eq!(e["src_port"], 50_000 + i);
    }
    let events = stored_events(&server, &id);
    assert_eq!(events.len(), 8, "the daemon-facility line is not read");
    assert!(events.iter().all(|e| e.source == "journald"));
}

// --- c. server outage and agent restart -------------------------------------

#[test]
fn events_during_a_server_outage_and_an_agent_restart_arrive_exactly_once() {
    let mut server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    fs::write(&log, "").expect("log");
    let agent = install_agent(&server, None, None, &log);
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(15));

    let line = |k: usize| {
        failed_line(
            &format!("outage-{k}"),
            &format!("192.0.2.{}", k % 250 + 1),
            1000 + k as u32,
        )
    };
    let before: Vec<String> = (0..5).map(line).collect();
    append(&log, &before);
    wait_for(
        "the first events to be stored",
        Duration::from_secs(15),
        || (count_events(&server, &id) == 5).then_some(()),
    );

    server.stop();
    let n = 300;
    let first: Vec<String> = (5..5 + n / 2).map(line).collect();
    append(&log, &first);
    wait_for(
        "the agent to spool the first half",
        Duration::from_secs(20),
        || (agent_status(&agent)["spool"]["depth"].as_u64() == Some((n / 2) as u64)).then_some(()),
    );
    // Restart the agent while the server is down.
    agent.stop();
    let o = run(Command::new(agent.agent_bin())
        .arg("start")
        .arg("--prefix")
        .arg(&agent.prefix));
    assert!(o.status.success(), "ward-agent start: {}", stderr(&o));
    let second: Vec<String> = (5 + n / 2..5 + n).map(line).collect();
    append(&log, &second);
    wait_for(
        "the agent to spool every event of the outage",
        Duration::from_secs(20),
        || (agent_status(&agent)["spool"]["depth"].as_u64() == Some(n as u64)).then_some(()),
    );

    server.restart();
    let total = (5 + n) as u64;
    wait_for("every event to arrive", Duration::from_secs(30), || {
        (count_events(&server, &id) >= total).then_some(())
    });
    // Let any re-sent duplicate arrive before counting again.
    wait_for("the spool to drain", Duration::from_secs(15), || {
        (agent_status(&agent)["spool"]["depth"].as_u64() == Some(0)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let events = stored_events(&server, &id);
    assert_eq!(events.len() as u64, total, "exactly N events");
    let mut users: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for e in &events {
        let v = serde_json::to_value(e).expect("json");
        *users
            .entry(v["user"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
        assert!(ids.insert(e.id), "event id {} stored twice", e.id);
    }
    let want: BTreeMap<String, usize> = (0..5 + n).map(|k| (format!("outage-{k}"), 1)).collect();
    assert_eq!(users, want, "each line once");
    assert_eq!(count_events(&server, &id), total);
}

// --- d. kill -9 of the server during ingestion -------------------------------

/// Runs `ingest_load`; returns (credential, last ack, success) and calls
/// `on_ack` with every ack as it arrives.
fn load(
    server: &Server,
    args: &[&str],
    mut on_ack: impl FnMut(u64),
) -> (Option<String>, u64, bool) {
    let mut child = Command::new(example_bin("ingest_load"))
        .args(["--url", &server.url(), "--pin", &server.pin, "--print-acks"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ingest_load");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<Value>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let (mut cred, mut last) = (None, 0);
    for v in rx {
        if let Some(c) = v["credential"].as_str() {
            cred = Some(c.to_string());
        }
        if let Some(a) = v["ack"].as_u64() {
            assert!(a >= last, "acks are cumulative");
            last = a;
            on_ack(a);
        }
    }
    let _ = reader.join();
    let st = child.wait().expect("wait ingest_load");
    (cred, last, st.success())
}

#[test]
fn kill_9_during_ingestion_loses_no_acknowledged_event() {
    let mut server = Server::start();
    let (_, key) = server.create_key("e2e-load");
    let server_pid = server.child.as_ref().expect("running").id() as i32;
    let mut killed = false;
    let (cred, acked, ok) = load(
        &server,
        &[
            "--key", &key, "--events", "2000000", "--batch", "500", "--window", "4",
        ],
        |ack| {
            if !killed && ack >= 30_000 {
                ward_e2e::signal(server_pid, libc::SIGKILL);
                killed = true;
            }
        },
    );
    assert!(
        killed,
        "the server was killed while acks flowed (last ack {acked})"
    );
    assert!(!ok, "the load generator sees the server die");
    server.kill9(); // reap
    let cred = cred.expect("credential");
    let asset = cred
        .split('.')
        .nth(1)
        .expect("wa1.<id>.<secret>")
        .to_string();

    // The dead server's store holds every acknowledged event.
    let ids: Vec<u64> = stored_events(&server, &asset)
        .iter()
        .map(|e| e.id)
        .collect();
    let hw = with_store(&server, async |s: &dyn Store| {
        s.event_high_water(&asset).await.expect("hw")
    });
    assert!(
        hw >= acked,
        "high-water mark {hw} below the last ack {acked}"
    );
    let want: Vec<u64> = (1..=hw).collect();
    assert_eq!(
        ids, want,
        "ids 1..={hw}, each once, nothing lost before the mark"
    );
    eprintln!("killed after ack {acked}; {hw} events stored");

    // Restart; the agent re-sends from before its last ack, as after a lost ack.
    server.restart();
    let resend_from = acked.saturating_sub(999).max(1);
    let end = acked + 20_000;
    let (_, last, ok) = load(
        &server,
        &[
            "--credential",
            &cred,
            "--start-id",
            &resend_from.to_string(),
            "--events",
            &(end - resend_from + 1).to_string(),
            "--batch",
            "500",
        ],
        |_| {},
    );
    assert!(ok, "the second run completes");
    assert_eq!(last, end);
    let ids: Vec<u64> = stored_events(&server, &asset)
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        (1..=end).collect::<Vec<u64>>(),
        "exactly once after the re-send"
    );
}

// --- benchmark (run with --ignored --nocapture) -------------------------------

fn percentile(v: &mut [i64], p: f64) -> i64 {
    v.sort_unstable();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Waits (polling every 5 ms, at most 10 s) for `f`; the elapsed time since
/// `t0` when it first holds.
fn time_until<T>(t0: Instant, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    loop {
        if let Some(v) = f() {
            return (v, t0.elapsed());
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Alert latency: bursts of 8 failed logins from a fresh source are
/// appended to a watched log (one write each). Ward: a real agent follows
/// the log, a real server raises ward-login-001; latency is the alert's
/// `created_at` (server clock, same machine) minus the write time, and the
/// time until a poller of the alerts API sees it. Side by side, on the same
/// lines: Debian's fail2ban with an sshd jail at the same threshold, from
/// the write to its ban action running.
#[test]
#[ignore = "benchmark: benches/pipeline/run.sh"]
fn bench_alert_latency() {
    let bursts: usize = std::env::var("BENCH_ALERT_BURSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let burst = |b: usize| {
        let ip = format!("198.51.{}.{}", 100 + b / 250, b % 250 + 1);
        let lines: Vec<String> = (0..8)
            .map(|k| failed_line("bench", &ip, 2000 + k))
            .collect();
        (ip, lines)
    };

    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    fs::write(&log, "").expect("log");
    let agent = install_agent(&server, None, None, &log);
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(15));
    let (mut stored, mut visible) = (Vec::new(), Vec::new());
    for b in 0..bursts {
        let (ip, lines) = burst(b);
        let (t0, w0) = (Instant::now(), now_ms());
        append(&log, &lines);
        let (a, seen) = time_until(t0, || {
            alerts_for(&server, &id, "ward-login-001", &ip)
                .into_iter()
                .next()
        });
        visible.push(seen.as_millis() as i64);
        stored.push(parse_api_time(a["created_at"].as_str().expect("created_at")) - w0);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(agent);
    drop(server);

    let f2b_dir = tempfile::tempdir().expect("tempdir");
    let f2b_log = f2b_dir.path().join("auth.log");
    fs::write(&f2b_log, "").expect("log");
    let f2b = ward_e2e::fail2ban::Fail2ban::start(f2b_dir.path(), &f2b_log);
    let mut banned = Vec::new();
    for b in 0..bursts {
        let (ip, lines) = burst(b);
        let t0 = Instant::now();
        append(&f2b_log, &lines);
        let mark = f2b.ban_mark(&ip);
        let ((), took) = time_until(t0, || mark.exists().then_some(()));
        banned.push(took.as_millis() as i64);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(f2b);

    println!(
        "Ward over {bursts} bursts: write -> alert stored p50 {} ms p99 {} ms max {} ms; \
         write -> visible to an API poller (5 ms) p50 {} ms p99 {} ms",
        percentile(&mut stored, 0.50),
        percentile(&mut stored, 0.99),
        stored.iter().max().copied().unwrap_or(0),
        percentile(&mut visible, 0.50),
        percentile(&mut visible, 0.99),
    );
    println!(
        "fail2ban over {bursts} bursts: write -> ban action p50 {} ms p99 {} ms max {} ms",
        percentile(&mut banned, 0.50),
        percentile(&mut banned, 0.99),
        banned.iter().max().copied().unwrap_or(0),
    );
}
