//! Dialing an endpoint: overrides instead of DNS, then TCP, directly or
//! through the CONNECT proxy. Each step is public so `doctor` can run and
//! report them one by one.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::NetOptions;
use crate::http::{io_reason, ConnectError, Endpoint};

/// How an address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host is an IP address.
    Literal,
    /// `[overrides]` in `network.toml`.
    Override,
    /// The system resolver.
    Dns,
}

/// The path a connection takes, as `ward-agent status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight to the endpoint's address (an IP or from DNS).
    Direct,
    /// Straight to the address an override gives for the host.
    Override { host: String, ip: IpAddr },
    /// Through the CONNECT proxy (display URL, without credentials).
    Proxy { proxy: String },
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Direct => write!(f, "direct"),
            Route::Override { host, ip } => write!(f, "via override {host}={ip}"),
            Route::Proxy { proxy } => write!(f, "via proxy {proxy}"),
        }
    }
}

/// An open TCP stream to the endpoint (or a tunnel to it).
#[derive(Debug)]
pub struct Dialed {
    pub stream: TcpStream,
    pub route: Route,
    /// The TCP peer (the proxy when tunnelling).
    pub peer: String,
    /// What errors name: `10.0.0.1:8443` or `h:8443 via proxy p:3128`.
    pub label: String,
}

/// `ip:port` or `[ip]:port`.
pub fn authority_of(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The addresses of `host` (IP literal, override or DNS) within `timeout`.
pub async fn resolve(
    host: &str,
    port: u16,
    opts: &NetOptions,
    timeout: Duration,
) -> Result<(Vec<SocketAddr>, Source), ConnectError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], Source::Literal));
    }
    if let Some(ip) = opts.overrides.get(host) {
        return Ok((vec![SocketAddr::new(ip, port)], Source::Override));
    }
    let lookup = tokio::net::lookup_host(authority_of(host, port));
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(a)) => {
            let addrs: Vec<SocketAddr> = a.collect();
            if addrs.is_empty() {
                return Err(ConnectError::Resolve {
                    host: host.to_string(),
                    reason: "no addresses".into(),
                });
            }
            Ok((addrs, Source::Dns))
        }
        Ok(Err(e)) => Err(ConnectError::Resolve {
            host: host.to_string(),
            reason: io_reason(&e),
        }),
        Err(_) => Err(ConnectError::Resolve {
            host: host.to_string(),
            reason: format!("timed out after {} s", timeout.as_secs()),
        }),
    }
}

/// Connects to the first address that answers, within `timeout` overall.
pub async fn tcp(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = ConnectError::Connect {
        addr: "-".into(),
        reason: "no addresses".into(),
    };
    for addr in addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                last = ConnectError::Connect {
                    addr: addr.to_string(),
                    reason: io_reason(&e),
                }
            }
            Err(_) => {
                return Err(ConnectError::Connect {
                    addr: addr.to_string(),
                    reason: format!("timed out after {} s", timeout.as_secs()),
                })
            }
        }
    }
    Err(last)
}

/// The CONNECT target for an endpoint: the override's address when there is
/// one (the proxy cannot know a private name either), else the host name.
pub fn proxy_target(ep: &Endpoint, opts: &NetOptions) -> String {
    match opts.overrides.get(&ep.host) {
        Some(ip) => authority_of(&ip.to_string(), ep.port),
        None => ep.authority(),
    }
}

/// Opens a TCP stream to `ep` the way `opts` says (override, proxy).
pub async fn dial(ep: &Endpoint, opts: &NetOptions) -> Result<Dialed, ConnectError> {
    let timeout = opts.connect_timeout;
    if let Some(proxy) = &opts.proxy {
        let target = proxy_target(ep, opts);
        let label = format!("{target} via proxy {}", proxy.authority());
        let fail = |reason: String| ConnectError::Proxy {
            target: target.clone(),
            proxy: proxy.authority(),
            reason,
        };
        let (addrs, _) = resolve(&proxy.host, proxy.port, opts, timeout)
            .await
            .map_err(|e| fail(format!("cannot reach the proxy: {e}")))?;
        let mut stream = tcp(&addrs, timeout).await.map_err(|e| match e {
            ConnectError::Connect { reason, .. } => {
                fail(format!("cannot reach the proxy: {reason}"))
            }
            other => fail(format!("cannot reach the proxy: {other}")),
        })?;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| proxy.authority());
        match tokio::time::timeout(timeout, super::proxy::tunnel(&mut stream, proxy, &target)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(fail(reason)),
            Err(_) => {
                return Err(fail(format!(
                    "no answer to CONNECT within {} s",
                    timeout.as_secs()
                )))
            }
        }
        return Ok(Dialed {
            stream,
            route: Route::Proxy {
                proxy: proxy.display_url(),
            },
            peer,
            label,
        });
    }
    let (addrs, source) = resolve(&ep.host, ep.port, opts, timeout).await?;
    let stream = tcp(&addrs, timeout).await?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| ep.authority());
    let route = match (source, opts.overrides.get(&ep.host)) {
        (Source::Override, Some(ip)) => Route::Override {
            host: ep.host.to_ascii_lowercase(),
            ip,
        },
        _ => Route::Direct,
    };
    Ok(Dialed {
        stream,
        route,
        label: peer.clone(),
        peer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Overrides;
    use std::collections::BTreeMap;

    fn opts(overrides: &[(&str, &str)], proxy: Option<&str>) -> NetOptions {
        let map: BTreeMap<String, String> = overrides
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        NetOptions {
            overrides: Overrides::from_map(&map).unwrap(),
            proxy: proxy.map(|p| crate::net::Proxy::parse(p).unwrap()),
            connect_timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn overrides_and_literals_never_use_dns() {
        // A name under .invalid can never resolve; the override answers instead.
        let o = opts(&[("ward.example.invalid", "127.0.0.9")], None);
        let (a, s) = resolve("ward.example.invalid", 8443, &o, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(
            (a, s),
            (vec!["127.0.0.9:8443".parse().unwrap()], Source::Override)
        );
        let (a, s) = resolve("::1", 1, &o, Duration::from_secs(1)).await.unwrap();
        assert_eq!((a, s), (vec!["[::1]:1".parse().unwrap()], Source::Literal));
    }

    #[test]
    fn proxy_targets_use_override_addresses() {
        let ep = Endpoint::parse("https://ward.example.internal:8443").unwrap();
        let o = opts(
            &[("ward.example.internal", "10.0.0.5")],
            Some("http://p:3128"),
        );
        assert_eq!(proxy_target(&ep, &o), "10.0.0.5:8443");
        let o = opts(&[], Some("http://p:3128"));
        assert_eq!(proxy_target(&ep, &o), "ward.example.internal:8443");
        let v6 = opts(&[("ward.example.internal", "fd00::5")], None);
        assert_eq!(proxy_target(&ep, &v6), "[fd00::5]:8443");
    }

    #[tokio::test]
    async fn direct_dial_reports_the_route() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let ep = Endpoint::parse(&format!("https://ward.example.invalid:{port}")).unwrap();
        let d = dial(&ep, &opts(&[("ward.example.invalid", "127.0.0.1")], None))
            .await
            .unwrap();
        assert_eq!(
            d.route.to_string(),
            "via override ward.example.invalid=127.0.0.1"
        );
        assert_eq!(d.peer, format!("127.0.0.1:{port}"));
        let ep = Endpoint::parse(&format!("https://127.0.0.1:{port}")).unwrap();
        let d = dial(&ep, &opts(&[], None)).await.unwrap();
        assert_eq!(d.route, Route::Direct);
    }

    #[tokio::test]
    async fn proxy_refusal_names_target_and_proxy() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pport = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
        });
        let ep = Endpoint::parse("https://10.0.0.1:8443").unwrap();
        let o = opts(&[], Some(&format!("http://user:pw@127.0.0.1:{pport}")));
        let err = dial(&ep, &o).await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!("connect 10.0.0.1:8443 via proxy 127.0.0.1:{pport}: proxy refused CONNECT (403 Forbidden)")
        );
        // Nobody listens on the proxy port any more.
        let err = dial(&ep, &o).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "connect 10.0.0.1:8443 via proxy 127.0.0.1:{pport}: cannot reach the proxy: "
            )),
            "{err}"
        );
        assert!(!err.contains("pw"));
    }
}
