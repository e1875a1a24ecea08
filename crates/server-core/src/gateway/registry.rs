//! Live sessions by agent identity.
//!
//! A second session for one identity supersedes the first: the old one is
//! told to go (an agent that restarts, or reconnects after a network blip,
//! leaves a half-dead session behind). Every session also carries its agent
//! process's random `instance` id. When a session of instance B superseded
//! instance A, and A comes back while B is still live, the two are two
//! running copies of one install fighting over the identity: [`register`]
//! answers [`Registered::Conflict`] instead of kicking B again, and the
//! gateway gives the newcomer an identity of its own. A restarted agent
//! never comes back with its old instance id, so restarts are not conflicts.
//!
//! [`register`]: Registry::register

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Notify};

/// How long "B superseded A" is remembered for conflict detection.
pub const CONFLICT_WINDOW_MS: i64 = 10 * 60 * 1000;

struct Entry {
    session: u64,
    kick: oneshot::Sender<()>,
    instance: Option<String>,
    /// The instance this session's agent pushed out, and when.
    displaced: Option<(String, i64)>,
    /// Wakes the session to look for pending commands.
    poke: Arc<Notify>,
    /// The agent understands signed commands.
    commands: bool,
}

#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

/// A registered session: its number, the signal that it was superseded,
/// and the signal that commands are waiting for it.
pub struct Registration {
    pub session: u64,
    pub superseded: oneshot::Receiver<()>,
    pub poke: Arc<Notify>,
}

/// What [`Registry::register`] decided.
pub enum Registered {
    Ok(Registration),
    /// Another live agent process (`live_instance`) holds this identity and
    /// displaced this one before: two copies of one install.
    Conflict {
        live_instance: String,
    },
}

/// What the session table knows about a live agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAgent {
    pub commands: bool,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session for `agent_id` (agent process `instance`),
    /// superseding any previous one, unless it is a conflict (see the
    /// module docs).
    pub fn register(
        &self,
        agent_id: &str,
        instance: Option<&str>,
        commands: bool,
        now: i64,
    ) -> Registered {
        let mut map = self.lock();
        let mut displaced = None;
        if let Some(old) = map.get(agent_id) {
            match (instance, old.instance.as_deref()) {
                (Some(new), Some(live)) if new != live => {
                    let came_back = old
                        .displaced
                        .as_ref()
                        .is_some_and(|(who, at)| who == new && now - at < CONFLICT_WINDOW_MS);
                    if came_back {
                        return Registered::Conflict {
                            live_instance: live.to_string(),
                        };
                    }
                    displaced = Some((live.to_string(), now));
                }
                // The same process reconnecting keeps what it knew.
                (Some(_), Some(_)) => displaced = old.displaced.clone(),
                _ => {}
            }
        }
        let session = self.next.fetch_add(1, Ordering::Relaxed);
        let (kick, superseded) = oneshot::channel();
        let poke = Arc::new(Notify::new());
        let old = map.insert(
            agent_id.to_string(),
            Entry {
                session,
                kick,
                instance: instance.map(str::to_string),
                displaced,
                poke: poke.clone(),
                commands,
            },
        );
        if let Some(old) = old {
            let _ = old.kick.send(());
        }
        Registered::Ok(Registration {
            session,
            superseded,
            poke,
        })
    }

    /// Removes `session` if it is still the registered one for `agent_id`.
    pub fn unregister(&self, agent_id: &str, session: u64) {
        let mut map = self.lock();
        if map.get(agent_id).is_some_and(|e| e.session == session) {
            map.remove(agent_id);
        }
    }

    pub fn is_online(&self, agent_id: &str) -> bool {
        self.lock().contains_key(agent_id)
    }

    /// The live session of `agent_id`, if any.
    pub fn live(&self, agent_id: &str) -> Option<LiveAgent> {
        self.lock().get(agent_id).map(|e| LiveAgent {
            commands: e.commands,
        })
    }

    /// Wakes the live session of `agent_id` to send its pending commands;
    /// false when it has none.
    pub fn poke(&self, agent_id: &str) -> bool {
        match self.lock().get(agent_id) {
            Some(e) => {
                e.poke.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: Registered) -> Registration {
        match r {
            Registered::Ok(r) => r,
            Registered::Conflict { live_instance } => panic!("conflict with {live_instance}"),
        }
    }

    #[test]
    fn second_session_supersedes_the_first_and_late_unregister_is_ignored() {
        let r = Registry::default();
        let mut first = ok(r.register("a", None, true, 0));
        assert!(first.superseded.try_recv().is_err(), "not superseded yet");
        let second = ok(r.register("a", None, true, 0));
        assert_eq!(first.superseded.try_recv(), Ok(()));
        // The superseded session ending must not remove the new one.
        r.unregister("a", first.session);
        assert!(r.is_online("a"));
        r.unregister("a", second.session);
        assert!(!r.is_online("a"));
        assert!(r.is_empty());
    }

    #[test]
    fn a_displaced_instance_coming_back_is_a_conflict() {
        let r = Registry::default();
        let mut a = ok(r.register("id", Some("A"), true, 1_000));
        // B pushes A out (could be a restart: not a conflict yet).
        let mut b = ok(r.register("id", Some("B"), true, 2_000));
        assert_eq!(a.superseded.try_recv(), Ok(()));
        // A is still alive and returns: two copies.
        match r.register("id", Some("A"), true, 3_000) {
            Registered::Conflict { live_instance } => assert_eq!(live_instance, "B"),
            Registered::Ok(_) => panic!("expected a conflict"),
        }
        assert!(b.superseded.try_recv().is_err(), "B is not kicked");
        // B reconnecting (same process) is fine and keeps the memory.
        let _b2 = ok(r.register("id", Some("B"), true, 4_000));
        assert!(matches!(
            r.register("id", Some("A"), true, 5_000),
            Registered::Conflict { .. }
        ));
    }

    #[test]
    fn restarts_and_old_memories_are_not_conflicts() {
        let r = Registry::default();
        let _a = ok(r.register("id", Some("A"), true, 0));
        let _b = ok(r.register("id", Some("B"), true, 10));
        // A third process (the agent restarted again) supersedes B.
        let c = ok(r.register("id", Some("C"), true, 20));
        // A never was displaced by C: not a conflict (C displaced B).
        let _a2 = ok(r.register("id", Some("A"), true, 30));
        r.unregister("id", c.session);
        // After the window, a displaced instance is welcome again.
        let r = Registry::default();
        let _a = ok(r.register("id", Some("A"), true, 0));
        let _b = ok(r.register("id", Some("B"), true, 10));
        let _a2 = ok(r.register("id", Some("A"), true, 10 + CONFLICT_WINDOW_MS));
        // Sessions without an instance never conflict.
        let _n = ok(r.register("id", None, true, 10 + CONFLICT_WINDOW_MS));
    }

    #[test]
    fn poke_wakes_the_live_session_only() {
        let r = Registry::default();
        assert!(!r.poke("x"));
        let reg = ok(r.register("x", Some("A"), false, 0));
        assert!(r.poke("x"));
        // The permit is stored: the session sees it when it next waits.
        let notified = reg.poke.notified();
        assert_ready(notified);
        assert_eq!(r.live("x"), Some(LiveAgent { commands: false }));
    }

    /// Polls a future once with a no-op waker and asserts it was ready.
    fn assert_ready<F: std::future::Future>(f: F) {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        assert!(f.as_mut().poll(&mut cx).is_ready(), "the poke was stored");
    }
}
