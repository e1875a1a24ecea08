//! Plain-text formatting shared by every page (and mirrored by `app.js` for
//! live updates): relative times, counts, sizes, durations, status labels.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ward_store::{Status, StatusReason};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// RFC 3339 with seconds, for `<time datetime>`.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(system_time(ms)).to_string()
}

/// `2024-05-01 12:00:03 UTC`, for tooltips and tables.
pub fn absolute(ms: i64) -> String {
    let s = rfc3339(ms);
    // "2024-05-01T12:00:03Z" -> "2024-05-01 12:00:03 UTC"
    format!("{} UTC", s.trim_end_matches('Z').replacen('T', " ", 1))
}

/// "just now", "12 s ago", "3 min ago", "5 h ago", "2 d ago".
/// `app.js` has the same rules (`relative()`).
pub fn relative(then_ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - then_ms) / 1000;
    match secs {
        s if s < 5 => "just now".to_string(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// "in 40 s", "in 12 min", "in 23 h", "in 6 d"; "now" when it has passed.
pub fn until(then_ms: i64, now_ms: i64) -> String {
    let secs = (then_ms - now_ms) / 1000;
    match secs {
        s if s <= 0 => "now".to_string(),
        s if s < 60 => format!("in {s} s"),
        s if s < 3600 => format!("in {} min", s / 60),
        s if s < 86_400 => format!("in {} h", s / 3600),
        s => format!("in {} d", s / 86_400),
    }
}

/// A count with thousands separators: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let head_len = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let (head, tail) = digits.split_at(head_len);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    out.push_str(head);
    for group in tail.as_bytes().chunks(3) {
        out.push(',');
        // Digits are ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

/// `1 server`, `2 servers` (with thousands separators).
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// Bytes in binary units with one decimal: `12.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A duration in the two largest units: `3 d 4 h`, `5 min 2 s`, `40 s`.
pub fn duration_secs(secs: u64) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
        if !parts.is_empty() && rest == 0 {
            break;
        }
    }
    if parts.is_empty() {
        "0 s".to_string()
    } else {
        parts.join(" ")
    }
}

/// How a status looks: CSS tone, main label, reason label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLook {
    /// `ok`, `crit`, `warn`, `muted` or `info` (CSS class suffix).
    pub tone: &'static str,
    pub label: &'static str,
    pub reason: Option<&'static str>,
}

pub fn status_look(status: Status, reason: Option<StatusReason>) -> StatusLook {
    match (status, reason) {
        (Status::Protected, _) => StatusLook {
            tone: "ok",
            label: "Protected",
            reason: None,
        },
        (Status::Updating, _) => StatusLook {
            tone: "info",
            label: "Updating",
            reason: None,
        },
        (Status::Unprotected, r) => StatusLook {
            tone: match r {
                Some(StatusReason::NeverConnected) => "warn",
                Some(StatusReason::Uninstalled) => "muted",
                _ => "crit",
            },
            label: "Unprotected",
            reason: r.map(reason_label),
        },
    }
}

pub fn reason_label(r: StatusReason) -> &'static str {
    match r {
        StatusReason::Offline => "Offline",
        StatusReason::NeverConnected => "Never connected",
        StatusReason::Uninstalled => "Uninstalled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_pick_the_largest_unit() {
        let now = 1_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now + 60_000, now), "just now", "future clamps");
        assert_eq!(relative(now - 4_999, now), "just now");
        assert_eq!(relative(now - 5_000, now), "5 s ago");
        assert_eq!(relative(now - 59_999, now), "59 s ago");
        assert_eq!(relative(now - 60_000, now), "1 min ago");
        assert_eq!(relative(now - 3_599_000, now), "59 min ago");
        assert_eq!(relative(now - 7_200_000, now), "2 h ago");
        assert_eq!(relative(now - 3 * 86_400_000, now), "3 d ago");
    }

    #[test]
    fn absolute_and_rfc3339_of_a_known_instant() {
        // 1_700_000_000 s after the epoch is 2023-11-14T22:13:20Z.
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(absolute(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn counts_bytes_and_durations() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(plural(1, "server", "servers"), "1 server");
        assert_eq!(plural(1200, "server", "servers"), "1,200 servers");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12 << 20), "12.0 MiB");
        assert_eq!(duration_secs(0), "0 s");
        assert_eq!(duration_secs(40), "40 s");
        assert_eq!(duration_secs(302), "5 min 2 s");
        assert_eq!(duration_secs(3600), "1 h");
        assert_eq!(duration_secs(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
        assert_eq!(duration_secs(18_000), "5 h");
    }

    #[test]
    fn status_looks() {
        let l = status_look(Status::Unprotected, Some(StatusReason::Offline));
        assert_eq!(
            (l.tone, l.label, l.reason),
            ("crit", "Unprotected", Some("Offline"))
        );
        let l = status_look(Status::Protected, None);
        assert_eq!((l.tone, l.label, l.reason), ("ok", "Protected", None));
        let l = status_look(Status::Unprotected, Some(StatusReason::NeverConnected));
        assert_eq!(l.tone, "warn");
    }
}
