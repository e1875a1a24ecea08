//! Settings → Agent policy: keepalive, missed keepalives before offline,
//! report interval (saved through the same path as
//! `PUT /api/v1/settings/policy`), and tamper protection per group (the
//! same path as `PUT /api/v1/settings/tamper-protection`); live agents get
//! both at once.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;
use ward_proto::Policy;

use crate::host::{ConsoleHost, PolicySaveError, TamperProtection};
use crate::http::{Authed, PageError};
use crate::view::{self, components, fmt, Frame, Nav};

pub const PATH: &str = "/console/settings/policy";
/// Where the tamper-protection form posts.
pub const TAMPER_PATH: &str = "/console/settings/policy/tamper";
/// Prefix of a group's field in the tamper-protection form.
pub const GROUP_FIELD: &str = "g:";

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

/// The form as sent: text, so a bad number is a message, not a 422.
#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    pub keepalive_secs: String,
    #[serde(default)]
    pub missed_keepalives: String,
    #[serde(default)]
    pub report_interval_mins: String,
}

/// Parses the form into a policy (the report interval is entered in minutes).
pub fn parse_form(f: &PolicyForm) -> Result<Policy, String> {
    let num = |what: &str, v: &str| -> Result<u32, String> {
        v.trim().parse::<u32>().map_err(|_| {
            format!(
                "{what} must be a whole number, got \u{201c}{}\u{201d}.",
                v.trim()
            )
        })
    };
    let mins = num("The report interval", &f.report_interval_mins)?;
    Ok(Policy {
        keepalive_secs: num("The keepalive interval", &f.keepalive_secs)?,
        missed_keepalives: num("Missed keepalives", &f.missed_keepalives)?,
        report_interval_secs: mins
            .checked_mul(60)
            .ok_or_else(|| "The report interval is too large.".to_string())?,
    })
}

/// What the page shows besides the intervals.
pub struct TamperView<'a> {
    pub settings: &'a TamperProtection,
    /// Every group with assets, and every group the settings name.
    pub groups: &'a [String],
}

/// Parses the tamper form: `default` (present when ticked) and one
/// `g:<group>` field per group, `default`, `on` or `off`.
pub fn parse_tamper_form(fields: &[(String, String)]) -> Result<TamperProtection, String> {
    let mut t = TamperProtection::default();
    for (k, v) in fields {
        if k == "default" {
            t.default = !v.is_empty();
        } else if let Some(g) = k.strip_prefix(GROUP_FIELD) {
            match v.as_str() {
                "on" => {
                    t.groups.insert(g.to_string(), true);
                }
                "off" => {
                    t.groups.insert(g.to_string(), false);
                }
                "default" => {}
                other => {
                    return Err(format!(
                        "Unknown setting \u{201c}{other}\u{201d} for group {g}."
                    ))
                }
            }
        }
    }
    Ok(t)
}

async fn tamper_groups(
    host: &dyn ConsoleHost,
    t: &TamperProtection,
) -> Result<Vec<String>, PageError> {
    let mut groups: Vec<String> = host
        .store()
        .list_groups()
        .await
        .map_err(|e| PageError::store("listing groups", e))?
        .into_iter()
        .map(|g| g.group)
        .collect();
    groups.extend(t.groups.keys().cloned());
    groups.sort();
    groups.dedup();
    Ok(groups)
}

fn tamper_card(csrf: &str, v: &TamperView<'_>) -> Markup {
    let t = v.settings;
    let mode = |g: &str| match t.groups.get(g) {
        Some(true) => "on",
        Some(false) => "off",
        None => "default",
    };
    html! {
        section.card #tamper aria-labelledby="tamper-title" {
            div.card-head { h2 #tamper-title { "Tamper protection" } }
            p.muted {
                "On a protected server, a local " code { "ward-agent stop" } " or " code { "ward-agent uninstall" }
                " is refused without an uninstall token (issued on the server's page), and every refused attempt raises an urgent alert (ATT&CK T1562.001). "
                "Remote uninstall from this console needs no token."
            }
            form method="post" action=(TAMPER_PATH) {
                (components::csrf_field(csrf))
                label.check {
                    input #tamper-default type="checkbox" name="default" value="1" checked[t.default];
                    span { "Protect every server by default (groups below can differ)" }
                }
                @if v.groups.is_empty() {
                    p.muted.small { "No groups yet: servers get a group from the verification key they enroll with." }
                } @else {
                    div.table-wrap {
                        table.table.group-table {
                            thead { tr { th { "Group" } th { "Tamper protection" } } }
                            tbody {
                                @for g in v.groups {
                                    tr {
                                        td { span.tag { (g) } }
                                        td {
                                            select name={ (GROUP_FIELD) (g) } aria-label={ "Tamper protection for group " (g) } {
                                                option value="default" selected[mode(g) == "default"] { "Default (" (if t.default { "on" } else { "off" }) ")" }
                                                option value="on" selected[mode(g) == "on"] { "On" }
                                                option value="off" selected[mode(g) == "off"] { "Off" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                div.form-actions { button.btn.btn-primary type="submit" { "Save tamper protection" } }
            }
        }
    }
}

fn render(
    csrf: &str,
    p: &Policy,
    online: usize,
    flash: Option<Markup>,
    values: Option<&PolicyForm>,
    tamper: &TamperView<'_>,
) -> Markup {
    let keepalive = values.map_or(p.keepalive_secs.to_string(), |v| v.keepalive_secs.clone());
    let missed = values.map_or(p.missed_keepalives.to_string(), |v| {
        v.missed_keepalives.clone()
    });
    let report = values.map_or((p.report_interval_secs / 60).to_string(), |v| {
        v.report_interval_mins.clone()
    });
    let header = view::page_header(
        "Agent policy",
        Some(
            html! { "Intervals and tamper protection every agent follows. Changes are pushed to connected agents at once." },
        ),
        None,
    );
    let content = html! {
        @if let Some(f) = flash { (f) }
        div.grid-2 {
            section.card aria-labelledby="policy-title" {
                div.card-head { h2 #policy-title { "Intervals" } }
                form.policy-form method="post" action=(PATH) {
                    (components::csrf_field(csrf))
                    label.field {
                        span.field-label { "Keepalive interval" }
                        span.input-unit { input #keepalive_secs type="number" name="keepalive_secs" min="1" max="3600" required value=(keepalive) inputmode="numeric"; span { "seconds" } }
                        span.field-help { "How often each agent tells the server it is alive (1–3600)." }
                    }
                    label.field {
                        span.field-label { "Missed keepalives before offline" }
                        span.input-unit { input #missed_keepalives type="number" name="missed_keepalives" min="1" max="100" required value=(missed) inputmode="numeric"; span { "keepalives" } }
                        span.field-help { "A server is marked Unprotected · Offline after this many keepalives do not arrive (1–100)." }
                    }
                    label.field {
                        span.field-label { "Full host report interval" }
                        span.input-unit { input #report_interval_mins type="number" name="report_interval_mins" min="1" required value=(report) inputmode="numeric"; span { "minutes" } }
                        span.field-help { "Agents also report at start and whenever the host changes." }
                    }
                    div.form-actions { button.btn.btn-primary type="submit" { "Save policy" } }
                }
            }
            section.card aria-labelledby="effect-title" {
                div.card-head { h2 #effect-title { "In effect now" } }
                dl.facts {
                    div.fact { dt { "Offline after" } dd { strong { (fmt::duration_secs(p.offline_after_ms() as u64 / 1000)) } " of silence" } }
                    div.fact { dt { "Keepalive" } dd { "every " (fmt::duration_secs(u64::from(p.keepalive_secs))) } }
                    div.fact { dt { "Host report" } dd { "every " (fmt::duration_secs(u64::from(p.report_interval_secs))) } }
                    div.fact { dt { "Connected agents" } dd { (fmt::plural(online as u64, "agent", "agents")) " receive changes at once" } }
                }
                p.muted.small { "Shorter keepalives detect offline servers sooner and cost a little more traffic: at 30 s, 100,000 agents send about 3,300 keepalives per second." }
            }
        }
        (tamper_card(csrf, tamper))
    };
    let frame = Frame {
        title: "Agent policy",
        nav: Nav::Policy,
        csrf,
    };
    view::page(&frame, header, content)
}

/// `GET /console/settings/policy`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let pushed = || {
        fmt::plural(
            host.online_count() as u64,
            "connected agent",
            "connected agents",
        )
    };
    let flash = match q.msg.as_deref() {
        Some("saved") => Some(components::flash(
            "ok",
            html! { "Policy saved and pushed to " (pushed()) "." },
        )),
        Some("tamper-saved") => Some(components::flash(
            "ok",
            html! { "Tamper protection saved and pushed to " (pushed()) "." },
        )),
        _ => None,
    };
    let t = host.tamper_protection();
    let groups = tamper_groups(&*host, &t).await?;
    let view = TamperView {
        settings: &t,
        groups: &groups,
    };
    Ok(Html(
        render(
            &a.csrf,
            &host.policy(),
            host.online_count(),
            flash,
            None,
            &view,
        )
        .into_string(),
    ))
}

/// `POST /console/settings/policy/tamper`.
pub async fn save_tamper(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let invalid = |msg: String, t: TamperProtection, groups: Vec<String>| {
        let flash = components::flash("crit", html! { (msg) " Nothing was changed." });
        let view = TamperView {
            settings: &t,
            groups: &groups,
        };
        let body = render(
            &a.csrf,
            &host.policy(),
            host.online_count(),
            Some(flash),
            None,
            &view,
        );
        (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response()
    };
    let current = host.tamper_protection();
    let groups = tamper_groups(&*host, &current).await?;
    let t = match parse_tamper_form(&fields) {
        Ok(t) => t,
        Err(m) => return Ok(invalid(m, current, groups)),
    };
    match host.save_tamper_protection(t).await {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?msg=tamper-saved#tamper")).into_response()),
        Err(PolicySaveError::Invalid(m)) => Ok(invalid(m, current, groups)),
        Err(PolicySaveError::Internal) => Err(PageError::Internal),
    }
}

/// `POST /console/settings/policy`.
pub async fn save(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<PolicyForm>,
) -> Result<Response, PageError> {
    let t = host.tamper_protection();
    let groups = tamper_groups(&*host, &t).await?;
    let view = TamperView {
        settings: &t,
        groups: &groups,
    };
    let invalid = |msg: String| {
        let sep = if msg.ends_with('.') { " " } else { ". " };
        let flash = components::flash("crit", html! { (msg) (sep) "Nothing was changed." });
        let body = render(
            &a.csrf,
            &host.policy(),
            host.online_count(),
            Some(flash),
            Some(&f),
            &view,
        );
        (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response()
    };
    let policy = match parse_form(&f) {
        Ok(p) => p,
        Err(msg) => return Ok(invalid(msg)),
    };
    match host.save_policy(policy).await {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}?msg=saved")).into_response()),
        Err(PolicySaveError::Invalid(msg)) => Ok(invalid(msg)),
        Err(PolicySaveError::Internal) => Err(PageError::Internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(k: &str, m: &str, r: &str) -> PolicyForm {
        PolicyForm {
            keepalive_secs: k.into(),
            missed_keepalives: m.into(),
            report_interval_mins: r.into(),
        }
    }

    #[test]
    fn tamper_form_becomes_settings() {
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let t = parse_tamper_form(&f(&[
            ("default", "1"),
            ("g:web", "off"),
            ("g:db", "on"),
            ("g:lab", "default"),
        ]))
        .unwrap();
        assert!(t.default);
        assert_eq!(t.groups.get("web"), Some(&false));
        assert_eq!(t.groups.get("db"), Some(&true));
        assert_eq!(t.groups.get("lab"), None, "default is not listed");
        assert!(t.protects(Some("lab")) && !t.protects(Some("web")));
        let t = parse_tamper_form(&f(&[("g:a b", "on")])).unwrap();
        assert!(!t.default && t.protects(Some("a b")));
        assert!(parse_tamper_form(&f(&[("g:x", "maybe")])).is_err());
    }

    #[test]
    fn form_values_become_a_policy() {
        let p = parse_form(&form("30", " 3 ", "300")).unwrap();
        assert_eq!(
            p,
            Policy {
                keepalive_secs: 30,
                missed_keepalives: 3,
                report_interval_secs: 18_000
            }
        );
        assert!(parse_form(&form("ten", "3", "300"))
            .unwrap_err()
            .contains("ten"));
        assert!(parse_form(&form("-1", "3", "300")).is_err());
        assert!(parse_form(&form("1", "3", "99999999")).is_err(), "overflow");
    }
}
