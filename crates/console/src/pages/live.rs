//! `GET /console/live?ids=a,b,…`: the small JSON document pages poll to
//! update badges, "last seen" times and fleet counts without reloading.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::fleet::FleetCounts;
use crate::host::ConsoleHost;
use crate::view::fmt::{self, now_ms};

/// Most asset ids one poll may ask about.
pub const MAX_IDS: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub ids: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LiveAsset {
    /// Badge tone, label and reason, exactly as the server renders them.
    pub tone: &'static str,
    pub label: &'static str,
    pub reason: Option<&'static str>,
    pub since: i64,
    pub last_seen: Option<i64>,
    pub online: bool,
}

#[derive(Debug, Serialize)]
pub struct Live {
    pub now: i64,
    pub counts: FleetCounts,
    pub protected_pct: u64,
    pub online: usize,
    pub assets: BTreeMap<String, LiveAsset>,
}

/// The ids of a request: comma separated, de-duplicated, at most [`MAX_IDS`].
pub fn parse_ids(s: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = s
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_IDS);
    ids
}

pub async fn status(
    State(host): State<Arc<dyn ConsoleHost>>,
    Query(p): Query<Params>,
) -> Json<Live> {
    let counts = FleetCounts::from_counts(&host.status_counts());
    let mut assets = BTreeMap::new();
    for id in parse_ids(p.ids.as_deref()) {
        if let Some(l) = host.live_status(&id) {
            let look = fmt::status_look(l.status, l.reason);
            let online = host.is_online(&id);
            assets.insert(
                id,
                LiveAsset {
                    tone: look.tone,
                    label: look.label,
                    reason: look.reason,
                    since: l.since,
                    last_seen: l.last_seen,
                    online,
                },
            );
        }
    }
    Json(Live {
        now: now_ms(),
        protected_pct: counts.protected_pct(),
        counts,
        online: host.online_count(),
        assets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_cleaned_and_bounded() {
        assert_eq!(parse_ids(Some(" b,a,,b ,")), vec!["a", "b"]);
        assert!(parse_ids(None).is_empty());
        let many: Vec<String> = (0..500).map(|i| format!("as_{i:03}")).collect();
        assert_eq!(parse_ids(Some(&many.join(","))).len(), MAX_IDS);
        assert!(parse_ids(Some(&"x".repeat(129))).is_empty());
    }
}
