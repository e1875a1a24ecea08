//! `ward-update`, everything but the command line: the updater and the
//! agent's guardian (SPEC L7, L8).
//!
//! * [`config`]: `conf/update.toml` (`WARD_UPDATE_*` overrides).
//! * [`state`]: `data/update-state.json` (trusted metadata version, rolled
//!   back versions, the last outcome, an interrupted switch).
//! * [`cycle`]: one update check: offer → signature → freshness → plan →
//!   download and verify → switch → health check → rollback, each refusal
//!   logged and reported.
//! * [`switch`]: staging, atomic link swaps, restart, the online check.
//! * [`selfupdate`]: switching to the release's `ward-update` after its
//!   agent proved itself, and re-executing.
//! * [`run`]: `ward-update run` (guardian ticks, scheduled and requested
//!   checks, signals) and `ward-update check`.
//!
//! Release metadata logic is `ward-release` (pure); network, layout,
//! locks and the guardian come from `ward-agent-core`, so the updater is as
//! small as the agent (no HTTP server, no database).

pub mod config;
pub mod cycle;
pub mod run;
pub mod selfupdate;
pub mod state;
pub mod switch;
