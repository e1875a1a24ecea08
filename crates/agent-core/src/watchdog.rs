//! The agent's own resource caps (like osquery's watchdog): every
//! `check_secs` the agent samples its resident memory and CPU time; over
//! `max_rss_mib`, or above `max_cpu_percent` of one core averaged over
//! `cpu_window_secs`, it reports the breach, shuts down cleanly (session
//! closed, spool flushed) and is started again with a fresh process.
//!
//! `agent.toml`:
//!
//! ```toml
//! [watchdog]
//! max_rss_mib = 200        # 0: no memory cap
//! max_cpu_percent = 50     # of one core; 0: no CPU cap
//! cpu_window_secs = 60
//! check_secs = 5
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `[watchdog]` of `agent.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchdogSettings {
    pub max_rss_mib: u64,
    pub max_cpu_percent: u32,
    pub cpu_window_secs: u64,
    pub check_secs: u64,
}

impl Default for WatchdogSettings {
    fn default() -> Self {
        WatchdogSettings {
            max_rss_mib: 200,
            max_cpu_percent: 50,
            cpu_window_secs: 60,
            check_secs: 5,
        }
    }
}

impl WatchdogSettings {
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.check_secs == 0 {
            p.push("watchdog.check_secs must be at least 1".into());
        }
        if self.max_cpu_percent > 100 * 1024 {
            p.push("watchdog.max_cpu_percent is too large".into());
        }
        if self.cpu_window_secs < self.check_secs.max(1) {
            p.push("watchdog.cpu_window_secs must be at least watchdog.check_secs".into());
        }
        p
    }

    pub fn check_every(&self) -> Duration {
        Duration::from_secs(self.check_secs.max(1))
    }
}

/// Which cap was exceeded.
#[derive(Debug, Clone, PartialEq)]
pub enum Breach {
    Rss {
        bytes: u64,
        cap_bytes: u64,
    },
    Cpu {
        percent: f64,
        cap: u32,
        window: Duration,
    },
}

impl Breach {
    /// `rss` or `cpu`.
    pub fn kind(&self) -> &'static str {
        match self {
            Breach::Rss { .. } => "rss",
            Breach::Cpu { .. } => "cpu",
        }
    }
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breach::Rss { bytes, cap_bytes } => write!(
                f,
                "resident memory {:.1} MiB is over the cap of {} MiB",
                *bytes as f64 / 1048576.0,
                cap_bytes >> 20
            ),
            Breach::Cpu {
                percent,
                cap,
                window,
            } => write!(
                f,
                "CPU use {percent:.1} % of one core over {} s is over the cap of {cap} %",
                window.as_secs()
            ),
        }
    }
}

/// Keeps the samples of the CPU window (pure: samples are passed in).
#[derive(Debug, Clone)]
pub struct Watchdog {
    settings: WatchdogSettings,
    ticks_per_sec: u64,
    samples: VecDeque<(Instant, u64)>,
}

impl Watchdog {
    pub fn new(settings: WatchdogSettings, ticks_per_sec: u64) -> Self {
        Watchdog {
            settings,
            ticks_per_sec: ticks_per_sec.max(1),
            samples: VecDeque::new(),
        }
    }

    /// One sample: resident bytes and CPU time (utime + stime, clock
    /// ticks) at `now`. Returns the breach, if any.
    pub fn sample(&mut self, now: Instant, rss_bytes: u64, cpu_ticks: u64) -> Option<Breach> {
        let cap_bytes = self.settings.max_rss_mib.saturating_mul(1 << 20);
        if cap_bytes > 0 && rss_bytes > cap_bytes {
            return Some(Breach::Rss {
                bytes: rss_bytes,
                cap_bytes,
            });
        }
        self.samples.push_back((now, cpu_ticks));
        let window = Duration::from_secs(self.settings.cpu_window_secs);
        // Keep the newest sample at least a window old as the baseline.
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= window {
            self.samples.pop_front();
        }
        let &(t0, c0) = self.samples.front()?;
        let span = now.duration_since(t0);
        if self.settings.max_cpu_percent == 0 || span < window || span.is_zero() {
            return None;
        }
        let used = cpu_ticks.saturating_sub(c0) as f64 / self.ticks_per_sec as f64;
        let percent = used / span.as_secs_f64() * 100.0;
        (percent > f64::from(self.settings.max_cpu_percent)).then_some(Breach::Cpu {
            percent,
            cap: self.settings.max_cpu_percent,
            window: span,
        })
    }
}

/// This process's resident bytes and CPU ticks from `/proc/self`.
pub fn read_self() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    Some((
        ward_hostinfo::parse_status_rss_bytes(&status)?,
        ward_hostinfo::parse_proc_stat_cpu_ticks(&stat)?,
    ))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rss: u64, cpu: u32) -> WatchdogSettings {
        WatchdogSettings {
            max_rss_mib: rss,
            max_cpu_percent: cpu,
            cpu_window_secs: 10,
            check_secs: 1,
        }
    }

    #[test]
    fn rss_over_the_cap_is_a_breach_at_once() {
        let mut w = Watchdog::new(settings(10, 0), 100);
        let now = Instant::now();
        assert_eq!(w.sample(now, 10 << 20, 0), None, "at the cap is fine");
        let b = w.sample(now, (10 << 20) + 1, 0).unwrap();
        assert_eq!(b.kind(), "rss");
        assert!(b.to_string().contains("over the cap of 10 MiB"), "{b}");
        let mut off = Watchdog::new(settings(0, 0), 100);
        assert_eq!(off.sample(now, u64::MAX, u64::MAX), None, "0 disables");
    }

    #[test]
    fn cpu_is_averaged_over_a_full_window() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // 100 ticks per second; cap 50 % of a core over 10 s.
        let mut w = Watchdog::new(settings(0, 50), 100);
        // 80 % of a core (80 ticks a second), but the window is not full yet.
        for s in 0..10 {
            assert_eq!(w.sample(at(s), 1, s * 80), None, "second {s}");
        }
        match w.sample(at(10), 1, 800) {
            Some(Breach::Cpu { percent, cap, .. }) => {
                assert!((percent - 80.0).abs() < 0.01, "{percent}");
                assert_eq!(cap, 50);
            }
            other => panic!("{other:?}"),
        }
        // A short burst within an idle window stays under the average.
        let mut w = Watchdog::new(settings(0, 50), 100);
        let mut ticks = 0;
        for s in 0..=30 {
            if s == 20 {
                ticks += 300; // 3 s of CPU in one second
            }
            assert_eq!(w.sample(at(s), 1, ticks), None, "second {s}");
        }
    }

    #[test]
    fn reads_this_process() {
        let (rss, _ticks) = read_self().unwrap();
        assert!(rss > 100 * 1024, "{rss}");
        assert!(ticks_per_sec() > 0);
    }

    #[test]
    fn settings_validation() {
        assert!(WatchdogSettings::default().problems().is_empty());
        let s = WatchdogSettings {
            check_secs: 0,
            ..WatchdogSettings::default()
        };
        assert!(!s.problems().is_empty());
    }
}
