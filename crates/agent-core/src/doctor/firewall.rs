//! Local firewall rules that drop the agent's traffic: `iptables-save` and
//! `nft -a list ruleset` output, searched for DROP/REJECT rules matching a
//! TCP port (as destination, or as source for the replies) or an address,
//! and for output chains whose policy is drop. Parsing is pure.

use std::net::IpAddr;
use std::process::Command;

/// What is looked for: a TCP port and the addresses it is reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// A rule that drops (or may drop) the traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `iptables` or `nftables`.
    pub source: &'static str,
    /// The rule as the tool printed it.
    pub text: String,
    /// The command that removes it, when one can be given.
    pub remove: Option<String>,
    /// The port it drops, when it matches on ports.
    pub port: Option<u16>,
}

/// True when `cidr` (`a.b.c.d`, `a.b.c.d/n`, IPv6 alike) contains `ip`.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// True when a port spec (`8443`, `8000:9000`, `8000-9000`, `80,443`)
/// covers `port`.
pub fn port_spec_contains(spec: &str, port: u16) -> bool {
    spec.split(',').map(str::trim).any(|part| {
        let (lo, hi) = match part.split_once([':', '-']) {
            Some((a, b)) => (a.parse::<u16>().ok(), b.parse::<u16>().ok()),
            None => (part.parse().ok(), part.parse().ok()),
        };
        matches!((lo, hi), (Some(lo), Some(hi)) if lo <= port && port <= hi)
    })
}

fn any_addr(spec: &str, addrs: &[IpAddr]) -> bool {
    spec.split(',')
        .any(|c| addrs.iter().any(|a| cidr_contains(c.trim(), *a)))
}

/// DROP/REJECT rules of `iptables-save` output that hit `t`.
pub fn iptables_drops(save: &str, t: &Target) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut table = "filter".to_string();
    for line in save.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
            continue;
        }
        if let Some(chain) = line.strip_prefix(':') {
            let mut f = chain.split_whitespace();
            if let (Some("OUTPUT"), Some("DROP")) = (f.next(), f.next()) {
                out.push(Rule {
                    source: "iptables",
                    text: format!("*{table} :OUTPUT DROP (default policy)"),
                    remove: Some(format!("iptables -t {table} -P OUTPUT ACCEPT (or allow the port before the policy applies)")),
                    port: None,
                });
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("-A ") else {
            continue;
        };
        let tok: Vec<&str> = rest.split_whitespace().collect();
        let Some(chain) = tok.first().copied() else {
            continue;
        };
        let value = |names: &[&str]| tok.windows(2).find(|w| names.contains(&w[0])).map(|w| w[1]);
        if !matches!(value(&["-j", "--jump"]), Some("DROP" | "REJECT")) {
            continue;
        }
        if tok.contains(&"!") {
            continue; // negations: cannot tell, do not accuse
        }
        if let Some(p) = value(&["-p", "--protocol"]) {
            if !p.eq_ignore_ascii_case("tcp") && p != "all" && p != "6" {
                continue;
            }
        }
        let dport = value(&[
            "--dport",
            "--destination-port",
            "--dports",
            "--destination-ports",
        ]);
        let sport = value(&["--sport", "--source-port", "--sports", "--source-ports"]);
        let daddr = value(&["-d", "--destination"]);
        let saddr = value(&["-s", "--source"]);
        let addr_ok = |spec: Option<&str>| spec.is_none_or(|s| any_addr(s, &t.addrs));
        let hit = if dport.is_some() || sport.is_some() {
            (dport.is_some_and(|d| port_spec_contains(d, t.port)) && addr_ok(daddr))
                || (sport.is_some_and(|s| port_spec_contains(s, t.port)) && addr_ok(saddr))
        } else if daddr.is_some() || saddr.is_some() {
            daddr.is_some_and(|d| any_addr(d, &t.addrs))
                || saddr.is_some_and(|s| any_addr(s, &t.addrs))
        } else {
            // A rule dropping all TCP/all traffic leaving the host.
            chain == "OUTPUT"
        };
        if hit {
            let table_arg = if table == "filter" {
                String::new()
            } else {
                format!("-t {table} ")
            };
            out.push(Rule {
                source: "iptables",
                text: format!("-A {rest}"),
                remove: Some(format!("iptables {table_arg}-D {rest}")),
                port: (dport.is_some() || sport.is_some()).then_some(t.port),
            });
        }
    }
    out
}

/// The value after `key` in nft tokens (a word, or a `{ a, b }` set joined
/// with commas) and the index of `key`; `None` for `!=` comparisons.
fn nft_value(tok: &[&str], key: &str) -> Option<(String, usize)> {
    let i = tok.iter().position(|w| *w == key)?;
    let first = *tok.get(i + 1)?;
    if first == "!=" {
        return None;
    }
    if !first.starts_with('{') {
        return Some((first.to_string(), i));
    }
    let mut parts = Vec::new();
    for w in &tok[i + 1..] {
        let clean = w.trim_matches(|c| c == '{' || c == '}' || c == ',');
        if !clean.is_empty() {
            parts.push(clean.to_string());
        }
        if w.contains('}') {
            break;
        }
    }
    Some((parts.join(","), i))
}

/// DROP/REJECT rules (and drop policies of output hooks) in `nft -a list
/// ruleset` output that hit `t`.
pub fn nft_drops(ruleset: &str, t: &Target) -> Vec<Rule> {
    let mut out = Vec::new();
    let (mut family, mut table, mut chain) = (String::new(), String::new(), String::new());
    let mut output_hook = false;
    for raw in ruleset.lines() {
        let (line, handle) = match raw.split_once("# handle") {
            Some((l, h)) => (l.trim(), h.trim().parse::<u64>().ok()),
            None => (raw.trim(), None),
        };
        let tok: Vec<&str> = line.split_whitespace().collect();
        match tok.as_slice() {
            ["table", fam, name, "{", ..] => {
                family = fam.to_string();
                table = name.to_string();
                continue;
            }
            ["chain", name, "{", ..] => {
                chain = name.to_string();
                output_hook = false;
                continue;
            }
            ["type", ..] => {
                output_hook = line.contains("hook output");
                if output_hook && line.contains("policy drop") {
                    out.push(Rule {
                        source: "nftables",
                        text: format!("table {family} {table} chain {chain}: policy drop"),
                        remove: Some(format!(
                            "nft add chain {family} {table} {chain} '{{ policy accept; }}' (or accept the port first)"
                        )),
                        port: None,
                    });
                }
                continue;
            }
            [] | ["}"] => continue,
            _ => {}
        }
        if !tok.iter().any(|w| *w == "drop" || *w == "reject") {
            continue;
        }
        let proto_ok = |i: usize| i == 0 || matches!(tok[i - 1], "tcp" | "th");
        let dport = nft_value(&tok, "dport").filter(|(_, i)| proto_ok(*i));
        let sport = nft_value(&tok, "sport").filter(|(_, i)| proto_ok(*i));
        if (tok.contains(&"dport") && dport.is_none())
            || (tok.contains(&"sport") && sport.is_none())
        {
            continue; // udp ports, negations
        }
        let daddr = nft_value(&tok, "daddr").map(|v| v.0);
        let saddr = nft_value(&tok, "saddr").map(|v| v.0);
        let addr_ok = |spec: &Option<String>| spec.as_deref().is_none_or(|s| any_addr(s, &t.addrs));
        let hit = if dport.is_some() || sport.is_some() {
            (dport
                .as_ref()
                .is_some_and(|(d, _)| port_spec_contains(d, t.port))
                && addr_ok(&daddr))
                || (sport
                    .as_ref()
                    .is_some_and(|(s, _)| port_spec_contains(s, t.port))
                    && addr_ok(&saddr))
        } else if daddr.is_some() || saddr.is_some() {
            daddr.as_deref().is_some_and(|d| any_addr(d, &t.addrs))
                || saddr.as_deref().is_some_and(|s| any_addr(s, &t.addrs))
        } else {
            output_hook && !tok.contains(&"udp") && !tok.contains(&"icmp")
        };
        if hit {
            out.push(Rule {
                source: "nftables",
                text: format!("table {family} {table} chain {chain}: {line}"),
                remove: handle
                    .map(|h| format!("nft delete rule {family} {table} {chain} handle {h}")),
                port: (dport.is_some() || sport.is_some()).then_some(t.port),
            });
        }
    }
    out
}

/// Output of a firewall tool, `None` when it is not installed or fails.
fn tool_output(names: &[&str], args: &[&str]) -> Option<String> {
    for name in names {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let path = std::path::Path::new(dir).join(name);
            if !path.is_file() {
                continue;
            }
            let out = Command::new(&path)
                .args(args)
                .stdin(std::process::Stdio::null())
                .output()
                .ok()?;
            return out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned());
        }
    }
    None
}

/// The rule sets read from the running system.
#[derive(Debug, Clone, Default)]
pub struct Rulesets {
    pub iptables: Option<String>,
    pub ip6tables: Option<String>,
    pub nft: Option<String>,
}

impl Rulesets {
    /// Runs `iptables-save`, `ip6tables-save` and `nft -a list ruleset`.
    pub fn read() -> Rulesets {
        Rulesets {
            iptables: tool_output(&["iptables-save"], &[]),
            ip6tables: tool_output(&["ip6tables-save"], &[]),
            nft: tool_output(&["nft"], &["-a", "list", "ruleset"]),
        }
    }

    /// Names of the tools that answered.
    pub fn sources(&self) -> Vec<&'static str> {
        let mut s = Vec::new();
        if self.iptables.is_some() || self.ip6tables.is_some() {
            s.push("iptables");
        }
        if self.nft.is_some() {
            s.push("nftables");
        }
        s
    }

    /// Every rule hitting `t`; a rule iptables-nft shows in both tools is
    /// kept once per tool.
    pub fn drops(&self, t: &Target) -> Vec<Rule> {
        let mut out = Vec::new();
        for save in [&self.iptables, &self.ip6tables].into_iter().flatten() {
            out.extend(iptables_drops(save, t));
        }
        if let Some(n) = &self.nft {
            out.extend(nft_drops(n, t));
        }
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16, addr: &str) -> Target {
        Target {
            port,
            addrs: vec![addr.parse().unwrap()],
        }
    }

    const SAVE: &str = "# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -j DROP
-A OUTPUT -p tcp -m tcp --dport 8443 -j DROP
-A OUTPUT -p udp -m udp --dport 8443 -j DROP
-A OUTPUT -d 10.9.0.0/16 -p tcp -m multiport --dports 80,9000:9100 -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT -p tcp ! --dport 22 -j DROP
-A OUTPUT -p tcp --dport 7000 -j ACCEPT
COMMIT
*nat
:OUTPUT ACCEPT [0:0]
-A OUTPUT -d 192.0.2.7/32 -j DROP
COMMIT
";

    #[test]
    fn iptables_rules_for_the_port() {
        let hits = iptables_drops(SAVE, &target(8443, "10.213.0.1"));
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert_eq!(hits[0].text, "-A OUTPUT -p tcp -m tcp --dport 8443 -j DROP");
        assert_eq!(
            hits[0].remove.as_deref(),
            Some("iptables -D OUTPUT -p tcp -m tcp --dport 8443 -j DROP")
        );
        assert_eq!(hits[0].port, Some(8443));
        // The multiport rule only applies to 10.9.0.0/16.
        assert!(iptables_drops(SAVE, &target(9050, "10.213.0.1")).is_empty());
        let hits = iptables_drops(SAVE, &target(9050, "10.9.3.4"));
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert!(hits[0].text.contains("--dports 80,9000:9100"));
        // Address-only rule in another table, with the table in the fix.
        let hits = iptables_drops(SAVE, &target(443, "192.0.2.7"));
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert_eq!(
            hits[0].remove.as_deref(),
            Some("iptables -t nat -D OUTPUT -d 192.0.2.7/32 -j DROP")
        );
        assert_eq!(hits[0].port, None);
    }

    #[test]
    fn iptables_output_policy_and_bare_drop() {
        let save =
            "*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -j REJECT\nCOMMIT\n";
        let hits = iptables_drops(save, &target(8443, "127.0.0.1"));
        assert_eq!(hits.len(), 2, "{hits:#?}");
        assert!(hits[0].text.contains("default policy"));
        assert_eq!(hits[1].text, "-A OUTPUT -j REJECT");
        assert!(iptables_drops("", &target(1, "127.0.0.1")).is_empty());
    }

    const NFT: &str = "table ip filter { # handle 1
\tchain OUTPUT { # handle 1
\t\ttype filter hook output priority filter; policy accept;
\t\ttcp dport 8443 counter packets 3 bytes 180 drop # handle 2
\t\tudp dport 8443 drop # handle 3
\t\tip daddr 10.9.0.0/16 tcp dport { 80, 9000-9100 } reject with icmp port-unreachable # handle 4
\t\ttcp dport != 22 drop # handle 5
\t\ttcp dport 7000 accept # handle 6
\t}
\tchain INPUT { # handle 7
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp sport 8443 drop # handle 8
\t\tdrop # handle 9
\t}
}
table inet fw { # handle 2
\tchain out { # handle 1
\t\ttype filter hook output priority 0; policy drop;
\t}
}
";

    #[test]
    fn nft_rules_for_the_port() {
        let hits = nft_drops(NFT, &target(8443, "10.213.0.1"));
        let texts: Vec<&str> = hits.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "table ip filter chain OUTPUT: tcp dport 8443 counter packets 3 bytes 180 drop",
                "table ip filter chain INPUT: tcp sport 8443 drop",
                "table inet fw chain out: policy drop",
            ]
        );
        assert_eq!(
            hits[0].remove.as_deref(),
            Some("nft delete rule ip filter OUTPUT handle 2")
        );
        let hits = nft_drops(NFT, &target(9050, "10.9.0.1"));
        assert_eq!(hits.len(), 2, "{hits:#?}");
        assert!(hits[0].text.contains("{ 80, 9000-9100 }"));
        assert!(nft_drops("", &target(1, "127.0.0.1")).is_empty());
    }

    #[test]
    fn specs() {
        assert!(port_spec_contains("8443", 8443));
        assert!(port_spec_contains("80,8000:9000", 8443));
        assert!(port_spec_contains("8000-9000", 8443));
        assert!(!port_spec_contains("80,443", 8443));
        assert!(!port_spec_contains("x", 1));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains("10.0.0.0/8", ip("10.213.0.1")));
        assert!(!cidr_contains("10.0.0.0/16", ip("10.213.0.1")));
        assert!(cidr_contains("10.213.0.1", ip("10.213.0.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("192.0.2.1")));
        assert!(cidr_contains("fd00::/8", ip("fd12::1")));
        assert!(!cidr_contains("fd00::/8", ip("10.0.0.1")));
    }
}
