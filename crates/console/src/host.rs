//! What the console needs from the server it is mounted in.
//!
//! `ward-server-core` implements [`ConsoleHost`] on its shared state, so the
//! console reads the same store, the same live status engine and saves the
//! policy and keys through the same code paths as the REST API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ward_proto::Policy;
use ward_store::{
    CommandRecord, Status, StatusCount, StatusReason, Store, StoreError, VerificationKey,
};

use crate::auth::ConsoleAuth;

/// The live status engine's view of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveStatus {
    pub status: Status,
    pub reason: Option<StatusReason>,
    /// When the current status began (Unix ms).
    pub since: i64,
    pub last_seen: Option<i64>,
}

/// Why saving the agent policy failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicySaveError {
    /// The values are not usable; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The server failed (details are in the server log).
    #[error("saving the policy failed")]
    Internal,
}

/// What an uninstall request did for one server.
#[derive(Debug, Clone, PartialEq)]
pub struct UninstallResult {
    pub asset_id: String,
    /// `sent`, `queued`, `offline`, `uninstalled`, `not_found`, `unsupported`.
    pub delivery: String,
    pub message: String,
    pub command: Option<CommandRecord>,
}

/// Tamper protection per group (the API's `settings/tamper-protection`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TamperProtection {
    pub default: bool,
    pub groups: BTreeMap<String, bool>,
}

impl TamperProtection {
    /// Whether an asset in `group` is protected.
    pub fn protects(&self, group: Option<&str>) -> bool {
        group
            .and_then(|g| self.groups.get(g).copied())
            .unwrap_or(self.default)
    }
}

/// A freshly issued uninstall token (shown once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: i64,
    pub actions: Vec<String>,
}

/// The server as the console sees it.
#[async_trait]
pub trait ConsoleHost: Send + Sync + 'static {
    fn store(&self) -> &dyn Store;
    fn auth(&self) -> &ConsoleAuth;
    /// The live engine's status of an asset, fresher than the store's.
    fn live_status(&self, asset_id: &str) -> Option<LiveStatus>;
    /// Asset counts per (status, reason), from the live engine.
    fn status_counts(&self) -> Vec<StatusCount>;
    /// True when the asset has a session open right now.
    fn is_online(&self, asset_id: &str) -> bool;
    /// Agent sessions open right now.
    fn online_count(&self) -> usize;
    /// The agent policy in force.
    fn policy(&self) -> Policy;
    /// Validates, stores and pushes a new policy to every live session (the
    /// same path as `PUT /api/v1/settings/policy`).
    async fn save_policy(&self, policy: Policy) -> Result<Policy, PolicySaveError>;
    /// Creates a verification key (the same path as `POST /api/v1/keys`).
    async fn create_key(
        &self,
        label: &str,
        default_group: Option<String>,
    ) -> Result<VerificationKey, StoreError>;
    /// The one-line install command for a key secret and platform.
    fn install_command(&self, key_secret: &str, platform: &str) -> String;
    /// The URL agents use to reach this server.
    fn server_url(&self) -> String;

    // --- agent lifecycle (the same paths as the REST API) ---
    /// Uninstalls these servers: sent to online ones, queued for offline
    /// ones when `queue`, expiring after `expires_in_secs`.
    async fn uninstall(
        &self,
        ids: Vec<String>,
        queue: bool,
        expires_in_secs: u64,
    ) -> Result<Vec<UninstallResult>, StoreError>;
    /// The pending (queued or not yet answered) commands of these assets.
    async fn pending_commands(&self, ids: &[String]) -> Vec<CommandRecord>;
    /// The newest commands of one asset.
    async fn commands_of(&self, id: &str) -> Result<Vec<CommandRecord>, StoreError>;
    /// Cancels a pending command (`Conflict` when it is not pending).
    async fn cancel_command(&self, id: &str) -> Result<CommandRecord, StoreError>;
    /// Tamper protection in force.
    fn tamper_protection(&self) -> TamperProtection;
    /// Validates, stores and pushes new tamper-protection settings.
    async fn save_tamper_protection(&self, t: TamperProtection) -> Result<(), PolicySaveError>;
    /// Signs an uninstall token for an asset (stop and uninstall, `secs` long).
    fn issue_uninstall_token(&self, asset_id: &str, secs: u64) -> Result<IssuedToken, String>;
    /// The one-line uninstall command (append `--prefix DIR`, `--token T`).
    fn uninstall_command(&self) -> String;
}
