//! What the console needs from the server it is mounted in.
//!
//! `ward-server-core` implements [`ConsoleHost`] on its shared state, so the
//! console reads the same store, the same live status engine and saves the
//! policy and keys through the same code paths as the REST API.

use async_trait::async_trait;
use ward_proto::Policy;
use ward_store::{Status, StatusCount, StatusReason, Store, StoreError, VerificationKey};

use crate::auth::ConsoleAuth;
pub use ward_release::Rollout;

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

/// Why saving the rollout controls failed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutSaveError {
    /// The values are not usable; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The server failed or cannot save them (details in the server log).
    #[error("saving the rollout failed")]
    Internal,
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
    /// The rollout controls in force (the same as `GET /api/v1/settings/rollout`).
    async fn rollout(&self) -> Result<Rollout, StoreError> {
        Ok(Rollout::default())
    }
    /// Validates and saves the rollout controls (the same path as
    /// `PUT /api/v1/settings/rollout`). Hosts without releases refuse.
    async fn save_rollout(&self, _rollout: Rollout) -> Result<(), RolloutSaveError> {
        Err(RolloutSaveError::Internal)
    }
    /// The release public key agents verify release metadata with.
    fn release_key(&self) -> Option<String> {
        None
    }
}
