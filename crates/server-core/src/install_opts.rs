//! Network options an install command can carry (SPEC L6): session
//! endpoints, update endpoints, host overrides and an HTTP CONNECT proxy.
//! They become `--endpoint`, `--update-endpoint`, `--override` and
//! `--proxy` of the agent installer, and the proxy and overrides are also
//! applied to the `curl` that fetches `install.sh` (`--proxy`, `--resolve`).
//!
//! `ward-server install-command` takes them as flags and
//! `GET /api/v1/install-command` as query parameters of the same names
//! (`endpoint`, `update_endpoint`, `override`, `proxy`; repeatable except
//! `proxy`).

use std::net::IpAddr;

use crate::admin::shell_quote;

/// The options, validated by [`InstallOptions::validate`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    pub endpoints: Vec<String>,
    pub update_endpoints: Vec<String>,
    /// `(host, ip)` pairs.
    pub overrides: Vec<(String, IpAddr)>,
    /// May hold credentials: never logged (see `Debug`).
    pub proxy: Option<String>,
}

impl std::fmt::Debug for InstallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallOptions")
            .field("endpoints", &self.endpoints)
            .field("update_endpoints", &self.update_endpoints)
            .field("overrides", &self.overrides)
            .field("proxy", &self.proxy.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// `host` and `port` of an `https://host[:port]` URL (443 by default).
pub fn https_host_port(url: &str) -> Result<(String, u16), String> {
    let bad = || format!("{url:?} is not an https://host:port URL");
    let rest = url
        .trim()
        .trim_end_matches('/')
        .strip_prefix("https://")
        .ok_or_else(bad)?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '\'', '"']) {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    {
        return Err(bad());
    }
    let port = match port {
        None => 443,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
    };
    Ok((host, port))
}

fn is_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.parse::<IpAddr>().is_err()
        && h.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses `HOST=IP`.
pub fn parse_override(s: &str) -> Result<(String, IpAddr), String> {
    let (h, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("override {s:?} is not HOST=IP"))?;
    let h = h.trim().to_ascii_lowercase();
    if !is_host_name(&h) {
        return Err(format!("override {s:?}: {h:?} is not a host name"));
    }
    let ip = ip
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map_err(|_| format!("override {s:?}: not an IP address"))?;
    Ok((h, ip))
}

/// Checks a proxy URL, `http://[user:password@]host:port`, without ever
/// repeating it (it may hold a password).
pub fn check_proxy(p: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "proxy must be http://[user:password@]host:port: {why}"
        ))
    };
    let Some(rest) = p.trim().strip_prefix("http://") else {
        return bad("it must start with http://");
    };
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.trim_end_matches('/');
    if hostport.contains(['/', '?', '#', ' ', '\'', '"']) {
        return bad("no path or query is allowed");
    }
    match hostport.rsplit_once(':') {
        Some((h, port)) if !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0) => Ok(()),
        _ => bad("host:port is required"),
    }
}

impl InstallOptions {
    /// Checks every value; one sentence per problem, joined with `"; "`.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (name, list) in [
            ("endpoint", &self.endpoints),
            ("update-endpoint", &self.update_endpoints),
        ] {
            for e in list {
                if let Err(err) = https_host_port(e) {
                    problems.push(format!("{name}: {err}"));
                }
            }
        }
        if let Some(p) = &self.proxy {
            if let Err(e) = check_proxy(p) {
                problems.push(e);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Builds the options from `HOST=IP` override strings and the rest.
    pub fn build(
        endpoints: Vec<String>,
        update_endpoints: Vec<String>,
        overrides: &[String],
        proxy: Option<String>,
    ) -> Result<InstallOptions, String> {
        let overrides = overrides
            .iter()
            .map(|o| parse_override(o))
            .collect::<Result<Vec<_>, _>>()?;
        let opts = InstallOptions {
            endpoints: endpoints
                .into_iter()
                .map(|e| e.trim().trim_end_matches('/').to_string())
                .collect(),
            update_endpoints: update_endpoints
                .into_iter()
                .map(|e| e.trim().trim_end_matches('/').to_string())
                .collect(),
            overrides,
            proxy: proxy
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty()),
        };
        opts.validate()?;
        Ok(opts)
    }

    /// Options of the `curl` that fetches `install.sh` from `url`:
    /// ` --proxy 'P' --resolve 'host:port:ip'` (empty without options).
    pub fn curl_args(&self, url: &str) -> String {
        let mut out = String::new();
        if let Some(p) = &self.proxy {
            out.push_str(&format!(" --proxy {}", shell_quote(p)));
        }
        if let Ok((host, port)) = https_host_port(url) {
            for (h, ip) in &self.overrides {
                if h.eq_ignore_ascii_case(&host) {
                    let addr = match ip {
                        IpAddr::V6(v6) => format!("[{v6}]"),
                        IpAddr::V4(v4) => v4.to_string(),
                    };
                    out.push_str(&format!(
                        " --resolve {}",
                        shell_quote(&format!("{h}:{port}:{addr}"))
                    ));
                }
            }
        }
        out
    }

    /// The installer's flags: ` --endpoint 'E' ... --proxy 'P'`.
    pub fn installer_args(&self) -> String {
        let mut out = String::new();
        for e in &self.endpoints {
            out.push_str(&format!(" --endpoint {}", shell_quote(e)));
        }
        for e in &self.update_endpoints {
            out.push_str(&format!(" --update-endpoint {}", shell_quote(e)));
        }
        for (h, ip) in &self.overrides {
            out.push_str(&format!(
                " --override {}",
                shell_quote(&format!("{h}={ip}"))
            ));
        }
        if let Some(p) = &self.proxy {
            out.push_str(&format!(" --proxy {}", shell_quote(p)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_overrides() {
        assert_eq!(
            https_host_port("https://ward.example.internal:8443/").unwrap(),
            ("ward.example.internal".to_string(), 8443)
        );
        assert_eq!(
            https_host_port("https://[::1]").unwrap(),
            ("::1".to_string(), 443)
        );
        for bad in [
            "http://h:1",
            "https://h:0",
            "https://h:1/x",
            "https://'h':1",
            "https://",
        ] {
            assert!(https_host_port(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_override("Ward.Example.Internal=10.0.0.5").unwrap(),
            (
                "ward.example.internal".to_string(),
                "10.0.0.5".parse().unwrap()
            )
        );
        for bad in ["x", "10.0.0.1=10.0.0.2", "h=nope", "h x=10.0.0.1"] {
            assert!(parse_override(bad).is_err(), "{bad}");
        }
        assert!(check_proxy("http://u:p@127.0.0.1:3128").is_ok());
        for bad in ["https://p:1", "http://p", "http://p:1/x", "http://:1"] {
            assert!(check_proxy(bad).is_err(), "{bad}");
        }
        let e = check_proxy("http://u:hunter2@p").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn arguments_for_curl_and_the_installer() {
        let o = InstallOptions::build(
            vec![
                "https://ward.example.internal:8443".into(),
                "https://10.0.0.2:8443/".into(),
            ],
            vec!["https://pkg.example.internal:8443".into()],
            &[
                "ward.example.internal=10.0.0.1".into(),
                "other.example=10.0.0.9".into(),
            ],
            Some("http://10.0.0.3:3128".into()),
        )
        .unwrap();
        assert_eq!(
            o.curl_args("https://ward.example.internal:8443"),
            " --proxy 'http://10.0.0.3:3128' --resolve 'ward.example.internal:8443:10.0.0.1'"
        );
        assert_eq!(
            o.installer_args(),
            " --endpoint 'https://ward.example.internal:8443' --endpoint 'https://10.0.0.2:8443' \
             --update-endpoint 'https://pkg.example.internal:8443' \
             --override 'ward.example.internal=10.0.0.1' --override 'other.example=10.0.0.9' \
             --proxy 'http://10.0.0.3:3128'"
        );
        assert_eq!(InstallOptions::default().curl_args("https://h:1"), "");
        assert_eq!(InstallOptions::default().installer_args(), "");
        assert!(!format!(
            "{:?}",
            InstallOptions {
                proxy: Some("http://u:hunter2@p:1".into()),
                ..Default::default()
            }
        )
        .contains("hunter2"));
        assert!(InstallOptions::build(vec!["http://x:1".into()], vec![], &[], None).is_err());
        assert!(InstallOptions::build(vec![], vec![], &["bad".into()], None).is_err());
    }
}
