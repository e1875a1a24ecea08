//! Host facts for the Ward agent, read locally (no network):
//!
//! * [`HostCollector`] builds the [`ward_proto::HostReport`] ("online data":
//!   hostname, OS, kernel, arch, IPs, uptime, the agent's own CPU and RSS).
//! * [`fingerprint`] binds an agent identity to this machine and install prefix.
//!
//! * [`accounts`] parses `/etc/passwd`, `/etc/group`, `/etc/shadow` and
//!   [`packages`] knows package managers and dpkg's file lists (shared by
//!   the process and file collectors).
//!
//! Every file is read through [`HostPaths`], so tests point it at fixtures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ward_proto::HostReport;

pub mod accounts;
mod fingerprint;
mod net;
pub mod packages;
mod parse;

pub use fingerprint::{canonical_prefix, fingerprint, fingerprint_with, machine_id};
pub use net::{interface_ips, public_ips};
pub use parse::{
    parse_os_release, parse_proc_stat_cpu_ticks, parse_status_rss_bytes, parse_uptime,
};

/// Where the host's pseudo-filesystems and config live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// `/proc`
    pub proc: PathBuf,
    /// `/etc`
    pub etc: PathBuf,
    /// `/sys`
    pub sys: PathBuf,
    /// `/var/lib`
    pub var_lib: PathBuf,
    /// `/usr/lib`
    pub usr_lib: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths::under(Path::new("/"))
    }
}

impl HostPaths {
    /// The same layout below another root (for fixtures).
    pub fn under(root: &Path) -> Self {
        HostPaths {
            proc: root.join("proc"),
            etc: root.join("etc"),
            sys: root.join("sys"),
            var_lib: root.join("var/lib"),
            usr_lib: root.join("usr/lib"),
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The host's name (kernel hostname).
pub fn hostname(paths: &HostPaths) -> String {
    read_trimmed(&paths.proc.join("sys/kernel/hostname")).unwrap_or_else(|| "unknown".into())
}

/// Pretty OS name from `os-release` (`/etc`, then `/usr/lib`).
pub fn os_name(paths: &HostPaths) -> String {
    [
        paths.etc.join("os-release"),
        paths.usr_lib.join("os-release"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .and_then(|s| parse_os_release(&s))
    .unwrap_or_else(|| "Linux".into())
}

/// Kernel release, e.g. `6.1.0-18-amd64`.
pub fn kernel(paths: &HostPaths) -> String {
    read_trimmed(&paths.proc.join("sys/kernel/osrelease")).unwrap_or_else(|| "unknown".into())
}

/// Machine architecture as the kernel reports it (`uname -m`).
pub fn arch() -> String {
    // SAFETY: `uname` fills the zeroed struct; `machine` is NUL-terminated
    // within its fixed size by the kernel.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            let s = std::ffi::CStr::from_ptr(u.machine.as_ptr()).to_string_lossy();
            if !s.is_empty() {
                return s.into_owned();
            }
        }
    }
    std::env::consts::ARCH.to_string()
}

/// Host uptime in whole seconds.
pub fn uptime_secs(paths: &HostPaths) -> u64 {
    std::fs::read_to_string(paths.proc.join("uptime"))
        .ok()
        .and_then(|s| parse_uptime(&s))
        .unwrap_or(0)
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// Builds host reports and measures the agent's CPU use between two of them.
#[derive(Debug)]
pub struct HostCollector {
    paths: HostPaths,
    agent_version: String,
    ticks_per_sec: u64,
    last_cpu: Option<(Instant, u64)>,
}

impl HostCollector {
    pub fn new(paths: HostPaths, agent_version: impl Into<String>) -> Self {
        HostCollector {
            paths,
            agent_version: agent_version.into(),
            ticks_per_sec: clock_ticks_per_sec(),
            last_cpu: None,
        }
    }

    /// The facts that identify the host (no resource use): cheap enough to
    /// compare often with [`HostReport::differs_materially`].
    pub fn host_facts(&self) -> HostReport {
        HostReport {
            hostname: hostname(&self.paths),
            os: os_name(&self.paths),
            kernel: kernel(&self.paths),
            arch: arch(),
            ips: public_ips(interface_ips()),
            agent_version: self.agent_version.clone(),
            agent_cpu_percent: 0.0,
            agent_rss_bytes: 0,
            uptime_secs: uptime_secs(&self.paths),
        }
    }

    /// A full report; the CPU figure is averaged since the previous call
    /// (since process start for the first one).
    pub fn collect(&mut self) -> HostReport {
        let mut r = self.host_facts();
        r.agent_rss_bytes = std::fs::read_to_string(self.paths.proc.join("self/status"))
            .ok()
            .and_then(|s| parse_status_rss_bytes(&s))
            .unwrap_or(0);
        r.agent_cpu_percent = self.cpu_percent();
        r
    }

    fn cpu_percent(&mut self) -> f32 {
        let Some(ticks) = std::fs::read_to_string(self.paths.proc.join("self/stat"))
            .ok()
            .and_then(|s| parse_proc_stat_cpu_ticks(&s))
        else {
            return 0.0;
        };
        let now = Instant::now();
        let pct = match self.last_cpu {
            Some((at, before)) => {
                let secs = now.duration_since(at).as_secs_f64();
                cpu_percent(ticks.saturating_sub(before), self.ticks_per_sec, secs)
            }
            None => 0.0,
        };
        self.last_cpu = Some((now, ticks));
        pct
    }
}

/// Percent of one core used by `ticks` clock ticks over `secs` seconds.
pub fn cpu_percent(ticks: u64, ticks_per_sec: u64, secs: f64) -> f32 {
    if secs <= 0.0 || ticks_per_sec == 0 {
        return 0.0;
    }
    (ticks as f64 / ticks_per_sec as f64 / secs * 100.0) as f32
}

#[cfg(test)]
mod tests;
