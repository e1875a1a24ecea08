//! What the file collector reports about itself (for `ward-agent status`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesStatus {
    /// `starting` (first scan), `running`, `stopped` or `error`.
    pub state: String,
    /// `fanotify`, `inotify` or `none` (periodic scans only).
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Directories watched.
    pub dirs: u64,
    /// Paths in the baseline.
    pub files: u64,
    /// Events handed over.
    pub events: u64,
    /// Full scans done.
    pub scans: u64,
    /// Kernel queue overflows (each causes a rescan).
    pub overflows: u64,
    pub sink_errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
