//! Host checks: the agent and updater processes, CPU and memory held at
//! 95 % or more, and known conflicting security software.

use std::path::Path;
use std::time::Duration;

use super::procfs::{self, Proc};
use super::{conflicts, Finding};
use crate::daemon::running_pid;
use crate::layout::Layout;

/// CPU or memory use at or above this share is a fault.
pub const LOAD_LIMIT_PERCENT: f64 = 95.0;

/// The updater's program name.
const UPDATER: &str = "ward-update";

/// `agent` and `updater`.
pub fn processes(layout: &Layout, _proc_root: &Path) -> Vec<Finding> {
    let prefix = layout.prefix().display().to_string();
    let bin = layout.bin_link().display().to_string();
    let agent = match running_pid(layout) {
        Some(0) => Finding::ok(
            "agent",
            "starting (holds its lock, pid file not written yet)",
        ),
        Some(pid) => Finding::ok("agent", format!("running (pid {pid})")),
        None if !layout.identity().exists() => Finding::fail(
            "agent",
            format!(
                "not installed or not enrolled in {prefix} ({} is missing)",
                layout.identity().display()
            ),
            "run the install command from the console (Settings → Install/Uninstall Agent)",
        ),
        None => Finding::fail(
            "agent",
            format!("not running for {prefix}"),
            format!(
                "start it: {bin} start --prefix {prefix}; if it stops again, read {}",
                layout.log_file().display()
            ),
        ),
    };
    let updater_bin = layout.bin_dir().join(UPDATER);
    let updater = if std::fs::symlink_metadata(&updater_bin).is_err() {
        Finding::info(
            "updater",
            format!(
                "not installed ({} does not exist; rerun the install command to add it)",
                updater_bin.display()
            ),
        )
    } else {
        // The holder of this prefix's data/update.lock, not any ward-update.
        match crate::updater_ctl::running_pid(layout) {
            Some(pid) => Finding::ok("updater", format!("running (pid {pid})")),
            None if layout.resurrection_blocked() => Finding::info(
                "updater",
                "not running (the agent was stopped with `ward-agent stop`)",
            ),
            None => Finding::fail(
                "updater",
                "not running",
                format!(
                    "start it: {} start --prefix {prefix} (the running agent restarts it too); see {}",
                    updater_bin.display(),
                    layout.update_log_file().display()
                ),
            ),
        }
    };
    vec![agent, updater]
}

fn top_text(top: &[(Proc, f64)]) -> String {
    top.iter()
        .take(3)
        .map(|(p, pct)| format!("{} (pid {}) {pct:.0} %", p.comm, p.pid))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cpu` (sampled over `sample`) and `memory`.
pub async fn load(proc_root: &Path, sample: Duration) -> Vec<Finding> {
    let read_stat = || {
        std::fs::read_to_string(proc_root.join("stat"))
            .ok()
            .and_then(|t| procfs::parse_cpu_times(&t))
    };
    let before = (read_stat(), procfs::processes(proc_root));
    tokio::time::sleep(sample).await;
    let after = (read_stat(), procfs::processes(proc_root));
    let cpu = match (before.0, after.0) {
        (Some(a), Some(b)) => {
            let busy = procfs::busy_percent(a, b);
            let top = procfs::top_cpu(
                &before.1,
                &after.1,
                sample.as_secs_f64(),
                procfs::ticks_per_sec(),
            );
            let found = format!(
                "{busy:.0} % busy over {:.1} s{}",
                sample.as_secs_f64(),
                if top.is_empty() {
                    String::new()
                } else {
                    format!("; top: {}", top_text(&top))
                }
            );
            if busy >= LOAD_LIMIT_PERCENT {
                Finding::fail(
                    "cpu",
                    found,
                    "find what holds the CPU (top -o %CPU) and stop or limit it; a saturated host \
                     delays the agent's keepalives until the server declares it offline",
                )
            } else {
                Finding::ok("cpu", found)
            }
        }
        _ => Finding::info(
            "cpu",
            format!("cannot read {}", proc_root.join("stat").display()),
        ),
    };
    let memory = match std::fs::read_to_string(proc_root.join("meminfo"))
        .ok()
        .and_then(|t| procfs::parse_meminfo(&t))
    {
        Some((total, avail)) => {
            let used = procfs::mem_used_percent(total, avail);
            let found = format!(
                "{used:.0} % used ({} MiB available of {} MiB)",
                avail / 1024,
                total / 1024
            );
            if used >= LOAD_LIMIT_PERCENT {
                Finding::fail(
                    "memory",
                    found,
                    "find what holds the memory (ps aux --sort=-rss | head) and stop or limit it; \
                     the kernel may kill the agent when memory runs out",
                )
            } else {
                Finding::ok("memory", found)
            }
        }
        None => Finding::info(
            "memory",
            format!("cannot read {}", proc_root.join("meminfo").display()),
        ),
    };
    vec![cpu, memory]
}

/// `conflicts`: known conflicting security software running.
pub fn conflicts(proc_root: &Path, layout: &Layout) -> Finding {
    let procs = procfs::processes(proc_root);
    let hits = conflicts::find(&procs, conflicts::KNOWN);
    if hits.is_empty() {
        return Finding::ok(
            "conflicts",
            format!(
                "none of {} known conflicting products runs",
                conflicts::KNOWN.len()
            ),
        );
    }
    let found = hits
        .iter()
        .map(|(product, p)| format!("{} ({} pid {})", product.name, p.comm, p.pid))
        .collect::<Vec<_>>()
        .join(", ");
    Finding::warn(
        "conflicts",
        format!("conflicting security software runs: {found}"),
        format!(
            "exclude {} (ward-agent) and its connection to the server in that product's policy, \
             or run only one of the two agents on this host",
            layout.prefix().display()
        ),
    )
}
