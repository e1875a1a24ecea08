//! Debian's `fail2ban` as the side-by-side of the alert-latency benchmark:
//! a private server (its own configuration copy, socket, pid file, log and
//! in-memory database in a temporary directory) with one `sshd` jail on a
//! test log, at the same threshold as Ward's ward-login-001 (8 failures in
//! 120 s), whose ban action only records when it ran. Nothing of this
//! machine's fail2ban is used or touched; stopped on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{run, stderr, wait_for};

pub struct Fail2ban {
    conf: PathBuf,
    dir: PathBuf,
    running: bool,
}

impl Fail2ban {
    /// Starts fail2ban watching `log` (backend `auto`: pyinotify when
    /// installed, as with Debian's recommended packages, else polling).
    pub fn start(dir: &Path, log: &Path) -> Fail2ban {
        assert!(
            Path::new("/etc/fail2ban/filter.d/sshd.conf").is_file(),
            "fail2ban is missing: apt-get install fail2ban python3-pyinotify"
        );
        let conf = dir.join("conf");
        let o = run(Command::new("cp").args(["-r", "/etc/fail2ban"]).arg(&conf));
        assert!(o.status.success(), "copying /etc/fail2ban: {}", stderr(&o));
        // Only our jail: Debian's defaults enable sshd on /var/log/auth.log.
        let _ = fs::remove_dir_all(conf.join("jail.d"));
        fs::create_dir_all(conf.join("jail.d")).expect("jail.d");
        fs::write(
            conf.join("fail2ban.local"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/fail2ban.log\nsocket = {d}/fail2ban.sock\n\
                 pidfile = {d}/fail2ban.pid\ndbfile = :memory:\n",
                d = dir.display()
            ),
        )
        .expect("fail2ban.local");
        fs::write(
            conf.join("action.d/ward-bench-mark.conf"),
            format!(
                "[Definition]\nactionstart =\nactionstop =\nactioncheck =\n\
                 actionban = touch {d}/ban-<ip>\nactionunban =\n",
                d = dir.display()
            ),
        )
        .expect("ward-bench-mark action");
        fs::write(
            conf.join("jail.local"),
            format!(
                "[DEFAULT]\nbackend = auto\nignoreip =\n\n[sshd]\nenabled = true\nfilter = sshd\n\
                 logpath = {}\nmaxretry = 8\nfindtime = 120\nbantime = 3600\naction = ward-bench-mark\n",
                log.display()
            ),
        )
        .expect("jail.local");
        let f = Fail2ban {
            conf,
            dir: dir.to_path_buf(),
            running: true,
        };
        let o = run(f.client().args(["-x", "start"]));
        assert!(o.status.success(), "fail2ban-client start: {}", stderr(&o));
        wait_for("fail2ban's sshd jail", Duration::from_secs(30), || {
            run(f.client().args(["status", "sshd"]))
                .status
                .success()
                .then_some(())
        });
        f
    }

    fn client(&self) -> Command {
        let mut c = Command::new("fail2ban-client");
        c.arg("-c").arg(&self.conf);
        c
    }

    /// The file the ban action of `ip` creates.
    pub fn ban_mark(&self, ip: &str) -> PathBuf {
        self.dir.join(format!("ban-{ip}"))
    }
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        if self.running {
            let _ = run(self.client().arg("stop"));
            self.running = false;
        }
    }
}
