//! Issue 5 acceptance: endpoint failover and failback, an HTTP CONNECT
//! proxy (Debian's tinyproxy), host overrides without DNS, `ward-agent
//! doctor` naming each fault made for real, and the last connection error
//! in the asset API. Agents run in network namespaces; nothing leaves this
//! machine (namespaces have no route beyond their veth links, so even a
//! DNS query cannot leave).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use ward_e2e::netns::Host;
use ward_e2e::tinyproxy::Tinyproxy;
use ward_e2e::{run, stderr, stdout, wait_for, wait_status, Agent, Server, Value};

const FAST_BACKOFF: (&str, &str) = ("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "1000");
/// A well-formed pin no server here has (32 zero bytes).
const OTHER_PIN: &str = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Doctor samples the whole host (CPU use, processes): a doctor test runs
/// alone; the other tests of this file may run together.
static HOST: RwLock<()> = RwLock::new(());

fn doctor_lock() -> RwLockWriteGuard<'static, ()> {
    HOST.write().unwrap_or_else(|e| e.into_inner())
}

fn shared_lock() -> RwLockReadGuard<'static, ()> {
    HOST.read().unwrap_or_else(|e| e.into_inner())
}

/// `ward-server install-command` for `key` with extra flags.
fn install_command(server: &Server, key: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "install-command",
        "--platform",
        "linux-x86_64",
        "--key",
        key,
    ];
    args.extend_from_slice(extra);
    let out = server.cli(&args);
    assert!(out.status.success(), "install-command: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "install-command prints one line: {text}");
    lines[0].to_string()
}

/// Runs `PREFIX/bin/ward-agent ARGS --prefix PREFIX` inside the namespace.
fn agent_cmd(host: &Host, agent: &Agent, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = host.command(agent.agent_bin());
    c.args(args).arg("--prefix").arg(&agent.prefix);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

fn status_json(host: &Host, agent: &Agent) -> Value {
    let o = agent_cmd(host, agent, &["status", "--json"], &[]);
    serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("status --json: {e}: {} {}", stdout(&o), stderr(&o)))
}

/// Restarts the agent inside the namespace with fast reconnects.
fn restart_agent(host: &Host, agent: &Agent) {
    let o = agent_cmd(host, agent, &["stop"], &[]);
    assert!(o.status.success(), "stop: {}", stderr(&o));
    let o = agent_cmd(host, agent, &["start"], &[FAST_BACKOFF]);
    assert!(o.status.success(), "start: {}", stderr(&o));
}

/// Replaces (or adds) the top-level `key = value` line of network.toml.
fn set_network_key(agent: &Agent, key: &str, value: &str) {
    let path = agent.prefix.join("conf/network.toml");
    let text = fs::read_to_string(&path).expect("network.toml");
    let mut lines: Vec<String> = Vec::new();
    let mut done = false;
    let mut in_table = false;
    for l in text.lines() {
        if l.trim_start().starts_with('[') && !done {
            lines.push(format!("{key} = {value}"));
            done = true;
        }
        in_table |= l.trim_start().starts_with('[');
        let is_key = !in_table && l.split('=').next().map(str::trim) == Some(key);
        if is_key {
            if !done {
                lines.push(format!("{key} = {value}"));
                done = true;
            }
        } else {
            lines.push(l.to_string());
        }
    }
    if !done {
        lines.push(format!("{key} = {value}"));
    }
    fs::write(&path, lines.join("\n") + "\n").expect("write network.toml");
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn asset_of(v: &Value) -> Value {
    if v.get("asset").is_some() {
        v["asset"].clone()
    } else {
        v.clone()
    }
}

/// Installs an agent inside `host`'s namespace; asserts it succeeded.
fn install_in(host: &Host, agent: &Agent, cmd: &str, server: &Server) -> String {
    let out = agent.install(cmd, Some(&host.name), &[FAST_BACKOFF]);
    assert!(
        out.status.success(),
        "install in namespace: {}\n{}\n{}",
        stdout(&out),
        stderr(&out),
        server.log()
    );
    stdout(&out)
}

#[test]
fn fails_over_to_the_second_endpoint_and_returns_to_the_first() {
    let _shared = shared_lock();
    let server = Server::start_on("0.0.0.0");
    let mut host = Host::create();
    let second = host.add_link();
    let ep1 = format!("https://{}:{}", host.host_addr, server.port);
    let ep2 = format!("https://{}:{}", second.host_addr, server.port);
    // The first endpoint's address has no route from the namespace.
    host.drop_route(&host.host_addr);

    let (_id, secret) = server.create_key("e2e-failover");
    let cmd = install_command(
        &server,
        &secret,
        &["--server", &ep2, "--endpoint", &ep1, "--endpoint", &ep2],
    );
    let agent = Agent::new_prefix();
    let started = Instant::now();
    let out = install_in(&host, &agent, &cmd, &server);
    assert!(
        out.contains(&format!("connected to {ep2}")),
        "the install reports the endpoint in use: {out}"
    );
    let net = fs::read_to_string(agent.prefix.join("conf/network.toml")).expect("network.toml");
    assert!(
        net.contains(&toml_list(&[&ep1, &ep2])),
        "endpoints in order: {net}"
    );
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(30));

    // Probe the preferred endpoint every second, and restart: the agent
    // must reach the second endpoint within seconds.
    set_network_key(&agent, "failback_probe_secs", "1");
    restart_agent(&host, &agent);
    let restarted = Instant::now();
    let st = wait_for(
        "session on the second endpoint",
        Duration::from_secs(8),
        || {
            let s = status_json(&host, &agent);
            (s["session"] == "connected" && s["endpoint"] == ep2.as_str()).then_some(s)
        },
    );
    assert!(
        restarted.elapsed() < Duration::from_secs(8),
        "failover took {:?}",
        restarted.elapsed()
    );
    assert_eq!(st["path"], "direct", "{st}");
    assert!(
        st["addr"]
            .as_str()
            .unwrap_or("")
            .starts_with(&second.host_addr),
        "{st}"
    );
    let o = agent_cmd(&host, &agent, &["status"], &[]);
    let text = stdout(&o);
    assert!(
        text.contains(&ep2) && text.contains("path:") && text.contains("direct"),
        "status shows endpoint and path: {text}"
    );

    // The first endpoint comes back: the documented behaviour is to probe it
    // every failback_probe_secs and switch back once TLS + pin succeed.
    host.restore_route(&host.host_addr);
    let back = Instant::now();
    wait_for(
        "return to the first endpoint",
        Duration::from_secs(10),
        || {
            let s = status_json(&host, &agent);
            (s["session"] == "connected" && s["endpoint"] == ep1.as_str()).then_some(())
        },
    );
    assert!(back.elapsed() < Duration::from_secs(10));
    let a = wait_for(
        "asset reports the first endpoint",
        Duration::from_secs(10),
        || {
            let a = asset_of(&server.asset(&id));
            (a["last_endpoint"] == ep1.as_str() && a["status"] == "protected").then_some(a)
        },
    );
    assert!(
        a["last_addr"].as_str().unwrap_or("").contains(&host.addr),
        "session from the first link's namespace address: {a}"
    );
    // Switching back is not an outage.
    let tl = server.asset(&id)["timeline"].clone();
    let offline = tl
        .as_array()
        .map(|t| t.iter().filter(|e| e["reason"] == "offline").count())
        .unwrap_or(0);
    assert_eq!(
        offline, 0,
        "no offline transition during failover/failback: {tl}"
    );
}

#[test]
fn host_reachable_only_through_a_proxy_enrolls_and_stays_protected() {
    let _shared = shared_lock();
    // The server listens on this machine's loopback only: the namespace
    // cannot reach it except through tinyproxy on the veth address.
    let server = Server::start();
    let host = Host::create();
    let proxy = Tinyproxy::start(&host.host_addr, &host.addr, &[]);
    let direct = run(host.command("curl").args([
        "-sSk",
        "--max-time",
        "3",
        &format!("https://{}:{}/healthz", host.host_addr, server.port),
    ]));
    assert!(!direct.status.success(), "no direct path to the server");

    let (_id, secret) = server.create_key("e2e-proxy");
    let cmd = install_command(&server, &secret, &["--proxy", &proxy.url()]);
    assert!(cmd.contains("--proxy"), "{cmd}");
    // The API gives the same command for the same query.
    let api = server.api_get(&format!(
        "/api/v1/install-command?platform=linux-x86_64&key={secret}&proxy={}",
        urlencode(&proxy.url())
    ));
    assert_eq!(api["command"], cmd.as_str());
    let (code, body) = server.curl(
        "GET",
        "/api/v1/install-command?platform=linux-x86_64&override=no-address",
        None,
    );
    assert_eq!(code, 400, "a bad override is refused: {body}");
    let agent = Agent::new_prefix();
    let out = install_in(&host, &agent, &cmd, &server);
    assert!(out.contains("protected"), "{out}");
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    let st = status_json(&host, &agent);
    assert_eq!(st["path"], format!("via proxy {}", proxy.url()), "{st}");
    let log = proxy.log();
    let connects = log
        .matches(&format!("CONNECT 127.0.0.1:{}", server.port))
        .count();
    // install.sh fetch, agent download, its checksum, enrollment, session.
    assert!(
        connects >= 4,
        "downloads and the session went through the proxy: {log}"
    );
    let net = fs::read_to_string(agent.prefix.join("conf/network.toml")).expect("network.toml");
    assert!(
        net.contains(&format!("proxy = \"{}\"", proxy.url())),
        "{net}"
    );

    // It stays protected through the proxy for several keepalive windows
    // (1 s keepalives, offline after 3 missed).
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let a = asset_of(&server.asset(&id));
        assert_eq!(a["status"], "protected", "stays protected: {a}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let tl = server.asset(&id)["timeline"].clone();
    assert!(
        !tl.to_string().contains("offline"),
        "no offline transition: {tl}"
    );
}

#[test]
fn private_endpoint_reached_by_an_override_without_dns() {
    let _shared = shared_lock();
    let server = Server::start_on("0.0.0.0");
    let host = Host::create();
    let name = "ward.example.internal";
    // The namespace has no resolver it can reach: the name does not resolve.
    let lookup = run(host.command("getent").args(["hosts", name]));
    assert!(
        !lookup.status.success(),
        "{name} must not resolve: {}",
        stdout(&lookup)
    );

    let url = format!("https://{name}:{}", server.port);
    let mapping = format!("{name}={}", host.host_addr);
    let (_id, secret) = server.create_key("e2e-override");
    let cmd = install_command(
        &server,
        &secret,
        &["--server", &url, "--override", &mapping],
    );
    assert!(
        cmd.contains("--resolve"),
        "the download uses the override too: {cmd}"
    );
    let agent = Agent::new_prefix();
    let out = install_in(&host, &agent, &cmd, &server);
    assert!(out.contains(&format!("connected to {url}")), "{out}");
    let id = agent.agent_id();
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    assert_eq!(a["last_endpoint"], url.as_str(), "{a}");

    let st = status_json(&host, &agent);
    assert_eq!(st["endpoint"], url.as_str());
    assert_eq!(
        st["path"],
        format!("via override {name}={}", host.host_addr),
        "{st}"
    );
    let net = fs::read_to_string(agent.prefix.join("conf/network.toml")).expect("network.toml");
    assert!(
        net.contains("[overrides]") && net.contains(&format!("\"{}\"", host.host_addr)),
        "{net}"
    );
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    assert!(!hosts.contains(name), "/etc/hosts untouched");
}

/// A server, a namespace host and an agent in it, for doctor runs.
struct DoctorBed {
    agent: Agent,
    host: Host,
    server: Server,
    _lock: RwLockWriteGuard<'static, ()>,
}

impl DoctorBed {
    fn new(label: &str) -> DoctorBed {
        let lock = doctor_lock();
        let server = Server::start_on("0.0.0.0");
        let host = Host::create();
        let url = format!("https://{}:{}", host.host_addr, server.port);
        let (_id, secret) = server.create_key(label);
        let cmd = install_command(&server, &secret, &["--server", &url]);
        let agent = Agent::new_prefix();
        install_in(&host, &agent, &cmd, &server);
        wait_status(
            &server,
            &agent.agent_id(),
            "protected",
            None,
            Duration::from_secs(10),
        );
        DoctorBed {
            agent,
            host,
            server,
            _lock: lock,
        }
    }

    /// Runs doctor in the namespace (behind `wrapper`, e.g. faketime), once
    /// the host's CPU is not saturated by other work. Other work (parallel
    /// tests, builds) can still hold the CPU during doctor's one-second
    /// sample; its `cpu` finding is then right but not what these tests are
    /// about, so doctor runs again (for up to three minutes) until it sees
    /// the CPU free. The CPU-hog test uses [`DoctorBed::doctor_now`].
    fn doctor(&self, wrapper: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            wait_for(
                "the host's CPU to be below 80 % (other work saturates it)",
                Duration::from_secs(180),
                || (cpu_busy_percent() < 80.0).then_some(()),
            );
            let (code, report) = self.doctor_now(wrapper, env);
            let cpu_held = faults(&report).iter().any(|c| c == "cpu");
            if !cpu_held || std::time::Instant::now() > deadline {
                return (code, report);
            }
            eprintln!("doctor saw the CPU held by other work; running it again");
        }
    }

    /// Runs doctor at once.
    fn doctor_now(&self, wrapper: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.host.name]).args(wrapper);
        c.arg(self.agent.agent_bin())
            .args(["doctor", "--json", "--timeout", "3", "--prefix"])
            .arg(&self.agent.prefix);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = run(&mut c);
        let v: Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("doctor --json: {e}: {} / {}", stdout(&o), stderr(&o)));
        (o.status.code().unwrap_or(-1), v)
    }
}

/// Busy share of all CPUs over half a second, from /proc/stat.
fn cpu_busy_percent() -> f64 {
    let sample = || -> (u64, u64) {
        let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: u64 = v.iter().take(8).sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        (total, idle)
    };
    let (t0, i0) = sample();
    std::thread::sleep(Duration::from_millis(500));
    let (t1, i1) = sample();
    let total = t1.saturating_sub(t0).max(1);
    100.0 * total.saturating_sub(i1.saturating_sub(i0)) as f64 / total as f64
}

fn faults(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["status"] == "fail" || f["status"] == "warn")
        .map(|f| f["check"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The report names exactly `check` (once or per endpoint), with what was
/// found containing `found` and a fix; the exit code is `code`.
fn assert_only_fault(code: i32, report: &Value, check: &str, found: &str, want_code: i32) -> Value {
    let f = faults(report);
    assert!(
        !f.is_empty() && f.iter().all(|c| c == check),
        "only {check} must be at fault, got {f:?}: {report:#}"
    );
    assert_eq!(code, want_code, "exit code: {report:#}");
    assert_eq!(report["healthy"], false);
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["check"] == check)
        .expect("the finding")
        .clone();
    assert!(
        finding["found"].as_str().unwrap_or("").contains(found),
        "{check} finding says {found:?}: {finding:#}"
    );
    assert!(
        finding["fix"].as_str().is_some_and(|f| f.len() > 10),
        "{check} finding has a fix: {finding:#}"
    );
    finding
}

#[test]
fn doctor_healthy_host_exits_zero() {
    let bed = DoctorBed::new("e2e-doctor-healthy");
    let (code, report) = bed.doctor(&[], &[]);
    assert_eq!(faults(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["healthy"], true);
    let checks: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["check"].as_str().unwrap_or(""))
        .collect();
    for c in [
        "agent",
        "updater",
        "config",
        "overrides",
        "proxy",
        "dns",
        "tcp",
        "tls",
        "pin",
        "clock",
        "firewall",
        "cpu",
        "memory",
        "conflicts",
    ] {
        assert!(checks.contains(&c), "{c} is checked: {checks:?}");
    }
    // The install started ward-update next to the agent.
    let updater = &report["findings"][1];
    assert_eq!(updater["status"], "ok", "{updater}");
    assert!(updater["found"].as_str().unwrap_or("").contains("running"));
    // The text form says the same.
    let o = run(bed
        .host
        .command(bed.agent.agent_bin())
        .args(["doctor", "--prefix"])
        .arg(&bed.agent.prefix));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("healthy"), "{}", stdout(&o));
}

#[test]
fn doctor_names_a_stopped_agent() {
    let bed = DoctorBed::new("e2e-doctor-stopped");
    let o = agent_cmd(&bed.host, &bed.agent, &["stop"], &[]);
    assert!(o.status.success(), "stop: {}", stderr(&o));
    let (code, report) = bed.doctor(&[], &[]);
    assert_only_fault(code, &report, "agent", "not running", 1);
}

#[test]
fn doctor_names_an_unresolvable_endpoint() {
    let bed = DoctorBed::new("e2e-doctor-dns");
    let url = format!("https://ward-doctor.invalid:{}", bed.server.port);
    set_network_key(&bed.agent, "endpoints", &toml_list(&[&url]));
    let (code, report) = bed.doctor(&[], &[]);
    let f = assert_only_fault(code, &report, "dns", "ward-doctor.invalid", 1);
    assert_eq!(f["target"], url.as_str());
    assert!(f["fix"].as_str().unwrap_or("").contains("overrides"), "{f}");
}

#[test]
fn doctor_names_a_firewall_rule_dropping_the_port() {
    let bed = DoctorBed::new("e2e-doctor-firewall");
    let port = bed.server.port.to_string();
    let o = run(bed
        .host
        .command("iptables")
        .args(["-A", "OUTPUT", "-p", "tcp", "--dport", &port, "-j", "DROP"]));
    assert!(o.status.success(), "iptables: {}", stderr(&o));
    let (code, report) = bed.doctor(&[], &[]);
    let f = assert_only_fault(code, &report, "firewall", &format!("--dport {port}"), 1);
    assert!(
        f["fix"]
            .as_str()
            .unwrap_or("")
            .contains("iptables -D OUTPUT"),
        "{f}"
    );
    // The connection attempt itself is attributed to the rule.
    let tcp = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["check"] == "tcp")
        .expect("tcp")
        .clone();
    assert_eq!(tcp["status"], "skip", "{tcp}");
}

#[test]
fn doctor_names_a_wrong_pin() {
    let bed = DoctorBed::new("e2e-doctor-pin");
    set_network_key(&bed.agent, "pin", &format!("\"{OTHER_PIN}\""));
    let (code, report) = bed.doctor(&[], &[]);
    let f = assert_only_fault(code, &report, "pin", "server key does not match pin", 1);
    assert!(
        f["found"].as_str().unwrap_or("").contains(&bed.server.pin),
        "names the key the server has: {f}"
    );
}

#[test]
fn doctor_names_a_proxy_that_refuses() {
    let bed = DoctorBed::new("e2e-doctor-proxy");
    // This proxy allows CONNECT to port 443 only: 403 for the server's port.
    let proxy = Tinyproxy::start(&bed.host.host_addr, &bed.host.addr, &[443]);
    set_network_key(&bed.agent, "proxy", &format!("\"{}\"", proxy.url()));
    let (code, report) = bed.doctor(&[], &[]);
    let f = assert_only_fault(code, &report, "proxy", "403", 1);
    assert!(
        f["found"]
            .as_str()
            .unwrap_or("")
            .contains("refused CONNECT"),
        "{f}"
    );
    assert!(proxy.log().contains("CONNECT"), "the proxy was asked");
}

#[test]
fn doctor_names_clock_skew() {
    let bed = DoctorBed::new("e2e-doctor-clock");
    let (code, report) = bed.doctor(
        &["faketime", "-f", "-2h"],
        &[("FAKETIME_DONT_FAKE_MONOTONIC", "1")],
    );
    let f = assert_only_fault(code, &report, "clock", "behind", 1);
    assert!(f["found"].as_str().unwrap_or("").contains("2 h"), "{f}");
    // Within a larger tolerance the same skew is fine.
    let (code, report) = bed.doctor(
        &["faketime", "-f", "-2h"],
        &[
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("WARD_DOCTOR_MAX_CLOCK_SKEW_SECS", "10800"),
        ],
    );
    assert_eq!((code, faults(&report)), (0, vec![]), "{report:#}");
}

/// Busy loops on every core, killed (with their process group) on drop.
struct CpuHog(Vec<Child>);

impl CpuHog {
    fn start() -> CpuHog {
        use std::os::unix::process::CommandExt;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hogs = (0..cores)
            .map(|_| {
                Command::new("timeout")
                    .args(["120", "sh", "-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .expect("spawn busy loop")
            })
            .collect();
        CpuHog(hogs)
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        for c in &mut self.0 {
            ward_e2e::signal(-(c.id() as i32), libc::SIGKILL);
            let _ = c.wait();
        }
    }
}

fn proc_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
}

#[test]
fn doctor_names_a_cpu_hog() {
    let bed = DoctorBed::new("e2e-doctor-cpu");
    let hog = CpuHog::start();
    // Wait until every loop (the sh under timeout) has burnt CPU time.
    wait_for("busy loops running", Duration::from_secs(10), || {
        let busy = hog.0.iter().all(|c| {
            let kids = stdout(&run(Command::new("pgrep").args(["-P", &c.id().to_string()])));
            kids.split_whitespace()
                .filter_map(|k| k.parse::<u32>().ok())
                .any(|k| proc_ticks(k) > 5)
        });
        busy.then_some(())
    });
    let (code, report) = bed.doctor_now(&[], &[]);
    drop(hog);
    let f = assert_only_fault(code, &report, "cpu", "busy", 1);
    let pct: f64 = f["found"]
        .as_str()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert!(pct >= 95.0, "{f}");
}

#[test]
fn doctor_names_conflicting_security_software() {
    let bed = DoctorBed::new("e2e-doctor-conflict");
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("falcon-sensor");
    fs::copy("/bin/sleep", &fake).expect("copy sleep");
    let mut child = Command::new(&fake)
        .arg("120")
        .stdin(Stdio::null())
        .spawn()
        .expect("run falcon-sensor");
    let pid = child.id();
    wait_for("the fake sensor runs", Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .filter(|c| c.trim() == "falcon-sensor")
    });
    let (code, report) = bed.doctor(&[], &[]);
    let _ = child.kill();
    let _ = child.wait();
    let f = assert_only_fault(code, &report, "conflicts", "CrowdStrike Falcon", 6);
    assert!(
        f["found"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("pid {pid}")),
        "{f}"
    );
}

#[test]
fn asset_shows_the_last_error_hit_while_offline() {
    let _shared = shared_lock();
    let server = Server::start();
    let other = Server::start();
    let (_id, secret) = server.create_key("e2e-last-error");
    let agent = Agent::new_prefix();
    let out = agent.install(
        &install_command(&server, &secret, &[]),
        None,
        &[FAST_BACKOFF],
    );
    assert!(out.status.success(), "install: {}", stderr(&out));
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));

    // Point the agent at another ward-server (another key) and restart it.
    set_network_key(&agent, "endpoints", &toml_list(&[&other.url()]));
    let ctl = |args: &[&str]| {
        let mut c = Command::new(agent.agent_bin());
        c.args(args).arg("--prefix").arg(&agent.prefix);
        c.env(FAST_BACKOFF.0, FAST_BACKOFF.1);
        let o = run(&mut c);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    ctl(&["stop"]);
    ctl(&["start"]);
    let status_path = agent.prefix.join("data/status.json");
    let err = wait_for(
        "the agent hits the pin mismatch",
        Duration::from_secs(15),
        || {
            let text = fs::read_to_string(&status_path).ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            v["last_error"]
                .as_str()
                .map(str::to_string)
                .filter(|e| e.contains("server key does not match pin"))
        },
    );
    assert!(err.contains(&other.pin), "names the key it saw: {err}");
    let offline = wait_status(
        &server,
        &id,
        "unprotected",
        Some("offline"),
        Duration::from_secs(15),
    );
    assert!(
        offline["status_since"].is_string(),
        "offline since: {offline}"
    );

    // Fix network.toml: the agent re-reads it after its next failure.
    set_network_key(&agent, "endpoints", &toml_list(&[&server.url()]));
    let a = wait_status(&server, &id, "protected", None, Duration::from_secs(20));
    let last_error = a["last_error"].as_str().unwrap_or("");
    assert!(
        last_error.contains("TLS") && last_error.contains("server key does not match pin"),
        "the asset shows the error hit while offline: {a}"
    );
    assert!(
        a["last_addr"]
            .as_str()
            .unwrap_or("")
            .starts_with("127.0.0.1:"),
        "{a}"
    );
    assert_eq!(a["last_endpoint"], server.url().as_str(), "{a}");
    let tl = server.asset(&id)["timeline"].clone();
    assert!(
        tl.to_string().contains("offline"),
        "the offline period is in the timeline: {tl}"
    );
    assert!(Path::new(&status_path).exists());
}
