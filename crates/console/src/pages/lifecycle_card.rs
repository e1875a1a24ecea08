//! The asset page's "Updates and guardian" card: what the agent's updater
//! and guardian reported (updates installed, rolled back, refused, failed;
//! crash loops; resource caps), newest first.

use maud::{html, Markup};
use ward_store::LifecycleEvent;

use crate::view::{components, fmt};

/// Events shown.
pub const LIFECYCLE_LEN: u32 = 20;

/// Label and tone of a lifecycle kind.
pub fn look(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "update_installed" => ("Updated", "ok"),
        "update_rolled_back" => ("Rolled back", "crit"),
        "update_refused" => ("Release refused", "crit"),
        "update_failed" => ("Update failed", "warn"),
        "crash_loop" => ("Crash loop", "crit"),
        "resource_cap" => ("Over resource cap", "warn"),
        _ => ("Lifecycle event", "muted"),
    }
}

pub fn card(events: &[LifecycleEvent], now: i64) -> Markup {
    html! {
        section.card aria-labelledby="lc-title" {
            div.card-head { h2 #lc-title { "Updates and guardian" } span.muted { "newest first" } }
            @if events.is_empty() {
                p.muted { "No updates or guardian events reported." }
            } @else {
                ol.timeline {
                    @for e in events {
                        @let (label, tone) = look(&e.kind);
                        li class={ "tl-item tone-" (tone) } data-lifecycle-kind=(e.kind) {
                            span.tl-dot aria-hidden="true" {}
                            div.tl-body {
                                div.tl-title {
                                    span class={ "badge tone-" (tone) } { span.dot aria-hidden="true" {} (label) }
                                    " " span.mono { (e.program) }
                                    @if let (Some(f), Some(t)) = (&e.from_version, &e.to_version) {
                                        " " span.mono { (f) " → " (t) }
                                    } @else if let Some(t) = &e.to_version {
                                        " " span.mono { (t) }
                                    }
                                    " " (components::time_ago(e.at, now))
                                }
                                div.tl-meta.muted {
                                    (fmt::absolute(e.at))
                                    @if let Some(d) = &e.detail { " · " span.mono { (d) } }
                                }
                                p.tl-text { (e.message) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_escaped_with_their_label() {
        let e = LifecycleEvent {
            seq: 1,
            asset_id: "ag".into(),
            at: 1_700_000_000_000,
            received_at: 1_700_000_000_000,
            kind: "update_rolled_back".into(),
            program: "ward-agent".into(),
            from_version: Some("0.1.0".into()),
            to_version: Some("0.1.1".into()),
            detail: Some("not_online".into()),
            message: "<script>x</script> did not come online".into(),
        };
        let html = card(&[e], 1_700_000_060_000).into_string();
        assert!(html.contains("Rolled back"));
        assert!(html.contains("0.1.0 → 0.1.1"));
        assert!(html.contains("&lt;script&gt;"), "agent text is escaped");
        assert!(!html.contains("<script>"));
        assert!(card(&[], 0).into_string().contains("No updates"));
    }
}
