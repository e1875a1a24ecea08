//! Small reusable pieces of markup.

use maud::{html, Markup, PreEscaped};
use ward_store::{Status, StatusReason};

use super::fmt::{self, StatusLook};
use super::icons;
use crate::auth::csrf;

/// The hidden CSRF field every `POST` form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(token); }
}

/// The status badge; `app.js` rewrites `data-badge*` parts on live updates.
pub fn badge(status: Status, reason: Option<StatusReason>) -> Markup {
    badge_look(fmt::status_look(status, reason))
}

pub fn badge_look(l: StatusLook) -> Markup {
    html! {
        span class={ "badge tone-" (l.tone) } data-badge {
            span.dot aria-hidden="true" {}
            span data-badge-label { (l.label) }
            span.badge-reason data-badge-reason {
                @if let Some(r) = l.reason { " · " (r) }
            }
        }
    }
}

/// A `<time>` showing "3 min ago", with the absolute time as tooltip;
/// `app.js` keeps the text current.
pub fn time_ago(ms: i64, now: i64) -> Markup {
    html! {
        time datetime=(fmt::rfc3339(ms)) title=(fmt::absolute(ms)) data-ts=(ms) {
            (fmt::relative(ms, now))
        }
    }
}

/// `time_ago`, or a dash-like word when there is no time.
pub fn maybe_time_ago(ms: Option<i64>, now: i64, none: &str) -> Markup {
    match ms {
        Some(ms) => time_ago(ms, now),
        None => html! { span.muted { (none) } },
    }
}

/// A read-only command under a title bar with a Copy button.
pub fn copy_block(id: &str, text: &str, label: &str, title: Markup) -> Markup {
    html! {
        div.copy-block {
            div.copy-bar {
                div.copy-title { (title) }
                button.btn.btn-sm.copy-btn type="button" data-copy=(id) aria-label={ "Copy " (label) } {
                    (PreEscaped(icons::COPY)) span data-copy-text { "Copy" }
                }
            }
            pre.code id=(id) tabindex="0" aria-label=(label) { code { (text) } }
        }
    }
}

/// A short inline value with a copy button (keys).
pub fn copy_inline(id: &str, text: &str, label: &str) -> Markup {
    html! {
        span.copy-inline {
            code id=(id) { (text) }
            button.btn-icon type="button" data-copy=(id) aria-label={ "Copy " (label) } title="Copy" {
                (PreEscaped(icons::COPY))
            }
        }
    }
}

/// A card explaining an empty list and what to do next.
pub fn empty_state(icon: &str, title: &str, text: Markup, extra: Option<Markup>) -> Markup {
    html! {
        div.empty {
            div.empty-icon { (PreEscaped(icon)) }
            h2 { (title) }
            p { (text) }
            @if let Some(e) = extra { div.empty-extra { (e) } }
        }
    }
}

/// A message at the top of a page.
pub fn flash(tone: &str, text: Markup) -> Markup {
    let icon = if tone == "ok" {
        icons::CHECK
    } else {
        icons::INFO
    };
    html! {
        div class={ "flash flash-" (tone) } role="status" {
            (PreEscaped(icon)) div { (text) }
        }
    }
}

/// The pager under a keyset-paginated list: "Showing 51–100", a link to the
/// first page (after the first) and one to the next when the store gave a
/// `next_cursor`. `href(extra)` is the list's URL with its filters plus the
/// `extra` query parameters.
pub fn pager(
    page_no: u32,
    page_size: u32,
    shown: usize,
    next_cursor: Option<&str>,
    href: impl Fn(&[(&str, String)]) -> String,
    note: &str,
) -> Markup {
    let first = (u64::from(page_no.max(1)) - 1) * u64::from(page_size) + 1;
    let last = first + shown as u64 - 1;
    let next = next_cursor.map(|c| {
        href(&[
            ("cursor", c.to_string()),
            ("page", (page_no + 1).to_string()),
        ])
    });
    html! {
        nav.pager aria-label="Pages" {
            span.muted { "Showing " (fmt::count(first)) "–" (fmt::count(last)) (note) }
            div.pager-links {
                @if page_no > 1 {
                    a.btn.btn-sm href=(href(&[])) { (PreEscaped(icons::CHEVRON_LEFT)) span { "First page" } }
                }
                @if let Some(next) = next {
                    a.btn.btn-sm rel="next" href=(next) {
                        span { "Next page" } (PreEscaped(icons::CHEVRON_RIGHT))
                    }
                }
            }
        }
    }
}

/// The shared confirmation dialog used by forms with `data-confirm`.
pub fn confirm_dialog() -> Markup {
    html! {
        dialog #confirm-dialog.dialog aria-labelledby="confirm-title" {
            form method="dialog" {
                h2 #confirm-title { "Are you sure?" }
                p #confirm-text {}
                div.dialog-actions {
                    button.btn value="cancel" { "Cancel" }
                    button.btn.btn-danger #confirm-ok value="ok" { "Confirm" }
                }
            }
        }
    }
}

/// The bulk-uninstall dialog; `app.js` fills the list from selected rows.
pub fn uninstall_dialog(csrf_token: &str) -> Markup {
    html! {
        dialog #uninstall-dialog.dialog.dialog-wide aria-labelledby="uninstall-title" {
            form method="post" action="/console/assets/uninstall" {
                (csrf_field(csrf_token))
                h2 #uninstall-title { "Uninstall the agent from " span #uninstall-count { "0 servers" } }
                p {
                    "Online servers receive an uninstall command signed by this server: the agent stops, "
                    "removes its services, files and credentials, reports back, and the asset becomes "
                    strong { "Unprotected · Uninstalled" } " at once. "
                    "Offline servers cannot receive it now."
                }
                ul #uninstall-list.uninstall-list {}
                div #uninstall-ids {}
                div.field-row {
                    label.check {
                        input type="checkbox" name="queue" value="1" checked;
                        span { "Queue it for offline servers: they get it when they reconnect" }
                    }
                    label.select {
                        span { "expires after " }
                        select name="expires" {
                            @for (secs, label) in crate::pages::uninstall::EXPIRY_CHOICES {
                                option value=(secs) { (label) }
                            }
                        }
                    }
                }
                p.note {
                    (PreEscaped(icons::INFO))
                    span {
                        "On a server with tamper protection the agent refuses a local stop or uninstall without a token; "
                        "this remote command needs none."
                    }
                }
                div.dialog-actions {
                    button.btn type="button" data-close-dialog { "Cancel" }
                    button.btn.btn-danger type="submit" { (PreEscaped(icons::TRASH)) span { "Uninstall" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_text_reads_as_one_phrase() {
        let html = badge(Status::Unprotected, Some(StatusReason::Offline)).into_string();
        assert!(html.contains("tone-crit"));
        assert!(html.contains(">Unprotected<"));
        assert!(html.contains(" · Offline"));
        let html = badge(Status::Protected, None).into_string();
        assert!(html.contains("tone-ok") && html.contains(">Protected<"));
    }

    #[test]
    fn copy_block_escapes_the_command() {
        let cmd = r#"sh -c "$(curl 'https://x/install.sh')" --key '<k>'"#;
        let html = copy_block("cmd-1", cmd, "install command", html! { "Linux" }).into_string();
        assert!(html.contains("&lt;k&gt;"));
        assert!(html.contains("&quot;") || html.contains("\"$(curl"));
        assert!(!html.contains("<k>"));
    }
}
