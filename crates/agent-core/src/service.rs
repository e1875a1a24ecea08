//! System service integration for the default prefix: a systemd unit where
//! systemd is init, a SysV init script where `/etc/init.d` exists. Other
//! prefixes (and every test) use the agent's own detached process.

use std::path::Path;
use std::process::Command;

use crate::layout::Layout;
use crate::AgentError;

pub const UNIT_NAME: &str = "ward-agent.service";
pub const UNIT_PATH: &str = "/etc/systemd/system/ward-agent.service";
pub const INIT_SCRIPT_PATH: &str = "/etc/init.d/ward-agent";

/// How the agent of a prefix is kept running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Systemd,
    SysV,
    Detached,
}

/// The mode for a prefix given what the host has.
pub fn choose(default_prefix: bool, systemd_is_init: bool, has_init_d: bool) -> Mode {
    match (default_prefix, systemd_is_init, has_init_d) {
        (true, true, _) => Mode::Systemd,
        (true, false, true) => Mode::SysV,
        _ => Mode::Detached,
    }
}

/// The mode for `layout` on this host.
pub fn detect(layout: &Layout) -> Mode {
    choose(
        layout.is_default_prefix(),
        Path::new("/run/systemd/system").is_dir(),
        Path::new("/etc/init.d").is_dir(),
    )
}

pub fn unit_installed() -> bool {
    Path::new(UNIT_PATH).exists()
}

/// The systemd unit for `layout`.
pub fn systemd_unit(layout: &Layout) -> String {
    let prefix = layout.prefix().display();
    format!(
        "[Unit]\n\
         Description=Ward agent\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart={prefix}/bin/ward-agent run --prefix {prefix}\n\
         Restart=always\n\
         RestartSec=5\n\
         StandardOutput=append:{prefix}/log/agent.log\n\
         StandardError=append:{prefix}/log/agent.log\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// The SysV init script for `layout` (starts the agent at boot).
pub fn init_script(layout: &Layout) -> String {
    let prefix = layout.prefix().display();
    format!(
        "#!/bin/sh\n\
         ### BEGIN INIT INFO\n\
         # Provides:          ward-agent\n\
         # Required-Start:    $network $remote_fs\n\
         # Required-Stop:     $network $remote_fs\n\
         # Default-Start:     2 3 4 5\n\
         # Default-Stop:      0 1 6\n\
         # Short-Description: Ward agent\n\
         ### END INIT INFO\n\
         AGENT={prefix}/bin/ward-agent\n\
         case \"$1\" in\n\
         \x20 start) exec \"$AGENT\" start --prefix {prefix} ;;\n\
         \x20 stop) exec \"$AGENT\" stop --prefix {prefix} ;;\n\
         \x20 restart) \"$AGENT\" stop --prefix {prefix}; exec \"$AGENT\" start --prefix {prefix} ;;\n\
         \x20 status) exec \"$AGENT\" status --prefix {prefix} ;;\n\
         \x20 *) echo \"usage: $0 start|stop|restart|status\" >&2; exit 2 ;;\n\
         esac\n"
    )
}

fn write_if_changed(path: &Path, text: &str, mode: u32) -> Result<bool, AgentError> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(false);
    }
    ward_pki::secret::write_file_atomic(path, text.as_bytes(), mode)
        .map_err(|e| AgentError::io("writing", path, e))?;
    Ok(true)
}

pub fn systemctl(args: &[&str]) -> Result<(), AgentError> {
    let out = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| AgentError::Runtime(format!("running systemctl: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(AgentError::Runtime(format!(
            "systemctl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Writes the unit and runs `systemctl enable --now`.
pub fn systemd_enable_now(layout: &Layout) -> Result<(), AgentError> {
    write_if_changed(Path::new(UNIT_PATH), &systemd_unit(layout), 0o644)?;
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", UNIT_NAME])
}

/// Writes the init script and registers it with `update-rc.d` when present
/// (best effort: the agent is started by `start` either way).
pub fn install_init_script(layout: &Layout) -> Result<(), AgentError> {
    if write_if_changed(Path::new(INIT_SCRIPT_PATH), &init_script(layout), 0o755)? {
        let _ = Command::new("update-rc.d")
            .args(["ward-agent", "defaults"])
            .output();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_choice() {
        assert_eq!(choose(true, true, true), Mode::Systemd);
        assert_eq!(choose(true, false, true), Mode::SysV);
        assert_eq!(choose(true, false, false), Mode::Detached);
        assert_eq!(choose(false, true, true), Mode::Detached);
        assert_eq!(choose(false, false, false), Mode::Detached);
    }

    #[test]
    fn service_files_name_the_prefix() {
        let l = Layout::new("/usr/local/ward");
        let unit = systemd_unit(&l);
        assert!(unit
            .contains("ExecStart=/usr/local/ward/bin/ward-agent run --prefix /usr/local/ward\n"));
        assert!(unit.contains("Restart=always"));
        let script = init_script(&l);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("  start) exec \"$AGENT\" start --prefix /usr/local/ward ;;"));
    }

    #[test]
    fn init_script_is_valid_shell() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, init_script(&Layout::new("/usr/local/ward"))).unwrap();
        let st = Command::new("sh").arg("-n").arg(&p).status().unwrap();
        assert!(st.success());
    }
}
