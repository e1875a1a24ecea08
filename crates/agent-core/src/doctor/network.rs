//! Network checks: `config`, `overrides`, `proxy`, per-endpoint `dns`,
//! `tcp`, `tls` and `pin`, `clock` and `firewall`, with consequences
//! attributed to their cause (see the module docs of [`super`]).

use std::net::IpAddr;

use super::firewall::{Rule, Rulesets, Target};
use super::{clock, DoctorOptions, Finding, Status};
use crate::config::{load_network_config, NetworkConfig};
use crate::http::{self, Endpoint};
use crate::layout::Layout;
use crate::net::dial::{self, Source};
use crate::net::{NetOptions, Proxy};

/// What the per-endpoint checks found.
struct EndpointResult {
    findings: Vec<Finding>,
    /// Index of the `tcp` finding in `findings`.
    tcp_index: usize,
    target: Target,
    tcp_failed: bool,
    healthy: bool,
    /// Local send/receive times (ms) and the server's `Date` (s).
    date: Option<(i64, i64, i64)>,
    date_error: Option<String>,
}

/// The fix for a TCP failure, from its reason.
fn tcp_fix(addr: &str, reason: &str) -> String {
    if reason.contains("refused") {
        format!(
            "nothing accepts connections on {addr}: check that ward-server runs and listens on this \
             address and port (`ward-server serve --listen HOST:PORT`), or correct the endpoint in network.toml"
        )
    } else if reason.contains("timed out") {
        format!(
            "packets to {addr} are dropped or lost: check the firewalls on the way and on the server, \
             and that the server's address is right"
        )
    } else if reason.contains("unreachable") || reason.contains("no route") {
        format!("no route to {addr}: check this host's routes (`ip route get <address>`) and its network link")
    } else {
        format!("check that {addr} is the Ward server and reachable from this host")
    }
}

fn pins_equal(a: &str, b: &str) -> bool {
    matches!(
        (ward_pki::pin::parse_pin(a), ward_pki::pin::parse_pin(b)),
        (Ok(x), Ok(y)) if x == y
    )
}

async fn check_endpoint(
    ep: &Endpoint,
    cfg: &NetworkConfig,
    net: &NetOptions,
    proxy_ok: Option<bool>,
    opts: &DoctorOptions,
) -> EndpointResult {
    let t = opts.timeout;
    let mut r = EndpointResult {
        findings: Vec::new(),
        tcp_index: 1,
        target: Target {
            port: ep.port,
            addrs: Vec::new(),
        },
        tcp_failed: false,
        healthy: false,
        date: None,
        date_error: None,
    };
    let url = ep.url.clone();
    let skip_rest = |r: &mut EndpointResult, from: usize, why: &str| {
        for check in ["dns", "tcp", "tls", "pin"].into_iter().skip(from) {
            r.findings.push(Finding::skip(check, why).on(url.clone()));
        }
    };

    // dns
    let via_proxy = net.proxy.is_some();
    let dns = if let Ok(ip) = ep.host.parse::<IpAddr>() {
        r.target.addrs.push(ip);
        Finding::ok("dns", format!("{ip} is an IP address; no DNS needed"))
    } else if let Some(ip) = net.overrides.get(&ep.host) {
        r.target.addrs.push(ip);
        Finding::ok("dns", format!("override {} → {ip} (DNS not used)", ep.host))
    } else if via_proxy {
        Finding::info("dns", format!("{} is resolved by the proxy", ep.host))
    } else {
        match dial::resolve(&ep.host, ep.port, net, t).await {
            Ok((addrs, _)) => {
                r.target.addrs = addrs.iter().map(|a| a.ip()).collect();
                let list: Vec<String> = r.target.addrs.iter().map(|a| a.to_string()).collect();
                Finding::ok(
                    "dns",
                    format!("{} resolves to {}", ep.host, list.join(", ")),
                )
            }
            Err(e) => Finding::fail(
                "dns",
                e.to_string(),
                format!(
                    "check /etc/resolv.conf and that {host} exists in DNS, or map it without DNS: \
                     add `\"{host}\" = \"<server address>\"` under [overrides] in network.toml \
                     (or re-run the install command with --override {host}=<address>)",
                    host = ep.host
                ),
            ),
        }
    };
    let dns_failed = dns.status == Status::Fail;
    r.findings.push(dns.on(url.clone()));
    if dns_failed {
        skip_rest(&mut r, 1, "the name does not resolve (see dns)");
        return r;
    }

    // tcp (directly or through the proxy)
    if proxy_ok == Some(false) {
        skip_rest(&mut r, 1, "the proxy check failed (see proxy)");
        return r;
    }
    let mut tnet = net.clone();
    tnet.connect_timeout = t;
    let started = std::time::Instant::now();
    let dialed = match dial::dial(ep, &tnet).await {
        Ok(d) => {
            let how = match &d.route {
                dial::Route::Proxy { proxy } => format!("through proxy {proxy}"),
                other => other.to_string(),
            };
            r.findings.push(
                Finding::ok(
                    "tcp",
                    format!(
                        "connected to {} ({how}) in {} ms",
                        d.label,
                        started.elapsed().as_millis()
                    ),
                )
                .on(url.clone()),
            );
            d
        }
        Err(e) => {
            r.tcp_failed = true;
            let (addr, reason) = match &e {
                http::ConnectError::Connect { addr, reason } => (addr.clone(), reason.clone()),
                other => (ep.authority(), other.to_string()),
            };
            r.findings
                .push(Finding::fail("tcp", e.to_string(), tcp_fix(&addr, &reason)).on(url.clone()));
            skip_rest(&mut r, 2, "no TCP connection (see tcp)");
            return r;
        }
    };

    // tls, recording the server's key
    let (config, recorder) = match ward_pki::pin::recording_client_config() {
        Ok(c) => c,
        Err(e) => {
            r.findings.push(
                Finding::fail("tls", format!("TLS setup: {e}"), "report this bug").on(url.clone()),
            );
            skip_rest(&mut r, 3, "no TLS (see tls)");
            return r;
        }
    };
    let label = dialed.label.clone();
    let mut stream = match http::tls_handshake(ep, config, dialed, t).await {
        Ok((s, _)) => {
            let version = s
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}").replace('_', "."))
                .unwrap_or_else(|| "TLS".into());
            r.findings.push(
                Finding::ok("tls", format!("{version} handshake with {label} completed"))
                    .on(url.clone()),
            );
            s
        }
        Err(e) => {
            r.findings.push(
                Finding::fail(
                    "tls",
                    e.to_string(),
                    format!(
                        "{label} accepts TCP but does not complete a TLS handshake: check that the \
                         endpoint is the Ward server's HTTPS port and that nothing in between \
                         (a proxy, a load balancer) ends TLS itself"
                    ),
                )
                .on(url.clone()),
            );
            skip_rest(&mut r, 3, "no TLS handshake (see tls)");
            return r;
        }
    };

    // pin
    let seen = recorder.seen().unwrap_or_default();
    if !pins_equal(&seen, &cfg.pin) {
        r.findings.push(
            Finding::fail(
                "pin",
                format!(
                    "TLS: server key does not match pin: {label} presents {seen}, network.toml pins {}",
                    cfg.pin
                ),
                format!(
                    "if the server's key was replaced on purpose, re-run the install command from the \
                     console (it carries the new pin) or set pin = \"{seen}\" in network.toml; \
                     otherwise this is not your Ward server or something intercepts TLS on the way"
                ),
            )
            .on(url.clone()),
        );
        return r;
    }
    r.findings
        .push(Finding::ok("pin", format!("server key matches the pin {seen}")).on(url.clone()));
    r.healthy = true;

    // The server's clock, over this pinned connection.
    let sent = crate::now_ms();
    match tokio::time::timeout(t, http::get(&mut stream, ep, "/healthz")).await {
        Ok(Ok(resp)) => {
            let received = crate::now_ms();
            match resp.date.as_deref().and_then(clock::parse_http_date) {
                Some(d) => r.date = Some((sent, received, d)),
                None => r.date_error = Some("the server's answer has no valid Date header".into()),
            }
        }
        Ok(Err(e)) => r.date_error = Some(format!("GET /healthz: {e}")),
        Err(_) => r.date_error = Some(format!("GET /healthz: no answer within {} s", t.as_secs())),
    }
    r
}

/// `proxy`, and whether the tunnel opened (`None`: no proxy configured).
async fn check_proxy(
    proxy: &Proxy,
    first: &Endpoint,
    net: &NetOptions,
    opts: &DoctorOptions,
) -> (Finding, bool, Target, bool) {
    let t = opts.timeout;
    let shown = proxy.display_url();
    let target = dial::proxy_target(first, net);
    let mut fw = Target {
        port: proxy.port,
        addrs: Vec::new(),
    };
    let (addrs, source) = match dial::resolve(&proxy.host, proxy.port, net, t).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Finding::fail(
                    "proxy",
                    format!("cannot resolve the proxy: {e}"),
                    format!(
                        "correct proxy = \"{shown}\" in network.toml, or add an override for {}",
                        proxy.host
                    ),
                )
                .on(shown),
                false,
                fw,
                false,
            )
        }
    };
    fw.addrs = addrs.iter().map(|a| a.ip()).collect();
    let mut stream = match dial::tcp(&addrs, t).await {
        Ok(s) => s,
        Err(e) => {
            let reason = match &e {
                http::ConnectError::Connect { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            return (
                Finding::fail(
                    "proxy",
                    format!("cannot reach the proxy: {e}"),
                    format!(
                        "check that the proxy runs and that proxy = \"{shown}\" in network.toml is right; {}",
                        tcp_fix(&proxy.authority(), &reason)
                    ),
                )
                .on(shown),
                false,
                fw,
                true,
            );
        }
    };
    let via = if source == Source::Override {
        " (address from an override)"
    } else {
        ""
    };
    match tokio::time::timeout(t, crate::net::proxy::tunnel(&mut stream, proxy, &target)).await {
        Ok(Ok(())) => (
            Finding::ok(
                "proxy",
                format!("{}{via} accepts CONNECT to {target}", proxy.authority()),
            )
            .on(shown),
            true,
            fw,
            false,
        ),
        Ok(Err(reason)) => {
            let fix = if reason.contains("407") {
                format!(
                    "give the proxy's credentials in network.toml: proxy = \"http://USER:PASSWORD@{}\"",
                    proxy.authority()
                )
            } else {
                format!(
                    "allow CONNECT to {target} in the proxy's access rules (tinyproxy: `ConnectPort {}`; \
                     squid: add port {} to SSL_ports), or use another proxy",
                    first.port, first.port
                )
            };
            (
                Finding::fail("proxy", format!("CONNECT {target}: {reason}"), fix).on(shown),
                false,
                fw,
                false,
            )
        }
        Err(_) => (
            Finding::fail(
                "proxy",
                format!("CONNECT {target}: no answer within {} s", t.as_secs()),
                "check that the proxy is an HTTP proxy that supports CONNECT",
            )
            .on(shown),
            false,
            fw,
            false,
        ),
    }
}

/// `overrides`: valid, and each used by an endpoint or the proxy.
fn check_overrides(cfg: &NetworkConfig, net: &NetOptions) -> Finding {
    if net.overrides.is_empty() {
        return Finding::ok("overrides", "none configured (DNS is used for host names)");
    }
    let mut hosts: Vec<String> = cfg
        .endpoints
        .iter()
        .chain(&cfg.update_endpoints)
        .filter_map(|e| Endpoint::parse(e).ok())
        .map(|e| e.host.to_ascii_lowercase())
        .collect();
    if let Some(p) = &net.proxy {
        hosts.push(p.host.to_ascii_lowercase());
    }
    let list: Vec<String> = net
        .overrides
        .iter()
        .map(|(h, ip)| format!("{h} → {ip}"))
        .collect();
    let unused: Vec<&str> = net
        .overrides
        .iter()
        .map(|(h, _)| h)
        .filter(|h| !hosts.iter().any(|x| x == h))
        .collect();
    if unused.is_empty() {
        Finding::ok("overrides", list.join(", "))
    } else {
        Finding::warn(
            "overrides",
            format!(
                "{}; not used by any endpoint or the proxy: {}",
                list.join(", "),
                unused.join(", ")
            ),
            "check the spelling of the endpoint's host name and of the override in network.toml, \
             or remove the unused override",
        )
    }
}

fn rule_lines(rules: &[Rule]) -> (String, String) {
    let found = rules
        .iter()
        .map(|r| format!("{}: {}", r.source, r.text))
        .collect::<Vec<_>>()
        .join("; ");
    let fixes: Vec<String> = rules.iter().filter_map(|r| r.remove.clone()).collect();
    let fix = if fixes.is_empty() {
        "remove or narrow the rule(s) so the agent can reach the server".to_string()
    } else {
        format!("remove it: {}", fixes.join("  or  "))
    };
    (found, fix)
}

/// Every network check.
pub async fn checks(layout: &Layout, opts: &DoctorOptions) -> Vec<Finding> {
    let path = layout.network_toml();
    let all_skipped = |why: &str| -> Vec<Finding> {
        [
            "overrides",
            "proxy",
            "dns",
            "tcp",
            "tls",
            "pin",
            "clock",
            "firewall",
        ]
        .into_iter()
        .map(|c| Finding::skip(c, why))
        .collect()
    };
    let cfg = match load_network_config(&path) {
        Ok(c) => c,
        Err(e) => {
            let mut out = vec![Finding::fail(
                "config",
                crate::one_line(&e),
                "run the install command again (it writes network.toml), or fix the file by hand",
            )];
            out.extend(all_skipped("network.toml cannot be read (see config)"));
            return out;
        }
    };
    let problems = cfg.problems();
    if !problems.is_empty() {
        let mut out = vec![Finding::fail(
            "config",
            format!("{}: {}", path.display(), problems.join("; ")),
            format!(
                "fix the values in {}; `ward-agent config validate` lists them",
                path.display()
            ),
        )];
        out.extend(all_skipped("network.toml is invalid (see config)"));
        return out;
    }
    let (Ok(net), Ok(endpoints)) = (NetOptions::from_config(&cfg), cfg.parsed_endpoints()) else {
        return all_skipped("network.toml is invalid");
    };
    let mut out = vec![Finding::ok(
        "config",
        format!(
            "{}: {} endpoint(s), {}",
            path.display(),
            endpoints.len(),
            net.proxy
                .as_ref()
                .map_or("direct connections".to_string(), |p| format!(
                    "proxy {}",
                    p.display_url()
                ))
        ),
    )];
    out.push(check_overrides(&cfg, &net));

    let rulesets = tokio::task::spawn_blocking(Rulesets::read)
        .await
        .unwrap_or_default();

    // proxy
    let mut proxy_ok = None;
    let mut proxy_target = None;
    let mut proxy_idx = None;
    let mut proxy_tcp_failed = false;
    if let (Some(p), Some(first)) = (&net.proxy, endpoints.first()) {
        let (f, ok, t, tcp_failed) = check_proxy(p, first, &net, opts).await;
        proxy_ok = Some(ok);
        proxy_target = Some(t);
        proxy_tcp_failed = tcp_failed;
        proxy_idx = Some(out.len());
        out.push(f);
    } else {
        out.push(Finding::ok("proxy", "none configured (direct connections)"));
    }

    // endpoints
    let mut results = Vec::new();
    for ep in &endpoints {
        results.push(check_endpoint(ep, &cfg, &net, proxy_ok, opts).await);
    }
    let any_healthy = results.iter().any(|r| r.healthy);

    // firewall: rules for the port actually used, and who they explain.
    let mut blamed: Vec<Rule> = Vec::new();
    let mut unexplained: Vec<Rule> = Vec::new();
    if let Some(t) = &proxy_target {
        let rules = rulesets.drops(t);
        if proxy_tcp_failed && !rules.is_empty() {
            if let Some(i) = proxy_idx {
                let shown = out[i].target.clone().unwrap_or_default();
                out[i] = Finding::skip(
                    "proxy",
                    "a local firewall rule drops the proxy's port (see firewall)",
                )
                .on(shown);
            }
            blamed.extend(rules);
        } else {
            unexplained.extend(rules);
        }
    } else {
        for r in results.iter_mut() {
            let rules = rulesets.drops(&r.target);
            if r.tcp_failed && !rules.is_empty() {
                let target = r.findings[r.tcp_index].target.clone().unwrap_or_default();
                r.findings[r.tcp_index] = Finding::skip(
                    "tcp",
                    "a local firewall rule drops this port (see firewall)",
                )
                .on(target);
                blamed.extend(rules);
            } else {
                unexplained.extend(rules);
            }
        }
    }
    blamed.dedup();
    unexplained.retain(|r| !blamed.contains(r));
    unexplained.dedup();

    // A failing fallback endpoint is only a warning while another works.
    for r in &mut results {
        for f in &mut r.findings {
            if any_healthy && f.status == Status::Fail {
                f.status = Status::Warn;
            }
        }
        out.append(&mut r.findings);
    }

    // clock
    let tolerance_ms = i64::try_from(opts.max_clock_skew.as_millis()).unwrap_or(i64::MAX);
    out.push(match results.iter().find_map(|r| r.date) {
        Some((sent, received, server)) => {
            let skew = clock::skew_ms(sent, received, server);
            let text = format!(
                "this host's clock is {} the server's (tolerance {} s)",
                clock::describe(skew),
                opts.max_clock_skew.as_secs()
            );
            if skew.abs() > tolerance_ms {
                Finding::fail(
                    "clock",
                    text,
                    "synchronise the clock with NTP (e.g. `chronyc makestep`, or enable \
                     systemd-timesyncd / ntpd); timestamps of events and alerts depend on it",
                )
            } else {
                Finding::ok("clock", text)
            }
        }
        None => match results.iter().find_map(|r| r.date_error.clone()) {
            Some(e) => Finding::warn(
                "clock",
                format!("cannot read the server's time: {e}"),
                "check that the endpoint is a ward-server (GET /healthz answers with a Date header)",
            ),
            None => Finding::skip("clock", "no endpoint passed the TLS and pin checks"),
        },
    });

    // firewall finding
    let sources = rulesets.sources();
    out.push(if !blamed.is_empty() {
        let (found, fix) = rule_lines(&blamed);
        Finding::fail(
            "firewall",
            format!("a local rule drops the agent's connection: {found}"),
            fix,
        )
    } else if !unexplained.is_empty() {
        let (found, fix) = rule_lines(&unexplained);
        Finding::warn(
            "firewall",
            format!("rules that may drop the agent's port (the connection worked): {found}"),
            fix,
        )
    } else if sources.is_empty() {
        Finding::info(
            "firewall",
            "neither iptables-save nor nft is available; no rules inspected",
        )
    } else {
        let mut ports: Vec<u16> = match &proxy_target {
            Some(t) => vec![t.port],
            None => results.iter().map(|r| r.target.port).collect(),
        };
        ports.sort_unstable();
        ports.dedup();
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        Finding::ok(
            "firewall",
            format!(
                "no DROP/REJECT rule for tcp port {} ({} inspected)",
                ports.join(", "),
                sources.join(", ")
            ),
        )
    });
    out
}
