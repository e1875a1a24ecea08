//! `conf/agent.toml` and `conf/network.toml`.
//!
//! Both are typed with `Default` as the source of truth and reject unknown
//! keys. Every `agent.toml` key can be overridden by the environment variable
//! `WARD_AGENT_<KEY>` (upper case), e.g. `WARD_AGENT_LOG_LEVEL=debug`; keys
//! of tables join the table names, e.g. `WARD_AGENT_SPOOL_MAX_BYTES` or
//! `WARD_AGENT_COLLECT_AUTH_PATHS=/var/log/auth.log,/var/log/secure`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::Endpoint;
use crate::net::Proxy;

/// `conf/agent.toml`: local behaviour of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Smallest reconnect delay, milliseconds.
    pub reconnect_min_backoff_ms: u64,
    /// Largest reconnect delay, milliseconds.
    pub reconnect_max_backoff_ms: u64,
    /// How often the agent checks whether the host report changed materially.
    pub report_check_secs: u64,
    /// `[spool]`: the on-disk event buffer (see `pipeline::settings`).
    pub spool: crate::pipeline::SpoolSettings,
    /// `[collect.*]`: collectors (see `pipeline::settings`).
    pub collect: crate::pipeline::CollectSettings,
    /// `[watchdog]`: the agent's RSS and CPU caps (see `watchdog`).
    pub watchdog: crate::watchdog::WatchdogSettings,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            log_level: "info".into(),
            reconnect_min_backoff_ms: 500,
            reconnect_max_backoff_ms: 60_000,
            report_check_secs: 60,
            spool: Default::default(),
            collect: Default::default(),
            watchdog: Default::default(),
        }
    }
}

/// Log levels `log_level` accepts.
pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// The problem with a `log_level` value, if any.
pub fn log_level_problem(level: &str) -> Option<String> {
    (!LOG_LEVELS.contains(&level)).then(|| {
        format!(
            "log_level must be one of {}, got {level:?}",
            LOG_LEVELS.join(", ")
        )
    })
}

impl AgentConfig {
    /// What is wrong with the values, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = log_level_problem(&self.log_level).into_iter().collect();
        if self.reconnect_min_backoff_ms == 0 {
            p.push("reconnect_min_backoff_ms must be at least 1".into());
        }
        if self.reconnect_max_backoff_ms < self.reconnect_min_backoff_ms {
            p.push(format!(
                "reconnect_max_backoff_ms ({}) must not be below reconnect_min_backoff_ms ({})",
                self.reconnect_max_backoff_ms, self.reconnect_min_backoff_ms
            ));
        }
        if self.report_check_secs == 0 {
            p.push("report_check_secs must be at least 1".into());
        }
        p.extend(self.spool.problems());
        p.extend(self.collect.auth.problems());
        p.extend(self.collect.process.problems());
        p.extend(self.collect.files.problems());
        p.extend(self.watchdog.problems());
        p
    }

    pub fn min_backoff(&self) -> Duration {
        Duration::from_millis(self.reconnect_min_backoff_ms)
    }
    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_backoff_ms)
    }
}

/// `conf/network.toml`: where the server is, which key it must have, and
/// how to reach it (overrides, proxy). See the README's network.toml section.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Session endpoints, `https://host:port`, tried in order (the first is
    /// the preferred one).
    pub endpoints: Vec<String>,
    /// The server key pin, `sha256//BASE64`.
    pub pin: String,
    /// Update/package endpoints, in order (used by the updater).
    pub update_endpoints: Vec<String>,
    /// Optional HTTP CONNECT proxy, `http://[user:password@]host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// While on a fallback endpoint, probe the preferred ones this often
    /// (seconds; 0: never return before the fallback session ends).
    pub failback_probe_secs: u64,
    /// Time allowed for each of resolving, connecting and the TLS handshake.
    pub connect_timeout_secs: u64,
    /// Host name → IP address, used instead of DNS (`/etc/hosts` untouched).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, String>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            endpoints: Vec::new(),
            pin: String::new(),
            update_endpoints: Vec::new(),
            proxy: None,
            failback_probe_secs: 60,
            connect_timeout_secs: 10,
            overrides: BTreeMap::new(),
        }
    }
}

/// Never prints the proxy's credentials.
impl std::fmt::Debug for NetworkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proxy = self.proxy.as_deref().map(|p| match Proxy::parse(p) {
            Ok(p) => p.display_url(),
            Err(_) => "(invalid)".to_string(),
        });
        f.debug_struct("NetworkConfig")
            .field("endpoints", &self.endpoints)
            .field("pin", &self.pin)
            .field("update_endpoints", &self.update_endpoints)
            .field("proxy", &proxy)
            .field("failback_probe_secs", &self.failback_probe_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("overrides", &self.overrides)
            .finish()
    }
}

impl NetworkConfig {
    /// What is wrong with the values, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.endpoints.is_empty() {
            p.push("endpoints is empty: at least one https://host:port is needed".into());
        }
        for (name, list) in [
            ("endpoints", &self.endpoints),
            ("update_endpoints", &self.update_endpoints),
        ] {
            for e in list {
                if let Err(err) = Endpoint::parse(e) {
                    p.push(format!("{name}: {err}"));
                }
            }
        }
        if let Err(e) = ward_pki::pin::parse_pin(&self.pin) {
            p.push(format!("pin: {e}"));
        }
        if let Err(problems) = crate::net::NetOptions::from_config(self) {
            p.extend(problems);
        }
        p
    }

    /// True when the file holds a secret (proxy credentials): write it 0600.
    pub fn has_secrets(&self) -> bool {
        self.proxy
            .as_deref()
            .and_then(|p| Proxy::parse(p).ok())
            .is_some_and(|p| p.has_credentials())
    }

    /// The session endpoints, parsed.
    pub fn parsed_endpoints(&self) -> Result<Vec<Endpoint>, ConfigError> {
        self.endpoints
            .iter()
            .map(|e| Endpoint::parse(e).map_err(ConfigError::Invalid))
            .collect()
    }
}

/// Errors loading a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn parse_error(path: &Path, e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    }
}

/// Loads `agent.toml` (defaults when the file is missing) with overrides
/// from the process environment.
pub fn load_agent_config(path: &Path) -> Result<AgentConfig, ConfigError> {
    load_agent_config_with(path, |k| std::env::var(k).ok())
}

/// Loads `agent.toml` with overrides looked up through `env`.
pub fn load_agent_config_with(
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AgentConfig, ConfigError> {
    load_toml_with_env(path, "WARD_AGENT", env)
}

/// Loads a typed TOML file (defaults when it is missing; unknown keys are
/// errors) with `PREFIX_<KEY>` overrides looked up through `env` (see
/// `agent.toml`'s rules). `conf/update.toml` loads this way too.
pub fn load_toml_with_env<T>(
    path: &Path,
    prefix: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError>
where
    T: Default + Serialize + serde::de::DeserializeOwned,
{
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| parse_error(path, e))?;
    let defaults = toml::Table::try_from(T::default()).map_err(|e| parse_error(path, e))?;
    apply_env(&mut table, &defaults, prefix, path, &env)?;
    T::deserialize(table).map_err(|e| parse_error(path, e))
}

/// Environment overrides: `PREFIX_<KEY>` for each key of `defaults`, and
/// `PREFIX_<TABLE>_<KEY>` for keys of nested tables (e.g.
/// `WARD_AGENT_SPOOL_MAX_BYTES`, `WARD_AGENT_COLLECT_AUTH_PATHS`). Lists of
/// strings take a comma-separated value (or a TOML array, `["a", "b"]`).
fn apply_env(
    table: &mut toml::Table,
    defaults: &toml::Table,
    prefix: &str,
    path: &Path,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, default) in defaults {
        let var = format!("{prefix}_{}", key.to_uppercase());
        if let toml::Value::Table(sub) = default {
            let entry = table
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                apply_env(t, sub, &var, path, env)?;
            }
            continue;
        }
        let Some(raw) = env(&var) else { continue };
        let value = match default {
            toml::Value::Integer(_) => raw
                .trim()
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|_| {
                    parse_error(path, format!("{var}: expected an integer, got {raw:?}"))
                })?,
            toml::Value::Boolean(_) => raw
                .trim()
                .parse::<bool>()
                .map(toml::Value::Boolean)
                .map_err(|_| {
                    parse_error(path, format!("{var}: expected true or false, got {raw:?}"))
                })?,
            toml::Value::Array(_) if raw.trim_start().starts_with('[') => {
                toml::from_str::<toml::Table>(&format!("v = {raw}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .ok_or_else(|| {
                        parse_error(path, format!("{var}: expected a list, got {raw:?}"))
                    })?
            }
            toml::Value::Array(_) => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
            _ => toml::Value::String(raw),
        };
        table.insert(key.clone(), value);
    }
    Ok(())
}

/// Loads `network.toml` (it must exist: it is written by the install).
pub fn load_network_config(path: &Path) -> Result<NetworkConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| parse_error(path, e))
}

/// Loads both files of an install; returns every problem, one line each,
/// prefixed with the file it is in.
pub fn validate_files(layout: &crate::layout::Layout) -> Vec<String> {
    let mut out = Vec::new();
    let one_line = |e: &ConfigError| crate::one_line(e);
    match load_agent_config(&layout.agent_toml()) {
        Ok(c) => out.extend(
            c.problems()
                .into_iter()
                .map(|p| format!("{}: {p}", layout.agent_toml().display())),
        ),
        Err(e) => out.push(one_line(&e)),
    }
    match load_network_config(&layout.network_toml()) {
        Ok(n) => out.extend(
            n.problems()
                .into_iter()
                .map(|p| format!("{}: {p}", layout.network_toml().display())),
        ),
        Err(e) => out.push(one_line(&e)),
    }
    out
}

/// TOML text of a config value.
pub fn to_toml<T: Serialize>(value: &T) -> String {
    toml::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn missing_agent_toml_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_agent_config_with(&dir.path().join("none.toml"), |_| None).unwrap();
        assert_eq!(c, AgentConfig::default());
        assert_eq!(c.log_level, "info");
        assert_eq!(c.reconnect_min_backoff_ms, 500);
        assert_eq!(c.reconnect_max_backoff_ms, 60_000);
        assert_eq!(c.report_check_secs, 60);
        assert!(c.problems().is_empty());
    }

    #[test]
    fn file_values_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "agent.toml",
            "log_level = \"debug\"\nreconnect_min_backoff_ms = 100\n",
        );
        let c = load_agent_config_with(&p, |_| None).unwrap();
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.reconnect_min_backoff_ms, 100);
        assert_eq!(c.report_check_secs, 60);
        let env = |k: &str| match k {
            "WARD_AGENT_LOG_LEVEL" => Some("warn".to_string()),
            "WARD_AGENT_REPORT_CHECK_SECS" => Some("5".to_string()),
            _ => None,
        };
        let c = load_agent_config_with(&p, env).unwrap();
        assert_eq!(c.log_level, "warn");
        assert_eq!(c.report_check_secs, 5);
        assert_eq!(c.reconnect_min_backoff_ms, 100);
        let bad_env = |k: &str| (k == "WARD_AGENT_REPORT_CHECK_SECS").then(|| "soon".to_string());
        let err = load_agent_config_with(&p, bad_env).unwrap_err().to_string();
        assert!(err.contains("WARD_AGENT_REPORT_CHECK_SECS"), "{err}");
    }

    #[test]
    fn pipeline_keys_defaults_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_agent_config_with(&dir.path().join("none.toml"), |_| None).unwrap();
        assert_eq!(c.spool.max_bytes, 64 * 1024 * 1024);
        assert_eq!(c.spool.segment_bytes, 4 * 1024 * 1024);
        assert!(c.collect.auth.enabled);
        assert_eq!(
            c.collect.auth.paths,
            vec![
                "/var/log/auth.log".to_string(),
                "/var/log/secure".to_string()
            ]
        );
        assert_eq!(c.collect.auth.journald, "auto");
        let p = write(
            dir.path(),
            "agent.toml",
            "[spool]\nmax_files = 9\n[collect.auth]\nwtmp = false\npaths = [\"/x/a.log\"]\n",
        );
        let c = load_agent_config_with(&p, |_| None).unwrap();
        assert_eq!(c.spool.max_files, 9);
        assert!(!c.collect.auth.wtmp);
        assert_eq!(c.collect.auth.paths, vec!["/x/a.log".to_string()]);
        let env = |k: &str| match k {
            "WARD_AGENT_COLLECT_AUTH_PATHS" => Some("/t/auth.log, /t/secure".to_string()),
            "WARD_AGENT_SPOOL_MAX_BYTES" => Some("16777216".to_string()),
            "WARD_AGENT_COLLECT_AUTH_JOURNALD" => Some("off".to_string()),
            "WARD_AGENT_COLLECT_AUTH_ENABLED" => Some("false".to_string()),
            _ => None,
        };
        let c = load_agent_config_with(&p, env).unwrap();
        assert_eq!(
            c.collect.auth.paths,
            vec!["/t/auth.log".to_string(), "/t/secure".to_string()]
        );
        assert_eq!(c.spool.max_bytes, 16 * 1024 * 1024);
        assert_eq!(c.spool.max_files, 9, "file value kept");
        assert_eq!(c.collect.auth.journald, "off");
        assert!(!c.collect.auth.enabled);
        let env = |k: &str| {
            (k == "WARD_AGENT_COLLECT_AUTH_PATHS").then(|| "[\"/a b/auth.log\"]".to_string())
        };
        let c = load_agent_config_with(&p, env).unwrap();
        assert_eq!(c.collect.auth.paths, vec!["/a b/auth.log".to_string()]);
        let p = write(
            dir.path(),
            "agent.toml",
            "[spool]\nmax_bytes = 10\n[collect.auth]\njournald = \"maybe\"\n",
        );
        let c = load_agent_config_with(&p, |_| None).unwrap();
        let problems = c.problems();
        assert!(
            problems.iter().any(|p| p.starts_with("spool: max_bytes")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("journald")),
            "{problems:?}"
        );
        let p = write(dir.path(), "agent.toml", "[collect.auth]\npathz = []\n");
        let err = load_agent_config_with(&p, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pathz"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "agent.toml", "log_levle = \"debug\"\n");
        let err = load_agent_config_with(&p, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("log_levle"), "{err}");
        let p = write(
            dir.path(),
            "network.toml",
            "endpoints = []\npin = \"\"\nproxy2 = 1\n",
        );
        let err = load_network_config(&p).unwrap_err().to_string();
        assert!(err.contains("proxy2"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn value_problems_are_listed() {
        let c = AgentConfig {
            log_level: "loud".into(),
            reconnect_min_backoff_ms: 10,
            reconnect_max_backoff_ms: 5,
            report_check_secs: 0,
            ..AgentConfig::default()
        };
        assert_eq!(c.problems().len(), 3);
        let n = NetworkConfig {
            endpoints: vec!["http://x:1".into(), "https://ok:8443".into()],
            pin: "sha256//short".into(),
            ..NetworkConfig::default()
        };
        let p = n.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("http://x:1"));
        assert!(p[1].starts_with("pin:"));
        assert!(NetworkConfig::default().problems().len() >= 2);
    }

    #[test]
    fn network_toml_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = NetworkConfig {
            endpoints: vec!["https://127.0.0.1:8443".into()],
            pin: format!("sha256//{}", "A".repeat(43) + "="),
            ..NetworkConfig::default()
        };
        let p = write(dir.path(), "network.toml", &to_toml(&n));
        assert_eq!(load_network_config(&p).unwrap(), n);
        assert!(n.problems().is_empty(), "{:?}", n.problems());
        assert!(!n.has_secrets());
        n.update_endpoints = vec!["https://u.example:443".into()];
        n.proxy = Some("http://u:p@127.0.0.1:3128".into());
        n.overrides
            .insert("ward.example.internal".into(), "10.0.0.5".into());
        n.failback_probe_secs = 5;
        let p = write(dir.path(), "network.toml", &to_toml(&n));
        assert_eq!(load_network_config(&p).unwrap(), n);
        assert!(n.problems().is_empty(), "{:?}", n.problems());
        assert!(n.has_secrets());
        assert!(
            !format!("{n:?}").contains(":p@"),
            "Debug hides the password"
        );
    }

    #[test]
    fn network_toml_defaults_and_bad_network_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "network.toml",
            "endpoints = [\"https://h:1\"]\npin = \"x\"\n",
        );
        let n = load_network_config(&p).unwrap();
        assert_eq!((n.failback_probe_secs, n.connect_timeout_secs), (60, 10));
        assert_eq!(n.proxy, None);
        let p = write(
            dir.path(),
            "network.toml",
            "proxy = \"ftp://h:1\"\n[overrides]\n\"h.example\" = \"nope\"\n",
        );
        let problems = load_network_config(&p).unwrap().problems();
        assert!(
            problems.iter().any(|e| e.starts_with("proxy must be")),
            "{problems:?}"
        );
        assert!(problems.iter().any(|e| e.contains("nope")), "{problems:?}");
    }
}
