//! Whitelist: entries (rule + field value) that mark matching alerts
//! `whitelisted` when they are raised; add one by hand or delete one.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_events::FIELD_NAMES;
use ward_store::WhitelistEntry;

use super::alerts::with_msg;
use crate::host::{ActionError, ConsoleHost, RuleSummary, WhitelistInput};
use crate::http::{Authed, PageError};
use crate::view::fmt::now_ms;
use crate::view::{self, components, icons, Frame, Nav};

pub const PATH: &str = "/console/alerts/whitelist";

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    pub rule_id: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub comment: String,
}

fn rule_title<'a>(rules: &'a [RuleSummary], id: &str) -> Option<&'a str> {
    rules.iter().find(|r| r.id == id).map(|r| r.title.as_str())
}

async fn render(
    host: &dyn ConsoleHost,
    csrf: &str,
    flash: Option<Markup>,
    form: Option<&EntryForm>,
) -> Result<Markup, PageError> {
    let now = now_ms();
    let entries = host
        .store()
        .list_whitelist()
        .await
        .map_err(|e| PageError::store("listing the whitelist", e))?;
    let rules = host.rules();
    let header = view::page_header(
        "Whitelist",
        Some(
            html! { "Alerts of a rule whose field has one of these values are stored as whitelisted and sent to no output." },
        ),
        Some(
            html! { a.btn href=(super::alerts::PATH) { (PreEscaped(icons::CHEVRON_LEFT)) span { "Alerts" } } },
        ),
    );
    let content = html! {
        @if let Some(f) = flash { (f) }
        section.card aria-labelledby="wl-list-title" {
            div.card-head { h2 #wl-list-title { "Entries" } span.muted { (entries.len()) } }
            @if entries.is_empty() {
                p.muted { "No entries. Whitelist a value from an alert's page, or add one below." }
            } @else {
                (table(csrf, &entries, &rules, now))
            }
        }
        (add_card(csrf, &rules, form))
    };
    let frame = Frame {
        title: "Whitelist",
        nav: Nav::Alerts,
        csrf,
    };
    Ok(view::page(&frame, header, content))
}

fn table(csrf: &str, entries: &[WhitelistEntry], rules: &[RuleSummary], now: i64) -> Markup {
    html! {
        div.table-wrap {
            table.table.whitelist-table {
                thead { tr {
                    th scope="col" { "Rule" }
                    th scope="col" { "Field" }
                    th scope="col" { "Value" }
                    th scope="col" { "Comment" }
                    th scope="col" { "Added" }
                    th scope="col" { span.visually-hidden { "Actions" } }
                } }
                tbody {
                    @for e in entries {
                        tr data-whitelist-id=(e.id) {
                            td data-label="Rule" {
                                @if e.rule_id == "*" { strong { "Every rule" } } @else {
                                    div {
                                        (rule_title(rules, &e.rule_id).unwrap_or("Unknown rule"))
                                        div.muted.mono.small { (e.rule_id) }
                                    }
                                }
                            }
                            td.mono data-label="Field" { (e.field) }
                            td.mono data-label="Value" { (e.value) }
                            td data-label="Comment" { @match &e.comment { Some(c) => (c), None => span.muted { "—" } } }
                            td data-label="Added" { (components::time_ago(e.created_at, now)) }
                            td.actions {
                                form method="post" action={ (PATH) "/" (e.id) "/delete" }
                                    data-confirm={ "Delete the whitelist entry " (e.field) " = " (e.value) "? Later alerts with this value are raised again." }
                                    data-confirm-ok="Delete entry" {
                                    (components::csrf_field(csrf))
                                    button.btn.btn-sm.btn-danger-ghost type="submit" { (PreEscaped(icons::TRASH)) span { "Delete" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn add_card(csrf: &str, rules: &[RuleSummary], form: Option<&EntryForm>) -> Markup {
    let v = |f: fn(&EntryForm) -> &str| form.map(f).unwrap_or("");
    html! {
        section.card aria-labelledby="wl-add-title" {
            div.card-head { h2 #wl-add-title { "Add an entry" } }
            form.wl-add method="post" action=(PATH) {
                (components::csrf_field(csrf))
                label.field {
                    span.field-label { "Rule" }
                    select name="rule_id" required {
                        option value="*" selected[v(|f| &f.rule_id) == "*"] { "Every rule" }
                        @for r in rules.iter().filter(|r| r.alerts) {
                            option value=(r.id) selected[v(|f| &f.rule_id) == r.id] { (r.title) " (" (r.id) ")" }
                        }
                    }
                }
                label.field {
                    span.field-label { "Field" }
                    input type="text" name="field" required list="wl-fields" placeholder="SourceIp" value=(v(|f| &f.field));
                    datalist #wl-fields { @for (_, names) in FIELD_NAMES { option value=(names[0]) {} } }
                }
                label.field {
                    span.field-label { "Value" }
                    input type="text" name="value" required maxlength="1024" placeholder="192.0.2.10" value=(v(|f| &f.value));
                }
                label.field {
                    span.field-label { "Comment (optional)" }
                    input type="text" name="comment" maxlength="1024" value=(v(|f| &f.comment));
                }
                div.form-actions { button.btn.btn-primary type="submit" { "Add entry" } }
            }
        }
    }
}

/// `GET /console/alerts/whitelist`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let flash = match q.msg.as_deref() {
        Some("added") => Some(components::flash("ok", html! { "Entry added." })),
        Some("deleted") => Some(components::flash("ok", html! { "Entry deleted." })),
        _ => None,
    };
    Ok(Html(
        render(&*host, &a.csrf, flash, None).await?.into_string(),
    ))
}

/// `POST /console/alerts/whitelist`.
pub async fn add(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<EntryForm>,
) -> Result<Response, PageError> {
    let input = WhitelistInput {
        rule_id: f.rule_id.clone(),
        field: f.field.clone(),
        value: f.value.trim().to_string(),
        comment: Some(f.comment.clone()).filter(|c| !c.trim().is_empty()),
        from_alert: None,
    };
    match host.add_whitelist(input).await {
        Ok(_) => Ok(Redirect::to(&with_msg(PATH, "added")).into_response()),
        Err(ActionError::Invalid(m)) | Err(ActionError::Conflict(m)) => {
            let flash = components::flash("crit", html! { (m) ". Nothing was changed." });
            let body = render(&*host, &a.csrf, Some(flash), Some(&f)).await?;
            Ok((StatusCode::BAD_REQUEST, Html(body.into_string())).into_response())
        }
        Err(ActionError::NotFound(m)) => Err(PageError::NotFound(m)),
        Err(ActionError::Internal) => Err(PageError::Internal),
    }
}

/// `POST /console/alerts/whitelist/{id}/delete`.
pub async fn delete(
    State(host): State<Arc<dyn ConsoleHost>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::NotFound("There is no such entry.".into()))?;
    match host.delete_whitelist(id).await {
        Ok(()) | Err(ActionError::NotFound(_)) => {
            Ok(Redirect::to(&with_msg(PATH, "deleted")).into_response())
        }
        Err(ActionError::Invalid(m)) | Err(ActionError::Conflict(m)) => {
            Err(PageError::BadRequest(m))
        }
        Err(ActionError::Internal) => Err(PageError::Internal),
    }
}
