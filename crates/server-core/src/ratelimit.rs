//! A small per-source-IP failure limiter (enrollment with a bad key).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Allows `max_failures` failures per source address per window; after that
/// the address is refused until its window ends.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window_ms: i64,
    map: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

/// Entries kept before expired ones are pruned.
const PRUNE_AT: usize = 10_000;

impl FailureLimiter {
    pub fn new(max_failures: u32, window_ms: i64) -> Self {
        FailureLimiter {
            max_failures,
            window_ms,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// True when `ip` used up its failures in the current window.
    pub fn is_blocked(&self, ip: IpAddr, now: i64) -> bool {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some(&(start, n)) => now - start < self.window_ms && n >= self.max_failures,
            None => false,
        }
    }

    /// Records one failure of `ip`.
    pub fn failed(&self, ip: IpAddr, now: i64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PRUNE_AT {
            let window = self.window_ms;
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.window_ms {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_the_window_ends() {
        let l = FailureLimiter::new(3, 1000);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..3 {
            assert!(!l.is_blocked(a, i));
            l.failed(a, i);
        }
        assert!(l.is_blocked(a, 10));
        assert!(!l.is_blocked(b, 10), "other addresses are unaffected");
        assert!(l.is_blocked(a, 999));
        assert!(!l.is_blocked(a, 1000), "a new window starts");
        l.failed(a, 1000);
        assert!(!l.is_blocked(a, 1001));
    }
}
