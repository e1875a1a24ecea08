//! Asset detail: the latest host report, the connection (last error,
//! address, endpoint), agent CPU/RSS, updates and guardian events, and the
//! status timeline.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup, PreEscaped};
use ward_store::{Asset, Status, StatusEvent};

use crate::host::{ConsoleHost, LiveStatus};
use crate::http::{Authed, PageError};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

/// Timeline entries shown.
pub const TIMELINE_LEN: u32 = 50;

/// `GET /console/assets/{id}`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let now = now_ms();
    let store = host.store();
    let asset = store
        .get_asset(&id)
        .await
        .map_err(|e| PageError::store("reading an asset", e))?
        .ok_or_else(|| {
            PageError::NotFound("There is no such server. It may have been removed.".into())
        })?;
    let timeline = store
        .status_events(&id, TIMELINE_LEN)
        .await
        .map_err(|e| PageError::store("reading a timeline", e))?;
    let key_label = match &asset.enrolled_with_key {
        Some(k) => store
            .get_key(k)
            .await
            .map_err(|e| PageError::store("reading a key", e))?
            .map(|k| k.label),
        None => None,
    };
    let live = host.live_status(&id).unwrap_or(LiveStatus {
        status: asset.status,
        reason: asset.status_reason,
        since: asset.status_since,
        last_seen: asset.last_seen,
    });
    let online = host.is_online(&id);
    let lifecycle = store
        .lifecycle_events(&id, super::lifecycle_card::LIFECYCLE_LEN)
        .await
        .map_err(|e| PageError::store("reading lifecycle events", e))?;

    let header = html! {
        div.page-header data-asset-id=(asset.id) {
            div {
                p.breadcrumb { a href="/console/assets" { "Assets" } " / " }
                h1.host-title { (asset.hostname) }
                p.subtitle {
                    (components::badge(live.status, live.reason))
                    " "
                    span.muted { "changed " span data-live="since" { (components::time_ago(live.since, now)) } }
                }
            }
            div.page-actions {
                button.btn.btn-danger-ghost type="button" data-open-uninstall
                    data-asset-id=(asset.id) data-hostname=(asset.hostname) data-online=(if online { "1" } else { "0" }) {
                    (PreEscaped(icons::TRASH)) span { "Uninstall…" }
                }
            }
        }
    };
    let content = html! {
        div.grid-2 {
            (host_card(&asset, key_label.as_deref(), now))
            div.stack {
                (connection_card(&asset, &live, online, now))
                (resources_card(&asset, now))
            }
        }
        (super::lifecycle_card::card(&lifecycle, now))
        (timeline_card(&timeline, now))
        (components::uninstall_dialog(&a.csrf))
    };
    let frame = Frame {
        title: &asset.hostname,
        nav: Nav::Assets,
        csrf: &a.csrf,
    };
    Ok(Html(view::page(&frame, header, content).into_string()))
}

fn fact(label: &str, value: Markup) -> Markup {
    html! { div.fact { dt { (label) } dd { (value) } } }
}

fn text_or_dash(v: &str) -> Markup {
    if v.trim().is_empty() {
        html! { span.muted { "—" } }
    } else {
        html! { (v) }
    }
}

fn host_card(a: &Asset, key_label: Option<&str>, now: i64) -> Markup {
    html! {
        section.card aria-labelledby="host-title" {
            div.card-head {
                h2 #host-title { "Host report" }
                span.muted { "received " (components::maybe_time_ago(a.report_at, now, "never")) }
            }
            dl.facts {
                (fact("Hostname", html! { span.mono { (a.hostname) } }))
                (fact("IP addresses", if a.ips.is_empty() { html! { span.muted { "—" } } } else {
                    html! { ul.plain-list.mono { @for ip in &a.ips { li { (ip) } } } }
                }))
                (fact("Operating system", text_or_dash(&a.os)))
                (fact("Kernel", html! { span.mono { (text_or_dash(&a.kernel)) } }))
                (fact("Architecture", text_or_dash(&a.arch)))
                (fact("Platform", html! { span.mono { (text_or_dash(&a.platform)) } }))
                (fact("Agent version", html! { span.mono { (text_or_dash(&a.agent_version)) } }))
                (fact("Uptime", match &a.report { Some(r) => html! { (fmt::duration_secs(r.uptime_secs)) }, None => html! { span.muted { "—" } } }))
                (fact("Group", match &a.group { Some(g) => html! { span.tag { (g) } }, None => html! { span.muted { "none" } } }))
                (fact("Enrolled", html! { (components::time_ago(a.enrolled_at, now))
                    @if let Some(k) = key_label { span.muted { " with key " (k) } } }))
                (fact("First seen", components::maybe_time_ago(a.first_seen, now, "never")))
                (fact("Asset id", html! { span.mono { (a.id) } }))
            }
        }
    }
}

fn connection_card(a: &Asset, live: &LiveStatus, online: bool, now: i64) -> Markup {
    let problem = live.status == Status::Unprotected;
    html! {
        section.card aria-labelledby="conn-title" data-asset-id=(a.id) {
            div.card-head {
                h2 #conn-title { "Connection" }
                @if online {
                    span.pill.pill-ok { span.dot aria-hidden="true" {} "Session open" }
                } @else {
                    span.pill { span.dot aria-hidden="true" {} "No session" }
                }
            }
            @if let Some(err) = &a.last_error {
                div class={ "callout " (if problem { "callout-crit" } else { "callout-muted" }) } {
                    (PreEscaped(icons::ALERT))
                    div {
                        strong { "Last connection error the agent reported" }
                        pre.error-text { (err) }
                    }
                }
            }
            dl.facts {
                (fact("Last seen", html! { span data-live="last-seen" { (components::maybe_time_ago(live.last_seen, now, "never")) } }))
                (fact("From address", html! { span.mono { (a.last_addr.as_deref().unwrap_or("—")) } }))
                (fact("Endpoint used", html! { span.mono { (a.last_endpoint.as_deref().unwrap_or("—")) } }))
                @if a.last_error.is_none() {
                    (fact("Last error", html! { span.muted { "none reported" } }))
                }
            }
        }
    }
}

fn resources_card(a: &Asset, now: i64) -> Markup {
    html! {
        section.card aria-labelledby="res-title" {
            div.card-head {
                h2 #res-title { "Agent resources" }
                span.muted { "at the last report" }
            }
            @match &a.report {
                Some(r) => {
                    div.meters {
                        div.kpi { span.kpi-value { (format!("{:.1}", r.agent_cpu_percent)) " %" } span.kpi-label { "CPU (of one core)" } }
                        div.kpi { span.kpi-value { (fmt::bytes(r.agent_rss_bytes)) } span.kpi-label { "Memory (RSS)" } }
                    }
                    @if let Some(at) = a.report_at { p.muted { "Reported " (components::time_ago(at, now)) } }
                }
                None => p.muted { "The agent has not sent a report yet." },
            }
        }
    }
}

fn timeline_card(events: &[StatusEvent], now: i64) -> Markup {
    html! {
        section.card aria-labelledby="tl-title" {
            div.card-head { h2 #tl-title { "Status timeline" } span.muted { "newest first" } }
            @if events.is_empty() {
                p.muted { "No status changes recorded yet." }
            } @else {
                ol.timeline {
                    @for e in events {
                        @let look = fmt::status_look(e.status, e.reason);
                        li class={ "tl-item tone-" (look.tone) } {
                            span.tl-dot aria-hidden="true" {}
                            div.tl-body {
                                div.tl-title { (components::badge_look(look)) " " (components::time_ago(e.at, now)) }
                                div.tl-meta.muted {
                                    (fmt::absolute(e.at))
                                    @if let Some(d) = &e.detail { " · " (d) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
