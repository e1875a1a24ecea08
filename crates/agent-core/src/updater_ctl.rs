//! Installing, starting and stopping `ward-update` of a prefix (the
//! install flow and `ward-update start|stop` share this).
//!
//! Like the agent: a systemd unit (`ward-update.service`) for the default
//! prefix where systemd is init, a SysV script (`/etc/init.d/ward-update`,
//! for boot) where `/etc/init.d` exists, else a detached process
//! (`bin/ward-update run`, output in `log/update.log`). It is running while
//! `data/update.lock` is held.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::{lock_holder, start_and_wait, stop_lock_holder, START_TIMEOUT, STOP_TIMEOUT};
use crate::layout::{swap_symlink, Layout};
use crate::{service, AgentError};

/// The pid of the running `ward-update` of the prefix.
pub fn running_pid(layout: &Layout) -> Option<u32> {
    lock_holder(&layout.update_lock_file(), &layout.update_pid_file())
}

/// The version a `ward-update` binary reports (`ward-update --version`).
pub fn binary_version(bin: &Path) -> Result<String, AgentError> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| AgentError::io("running", bin, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split_whitespace().last().unwrap_or("").to_string();
    if !out.status.success() || !ward_release::version::is_valid(&v) {
        return Err(AgentError::Runtime(format!(
            "{} is not a usable ward-update (--version printed {:?})",
            bin.display(),
            text.trim()
        )));
    }
    Ok(v)
}

/// Copies a `ward-update` binary into `update/<version>/` and points
/// `bin/ward-update` at it; returns the version.
pub fn install_binary(layout: &Layout, source: &Path) -> Result<String, AgentError> {
    let version = binary_version(source)?;
    let bytes = std::fs::read(source).map_err(|e| AgentError::io("reading", source, e))?;
    let bin = layout.update_versioned_bin(&version);
    if std::fs::read(&bin).ok().as_deref() != Some(bytes.as_slice()) {
        ward_pki::secret::write_file_atomic(&bin, &bytes, 0o755)
            .map_err(|e| AgentError::io("writing", &bin, e))?;
    }
    let link = layout.update_bin_link();
    swap_symlink(&Layout::update_link_target(&version), &link)
        .map_err(|e| AgentError::io("linking", &link, e))?;
    Ok(version)
}

/// Starts `ward-update` for the prefix (if it is not running); its pid.
pub fn start(layout: &Layout) -> Result<u32, AgentError> {
    if let Some(pid) = running_pid(layout).filter(|p| *p != 0) {
        return Ok(pid);
    }
    if std::fs::symlink_metadata(layout.update_bin_link()).is_err() {
        return Err(AgentError::Usage(format!(
            "ward-update is not installed in {}",
            layout.prefix().display()
        )));
    }
    match service::detect(layout) {
        service::Mode::Systemd => {
            service::update_systemd_enable_now(layout)?;
            return wait_running(layout);
        }
        service::Mode::SysV => service::install_update_init_script(layout)?,
        service::Mode::Detached => {}
    }
    let running = || running_pid(layout).filter(|p| *p != 0);
    start_and_wait(
        &layout.update_bin_link(),
        layout,
        &layout.update_log_file(),
        "ward-update",
        |_| running().is_some(),
        running,
        String::new,
    )
}

fn wait_running(layout: &Layout) -> Result<u32, AgentError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(pid) = running_pid(layout).filter(|p| *p != 0) {
            return Ok(pid);
        }
        if Instant::now() >= deadline {
            return Err(AgentError::Runtime(format!(
                "ward-update did not start within {} s",
                START_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `ward-update` of the prefix: SIGTERM, SIGKILL after
/// [`STOP_TIMEOUT`]. The pid stopped, `None` if none ran.
pub fn stop(layout: &Layout) -> Result<Option<u32>, AgentError> {
    stop_within(layout, STOP_TIMEOUT)
}

/// Stops `ward-update` of the prefix if it holds `data/update.lock`:
/// SIGTERM to the pid in `data/update.pid`, SIGKILL after `grace`. The pid
/// stopped, `None` if none ran; an error if it holds the lock with an
/// unusable pid file, or survives SIGKILL.
pub fn stop_within(layout: &Layout, grace: Duration) -> Result<Option<u32>, AgentError> {
    if service::detect(layout) == service::Mode::Systemd
        && Path::new(service::UPDATE_UNIT_PATH).exists()
    {
        service::systemctl(&["stop", service::UPDATE_UNIT_NAME])?;
    }
    stop_lock_holder(
        &layout.update_lock_file(),
        &layout.update_pid_file(),
        "ward-update",
        grace,
    )
}
