//! Overview: assets by status and reason, agents by version, alerts by
//! severity over the last two weeks.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup, PreEscaped};
use ward_store::{AlertSeverity, VersionCount};

use super::alerts_data::{self, AlertSummary};
use super::fleet::FleetCounts;
use super::install_hint;
use crate::host::ConsoleHost;
use crate::http::{Authed, PageError};
use crate::view::chart;
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

/// `GET /console/`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
) -> Result<Html<String>, PageError> {
    let now = now_ms();
    let counts = FleetCounts::from_counts(&host.status_counts());
    let versions = host
        .store()
        .count_by_agent_version()
        .await
        .map_err(|e| PageError::store("counting agent versions", e))?;
    let alerts = alerts_data::summary(host.store(), now).await?;
    let hint = if counts.total == 0 {
        Some(install_hint::for_this_host(&*host).await?)
    } else {
        None
    };
    let header = view::page_header(
        "Overview",
        Some(html! {
            (fmt::plural(counts.total, "server", "servers"))
            " · " (fmt::count(host.online_count() as u64)) " connected now"
        }),
        None,
    );
    let content = html! {
        @if let Some(h) = hint {
            (components::empty_state(
                icons::SERVER,
                "No servers yet — copy this command",
                html! { "Run it as root on a Linux server to install the Ward agent. The server appears here as "
                        strong { "Protected" } " within seconds." },
                Some(h),
            ))
        } @else {
            (status_cards(&counts))
            div.grid-2 {
                (protection_card(&counts))
                (versions_card(&versions))
            }
        }
        (alerts_card(&alerts))
    };
    let frame = Frame {
        title: "Overview",
        nav: Nav::Overview,
        csrf: &a.csrf,
    };
    Ok(Html(view::page(&frame, header, content).into_string()))
}

fn stat(tone: &str, key: &str, label: &str, n: u64, href: &str) -> Markup {
    html! {
        a class={ "stat stat-" (tone) } href=(href) {
            span.stat-label { span.dot aria-hidden="true" {} (label) }
            span.stat-value data-count=(key) { (fmt::count(n)) }
        }
    }
}

fn status_cards(c: &FleetCounts) -> Markup {
    html! {
        div.stats data-live-counts {
            (stat("ok", "protected", "Protected", c.protected, "/console/assets?status=protected"))
            (stat("crit", "offline", "Offline", c.offline, "/console/assets?status=offline"))
            (stat("warn", "never_connected", "Never connected", c.never_connected, "/console/assets?status=never_connected"))
            (stat("muted", "uninstalled", "Uninstalled", c.uninstalled, "/console/assets?status=uninstalled"))
            @if c.updating > 0 {
                (stat("info", "updating", "Updating", c.updating, "/console/assets?status=updating"))
            }
        }
    }
}

fn protection_card(c: &FleetCounts) -> Markup {
    let segs = c.segments();
    let pct = c.protected_pct();
    html! {
        section.card aria-labelledby="protection-title" {
            div.card-head {
                h2 #protection-title { "Protection" }
                span.muted { span data-count="protected_pct" { (pct) } "% protected" }
            }
            (chart::stacked_bar(&segs, "Assets by status"))
            ul.legend {
                @for s in &segs {
                    li { span class={ "swatch fill-" (s.tone) } aria-hidden="true" {} (s.label) " " strong { (fmt::count(s.count)) } }
                }
            }
        }
    }
}

fn versions_card(versions: &[VersionCount]) -> Markup {
    let max = versions.iter().map(|v| v.count).max().unwrap_or(0);
    html! {
        section.card aria-labelledby="versions-title" {
            div.card-head { h2 #versions-title { "Agents by version" } }
            @if versions.is_empty() {
                p.muted { "No agents installed." }
            } @else {
                table.table.table-compact {
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Servers" } th scope="col" { span.visually-hidden { "Share" } } } }
                    tbody {
                        @for v in versions.iter().take(10) {
                            tr {
                                td { code { (if v.version.is_empty() { "unknown" } else { v.version.as_str() }) } }
                                td.num { (fmt::count(v.count)) }
                                td.meter-cell { (chart::meter(v.count, max)) }
                            }
                        }
                    }
                }
                @if versions.len() > 10 { p.muted { "and " (versions.len() - 10) " more versions" } }
            }
        }
    }
}

fn alerts_card(s: &AlertSummary) -> Markup {
    html! {
        section.card aria-labelledby="alerts-title" {
            div.card-head {
                h2 #alerts-title { "Alerts by severity" }
                span.muted { "last 14 days" @if s.total > 0 { " · " a href="/console/alerts" { "View alerts" } } }
            }
            @if s.total == 0 {
                div.empty.empty-inline {
                    div.empty-icon { (PreEscaped(icons::ACTIVITY)) }
                    p { strong { "No alerts yet." } " When an agent detects an attack — a brute force, a reverse shell, a new root account — it appears here by severity." }
                }
            } @else {
                div.severity-row {
                    @for (sev, tone) in [(AlertSeverity::Urgent, "crit"), (AlertSeverity::Suspicious, "warn"), (AlertSeverity::Reminder, "info")] {
                        a class={ "severity severity-" (tone) } href={ "/console/alerts?state=unhandled&severity=" (sev.as_str()) } data-severity-count=(sev.as_str()) {
                            span.severity-label { span.dot aria-hidden="true" {} (alerts_data::severity_label(sev)) }
                            span.severity-value { (fmt::count(s.unhandled(sev))) }
                            span.muted { "unhandled" }
                        }
                    }
                }
                (chart::alerts_over_time(&s.days))
                @if s.truncated { p.muted { "Chart based on the newest " (fmt::count(s.scanned)) " alerts." } }
            }
        }
    }
}
