//! The updater's HTTPS calls (see the crate docs, "Agent lifecycle
//! (updater and guardian)"): the release offer and lifecycle reports.

use serde::{Deserialize, Serialize};

/// `GET RELEASE_PATH`: what the server offers this agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseOffer {
    /// The signed release metadata envelope (JSON text).
    pub metadata: String,
    /// The version the rollout chose for this agent (`None`: no release).
    pub target: Option<String>,
    /// Why: `group`, `percentage`, `previous`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The release public key (standard base64).
    pub release_key: String,
}

/// What a lifecycle report tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleKind {
    /// A release was installed and its agent came online.
    UpdateInstalled,
    /// A release was installed but its agent did not come online in time;
    /// the previous version runs again.
    UpdateRolledBack,
    /// A release was refused (bad signature, tampered file, older version,
    /// expired or rolled-back metadata...); `detail` names the check.
    UpdateRefused,
    /// Downloading or installing a release failed (nothing was switched).
    UpdateFailed,
    /// A guarded program kept dying; its restarts now back off.
    CrashLoop,
    /// The agent went over its RSS or CPU cap and restarted itself.
    ResourceCap,
}

impl LifecycleKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            LifecycleKind::UpdateInstalled => "update_installed",
            LifecycleKind::UpdateRolledBack => "update_rolled_back",
            LifecycleKind::UpdateRefused => "update_refused",
            LifecycleKind::UpdateFailed => "update_failed",
            LifecycleKind::CrashLoop => "crash_loop",
            LifecycleKind::ResourceCap => "resource_cap",
        }
    }

    pub fn parse(s: &str) -> Option<LifecycleKind> {
        [
            LifecycleKind::UpdateInstalled,
            LifecycleKind::UpdateRolledBack,
            LifecycleKind::UpdateRefused,
            LifecycleKind::UpdateFailed,
            LifecycleKind::CrashLoop,
            LifecycleKind::ResourceCap,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Longest `message` of a [`LifecycleReport`] the server keeps.
pub const MAX_LIFECYCLE_MESSAGE: usize = 2048;

/// `POST LIFECYCLE_PATH` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleReport {
    pub kind: LifecycleKind,
    /// `ward-agent` or `ward-update`: the program the report is about.
    pub program: String,
    /// When it happened on the host (Unix ms).
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
    /// A short stable name of the cause (`tampered`, `bad_signature`,
    /// `older_version`, `expired_metadata`, `not_online`, `rss`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One line for people.
    pub message: String,
}
