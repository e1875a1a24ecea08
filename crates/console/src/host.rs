//! What the console needs from the server it is mounted in.
//!
//! `ward-server-core` implements [`ConsoleHost`] on its shared state, so the
//! console reads the same store, the same live status engine and saves the
//! policy and keys through the same code paths as the REST API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ward_proto::Policy;
use ward_store::{
    AlertState, CommandRecord, Status, StatusCount, StatusReason, Store, StoreError,
    VerificationKey, WhitelistEntry,
};

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

/// Why an alert or settings action was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The input is not usable; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// No such alert or entry.
    #[error("{0}")]
    NotFound(String),
    /// It exists already.
    #[error("{0}")]
    Conflict(String),
    /// The server failed (details are in the server log).
    #[error("the server could not do this (see the server log)")]
    Internal,
}

/// A whitelist entry to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhitelistInput {
    /// A rule id, or `*` for every rule.
    pub rule_id: String,
    /// A field name (`SourceIp`, `User`, ...).
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    /// The alert it is made from (it must match, and becomes whitelisted).
    pub from_alert: Option<i64>,
}

/// A detection rule in force, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub id: String,
    pub title: String,
    /// Shown with the rule's alerts (the Sigma licence asks for it).
    pub author: Option<String>,
    /// True when the rule raises alerts of its own.
    pub alerts: bool,
}

/// Where alerts go besides the console, as the settings form edits them:
/// text fields, empty meaning "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputsForm {
    /// `http://` or `https://` URL receiving a JSON `POST` per alert.
    pub webhook_url: String,
    /// A header carrying a shared secret (e.g. `X-Ward-Token`).
    pub webhook_header_name: String,
    /// A new secret value; empty keeps the stored one of the same header.
    pub webhook_header_value: String,
    /// True when a secret value is stored (it is never shown).
    pub webhook_header_set: bool,
    /// `host:port` of an RFC 5424 syslog collector.
    pub syslog_target: String,
    /// `udp` or `tcp`.
    pub syslog_transport: String,
    /// Facility number 0–23.
    pub syslog_facility: String,
}

/// Delivery counters of one output since the server started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputCounters {
    pub name: &'static str,
    pub sent: u64,
    pub given_up: u64,
    pub dropped: u64,
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

    // --- alerts (the same code paths as the alerts API) ---
    /// Sets an alert's state (`unhandled`, `handled` or `ignored`).
    async fn set_alert_state(&self, id: i64, state: AlertState) -> Result<(), ActionError>;
    /// Adds a whitelist entry (and whitelists the alert it was made from).
    async fn add_whitelist(&self, entry: WhitelistInput) -> Result<WhitelistEntry, ActionError>;
    async fn delete_whitelist(&self, id: i64) -> Result<(), ActionError>;
    /// The rules in force, for filters and rule names.
    fn rules(&self) -> Vec<RuleSummary>;
    /// The alert output settings (secret values left out).
    async fn outputs(&self) -> Result<OutputsForm, ActionError>;
    /// Validates, stores and applies new output settings.
    async fn save_outputs(&self, form: OutputsForm) -> Result<(), ActionError>;
    /// Delivery counters of the outputs.
    fn output_counters(&self) -> Vec<OutputCounters>;
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
