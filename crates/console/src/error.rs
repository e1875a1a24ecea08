//! Errors of the console library.

use std::path::PathBuf;

/// Failures of the administrator password and session machinery.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("password check task failed: {0}")]
    Task(String),
}
