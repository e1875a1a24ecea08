//! Ward's rule engine: Sigma-compatible detection and correlation rules over
//! [`ward_events::Event`]s, with no I/O.
//!
//! This crate owns the rule format (a Sigma subset plus Ward's `first_seen`
//! correlation), its compiler with stable error codes ([`ErrorCode`],
//! `W1001`...), the evaluation engine with bounded correlation state and
//! alert de-duplication, Ward's built-in login rules, and offline
//! [`replay`] of auth logs. The format, the error codes, the built-in rules
//! and the exact alert semantics are documented in `crates/rules/RULES.md`.
//!
//! ```
//! use ward_rules::{Engine, RuleSetBuilder};
//! let set = RuleSetBuilder::with_builtin().build().expect("built-in rules compile");
//! let mut engine = Engine::new(set);
//! # let _ = &mut engine;
//! ```

mod alert;
mod builtin;
mod compile;
mod condition;
mod detection;
mod engine;
mod error;
mod parse;
mod pattern;
mod replay;
mod rule;
mod settings;
mod state;
mod yaml;

pub use alert::{Alert, Severity, MAX_EVIDENCE};
pub use builtin::{RULE_IDS as BUILTIN_RULE_IDS, SOURCES as BUILTIN_SOURCES};
pub use compile::{RuleSetBuilder, MAX_RULES};
pub use engine::{Engine, EngineLimits, EngineStats};
pub use error::{CompileErrors, ErrorCode, Pos, RuleError};
pub use replay::replay;
pub use rule::{CorrelationType, RuleInfo, RuleSet};
pub use settings::{RuleOverride, RuleSettings};
pub use yaml::{MAX_DEPTH as MAX_YAML_DEPTH, MAX_NODES as MAX_YAML_NODES, MAX_SOURCE_BYTES};
