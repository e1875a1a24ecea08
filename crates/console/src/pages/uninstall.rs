//! `POST /console/assets/uninstall`: the bulk uninstall request.
//!
//! Sending the signed uninstall command is the agent lifecycle work (SPEC
//! L9); until the server can send it, this answers with what would happen
//! to each selected server and changes nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::{Extension, Form};
use maud::{html, PreEscaped};

use crate::host::ConsoleHost;
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::fmt::now_ms;
use crate::view::{self, components, icons, Frame, Nav};

/// Most servers one request may name.
pub const MAX_SELECTED: usize = 1000;

pub async fn post(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Html<String>, PageError> {
    let mut ids: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(PageError::BadRequest("No servers were selected.".into()));
    }
    if ids.len() > MAX_SELECTED {
        return Err(PageError::BadRequest(format!(
            "At most {MAX_SELECTED} servers can be uninstalled at once."
        )));
    }
    let now = now_ms();
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for id in &ids {
        let Some(asset) = host
            .store()
            .get_asset(id)
            .await
            .map_err(|e| PageError::store("reading an asset", e))?
        else {
            continue;
        };
        if host.is_online(id) {
            online.push(asset);
        } else {
            offline.push(asset);
        }
    }
    tracing::info!(
        selected = ids.len(),
        online = online.len(),
        offline = offline.len(),
        "console: bulk uninstall requested (not available in this version; nothing sent)"
    );
    let header = view::page_header("Uninstall the agent", None, None);
    let list = |assets: &[ward_store::Asset]| {
        html! {
            ul.uninstall-list {
                @for s in assets {
                    li { a href={ "/console/assets/" (encode_component(&s.id)) } { (s.hostname) }
                         " " (components::badge(s.status, s.status_reason))
                         " " span.muted.small { "last seen " (components::maybe_time_ago(s.last_seen, now, "never")) } }
                }
            }
        }
    };
    let content = html! {
        div.callout.callout-warn {
            (PreEscaped(icons::INFO))
            div {
                strong { "Nothing was changed." }
                " This server version cannot send uninstall commands yet; they arrive with the agent lifecycle update. "
                "To remove an agent now, run " code { "ward-agent stop --prefix /usr/local/ward" } " on the server and delete "
                code { "/usr/local/ward" } "."
            }
        }
        div.grid-2 {
            section.card {
                div.card-head { h2 { "Online — would receive the command now (" (online.len()) ")" } }
                @if online.is_empty() { p.muted { "None of the selected servers is online." } } @else { (list(&online)) }
            }
            section.card {
                div.card-head { h2 { "Offline — can't receive it now (" (offline.len()) ")" } }
                p.muted.small { "The command would wait for them, shown as pending, until it expires." }
                @if offline.is_empty() { p.muted { "All selected servers are online." } } @else { (list(&offline)) }
            }
        }
        p { a.btn href="/console/assets" { "Back to assets" } }
    };
    let frame = Frame {
        title: "Uninstall the agent",
        nav: Nav::Assets,
        csrf: &a.csrf,
    };
    Ok(Html(view::page(&frame, header, content).into_string()))
}
