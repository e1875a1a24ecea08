//! Streamed HTTP downloads for the updater: one `GET` over a pinned TLS
//! stream, the body written to a sink as it arrives and hashed (SHA-256),
//! bounded in size, every read bounded in time.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{io_reason, parse_head, request_head, timed, ConnectError, Endpoint, Framing};

/// What [`download`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub status: u16,
    /// Bytes of the body (written to the sink only when `status` is 200).
    pub size: u64,
    /// Lower-case hex SHA-256 of the body.
    pub sha256: String,
    /// A short excerpt of a non-200 body (the server's error message).
    pub error_body: String,
}

/// `GET path` and streams a 200 body into `sink`, hashing it, refusing
/// bodies larger than `max` bytes. Each read may take up to
/// [`HTTP_TIMEOUT`] (slow links are fine, stalled ones are not).
pub async fn download<S, W>(
    stream: &mut S,
    ep: &Endpoint,
    path: &str,
    max: u64,
    sink: &mut W,
) -> Result<Downloaded, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    W: std::io::Write,
{
    use sha2::{Digest, Sha256};
    let addr = ep.authority();
    let fail = |reason: String| ConnectError::Exchange {
        addr: addr.clone(),
        reason,
    };
    let head = format!("{}\r\n", request_head(ep, "GET", path, None, "*/*"));
    timed(stream.write_all(head.as_bytes()))
        .await
        .map_err(|e| fail(io_reason(&e)))?;
    timed(stream.flush())
        .await
        .map_err(|e| fail(io_reason(&e)))?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let (status, start, framing) = loop {
        let n = match timed(stream.read(&mut chunk)).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(fail(io_reason(&e))),
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Ok(Some((status, start, framing, _))) => break (status, start, framing),
            Ok(None) if n == 0 => return Err(fail("connection closed before the headers".into())),
            Ok(None) if buf.len() > 64 * 1024 => return Err(fail("headers too large".into())),
            Ok(None) => continue,
            Err(e) => return Err(fail(format!("bad HTTP answer: {e}"))),
        }
    };
    let want = match framing {
        Framing::Length(n) => Some(n as u64),
        Framing::Eof => None,
        Framing::Chunked => return Err(fail("chunked downloads are not supported".into())),
    };
    if want.is_some_and(|n| n > max) {
        return Err(fail(format!("the file is larger than {max} bytes")));
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut error_body = Vec::new();
    let mut take = |bytes: &[u8], size: &mut u64| -> Result<(), ConnectError> {
        let bytes = match want {
            Some(n) => &bytes[..bytes.len().min((n - *size) as usize)],
            None => bytes,
        };
        *size += bytes.len() as u64;
        if *size > max {
            return Err(fail(format!("the file is larger than {max} bytes")));
        }
        hasher.update(bytes);
        if status == 200 {
            sink.write_all(bytes)
                .map_err(|e| fail(format!("writing the download: {}", io_reason(&e))))?;
        } else if error_body.len() < 512 {
            error_body.extend_from_slice(&bytes[..bytes.len().min(512)]);
        }
        Ok(())
    };
    take(&buf[start..], &mut size)?;
    while want.is_none_or(|n| size < n) {
        let n = match timed(stream.read(&mut chunk)).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(fail(io_reason(&e))),
        };
        if n == 0 {
            if let Some(n) = want {
                return Err(fail(format!("body ended after {size} of {n} bytes")));
            }
            break;
        }
        take(&chunk[..n], &mut size)?;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Downloaded {
        status,
        size,
        sha256,
        error_body: String::from_utf8_lossy(&error_body).trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve_once(answer: &'static [u8]) -> tokio::io::DuplexStream {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got.starts_with(b"GET /f HTTP/1.1\r\n"));
            server.write_all(answer).await.unwrap();
        });
        client
    }

    #[tokio::test]
    async fn downloads_stream_hash_and_bound_the_body() {
        let ep = Endpoint::parse("https://h:1").unwrap();
        let mut s = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        let mut out = Vec::new();
        let d = download(&mut s, &ep, "/f", 100, &mut out).await.unwrap();
        assert_eq!((d.status, d.size), (200, 5));
        assert_eq!(out, b"hello");
        // SHA-256("hello"), a published test vector.
        assert_eq!(
            d.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let mut s = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        let mut out = Vec::new();
        let e = download(&mut s, &ep, "/f", 4, &mut out).await.unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        assert!(out.is_empty());
        let mut s = serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nmissing").await;
        let mut out = Vec::new();
        let d = download(&mut s, &ep, "/f", 100, &mut out).await.unwrap();
        assert_eq!((d.status, d.error_body.as_str()), (404, "missing"));
        assert!(out.is_empty(), "error bodies are not written to the sink");
        let mut s = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").await;
        let e = download(&mut s, &ep, "/f", 100, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("body ended after 5 of 9 bytes"),
            "{e}"
        );
    }
}
