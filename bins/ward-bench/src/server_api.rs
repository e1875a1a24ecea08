//! What the bench asks the server while it runs: `GET /metrics` (status
//! counts from the live engine) and `GET /api/v1/assets?status=protected`
//! (paged; what an operator's script would see).
//!
//! A tiny `GET` over the agent's pinned TLS connection (`ward-agent-core`'s
//! `connect_tls`), `Connection: close`, body read to the end.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ward_agent_core::http::{connect_tls, decode_chunked, Endpoint};

/// Largest answer read (a 1,000-asset page is a few hundred KiB).
const MAX_BODY: usize = 16 * 1024 * 1024;
const GET_TIMEOUT: Duration = Duration::from_secs(60);

/// `GET path`, with a bearer token when given; returns (status, body).
pub async fn get(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let exchange = async {
        let mut s = connect_tls(ep, tls).await?;
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ward-bench\r\n{auth}\
             Accept: */*\r\nConnection: close\r\n\r\n",
            ep.authority()
        );
        s.write_all(req.as_bytes()).await?;
        s.flush().await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match s.read(&mut buf).await {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(anyhow::Error::from(e)),
            };
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_BODY {
                bail!("answer larger than {MAX_BODY} bytes");
            }
        }
        parse_response(&raw).map_err(|e| anyhow!(e))
    };
    tokio::time::timeout(GET_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("GET {path}: no answer within {} s", GET_TIMEOUT.as_secs()))?
        .with_context(|| format!("GET {path}"))
}

/// Splits a complete HTTP/1.1 answer (read to EOF) into status and body.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("truncated headers".into()),
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.code.ok_or("no status code")?;
    let chunked = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = &raw[head_len..];
    if chunked {
        return decode_chunked(body)?
            .ok_or_else(|| "chunked body ended early".into())
            .map(|b| (status, b));
    }
    let len = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    match len {
        Some(n) if body.len() < n => Err(format!("body ended after {} of {n} bytes", body.len())),
        Some(n) => Ok((status, body[..n].to_vec())),
        None => Ok((status, body.to_vec())),
    }
}

/// The figures the bench reads from `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerMetrics {
    pub sessions_live: u64,
    pub protected: u64,
    /// Unprotected assets, all reasons.
    pub unprotected: u64,
    pub keepalives_total: u64,
    pub enrollments_total: u64,
    pub frames_rejected_total: u64,
}

/// Parses the Prometheus text `ward-server` serves.
pub fn parse_metrics(text: &str) -> ServerMetrics {
    let mut m = ServerMetrics::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let v = v.max(0.0) as u64;
        let (name, labels) = match name_labels.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (name_labels, ""),
        };
        match name {
            "ward_sessions_live" => m.sessions_live = v,
            "ward_keepalives_total" => m.keepalives_total = v,
            "ward_enrollments_total" => m.enrollments_total = v,
            "ward_frames_rejected_total" => m.frames_rejected_total = v,
            "ward_assets" => match label(labels, "status") {
                Some("protected") => m.protected += v,
                Some("unprotected") => m.unprotected += v,
                _ => {}
            },
            _ => {}
        }
    }
    m
}

/// The value of `key="value"` in a Prometheus label set.
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

pub async fn metrics(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<ServerMetrics> {
    let (status, body) = get(ep, tls, "/metrics", None).await?;
    if status != 200 {
        bail!("GET /metrics answered HTTP {status}");
    }
    Ok(parse_metrics(&String::from_utf8_lossy(&body)))
}

#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<PageItem>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PageItem {
    status: String,
}

/// Counts protected assets through the REST API, 1,000 per page.
pub async fn count_protected(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    token: &str,
) -> anyhow::Result<u64> {
    let mut cursor: Option<String> = None;
    let mut count = 0u64;
    loop {
        let mut path = String::from("/api/v1/assets?status=protected&limit=1000");
        if let Some(c) = &cursor {
            path.push_str("&cursor=");
            path.push_str(&percent_encode(c));
        }
        let (status, body) = get(ep, tls.clone(), &path, Some(token)).await?;
        if status != 200 {
            bail!(
                "GET /api/v1/assets answered HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
        let page: Page = serde_json::from_slice(&body).context("asset page JSON")?;
        count += page
            .items
            .iter()
            .filter(|a| a.status == "protected")
            .count() as u64;
        match page.next_cursor {
            Some(c) if !page.items.is_empty() => cursor = Some(c),
            _ => return Ok(count),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_is_read() {
        let text = "\
# HELP ward_sessions_live Agent sessions currently open.
# TYPE ward_sessions_live gauge
ward_sessions_live 1200
ward_sessions_identified 1199
ward_assets{status=\"protected\",reason=\"\"} 1000
ward_assets{status=\"unprotected\",reason=\"offline\"} 7
ward_assets{status=\"unprotected\",reason=\"never_connected\"} 3
ward_keepalives_total 98765
ward_enrollments_total 1010
ward_frames_rejected_total 0
garbage line
";
        let m = parse_metrics(text);
        assert_eq!(
            m,
            ServerMetrics {
                sessions_live: 1200,
                protected: 1000,
                unprotected: 10,
                keepalives_total: 98765,
                enrollments_total: 1010,
                frames_rejected_total: 0,
            }
        );
        assert_eq!(parse_metrics(""), ServerMetrics::default());
    }

    #[test]
    fn responses_by_length_chunks_and_eof() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(r, (200, b"hello".to_vec()));
        let r = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r, (401, b"no".to_vec()));
        let r = parse_response(b"HTTP/1.1 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!(r, (200, b"to the end".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn cursors_are_encoded() {
        assert_eq!(percent_encode("ag_Ab-1.~"), "ag_Ab-1.~");
        assert_eq!(percent_encode("a b/c+="), "a%20b%2Fc%2B%3D");
    }
}
