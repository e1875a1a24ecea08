//! Every stable error code, produced by a rule written to trigger it, with
//! its file, rule and position.

use ward_rules::{ErrorCode, RuleError, RuleSetBuilder, RuleSettings};

const BASE: &str = "title: Base\nid: base-1\nname: base\nlogsource:\n  product: linux\ndetection:\n  sel:\n    User: root\n  condition: sel\n";

fn errors_of(yaml: &str) -> Vec<RuleError> {
    let mut b = RuleSetBuilder::new();
    b.add_source("test.yml", yaml);
    match b.build() {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

fn only(yaml: &str, code: ErrorCode) -> RuleError {
    let errs = errors_of(yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].code, code, "{}", errs[0]);
    assert_eq!(errs[0].file.as_deref(), Some("test.yml"));
    errs[0].clone()
}

fn detection(det: &str) -> String {
    format!("title: T\nid: r-1\ndetection:\n{det}")
}

#[test]
fn w1001_unknown_modifier_with_position() {
    let e = only(
        &detection("  sel:\n    User|frobnicate: x\n  condition: sel\n"),
        ErrorCode::UnknownModifier,
    );
    assert_eq!(e.rule.as_deref(), Some("r-1"));
    let pos = e.pos.expect("position");
    assert_eq!((pos.line, pos.col), (5, 5));
    let shown = e.to_string();
    assert!(shown.starts_with("W1001 unknown modifier"), "{shown}");
    assert!(shown.contains("test.yml:5:5"), "{shown}");
    assert!(shown.contains("rule r-1"), "{shown}");
}

#[test]
fn w1002_bad_condition() {
    let e = only(
        &detection("  sel:\n    User: x\n  condition: sel and (\n"),
        ErrorCode::BadCondition,
    );
    assert_eq!(e.pos.map(|p| p.line), Some(6));
}

#[test]
fn w1003_unsupported_modifier() {
    only(
        &detection("  sel:\n    CommandLine|base64offset|contains: x\n  condition: sel\n"),
        ErrorCode::UnsupportedModifier,
    );
}

#[test]
fn w1004_unknown_selection() {
    only(
        &detection("  sel:\n    User: x\n  condition: sel and not filter\n"),
        ErrorCode::UnknownIdentifier,
    );
    only(
        &detection("  sel:\n    User: x\n  condition: 1 of filter_*\n"),
        ErrorCode::UnknownIdentifier,
    );
}

#[test]
fn w1005_malformed_yaml() {
    let e = only("title: [unclosed\n", ErrorCode::Yaml);
    assert!(e.pos.is_some());
    only("a: &x 1\nb: *x\n", ErrorCode::Yaml);
}

#[test]
fn w1006_missing_attributes() {
    only(
        "id: x\ndetection:\n  sel:\n    User: x\n  condition: sel\n",
        ErrorCode::MissingField,
    );
    only("title: T\nid: x\n", ErrorCode::MissingField);
    only(&detection("  sel:\n    User: x\n"), ErrorCode::MissingField);
    only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  timespan: 1m\n"), ErrorCode::MissingField);
    only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: value_count\n  rules: [base]\n  timespan: 1m\n  condition:\n    gte: 2\n"), ErrorCode::MissingField);
}

#[test]
fn w1007_invalid_values() {
    only(
        &detection("  sel:\n    User:\n      nested: map\n  condition: sel\n"),
        ErrorCode::InvalidValue,
    );
    only(
        &detection("  sel:\n    User|exists: maybe\n  condition: sel\n"),
        ErrorCode::InvalidValue,
    );
    only(
        &detection("  sel:\n    SourcePort|gt: many\n  condition: sel\n"),
        ErrorCode::InvalidValue,
    );
    only(
        &detection("  sel:\n    User|contains|startswith: x\n  condition: sel\n"),
        ErrorCode::InvalidValue,
    );
    only("- just\n- a list\n", ErrorCode::InvalidValue);
}

#[test]
fn w1008_bad_regex() {
    only(
        &detection("  sel:\n    User|re: '(unclosed'\n  condition: sel\n"),
        ErrorCode::BadRegex,
    );
}

#[test]
fn w1009_bad_cidr() {
    only(
        &detection("  sel:\n    SourceIp|cidr: 192.0.2.0/33\n  condition: sel\n"),
        ErrorCode::BadCidr,
    );
}

#[test]
fn w1010_bad_timespan() {
    only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  timespan: 10 minutes\n  condition:\n    gte: 2\n"), ErrorCode::BadTimespan);
}

#[test]
fn w1011_unknown_rule_reference() {
    let e = only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1m\n  condition:\n    gte: 2\n"), ErrorCode::UnknownRuleReference);
    assert_eq!(e.rule.as_deref(), Some("c"));
    assert_eq!(e.pos.map(|p| p.line), Some(15));
}

#[test]
fn w1012_unsupported_correlation() {
    only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: value_sum\n  rules: [base]\n  timespan: 1m\n"), ErrorCode::UnsupportedCorrelation);
    only(&format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  timespan: 1m\n  condition:\n    lt: 2\n"), ErrorCode::UnsupportedCorrelation);
}

#[test]
fn w1013_duplicate_rule() {
    only(
        &format!("{BASE}---\n{}", BASE.replace("name: base\n", "")),
        ErrorCode::DuplicateRule,
    );
}

#[test]
fn w1014_correlation_cycle() {
    let yaml = format!(
        "{BASE}---\ntitle: A\nid: a\ncorrelation:\n  type: temporal\n  rules: [base, b]\n  timespan: 1m\n---\ntitle: B\nid: b\ncorrelation:\n  type: temporal\n  rules: [a]\n  timespan: 1m\n"
    );
    let errs = errors_of(&yaml);
    assert!(
        errs.iter().any(|e| e.code == ErrorCode::CorrelationCycle),
        "{errs:?}"
    );
    // Lenient build keeps the base rule.
    let mut b = RuleSetBuilder::new();
    b.add_source("test.yml", yaml);
    let (set, _) = b.build_lenient();
    assert!(set.rule("base-1").is_some());
    assert!(set.rule("a").is_none() && set.rule("b").is_none());
}

#[test]
fn w1015_bad_setting() {
    let mut b = RuleSetBuilder::with_builtin();
    b.settings(RuleSettings::default().threshold("no-such-rule", 3));
    assert_eq!(b.build().unwrap_err().0[0].code, ErrorCode::BadSetting);
    let mut b = RuleSetBuilder::with_builtin();
    b.settings(RuleSettings::default().threshold("ward-login-005", 3));
    assert_eq!(b.build().unwrap_err().0[0].code, ErrorCode::BadSetting);
    let mut b = RuleSetBuilder::with_builtin();
    b.settings(RuleSettings::default().timespan("ward-login-001", "soon"));
    assert_eq!(b.build().unwrap_err().0[0].code, ErrorCode::BadSetting);
}

#[test]
fn w1016_unknown_level() {
    only(
        &format!(
            "{}level: severe\n",
            detection("  sel:\n    User: x\n  condition: sel\n")
        ),
        ErrorCode::UnknownLevel,
    );
}

#[test]
fn w1017_unsupported_feature() {
    only(
        &detection("  sel:\n    User: x\n  condition: sel | count() by SourceIp > 5\n"),
        ErrorCode::UnsupportedFeature,
    );
    only(
        &detection("  sel:\n    User: x\n  timeframe: 5m\n  condition: sel\n"),
        ErrorCode::UnsupportedFeature,
    );
}

#[test]
fn w1018_limits() {
    let deep = format!("title: {}1{}\n", "[".repeat(40), "]".repeat(40));
    only(&deep, ErrorCode::Limit);
    let huge = format!("title: '{}'\n", "x".repeat(ward_rules::MAX_SOURCE_BYTES));
    only(&huge, ErrorCode::Limit);
    // Very deep flow nesting is refused, not a stack overflow.
    let flow = format!("title: {}\n", "[".repeat(200_000));
    let errs = errors_of(&flow);
    assert!(
        matches!(errs[0].code, ErrorCode::Limit | ErrorCode::Yaml),
        "{errs:?}"
    );
    let not_chain = detection(&format!(
        "  sel:\n    User: x\n  condition: {}sel\n",
        "not ".repeat(1000)
    ));
    only(&not_chain, ErrorCode::Limit);
}

#[test]
fn every_code_is_distinct_and_stable() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    let expected: Vec<String> = (1001..=1018).map(|n| format!("W{n}")).collect();
    assert_eq!(codes, expected);
}

#[test]
fn lenient_build_reports_and_skips_bad_rules_only() {
    let yaml = format!(
        "{BASE}---\n{}",
        detection("  sel:\n    User|nope: x\n  condition: sel\n")
    );
    let mut b = RuleSetBuilder::new();
    b.add_source("test.yml", yaml);
    let (set, errs) = b.build_lenient();
    assert_eq!(set.len(), 1);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code, ErrorCode::UnknownModifier);
}
