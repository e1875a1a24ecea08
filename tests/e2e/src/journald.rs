//! A private `systemd-journald` (Debian's) for login tests on hosts without
//! an auth log file: it runs in its own mount namespace where a tmpfs hides
//! this machine's `/run` and a temporary directory is bind-mounted on
//! `/run/systemd` (its sockets) and on `/run/log` (its journal files). So
//! nothing on this machine is touched, programs log to it through its syslog
//! socket ([`Journald::log`], with `logger`), and the real `journalctl` reads
//! its files from outside with `-D` ([`Journald::journalctl`] writes a
//! two-line wrapper that adds it). Stopped and removed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{run, stderr, stop_child, wait_for};

pub struct Journald {
    child: Option<Child>,
    dir: PathBuf,
}

impl Journald {
    /// Starts journald with its runtime files under `dir`.
    pub fn start(dir: &Path) -> Journald {
        let journald = [
            "/lib/systemd/systemd-journald",
            "/usr/lib/systemd/systemd-journald",
        ]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("systemd-journald is missing: install systemd (scripts/install-test-deps.sh)");
        for d in ["run-systemd", "run-log"] {
            fs::create_dir_all(dir.join(d)).expect("journald dirs");
        }
        let script = format!(
            "mount -t tmpfs ward-e2e-run /run && mkdir -p /run/systemd /run/log \
             && mount --bind '{sd}' /run/systemd && mount --bind '{log}' /run/log \
             && exec {journald}",
            sd = dir.join("run-systemd").display(),
            log = dir.join("run-log").display(),
        );
        let out = fs::File::create(dir.join("journald.out")).expect("journald output");
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("fd"))
            .stderr(out)
            .spawn()
            .expect("spawn systemd-journald");
        let mut j = Journald {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        wait_for("journald's syslog socket", Duration::from_secs(10), || {
            if let Some(Ok(Some(st))) = j.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "systemd-journald exited ({st}): {}",
                    fs::read_to_string(dir.join("journald.out")).unwrap_or_default()
                );
            }
            j.socket().exists().then_some(())
        });
        j
    }

    /// The syslog socket (`/run/systemd/journal/dev-log` inside).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("run-systemd/journal/dev-log")
    }

    /// The directory of its journal files.
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("run-log/journal")
    }

    /// Logs `msg` as `ident[pid]` with facility.priority `prio` (e.g.
    /// `authpriv.info`), as sshd does through syslog(3).
    pub fn log(&self, prio: &str, ident: &str, pid: u32, msg: &str) {
        let o = run(Command::new("logger")
            .arg("--socket")
            .arg(self.socket())
            .args(["-p", prio, "-t", ident, &format!("--id={pid}"), "--", msg]));
        assert!(o.status.success(), "logger: {}", stderr(&o));
    }

    /// A `journalctl` for the agent: the real one, reading this journal.
    pub fn journalctl(&self) -> PathBuf {
        let p = self.dir.join("journalctl");
        fs::write(
            &p,
            format!(
                "#!/bin/sh\nexec journalctl -D '{}' \"$@\"\n",
                self.journal_dir().display()
            ),
        )
        .expect("journalctl wrapper");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}
