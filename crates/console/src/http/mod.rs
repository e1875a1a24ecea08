//! HTTP plumbing of the console: error pages and request layers.

pub mod error;
pub mod middleware;

pub use error::PageError;
pub use middleware::{Authed, SessionCtx};
