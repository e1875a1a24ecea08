//! Helpers for the agent lifecycle tests (updater, guardian, releases).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{run, stderr, wait_for, Agent, Server, Value};

/// Bytes that open the version slot of a ward binary (see
/// `ward_agent_core::version`), built here so this file holds no copy of
/// them that could be mistaken for a slot.
fn magic() -> Vec<u8> {
    let mut m = vec![0u8];
    m.extend_from_slice(b"WARD-VERSION-SLOT1:");
    m
}

/// Copies a ward binary to `dst`, stamping `version` into its version slot
/// (what `scripts/stamp-version.py` does): the copy really reports it.
pub fn stamp_version(src: &Path, dst: &Path, version: &str) {
    let mut data = fs::read(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    let m = magic();
    let hits: Vec<usize> = data
        .windows(m.len())
        .enumerate()
        .filter(|(_, w)| *w == m.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{} has one version slot", src.display());
    let at = hits[0] + m.len();
    let room = 64 - m.len();
    assert!(version.len() < room);
    data[at..at + room].fill(0);
    data[at..at + version.len()].copy_from_slice(version.as_bytes());
    fs::write(dst, &data).expect("write stamped copy");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = run(Command::new(dst).arg("--version"));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .ends_with(version),
        "the stamped copy reports {version}: {:?}",
        out
    );
}

/// A real ELF executable that runs forever and never connects anywhere (a
/// release whose agent never comes online), compiled with the host's cc.
pub fn hanging_binary(dir: &Path) -> PathBuf {
    let src = dir.join("hang.c");
    fs::write(
        &src,
        "#include <unistd.h>\nint main(void){for(;;)pause();}\n",
    )
    .expect("hang.c");
    let out_path = dir.join("hang");
    let o = run(Command::new("cc").arg(&src).arg("-o").arg(&out_path));
    assert!(o.status.success(), "cc hang.c: {}", stderr(&o));
    out_path
}

/// `ward-server release add`.
pub fn publish(server: &Server, version: &str, agent: &Path, updater: Option<&Path>) {
    let mut args = vec![
        "release".to_string(),
        "add".into(),
        "--version".into(),
        version.into(),
        "--platform".into(),
        "linux-x86_64".into(),
        "--agent".into(),
        agent.display().to_string(),
    ];
    if let Some(u) = updater {
        args.push("--updater".into());
        args.push(u.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = server.cli(&args);
    assert!(
        out.status.success(),
        "release add {version}: {}",
        stderr(&out)
    );
}

/// The executable a process runs (`/proc/<pid>/exe`).
pub fn exe_of(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Writes `conf/update.toml` and restarts ward-update (SIGKILL: the agent,
/// its guardian, starts it again with the new settings).
pub fn configure_updater(agent: &Agent, toml: &str) {
    fs::write(agent.prefix.join("conf/update.toml"), toml).expect("update.toml");
    let old = agent.update_pid().expect("ward-update runs");
    crate::signal(old, libc::SIGKILL);
    wait_for(
        "ward-update restarted by the agent",
        Duration::from_secs(10),
        || {
            agent
                .update_pid()
                .filter(|p| *p != old && Path::new(&format!("/proc/{p}")).exists())
        },
    );
}

/// The asset's lifecycle events (newest first).
pub fn lifecycle(server: &Server, id: &str) -> Vec<Value> {
    server.api_get(&format!("/api/v1/assets/{id}/lifecycle"))["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// Waits for a lifecycle event of `kind` (and `detail`, if given).
pub fn wait_lifecycle(
    server: &Server,
    id: &str,
    kind: &str,
    detail: Option<&str>,
    timeout: Duration,
) -> Value {
    wait_for(
        &format!("lifecycle {kind}/{detail:?} of {id}"),
        timeout,
        || {
            lifecycle(server, id)
                .into_iter()
                .find(|e| e["kind"] == kind && detail.is_none_or(|d| e["detail"] == d))
        },
    )
}

/// `ward-update check --prefix` (through the installed link).
pub fn update_check(
    agent: &Agent,
    env: &[(&str, &str)],
    faketime: Option<&str>,
) -> std::process::Output {
    let bin = agent.prefix.join("bin/ward-update");
    let mut cmd = match faketime {
        Some(offset) => {
            let mut c = Command::new("faketime");
            c.arg("-f").arg(offset).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    cmd.arg("check").arg("--prefix").arg(&agent.prefix);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

impl Server {
    /// A console page, as the signed-in administrator sees it (signs in
    /// with the password `serve` printed once, through a cookie jar).
    pub fn console_page(&self, path: &str) -> String {
        let log = self.log();
        let password = log
            .lines()
            .find_map(|l| {
                l.split("Console password (shown only this once; user admin): ")
                    .nth(1)
            })
            .map(|p| p.split_whitespace().next().unwrap_or("").to_string())
            .expect("the server printed the console password");
        let jar = self.data().join("e2e-cookies.txt");
        let curl = |extra: &[&str]| {
            let mut c = Command::new("curl");
            c.args(["-sS", "-k", "--max-time", "10", "--pinnedpubkey", &self.pin])
                .arg("-c")
                .arg(&jar)
                .arg("-b")
                .arg(&jar)
                .args(extra);
            let o = run(&mut c);
            assert!(o.status.success(), "curl {extra:?}: {}", stderr(&o));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let signin = curl(&[&format!("{}/console/signin", self.url())]);
        let csrf = signin
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("csrf field")
            .to_string();
        curl(&[
            "--data-urlencode",
            &format!("password={password}"),
            "--data-urlencode",
            &format!("csrf={csrf}"),
            "--data-urlencode",
            "next=/console/",
            "--data",
            "username=admin",
            &format!("{}/console/signin", self.url()),
        ]);
        curl(&[&format!("{}{path}", self.url())])
    }
}
