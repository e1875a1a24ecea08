//! One test (at least) per built-in rule, on hand-made event sequences.

mod common;
use common::*;
use ward_events::Event;
use ward_rules::{
    Alert, Engine, RuleSet, RuleSetBuilder, RuleSettings, Severity, BUILTIN_RULE_IDS,
};

fn builtin() -> RuleSet {
    RuleSetBuilder::with_builtin()
        .build()
        .expect("built-in rules compile")
}

fn run(set: RuleSet, events: &[Event]) -> Vec<Alert> {
    let mut engine = Engine::new(set);
    events
        .iter()
        .flat_map(|e| engine.process(e, e.host_time_ms))
        .collect()
}

fn of<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule_id == rule).collect()
}

#[test]
fn builtin_rules_compile_with_documented_metadata() {
    let set = builtin();
    for id in BUILTIN_RULE_IDS {
        let r = set.rule(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(r.alerts, "{id} alerts");
        assert_eq!(r.author.as_deref(), Some("Ward"));
        assert!(!r.techniques.is_empty(), "{id} has a technique");
    }
    // Base rules feed correlations and never alert themselves.
    for r in set.rules().filter(|r| r.id.starts_with("ward-login-base-")) {
        assert!(!r.alerts, "{} must not alert", r.id);
    }
    let sev = |id| set.rule(id).unwrap().severity;
    assert_eq!(sev("ward-login-001"), Severity::Suspicious);
    assert_eq!(sev("ward-login-003"), Severity::Urgent);
    assert_eq!(sev("ward-login-004"), Severity::Reminder);
}

#[test]
fn w001_brute_force_needs_8_failures_within_120s() {
    // 7 failures in 60 s: nothing; the 8th at 119 s after the first: alert.
    let mut evs: Vec<Event> = (0..7)
        .map(|i| failed(i + 1, i as i64 * 10, "h", "192.0.2.1", "root"))
        .collect();
    assert!(of(&run(builtin(), &evs), "ward-login-001").is_empty());
    evs.push(failed(8, 119, "h", "192.0.2.1", "root"));
    let alerts = run(builtin(), &evs);
    let a = of(&alerts, "ward-login-001");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].evidence, (1..=8).collect::<Vec<u64>>());
    assert_eq!(a[0].group_key, "SourceIp=192.0.2.1");
    assert_eq!(a[0].host, "h");
    assert_eq!(a[0].technique.as_deref(), Some("T1110.001"));
    assert_eq!((a[0].first_ms, a[0].last_ms), (T0, T0 + 119_000));
    // The same 8 failures spread over 121 s do not cross.
    let mut spread = evs.clone();
    spread[7] = failed(8, 121, "h", "192.0.2.1", "root");
    assert!(of(&run(builtin(), &spread), "ward-login-001").is_empty());
}

#[test]
fn w001_ignores_none_probes_and_other_sources() {
    let mut evs: Vec<Event> = (0..7)
        .map(|i| failed(i + 1, i as i64, "h", "192.0.2.1", "root"))
        .collect();
    evs.push(failed_method(8, 8, "h", "192.0.2.1", "x", "none"));
    evs.push(failed(9, 9, "h", "192.0.2.2", "root"));
    assert!(of(&run(builtin(), &evs), "ward-login-001").is_empty());
}

#[test]
fn w001_one_alert_per_burst_and_a_new_one_after_a_quiet_window() {
    // 40 failures one every 5 s (a 200 s burst): one alert.
    let mut evs: Vec<Event> = (0..40)
        .map(|i| failed(i + 1, i as i64 * 5, "h", "192.0.2.1", "root"))
        .collect();
    assert_eq!(of(&run(builtin(), &evs), "ward-login-001").len(), 1);
    // Quiet for 121 s after the last matching failure, then another burst: second alert.
    let restart = 39 * 5 + 121;
    evs.extend((0..8).map(|i| failed(100 + i, restart + i as i64, "h", "192.0.2.1", "root")));
    assert_eq!(of(&run(builtin(), &evs), "ward-login-001").len(), 2);
}

#[test]
fn w001_is_kept_per_host() {
    // 4 failures on each of two hosts from one source: no host crosses 8.
    let evs: Vec<Event> = (0..8)
        .map(|i| {
            failed(
                i + 1,
                i as i64,
                if i % 2 == 0 { "a" } else { "b" },
                "192.0.2.1",
                "root",
            )
        })
        .collect();
    assert!(of(&run(builtin(), &evs), "ward-login-001").is_empty());
}

#[test]
fn w002_distributed_brute_force_needs_5_sources_in_60s() {
    let ips = [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "198.51.100.4",
        "2001:db8::5",
    ];
    let evs: Vec<Event> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| failed(i as u64 + 1, i as i64 * 14, "h", ip, "root"))
        .collect();
    let alerts = run(builtin(), &evs);
    let a = of(&alerts, "ward-login-002");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].evidence.len(), 5);
    assert_eq!(a[0].group_key, "");
    // Four sources repeated many times are not five.
    let evs: Vec<Event> = (0..20)
        .map(|i| failed(i + 1, i as i64, "h", ips[(i % 4) as usize], "root"))
        .collect();
    assert!(of(&run(builtin(), &evs), "ward-login-002").is_empty());
    // Five sources over 61 s are not within the window.
    let evs: Vec<Event> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            failed(
                i as u64 + 1,
                i as i64 * 15 + (i == 4) as i64,
                "h",
                ip,
                "root",
            )
        })
        .collect();
    assert!(of(&run(builtin(), &evs), "ward-login-002").is_empty());
}

#[test]
fn w003_login_after_brute_force_from_that_source_is_urgent() {
    let mut evs: Vec<Event> = (0..10)
        .map(|i| failed(i + 1, i as i64, "h", "192.0.2.9", "root"))
        .collect();
    evs.push(accepted(11, 30, "h", "192.0.2.9", "root", "password"));
    let alerts = run(builtin(), &evs);
    let a = of(&alerts, "ward-login-003");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity, Severity::Urgent);
    assert!(a[0].evidence.contains(&11));
    assert!(a[0].evidence.contains(&10));
    assert_eq!(a[0].group_key, "SourceIp=192.0.2.9");
    // The brute-force alert itself is still raised.
    assert_eq!(of(&alerts, "ward-login-001").len(), 1);
    // A login from another source, or on another host, is not it.
    let mut other = evs[..10].to_vec();
    other.push(accepted(11, 30, "h", "192.0.2.10", "root", "password"));
    other.push(accepted(
        12,
        31,
        "other-host",
        "192.0.2.9",
        "root",
        "password",
    ));
    assert!(of(&run(builtin(), &other), "ward-login-003").is_empty());
    // Nor a login long after (30 min window from the brute force).
    let mut late = evs[..10].to_vec();
    late.push(accepted(
        11,
        10 + 31 * 60,
        "h",
        "192.0.2.9",
        "root",
        "password",
    ));
    assert!(of(&run(builtin(), &late), "ward-login-003").is_empty());
    // Nor a login before the brute force.
    let mut before = vec![accepted(1, 0, "h", "192.0.2.9", "root", "password")];
    before.extend((0..10).map(|i| failed(i + 2, i as i64 + 1, "h", "192.0.2.9", "root")));
    assert!(of(&run(builtin(), &before), "ward-login-003").is_empty());
}

#[test]
fn w004_first_login_sets_baseline_then_new_sources_alert_once() {
    let evs = vec![
        accepted(1, 0, "h", "198.51.100.1", "alice", "publickey"),
        accepted(2, 60, "h", "198.51.100.1", "alice", "publickey"),
        accepted(3, 120, "h", "198.51.100.2", "alice", "publickey"),
        accepted(4, 180, "h", "198.51.100.2", "alice", "publickey"),
        // Another account and another host have their own baselines.
        accepted(5, 240, "h", "198.51.100.3", "bob", "publickey"),
        accepted(6, 300, "h2", "198.51.100.3", "alice", "publickey"),
    ];
    let alerts = run(builtin(), &evs);
    let a = of(&alerts, "ward-login-004");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].evidence, vec![3]);
    assert_eq!(
        a[0].group.get("SourceIp").map(String::as_str),
        Some("198.51.100.2")
    );
    assert_eq!(a[0].group.get("User").map(String::as_str), Some("alice"));
    // Forgotten after 90 days: the old source is new again.
    let evs = vec![
        accepted(1, 0, "h", "198.51.100.1", "alice", "publickey"),
        accepted(2, 60, "h", "198.51.100.2", "alice", "publickey"),
        accepted(3, 91 * 86_400, "h", "198.51.100.2", "alice", "publickey"),
        accepted(
            4,
            91 * 86_400 + 1,
            "h",
            "198.51.100.1",
            "alice",
            "publickey",
        ),
    ];
    let alerts = run(builtin(), &evs);
    let ids: Vec<u64> = of(&alerts, "ward-login-004")
        .iter()
        .map(|a| a.evidence[0])
        .collect();
    assert_eq!(ids, vec![2, 4]);
}

#[test]
fn w005_root_password_login() {
    let evs = vec![
        accepted(1, 0, "h", "198.51.100.1", "root", "password"),
        accepted(2, 1, "h", "198.51.100.1", "root", "publickey"),
        accepted(3, 2, "h", "198.51.100.1", "alice", "password"),
        accepted(
            4,
            3,
            "h",
            "198.51.100.1",
            "root",
            "keyboard-interactive/pam",
        ),
    ];
    let alerts = run(builtin(), &evs);
    let ids: Vec<u64> = of(&alerts, "ward-login-005")
        .iter()
        .map(|a| a.evidence[0])
        .collect();
    assert_eq!(ids, vec![1, 4]);
}

#[test]
fn w006_su_and_sudo_failures_per_user() {
    let evs = vec![
        su_failed(1, 0, "alice"),
        sudo_failed(2, 100, "alice"),
        sudo_failed(3, 299, "alice"),
    ];
    let alerts = run(builtin(), &evs);
    let a = of(&alerts, "ward-login-006");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group_key, "User=alice");
    assert_eq!(a[0].evidence, vec![1, 2, 3]);
    // Different users, or too slow, do not cross.
    let evs = vec![
        su_failed(1, 0, "alice"),
        sudo_failed(2, 1, "bob"),
        su_failed(3, 2, "carol"),
    ];
    assert!(of(&run(builtin(), &evs), "ward-login-006").is_empty());
    let evs = vec![
        su_failed(1, 0, "alice"),
        su_failed(2, 200, "alice"),
        su_failed(3, 301, "alice"),
    ];
    assert!(of(&run(builtin(), &evs), "ward-login-006").is_empty());
}

#[test]
fn thresholds_and_windows_are_settings() {
    let settings = RuleSettings::default()
        .threshold("ward-login-001", 3)
        .timespan("ward-login-001", "10s")
        .enabled("ward-login-005", false);
    let mut b = RuleSetBuilder::with_builtin();
    b.settings(settings);
    let set = b.build().unwrap();
    let evs: Vec<Event> = (0..3)
        .map(|i| failed(i + 1, i as i64 * 4, "h", "192.0.2.1", "root"))
        .collect();
    assert_eq!(of(&run(set.clone(), &evs), "ward-login-001").len(), 1);
    let slow: Vec<Event> = (0..3)
        .map(|i| failed(i + 1, i as i64 * 6, "h", "192.0.2.1", "root"))
        .collect();
    assert!(of(&run(set.clone(), &slow), "ward-login-001").is_empty());
    let root = [accepted(1, 0, "h", "198.51.100.1", "root", "password")];
    assert!(of(&run(set, &root), "ward-login-005").is_empty());
}
