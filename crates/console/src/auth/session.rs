//! Console sessions, kept in memory (a restart signs everyone out).
//!
//! A session is created when the sign-in page is first shown (anonymous,
//! short-lived, holding only the CSRF token of the sign-in form) and a new
//! one — new id, new CSRF token — replaces it at sign-in, so an id known
//! before sign-in is worthless after it. Only the SHA-256 of a session id is
//! kept, so a memory dump does not hand out live cookies.

use std::collections::HashMap;
use std::sync::Mutex;

use ward_pki::secret::{random_token, sha256_hex};

/// Session cookie name. The `__Host-` prefix makes browsers insist on
/// `Secure`, `Path=/` and no `Domain`.
pub const COOKIE_NAME: &str = "__Host-ward_session";

/// Lifetimes and bounds of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A signed-in session unused this long ends.
    pub idle_ms: i64,
    /// A signed-in session ends this long after sign-in, used or not.
    pub absolute_ms: i64,
    /// An anonymous (sign-in form) session lives this long.
    pub anonymous_ms: i64,
    /// Most sessions kept; anonymous ones are dropped first when full.
    pub max_sessions: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle_ms: 12 * 3600 * 1000,
            absolute_ms: 7 * 24 * 3600 * 1000,
            anonymous_ms: 30 * 60 * 1000,
            max_sessions: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    csrf: String,
    created: i64,
    last_used: i64,
    /// Password generation signed in under; `None` for anonymous sessions.
    signed_in: Option<String>,
}

impl Entry {
    fn expired(&self, now: i64, l: &SessionLimits) -> bool {
        match self.signed_in {
            Some(_) => now - self.last_used >= l.idle_ms || now - self.created >= l.absolute_ms,
            None => now - self.created >= l.anonymous_ms,
        }
    }
}

/// What a request learns about its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's CSRF token (put into every form).
    pub csrf: String,
    /// Password generation it signed in under, `None` if anonymous.
    pub signed_in: Option<String>,
}

/// A new session: the cookie value and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

/// All sessions of one server.
#[derive(Debug, Default)]
pub struct SessionStore {
    limits: SessionLimits,
    map: Mutex<HashMap<String, Entry>>,
}

impl SessionStore {
    pub fn new(limits: SessionLimits) -> SessionStore {
        SessionStore {
            limits,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// Starts a session (`signed_in`: the password generation, or `None`
    /// for an anonymous sign-in-form session).
    pub fn create(&self, signed_in: Option<String>, now: i64) -> NewSession {
        let token = random_token("", 32);
        let csrf = random_token("", 24);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.limits.max_sessions {
            make_room(&mut map, now, &self.limits);
        }
        map.insert(
            sha256_hex(token.as_bytes()),
            Entry {
                csrf: csrf.clone(),
                created: now,
                last_used: now,
                signed_in,
            },
        );
        NewSession { token, csrf }
    }

    /// The live session of a cookie value (refreshing its idle time), or
    /// `None` when unknown or expired (an expired one is removed).
    pub fn get(&self, token: &str, now: i64) -> Option<SessionInfo> {
        let key = sha256_hex(token.as_bytes());
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.get_mut(&key)?;
        if entry.expired(now, &self.limits) {
            map.remove(&key);
            return None;
        }
        entry.last_used = now;
        Some(SessionInfo {
            csrf: entry.csrf.clone(),
            signed_in: entry.signed_in.clone(),
        })
    }

    /// Ends a session (sign-out, or replacement at sign-in).
    pub fn remove(&self, token: &str) {
        let key = sha256_hex(token.as_bytes());
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// Number of sessions held (expired ones included until pruned).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops expired sessions; if still full, the oldest anonymous ones, and as
/// a last resort the least recently used signed-in one.
fn make_room(map: &mut HashMap<String, Entry>, now: i64, l: &SessionLimits) {
    map.retain(|_, e| !e.expired(now, l));
    while map.len() >= l.max_sessions {
        let victim = map
            .iter()
            .min_by_key(|(_, e)| (e.signed_in.is_some(), e.last_used))
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => map.remove(&k),
            None => break,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SessionLimits {
        SessionLimits {
            idle_ms: 100,
            absolute_ms: 1000,
            anonymous_ms: 50,
            max_sessions: 3,
        }
    }

    #[test]
    fn sessions_are_found_by_token_and_have_their_own_csrf() {
        let s = SessionStore::new(small());
        let a = s.create(Some("g1".into()), 0);
        let b = s.create(None, 0);
        assert_ne!(a.token, b.token);
        assert_ne!(a.csrf, b.csrf);
        assert!(a.token.len() >= 43 && a.csrf.len() >= 32);
        let ia = s.get(&a.token, 1).unwrap();
        assert_eq!(ia.csrf, a.csrf);
        assert_eq!(ia.signed_in.as_deref(), Some("g1"));
        assert_eq!(s.get(&b.token, 1).unwrap().signed_in, None);
        assert_eq!(s.get("not-a-session", 1), None);
        s.remove(&a.token);
        assert_eq!(s.get(&a.token, 2), None);
    }

    #[test]
    fn idle_and_absolute_lifetimes_end_sessions() {
        let s = SessionStore::new(small());
        let a = s.create(Some("g".into()), 0);
        // Used every 90 ms: idle never reached, absolute (1000 ms) is.
        let mut t = 0;
        while t + 90 < 1000 {
            t += 90;
            assert!(s.get(&a.token, t).is_some(), "alive at {t}");
        }
        assert!(s.get(&a.token, 1000).is_none(), "absolute lifetime");

        let b = s.create(Some("g".into()), 0);
        assert!(s.get(&b.token, 99).is_some());
        assert!(s.get(&b.token, 199).is_none(), "idle lifetime");

        let anon = s.create(None, 0);
        assert!(s.get(&anon.token, 49).is_some());
        assert!(s.get(&anon.token, 50).is_none(), "anonymous lifetime");
    }

    #[test]
    fn full_store_evicts_anonymous_sessions_first() {
        let s = SessionStore::new(small());
        let signed = s.create(Some("g".into()), 0);
        let _anon1 = s.create(None, 1);
        let _anon2 = s.create(None, 2);
        // Full (3). Three more anonymous ones must never push out the signed-in one.
        for t in 3..6 {
            s.create(None, t);
            assert!(s.len() <= 3);
        }
        assert!(s.get(&signed.token, 10).is_some());
    }
}
