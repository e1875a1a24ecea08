//! `conf/update.toml`: the updater's settings, typed, `Default` as the
//! source of truth, unknown keys refused, every key overridable with
//! `WARD_UPDATE_<KEY>` (e.g. `WARD_UPDATE_CHECK_INTERVAL_SECS=600`).
//!
//! ```toml
//! log_level = "info"
//! check_interval_secs = 3600   # how often to ask the server for a release
//! check_jitter_secs = 300      # random extra delay, so a fleet does not ask at once
//! health_deadline_secs = 60    # a new agent must be online within this, or it is rolled back
//! guard_interval_ms = 1000     # how often ward-agent is checked (restarted within ~1 s)
//! ```

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_agent_core::config::{load_toml_with_env, log_level_problem, ConfigError};

/// Prefix of the environment overrides.
pub const ENV_PREFIX: &str = "WARD_UPDATE";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    pub log_level: String,
    pub check_interval_secs: u64,
    pub check_jitter_secs: u64,
    pub health_deadline_secs: u64,
    pub guard_interval_ms: u64,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            log_level: "info".into(),
            check_interval_secs: 3600,
            check_jitter_secs: 300,
            health_deadline_secs: 60,
            guard_interval_ms: 1000,
        }
    }
}

impl UpdateConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = log_level_problem(&self.log_level).into_iter().collect();
        if self.check_interval_secs < 10 {
            p.push("check_interval_secs must be at least 10".into());
        }
        if !(5..=3600).contains(&self.health_deadline_secs) {
            p.push("health_deadline_secs must be between 5 and 3600".into());
        }
        if !(100..=5000).contains(&self.guard_interval_ms) {
            p.push(
                "guard_interval_ms must be between 100 and 5000 (ward-agent must be back within 10 s)"
                    .into(),
            );
        }
        p
    }

    pub fn health_deadline(&self) -> Duration {
        Duration::from_secs(self.health_deadline_secs)
    }
}

/// Loads `conf/update.toml` (defaults when missing) with the environment.
pub fn load(path: &Path) -> Result<UpdateConfig, ConfigError> {
    load_with(path, |k| std::env::var(k).ok())
}

pub fn load_with(
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<UpdateConfig, ConfigError> {
    load_toml_with_env(path, ENV_PREFIX, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(&dir.path().join("none"), |_| None).unwrap();
        assert_eq!(c, UpdateConfig::default());
        assert_eq!(c.check_interval_secs, 3600);
        assert_eq!(c.health_deadline_secs, 60);
        assert!(c.problems().is_empty());
        let p = dir.path().join("update.toml");
        std::fs::write(&p, "health_deadline_secs = 15\n").unwrap();
        let env = |k: &str| (k == "WARD_UPDATE_CHECK_INTERVAL_SECS").then(|| "600".to_string());
        let c = load_with(&p, env).unwrap();
        assert_eq!((c.health_deadline_secs, c.check_interval_secs), (15, 600));
        std::fs::write(&p, "surprise = 1\n").unwrap();
        assert!(load_with(&p, |_| None).is_err(), "unknown keys are errors");
        let bad = UpdateConfig {
            guard_interval_ms: 20_000,
            ..UpdateConfig::default()
        };
        assert_eq!(bad.problems().len(), 1);
    }
}
