//! Ward's storage interface.
//!
//! This crate owns the [`Store`] trait, the records it stores, and a
//! conformance suite ([`testsuite`], feature `testsuite`) that every backend
//! runs from its own tests. Backends live in their own crates with their own
//! forward-only migrations (`ward-store-sqlite`; PostgreSQL later). Nothing
//! outside a backend crate knows which database is in use.
//!
//! Besides assets, keys, tokens, events and alerts it stores the agent
//! lifecycle: signed commands with their queue state and expiry, and the
//! assets made for cloned installs ([`Reidentification`]).
//!
//! Times are Unix milliseconds (`i64`) everywhere in this interface.
//! Secrets (agent credentials, API tokens) are stored only as SHA-256 hashes;
//! verification keys are stored in clear because the console shows them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ward_proto::{HostReport, Policy};

#[cfg(feature = "testsuite")]
pub mod testsuite;

mod commands;
pub use commands::{
    CommandQuery, CommandRecord, CommandState, CommandUpdate, NewCommand, Reidentification,
};

mod detection;
mod lifecycle;
pub use detection::{
    AlertCount, AlertInsert, AlertQuery, AlertRecord, AlertSeverity, AlertState, IngestOutcome,
    NewAlert, NewWhitelistEntry, RuleSource, SpoolStats, StoredEvent, WhitelistEntry,
};
pub use lifecycle::{LifecycleEvent, NewLifecycleEvent, Release, ReleaseFile};

/// Errors every backend maps its own errors into.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness or state rule was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database was written by a newer Ward (migration newer than this binary knows).
    #[error("the store has schema version {found}, newer than this ward-server knows ({known}); upgrade ward-server")]
    SchemaTooNew { found: i64, known: i64 },
    /// The backend failed (I/O, corruption, connection lost...).
    #[error("storage backend error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A verification key (SPEC L1): presented once by an installer to enroll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationKey {
    /// Public id, e.g. `key_3f9a…` (used in URLs and `keys revoke`).
    pub id: String,
    /// The secret presented at enrollment, e.g. `wk_…`.
    pub secret: String,
    pub label: String,
    /// Group given to assets this key enrolls.
    pub default_group: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Input to [`Store::create_key`]. The caller generates id and secret.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub secret: String,
    pub label: String,
    pub default_group: Option<String>,
    pub created_at: i64,
}

/// Asset status as the console and API show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Protected,
    Unprotected,
    Updating,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Protected => "protected",
            Status::Unprotected => "unprotected",
            Status::Updating => "updating",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "protected" => Some(Status::Protected),
            "unprotected" => Some(Status::Unprotected),
            "updating" => Some(Status::Updating),
            _ => None,
        }
    }
}

/// Why an asset is unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    Offline,
    NeverConnected,
    Uninstalled,
}

impl StatusReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StatusReason::Offline => "offline",
            StatusReason::NeverConnected => "never_connected",
            StatusReason::Uninstalled => "uninstalled",
        }
    }
    pub fn parse(s: &str) -> Option<StatusReason> {
        match s {
            "offline" => Some(StatusReason::Offline),
            "never_connected" => Some(StatusReason::NeverConnected),
            "uninstalled" => Some(StatusReason::Uninstalled),
            _ => None,
        }
    }
}

/// A protected (or once protected) server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub hostname: String,
    pub ips: Vec<String>,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub platform: String,
    pub agent_version: String,
    pub group: Option<String>,
    pub fingerprint: String,
    pub status: Status,
    pub status_reason: Option<StatusReason>,
    /// When the current status (and reason) began.
    pub status_since: i64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Remote address of the last session.
    pub last_addr: Option<String>,
    /// Last connection error the agent reported.
    pub last_error: Option<String>,
    /// Endpoint the agent said it used for its last session.
    pub last_endpoint: Option<String>,
    pub enrolled_at: i64,
    pub enrolled_with_key: Option<String>,
    /// Latest full host report.
    pub report: Option<HostReport>,
    pub report_at: Option<i64>,
    /// Spool health the agent last reported (see [`Store::set_spool_stats`]).
    #[serde(default)]
    pub spool: Option<SpoolStats>,
}

/// Input to [`Store::enroll`].
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// Id for a new asset (ignored when an asset is reclaimed).
    pub new_id: String,
    pub key_id: String,
    pub fingerprint: String,
    pub platform: String,
    /// SHA-256 hex of the new credential's secret.
    pub credential_hash: String,
    pub report: HostReport,
    pub at: i64,
}

/// What enrollment did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    pub asset: Asset,
    /// True when an existing asset with the same fingerprint, not uninstalled,
    /// was given the new credential instead of creating a second asset.
    pub reclaimed: bool,
}

/// What the gateway needs to authenticate a session.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAuth {
    pub asset_id: String,
    pub credential_hash: String,
    pub fingerprint: String,
    pub status: Status,
    pub status_reason: Option<StatusReason>,
}

/// A status transition, also appended to the asset's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: Status,
    pub reason: Option<StatusReason>,
    pub at: i64,
    /// Free text shown in the timeline (e.g. "no keepalive for 90 s").
    pub detail: Option<String>,
}

/// One entry of an asset's status timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub asset_id: String,
    pub status: Status,
    pub reason: Option<StatusReason>,
    pub at: i64,
    pub detail: Option<String>,
}

/// Facts recorded when a session starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStart {
    pub at: i64,
    pub addr: String,
    pub endpoint: Option<String>,
    pub last_error: Option<String>,
    pub agent_version: String,
}

/// Filter and page of [`Store::list_assets`]. Keyset pagination on
/// `(hostname, id)`: pass the previous page's `next_cursor` as `after`.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    pub status: Option<Status>,
    pub reason: Option<StatusReason>,
    pub group: Option<String>,
    /// Case-insensitive substring of hostname, or of an IP address.
    pub search: Option<String>,
    pub after: Option<String>,
    /// Page size; backends cap it at 1000.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque cursor of the next page, `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Count of assets per (status, reason), for the overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCount {
    pub status: Status,
    pub reason: Option<StatusReason>,
    pub count: u64,
}

/// Count of assets per agent version, for the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionCount {
    pub version: String,
    pub count: u64,
}

/// A group and how many assets are in it, for the console's group filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCount {
    pub group: String,
    pub count: u64,
}

/// The status-relevant part of an asset, loaded at server start.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetLiveness {
    pub asset_id: String,
    pub status: Status,
    pub status_reason: Option<StatusReason>,
    pub status_since: i64,
    pub last_seen: Option<i64>,
}

/// An API bearer token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The storage interface. One implementation per backend crate; every
/// implementation must pass [`testsuite`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs and `/metrics` (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    // --- verification keys ---
    /// `Conflict` if the id or the secret is already used.
    async fn create_key(&self, key: NewKey) -> Result<VerificationKey>;
    async fn list_keys(&self) -> Result<Vec<VerificationKey>>;
    async fn get_key(&self, id: &str) -> Result<Option<VerificationKey>>;
    async fn find_key_by_secret(&self, secret: &str) -> Result<Option<VerificationKey>>;
    /// Revokes a key; `NotFound` if no such key. Revoking twice keeps the first time.
    async fn revoke_key(&self, id: &str, at: i64) -> Result<VerificationKey>;

    // --- assets ---
    /// Creates an asset in state `unprotected`/`never_connected`, or — when a
    /// non-uninstalled asset with the same fingerprint exists — gives that
    /// asset the new credential (the old one stops working) and returns it
    /// with `reclaimed = true`.
    ///
    /// `NotFound` if `e.key_id` names no key (whether the key is revoked is the
    /// caller's check). An asset counts as uninstalled when its reason is
    /// [`StatusReason::Uninstalled`]. A reclaim replaces the credential hash,
    /// the platform and the report with its derived columns, and keeps the id,
    /// status, group and enrollment origin. A new asset gets the key's default
    /// group, `report_at = at` and one timeline entry. `Conflict` if `new_id`
    /// is taken by another host's asset.
    async fn enroll(&self, e: Enrollment) -> Result<Enrolled>;
    async fn agent_auth(&self, asset_id: &str) -> Result<Option<AgentAuth>>;
    async fn get_asset(&self, id: &str) -> Result<Option<Asset>>;
    /// Ordered by `(hostname, id)` in byte order (Rust's `str` order); limit 0
    /// means 50. A malformed `after` cursor is `NotFound` (there is no
    /// invalid-input variant).
    async fn list_assets(&self, q: &AssetQuery) -> Result<Page<Asset>>;
    async fn count_by_status(&self) -> Result<Vec<StatusCount>>;
    /// Assets not uninstalled, per agent version: most assets first, ties in
    /// version byte order.
    async fn count_by_agent_version(&self) -> Result<Vec<VersionCount>>;
    /// Every group with at least one asset (any status), in name byte order,
    /// with its asset count. Assets without a group are not counted.
    async fn list_groups(&self) -> Result<Vec<GroupCount>>;
    /// Records a session start (address, endpoint, last error, version, last_seen).
    ///
    /// `endpoint` and `last_error` replace the stored ones (`None` clears them);
    /// `first_seen` is set if unset; `last_seen` never moves backwards.
    /// `NotFound` if no such asset.
    async fn record_session_start(&self, asset_id: &str, s: &SessionStart) -> Result<()>;
    /// Stores the latest full host report and the columns derived from it
    /// (hostname, ips, os, kernel, arch, agent_version). `NotFound` if no such asset.
    async fn update_report(&self, asset_id: &str, report: &HostReport, at: i64) -> Result<()>;
    /// Writes many `last_seen` values at once (the gateway batches keepalives).
    /// Never moves `last_seen` backwards; unknown ids are ignored.
    async fn touch_last_seen(&self, seen: &[(String, i64)]) -> Result<()>;
    /// Sets the status (and `status_since = change.at`) and appends it to the
    /// timeline, in one transaction. `NotFound` if no such asset.
    async fn set_status(&self, asset_id: &str, change: &StatusChange) -> Result<()>;
    /// The asset's timeline, newest first (insertion order breaks ties);
    /// limit 0 means 50, at most 1000. Empty for an unknown asset.
    async fn status_events(&self, asset_id: &str, limit: u32) -> Result<Vec<StatusEvent>>;
    /// Every asset's liveness, for the status engine at start.
    async fn load_liveness(&self) -> Result<Vec<AssetLiveness>>;

    // --- API tokens ---
    /// `Conflict` if the id or the hash is already used.
    async fn create_api_token(&self, token: &ApiToken, hash: &str) -> Result<()>;
    /// Finds a live (not revoked) token by hash and records its use
    /// (`last_used_at` never moves backwards).
    async fn use_api_token(&self, hash: &str, at: i64) -> Result<Option<ApiToken>>;
    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>>;
    /// `NotFound` if no such token. Revoking twice keeps the first time.
    async fn revoke_api_token(&self, id: &str, at: i64) -> Result<ApiToken>;

    // --- settings ---
    async fn get_policy(&self) -> Result<Option<Policy>>;
    async fn set_policy(&self, policy: &Policy) -> Result<()>;

    // --- events (detection pipeline) ---
    /// Stores the events of `asset_id` whose id is above the asset's
    /// high-water mark and raises the mark to the largest stored id, in one
    /// transaction: when this returns, every event up to
    /// `IngestOutcome::high_water` is durably stored. `events` must be in
    /// strictly increasing id order with ids up to `i64::MAX` (the caller
    /// validates; otherwise `Conflict`). Each stored event's `host` is set to
    /// `asset_id`. `NotFound` if no such asset.
    async fn ingest_events(
        &self,
        asset_id: &str,
        events: &[ward_events::Event],
        received_at: i64,
    ) -> Result<IngestOutcome>;
    /// The highest event id stored for the asset (0 when none).
    async fn event_high_water(&self, asset_id: &str) -> Result<u64>;
    /// Stored events with `seq > after_seq`, in `seq` order, at most `limit`
    /// (0 means 1000, at most 10,000). Rows this binary cannot decode (a
    /// newer Ward's event kinds) are skipped.
    async fn events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>>;
    /// Events stored, for one asset or all.
    async fn count_events(&self, asset_id: Option<&str>) -> Result<u64>;
    /// The asset's stored events with these ids, in id order (missing ids,
    /// e.g. removed by retention, are left out).
    async fn asset_events(&self, asset_id: &str, ids: &[u64]) -> Result<Vec<StoredEvent>>;
    /// Retention: deletes the oldest events (lowest `seq`, never above
    /// `keep_after_seq`, which the caller has not processed yet) while they
    /// were received before `received_before` or more than `keep_at_most`
    /// events are stored. High-water marks are kept. Returns how many went.
    async fn prune_events(
        &self,
        received_before: i64,
        keep_at_most: u64,
        keep_after_seq: i64,
    ) -> Result<u64>;
    /// Records spool health for many assets at once; unknown ids are ignored.
    async fn set_spool_stats(&self, stats: &[(String, SpoolStats)]) -> Result<()>;

    // --- alerts ---
    /// Inserts an alert with its evidence (copies of the evidence events
    /// stored for the asset, so they outlive event retention), or merges it
    /// into an existing one with the same `dedup_key` whose `last_ms` is at
    /// or after `first_ms - dedup_window_ms` (the newest such alert gets
    /// `last_ms = max(last_ms, new last_ms)` and `repeats + 1`; its state is
    /// kept). `NotFound` if the asset does not exist.
    async fn insert_alert(&self, alert: &NewAlert) -> Result<AlertInsert>;
    async fn get_alert(&self, id: i64) -> Result<Option<AlertRecord>>;
    /// The evidence events copied with the alert, in event id order.
    async fn alert_evidence(&self, id: i64) -> Result<Vec<ward_events::Event>>;
    /// Newest first (by id). A malformed cursor is `NotFound`.
    async fn list_alerts(&self, q: &AlertQuery) -> Result<Page<AlertRecord>>;
    /// Sets the state (and `state_at`); `NotFound` if no such alert.
    async fn set_alert_state(&self, id: i64, state: AlertState, at: i64) -> Result<AlertRecord>;
    /// Alerts per (severity, state), for the overview.
    async fn count_alerts(&self) -> Result<Vec<AlertCount>>;

    // --- whitelist ---
    /// `Conflict` if the same (rule_id, field, value) exists.
    async fn add_whitelist(&self, entry: &NewWhitelistEntry) -> Result<WhitelistEntry>;
    /// Oldest first.
    async fn list_whitelist(&self) -> Result<Vec<WhitelistEntry>>;
    /// `NotFound` if no such entry.
    async fn delete_whitelist(&self, id: i64) -> Result<()>;

    // --- imported rule files ---
    /// Stores imported rule files in one transaction: each replaces a
    /// stored one of the same name; with `replace_all`, stored files not in
    /// `sources` are removed. Raises the revision by one and returns it.
    async fn import_rule_sources(&self, sources: &[RuleSource], replace_all: bool) -> Result<i64>;
    /// Every imported rule file, by name (byte order).
    async fn list_rule_sources(&self) -> Result<Vec<RuleSource>>;
    /// Raised by every import (0 before the first): cheap to poll.
    async fn rule_sources_revision(&self) -> Result<i64>;

    // --- settings documents (detection thresholds, outputs, cursors) ---
    /// A JSON settings document by key (`None` when never set).
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>>;
    /// Replaces a JSON settings document.
    async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<()>;

    // --- releases and the agent lifecycle ---
    /// Publishes a release for one platform. `Conflict` if that version is
    /// already published for that platform (releases are immutable).
    async fn add_release(&self, release: &Release) -> Result<()>;
    /// Every published release, in publication order (ties by version,
    /// then platform, in byte order).
    async fn list_releases(&self) -> Result<Vec<Release>>;
    /// Atomically increments and returns the release metadata version: every
    /// call, from any process sharing the store, returns a larger number
    /// than every call before it (the first call returns 1).
    async fn next_release_metadata_version(&self) -> Result<u64>;
    /// Stores a lifecycle event an agent reported. `NotFound` if no such asset.
    async fn add_lifecycle_event(&self, event: &NewLifecycleEvent) -> Result<LifecycleEvent>;
    /// The asset's lifecycle events, newest first (by insertion); limit 0
    /// means 50, at most 1000. Empty for an unknown asset.
    async fn lifecycle_events(&self, asset_id: &str, limit: u32) -> Result<Vec<LifecycleEvent>>;

    // --- commands (signed server commands, see `commands`) ---
    /// Stores a new command in state `pending`. `NotFound` if the asset does
    /// not exist, `Conflict` if the id is taken.
    async fn create_command(&self, c: &NewCommand) -> Result<CommandRecord>;
    async fn get_command(&self, id: &str) -> Result<Option<CommandRecord>>;
    /// Newest first (by creation order). A malformed cursor is `NotFound`.
    async fn list_commands(&self, q: &CommandQuery) -> Result<Page<CommandRecord>>;
    /// The `pending` commands of these assets that expire after `now`,
    /// oldest first (at most 1000 per call).
    async fn pending_commands(&self, asset_ids: &[String], now: i64) -> Result<Vec<CommandRecord>>;
    /// Moves a command to `u.state` if [`CommandState::can_become`] allows
    /// it (`Conflict` otherwise, `NotFound` if no such command). Moving out
    /// of `pending` sets `delivered_at` (except to expired/cancelled); a
    /// final state sets `finished_at`; `u.result` replaces the result when
    /// given.
    async fn update_command(&self, id: &str, u: &CommandUpdate) -> Result<CommandRecord>;
    /// Every `pending` command with `expires_at <= now` becomes `expired`
    /// (`finished_at = now`); returns them.
    async fn expire_commands(&self, now: i64) -> Result<Vec<CommandRecord>>;

    // --- cloned hosts ---
    /// Gives a copy of `r.source_id`'s install an identity of its own: a
    /// new asset (state `unprotected`/`never_connected`) with the source's
    /// host facts, group, platform and enrollment origin, fingerprint
    /// `r.fingerprint`, the new credential and a timeline entry naming the
    /// source and the reason. When an earlier copy of the same source with
    /// the same fingerprint never connected (its answer was lost), that
    /// asset gets the new credential instead (`reclaimed = true`); no other
    /// asset is ever reclaimed. `NotFound` if the source does not exist,
    /// `Conflict` if `new_id` is taken.
    async fn reidentify(&self, r: &Reidentification) -> Result<Enrolled>;
    /// The asset `id` is a copy of, if it was made by [`Store::reidentify`].
    async fn clone_source(&self, id: &str) -> Result<Option<String>>;
}
