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
pub const UPDATE_UNIT_NAME: &str = "ward-update.service";
pub const UPDATE_UNIT_PATH: &str = "/etc/systemd/system/ward-update.service";
pub const UPDATE_INIT_SCRIPT_PATH: &str = "/etc/init.d/ward-update";

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
        systemd_is_init(),
        Path::new("/etc/init.d").is_dir(),
    )
}

/// True when systemd is PID 1.
pub fn systemd_is_init() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

pub fn unit_installed() -> bool {
    Path::new(UNIT_PATH).exists()
}

/// The systemd unit for `layout`.
pub fn systemd_unit(layout: &Layout) -> String {
    unit_for(layout, "ward-agent", "Ward agent", "agent.log")
}

/// The systemd unit of `ward-update` for `layout`.
pub fn update_systemd_unit(layout: &Layout) -> String {
    unit_for(
        layout,
        "ward-update",
        "Ward updater and guardian",
        "update.log",
    )
}

fn unit_for(layout: &Layout, program: &str, description: &str, log: &str) -> String {
    let prefix = layout.prefix().display();
    format!(
        "[Unit]\n\
         Description={description}\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart={prefix}/bin/{program} run --prefix {prefix}\n\
         Restart=always\n\
         RestartSec=5\n\
         StandardOutput=append:{prefix}/log/{log}\n\
         StandardError=append:{prefix}/log/{log}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// Writes the `ward-update` unit and runs `systemctl enable --now`.
pub fn update_systemd_enable_now(layout: &Layout) -> Result<(), AgentError> {
    write_if_changed(
        Path::new(UPDATE_UNIT_PATH),
        &update_systemd_unit(layout),
        0o644,
    )?;
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", UPDATE_UNIT_NAME])
}

/// The SysV init script of `ward-update` (starts it at boot; it starts the agent).
pub fn update_init_script(layout: &Layout) -> String {
    let prefix = layout.prefix().display();
    format!(
        "#!/bin/sh\n\
         ### BEGIN INIT INFO\n\
         # Provides:          ward-update\n\
         # Required-Start:    $network $remote_fs\n\
         # Required-Stop:     $network $remote_fs\n\
         # Default-Start:     2 3 4 5\n\
         # Default-Stop:      0 1 6\n\
         # Short-Description: Ward updater and guardian\n\
         ### END INIT INFO\n\
         UPDATER={prefix}/bin/ward-update\n\
         case \"$1\" in\n\
         \x20 start) exec \"$UPDATER\" start --prefix {prefix} ;;\n\
         \x20 stop) exec \"$UPDATER\" stop --prefix {prefix} ;;\n\
         \x20 restart) \"$UPDATER\" stop --prefix {prefix}; exec \"$UPDATER\" start --prefix {prefix} ;;\n\
         \x20 status) exec \"$UPDATER\" check --prefix {prefix} --dry-run ;;\n\
         \x20 *) echo \"usage: $0 start|stop|restart|status\" >&2; exit 2 ;;\n\
         esac\n"
    )
}

/// Writes the `ward-update` init script and registers it (best effort).
pub fn install_update_init_script(layout: &Layout) -> Result<(), AgentError> {
    if write_if_changed(
        Path::new(UPDATE_INIT_SCRIPT_PATH),
        &update_init_script(layout),
        0o755,
    )? {
        let _ = Command::new("update-rc.d")
            .args(["ward-update", "defaults"])
            .output();
    }
    Ok(())
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

/// One step of removing the services at uninstall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalStep {
    Systemctl(Vec<&'static str>),
    /// `update-rc.d -f NAME remove` (when `update-rc.d` exists).
    UpdateRcRemove(&'static str),
    RemoveFile(&'static str),
}

/// The steps that remove the services of `mode`, given which service files
/// exist: `(before, after)`. `before` runs before the files go; `after`
/// runs last. `in_process` is the remote uninstall inside the running agent:
/// under systemd the agent is the service's main process, so it only
/// disables its unit first and, last of all, asks systemd (without waiting)
/// to stop it, which it survives by ignoring SIGTERM and then exiting.
pub fn removal_plan(
    mode: Mode,
    in_process: bool,
    exists: impl Fn(&str) -> bool,
) -> (Vec<RemovalStep>, Vec<RemovalStep>) {
    use RemovalStep::*;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    match mode {
        Mode::Systemd => {
            let agent = exists(UNIT_PATH);
            let update = exists(UPDATE_UNIT_PATH);
            if update {
                before.push(Systemctl(vec!["disable", "--now", UPDATE_UNIT_NAME]));
                before.push(RemoveFile(UPDATE_UNIT_PATH));
            }
            if agent && in_process {
                before.push(Systemctl(vec!["disable", UNIT_NAME]));
                after.push(Systemctl(vec!["--no-block", "stop", UNIT_NAME]));
                after.push(RemoveFile(UNIT_PATH));
                after.push(Systemctl(vec!["daemon-reload"]));
            } else if agent {
                before.push(Systemctl(vec!["disable", "--now", UNIT_NAME]));
                before.push(RemoveFile(UNIT_PATH));
            }
            if (agent || update) && !(agent && in_process) {
                before.push(Systemctl(vec!["daemon-reload"]));
            }
        }
        Mode::SysV => {
            for (name, path) in [
                ("ward-update", UPDATE_INIT_SCRIPT_PATH),
                ("ward-agent", INIT_SCRIPT_PATH),
            ] {
                if exists(path) {
                    before.push(UpdateRcRemove(name));
                    before.push(RemoveFile(path));
                }
            }
        }
        Mode::Detached => {}
    }
    (before, after)
}

/// Runs removal steps; returns the problems (each one line).
pub fn run_removal(steps: &[RemovalStep]) -> Vec<String> {
    let mut problems = Vec::new();
    for step in steps {
        let r = match step {
            RemovalStep::Systemctl(args) => systemctl(args).map_err(|e| crate::one_line(&e)),
            RemovalStep::UpdateRcRemove(name) => {
                match Command::new("update-rc.d")
                    .args(["-f", name, "remove"])
                    .output()
                {
                    Ok(_) => Ok(()),
                    // No update-rc.d (not Debian): nothing registered by it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("update-rc.d {name}: {e}")),
                }
            }
            RemovalStep::RemoveFile(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("removing {path}: {e}")),
            },
        };
        if let Err(e) = r {
            problems.push(e);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_plans() {
        use RemovalStep::*;
        let all = |_: &str| true;
        let (b, a) = removal_plan(Mode::Systemd, false, all);
        assert_eq!(
            b,
            vec![
                Systemctl(vec!["disable", "--now", UPDATE_UNIT_NAME]),
                RemoveFile(UPDATE_UNIT_PATH),
                Systemctl(vec!["disable", "--now", UNIT_NAME]),
                RemoveFile(UNIT_PATH),
                Systemctl(vec!["daemon-reload"]),
            ]
        );
        assert!(a.is_empty());
        // Inside the running service: never stop ourselves before the end.
        let (b, a) = removal_plan(Mode::Systemd, true, all);
        assert!(!b.contains(&Systemctl(vec!["disable", "--now", UNIT_NAME])));
        assert!(b.contains(&Systemctl(vec!["disable", UNIT_NAME])));
        assert_eq!(a[0], Systemctl(vec!["--no-block", "stop", UNIT_NAME]));
        assert_eq!(a.last(), Some(&Systemctl(vec!["daemon-reload"])));
        let (b, a) = removal_plan(Mode::Systemd, true, |p| p == UNIT_PATH);
        assert_eq!(b, vec![Systemctl(vec!["disable", UNIT_NAME])]);
        assert_eq!(a.len(), 3);
        let (b, _) = removal_plan(Mode::SysV, false, |p| p == INIT_SCRIPT_PATH);
        assert_eq!(
            b,
            vec![UpdateRcRemove("ward-agent"), RemoveFile(INIT_SCRIPT_PATH)]
        );
        let (b, a) = removal_plan(Mode::Detached, true, all);
        assert!(b.is_empty() && a.is_empty());
        assert!(removal_plan(Mode::Systemd, false, |_| false).0.is_empty());
    }

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
        let unit = update_systemd_unit(&l);
        assert!(unit
            .contains("ExecStart=/usr/local/ward/bin/ward-update run --prefix /usr/local/ward\n"));
        assert!(unit.contains("append:/usr/local/ward/log/update.log"));
        let script = init_script(&l);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("  start) exec \"$AGENT\" start --prefix /usr/local/ward ;;"));
    }

    #[test]
    fn init_script_is_valid_shell() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        for text in [
            init_script(&Layout::new("/usr/local/ward")),
            update_init_script(&Layout::new("/usr/local/ward")),
        ] {
            std::fs::write(&p, text).unwrap();
            let st = Command::new("sh").arg("-n").arg(&p).status().unwrap();
            assert!(st.success());
        }
    }
}
