//! Records of the agent lifecycle: published releases and the lifecycle
//! events agents report (updates installed, rolled back, refused, failed;
//! crash loops; resource caps). See the `Store` methods under "releases".

use serde::{Deserialize, Serialize};

/// A file of a release: SHA-256 (lower-case hex) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFile {
    pub sha256: String,
    pub size: u64,
}

/// One published release for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Semantic version, e.g. `0.2.0`.
    pub version: String,
    /// `linux-x86_64`, `linux-i686`, `linux-aarch64`.
    pub platform: String,
    /// `ward-agent`.
    pub agent: ReleaseFile,
    /// `ward-update`, when the release carries one.
    pub update: Option<ReleaseFile>,
    pub added_at: i64,
    pub notes: Option<String>,
}

/// Input to [`crate::Store::add_lifecycle_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLifecycleEvent {
    pub asset_id: String,
    /// When it happened on the host (Unix ms).
    pub at: i64,
    /// When the server received it.
    pub received_at: i64,
    /// `update_installed`, `update_rolled_back`, `update_refused`,
    /// `update_failed`, `crash_loop`, `resource_cap`.
    pub kind: String,
    /// `ward-agent` or `ward-update`.
    pub program: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    /// Short stable cause (`tampered`, `not_online`, …).
    pub detail: Option<String>,
    pub message: String,
}

/// A stored lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// Server-wide insertion order.
    pub seq: i64,
    pub asset_id: String,
    pub at: i64,
    pub received_at: i64,
    pub kind: String,
    pub program: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub detail: Option<String>,
    pub message: String,
}
