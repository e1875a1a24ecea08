//! The installer script and agent packages, served from the server itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ward_pki::secret::sha256_hex;
use ward_proto::PLATFORMS;

use crate::http_error::HttpError;
use crate::state::AppState;

/// The installer (`GET /install.sh`).
pub const INSTALL_SH: &str = include_str!("../assets/install.sh");
/// The uninstaller (`GET /uninstall.sh`).
pub const UNINSTALL_SH: &str = include_str!("../assets/uninstall.sh");
/// Header carrying the package's SHA-256 (hex).
pub const SHA256_HEADER: &str = "x-ward-sha256";
/// File name of the agent inside `<packages_dir>/<platform>/`.
pub const AGENT_FILE: &str = "ward-agent";

struct Cached {
    len: u64,
    modified: Option<SystemTime>,
    sha256: String,
    bytes: Bytes,
}

/// Agent packages read from disk, cached in memory until the file changes.
pub struct PackageCache {
    dir: PathBuf,
    cache: Mutex<HashMap<String, Arc<Cached>>>,
}

impl PackageCache {
    pub fn new(dir: PathBuf) -> Self {
        PackageCache {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `<packages_dir>/<platform>/ward-agent`.
    pub fn path(&self, platform: &str) -> PathBuf {
        self.dir.join(platform).join(AGENT_FILE)
    }

    /// The package and its SHA-256, or `None` when the file is missing.
    async fn get(&self, platform: &str) -> std::io::Result<Option<Arc<Cached>>> {
        let path = self.path(platform);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let modified = meta.modified().ok();
        if let Some(c) = self.lock().get(platform) {
            if c.len == meta.len() && c.modified == modified {
                return Ok(Some(c.clone()));
            }
        }
        let bytes = Bytes::from(tokio::fs::read(&path).await?);
        let cached = Arc::new(Cached {
            len: bytes.len() as u64,
            modified,
            sha256: sha256_hex(&bytes),
            bytes,
        });
        self.lock().insert(platform.to_string(), cached.clone());
        Ok(Some(cached))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cached>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `GET /install.sh`.
pub async fn install_sh() -> Response {
    (
        [(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")],
        INSTALL_SH,
    )
        .into_response()
}

/// `GET /uninstall.sh`.
pub async fn uninstall_sh() -> Response {
    (
        [(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")],
        UNINSTALL_SH,
    )
        .into_response()
}

/// `GET /download/agent/{platform}` and `GET /download/agent/{platform}.sha256`.
pub async fn agent(
    State(st): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Result<Response, HttpError> {
    let (platform, want_sum) = match file.strip_suffix(".sha256") {
        Some(p) => (p, true),
        None => (file.as_str(), false),
    };
    if !PLATFORMS.contains(&platform) {
        return Err(HttpError::not_found(format!(
            "unknown platform {platform:?}; known: {}",
            PLATFORMS.join(", ")
        )));
    }
    let pkg = st
        .packages
        .get(platform)
        .await
        .map_err(|e| HttpError::internal("reading an agent package failed", e))?;
    let Some(pkg) = pkg else {
        tracing::warn!(
            platform,
            expected = %st.packages.path(platform).display(),
            "agent package requested but missing"
        );
        return Err(HttpError::not_found(format!(
            "this server has no ward-agent package for {platform}"
        )));
    };
    if want_sum {
        let body = format!("{}  {AGENT_FILE}\n", pkg.sha256);
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static(SHA256_HEADER),
                pkg.sha256.clone(),
            ),
        ],
        pkg.bytes.clone(),
    )
        .into_response())
}
