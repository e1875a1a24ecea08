//! Settings → Agent updates: the published releases, the release key
//! agents trust, and the rollout controls (pin a version, a percentage of
//! the fleet, groups first). Saved through the same path as
//! `PUT /api/v1/settings/rollout`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;
use ward_store::Release;

use crate::host::{ConsoleHost, Rollout, RolloutSaveError};
use crate::http::{Authed, PageError};
use crate::view::fmt::now_ms;
use crate::view::{self, components, fmt, Frame, Nav};

pub const PATH: &str = "/console/settings/updates";

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub msg: Option<String>,
}

/// The rollout form as sent (text, so bad input is a message).
#[derive(Debug, Default, Deserialize)]
pub struct RolloutForm {
    #[serde(default)]
    pub pinned_version: String,
    #[serde(default)]
    pub percentage: String,
    #[serde(default)]
    pub groups: String,
}

/// Parses the form: an empty pin is no pin; groups are comma-separated.
pub fn parse_form(f: &RolloutForm) -> Result<Rollout, String> {
    let pct = f.percentage.trim();
    let percentage = pct
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| {
            format!(
                "The percentage must be a whole number from 0 to 100, got \u{201c}{pct}\u{201d}."
            )
        })?;
    let pin = f.pinned_version.trim();
    let r = Rollout {
        pinned_version: (!pin.is_empty()).then(|| pin.to_string()),
        percentage,
        groups: f
            .groups
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let problems = r.problems();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(r)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn releases_card(releases: &[Release], now: i64) -> Markup {
    html! {
        section.card aria-labelledby="rel-title" {
            div.card-head { h2 #rel-title { "Published releases" } span.muted { "newest last" } }
            @if releases.is_empty() {
                p.muted { "No release is published. Agents keep the version they were installed with." }
            } @else {
                div.table-wrap {
                    table.table.releases-table {
                        thead { tr { th { "Version" } th { "Platform" } th { "ward-agent" } th { "ward-update" } th { "Published" } th { "Notes" } } }
                        tbody {
                            @for r in releases {
                                tr data-release=(r.version) {
                                    td.mono { (r.version) }
                                    td.mono { (r.platform) }
                                    td { span.mono title=(r.agent.sha256) { (short(&r.agent.sha256)) } " · " (fmt::bytes(r.agent.size)) }
                                    td { @match &r.update {
                                        Some(u) => { span.mono title=(u.sha256) { (short(&u.sha256)) } " · " (fmt::bytes(u.size)) },
                                        None => span.muted { "kept" },
                                    } }
                                    td { (components::time_ago(r.added_at, now)) }
                                    td { (r.notes.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
            p.muted.small { "Publish with " code { "ward-server release add --version V --platform P --agent FILE [--updater FILE]" } ". Releases are signed into the release metadata at once and are never replaced." }
        }
    }
}

fn render(
    csrf: &str,
    rollout: &Rollout,
    releases: &[Release],
    key: Option<&str>,
    flash: Option<Markup>,
    values: Option<&RolloutForm>,
) -> Markup {
    let now = now_ms();
    let pin = values.map_or(rollout.pinned_version.clone().unwrap_or_default(), |v| {
        v.pinned_version.clone()
    });
    let pct = values.map_or(rollout.percentage.to_string(), |v| v.percentage.clone());
    let groups = values.map_or(rollout.groups.join(", "), |v| v.groups.clone());
    let header = view::page_header(
        "Agent updates",
        Some(
            html! { "Signed agent releases and how they roll out. Updaters check every hour and on command; a release whose agent does not come online is rolled back on that host." },
        ),
        None,
    );
    let content = html! {
        @if let Some(f) = flash { (f) }
        div.grid-2 {
            section.card aria-labelledby="rollout-title" {
                div.card-head { h2 #rollout-title { "Rollout" } }
                form.policy-form method="post" action=(PATH) {
                    (components::csrf_field(csrf))
                    label.field {
                        span.field-label { "Pinned version" }
                        input #pinned_version type="text" name="pinned_version" value=(pin) placeholder="none: the newest release" autocomplete="off";
                        span.field-help { "Agents are brought up to this version at most. Agents above it are never downgraded." }
                    }
                    label.field {
                        span.field-label { "Share of the fleet" }
                        span.input-unit { input #percentage type="number" name="percentage" min="0" max="100" required value=(pct) inputmode="numeric"; span { "%" } }
                        span.field-help { "Gets the newest release; the others are offered the release before it. Raising it only adds servers." }
                    }
                    label.field {
                        span.field-label { "Groups first" }
                        input #groups type="text" name="groups" value=(groups) placeholder="canary, staging" autocomplete="off";
                        span.field-help { "Servers in these groups get the newest release whatever the share." }
                    }
                    div.form-actions { button.btn.btn-primary type="submit" { "Save rollout" } }
                }
            }
            section.card aria-labelledby="trust-title" {
                div.card-head { h2 #trust-title { "Release signing" } }
                dl.facts {
                    div.fact { dt { "Release key" } dd { @match key {
                        Some(k) => span.mono.break-all { (k) },
                        None => span.muted { "—" },
                    } } }
                    div.fact { dt { "In force" } dd {
                        @match &rollout.pinned_version { Some(v) => { "pinned at " span.mono { (v) } ", " }, None => {} }
                        (rollout.percentage) " % of the fleet"
                        @if !rollout.groups.is_empty() { ", groups first: " (rollout.groups.join(", ")) }
                    } }
                }
                p.muted.small { "Agents receive the public release key at enrollment and refuse release metadata it did not sign, metadata older than what they trust or past its expiry, releases older than what they run, and files whose SHA-256 differs. The private key never leaves the server's data directory." }
            }
        }
        (releases_card(releases, now))
    };
    let frame = Frame {
        title: "Agent updates",
        nav: Nav::Updates,
        csrf,
    };
    view::page(&frame, header, content)
}

/// The rollout in force and the published releases.
async fn load(host: &dyn ConsoleHost) -> Result<(Rollout, Vec<Release>), PageError> {
    let rollout = host
        .rollout()
        .await
        .map_err(|e| PageError::store("reading the rollout", e))?;
    let releases = host
        .store()
        .list_releases()
        .await
        .map_err(|e| PageError::store("listing releases", e))?;
    Ok((rollout, releases))
}

/// `GET /console/settings/updates`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Query(q): Query<Params>,
) -> Result<Html<String>, PageError> {
    let (rollout, releases) = load(&*host).await?;
    let flash = (q.msg.as_deref() == Some("saved")).then(|| {
        components::flash(
            "ok",
            html! { "Rollout saved. Updaters follow it at their next check." },
        )
    });
    Ok(Html(
        render(
            &a.csrf,
            &rollout,
            &releases,
            host.release_key().as_deref(),
            flash,
            None,
        )
        .into_string(),
    ))
}

/// `POST /console/settings/updates`.
pub async fn save(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
    Form(f): Form<RolloutForm>,
) -> Result<Response, PageError> {
    let (rollout, releases) = load(&*host).await?;
    let invalid = |msg: String| {
        let flash = components::flash("crit", html! { (msg) " Nothing was changed." });
        let body = render(
            &a.csrf,
            &rollout,
            &releases,
            host.release_key().as_deref(),
            Some(flash),
            Some(&f),
        );
        (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response()
    };
    let new = match parse_form(&f) {
        Ok(r) => r,
        Err(msg) => return Ok(invalid(msg)),
    };
    match host.save_rollout(new).await {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?msg=saved")).into_response()),
        Err(RolloutSaveError::Invalid(msg)) => Ok(invalid(msg)),
        Err(RolloutSaveError::Internal) => Err(PageError::Internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pin: &str, pct: &str, groups: &str) -> RolloutForm {
        RolloutForm {
            pinned_version: pin.into(),
            percentage: pct.into(),
            groups: groups.into(),
        }
    }

    #[test]
    fn form_values_become_rollout_controls() {
        let r = parse_form(&form(" 0.2.0 ", "25", "canary, , staging ")).unwrap();
        assert_eq!(r.pinned_version.as_deref(), Some("0.2.0"));
        assert_eq!(r.percentage, 25);
        assert_eq!(r.groups, vec!["canary".to_string(), "staging".to_string()]);
        let r = parse_form(&form("", "100", "")).unwrap();
        assert_eq!(r, Rollout::default());
        assert!(parse_form(&form("", "101", ""))
            .unwrap_err()
            .contains("0 to 100"));
        assert!(parse_form(&form("", "ten", "")).is_err());
        assert!(parse_form(&form("latest", "10", ""))
            .unwrap_err()
            .contains("pinned_version"));
    }
}
