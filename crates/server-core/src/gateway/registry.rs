//! Live sessions by agent identity. A second session for one identity
//! supersedes the first: the old one is told to go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

struct Entry {
    session: u64,
    kick: oneshot::Sender<()>,
}

#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

/// A registered session: its number and the signal that it was superseded.
pub struct Registration {
    pub session: u64,
    pub superseded: oneshot::Receiver<()>,
}

impl Registry {
    /// Registers a session for `agent_id`, superseding any previous one.
    pub fn register(&self, agent_id: &str) -> Registration {
        let session = self.next.fetch_add(1, Ordering::Relaxed);
        let (kick, superseded) = oneshot::channel();
        let old = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(agent_id.to_string(), Entry { session, kick });
        if let Some(old) = old {
            let _ = old.kick.send(());
        }
        Registration {
            session,
            superseded,
        }
    }

    /// Removes `session` if it is still the registered one for `agent_id`.
    pub fn unregister(&self, agent_id: &str, session: u64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(agent_id).is_some_and(|e| e.session == session) {
            map.remove(agent_id);
        }
    }

    pub fn is_online(&self, agent_id: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(agent_id)
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_session_supersedes_the_first_and_late_unregister_is_ignored() {
        let r = Registry::default();
        let mut first = r.register("a");
        assert!(first.superseded.try_recv().is_err(), "not superseded yet");
        let second = r.register("a");
        assert_eq!(first.superseded.try_recv(), Ok(()));
        // The superseded session ending must not remove the new one.
        r.unregister("a", first.session);
        assert!(r.is_online("a"));
        r.unregister("a", second.session);
        assert!(!r.is_online("a"));
        assert!(r.is_empty());
    }
}
