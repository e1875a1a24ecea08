//! The event pipeline of `ward-agent run` (issue 6): collectors → disk
//! spool → session.
//!
//! * [`Pipeline::start`] opens the spool (`data/spool/`, see `ward-spool`)
//!   and starts the login collector (`ward-collect-auth`, positions in
//!   `data/collect-auth.json`) with a sink that appends to the spool.
//! * [`Pipeline::run`] keeps the spool's fsync cadence and the pipeline's
//!   part of `data/status.json` (`spool`, `collectors`) current.
//! * The live session sends batches with an [`sender::EventSender`] and
//!   applies `EventsAck`; it holds a cheap [`PipelineHandle`].
//! * [`Pipeline::shutdown`] stops the collector (which hands over what it
//!   read and saves its positions), then syncs and closes the spool.
//!
//! * The host collectors (process, files; [`host`]) start after the login
//!   collector with sinks into the same spool.
//!
//! Configuration: `[spool]` and `[collect.auth]` of `agent.toml`
//! ([`settings`]); `[collect.process]` and `[collect.files]`
//! ([`host_settings`]).

pub mod host;
pub mod host_settings;
pub mod sender;
pub mod settings;
pub mod status;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use ward_collect_auth::{CollectorHandle, StatusReader};
use ward_events::Event;
use ward_spool::{Spool, SpoolError, SpoolStats};

use crate::config::AgentConfig;
use crate::layout::Layout;
use crate::AgentError;

pub use host_settings::{FilesSettings, ProcessSettings};
pub use settings::{AuthSettings, CollectSettings, SpoolSettings};
pub use status::{SpoolStatus, StatusShare};

/// How often the pipeline refreshes its status and checks the fsync cadence.
const TICK: Duration = Duration::from_millis(500);

struct Shared {
    spool: Mutex<Option<Spool>>,
    notify: Arc<Notify>,
    status: StatusShare,
}

/// A cheap handle on the running pipeline (for the session).
#[derive(Clone)]
pub struct PipelineHandle {
    shared: Arc<Shared>,
}

fn lock_err() -> SpoolError {
    SpoolError::Io {
        op: "locking",
        path: "spool".into(),
        source: std::io::Error::other("spool lock poisoned"),
    }
}

impl PipelineHandle {
    fn with_spool<T>(
        &self,
        f: impl FnOnce(&mut Spool) -> Result<T, SpoolError>,
    ) -> Result<T, SpoolError> {
        let mut g = self.shared.spool.lock().map_err(|_| lock_err())?;
        match g.as_mut() {
            Some(s) => f(s),
            None => Err(SpoolError::Config("the spool is closed".into())),
        }
    }

    /// Unacknowledged events with ids above `after` (see `Spool::peek_after`).
    pub fn peek_after(
        &self,
        after: u64,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<Event>, SpoolError> {
        self.with_spool(|s| s.peek_after(after, max_events, max_bytes))
    }

    /// Cumulative acknowledgement.
    pub fn ack(&self, up_to: u64) -> Result<(), SpoolError> {
        self.with_spool(|s| s.ack(up_to))
    }

    /// Appends events (assigning ids) and wakes the sender.
    pub fn append(&self, events: &mut [Event]) -> Result<(), SpoolError> {
        self.with_spool(|s| s.append_batch(events))?;
        self.shared.notify.notify_one();
        Ok(())
    }

    pub fn spool_stats(&self) -> SpoolStats {
        self.with_spool(|s| Ok(s.stats())).unwrap_or_default()
    }

    /// Woken whenever events are appended.
    pub fn notify(&self) -> Arc<Notify> {
        self.shared.notify.clone()
    }

    /// The status share the session's status writer must use.
    pub fn status_share(&self) -> StatusShare {
        self.shared.status.clone()
    }
}

/// The running pipeline (owned by `ward-agent run`).
pub struct Pipeline {
    handle: PipelineHandle,
    collector: Option<CollectorHandle>,
    host: host::HostCollectors,
}

impl Pipeline {
    /// Opens `data/spool` and starts the enabled collectors.
    pub fn start(layout: &Layout, config: &AgentConfig) -> Result<Pipeline, AgentError> {
        let dir = layout.data_dir().join("spool");
        let spool = Spool::open(&dir, config.spool.to_config())
            .map_err(|e| AgentError::Runtime(format!("opening the event spool: {e}")))?;
        let st = spool.stats();
        tracing::info!(
            dir = %dir.display(),
            depth = st.depth,
            dropped_total = st.dropped_total,
            next_id = st.next_id,
            "event spool open"
        );
        let handle = PipelineHandle {
            shared: Arc::new(Shared {
                spool: Mutex::new(Some(spool)),
                notify: Arc::new(Notify::new()),
                status: StatusShare::default(),
            }),
        };
        let auth = &config.collect.auth;
        let collector = if auth.enabled {
            let cfg = auth.to_config(layout.data_dir().join("collect-auth.json"));
            tracing::info!(paths = ?cfg.paths, journald = %auth.journald, wtmp = auth.wtmp, "auth collector starting");
            let sink_handle = handle.clone();
            let sink = move |events: &mut Vec<Event>| append_all(&sink_handle, events);
            Some(
                ward_collect_auth::spawn(cfg, sink).map_err(|e| {
                    AgentError::Runtime(format!("starting the auth collector: {e}"))
                })?,
            )
        } else {
            None
        };
        let host = host::HostCollectors::start(layout, config, &handle)?;
        let p = Pipeline {
            handle,
            collector,
            host,
        };
        p.refresh_status();
        Ok(p)
    }

    pub fn handle(&self) -> PipelineHandle {
        self.handle.clone()
    }

    fn refresh_status(&self) {
        let readers: Vec<StatusReader> = self.collector.iter().map(|c| c.status_reader()).collect();
        refresh_status(&self.handle, &readers, &self.host.readers());
    }

    /// A task that keeps the fsync cadence and the status current until
    /// `shutdown` (spawn it, or join it with the session loop).
    pub fn run(
        &self,
        mut shutdown: watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let handle = self.handle.clone();
        let readers: Vec<StatusReader> = self.collector.iter().map(|c| c.status_reader()).collect();
        let host = self.host.readers();
        async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if *shutdown.borrow() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tick.tick() => {
                        if let Err(e) = handle.with_spool(|s| s.sync_if_due()) {
                            tracing::warn!(error = %e, "syncing the event spool");
                        }
                        refresh_status(&handle, &readers, &host);
                    }
                }
            }
        }
    }

    /// Stops the collectors, then syncs and closes the spool.
    pub fn shutdown(mut self) {
        let readers: Vec<StatusReader> = self.collector.iter().map(|c| c.status_reader()).collect();
        let host = self.host.readers();
        if let Some(c) = self.collector.take() {
            c.stop();
        }
        self.host.stop();
        refresh_status(&self.handle, &readers, &host);
        let spool = self
            .handle
            .shared
            .spool
            .lock()
            .ok()
            .and_then(|mut g| g.take());
        if let Some(s) = spool {
            if let Err(e) = s.close() {
                tracing::warn!(error = %e, "closing the event spool");
            }
        }
    }
}

fn refresh_status(handle: &PipelineHandle, readers: &[StatusReader], host: &host::HostReaders) {
    let spool = handle
        .with_spool(|s| Ok(s.stats()))
        .ok()
        .map(SpoolStatus::from);
    let mut collectors: Vec<_> = readers.iter().map(StatusReader::read).collect();
    collectors.extend(host.read());
    handle.shared.status.update_pipeline(spool, collectors);
}

/// The collector's sink: append all, or, when one event is too large for a
/// record, append them one by one without their raw line (an event still
/// too large is dropped, logged and counted in the spool's `dropped_total`:
/// retrying could never succeed).
pub(crate) fn append_all(handle: &PipelineHandle, events: &mut Vec<Event>) -> Result<(), String> {
    match handle.append(events) {
        Ok(()) => return Ok(()),
        Err(SpoolError::RecordTooLarge { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    for i in 0..events.len() {
        let ev = &mut events[i];
        match handle.append(std::slice::from_mut(ev)) {
            Ok(()) => {}
            Err(SpoolError::RecordTooLarge { size, .. }) => {
                ev.raw = None;
                if handle.append(std::slice::from_mut(ev)).is_err() {
                    tracing::warn!(
                        size,
                        kind = ev.kind(),
                        "an event too large to spool was dropped (counted as lost)"
                    );
                    if let Err(e) = handle.with_spool(|s| s.count_lost(1)) {
                        tracing::warn!(error = %e, "counting a lost event");
                    }
                }
            }
            Err(e) => {
                // Offer only the events not stored yet again.
                events.drain(..i);
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}
