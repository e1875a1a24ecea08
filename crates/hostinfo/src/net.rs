//! Addresses of the host's interfaces (getifaddrs).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every IPv4/IPv6 address on the host's interfaces (loopback included).
pub fn interface_ips() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we walk read-only and free once.
    // Each `ifa_addr` is checked for NULL and read according to its family.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// The addresses worth showing: no loopback, unspecified or IPv6 link-local
/// (`fe80::/10`) ones; sorted (IPv4 first) and without duplicates, so two
/// reports of the same host compare equal.
pub fn public_ips(ips: Vec<IpAddr>) -> Vec<String> {
    let mut keep: Vec<IpAddr> = ips
        .into_iter()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        })
        .collect();
    keep.sort();
    keep.dedup();
    keep.iter().map(IpAddr::to_string).collect()
}
