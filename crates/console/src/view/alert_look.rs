//! How alerts look everywhere in the console: severity and state badges,
//! the rule line with its author, the ATT&CK technique link, event fields.

use maud::{html, Markup};
use ward_events::{Event, FieldValue, FIELD_NAMES};
use ward_store::{AlertRecord, AlertSeverity, AlertState};

/// `(css tone, label)` of a severity.
pub fn severity_look(s: AlertSeverity) -> (&'static str, &'static str) {
    match s {
        AlertSeverity::Urgent => ("crit", "Urgent"),
        AlertSeverity::Suspicious => ("warn", "Suspicious"),
        AlertSeverity::Reminder => ("info", "Reminder"),
    }
}

/// `(css tone, label)` of a state.
pub fn state_look(s: AlertState) -> (&'static str, &'static str) {
    match s {
        AlertState::Unhandled => ("crit", "Unhandled"),
        AlertState::Handled => ("ok", "Handled"),
        AlertState::Ignored => ("muted", "Ignored"),
        AlertState::Whitelisted => ("muted", "Whitelisted"),
    }
}

pub fn severity_badge(s: AlertSeverity) -> Markup {
    let (tone, label) = severity_look(s);
    html! {
        span class={ "badge sev tone-" (tone) } data-severity=(s.as_str()) {
            span.dot aria-hidden="true" {} (label)
        }
    }
}

pub fn state_badge(s: AlertState) -> Markup {
    let (tone, label) = state_look(s);
    html! { span class={ "pill state-pill pill-" (tone) } data-state=(s.as_str()) { (label) } }
}

/// `https://attack.mitre.org/techniques/T1110/001/` for `T1110.001`; `None`
/// for text that is not a technique id.
pub fn technique_url(t: &str) -> Option<String> {
    let rest = t.strip_prefix('T')?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(match sub {
        Some(s) => format!("https://attack.mitre.org/techniques/T{main}/{s}/"),
        None => format!("https://attack.mitre.org/techniques/T{main}/"),
    })
}

/// The technique as a link to MITRE ATT&CK (plain text when unknown).
pub fn technique(t: Option<&str>) -> Markup {
    match t {
        None => html! { span.muted { "—" } },
        Some(t) => match technique_url(t) {
            Some(url) => {
                html! { a.mono href=(url) rel="noopener noreferrer" target="_blank" { (t) } }
            }
            None => html! { span.mono { (t) } },
        },
    }
}

/// "Rule ward-login-001 · by Florian Roth": the id and, when the rule has
/// one, its author (the Sigma licence asks for it next to the alerts).
pub fn rule_line(a: &AlertRecord) -> Markup {
    html! {
        span.rule-line {
            span.mono { (a.rule_id) }
            @if let Some(author) = &a.author {
                " · " span.author { "by " (author) }
            }
        }
    }
}

/// The correlation group as `Field value` chips.
pub fn group_chips(a: &AlertRecord) -> Markup {
    html! {
        @if !a.group.is_empty() {
            span.chips {
                @for (k, v) in &a.group {
                    span.chip { span.chip-key { (k) } " " span.mono { (v) } }
                }
            }
        }
    }
}

/// Fields of an event that say what happened (not the envelope: kind,
/// host, source, raw line), as (canonical name, value).
pub fn event_fields(e: &Event) -> Vec<(&'static str, String)> {
    const ENVELOPE: &[&str] = &["EventType", "Computer", "LogSource", "Message"];
    FIELD_NAMES
        .iter()
        .filter(|(_, names)| !ENVELOPE.contains(&names[0]))
        .filter_map(|(f, names)| {
            e.get(*f).map(|v| {
                let text = match v {
                    FieldValue::Str(s) => s.to_string(),
                    other => other.to_string(),
                };
                (names[0], text)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_events::{EventData, SshFailed};

    #[test]
    fn technique_links_only_for_technique_ids() {
        assert_eq!(
            technique_url("T1110.001").as_deref(),
            Some("https://attack.mitre.org/techniques/T1110/001/")
        );
        assert_eq!(
            technique_url("T1078").as_deref(),
            Some("https://attack.mitre.org/techniques/T1078/")
        );
        for bad in ["T11", "t1078", "T1078.1", "T1078/../x", "javascript:x"] {
            assert_eq!(technique_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_fields_leave_out_the_envelope() {
        let mut e = Event::new(
            1,
            "/var/log/auth.log",
            EventData::SshFailed(SshFailed {
                user: "root".into(),
                src_ip: "192.0.2.9".parse().unwrap(),
                src_port: 4242,
                method: "password".into(),
                invalid_user: false,
            }),
        );
        e.host = "as_1".into();
        e.raw = Some("Failed password for root".into());
        let f = event_fields(&e);
        let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"SourceIp") && names.contains(&"User"));
        assert!(!names.contains(&"Message") && !names.contains(&"Computer"));
        assert!(f.contains(&("SourcePort", "4242".into())));
    }
}
