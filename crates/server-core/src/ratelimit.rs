//! A small keyed event limiter: failed enrollments per source address,
//! re-identified copies and notices per agent identity.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Allows `max_failures` events per key per window; after that the key is
/// refused until its window ends.
#[derive(Debug)]
pub struct FailureLimiter<K = IpAddr> {
    max_failures: u32,
    window_ms: i64,
    map: Mutex<HashMap<K, (i64, u32)>>,
}

/// Entries kept before expired ones are pruned.
const PRUNE_AT: usize = 10_000;

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    pub fn new(max_failures: u32, window_ms: i64) -> Self {
        FailureLimiter {
            max_failures,
            window_ms,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// True when `key` used up its allowance in the current window.
    pub fn is_blocked(&self, key: K, now: i64) -> bool {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&key) {
            Some(&(start, n)) => now - start < self.window_ms && n >= self.max_failures,
            None => false,
        }
    }

    /// Takes one event from `key`'s allowance; false (nothing taken) when
    /// it is used up.
    pub fn take(&self, key: K, now: i64) -> bool {
        if self.is_blocked(key.clone(), now) {
            return false;
        }
        self.failed(key, now);
        true
    }

    /// Records one failure of `key`.
    pub fn failed(&self, key: K, now: i64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PRUNE_AT {
            let window = self.window_ms;
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map.entry(key).or_insert((now, 0));
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

    #[test]
    fn take_counts_per_key() {
        let l: FailureLimiter<String> = FailureLimiter::new(2, 1000);
        assert!(l.take("a".into(), 0) && l.take("a".into(), 1));
        assert!(!l.take("a".into(), 2), "used up");
        assert!(l.take("b".into(), 2));
        assert!(l.take("a".into(), 1000), "a new window");
    }
}
