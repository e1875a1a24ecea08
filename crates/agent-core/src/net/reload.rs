//! `network.toml`, loaded into what the session loop uses, and re-read
//! after failed attempts: an operator who fixes the file (a wrong endpoint,
//! pin, override or proxy) does not have to restart the agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::NetOptions;
use crate::config::{load_network_config, NetworkConfig};
use crate::http::Endpoint;

/// Everything the session loop takes from `network.toml`.
#[derive(Clone)]
pub struct LoadedNetwork {
    pub endpoints: Vec<Endpoint>,
    pub tls: Arc<rustls::ClientConfig>,
    pub options: NetOptions,
    /// While on a fallback endpoint, how often to probe the preferred ones.
    pub failback_every: Option<Duration>,
}

impl std::fmt::Debug for LoadedNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedNetwork")
            .field("endpoints", &self.endpoints)
            .field("options", &self.options)
            .field("failback_every", &self.failback_every)
            .finish_non_exhaustive()
    }
}

impl LoadedNetwork {
    /// Validates a config; all problems joined with `"; "`.
    pub fn from_config(c: &NetworkConfig) -> Result<LoadedNetwork, String> {
        let problems = c.problems();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let options = NetOptions::from_config(c).map_err(|p| p.join("; "))?;
        let endpoints = c
            .endpoints
            .iter()
            .map(|e| Endpoint::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = ward_pki::pin::pinned_client_config(&c.pin).map_err(|e| e.to_string())?;
        Ok(LoadedNetwork {
            endpoints,
            tls,
            options,
            failback_every: (c.failback_probe_secs > 0)
                .then(|| Duration::from_secs(c.failback_probe_secs)),
        })
    }

    /// Loads and validates a file.
    pub fn load(path: &Path) -> Result<LoadedNetwork, String> {
        let c = load_network_config(path).map_err(|e| crate::one_line(&e))?;
        Self::from_config(&c)
    }
}

/// What [`NetworkWatcher::check`] found.
#[derive(Debug)]
pub enum Reload {
    Unchanged,
    Changed(Box<LoadedNetwork>),
    /// The file changed but is not usable; the old settings stay.
    Invalid(String),
}

/// Remembers the last text of `network.toml` it saw.
#[derive(Debug, Clone)]
pub struct NetworkWatcher {
    path: PathBuf,
    last: Option<Vec<u8>>,
}

impl NetworkWatcher {
    /// Watches `path`, taking its current text as the baseline.
    pub fn new(path: PathBuf) -> Self {
        let last = std::fs::read(&path).ok();
        NetworkWatcher { path, last }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file; reports a change once.
    pub fn check(&mut self) -> Reload {
        let now = std::fs::read(&self.path).ok();
        if now == self.last {
            return Reload::Unchanged;
        }
        self.last = now;
        match LoadedNetwork::load(&self.path) {
            Ok(n) => Reload::Changed(Box::new(n)),
            Err(e) => Reload::Invalid(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::to_toml;

    fn pin() -> String {
        format!("sha256//{}", "A".repeat(43) + "=")
    }

    #[test]
    fn changes_are_reported_once_and_bad_files_kept_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network.toml");
        let mut c = NetworkConfig {
            endpoints: vec!["https://127.0.0.1:1".into()],
            pin: pin(),
            ..NetworkConfig::default()
        };
        std::fs::write(&path, to_toml(&c)).unwrap();
        let mut w = NetworkWatcher::new(path.clone());
        assert!(matches!(w.check(), Reload::Unchanged));
        c.endpoints.push("https://127.0.0.1:2".into());
        c.failback_probe_secs = 0;
        std::fs::write(&path, to_toml(&c)).unwrap();
        match w.check() {
            Reload::Changed(n) => {
                assert_eq!(n.endpoints.len(), 2);
                assert_eq!(n.failback_every, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(w.check(), Reload::Unchanged));
        std::fs::write(&path, "endpoints = [\"http://nope\"]\n").unwrap();
        assert!(matches!(w.check(), Reload::Invalid(_)));
        assert!(matches!(w.check(), Reload::Unchanged));
    }
}
