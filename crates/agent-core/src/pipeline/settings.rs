//! `[spool]` and `[collect.auth]` of `agent.toml` (typed, with defaults).
//!
//! ```toml
//! [spool]
//! max_bytes = 67108864      # 64 MiB for all segment files
//! segment_bytes = 4194304   # 4 MiB per segment file
//! max_files = 64
//! fsync_ms = 1000           # longest time an event waits for fsync (0: every append)
//!
//! [collect.auth]
//! enabled = true
//! paths = ["/var/log/auth.log", "/var/log/secure"]
//! journald = "auto"         # auto (when none of paths exists) | on | off
//! journalctl = "journalctl"
//! wtmp = true               # read wtmp_path (logins) and btmp_path (failed logins)
//! wtmp_path = "/var/log/wtmp"
//! btmp_path = "/var/log/btmp"
//! start_at = "end"          # without a saved position: "end" or "beginning" of existing files
//! max_line_bytes = 16384
//! max_lines_per_sec = 20000
//! poll_ms = 2000
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_collect_auth::{AuthConfig, JournaldMode};
use ward_spool::SpoolConfig;

/// `[spool]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolSettings {
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub max_files: u64,
    pub fsync_ms: u64,
}

impl Default for SpoolSettings {
    fn default() -> Self {
        let d = SpoolConfig::default();
        SpoolSettings {
            max_bytes: d.max_bytes,
            segment_bytes: d.segment_bytes,
            max_files: d.max_files as u64,
            fsync_ms: d.fsync_interval.as_millis() as u64,
        }
    }
}

impl SpoolSettings {
    pub fn to_config(&self) -> SpoolConfig {
        SpoolConfig {
            max_bytes: self.max_bytes,
            segment_bytes: self.segment_bytes,
            max_files: usize::try_from(self.max_files).unwrap_or(usize::MAX),
            max_record_bytes: SpoolConfig::default()
                .max_record_bytes
                .min(usize::try_from(self.segment_bytes / 2).unwrap_or(usize::MAX)),
            fsync_interval: Duration::from_millis(self.fsync_ms),
        }
    }

    pub fn problems(&self) -> Vec<String> {
        self.to_config()
            .problems()
            .into_iter()
            .map(|p| format!("spool: {p}"))
            .collect()
    }
}

/// `[collect]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectSettings {
    pub auth: AuthSettings,
    /// `[collect.process]` (see `pipeline::host_settings`).
    pub process: super::host_settings::ProcessSettings,
    /// `[collect.files]` (see `pipeline::host_settings`).
    pub files: super::host_settings::FilesSettings,
}

/// `[collect.auth]`: the login collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub enabled: bool,
    pub paths: Vec<String>,
    /// `auto`, `on` or `off`.
    pub journald: String,
    pub journalctl: String,
    pub wtmp: bool,
    pub wtmp_path: String,
    pub btmp_path: String,
    /// `end` or `beginning`.
    pub start_at: String,
    pub max_line_bytes: u64,
    pub max_lines_per_sec: u64,
    pub poll_ms: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            enabled: true,
            paths: vec!["/var/log/auth.log".into(), "/var/log/secure".into()],
            journald: "auto".into(),
            journalctl: "journalctl".into(),
            wtmp: true,
            wtmp_path: "/var/log/wtmp".into(),
            btmp_path: "/var/log/btmp".into(),
            start_at: "end".into(),
            max_line_bytes: 16 * 1024,
            max_lines_per_sec: 20_000,
            poll_ms: 2000,
        }
    }
}

impl AuthSettings {
    fn journald_mode(&self) -> Option<JournaldMode> {
        match self.journald.as_str() {
            "auto" => Some(JournaldMode::Auto),
            "on" => Some(JournaldMode::On),
            "off" => Some(JournaldMode::Off),
            _ => None,
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.journald_mode().is_none() {
            p.push(format!(
                "collect.auth.journald must be auto, on or off, got {:?}",
                self.journald
            ));
        }
        if !matches!(self.start_at.as_str(), "end" | "beginning") {
            p.push(format!(
                "collect.auth.start_at must be end or beginning, got {:?}",
                self.start_at
            ));
        }
        if !(256..=1024 * 1024).contains(&self.max_line_bytes) {
            p.push(format!(
                "collect.auth.max_line_bytes must be between 256 and 1048576, got {}",
                self.max_line_bytes
            ));
        }
        if self.max_lines_per_sec == 0 {
            p.push("collect.auth.max_lines_per_sec must be at least 1".into());
        }
        if self.poll_ms < 50 {
            p.push(format!(
                "collect.auth.poll_ms must be at least 50, got {}",
                self.poll_ms
            ));
        }
        if self.paths.iter().any(|x| x.trim().is_empty()) {
            p.push("collect.auth.paths holds an empty path".into());
        }
        p
    }

    /// The collector's configuration, positions kept in `checkpoint`.
    pub fn to_config(&self, checkpoint: PathBuf) -> AuthConfig {
        AuthConfig {
            paths: self.paths.iter().map(PathBuf::from).collect(),
            journald: self.journald_mode().unwrap_or(JournaldMode::Auto),
            journalctl: PathBuf::from(&self.journalctl),
            wtmp: self.wtmp.then(|| PathBuf::from(&self.wtmp_path)),
            btmp: self.wtmp.then(|| PathBuf::from(&self.btmp_path)),
            start_at_end: self.start_at != "beginning",
            poll_interval: Duration::from_millis(self.poll_ms),
            max_line_bytes: usize::try_from(self.max_line_bytes).unwrap_or(16 * 1024),
            max_lines_per_sec: u32::try_from(self.max_lines_per_sec).unwrap_or(u32::MAX),
            keep_raw: true,
            checkpoint_path: checkpoint,
        }
    }
}
