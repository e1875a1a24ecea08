//! `[collect.process]` and `[collect.files]` of `agent.toml` (typed, with
//! defaults; every key has a `WARD_AGENT_COLLECT_PROCESS_*` /
//! `WARD_AGENT_COLLECT_FILES_*` override).
//!
//! ```toml
//! [collect.process]
//! enabled = true
//! mode = "auto"              # auto (connector, else /proc polling) | connector | poll
//! poll_ms = 1000             # /proc polling interval (poll mode)
//! snapshot = true            # report processes running at start, once each
//! exe_check_secs = 10        # how often running executables are checked for deletion
//! cpu = true                 # sustained-CPU reports
//! cpu_sample_secs = 30
//! cpu_window_secs = 600
//! cpu_percent = 90           # percent of one core over the whole window
//! connections = true         # new TCP connections (net.connect)
//! connections_poll_ms = 5000   # connections shorter than this may be missed
//! connections_inbound = false
//! max_events_per_sec = 5000
//!
//! [collect.files]
//! enabled = true
//! backend = "auto"           # auto (fanotify, else inotify) | fanotify | inotify
//! fim_paths = ["/etc", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/boot"]
//! exclude = ["*.swp", "*~", ...]   # entry names never reported (globs)
//! history = true             # shell history files
//! logs = true                # /var/log entries
//! temp = true                # /tmp, /var/tmp, /dev/shm entries
//! scan_interval_secs = 3600  # full walk (metadata; hashes what changed)
//! hash_max_bytes = 67108864  # larger files: metadata only
//! settle_ms = 100
//! max_dirs = 20000
//! max_files = 500000
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_collect_files::{Backend, FilesConfig, DEFAULT_EXCLUDE_NAMES, DEFAULT_FIM_PATHS};
use ward_collect_proc::{CpuConfig, Mode, NetConfig, ProcConfig};

/// `[collect.process]`: the process collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessSettings {
    pub enabled: bool,
    /// `auto`, `connector` or `poll`.
    pub mode: String,
    pub poll_ms: u64,
    pub snapshot: bool,
    pub exe_check_secs: u64,
    pub cpu: bool,
    pub cpu_sample_secs: u64,
    pub cpu_window_secs: u64,
    pub cpu_percent: u32,
    pub connections: bool,
    pub connections_poll_ms: u64,
    pub connections_inbound: bool,
    pub max_events_per_sec: u32,
}

impl Default for ProcessSettings {
    fn default() -> Self {
        let d = ProcConfig::new("");
        let cpu = d.cpu.clone().unwrap_or(CpuConfig {
            sample: Duration::from_secs(30),
            window: Duration::from_secs(600),
            percent: 90,
        });
        let net = d.net.clone().unwrap_or(NetConfig {
            interval: Duration::from_secs(1),
            inbound: false,
        });
        ProcessSettings {
            enabled: true,
            mode: "auto".into(),
            poll_ms: d.poll_interval.as_millis() as u64,
            snapshot: d.snapshot,
            exe_check_secs: d.exe_check_interval.as_secs(),
            cpu: true,
            cpu_sample_secs: cpu.sample.as_secs(),
            cpu_window_secs: cpu.window.as_secs(),
            cpu_percent: cpu.percent,
            connections: true,
            connections_poll_ms: net.interval.as_millis() as u64,
            connections_inbound: net.inbound,
            max_events_per_sec: d.max_events_per_sec,
        }
    }
}

impl ProcessSettings {
    fn mode(&self) -> Option<Mode> {
        match self.mode.as_str() {
            "auto" => Some(Mode::Auto),
            "connector" => Some(Mode::Connector),
            "poll" => Some(Mode::Poll),
            _ => None,
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.mode().is_none() {
            p.push(format!(
                "collect.process.mode must be auto, connector or poll, got {:?}",
                self.mode
            ));
        }
        let mut at_least = |key: &str, v: u64, min: u64| {
            if v < min {
                p.push(format!(
                    "collect.process.{key} must be at least {min}, got {v}"
                ));
            }
        };
        at_least("poll_ms", self.poll_ms, 50);
        at_least("exe_check_secs", self.exe_check_secs, 1);
        at_least("cpu_sample_secs", self.cpu_sample_secs, 1);
        at_least(
            "cpu_window_secs",
            self.cpu_window_secs,
            self.cpu_sample_secs.max(1),
        );
        at_least("connections_poll_ms", self.connections_poll_ms, 100);
        at_least("max_events_per_sec", u64::from(self.max_events_per_sec), 1);
        if !(1..=100 * 64).contains(&self.cpu_percent) {
            p.push(format!(
                "collect.process.cpu_percent must be between 1 and 6400, got {}",
                self.cpu_percent
            ));
        }
        p
    }

    /// The collector's configuration, the reported set kept in `state`.
    pub fn to_config(&self, state: PathBuf) -> ProcConfig {
        let mut c = ProcConfig::new(state);
        c.mode = self.mode().unwrap_or(Mode::Auto);
        c.poll_interval = Duration::from_millis(self.poll_ms);
        c.snapshot = self.snapshot;
        c.exe_check_interval = Duration::from_secs(self.exe_check_secs);
        c.cpu = self.cpu.then(|| CpuConfig {
            sample: Duration::from_secs(self.cpu_sample_secs),
            window: Duration::from_secs(self.cpu_window_secs),
            percent: self.cpu_percent,
        });
        c.net = self.connections.then(|| NetConfig {
            interval: Duration::from_millis(self.connections_poll_ms),
            inbound: self.connections_inbound,
        });
        c.max_events_per_sec = self.max_events_per_sec;
        c
    }
}

/// `[collect.files]`: the file collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSettings {
    pub enabled: bool,
    /// `auto`, `fanotify` or `inotify`.
    pub backend: String,
    pub fim_paths: Vec<String>,
    pub exclude: Vec<String>,
    pub history: bool,
    pub logs: bool,
    pub temp: bool,
    pub scan_interval_secs: u64,
    pub hash_max_bytes: u64,
    pub settle_ms: u64,
    pub max_dirs: u64,
    pub max_files: u64,
}

impl Default for FilesSettings {
    fn default() -> Self {
        let d = FilesConfig::new("");
        FilesSettings {
            enabled: true,
            backend: "auto".into(),
            fim_paths: DEFAULT_FIM_PATHS.iter().map(|s| s.to_string()).collect(),
            exclude: DEFAULT_EXCLUDE_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            history: d.history,
            logs: d.logs,
            temp: d.temp,
            scan_interval_secs: d.scan_interval.as_secs(),
            hash_max_bytes: d.hash_max_bytes,
            settle_ms: d.settle.as_millis() as u64,
            max_dirs: d.max_dirs as u64,
            max_files: d.max_files as u64,
        }
    }
}

impl FilesSettings {
    fn backend(&self) -> Option<Backend> {
        match self.backend.as_str() {
            "auto" => Some(Backend::Auto),
            "fanotify" => Some(Backend::Fanotify),
            "inotify" => Some(Backend::Inotify),
            _ => None,
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.backend().is_none() {
            p.push(format!(
                "collect.files.backend must be auto, fanotify or inotify, got {:?}",
                self.backend
            ));
        }
        for f in &self.fim_paths {
            if !Path::new(f).is_absolute() {
                p.push(format!(
                    "collect.files.fim_paths holds a relative path {f:?}"
                ));
            }
        }
        if self.exclude.iter().any(|g| g.is_empty() || g.len() > 256) {
            p.push("collect.files.exclude holds an empty or over-long pattern".into());
        }
        if self.scan_interval_secs < 60 {
            p.push(format!(
                "collect.files.scan_interval_secs must be at least 60, got {}",
                self.scan_interval_secs
            ));
        }
        if !(10..=10_000).contains(&self.settle_ms) {
            p.push(format!(
                "collect.files.settle_ms must be between 10 and 10000, got {}",
                self.settle_ms
            ));
        }
        if self.max_dirs == 0 || self.max_files == 0 || self.hash_max_bytes == 0 {
            p.push("collect.files.max_dirs, max_files and hash_max_bytes must be positive".into());
        }
        p
    }

    /// The collector's configuration: state files in `data`, the agent's
    /// own `prefix` never reported.
    pub fn to_config(&self, data: &Path, prefix: &Path) -> FilesConfig {
        let mut c = FilesConfig::new(data);
        c.backend = self.backend().unwrap_or(Backend::Auto);
        c.fim_paths = self.fim_paths.iter().map(PathBuf::from).collect();
        c.exclude_names = self.exclude.clone();
        c.exclude_paths = vec![prefix.to_path_buf()];
        c.history = self.history;
        c.logs = self.logs;
        c.temp = self.temp;
        c.scan_interval = Duration::from_secs(self.scan_interval_secs);
        c.hash_max_bytes = self.hash_max_bytes;
        c.settle = Duration::from_millis(self.settle_ms);
        c.max_dirs = usize::try_from(self.max_dirs).unwrap_or(usize::MAX);
        c.max_files = usize::try_from(self.max_files).unwrap_or(usize::MAX);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_map_to_the_collectors() {
        let p = ProcessSettings::default();
        assert!(p.problems().is_empty(), "{:?}", p.problems());
        let c = p.to_config("/d/collect-proc.json".into());
        assert_eq!(c.mode, Mode::Auto);
        assert_eq!(c.cpu.unwrap().window, Duration::from_secs(600));
        let f = FilesSettings::default();
        assert!(f.problems().is_empty(), "{:?}", f.problems());
        let c = f.to_config(Path::new("/p/data"), Path::new("/p"));
        assert_eq!(c.baseline_path, Path::new("/p/data/fim-baseline"));
        assert_eq!(c.exclude_paths, vec![PathBuf::from("/p")]);
        assert!(c.fim_paths.contains(&PathBuf::from("/etc")));
    }

    #[test]
    fn bad_values_are_named() {
        let p = ProcessSettings {
            mode: "magic".into(),
            poll_ms: 1,
            cpu_percent: 0,
            ..ProcessSettings::default()
        };
        let e = p.problems().join("; ");
        assert!(
            e.contains("collect.process.mode")
                && e.contains("poll_ms")
                && e.contains("cpu_percent"),
            "{e}"
        );
        let f = FilesSettings {
            backend: "dnotify".into(),
            fim_paths: vec!["etc".into()],
            settle_ms: 0,
            ..FilesSettings::default()
        };
        let e = f.problems().join("; ");
        assert!(
            e.contains("backend") && e.contains("relative path") && e.contains("settle_ms"),
            "{e}"
        );
    }
}
