//! Configuration errors. Every error renders as one line naming where the
//! bad value came from (file, environment variable or flag), the key path and
//! the cause.

use std::fmt;
use std::path::PathBuf;

/// A problem found by a `validate` step: the key path, the cause and, when
/// known, where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the value was set (`/etc/ward.toml`, `environment variable WARD_X`,
    /// `command line --listen`), `None` for built-in defaults.
    pub origin: Option<String>,
    /// Dotted key path, e.g. `policy.keepalive_secs`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Errors loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {cause}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// An environment variable name does not map to a key path.
    #[error("environment variable {var}: {message}")]
    EnvName { var: String, message: String },
    /// A key is unknown or its value has the wrong type.
    #[error("{origin}: {key}: {cause}")]
    Key {
        origin: String,
        key: String,
        cause: String,
    },
    /// Validation found one or more problems (all of them are listed).
    #[error("{}", join_problems(.0))]
    Invalid(Vec<Problem>),
}

fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigError {
    /// The problems of an [`ConfigError::Invalid`], or this error as one problem.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(p) => p.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}
