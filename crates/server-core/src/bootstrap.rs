//! First-start (and every-start) preparation of the data directory:
//! the directory itself (0700), the TLS identity, the command-signing key,
//! a first verification key, and the local agent package.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use ward_config::ServerConfig;
use ward_pki::issue::{load_or_create_server_tls, load_server_tls_files, ServerTls};
use ward_pki::secret::write_file_atomic;
use ward_store::Store;

use crate::admin;
use crate::download::{AGENT_FILE, UPDATE_FILE};
use crate::error::ServerError;
use crate::net::url_host;

/// Directory of the generated CA and server certificate.
pub const TLS_DIR: &str = "tls";
/// The command-signing key.
pub const COMMAND_KEY_FILE: &str = "keys/command.ed25519";
/// The release-signing key (never served; agents get its public half).
pub const RELEASE_KEY_FILE: &str = "keys/release.ed25519";
/// Published release files: `releases/<version>/<platform>/<file>`.
pub const RELEASES_DIR: &str = "releases";
/// Label of the verification key created at first start.
pub const FIRST_KEY_LABEL: &str = "default";

/// Creates the data directory (0700) if it does not exist.
pub fn create_data_dir(dir: &Path) -> Result<(), ServerError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(ServerError::io(dir))
}

/// The configured certificate, or the generated one carrying the advertised
/// host names (and the listen address when it is a specific one).
pub fn server_tls(config: &ServerConfig, urls: &[String]) -> Result<ServerTls, ServerError> {
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        return Ok(load_server_tls_files(cert, key)?);
    }
    let mut names: Vec<String> = urls.iter().filter_map(|u| url_host(u)).collect();
    let ip = config.listen.ip();
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    Ok(load_or_create_server_tls(
        &config.data_dir.join(TLS_DIR),
        &names,
    )?)
}

/// Creates a first verification key when there is none at all.
pub async fn ensure_first_key(store: &dyn Store) -> Result<(), ServerError> {
    if store.list_keys().await?.is_empty() {
        let key = admin::create_key(store, FIRST_KEY_LABEL, None).await?;
        tracing::info!(key = %key.id, "created the first verification key");
    }
    Ok(())
}

/// Puts `agent` and `update` (the `ward-agent` and `ward-update` next to the
/// running `ward-server`) into the packages dir for this host's platform,
/// each unless a package is already there.
pub fn install_local_packages(packages_dir: &Path, agent: Option<&Path>, update: Option<&Path>) {
    install_local_package(packages_dir, agent, AGENT_FILE);
    install_local_package(packages_dir, update, UPDATE_FILE);
}

fn install_local_package(packages_dir: &Path, source: Option<&Path>, file: &str) {
    let (Some(platform), Some(source)) = (ward_proto::current_platform(), source) else {
        return;
    };
    let target = packages_dir.join(platform).join(file);
    if target.exists() || !source.is_file() {
        return;
    }
    let result = std::fs::read(source).and_then(|bytes| write_file_atomic(&target, &bytes, 0o755));
    match result {
        Ok(()) => tracing::info!(
            platform,
            from = %source.display(),
            "{file} package installed from the copy next to ward-server"
        ),
        Err(e) => tracing::warn!(
            platform,
            error = %e,
            "could not copy the local {file} into the packages dir"
        ),
    }
}
