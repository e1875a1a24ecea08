//! Asset detail: the latest host report, the connection (last error,
//! address, endpoint), agent CPU/RSS, the event spool, the server's newest
//! alerts, updates and guardian events, the status timeline, and the agent
//! lifecycle: commands (pending ones with their expiry, cancellable),
//! tamper protection and uninstall tokens (`POST /console/assets/{id}/token`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_store::{Asset, CommandRecord, CommandState, Status, StatusEvent};

use crate::host::{ConsoleHost, IssuedToken, LiveStatus};
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::alert_look::{group_chips, severity_badge, state_badge};
use crate::view::fmt::{self, now_ms};
use crate::view::{self, components, icons, Frame, Nav};
use ward_store::AlertRecord;

/// Timeline entries shown.
pub const TIMELINE_LEN: u32 = 50;
/// Alerts shown.
pub const ALERTS_LEN: u32 = 10;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

/// `GET /console/assets/{id}`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let flash = match q.msg.as_deref() {
        Some("cancelled") => Some(components::flash(
            "ok",
            html! { "The pending command was cancelled; it will not be delivered." },
        )),
        Some("not-pending") => Some(components::flash(
            "info",
            html! { "That command is no longer pending (it was delivered, expired or cancelled)." },
        )),
        _ => None,
    };
    render(&*host, &a, &id, flash, None).await
}

/// Token lifetimes offered, seconds (the first is the default).
pub const TOKEN_CHOICES: &[(u64, &str)] =
    &[(3_600, "1 hour"), (86_400, "1 day"), (7 * 86_400, "7 days")];

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub expires: String,
}

/// `POST /console/assets/{id}/token`: issues an uninstall token and shows it once.
pub async fn token(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
    Form(f): Form<TokenForm>,
) -> Result<Html<String>, PageError> {
    let secs = f
        .expires
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|s| TOKEN_CHOICES.iter().any(|(c, _)| c == s))
        .ok_or_else(|| PageError::BadRequest("Choose how long the token is valid.".into()))?;
    if host
        .store()
        .get_asset(&id)
        .await
        .map_err(|e| PageError::store("reading an asset", e))?
        .is_none()
    {
        return Err(PageError::NotFound("There is no such server.".into()));
    }
    let t = host
        .issue_uninstall_token(&id, secs)
        .map_err(|e| PageError::internal("issuing an uninstall token", e))?;
    render(&*host, &a, &id, None, Some(t)).await
}

async fn render(
    host: &dyn ConsoleHost,
    a: &Authed,
    id: &str,
    flash: Option<Markup>,
    token: Option<IssuedToken>,
) -> Result<Html<String>, PageError> {
    let id = id.to_string();
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
    let alerts = super::alerts::latest_of_asset(host, &id, ALERTS_LEN).await?;
    let lifecycle = store
        .lifecycle_events(&id, super::lifecycle_card::LIFECYCLE_LEN)
        .await
        .map_err(|e| PageError::store("reading lifecycle events", e))?;
    let commands = host
        .commands_of(&id)
        .await
        .map_err(|e| PageError::store("listing commands", e))?;
    let protected = host.tamper_protection().protects(asset.group.as_deref());

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
        @if let Some(f) = flash { (f) }
        div.grid-2 {
            (host_card(&asset, key_label.as_deref(), now))
            div.stack {
                (connection_card(&asset, &live, online, now))
                (resources_card(&asset, now))
                (spool_card(&asset, now))
            }
        }
        (alerts_card(&asset, &alerts, now))
        (super::lifecycle_card::card(&lifecycle, now))
        div.grid-2 {
            (commands_card(&asset, &commands, &a.csrf, now))
            (protection_card(&asset, protected, token.as_ref(), &a.csrf, now))
        }
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

fn spool_card(a: &Asset, now: i64) -> Markup {
    html! {
        section.card aria-labelledby="spool-title" {
            div.card-head {
                h2 #spool-title { "Event spool" }
                span.muted { "as the agent last reported" }
            }
            @match &a.spool {
                Some(s) => {
                    div.meters {
                        div.kpi { span.kpi-value data-spool="depth" { (fmt::count(s.depth)) } span.kpi-label { "events waiting to be sent" } }
                        div class={ "kpi" @if s.dropped_total > 0 { " kpi-crit" } } {
                            span.kpi-value data-spool="dropped" { (fmt::count(s.dropped_total)) }
                            span.kpi-label { "events lost (spool full or damaged)" }
                        }
                    }
                    @if s.dropped_total > 0 {
                        p.small.crit-text { "The agent's disk spool overflowed or was damaged while the server was unreachable; the lost events are counted here and never sent." }
                    }
                    p.muted { "Reported " (components::time_ago(s.at, now)) }
                }
                None => p.muted { "The agent has not reported its spool yet." },
            }
        }
    }
}

fn alerts_card(a: &Asset, alerts: &[AlertRecord], now: i64) -> Markup {
    let all = format!(
        "/console/alerts?state=all&asset={}",
        encode_component(&a.id)
    );
    html! {
        section.card aria-labelledby="asset-alerts-title" {
            div.card-head {
                h2 #asset-alerts-title { "Alerts" }
                @if !alerts.is_empty() { a href=(all) { "All alerts of this server" } }
            }
            @if alerts.is_empty() {
                p.muted { "No alerts for this server." }
            } @else {
                ul.alert-list {
                    @for al in alerts {
                        li data-alert-id=(al.id) {
                            (severity_badge(al.severity))
                            div.alert-list-main {
                                a.alert-title href={ "/console/alerts/" (al.id) } { (al.rule_title) }
                                (group_chips(al))
                            }
                            span.alert-list-meta { (state_badge(al.state)) " " (components::time_ago(al.last_ms, now)) }
                        }
                    }
                }
            }
        }
    }
}

fn state_tone(s: CommandState) -> &'static str {
    match s {
        CommandState::Pending => "info",
        CommandState::Delivered | CommandState::Done => "ok",
        CommandState::Failed | CommandState::Rejected => "crit",
        CommandState::Expired | CommandState::Cancelled => "muted",
    }
}

fn commands_card(a: &Asset, commands: &[CommandRecord], csrf: &str, now: i64) -> Markup {
    html! {
        section.card #commands aria-labelledby="cmd-title" {
            div.card-head { h2 #cmd-title { "Commands" } span.muted { "signed by this server, newest first" } }
            @if commands.is_empty() {
                p.muted { "No commands were sent to this server." }
            } @else {
                div.table-wrap {
                    table.table.commands-table {
                        thead { tr { th { "Command" } th { "State" } th { "When" } th { "Result" } } }
                        tbody {
                            @for c in commands {
                                tr data-command-id=(c.id) {
                                    td data-label="Command" { span.mono { (c.kind.as_str()) } br; span.muted.small { "by " (c.created_by) } }
                                    td data-label="State" {
                                        span class={ "badge tone-" (state_tone(c.state)) } { (c.state.as_str()) }
                                        @if c.state == CommandState::Pending {
                                            br; span.flag.flag-pending { "expires " (fmt::until(c.expires_at, now)) }
                                        }
                                    }
                                    td data-label="When" {
                                        "issued " (components::time_ago(c.created_at, now))
                                        @if let Some(d) = c.delivered_at { br; span.muted.small { "delivered " (components::time_ago(d, now)) } }
                                    }
                                    td data-label="Result" {
                                        @if let Some(r) = &c.result { span.small { (r) } }
                                        @if c.state == CommandState::Pending {
                                            form method="post" action={ "/console/commands/" (encode_component(&c.id)) "/cancel" } {
                                                (components::csrf_field(csrf))
                                                input type="hidden" name="asset" value=(a.id);
                                                button.btn.btn-sm type="submit" { "Cancel" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn protection_card(
    a: &Asset,
    protected: bool,
    token: Option<&IssuedToken>,
    csrf: &str,
    now: i64,
) -> Markup {
    html! {
        section.card #protection aria-labelledby="prot-title" {
            div.card-head {
                h2 #prot-title { "Tamper protection" }
                @if protected { span.pill.pill-ok { span.dot aria-hidden="true" {} "On" } }
                @else { span.pill { span.dot aria-hidden="true" {} "Off" } }
            }
            p.muted {
                @if protected {
                    "A local " code { "ward-agent stop" } " or " code { "uninstall" } " on this server is refused without an uninstall token, and the attempt raises an urgent alert."
                } @else {
                    "Local stop and uninstall need no token. Turn protection on for its group under "
                    a href="/console/settings/policy#tamper" { "Agent policy" } "."
                }
            }
            @if let Some(t) = token {
                div.callout.callout-muted {
                    (PreEscaped(icons::INFO))
                    div.token-box {
                        strong { "Uninstall token (shown only now)" }
                        p.small { "Valid " (fmt::until(t.expires_at, now)) " (until " (fmt::absolute(t.expires_at)) ") for " (t.actions.join(" and ")) " on this server only; it works offline too." }
                        (components::copy_block("uninstall-token", &t.token, "uninstall token", html! { "Token" }))
                        p.small { "Run " code { "ward-agent uninstall --token TOKEN" } " (or " code { "stop --token TOKEN" } ") as root on " (a.hostname) "." }
                    }
                }
            }
            form.inline-form method="post" action={ "/console/assets/" (encode_component(&a.id)) "/token" } {
                (components::csrf_field(csrf))
                label.select {
                    span { "Valid for " }
                    select name="expires" {
                        @for (secs, label) in TOKEN_CHOICES { option value=(secs) { (label) } }
                    }
                }
                button.btn type="submit" { "Issue uninstall token" }
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
