//! Assets: the fleet table with status/group filters, hostname/IP search,
//! keyset pagination (the store's cursor) and bulk uninstall.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_proto::CommandKind;
use ward_store::{Asset, AssetQuery, CommandRecord, GroupCount, Status, StatusReason, StoreError};

use super::fleet::FleetCounts;
use super::install_hint;
use crate::host::ConsoleHost;
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;
/// Longest search text kept.
const MAX_SEARCH: usize = 200;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page number, for display only (the cursor does the work).
    #[serde(default)]
    pub page: Option<u32>,
}

/// The status filters, as (value, label).
pub const STATUS_FILTERS: &[(&str, &str)] = &[
    ("", "All"),
    ("protected", "Protected"),
    ("unprotected", "Unprotected"),
    ("offline", "Offline"),
    ("never_connected", "Never connected"),
    ("uninstalled", "Uninstalled"),
    ("updating", "Updating"),
];

/// A status filter value as a store filter; unknown values mean "all".
pub fn status_filter(v: &str) -> (Option<Status>, Option<StatusReason>) {
    match v {
        "protected" => (Some(Status::Protected), None),
        "unprotected" => (Some(Status::Unprotected), None),
        "updating" => (Some(Status::Updating), None),
        other => match StatusReason::parse(other) {
            Some(r) => (Some(Status::Unprotected), Some(r)),
            None => (None, None),
        },
    }
}

/// The normalised filters of a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub status: String,
    pub group: Option<String>,
    pub search: Option<String>,
}

impl Filters {
    pub fn from_params(p: &Params) -> Filters {
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(MAX_SEARCH).collect::<String>())
        };
        let status = p.status.as_deref().unwrap_or("").trim();
        let status = if STATUS_FILTERS.iter().any(|(v, _)| *v == status) {
            status.to_string()
        } else {
            String::new()
        };
        Filters {
            status,
            group: clean(&p.group),
            search: clean(&p.q),
        }
    }

    pub fn query(&self, cursor: Option<String>) -> AssetQuery {
        let (status, reason) = status_filter(&self.status);
        AssetQuery {
            status,
            reason,
            group: self.group.clone(),
            search: self.search.clone(),
            after: cursor,
            limit: PAGE_SIZE,
        }
    }

    pub fn is_filtered(&self) -> bool {
        !self.status.is_empty() || self.group.is_some() || self.search.is_some()
    }

    /// `/console/assets?…` with these filters and the given extras.
    pub fn href(&self, status: Option<&str>, extra: &[(&str, String)]) -> String {
        let mut parts = Vec::new();
        let status = status.unwrap_or(&self.status);
        if !status.is_empty() {
            parts.push(format!("status={}", encode_component(status)));
        }
        if let Some(g) = &self.group {
            parts.push(format!("group={}", encode_component(g)));
        }
        if let Some(q) = &self.search {
            parts.push(format!("q={}", encode_component(q)));
        }
        for (k, v) in extra {
            parts.push(format!("{k}={}", encode_component(v)));
        }
        if parts.is_empty() {
            "/console/assets".to_string()
        } else {
            format!("/console/assets?{}", parts.join("&"))
        }
    }
}

fn tab_count(c: &FleetCounts, value: &str) -> Option<u64> {
    Some(match value {
        "" => c.total,
        "protected" => c.protected,
        "unprotected" => c.unprotected(),
        "offline" => c.offline,
        "never_connected" => c.never_connected,
        "uninstalled" => c.uninstalled,
        "updating" => c.updating,
        _ => return None,
    })
}

/// `GET /console/assets`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(p): Query<Params>,
) -> Result<Html<String>, PageError> {
    Ok(Html(render(&*host, &a.csrf, &p).await?.into_string()))
}

/// Renders the page (public for the benchmark).
pub async fn render(host: &dyn ConsoleHost, csrf: &str, p: &Params) -> Result<Markup, PageError> {
    let now = now_ms();
    let filters = Filters::from_params(p);
    let cursor = p.cursor.clone().filter(|c| !c.is_empty());
    let mut stale_cursor = false;
    let page = match host
        .store()
        .list_assets(&filters.query(cursor.clone()))
        .await
    {
        Ok(page) => page,
        Err(StoreError::NotFound(_)) if cursor.is_some() => {
            stale_cursor = true;
            host.store()
                .list_assets(&filters.query(None))
                .await
                .map_err(|e| PageError::store("listing assets", e))?
        }
        Err(e) => return Err(PageError::store("listing assets", e)),
    };
    let page_no = if stale_cursor {
        1
    } else {
        p.page.unwrap_or(1).max(1)
    };
    let groups = host
        .store()
        .list_groups()
        .await
        .map_err(|e| PageError::store("listing groups", e))?;
    let counts = FleetCounts::from_counts(&host.status_counts());
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    let pending = Pending::of(host.pending_commands(&ids).await);
    let hint = if counts.total == 0 {
        Some(install_hint::for_this_host(host).await?)
    } else {
        None
    };

    let header = view::page_header(
        "Assets",
        Some(html! { (fmt::plural(counts.total, "server", "servers")) " with the Ward agent" }),
        Some(html! {
            a.btn href="/console/settings/agents" { (PreEscaped(icons::DOWNLOAD)) span { "Install agent" } }
        }),
    );
    let content = html! {
        @if stale_cursor {
            (components::flash("info", html! { "That page link is no longer valid; showing the first page." }))
        }
        @if let Some(h) = hint {
            (components::empty_state(icons::SERVER, "No servers yet — copy this command",
                html! { "Run it as root on a Linux server to install the agent. The server shows up in this list within seconds." },
                Some(h)))
        } @else {
            (tabs(&filters, &counts))
            (filter_bar(&filters, &groups))
            @if page.items.is_empty() {
                (components::empty_state(icons::SEARCH, "No servers match",
                    html! { "Nothing matches these filters. " a href="/console/assets" { "Clear the filters" } " to see every server." },
                    None))
            } @else {
                (table(host, &page.items, &pending, now))
                (components::pager(page_no, PAGE_SIZE, page.items.len(), page.next_cursor.as_deref(), |extra| filters.href(None, extra), ""))
            }
        }
        (components::uninstall_dialog(csrf))
    };
    let frame = Frame {
        title: "Assets",
        nav: Nav::Assets,
        csrf,
    };
    Ok(view::page(&frame, header, content))
}

fn tabs(f: &Filters, counts: &FleetCounts) -> Markup {
    html! {
        nav.tabs aria-label="Status" {
            @for (value, label) in STATUS_FILTERS {
                @let n = tab_count(counts, value).unwrap_or(0);
                @if n > 0 || value.is_empty() || *value == f.status || *value == "protected" || *value == "unprotected" {
                    a.tab href=(f.href(Some(value), &[])) aria-current=[(f.status == *value).then_some("page")] {
                        (label) span.tab-count { (fmt::count(n)) }
                    }
                }
            }
        }
    }
}

fn filter_bar(f: &Filters, groups: &[GroupCount]) -> Markup {
    html! {
        form.filters method="get" action="/console/assets" role="search" {
            @if !f.status.is_empty() { input type="hidden" name="status" value=(f.status); }
            label.search {
                span.visually-hidden { "Search by hostname or IP address" }
                (PreEscaped(icons::SEARCH))
                input type="search" name="q" value=[f.search.as_deref()] placeholder="Search hostname or IP" autocomplete="off";
            }
            label.select {
                span.visually-hidden { "Group" }
                select name="group" data-autosubmit {
                    option value="" { "All groups" }
                    @for g in groups {
                        option value=(g.group) selected[f.group.as_deref() == Some(g.group.as_str())] {
                            (g.group) " (" (fmt::count(g.count)) ")"
                        }
                    }
                }
            }
            button.btn type="submit" { "Filter" }
            @if f.is_filtered() { a.btn.btn-ghost href="/console/assets" { "Clear" } }
        }
    }
}

/// Pending uninstall commands by asset: the one that expires last.
#[derive(Debug, Default)]
pub struct Pending(std::collections::HashMap<String, CommandRecord>);

impl Pending {
    pub fn of(cmds: Vec<CommandRecord>) -> Pending {
        let mut m: std::collections::HashMap<String, CommandRecord> = Default::default();
        for c in cmds
            .into_iter()
            .filter(|c| c.kind == CommandKind::Uninstall)
        {
            match m.get(&c.asset_id) {
                Some(have) if have.expires_at >= c.expires_at => {}
                _ => {
                    m.insert(c.asset_id.clone(), c);
                }
            }
        }
        Pending(m)
    }

    pub fn get(&self, asset_id: &str) -> Option<&CommandRecord> {
        self.0.get(asset_id)
    }
}

/// "Uninstall pending · expires in 23 h".
pub fn pending_flag(c: &CommandRecord, now: i64) -> Markup {
    html! {
        span.flag.flag-pending title={ "Queued " (fmt::absolute(c.created_at)) "; expires " (fmt::absolute(c.expires_at)) } {
            "Uninstall pending · expires " (fmt::until(c.expires_at, now))
        }
    }
}

fn table(host: &dyn ConsoleHost, assets: &[Asset], pending: &Pending, now: i64) -> Markup {
    html! {
        div.bulk-bar #bulk-bar hidden {
            span #bulk-count { "0 selected" }
            button.btn.btn-danger.btn-sm type="button" data-open-uninstall { (PreEscaped(icons::TRASH)) span { "Uninstall…" } }
        }
        label.select-all-mobile {
            input type="checkbox" data-select-all; span { "Select all on this page" }
        }
        div.table-wrap {
            table.table.assets-table data-live-table {
                thead {
                    tr {
                        th.col-check scope="col" { input type="checkbox" data-select-all aria-label="Select all servers on this page"; }
                        th scope="col" { "Status" }
                        th scope="col" { "Hostname" }
                        th scope="col" { "IP addresses" }
                        th scope="col" { "OS" }
                        th scope="col" { "Agent" }
                        th scope="col" { "Group" }
                        th scope="col" { "Last seen" }
                    }
                }
                tbody {
                    @for a in assets { (row(host, a, pending.get(&a.id), now)) }
                }
            }
        }
    }
}

fn row(host: &dyn ConsoleHost, a: &Asset, pending: Option<&CommandRecord>, now: i64) -> Markup {
    let live = host.live_status(&a.id);
    let (status, reason) = live.map_or((a.status, a.status_reason), |l| (l.status, l.reason));
    let last_seen = live.and_then(|l| l.last_seen).or(a.last_seen);
    let online = host.is_online(&a.id);
    html! {
        tr data-asset-id=(a.id) {
            td.col-check data-label="Select" {
                input type="checkbox" name="id" value=(a.id) data-hostname=(a.hostname)
                    data-online=(if online { "1" } else { "0" }) aria-label={ "Select " (a.hostname) };
            }
            td data-label="Status" {
                (components::badge(status, reason))
                @if let Some(c) = pending { " " (pending_flag(c, now)) }
            }
            td.host data-label="Hostname" { a href={ "/console/assets/" (encode_component(&a.id)) } { (a.hostname) } }
            td.mono data-label="IP addresses" {
                span {
                    @for (i, ip) in a.ips.iter().take(3).enumerate() {
                        @if i > 0 { ", " }
                        (ip)
                    }
                    @if a.ips.len() > 3 { span.muted title=(a.ips[3..].join(", ")) { " +" (a.ips.len() - 3) } }
                    @if a.ips.is_empty() { span.muted { "—" } }
                }
            }
            td data-label="OS" { (a.os) }
            td.mono data-label="Agent" { (a.agent_version) }
            td data-label="Group" {
                @match &a.group { Some(g) => span.tag { (g) }, None => span.muted { "—" } }
            }
            td data-label="Last seen" data-live="last-seen" { (components::maybe_time_ago(last_seen, now, "Never")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_map_to_store_filters() {
        assert_eq!(status_filter(""), (None, None));
        assert_eq!(status_filter("protected"), (Some(Status::Protected), None));
        assert_eq!(
            status_filter("offline"),
            (Some(Status::Unprotected), Some(StatusReason::Offline))
        );
        assert_eq!(status_filter("bogus"), (None, None));
    }

    #[test]
    fn filters_are_trimmed_and_links_keep_them() {
        let f = Filters::from_params(&Params {
            status: Some("bogus".into()),
            group: Some(" web & db ".into()),
            q: Some("  10.0.".into()),
            ..Default::default()
        });
        assert_eq!(f.status, "");
        assert_eq!(f.group.as_deref(), Some("web & db"));
        assert_eq!(f.search.as_deref(), Some("10.0."));
        assert_eq!(
            f.href(Some("offline"), &[("page", "2".into())]),
            "/console/assets?status=offline&group=web%20%26%20db&q=10.0.&page=2"
        );
        assert_eq!(Filters::default().href(None, &[]), "/console/assets");
    }
}
