//! Host overrides: `[overrides]` in `network.toml` maps a host name to the
//! address to use instead of DNS (the seed's hosts-file lines, without
//! editing `/etc/hosts`). Names compare case-insensitively.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Validated host → address overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides(BTreeMap<String, IpAddr>);

/// True for a syntactically valid DNS host name (not an IP address).
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.parse::<IpAddr>().is_err()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses one address of an override (IPv6 may be bracketed).
fn parse_addr(host: &str, addr: &str) -> Result<IpAddr, String> {
    let a = addr.trim();
    let a = a
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(a);
    a.parse::<IpAddr>()
        .map_err(|_| format!("override {host:?}: {addr:?} is not an IP address"))
}

impl Overrides {
    /// Validates the `[overrides]` table; every problem is one sentence.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Overrides, Vec<String>> {
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        for (host, addr) in map {
            let key = host.trim().to_ascii_lowercase();
            if !is_host_name(&key) {
                problems.push(format!(
                    "override {host:?}: the key must be a host name (not an address)"
                ));
                continue;
            }
            match parse_addr(host, addr) {
                Ok(ip) => {
                    if out.insert(key, ip).is_some() {
                        problems.push(format!("override {host:?} is given twice"));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(Overrides(out))
        } else {
            Err(problems)
        }
    }

    /// Parses `HOST=IP` (the installer's `--override`).
    pub fn parse_flag(s: &str) -> Result<(String, IpAddr), String> {
        let (host, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not HOST=IP"))?;
        let host = host.trim().to_ascii_lowercase();
        if !is_host_name(&host) {
            return Err(format!("{s:?}: {host:?} is not a host name"));
        }
        Ok((host.clone(), parse_addr(&host, addr)?))
    }

    /// The address overriding `host`, if any.
    pub fn get(&self, host: &str) -> Option<IpAddr> {
        self.0.get(&host.to_ascii_lowercase()).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, IpAddr)> {
        self.0.iter().map(|(h, ip)| (h.as_str(), *ip))
    }

    /// The table as `network.toml` stores it.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(h, ip)| (h.clone(), ip.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn valid_overrides_resolve_case_insensitively() {
        let o = Overrides::from_map(&map(&[
            ("Ward.Example.Internal", "10.0.0.5"),
            ("v6.example", "[fd00::1]"),
        ]))
        .unwrap();
        assert_eq!(
            o.get("ward.example.internal"),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            o.get("WARD.example.internal"),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(o.get("v6.example"), Some("fd00::1".parse().unwrap()));
        assert_eq!(o.get("other"), None);
        assert_eq!(o.len(), 2);
        assert_eq!(o.to_map()["ward.example.internal"], "10.0.0.5");
    }

    #[test]
    fn bad_overrides_are_each_reported() {
        let err = Overrides::from_map(&map(&[
            ("10.0.0.1", "10.0.0.2"),
            ("ok.example", "not-an-ip"),
            ("bad host", "10.0.0.3"),
            ("fine.example", "10.0.0.4"),
        ]))
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err.iter().any(|e| e.contains("not-an-ip")));
    }

    #[test]
    fn flags() {
        assert_eq!(
            Overrides::parse_flag("Ward.Example.Internal=10.213.0.1").unwrap(),
            (
                "ward.example.internal".to_string(),
                "10.213.0.1".parse().unwrap()
            )
        );
        for bad in [
            "noequals",
            "=10.0.0.1",
            "h=",
            "h=999.1.1.1",
            "1.2.3.4=1.2.3.5",
        ] {
            assert!(Overrides::parse_flag(bad).is_err(), "{bad}");
        }
        assert!(is_host_name("a-b.c_d.example"));
        assert!(!is_host_name("-a.example"));
        assert!(!is_host_name("a..b"));
    }
}
