//! Alert figures for the overview, read through the store's alert methods.

use ward_store::{AlertCount, AlertQuery, AlertSeverity, AlertState, Store};

use crate::http::PageError;
use crate::view::chart::SeverityDay;

/// Days shown in the chart.
pub const DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;
/// Alerts read to draw the chart (pages of 1000, newest first).
const MAX_SCANNED: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct AlertSummary {
    /// Every alert stored (any state).
    pub total: u64,
    pub counts: Vec<AlertCount>,
    pub days: Vec<SeverityDay>,
    pub scanned: u64,
    /// The chart stopped at `MAX_SCANNED` alerts.
    pub truncated: bool,
}

impl AlertSummary {
    pub fn unhandled(&self, sev: AlertSeverity) -> u64 {
        self.counts
            .iter()
            .filter(|c| c.severity == sev && c.state == AlertState::Unhandled)
            .map(|c| c.count)
            .sum()
    }
}

pub fn severity_label(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Urgent => "Urgent",
        AlertSeverity::Suspicious => "Suspicious",
        AlertSeverity::Reminder => "Reminder",
    }
}

/// Empty day buckets ending with today's (UTC).
pub fn empty_days(now: i64) -> Vec<SeverityDay> {
    let today = now.div_euclid(DAY_MS) * DAY_MS;
    (0..DAYS)
        .map(|i| SeverityDay {
            day_start_ms: today - (DAYS - 1 - i) * DAY_MS,
            urgent: 0,
            suspicious: 0,
            reminder: 0,
        })
        .collect()
}

/// Adds one alert (by creation time) to its day; outside the range is ignored.
pub fn add_to_day(days: &mut [SeverityDay], at: i64, sev: AlertSeverity) {
    let Some(first) = days.first().map(|d| d.day_start_ms) else {
        return;
    };
    if at < first {
        return;
    }
    let idx = ((at - first) / DAY_MS) as usize;
    if let Some(d) = days.get_mut(idx) {
        match sev {
            AlertSeverity::Urgent => d.urgent += 1,
            AlertSeverity::Suspicious => d.suspicious += 1,
            AlertSeverity::Reminder => d.reminder += 1,
        }
    }
}

pub async fn summary(store: &dyn Store, now: i64) -> Result<AlertSummary, PageError> {
    let counts = store
        .count_alerts()
        .await
        .map_err(|e| PageError::store("counting alerts", e))?;
    let total = counts.iter().map(|c| c.count).sum();
    let mut s = AlertSummary {
        total,
        counts,
        days: empty_days(now),
        ..Default::default()
    };
    if total == 0 {
        return Ok(s);
    }
    let since = s.days.first().map_or(now, |d| d.day_start_ms);
    let mut q = AlertQuery {
        since: Some(since),
        limit: 1000,
        ..Default::default()
    };
    let mut scanned = 0usize;
    loop {
        let page = store
            .list_alerts(&q)
            .await
            .map_err(|e| PageError::store("listing alerts", e))?;
        for a in &page.items {
            if a.state != AlertState::Whitelisted {
                add_to_day(&mut s.days, a.created_at, a.severity);
            }
        }
        scanned += page.items.len();
        match page.next_cursor {
            Some(c) if scanned < MAX_SCANNED => q.before = Some(c),
            Some(_) => {
                s.truncated = true;
                break;
            }
            None => break,
        }
    }
    s.scanned = scanned as u64;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_fall_into_their_utc_day() {
        // 2023-11-14T22:13:20Z
        let now = 1_700_000_000_000;
        let mut days = empty_days(now);
        assert_eq!(days.len(), 14);
        let today = days[13].day_start_ms;
        assert_eq!(today, 1_699_920_000_000, "2023-11-14T00:00:00Z");
        add_to_day(&mut days, now, AlertSeverity::Urgent);
        add_to_day(&mut days, today - 1, AlertSeverity::Reminder);
        let before_range = days[0].day_start_ms - 1;
        add_to_day(&mut days, before_range, AlertSeverity::Urgent);
        assert_eq!(days[13].urgent, 1);
        assert_eq!(days[12].reminder, 1);
        assert_eq!(days.iter().map(SeverityDay::total).sum::<u64>(), 2);
    }
}
