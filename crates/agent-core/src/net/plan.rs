//! The `network.toml` an install writes, from the installer's flags and the
//! file already there (a repair keeps what the flags do not set).
//!
//! | flag | effect |
//! |---|---|
//! | `--server URL` | enrollment goes there; it is the first endpoint unless `--endpoint` is given |
//! | `--endpoint URL` (repeatable) | the session endpoints, exactly these, in this order |
//! | `--update-endpoint URL` (repeatable) | the update endpoints, exactly these, in this order |
//! | `--override HOST=IP` (repeatable) | the overrides, exactly these |
//! | `--proxy URL` / `--no-proxy` | sets / removes the proxy |
//!
//! Without `--endpoint`, the server URL goes first and other endpoints
//! already configured are kept after it. Keys no flag sets (e.g.
//! `failback_probe_secs`) keep their configured values.

use std::collections::BTreeMap;

use super::{Overrides, Proxy};
use crate::config::NetworkConfig;
use crate::http::Endpoint;

/// The installer's network flags.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NetworkFlags {
    pub endpoints: Vec<String>,
    pub update_endpoints: Vec<String>,
    /// `HOST=IP` each.
    pub overrides: Vec<String>,
    /// The proxy URL (may hold credentials: never printed).
    pub proxy: Option<String>,
    pub no_proxy: bool,
}

impl std::fmt::Debug for NetworkFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkFlags")
            .field("endpoints", &self.endpoints)
            .field("update_endpoints", &self.update_endpoints)
            .field("overrides", &self.overrides)
            .field(
                "proxy",
                &self
                    .proxy
                    .as_deref()
                    .map(|p| Proxy::parse(p).map(|p| p.display_url()).unwrap_or_default()),
            )
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

fn parse_list(flag: &str, list: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for e in list {
        let ep = Endpoint::parse(e).map_err(|err| format!("{flag}: {err}"))?;
        if !out.contains(&ep.url) {
            out.push(ep.url);
        }
    }
    Ok(out)
}

/// The config to write. `server` is the enrollment URL, `pin` the pin.
pub fn plan(
    existing: Option<NetworkConfig>,
    server: &Endpoint,
    pin: &str,
    flags: &NetworkFlags,
) -> Result<NetworkConfig, String> {
    let mut net = existing.unwrap_or_default();
    if flags.endpoints.is_empty() {
        net.endpoints
            .retain(|e| Endpoint::parse(e).map(|p| p != *server).unwrap_or(false));
        net.endpoints.insert(0, server.url.clone());
    } else {
        net.endpoints = parse_list("--endpoint", &flags.endpoints)?;
    }
    if !flags.update_endpoints.is_empty() {
        net.update_endpoints = parse_list("--update-endpoint", &flags.update_endpoints)?;
    }
    if !flags.overrides.is_empty() {
        let mut map = BTreeMap::new();
        for o in &flags.overrides {
            let (host, ip) = Overrides::parse_flag(o).map_err(|e| format!("--override: {e}"))?;
            map.insert(host, ip.to_string());
        }
        net.overrides = map;
    }
    match (&flags.proxy, flags.no_proxy) {
        (Some(_), true) => return Err("--proxy and --no-proxy exclude each other".into()),
        (Some(p), false) => {
            Proxy::parse(p).map_err(|e| format!("--proxy: {e}"))?;
            net.proxy = Some(p.trim().to_string());
        }
        (None, true) => net.proxy = None,
        (None, false) => {}
    }
    net.pin = pin.trim().to_string();
    let problems = net.problems();
    if problems.is_empty() {
        Ok(net)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> String {
        ward_pki::pin::format_pin(&[7u8; 32])
    }

    fn server() -> Endpoint {
        Endpoint::parse("https://10.0.0.1:8443").unwrap()
    }

    #[test]
    fn fresh_install_without_flags_uses_the_server() {
        let n = plan(None, &server(), &pin(), &NetworkFlags::default()).unwrap();
        assert_eq!(n.endpoints, vec!["https://10.0.0.1:8443"]);
        assert_eq!(n.pin, pin());
        assert_eq!(n.failback_probe_secs, 60);
        assert!(n.overrides.is_empty() && n.proxy.is_none());
    }

    #[test]
    fn repair_keeps_other_endpoints_and_settings() {
        let existing = NetworkConfig {
            endpoints: vec!["https://b:1".into(), "https://10.0.0.1:8443/".into()],
            update_endpoints: vec!["https://u:2".into()],
            proxy: Some("http://p:3128".into()),
            failback_probe_secs: 5,
            ..NetworkConfig::default()
        };
        let n = plan(Some(existing), &server(), &pin(), &NetworkFlags::default()).unwrap();
        assert_eq!(n.endpoints, vec!["https://10.0.0.1:8443", "https://b:1"]);
        assert_eq!(n.update_endpoints, vec!["https://u:2"]);
        assert_eq!(n.proxy.as_deref(), Some("http://p:3128"));
        assert_eq!(n.failback_probe_secs, 5);
    }

    #[test]
    fn flags_replace_lists_and_set_proxy_and_overrides() {
        let existing = NetworkConfig {
            endpoints: vec!["https://old:1".into()],
            proxy: Some("http://p:3128".into()),
            ..NetworkConfig::default()
        };
        let flags = NetworkFlags {
            endpoints: vec![
                "https://ward.example.internal:8443".into(),
                "https://10.0.0.2:8443".into(),
                "https://ward.example.internal:8443/".into(),
            ],
            update_endpoints: vec!["https://pkg.example.internal:8443".into()],
            overrides: vec!["Ward.Example.Internal=10.0.0.1".into()],
            proxy: None,
            no_proxy: true,
        };
        let n = plan(Some(existing), &server(), &pin(), &flags).unwrap();
        assert_eq!(
            n.endpoints,
            vec![
                "https://ward.example.internal:8443",
                "https://10.0.0.2:8443"
            ]
        );
        assert_eq!(
            n.update_endpoints,
            vec!["https://pkg.example.internal:8443"]
        );
        assert_eq!(n.overrides["ward.example.internal"], "10.0.0.1");
        assert_eq!(n.proxy, None);
    }

    #[test]
    fn bad_flags_are_usage_errors_without_secrets() {
        let f = |flags: NetworkFlags| plan(None, &server(), &pin(), &flags).unwrap_err();
        let e = f(NetworkFlags {
            endpoints: vec!["http://x:1".into()],
            ..Default::default()
        });
        assert!(e.starts_with("--endpoint: "), "{e}");
        let e = f(NetworkFlags {
            overrides: vec!["x".into()],
            ..Default::default()
        });
        assert!(e.starts_with("--override: "), "{e}");
        let e = f(NetworkFlags {
            proxy: Some("http://u:hunter2@p".into()),
            ..Default::default()
        });
        assert!(e.starts_with("--proxy: ") && !e.contains("hunter2"), "{e}");
        let e = f(NetworkFlags {
            proxy: Some("http://p:1".into()),
            no_proxy: true,
            ..Default::default()
        });
        assert!(e.contains("exclude"), "{e}");
        let dbg = format!(
            "{:?}",
            NetworkFlags {
                proxy: Some("http://u:hunter2@p:1".into()),
                ..Default::default()
            }
        );
        assert!(!dbg.contains("hunter2"), "{dbg}");
        let bad_pin = plan(None, &server(), "sha256//x", &NetworkFlags::default()).unwrap_err();
        assert!(bad_pin.contains("pin"), "{bad_pin}");
    }
}
