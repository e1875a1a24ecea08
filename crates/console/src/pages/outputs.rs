//! Settings → Alert outputs: the webhook (JSON `POST` per alert, retried
//! with backoff) and syslog (RFC 5424, JSON payload) targets. Saved through
//! the same path as `PUT /api/v1/settings/outputs`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use crate::host::{ActionError, ConsoleHost, OutputCounters, OutputsForm};
use crate::http::{Authed, PageError};
use crate::view::{self, components, fmt, Frame, Nav};

pub const PATH: &str = "/console/settings/outputs";

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

/// The form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct Fields {
    #[serde(default)]
    pub webhook_url: String,
    #[serde(default)]
    pub webhook_header_name: String,
    #[serde(default)]
    pub webhook_header_value: String,
    #[serde(default)]
    pub syslog_target: String,
    #[serde(default)]
    pub syslog_transport: String,
    #[serde(default)]
    pub syslog_facility: String,
}

impl Fields {
    fn to_form(&self) -> OutputsForm {
        OutputsForm {
            webhook_url: self.webhook_url.clone(),
            webhook_header_name: self.webhook_header_name.clone(),
            webhook_header_value: self.webhook_header_value.clone(),
            webhook_header_set: false,
            syslog_target: self.syslog_target.clone(),
            syslog_transport: self.syslog_transport.clone(),
            syslog_facility: self.syslog_facility.clone(),
        }
    }
}

fn render(
    csrf: &str,
    f: &OutputsForm,
    counters: &[OutputCounters],
    flash: Option<Markup>,
) -> Markup {
    let header = view::page_header(
        "Alert outputs",
        Some(
            html! { "Besides the console and the API, every new alert that is not whitelisted goes to these targets." },
        ),
        None,
    );
    let facility = if f.syslog_facility.is_empty() {
        "4"
    } else {
        f.syslog_facility.as_str()
    };
    let content = html! {
        @if let Some(fl) = flash { (fl) }
        form.outputs-form method="post" action=(PATH) {
            (components::csrf_field(csrf))
            div.grid-2 {
                section.card aria-labelledby="webhook-title" {
                    div.card-head {
                        h2 #webhook-title { "Webhook" }
                        (on_off(!f.webhook_url.is_empty()))
                    }
                    label.field {
                        span.field-label { "URL" }
                        input #webhook_url type="url" name="webhook_url" value=(f.webhook_url) placeholder="https://hooks.example.com/ward" autocomplete="off";
                        span.field-help { "Each alert is POSTed as JSON; failures are retried with exponential backoff. HTTPS is checked against the system's CAs. Leave empty to turn the webhook off." }
                    }
                    label.field {
                        span.field-label { "Secret header name (optional)" }
                        input #webhook_header_name type="text" name="webhook_header_name" value=(f.webhook_header_name) placeholder="X-Ward-Token" autocomplete="off";
                    }
                    label.field {
                        span.field-label { "Secret header value" }
                        input #webhook_header_value type="password" name="webhook_header_value" value="" autocomplete="new-password"
                            placeholder=(if f.webhook_header_set { "stored — leave empty to keep it" } else { "" });
                        span.field-help { "Never shown again once saved." }
                    }
                }
                section.card aria-labelledby="syslog-title" {
                    div.card-head {
                        h2 #syslog-title { "Syslog" }
                        (on_off(!f.syslog_target.is_empty()))
                    }
                    label.field {
                        span.field-label { "Collector" }
                        input #syslog_target type="text" name="syslog_target" value=(f.syslog_target) placeholder="logs.example.com:514" autocomplete="off";
                        span.field-help { "host:port ([v6]:port for IPv6). RFC 5424 messages with the alert as JSON. Leave empty to turn syslog off." }
                    }
                    label.field {
                        span.field-label { "Transport" }
                        select #syslog_transport name="syslog_transport" {
                            option value="udp" selected[f.syslog_transport != "tcp"] { "UDP (one datagram per alert)" }
                            option value="tcp" selected[f.syslog_transport == "tcp"] { "TCP (RFC 6587 octet counting)" }
                        }
                    }
                    label.field {
                        span.field-label { "Facility" }
                        input #syslog_facility type="number" name="syslog_facility" min="0" max="23" value=(facility) inputmode="numeric";
                        span.field-help { "0–23; 4 is security/authorization, 10 authpriv." }
                    }
                }
            }
            div.form-actions { button.btn.btn-primary type="submit" { "Save outputs" } }
        }
        @if !counters.is_empty() {
            section.card.outputs-counters aria-labelledby="delivery-title" {
                div.card-head { h2 #delivery-title { "Delivery since the server started" } }
                table.table.table-compact {
                    thead { tr { th scope="col" { "Output" } th scope="col" { "Sent" } th scope="col" { "Given up" } th scope="col" { "Dropped (queue full)" } } }
                    tbody {
                        @for c in counters {
                            tr { td { (c.name) } td.num { (fmt::count(c.sent)) } td.num { (fmt::count(c.given_up)) } td.num { (fmt::count(c.dropped)) } }
                        }
                    }
                }
            }
        }
    };
    let frame = Frame {
        title: "Alert outputs",
        nav: Nav::Outputs,
        csrf,
    };
    view::page(&frame, header, content)
}

fn on_off(on: bool) -> Markup {
    if on {
        html! { span.pill.pill-ok { span.dot aria-hidden="true" {} "On" } }
    } else {
        html! { span.pill { span.dot aria-hidden="true" {} "Off" } }
    }
}

/// `GET /console/settings/outputs`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let form = host.outputs().await.map_err(|_| PageError::Internal)?;
    let flash = (q.msg.as_deref() == Some("saved")).then(|| {
        components::flash(
            "ok",
            html! { "Outputs saved; new alerts use them at once." },
        )
    });
    Ok(Html(
        render(&a.csrf, &form, &host.output_counters(), flash).into_string(),
    ))
}

/// `POST /console/settings/outputs`.
pub async fn save(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<Fields>,
) -> Result<Response, PageError> {
    match host.save_outputs(f.to_form()).await {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?msg=saved")).into_response()),
        Err(ActionError::Invalid(m)) | Err(ActionError::Conflict(m)) => {
            let stored = host.outputs().await.map_err(|_| PageError::Internal)?;
            let mut shown = f.to_form();
            shown.webhook_header_set = stored.webhook_header_set;
            let sep = if m.ends_with('.') { " " } else { ". " };
            let flash = components::flash("crit", html! { (m) (sep) "Nothing was changed." });
            let body = render(&a.csrf, &shown, &host.output_counters(), Some(flash));
            Ok((StatusCode::BAD_REQUEST, Html(body.into_string())).into_response())
        }
        Err(ActionError::NotFound(m)) => Err(PageError::NotFound(m)),
        Err(ActionError::Internal) => Err(PageError::Internal),
    }
}
