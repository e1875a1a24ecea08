//! Sign-in rate limiting per source address.
//!
//! Each address may fail `max_failures` times per window; after that every
//! sign-in from it — right password or not — is refused with 429 until the
//! window that began at its first failure ends. A success clears the address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Limits of the sign-in limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    pub max_failures: u32,
    pub window_ms: i64,
    /// Addresses tracked before expired entries are pruned.
    pub prune_at: usize,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            max_failures: 5,
            window_ms: 15 * 60 * 1000,
            prune_at: 10_000,
        }
    }
}

#[derive(Debug)]
pub struct SignInLimiter {
    limits: SignInLimits,
    map: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl SignInLimiter {
    pub fn new(limits: SignInLimits) -> SignInLimiter {
        SignInLimiter {
            limits,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when `ip` is blocked at `now`.
    pub fn check(&self, ip: IpAddr, now: i64) -> Result<(), u64> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some(&(start, n)) if n >= self.limits.max_failures => {
                let left = start + self.limits.window_ms - now;
                if left > 0 {
                    // Round up so "0 seconds" is never said while blocked.
                    Err((left as u64).div_ceil(1000))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records a failed sign-in of `ip`.
    pub fn failed(&self, ip: IpAddr, now: i64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.limits.prune_at {
            let window = self.limits.window_ms;
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.limits.window_ms {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// A successful sign-in clears the address's failures.
    pub fn succeeded(&self, ip: IpAddr) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_after_max_failures_for_the_rest_of_the_window() {
        let l = SignInLimiter::new(SignInLimits {
            max_failures: 3,
            window_ms: 10_000,
            prune_at: 100,
        });
        let a = ip("192.0.2.1");
        for t in [0, 1000, 2000] {
            assert_eq!(l.check(a, t), Ok(()));
            l.failed(a, t);
        }
        // Blocked until 0 + 10 s; at 2.5 s there are 7.5 s left, rounded up.
        assert_eq!(l.check(a, 2500), Err(8));
        assert_eq!(l.check(a, 9999), Err(1));
        assert_eq!(l.check(a, 10_000), Ok(()));
        assert_eq!(l.check(ip("192.0.2.2"), 2500), Ok(()), "per address");
        assert_eq!(l.check(ip("2001:db8::1"), 2500), Ok(()));
        // A failure after the window starts a new one.
        l.failed(a, 10_000);
        assert_eq!(l.check(a, 10_001), Ok(()));
    }

    #[test]
    fn success_clears_failures() {
        let l = SignInLimiter::new(SignInLimits {
            max_failures: 2,
            window_ms: 10_000,
            prune_at: 100,
        });
        let a = ip("192.0.2.9");
        l.failed(a, 0);
        l.succeeded(a);
        l.failed(a, 1);
        assert_eq!(l.check(a, 2), Ok(()), "one failure since the success");
        l.failed(a, 2);
        assert!(l.check(a, 3).is_err());
    }

    #[test]
    fn map_is_pruned_of_expired_addresses() {
        let l = SignInLimiter::new(SignInLimits {
            max_failures: 1,
            window_ms: 100,
            prune_at: 10,
        });
        for i in 0..10u8 {
            l.failed(IpAddr::from([198, 51, 100, i]), 0);
        }
        l.failed(ip("203.0.113.1"), 500);
        let len = l.map.lock().unwrap().len();
        assert_eq!(len, 1, "the ten expired entries were pruned");
    }
}
