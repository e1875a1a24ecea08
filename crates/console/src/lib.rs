//! Ward's web console.
//!
//! This crate owns the server-rendered console that `ward-server` serves
//! under `/console` on its HTTPS port: sign-in (argon2id password, in-memory
//! sessions in `__Host-` cookies, CSRF synchronizer tokens, per-address
//! rate limiting), the pages (Overview, Assets with bulk uninstall and
//! pending commands, Asset detail with its commands, tamper protection and
//! uninstall tokens, Alerts, Alert detail, Whitelist, Settings →
//! Install/Uninstall Agent, Settings → Agent policy with tamper protection
//! per group, Settings → Agent updates, Settings → Alert outputs), the small JSON
//! endpoint the pages poll for live status, and the static CSS/JS compiled
//! into the binary.
//!
//! Templates are [`maud`] macros: compiled with the binary, type-checked,
//! and escaping every interpolated value, so nothing an agent reports can
//! become markup. The server it runs in is reached only through
//! [`ConsoleHost`], which `ward-server-core` implements.

pub mod auth;
pub mod error;
pub mod host;
pub mod http;
pub mod pages;
pub mod routes;
pub mod statics;
pub mod view;

pub use auth::ConsoleAuth;
pub use error::AuthError;
pub use host::{
    ActionError, ConsoleHost, IssuedToken, LiveStatus, OutputCounters, OutputsForm,
    PolicySaveError, Rollout, RolloutSaveError, RuleSummary, TamperProtection, UninstallResult,
    WhitelistInput,
};
pub use routes::routes;
