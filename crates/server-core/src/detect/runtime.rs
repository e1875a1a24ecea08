//! The detection runtime: one task that feeds stored events, in ingest
//! order, through a `ward_rules::Engine` and stores what it raises.
//! See the module docs of [`crate::detect`] for restart semantics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::{interval, MissedTickBehavior};
use ward_rules::{Engine, RuleSetBuilder};
use ward_store::{AlertInsert, Store, StoreError, StoredEvent, WhitelistEntry};

use super::alerts::{to_new_alert, whitelisted};
use super::rule_files::RuleFile;
use super::settings::DetectionSettings;
use super::view::AlertView;
use super::DetectStats;
use crate::clock::now_ms;
use crate::outputs::{pause, Outputs};
use crate::state::AppState;

/// Settings key of the runtime's cursor (`{"seq": N}`: every event with
/// `seq <= N` has been evaluated).
pub const CURSOR_KEY: &str = "detection.cursor";
/// How far back (by reception time) the engine state is rebuilt at start.
pub const WARMUP: Duration = Duration::from_secs(3600);
/// Most events replayed to rebuild the engine state.
pub const WARMUP_MAX_EVENTS: i64 = 200_000;
/// Events read per store query.
const BATCH: u32 = 1000;
/// Poll interval when no notification comes (e.g. a CLI process wrote).
const TICK: Duration = Duration::from_secs(1);
/// How often the cursor is saved while events flow (and at shutdown).
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often retention and engine expiry run.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);
/// Wait before retrying a failed store write.
const RETRY: Duration = Duration::from_secs(1);

/// The engine for `settings` and the added rule files (of `rules_dir` and
/// imported), with the report of every rule (built-in and added rules
/// without overrides when the stored overrides no longer compile, which the
/// API prevents).
pub fn build_engine(
    settings: &DetectionSettings,
    added: &[RuleFile],
) -> (Engine, Vec<super::rulebook::RuleReport>) {
    let book = super::rulebook::build(added, &settings.rules).unwrap_or_else(|e| {
        tracing::error!(error = %e, "detection settings do not compile; using the defaults");
        super::rulebook::build(added, &Default::default()).unwrap_or_else(|_| {
            super::rulebook::RuleBook {
                set: RuleSetBuilder::with_builtin()
                    .build()
                    .unwrap_or_else(|_| ward_rules::RuleSet::default()),
                rules: Vec::new(),
                errors: Vec::new(),
            }
        })
    });
    let (loaded, not_loaded) = book.imported_counts();
    tracing::info!(
        rules = book.set.len(),
        added_left_out = book.errors.len(),
        imported_loaded = loaded,
        imported_not_loaded = not_loaded,
        "rule book built"
    );
    (Engine::new(book.set), book.rules)
}

async fn load_cursor(store: &dyn Store) -> Result<i64, StoreError> {
    Ok(store
        .get_setting(CURSOR_KEY)
        .await?
        .and_then(|v| v.get("seq").and_then(|s| s.as_i64()))
        .unwrap_or(0))
}

async fn save_cursor(store: &dyn Store, seq: i64) {
    if let Err(e) = store
        .set_setting(CURSOR_KEY, &serde_json::json!({ "seq": seq }))
        .await
    {
        tracing::error!(error = %e, "saving the detection cursor failed");
    }
}

/// Replays recent events up to `cursor` into `engine`, discarding alerts
/// (they were raised when these events were first evaluated).
pub async fn warm_up(
    engine: &mut Engine,
    store: &dyn Store,
    cursor: i64,
) -> Result<u64, StoreError> {
    let horizon = now_ms() - WARMUP.as_millis() as i64;
    let mut at = cursor.saturating_sub(WARMUP_MAX_EVENTS).max(0);
    let mut n = 0u64;
    while at < cursor {
        let batch = store.events_after(at, BATCH).await?;
        let Some(last) = batch.last() else { break };
        let last_seq = last.seq;
        for e in batch.iter().take_while(|e| e.seq <= cursor) {
            if e.received_at >= horizon {
                let _ = engine.process(&e.event, now_ms());
                n += 1;
            }
        }
        at = last_seq;
    }
    Ok(n)
}

/// The runtime task.
pub async fn run(st: Arc<AppState>, outputs: Arc<Outputs>, mut shutdown: watch::Receiver<bool>) {
    let store = st.store.clone();
    let mut settings_rx = st.detect.settings.subscribe();
    let mut cursor = loop {
        match load_cursor(&*store).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!(error = %e, "reading the detection cursor failed");
                if !pause(RETRY, &mut shutdown).await {
                    return;
                }
            }
        }
    };
    let mut imported_rx = st.detect.imported.subscribe();
    imported_rx.mark_unchanged();
    let (mut engine, report) = build_engine(&settings_rx.borrow_and_update(), &st.detect.added());
    st.detect.set_rule_report(report);
    rebuild(&mut engine, &*store, cursor).await;
    let mut saved = cursor;
    let mut last_save = Instant::now();
    let mut housekeeping = Instant::now()
        .checked_sub(HOUSEKEEPING_EVERY)
        .unwrap_or_else(Instant::now);
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if !drain(&st, &mut engine, &mut cursor, &outputs, &mut shutdown).await {
            save_cursor(&*store, cursor).await;
            return;
        }
        if cursor != saved && last_save.elapsed() >= SAVE_EVERY {
            save_cursor(&*store, cursor).await;
            saved = cursor;
            last_save = Instant::now();
        }
        if housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
            housekeeping = Instant::now();
            retention(&*store, &st.detect.settings(), cursor).await;
            engine.expire(now_ms());
        }
        tokio::select! {
            _ = st.detect.new_events.notified() => {}
            _ = tick.tick() => {}
            changed = settings_rx.changed() => {
                if changed.is_ok() {
                    let (e, report) = build_engine(&settings_rx.borrow_and_update(), &st.detect.added());
                    engine = e;
                    st.detect.set_rule_report(report);
                    rebuild(&mut engine, &*store, cursor).await;
                    tracing::info!("detection settings changed; engine rebuilt");
                }
            }
            changed = imported_rx.changed() => {
                if changed.is_ok() {
                    imported_rx.mark_unchanged();
                    let (e, report) = build_engine(&settings_rx.borrow(), &st.detect.added());
                    engine = e;
                    st.detect.set_rule_report(report);
                    rebuild(&mut engine, &*store, cursor).await;
                    tracing::info!("imported rules changed; engine rebuilt");
                }
            }
            _ = shutdown.changed() => {
                if cursor != saved {
                    save_cursor(&*store, cursor).await;
                }
                return;
            }
        }
    }
}

async fn rebuild(engine: &mut Engine, store: &dyn Store, cursor: i64) {
    match warm_up(engine, store, cursor).await {
        Ok(n) => tracing::info!(events = n, cursor, "detection engine warmed up"),
        Err(e) => tracing::error!(error = %e, "warming up the detection engine failed"),
    }
}

async fn retention(store: &dyn Store, s: &DetectionSettings, cursor: i64) {
    let before = now_ms() - i64::from(s.event_retention_days) * 86_400_000;
    match store
        .prune_events(before, s.max_stored_events, cursor)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "event retention"),
        Err(e) => tracing::error!(error = %e, "event retention failed"),
    }
}

/// Evaluates every stored event after `cursor`. False when shutting down.
async fn drain(
    st: &AppState,
    engine: &mut Engine,
    cursor: &mut i64,
    outputs: &Outputs,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let batch = match st.store.events_after(*cursor, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "reading events for detection failed");
                return true;
            }
        };
        let Some(last) = batch.last() else {
            return true;
        };
        let last_seq = last.seq;
        let list = st.detect.whitelist();
        for e in &batch {
            for a in engine.process(&e.event, now_ms()) {
                if !persist(st, outputs, &a, e, &list, shutdown).await {
                    return false;
                }
            }
        }
        DetectStats::add(&st.detect.stats.events_evaluated, batch.len() as u64);
        *cursor = last_seq;
        if batch.len() < BATCH as usize {
            return true;
        }
    }
}

/// Stores one alert (retrying store failures) and queues it for the
/// outputs when it is new and not whitelisted. False when shutting down.
async fn persist(
    st: &AppState,
    outputs: &Outputs,
    a: &ward_rules::Alert,
    ev: &StoredEvent,
    list: &[WhitelistEntry],
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let wl = whitelisted(list, a, &ev.event);
    let new = to_new_alert(a, &ev.asset_id, wl.is_some(), now_ms());
    let stats = &st.detect.stats;
    loop {
        match st.store.insert_alert(&new).await {
            Ok(AlertInsert::Created(rec)) => {
                tracing::info!(
                    alert = rec.id,
                    rule = %rec.rule_id,
                    asset = %rec.asset_id,
                    severity = rec.severity.as_str(),
                    group = %rec.group_key,
                    whitelisted = wl.is_some(),
                    "alert raised"
                );
                if let Some(w) = wl {
                    DetectStats::add(&stats.alerts_whitelisted, 1);
                    tracing::debug!(alert = rec.id, whitelist = w.id, "alert whitelisted");
                } else {
                    DetectStats::add(&stats.alerts_created, 1);
                    let hostname = st
                        .store
                        .get_asset(&rec.asset_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|a| a.hostname);
                    outputs.enqueue(AlertView::new(rec, hostname));
                }
                return true;
            }
            Ok(AlertInsert::Merged(rec)) => {
                DetectStats::add(&stats.alerts_merged, 1);
                tracing::debug!(alert = rec.id, rule = %rec.rule_id, "alert raised again; merged");
                return true;
            }
            Err(StoreError::NotFound(what)) => {
                tracing::warn!(%what, rule = %a.rule_id, "alert for a missing asset dropped");
                return true;
            }
            Err(e) => {
                tracing::error!(error = %e, rule = %a.rule_id, "storing an alert failed; retrying");
                if !pause(RETRY, shutdown).await {
                    return false;
                }
            }
        }
    }
}
