//! A real login lab for detection tests: Debian's `rsyslog` and `sshd` run
//! inside a network-namespace host with their own configuration, pid files
//! and working directories in a temporary directory; a test account is
//! created and removed; a veth link joins two namespace hosts directly.
//!
//! `sshd` logs through `syslog(3)`, which always writes to `/dev/log`. So
//! that nothing on this machine is redirected, `sshd` runs in a private
//! mount namespace where our rsyslog's socket is bind-mounted over
//! `/dev/log`. When this machine has no `/dev/log` at all, an empty regular
//! file is created as the mount point (connecting to it fails exactly like
//! a missing one) and removed again on drop.
//!
//! Everything is stopped or removed on drop; failures panic with the fix.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::netns::Host;
use crate::{run, stderr, stop_child, wait_for};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn must(cmd: &mut Command, what: &str) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{what} failed ({}): {}",
        o.status,
        stderr(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A veth link directly between two namespace hosts (`a` gets `.1`, `b` `.2`
/// of a /30 in 10.214.0.0/16); removed with the namespaces or on drop.
pub struct Link {
    ns_a: String,
    veth_a: String,
    pub addr_a: String,
    pub addr_b: String,
}

impl Link {
    pub fn between(a: &Host, b: &Host) -> Link {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let slot = ((pid % 4000) * 16 + n) % 16000;
        let (third, fourth) = (slot / 64, (slot % 64) * 4);
        let veth_a = format!("wl{}a{n}", pid % 100000);
        let veth_b = format!("wl{}b{n}", pid % 100000);
        let addr_a = format!("10.214.{third}.{}", fourth + 1);
        let addr_b = format!("10.214.{third}.{}", fourth + 2);
        let ip = |args: &[&str]| must(Command::new("ip").args(args), &format!("ip {args:?}"));
        ip(&[
            "link", "add", &veth_a, "type", "veth", "peer", "name", &veth_b,
        ]);
        ip(&["link", "set", &veth_a, "netns", &a.name]);
        ip(&["link", "set", &veth_b, "netns", &b.name]);
        for (ns, dev, addr) in [(&a.name, &veth_a, &addr_a), (&b.name, &veth_b, &addr_b)] {
            ip(&[
                "netns",
                "exec",
                ns,
                "ip",
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                dev,
            ]);
            ip(&["netns", "exec", ns, "ip", "link", "set", dev, "up"]);
        }
        Link {
            ns_a: a.name.clone(),
            veth_a,
            addr_a,
            addr_b,
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns_a,
                "ip",
                "link",
                "del",
                &self.veth_a,
            ])
            .output();
    }
}

/// A temporary account with a password; `userdel` on drop.
pub struct TestUser {
    pub name: String,
    pub password: String,
}

impl TestUser {
    pub fn create() -> TestUser {
        let name = format!(
            "wdt{}x{}",
            std::process::id() % 100000,
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let password = format!("Pw-{}-{}", std::process::id(), name);
        must(
            Command::new("useradd").args(["-M", "-N", "-s", "/bin/sh", &name]),
            "useradd (the login test needs root)",
        );
        let u = TestUser { name, password };
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn chpasswd");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            writeln!(stdin, "{}:{}", u.name, u.password).expect("write chpasswd");
        }
        assert!(child.wait().expect("chpasswd").success(), "chpasswd failed");
        u
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// `rsyslogd` in a namespace host: its own socket, configuration, pid file
/// and work directory; the auth and authpriv facilities go to [`Rsyslog::log`].
pub struct Rsyslog {
    child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Rsyslog {
    pub fn start(host: &Host, dir: &Path) -> Rsyslog {
        let work = dir.join("rsyslog-work");
        fs::create_dir_all(&work).expect("rsyslog work dir");
        let socket = dir.join("log.sock");
        let log = dir.join("auth.log");
        let conf = dir.join("rsyslog.conf");
        fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{work}\")\n\
                 module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
                 input(type=\"imuxsock\" Socket=\"{sock}\" CreatePath=\"on\")\n\
                 auth,authpriv.* action(type=\"omfile\" file=\"{log}\")\n",
                work = work.display(),
                sock = socket.display(),
                log = log.display()
            ),
        )
        .expect("rsyslog.conf");
        let out = fs::File::create(dir.join("rsyslogd.out")).expect("rsyslog output");
        let child = Command::new("ip")
            .args(["netns", "exec", &host.name, "rsyslogd", "-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("fd"))
            .stderr(out)
            .spawn()
            .expect("spawn rsyslogd (install rsyslog: scripts/install-test-deps.sh)");
        let mut r = Rsyslog {
            child: Some(child),
            socket,
            log,
        };
        wait_for("rsyslogd's socket", Duration::from_secs(10), || {
            if let Some(Ok(Some(st))) = r.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "rsyslogd exited ({st}): {}",
                    fs::read_to_string(dir.join("rsyslogd.out")).unwrap_or_default()
                );
            }
            r.socket.exists().then_some(())
        });
        r
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// `/dev/log` as a mount point: created (empty, regular) when missing and
/// removed on drop if it is still that file.
struct DevLog {
    created: bool,
}

impl DevLog {
    fn ensure() -> DevLog {
        let p = Path::new("/dev/log");
        if p.symlink_metadata().is_ok() {
            return DevLog { created: false };
        }
        fs::File::create(p).expect("create the /dev/log mount point");
        DevLog { created: true }
    }
}

impl Drop for DevLog {
    fn drop(&mut self) {
        let p = Path::new("/dev/log");
        if self.created
            && p.symlink_metadata()
                .is_ok_and(|m| m.file_type().is_file() && m.len() == 0)
        {
            let _ = fs::remove_file(p);
        }
    }
}

/// Debian's `sshd` on port 22 of a namespace host, logging to `syslog`.
pub struct Sshd {
    child: Option<Child>,
    _dev_log: DevLog,
}

impl Sshd {
    /// Password logins only, for `user` only, on `listen:22`.
    pub fn start(host: &Host, dir: &Path, listen: &str, user: &str, syslog: &Rsyslog) -> Sshd {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("sshd is missing: install openssh-server (scripts/install-test-deps.sh)");
        // The privilege separation directory compiled into Debian's sshd.
        fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let key = dir.join("ssh_host_ed25519_key");
        if !key.exists() {
            must(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&key),
                "ssh-keygen",
            );
        }
        let conf = dir.join("sshd_config");
        fs::write(
            &conf,
            format!(
                "Port 22\nListenAddress {listen}\nHostKey {key}\nPidFile {pid}\n\
                 UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication no\nPermitRootLogin no\nAllowUsers {user}\n\
                 StrictModes no\nMaxStartups 100\nMaxAuthTries 20\n\
                 SyslogFacility AUTH\nLogLevel INFO\n",
                key = key.display(),
                pid = dir.join("sshd.pid").display(),
            ),
        )
        .expect("sshd_config");
        must(
            Command::new(sshd).arg("-t").arg("-f").arg(&conf),
            "sshd -t (configuration check)",
        );
        let dev_log = DevLog::ensure();
        let script = format!(
            "mount --bind '{sock}' /dev/log && exec {sshd} -D -f '{conf}'",
            sock = syslog.socket.display(),
            conf = conf.display()
        );
        let out = fs::File::create(dir.join("sshd.out")).expect("sshd output");
        let child = Command::new("ip")
            .args(["netns", "exec", &host.name])
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("fd"))
            .stderr(out)
            .spawn()
            .expect("spawn sshd");
        let mut s = Sshd {
            child: Some(child),
            _dev_log: dev_log,
        };
        let probe = format!("{listen}:22");
        wait_for("sshd to listen", Duration::from_secs(10), || {
            if let Some(Ok(Some(st))) = s.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "sshd exited ({st}): {}",
                    fs::read_to_string(dir.join("sshd.out")).unwrap_or_default()
                );
            }
            let o = run(Command::new("ip").args([
                "netns", "exec", &host.name, "ss", "-Hltn", "sport", "=", ":22",
            ]));
            String::from_utf8_lossy(&o.stdout)
                .contains(&probe)
                .then_some(())
        });
        s
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// One password login attempt from namespace `from` to `user@addr`;
/// true when it succeeded.
pub fn ssh_login(from: &Host, addr: &str, user: &str, password: &str) -> bool {
    let o = run(Command::new("ip").args([
        "netns",
        "exec",
        &from.name,
        "sshpass",
        "-p",
        password,
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        &format!("{user}@{addr}"),
        "true",
    ]));
    o.status.success()
}
