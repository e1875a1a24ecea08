//! Sigma semantics: selections, modifiers, conditions, correlation types,
//! de-duplication and bounded state.

mod common;
use common::*;
use ward_events::Event;
use ward_rules::{Alert, Engine, EngineLimits, RuleSet, RuleSetBuilder};

fn set(yaml: &str) -> RuleSet {
    let mut b = RuleSetBuilder::new();
    b.add_source("t.yml", yaml);
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

fn rule(det: &str) -> RuleSet {
    set(&format!(
        "title: T\nid: t\nlevel: high\nlogsource:\n  product: linux\ndetection:\n{det}"
    ))
}

fn hits(s: &RuleSet, events: &[Event]) -> Vec<u64> {
    let mut engine = Engine::new(s.clone());
    events
        .iter()
        .flat_map(|e| engine.process(e, e.host_time_ms))
        .flat_map(|a| a.evidence)
        .collect()
}

fn alerts(s: &RuleSet, events: &[Event]) -> Vec<Alert> {
    let mut engine = Engine::new(s.clone());
    events
        .iter()
        .flat_map(|e| engine.process(e, e.host_time_ms))
        .collect()
}

fn users() -> Vec<Event> {
    ["root", "Administrator", "oracle", "web-admin", "guest"]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            failed(
                i as u64 + 1,
                i as i64,
                "h",
                &format!("192.0.2.{}", i + 1),
                u,
            )
        })
        .collect()
}

#[test]
fn plain_values_lists_and_wildcards() {
    let evs = users();
    assert_eq!(
        hits(&rule("  s:\n    User: ROOT\n  condition: s\n"), &evs),
        vec![1]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User: [root, guest]\n  condition: s\n"),
            &evs
        ),
        vec![1, 5]
    );
    assert_eq!(
        hits(&rule("  s:\n    User: '*admin*'\n  condition: s\n"), &evs),
        vec![2, 4]
    );
    assert_eq!(
        hits(&rule("  s:\n    User: 'o?acle'\n  condition: s\n"), &evs),
        vec![3]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|cased: Administrator\n  condition: s\n"),
            &evs
        ),
        vec![2]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|cased: administrator\n  condition: s\n"),
            &evs
        ),
        Vec::<u64>::new()
    );
}

#[test]
fn string_modifiers() {
    let evs = users();
    assert_eq!(
        hits(
            &rule("  s:\n    User|contains: admin\n  condition: s\n"),
            &evs
        ),
        vec![2, 4]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|startswith: web\n  condition: s\n"),
            &evs
        ),
        vec![4]
    );
    assert_eq!(
        hits(&rule("  s:\n    User|endswith: t\n  condition: s\n"), &evs),
        vec![1, 5]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|contains|all: [web, admin]\n  condition: s\n"),
            &evs
        ),
        vec![4]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|re: '^[a-z]+$'\n  condition: s\n"),
            &evs
        ),
        vec![1, 3, 5]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    User|re|i: '^ADMIN'\n  condition: s\n"),
            &evs
        ),
        vec![2]
    );
}

#[test]
fn network_numeric_exists_and_null() {
    let evs = users();
    assert_eq!(
        hits(
            &rule("  s:\n    SourceIp|cidr: 192.0.2.4/31\n  condition: s\n"),
            &evs
        ),
        vec![4, 5]
    );
    assert_eq!(
        hits(&rule("  s:\n    src_ip: 192.0.2.3\n  condition: s\n"), &evs),
        vec![3]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    SourceIp|startswith: '192.0.2.5'\n  condition: s\n"),
            &evs
        ),
        vec![5]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    SourcePort|gte: 40000\n    User: guest\n  condition: s\n"),
            &evs
        ),
        vec![5]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    SourcePort|lt: 40000\n  condition: s\n"),
            &evs
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        hits(
            &rule("  s:\n    SourcePort: 40000\n    User: root\n  condition: s\n"),
            &evs
        ),
        vec![1]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    InvalidUser: false\n    User: root\n  condition: s\n"),
            &evs
        ),
        vec![1]
    );
    assert_eq!(
        hits(
            &rule("  s:\n    TargetUser|exists: true\n  condition: s\n"),
            &evs
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        hits(
            &rule("  s:\n    TargetUser: null\n    User: guest\n  condition: s\n"),
            &evs
        ),
        vec![5]
    );
    // A field no event has never matches (except null / exists: false).
    assert_eq!(
        hits(
            &rule("  s:\n    Image|endswith: /bash\n  condition: s\n"),
            &evs
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        hits(
            &rule("  s:\n    Image|exists: false\n    User: root\n  condition: s\n"),
            &evs
        ),
        vec![1]
    );
}

#[test]
fn conditions_and_lists_of_maps() {
    let evs = users();
    let r = rule("  sel:\n    - User: root\n    - SourceIp: 192.0.2.2\n  filter_1:\n    User: Administrator\n  condition: sel and not filter_1\n");
    assert_eq!(hits(&r, &evs), vec![1]);
    let r =
        rule("  sel_a:\n    User: oracle\n  sel_b:\n    User: guest\n  condition: 1 of sel_*\n");
    assert_eq!(hits(&r, &evs), vec![3, 5]);
    let r = rule("  sel_a:\n    User|contains: a\n  sel_b:\n    User|contains: d\n  condition: all of them\n");
    assert_eq!(hits(&r, &evs), vec![2, 4]);
    let r = rule("  a:\n    User: root\n  b:\n    User: guest\n  condition:\n    - a\n    - b\n");
    assert_eq!(hits(&r, &evs), vec![1, 5]);
}

#[test]
fn keywords_search_the_raw_line() {
    let mut e = failed(1, 0, "h", "192.0.2.1", "root");
    e.set_raw("Dec 10 06:55:48 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2");
    let r = rule("  keywords:\n    - 'FAILED PASSWORD'\n    - nothing\n  condition: keywords\n");
    assert!(r.needs_raw());
    assert_eq!(hits(&r, &[e]), vec![1]);
    // Without the raw line, keywords cannot match.
    assert_eq!(
        hits(&r, &[failed(2, 0, "h", "192.0.2.1", "root")]),
        Vec::<u64>::new()
    );
}

#[test]
fn logsource_limits_rules_to_matching_kinds() {
    let evs = users();
    let other = set("title: T\nid: t\nlogsource:\n  category: process_creation\n  product: linux\ndetection:\n  s:\n    User: root\n  condition: s\n");
    assert_eq!(hits(&other, &evs), Vec::<u64>::new());
    let windows = set("title: T\nid: t\nlogsource:\n  product: windows\ndetection:\n  s:\n    User: root\n  condition: s\n");
    assert_eq!(hits(&windows, &evs), Vec::<u64>::new());
    let sshd = set("title: T\nid: t\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  s:\n    User: root\n  condition: s\n");
    assert_eq!(hits(&sshd, &evs), vec![1]);
    let sudo = set("title: T\nid: t\nlogsource:\n  service: sudo\ndetection:\n  s:\n    User: root\n  condition: s\n");
    assert_eq!(hits(&sudo, &evs), Vec::<u64>::new());
}

const BASES: &str = "title: F\nid: f\nname: failed\ndetection:\n  s:\n    kind: auth.ssh_failed\n  condition: s\n---\ntitle: A\nid: a\nname: accepted\ndetection:\n  s:\n    kind: auth.ssh_accepted\n  condition: s\n";

#[test]
fn temporal_unordered_needs_all_rules_in_window_any_order() {
    let s = set(&format!("{BASES}---\ntitle: Both\nid: both\nlevel: high\ncorrelation:\n  type: temporal\n  rules: [failed, accepted]\n  group-by: [User]\n  timespan: 60s\n"));
    // Accepted first, failed second: still a match (unordered).
    let evs = vec![
        accepted(1, 0, "h", "192.0.2.1", "bob", "password"),
        failed(2, 30, "h", "192.0.2.9", "bob"),
    ];
    let a = alerts(&s, &evs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group_key, "User=bob");
    let mut ev = a[0].evidence.clone();
    ev.sort();
    assert_eq!(ev, vec![1, 2]);
    // Too far apart, or different users: nothing.
    let evs = vec![
        accepted(1, 0, "h", "192.0.2.1", "bob", "password"),
        failed(2, 61, "h", "192.0.2.9", "bob"),
    ];
    assert!(alerts(&s, &evs).is_empty());
    let evs = vec![
        accepted(1, 0, "h", "192.0.2.1", "bob", "password"),
        failed(2, 1, "h", "192.0.2.9", "eve"),
    ];
    assert!(alerts(&s, &evs).is_empty());
}

#[test]
fn aliases_map_group_fields_per_rule() {
    // The alias `who` names the field to group by in each referenced rule.
    let s = set(&format!("{BASES}---\ntitle: X\nid: x\nlevel: low\ncorrelation:\n  type: temporal_ordered\n  rules: [failed, accepted]\n  group-by: [who]\n  timespan: 60s\n  aliases:\n    who:\n      failed: User\n      accepted: User\n"));
    let evs = vec![
        failed(1, 0, "h", "192.0.2.1", "bob"),
        accepted(2, 5, "h", "192.0.2.2", "bob", "password"),
    ];
    let a = alerts(&s, &evs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group_key, "who=bob");
}

#[test]
fn per_host_false_correlates_across_hosts() {
    let fleet = set(&format!("{BASES}---\ntitle: C\nid: c\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [SourceIp]\n  timespan: 60s\n  per-host: false\n  condition:\n    gte: 3\n"));
    let evs = vec![
        failed(1, 0, "a", "192.0.2.1", "root"),
        failed(2, 1, "b", "192.0.2.1", "root"),
        failed(3, 2, "c", "192.0.2.1", "root"),
    ];
    assert_eq!(alerts(&fleet, &evs).len(), 1);
    let per_host = set(&format!("{BASES}---\ntitle: C\nid: c\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [SourceIp]\n  timespan: 60s\n  condition:\n    gt: 2\n"));
    assert!(alerts(&per_host, &evs).is_empty());
}

#[test]
fn generate_controls_base_rule_alerts() {
    let yaml = |g: &str| {
        format!("title: F\nid: f\nname: failed\nlevel: low\ndetection:\n  s:\n    kind: auth.ssh_failed\n  condition: s\n---\ntitle: C\nid: c\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 60s\n  condition:\n    gte: 2\n{g}")
    };
    let evs = vec![
        failed(1, 0, "a", "192.0.2.1", "root"),
        failed(2, 1, "a", "192.0.2.1", "root"),
    ];
    let ids = |s: &RuleSet| {
        alerts(s, &evs)
            .into_iter()
            .map(|a| a.rule_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&set(&yaml(""))), vec!["c"]);
    assert_eq!(ids(&set(&yaml("generate: true\n"))), vec!["f", "f", "c"]);
}

#[test]
fn state_is_bounded_and_expires() {
    let s = set(&format!("{BASES}---\ntitle: C\nid: c\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [SourceIp]\n  timespan: 60s\n  condition:\n    gte: 100\n"));
    let limits = EngineLimits {
        max_groups_per_rule: 1000,
        ..EngineLimits::default()
    };
    let mut engine = Engine::with_limits(s.clone(), limits);
    // 20,000 distinct sources, one failure each, within one second.
    for i in 0..20_000u64 {
        let ip = format!("2001:db8::{:x}", i + 1);
        engine.process(&failed(i + 1, 0, "h", &ip, "root"), T0);
    }
    assert!(engine.group_count() <= 1000, "{}", engine.group_count());
    assert!(engine.stats().evicted_groups >= 19_000);
    // Once host time passes the window, everything expires.
    engine.process(
        &failed(99_999, 3600, "h", "192.0.2.1", "root"),
        T0 + 3_600_000,
    );
    engine.expire(T0 + 3_600_000);
    assert_eq!(engine.group_count(), 1);
    // Idle hosts are dropped after the window plus the idle grace.
    engine.expire(T0 + 3_600_000 + 60_000 + EngineLimits::default().idle_grace_ms + 1);
    assert_eq!(engine.group_count(), 0);
}
