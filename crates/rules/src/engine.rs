//! The engine: evaluates a [`RuleSet`] over events, keeps correlation state
//! (bounded, per host) and de-duplicates alerts.

use crate::alert::Alert;
use crate::rule::{Body, Correlation, CorrelationType, RuleSet};
use crate::state::{Group, Signal};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use ward_events::{Event, TextBuf};

/// Memory bounds of an [`Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// Most groups one correlation rule keeps; the least recently updated
    /// are evicted beyond it (counted in [`EngineStats::evicted_groups`]).
    pub max_groups_per_rule: usize,
    /// Most values a `value_count` / `first_seen` group remembers.
    pub max_values_per_group: usize,
    /// A group whose host sent nothing for its window plus this long (engine
    /// time, `now_ms`) is dropped even if host time has not advanced.
    pub idle_grace_ms: i64,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            max_groups_per_rule: 100_000,
            max_values_per_group: 1024,
            idle_grace_ms: 24 * 3_600_000,
        }
    }
}

/// Counters for `status` pages and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub events: u64,
    /// Rule matches (detections and correlations), alerted or not.
    pub matches: u64,
    pub alerts: u64,
    /// Correlation matches not alerted because of de-duplication.
    pub suppressed: u64,
    pub evicted_groups: u64,
}

struct CorrState {
    groups: HashMap<String, Group>,
    since_gc: usize,
}

/// Evaluates rules over events. Not thread-safe by itself: one engine per
/// task (the server keys events of many hosts into one engine).
pub struct Engine {
    set: Arc<RuleSet>,
    corr: Vec<CorrState>,
    hosts: HashMap<String, usize>,
    watermarks: Vec<i64>,
    limits: EngineLimits,
    stats: EngineStats,
}

const SEP: char = '\u{1f}';

impl Engine {
    pub fn new(set: impl Into<Arc<RuleSet>>) -> Engine {
        Engine::with_limits(set, EngineLimits::default())
    }

    pub fn with_limits(set: impl Into<Arc<RuleSet>>, limits: EngineLimits) -> Engine {
        let set = set.into();
        let corr = set
            .corr_order
            .iter()
            .map(|_| CorrState {
                groups: HashMap::new(),
                since_gc: 0,
            })
            .collect();
        Engine {
            set,
            corr,
            hosts: HashMap::new(),
            watermarks: Vec::new(),
            limits,
            stats: EngineStats::default(),
        }
    }

    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Correlation groups currently held, over all rules.
    pub fn group_count(&self) -> usize {
        self.corr.iter().map(|c| c.groups.len()).sum()
    }

    /// Evaluates one event; `now_ms` is the engine's clock (replay: the
    /// event time). Returns the alerts it raised (usually none).
    pub fn process(&mut self, event: &Event, now_ms: i64) -> Vec<Alert> {
        self.stats.events += 1;
        let set = Arc::clone(&self.set);
        let t = event.host_time_ms;
        let mut fired: Vec<Signal> = Vec::new();
        for &r in set
            .by_kind
            .get(event.data.kind_index())
            .map_or(&[][..], |v| v)
        {
            if let Body::Detection(d) = &set.rules[r].body {
                if d.matches(event) {
                    fired.push(Signal {
                        rule: r,
                        time_ms: t,
                        first_ms: t,
                        evidence: vec![event.id],
                    });
                }
            }
        }
        if fired.is_empty() {
            return Vec::new();
        }
        self.stats.matches += fired.len() as u64;
        let mut alerts = Vec::new();
        for s in &fired {
            let info = &set.rules[s.rule].info;
            if info.alerts {
                alerts.push(self.alert(s.rule, event, t, vec![event.id], BTreeMap::new()));
            }
        }
        if fired.iter().all(|s| set.consumers[s.rule].is_empty()) {
            return alerts;
        }
        let host_slot = self.host_slot(&event.host, t);
        for (slot, &ci) in set.corr_order.iter().enumerate() {
            let Body::Correlation(c) = &set.rules[ci].body else {
                continue;
            };
            let mut hit = None;
            // Reverse order: one signal never completes two ordered steps.
            for pos in (0..c.rules.len()).rev() {
                let Some(sig) = fired.iter().find(|s| s.rule == c.rules[pos]) else {
                    continue;
                };
                if let Some(h) = self.feed(slot, c, pos, sig, event, host_slot, now_ms) {
                    hit = Some((h, pos));
                }
            }
            let Some((h, pos)) = hit else { continue };
            self.stats.matches += 1;
            let info = &set.rules[ci].info;
            if info.alerts {
                if h.new_alert {
                    let mut group = Self::group_fields(c, pos, event);
                    if let (Some(v), Some((name, _))) = (&h.value, &c.field) {
                        group.insert(name.clone(), v.clone());
                    }
                    let mut a = self.alert(ci, event, h.first_ms, h.evidence.clone(), group);
                    a.last_ms = t;
                    alerts.push(a);
                } else {
                    self.stats.suppressed += 1;
                }
            }
            fired.push(Signal {
                rule: ci,
                time_ms: t,
                first_ms: h.first_ms,
                evidence: h.evidence,
            });
        }
        self.stats.alerts += alerts.len() as u64;
        alerts
    }

    fn host_slot(&mut self, host: &str, t: i64) -> usize {
        let slot = match self.hosts.get(host) {
            Some(&s) => s,
            None => {
                let s = self.watermarks.len();
                self.hosts.insert(host.to_string(), s);
                self.watermarks.push(i64::MIN);
                s
            }
        };
        self.watermarks[slot] = self.watermarks[slot].max(t);
        slot
    }

    #[allow(clippy::too_many_arguments)]
    fn feed(
        &mut self,
        slot: usize,
        c: &Correlation,
        pos: usize,
        sig: &Signal,
        event: &Event,
        host_slot: usize,
        now_ms: i64,
    ) -> Option<crate::state::Hit> {
        let mut buf = TextBuf::default();
        let value = match &c.field {
            Some((_, f)) => Some(f.and_then(|f| event.get(f))?),
            None => None,
        };
        let value = value.as_ref().map(|v| v.as_text(&mut buf));
        let mut key = String::with_capacity(64);
        if c.per_host {
            key.push_str(&event.host);
        }
        for g in &c.group_by {
            key.push(SEP);
            if let Some(v) = g.per_rule[pos].and_then(|f| event.get(f)) {
                let mut b = TextBuf::default();
                key.push_str(v.as_text(&mut b));
            }
        }
        self.maybe_gc(slot, c, now_ms);
        let max_values = self.limits.max_values_per_group;
        let state = &mut self.corr[slot];
        let (group, fresh) = match state.groups.get_mut(&key) {
            Some(g) => (g, false),
            None => (
                state
                    .groups
                    .entry(key)
                    .or_insert_with(|| Group::new(c, host_slot)),
                true,
            ),
        };
        group.last_now_ms = now_ms;
        group.feed(c, pos, sig, value, fresh, max_values)
    }

    /// The group-by `(name, value)` pairs of `event` for an alert.
    fn group_fields(c: &Correlation, pos: usize, event: &Event) -> BTreeMap<String, String> {
        c.group_by
            .iter()
            .map(|g| {
                let v = g.per_rule[pos]
                    .and_then(|f| event.get(f))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                (g.name.clone(), v)
            })
            .collect()
    }

    fn maybe_gc(&mut self, slot: usize, c: &Correlation, now_ms: i64) {
        let state = &mut self.corr[slot];
        state.since_gc += 1;
        let over = state.groups.len() >= self.limits.max_groups_per_rule;
        if state.since_gc < state.groups.len().max(1024) && !over {
            return;
        }
        state.since_gc = 0;
        self.sweep(slot, c, now_ms);
    }

    fn sweep(&mut self, slot: usize, c: &Correlation, now_ms: i64) {
        let idle = c.timespan_ms.saturating_add(self.limits.idle_grace_ms);
        let watermarks = &self.watermarks;
        let state = &mut self.corr[slot];
        let first_seen = c.ctype == CorrelationType::FirstSeen;
        state.groups.retain(|_, g| {
            let wm = watermarks.get(g.host_slot).copied().unwrap_or(i64::MIN);
            if first_seen {
                if let crate::state::Data::Seen(vals) = &mut g.data {
                    if c.timespan_ms > 0 {
                        let horizon = wm.saturating_sub(c.timespan_ms);
                        vals.retain(|_, seen| *seen >= horizon);
                    }
                }
                return !g.expired(c, wm);
            }
            !g.expired(c, wm) && now_ms.saturating_sub(g.last_now_ms) <= idle
        });
        let max = self.limits.max_groups_per_rule;
        if state.groups.len() >= max {
            // Evict the least recently updated tenth.
            let mut ages: Vec<(i64, String)> = state
                .groups
                .iter()
                .map(|(k, g)| (g.last_now_ms, k.clone()))
                .collect();
            ages.sort_unstable();
            let n = (state.groups.len() - max) + max / 10 + 1;
            for (_, k) in ages.into_iter().take(n) {
                state.groups.remove(&k);
                self.stats.evicted_groups += 1;
            }
        }
    }

    /// Drops expired correlation state (call periodically when events are
    /// rare; `process` also does it as it goes).
    pub fn expire(&mut self, now_ms: i64) {
        let set = Arc::clone(&self.set);
        for (slot, &ci) in set.corr_order.iter().enumerate() {
            if let Body::Correlation(c) = &set.rules[ci].body {
                self.sweep(slot, c, now_ms);
            }
        }
    }

    fn alert(
        &self,
        rule: usize,
        event: &Event,
        first_ms: i64,
        evidence: Vec<u64>,
        group: BTreeMap<String, String>,
    ) -> Alert {
        let info = &self.set.rules[rule].info;
        Alert {
            rule_id: info.id.clone(),
            rule_title: info.title.clone(),
            author: info.author.clone(),
            severity: info.severity,
            technique: info.techniques.first().cloned(),
            host: event.host.clone(),
            first_ms,
            last_ms: event.host_time_ms,
            evidence,
            group_key: group
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            group,
        }
    }
}
