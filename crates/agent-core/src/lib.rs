//! The Ward agent, everything but the command line:
//!
//! * [`layout`]: the install layout under a prefix (default `/usr/local/ward`).
//! * [`config`]: `conf/agent.toml` and `conf/network.toml`, typed, with
//!   `WARD_AGENT_<KEY>` environment overrides for `agent.toml`.
//! * [`identity`]: the agent's own identity (`data/identity.json`, 0600).
//! * [`http`]: endpoints, TCP + TLS with the pinned server key, a minimal
//!   HTTP/1.1 client for enrollment.
//! * [`net`]: how the server is reached (host overrides, HTTP CONNECT
//!   proxy, endpoint failover and failback, `network.toml` reloads).
//! * [`enroll`]: exchanging a verification key for an identity.
//! * [`session`]: the persistent WebSocket session (hello, welcome, reports,
//!   keepalives, policy pushes, reconnects with jittered backoff).
//! * [`pipeline`]: the event pipeline (login collector → disk spool →
//!   session batches acknowledged by the server).
//! * [`status_file`]: `data/status.json`, written on every state change.
//! * [`daemon`]: `run` (lock, pid file, signals), `start` and `stop`;
//!   [`service`]: systemd unit / SysV script for the default prefix.
//! * [`install`]: the install/repair flow the server's `install.sh` runs.
//! * [`status_cmd`]: what `ward-agent status` prints.
//! * [`doctor`]: `ward-agent doctor`, the offline-troubleshooting checks.
//! * [`lifecycle`]: signed commands (remote uninstall, update check), the
//!   tamper-protection gate with uninstall tokens, notices to the server,
//!   uninstall, and re-identification of cloned installs; its
//!   [`client`](lifecycle::client) makes the HTTPS calls of the updater and
//!   guardian (release offer, release downloads, lifecycle reports) with the
//!   agent credential.
//! * [`guard`]: keeping the other program of the prefix running (the agent
//!   guards `ward-update`, `ward-update` guards the agent), crash-loop
//!   backoff; [`watchdog`]: the agent's own RSS and CPU caps.
//! * [`updater_ctl`]: installing, starting and stopping `ward-update`.
//! * [`version`](mod@version): the version a binary reports (crate version or stamp).
//!
//! Errors carry the process exit code ([`AgentError::exit_code`]).

pub mod backoff;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod download;
pub mod enroll;
mod error;
pub mod guard;
pub mod http;
pub mod identity;
pub mod install;
pub mod layout;
pub mod lifecycle;
pub mod net;
pub mod pipeline;
pub mod service;
pub mod session;
pub mod status_cmd;
pub mod status_file;
pub mod supervise;
pub mod updater_ctl;
pub mod version;
pub mod watchdog;

pub use error::{exit_code, one_line, AgentError};

/// Version of this binary: the workspace version, or its version stamp
/// (see [`version`](mod@version)).
pub fn version() -> &'static str {
    version::version()
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
