//! The host collectors of the pipeline (issue 7): the process collector
//! (`ward-collect-proc`, reported set in `data/collect-proc.json`) and the
//! file collector (`ward-collect-files`, baseline in `data/fim-baseline`,
//! accounts in `data/collect-files-accounts.json`), both handing events to
//! the spool. The file collector names writers through the process
//! collector's table, so a short-lived writer is still named.

use ward_collect_auth::{CollectorStatus, SourceStatus};
use ward_collect_files::{ActorLookup, FilesHandle};
use ward_collect_proc::ProcHandle;
use ward_events::Event;

use super::{append_all, PipelineHandle};
use crate::config::AgentConfig;
use crate::layout::Layout;
use crate::AgentError;

/// Status readers of the host collectors.
#[derive(Clone, Default)]
pub struct HostReaders {
    proc: Option<ward_collect_proc::StatusReader>,
    files: Option<ward_collect_files::StatusReader>,
}

impl HostReaders {
    /// The collectors as `status.json` lists them.
    pub fn read(&self) -> Vec<CollectorStatus> {
        let mut out = Vec::new();
        if let Some(r) = &self.proc {
            let s = r.read();
            out.push(CollectorStatus {
                name: "process".into(),
                state: s.state.clone(),
                sources: vec![SourceStatus {
                    source: s.source.clone(),
                    state: if s.state == "running" {
                        "following".into()
                    } else {
                        s.state.clone()
                    },
                    detail: s.detail.clone().or_else(|| {
                        (s.missed + s.dropped + s.overruns > 0).then(|| {
                            format!(
                                "{} exits before details, {} dropped, {} overruns",
                                s.missed, s.dropped, s.overruns
                            )
                        })
                    }),
                    lines: s.execs,
                    events: s.events,
                }],
                long_lines: 0,
                sink_errors: s.sink_errors,
                last_error: s.last_error,
            });
        }
        if let Some(r) = &self.files {
            let s = r.read();
            out.push(CollectorStatus {
                name: "files".into(),
                state: s.state.clone(),
                sources: vec![SourceStatus {
                    source: s.backend.clone(),
                    state: if s.state == "running" {
                        "following".into()
                    } else {
                        s.state.clone()
                    },
                    detail: Some(format!(
                        "{} directories, {} files in the baseline, {} scans{}",
                        s.dirs,
                        s.files,
                        s.scans,
                        s.detail
                            .as_deref()
                            .map(|d| format!("; {d}"))
                            .unwrap_or_default()
                    )),
                    lines: s.overflows,
                    events: s.events,
                }],
                long_lines: 0,
                sink_errors: s.sink_errors,
                last_error: s.last_error,
            });
        }
        out
    }
}

/// The running host collectors.
#[derive(Default)]
pub struct HostCollectors {
    proc: Option<ProcHandle>,
    files: Option<FilesHandle>,
}

impl HostCollectors {
    /// Starts the enabled host collectors.
    pub fn start(
        layout: &Layout,
        config: &AgentConfig,
        handle: &PipelineHandle,
    ) -> Result<HostCollectors, AgentError> {
        let mut h = HostCollectors::default();
        let pc = &config.collect.process;
        if pc.enabled {
            let cfg = pc.to_config(layout.data_dir().join("collect-proc.json"));
            let sink_handle = handle.clone();
            let sink = move |events: &mut Vec<Event>| append_all(&sink_handle, events);
            let p = ward_collect_proc::spawn(cfg, sink)
                .map_err(|e| AgentError::Runtime(format!("starting the process collector: {e}")))?;
            tracing::info!(source = %p.status().source, "process collector starting");
            h.proc = Some(p);
        }
        let fc = &config.collect.files;
        if fc.enabled {
            let mut cfg = fc.to_config(&layout.data_dir(), layout.prefix());
            if let Some(p) = &h.proc {
                let lookup = p.actor_lookup();
                let f: ActorLookup = std::sync::Arc::new(move |pid| lookup.actor(pid));
                cfg.actor_lookup = Some(f);
            }
            tracing::info!(fim_paths = ?cfg.fim_paths, "file collector starting");
            let sink_handle = handle.clone();
            let sink = move |events: &mut Vec<Event>| append_all(&sink_handle, events);
            h.files =
                Some(ward_collect_files::spawn(cfg, sink).map_err(|e| {
                    AgentError::Runtime(format!("starting the file collector: {e}"))
                })?);
        }
        Ok(h)
    }

    pub fn readers(&self) -> HostReaders {
        HostReaders {
            proc: self.proc.as_ref().map(ProcHandle::status_reader),
            files: self.files.as_ref().map(FilesHandle::status_reader),
        }
    }

    /// Stops both (each hands over what it holds and saves its state).
    pub fn stop(&mut self) {
        if let Some(f) = self.files.take() {
            f.stop();
        }
        if let Some(p) = self.proc.take() {
            p.stop();
        }
    }
}
