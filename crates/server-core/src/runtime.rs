//! Background tasks of the status engine: the sweeper (every second), the
//! status writer (transitions to the store, in order) and the `last_seen`
//! flusher (batched writes every few seconds).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{interval, MissedTickBehavior};
use ward_status::Transition;
use ward_store::Store;

use crate::clock::now_ms;
use crate::state::AppState;

/// How often the engine looks for silent assets.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How often batched `last_seen` values are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Starts the runtime tasks; they stop when `shutdown` turns true (the
/// flusher writes a last batch first).
pub fn spawn(
    st: Arc<AppState>,
    status_rx: mpsc::UnboundedReceiver<Transition>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(status_writer(st.store.clone(), status_rx, shutdown.clone())),
        tokio::spawn(sweeper(st.clone(), shutdown.clone())),
        tokio::spawn(flusher(st, shutdown)),
    ]
}

async fn status_writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Transition>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let t = tokio::select! {
            t = rx.recv() => t,
            _ = shutdown.changed() => {
                // Write what is queued, then stop.
                while let Ok(t) = rx.try_recv() {
                    write_status(&*store, &t).await;
                }
                return;
            }
        };
        match t {
            Some(t) => write_status(&*store, &t).await,
            None => return,
        }
    }
}

async fn write_status(store: &dyn Store, t: &Transition) {
    if let Err(e) = store.set_status(&t.asset_id, &t.to_change()).await {
        tracing::error!(asset = %t.asset_id, error = %e, "writing a status change failed");
    }
}

async fn sweeper(st: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => st.sweep(now_ms()),
            _ = shutdown.changed() => return,
        }
    }
}

async fn flusher(st: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let stop = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        flush(&st).await;
        if stop {
            return;
        }
    }
}

/// Writes every pending `last_seen` value.
pub async fn flush(st: &AppState) {
    let batch = st.take_seen();
    if batch.is_empty() {
        return;
    }
    if let Err(e) = st.store.touch_last_seen(&batch).await {
        tracing::error!(count = batch.len(), error = %e, "writing last_seen values failed");
    }
}
