//! From an engine alert to a stored alert (pure): severity mapping,
//! whitelist matching and the de-duplication key.

use std::net::IpAddr;

use ward_events::{Event, Field};
use ward_rules::{Alert, Severity};
use ward_store::{AlertRecord, AlertSeverity, AlertState, NewAlert, WhitelistEntry};

/// A whitelist entry's `rule_id` that matches every rule.
pub const ANY_RULE: &str = "*";

pub fn severity(s: Severity) -> AlertSeverity {
    match s {
        Severity::Urgent => AlertSeverity::Urgent,
        Severity::Suspicious => AlertSeverity::Suspicious,
        Severity::Reminder => AlertSeverity::Reminder,
    }
}

/// Field names are equal when equal ignoring ASCII case, or when both are
/// names of the same event field (`SourceIp` = `src_ip` = `IpAddress`).
fn same_field(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || matches!((Field::from_name(a), Field::from_name(b)), (Some(x), Some(y)) if x == y)
}

/// Values are equal when equal as text, or as IP addresses
/// (`2001:db8::1` = `2001:DB8:0::1`).
fn same_value(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The first whitelist entry matching `alert`: same rule (or `*`) and the
/// entry's field has the entry's value in the alert's group or in the event
/// that raised it.
pub fn whitelisted<'a>(
    entries: &'a [WhitelistEntry],
    alert: &Alert,
    event: &Event,
) -> Option<&'a WhitelistEntry> {
    entries.iter().find(|w| {
        rule_matches(&w.rule_id, &alert.rule_id)
            && has_value(
                &alert.group,
                std::slice::from_ref(event),
                &w.field,
                &w.value,
            )
    })
}

fn rule_matches(entry_rule: &str, rule: &str) -> bool {
    entry_rule == ANY_RULE || entry_rule == rule
}

/// True when `field` has `value` in the correlation group or in one of
/// `events`.
fn has_value(
    group: &std::collections::BTreeMap<String, String>,
    events: &[Event],
    field: &str,
    value: &str,
) -> bool {
    group
        .iter()
        .any(|(k, v)| same_field(k, field) && same_value(v, value))
        || events.iter().any(|e| {
            e.field(field)
                .is_some_and(|v| same_value(&v.to_string(), value))
        })
}

/// Whether a whitelist entry (rule, field, value) covers a stored alert:
/// same rule (or `*`) and the value in its group or its evidence events.
pub fn entry_matches_alert(
    rule_id: &str,
    field: &str,
    value: &str,
    alert: &AlertRecord,
    evidence: &[Event],
) -> bool {
    rule_matches(rule_id, &alert.rule_id) && has_value(&alert.group, evidence, field, value)
}

/// The first whitelist entry matching an alert raised without an event
/// (e.g. a tamper attempt): same rule (or `*`) and the entry's field has
/// the entry's value in the alert's group.
pub fn whitelisted_group<'a>(
    entries: &'a [WhitelistEntry],
    rule_id: &str,
    group: &std::collections::BTreeMap<String, String>,
) -> Option<&'a WhitelistEntry> {
    entries
        .iter()
        .find(|w| rule_matches(&w.rule_id, rule_id) && has_value(group, &[], &w.field, &w.value))
}

/// De-duplication key of an alert: rule, asset and correlation group; for
/// single-event rules (no group) the evidence event, so only the same
/// event raising again is a duplicate.
pub fn dedup_key(alert: &Alert, asset_id: &str) -> String {
    const SEP: char = '\u{1f}';
    if alert.group_key.is_empty() {
        let ev = alert.evidence.first().copied().unwrap_or(0);
        format!("{}{SEP}{asset_id}{SEP}event:{ev}", alert.rule_id)
    } else {
        format!("{}{SEP}{asset_id}{SEP}{}", alert.rule_id, alert.group_key)
    }
}

/// The stored form of an engine alert raised by `event` of `asset_id`.
pub fn to_new_alert(alert: &Alert, asset_id: &str, whitelisted: bool, created_at: i64) -> NewAlert {
    NewAlert {
        rule_id: alert.rule_id.clone(),
        rule_title: alert.rule_title.clone(),
        author: alert.author.clone(),
        severity: severity(alert.severity),
        technique: alert.technique.clone(),
        asset_id: asset_id.to_string(),
        group_key: alert.group_key.clone(),
        group: alert.group.clone(),
        first_ms: alert.first_ms,
        last_ms: alert.last_ms,
        evidence: alert.evidence.clone(),
        state: if whitelisted {
            AlertState::Whitelisted
        } else {
            AlertState::Unhandled
        },
        created_at,
        dedup_key: dedup_key(alert, asset_id),
        // Overlap: an alert whose window reaches back to the stored one's
        // last evidence is the same burst (see RULES.md de-duplication: a
        // genuinely new alert starts after the previous one's last evidence).
        dedup_window_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use ward_events::{EventData, SshAccepted};

    fn accepted(ip: &str, user: &str) -> Event {
        let mut e = Event::new(
            1_700_000_000_000,
            "/var/log/auth.log",
            EventData::SshAccepted(SshAccepted {
                user: user.into(),
                src_ip: ip.parse().unwrap(),
                src_port: 50_000,
                method: "password".into(),
                key: None,
            }),
        );
        e.id = 42;
        e.host = "as_1".into();
        e
    }

    fn alert(rule: &str, group: &[(&str, &str)]) -> Alert {
        let group: BTreeMap<String, String> = group
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Alert {
            rule_id: rule.into(),
            rule_title: "t".into(),
            author: None,
            severity: Severity::Urgent,
            technique: None,
            host: "as_1".into(),
            first_ms: 1,
            last_ms: 2,
            evidence: vec![7, 42],
            group_key: group
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            group,
        }
    }

    fn wl(rule: &str, field: &str, value: &str) -> WhitelistEntry {
        WhitelistEntry {
            id: 1,
            rule_id: rule.into(),
            field: field.into(),
            value: value.into(),
            comment: None,
            created_at: 0,
        }
    }

    #[test]
    fn whitelist_matches_rule_and_field_value() {
        let ev = accepted("2001:db8::5", "deploy");
        let a = alert("ward-login-003", &[("SourceIp", "2001:db8::5")]);
        // Group field, by another name of the same field and another spelling of the address.
        assert!(whitelisted(&[wl("ward-login-003", "src_ip", "2001:DB8:0::5")], &a, &ev).is_some());
        // Any rule.
        assert!(whitelisted(&[wl("*", "SourceIp", "2001:db8::5")], &a, &ev).is_some());
        // A field of the raising event that is not in the group.
        assert!(whitelisted(&[wl("ward-login-003", "User", "deploy")], &a, &ev).is_some());
        // Other rule, other value, unknown field: no match.
        for w in [
            wl("ward-login-001", "SourceIp", "2001:db8::5"),
            wl("ward-login-003", "SourceIp", "2001:db8::6"),
            wl("ward-login-003", "User", "Deploy"),
            wl("ward-login-003", "Image", "2001:db8::5"),
        ] {
            assert!(
                whitelisted(std::slice::from_ref(&w), &a, &ev).is_none(),
                "{w:?}"
            );
        }
    }

    #[test]
    fn dedup_keys_separate_rules_assets_groups_and_single_events() {
        let a = alert("r", &[("SourceIp", "192.0.2.1")]);
        let b = alert("r", &[("SourceIp", "192.0.2.2")]);
        assert_ne!(dedup_key(&a, "as_1"), dedup_key(&b, "as_1"));
        assert_ne!(dedup_key(&a, "as_1"), dedup_key(&a, "as_2"));
        assert_eq!(dedup_key(&a, "as_1"), dedup_key(&a.clone(), "as_1"));
        let mut single = alert("r", &[]);
        let k1 = dedup_key(&single, "as_1");
        single.evidence = vec![8];
        assert_ne!(
            k1,
            dedup_key(&single, "as_1"),
            "another event, another alert"
        );
    }

    #[test]
    fn stored_form_keeps_the_engine_fields() {
        let a = alert("ward-login-003", &[("SourceIp", "192.0.2.1")]);
        let n = to_new_alert(&a, "as_1", true, 99);
        assert_eq!(n.state, AlertState::Whitelisted);
        assert_eq!(n.severity, AlertSeverity::Urgent);
        assert_eq!((n.first_ms, n.last_ms, n.created_at), (1, 2, 99));
        assert_eq!(n.evidence, vec![7, 42]);
        assert_eq!(n.group_key, "SourceIp=192.0.2.1");
        assert_eq!(
            to_new_alert(&a, "as_1", false, 99).state,
            AlertState::Unhandled
        );
    }
}
