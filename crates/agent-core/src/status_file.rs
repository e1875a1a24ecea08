//! `data/status.json`: the running agent's state, rewritten atomically on
//! every state change and every keepalive ack. Times are Unix milliseconds.
//!
//! ```json
//! {"pid": 4242, "agent_id": "ag_…", "version": "0.1.0",
//!  "session": "connecting" | "connected" | "disconnected",
//!  "endpoint": "https://host:port", "path": "direct" | "via proxy http://p:3128"
//!  | "via override host=10.0.0.5", "addr": "10.0.0.5:8443",
//!  "connected_since": 1700000000000,
//!  "last_keepalive_ack": 1700000030000, "last_error": null,
//!  "policy": {"keepalive_secs": 30, "missed_keepalives": 3, "report_interval_secs": 18000},
//!  "updated_at": 1700000030000}
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ward_proto::Policy;

use crate::http::Endpoint;
use crate::AgentError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Connecting,
    Connected,
    Disconnected,
}

impl SessionState {
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionState::Connecting => "connecting",
            SessionState::Connected => "connected",
            SessionState::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub pid: u32,
    pub agent_id: String,
    pub version: String,
    pub session: SessionState,
    pub endpoint: Option<String>,
    /// How the endpoint is reached: `direct`, `via proxy http://host:port`
    /// or `via override host=ip` (see `net::Route`).
    #[serde(default)]
    pub path: Option<String>,
    /// The TCP peer of the session (the proxy when tunnelling).
    #[serde(default)]
    pub addr: Option<String>,
    pub connected_since: Option<i64>,
    pub last_keepalive_ack: Option<i64>,
    pub last_error: Option<String>,
    pub policy: Option<Policy>,
    pub updated_at: i64,
    /// The event spool (see `pipeline`), when the pipeline runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<crate::pipeline::SpoolStatus>,
    /// Each collector's state and sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collectors: Vec<ward_collect_auth::CollectorStatus>,
}

impl AgentStatus {
    /// The state of an agent that has just started.
    pub fn starting(pid: u32, agent_id: &str) -> Self {
        AgentStatus {
            pid,
            agent_id: agent_id.to_string(),
            version: crate::version().to_string(),
            session: SessionState::Connecting,
            endpoint: None,
            path: None,
            addr: None,
            connected_since: None,
            last_keepalive_ack: None,
            last_error: None,
            policy: None,
            updated_at: crate::now_ms(),
            spool: None,
            collectors: Vec::new(),
        }
    }

    /// Writes the file atomically (mode 0644; `data/` itself is 0700).
    pub fn write(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::Runtime(format!("encoding status: {e}")))?;
        ward_pki::secret::write_file_atomic(path, text.as_bytes(), 0o644)
            .map_err(|e| AgentError::io("writing", path, e))
    }

    /// Reads the file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<AgentStatus>, AgentError> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| AgentError::Runtime(format!("{} is damaged: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AgentError::io("reading", path, e)),
        }
    }
}

/// Keeps the running agent's [`AgentStatus`] and rewrites the file on every
/// change. A failed write is logged, never fatal.
#[derive(Debug)]
pub struct StatusWriter {
    path: PathBuf,
    status: AgentStatus,
    /// Set when the event pipeline shares the file.
    share: Option<crate::pipeline::StatusShare>,
}

impl StatusWriter {
    pub fn new(path: PathBuf, pid: u32, agent_id: &str) -> Self {
        let w = StatusWriter {
            path,
            status: AgentStatus::starting(pid, agent_id),
            share: None,
        };
        w.flush();
        w
    }

    /// Writes through `share` from now on, so the pipeline's fields
    /// (`spool`, `collectors`) and the session's are written together.
    pub fn share_with(&mut self, share: crate::pipeline::StatusShare) {
        self.share = Some(share);
        self.flush();
    }

    pub fn status(&self) -> &AgentStatus {
        &self.status
    }

    fn flush(&self) {
        if let Some(share) = &self.share {
            share.write_session(&self.path, &self.status);
            return;
        }
        if let Err(e) = self.status.write(&self.path) {
            tracing::warn!(error = %crate::one_line(&e), "cannot write the status file");
        }
    }

    fn update(&mut self, f: impl FnOnce(&mut AgentStatus)) {
        f(&mut self.status);
        self.status.updated_at = crate::now_ms();
        self.flush();
    }

    pub fn connecting(&mut self, ep: &Endpoint) {
        self.update(|s| {
            s.session = SessionState::Connecting;
            s.endpoint = Some(ep.url.clone());
            s.connected_since = None;
        });
    }

    pub fn connected(&mut self, ep: &Endpoint, policy: Policy) {
        self.update(|s| {
            s.session = SessionState::Connected;
            s.endpoint = Some(ep.url.clone());
            s.connected_since = Some(crate::now_ms());
            s.last_error = None;
            s.policy = Some(policy);
        });
    }

    /// The route and peer of the connection being opened to the endpoint.
    pub fn route(&mut self, path: String, addr: String) {
        self.update(|s| {
            s.path = Some(path);
            s.addr = Some(addr);
        });
    }

    pub fn keepalive_acked(&mut self) {
        self.update(|s| s.last_keepalive_ack = Some(crate::now_ms()));
    }

    pub fn policy(&mut self, policy: Policy) {
        self.update(|s| s.policy = Some(policy));
    }

    pub fn disconnected(&mut self, ep: Option<&Endpoint>, error: String) {
        self.update(|s| {
            s.session = SessionState::Disconnected;
            if let Some(ep) = ep {
                s.endpoint = Some(ep.url.clone());
            }
            s.connected_since = None;
            s.last_error = Some(error);
        });
    }

    /// The agent got a new identity (it is a copy of another install).
    pub fn agent_id(&mut self, agent_id: &str) {
        self.update(|s| s.agent_id = agent_id.to_string());
    }

    /// The agent is stopping.
    pub fn stopped(&mut self) {
        self.update(|s| {
            s.session = SessionState::Disconnected;
            s.connected_since = None;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        assert_eq!(AgentStatus::read(&path).unwrap(), None);
        let mut s = AgentStatus::starting(42, "ag_1");
        s.session = SessionState::Connected;
        s.endpoint = Some("https://127.0.0.1:8443".into());
        s.connected_since = Some(1_700_000_000_000);
        s.last_keepalive_ack = Some(1_700_000_030_000);
        s.policy = Some(Policy::default());
        s.write(&path).unwrap();
        assert_eq!(AgentStatus::read(&path).unwrap(), Some(s));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["session"], "connected");
        assert_eq!(v["pid"], 42);
        assert_eq!(v["last_keepalive_ack"], 1_700_000_030_000i64);
        assert_eq!(v["policy"]["keepalive_secs"], 30);
        assert!(v["last_error"].is_null());
        for key in [
            "agent_id",
            "version",
            "endpoint",
            "connected_since",
            "updated_at",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
    }
}
