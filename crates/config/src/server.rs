//! `ward-server`'s configuration. `Default` is the source of truth for every
//! default value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ward_proto::Policy;

use crate::error::{ConfigError, Problem};
use crate::layered::{load_layered_with, Origins, Override};

/// Prefix of the environment variables that override server settings.
pub const ENV_PREFIX: &str = "WARD_";

/// The whole `ward-server` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the single HTTPS port.
    pub listen: SocketAddr,
    /// Where the store, keys and certificates live.
    pub data_dir: PathBuf,
    /// `https://host:port` URLs agents and installers use. Empty: derived from
    /// `listen` (its address, or the host's first non-loopback IPv4 when
    /// `listen` is unspecified).
    pub advertise: Vec<String>,
    pub tls: TlsConfig,
    /// Default agent policy (the value saved through the API wins once set).
    pub policy: Policy,
    /// Agent packages, `<packages_dir>/<platform>/ward-agent`; default `<data_dir>/packages`.
    pub packages_dir: Option<PathBuf>,
    /// Detection rules added to the built-in ones: every `*.yml`/`*.yaml`
    /// file under it (Sigma rules, e.g. SigmaHQ's Linux rules), read at
    /// start; default `<data_dir>/rules`.
    pub rules_dir: Option<PathBuf>,
    pub log: LogConfig,
    pub limits: Limits,
    /// `[release]`: signed agent release metadata.
    pub release: ReleaseConfig,
}

/// Agent release metadata (see the `ward-release` crate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReleaseConfig {
    /// How long signed release metadata stays valid. The server re-signs it
    /// (with a new version) once less than half of this is left; updaters
    /// refuse metadata past its expiry.
    pub metadata_expiry_secs: u64,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig {
            metadata_expiry_secs: 7 * 24 * 3600,
        }
    }
}

/// Shortest accepted `release.metadata_expiry_secs`.
pub const MIN_METADATA_EXPIRY_SECS: u64 = 60;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            data_dir: PathBuf::from("/var/lib/ward"),
            advertise: Vec::new(),
            tls: TlsConfig::default(),
            policy: Policy::default(),
            packages_dir: None,
            rules_dir: None,
            log: LogConfig::default(),
            limits: Limits::default(),
            release: ReleaseConfig::default(),
        }
    }
}

/// A configured certificate instead of the generated one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert: Option<PathBuf>,
    /// PEM private key of the leaf certificate.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A level (`info`) or tracing directives (`info,ward_server_core=debug`).
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Live agent sessions accepted at once.
    pub max_sessions: u32,
    /// Seconds a client gets to finish the TLS handshake.
    pub tls_handshake_timeout_secs: u32,
    /// TLS handshakes in progress at once (the rest wait).
    pub max_concurrent_handshakes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 200_000,
            tls_handshake_timeout_secs: 10,
            max_concurrent_handshakes: 256,
        }
    }
}

/// Values given on `ward-server`'s command line (they win over everything).
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl CliOverrides {
    fn to_overrides(&self) -> Vec<Override> {
        let mut v = Vec::new();
        if let Some(l) = &self.listen {
            v.push(Override::new("listen", l.as_str(), "command line --listen"));
        }
        if let Some(d) = &self.data_dir {
            v.push(Override::new(
                "data_dir",
                d.display().to_string(),
                "command line --data-dir",
            ));
        }
        v
    }
}

impl ServerConfig {
    /// Defaults ← `file` ← `WARD_*` variables of `env` ← `cli`. Also returns
    /// where each value came from, for [`ServerConfig::check`].
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        cli: &CliOverrides,
    ) -> Result<(ServerConfig, Origins), ConfigError> {
        load_layered_with(file, ENV_PREFIX, env, &cli.to_overrides())
    }

    /// Agent packages directory.
    pub fn packages_dir(&self) -> PathBuf {
        self.packages_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("packages"))
    }

    /// Directory of added detection rules.
    pub fn rules_dir(&self) -> PathBuf {
        self.rules_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("rules"))
    }

    /// Every problem with this configuration (empty when usable).
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut add = |key: &str, message: String| {
            p.push(Problem {
                origin: None,
                key: key.to_string(),
                message,
            })
        };
        for (i, url) in self.advertise.iter().enumerate() {
            if let Err(m) = check_advertise_url(url) {
                add(&format!("advertise[{i}]"), m);
            }
        }
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => add("tls.key", "required when tls.cert is set".into()),
            (None, Some(_)) => add("tls.cert", "required when tls.key is set".into()),
            _ => {}
        }
        for (key, path) in [("tls.cert", &self.tls.cert), ("tls.key", &self.tls.key)] {
            if let Some(path) = path {
                if let Err(e) = std::fs::File::open(path) {
                    add(key, format!("cannot read {}: {e}", path.display()));
                }
            }
        }
        if self.release.metadata_expiry_secs < MIN_METADATA_EXPIRY_SECS
            || self.release.metadata_expiry_secs > 366 * 24 * 3600
        {
            add(
                "release.metadata_expiry_secs",
                format!(
                    "must be between {MIN_METADATA_EXPIRY_SECS} and {} seconds, got {}",
                    366 * 24 * 3600,
                    self.release.metadata_expiry_secs
                ),
            );
        }
        if let Err(m) = self.policy.validate() {
            let key = m.split_whitespace().next().unwrap_or("");
            add(&format!("policy.{key}"), m);
        }
        if let Err(m) = check_log_level(&self.log.level) {
            add("log.level", m);
        }
        if self.limits.max_sessions == 0 {
            add("limits.max_sessions", "must be at least 1".into());
        }
        if !(1..=300).contains(&self.limits.tls_handshake_timeout_secs) {
            add(
                "limits.tls_handshake_timeout_secs",
                format!(
                    "must be between 1 and 300, got {}",
                    self.limits.tls_handshake_timeout_secs
                ),
            );
        }
        if self.limits.max_concurrent_handshakes == 0 {
            add(
                "limits.max_concurrent_handshakes",
                "must be at least 1".into(),
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            add("data_dir", "must not be empty".into());
        } else if self.data_dir.exists() && !self.data_dir.is_dir() {
            add(
                "data_dir",
                format!("{} exists and is not a directory", self.data_dir.display()),
            );
        }
        for (key, dir) in [
            ("packages_dir", &self.packages_dir),
            ("rules_dir", &self.rules_dir),
        ] {
            if let Some(d) = dir {
                if d.exists() && !d.is_dir() {
                    add(
                        key,
                        format!("{} exists and is not a directory", d.display()),
                    );
                }
            }
        }
        p
    }

    /// [`ServerConfig::validate`] as a `Result`, each problem naming where
    /// its value was set.
    pub fn check(&self, origins: &Origins) -> Result<(), ConfigError> {
        let mut problems = self.validate();
        if problems.is_empty() {
            return Ok(());
        }
        for p in &mut problems {
            let key = p.key.split('[').next().unwrap_or(&p.key);
            p.origin = origins.of(key).map(str::to_string);
        }
        Err(ConfigError::Invalid(problems))
    }
}

/// `https://host[:port][/]`, nothing else.
fn check_advertise_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("{url:?} must start with https://"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("{url:?} must be https://host:port with no path"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err(format!("{url:?}: unclosed [ in IPv6 address"));
        };
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("{url:?} has an invalid port {p:?}"));
        }
    }
    Ok(())
}

/// `info`, or directives like `info,ward_server_core=debug`.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    if level.trim().is_empty() {
        return Err("must not be empty".into());
    }
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let lvl = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{directive:?}: level must be one of {}",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
