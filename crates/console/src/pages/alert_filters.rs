//! The Alerts page's filters: parsed from the query string, turned into a
//! store query, and written back into links.

use ward_store::{AlertQuery, AlertSeverity, AlertState, Store};

use super::alerts::{asset_search, Params, PATH};
use crate::http::middleware::encode_component;
use crate::http::PageError;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Longest text kept from a filter field.
const MAX_TEXT: usize = 200;

/// The time presets, as (value, label).
pub const PERIODS: &[(&str, &str)] = &[
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
];

fn period_ms(p: &str) -> Option<i64> {
    Some(match p {
        "1h" => HOUR_MS,
        "24h" => DAY_MS,
        "7d" => 7 * DAY_MS,
        "30d" => 30 * DAY_MS,
        _ => return None,
    })
}

/// `YYYY-MM-DD` (UTC) → the day's first millisecond.
pub fn parse_day(s: &str) -> Option<i64> {
    if s.len() != 10 {
        return None;
    }
    humantime::parse_rfc3339(&format!("{s}T00:00:00Z"))
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64)
}

/// The normalised filters of a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// A state tab value: `unhandled` (the default), ..., `all`.
    pub state: String,
    pub severity: Option<AlertSeverity>,
    /// Host name (or asset id) as typed.
    pub host: Option<String>,
    /// An asset id (links from the asset page).
    pub asset: Option<String>,
    pub rule: Option<String>,
    pub period: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `last_ms >= since`, `last_ms < until`.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// What the host filter found.
#[derive(Debug, Clone, PartialEq)]
pub enum HostFilter {
    /// No host filter.
    Any,
    /// One asset.
    Asset {
        id: String,
        hostname: Option<String>,
    },
    /// Several assets match the text: (id, hostname) of each.
    Ambiguous(Vec<(String, String)>),
    /// Nothing matches the text.
    NoMatch(String),
}

impl HostFilter {
    pub fn asset_id(&self) -> Option<String> {
        match self {
            HostFilter::Asset { id, .. } => Some(id.clone()),
            _ => None,
        }
    }
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(MAX_TEXT).collect())
}

impl Filters {
    /// The filters of `p` at time `now`, and a message for each value that
    /// was not understood (and is ignored).
    pub fn from_params(p: &Params, now: i64) -> (Filters, Vec<String>) {
        let mut problems = Vec::new();
        let state = match clean(&p.state).as_deref() {
            None => "unhandled".to_string(),
            Some(s) if s == "all" || AlertState::parse(s).is_some() => s.to_string(),
            Some(s) => {
                problems.push(format!(
                    "Unknown state \u{201c}{s}\u{201d}; showing unhandled alerts."
                ));
                "unhandled".to_string()
            }
        };
        let severity = clean(&p.severity).and_then(|s| {
            let v = AlertSeverity::parse(&s);
            if v.is_none() {
                problems.push(format!("Unknown severity \u{201c}{s}\u{201d} ignored."));
            }
            v
        });
        let period = clean(&p.period).unwrap_or_default();
        let period = if period.is_empty() || period_ms(&period).is_some() {
            period
        } else {
            problems.push(format!(
                "Unknown time range \u{201c}{period}\u{201d} ignored."
            ));
            String::new()
        };
        let mut day = |v: &Option<String>, what: &str| {
            let text = clean(v)?;
            match parse_day(&text) {
                Some(ms) => Some((text, ms)),
                None => {
                    problems.push(format!("The {what} date must look like 2026-01-31; \u{201c}{text}\u{201d} ignored."));
                    None
                }
            }
        };
        let from = day(&p.from, "from");
        let to = day(&p.to, "to");
        let mut since = period_ms(&period).map(|d| now - d);
        if let Some((_, ms)) = from {
            since = Some(since.map_or(ms, |s| s.max(ms)));
        }
        // The "to" day is included.
        let until = to.as_ref().map(|(_, ms)| ms + DAY_MS);
        let f = Filters {
            state,
            severity,
            host: clean(&p.host),
            asset: clean(&p.asset),
            rule: clean(&p.rule),
            period,
            from: from.map(|(t, _)| t),
            to: to.map(|(t, _)| t),
            since,
            until,
        };
        (f, problems)
    }

    /// The store query for one page.
    pub fn query(
        &self,
        asset_id: Option<String>,
        before: Option<String>,
        limit: u32,
    ) -> AlertQuery {
        AlertQuery {
            severity: self.severity,
            state: AlertState::parse(&self.state),
            asset_id,
            rule_id: self.rule.clone(),
            since: self.since,
            until: self.until,
            before,
            limit,
        }
    }

    pub fn is_filtered(&self) -> bool {
        self.severity.is_some()
            || self.host.is_some()
            || self.asset.is_some()
            || self.rule.is_some()
            || !self.period.is_empty()
            || self.from.is_some()
            || self.to.is_some()
    }

    /// `/console/alerts?…` with these filters (the state replaced when
    /// given) and the extras.
    pub fn href(&self, state: Option<&str>, extra: &[(&str, String)]) -> String {
        let mut parts = vec![format!(
            "state={}",
            encode_component(state.unwrap_or(&self.state))
        )];
        let mut push = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", encode_component(v)));
            }
        };
        push("severity", self.severity.map(|s| s.as_str()));
        // A picked asset replaces the typed host text.
        let picks_asset = extra.iter().any(|(k, _)| *k == "asset");
        if !picks_asset {
            push("host", self.host.as_deref());
            push("asset", self.asset.as_deref());
        }
        push("rule", self.rule.as_deref());
        push(
            "period",
            Some(self.period.as_str()).filter(|p| !p.is_empty()),
        );
        push("from", self.from.as_deref());
        push("to", self.to.as_deref());
        for (k, v) in extra {
            parts.push(format!("{k}={}", encode_component(v)));
        }
        format!("{PATH}?{}", parts.join("&"))
    }

    /// Finds the asset the host filter means: an asset id, else the one
    /// asset whose hostname equals the text (ASCII case-insensitively),
    /// else the one asset the search matches.
    pub async fn resolve_host(&self, store: &dyn Store) -> Result<HostFilter, PageError> {
        if let Some(id) = &self.asset {
            let a = store
                .get_asset(id)
                .await
                .map_err(|e| PageError::store("reading an asset", e))?;
            return Ok(match a {
                Some(a) => HostFilter::Asset {
                    id: a.id,
                    hostname: Some(a.hostname),
                },
                None => HostFilter::NoMatch(id.clone()),
            });
        }
        let Some(text) = &self.host else {
            return Ok(HostFilter::Any);
        };
        if let Some(a) = store
            .get_asset(text)
            .await
            .map_err(|e| PageError::store("reading an asset", e))?
        {
            return Ok(HostFilter::Asset {
                id: a.id,
                hostname: Some(a.hostname),
            });
        }
        let found = store
            .list_assets(&asset_search(text))
            .await
            .map_err(|e| PageError::store("searching assets", e))?
            .items;
        let exact: Vec<_> = found
            .iter()
            .filter(|a| a.hostname.eq_ignore_ascii_case(text))
            .collect();
        let pick = match (exact.as_slice(), found.as_slice()) {
            ([one], _) => Some(*one),
            ([], [one]) => Some(one),
            _ => None,
        };
        Ok(match pick {
            Some(a) => HostFilter::Asset {
                id: a.id.clone(),
                hostname: Some(a.hostname.clone()),
            },
            None if found.is_empty() => HostFilter::NoMatch(text.clone()),
            None => HostFilter::Ambiguous(found.into_iter().map(|a| (a.id, a.hostname)).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2023-11-14T22:13:20Z
    const NOW: i64 = 1_700_000_000_000;

    fn params(f: impl FnOnce(&mut Params)) -> Params {
        let mut p = Params::default();
        f(&mut p);
        p
    }

    #[test]
    fn defaults_show_unhandled_alerts_of_any_time() {
        let (f, problems) = Filters::from_params(&Params::default(), NOW);
        assert!(problems.is_empty());
        assert_eq!(f.state, "unhandled");
        let q = f.query(None, None, 50);
        assert_eq!(q.state, Some(AlertState::Unhandled));
        assert_eq!((q.since, q.until, q.severity), (None, None, None));
        assert!(!f.is_filtered());
        let (all, _) = Filters::from_params(&params(|p| p.state = Some("all".into())), NOW);
        assert_eq!(all.query(None, None, 50).state, None);
    }

    #[test]
    fn time_filters_bound_last_activity() {
        let (f, _) = Filters::from_params(&params(|p| p.period = Some("24h".into())), NOW);
        assert_eq!(f.since, Some(NOW - 86_400_000));
        let (f, _) = Filters::from_params(
            &params(|p| {
                p.from = Some("2023-11-01".into());
                p.to = Some("2023-11-02".into());
            }),
            NOW,
        );
        // date -u -d 2023-11-01 +%s → 1698796800
        assert_eq!(f.since, Some(1_698_796_800_000));
        // The whole "to" day is included: until 2023-11-03T00:00:00Z.
        assert_eq!(f.until, Some(1_698_969_600_000));
        // A preset and a later "from" day: the later bound wins.
        let (f, _) = Filters::from_params(
            &params(|p| {
                p.period = Some("30d".into());
                p.from = Some("2023-11-14".into());
            }),
            NOW,
        );
        assert_eq!(f.since, Some(1_699_920_000_000));
    }

    #[test]
    fn bad_values_are_ignored_with_a_message() {
        let (f, problems) = Filters::from_params(
            &params(|p| {
                p.state = Some("open".into());
                p.severity = Some("high".into());
                p.period = Some("1y".into());
                p.from = Some("yesterday".into());
            }),
            NOW,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(f.state, "unhandled");
        assert_eq!((f.severity, f.since), (None, None));
        assert!(f.period.is_empty() && f.from.is_none());
    }

    #[test]
    fn links_keep_the_filters() {
        let (f, _) = Filters::from_params(
            &params(|p| {
                p.severity = Some("urgent".into());
                p.host = Some("web 1".into());
                p.rule = Some("ward-login-001".into());
                p.period = Some("7d".into());
            }),
            NOW,
        );
        assert_eq!(
            f.href(Some("all"), &[("page", "2".into())]),
            "/console/alerts?state=all&severity=urgent&host=web%201&rule=ward-login-001&period=7d&page=2"
        );
        // Picking an asset drops the typed host text.
        assert_eq!(
            f.href(None, &[("asset", "as_1".into())]),
            "/console/alerts?state=unhandled&severity=urgent&rule=ward-login-001&period=7d&asset=as_1"
        );
    }
}
