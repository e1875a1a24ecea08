//! Alert detail: what the rule saw (rule, author, ATT&CK technique, host,
//! group, times), the evidence events with their raw lines, the state
//! actions and "whitelist by rule + field value".

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_events::Event;
use ward_store::{AlertRecord, AlertState};

use super::alerts::{with_msg, PATH};
use crate::host::{ActionError, ConsoleHost, WhitelistInput};
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::alert_look::{event_fields, severity_badge, state_badge, technique};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

/// Fields never offered for whitelisting (they identify one event, not a
/// benign pattern).
const NOT_WHITELISTABLE: &[&str] = &["SourcePort"];

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

fn alert_id(id: &str) -> Result<i64, PageError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| PageError::NotFound("There is no such alert.".into()))
}

async fn load(host: &dyn ConsoleHost, id: i64) -> Result<(AlertRecord, Vec<Event>), PageError> {
    let store = host.store();
    let a = store
        .get_alert(id)
        .await
        .map_err(|e| PageError::store("reading an alert", e))?
        .ok_or_else(|| PageError::NotFound("There is no such alert.".into()))?;
    let evidence = store
        .alert_evidence(id)
        .await
        .map_err(|e| PageError::store("reading alert evidence", e))?;
    Ok((a, evidence))
}

/// `(field, value)` pairs a whitelist entry could use: the group's, then
/// those of the event that raised the alert (the newest evidence).
pub fn whitelist_candidates(a: &AlertRecord, evidence: &[Event]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = a
        .group
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(last) = evidence.last() {
        let mut fields = event_fields(last);
        // The source address first: the value most often whitelisted.
        fields.sort_by_key(|(k, _)| *k != "SourceIp");
        for (k, v) in fields {
            if NOT_WHITELISTABLE.contains(&k) || v.is_empty() {
                continue;
            }
            if !out
                .iter()
                .any(|(ok, ov)| ok.eq_ignore_ascii_case(k) && *ov == v)
            {
                out.push((k.to_string(), v));
            }
        }
    }
    out
}

/// `GET /console/alerts/{id}`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let id = alert_id(&id)?;
    let (al, evidence) = load(&*host, id).await?;
    let flash = match q.msg.as_deref() {
        Some("done") => Some(components::flash("ok", html! { "Alert updated." })),
        Some("whitelisted") => Some(components::flash(
            "ok",
            html! {
                "Whitelisted. This alert and every later one of this rule with that value are marked whitelisted and sent to no output."
            },
        )),
        _ => None,
    };
    Ok(Html(
        render(&*host, &a.csrf, &al, &evidence, flash)
            .await?
            .into_string(),
    ))
}

async fn render(
    host: &dyn ConsoleHost,
    csrf: &str,
    al: &AlertRecord,
    evidence: &[Event],
    flash: Option<Markup>,
) -> Result<Markup, PageError> {
    let now = now_ms();
    let asset = host
        .store()
        .get_asset(&al.asset_id)
        .await
        .map_err(|e| PageError::store("reading an asset", e))?;
    let hostname = asset
        .as_ref()
        .map_or(al.asset_id.as_str(), |x| x.hostname.as_str());
    let header = html! {
        div.page-header {
            div {
                p.breadcrumb { a href=(PATH) { "Alerts" } " / " }
                h1 { (al.rule_title) }
                p.subtitle {
                    (severity_badge(al.severity)) " " (state_badge(al.state))
                    span.muted { "on " a href={ "/console/assets/" (encode_component(&al.asset_id)) } { (hostname) } ", "
                        (components::time_ago(al.last_ms, now)) }
                }
            }
            div.page-actions { (state_actions(csrf, al)) }
        }
    };
    let content = html! {
        @if let Some(f) = flash { (f) }
        div.grid-2 {
            (facts_card(al, hostname, now))
            (whitelist_card(csrf, al, evidence))
        }
        (evidence_card(al, evidence))
    };
    let frame = Frame {
        title: &al.rule_title,
        nav: Nav::Alerts,
        csrf,
    };
    Ok(view::page(&frame, header, content))
}

fn state_actions(csrf: &str, al: &AlertRecord) -> Markup {
    let back = format!("{PATH}/{}", al.id);
    html! {
        form.state-actions method="post" action={ (PATH) "/state" } {
            (components::csrf_field(csrf))
            input type="hidden" name="id" value=(al.id);
            input type="hidden" name="back" value=(back);
            @if al.state != AlertState::Handled {
                button.btn.btn-primary type="submit" name="state" value="handled" { (PreEscaped(icons::CHECK)) span { "Mark handled" } }
            }
            @if al.state != AlertState::Ignored {
                button.btn type="submit" name="state" value="ignored" { span { "Ignore" } }
            }
            @if al.state != AlertState::Unhandled {
                button.btn.btn-ghost type="submit" name="state" value="unhandled" { span { "Reopen" } }
            }
        }
    }
}

fn fact(label: &str, value: Markup) -> Markup {
    html! { div.fact { dt { (label) } dd { (value) } } }
}

fn facts_card(al: &AlertRecord, hostname: &str, now: i64) -> Markup {
    html! {
        section.card aria-labelledby="what-title" {
            div.card-head { h2 #what-title { "What was detected" } }
            dl.facts {
                (fact("Rule", html! { (al.rule_title) div.muted.mono.small { (al.rule_id) } }))
                (fact("Rule author", match &al.author {
                    Some(a) => html! { span.author data-author { (a) } },
                    None => html! { span.muted { "not named" } },
                }))
                (fact("Severity", severity_badge(al.severity)))
                (fact("ATT&CK technique", technique(al.technique.as_deref())))
                (fact("Host", html! { a href={ "/console/assets/" (encode_component(&al.asset_id)) } { (hostname) } }))
                @for (k, v) in &al.group {
                    (fact(k, html! { span.mono { (v) } }))
                }
                (fact("First event", html! { (fmt::absolute(al.first_ms)) }))
                (fact("Last event", html! { (fmt::absolute(al.last_ms)) " (" (components::time_ago(al.last_ms, now)) ")" }))
                (fact("Raised", html! { (components::time_ago(al.created_at, now))
                    @if al.repeats > 0 { span.muted { " · raised again " (fmt::plural(al.repeats, "time", "times")) } } }))
                (fact("State", html! { (state_badge(al.state)) span.muted { " since " (components::time_ago(al.state_at, now)) } }))
                (fact("Alert id", html! { span.mono { (al.id) } }))
            }
        }
    }
}

fn whitelist_card(csrf: &str, al: &AlertRecord, evidence: &[Event]) -> Markup {
    let candidates = whitelist_candidates(al, evidence);
    html! {
        section.card aria-labelledby="wl-title" {
            div.card-head { h2 #wl-title { "Whitelist" } }
            @if al.state == AlertState::Whitelisted {
                p.muted { "This alert is whitelisted. Entries are managed on the " a href=(super::whitelist::PATH) { "whitelist page" } "." }
            } @else if candidates.is_empty() {
                p.muted { "This alert has no field value to whitelist." }
            } @else {
                p.muted { "Expected activity? Whitelist a value: this alert and later alerts with it are marked whitelisted and sent to no output." }
                form.whitelist-form method="post" action={ (PATH) "/" (al.id) "/whitelist" } {
                    (components::csrf_field(csrf))
                    fieldset.radio-list {
                        legend.field-label { "Value" }
                        @for (i, (k, v)) in candidates.iter().enumerate() {
                            label.radio {
                                input type="radio" name="pick" value={ (k) "=" (v) } checked[i == 0] required;
                                span { span.chip-key { (k) } " " span.mono { (v) } }
                            }
                        }
                    }
                    fieldset.radio-list {
                        legend.field-label { "For" }
                        label.radio { input type="radio" name="scope" value="rule" checked; span { "this rule only (" span.mono { (al.rule_id) } ")" } }
                        label.radio { input type="radio" name="scope" value="any"; span { "every rule" } }
                    }
                    label.field {
                        span.field-label { "Comment (optional)" }
                        input type="text" name="comment" maxlength="1024" placeholder="e.g. the monitoring host";
                    }
                    div.form-actions { button.btn type="submit" { (PreEscaped(icons::SHIELD)) span { "Whitelist" } } }
                }
            }
        }
    }
}

fn evidence_card(al: &AlertRecord, evidence: &[Event]) -> Markup {
    html! {
        section.card aria-labelledby="ev-title" {
            div.card-head {
                h2 #ev-title { "Evidence" }
                span.muted { (fmt::plural(evidence.len() as u64, "event", "events")) ", oldest first" }
            }
            @if evidence.is_empty() {
                p.muted { "No evidence events were kept for this alert." }
            } @else {
                div.table-wrap {
                    table.table.evidence-table {
                        thead { tr {
                            th scope="col" { "Host time" }
                            th scope="col" { "Event" }
                            th scope="col" { "Fields" }
                            th scope="col" { "Log line" }
                        } }
                        tbody {
                            @for e in evidence {
                                tr data-event-id=(e.id) {
                                    td.nowrap data-label="Host time" { (fmt::absolute(e.host_time_ms)) }
                                    td data-label="Event" { div { code { (e.kind()) } div.muted.small.source { (e.source) } } }
                                    td data-label="Fields" {
                                        span.chips { @for (k, v) in event_fields(e) { span.chip { span.chip-key { (k) } " " span.mono { (v) } } } }
                                    }
                                    td.raw data-label="Log line" {
                                        @match &e.raw { Some(r) => code.raw-line { (r) }, None => span.muted { "—" } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if (evidence.len() as u64) < al.evidence.len() as u64 {
                    p.muted.small { "Some evidence events are no longer stored." }
                }
            }
        }
    }
}

/// `POST /console/alerts/{id}/whitelist`.
pub async fn whitelist(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id = alert_id(&id)?;
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (al, evidence) = load(&*host, id).await?;
    let refused = match get("pick").and_then(|p| {
        p.split_once('=')
            .map(|(k, v)| (k.to_string(), v.to_string()))
    }) {
        None => "Choose the value to whitelist.".to_string(),
        Some((field, value)) => {
            let rule_id = match get("scope").as_deref() {
                Some("any") => "*".to_string(),
                _ => al.rule_id.clone(),
            };
            let input = WhitelistInput {
                rule_id,
                field,
                value,
                comment: get("comment").filter(|c| !c.trim().is_empty()),
                from_alert: Some(id),
            };
            match host.add_whitelist(input).await {
                Ok(_) => {
                    return Ok(
                        Redirect::to(&with_msg(&format!("{PATH}/{id}"), "whitelisted"))
                            .into_response(),
                    )
                }
                Err(ActionError::Invalid(m)) | Err(ActionError::Conflict(m)) => format!("{m}."),
                Err(ActionError::NotFound(_)) => {
                    return Err(PageError::NotFound("There is no such alert.".into()))
                }
                Err(ActionError::Internal) => return Err(PageError::Internal),
            }
        }
    };
    let flash = components::flash("crit", html! { (refused) " Nothing was changed." });
    let body = render(&*host, &a.csrf, &al, &evidence, Some(flash)).await?;
    Ok((StatusCode::BAD_REQUEST, Html(body.into_string())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use ward_events::{EventData, SshFailed};
    use ward_store::AlertSeverity;

    #[test]
    fn candidates_are_the_group_then_the_raising_event_without_ports() {
        let mut group = BTreeMap::new();
        group.insert("SourceIp".to_string(), "192.0.2.7".to_string());
        let al = AlertRecord {
            id: 1,
            rule_id: "ward-login-001".into(),
            rule_title: "t".into(),
            author: None,
            severity: AlertSeverity::Suspicious,
            technique: None,
            asset_id: "as_1".into(),
            group_key: "SourceIp=192.0.2.7".into(),
            group,
            first_ms: 0,
            last_ms: 0,
            evidence: vec![1],
            state: AlertState::Unhandled,
            state_at: 0,
            created_at: 0,
            repeats: 0,
        };
        let e = Event::new(
            0,
            "/var/log/auth.log",
            EventData::SshFailed(SshFailed {
                user: "oracle".into(),
                src_ip: "192.0.2.7".parse().unwrap(),
                src_port: 5555,
                method: "password".into(),
                invalid_user: true,
            }),
        );
        let c = whitelist_candidates(&al, &[e]);
        assert_eq!(c[0], ("SourceIp".to_string(), "192.0.2.7".to_string()));
        assert!(c.contains(&("User".to_string(), "oracle".to_string())));
        assert_eq!(
            c.iter().filter(|(k, _)| k == "SourceIp").count(),
            1,
            "{c:?}"
        );
        assert!(!c.iter().any(|(k, _)| k == "SourcePort"));
    }
}
