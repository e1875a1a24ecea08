//! Harness for Ward's end-to-end tests.
//!
//! Everything here drives the real programs: `ward-server` and `ward-agent`
//! processes built by `cargo build --bins`, real TLS (the API is called with
//! `curl --pinnedpubkey`, as an operator would), real SQLite, real sockets and
//! real Linux network namespaces. Nothing is mocked.
//!
//! Tests never touch real install paths: servers get a temporary data dir and
//! agents a temporary prefix; namespaces and veth links are removed on drop.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use serde_json::Value;

pub mod fail2ban;
pub mod host;
pub mod journald;
pub mod lifecycle;
pub mod login;
pub mod netns;
pub mod qemu;
pub mod tinyproxy;

/// Path of a workspace binary (`ward-server`, `ward-agent`, …) next to the
/// test executable. Panics with the fix if it was not built.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test>-<hash>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the programs first with `cargo build --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A free TCP port on all addresses (bound and released at once).
pub fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops a child with SIGTERM, then SIGKILL after 5 s, and reaps it.
pub fn stop_child(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        signal(c.id() as i32, libc::SIGTERM);
        for _ in 0..50 {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Runs a command to completion, capturing output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A running `ward-server` on a temporary data dir.
pub struct Server {
    pub data_dir: tempfile::TempDir,
    pub port: u16,
    pub listen_host: String,
    pub child: Option<Child>,
    pub env: Vec<(String, String)>,
    pub token: String,
    pub pin: String,
}

impl Server {
    /// Starts a server listening on 127.0.0.1 with 1 s keepalives and 3 missed
    /// keepalives to go offline (short intervals for tests).
    pub fn start() -> Server {
        Server::start_on("127.0.0.1")
    }

    /// Starts a server listening on `host` (e.g. `0.0.0.0` for namespace hosts).
    pub fn start_on(host: &str) -> Server {
        Server::start_with(host, &[])
    }

    /// [`Server::start_on`] with extra `WARD_*` environment settings.
    pub fn start_with(host: &str, extra_env: &[(&str, &str)]) -> Server {
        let data_dir = tempfile::Builder::new()
            .prefix("ward-e2e-server")
            .tempdir()
            .expect("tempdir");
        let mut s = Server {
            data_dir,
            port: free_port(),
            listen_host: host.to_string(),
            child: None,
            env: vec![
                ("WARD_POLICY__KEEPALIVE_SECS".into(), "1".into()),
                ("WARD_POLICY__MISSED_KEEPALIVES".into(), "3".into()),
            ],
            token: String::new(),
            pin: String::new(),
        };
        s.env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        s.spawn();
        let out = s.cli(&["token", "create", "--label", "e2e"]);
        assert!(out.status.success(), "token create: {}", stderr(&out));
        s.token = stdout(&out)
            .split_whitespace()
            .find(|w| w.starts_with("wt_"))
            .unwrap_or_else(|| panic!("no wt_ token in: {}", stdout(&out)))
            .to_string();
        s.pin = s.read_pin();
        s
    }

    pub fn data(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data().join("e2e-server.log"))
            .expect("server log");
        let mut cmd = Command::new(bin("ward-server"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.data())
            .arg("--listen")
            .arg(format!("{}:{}", self.listen_host, self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn ward-server"));
        let url = format!("{}/healthz", self.url());
        wait_for("ward-server /healthz", Duration::from_secs(30), || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("ward-server exited early ({st}): {}", self.log());
                }
            }
            let o = run(Command::new("curl").args(["-fsSk", "--max-time", "2", &url]));
            o.status.success().then_some(())
        });
    }

    /// The server's own log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.data().join("e2e-server.log")).unwrap_or_default()
    }

    /// The pin from `server.json`, written by `serve`.
    fn read_pin(&self) -> String {
        let text = fs::read_to_string(self.data().join("server.json")).expect("server.json");
        let v: Value = serde_json::from_str(&text).expect("server.json is JSON");
        v["pin"].as_str().expect("server.json has pin").to_string()
    }

    /// Runs `ward-server <args> --data-dir <dir>`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("ward-server"));
        cmd.args(args).arg("--data-dir").arg(self.data());
        run(&mut cmd)
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// A key secret from `keys create`.
    pub fn create_key(&self, label: &str) -> (String, String) {
        let out = self.cli(&["keys", "create", "--label", label]);
        assert!(out.status.success(), "keys create: {}", stderr(&out));
        let keys = self.api_get("/api/v1/keys");
        let k = keys["items"]
            .as_array()
            .or_else(|| keys.as_array())
            .expect("keys list")
            .iter()
            .find(|k| k["label"] == label)
            .unwrap_or_else(|| panic!("key {label} not listed: {keys}"))
            .clone();
        (
            k["id"].as_str().expect("id").to_string(),
            k["secret"].as_str().expect("secret").to_string(),
        )
    }

    /// The one-line install command for `key` (id or secret) and `server_url`.
    pub fn install_command(&self, key: &str, server_url: Option<&str>) -> String {
        self.install_command_for("linux-x86_64", key, server_url)
    }

    /// The install command of `platform`.
    pub fn install_command_for(
        &self,
        platform: &str,
        key: &str,
        server_url: Option<&str>,
    ) -> String {
        let mut args = vec!["install-command", "--platform", platform, "--key", key];
        if let Some(u) = server_url {
            args.push("--server");
            args.push(u);
        }
        let out = self.cli(&args);
        assert!(out.status.success(), "install-command: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "install-command prints one line: {text}");
        lines[0].to_string()
    }

    pub fn curl(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-k", "--max-time", "10", "--pinnedpubkey", &self.pin])
            .args(["-X", method, "-o", "-", "-w", "\n%{http_code}"])
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.token));
        if let Some(b) = body {
            cmd.args(["-H", "content-type: application/json", "--data", b]);
        }
        cmd.arg(format!("{}{}", self.url(), path));
        let o = run(&mut cmd);
        assert!(o.status.success(), "curl {path}: {}", stderr(&o));
        let text = stdout(&o);
        let (body, code) = text.rsplit_once('\n').expect("status line");
        (code.trim().parse().expect("http code"), body.to_string())
    }

    /// `POST path` with a JSON body; returns the status and the parsed body.
    pub fn api_post(&self, path: &str, body: &str) -> (u16, Value) {
        let (code, text) = self.curl("POST", path, Some(body));
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (code, v)
    }

    /// The HTTP status of a session upgrade with `credential` (101 when accepted).
    pub fn session_upgrade_status(&self, credential: &str) -> u16 {
        let o = run(Command::new("curl")
            .args([
                "-sS",
                "-k",
                "--http1.1",
                "--max-time",
                "3",
                "-D",
                "-",
                "-o",
                "/dev/null",
            ])
            .args(["--pinnedpubkey", &self.pin])
            .args(["-H", "Connection: Upgrade", "-H", "Upgrade: websocket"])
            .args(["-H", "Sec-WebSocket-Version: 13"])
            .args(["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
            .args(["-H", "x-ward-wire-version: 1"])
            .arg("-H")
            .arg(format!("Authorization: Bearer {credential}"))
            .arg(format!("{}/api/v1/agent/session", self.url())));
        let head = stdout(&o);
        head.lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {head:?} ({})", stderr(&o)))
    }

    pub fn api_get(&self, path: &str) -> Value {
        let (code, body) = self.curl("GET", path, None);
        assert_eq!(code, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn assets(&self) -> Vec<Value> {
        self.api_get("/api/v1/assets?limit=1000")["items"]
            .as_array()
            .expect("items")
            .clone()
    }

    pub fn asset(&self, id: &str) -> Value {
        self.api_get(&format!("/api/v1/assets/{id}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with a pid we own; errors (e.g. ESRCH) are ignored.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// An agent installed into a temporary prefix.
pub struct Agent {
    pub prefix: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// The environment of test agents without a `conf/agent.toml` of their
/// own (see [`Agent::install`]); agents and the guardian pass it on.
pub const TEST_AGENT_ENV: &[(&str, &str)] = &[("WARD_AGENT_COLLECT_FILES_FIM_PATHS", "/etc")];

impl Agent {
    /// A fresh, not yet existing prefix inside a temp dir.
    pub fn new_prefix() -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("ward-e2e-agent")
            .tempdir()
            .expect("tempdir");
        Agent {
            prefix: dir.path().join("ward"),
            _dir: Some(dir),
        }
    }

    pub fn agent_bin(&self) -> PathBuf {
        self.prefix.join("bin/ward-agent")
    }

    /// Runs the printed install command with `--prefix` appended, through `sh -c`
    /// (optionally inside a network namespace).
    ///
    /// An agent whose test wrote no `conf/agent.toml` runs with the shipped
    /// defaults except file integrity, which covers `/etc` only
    /// ([`TEST_AGENT_ENV`]): the default trees include `/usr/bin`, hundreds
    /// of megabytes hashed once per agent at its first start, which on a
    /// 2-core test machine running several agents at once would only slow
    /// the tests of sessions and lifecycle down. Host detection is tested
    /// with its own configuration (`ward_e2e::host::Lab`).
    pub fn install(&self, command: &str, netns: Option<&str>, env: &[(&str, &str)]) -> Output {
        let configured = self.prefix.join("conf/agent.toml").exists();
        let full = format!("{command} --prefix '{}'", self.prefix.display());
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "sh", "-c", &full]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", &full]);
                c
            }
        };
        if !configured {
            for (k, v) in TEST_AGENT_ENV {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    pub fn identity(&self) -> Value {
        let text = fs::read_to_string(self.prefix.join("data/identity.json")).expect("identity");
        serde_json::from_str(&text).expect("identity json")
    }

    pub fn agent_id(&self) -> String {
        self.identity()["agent_id"]
            .as_str()
            .expect("agent_id")
            .to_string()
    }

    pub fn pid(&self) -> Option<i32> {
        fs::read_to_string(self.prefix.join("data/agent.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn status(&self) -> Output {
        run(Command::new(self.agent_bin())
            .arg("status")
            .arg("--prefix")
            .arg(&self.prefix))
    }

    /// SIGKILL of `ward-agent` only (its guardian, `ward-update`, starts it
    /// again within seconds; see [`Agent::kill9_all`]).
    pub fn kill9(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGKILL);
        }
    }

    /// Runs `bin/ward-agent ARGS --prefix PREFIX` (ARGS first).
    pub fn cli(&self, args: &[&str]) -> Output {
        run(Command::new(self.agent_bin())
            .args(args)
            .arg("--prefix")
            .arg(&self.prefix))
    }

    /// The pid of the prefix's `ward-update`, from `data/update.pid`.
    pub fn update_pid(&self) -> Option<i32> {
        fs::read_to_string(self.prefix.join("data/update.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// SIGKILL of `ward-update` and `ward-agent` at once, as a host crash
    /// would: neither guardian is left to restart the other.
    pub fn kill9_all(&self) {
        let (u, a) = (self.update_pid(), self.pid());
        for pid in [u, a].into_iter().flatten() {
            signal(pid, libc::SIGKILL);
        }
    }

    /// `ward-agent stop` (which leaves the agent stopped: `data/stopped`),
    /// then both programs are killed for sure.
    pub fn stop(&self) {
        if self.agent_bin().exists() {
            let _ = run(Command::new(self.agent_bin())
                .arg("stop")
                .arg("--prefix")
                .arg(&self.prefix));
        }
        self.kill9_all();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True while process `pid` exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Pids of the live processes (other than this one) whose command line
/// names `path`, e.g. the `--prefix` of `ward-agent run` or `ward-update run`.
pub fn processes_naming(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    let own = std::process::id() as i32;
    fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<i32>().ok())
                .filter(|&pid| pid != own && alive(pid))
                .filter(|pid| {
                    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                        c.split(|b| *b == 0)
                            .any(|arg| String::from_utf8_lossy(arg) == needle)
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls the API until asset `id` has `status` (and `reason`, if given).
pub fn wait_status(
    server: &Server,
    id: &str,
    status: &str,
    reason: Option<&str>,
    timeout: Duration,
) -> Value {
    wait_for(
        &format!("asset {id} to be {status}/{reason:?}"),
        timeout,
        || {
            let a = server.asset(id);
            let a = if a.get("asset").is_some() {
                a["asset"].clone()
            } else {
                a
            };
            let ok = a["status"] == status
                && reason.is_none_or(|r| a["status_reason"].as_str() == Some(r));
            ok.then_some(a)
        },
    )
}
