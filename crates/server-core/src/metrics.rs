//! Prometheus counters and the `/metrics` text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// Counters and gauges updated by the gateway and enrollment.
#[derive(Debug, Default)]
pub struct Metrics {
    pub keepalives: AtomicU64,
    pub enrollments: AtomicU64,
    pub frames_rejected: AtomicU64,
    sessions_open: AtomicU64,
}

/// Keeps the open-sessions gauge up while it lives.
pub struct SessionGuard<'a>(&'a Metrics);

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.0.sessions_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one more open session, unless `max` are open already.
    pub fn try_open_session(&self, max: u64) -> Option<SessionGuard<'_>> {
        let mut cur = self.sessions_open.load(Ordering::Relaxed);
        loop {
            if cur >= max {
                return None;
            }
            match self.sessions_open.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(SessionGuard(self)),
                Err(now) => cur = now,
            }
        }
    }

    pub fn sessions_open(&self) -> u64 {
        self.sessions_open.load(Ordering::Relaxed)
    }
}

/// `GET /metrics`.
pub async fn handler(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &st.metrics;
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in lines {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    metric(
        "ward_sessions_live",
        "gauge",
        "Agent sessions currently open.",
        &[(String::new(), m.sessions_open())],
    );
    metric(
        "ward_sessions_identified",
        "gauge",
        "Distinct agent identities with a live session.",
        &[(String::new(), st.registry.len() as u64)],
    );
    let counts: Vec<(String, u64)> = st
        .status_counts()
        .into_iter()
        .map(|(s, r, n)| {
            (
                format!(
                    "{{status=\"{}\",reason=\"{}\"}}",
                    s.as_str(),
                    r.map(|r| r.as_str()).unwrap_or("")
                ),
                n,
            )
        })
        .collect();
    metric(
        "ward_assets",
        "gauge",
        "Assets by status and reason.",
        &counts,
    );
    for (name, help, c) in [
        (
            "ward_keepalives_total",
            "Keepalives received.",
            &m.keepalives,
        ),
        (
            "ward_enrollments_total",
            "Successful enrollments.",
            &m.enrollments,
        ),
        (
            "ward_frames_rejected_total",
            "Agent frames rejected as protocol errors.",
            &m.frames_rejected,
        ),
    ] {
        metric(
            name,
            "counter",
            help,
            &[(String::new(), c.load(Ordering::Relaxed))],
        );
    }
    for (name, help, v) in st.detect.counters() {
        metric(name, "counter", help, &[(String::new(), v)]);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
