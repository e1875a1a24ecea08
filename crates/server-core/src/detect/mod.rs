//! The detection pipeline on the server: event ingestion (called by the
//! gateway), the detection runtime (rule engine over stored events, alerts
//! into the store and the outputs), spool health, retention.
//!
//! # Flow
//!
//! ```text
//! gateway: Events ─ validate ─> store.ingest_events() (one transaction:
//!          de-dup by high-water mark, insert, raise mark) ─> EventsAck{up_to}
//!                                    │ notify
//! runtime: store.events_after(cursor) ─> Engine::process ─> whitelist ─>
//!          store.insert_alert() (de-dup) ─> outputs (webhook, syslog)
//!          cursor saved after each batch (settings key `detection.cursor`)
//! ```
//!
//! # What a restart loses (engine state is in memory)
//!
//! The runtime resumes at its saved cursor, so every stored event is
//! evaluated once. At start (and when thresholds change) it rebuilds the
//! correlation state by replaying, without alerting, the events received in
//! the last [`runtime::WARMUP`] before the cursor (at most
//! [`runtime::WARMUP_MAX_EVENTS`]); this covers every built-in window except
//! `first_seen` (ward-login-004, 90 days), whose memory of sources older
//! than the warm-up is lost: an account's first login after a restart sets a
//! new baseline without an alert. Events evaluated but not yet covered by a
//! saved cursor when the server dies are evaluated again; the alerts they
//! raise again are merged into the stored ones by the store's de-dup key
//! (same rule, asset and group, overlapping window), so no duplicate alert
//! and no second output delivery results.

pub mod actions;
pub mod alerts;
pub mod ingest;
pub mod rule_files;
pub mod rulebook;
pub mod runtime;
pub mod settings;
pub mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use ward_store::{IngestOutcome, RuleSource, SpoolStats, WhitelistEntry};

use crate::outputs::{Outputs, Tuning};
use crate::state::AppState;
use rule_files::RuleFile;
use settings::{DetectionSettings, OutputSettings};

/// Counters for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct DetectStats {
    pub events_stored: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_evaluated: AtomicU64,
    pub alerts_created: AtomicU64,
    pub alerts_merged: AtomicU64,
    pub alerts_whitelisted: AtomicU64,
}

impl DetectStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// The detection pipeline's shared state (a field of `AppState`).
pub struct DetectHandle {
    /// Signalled after events are stored.
    new_events: Notify,
    /// Latest spool stats per asset, not yet written.
    spool: Mutex<HashMap<String, SpoolStats>>,
    /// Current detection settings (the runtime rebuilds its engine on change).
    settings: watch::Sender<DetectionSettings>,
    /// Current output settings.
    outputs: watch::Sender<OutputSettings>,
    /// Whitelist entries, reloaded by the API after each change.
    whitelist: RwLock<Vec<WhitelistEntry>>,
    /// Rule files of `rules_dir`, read at start.
    added_rules: RwLock<Arc<Vec<RuleFile>>>,
    pub stats: DetectStats,
    /// Output queues, set once the runtime starts.
    outputs_queues: Mutex<Option<Arc<Outputs>>>,
    /// Imported rule files (the runtime rebuilds its engine on change).
    imported: watch::Sender<Arc<Vec<RuleSource>>>,
    /// The report of the rule book the runtime runs.
    book: RwLock<Arc<Vec<rulebook::RuleReport>>>,
}

impl Default for DetectHandle {
    fn default() -> Self {
        DetectHandle {
            new_events: Notify::new(),
            spool: Mutex::default(),
            settings: watch::channel(DetectionSettings::default()).0,
            outputs: watch::channel(OutputSettings::default()).0,
            whitelist: RwLock::default(),
            added_rules: RwLock::default(),
            stats: DetectStats::default(),
            outputs_queues: Mutex::default(),
            imported: watch::channel(Arc::new(Vec::new())).0,
            book: RwLock::default(),
        }
    }
}

impl DetectHandle {
    /// A batch was stored (called by the gateway after the commit).
    pub fn ingested(&self, out: &IngestOutcome) {
        DetectStats::add(&self.stats.events_stored, out.stored);
        DetectStats::add(&self.stats.events_duplicate, out.duplicates);
        if out.stored > 0 {
            self.new_events.notify_one();
        }
    }

    /// An agent reported its spool health (written in batches).
    pub fn spool_stats(&self, asset_id: &str, depth: u64, dropped_total: u64, at: i64) {
        let mut m = self.spool.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(
            asset_id.to_string(),
            SpoolStats {
                depth,
                dropped_total,
                at,
            },
        );
    }

    fn take_spool(&self) -> Vec<(String, SpoolStats)> {
        let mut m = self.spool.lock().unwrap_or_else(|e| e.into_inner());
        m.drain().collect()
    }

    pub fn settings(&self) -> DetectionSettings {
        self.settings.borrow().clone()
    }

    pub fn set_settings(&self, s: DetectionSettings) {
        self.settings.send_replace(s);
    }

    pub fn output_settings(&self) -> OutputSettings {
        self.outputs.borrow().clone()
    }

    pub fn set_output_settings(&self, s: OutputSettings) {
        self.outputs.send_replace(s);
    }

    /// The imported rule files (kept in the store).
    pub fn imported(&self) -> Arc<Vec<RuleSource>> {
        self.imported.borrow().clone()
    }

    /// Replaces the imported rule files (the runtime rebuilds its engine).
    pub fn set_imported(&self, sources: Vec<RuleSource>) {
        self.imported.send_replace(Arc::new(sources));
    }

    /// Every rule of the running rule book: loaded, or why not.
    pub fn rule_report(&self) -> Arc<Vec<rulebook::RuleReport>> {
        self.book.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_rule_report(&self, r: Vec<rulebook::RuleReport>) {
        *self.book.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(r);
    }

    /// The rule files of `rules_dir`, read at start.
    pub fn added_rules(&self) -> Arc<Vec<RuleFile>> {
        self.added_rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every rule file added to the built-in rules: those of `rules_dir`,
    /// then the imported ones.
    pub fn added(&self) -> Vec<RuleFile> {
        let mut v = self.added_rules().as_ref().clone();
        v.extend(rulebook::imported_files(&self.imported()));
        v
    }

    /// Replaces the rule files of `rules_dir` and logs the rules of them
    /// that do not compile (they are left out).
    pub fn set_added_rules(&self, files: Vec<RuleFile>) {
        *self.added_rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(files);
        match rulebook::build(&self.added(), &self.settings().rules) {
            Ok(book) => {
                for w in &book.errors {
                    tracing::warn!(error = %w, "added rule left out");
                }
                tracing::info!(
                    rules = book.set.len(),
                    added_files = self.added_rules().len(),
                    left_out = book.errors.len(),
                    "detection rules compiled"
                );
                // The runtime replaces it with the book it runs.
                self.set_rule_report(book.rules);
            }
            Err(e) => tracing::error!(error = %e, "detection rules do not compile"),
        }
    }

    pub fn whitelist(&self) -> Vec<WhitelistEntry> {
        self.whitelist
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_whitelist(&self, w: Vec<WhitelistEntry>) {
        *self.whitelist.write().unwrap_or_else(|e| e.into_inner()) = w;
    }

    /// `(name, help, value)` of the pipeline's Prometheus counters.
    pub fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let s = &self.stats;
        let mut v = vec![
            (
                "ward_events_stored_total",
                "Host events stored.",
                DetectStats::get(&s.events_stored),
            ),
            (
                "ward_events_duplicate_total",
                "Host events dropped as already stored (re-sent after a lost ack).",
                DetectStats::get(&s.events_duplicate),
            ),
            (
                "ward_events_evaluated_total",
                "Host events evaluated by the detection runtime.",
                DetectStats::get(&s.events_evaluated),
            ),
            (
                "ward_alerts_created_total",
                "Alerts raised (not whitelisted).",
                DetectStats::get(&s.alerts_created),
            ),
            (
                "ward_alerts_whitelisted_total",
                "Alerts stored as whitelisted.",
                DetectStats::get(&s.alerts_whitelisted),
            ),
            (
                "ward_alerts_merged_total",
                "Alerts raised again and merged into a stored one.",
                DetectStats::get(&s.alerts_merged),
            ),
        ];
        if let Some(o) = self.outputs() {
            use crate::outputs::OutputStats as O;
            for (stats, sent, failed, dropped) in [
                (
                    &o.webhook_stats,
                    "ward_webhook_sent_total",
                    "ward_webhook_given_up_total",
                    "ward_webhook_dropped_total",
                ),
                (
                    &o.syslog_stats,
                    "ward_syslog_sent_total",
                    "ward_syslog_given_up_total",
                    "ward_syslog_dropped_total",
                ),
            ] {
                v.push((
                    sent,
                    "Alerts delivered by this output.",
                    O::get(&stats.sent),
                ));
                v.push((
                    failed,
                    "Alerts this output gave up on after its retries.",
                    O::get(&stats.given_up),
                ));
                v.push((
                    dropped,
                    "Alerts not queued for this output because its queue was full.",
                    O::get(&stats.dropped),
                ));
            }
        }
        v
    }

    /// The output queues (None before the runtime started).
    pub fn outputs(&self) -> Option<Arc<Outputs>> {
        self.outputs_queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Loads settings and the whitelist from the store, takes the added rule
/// files, then starts the detection runtime, the output workers and the
/// spool-stats flusher.
pub async fn spawn(
    st: Arc<AppState>,
    tuning: Tuning,
    rules: Vec<RuleFile>,
    shutdown: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, ward_store::StoreError> {
    let d = &st.detect;
    d.set_settings(settings::load(&*st.store, settings::DETECTION_KEY).await?);
    let revision = st.store.rule_sources_revision().await?;
    d.set_imported(st.store.list_rule_sources().await?);
    d.set_added_rules(rules);
    d.set_output_settings(settings::load(&*st.store, settings::OUTPUTS_KEY).await?);
    d.set_whitelist(st.store.list_whitelist().await?);
    let (outputs, mut tasks) = Outputs::spawn(d.outputs.subscribe(), tuning, shutdown.clone());
    *d.outputs_queues.lock().unwrap_or_else(|e| e.into_inner()) = Some(outputs.clone());
    tasks.push(tokio::spawn(runtime::run(
        st.clone(),
        outputs,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(rules_poller(
        st.clone(),
        revision,
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(spool_flusher(st, shutdown)));
    Ok(tasks)
}

/// How often the imported rules' revision is checked (a CLI import
/// writes the store while the server runs).
const RULES_POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

async fn rules_poller(st: Arc<AppState>, mut revision: i64, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RULES_POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = match st.store.rule_sources_revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "reading the imported rules' revision failed");
                continue;
            }
        };
        if now == revision {
            continue;
        }
        match st.store.list_rule_sources().await {
            Ok(sources) => {
                tracing::info!(
                    revision = now,
                    files = sources.len(),
                    "imported rules changed"
                );
                st.detect.set_imported(sources);
                revision = now;
            }
            Err(e) => tracing::error!(error = %e, "reading imported rules failed"),
        }
    }
}

/// How often pending spool stats are written.
const SPOOL_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

async fn spool_flusher(st: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SPOOL_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stop = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        let batch = st.detect.take_spool();
        if !batch.is_empty() {
            if let Err(e) = st.store.set_spool_stats(&batch).await {
                tracing::error!(count = batch.len(), error = %e, "writing spool stats failed");
            }
        }
        if stop {
            return;
        }
    }
}
