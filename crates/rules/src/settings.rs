//! Per-rule settings applied when a rule set is compiled (thresholds,
//! windows, severity, enabled). Typed so they can sit in the server's TOML.

use crate::alert::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Overrides keyed by rule id, e.g. in TOML:
///
/// ```toml
/// [rules."ward-login-001"]
/// threshold = 10
/// timespan = "5m"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(default)]
    pub rules: BTreeMap<String, RuleOverride>,
}

/// What can be changed on one rule. Unset fields keep the rule's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    /// False: the rule raises no alerts (it still feeds correlations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The count of an `event_count` / `value_count` rule (`gte`), or the
    /// number of rules a `temporal` rule needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// A correlation window, Sigma syntax (`120s`, `5m`, `1h`, `90d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl RuleSettings {
    /// Sets one rule's threshold (convenience for tests and CLIs).
    pub fn threshold(mut self, rule_id: &str, n: u64) -> Self {
        self.rules.entry(rule_id.to_string()).or_default().threshold = Some(n);
        self
    }

    /// Sets one rule's window.
    pub fn timespan(mut self, rule_id: &str, span: &str) -> Self {
        self.rules.entry(rule_id.to_string()).or_default().timespan = Some(span.to_string());
        self
    }

    /// Enables or disables one rule.
    pub fn enabled(mut self, rule_id: &str, on: bool) -> Self {
        self.rules.entry(rule_id.to_string()).or_default().enabled = Some(on);
        self
    }
}
