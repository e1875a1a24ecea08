//! Endpoints, TCP + TLS with the pinned server key (dialed as
//! `network.toml` says, see [`crate::net`]), and the minimal HTTP/1.1 client
//! enrollment, `doctor` and the updater need (one request, `Connection:
//! close`; streamed downloads in [`crate::download`]).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::net::{Dialed, NetOptions, Route};

pub use crate::download::{download, Downloaded};

/// Time allowed for the TCP connect and, separately, the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one HTTP exchange after the handshake.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest HTTP answer read.
const MAX_RESPONSE: usize = 1024 * 1024;

/// A server endpoint, `https://host[:port]` (port 443 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// As configured (without a trailing `/`).
    pub url: String,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let url = s.trim().trim_end_matches('/').to_string();
        let bad = |why: &str| format!("{url:?} is not an https://host:port endpoint: {why}");
        let rest = match url.get(..8) {
            Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &url[8..],
            _ => return Err(bad("it must start with https://")),
        };
        if rest.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad("no path, query or user part is allowed"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("bad IPv6 address"));
            }
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?)),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !host.contains(':')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(bad("bad host name"));
        }
        let port = match port {
            None => 443,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("bad port"))?,
        };
        let host = host.to_string();
        Ok(Endpoint { url, host, port })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The TLS server name: SNI is sent for DNS names, not for IP addresses.
    pub fn server_name(&self) -> Result<ServerName<'static>, ConnectError> {
        ServerName::try_from(self.host.clone()).map_err(|_| ConnectError::Tls {
            addr: self.authority(),
            reason: format!("{:?} is not a valid TLS server name", self.host),
        })
    }
}

/// Failures reaching a server, each rendered as one line naming the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("connect {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("TLS with {addr}: {reason}")]
    Tls { addr: String, reason: String },
    /// Through the CONNECT proxy: the proxy is unreachable or refused.
    #[error("connect {target} via proxy {proxy}: {reason}")]
    Proxy {
        target: String,
        proxy: String,
        reason: String,
    },
    #[error("{addr}: {reason}")]
    Exchange { addr: String, reason: String },
}

impl ConnectError {
    /// True when the server's key is not the pinned one.
    pub fn is_pin_mismatch(&self) -> bool {
        matches!(self, ConnectError::Tls { reason, .. } if reason.contains(ward_pki::pin::PIN_MISMATCH))
    }
}

/// `Connection refused (os error 111)` → `connection refused`.
pub fn io_reason(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return "timed out".into();
    }
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "connection closed by the server".into();
    }
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "I/O error".into(),
    }
}

/// The reason of a failed TLS handshake, with rustls' own text when there is
/// one (a pin mismatch reads `server key does not match pin (...)`).
fn tls_reason(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::General(msg)) => msg.clone(),
        Some(other) => other.to_string(),
        None => io_reason(e),
    }
}

/// Resolves and connects (trying each address) within [`CONNECT_TIMEOUT`],
/// directly and with DNS only ([`connect_tls_via`] honours `network.toml`).
pub async fn connect_tcp(ep: &Endpoint) -> Result<TcpStream, ConnectError> {
    crate::net::dial(ep, &NetOptions::direct())
        .await
        .map(|d| d.stream)
}

/// TCP connect, then the TLS handshake with `tls` (the pinned config).
pub async fn connect_tls(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> Result<TlsStream<TcpStream>, ConnectError> {
    connect_tls_via(ep, tls, &NetOptions::direct())
        .await
        .map(|(s, _)| s)
}

/// The TLS handshake over a dialed stream; errors name the dialed label
/// (`10.0.0.1:8443` or `h:8443 via proxy p:3128`).
pub async fn tls_handshake(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    dialed: Dialed,
    timeout: Duration,
) -> Result<(TlsStream<TcpStream>, Route), ConnectError> {
    let Dialed {
        stream,
        route,
        label,
        ..
    } = dialed;
    let name = ep.server_name()?;
    match tokio::time::timeout(timeout, TlsConnector::from(tls).connect(name, stream)).await {
        Ok(Ok(s)) => Ok((s, route)),
        Ok(Err(e)) => Err(ConnectError::Tls {
            addr: label,
            reason: tls_reason(&e),
        }),
        Err(_) => Err(ConnectError::Tls {
            addr: label,
            reason: format!("handshake timed out after {} s", timeout.as_secs()),
        }),
    }
}

/// Dials `ep` as `net` says (override, proxy), then the TLS handshake with
/// `tls`. Returns the stream and the route it took.
pub async fn connect_tls_via(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    net: &NetOptions,
) -> Result<(TlsStream<TcpStream>, Route), ConnectError> {
    let dialed = crate::net::dial(ep, net).await?;
    tls_handshake(ep, tls, dialed, net.connect_timeout).await
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `Date` header, if the server sent one.
    pub date: Option<String>,
}

/// Sends one `POST` with a JSON body over `stream` and reads the answer.
pub async fn post_json<S>(
    stream: &mut S,
    ep: &Endpoint,
    path: &str,
    body: &str,
) -> Result<HttpResponse, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    exchange(stream, ep, "POST", path, None, Some(body)).await
}

/// `POST` with a JSON body and `Authorization: Bearer <credential>`.
pub async fn post_json_auth<S>(
    stream: &mut S,
    ep: &Endpoint,
    path: &str,
    credential: &str,
    body: &str,
) -> Result<HttpResponse, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    exchange(stream, ep, "POST", path, Some(credential), Some(body)).await
}

/// `GET` with `Authorization: Bearer <credential>`.
pub async fn get_auth<S>(
    stream: &mut S,
    ep: &Endpoint,
    path: &str,
    credential: &str,
) -> Result<HttpResponse, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    exchange(stream, ep, "GET", path, Some(credential), None).await
}

/// Sends one `GET` over `stream` and reads the answer.
pub async fn get<S>(stream: &mut S, ep: &Endpoint, path: &str) -> Result<HttpResponse, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    exchange(stream, ep, "GET", path, None, None).await
}

async fn exchange<S>(
    stream: &mut S,
    ep: &Endpoint,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Result<HttpResponse, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let addr = ep.authority();
    let exchange = async {
        let mut head = request_head(ep, method, path, auth, "application/json");
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut req = head.into_bytes();
        req.extend_from_slice(body.unwrap_or("").as_bytes());
        stream.write_all(&req).await?;
        stream.flush().await?;
        read_response(stream).await
    };
    match tokio::time::timeout(HTTP_TIMEOUT, exchange).await {
        Ok(Ok(Ok(r))) => Ok(r),
        Ok(Ok(Err(reason))) => Err(ConnectError::Exchange {
            addr,
            reason: format!("bad HTTP answer: {reason}"),
        }),
        Ok(Err(e)) => Err(ConnectError::Exchange {
            addr,
            reason: io_reason(&e),
        }),
        Err(_) => Err(ConnectError::Exchange {
            addr,
            reason: format!("no answer within {} s", HTTP_TIMEOUT.as_secs()),
        }),
    }
}

/// The request line and headers up to (not including) the blank line.
pub(crate) fn request_head(
    ep: &Endpoint,
    method: &str,
    path: &str,
    auth: Option<&str>,
    accept: &str,
) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ward-agent/{}\r\n\
         Accept: {accept}\r\nConnection: close\r\n",
        ep.authority(),
        crate::version(),
    );
    if let Some(credential) = auth {
        head.push_str(&format!("Authorization: Bearer {credential}\r\n"));
    }
    head
}

/// An I/O step bounded by [`HTTP_TIMEOUT`].
pub(crate) async fn timed<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    match tokio::time::timeout(HTTP_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        )),
    }
}

/// How the body of an answer ends.
pub(crate) enum Framing {
    Length(usize),
    Chunked,
    Eof,
}

async fn read_response<S>(stream: &mut S) -> std::io::Result<Result<HttpResponse, String>>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(4096);
    let mut head: Option<Head> = None;
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // A peer closing without close_notify: treat as end of stream.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Ok(Err(format!("answer larger than {MAX_RESPONSE} bytes")));
        }
        if head.is_none() {
            match parse_head(&buf) {
                Ok(Some(h)) => head = Some(h),
                Ok(None) if n == 0 => {
                    return Ok(Err("connection closed before the headers".into()))
                }
                Ok(None) => continue,
                Err(e) => return Ok(Err(e)),
            }
        }
        let Some((status, start, framing, date)) = &head else {
            continue;
        };
        let body = &buf[*start..];
        let done = match framing {
            Framing::Length(len) if body.len() >= *len => Some(body[..*len].to_vec()),
            Framing::Length(len) if n == 0 => {
                return Ok(Err(format!(
                    "body ended after {} of {len} bytes",
                    body.len()
                )))
            }
            Framing::Length(_) => None,
            Framing::Chunked => match decode_chunked(body) {
                Ok(Some(b)) => Some(b),
                Ok(None) if n == 0 => return Ok(Err("chunked body ended early".into())),
                Ok(None) => None,
                Err(e) => return Ok(Err(e)),
            },
            Framing::Eof => (n == 0).then(|| body.to_vec()),
        };
        if let Some(body) = done {
            return Ok(Ok(HttpResponse {
                status: *status,
                body,
                date: date.clone(),
            }));
        }
    }
}

pub(crate) type Head = (u16, usize, Framing, Option<String>);

pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.code.ok_or("no status code")?;
    let mut framing = Framing::Eof;
    let date = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("date"))
        .map(|h| String::from_utf8_lossy(h.value).trim().to_string());
    for h in resp.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
            break;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            framing = Framing::Length(n);
        }
    }
    if status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok(Some((status, len, framing, date)))
}

/// Decodes a complete chunked body; `Ok(None)` while more bytes are needed.
pub fn decode_chunked(buf: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let Some(eol) = find_crlf(&buf[pos..]) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|_| "bad chunk size")?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_hex:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // Optional trailers, then an empty line.
            let rest = &buf[pos..];
            if rest.starts_with(b"\r\n") || rest.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(Some(out));
            }
            return Ok(None);
        }
        let end = pos
            .checked_add(size)
            .and_then(|e| e.checked_add(2))
            .ok_or("chunk size overflows")?;
        if buf.len() < end {
            return Ok(None);
        }
        if &buf[end - 2..end] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        out.extend_from_slice(&buf[pos..end - 2]);
        pos = end;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let e = Endpoint::parse("https://ward.example.com:8443/").unwrap();
        assert_eq!(
            (e.url.as_str(), e.host.as_str(), e.port),
            ("https://ward.example.com:8443", "ward.example.com", 8443)
        );
        assert_eq!(e.authority(), "ward.example.com:8443");
        assert_eq!(Endpoint::parse("https://10.0.0.1").unwrap().port, 443);
        let v6 = Endpoint::parse("https://[::1]:9443").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9443));
        assert_eq!(v6.authority(), "[::1]:9443");
        for bad in [
            "http://x:1",
            "https://",
            "https://:80",
            "https://h:0",
            "https://h:99999",
            "https://h:1/path",
            "https://u@h:1",
            "https://[::1",
            "https://[zz]:1",
            "h:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn io_reasons_are_short() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(io_reason(&e), "connection refused");
        let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "x");
        assert_eq!(io_reason(&e), "timed out");
    }

    #[test]
    fn chunked_bodies() {
        let full = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n";
        assert_eq!(
            decode_chunked(full).unwrap().unwrap(),
            b"Wikipedia in \r\n\r\nchunks.".to_vec()
        );
        for cut in 0..full.len() - 1 {
            assert_eq!(decode_chunked(&full[..cut]).unwrap(), None, "cut {cut}");
        }
        assert!(decode_chunked(b"zz\r\n").is_err());
        assert!(decode_chunked(b"2\r\nabX\r\n").is_err());
        assert!(decode_chunked(b"ffffffffffffffff\r\n").is_err(), "overflow");
        assert!(
            decode_chunked(b"fffffff\r\n").unwrap().is_none(),
            "needs more"
        );
        assert_eq!(
            decode_chunked(b"0\r\nX-T: 1\r\n\r\n").unwrap(),
            Some(Vec::new())
        );
    }

    #[tokio::test]
    async fn response_framings() {
        async fn read(raw: &[u8]) -> Result<HttpResponse, String> {
            let mut r = raw;
            read_response(&mut r).await.unwrap()
        }
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok+junk")
            .await
            .unwrap();
        assert_eq!((r.status, r.body, r.date), (200, b"ok".to_vec(), None));
        let r = read(b"HTTP/1.1 204 No Content\r\ndate:  Thu, 03 Dec 2026 19:35:27 GMT \r\n\r\n")
            .await
            .unwrap();
        assert_eq!(r.date.as_deref(), Some("Thu, 03 Dec 2026 19:35:27 GMT"));
        let r = read(
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!((r.status, r.body), (401, b"abc".to_vec()));
        let r = read(b"HTTP/1.0 500 X\r\n\r\nuntil eof").await.unwrap();
        assert_eq!((r.status, r.body), (500, b"until eof".to_vec()));
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")
            .await
            .is_err());
        assert!(read(b"HTTP/1.1 200 OK\r\nContent").await.is_err());
        assert!(read(b"garbage\r\n\r\n").await.is_err());
    }
}
