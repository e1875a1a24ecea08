//! What the collector reports about itself (for `ward-agent status`).

use serde::{Deserialize, Serialize};

/// One source: a file, journald, wtmp or btmp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// A path, or `journald`.
    pub source: String,
    /// `following`, `waiting` (no such file yet), `error` or `stopped`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Lines (or records) read.
    pub lines: u64,
    /// Events produced.
    pub events: u64,
}

/// The collector as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorStatus {
    /// `auth`.
    pub name: String,
    /// `running`, `stopped` or `error`.
    pub state: String,
    pub sources: Vec<SourceStatus>,
    /// Lines cut because they were too long.
    #[serde(default)]
    pub long_lines: u64,
    /// Failed hand-overs to the spool (retried).
    #[serde(default)]
    pub sink_errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
