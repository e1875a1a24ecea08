//! `POST /console/assets/uninstall`: bulk uninstall (SPEC L9), through the
//! same path as `POST /api/v1/uninstall`. Online servers get the signed
//! command at once; offline ones get it queued until it expires (when
//! "queue" is ticked) and show as pending, or are listed as not sent.
//! `POST /console/commands/{id}/cancel` withdraws a pending command.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_store::{Asset, StoreError};

use crate::host::{ConsoleHost, UninstallResult};
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

/// Most servers one request may name.
pub const MAX_SELECTED: usize = 1000;
/// Lifetimes offered for queued commands, seconds (the first is the default).
pub const EXPIRY_CHOICES: &[(u64, &str)] = &[
    (86_400, "1 day"),
    (3_600, "1 hour"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
];

/// The form: `id` (repeated), `queue` (present when ticked), `expires` (seconds).
pub fn parse_form(fields: Vec<(String, String)>) -> Result<(Vec<String>, bool, u64), String> {
    let mut ids = Vec::new();
    let (mut queue, mut expires) = (false, EXPIRY_CHOICES[0].0);
    for (k, v) in fields {
        match k.as_str() {
            "id" => ids.push(v),
            "queue" => queue = !v.is_empty(),
            "expires" => {
                expires = v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| EXPIRY_CHOICES.iter().any(|(c, _)| c == s))
                    .ok_or_else(|| format!("Unknown expiry \u{201c}{v}\u{201d}."))?
            }
            _ => {}
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err("No servers were selected.".into());
    }
    if ids.len() > MAX_SELECTED {
        return Err(format!(
            "At most {MAX_SELECTED} servers can be uninstalled at once."
        ));
    }
    Ok((ids, queue, expires))
}

pub async fn post(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Html<String>, PageError> {
    let (ids, queue, expires) = parse_form(fields).map_err(PageError::BadRequest)?;
    let results = host
        .uninstall(ids, queue, expires)
        .await
        .map_err(|e| PageError::store("issuing uninstall commands", e))?;
    let mut rows = Vec::with_capacity(results.len());
    for r in results {
        let asset = host
            .store()
            .get_asset(&r.asset_id)
            .await
            .map_err(|e| PageError::store("reading an asset", e))?;
        rows.push((r, asset));
    }
    tracing::info!(selected = rows.len(), queue, "console: bulk uninstall");
    let frame = Frame {
        title: "Uninstall the agent",
        nav: Nav::Assets,
        csrf: &a.csrf,
    };
    let header = view::page_header("Uninstall the agent", None, None);
    Ok(Html(
        view::page(&frame, header, result_page(&rows)).into_string(),
    ))
}

type Row = (UninstallResult, Option<Asset>);

fn group<'a>(rows: &'a [Row], delivery: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|(r, _)| r.delivery == delivery)
        .collect()
}

fn list(rows: &[&Row], now: i64, detail: impl Fn(&UninstallResult) -> Markup) -> Markup {
    html! {
        ul.uninstall-list {
            @for (r, a) in rows {
                li {
                    @match a {
                        Some(a) => {
                            a href={ "/console/assets/" (encode_component(&a.id)) } { (a.hostname) }
                            " " (components::badge(a.status, a.status_reason))
                            " " span.muted.small { "last seen " (components::maybe_time_ago(a.last_seen, now, "never")) }
                        }
                        None => span.mono { (r.asset_id) },
                    }
                    " " (detail(r))
                }
            }
        }
    }
}

fn result_page(rows: &[Row]) -> Markup {
    let now = now_ms();
    let sent = group(rows, "sent");
    let queued = group(rows, "queued");
    let offline = group(rows, "offline");
    let other: Vec<&Row> = rows
        .iter()
        .filter(|(r, _)| !matches!(r.delivery.as_str(), "sent" | "queued" | "offline"))
        .collect();
    let summary = format!(
        "Sent to {}; {} queued for offline servers.",
        fmt::plural(sent.len() as u64, "server", "servers"),
        queued.len()
    );
    let none = |m: &'static str| html! { p.muted { (m) } };
    html! {
        (components::flash(if sent.is_empty() && queued.is_empty() { "info" } else { "ok" }, html! { (summary) }))
        div.grid-2 {
            section.card #sent {
                div.card-head { h2 { "Sent now (" (sent.len()) ")" } }
                p.muted.small { "The agents verify the signed command, remove everything they installed and report; each asset shows Unprotected · Uninstalled at once." }
                @if sent.is_empty() { (none("None of the selected servers is online.")) }
                @else { (list(&sent, now, |_| html! { span.flag.flag-online { "command sent" } })) }
            }
            section.card #queued {
                div.card-head { h2 { "Offline — pending (" (queued.len()) ")" } }
                p.muted.small { "They cannot receive it now. The command waits until the agent reconnects, or it expires." }
                @if queued.is_empty() { (none("Nothing was queued.")) }
                @else {
                    (list(&queued, now, |r| html! {
                        @if let Some(c) = &r.command {
                            span.flag.flag-pending { "pending · expires " (fmt::until(c.expires_at, now)) }
                        }
                    }))
                }
            }
        }
        @if !offline.is_empty() {
            section.card #offline {
                div.card-head { h2 { "Offline — not sent (" (offline.len()) ")" } }
                p.muted.small { "These servers cannot receive the command now and it was not queued. Select them again and tick \u{201c}queue\u{201d} to send it when they reconnect." }
                (list(&offline, now, |_| html! { span.flag.flag-offline { "offline — can\u{2019}t receive it now" } }))
            }
        }
        @if !other.is_empty() {
            section.card #skipped {
                div.card-head { h2 { "Not sent (" (other.len()) ")" } }
                (list(&other, now, |r| html! { span.muted.small { (r.message) } }))
            }
        }
        p { a.btn href="/console/assets" { (PreEscaped(icons::CHEVRON_LEFT)) span { "Back to assets" } } }
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    pub asset: String,
}

/// `POST /console/commands/{id}/cancel`.
pub async fn cancel(
    State(host): State<Arc<dyn ConsoleHost>>,
    Path(id): Path<String>,
    Form(f): Form<CancelForm>,
) -> Result<Response, PageError> {
    let back = match host.cancel_command(&id).await {
        Ok(c) => format!(
            "/console/assets/{}?msg=cancelled",
            encode_component(&c.asset_id)
        ),
        Err(StoreError::Conflict(_)) => format!(
            "/console/assets/{}?msg=not-pending",
            encode_component(&f.asset)
        ),
        Err(e) => return Err(PageError::store("cancelling a command", e)),
    };
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_names_servers_queueing_and_expiry() {
        let (ids, queue, exp) = parse_form(f(&[
            ("id", "b"),
            ("id", "a"),
            ("id", "b"),
            ("queue", "1"),
            ("expires", "3600"),
        ]))
        .unwrap();
        assert_eq!(
            (ids, queue, exp),
            (vec!["a".to_string(), "b".to_string()], true, 3600)
        );
        let (_, queue, exp) = parse_form(f(&[("id", "a")])).unwrap();
        assert_eq!((queue, exp), (false, 86_400));
        assert!(parse_form(f(&[])).is_err());
        assert!(parse_form(f(&[("id", "a"), ("expires", "5")])).is_err());
    }
}
