//! The webhook output: each alert is `POST`ed as a JSON object
//! ([`AlertView`]) to the configured URL; any 2xx answer is success,
//! anything else (or no answer within the timeout) is retried with
//! exponential backoff. `https` URLs are verified against the system CA
//! bundle. The secret header's value is never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::{after_attempt, Next, OutputStats, Tuning};
use crate::detect::settings::{OutputSettings, WebhookSettings};
use crate::detect::view::AlertView;

/// Where a webhook URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The `Host` header value.
    pub authority: String,
    pub path_and_query: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("webhook.url is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(format!(
                    "webhook.url must be http:// or https://, got {url:?}"
                ))
            }
        };
        let auth = uri
            .authority()
            .ok_or_else(|| format!("webhook.url has no host: {url:?}"))?;
        if auth.as_str().contains('@') {
            return Err("webhook.url must not carry credentials; use secret_header".into());
        }
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("webhook.url has no host: {url:?}"));
        }
        Ok(Target {
            https,
            host: host.to_string(),
            port: auth.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: auth.as_str().to_string(),
            path_and_query: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into()),
        })
    }
}

/// The worker: delivers queued alerts one by one, in order.
pub async fn worker(
    mut rx: mpsc::Receiver<Arc<AlertView>>,
    settings: watch::Receiver<OutputSettings>,
    tuning: Tuning,
    stats: Arc<OutputStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tls: Option<Arc<rustls::ClientConfig>> = None;
    loop {
        let alert = tokio::select! {
            a = rx.recv() => match a { Some(a) => a, None => return },
            _ = shutdown.changed() => return,
        };
        let body = match serde_json::to_vec(&*alert) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "encoding an alert for the webhook failed");
                continue;
            }
        };
        let mut attempt = 1;
        loop {
            let Some(cfg) = settings.borrow().webhook.clone() else {
                break;
            };
            let result = post(&cfg, &body, &mut tls, tuning.timeout).await;
            let next = after_attempt(
                "webhook",
                alert.id,
                &mut attempt,
                result,
                &tuning,
                &stats,
                &mut shutdown,
            );
            match next.await {
                Next::Retry => {}
                Next::Done => break,
                Next::Stop => return,
            }
        }
    }
}

/// One delivery attempt.
pub async fn post(
    cfg: &WebhookSettings,
    body: &[u8],
    tls: &mut Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<(), String> {
    let target = Target::parse(&cfg.url)?;
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(target.path_and_query.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .header(
            header::USER_AGENT,
            concat!("ward-server/", env!("CARGO_PKG_VERSION")),
        )
        .body(Body::from(body.to_vec()))
        .map_err(|e| format!("building the request: {e}"))?;
    if let Some(h) = &cfg.secret_header {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| "the secret header name is not a valid header name".to_string())?;
        let mut value = HeaderValue::from_str(h.value.as_deref().unwrap_or(""))
            .map_err(|_| "the secret header value is not a valid header value".to_string())?;
        value.set_sensitive(true);
        req.headers_mut().insert(name, value);
    }
    let attempt = async {
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("connecting to {}: {e}", target.authority))?;
        let _ = tcp.set_nodelay(true);
        let status = if target.https {
            let config = match tls {
                Some(c) => c.clone(),
                None => {
                    let c = system_tls()?;
                    *tls = Some(c.clone());
                    c
                }
            };
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|e| format!("bad TLS server name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", target.authority))?;
            send(TokioIo::new(stream), req).await?
        } else {
            send(TokioIo::new(tcp), req).await?
        };
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("{} answered HTTP {status}", target.authority))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f32())),
    }
}

async fn send<IO>(io: TokioIo<IO>, req: Request<Body>) -> Result<u16, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await;
    conn.abort();
    resp.map(|r| r.status().as_u16())
        .map_err(|e| format!("HTTP request: {e}"))
}

/// System CA bundles, first found wins.
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn system_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for path in CA_BUNDLES {
        let Ok(pem) = std::fs::read(path) else {
            continue;
        };
        for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
            let _ = roots.add(cert);
        }
        if !roots.is_empty() {
            break;
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "no CA certificates found (looked in {}) for an https webhook",
            CA_BUNDLES.join(", ")
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_targets() {
        let t = Target::parse("https://hooks.example/a/b?x=1").unwrap();
        assert_eq!(
            t,
            Target {
                https: true,
                host: "hooks.example".into(),
                port: 443,
                authority: "hooks.example".into(),
                path_and_query: "/a/b?x=1".into(),
            }
        );
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.path_and_query, "/");
        for bad in [
            "",
            "hooks.example/x",
            "ftp://h/",
            "http://u:p@h/",
            "/just/a/path",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
