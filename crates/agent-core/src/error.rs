//! The agent's error type and the exit codes of `ward-agent`.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | runtime failure |
//! | 2 | usage or configuration error |
//! | 3 | not running (`status`) |
//! | 4 | enrollment refused (unknown or revoked key) |
//! | 5 | server unreachable, TLS failure or pin mismatch |
//! | 7 | refused by tamper protection (no valid uninstall token) |

use std::io;
use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::enroll::EnrollError;
use crate::http::ConnectError;
use crate::session::SessionError;

/// Exit code constants.
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const RUNTIME: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_RUNNING: i32 = 3;
    pub const ENROLL_REFUSED: i32 = 4;
    pub const UNREACHABLE: i32 = 5;
    pub const REFUSED: i32 = 7;
}

/// Everything a `ward-agent` command can fail with. `Display` is one short
/// clause; the full message is the chain of sources joined by `": "`.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Enroll(#[from] EnrollError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{context} {}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Runtime(String),
    /// Tamper protection refused a local stop or uninstall.
    #[error("{0}")]
    Refused(String),
}

impl AgentError {
    pub fn io(context: &'static str, path: &Path, source: io::Error) -> Self {
        AgentError::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AgentError::Usage(_) | AgentError::Config(_) => exit_code::USAGE,
            AgentError::Enroll(e) => e.exit_code(),
            AgentError::Connect(_) => exit_code::UNREACHABLE,
            AgentError::Session(e) => e.exit_code(),
            AgentError::Io { .. } | AgentError::Runtime(_) => exit_code::RUNTIME,
            AgentError::Refused(_) => exit_code::REFUSED,
        }
    }
}

/// The error and its sources on one line, joined by `": "`.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        // `transparent` wrappers repeat their inner error; skip repeats.
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ").replace('\n', " ")
}
