//! Sockets for many agents: the open-files limit, bind-before-connect TCP
//! and the pinned TLS configuration (from `ward-pki`, the agent's own).

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::{TcpSocket, TcpStream};

/// Raises RLIMIT_NOFILE so `need` descriptors fit: the soft limit up to the
/// hard one, and (as root) the hard limit up to `/proc/sys/fs/nr_open`.
/// Returns the soft limit in force afterwards.
pub fn raise_nofile(need: u64) -> anyhow::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid, initialised rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    if lim.rlim_cur >= need {
        return Ok(lim.rlim_cur);
    }
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(lim.rlim_max);
    let wanted_hard = lim.rlim_max.max(need.min(nr_open));
    let attempt = libc::rlimit {
        rlim_cur: need.min(wanted_hard),
        rlim_max: wanted_hard,
    };
    // SAFETY: setrlimit with a valid rlimit struct. Raising the hard limit
    // needs CAP_SYS_RESOURCE; without it we fall back to the old hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &attempt) } == 0 {
        return Ok(attempt.rlim_cur);
    }
    let fallback = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above; raising the soft limit to the hard one is always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &fallback) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
    }
    Ok(fallback.rlim_cur)
}

/// Resolves the server endpoint once (all agents use the same address).
pub async fn resolve(ep: &ward_agent_core::http::Endpoint) -> anyhow::Result<SocketAddr> {
    let mut addrs = tokio::net::lookup_host(ep.authority())
        .await
        .with_context(|| format!("resolving {}", ep.authority()))?;
    match addrs.next() {
        Some(a) => Ok(a),
        None => bail!("{} resolves to no address", ep.authority()),
    }
}

/// Connects to `server`, first binding to `source` (port chosen at connect
/// time with `IP_BIND_ADDRESS_NO_PORT`, so each source address offers the
/// whole ephemeral range per destination).
pub async fn connect_from(
    server: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let sock = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        bind_address_no_port(&sock)?;
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(timeout, sock.connect(server))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn bind_address_no_port(sock: &TcpSocket) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int
    // and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The agent's pinned client configuration; without `resume`, TLS session
/// resumption is off so every connection pays a full handshake (the cost
/// after a server restart, when no agent has a usable ticket).
pub fn tls_config(pin: &str, resume: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let base = ward_pki::pin::pinned_client_config(pin).context("the --pin value")?;
    if resume {
        return Ok(base);
    }
    let mut cfg = (*base).clone();
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_limit_is_at_least_what_is_asked_when_allowed() {
        // Asking for less than the current soft limit changes nothing.
        let now = raise_nofile(1).unwrap();
        assert!(now >= 1);
        assert_eq!(raise_nofile(now).unwrap(), now);
    }

    #[tokio::test]
    async fn bound_connects_use_the_source_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            let a = listener.accept().await.unwrap().1;
            let b = listener.accept().await.unwrap().1;
            (a, b)
        });
        let src: IpAddr = "127.0.0.3".parse().unwrap();
        let bound = connect_from(server, Some(src), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(bound.local_addr().unwrap().ip(), src);
        let plain = connect_from(server, None, Duration::from_secs(5))
            .await
            .unwrap();
        let (first, second) = accept.await.unwrap();
        assert_eq!(
            first,
            bound.local_addr().unwrap(),
            "the server sees the bound source"
        );
        assert_eq!(second, plain.local_addr().unwrap());
        assert_eq!(second.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn bad_pins_are_refused() {
        assert!(tls_config("sha256//nope", false).is_err());
        let pin = format!("sha256//{}", "A".repeat(43) + "=");
        assert!(tls_config(&pin, false).is_ok());
    }
}
