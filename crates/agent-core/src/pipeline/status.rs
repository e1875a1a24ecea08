//! The pipeline's part of `data/status.json`, written together with the
//! session's part so that neither overwrites the other.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use ward_collect_auth::CollectorStatus;

use crate::status_file::AgentStatus;

/// `status.json` → `spool`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolStatus {
    /// Events waiting for the server's acknowledgement.
    pub depth: u64,
    /// Events lost without acknowledgement (full spool, damage); never decreases.
    pub dropped_total: u64,
    /// Of those, lost to damaged records.
    #[serde(default)]
    pub damaged_total: u64,
    /// Bytes on disk and segment files.
    pub bytes: u64,
    pub segments: u64,
    /// Highest acknowledged id and the next id.
    pub acked: u64,
    pub next_id: u64,
}

impl From<ward_spool::SpoolStats> for SpoolStatus {
    fn from(s: ward_spool::SpoolStats) -> Self {
        SpoolStatus {
            depth: s.depth,
            dropped_total: s.dropped_total,
            damaged_total: s.damaged_total,
            bytes: s.bytes,
            segments: s.segments,
            acked: s.acked,
            next_id: s.next_id,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// The session's latest status (set by the session's writer).
    session: Option<AgentStatus>,
    path: Option<PathBuf>,
    spool: Option<SpoolStatus>,
    collectors: Vec<CollectorStatus>,
}

/// Shared between the session's `StatusWriter` and the pipeline: each write
/// composes the latest of both, under one lock.
#[derive(Debug, Clone, Default)]
pub struct StatusShare {
    inner: Arc<Mutex<Inner>>,
}

impl StatusShare {
    /// Writes the session's status (to `path`) with the pipeline's fields.
    pub fn write_session(&self, path: &std::path::Path, status: &AgentStatus) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        g.session = Some(status.clone());
        g.path = Some(path.to_path_buf());
        write(&g);
    }

    /// Replaces the pipeline's fields; rewrites the file when they changed
    /// and the session has written it once.
    pub fn update_pipeline(&self, spool: Option<SpoolStatus>, collectors: Vec<CollectorStatus>) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        if g.spool == spool && g.collectors == collectors {
            return;
        }
        g.spool = spool;
        g.collectors = collectors;
        write(&g);
    }
}

fn write(g: &Inner) {
    let (Some(session), Some(path)) = (&g.session, &g.path) else {
        return;
    };
    let mut s = session.clone();
    s.spool = g.spool;
    s.collectors = g.collectors.clone();
    if let Err(e) = s.write(path) {
        tracing::warn!(error = %crate::one_line(&e), "cannot write the status file");
    }
}

/// `ward-agent status` lines for the spool and each collector.
pub fn text_rows(s: Option<&AgentStatus>) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let spool = match s.and_then(|s| s.spool) {
        Some(sp) => format!(
            "{} events waiting, {} dropped, {} KiB in {} segment file(s)",
            sp.depth,
            sp.dropped_total,
            sp.bytes.div_ceil(1024),
            sp.segments
        ),
        None => "-".to_string(),
    };
    rows.push(("spool".to_string(), spool));
    for c in s.map(|s| s.collectors.as_slice()).unwrap_or_default() {
        let sources: Vec<String> = c
            .sources
            .iter()
            .map(|src| {
                let mut t = format!("{} {}", src.source, src.state);
                if src.state != "waiting" {
                    t.push_str(&format!(" ({} lines, {} events)", src.lines, src.events));
                }
                if let Some(d) = &src.detail {
                    t.push_str(&format!(": {d}"));
                }
                t
            })
            .collect();
        let mut v = c.state.clone();
        if !sources.is_empty() {
            v.push_str("; ");
            v.push_str(&sources.join("; "));
        }
        if let Some(e) = &c.last_error {
            v.push_str(&format!("; last error: {e}"));
        }
        rows.push((format!("collector {}", c.name), v));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_collect_auth::SourceStatus;

    #[test]
    fn share_composes_session_and_pipeline_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let share = StatusShare::default();
        // Nothing is written before the session wrote once.
        share.update_pipeline(Some(SpoolStatus::default()), Vec::new());
        assert!(!path.exists());
        let mut session = AgentStatus::starting(9, "ag_x");
        share.write_session(&path, &session);
        let spool = SpoolStatus {
            depth: 5,
            dropped_total: 2,
            bytes: 3000,
            segments: 1,
            ..SpoolStatus::default()
        };
        let auth = CollectorStatus {
            name: "auth".into(),
            state: "running".into(),
            sources: vec![SourceStatus {
                source: "/var/log/auth.log".into(),
                state: "following".into(),
                detail: None,
                lines: 10,
                events: 4,
            }],
            ..CollectorStatus::default()
        };
        share.update_pipeline(Some(spool), vec![auth.clone()]);
        let read = AgentStatus::read(&path).unwrap().unwrap();
        assert_eq!(read.spool, Some(spool));
        assert_eq!(read.collectors, vec![auth]);
        // A later session write keeps the pipeline's fields.
        session.last_error = Some("x".into());
        share.write_session(&path, &session);
        let read = AgentStatus::read(&path).unwrap().unwrap();
        assert_eq!(read.last_error.as_deref(), Some("x"));
        assert_eq!(read.spool.map(|s| s.depth), Some(5));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["spool"]["dropped_total"], 2);
        assert_eq!(v["collectors"][0]["sources"][0]["state"], "following");
        let rows = text_rows(Some(&read));
        assert_eq!(
            rows[0].1,
            "5 events waiting, 2 dropped, 3 KiB in 1 segment file(s)"
        );
        assert_eq!(
            rows[1],
            (
                "collector auth".to_string(),
                "running; /var/log/auth.log following (10 lines, 4 events)".to_string()
            )
        );
    }
}
