//! Sustained CPU use: per process, CPU time samples over a sliding window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Track {
    samples: VecDeque<(Instant, u64)>,
    reported: bool,
}

/// Per (pid, start time) samples; reports each process once.
#[derive(Debug)]
pub struct CpuTracker {
    window: Duration,
    percent: u32,
    ticks_per_sec: u64,
    procs: HashMap<(u32, u64), Track>,
}

impl CpuTracker {
    pub fn new(window: Duration, percent: u32, ticks_per_sec: u64) -> CpuTracker {
        CpuTracker {
            window,
            percent,
            ticks_per_sec: ticks_per_sec.max(1),
            procs: HashMap::new(),
        }
    }

    /// One round of samples `(pid, start_time, utime + stime ticks)` taken
    /// at `now`; returns `(pid, start_time, percent)` of processes whose
    /// average over the whole window reached the threshold (once each).
    /// Processes missing from a round are forgotten.
    pub fn round(&mut self, now: Instant, samples: &[(u32, u64, u64)]) -> Vec<(u32, u64, u32)> {
        let mut out = Vec::new();
        let mut seen = HashMap::with_capacity(samples.len());
        for &(pid, start, ticks) in samples {
            let mut t = self.procs.remove(&(pid, start)).unwrap_or_default();
            t.samples.push_back((now, ticks));
            // Keep the newest sample at or before the window start.
            while t.samples.len() > 2
                && t.samples
                    .get(1)
                    .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
            {
                t.samples.pop_front();
            }
            if let (false, Some(&(t0, c0))) = (t.reported, t.samples.front()) {
                let span = now.duration_since(t0);
                if span >= self.window {
                    let used = ticks.saturating_sub(c0) as f64 / self.ticks_per_sec as f64;
                    let pct = (used / span.as_secs_f64() * 100.0).round() as u32;
                    if pct >= self.percent {
                        t.reported = true;
                        out.push((pid, start, pct));
                    }
                }
            }
            seen.insert((pid, start), t);
        }
        self.procs = seen;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_busy_process_once_after_a_full_window() {
        let mut c = CpuTracker::new(Duration::from_secs(60), 90, 100);
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        // pid 1 busy (100 ticks/s), pid 2 half busy, pid 3 idle.
        let round = |c: &mut CpuTracker, secs: u64| {
            c.round(
                s(secs),
                &[(1, 10, secs * 100), (2, 20, secs * 50), (3, 30, 5)],
            )
        };
        for secs in (0..60).step_by(10) {
            assert!(
                round(&mut c, secs).is_empty(),
                "before a full window ({secs} s)"
            );
        }
        assert_eq!(round(&mut c, 60), vec![(1, 10, 100)]);
        assert!(round(&mut c, 70).is_empty(), "once");
        // A new process with the same pid (other start time) is new.
        let got = c.round(s(80), &[(1, 11, 0)]);
        assert!(got.is_empty());
        let got = c.round(s(140), &[(1, 11, 6000)]);
        assert_eq!(got, vec![(1, 11, 100)]);
    }

    #[test]
    fn a_burst_inside_a_long_idle_window_is_not_sustained() {
        let mut c = CpuTracker::new(Duration::from_secs(60), 90, 100);
        let t0 = Instant::now();
        let mut ticks = 0;
        for secs in (0..=120).step_by(10) {
            if secs == 100 {
                ticks += 1000; // 10 s of one core
            }
            let got = c.round(t0 + Duration::from_secs(secs), &[(5, 1, ticks)]);
            assert!(got.is_empty(), "{secs}");
        }
    }
}
