//! Alerts and severities.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Ward's three severities (the seed console's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Urgent,
    Suspicious,
    Reminder,
}

impl Severity {
    /// Maps a Sigma `level` (or a Ward severity name) to a severity:
    /// `critical`, `high` → urgent; `medium` → suspicious;
    /// `low`, `informational` → reminder.
    pub fn from_level(level: &str) -> Option<Severity> {
        Some(match level.to_ascii_lowercase().as_str() {
            "critical" | "high" | "urgent" => Severity::Urgent,
            "medium" | "suspicious" => Severity::Suspicious,
            "low" | "informational" | "reminder" => Severity::Reminder,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Urgent => "urgent",
            Severity::Suspicious => "suspicious",
            Severity::Reminder => "reminder",
        }
    }
}

/// Most event ids an alert carries as evidence.
pub const MAX_EVIDENCE: usize = 64;

/// What a rule raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub rule_id: String,
    pub rule_title: String,
    /// The rule's author (shown with alerts, as the Sigma licence asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub severity: Severity,
    /// First MITRE ATT&CK technique of the rule's tags, e.g. `T1110.001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
    /// Host of the event that raised it.
    pub host: String,
    /// Host time of the first and last evidence event, ms since the epoch.
    pub first_ms: i64,
    pub last_ms: i64,
    /// Ids of the evidence events (at most [`MAX_EVIDENCE`], oldest first).
    pub evidence: Vec<u64>,
    /// The correlation group, `Field=value` pairs joined with `,` (empty for
    /// single-event rules). Stable: use it with `rule_id` as a dedup key.
    pub group_key: String,
    /// The same group as a map (for whitelisting by rule + field value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group: BTreeMap<String, String>,
}
