//! The installer script and agent packages (`ward-agent` and `ward-update`
//! per platform), served from the server itself; release files use the
//! same cache (see `releases`).

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
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
/// File name of the updater inside `<packages_dir>/<platform>/`.
pub const UPDATE_FILE: &str = "ward-update";

/// A file read from disk, with its SHA-256.
pub struct Cached {
    len: u64,
    modified: Option<SystemTime>,
    pub sha256: String,
    pub bytes: Bytes,
}

/// Agent packages and release files read from disk, cached in memory until
/// the file changes.
pub struct PackageCache {
    dir: PathBuf,
    cache: Mutex<HashMap<PathBuf, Arc<Cached>>>,
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
        self.file_path(platform, AGENT_FILE)
    }

    /// `<packages_dir>/<platform>/<file>`.
    pub fn file_path(&self, platform: &str, file: &str) -> PathBuf {
        self.dir.join(platform).join(file)
    }

    /// The file at `path` and its SHA-256, or `None` when it is missing.
    pub async fn get(&self, path: &FsPath) -> std::io::Result<Option<Arc<Cached>>> {
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let modified = meta.modified().ok();
        if let Some(c) = self.lock().get(path) {
            if c.len == meta.len() && c.modified == modified {
                return Ok(Some(c.clone()));
            }
        }
        let bytes = Bytes::from(tokio::fs::read(path).await?);
        let cached = Arc::new(Cached {
            len: bytes.len() as u64,
            modified,
            sha256: sha256_hex(&bytes),
            bytes,
        });
        self.lock().insert(path.to_path_buf(), cached.clone());
        Ok(Some(cached))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Cached>>> {
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
    package(&st, &file, AGENT_FILE).await
}

/// `GET /download/update/{platform}` and `GET /download/update/{platform}.sha256`.
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Result<Response, HttpError> {
    package(&st, &file, UPDATE_FILE).await
}

async fn package(st: &AppState, file: &str, program: &str) -> Result<Response, HttpError> {
    let (platform, want_sum) = match file.strip_suffix(".sha256") {
        Some(p) => (p, true),
        None => (file, false),
    };
    if !PLATFORMS.contains(&platform) {
        return Err(HttpError::not_found(format!(
            "unknown platform {platform:?}; known: {}",
            PLATFORMS.join(", ")
        )));
    }
    let path = st.packages.file_path(platform, program);
    let pkg = st
        .packages
        .get(&path)
        .await
        .map_err(|e| HttpError::internal("reading a package failed", e))?;
    let Some(pkg) = pkg else {
        tracing::warn!(
            platform,
            expected = %path.display(),
            "package requested but missing"
        );
        return Err(HttpError::not_found(format!(
            "this server has no {program} package for {platform}"
        )));
    };
    if want_sum {
        let body = format!("{}  {program}\n", pkg.sha256);
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response());
    }
    Ok(bytes_response(&pkg))
}

/// An octet-stream answer carrying the file's SHA-256 header.
pub fn bytes_response(pkg: &Cached) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static(SHA256_HEADER),
                pkg.sha256.clone(),
            ),
        ],
        pkg.bytes.clone(),
    )
        .into_response()
}
