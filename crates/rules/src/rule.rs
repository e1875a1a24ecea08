//! Compiled rules and the rule set.

use crate::alert::Severity;
use crate::condition::Expr;
use crate::detection::Selection;
use ward_events::{Event, Field, KIND_COUNT};

/// The kind of a correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    /// Sigma `event_count`: matching events per group in a window.
    EventCount,
    /// Sigma `value_count`: distinct values of a field per group in a window.
    ValueCount,
    /// Sigma `temporal`: all referenced rules matched per group in a window.
    Temporal,
    /// Sigma `temporal_ordered`: the same, in the listed order.
    TemporalOrdered,
    /// Ward `first_seen`: a field value never seen before for the group.
    FirstSeen,
}

impl CorrelationType {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::FirstSeen => "first_seen",
        }
    }
}

/// What every rule has, detection or correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// `id`, else `name`, else `<file>#<document number>`.
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub author: Option<String>,
    pub description: Option<String>,
    /// The Sigma `level` as written.
    pub level: Option<String>,
    /// Severity from `level` (see [`Severity::from_level`]); `reminder`
    /// when the rule has no level.
    pub severity: Severity,
    /// ATT&CK techniques from `attack.tNNNN[.NNN]` tags, upper-cased.
    pub techniques: Vec<String>,
    pub tags: Vec<String>,
    /// Source name (file) the rule came from.
    pub file: String,
    /// `None` for detection rules.
    pub correlation: Option<CorrelationType>,
    /// Whether the rule raises alerts of its own (see RULES.md "Which rules alert").
    pub alerts: bool,
    /// False when disabled by settings: it raises nothing but still feeds
    /// the correlations that refer to it.
    pub enabled: bool,
    /// Event kinds the rule can see (its `logsource`; for a correlation,
    /// those of the rules it refers to). Empty: no Ward collector produces
    /// events of that log source (e.g. `service: auditd`), it never matches.
    pub kinds: Vec<&'static str>,
    /// Fields the rule reads that no event of its log source carries (e.g.
    /// `DestinationHostname`): tests on them never hold, so the rule cannot
    /// work as written. `keywords` when it searches raw lines its events do
    /// not keep.
    pub unknown_fields: Vec<String>,
    /// The rule's `logsource` as written (`product: linux, service: auditd`),
    /// empty when it has none.
    pub logsource: String,
}

impl RuleInfo {
    /// Whether the rule can match Ward's events as written: it sees some
    /// event kind and every field it reads exists there.
    pub fn usable(&self) -> bool {
        !self.kinds.is_empty() && self.unknown_fields.is_empty()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub selections: Vec<Selection>,
    pub condition: Expr,
    /// Event kinds the `logsource` admits.
    pub kinds: [bool; KIND_COUNT],
}

impl Detection {
    pub fn matches(&self, event: &Event) -> bool {
        self.condition
            .eval(&mut |i| self.selections.get(i).is_some_and(|s| s.matches(event)))
    }
}

/// A `group-by` entry: the field to read from events of each referenced rule
/// (after `aliases`).
#[derive(Debug, Clone)]
pub(crate) struct GroupField {
    pub name: String,
    /// Field per position in `Correlation::rules` (`None`: never present).
    pub per_rule: Vec<Option<Field>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Correlation {
    pub ctype: CorrelationType,
    /// Referenced rules (indices into the rule set).
    pub rules: Vec<usize>,
    pub group_by: Vec<GroupField>,
    /// Window (for `first_seen`: how long a value is remembered; 0 = forever).
    pub timespan_ms: i64,
    /// Count needed (events, distinct values, or distinct rules for temporal).
    pub threshold: usize,
    /// `value_count` / `first_seen` field, with its name.
    pub field: Option<(String, Option<Field>)>,
    pub generate: bool,
    /// Ward extension `per-host` (default true): state is kept per host.
    pub per_host: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Detection(Detection),
    Correlation(Correlation),
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub info: RuleInfo,
    pub body: Body,
}

/// A compiled, immutable rule set. Build it with [`crate::RuleSetBuilder`].
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Detection rules to evaluate, per event kind.
    pub(crate) by_kind: Vec<Vec<usize>>,
    /// Correlations in dependency order (referenced ones first).
    pub(crate) corr_order: Vec<usize>,
    /// For each rule, the correlations that refer to it.
    pub(crate) consumers: Vec<Vec<usize>>,
    pub(crate) needs_raw: bool,
}

impl RuleSet {
    /// Every rule's description, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.iter().map(|r| &r.info)
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&RuleInfo> {
        self.rules().find(|r| r.id == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True when some rule reads the raw line (Sigma `keywords` or
    /// `Message`): collectors should then keep `Event::raw`.
    pub fn needs_raw(&self) -> bool {
        self.needs_raw
    }
}
