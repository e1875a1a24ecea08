//! The state machine.

use std::collections::HashMap;

use ward_proto::Policy;
use ward_store::{AssetLiveness, Status, StatusChange, StatusReason};

/// What the engine knows about one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetState {
    pub status: Status,
    pub reason: Option<StatusReason>,
    /// When the current status began.
    pub since: i64,
    /// Last sign of life (session start or any frame).
    pub last_seen: Option<i64>,
    /// Sessions currently open with this identity.
    pub live_sessions: u32,
    /// `last_seen` changed since the last [`Engine::take_seen`].
    seen_dirty: bool,
}

impl AssetState {
    fn new(
        status: Status,
        reason: Option<StatusReason>,
        since: i64,
        last_seen: Option<i64>,
    ) -> Self {
        AssetState {
            status,
            reason,
            since,
            last_seen,
            live_sessions: 0,
            seen_dirty: false,
        }
    }

    fn is_uninstalled(&self) -> bool {
        self.reason == Some(StatusReason::Uninstalled)
    }

    /// Protected or updating: an asset that can go offline.
    fn is_up(&self) -> bool {
        self.status != Status::Unprotected
    }
}

/// A status change to persist (and append to the asset's timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub asset_id: String,
    pub status: Status,
    pub reason: Option<StatusReason>,
    /// When the new status began.
    pub at: i64,
    pub detail: Option<String>,
}

impl Transition {
    /// The store's form of this transition.
    pub fn to_change(&self) -> StatusChange {
        StatusChange {
            status: self.status,
            reason: self.reason,
            at: self.at,
            detail: self.detail.clone(),
        }
    }
}

/// Why a session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The asset was uninstalled; its identity is dead.
    Uninstalled,
}

/// The status engine. Not thread-safe by itself: the server keeps it behind
/// one lock.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    /// No asset goes offline before `grace_from + offline_after`.
    grace_from: i64,
    assets: HashMap<String, AssetState>,
    /// Assets whose `last_seen` changed since the last `take_seen`.
    dirty: Vec<String>,
}

impl Engine {
    /// An engine for a server that started at `started_at`.
    pub fn new(policy: Policy, started_at: i64) -> Engine {
        Engine {
            policy,
            grace_from: started_at,
            assets: HashMap::new(),
            dirty: Vec::new(),
        }
    }

    /// Loads the persisted liveness of every asset (server start).
    pub fn load(&mut self, liveness: impl IntoIterator<Item = AssetLiveness>) {
        for l in liveness {
            self.assets.insert(
                l.asset_id,
                AssetState::new(l.status, l.status_reason, l.status_since, l.last_seen),
            );
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn get(&self, asset_id: &str) -> Option<&AssetState> {
        self.assets.get(asset_id)
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Adds an asset the engine does not know yet (a new enrollment). A known
    /// asset keeps the engine's state, which is never older than the store's.
    pub fn add(
        &mut self,
        asset_id: &str,
        status: Status,
        reason: Option<StatusReason>,
        since: i64,
        last_seen: Option<i64>,
    ) {
        self.assets
            .entry(asset_id.to_string())
            .or_insert_with(|| AssetState::new(status, reason, since, last_seen));
    }

    /// A session with this identity started: protected at once.
    pub fn session_started(
        &mut self,
        asset_id: &str,
        now: i64,
    ) -> Result<Option<Transition>, Refusal> {
        let a = self.assets.entry(asset_id.to_string()).or_insert_with(|| {
            AssetState::new(
                Status::Unprotected,
                Some(StatusReason::NeverConnected),
                now,
                None,
            )
        });
        if a.is_uninstalled() {
            return Err(Refusal::Uninstalled);
        }
        a.live_sessions += 1;
        bump_seen(a, now, &mut self.dirty, asset_id);
        Ok(protect(a, asset_id, now, "session started"))
    }

    /// Any frame from a live session (keepalive, report, ping…).
    pub fn touch(&mut self, asset_id: &str, now: i64) -> Option<Transition> {
        let a = self.assets.get_mut(asset_id)?;
        if a.is_uninstalled() || a.live_sessions == 0 {
            return None;
        }
        bump_seen(a, now, &mut self.dirty, asset_id);
        protect(a, asset_id, now, "agent heard from again")
    }

    /// A session ended. Never a transition by itself: the asset goes offline
    /// only when nothing is heard for the offline window.
    pub fn session_ended(&mut self, asset_id: &str) {
        if let Some(a) = self.assets.get_mut(asset_id) {
            a.live_sessions = a.live_sessions.saturating_sub(1);
        }
    }

    /// The asset was uninstalled (terminal).
    pub fn uninstalled(&mut self, asset_id: &str, now: i64) -> Option<Transition> {
        let a = self.assets.entry(asset_id.to_string()).or_insert_with(|| {
            AssetState::new(
                Status::Unprotected,
                Some(StatusReason::NeverConnected),
                now,
                None,
            )
        });
        if a.is_uninstalled() {
            return None;
        }
        Some(set(
            a,
            asset_id,
            Status::Unprotected,
            Some(StatusReason::Uninstalled),
            now,
            "asset uninstalled".into(),
        ))
    }

    /// New intervals. When the offline window shrinks, every asset gets a
    /// full new window from `now` (agents learn the new keepalive interval
    /// only when it reaches them).
    pub fn set_policy(&mut self, policy: Policy, now: i64) {
        if policy.offline_after_ms() < self.policy.offline_after_ms() {
            self.grace_from = self.grace_from.max(now);
        }
        self.policy = policy;
    }

    /// Declares offline every asset not heard from for longer than the
    /// offline window. Call it every second or so.
    pub fn sweep(&mut self, now: i64) -> Vec<Transition> {
        let window = self.policy.offline_after_ms();
        if now - self.grace_from <= window {
            return Vec::new();
        }
        let secs = window / 1000;
        let mut out = Vec::new();
        for (id, a) in &mut self.assets {
            if !a.is_up() {
                continue;
            }
            let seen = a.last_seen.unwrap_or(a.since);
            if now - seen.max(self.grace_from) > window {
                out.push(set(
                    a,
                    id,
                    Status::Unprotected,
                    Some(StatusReason::Offline),
                    seen,
                    format!("no keepalive for {secs} s"),
                ));
            }
        }
        out
    }

    /// `(asset_id, last_seen)` of every asset seen since the previous call,
    /// for batched writes to the store.
    pub fn take_seen(&mut self) -> Vec<(String, i64)> {
        let mut out = Vec::with_capacity(self.dirty.len());
        for id in self.dirty.drain(..) {
            if let Some(a) = self.assets.get_mut(&id) {
                if a.seen_dirty {
                    a.seen_dirty = false;
                    if let Some(seen) = a.last_seen {
                        out.push((id, seen));
                    }
                }
            }
        }
        out
    }

    /// Number of assets per (status, reason).
    pub fn counts(&self) -> Vec<(Status, Option<StatusReason>, u64)> {
        let mut map: HashMap<(Status, Option<StatusReason>), u64> = HashMap::new();
        for a in self.assets.values() {
            *map.entry((a.status, a.reason)).or_default() += 1;
        }
        let mut v: Vec<_> = map.into_iter().map(|((s, r), n)| (s, r, n)).collect();
        v.sort_by_key(|(s, r, _)| (s.as_str(), r.map(|r| r.as_str())));
        v
    }
}

/// Moves `last_seen` forward (never back) and marks it for the next flush.
fn bump_seen(a: &mut AssetState, now: i64, dirty: &mut Vec<String>, id: &str) {
    if a.last_seen.is_none_or(|s| now > s) {
        a.last_seen = Some(now);
        if !a.seen_dirty {
            a.seen_dirty = true;
            dirty.push(id.to_string());
        }
    }
}

fn protect(a: &mut AssetState, id: &str, now: i64, why: &str) -> Option<Transition> {
    if a.status == Status::Protected || a.status == Status::Updating {
        return None;
    }
    Some(set(a, id, Status::Protected, None, now, why.to_string()))
}

fn set(
    a: &mut AssetState,
    id: &str,
    status: Status,
    reason: Option<StatusReason>,
    at: i64,
    detail: String,
) -> Transition {
    a.status = status;
    a.reason = reason;
    a.since = at;
    Transition {
        asset_id: id.to_string(),
        status,
        reason,
        at,
        detail: Some(detail),
    }
}
