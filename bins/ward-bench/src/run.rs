//! `ward-bench agents`: set up, enroll, ramp up, hold, and assemble the
//! report (the phases themselves are in [`crate::phases`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::{watch, Semaphore};
use ward_agent_core::http::Endpoint;

use crate::cli::AgentsArgs;
use crate::enroll::{enroll_missing, CredFile};
use crate::iprange::{check_against_server, parse_source_ips};
use crate::monitor::{self, Monitor, SamplerParams};
use crate::net::{raise_nofile, resolve, tls_config};
use crate::phases::{hold, ramp, Run};
use crate::procstat;
use crate::report::{EnrollReport, Latency, Report};
use crate::server_api;
use crate::session::Shared;
use crate::stats::Stats;

/// Descriptors kept free for the runtime and the metrics and API polls
/// (enrollment connections are counted separately).
pub const FD_MARGIN: u64 = 512;

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
             raise `ulimit -Hn` (needs root/CAP_SYS_RESOURCE) or split the run with --offset",
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
        enroll_only: a.enroll_only,
        ..Default::default()
    };
    let server_pid = a.server_pid.or_else(find_server);
    report.server_pid = server_pid;

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
    let sampler = tokio::spawn(monitor::run(
        mon.clone(),
        shared.clone(),
        SamplerParams {
            ep: ep.clone(),
            tls: tls.clone(),
            server_pid,
            every: Duration::from_secs(1),
            progress_every: if a.enroll_only { 0 } else { a.progress },
        },
        stop_rx.clone(),
    ));

    let mut creds = load_creds(&a)?;
    let enroll_start = Instant::now();
    report.enroll = enroll_phase(&a, &mut creds, &ep, tls.clone()).await?;
    report.enroll.resources = mon.window(enroll_start, Instant::now());
    if a.enroll_only {
        sampler.abort();
        return Ok(report);
    }

    report.server_rss_mib_before = server_pid
        .and_then(procstat::read_process)
        .map(|r| mib(r.rss_bytes));
    let bench_rss_before = procstat::read_process(std::process::id()).map(|r| mib(r.rss_bytes));
    let baseline = server_api::metrics(&ep, tls.clone())
        .await
        .context("reading the server's /metrics before the run")?;
    let api_baseline = match &a.token {
        Some(t) => Some(server_api::count_protected(&ep, tls.clone(), t).await?),
        None => None,
    };
    let n = a.count as u64;
    // Agents reused from a credentials file may still be protected from an
    // earlier run: never wait for more than every known asset.
    let known = baseline.protected + baseline.unprotected;
    let metrics_target = a
        .expect_protected
        .unwrap_or((baseline.protected + n).min(known));
    let api_target = a
        .expect_protected
        .unwrap_or((api_baseline.unwrap_or(0) + n).min(known));
    mon.protected_target
        .store(metrics_target, Ordering::Relaxed);

    let run = Run {
        args: &a,
        shared: shared.clone(),
        mon: mon.clone(),
        sources: &sources,
        creds: &creds,
        stop: stop_rx,
    };
    let ramp_out = ramp(&run, api_target).await;
    report.ramp = ramp_out.report;
    report.hold = hold(&run, &report.ramp.errors).await;
    let st = &shared.stats;
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
        .map(|t| t.duration_since(ramp_out.start).as_secs_f64());
    if let Some(h) = ramp_out.api_watch {
        report.ramp.secs_to_all_protected_api = if h.is_finished() {
            h.await.ok().flatten()
        } else {
            h.abort();
            None
        };
    }
    let per_session = |before: Option<f64>, after: Option<f64>| {
        Some((after? - before?) * 1024.0 / a.count as f64)
    };
    report.server_kib_per_session = per_session(
        report.server_rss_mib_before,
        report.hold.resources.server_rss_mib_end,
    );
    report.bench_kib_per_session =
        per_session(bench_rss_before, report.hold.resources.bench_rss_mib_end);
    report.held = report.hold.resources.live_end == Some(n)
        && report.hold.resources.live_min == Some(n)
        && report.protected_metrics_end >= Some(metrics_target);
    report.errors_total = st.errors.snapshot();
    let _ = stop_tx.send(true);
    sampler.abort();
    Ok(report)
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

/// The only running `ward-server … serve`, if there is exactly one.
fn find_server() -> Option<u32> {
    match procstat::find_server_pids().as_slice() {
        [one] => Some(*one),
        [] => {
            eprintln!("warning: no running `ward-server serve` found; server RSS/CPU not measured");
            None
        }
        many => {
            eprintln!("warning: several ward-server processes {many:?}; pass --server-pid");
            None
        }
    }
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
        ..Default::default()
    })
}
