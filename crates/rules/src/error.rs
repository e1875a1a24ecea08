//! Rule errors with stable codes (`W1001` ...). Codes never change meaning;
//! new codes are appended.

use std::fmt;

/// Stable rule error codes. The table is in `crates/rules/RULES.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// W1001: a field modifier (`|name`) Ward does not know.
    UnknownModifier,
    /// W1002: a condition expression that does not parse.
    BadCondition,
    /// W1003: a Sigma modifier Ward knows but does not implement.
    UnsupportedModifier,
    /// W1004: a condition names a selection that does not exist.
    UnknownIdentifier,
    /// W1005: the YAML itself is malformed (or uses aliases).
    Yaml,
    /// W1006: a required attribute is missing.
    MissingField,
    /// W1007: an attribute has the wrong type or an invalid value.
    InvalidValue,
    /// W1008: a `|re` pattern does not compile.
    BadRegex,
    /// W1009: a `|cidr` value is not a network.
    BadCidr,
    /// W1010: a `timespan` is not `<number><s|m|h|d>`.
    BadTimespan,
    /// W1011: a correlation refers to a rule that does not exist.
    UnknownRuleReference,
    /// W1012: a correlation type or condition Ward does not support.
    UnsupportedCorrelation,
    /// W1013: two rules share an id or a name.
    DuplicateRule,
    /// W1014: correlations refer to each other in a cycle.
    CorrelationCycle,
    /// W1015: a setting names an unknown rule or has a bad value.
    BadSetting,
    /// W1016: `level` is not a Sigma level or Ward severity.
    UnknownLevel,
    /// W1017: a Sigma feature Ward does not support (e.g. `| count()` pipes).
    UnsupportedFeature,
    /// W1018: a size, depth or count limit was exceeded.
    Limit,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::UnknownModifier,
        ErrorCode::BadCondition,
        ErrorCode::UnsupportedModifier,
        ErrorCode::UnknownIdentifier,
        ErrorCode::Yaml,
        ErrorCode::MissingField,
        ErrorCode::InvalidValue,
        ErrorCode::BadRegex,
        ErrorCode::BadCidr,
        ErrorCode::BadTimespan,
        ErrorCode::UnknownRuleReference,
        ErrorCode::UnsupportedCorrelation,
        ErrorCode::DuplicateRule,
        ErrorCode::CorrelationCycle,
        ErrorCode::BadSetting,
        ErrorCode::UnknownLevel,
        ErrorCode::UnsupportedFeature,
        ErrorCode::Limit,
    ];

    /// The stable code, e.g. `W1001`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::UnknownModifier => "W1001",
            ErrorCode::BadCondition => "W1002",
            ErrorCode::UnsupportedModifier => "W1003",
            ErrorCode::UnknownIdentifier => "W1004",
            ErrorCode::Yaml => "W1005",
            ErrorCode::MissingField => "W1006",
            ErrorCode::InvalidValue => "W1007",
            ErrorCode::BadRegex => "W1008",
            ErrorCode::BadCidr => "W1009",
            ErrorCode::BadTimespan => "W1010",
            ErrorCode::UnknownRuleReference => "W1011",
            ErrorCode::UnsupportedCorrelation => "W1012",
            ErrorCode::DuplicateRule => "W1013",
            ErrorCode::CorrelationCycle => "W1014",
            ErrorCode::BadSetting => "W1015",
            ErrorCode::UnknownLevel => "W1016",
            ErrorCode::UnsupportedFeature => "W1017",
            ErrorCode::Limit => "W1018",
        }
    }

    /// Short description, e.g. `unknown modifier`.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::UnknownModifier => "unknown modifier",
            ErrorCode::BadCondition => "bad condition",
            ErrorCode::UnsupportedModifier => "unsupported modifier",
            ErrorCode::UnknownIdentifier => "unknown selection in condition",
            ErrorCode::Yaml => "malformed YAML",
            ErrorCode::MissingField => "missing attribute",
            ErrorCode::InvalidValue => "invalid value",
            ErrorCode::BadRegex => "bad regular expression",
            ErrorCode::BadCidr => "bad CIDR network",
            ErrorCode::BadTimespan => "bad timespan",
            ErrorCode::UnknownRuleReference => "unknown rule reference",
            ErrorCode::UnsupportedCorrelation => "unsupported correlation",
            ErrorCode::DuplicateRule => "duplicate rule",
            ErrorCode::CorrelationCycle => "correlation cycle",
            ErrorCode::BadSetting => "bad setting",
            ErrorCode::UnknownLevel => "unknown level",
            ErrorCode::UnsupportedFeature => "unsupported feature",
            ErrorCode::Limit => "limit exceeded",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A position in a rule file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// One error in a rule set, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub code: ErrorCode,
    pub message: String,
    /// The file (or source name) the rule came from.
    pub file: Option<String>,
    /// The rule's id (or title when it has no id).
    pub rule: Option<String>,
    pub pos: Option<Pos>,
}

impl RuleError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RuleError {
        RuleError {
            code,
            message: message.into(),
            file: None,
            rule: None,
            pos: None,
        }
    }

    pub fn at(mut self, pos: Pos) -> RuleError {
        self.pos = Some(pos);
        self
    }

    pub(crate) fn in_file(mut self, file: &str) -> RuleError {
        if self.file.is_none() {
            self.file = Some(file.to_string());
        }
        self
    }

    pub(crate) fn in_rule(mut self, rule: Option<&str>) -> RuleError {
        if self.rule.is_none() {
            self.rule = rule.map(str::to_string);
        }
        self
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.code.title(), self.message)?;
        let mut parts = Vec::new();
        match (&self.file, self.pos) {
            (Some(file), Some(p)) => parts.push(format!("{file}:{}:{}", p.line, p.col)),
            (Some(file), None) => parts.push(file.clone()),
            (None, Some(p)) => parts.push(format!("line {}:{}", p.line, p.col)),
            (None, None) => {}
        }
        if let Some(rule) = &self.rule {
            parts.push(format!("rule {rule}"));
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// All errors of a rule set that did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileErrors(pub Vec<RuleError>);

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rule error(s)", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}
