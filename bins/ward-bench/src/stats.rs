//! Counters, a lock-free latency histogram and error tallies shared by all
//! simulated agents.
//!
//! The histogram is log-linear (HDR-style): values below 32 µs are exact,
//! above that each power of two is split into 32 buckets, so a reported
//! percentile (the bucket's midpoint) is within 1/64 ≈ 1.6 % of the true
//! sample.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Sub-bucket bits: 2^5 = 32 buckets per power of two.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any u64 value.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Bucket index of a value (microseconds).
fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let group = u64::from(shift) + 1;
    let sub = (v >> shift) - SUB;
    (group * SUB + sub) as usize
}

/// Inclusive value range of a bucket.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, i);
    }
    let group = i / SUB;
    let sub = i % SUB;
    let shift = group - 1;
    let lo = (SUB + sub) << shift;
    let hi = lo + ((1u64 << shift) - 1);
    (lo, hi)
}

/// A concurrent latency histogram (microsecond resolution).
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn record_us(&self, us: u64) {
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistSnapshot {
        HistSnapshot {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// A point-in-time copy of a [`Histogram`]; two snapshots subtract to give
/// the samples recorded in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistSnapshot {
    counts: Vec<u64>,
}

impl HistSnapshot {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Samples recorded after `earlier` was taken.
    pub fn since(&self, earlier: &HistSnapshot) -> HistSnapshot {
        HistSnapshot {
            counts: self
                .counts
                .iter()
                .zip(earlier.counts.iter())
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
        }
    }

    /// Nearest-rank percentile (`p` in 0..=100), as the midpoint of the
    /// bucket holding that rank, in microseconds.
    pub fn percentile_us(&self, p: f64) -> Option<u64> {
        let n = self.count();
        let rank = nearest_rank(n, p)?;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bucket_range(i);
                return Some(lo + (hi - lo) / 2);
            }
        }
        None
    }

    /// The percentile as milliseconds (for reports).
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        self.percentile_us(p).map(|us| us as f64 / 1000.0)
    }
}

/// 1-based nearest rank of percentile `p` among `n` samples.
fn nearest_rank(n: u64, p: f64) -> Option<u64> {
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = ((p / 100.0) * n as f64).ceil() as u64;
    Some(rank.clamp(1, n))
}

/// Exact nearest-rank percentile of sorted samples.
#[cfg(test)]
pub fn percentile_sorted(sorted: &[u64], p: f64) -> Option<u64> {
    let rank = nearest_rank(sorted.len() as u64, p)?;
    sorted.get(rank as usize - 1).copied()
}

/// Error tallies by kind (a short, address-free description).
#[derive(Default)]
pub struct ErrorTally {
    map: Mutex<BTreeMap<String, u64>>,
}

impl ErrorTally {
    pub fn add(&self, kind: impl Into<String>) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(kind.into()).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn total(&self) -> u64 {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

/// Everything the simulated agents count.
#[derive(Default)]
pub struct Stats {
    /// Sessions currently past `Welcome`.
    pub live: AtomicI64,
    /// Distinct agents that reached `Welcome` at least once.
    pub agents_up: AtomicU64,
    /// Sessions that reached `Welcome` (reconnects included).
    pub sessions_opened: AtomicU64,
    /// Sessions that ended with an error after `Welcome`.
    pub sessions_lost: AtomicU64,
    /// Agents that stopped before their first Welcome (`--no-reconnect`).
    pub gave_up: AtomicU64,
    /// Attempts to open a session (first tries and reconnects).
    pub open_attempts: AtomicU64,
    pub keepalives_sent: AtomicU64,
    pub acks: AtomicU64,
    /// Acks whose sequence number was not the one outstanding.
    pub acks_unmatched: AtomicU64,
    /// Keepalives sent while the previous one was still unanswered.
    pub acks_overdue: AtomicU64,
    pub policy_pushes: AtomicU64,
    /// Keepalive interval in use (ms), as the last session to start saw it.
    pub keepalive_ms: AtomicU64,
    /// Connect + TLS + upgrade + Hello/Welcome.
    pub open_latency: Histogram,
    /// Keepalive sent → its ack received.
    pub ack_latency: Histogram,
    pub errors: ErrorTally,
    /// When the last of the agents reached `Welcome` for the first time.
    pub all_up: OnceLock<Instant>,
}

impl Stats {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    pub fn live(&self) -> u64 {
        u64::try_from(self.live.load(Ordering::Relaxed)).unwrap_or(0)
    }
}

/// Events per second between two counter readings.
pub fn rate(before: u64, after: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    after.saturating_sub(before) as f64 / secs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn buckets_tile_the_value_space() {
        // Consecutive buckets are adjacent and each value lands in its bucket.
        let mut expected_lo = 0u64;
        for i in 0..BUCKETS - 1 {
            let (lo, hi) = bucket_range(i);
            assert_eq!(
                lo,
                expected_lo,
                "bucket {i} starts where {} ended",
                i as i64 - 1
            );
            assert!(hi >= lo);
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi), i);
            expected_lo = hi + 1;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        // Bucket width is at most 1/32 of its lower bound above the exact range.
        for v in [32u64, 33, 1000, 123_456, 10_000_000] {
            let (lo, hi) = bucket_range(bucket_of(v));
            assert!((hi - lo + 1) * 32 <= lo.max(32), "v={v} lo={lo} hi={hi}");
        }
    }

    #[test]
    fn exact_percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile_sorted(&v, 50.0), Some(50));
        assert_eq!(percentile_sorted(&v, 99.0), Some(99));
        assert_eq!(percentile_sorted(&v, 100.0), Some(100));
        assert_eq!(percentile_sorted(&v, 0.0), Some(1));
        assert_eq!(percentile_sorted(&[7], 99.0), Some(7));
        assert_eq!(percentile_sorted(&[], 50.0), None);
        assert_eq!(percentile_sorted(&v, 101.0), None);
    }

    #[test]
    fn small_values_are_exact() {
        let h = Histogram::default();
        for us in [3u64, 1, 2, 5, 4] {
            h.record_us(us);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 5);
        assert_eq!(s.percentile_us(50.0), Some(3));
        assert_eq!(s.percentile_us(100.0), Some(5));
        assert_eq!(Histogram::default().snapshot().percentile_us(50.0), None);
    }

    #[test]
    fn histogram_percentiles_track_exact_ones_within_the_bucket_error() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let h = Histogram::default();
        let mut samples: Vec<u64> = (0..50_000)
            .map(|_| {
                // A long-tailed mix: most around 1 ms, some up to 2 s.
                if rng.gen_bool(0.95) {
                    rng.gen_range(200..3_000)
                } else {
                    rng.gen_range(3_000..2_000_000)
                }
            })
            .collect();
        for &s in &samples {
            h.record_us(s);
        }
        samples.sort_unstable();
        let snap = h.snapshot();
        for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            let exact = percentile_sorted(&samples, p).unwrap() as f64;
            let approx = snap.percentile_us(p).unwrap() as f64;
            let err = (approx - exact).abs() / exact;
            assert!(err <= 1.0 / 32.0, "p{p}: exact {exact} approx {approx}");
        }
    }

    #[test]
    fn snapshots_subtract_to_a_window() {
        let h = Histogram::default();
        for _ in 0..10 {
            h.record(Duration::from_millis(100));
        }
        let before = h.snapshot();
        for _ in 0..4 {
            h.record(Duration::from_micros(10));
        }
        let window = h.snapshot().since(&before);
        assert_eq!(window.count(), 4);
        assert_eq!(window.percentile_us(99.0), Some(10));
        assert_eq!(window.percentile_ms(50.0), Some(0.01));
    }

    #[test]
    fn error_tally_and_rates() {
        let t = ErrorTally::default();
        t.add("tls: timed out");
        t.add("tls: timed out");
        t.add(String::from("upgrade refused: 503 rate_limited"));
        let s = t.snapshot();
        assert_eq!(s.get("tls: timed out"), Some(&2));
        assert_eq!(s.len(), 2);
        assert_eq!(t.total(), 3);
        assert_eq!(rate(100, 400, Duration::from_secs(3)), 100.0);
        assert_eq!(rate(5, 5, Duration::ZERO), 0.0);
    }
}
