//! The measured phases of a run: the ramp (every agent opens its session)
//! and the hold (all sessions open, keepalives flowing).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use ward_agent_core::http::Endpoint;

use crate::cli::AgentsArgs;
use crate::enroll::CredFile;
use crate::iprange::source_for;
use crate::monitor::Monitor;
use crate::report::{HoldReport, Latency, RampReport};
use crate::server_api;
use crate::session::{run_agent, Agent, Shared};
use crate::stats::{rate, Stats};

/// What both phases use.
pub struct Run<'a> {
    pub args: &'a AgentsArgs,
    pub shared: Arc<Shared>,
    pub mon: Arc<Monitor>,
    pub sources: &'a [IpAddr],
    pub creds: &'a CredFile,
    pub stop: watch::Receiver<bool>,
}

/// The ramp's figures, its start, and the API watcher (still running when
/// the API had not listed every agent yet).
pub struct RampOutcome {
    pub report: RampReport,
    pub start: Instant,
    pub api_watch: Option<JoinHandle<Option<f64>>>,
}

/// Starts one task per agent and waits until every agent reached `Welcome`
/// (or gave up, or `--ramp-timeout` passed).
pub async fn ramp(r: &Run<'_>, api_target: u64) -> RampOutcome {
    let a = r.args;
    let sh = &r.shared;
    let start = Instant::now();
    let api_watch = a.token.clone().map(|t| {
        tokio::spawn(watch_api(
            sh.ep.clone(),
            sh.tls.clone(),
            t,
            api_target,
            start,
        ))
    });
    let agents = r
        .creds
        .agents
        .iter()
        .enumerate()
        .skip(a.offset)
        .take(a.count);
    for (index, c) in agents {
        let agent = Agent {
            index,
            name: c.fingerprint.clone(),
            credential: c.credential.clone(),
            source: source_for(r.sources, index),
        };
        tokio::spawn(run_agent(sh.clone(), agent, r.stop.clone()));
    }
    let deadline = start + Duration::from_secs(a.ramp_timeout);
    let st = &sh.stats;
    let settled = || {
        st.all_up.get().is_some()
            || Stats::get(&st.agents_up) + Stats::get(&st.gave_up) >= a.count as u64
    };
    while !settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = Instant::now();
    let to_all_up = st
        .all_up
        .get()
        .map(|t| t.duration_since(start).as_secs_f64());
    let report = RampReport {
        agents_up: Stats::get(&st.agents_up),
        secs_to_all_up: to_all_up,
        opens_per_s: to_all_up.map(|s| a.count as f64 / s.max(1e-3)),
        open_latency: Latency::of(&st.open_latency.snapshot()),
        resources: r.mon.window(start, end),
        errors: st.errors.snapshot(),
        ..Default::default()
    };
    eprintln!(
        "ramp done: {} of {} agents up after {:.1} s; holding for {} s",
        report.agents_up,
        a.count,
        end.duration_since(start).as_secs_f64(),
        a.duration
    );
    RampOutcome {
        report,
        start,
        api_watch,
    }
}

/// Holds every session for `--duration` and measures the keepalive traffic.
pub async fn hold(r: &Run<'_>, errors_before: &BTreeMap<String, u64>) -> HoldReport {
    let st = &r.shared.stats;
    let c0 = Counters::read(st);
    let hist0 = st.ack_latency.snapshot();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(r.args.duration)).await;
    let end = Instant::now();
    let c1 = Counters::read(st);
    HoldReport {
        secs: end.duration_since(start).as_secs_f64(),
        keepalives_sent: c1.sent - c0.sent,
        acks: c1.acks - c0.acks,
        acks_per_s: rate(c0.acks, c1.acks, end.duration_since(start)),
        ack_latency: Latency::of(&st.ack_latency.snapshot().since(&hist0)),
        acks_overdue: c1.overdue - c0.overdue,
        acks_unmatched: c1.unmatched - c0.unmatched,
        sessions_lost: c1.lost - c0.lost,
        resources: r.mon.window(start, end),
        errors: diff(&st.errors.snapshot(), errors_before),
    }
}

struct Counters {
    sent: u64,
    acks: u64,
    overdue: u64,
    unmatched: u64,
    lost: u64,
}

impl Counters {
    fn read(st: &Stats) -> Counters {
        Counters {
            sent: Stats::get(&st.keepalives_sent),
            acks: Stats::get(&st.acks),
            overdue: Stats::get(&st.acks_overdue),
            unmatched: Stats::get(&st.acks_unmatched),
            lost: Stats::get(&st.sessions_lost),
        }
    }
}

/// Tallies in `now` that were not in `before`.
pub fn diff(now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    now.iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Polls the REST API until it lists `target` protected assets; returns the
/// seconds since `start`.
async fn watch_api(
    ep: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    token: String,
    target: u64,
    start: Instant,
) -> Option<f64> {
    loop {
        match server_api::count_protected(&ep, tls.clone(), &token).await {
            Ok(n) if n >= target => return Some(start.elapsed().as_secs_f64()),
            Ok(_) => {}
            Err(e) => eprintln!("warning: counting protected assets through the API: {e:#}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_diff_keeps_only_growth() {
        let before: BTreeMap<String, u64> = [("a".to_string(), 2), ("b".to_string(), 5)]
            .into_iter()
            .collect();
        let now: BTreeMap<String, u64> = [
            ("a".to_string(), 2),
            ("b".to_string(), 7),
            ("c".to_string(), 1),
        ]
        .into_iter()
        .collect();
        let d = diff(&now, &before);
        let want: BTreeMap<String, u64> = [("b".to_string(), 2), ("c".to_string(), 1)]
            .into_iter()
            .collect();
        assert_eq!(d, want);
    }
}
