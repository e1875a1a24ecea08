//! Reconnect delays: exponential growth with full jitter.
//!
//! The n-th delay after a failure is uniform in `[min, min(max, min * 2^n)]`;
//! [`Backoff::reset`] after a healthy session starts again from `min`.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// `max` below `min` is raised to `min`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The upper bound of the next delay.
    pub fn current_cap(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.min
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The next delay, drawn with `rng`; grows the cap for the one after.
    pub fn next_with(&mut self, rng: &mut impl Rng) -> Duration {
        let cap = self.current_cap();
        self.attempt = self.attempt.saturating_add(1);
        if cap <= self.min {
            return self.min;
        }
        let lo = self.min.as_millis() as u64;
        let hi = cap.as_millis() as u64;
        Duration::from_millis(rng.gen_range(lo..=hi))
    }

    /// The next delay from the thread's random generator.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(&mut rand::thread_rng())
    }

    /// The largest delay, for errors retrying sooner would not fix.
    pub fn max(&self) -> Duration {
        self.max
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn delays_stay_within_bounds_and_cap_doubles_to_max() {
        let mut b = Backoff::new(MS(500), MS(60_000));
        let mut rng = rand::thread_rng();
        // Caps: 500, 1000, 2000, ... 32000, then 60000 for ever.
        let expected_caps = [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];
        for cap in expected_caps {
            assert_eq!(b.current_cap(), MS(cap));
            let d = b.next_with(&mut rng);
            assert!(d >= MS(500) && d <= MS(cap), "{d:?} not in [500, {cap}]");
        }
        for _ in 0..100 {
            let d = b.next_with(&mut rng);
            assert!(d >= MS(500) && d <= MS(60_000));
        }
        b.reset();
        assert_eq!(b.current_cap(), MS(500));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut rng = rand::thread_rng();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut b = Backoff::new(MS(100), MS(10_000));
            b.attempt = 10;
            seen.insert(b.next_with(&mut rng));
        }
        assert!(seen.len() > 10, "full jitter must not repeat one value");
    }

    #[test]
    fn degenerate_bounds() {
        let mut b = Backoff::new(MS(700), MS(100));
        assert_eq!(b.max(), MS(700));
        assert_eq!(b.next_delay(), MS(700));
        let mut b = Backoff::new(MS(1), MS(u64::MAX / 4));
        b.attempt = 1000;
        assert!(b.next_delay() >= MS(1));
    }
}
