//! The state every handler and task shares.
//!
//! The status engine sits behind one lock. Every transition it produces is
//! queued to the status writer *while the lock is held*, so transitions reach
//! the store in the order the engine made them.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};
use ward_config::Limits;
use ward_proto::Policy;
use ward_status::{Engine, Refusal, Transition};
use ward_store::{Asset, Store};

use crate::download::PackageCache;
use crate::gateway::registry::Registry;
use crate::metrics::Metrics;
use crate::ratelimit::FailureLimiter;

/// What agents and installers are told about this server.
#[derive(Debug, Clone)]
pub struct PublicInfo {
    /// The first advertised URL (used in install commands).
    pub url: String,
    /// Every advertised URL.
    pub urls: Vec<String>,
    /// Pin of the server key.
    pub pin: String,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    engine: Mutex<Engine>,
    status_tx: mpsc::UnboundedSender<Transition>,
    policy: watch::Sender<Policy>,
    pub registry: Registry,
    pub metrics: Metrics,
    pub limits: Limits,
    pub public: PublicInfo,
    pub packages: PackageCache,
    /// Signed release metadata and release files.
    pub releases: crate::releases::Releases,
    pub enroll_limiter: FailureLimiter,
    pub shutdown: watch::Receiver<bool>,
    /// Console password, sessions and sign-in limiter.
    pub console: ward_console::ConsoleAuth,
    /// Event ingestion, detection runtime, outputs (issue 6).
    pub detect: crate::detect::DetectHandle,
    /// Command key, tamper-protection settings, re-identification limits.
    pub lifecycle: crate::lifecycle::Lifecycle,
}

/// The receiving ends the runtime tasks own.
pub struct StateChannels {
    pub status_rx: mpsc::UnboundedReceiver<Transition>,
}

pub struct StateParts {
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    pub limits: Limits,
    pub public: PublicInfo,
    pub packages: PackageCache,
    pub releases: crate::releases::Releases,
    pub shutdown: watch::Receiver<bool>,
    pub console: ward_console::ConsoleAuth,
    pub lifecycle: crate::lifecycle::Lifecycle,
}

impl AppState {
    pub fn new(parts: StateParts) -> (Arc<AppState>, StateChannels) {
        let (status_tx, status_rx) = mpsc::unbounded_channel();
        let (policy, _) = watch::channel(parts.engine.policy());
        let state = AppState {
            store: parts.store,
            engine: Mutex::new(parts.engine),
            status_tx,
            policy,
            registry: Registry::default(),
            metrics: Metrics::default(),
            limits: parts.limits,
            public: parts.public,
            packages: parts.packages,
            releases: parts.releases,
            enroll_limiter: FailureLimiter::new(20, 60_000),
            shutdown: parts.shutdown,
            console: parts.console,
            detect: crate::detect::DetectHandle::default(),
            lifecycle: parts.lifecycle,
        };
        (Arc::new(state), StateChannels { status_rx })
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        // A panic while holding the lock cannot leave the engine's maps
        // half-updated in a way that matters more than stopping would.
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, t: Transition) {
        tracing::info!(
            asset = %t.asset_id,
            status = t.status.as_str(),
            reason = t.reason.map(|r| r.as_str()).unwrap_or(""),
            "status change"
        );
        // The writer only stops at shutdown; a lost transition then is
        // recomputed from the store at the next start.
        let _ = self.status_tx.send(t);
    }

    /// The current agent policy.
    pub fn policy(&self) -> Policy {
        *self.policy.borrow()
    }

    /// Receiver of policy changes, for a session.
    pub fn subscribe_policy(&self) -> watch::Receiver<Policy> {
        self.policy.subscribe()
    }

    /// Applies a new policy: engine window, then a push to every live session.
    pub fn set_policy(&self, policy: Policy, now: i64) {
        self.engine().set_policy(policy, now);
        self.policy.send_replace(policy);
    }

    pub fn session_started(&self, asset_id: &str, now: i64) -> Result<(), Refusal> {
        let mut e = self.engine();
        if let Some(t) = e.session_started(asset_id, now)? {
            self.emit(t);
        }
        Ok(())
    }

    pub fn touch(&self, asset_id: &str, now: i64) {
        let mut e = self.engine();
        if let Some(t) = e.touch(asset_id, now) {
            self.emit(t);
        }
    }

    pub fn session_ended(&self, asset_id: &str) {
        self.engine().session_ended(asset_id);
    }

    /// The asset was uninstalled (terminal: its credential stops working).
    pub fn asset_uninstalled(&self, asset_id: &str, now: i64) {
        let mut e = self.engine();
        if let Some(t) = e.uninstalled(asset_id, now) {
            self.emit(t);
        }
    }

    /// A newly enrolled (or reclaimed) asset.
    pub fn asset_enrolled(&self, a: &Asset) {
        self.engine().add(
            &a.id,
            a.status,
            a.status_reason,
            a.status_since,
            a.last_seen,
        );
    }

    /// Declares offline what has been silent too long.
    pub fn sweep(&self, now: i64) {
        let mut e = self.engine();
        for t in e.sweep(now) {
            self.emit(t);
        }
    }

    /// `last_seen` values to flush to the store.
    pub fn take_seen(&self) -> Vec<(String, i64)> {
        self.engine().take_seen()
    }

    /// The engine's view of one asset: (status, reason, since, last_seen).
    pub fn live_status(
        &self,
        asset_id: &str,
    ) -> Option<(
        ward_store::Status,
        Option<ward_store::StatusReason>,
        i64,
        Option<i64>,
    )> {
        self.engine()
            .get(asset_id)
            .map(|a| (a.status, a.reason, a.since, a.last_seen))
    }

    /// Asset counts per (status, reason).
    pub fn status_counts(
        &self,
    ) -> Vec<(ward_store::Status, Option<ward_store::StatusReason>, u64)> {
        self.engine().counts()
    }
}
