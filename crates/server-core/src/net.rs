//! Host network facts: the first non-loopback IPv4 address, the advertised URLs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The host's first non-loopback, up IPv4 address, if any.
pub fn first_non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        let up = ifa.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        let loopback = ifa.ifa_flags & (libc::IFF_LOOPBACK as libc::c_uint) != 0;
        if ifa.ifa_addr.is_null() || !up || loopback {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr of its family.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        if family != libc::AF_INET {
            continue;
        }
        // SAFETY: the family is AF_INET, so this is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        if !ip.is_loopback() && !ip.is_unspecified() {
            found = Some(ip);
            break;
        }
    }
    // SAFETY: `ifap` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(ifap) };
    found
}

/// `https://host:port` for an address.
pub fn https_url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("https://{v4}:{port}"),
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
    }
}

/// The advertised URLs: the configured ones, or one derived from the bound
/// address (the host's first non-loopback IPv4 when listening on all addresses).
pub fn advertise_urls(configured: &[String], bound: SocketAddr) -> Vec<String> {
    if !configured.is_empty() {
        return configured
            .iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect();
    }
    let ip = if bound.ip().is_unspecified() {
        first_non_loopback_ipv4()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        bound.ip()
    };
    vec![https_url(ip, bound.port())]
}

/// The host part of an `https://host:port` URL (brackets removed).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().map(str::to_string);
    }
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_hosts() {
        assert_eq!(
            https_url("127.0.0.1".parse().unwrap(), 8443),
            "https://127.0.0.1:8443"
        );
        assert_eq!(https_url("::1".parse().unwrap(), 1), "https://[::1]:1");
        assert_eq!(
            url_host("https://[2001:db8::1]:8443").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            url_host("https://ward.example:8443/").as_deref(),
            Some("ward.example")
        );
        assert_eq!(
            url_host("https://ward.example").as_deref(),
            Some("ward.example")
        );
        assert_eq!(url_host("http://x"), None);
    }

    #[test]
    fn advertise_prefers_configuration_then_the_bound_address() {
        let bound: SocketAddr = "127.0.0.1:9443".parse().unwrap();
        assert_eq!(advertise_urls(&[], bound), vec!["https://127.0.0.1:9443"]);
        let cfg = vec!["https://ward.example:8443/".to_string()];
        assert_eq!(
            advertise_urls(&cfg, bound),
            vec!["https://ward.example:8443"]
        );
        let any: SocketAddr = "0.0.0.0:9443".parse().unwrap();
        let derived = advertise_urls(&[], any);
        let host = url_host(&derived[0]).unwrap();
        let ip: Ipv4Addr = host.parse().unwrap();
        assert!(!ip.is_unspecified());
        assert!(derived[0].ends_with(":9443"));
    }
}
