//! Alerts: the list with filters (state, severity, host, rule, time),
//! newest first with the store's cursor, and bulk handled/ignored.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_store::{AlertCount, AlertQuery, AlertRecord, AlertSeverity, AlertState, AssetQuery};

use super::alert_filters::{Filters, HostFilter, PERIODS};
use crate::host::{ActionError, ConsoleHost, RuleSummary};
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::alert_look::{group_chips, rule_line, severity_badge, state_badge, technique};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};

pub const PATH: &str = "/console/alerts";
/// Rows per page.
pub const PAGE_SIZE: u32 = 50;
/// Most alerts one bulk action may name.
pub const MAX_SELECTED: usize = 500;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub asset: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub msg: Option<String>,
}

/// The state tabs, as (value, label); no value means unhandled.
const STATE_TABS: &[(&str, &str)] = &[
    ("unhandled", "Unhandled"),
    ("handled", "Handled"),
    ("ignored", "Ignored"),
    ("whitelisted", "Whitelisted"),
    ("all", "All"),
];

fn state_count(counts: &[AlertCount], state: &str) -> u64 {
    counts
        .iter()
        .filter(|c| state == "all" || c.state.as_str() == state)
        .map(|c| c.count)
        .sum()
}

/// `GET /console/alerts`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(p): Query<Params>,
) -> Result<Html<String>, PageError> {
    let now = now_ms();
    let store = host.store();
    let (filters, problems) = Filters::from_params(&p, now);
    let host_filter = filters.resolve_host(store).await?;
    let counts = store
        .count_alerts()
        .await
        .map_err(|e| PageError::store("counting alerts", e))?;
    let cursor = p.cursor.clone().filter(|c| !c.is_empty());
    let mut stale_cursor = false;
    let items = match &host_filter {
        HostFilter::Ambiguous(_) | HostFilter::NoMatch(_) => None,
        hf => {
            let q = filters.query(hf.asset_id(), cursor.clone(), PAGE_SIZE);
            match store.list_alerts(&q).await {
                Ok(page) => Some(page),
                Err(ward_store::StoreError::NotFound(_)) if cursor.is_some() => {
                    stale_cursor = true;
                    let q = filters.query(hf.asset_id(), None, PAGE_SIZE);
                    Some(
                        store
                            .list_alerts(&q)
                            .await
                            .map_err(|e| PageError::store("listing alerts", e))?,
                    )
                }
                Err(e) => return Err(PageError::store("listing alerts", e)),
            }
        }
    };
    let rules = host.rules();
    let page_no = if stale_cursor {
        1
    } else {
        p.page.unwrap_or(1).max(1)
    };
    let mut hostnames = std::collections::HashMap::new();
    if let Some(page) = &items {
        for al in &page.items {
            if !hostnames.contains_key(&al.asset_id) {
                let h = store
                    .get_asset(&al.asset_id)
                    .await
                    .map_err(|e| PageError::store("reading an asset", e))?
                    .map(|x| x.hostname);
                hostnames.insert(al.asset_id.clone(), h);
            }
        }
    }
    let total: u64 = counts.iter().map(|c| c.count).sum();
    let header = view::page_header(
        "Alerts",
        Some(html! {
            (fmt::plural(state_count(&counts, "unhandled"), "unhandled alert", "unhandled alerts"))
            " · " (fmt::count(total)) " in all"
        }),
        Some(html! {
            a.btn href=(super::whitelist::PATH) { (PreEscaped(icons::SHIELD)) span { "Whitelist" } }
        }),
    );
    let content = html! {
        @match p.msg.as_deref() {
            Some("done") => (components::flash("ok", html! { "Alerts updated." })),
            Some("none") => (components::flash("info", html! { "No alerts were selected; nothing was changed." })),
            _ => {}
        }
        @if stale_cursor {
            (components::flash("info", html! { "That page link is no longer valid; showing the first page." }))
        }
        @for m in &problems { (components::flash("crit", html! { (m) })) }
        (state_tabs(&filters, &counts))
        (filter_bar(&filters, &rules, &host_filter))
        @match (&host_filter, &items) {
            (HostFilter::NoMatch(text), _) => {
                (components::empty_state(icons::SEARCH, "No server matches",
                    html! { "No server has a hostname or id like \u{201c}" (text) "\u{201d}. " a href=(PATH) { "Clear the filters" } "." }, None))
            }
            (HostFilter::Ambiguous(list), _) => { (ambiguous(&filters, list)) }
            (_, Some(page)) if page.items.is_empty() => {
                @if total == 0 {
                    (components::empty_state(icons::ACTIVITY, "No alerts yet",
                        html! { "When an agent sees an attack — a brute force, a login after one, a root login by password — the alert appears here within a second." }, None))
                } @else {
                    (components::empty_state(icons::SEARCH, "No alerts match",
                        html! { "Nothing matches these filters. " a href={ (PATH) "?state=all" } { "Show every alert" } "." }, None))
                }
            }
            (_, Some(page)) => {
                (table(&a.csrf, &filters, &page.items, &hostnames, now))
                (components::pager(page_no, PAGE_SIZE, page.items.len(), page.next_cursor.as_deref(), |extra| filters.href(None, extra), ", newest first"))
            }
            _ => {}
        }
    };
    let frame = Frame {
        title: "Alerts",
        nav: Nav::Alerts,
        csrf: &a.csrf,
    };
    Ok(Html(view::page(&frame, header, content).into_string()))
}

fn state_tabs(f: &Filters, counts: &[AlertCount]) -> Markup {
    html! {
        nav.tabs aria-label="State" {
            @for (value, label) in STATE_TABS {
                a.tab href=(f.href(Some(value), &[])) aria-current=[(f.state == *value).then_some("page")] {
                    (label) span.tab-count { (fmt::count(state_count(counts, value))) }
                }
            }
        }
    }
}

fn filter_bar(f: &Filters, rules: &[RuleSummary], hf: &HostFilter) -> Markup {
    let host_value = match hf {
        HostFilter::Asset { hostname, .. } => hostname.clone(),
        _ => f.host.clone(),
    };
    html! {
        form.filters.alert-filters method="get" action=(PATH) role="search" {
            input type="hidden" name="state" value=(f.state);
            label.search.search-host {
                span.visually-hidden { "Host name or asset id" }
                (PreEscaped(icons::SEARCH))
                input type="search" name="host" value=[host_value.as_deref()] placeholder="Host" autocomplete="off";
            }
            label.select.f-sev {
                span.visually-hidden { "Severity" }
                select name="severity" data-autosubmit {
                    option value="" { "All severities" }
                    @for (v, l) in [("urgent", "Urgent"), ("suspicious", "Suspicious"), ("reminder", "Reminder")] {
                        option value=(v) selected[f.severity.map(|s| s.as_str()) == Some(v)] { (l) }
                    }
                }
            }
            label.select.f-period {
                span.visually-hidden { "Time" }
                select name="period" data-autosubmit {
                    @for (v, l) in PERIODS {
                        option value=(v) selected[f.period == *v] { (l) }
                    }
                }
            }
            label.select.f-rule {
                span.visually-hidden { "Rule" }
                select name="rule" data-autosubmit {
                    option value="" { "All rules" }
                    @for r in rules.iter().filter(|r| r.alerts) {
                        option value=(r.id) selected[f.rule.as_deref() == Some(r.id.as_str())] { (r.title) }
                    }
                    @if let Some(rule) = f.rule.as_deref().filter(|id| !rules.iter().any(|r| r.id == *id)) {
                        option value=(rule) selected { (rule) }
                    }
                }
            }
            div.filter-dates {
                label.date-field { span { "From" } input type="date" name="from" value=[f.from.as_deref()]; }
                label.date-field { span { "to" } input type="date" name="to" value=[f.to.as_deref()]; }
                button.btn type="submit" { "Filter" }
                @if f.is_filtered() { a.btn.btn-ghost href={ (PATH) "?state=" (f.state) } { "Clear" } }
            }
        }
    }
}

fn ambiguous(f: &Filters, list: &[(String, String)]) -> Markup {
    html! {
        section.card {
            div.card-head { h2 { (list.len()) " servers match \u{201c}" (f.host.as_deref().unwrap_or("")) "\u{201d}" } }
            p.muted { "Pick one to see its alerts." }
            ul.plain-list.pick-list {
                @for (id, hostname) in list {
                    li { a href=(f.href(None, &[("asset", id.clone())])) { strong { (hostname) } } " " span.muted.mono { (id) } }
                }
            }
        }
    }
}

fn table(
    csrf: &str,
    f: &Filters,
    items: &[AlertRecord],
    hostnames: &std::collections::HashMap<String, Option<String>>,
    now: i64,
) -> Markup {
    html! {
        form #alerts-bulk method="post" action={ (PATH) "/state" } {
            (components::csrf_field(csrf))
            input type="hidden" name="back" value=(f.href(None, &[]));
            div.bulk-bar #bulk-bar {
                span #bulk-count { "With the selected alerts:" }
                div.bulk-actions {
                    button.btn.btn-sm type="submit" name="state" value="handled" { (PreEscaped(icons::CHECK)) span { "Mark handled" } }
                    button.btn.btn-sm type="submit" name="state" value="ignored" { span { "Ignore" } }
                    @if f.state != "unhandled" {
                        button.btn.btn-sm.btn-ghost type="submit" name="state" value="unhandled" { span { "Reopen" } }
                    }
                }
            }
            label.select-all-mobile { input type="checkbox" data-select-all; span { "Select all on this page" } }
            div.table-wrap {
                table.table.alerts-table {
                    thead {
                        tr {
                            th.col-check scope="col" { input type="checkbox" data-select-all aria-label="Select all alerts on this page"; }
                            th scope="col" { "Severity" }
                            th scope="col" { "Alert" }
                            th scope="col" { "Host" }
                            th scope="col" { "ATT&CK" }
                            th scope="col" { "Last activity" }
                            th scope="col" { "State" }
                        }
                    }
                    tbody {
                        @for al in items {
                            @let hostname = hostnames.get(&al.asset_id).cloned().flatten();
                            tr data-alert-id=(al.id) {
                                td.col-check data-label="Select" {
                                    input type="checkbox" name="id" value=(al.id) aria-label={ "Select alert " (al.id) };
                                }
                                td data-label="Severity" { (severity_badge(al.severity)) }
                                td.alert-cell data-label="Alert" {
                                    div {
                                        a.alert-title href={ (PATH) "/" (al.id) } { (al.rule_title) }
                                        div.alert-sub.muted { (rule_line(al)) }
                                        (group_chips(al))
                                    }
                                }
                                td data-label="Host" {
                                    a href={ "/console/assets/" (encode_component(&al.asset_id)) } {
                                        (hostname.as_deref().unwrap_or(al.asset_id.as_str()))
                                    }
                                }
                                td data-label="ATT&CK" { (technique(al.technique.as_deref())) }
                                td data-label="Last activity" {
                                    div {
                                        (components::time_ago(al.last_ms, now))
                                        div.muted.small { (fmt::plural(al.evidence.len() as u64, "event", "events"))
                                            @if al.repeats > 0 { " · raised " (al.repeats + 1) "×" } }
                                    }
                                }
                                td data-label="State" { (state_badge(al.state)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A `back` value is used only when it is a console alerts page.
pub fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(b)
            if (b == PATH
                || b.starts_with("/console/alerts?")
                || b.starts_with("/console/alerts/"))
                && !b.contains("//")
                && !b.contains('\\') =>
        {
            b.to_string()
        }
        _ => PATH.to_string(),
    }
}

/// Appends `msg=…` to a console URL.
pub fn with_msg(url: &str, msg: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}msg={msg}")
}

/// `POST /console/alerts/state`: sets the state of the selected alerts.
pub async fn set_state(
    State(host): State<Arc<dyn ConsoleHost>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let back = safe_back(get("back"));
    let state = match get("state").and_then(AlertState::parse) {
        Some(s @ (AlertState::Handled | AlertState::Ignored | AlertState::Unhandled)) => s,
        _ => {
            return Err(PageError::BadRequest(
                "Choose handled, ignored or unhandled.".into(),
            ))
        }
    };
    let mut ids: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Redirect::to(&with_msg(&back, "none")).into_response());
    }
    if ids.len() > MAX_SELECTED {
        return Err(PageError::BadRequest(format!(
            "At most {MAX_SELECTED} alerts can be changed at once."
        )));
    }
    for id in ids {
        match host.set_alert_state(id, state).await {
            Ok(()) | Err(ActionError::NotFound(_)) => {}
            Err(ActionError::Invalid(m)) | Err(ActionError::Conflict(m)) => {
                return Err(PageError::BadRequest(m))
            }
            Err(ActionError::Internal) => return Err(PageError::Internal),
        }
    }
    Ok(Redirect::to(&with_msg(&back, "done")).into_response())
}

/// Newest alerts of one asset, for the asset page.
pub async fn latest_of_asset(
    host: &dyn ConsoleHost,
    asset_id: &str,
    n: u32,
) -> Result<Vec<AlertRecord>, PageError> {
    let q = AlertQuery {
        asset_id: Some(asset_id.to_string()),
        limit: n,
        ..Default::default()
    };
    Ok(host
        .store()
        .list_alerts(&q)
        .await
        .map_err(|e| PageError::store("listing alerts", e))?
        .items)
}

/// Unhandled alerts of one asset per severity (counted over at most
/// `cap` of them).
pub async fn unhandled_of_asset(
    host: &dyn ConsoleHost,
    asset_id: &str,
    cap: u32,
) -> Result<(Vec<(AlertSeverity, u64)>, bool), PageError> {
    let q = AlertQuery {
        asset_id: Some(asset_id.to_string()),
        state: Some(AlertState::Unhandled),
        limit: cap,
        ..Default::default()
    };
    let page = host
        .store()
        .list_alerts(&q)
        .await
        .map_err(|e| PageError::store("listing alerts", e))?;
    let mut out = Vec::new();
    for sev in [
        AlertSeverity::Urgent,
        AlertSeverity::Suspicious,
        AlertSeverity::Reminder,
    ] {
        out.push((
            sev,
            page.items.iter().filter(|a| a.severity == sev).count() as u64,
        ));
    }
    Ok((out, page.next_cursor.is_some()))
}

/// Used by the asset search of the host filter.
pub fn asset_search(text: &str) -> AssetQuery {
    AssetQuery {
        search: Some(text.to_string()),
        limit: 20,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_links_stay_on_alert_pages() {
        assert_eq!(
            safe_back(Some("/console/alerts?state=all")),
            "/console/alerts?state=all"
        );
        assert_eq!(safe_back(Some("/console/alerts/12")), "/console/alerts/12");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/console/assets",
            "/console/alerts//x",
            "/console/alerts\\x",
        ] {
            assert_eq!(safe_back(Some(bad)), PATH, "{bad}");
        }
        assert_eq!(safe_back(None), PATH);
        assert_eq!(
            with_msg("/console/alerts", "done"),
            "/console/alerts?msg=done"
        );
        assert_eq!(
            with_msg("/console/alerts?state=all", "done"),
            "/console/alerts?state=all&msg=done"
        );
    }
}
