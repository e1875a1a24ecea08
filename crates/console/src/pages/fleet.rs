//! Fleet counts by status and reason (from the live engine), shared by the
//! overview, the assets page filters and the live endpoint.

use serde::Serialize;
use ward_store::{Status, StatusCount, StatusReason};

use crate::view::chart::Segment;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FleetCounts {
    pub total: u64,
    pub protected: u64,
    pub offline: u64,
    pub never_connected: u64,
    pub uninstalled: u64,
    pub updating: u64,
    /// Unprotected without a known reason.
    pub unprotected_other: u64,
}

impl FleetCounts {
    pub fn from_counts(counts: &[StatusCount]) -> FleetCounts {
        let mut f = FleetCounts::default();
        for c in counts {
            f.total += c.count;
            let slot = match (c.status, c.reason) {
                (Status::Protected, _) => &mut f.protected,
                (Status::Updating, _) => &mut f.updating,
                (Status::Unprotected, Some(StatusReason::Offline)) => &mut f.offline,
                (Status::Unprotected, Some(StatusReason::NeverConnected)) => &mut f.never_connected,
                (Status::Unprotected, Some(StatusReason::Uninstalled)) => &mut f.uninstalled,
                (Status::Unprotected, None) => &mut f.unprotected_other,
            };
            *slot += c.count;
        }
        f
    }

    /// Percentage of assets protected (0 when there are none), rounded down.
    pub fn protected_pct(&self) -> u64 {
        (self.protected * 100).checked_div(self.total).unwrap_or(0)
    }

    /// Unprotected for any reason.
    pub fn unprotected(&self) -> u64 {
        self.offline + self.never_connected + self.uninstalled + self.unprotected_other
    }

    /// Segments of the protection bar, in a fixed order.
    pub fn segments(&self) -> Vec<Segment> {
        [
            ("ok", "Protected", self.protected),
            ("info", "Updating", self.updating),
            ("crit", "Offline", self.offline + self.unprotected_other),
            ("warn", "Never connected", self.never_connected),
            ("muted", "Uninstalled", self.uninstalled),
        ]
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(tone, label, count)| Segment {
            tone,
            label: label.to_string(),
            count,
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fold_statuses_and_reasons() {
        let c = |status, reason, count| StatusCount {
            status,
            reason,
            count,
        };
        let f = FleetCounts::from_counts(&[
            c(Status::Protected, None, 7),
            c(Status::Unprotected, Some(StatusReason::Offline), 2),
            c(Status::Unprotected, Some(StatusReason::NeverConnected), 1),
            c(Status::Unprotected, Some(StatusReason::Uninstalled), 3),
            c(Status::Updating, None, 1),
        ]);
        assert_eq!(f.total, 14);
        assert_eq!(f.protected, 7);
        assert_eq!(f.unprotected(), 6);
        let labels: Vec<_> = f
            .segments()
            .into_iter()
            .map(|s| (s.label, s.count))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("Protected".to_string(), 7),
                ("Updating".to_string(), 1),
                ("Offline".to_string(), 2),
                ("Never connected".to_string(), 1),
                ("Uninstalled".to_string(), 3),
            ]
        );
    }
}
