//! JSON shapes of the API (times as RFC 3339 strings).

use serde::Serialize;
use ward_proto::HostReport;
use ward_store::{Asset, StatusEvent, VerificationKey};

use crate::clock::rfc3339;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct AssetView {
    pub id: String,
    pub hostname: String,
    pub ips: Vec<String>,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub platform: String,
    pub agent_version: String,
    pub group: Option<String>,
    pub status: &'static str,
    pub status_reason: Option<&'static str>,
    pub status_since: Option<String>,
    pub last_seen: Option<String>,
    pub first_seen: Option<String>,
    pub enrolled_at: Option<String>,
    pub last_addr: Option<String>,
    pub last_error: Option<String>,
    pub last_endpoint: Option<String>,
    pub report: Option<HostReport>,
    pub report_at: Option<String>,
    /// Events waiting in the agent's spool, as last reported.
    pub spool_depth: Option<u64>,
    /// Events the agent dropped because its spool was full (a counter).
    pub spool_dropped_total: Option<u64>,
    pub spool_reported_at: Option<String>,
}

impl AssetView {
    /// The stored asset, with status and `last_seen` from the live engine
    /// when it knows the asset (fresher than the batched store writes).
    pub fn new(st: &AppState, a: Asset) -> AssetView {
        let (status, reason, since, last_seen) = st.live_status(&a.id).unwrap_or((
            a.status,
            a.status_reason,
            a.status_since,
            a.last_seen,
        ));
        AssetView {
            id: a.id,
            hostname: a.hostname,
            ips: a.ips,
            os: a.os,
            kernel: a.kernel,
            arch: a.arch,
            platform: a.platform,
            agent_version: a.agent_version,
            group: a.group,
            status: status.as_str(),
            status_reason: reason.map(|r| r.as_str()),
            status_since: Some(rfc3339(since)),
            last_seen: last_seen.map(rfc3339),
            first_seen: a.first_seen.map(rfc3339),
            enrolled_at: Some(rfc3339(a.enrolled_at)),
            last_addr: a.last_addr,
            last_error: a.last_error,
            last_endpoint: a.last_endpoint,
            report: a.report,
            report_at: a.report_at.map(rfc3339),
            spool_depth: a.spool.map(|s| s.depth),
            spool_dropped_total: a.spool.map(|s| s.dropped_total),
            spool_reported_at: a.spool.map(|s| rfc3339(s.at)),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub at: String,
    pub detail: Option<String>,
}

impl From<StatusEvent> for TimelineEntry {
    fn from(e: StatusEvent) -> Self {
        TimelineEntry {
            status: e.status.as_str(),
            reason: e.reason.map(|r| r.as_str()),
            at: rfc3339(e.at),
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AssetDetail {
    #[serde(flatten)]
    pub asset: AssetView,
    pub online: bool,
    pub timeline: Vec<TimelineEntry>,
    /// Updates and guardian events the agent reported, newest first.
    pub lifecycle: Vec<ward_store::LifecycleEvent>,
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    /// The key presented by installers (shown to operators like the console does).
    pub secret: String,
    pub label: String,
    pub default_group: Option<String>,
    pub created_at: String,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

impl From<VerificationKey> for KeyView {
    fn from(k: VerificationKey) -> Self {
        KeyView {
            id: k.id,
            secret: k.secret,
            label: k.label,
            default_group: k.default_group,
            created_at: rfc3339(k.created_at),
            revoked: k.revoked_at.is_some(),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

/// A list answer: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
