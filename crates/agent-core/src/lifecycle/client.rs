//! The agent's HTTPS client for the lifecycle calls (see `ward-proto`):
//! the release offer, release file downloads and lifecycle reports, each one
//! request over the pinned TLS (dialed as `network.toml` says), trying the
//! update endpoints first (the session endpoints when none are set), in
//! order, until one answers.

use std::path::Path;
use std::sync::Arc;

use ward_proto::{
    ApiError, LifecycleKind, LifecycleReport, ReleaseOffer, LIFECYCLE_PATH,
    RELEASE_DOWNLOAD_PREFIX, RELEASE_PATH,
};

use crate::config::load_network_config;
use crate::http::{
    connect_tls_via, download, get_auth, post_json_auth, ConnectError, Downloaded, Endpoint,
    HttpResponse,
};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::net::reload::LoadedNetwork;
use crate::net::NetOptions;

/// Why a lifecycle call failed, one line.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{server} answered HTTP {status} for {path}: {message}")]
    Http {
        server: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{server}: malformed answer for {path}: {detail}")]
    Malformed {
        server: String,
        path: String,
        detail: String,
    },
}

/// Endpoints, TLS and credential of one install.
#[derive(Clone)]
pub struct LifecycleClient {
    endpoints: Vec<Endpoint>,
    tls: Arc<rustls::ClientConfig>,
    net: NetOptions,
    credential: String,
    pub agent_id: String,
}

impl std::fmt::Debug for LifecycleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleClient")
            .field("endpoints", &self.endpoints)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl LifecycleClient {
    /// From `conf/network.toml` and `data/identity.json` of a prefix.
    pub fn from_layout(layout: &Layout) -> Result<LifecycleClient, ClientError> {
        let cfg = load_network_config(&layout.network_toml())
            .map_err(|e| ClientError::Setup(crate::one_line(&e)))?;
        let loaded = LoadedNetwork::from_config(&cfg)
            .map_err(|e| ClientError::Setup(format!("{}: {e}", layout.network_toml().display())))?;
        let identity = Identity::load(&layout.identity())
            .map_err(|e| ClientError::Setup(crate::one_line(&e)))?
            .ok_or_else(|| {
                ClientError::Setup(format!(
                    "not enrolled: {} is missing",
                    layout.identity().display()
                ))
            })?;
        let mut endpoints = Vec::new();
        for e in cfg.update_endpoints.iter() {
            endpoints.push(Endpoint::parse(e).map_err(ClientError::Setup)?);
        }
        endpoints.extend(loaded.endpoints);
        endpoints.dedup_by(|a, b| a.url == b.url);
        Ok(LifecycleClient {
            endpoints,
            tls: loaded.tls,
            net: loaded.options,
            credential: identity.credential,
            agent_id: identity.agent_id,
        })
    }

    /// Runs `call` against each endpoint until one connects; the last
    /// connection error otherwise. HTTP answers (even errors) end the loop.
    async fn each<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut(Endpoint, tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut last = ClientError::Setup("no endpoint configured".into());
        for ep in &self.endpoints {
            match connect_tls_via(ep, self.tls.clone(), &self.net).await {
                Ok((stream, _)) => match call(ep.clone(), stream).await {
                    Err(ClientError::Connect(e)) => last = e.into(),
                    other => return other,
                },
                Err(e) => last = e.into(),
            }
        }
        Err(last)
    }

    /// `GET RELEASE_PATH`.
    pub async fn offer(&self) -> Result<ReleaseOffer, ClientError> {
        let cred = self.credential.clone();
        self.each(|ep, mut s| {
            let cred = cred.clone();
            async move {
                let r = get_auth(&mut s, &ep, RELEASE_PATH, &cred).await?;
                parse_json(&ep, RELEASE_PATH, r)
            }
        })
        .await
    }

    /// Downloads a release file into `dest` (created 0700, written, fsync-ed),
    /// at most `max` bytes; returns its size and SHA-256.
    pub async fn download_release(
        &self,
        version: &str,
        platform: &str,
        file: &str,
        dest: &Path,
        max: u64,
    ) -> Result<Downloaded, ClientError> {
        let path = format!("{RELEASE_DOWNLOAD_PREFIX}{version}/{platform}/{file}");
        self.each(|ep, mut s| {
            let path = path.clone();
            async move {
                let mut out = open_private(dest)
                    .map_err(|e| ClientError::Setup(format!("{}: {e}", dest.display())))?;
                let d = download(&mut s, &ep, &path, max, &mut out).await?;
                out.sync_all()
                    .map_err(|e| ClientError::Setup(format!("{}: {e}", dest.display())))?;
                if d.status != 200 {
                    return Err(ClientError::Http {
                        server: ep.url.clone(),
                        path,
                        status: d.status,
                        message: d.error_body,
                    });
                }
                Ok(d)
            }
        })
        .await
    }

    /// `POST LIFECYCLE_PATH`.
    pub async fn report(&self, report: &LifecycleReport) -> Result<(), ClientError> {
        let body = serde_json::to_string(report).map_err(|e| ClientError::Setup(e.to_string()))?;
        let cred = self.credential.clone();
        self.each(|ep, mut s| {
            let (cred, body) = (cred.clone(), body.clone());
            async move {
                let r = post_json_auth(&mut s, &ep, LIFECYCLE_PATH, &cred, &body).await?;
                if (200..300).contains(&r.status) {
                    Ok(())
                } else {
                    Err(http_error(&ep, LIFECYCLE_PATH, &r))
                }
            }
        })
        .await
    }
}

fn open_private(dest: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o700)
        .open(dest)
}

fn http_error(ep: &Endpoint, path: &str, r: &HttpResponse) -> ClientError {
    let message = match serde_json::from_slice::<ApiError>(&r.body) {
        Ok(e) => format!("{} ({})", e.error.message, e.error.code.as_str()),
        Err(_) => String::from_utf8_lossy(&r.body).chars().take(200).collect(),
    };
    ClientError::Http {
        server: ep.url.clone(),
        path: path.to_string(),
        status: r.status,
        message,
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    ep: &Endpoint,
    path: &str,
    r: HttpResponse,
) -> Result<T, ClientError> {
    if !(200..300).contains(&r.status) {
        return Err(http_error(ep, path, &r));
    }
    serde_json::from_slice(&r.body).map_err(|e| ClientError::Malformed {
        server: ep.url.clone(),
        path: path.to_string(),
        detail: e.to_string(),
    })
}

/// A report about `program` (`ward-agent` / `ward-update`), stamped now.
pub fn report(kind: LifecycleKind, program: &str, message: impl Into<String>) -> LifecycleReport {
    LifecycleReport {
        kind,
        program: program.to_string(),
        at_ms: crate::now_ms(),
        from_version: None,
        to_version: None,
        detail: None,
        message: message.into(),
    }
}

/// Sends a report with the credential of `layout`, within 30 s; failures
/// are logged (reports are best effort: the log line is the record).
pub async fn send_report(layout: &Layout, r: LifecycleReport) {
    let client = match LifecycleClient::from_layout(layout) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot report to the server");
            return;
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(30), client.report(&r)).await {
        Ok(Ok(())) => tracing::info!(kind = r.kind.as_str(), "reported to the server"),
        Ok(Err(e)) => {
            tracing::warn!(kind = r.kind.as_str(), error = %e, "report to the server failed")
        }
        Err(_) => tracing::warn!(kind = r.kind.as_str(), "report to the server timed out"),
    }
}
