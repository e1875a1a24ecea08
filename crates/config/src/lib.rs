//! Typed, layered configuration for Ward.
//!
//! This crate owns two things:
//!
//! * [`layered`]: the generic loader every Ward program uses. Defaults (the
//!   type's `Default`) are overlaid with a TOML file, then with environment
//!   variables (`PREFIX_KEY`, `PREFIX_SECTION__KEY`: a double underscore
//!   nests), then with command-line values. The overlay works on
//!   [`toml::Value`] and the result is deserialized once, so an unknown key
//!   or a value of the wrong type fails the same way whichever layer it came
//!   from, and the error names that layer, the key path and the cause.
//! * [`server`]: `ward-server`'s typed [`ServerConfig`] and its validation.

pub mod error;
pub mod layered;
pub mod server;

pub use error::{ConfigError, Problem};
pub use layered::{load_layered, load_layered_with, Origins, Override};
pub use server::{
    CliOverrides, Limits, LogConfig, LogFormat, ReleaseConfig, ServerConfig, TlsConfig, ENV_PREFIX,
};
