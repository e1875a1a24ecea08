//! Removing the agent (SPEC L9, L10): for a verified remote command (inside
//! the running agent) and for `ward-agent uninstall` (and `uninstall.sh`).
//!
//! Order: `data/uninstalling` first (while it exists no guardian restarts
//! anything, and `ward-agent run` refuses to start or, when it holds the
//! verified remote command, finishes the removal); tell the server (local
//! uninstall; a remote one was already accepted); stop `ward-update` (SIGTERM
//! to `data/update.pid` if `data/update.lock` is held, SIGKILL after 10 s);
//! stop the agent; remove the services (systemd units / SysV scripts of
//! `ward-agent` and `ward-update`, default prefix only); remove what the
//! install created under the prefix (`bin/ward-agent`, `bin/ward-update`,
//! `agent/`, `update/`, `conf/agent.toml`, `conf/network.toml`,
//! `conf/update.toml`, `conf/release.pub`, `data/`, `log/`), then `bin/`,
//! `conf/` and the prefix if they are empty. Files an operator added
//! elsewhere in the prefix are left alone.
//!
//! A prefix that is a system directory, or does not look like a Ward
//! install, is refused before anything is touched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_proto::lifecycle::COMMAND_DOMAIN;
use ward_proto::{CommandKind, CommandPayload, LocalAction, Signed};

use super::{keys, notices, protection};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::service;
use crate::AgentError;

/// Time the updater gets after SIGTERM.
pub const UPDATER_GRACE: Duration = Duration::from_secs(10);

/// Prefixes never treated as a Ward install.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/local",
    "/var",
];

/// `data/uninstalling`: who started the uninstall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub at_ms: i64,
    /// `command` (remote) or `local`.
    pub by: String,
    /// The verified remote command, kept to finish after a crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Signed>,
}

pub fn write_marker(layout: &Layout, m: &Marker) -> Result<(), AgentError> {
    let text = serde_json::to_string(m).unwrap_or_default();
    ward_pki::secret::write_secret_file(&layout.uninstalling_marker(), text.as_bytes())
        .map_err(|e| AgentError::io("writing", &layout.uninstalling_marker(), e))
}

pub fn read_marker(layout: &Layout) -> Option<Marker> {
    let path = layout.uninstalling_marker();
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or(Marker {
        at_ms: 0,
        by: "unknown".into(),
        command: None,
    }))
}

/// True when the marker holds a remote uninstall command for this agent
/// signed by the stored command key (its expiry no longer matters: it was
/// accepted before it expired).
pub fn marker_is_verified_command(layout: &Layout, m: &Marker) -> bool {
    let (Some(doc), Ok(Some(key)), Ok(Some(id))) = (
        m.command.as_ref(),
        keys::load(layout),
        Identity::load(&layout.identity()),
    ) else {
        return false;
    };
    key.verify(COMMAND_DOMAIN, doc).is_ok()
        && doc
            .decode_payload::<CommandPayload>()
            .is_ok_and(|p| p.agent_id == id.agent_id && p.kind == CommandKind::Uninstall)
}

fn is_ward_link(link: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|t| t.starts_with(Path::new("..").join("agent")))
}

/// Refuses system directories and prefixes that hold no Ward install.
pub fn check_prefix(layout: &Layout) -> Result<(), AgentError> {
    let p = ward_hostinfo::canonical_prefix(layout.prefix());
    if SYSTEM_DIRS.iter().any(|d| p == Path::new(d)) {
        return Err(AgentError::Usage(format!(
            "{} is a system directory, not a Ward prefix; nothing was removed",
            p.display()
        )));
    }
    let ward = layout.identity().exists()
        || layout.uninstalling_marker().exists()
        || is_ward_link(&layout.bin_link())
        || layout.versioned_bin(crate::version()).exists();
    if !ward {
        return Err(AgentError::Usage(format!(
            "no Ward agent is installed in {} (no data/identity.json, no bin/ward-agent)",
            layout.prefix().display()
        )));
    }
    Ok(())
}

/// What the file removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    pub removed: Vec<PathBuf>,
    /// Problems, one line each (what could not be removed and why).
    pub problems: Vec<String>,
    pub prefix_removed: bool,
}

impl Removal {
    /// One line for the log and the server.
    pub fn summary(&self, layout: &Layout) -> String {
        let prefix = layout.prefix().display();
        match (self.problems.is_empty(), self.prefix_removed) {
            (true, true) => format!("removed {prefix} ({} paths)", self.removed.len()),
            (true, false) => format!(
                "removed {} Ward paths; {prefix} kept (it holds other files)",
                self.removed.len()
            ),
            (false, _) => format!("left behind: {}", self.problems.join("; ")),
        }
    }
}

fn remove(path: &Path, out: &mut Removal) {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            out.problems.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    let r = if meta.is_dir() {
        // Retried: a writer that was still running may add a file.
        (0..3)
            .map(|_| std::fs::remove_dir_all(path))
            .find(|r| r.is_ok())
            .unwrap_or_else(|| std::fs::remove_dir_all(path))
    } else {
        std::fs::remove_file(path)
    };
    match r {
        Ok(()) => out.removed.push(path.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => out.problems.push(format!("{}: {e}", path.display())),
    }
}

fn remove_if_empty(dir: &Path, out: &mut Removal) -> bool {
    match std::fs::remove_dir(dir) {
        Ok(()) => {
            out.removed.push(dir.to_path_buf());
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(_) => false,
    }
}

/// Removes what the install created under the prefix (see the module docs).
pub fn remove_files(layout: &Layout) -> Removal {
    let mut out = Removal::default();
    let bin = layout.bin_dir();
    let conf = layout.conf_dir();
    for path in [
        layout.bin_link(),
        layout.update_bin_link(),
        layout.agent_root(),
        layout.update_root(),
        layout.agent_toml(),
        layout.network_toml(),
        layout.update_toml(),
        layout.release_key(),
        layout.log_dir(),
    ] {
        remove(&path, &mut out);
    }
    // Leftovers of interrupted atomic link swaps in bin/.
    if let Ok(entries) = std::fs::read_dir(&bin) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".ward-agent.new.") || name.starts_with(".ward-update.new.") {
                remove(&e.path(), &mut out);
            }
        }
    }
    // data/ last: it holds the marker until everything else is gone.
    remove(&layout.data_dir(), &mut out);
    remove_if_empty(&bin, &mut out);
    remove_if_empty(&conf, &mut out);
    out.prefix_removed = remove_if_empty(layout.prefix(), &mut out);
    out
}

/// Stops the updater and removes the services (before the files). Returns
/// the steps to run last (systemd, in process) and the problems.
pub fn stop_and_remove_services(
    layout: &Layout,
    in_process: bool,
) -> (Vec<service::RemovalStep>, Vec<String>) {
    let mut problems = Vec::new();
    match crate::updater_ctl::stop_within(layout, UPDATER_GRACE) {
        Ok(Some(pid)) => tracing::info!(pid, "ward-update stopped"),
        Ok(None) => {}
        Err(e) => problems.push(crate::one_line(&e)),
    }
    let (before, after) = service::removal_plan(service::detect(layout), in_process, |p| {
        Path::new(p).exists()
    });
    problems.extend(service::run_removal(&before));
    (after, problems)
}

/// What `ward-agent uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOutcome {
    pub agent_id: Option<String>,
    pub removal: Removal,
    /// `Ok` when the server was told; the reason otherwise.
    pub told_server: Result<(), String>,
    pub stopped_pid: Option<u32>,
}

impl LocalOutcome {
    /// The line printed at the end.
    pub fn message(&self, layout: &Layout) -> String {
        let who = self.agent_id.as_deref().unwrap_or("(not enrolled)");
        let server = match &self.told_server {
            Ok(()) => "the server was told: the asset is uninstalled".to_string(),
            Err(e) => format!("the server could not be told ({e}); the asset will show offline"),
        };
        format!(
            "Ward agent {who}: {}; {server}",
            self.removal.summary(layout)
        )
    }
}

/// `ward-agent uninstall [--token T]`.
pub fn local(layout: &Layout, token: Option<&str>) -> Result<LocalOutcome, AgentError> {
    check_prefix(layout)?;
    let resumed_command =
        read_marker(layout).is_some_and(|m| marker_is_verified_command(layout, &m));
    if !resumed_command {
        protection::authorize(layout, LocalAction::Uninstall, token)?;
    }
    let agent_id = Identity::load(&layout.identity())
        .ok()
        .flatten()
        .map(|i| i.agent_id);
    if read_marker(layout).is_none() {
        write_marker(
            layout,
            &Marker {
                at_ms: crate::now_ms(),
                by: "local".into(),
                command: None,
            },
        )?;
    }
    let told_server = match (&agent_id, resumed_command) {
        (None, _) => Err("not enrolled".to_string()),
        (Some(_), true) => Ok(()),
        (Some(_), false) => notices::report_uninstalled(layout, "ward-agent uninstall"),
    };
    let (after, mut problems) = stop_and_remove_services(layout, false);
    let stopped_pid = match crate::daemon::stop(layout) {
        Ok(pid) => pid,
        Err(e) => {
            problems.push(crate::one_line(&e));
            None
        }
    };
    problems.extend(service::run_removal(&after));
    let mut removal = remove_files(layout);
    problems.append(&mut removal.problems);
    removal.problems = problems;
    Ok(LocalOutcome {
        agent_id,
        removal,
        told_server,
        stopped_pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::unix::fs::symlink;
    use std::time::Instant;

    fn fake_install(root: &Path) -> Layout {
        let l = Layout::new(root.join("ward"));
        l.create_dirs().unwrap();
        std::fs::create_dir_all(l.version_dir("9.9.9")).unwrap();
        std::fs::write(l.versioned_bin("9.9.9"), b"#!/bin/sh\n").unwrap();
        symlink(Layout::link_target("9.9.9"), l.bin_link()).unwrap();
        std::fs::write(l.agent_toml(), "").unwrap();
        std::fs::write(l.network_toml(), "").unwrap();
        std::fs::write(l.identity(), "{}").unwrap();
        std::fs::create_dir_all(l.data_dir().join("spool")).unwrap();
        std::fs::write(l.data_dir().join("spool/seg-1"), b"x").unwrap();
        std::fs::write(l.log_file(), "log").unwrap();
        std::fs::create_dir_all(l.prefix().join("update/1.0")).unwrap();
        l
    }

    #[test]
    fn removal_takes_everything_of_ours_and_the_empty_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let l = fake_install(dir.path());
        check_prefix(&l).unwrap();
        let r = remove_files(&l);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.prefix_removed);
        assert!(!l.prefix().exists());
        assert!(r.summary(&l).starts_with("removed "));
    }

    #[test]
    fn removal_keeps_files_an_operator_added() {
        let dir = tempfile::tempdir().unwrap();
        let l = fake_install(dir.path());
        std::fs::write(l.bin_dir().join("my-script"), "x").unwrap();
        std::fs::write(l.prefix().join("NOTES"), "x").unwrap();
        let r = remove_files(&l);
        assert!(r.problems.is_empty());
        assert!(!r.prefix_removed);
        assert!(l.bin_dir().join("my-script").exists() && l.prefix().join("NOTES").exists());
        for gone in [
            l.bin_link(),
            l.agent_root(),
            l.data_dir(),
            l.log_dir(),
            l.conf_dir(),
        ] {
            assert!(
                std::fs::symlink_metadata(&gone).is_err(),
                "{gone:?} remains"
            );
        }
    }

    #[test]
    fn system_dirs_and_foreign_dirs_are_refused() {
        for d in ["/", "/usr", "/usr/local", "/etc"] {
            let e = check_prefix(&Layout::new(d)).unwrap_err().to_string();
            assert!(e.contains("system directory"), "{d}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let e = check_prefix(&Layout::new(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Ward agent is installed"), "{e}");
        assert!(dir.path().join("data").exists());
    }

    #[test]
    fn updater_holding_its_lock_is_stopped_then_killed() {
        let dir = tempfile::tempdir().unwrap();
        let l = fake_install(dir.path());
        let stop = |grace| crate::updater_ctl::stop_within(&l, grace).map_err(|e| e.to_string());
        assert_eq!(stop(Duration::from_millis(100)), Ok(None));
        // A stand-in updater that holds data/update.lock and ignores SIGTERM.
        let lock = l.update_lock_file();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' TERM; exec flock -o '{}' sleep 30",
                lock.display()
            ))
            .spawn()
            .unwrap();
        std::fs::write(l.update_pid_file(), child.id().to_string()).unwrap();
        let f = File::open({
            let deadline = Instant::now() + Duration::from_secs(5);
            while !lock.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            &lock
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while crate::daemon::try_flock_shared(&f).unwrap() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        assert_eq!(stop(Duration::from_millis(300)), Ok(Some(child.id())));
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "SIGTERM was ignored"
        );
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn marker_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let l = fake_install(dir.path());
        assert_eq!(read_marker(&l), None);
        let m = Marker {
            at_ms: 5,
            by: "local".into(),
            command: None,
        };
        write_marker(&l, &m).unwrap();
        assert_eq!(read_marker(&l), Some(m.clone()));
        assert!(!marker_is_verified_command(&l, &m));
    }
}
