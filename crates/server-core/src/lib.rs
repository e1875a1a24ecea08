//! The Ward server.
//!
//! This crate owns everything `ward-server serve` runs, behind one HTTPS port:
//!
//! * [`listener`]: TCP accept, TLS handshakes (bounded and timed out), one
//!   task per connection, HTTP/1.1 with upgrades into the axum router;
//! * [`gateway`]: agent sessions (WebSocket, wire contract `ward-proto` v1):
//!   authentication at upgrade, Hello/Welcome, keepalives, reports, policy
//!   pushes, superseding of duplicate sessions;
//! * [`runtime`]: the status engine's tasks (sweep every second, ordered
//!   status writes, batched `last_seen` flushes);
//! * [`enroll`], [`download`] and [`api`]: enrollment, the installer and agent
//!   packages, and the REST API under `/api/v1` (bearer API tokens);
//! * [`bootstrap`] and [`admin`]: the data directory (store, TLS identity,
//!   command key, first verification key, `server.json`) and the operations
//!   the `ward-server` CLI shares with the API.
//!
//! * [`detect`] and [`outputs`]: event ingestion, the detection runtime
//!   (rules over stored events, alerts, whitelist, retention) and the
//!   webhook and syslog alert outputs.
//!
//! * [`releases`]: agent releases (publishing, the signed release metadata,
//!   per-agent offers under the rollout controls, release downloads) and the
//!   lifecycle reports of updaters and guardians.
//!
//! * [`lifecycle`]: signed commands (remote uninstall, update check) queued
//!   with an expiry, tamper protection per group with uninstall tokens and
//!   tamper alerts, and cloned-host re-identification.
//!
//! * [`console`]: mounts the web console (`ward-console`) on this state.
//!
//! Storage is only reached through `Arc<dyn ward_store::Store>`.

pub mod admin;
pub mod api;
pub mod bootstrap;
pub mod clock;
pub mod console;
pub mod detect;
pub mod download;
pub mod enroll;
pub mod error;
pub mod gateway;
pub mod http_error;
pub mod install_opts;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod net;
pub mod notice;
pub mod outputs;
pub mod ratelimit;
pub mod releases;
pub mod router;
pub mod runtime;
pub mod server;
pub mod state;

pub use admin::{install_command, ServerInfo};
pub use error::ServerError;
pub use server::{start, RunningServer, StartOptions};
