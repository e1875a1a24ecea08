//! Source-address lists: `127.0.0.2-127.0.0.9`, `127.0.0.2,127.0.0.5`,
//! `::1`, or `none`.
//!
//! Each simulated agent binds its socket to one of these addresses before it
//! connects, so the ~28,000 ephemeral ports of one (source, destination) pair
//! are not the limit of a 100,000-agent run.

use std::net::{IpAddr, Ipv4Addr};

/// Largest list accepted (a typo such as `127.0.0.1-127.255.0.0` is an error,
/// not a 16-million-entry vector).
pub const MAX_ADDRESSES: usize = 65_536;

/// Parses a comma-separated list of addresses and inclusive IPv4 ranges.
/// `none` or an empty string means "do not bind" (an empty list).
pub fn parse_source_ips(spec: &str) -> Result<Vec<IpAddr>, String> {
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut out: Vec<IpAddr> = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("{spec:?}: empty item in the list"));
        }
        match item.split_once('-') {
            None => out.push(parse_ip(item)?),
            Some((a, b)) => {
                let (a, b) = (parse_v4(a.trim())?, parse_v4(b.trim())?);
                let (lo, hi) = (u32::from(a), u32::from(b));
                if hi < lo {
                    return Err(format!("{item:?}: the range ends before it starts"));
                }
                let len = (hi - lo) as usize + 1;
                if out.len() + len > MAX_ADDRESSES {
                    return Err(format!("{spec:?}: more than {MAX_ADDRESSES} addresses"));
                }
                out.extend((lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
            }
        }
        if out.len() > MAX_ADDRESSES {
            return Err(format!("{spec:?}: more than {MAX_ADDRESSES} addresses"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = out.iter().find(|ip| !seen.insert(**ip)) {
        return Err(format!("{spec:?}: {dup} is listed twice"));
    }
    Ok(out)
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("{s:?} is not an IP address"))
}

fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address (ranges are IPv4 only)"))
}

/// Checks every source address can reach `server` (same family; loopback
/// servers need loopback sources).
pub fn check_against_server(sources: &[IpAddr], server: IpAddr) -> Result<(), String> {
    for ip in sources {
        if ip.is_ipv4() != server.is_ipv4() {
            return Err(format!(
                "source address {ip} and server address {server} are not of the same family"
            ));
        }
        if server.is_loopback() && !ip.is_loopback() {
            return Err(format!(
                "source address {ip} cannot reach the loopback server {server}"
            ));
        }
    }
    Ok(())
}

/// The source address of agent number `index` (round robin), if any.
pub fn source_for(sources: &[IpAddr], index: usize) -> Option<IpAddr> {
    if sources.is_empty() {
        None
    } else {
        Some(sources[index % sources.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    #[test]
    fn ranges_are_inclusive_and_ordered() {
        let got = parse_source_ips("127.0.0.2-127.0.0.9").unwrap();
        let want: Vec<IpAddr> = (2..=9).map(|n| v4(&format!("127.0.0.{n}"))).collect();
        assert_eq!(got, want);
        // A range crossing an octet boundary.
        let got = parse_source_ips("127.0.0.254-127.0.1.1").unwrap();
        assert_eq!(
            got,
            vec![
                v4("127.0.0.254"),
                v4("127.0.0.255"),
                v4("127.0.1.0"),
                v4("127.0.1.1")
            ]
        );
        assert_eq!(parse_source_ips("127.0.0.5-127.0.0.5").unwrap().len(), 1);
    }

    #[test]
    fn lists_single_addresses_and_none() {
        let got = parse_source_ips(" 127.0.0.2 , 127.0.0.7-127.0.0.8,::1").unwrap();
        assert_eq!(
            got,
            vec![
                v4("127.0.0.2"),
                v4("127.0.0.7"),
                v4("127.0.0.8"),
                "::1".parse::<IpAddr>().unwrap()
            ]
        );
        assert!(parse_source_ips("none").unwrap().is_empty());
        assert!(parse_source_ips("  ").unwrap().is_empty());
    }

    #[test]
    fn bad_specs_are_errors() {
        for bad in [
            "127.0.0.9-127.0.0.2",
            "127.0.0.1-",
            "-127.0.0.1",
            "::1-::2",
            "localhost",
            "127.0.0.1,,127.0.0.2",
            "127.0.0.2,127.0.0.2",
            "127.0.0.1-127.0.0.3,127.0.0.2",
            "127.0.0.0-127.1.0.0",
            "300.0.0.1",
        ] {
            assert!(parse_source_ips(bad).is_err(), "{bad:?} must be refused");
        }
        // Exactly the maximum is fine: 127.0.0.0 .. 127.0.255.255.
        assert_eq!(
            parse_source_ips("127.0.0.0-127.0.255.255").unwrap().len(),
            MAX_ADDRESSES
        );
    }

    #[test]
    fn round_robin_and_family_checks() {
        let s = parse_source_ips("127.0.0.2-127.0.0.4").unwrap();
        let picked: Vec<IpAddr> = (0..7).map(|i| source_for(&s, i).unwrap()).collect();
        assert_eq!(
            picked,
            vec![
                v4("127.0.0.2"),
                v4("127.0.0.3"),
                v4("127.0.0.4"),
                v4("127.0.0.2"),
                v4("127.0.0.3"),
                v4("127.0.0.4"),
                v4("127.0.0.2")
            ]
        );
        assert_eq!(source_for(&[], 3), None);
        assert!(check_against_server(&s, v4("127.0.0.1")).is_ok());
        assert!(check_against_server(&s, "::1".parse().unwrap()).is_err());
        assert!(check_against_server(&[v4("192.0.2.1")], v4("127.0.0.1")).is_err());
        assert!(check_against_server(&[], v4("127.0.0.1")).is_ok());
    }
}
