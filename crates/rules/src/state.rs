//! Per-group correlation state and how one input signal updates it.

use crate::alert::MAX_EVIDENCE;
use crate::rule::{Correlation, CorrelationType};
use std::collections::{HashMap, VecDeque};

/// An input to a correlation: a detection match (one event) or the match
/// of another correlation.
#[derive(Debug, Clone)]
pub(crate) struct Signal {
    pub rule: usize,
    pub time_ms: i64,
    pub first_ms: i64,
    pub evidence: Vec<u64>,
}

/// A correlation matched on this signal.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub first_ms: i64,
    pub evidence: Vec<u64>,
    /// False when suppressed by de-duplication.
    pub new_alert: bool,
    /// `first_seen`: the new value.
    pub value: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Data {
    Count(VecDeque<(i64, u64)>),
    Values(Vec<(String, i64, u64)>),
    Temporal(Vec<Option<(i64, i64, Vec<u64>)>>),
    Ordered(Vec<Option<(i64, Vec<u64>)>>),
    Seen(HashMap<String, i64>),
}

#[derive(Debug)]
pub(crate) struct Group {
    pub host_slot: usize,
    /// Latest host time seen in this group.
    pub last_ms: i64,
    /// Engine `now_ms` at the last update.
    pub last_now_ms: i64,
    /// No new alert for this group until a match after this time.
    pub quiet_until: i64,
    pub data: Data,
}

impl Group {
    pub fn new(c: &Correlation, host_slot: usize) -> Group {
        let data = match c.ctype {
            CorrelationType::EventCount => Data::Count(VecDeque::new()),
            CorrelationType::ValueCount => Data::Values(Vec::new()),
            CorrelationType::Temporal => Data::Temporal(vec![None; c.rules.len()]),
            CorrelationType::TemporalOrdered => Data::Ordered(vec![None; c.rules.len()]),
            CorrelationType::FirstSeen => Data::Seen(HashMap::new()),
        };
        Group {
            host_slot,
            last_ms: i64::MIN,
            last_now_ms: i64::MIN,
            quiet_until: i64::MIN,
            data,
        }
    }

    /// True when nothing in this group can influence a future result, as of
    /// host time `watermark`.
    pub fn expired(&self, c: &Correlation, watermark: i64) -> bool {
        match &self.data {
            Data::Seen(vals) => vals.is_empty(),
            _ => {
                watermark.saturating_sub(self.last_ms) > c.timespan_ms
                    && watermark > self.quiet_until
            }
        }
    }

    /// Feeds `sig` (from the rule at `pos` in `c.rules`, carrying `value`
    /// for value_count / first_seen). `fresh`: the group was just created.
    pub fn feed(
        &mut self,
        c: &Correlation,
        pos: usize,
        sig: &Signal,
        value: Option<&str>,
        fresh: bool,
        max_values: usize,
    ) -> Option<Hit> {
        let t = sig.time_ms;
        let now = self.last_ms.max(t);
        self.last_ms = now;
        let span = c.timespan_ms;
        let horizon = now.saturating_sub(span);
        let hit = match &mut self.data {
            Data::Count(q) => {
                let id = sig.evidence.last().copied().unwrap_or(0);
                let at = q.partition_point(|(x, _)| *x <= t);
                q.insert(at, (t, id));
                while q.front().is_some_and(|(x, _)| *x < horizon) {
                    q.pop_front();
                }
                while q.len() > c.threshold {
                    q.pop_front();
                }
                (q.len() >= c.threshold && t >= horizon).then(|| {
                    let skip = q.len().saturating_sub(MAX_EVIDENCE);
                    (
                        q.front().map_or(t, |f| f.0),
                        q.iter().skip(skip).map(|e| e.1).collect(),
                    )
                })
            }
            Data::Values(vals) => {
                let value = value?;
                let id = sig.evidence.last().copied().unwrap_or(0);
                vals.retain(|v| v.1 >= horizon);
                match vals.iter_mut().find(|v| v.0 == value) {
                    Some(v) => {
                        v.1 = v.1.max(t);
                        v.2 = id;
                    }
                    None => vals.push((value.to_string(), t, id)),
                }
                if vals.len() > c.threshold {
                    if let Some(oldest) = (0..vals.len()).min_by_key(|&i| vals[i].1) {
                        vals.swap_remove(oldest);
                    }
                }
                (vals.len() >= c.threshold && t >= horizon).then(|| {
                    let mut by_time: Vec<(i64, u64)> = vals.iter().map(|v| (v.1, v.2)).collect();
                    by_time.sort_unstable();
                    let first = by_time.first().map_or(t, |x| x.0);
                    (
                        first,
                        by_time
                            .into_iter()
                            .take(MAX_EVIDENCE)
                            .map(|x| x.1)
                            .collect(),
                    )
                })
            }
            Data::Temporal(slots) => {
                slots[pos] = Some((t, sig.first_ms, sig.evidence.clone()));
                let live: Vec<&(i64, i64, Vec<u64>)> =
                    slots.iter().flatten().filter(|s| s.0 >= horizon).collect();
                (live.len() >= c.threshold && t >= horizon).then(|| {
                    let first = live.iter().map(|s| s.1).min().unwrap_or(t);
                    let mut ev: Vec<u64> = live.iter().flat_map(|s| s.2.iter().copied()).collect();
                    ev.truncate(MAX_EVIDENCE);
                    (first, ev)
                })
            }
            Data::Ordered(prefix) => {
                if pos == 0 {
                    if c.rules.len() == 1 {
                        Some((sig.first_ms, sig.evidence.clone()))
                    } else {
                        prefix[0] = Some((sig.first_ms, sig.evidence.clone()));
                        None
                    }
                } else {
                    match &prefix[pos - 1] {
                        Some((start, ev)) if *start >= t.saturating_sub(span) && *start <= t => {
                            let mut ev = ev.clone();
                            ev.extend_from_slice(&sig.evidence);
                            ev.truncate(MAX_EVIDENCE);
                            if pos + 1 == c.rules.len() {
                                Some((*start, ev))
                            } else {
                                prefix[pos] = Some((*start, ev));
                                None
                            }
                        }
                        _ => None,
                    }
                }
            }
            Data::Seen(vals) => {
                let value = value?;
                if span > 0 {
                    vals.retain(|_, seen| *seen >= horizon);
                }
                // A group with nothing remembered (new, or all forgotten)
                // starts a new baseline: no alert, whether or not a sweep
                // already removed it.
                let fresh = fresh || vals.is_empty();
                let known = match vals.get_mut(value) {
                    Some(seen) => {
                        *seen = (*seen).max(t);
                        true
                    }
                    None => {
                        vals.insert(value.to_string(), t);
                        false
                    }
                };
                if vals.len() > max_values {
                    if let Some(oldest) =
                        vals.iter().min_by_key(|(_, s)| **s).map(|(k, _)| k.clone())
                    {
                        vals.remove(&oldest);
                    }
                }
                if known || fresh {
                    return None;
                }
                return Some(Hit {
                    first_ms: t,
                    evidence: sig.evidence.clone(),
                    new_alert: true,
                    value: Some(value.to_string()),
                });
            }
        };
        let (first_ms, evidence) = hit?;
        let new_alert = t > self.quiet_until;
        self.quiet_until = self.quiet_until.max(t.saturating_add(span));
        Some(Hit {
            first_ms,
            evidence,
            new_alert,
            value: None,
        })
    }
}
