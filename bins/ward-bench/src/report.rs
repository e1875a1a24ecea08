//! The result of a run: a serializable [`Report`] and its text summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::monitor::Window;
use crate::stats::HistSnapshot;

/// p50/p90/p99/max of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Latency {
    pub fn of(h: &HistSnapshot) -> Latency {
        Latency {
            samples: h.count(),
            p50_ms: h.percentile_ms(50.0),
            p90_ms: h.percentile_ms(90.0),
            p99_ms: h.percentile_ms(99.0),
            max_ms: h.percentile_ms(100.0),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EnrollReport {
    /// Agents taken from the credentials file.
    pub reused: usize,
    /// Agents enrolled in this run.
    pub enrolled: usize,
    pub secs: f64,
    pub per_s: f64,
    pub latency: Latency,
    pub resources: Window,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RampReport {
    /// Agents that reached Welcome at least once.
    pub agents_up: u64,
    /// Seconds from the first connect to the last first Welcome.
    pub secs_to_all_up: Option<f64>,
    /// Sessions opened per second over that time.
    pub opens_per_s: Option<f64>,
    /// Connect + TLS + upgrade + Hello/Welcome of each session.
    pub open_latency: Latency,
    /// Seconds until `/metrics` counted every agent protected.
    pub secs_to_all_protected_metrics: Option<f64>,
    /// Seconds until `GET /api/v1/assets?status=protected` listed every agent.
    pub secs_to_all_protected_api: Option<f64>,
    pub resources: Window,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HoldReport {
    pub secs: f64,
    pub keepalives_sent: u64,
    pub acks: u64,
    pub acks_per_s: f64,
    pub ack_latency: Latency,
    /// Keepalives sent while the previous one was still unanswered.
    pub acks_overdue: u64,
    pub acks_unmatched: u64,
    /// Sessions that failed during the hold.
    pub sessions_lost: u64,
    pub resources: Window,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub count: usize,
    pub server: String,
    pub server_pid: Option<u32>,
    pub source_addresses: usize,
    /// Keepalive interval the agents used (seconds).
    pub keepalive_secs: Option<f64>,
    pub threads: usize,
    pub tls_resumption: bool,
    pub nofile_limit: u64,
    /// Only enrollment ran (`--enroll-only`).
    pub enroll_only: bool,
    pub enroll: EnrollReport,
    pub server_rss_mib_before: Option<f64>,
    pub ramp: RampReport,
    pub hold: HoldReport,
    /// Server RSS growth per session over the idle baseline, in KiB.
    pub server_kib_per_session: Option<f64>,
    pub bench_kib_per_session: Option<f64>,
    /// Protected assets the REST API lists at the end (with `--token`).
    pub protected_api_end: Option<u64>,
    /// Protected assets `/metrics` counts at the end.
    pub protected_metrics_end: Option<u64>,
    /// Every agent was live and protected at the end of the hold.
    pub held: bool,
    pub errors_total: BTreeMap<String, u64>,
}

fn opt(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0}{unit}"),
        Some(x) => format!("{x:.1}{unit}"),
        None => "-".into(),
    }
}

fn lat(l: &Latency) -> String {
    format!(
        "p50 {} p90 {} p99 {} max {} ({} samples)",
        opt(l.p50_ms, " ms"),
        opt(l.p90_ms, " ms"),
        opt(l.p99_ms, " ms"),
        opt(l.max_ms, " ms"),
        l.samples
    )
}

fn errors(out: &mut String, e: &BTreeMap<String, u64>) {
    if e.is_empty() {
        let _ = writeln!(out, "    errors: none");
        return;
    }
    for (k, v) in e {
        let _ = writeln!(out, "    error {v:>8} × {k}");
    }
}

fn resources(out: &mut String, w: &Window) {
    let _ = writeln!(
        out,
        "  server: cpu {} of one core, rss end {} peak {}, threads {}",
        opt(w.server_cpu_pct, " %"),
        opt(w.server_rss_mib_end, " MiB"),
        opt(w.server_rss_mib_peak, " MiB"),
        w.server_threads.map_or("-".into(), |t| t.to_string())
    );
    let _ = writeln!(
        out,
        "  bench:  cpu {} rss {} | machine busy {} of 2 cores, min MemAvailable {}",
        opt(w.bench_cpu_pct, " %"),
        opt(w.bench_rss_mib_end, " MiB"),
        opt(w.machine_busy_pct, " %"),
        opt(w.mem_available_mib_min, " MiB")
    );
}

/// The human-readable summary.
pub fn text(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "ward-bench agents: {} agents against {} ({} source addresses, keepalive {} s, {} threads, TLS resumption {})",
        r.count,
        r.server,
        r.source_addresses,
        opt(r.keepalive_secs, ""),
        r.threads,
        if r.tls_resumption { "on" } else { "off" }
    );
    let e = &r.enroll;
    let _ = writeln!(
        o,
        "enroll: {} new in {:.1} s ({:.0}/s), {} reused; latency {}",
        e.enrolled,
        e.secs,
        e.per_s,
        e.reused,
        lat(&e.latency)
    );
    if e.enrolled > 0 {
        resources(&mut o, &e.resources);
    }
    errors(&mut o, &e.errors);
    if r.enroll_only {
        return o;
    }
    let rp = &r.ramp;
    let _ = writeln!(
        o,
        "ramp: {}/{} agents up in {} ({} sessions/s); open latency {}",
        rp.agents_up,
        r.count,
        opt(rp.secs_to_all_up, " s"),
        opt(rp.opens_per_s, ""),
        lat(&rp.open_latency)
    );
    let _ = writeln!(
        o,
        "  all protected after {} (/metrics), {} (REST API)",
        opt(rp.secs_to_all_protected_metrics, " s"),
        opt(rp.secs_to_all_protected_api, " s")
    );
    resources(&mut o, &rp.resources);
    errors(&mut o, &rp.errors);
    let h = &r.hold;
    let _ = writeln!(
        o,
        "hold: {:.0} s, live min {} end {}; keepalives sent {} acked {} ({:.0}/s; server counted {}/s)",
        h.secs,
        h.resources.live_min.map_or("-".into(), |v| v.to_string()),
        h.resources.live_end.map_or("-".into(), |v| v.to_string()),
        h.keepalives_sent,
        h.acks,
        h.acks_per_s,
        opt(h.resources.server_keepalives_per_s, "")
    );
    let _ = writeln!(
        o,
        "  ack latency {}; overdue {} unmatched {}; sessions lost {}",
        lat(&h.ack_latency),
        h.acks_overdue,
        h.acks_unmatched,
        h.sessions_lost
    );
    resources(&mut o, &h.resources);
    errors(&mut o, &h.errors);
    let _ = writeln!(
        o,
        "memory per session: server {} KiB, bench {} KiB (server rss before {})",
        opt(r.server_kib_per_session, ""),
        opt(r.bench_kib_per_session, ""),
        opt(r.server_rss_mib_before, " MiB")
    );
    let _ = writeln!(
        o,
        "end: protected {} (/metrics), {} (REST API); held all {}: {}",
        r.protected_metrics_end
            .map_or("-".into(), |v| v.to_string()),
        r.protected_api_end.map_or("-".into(), |v| v.to_string()),
        r.count,
        if r.held { "yes" } else { "NO" }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Histogram;

    #[test]
    fn latency_summary_and_text() {
        let h = Histogram::default();
        for ms in 1..=100u64 {
            h.record_us(ms * 1000);
        }
        let l = Latency::of(&h.snapshot());
        assert_eq!(l.samples, 100);
        // Nearest rank of 1..=100 ms: p50 = 50 ms, p99 = 99 ms, within 1/32.
        assert!((l.p50_ms.unwrap() - 50.0).abs() <= 50.0 / 32.0);
        assert!((l.p99_ms.unwrap() - 99.0).abs() <= 99.0 / 32.0);
        let mut r = Report {
            count: 10,
            held: true,
            ..Default::default()
        };
        r.ramp.errors.insert("tls: timed out".into(), 3);
        let t = text(&r);
        assert!(t.contains("held all 10: yes"), "{t}");
        assert!(t.contains("3 × tls: timed out"), "{t}");
        r.enroll_only = true;
        let t = text(&r);
        assert!(
            t.starts_with("ward-bench agents") && !t.contains("ramp:"),
            "{t}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["ramp"]["errors"]["tls: timed out"], 3);
    }
}
