//! What the process collector reports about itself (for `ward-agent status`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcStatus {
    /// `starting`, `running`, `stopped` or `error`.
    pub state: String,
    /// `connector` or `poll`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Exec events handled.
    pub execs: u64,
    /// Events handed over (all kinds).
    pub events: u64,
    /// Execs of processes gone before any detail could be read.
    pub missed: u64,
    /// Times the connector overflowed (events lost, `/proc` rescanned).
    pub overruns: u64,
    /// Events dropped by the rate limit.
    pub dropped: u64,
    pub sink_errors: u64,
    /// Processes in the table.
    pub processes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
