//! Which endpoint the session loop tries next.
//!
//! * Start with the first (preferred) endpoint.
//! * A failed attempt moves to the next one (wrapping), after the jittered
//!   backoff delay.
//! * When a session that was healthy ends, start again from the first.
//! * While connected to a fallback (any but the first), the runner probes
//!   the endpoints listed before it every `failback_probe_secs`; when one
//!   completes a TCP + TLS handshake with the pinned key, the session is
//!   closed cleanly and reopened there ([`Selector::fail_back`]).

/// The position in the ordered endpoint list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    len: usize,
    current: usize,
}

impl Selector {
    /// A selector over `len` endpoints (`len` 0 is treated as 1).
    pub fn new(len: usize) -> Self {
        Selector {
            len: len.max(1),
            current: 0,
        }
    }

    /// Index of the endpoint to try now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// True when the current endpoint is not the preferred one.
    pub fn on_fallback(&self) -> bool {
        self.current != 0
    }

    /// Endpoints preferred over the current one, best first.
    pub fn preferred(&self) -> std::ops::Range<usize> {
        0..self.current
    }

    /// A session ended (or could not be opened): after a healthy session
    /// start again from the preferred endpoint, else fail over to the next.
    pub fn session_ended(&mut self, was_healthy: bool) {
        self.current = if was_healthy {
            0
        } else {
            (self.current + 1) % self.len
        };
    }

    /// A preferred endpoint answered a probe: use it next.
    pub fn fail_back(&mut self, to: usize) {
        if to < self.current {
            self.current = to;
        }
    }

    /// The endpoint list changed: start from the preferred endpoint.
    pub fn reset(&mut self, len: usize) {
        *self = Selector::new(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_over_in_order_and_wraps() {
        let mut s = Selector::new(3);
        let mut seen = vec![s.current()];
        for _ in 0..4 {
            s.session_ended(false);
            seen.push(s.current());
        }
        assert_eq!(seen, vec![0, 1, 2, 0, 1]);
    }

    #[test]
    fn healthy_session_end_returns_to_preferred() {
        let mut s = Selector::new(3);
        s.session_ended(false);
        s.session_ended(false);
        assert_eq!(s.current(), 2);
        assert!(s.on_fallback());
        assert_eq!(s.preferred(), 0..2);
        s.session_ended(true);
        assert_eq!(s.current(), 0);
        assert!(!s.on_fallback());
        assert!(s.preferred().is_empty());
    }

    #[test]
    fn fail_back_only_moves_forward_in_preference() {
        let mut s = Selector::new(3);
        s.session_ended(false);
        s.session_ended(false);
        s.fail_back(1);
        assert_eq!(s.current(), 1);
        s.fail_back(2);
        assert_eq!(s.current(), 1, "never fails back to a worse endpoint");
        s.fail_back(0);
        assert_eq!(s.current(), 0);
    }

    #[test]
    fn single_and_empty_lists() {
        let mut s = Selector::new(1);
        s.session_ended(false);
        assert_eq!(s.current(), 0);
        let mut s = Selector::new(0);
        s.session_ended(false);
        assert_eq!(s.current(), 0);
        s.reset(2);
        s.session_ended(false);
        assert_eq!(s.current(), 1);
    }
}
