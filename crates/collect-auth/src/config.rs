//! What the collector reads and how.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether journald is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournaldMode {
    /// When none of the log files exists at start and `journalctl` is found.
    Auto,
    On,
    Off,
}

/// Collector settings (the agent maps `[collect.auth]` of `agent.toml` here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Text auth logs to follow.
    pub paths: Vec<PathBuf>,
    pub journald: JournaldMode,
    /// The `journalctl` program (a bare name is looked up in `PATH`).
    pub journalctl: PathBuf,
    /// `wtmp` (logins) and `btmp` (failed logins); `None` skips one.
    pub wtmp: Option<PathBuf>,
    pub btmp: Option<PathBuf>,
    /// Without a saved position, read an existing file from its end (true)
    /// or its start. Files that appear later are always read from the start.
    pub start_at_end: bool,
    /// Polling period when nothing is signalled (inotify catches most).
    pub poll_interval: Duration,
    /// Longer lines are cut to this many bytes.
    pub max_line_bytes: usize,
    /// Most lines (and records) read per second; reading lags beyond it,
    /// nothing is dropped.
    pub max_lines_per_sec: u32,
    /// Keep each event's original line (`raw`).
    pub keep_raw: bool,
    /// Where read positions are persisted.
    pub checkpoint_path: PathBuf,
}

impl AuthConfig {
    /// Defaults with positions kept in `checkpoint_path`.
    pub fn new(checkpoint_path: impl Into<PathBuf>) -> AuthConfig {
        AuthConfig {
            paths: vec!["/var/log/auth.log".into(), "/var/log/secure".into()],
            journald: JournaldMode::Auto,
            journalctl: "journalctl".into(),
            wtmp: Some("/var/log/wtmp".into()),
            btmp: Some("/var/log/btmp".into()),
            start_at_end: true,
            poll_interval: Duration::from_secs(2),
            max_line_bytes: 16 * 1024,
            max_lines_per_sec: 20_000,
            keep_raw: true,
            checkpoint_path: checkpoint_path.into(),
        }
    }
}

/// `journalctl` resolved against `PATH`, if it exists.
pub fn find_program(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
