//! The once-a-second sampler: server and bench RSS/CPU from `/proc`, the
//! machine's CPU and memory, the server's `/metrics`, and the bench's own
//! counters. Windows over the samples give the figures of each phase.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use ward_agent_core::http::Endpoint;

use crate::procstat::{self, MachineCpu, ProcReading};
use crate::server_api::{self, ServerMetrics};
use crate::session::Shared;
use crate::stats::Stats;

/// One reading of everything.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub server: Option<ProcReading>,
    pub bench: Option<ProcReading>,
    pub machine: Option<MachineCpu>,
    pub mem_available: Option<u64>,
    pub metrics: Option<ServerMetrics>,
    pub live: u64,
    pub agents_up: u64,
    pub acks: u64,
    pub errors: u64,
}

/// Shared sampler state.
pub struct Monitor {
    pub samples: Mutex<Vec<Sample>>,
    /// Protected count (from `/metrics`) that means "all agents protected";
    /// 0 while not tracking.
    pub protected_target: AtomicU64,
    pub protected_at: OnceLock<Instant>,
    pub hz: u64,
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor {
            samples: Mutex::new(Vec::new()),
            protected_target: AtomicU64::new(0),
            protected_at: OnceLock::new(),
            hz: procstat::ticks_per_sec(),
        }
    }

    fn push(&self, s: Sample) {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(s);
    }

    /// Figures over the samples taken in `[from, to]`.
    pub fn window(&self, from: Instant, to: Instant) -> Window {
        let all = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let inside: Vec<&Sample> = all.iter().filter(|s| s.at >= from && s.at <= to).collect();
        window(&inside, self.hz)
    }
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

/// Figures over a span of samples.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Window {
    pub secs: f64,
    /// Percent of one core (200 = both cores of this machine).
    pub server_cpu_pct: Option<f64>,
    pub server_rss_mib_end: Option<f64>,
    pub server_rss_mib_peak: Option<f64>,
    pub server_threads: Option<u64>,
    pub bench_cpu_pct: Option<f64>,
    pub bench_rss_mib_end: Option<f64>,
    /// Busy share of all cores, 0..=100.
    pub machine_busy_pct: Option<f64>,
    pub mem_available_mib_min: Option<f64>,
    /// From the server's `ward_keepalives_total`.
    pub server_keepalives_per_s: Option<f64>,
    pub live_min: Option<u64>,
    pub live_end: Option<u64>,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Computes a [`Window`] from samples in time order.
pub fn window(s: &[&Sample], hz: u64) -> Window {
    let (Some(first), Some(last)) = (s.first(), s.last()) else {
        return Window::default();
    };
    let secs = last.at.duration_since(first.at).as_secs_f64();
    let cpu = |get: fn(&Sample) -> Option<ProcReading>| -> Option<f64> {
        let a = s.iter().find_map(|x| get(x).map(|r| (x.at, r)))?;
        let b = s.iter().rev().find_map(|x| get(x).map(|r| (x.at, r)))?;
        let dt = b.0.duration_since(a.0).as_secs_f64();
        (dt > 0.0).then(|| procstat::cpu_percent(a.1.cpu_ticks, b.1.cpu_ticks, dt, hz))
    };
    let machine = (|| {
        let a = s.iter().find_map(|x| x.machine)?;
        let b = s.iter().rev().find_map(|x| x.machine)?;
        (b.total > a.total).then(|| procstat::machine_busy_percent(a, b))
    })();
    let ka_rate = (|| {
        let a = s
            .iter()
            .find_map(|x| x.metrics.as_ref().map(|m| (x.at, m.keepalives_total)))?;
        let b = s
            .iter()
            .rev()
            .find_map(|x| x.metrics.as_ref().map(|m| (x.at, m.keepalives_total)))?;
        let dt = b.0.duration_since(a.0).as_secs_f64();
        (dt > 0.0).then(|| b.1.saturating_sub(a.1) as f64 / dt)
    })();
    Window {
        secs,
        server_cpu_pct: cpu(|x| x.server),
        server_rss_mib_end: s
            .iter()
            .rev()
            .find_map(|x| x.server)
            .map(|r| mib(r.rss_bytes)),
        server_rss_mib_peak: s
            .iter()
            .filter_map(|x| x.server.map(|r| r.rss_bytes))
            .max()
            .map(mib),
        server_threads: s.iter().rev().find_map(|x| x.server).map(|r| r.threads),
        bench_cpu_pct: cpu(|x| x.bench),
        bench_rss_mib_end: s
            .iter()
            .rev()
            .find_map(|x| x.bench)
            .map(|r| mib(r.rss_bytes)),
        machine_busy_pct: machine,
        mem_available_mib_min: s.iter().filter_map(|x| x.mem_available).min().map(mib),
        server_keepalives_per_s: ka_rate,
        live_min: s.iter().map(|x| x.live).min(),
        live_end: Some(last.live),
    }
}

/// What the sampler needs.
pub struct SamplerParams {
    pub ep: Endpoint,
    pub tls: Arc<rustls::ClientConfig>,
    pub server_pid: Option<u32>,
    pub every: Duration,
    /// Print a progress line every this many samples (0: never).
    pub progress_every: u32,
}

/// Samples until `stop` turns true.
pub async fn run(
    mon: Arc<Monitor>,
    sh: Arc<Shared>,
    p: SamplerParams,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(p.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut since_progress = 0u32;
    let mut prev: Option<Sample> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let metrics = tokio::time::timeout(
            Duration::from_secs(5),
            server_api::metrics(&p.ep, p.tls.clone()),
        )
        .await
        .ok()
        .and_then(Result::ok);
        let s = Sample {
            at: Instant::now(),
            server: p.server_pid.and_then(procstat::read_process),
            bench: procstat::read_process(std::process::id()),
            machine: procstat::read_machine_cpu(),
            mem_available: procstat::read_mem_available(),
            metrics,
            live: sh.stats.live(),
            agents_up: Stats::get(&sh.stats.agents_up),
            acks: Stats::get(&sh.stats.acks),
            errors: sh.stats.errors.total(),
        };
        let target = mon.protected_target.load(Ordering::Relaxed);
        if target > 0 && s.metrics.as_ref().is_some_and(|m| m.protected >= target) {
            let _ = mon.protected_at.set(s.at);
        }
        since_progress += 1;
        if p.progress_every > 0 && since_progress >= p.progress_every {
            since_progress = 0;
            eprintln!("{}", progress_line(started, prev.as_ref(), &s, mon.hz));
            prev = Some(s.clone());
        } else if prev.is_none() {
            prev = Some(s.clone());
        }
        mon.push(s);
    }
}

fn progress_line(started: Instant, prev: Option<&Sample>, s: &Sample, hz: u64) -> String {
    let mut line = format!(
        "[{:>5.0}s] up {} live {} errors {}",
        s.at.duration_since(started).as_secs_f64(),
        s.agents_up,
        s.live,
        s.errors
    );
    if let Some(m) = &s.metrics {
        line.push_str(&format!(
            " | server: sessions {} protected {}",
            m.sessions_live, m.protected
        ));
    }
    if let Some(p) = prev {
        let refs = [p, s];
        let w = window(&refs, hz);
        let dt = s.at.duration_since(p.at).as_secs_f64().max(1e-9);
        line.push_str(&format!(
            " acks/s {:.0}",
            s.acks.saturating_sub(p.acks) as f64 / dt
        ));
        if let Some(c) = w.server_cpu_pct {
            line.push_str(&format!(" cpu {c:.0}%"));
        }
        if let Some(c) = w.bench_cpu_pct {
            line.push_str(&format!(" | bench cpu {c:.0}%"));
        }
        if let Some(c) = w.machine_busy_pct {
            line.push_str(&format!(" | machine {c:.0}% busy"));
        }
    }
    if let Some(r) = s.server {
        line.push_str(&format!(" | server rss {:.0} MiB", mib(r.rss_bytes)));
    }
    if let Some(r) = s.bench {
        line.push_str(&format!(" bench rss {:.0} MiB", mib(r.rss_bytes)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t0: Instant, secs: u64, ticks: u64, rss_mib: u64, ka: u64, live: u64) -> Sample {
        Sample {
            at: t0 + Duration::from_secs(secs),
            server: Some(ProcReading {
                rss_bytes: rss_mib << 20,
                cpu_ticks: ticks,
                threads: 3,
            }),
            bench: None,
            machine: Some(MachineCpu {
                busy: secs * 100,
                total: secs * 200,
            }),
            mem_available: Some((1000 - rss_mib) << 20),
            metrics: Some(ServerMetrics {
                keepalives_total: ka,
                ..Default::default()
            }),
            live,
            agents_up: live,
            acks: 0,
            errors: 0,
        }
    }

    #[test]
    fn window_figures_come_from_first_last_min_and_max() {
        let t0 = Instant::now();
        // 10 s, server used 500 ticks (5 s of CPU at 100 Hz) = 50 % of a core.
        let s = [
            sample(t0, 0, 1000, 100, 0, 10),
            sample(t0, 5, 1200, 300, 50_000, 8),
            sample(t0, 10, 1500, 200, 100_000, 10),
        ];
        let refs: Vec<&Sample> = s.iter().collect();
        let w = window(&refs, 100);
        assert_eq!(w.secs, 10.0);
        assert_eq!(w.server_cpu_pct, Some(50.0));
        assert_eq!(w.server_rss_mib_end, Some(200.0));
        assert_eq!(w.server_rss_mib_peak, Some(300.0));
        assert_eq!(w.mem_available_mib_min, Some(700.0));
        assert_eq!(w.server_keepalives_per_s, Some(10_000.0));
        assert_eq!(w.machine_busy_pct, Some(50.0));
        assert_eq!((w.live_min, w.live_end), (Some(8), Some(10)));
        assert_eq!(w.bench_cpu_pct, None, "no bench readings");
        assert_eq!(window(&[], 100), Window::default());
    }

    #[test]
    fn monitor_window_selects_by_time() {
        let m = Monitor::new();
        let t0 = Instant::now();
        for i in 0..5 {
            m.push(sample(t0, i, i * 100, 10 + i, 0, i));
        }
        let w = m.window(t0 + Duration::from_secs(1), t0 + Duration::from_secs(3));
        assert_eq!(w.secs, 2.0);
        assert_eq!((w.live_min, w.live_end), (Some(1), Some(3)));
        assert_eq!(m.samples.lock().unwrap().len(), 5);
    }
}
