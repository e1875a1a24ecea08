//! Records of the detection pipeline: stored host events, spool health,
//! alerts, whitelist entries (see the `Store` methods under "events",
//! "alerts" and "whitelist").

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ward_events::Event;

/// Spool health an agent last reported (`AgentMsg::SpoolStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolStats {
    /// Events waiting in the agent's spool.
    pub depth: u64,
    /// Events the agent dropped because its spool was full (never decreases).
    pub dropped_total: u64,
    /// When the server received the report (Unix ms).
    pub at: i64,
}

/// What [`crate::Store::ingest_events`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestOutcome {
    /// Events newly stored.
    pub stored: u64,
    /// Events dropped because their id was not above the high-water mark.
    pub duplicates: u64,
    /// The asset's high-water mark after the batch: every event with an id
    /// up to it is stored (the value of `EventsAck{up_to}`).
    pub high_water: u64,
}

/// One stored host event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Server-wide ingest order: increases with every stored event and is
    /// never reused (the detection runtime's cursor).
    pub seq: i64,
    pub asset_id: String,
    /// When the server stored it (Unix ms).
    pub received_at: i64,
    /// The event as the agent sent it, with `host` set to the asset id.
    pub event: Event,
}

/// Alert severity (the seed console's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Urgent,
    Suspicious,
    Reminder,
}

impl AlertSeverity {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertSeverity::Urgent => "urgent",
            AlertSeverity::Suspicious => "suspicious",
            AlertSeverity::Reminder => "reminder",
        }
    }
    pub fn parse(s: &str) -> Option<AlertSeverity> {
        match s {
            "urgent" => Some(AlertSeverity::Urgent),
            "suspicious" => Some(AlertSeverity::Suspicious),
            "reminder" => Some(AlertSeverity::Reminder),
            _ => None,
        }
    }
}

/// What an operator made of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Unhandled,
    Handled,
    Ignored,
    /// Matched a whitelist entry when it was raised (never sent to outputs).
    Whitelisted,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Unhandled => "unhandled",
            AlertState::Handled => "handled",
            AlertState::Ignored => "ignored",
            AlertState::Whitelisted => "whitelisted",
        }
    }
    pub fn parse(s: &str) -> Option<AlertState> {
        match s {
            "unhandled" => Some(AlertState::Unhandled),
            "handled" => Some(AlertState::Handled),
            "ignored" => Some(AlertState::Ignored),
            "whitelisted" => Some(AlertState::Whitelisted),
            _ => None,
        }
    }
}

/// Input to [`crate::Store::insert_alert`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule_id: String,
    pub rule_title: String,
    pub author: Option<String>,
    pub severity: AlertSeverity,
    /// MITRE ATT&CK technique, e.g. `T1110.001`.
    pub technique: Option<String>,
    pub asset_id: String,
    /// The correlation group, `Field=value,...` (empty for single-event rules).
    pub group_key: String,
    pub group: BTreeMap<String, String>,
    /// Host time of the first and last evidence (Unix ms).
    pub first_ms: i64,
    pub last_ms: i64,
    /// Evidence event ids of `asset_id`, oldest first.
    pub evidence: Vec<u64>,
    /// `Unhandled`, or `Whitelisted` when a whitelist entry matched.
    pub state: AlertState,
    pub created_at: i64,
    /// De-duplication: an alert with the same key whose `last_ms` is at or
    /// after `first_ms - dedup_window_ms` is the same alert raised again
    /// (e.g. after a server restart): it is merged instead of inserted.
    pub dedup_key: String,
    pub dedup_window_ms: i64,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Assigned by the store, increasing with creation order.
    pub id: i64,
    pub rule_id: String,
    pub rule_title: String,
    pub author: Option<String>,
    pub severity: AlertSeverity,
    pub technique: Option<String>,
    pub asset_id: String,
    pub group_key: String,
    pub group: BTreeMap<String, String>,
    pub first_ms: i64,
    pub last_ms: i64,
    pub evidence: Vec<u64>,
    pub state: AlertState,
    /// When the state last changed (creation time at first).
    pub state_at: i64,
    pub created_at: i64,
    /// How often the same alert was raised again and merged into this one.
    pub repeats: u64,
}

/// What [`crate::Store::insert_alert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertInsert {
    /// A new alert.
    Created(AlertRecord),
    /// An existing alert with the same de-dup key in the window; its
    /// `last_ms` was extended and `repeats` incremented.
    Merged(AlertRecord),
}

impl AlertInsert {
    pub fn record(&self) -> &AlertRecord {
        match self {
            AlertInsert::Created(a) | AlertInsert::Merged(a) => a,
        }
    }
}

/// Filter and page of [`crate::Store::list_alerts`]: newest first (by id);
/// pass the previous page's `next_cursor` as `before`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    pub severity: Option<AlertSeverity>,
    pub state: Option<AlertState>,
    pub asset_id: Option<String>,
    pub rule_id: Option<String>,
    /// `last_ms >= since`.
    pub since: Option<i64>,
    /// `last_ms < until`.
    pub until: Option<i64>,
    pub before: Option<String>,
    /// Page size; 0 means 50, at most 1000.
    pub limit: u32,
}

/// Count of alerts per (severity, state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCount {
    pub severity: AlertSeverity,
    pub state: AlertState,
    pub count: u64,
}

/// A whitelist entry: alerts of `rule_id` (`*`: any rule) whose group or
/// raising event has `field` equal to `value` are stored as whitelisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistEntry {
    pub id: i64,
    pub rule_id: String,
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// Input to [`crate::Store::add_whitelist`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWhitelistEntry {
    pub rule_id: String,
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// A rule file imported with `ward-server rules import` (see
/// [`crate::Store::import_rule_sources`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSource {
    /// The file's path relative to the imported directory (unique).
    pub name: String,
    /// The YAML text.
    pub body: String,
    /// SHA-256 hex of `body`.
    pub sha256: String,
    pub imported_at: i64,
}
