//! Settings → Install/Uninstall Agent: install commands per platform,
//! verification keys (create, copy, revoke) and the uninstall picker.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use ward_proto::PLATFORMS;
use ward_store::{AssetQuery, VerificationKey};

use super::install_hint::{default_platform, newest_active};
use crate::host::ConsoleHost;
use crate::http::middleware::encode_component;
use crate::http::{Authed, PageError};
use crate::view::fmt::now_ms;
use crate::view::{self, components, icons, Frame, Nav};

pub const PATH: &str = "/console/settings/agents";
/// Longest key label or group name (as the REST API).
pub const MAX_NAME: usize = 100;
/// Servers listed in the uninstall picker.
const PICKER_LEN: u32 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub uq: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub default_group: String,
}

/// Checks a key label or group name: 1–100 printable characters.
pub fn check_name(what: &str, v: &str) -> Result<(), String> {
    if v.trim().is_empty() || v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
        return Err(format!(
            "The {what} must be 1 to {MAX_NAME} printable characters."
        ));
    }
    Ok(())
}

pub fn platform_label(p: &str) -> &str {
    match p {
        "linux-x86_64" => "Linux x86_64",
        "linux-i686" => "Linux i686 (32-bit)",
        "linux-aarch64" => "Linux ARM64 (aarch64)",
        other => other,
    }
}

/// `GET /console/settings/agents`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(p): Query<Params>,
) -> Result<Response, PageError> {
    let flash = match p.msg.as_deref() {
        Some("key_created") => Some(components::flash(
            "ok",
            html! {
                "Key created. Install commands below now use it; copy it or a command to enroll servers."
            },
        )),
        Some("key_revoked") => Some(components::flash(
            "ok",
            html! {
                "Key revoked. It enrolls nothing from now on; servers it already enrolled stay protected."
            },
        )),
        _ => None,
    };
    let body = render(&*host, &a.csrf, &p, flash, None).await?;
    Ok(Html(body.into_string()).into_response())
}

async fn render(
    host: &dyn ConsoleHost,
    csrf: &str,
    p: &Params,
    flash: Option<Markup>,
    form_error: Option<String>,
) -> Result<Markup, PageError> {
    let now = now_ms();
    let mut keys = host
        .store()
        .list_keys()
        .await
        .map_err(|e| PageError::store("listing keys", e))?;
    keys.sort_by(|x, y| y.created_at.cmp(&x.created_at).then(x.id.cmp(&y.id)));
    let chosen = p
        .key
        .as_deref()
        .and_then(|id| keys.iter().find(|k| k.id == id && k.revoked_at.is_none()))
        .or_else(|| newest_active(&keys));
    let search = p.uq.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let picker = host
        .store()
        .list_assets(&AssetQuery {
            search: search.map(str::to_string),
            limit: PICKER_LEN,
            ..Default::default()
        })
        .await
        .map_err(|e| PageError::store("listing assets", e))?;

    let header = view::page_header(
        "Install / Uninstall Agent",
        Some(
            html! { "Protect a server by running one command on it. Everything is downloaded from this Ward server." },
        ),
        None,
    );
    let content = html! {
        @if let Some(f) = flash { (f) }
        (install_card(host, &keys, chosen))
        (keys_card(csrf, &keys, chosen.map(|k| k.id.as_str()), form_error.as_deref(), now))
        (uninstall_card(host, &picker.items, search, picker.next_cursor.is_some()))
        (components::uninstall_dialog(csrf))
    };
    let frame = Frame {
        title: "Install / Uninstall Agent",
        nav: Nav::Agents,
        csrf,
    };
    Ok(view::page(&frame, header, content))
}

fn install_card(
    host: &dyn ConsoleHost,
    keys: &[VerificationKey],
    chosen: Option<&VerificationKey>,
) -> Markup {
    let active: Vec<&VerificationKey> = keys.iter().filter(|k| k.revoked_at.is_none()).collect();
    html! {
        section.card #install aria-labelledby="install-title" {
            div.card-head { h2 #install-title { "Install the agent" } }
            @match chosen {
                None => {
                    (components::empty_state(icons::KEY, "Create a verification key first",
                        html! { "Install commands carry a verification key. Create one below; the commands appear here." }, None))
                }
                Some(k) => {
                    form.inline-form method="get" action=(PATH) {
                        label.field-inline {
                            span { "Verification key" }
                            select name="key" data-autosubmit {
                                @for ak in &active {
                                    option value=(ak.id) selected[ak.id == k.id] { (ak.label) " (" (ak.id) ")" }
                                }
                            }
                        }
                        noscript { button.btn.btn-sm type="submit" { "Use this key" } }
                    }
                    p.muted {
                        "Run as root on the server to protect. It downloads the installer and agent from "
                        span.mono { (host.server_url()) } " over TLS with this server's key pinned, enrolls, and starts the agent. "
                        "Running it again repairs an install; it never creates a second asset. Append "
                        code { "--prefix DIR" } " to install somewhere other than " code { "/usr/local/ward" } "."
                    }
                    div.platforms {
                        @for platform in PLATFORMS {
                            (components::copy_block(
                                &format!("cmd-{platform}"),
                                &host.install_command(&k.secret, platform),
                                &format!("install command for {platform}"),
                                html! {
                                    (platform_label(platform))
                                    @if *platform == default_platform() { " " span.tag.tag-dark { "this server" } }
                                },
                            ))
                        }
                    }
                }
            }
        }
    }
}

fn keys_card(
    csrf: &str,
    keys: &[VerificationKey],
    in_use: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Markup {
    html! {
        section.card #keys aria-labelledby="keys-title" {
            div.card-head { h2 #keys-title { "Verification keys" } }
            p.muted { "A key lets an installer enroll servers. Revoking a key stops new enrollments with it; servers already enrolled are not affected." }
            @if let Some(e) = error { div.flash.flash-crit role="alert" { (PreEscaped(icons::ALERT)) div { (e) } } }
            form.create-key method="post" action="/console/settings/keys" {
                (components::csrf_field(csrf))
                label.field {
                    span.field-label { "Label" }
                    input type="text" name="label" required maxlength=(MAX_NAME) placeholder="e.g. production web servers";
                }
                label.field {
                    span.field-label { "Default group " span.muted { "(optional)" } }
                    input type="text" name="default_group" maxlength=(MAX_NAME) placeholder="e.g. web";
                }
                button.btn.btn-primary type="submit" { (PreEscaped(icons::KEY)) span { "Create key" } }
            }
            @if keys.is_empty() {
                p.muted { "No keys yet." }
            } @else {
                div.table-wrap {
                    table.table.keys-table {
                        thead { tr { th scope="col" { "Label" } th scope="col" { "Key" } th scope="col" { "Default group" } th scope="col" { "Created" } th scope="col" { "State" } th scope="col" { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for k in keys {
                                tr.revoked[k.revoked_at.is_some()] data-key-id=(k.id) {
                                    td data-label="Label" { div.key-label { strong { (k.label) } @if in_use == Some(k.id.as_str()) { " " span.tag { "in commands" } } div.muted.mono.small { (k.id) } } }
                                    td data-label="Key" { (components::copy_inline(&format!("secret-{}", k.id), &k.secret, &format!("key {}", k.label))) }
                                    td data-label="Default group" { @match &k.default_group { Some(g) => span.tag { (g) }, None => span.muted { "—" } } }
                                    td.nowrap data-label="Created" { (components::time_ago(k.created_at, now)) }
                                    td.nowrap data-label="State" {
                                        @match k.revoked_at {
                                            Some(at) => span.pill { "Revoked " (components::time_ago(at, now)) },
                                            None => span.pill.pill-ok { "Active" },
                                        }
                                    }
                                    td.actions {
                                        @if k.revoked_at.is_none() {
                                            form method="post" action={ "/console/settings/keys/" (encode_component(&k.id)) "/revoke" }
                                                data-confirm={ "Revoke the key \u{201c}" (k.label) "\u{201d}? Installers using it will fail from now on; servers it already enrolled stay protected." }
                                                data-confirm-ok="Revoke key" {
                                                (components::csrf_field(csrf))
                                                button.btn.btn-sm.btn-danger-ghost type="submit" { "Revoke" }
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

fn uninstall_card(
    host: &dyn ConsoleHost,
    assets: &[ward_store::Asset],
    search: Option<&str>,
    more: bool,
) -> Markup {
    html! {
        section.card #uninstall aria-labelledby="uninstall-card-title" {
            div.card-head { h2 #uninstall-card-title { "Uninstall the agent" } }
            p.muted {
                "Select servers and choose Uninstall. Online servers get a signed command at once; offline ones are flagged because they cannot receive it now, "
                "and the command can wait for them until it expires. "
                "You can also select servers on the " a href="/console/assets" { "Assets" } " page."
            }
            (components::copy_block(
                "uninstall-cmd",
                &host.uninstall_command(),
                "uninstall command",
                html! { "Or run this as root on the server (append " code { "--prefix DIR" } " for another prefix, " code { "--token TOKEN" } " when tamper protection is on)" },
            ))
            form.filters method="get" action={ (PATH) "#uninstall" } role="search" {
                label.search {
                    span.visually-hidden { "Find servers" }
                    (PreEscaped(icons::SEARCH))
                    input type="search" name="uq" value=[search] placeholder="Find servers by hostname or IP" autocomplete="off";
                }
                button.btn type="submit" { "Find" }
            }
            @if assets.is_empty() {
                p.muted { @if search.is_some() { "No servers match." } @else { "No servers have the agent yet." } }
            } @else {
                div.bulk-bar #bulk-bar hidden {
                    span #bulk-count { "0 selected" }
                    button.btn.btn-danger.btn-sm type="button" data-open-uninstall { (PreEscaped(icons::TRASH)) span { "Uninstall…" } }
                }
                ul.picker {
                    @for a in assets {
                        @let online = host.is_online(&a.id);
                        @let (status, reason) = host.live_status(&a.id).map_or((a.status, a.status_reason), |l| (l.status, l.reason));
                        li data-asset-id=(a.id) {
                            label {
                                input type="checkbox" name="id" value=(a.id) data-hostname=(a.hostname) data-online=(if online { "1" } else { "0" });
                                span.picker-host { (a.hostname) }
                                (components::badge(status, reason))
                                @if !online { span.muted.small { "offline — can't receive it now" } }
                            }
                        }
                    }
                }
                @if more { p.muted.small { "Showing the first " (PICKER_LEN) " servers; search to find others." } }
            }
        }
    }
}

/// `POST /console/settings/keys`.
pub async fn create_key(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<NewKeyForm>,
) -> Result<Response, PageError> {
    let label = f.label.trim();
    let group = Some(f.default_group.trim()).filter(|g| !g.is_empty());
    let problem = check_name("label", label)
        .err()
        .or_else(|| group.and_then(|g| check_name("group name", g).err()));
    if let Some(msg) = problem {
        let body = render(&*host, &a.csrf, &Params::default(), None, Some(msg)).await?;
        return Ok((StatusCode::BAD_REQUEST, Html(body.into_string())).into_response());
    }
    let key = host
        .create_key(label, group.map(str::to_string))
        .await
        .map_err(|e| PageError::store("creating a key", e))?;
    tracing::info!(key = %key.id, "console: verification key created");
    Ok(Redirect::to(&format!(
        "{PATH}?msg=key_created&key={}#keys",
        encode_component(&key.id)
    ))
    .into_response())
}

/// `POST /console/settings/keys/{id}/revoke`.
pub async fn revoke_key(
    State(host): State<Arc<dyn ConsoleHost>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let key = host
        .store()
        .revoke_key(&id, now_ms())
        .await
        .map_err(|e| PageError::store("revoking a key", e))?;
    tracing::info!(key = %key.id, "console: verification key revoked");
    Ok(Redirect::to(&format!("{PATH}?msg=key_revoked#keys")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_the_api() {
        assert!(check_name("label", "web servers").is_ok());
        assert!(check_name("label", "  ").is_err());
        assert!(check_name("label", "tab\there").is_err());
        assert!(check_name("label", &"x".repeat(MAX_NAME)).is_ok());
        assert!(check_name("label", &"x".repeat(MAX_NAME + 1)).is_err());
    }
}
