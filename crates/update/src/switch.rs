//! Installing a verified release and switching to it: files go into
//! `agent/<version>/` (and `update/<version>/`) through a staging directory
//! renamed into place; `bin/ward-agent` is swapped atomically; the agent is
//! restarted and must be online with the new version before the deadline,
//! or the link is swapped back and the previous agent started again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ward_agent_core::daemon;
use ward_agent_core::layout::{swap_symlink, Layout, AGENT_BIN};
use ward_agent_core::lifecycle::client::LifecycleClient;
use ward_agent_core::service;
use ward_agent_core::status_file::{AgentStatus, SessionState};
use ward_release::{FileInfo, ReleaseError, MAX_FILE_BYTES};

/// The version `bin/ward-agent` points at (`../agent/<version>/ward-agent`).
pub fn linked_version(link: &Path) -> Option<String> {
    let target = std::fs::read_link(link).ok()?;
    let dir = target.parent()?.file_name()?.to_str()?.to_string();
    ward_release::version::is_valid(&dir).then_some(dir)
}

/// Why a release could not be fetched.
#[derive(Debug)]
pub enum FetchError {
    /// The bytes do not match the signed metadata.
    Refused(ReleaseError),
    /// Network or disk trouble; nothing was switched.
    Failed(String),
}

/// Downloads `file` of `version` for `platform`, checks it against the
/// signed `info`, and puts it at `dest` (mode 0755) through a staging file
/// in the same directory. Nothing is left behind on failure.
pub async fn fetch(
    client: &LifecycleClient,
    version: &str,
    platform: &str,
    file: &str,
    info: &FileInfo,
    dest: &Path,
) -> Result<(), FetchError> {
    let dir = dest
        .parent()
        .ok_or_else(|| FetchError::Failed(format!("{} has no parent", dest.display())))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| FetchError::Failed(format!("creating {}: {e}", dir.display())))?;
    let staging = dir.join(format!(".{file}.download.{}", std::process::id()));
    let result = async {
        let d = client
            .download_release(version, platform, file, &staging, MAX_FILE_BYTES)
            .await
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        info.check(file, version, d.size, &d.sha256)
            .map_err(FetchError::Refused)?;
        std::fs::rename(&staging, dest)
            .map_err(|e| FetchError::Failed(format!("installing {}: {e}", dest.display())))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| FetchError::Failed(format!("{}: {e}", dest.display())))
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result
}

/// Installs the agent binary of a release into `agent/<version>/`.
pub async fn fetch_agent(
    client: &LifecycleClient,
    layout: &Layout,
    version: &str,
    platform: &str,
    info: &FileInfo,
) -> Result<PathBuf, FetchError> {
    let final_dir = layout.version_dir(version);
    let staging_dir = layout
        .agent_root()
        .join(format!(".staging-{version}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging_dir);
    let bin = staging_dir.join(AGENT_BIN);
    let res = fetch(client, version, platform, AGENT_BIN, info, &bin).await;
    if let Err(e) = res {
        let _ = std::fs::remove_dir_all(&staging_dir);
        return Err(e);
    }
    // A leftover directory of an earlier failed attempt is replaced; the
    // running version is never this one (only newer versions install).
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&staging_dir, &final_dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging_dir);
        FetchError::Failed(format!("installing {}: {e}", final_dir.display()))
    })?;
    Ok(layout.versioned_bin(version))
}

/// Points `bin/ward-agent` at `version`.
pub fn link_agent(layout: &Layout, version: &str) -> Result<(), String> {
    swap_symlink(&Layout::link_target(version), &layout.bin_link())
        .map_err(|e| format!("switching {}: {e}", layout.bin_link().display()))
}

/// Stops the running agent and starts the one `bin/ward-agent` points at.
pub fn restart_agent(layout: &Layout) -> Result<(), String> {
    if service::detect(layout) == service::Mode::Systemd && service::unit_installed() {
        return service::systemctl(&["restart", service::UNIT_NAME])
            .map_err(|e| ward_agent_core::one_line(&e));
    }
    daemon::stop(layout).map_err(|e| ward_agent_core::one_line(&e))?;
    daemon::spawn_detached(layout)
        .map(|_| ())
        .map_err(|e| ward_agent_core::one_line(&e))
}

/// Kills (SIGKILL) every process whose executable is `agent/<version>/ward-agent`
/// of this prefix (a release that never came online, left by an updater
/// that was killed while it waited); returns how many.
pub fn kill_version_processes(layout: &Layout, version: &str) -> usize {
    let bin = layout.versioned_bin(version);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(e.path().join("exe")).ok().as_deref() == Some(bin.as_path()) {
            // SAFETY: kill() of a process running the release binary of our prefix.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// Waits until the running agent (the lock holder) is `version` and has a
/// connected session, or the deadline passes; the reason otherwise.
pub fn wait_online(layout: &Layout, version: &str, deadline: Instant) -> Result<u32, String> {
    let mut last = String::from("no status from the new agent");
    loop {
        let pid = daemon::running_pid(layout).filter(|p| *p != 0);
        match (pid, AgentStatus::read(&layout.status())) {
            (Some(pid), Ok(Some(s))) if s.pid == pid => {
                if s.version != version {
                    last = format!("the running agent reports version {}", s.version);
                } else if s.session == SessionState::Connected {
                    return Ok(pid);
                } else {
                    last = format!(
                        "the new agent is {}{}",
                        s.session.as_str(),
                        s.last_error
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    );
                }
            }
            (None, _) => last = "the new agent is not running".into(),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(last);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_version_reads_the_link_target() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        l.create_dirs().unwrap();
        assert_eq!(linked_version(&l.bin_link()), None);
        link_agent(&l, "0.3.1").unwrap();
        assert_eq!(linked_version(&l.bin_link()).as_deref(), Some("0.3.1"));
        std::os::unix::fs::symlink("../agent/junk/ward-agent", l.bin_dir().join("x")).unwrap();
        assert_eq!(linked_version(&l.bin_dir().join("x")), None);
    }
}
