//! Alert outputs: webhook (JSON `POST`, retried with exponential backoff)
//! and syslog (RFC 5424 with a JSON MSG, over UDP or TCP).
//!
//! Each output has a bounded queue and one worker task. The detection
//! runtime hands alerts over with [`Outputs::enqueue`], which never waits:
//! when a queue is full the alert is dropped for that output and counted
//! (the alert itself is already stored and visible in the API). Workers
//! read the current [`OutputSettings`] at every attempt, so a settings
//! change applies to queued alerts too. Alerts still queued at shutdown
//! are not sent.

pub mod syslog;
pub mod webhook;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::detect::settings::OutputSettings;
use crate::detect::view::AlertView;

/// Delivery parameters (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Alerts waiting per output.
    pub queue: usize,
    /// Wait before the first retry; doubled after each failure.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts per alert (then it is given up and counted).
    pub max_attempts: u32,
    /// Bound on one attempt (connect + send + answer).
    pub timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            queue: 1024,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_attempts: 8,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Tuning {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Counters per output.
#[derive(Debug, Default)]
pub struct OutputStats {
    pub sent: AtomicU64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts: AtomicU64,
    /// Alerts given up after `max_attempts`.
    pub given_up: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl OutputStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The queues of the configured outputs.
pub struct Outputs {
    settings: watch::Receiver<OutputSettings>,
    webhook: mpsc::Sender<Arc<AlertView>>,
    syslog: mpsc::Sender<Arc<AlertView>>,
    pub webhook_stats: Arc<OutputStats>,
    pub syslog_stats: Arc<OutputStats>,
}

impl Outputs {
    /// Starts one worker per output; they stop when `shutdown` turns true.
    pub fn spawn(
        settings: watch::Receiver<OutputSettings>,
        tuning: Tuning,
        shutdown: watch::Receiver<bool>,
    ) -> (Arc<Outputs>, Vec<JoinHandle<()>>) {
        let (wtx, wrx) = mpsc::channel(tuning.queue.max(1));
        let (stx, srx) = mpsc::channel(tuning.queue.max(1));
        let outputs = Arc::new(Outputs {
            settings: settings.clone(),
            webhook: wtx,
            syslog: stx,
            webhook_stats: Arc::default(),
            syslog_stats: Arc::default(),
        });
        let tasks = vec![
            tokio::spawn(webhook::worker(
                wrx,
                settings.clone(),
                tuning,
                outputs.webhook_stats.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(syslog::worker(
                srx,
                settings,
                tuning,
                outputs.syslog_stats.clone(),
                shutdown,
            )),
        ];
        (outputs, tasks)
    }

    /// Queues an alert for every configured output; never waits.
    pub fn enqueue(&self, alert: AlertView) {
        let (web, sys) = {
            let s = self.settings.borrow();
            (s.webhook.is_some(), s.syslog.is_some())
        };
        if !web && !sys {
            return;
        }
        let alert = Arc::new(alert);
        for (on, tx, stats, name) in [
            (web, &self.webhook, &self.webhook_stats, "webhook"),
            (sys, &self.syslog, &self.syslog_stats, "syslog"),
        ] {
            if on && tx.try_send(alert.clone()).is_err() {
                OutputStats::inc(&stats.dropped);
                tracing::warn!(
                    output = name,
                    alert = alert.id,
                    "output queue full; alert not sent"
                );
            }
        }
    }
}

/// What a worker does after one delivery attempt.
pub(crate) enum Next {
    /// Try the same alert again (the backoff has passed).
    Retry,
    /// Go on with the next alert (this one was sent or given up).
    Done,
    /// Shutting down.
    Stop,
}

/// Counts and logs the outcome of attempt number `attempt` of delivering
/// alert `alert` to `output`; after a failure gives up at
/// `tuning.max_attempts`, else waits the backoff and bumps `attempt`.
pub(crate) async fn after_attempt(
    output: &'static str,
    alert: i64,
    attempt: &mut u32,
    result: Result<(), String>,
    tuning: &Tuning,
    stats: &OutputStats,
    shutdown: &mut watch::Receiver<bool>,
) -> Next {
    match result {
        Ok(()) => {
            OutputStats::inc(&stats.sent);
            return Next::Done;
        }
        Err(e) => {
            OutputStats::inc(&stats.failed_attempts);
            tracing::warn!(output, alert, attempt = *attempt, error = %e, "alert delivery failed");
        }
    }
    if *attempt >= tuning.max_attempts {
        OutputStats::inc(&stats.given_up);
        tracing::error!(
            output,
            alert,
            attempts = *attempt,
            "alert delivery given up"
        );
        return Next::Done;
    }
    if !pause(tuning.backoff(*attempt), shutdown).await {
        return Next::Stop;
    }
    *attempt += 1;
    Next::Retry
}

/// Waits `d` unless shutdown comes first (then returns false).
pub(crate) async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shutdown.changed() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let t = Tuning {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..Tuning::default()
        };
        let got: Vec<u128> = (1..=7).map(|a| t.backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(t.backoff(100), Duration::from_millis(1000));
    }
}
