//! The HTTP CONNECT proxy: `proxy = "http://[user:password@]host:port"` in
//! `network.toml`. Credentials (percent-encoded in the URL, as curl takes
//! them) are sent as `Proxy-Authorization: Basic` and never shown: `Debug`,
//! [`Proxy::display_url`] and every error leave them out.

use std::fmt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest CONNECT answer head read.
const MAX_HEAD: usize = 8 * 1024;

/// A parsed proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The user name, if any (shown; the password never is).
    pub user: Option<String>,
    /// `base64(user:password)` for `Proxy-Authorization: Basic`.
    basic: Option<String>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.display_url())
            .finish()
    }
}

fn bad(why: &str) -> String {
    format!("proxy must be http://[user:password@]host:port: {why}")
}

/// Decodes `%XX` escapes.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("bad %-escape in the user part"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("the user part is not UTF-8"))
}

/// Standard base64 with padding.
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Proxy {
    /// Parses `http://[user[:password]@]host:port` (the port is required).
    /// Errors never repeat the URL, so they cannot leak a password.
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let url = url.trim().trim_end_matches('/');
        let rest = match url.get(..7) {
            Some(s) if s.eq_ignore_ascii_case("http://") => &url[7..],
            _ => return Err(bad("it must start with http://")),
        };
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if hostport.contains(['/', '?', '#', ' ']) {
            return Err(bad("no path or query is allowed"));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("bad IPv6 address"));
            }
            (h, after.strip_prefix(':').ok_or_else(|| bad("no port"))?)
        } else {
            hostport.rsplit_once(':').ok_or_else(|| bad("no port"))?
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err(bad("bad host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("bad port"))?;
        let (user, basic) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
                let (u, p) = (percent_decode(u)?, percent_decode(p)?);
                if u.is_empty() {
                    return Err(bad("empty user name"));
                }
                let basic = base64(format!("{u}:{p}").as_bytes());
                (Some(u), Some(basic))
            }
        };
        Ok(Proxy {
            host: host.to_string(),
            port,
            user,
            basic,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without the password (`http://user@host:port`).
    pub fn display_url(&self) -> String {
        match &self.user {
            Some(u) => format!("http://{u}@{}", self.authority()),
            None => format!("http://{}", self.authority()),
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.basic.is_some()
    }

    /// The CONNECT request for `target` (`host:port`).
    pub fn connect_request(&self, target: &str) -> String {
        let mut req = format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: ward-agent/{}\r\n",
            crate::version()
        );
        if let Some(b) = &self.basic {
            req.push_str(&format!("Proxy-Authorization: Basic {b}\r\n"));
        }
        req.push_str("\r\n");
        req
    }
}

/// Why a CONNECT did not open a tunnel, as the reason of a connect error.
pub fn refusal_reason(status: u16, phrase: &str) -> String {
    let phrase = phrase.trim();
    let code = if phrase.is_empty() {
        status.to_string()
    } else {
        format!("{status} {phrase}")
    };
    match status {
        407 => format!("proxy requires authentication or refused the credentials ({code})"),
        _ => format!("proxy refused CONNECT ({code})"),
    }
}

/// Parses the head of a CONNECT answer into status and reason phrase.
pub fn parse_connect_response(head: &[u8]) -> Result<(u16, String), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete answer from the proxy".into()),
        Err(e) => return Err(format!("the proxy did not answer HTTP: {e}")),
    }
    let status = resp.code.ok_or("the proxy answered without a status")?;
    Ok((status, resp.reason.unwrap_or("").to_string()))
}

/// Asks the proxy on `stream` for a tunnel to `target`; `Ok` when it is
/// open. Reads the answer byte by byte so nothing of the tunnel is consumed.
pub async fn tunnel<S>(stream: &mut S, proxy: &Proxy, target: &str) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(proxy.connect_request(target).as_bytes())
        .await
        .map_err(|e| format!("sending CONNECT: {}", crate::http::io_reason(&e)))?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream
            .read(&mut byte)
            .await
            .map_err(|e| format!("reading the proxy's answer: {}", crate::http::io_reason(&e)))?;
        if n == 0 {
            return Err("the proxy closed the connection without answering CONNECT".into());
        }
        head.push(byte[0]);
        if head.len() > MAX_HEAD {
            return Err("the proxy's answer is too long".into());
        }
    }
    let (status, phrase) = parse_connect_response(&head)?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(refusal_reason(status, &phrase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
    }

    #[test]
    fn parse_forms() {
        let p = Proxy::parse("http://127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert!(!p.has_credentials());
        assert_eq!(p.display_url(), "http://127.0.0.1:3128");
        let p = Proxy::parse("HTTP://[::1]:8080/").unwrap();
        assert_eq!(p.authority(), "[::1]:8080");
        for bad in [
            "https://h:1",
            "http://h",
            "http://h:0",
            "http://:1",
            "http://h:1/x",
            "socks5://h:1",
            "http://@h:1",
            "http://u:p%zz@h:1",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_sent_but_never_shown() {
        let p = Proxy::parse("http://alice:s%40cret%3A1@proxy.example:3128").unwrap();
        assert_eq!(p.user.as_deref(), Some("alice"));
        // RFC 7617: base64 of "alice:s@cret:1".
        let req = p.connect_request("10.0.0.1:8443");
        assert!(req.starts_with("CONNECT 10.0.0.1:8443 HTTP/1.1\r\nHost: 10.0.0.1:8443\r\n"));
        assert!(req.contains("Proxy-Authorization: Basic YWxpY2U6c0BjcmV0OjE=\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
        assert_eq!(p.display_url(), "http://alice@proxy.example:3128");
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("cret") && !dbg.contains("YWxp"), "{dbg}");
        let err = Proxy::parse("http://alice:topsecret@h:nope").unwrap_err();
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn connect_answers() {
        assert_eq!(
            parse_connect_response(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap(),
            (200, "Connection established".to_string())
        );
        let (s, p) =
            parse_connect_response(b"HTTP/1.0 403 Access violation\r\nServer: x\r\n\r\n").unwrap();
        assert_eq!(
            refusal_reason(s, &p),
            "proxy refused CONNECT (403 Access violation)"
        );
        assert!(refusal_reason(407, "").contains("(407)"));
        assert!(parse_connect_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn tunnel_stops_at_the_end_of_the_head() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let p = Proxy::parse("http://u:p@h:1").unwrap();
        let srv = tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let n = server.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            server
                .write_all(b"HTTP/1.1 200 OK\r\n\r\nTUNNEL-BYTES")
                .await
                .unwrap();
            req
        });
        tunnel(&mut client, &p, "example:443").await.unwrap();
        let mut rest = [0u8; 12];
        client.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"TUNNEL-BYTES");
        assert!(srv.await.unwrap().starts_with("CONNECT example:443 "));

        let (mut client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
        });
        let err = tunnel(&mut client, &p, "example:443").await.unwrap_err();
        assert_eq!(err, "proxy refused CONNECT (403 Forbidden)");
    }
}
