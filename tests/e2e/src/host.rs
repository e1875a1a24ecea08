//! Host-detection labs: a real `ward-server` and a real `ward-agent` with
//! the process and file collectors on this machine's real paths, the alerts
//! API, and guards that undo what a test did to the system even when it
//! fails (files restored, accounts and packages removed). Everything a
//! test creates has `ward-e2e` in its name.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{run, stderr, wait_for, wait_status, Agent, Server};

/// A server and an agent whose collectors are running.
pub struct Lab {
    pub server: Server,
    pub agent: Agent,
    pub id: String,
}

impl Lab {
    /// Starts a server and installs an agent with `extra` appended to its
    /// `agent.toml` (the login collector is off unless `extra` configures it).
    pub fn start(extra: &str) -> Lab {
        let server = Server::start();
        let (_, secret) = server.create_key(&format!("e2e-host-{}", std::process::id()));
        let cmd = server.install_command(&secret, None);
        let agent = Agent::new_prefix();
        let conf = agent.prefix.join("conf");
        fs::create_dir_all(&conf).expect("conf dir");
        let auth = if extra.contains("[collect.auth]") {
            String::new()
        } else {
            "[collect.auth]\nenabled = false\n".to_string()
        };
        fs::write(conf.join("agent.toml"), format!("{auth}{extra}")).expect("agent.toml");
        let out = agent.install(
            &cmd,
            None,
            &[("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "1000")],
        );
        assert!(
            out.status.success(),
            "install: {}\n{}",
            stderr(&out),
            server.log()
        );
        let id = agent.agent_id();
        wait_status(&server, &id, "protected", None, Duration::from_secs(20));
        let lab = Lab { server, agent, id };
        lab.wait_collectors();
        lab
    }

    /// `data/status.json` of the agent.
    pub fn status(&self) -> Value {
        fs::read_to_string(self.agent.prefix.join("data/status.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until the process and file collectors report `running` (the
    /// file collector's first walk is done).
    pub fn wait_collectors(&self) {
        wait_for(
            "the host collectors to run",
            Duration::from_secs(120),
            || {
                let s = self.status();
                let state = |name: &str| {
                    s["collectors"]
                        .as_array()
                        .and_then(|a| a.iter().find(|c| c["name"] == name))
                        .map(|c| c["state"].as_str().unwrap_or("").to_string())
                };
                let ok = |name: &str| matches!(state(name).as_deref(), Some("running") | None);
                (ok("process") && ok("files") && s["collectors"].is_array()).then_some(())
            },
        );
    }

    /// Every alert of the agent's asset, newest first.
    pub fn alerts(&self) -> Vec<Value> {
        self.server
            .api_get(&format!("/api/v1/alerts?limit=1000&asset={}", self.id))["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// An alert with its evidence events.
    pub fn alert(&self, id: i64) -> Value {
        self.server.api_get(&format!("/api/v1/alerts/{id}"))
    }

    /// The alerts (with evidence) whose evidence satisfies `f`.
    pub fn alerts_where(&self, f: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.alerts()
            .into_iter()
            .map(|a| self.alert(a["id"].as_i64().unwrap_or(0)))
            .filter(|d| evidence(d).iter().any(&f))
            .collect()
    }

    /// Waits up to `timeout` for at least one alert matching `f`, then
    /// `settle` more (for any second alert to show), and returns them all.
    pub fn wait_alerts(
        &self,
        what: &str,
        timeout: Duration,
        settle: Duration,
        f: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        wait_for(what, timeout, || {
            let got = self.alerts_where(&f);
            (!got.is_empty()).then_some(())
        });
        std::thread::sleep(settle);
        self.alerts_where(&f)
    }
}

/// The evidence events of an alert detail.
pub fn evidence(detail: &Value) -> Vec<Value> {
    detail["evidence_events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The alert object of a detail answer.
pub fn alert_of(detail: &Value) -> &Value {
    if detail.get("alert").is_some() {
        &detail["alert"]
    } else {
        detail
    }
}

/// Restores a file to what it was (content and mode), or removes it if it
/// did not exist, on drop.
pub struct FileGuard {
    path: PathBuf,
    before: Option<(Vec<u8>, u32)>,
}

impl FileGuard {
    pub fn new(path: impl Into<PathBuf>) -> FileGuard {
        use std::os::unix::fs::PermissionsExt;
        let path = path.into();
        let before = fs::read(&path).ok().map(|b| {
            (
                b,
                fs::metadata(&path)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0o644),
            )
        });
        FileGuard { path, before }
    }

    pub fn existed(&self) -> bool {
        self.before.is_some()
    }

    /// Puts the original back now (also done on drop).
    pub fn restore(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        match &self.before {
            Some((bytes, mode)) => {
                let _ = fs::write(&self.path, bytes);
                let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(*mode));
            }
            None => {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Makes a directory if missing and, on drop, removes it again if it was
/// made here (and is empty by then: the guards of its files, declared
/// after this one, are dropped first).
pub struct DirGuard {
    path: PathBuf,
    created: bool,
}

impl DirGuard {
    pub fn create(path: impl Into<PathBuf>) -> DirGuard {
        let path = path.into();
        let created = !path.exists();
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        DirGuard { path, created }
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if self.created {
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// Removes an account on drop (`userdel -f`, then by editing the files if
/// that fails, e.g. for a second UID 0 account).
pub struct UserGuard {
    pub name: String,
}

impl Drop for UserGuard {
    fn drop(&mut self) {
        let _ = run(Command::new("userdel").arg("-f").arg(&self.name));
        for f in ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"] {
            if let Ok(text) = fs::read_to_string(f) {
                let prefix = format!("{}:", self.name);
                if text.lines().any(|l| l.starts_with(&prefix)) {
                    let kept: String = text
                        .lines()
                        .filter(|l| !l.starts_with(&prefix))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    let _ = fs::write(f, kept);
                }
            }
        }
    }
}

/// Purges a Debian package on drop.
pub struct PackageGuard {
    pub name: String,
}

impl Drop for PackageGuard {
    fn drop(&mut self) {
        let _ = run(Command::new("dpkg").args(["--purge", &self.name]));
    }
}

/// Builds `<dir>/<name>_<version>_all.deb` with `dpkg-deb --build` from
/// `(absolute path, content, mode)` files.
pub fn build_deb(dir: &Path, name: &str, version: &str, files: &[(&str, &str, u32)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join(format!("{name}-{version}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("DEBIAN")).expect("DEBIAN");
    fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Ward tests <tests@ward.invalid>\n\
             Description: Ward end-to-end test package (safe to remove)\n"
        ),
    )
    .expect("control");
    for (path, content, mode) in files {
        let p = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        fs::write(&p, content).expect("file");
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).expect("mode");
    }
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    let o = run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(&deb));
    assert!(o.status.success(), "dpkg-deb: {}", stderr(&o));
    deb
}

/// Runs a command and panics with its output unless it succeeds.
pub fn must(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Milliseconds since `t0`.
pub fn ms_since(t0: Instant) -> u128 {
    t0.elapsed().as_millis()
}
