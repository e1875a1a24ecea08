//! `ward-bench agents`: enroll, ramp up, hold, measure.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::{watch, Semaphore};
use ward_agent_core::http::Endpoint;

use crate::cli::AgentsArgs;
use crate::enroll::{enroll_missing, CredFile};
use crate::iprange::{check_against_server, parse_source_ips, source_for};
use crate::monitor::{self, Monitor, SamplerParams};
use crate::net::{raise_nofile, resolve, tls_config};
use crate::procstat;
use crate::report::{EnrollReport, HoldReport, Latency, RampReport, Report};
use crate::server_api;
use crate::session::{run_agent, Agent, Shared};
use crate::stats::{rate, Stats};

/// Descriptors kept free for the runtime, metrics polls and enrollment.
const FD_MARGIN: u64 = 512;

pub async fn agents(a: AgentsArgs, threads: usize) -> anyhow::Result<Report> {
    if a.count == 0 {
        bail!("--count must be at least 1");
    }
    let ep = Endpoint::parse(&a.server).map_err(anyhow::Error::msg)?;
    let server_addr = resolve(&ep).await?;
    let sources = parse_source_ips(&a.source_ips).map_err(anyhow::Error::msg)?;
    check_against_server(&sources, server_addr.ip()).map_err(anyhow::Error::msg)?;
    let sessions = if a.enroll_only { 0 } else { a.count as u64 };
    let need = sessions + a.enroll_concurrency as u64 + FD_MARGIN;
    let nofile = raise_nofile(need)?;
    if nofile < need {
        bail!(
            "the open-files limit is {nofile}, {need} are needed for {} agents: \
             run as root or raise `ulimit -Hn`",
            a.count
        );
    }
    let tls = tls_config(&a.pin, a.tls_resume)?;
    let mut report = Report {
        count: a.count,
        server: ep.url.clone(),
        source_addresses: sources.len(),
        threads,
        tls_resumption: a.tls_resume,
        nofile_limit: nofile,
        ..Default::default()
    };

    let mut creds = load_creds(&a)?;
    report.enroll = enroll_phase(&a, &mut creds, &ep, tls.clone()).await?;
    if a.enroll_only {
        return Ok(report);
    }

    let server_pid = a
        .server_pid
        .or_else(|| match procstat::find_server_pids().as_slice() {
            [one] => Some(*one),
            [] => {
                eprintln!(
                    "warning: no running `ward-server serve` found; server RSS/CPU not measured"
                );
                None
            }
            many => {
                eprintln!("warning: several ward-server processes {many:?}; pass --server-pid");
                None
            }
        });
    report.server_pid = server_pid;
    report.server_rss_mib_before = server_pid
        .and_then(procstat::read_process)
        .map(|r| r.rss_bytes as f64 / 1048576.0);
    let bench_rss_before = procstat::read_process(std::process::id()).map(|r| r.rss_bytes);
    let baseline = server_api::metrics(&ep, tls.clone())
        .await
        .context("reading the server's /metrics before the run")?;
    let api_baseline = match &a.token {
        Some(t) => Some(server_api::count_protected(&ep, tls.clone(), t).await?),
        None => None,
    };

    let shared = Arc::new(Shared {
        ep: ep.clone(),
        server: server_addr,
        tls: tls.clone(),
        open_timeout: Duration::from_secs(a.open_timeout.max(1)),
        keepalive_override: a.keepalive_secs.map(|s| Duration::from_secs(s.max(1))),
        open_permits: Semaphore::new(a.concurrency.max(1)),
        reconnect: !a.no_reconnect,
        target: a.count as u64,
        stats: Stats::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mon = Arc::new(Monitor::new());
    let metrics_target = a
        .expect_protected
        .unwrap_or(baseline.protected + a.count as u64);
    mon.protected_target
        .store(metrics_target, Ordering::Relaxed);
    let sampler = tokio::spawn(monitor::run(
        mon.clone(),
        shared.clone(),
        SamplerParams {
            ep: ep.clone(),
            tls: tls.clone(),
            server_pid,
            every: Duration::from_secs(1),
            progress_every: a.progress,
        },
        stop_rx.clone(),
    ));

    // Ramp: one task per agent; the semaphore bounds opens in flight.
    let ramp_start = Instant::now();
    let api_watch = a.token.clone().map(|t| {
        let target = a
            .expect_protected
            .unwrap_or(api_baseline.unwrap_or(0) + a.count as u64);
        tokio::spawn(watch_api(ep.clone(), tls.clone(), t, target, ramp_start))
    });
    for (index, c) in creds.agents.iter().enumerate().skip(a.offset).take(a.count) {
        let agent = Agent {
            index,
            name: c.fingerprint.clone(),
            credential: c.credential.clone(),
            source: source_for(&sources, index),
        };
        tokio::spawn(run_agent(shared.clone(), agent, stop_rx.clone()));
    }
    let ramp_deadline = ramp_start + Duration::from_secs(a.ramp_timeout);
    let settled = |st: &Stats| {
        st.all_up.get().is_some()
            || Stats::get(&st.agents_up) + Stats::get(&st.gave_up) >= a.count as u64
    };
    while !settled(&shared.stats) && Instant::now() < ramp_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ramp_end = Instant::now();
    let st = &shared.stats;
    let errors_ramp = st.errors.snapshot();
    report.ramp = RampReport {
        agents_up: Stats::get(&st.agents_up),
        secs_to_all_up: st
            .all_up
            .get()
            .map(|t| t.duration_since(ramp_start).as_secs_f64()),
        opens_per_s: st
            .all_up
            .get()
            .map(|t| a.count as f64 / t.duration_since(ramp_start).as_secs_f64().max(1e-3)),
        open_latency: Latency::of(&st.open_latency.snapshot()),
        resources: mon.window(ramp_start, ramp_end),
        errors: errors_ramp.clone(),
        ..Default::default()
    };
    eprintln!(
        "ramp done: {} of {} agents up after {:.1} s; holding for {} s",
        report.ramp.agents_up,
        a.count,
        ramp_end.duration_since(ramp_start).as_secs_f64(),
        a.duration
    );

    // Hold: everything open, keepalives flowing.
    let (sent0, acks0, over0, unm0, lost0) = counters(st);
    let hist0 = st.ack_latency.snapshot();
    let hold_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.duration)).await;
    let hold_end = Instant::now();
    let (sent1, acks1, over1, unm1, lost1) = counters(st);
    let hold_secs = hold_end.duration_since(hold_start).as_secs_f64();
    report.hold = HoldReport {
        secs: hold_secs,
        keepalives_sent: sent1 - sent0,
        acks: acks1 - acks0,
        acks_per_s: rate(acks0, acks1, hold_end.duration_since(hold_start)),
        ack_latency: Latency::of(&st.ack_latency.snapshot().since(&hist0)),
        acks_overdue: over1 - over0,
        acks_unmatched: unm1 - unm0,
        sessions_lost: lost1 - lost0,
        resources: mon.window(hold_start, hold_end),
        errors: diff(&st.errors.snapshot(), &errors_ramp),
    };
    report.keepalive_secs = match Stats::get(&st.keepalive_ms) {
        0 => None,
        ms => Some(ms as f64 / 1000.0),
    };

    let end = server_api::metrics(&ep, tls.clone()).await.ok();
    report.protected_metrics_end = end.as_ref().map(|m| m.protected);
    if let Some(t) = &a.token {
        report.protected_api_end = server_api::count_protected(&ep, tls.clone(), t).await.ok();
    }
    report.ramp.secs_to_all_protected_metrics = mon
        .protected_at
        .get()
        .map(|t| t.duration_since(ramp_start).as_secs_f64());
    if let Some(h) = api_watch {
        report.ramp.secs_to_all_protected_api = if h.is_finished() {
            h.await.ok().flatten()
        } else {
            h.abort();
            None
        };
    }
    let n = a.count as f64;
    let live_end = report.hold.resources.live_end.unwrap_or(0);
    if let (Some(before), Some(after)) = (
        report.server_rss_mib_before,
        report.hold.resources.server_rss_mib_end,
    ) {
        report.server_kib_per_session = Some((after - before) * 1024.0 / n);
    }
    if let (Some(before), Some(after)) = (bench_rss_before, report.hold.resources.bench_rss_mib_end)
    {
        report.bench_kib_per_session = Some((after - before as f64 / 1048576.0) * 1024.0 / n);
    }
    report.held = live_end == a.count as u64
        && report.hold.resources.live_min == Some(a.count as u64)
        && report.protected_metrics_end >= Some(metrics_target);
    report.errors_total = st.errors.snapshot();
    let _ = stop_tx.send(true);
    sampler.abort();
    Ok(report)
}

fn counters(st: &Stats) -> (u64, u64, u64, u64, u64) {
    (
        Stats::get(&st.keepalives_sent),
        Stats::get(&st.acks),
        Stats::get(&st.acks_overdue),
        Stats::get(&st.acks_unmatched),
        Stats::get(&st.sessions_lost),
    )
}

/// Tallies in `now` that were not in `before`.
fn diff(now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    now.iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn load_creds(a: &AgentsArgs) -> anyhow::Result<CredFile> {
    let Some(path) = &a.enrolled_file else {
        return Ok(CredFile::new(&a.pin));
    };
    match CredFile::load(path)? {
        None => Ok(CredFile::new(&a.pin)),
        Some(f) if f.pin != a.pin.trim() => bail!(
            "{} holds agents of another server (pin {}); remove it or pass another --enrolled-file",
            path.display(),
            f.pin
        ),
        Some(f) => Ok(f),
    }
}

async fn enroll_phase(
    a: &AgentsArgs,
    creds: &mut CredFile,
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<EnrollReport> {
    let total = a.offset + a.count;
    let reused = creds.agents.len().min(total);
    if creds.agents.len() >= total {
        return Ok(EnrollReport {
            reused,
            ..Default::default()
        });
    }
    let Some(key) = &a.key else {
        bail!(
            "{} more agents must be enrolled: pass --key (a verification key)",
            total - creds.agents.len()
        );
    };
    eprintln!("enrolling {} agents…", total - creds.agents.len());
    let result = enroll_missing(creds, total, ep, tls, key, a.enroll_concurrency).await;
    if let Some(path) = &a.enrolled_file {
        creds.save(path)?;
    }
    let o = result?;
    let secs = o.elapsed.as_secs_f64();
    Ok(EnrollReport {
        reused,
        enrolled: o.enrolled,
        secs,
        per_s: o.enrolled as f64 / secs.max(1e-3),
        latency: Latency::of(&o.latency),
        errors: o.errors,
    })
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
