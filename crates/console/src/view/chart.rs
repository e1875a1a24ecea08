//! Server-rendered SVG charts (no JavaScript, no inline styles: sizes are
//! SVG attributes so the strict Content-Security-Policy holds).

use maud::{html, Markup};

use super::fmt;

/// One segment of a stacked bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// CSS tone (`ok`, `crit`, …): the `fill-<tone>` class colours it.
    pub tone: &'static str,
    pub label: String,
    pub count: u64,
}

/// Percentages (0–100, three decimals) of each count in `counts`, in order;
/// all zero when the total is zero.
pub fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                (c as f64 * 100_000.0 / total as f64).round() / 1000.0
            }
        })
        .collect()
}

/// A full-width horizontal bar split into segments.
pub fn stacked_bar(segments: &[Segment], label: &str) -> Markup {
    let counts: Vec<u64> = segments.iter().map(|s| s.count).collect();
    // (segment, x, width) of each drawn segment.
    let mut drawn = Vec::new();
    let mut x = 0.0;
    for (s, w) in segments.iter().zip(shares(&counts)) {
        if w > 0.0 {
            drawn.push((s, x, w));
        }
        x += w;
    }
    html! {
        svg.stacked-bar viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label=(label) {
            rect.fill-track x="0" y="0" width="100" height="10" {}
            @for (s, x, w) in drawn {
                rect class={ "fill-" (s.tone) } x=(format!("{x:.3}")) y="0" width=(format!("{w:.3}")) height="10" {
                    title { (s.label) ": " (fmt::count(s.count)) }
                }
            }
        }
    }
}

/// A small single bar for table rows: `value` out of `max`.
pub fn meter(value: u64, max: u64) -> Markup {
    let w = if max == 0 {
        0.0
    } else {
        value as f64 * 100.0 / max as f64
    };
    html! {
        svg.meter viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true" {
            rect.fill-track x="0" y="0" width="100" height="6" rx="3" {}
            rect.fill-accent x="0" y="0" width=(format!("{w:.3}")) height="6" rx="3" {}
        }
    }
}

/// Alerts of one day by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityDay {
    /// Start of the day (Unix ms, UTC midnight).
    pub day_start_ms: i64,
    pub urgent: u64,
    pub suspicious: u64,
    pub reminder: u64,
}

impl SeverityDay {
    pub fn total(&self) -> u64 {
        self.urgent + self.suspicious + self.reminder
    }
}

/// A stacked column chart of alerts per day and severity.
pub fn alerts_over_time(days: &[SeverityDay]) -> Markup {
    const W: f64 = 700.0;
    const H: f64 = 180.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 24.0;
    let max = days
        .iter()
        .map(SeverityDay::total)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_h = H - TOP - BOTTOM;
    let slot = if days.is_empty() {
        W
    } else {
        W / days.len() as f64
    };
    let bar_w = (slot * 0.6).max(2.0);
    html! {
        svg.alerts-chart viewBox=(format!("0 0 {W} {H}")) role="img" aria-label="Alerts per day by severity" {
            line.axis x1="0" y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) {}
            text.axis-label x="0" y=(TOP) dy="0.3em" { (fmt::count(max)) }
            @for (i, d) in days.iter().enumerate() {
                @let x = i as f64 * slot + (slot - bar_w) / 2.0;
                @for (tone, n, name, y, h) in column(d, H - BOTTOM, plot_h, max) {
                    rect class={ "fill-" (tone) } x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{bar_w:.1}")) height=(format!("{h:.1}")) {
                        title { (fmt::count(n)) " " (name) " on " (day_label(d.day_start_ms)) }
                    }
                }
                @if days.len() <= 14 || i % 2 == 0 {
                    text.axis-label x=(format!("{:.1}", x + bar_w / 2.0)) y=(H - 6.0) text-anchor="middle" { (day_label(d.day_start_ms)) }
                }
            }
        }
    }
}

/// The stacked boxes of one day, bottom up: (tone, count, name, top y, height).
fn column(
    d: &SeverityDay,
    base: f64,
    plot_h: f64,
    max: u64,
) -> Vec<(&'static str, u64, &'static str, f64, f64)> {
    let mut y = base;
    let mut out = Vec::new();
    for (tone, n, name) in [
        ("crit", d.urgent, "urgent"),
        ("warn", d.suspicious, "suspicious"),
        ("info", d.reminder, "reminder"),
    ] {
        if n > 0 {
            let h = n as f64 * plot_h / max as f64;
            y -= h;
            out.push((tone, n, name, y, h));
        }
    }
    out
}

/// `05-01` for a day start.
fn day_label(ms: i64) -> String {
    let s = fmt::rfc3339(ms);
    s.get(5..10).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_handle_zero() {
        assert_eq!(shares(&[1, 1, 2]), vec![25.0, 25.0, 50.0]);
        assert_eq!(shares(&[0, 0]), vec![0.0, 0.0]);
        let s = shares(&[1, 2]);
        assert!((s[0] - 33.333).abs() < 1e-9 && (s[1] - 66.667).abs() < 1e-9);
    }

    #[test]
    fn stacked_bar_draws_only_non_empty_segments_in_order() {
        let segs = vec![
            Segment {
                tone: "ok",
                label: "Protected".into(),
                count: 3,
            },
            Segment {
                tone: "warn",
                label: "Never connected".into(),
                count: 0,
            },
            Segment {
                tone: "crit",
                label: "Offline".into(),
                count: 1,
            },
        ];
        let svg = stacked_bar(&segs, "Assets by status").into_string();
        assert!(
            svg.contains(r#"class="fill-ok" x="0.000" y="0" width="75.000""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="fill-crit" x="75.000" y="0" width="25.000""#),
            "{svg}"
        );
        assert!(!svg.contains("fill-warn"));
    }

    #[test]
    fn alert_columns_scale_to_the_busiest_day() {
        let day = 86_400_000;
        let days = [
            SeverityDay {
                day_start_ms: 0,
                urgent: 2,
                suspicious: 0,
                reminder: 2,
            },
            SeverityDay {
                day_start_ms: day,
                urgent: 0,
                suspicious: 0,
                reminder: 0,
            },
        ];
        let svg = alerts_over_time(&days).into_string();
        // Busiest day: 4 alerts fill the 146-unit plot; 2 urgent are half of it.
        assert!(svg.contains(r#"height="73.0""#), "{svg}");
        assert!(svg.contains("01-01") && svg.contains("01-02"));
        assert!(svg.contains("2 urgent on 01-01"));
    }
}
