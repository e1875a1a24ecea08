//! The JSON shape of an alert: the API's and the outputs' (webhook body,
//! syslog MSG). Times are RFC 3339 strings, as elsewhere in the API.

use std::collections::BTreeMap;

use serde::Serialize;
use ward_store::{AlertRecord, WhitelistEntry};

use crate::clock::rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub rule_id: String,
    pub rule_title: String,
    /// The rule's author (shown with alerts, as the Sigma licence asks).
    pub author: Option<String>,
    pub severity: &'static str,
    /// MITRE ATT&CK technique, e.g. `T1110.001`.
    pub technique: Option<String>,
    pub asset_id: String,
    /// The asset's host name when known.
    pub hostname: Option<String>,
    pub group_key: String,
    pub group: BTreeMap<String, String>,
    /// Host time of the first and last evidence.
    pub first_at: String,
    pub last_at: String,
    /// Evidence event ids (of `asset_id`), oldest first.
    pub evidence: Vec<u64>,
    pub state: &'static str,
    pub state_at: String,
    pub created_at: String,
    /// How often the same alert was raised again (merged into this one).
    pub repeats: u64,
}

impl AlertView {
    pub fn new(a: AlertRecord, hostname: Option<String>) -> AlertView {
        AlertView {
            id: a.id,
            rule_id: a.rule_id,
            rule_title: a.rule_title,
            author: a.author,
            severity: a.severity.as_str(),
            technique: a.technique,
            asset_id: a.asset_id,
            hostname,
            group_key: a.group_key,
            group: a.group,
            first_at: rfc3339(a.first_ms),
            last_at: rfc3339(a.last_ms),
            evidence: a.evidence,
            state: a.state.as_str(),
            state_at: rfc3339(a.state_at),
            created_at: rfc3339(a.created_at),
            repeats: a.repeats,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhitelistView {
    pub id: i64,
    pub rule_id: String,
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    pub created_at: String,
}

impl From<WhitelistEntry> for WhitelistView {
    fn from(w: WhitelistEntry) -> Self {
        WhitelistView {
            id: w.id,
            rule_id: w.rule_id,
            field: w.field,
            value: w.value,
            comment: w.comment,
            created_at: rfc3339(w.created_at),
        }
    }
}
