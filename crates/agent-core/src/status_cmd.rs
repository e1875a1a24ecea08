//! `ward-agent status`: the status file plus whether the agent really runs.
//!
//! Exit codes: 0 connected, 1 running but not connected, 3 not running.

use serde_json::{json, Value};

use crate::daemon::running_pid;
use crate::error::exit_code;
use crate::identity::Identity;
use crate::layout::Layout;
use crate::status_file::{AgentStatus, SessionState};
use crate::AgentError;

/// What `status` found.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub prefix: String,
    /// Pid of the running agent (0: running, pid file not written yet).
    pub running: Option<u32>,
    pub agent_id: Option<String>,
    pub status: Option<AgentStatus>,
}

impl StatusReport {
    pub fn gather(layout: &Layout) -> Result<StatusReport, AgentError> {
        let running = running_pid(layout);
        let status = AgentStatus::read(&layout.status())?;
        let agent_id = match &status {
            Some(s) => Some(s.agent_id.clone()),
            None => Identity::load(&layout.identity())
                .ok()
                .flatten()
                .map(|i| i.agent_id),
        };
        Ok(StatusReport {
            prefix: layout.prefix().display().to_string(),
            running,
            agent_id,
            status,
        })
    }

    /// The session state, `disconnected` whenever the agent is not running.
    pub fn session(&self) -> SessionState {
        match (&self.running, &self.status) {
            (Some(_), Some(s)) => s.session,
            (Some(_), None) => SessionState::Connecting,
            (None, _) => SessionState::Disconnected,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match (self.running, self.session()) {
            (None, _) => exit_code::NOT_RUNNING,
            (Some(_), SessionState::Connected) => exit_code::OK,
            (Some(_), _) => exit_code::RUNTIME,
        }
    }

    /// The `--json` form: the status file's fields, with `session` corrected
    /// for a dead agent, plus `running` and `prefix`.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.status {
            Some(s) => serde_json::to_value(s).unwrap_or_else(|_| json!({})),
            None => json!({ "agent_id": self.agent_id, "version": crate::version() }),
        };
        if let Value::Object(m) = &mut v {
            m.insert("running".into(), json!(self.running.is_some()));
            m.insert("prefix".into(), json!(self.prefix));
            m.insert("session".into(), json!(self.session().as_str()));
            if let Some(pid) = self.running.filter(|p| *p != 0) {
                m.insert("pid".into(), json!(pid));
            }
        }
        v
    }

    /// The human form, one `label: value` per line.
    pub fn to_text(&self, now_ms: i64) -> String {
        let s = self.status.as_ref();
        let dash = || "-".to_string();
        let version = s.map_or(crate::version(), |s| s.version.as_str());
        let process = match self.running {
            Some(0) => "running".to_string(),
            Some(pid) => format!("running (pid {pid})"),
            None => "not running".to_string(),
        };
        let rows = [
            ("version", version.to_string()),
            ("prefix", self.prefix.clone()),
            (
                "agent id",
                self.agent_id
                    .clone()
                    .unwrap_or_else(|| "not enrolled".into()),
            ),
            ("process", process),
            ("session", self.session().as_str().to_string()),
            (
                "endpoint",
                s.and_then(|s| s.endpoint.clone()).unwrap_or_else(dash),
            ),
            ("path", path_text(s)),
            (
                "connected since",
                s.and_then(|s| s.connected_since)
                    .filter(|_| self.session() == SessionState::Connected)
                    .map_or_else(dash, |t| ago(t, now_ms)),
            ),
            (
                "last keepalive",
                s.and_then(|s| s.last_keepalive_ack)
                    .map_or_else(dash, |t| ago(t, now_ms)),
            ),
            (
                "last error",
                s.and_then(|s| s.last_error.clone()).unwrap_or_else(dash),
            ),
        ];
        let rows = rows
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain(crate::pipeline::status::text_rows(s));
        rows.map(|(k, v)| format!("{:<16} {v}\n", format!("{k}:")))
            .collect()
    }
}

/// `direct (10.0.0.5:8443)`, `via proxy http://p:3128 (p-addr)`, or `-`.
fn path_text(s: Option<&AgentStatus>) -> String {
    match s.map(|s| (s.path.as_deref(), s.addr.as_deref())) {
        Some((Some(p), Some(a))) => format!("{p} ({a})"),
        Some((Some(p), None)) => p.to_string(),
        _ => "-".to_string(),
    }
}

/// `"N s ago"` for a Unix-ms time.
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    format!("{} s ago", (now_ms - then_ms).max(0) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(running: Option<u32>, session: SessionState) -> StatusReport {
        let mut s = AgentStatus::starting(7, "ag_1");
        s.session = session;
        s.endpoint = Some("https://h:1".into());
        s.connected_since = Some(1_000);
        s.last_keepalive_ack = Some(40_000);
        StatusReport {
            prefix: "/opt/w".into(),
            running,
            agent_id: Some("ag_1".into()),
            status: Some(s),
        }
    }

    #[test]
    fn exit_codes_follow_process_and_session() {
        assert_eq!(report(Some(7), SessionState::Connected).exit_code(), 0);
        assert_eq!(report(Some(7), SessionState::Connecting).exit_code(), 1);
        assert_eq!(report(Some(7), SessionState::Disconnected).exit_code(), 1);
        // A stale "connected" file of a dead agent is not connected.
        let dead = report(None, SessionState::Connected);
        assert_eq!(dead.exit_code(), 3);
        assert_eq!(dead.to_json()["session"], "disconnected");
        assert_eq!(dead.to_json()["running"], false);
    }

    #[test]
    fn text_shows_ages_in_seconds() {
        let t = report(Some(7), SessionState::Connected).to_text(43_500);
        assert!(t.contains("last keepalive:  3 s ago\n"), "{t}");
        assert!(t.contains("connected since: 42 s ago\n"), "{t}");
        assert!(t.contains("process:         running (pid 7)\n"), "{t}");
        assert!(t.contains("agent id:        ag_1\n"), "{t}");
        assert!(t.contains("path:            -\n"), "{t}");
        let mut r = report(Some(7), SessionState::Connected);
        if let Some(s) = r.status.as_mut() {
            s.path = Some("via proxy http://10.0.0.1:3128".into());
            s.addr = Some("10.0.0.1:3128".into());
        }
        let t = r.to_text(43_500);
        assert!(
            t.contains("path:            via proxy http://10.0.0.1:3128 (10.0.0.1:3128)\n"),
            "{t}"
        );
        assert_eq!(r.to_json()["path"], "via proxy http://10.0.0.1:3128");
        assert_eq!(ago(10_000, 9_000), "0 s ago");
    }
}
