//! Errors starting and running the server.

use std::path::PathBuf;

/// Why the server could not start (or an admin operation failed).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ward_config::ConfigError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Pki(#[from] ward_pki::issue::PkiError),
    #[error("store: {0}")]
    Store(#[from] ward_store::StoreError),
    #[error("{0}")]
    Other(String),
}

impl ServerError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ServerError {
        let path = path.into();
        move |source| ServerError::Io { path, source }
    }
}
