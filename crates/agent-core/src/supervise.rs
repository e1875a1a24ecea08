//! What `ward-agent run` does besides its session: it guards `ward-update`
//! (see [`crate::guard`]) and enforces its own resource caps (see
//! [`crate::watchdog`]), reporting crash loops and cap restarts.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use ward_proto::LifecycleKind;

use crate::guard::{describe, GuardEvent, Guarded, Guardian, LoopLimits};
use crate::layout::{Layout, AGENT_BIN, UPDATE_BIN};
use crate::lifecycle::client::{report, send_report};
use crate::watchdog::{read_self, ticks_per_sec, Breach, Watchdog, WatchdogSettings};

/// How often the agent checks that `ward-update` runs.
pub const GUARD_EVERY: Duration = Duration::from_secs(1);

/// Keeps `ward-update` running until `stop` turns true. When the install is
/// gone (`conf/network.toml` removed, e.g. the prefix deleted by hand), it
/// asks the agent to stop through `shutdown` instead of lingering.
pub async fn guard_updater(
    layout: Layout,
    mut stop: watch::Receiver<bool>,
    shutdown: watch::Sender<bool>,
) {
    let mut g = Guardian::new(
        layout.clone(),
        Guarded::updater(&layout),
        LoopLimits::default(),
    );
    let mut tick = ticker(GUARD_EVERY);
    while next_tick(&mut tick, &mut stop).await {
        if !layout.network_toml().exists() {
            tracing::warn!(
                prefix = %layout.prefix().display(),
                "the install is gone (no conf/network.toml); stopping"
            );
            let _ = shutdown.send(true);
            return;
        }
        for e in g.tick(Instant::now()) {
            let line = describe(UPDATE_BIN, &e);
            match &e {
                GuardEvent::Started { .. } => tracing::warn!("{line}"),
                _ => tracing::error!("{line}"),
            }
            if let GuardEvent::CrashLoop { .. } = e {
                let mut r = report(LifecycleKind::CrashLoop, UPDATE_BIN, line);
                r.detail = Some("crash_loop".into());
                let layout = layout.clone();
                tokio::spawn(async move { send_report(&layout, r).await });
            }
        }
    }
}

/// Samples this process every `check_secs`; on a breach, reports it and
/// returns it (the caller shuts down and restarts). Returns `None` when
/// `stop` turns true first.
pub async fn watchdog(
    layout: Layout,
    settings: WatchdogSettings,
    mut stop: watch::Receiver<bool>,
) -> Option<Breach> {
    let mut w = Watchdog::new(settings.clone(), ticks_per_sec());
    let mut tick = ticker(settings.check_every());
    while next_tick(&mut tick, &mut stop).await {
        let Some((rss, ticks)) = read_self() else {
            continue;
        };
        if let Some(b) = w.sample(Instant::now(), rss, ticks) {
            tracing::error!(cap = b.kind(), "{b}; restarting cleanly");
            let mut r = report(
                LifecycleKind::ResourceCap,
                AGENT_BIN,
                format!("{b}; the agent restarted itself"),
            );
            r.detail = Some(b.kind().to_string());
            r.from_version = Some(crate::version().to_string());
            let _ = tokio::time::timeout(Duration::from_secs(10), send_report(&layout, r)).await;
            return Some(b);
        }
    }
    None
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Waits for the next tick; false once `stop` is true.
async fn next_tick(tick: &mut tokio::time::Interval, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tick.tick() => {}
        _ = stop.changed() => {}
    }
    !*stop.borrow()
}
