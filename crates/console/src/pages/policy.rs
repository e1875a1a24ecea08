//! Settings → Agent policy: keepalive, missed keepalives before offline,
//! report interval. Saved through the same path as
//! `PUT /api/v1/settings/policy`, so live agents get it at once.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;
use ward_proto::Policy;

use crate::host::{ConsoleHost, PolicySaveError};
use crate::http::{Authed, PageError};
use crate::view::{self, components, fmt, Frame, Nav};

pub const PATH: &str = "/console/settings/policy";

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

fn render(
    csrf: &str,
    p: &Policy,
    online: usize,
    flash: Option<Markup>,
    values: Option<&PolicyForm>,
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
            html! { "Intervals every agent follows. Changes are pushed to connected agents at once." },
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
) -> Html<String> {
    let flash = (q.msg.as_deref() == Some("saved")).then(|| {
        components::flash("ok", html! { "Policy saved and pushed to " (fmt::plural(host.online_count() as u64, "connected agent", "connected agents")) "." })
    });
    Html(render(&a.csrf, &host.policy(), host.online_count(), flash, None).into_string())
}

/// `POST /console/settings/policy`.
pub async fn save(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<PolicyForm>,
) -> Result<Response, PageError> {
    let invalid = |msg: String| {
        let sep = if msg.ends_with('.') { " " } else { ". " };
        let flash = components::flash("crit", html! { (msg) (sep) "Nothing was changed." });
        let body = render(
            &a.csrf,
            &host.policy(),
            host.online_count(),
            Some(flash),
            Some(&f),
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
