//! Operations shared by the `ward-server` CLI and the REST API: keys, API
//! tokens, install commands and the `server.json` the server writes for the CLI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ward_pki::secret::{random_token, sha256_hex, write_file_atomic};
use ward_proto::PLATFORMS;
use ward_store::{ApiToken, NewKey, Store, StoreError, VerificationKey};

use crate::clock::now_ms;
use crate::error::ServerError;
use crate::install_opts::InstallOptions;

/// File name of the store inside the data dir.
pub const STORE_FILE: &str = "ward.db";
/// File name of the server facts inside the data dir.
pub const SERVER_JSON: &str = "server.json";

/// What `serve` tells the CLI: where agents reach it and its pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// First advertised URL (used in install commands).
    pub url: String,
    /// Every advertised URL.
    pub urls: Vec<String>,
    /// `sha256//…` pin of the server key.
    pub pin: String,
    /// Address the server listens on.
    pub listen: String,
    /// ed25519 public key of the command-signing key (base64).
    pub command_key: String,
    /// ed25519 public key of the release-signing key (base64); agents
    /// receive it at enrollment.
    #[serde(default)]
    pub release_key: String,
    /// `ward-server` version that wrote the file.
    pub version: String,
}

impl ServerInfo {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(SERVER_JSON)
    }

    pub fn write(&self, data_dir: &Path) -> Result<(), ServerError> {
        let path = Self::path(data_dir);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| ServerError::Other(format!("encoding {SERVER_JSON}: {e}")))?;
        text.push('\n');
        write_file_atomic(&path, text.as_bytes(), 0o644).map_err(ServerError::io(path))
    }

    pub fn read(data_dir: &Path) -> Result<ServerInfo, ServerError> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ServerError::Other(format!(
                    "{} does not exist: start the server once with `ward-server serve --data-dir {}`",
                    path.display(),
                    data_dir.display()
                ))
            } else {
                ServerError::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        serde_json::from_str(&text)
            .map_err(|e| ServerError::Other(format!("{}: {e}", path.display())))
    }
}

/// Opens the store of an existing data dir (for CLI commands).
pub async fn open_existing_store(data_dir: &Path) -> Result<Arc<dyn Store>, ServerError> {
    let path = data_dir.join(STORE_FILE);
    if !path.is_file() {
        return Err(ServerError::Other(format!(
            "no Ward store at {}: start the server once with `ward-server serve --data-dir {}`",
            path.display(),
            data_dir.display()
        )));
    }
    let store = ward_store_sqlite::SqliteStore::open(&path).await?;
    Ok(Arc::new(store))
}

/// Creates a verification key with a fresh id and secret.
pub async fn create_key(
    store: &dyn Store,
    label: &str,
    default_group: Option<String>,
) -> Result<VerificationKey, StoreError> {
    store
        .create_key(NewKey {
            id: random_token("key", 9),
            secret: random_token("wk", 24),
            label: label.to_string(),
            default_group,
            created_at: now_ms(),
        })
        .await
}

/// Creates an API token; returns its record and the secret (shown once).
pub async fn create_api_token(
    store: &dyn Store,
    label: &str,
) -> Result<(ApiToken, String), StoreError> {
    let secret = random_token("wt", 32);
    let token = ApiToken {
        id: random_token("tok", 9),
        label: label.to_string(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    store
        .create_api_token(&token, &sha256_hex(secret.as_bytes()))
        .await?;
    Ok((token, secret))
}

/// Why no key could be chosen for an install command.
#[derive(Debug, thiserror::Error)]
pub enum KeyChoiceError {
    #[error("no verification key {0:?} (give a key id or secret from `ward-server keys list`)")]
    NotFound(String),
    #[error("verification key {0} is revoked")]
    Revoked(String),
    #[error("no usable verification key: create one with `ward-server keys create`")]
    NoneUsable,
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The key named by id or secret, or the newest non-revoked key.
pub async fn choose_key(
    store: &dyn Store,
    wanted: Option<&str>,
) -> Result<VerificationKey, KeyChoiceError> {
    if let Some(w) = wanted.map(str::trim).filter(|w| !w.is_empty()) {
        let key = match store.get_key(w).await? {
            Some(k) => Some(k),
            None => store.find_key_by_secret(w).await?,
        };
        let key = key.ok_or_else(|| KeyChoiceError::NotFound(w.to_string()))?;
        if key.revoked_at.is_some() {
            return Err(KeyChoiceError::Revoked(key.id));
        }
        return Ok(key);
    }
    store
        .list_keys()
        .await?
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .enumerate()
        .max_by_key(|(i, k)| (k.created_at, *i))
        .map(|(_, k)| k)
        .ok_or(KeyChoiceError::NoneUsable)
}

/// Quotes a word for POSIX sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// True when `p` is a platform Ward ships.
pub fn is_platform(p: &str) -> bool {
    PLATFORMS.contains(&p)
}

/// Every platform Ward ships.
pub fn platforms() -> &'static [&'static str] {
    PLATFORMS
}

/// This host's platform, if Ward ships one for it.
pub fn current_platform() -> Option<&'static str> {
    ward_proto::current_platform()
}

/// The one-line install command: fetches `install.sh` from `url` with the
/// pin and runs it with the server, pin, key and platform. Appending
/// ` --prefix DIR` passes the prefix to the agent installer.
///
/// When the download fails, curl's own error line (`curl: (90) SSL: public
/// key does not match pinned public key`, `curl: (7) Failed to connect …`)
/// is the one line that names the cause, and the command exits 3.
pub fn install_command(url: &str, pin: &str, key: &str, platform: &str) -> String {
    install_command_with(url, pin, key, platform, &InstallOptions::default())
}

/// [`install_command`] carrying network options: the proxy and overrides
/// also apply to the `curl` that fetches `install.sh`, and every option is
/// passed to the installer (see [`crate::install_opts`]).
pub fn install_command_with(
    url: &str,
    pin: &str,
    key: &str,
    platform: &str,
    opts: &InstallOptions,
) -> String {
    let url = url.trim_end_matches('/');
    format!(
        "sh -c \"$(curl -fsSk --pinnedpubkey {pin}{curl} {script} || echo exit 3)\" ward-install --server {server} --pin {pin} --key {key} --platform {platform}{rest}",
        pin = shell_quote(pin),
        curl = opts.curl_args(url),
        script = shell_quote(&format!("{url}/install.sh")),
        server = shell_quote(url),
        key = shell_quote(key),
        rest = opts.installer_args(),
    )
}

/// The one-line uninstall command: fetches `uninstall.sh` from `url` with
/// the pin and runs it; the script runs `ward-agent uninstall` (or, with
/// `--force`, removes a damaged install itself and tells the server with
/// the agent's credential). Append ` --prefix DIR`, ` --token TOKEN`.
pub fn uninstall_command(url: &str, pin: &str) -> String {
    let url = url.trim_end_matches('/');
    format!(
        "sh -c \"$(curl -fsSk --pinnedpubkey {pin} {script} || echo exit 3)\" ward-uninstall --server {server} --pin {pin}",
        pin = shell_quote(pin),
        script = shell_quote(&format!("{url}/uninstall.sh")),
        server = shell_quote(url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uninstall_command_has_the_documented_shape() {
        let cmd = uninstall_command("https://198.51.100.7:8443/", "sha256//AAAA+/=");
        let want = "sh -c \"$(curl -fsSk --pinnedpubkey 'sha256//AAAA+/=' 'https://198.51.100.7:8443/uninstall.sh' || echo exit 3)\" ward-uninstall --server 'https://198.51.100.7:8443' --pin 'sha256//AAAA+/='";
        assert_eq!(cmd, want);
    }

    #[test]
    fn install_command_has_the_documented_shape() {
        let cmd = install_command(
            "https://198.51.100.7:8443/",
            "sha256//AAAA+/=",
            "wk_abc",
            "linux-x86_64",
        );
        let want = "sh -c \"$(curl -fsSk --pinnedpubkey 'sha256//AAAA+/=' 'https://198.51.100.7:8443/install.sh' || echo exit 3)\" ward-install --server 'https://198.51.100.7:8443' --pin 'sha256//AAAA+/=' --key 'wk_abc' --platform linux-x86_64";
        assert_eq!(cmd, want);
        assert!(!cmd.contains('\n'));
    }

    #[test]
    fn install_command_carries_network_options() {
        let opts = InstallOptions::build(
            vec!["https://ward.example.internal:8443".into()],
            vec![],
            &["ward.example.internal=10.0.0.1".into()],
            Some("http://10.0.0.3:3128".into()),
        )
        .unwrap();
        let cmd = install_command_with(
            "https://ward.example.internal:8443",
            "sha256//AAAA+/=",
            "wk_abc",
            "linux-x86_64",
            &opts,
        );
        let want = "sh -c \"$(curl -fsSk --pinnedpubkey 'sha256//AAAA+/=' --proxy 'http://10.0.0.3:3128' --resolve 'ward.example.internal:8443:10.0.0.1' 'https://ward.example.internal:8443/install.sh' || echo exit 3)\" ward-install --server 'https://ward.example.internal:8443' --pin 'sha256//AAAA+/=' --key 'wk_abc' --platform linux-x86_64 --endpoint 'https://ward.example.internal:8443' --override 'ward.example.internal=10.0.0.1' --proxy 'http://10.0.0.3:3128'";
        assert_eq!(cmd, want);
    }

    #[test]
    fn shell_quote_survives_sh() {
        for s in ["plain", "it's", "a b", "$(x)", "`y`", "\\"] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", shell_quote(s))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
