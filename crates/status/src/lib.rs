//! Ward's asset status engine.
//!
//! This crate owns the rules that turn session events into asset statuses,
//! as a pure state machine: no I/O, no clock, no async runtime. Every event
//! carries its time (`now`, Unix milliseconds); the server feeds it events
//! from its sessions, calls [`Engine::sweep`] every second and writes the
//! [`Transition`]s it gets back to the store.
//!
//! Rules:
//! * an asset is `unprotected`/`never_connected` until its first session;
//! * a session start makes it `protected` at once;
//! * any frame from a live session is a sign of life (`touch`);
//! * a session ending does not by itself make an asset offline, so agent
//!   restarts cause no flapping;
//! * [`Engine::sweep`] declares `unprotected`/`offline` when nothing was heard
//!   for longer than `policy.offline_after_ms()`, with `since` = the last
//!   time the asset was seen;
//! * after a server start (and after a policy change that shortens the
//!   window) every asset gets a full window before it can be declared
//!   offline, so a restart causes no storm of false transitions;
//! * `uninstalled` is terminal: sessions with that identity are refused.

mod engine;

pub use engine::{AssetState, Engine, Refusal, Transition};

#[cfg(test)]
mod tests;
