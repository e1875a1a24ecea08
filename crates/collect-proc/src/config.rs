//! What the process collector does and how (the agent maps
//! `[collect.process]` of `agent.toml` here).

use std::path::PathBuf;
use std::time::Duration;

/// How exec events are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The process connector, or `/proc` polling when it cannot be opened.
    Auto,
    /// The process connector only (fail when unavailable).
    Connector,
    /// `/proc` polling only (processes shorter than the interval are missed).
    Poll,
}

/// Sustained-CPU measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuConfig {
    /// How often every process's CPU time is sampled.
    pub sample: Duration,
    /// A process is reported once its average over this window reaches `percent`.
    pub window: Duration,
    /// Percent of one core.
    pub percent: u32,
}

/// TCP connection tracking (`net.connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// How often `/proc/net/tcp{,6}` is read; connections shorter than
    /// this may be missed.
    pub interval: Duration,
    /// Also report connections this host accepted.
    pub inbound: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcConfig {
    pub mode: Mode,
    /// `/proc` (a test may point elsewhere only for polling).
    pub proc_root: PathBuf,
    /// The passwd file that names users.
    pub passwd: PathBuf,
    /// dpkg's database directory (package ownership of executables).
    pub dpkg_dir: PathBuf,
    /// Polling interval in `Poll` mode (and after connector overruns).
    pub poll_interval: Duration,
    /// Report processes already running at start (`process.running`),
    /// once per process across agent restarts.
    pub snapshot: bool,
    /// Which running processes were reported (survives restarts).
    pub state_path: PathBuf,
    /// How often running processes are checked for a deleted executable.
    pub exe_check_interval: Duration,
    pub cpu: Option<CpuConfig>,
    pub net: Option<NetConfig>,
    /// Most events handed over per second; beyond, events are counted as
    /// dropped (a fork bomb must not flood the spool).
    pub max_events_per_sec: u32,
    /// Most processes the table holds.
    pub max_processes: usize,
    /// Socket receive buffer of the connector.
    pub rcvbuf: usize,
    /// Leave out the collector's own process, its children and runs of its
    /// own executable (the agent's `status`, its helpers). Tests that run
    /// the collector in-process turn it off.
    pub ignore_own: bool,
}

impl ProcConfig {
    /// Defaults with the reported set kept in `state_path`.
    pub fn new(state_path: impl Into<PathBuf>) -> ProcConfig {
        ProcConfig {
            mode: Mode::Auto,
            proc_root: "/proc".into(),
            passwd: "/etc/passwd".into(),
            dpkg_dir: "/var/lib/dpkg".into(),
            poll_interval: Duration::from_millis(1000),
            snapshot: true,
            state_path: state_path.into(),
            exe_check_interval: Duration::from_secs(10),
            cpu: Some(CpuConfig {
                sample: Duration::from_secs(30),
                window: Duration::from_secs(600),
                percent: 90,
            }),
            net: Some(NetConfig {
                // Each poll walks the kernel's whole socket hash table (the
                // cost of an idle agent is mostly this).
                interval: Duration::from_millis(5000),
                inbound: false,
            }),
            max_events_per_sec: 5000,
            max_processes: 65_536,
            rcvbuf: 4 << 20,
            ignore_own: true,
        }
    }
}
