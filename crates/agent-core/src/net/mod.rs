//! How the agent reaches the server, from `conf/network.toml`:
//!
//! * [`overrides`]: host → address overrides used instead of DNS;
//! * [`proxy`]: the optional HTTP CONNECT proxy (credentials never shown);
//! * [`dial`]: resolving and connecting (directly, via an override or
//!   through the proxy) and the [`Route`] a connection took;
//! * [`select`]: endpoint failover and return to the preferred endpoint;
//! * [`reload`]: picking up an edited `network.toml` between attempts;
//! * [`plan`]: the `network.toml` an install writes from its flags.

pub mod dial;
pub mod overrides;
pub mod plan;
pub mod proxy;
pub mod reload;
pub mod select;

use std::time::Duration;

pub use dial::{dial, Dialed, Route};
pub use overrides::Overrides;
pub use proxy::Proxy;
pub use select::Selector;

use crate::config::NetworkConfig;
use crate::http::CONNECT_TIMEOUT;

/// The connection settings of `network.toml`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetOptions {
    pub overrides: Overrides,
    pub proxy: Option<Proxy>,
    /// Time allowed for each of: resolving, TCP connect (plus CONNECT), TLS.
    pub connect_timeout: Duration,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            overrides: Overrides::default(),
            proxy: None,
            connect_timeout: CONNECT_TIMEOUT,
        }
    }
}

impl NetOptions {
    /// Direct connections, DNS only, the default timeout.
    pub fn direct() -> Self {
        Self::default()
    }

    /// The options of a `network.toml`; every problem is one sentence.
    pub fn from_config(c: &NetworkConfig) -> Result<NetOptions, Vec<String>> {
        let mut problems = Vec::new();
        let overrides = Overrides::from_map(&c.overrides).unwrap_or_else(|p| {
            problems.extend(p);
            Overrides::default()
        });
        let proxy = match c.proxy.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => match Proxy::parse(url) {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
        };
        if c.connect_timeout_secs == 0 {
            problems.push("connect_timeout_secs must be at least 1".into());
        }
        if problems.is_empty() {
            Ok(NetOptions {
                overrides,
                proxy,
                connect_timeout: Duration::from_secs(c.connect_timeout_secs),
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_config() {
        let mut c = NetworkConfig::default();
        let o = NetOptions::from_config(&c).unwrap();
        assert_eq!(o, NetOptions::direct());
        c.proxy = Some("http://u:p@127.0.0.1:3128".into());
        c.overrides
            .insert("ward.example.internal".into(), "10.0.0.5".into());
        c.connect_timeout_secs = 3;
        let o = NetOptions::from_config(&c).unwrap();
        assert_eq!(o.proxy.unwrap().authority(), "127.0.0.1:3128");
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(o.overrides.len(), 1);
        c.proxy = Some("socks5://x:1".into());
        c.overrides.insert("bad".into(), "nope".into());
        c.connect_timeout_secs = 0;
        assert_eq!(NetOptions::from_config(&c).unwrap_err().len(), 3);
    }
}
