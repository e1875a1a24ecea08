//! `ward-agent doctor`: the offline-troubleshooting checklist (SPEC L13).
//!
//! Every check gives one [`Finding`] (or one per endpoint): its name, a
//! status, what was found and, when it is not ok, a concrete fix. A check
//! whose prerequisite failed is `skip` (not a fault of its own), and a
//! consequence is attributed to its cause: a connection a local firewall
//! rule drops is reported by `firewall`, not again by `tcp`.
//!
//! | check | what |
//! |---|---|
//! | `agent` | the agent of the prefix runs |
//! | `updater` | `ward-update` of this prefix runs (holds `data/update.lock`; `info` when not installed or the agent is stopped) |
//! | `config` | `conf/network.toml` loads and is valid |
//! | `overrides` | host overrides are valid and used |
//! | `proxy` | the proxy answers and accepts CONNECT to the first endpoint |
//! | `dns` | each endpoint's name resolves (overrides first; not needed for an IP or through a proxy) |
//! | `tcp` | each endpoint accepts a TCP connection (directly or through the proxy) |
//! | `tls` | each endpoint completes a TLS handshake |
//! | `pin` | each endpoint's key matches the pin |
//! | `clock` | local clock vs. the server's `Date`, within the tolerance |
//! | `firewall` | no local iptables/nftables rule drops the port |
//! | `cpu`, `memory` | neither is held at 95 % or more |
//! | `conflicts` | no known conflicting security software runs ([`conflicts::KNOWN`]) |
//!
//! Exit codes ([`Report::exit_code`]): 0 healthy (only ok, info, skip),
//! 1 at least one check failed, 6 warnings but no failure (2 is a usage
//! error of the command line).

pub mod clock;
pub mod conflicts;
pub mod firewall;
mod host;
mod network;
pub mod procfs;

use std::time::Duration;

use serde::Serialize;

use crate::layout::Layout;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Worth knowing, not a fault.
    Info,
    /// Not checked because a prerequisite failed (named in `found`).
    Skip,
    /// Degraded, or a risk.
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// True for warn and fail.
    pub fn is_fault(&self) -> bool {
        matches!(self, Status::Warn | Status::Fail)
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    /// The endpoint or proxy it is about, if any.
    pub target: Option<String>,
    pub status: Status,
    pub found: String,
    /// What to do, for warn and fail.
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(check: &'static str, status: Status, found: impl Into<String>) -> Self {
        Finding {
            check,
            target: None,
            status,
            found: found.into(),
            fix: None,
        }
    }

    pub fn ok(check: &'static str, found: impl Into<String>) -> Self {
        Self::new(check, Status::Ok, found)
    }

    pub fn info(check: &'static str, found: impl Into<String>) -> Self {
        Self::new(check, Status::Info, found)
    }

    pub fn skip(check: &'static str, why: impl Into<String>) -> Self {
        Self::new(check, Status::Skip, format!("not checked: {}", why.into()))
    }

    pub fn fail(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Status::Fail, found).with_fix(fix)
    }

    pub fn warn(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Status::Warn, found).with_fix(fix)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn on(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

/// Knobs of a doctor run.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorOptions {
    /// Time allowed for each network step (resolve, connect, TLS, request).
    pub timeout: Duration,
    /// Largest clock difference to the server that is still healthy.
    pub max_clock_skew: Duration,
    /// How long CPU use is sampled.
    pub cpu_sample: Duration,
    /// Where processes are listed (normally `/proc`).
    pub proc_root: std::path::PathBuf,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            timeout: Duration::from_secs(5),
            max_clock_skew: Duration::from_secs(60),
            cpu_sample: Duration::from_secs(1),
            proc_root: "/proc".into(),
        }
    }
}

/// Everything doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub prefix: String,
    pub findings: Vec<Finding>,
}

/// Exit codes of `ward-agent doctor`.
pub mod exit {
    pub const HEALTHY: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const WARNINGS: i32 = 6;
}

impl Report {
    /// The worst status found.
    pub fn worst(&self) -> Status {
        self.findings
            .iter()
            .map(|f| f.status)
            .filter(|s| s.is_fault())
            .max()
            .unwrap_or(Status::Ok)
    }

    pub fn healthy(&self) -> bool {
        !self.worst().is_fault()
    }

    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Status::Fail => exit::FAILED,
            Status::Warn => exit::WARNINGS,
            _ => exit::HEALTHY,
        }
    }

    /// The checks that found a fault, in order, each once.
    pub fn faults(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for f in self.findings.iter().filter(|f| f.status.is_fault()) {
            if !out.contains(&f.check) {
                out.push(f.check);
            }
        }
        out
    }

    /// `{"prefix", "healthy", "exit_code", "faults", "findings": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "prefix": self.prefix,
            "healthy": self.healthy(),
            "exit_code": self.exit_code(),
            "faults": self.faults(),
            "findings": self.findings,
        })
    }

    /// One line per finding (`[ ok ] check  target: found`), the fix
    /// indented under it, and a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let tag = match f.status {
                Status::Ok => " ok ",
                Status::Info => "info",
                Status::Skip => "skip",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            let target = f
                .target
                .as_deref()
                .map(|t| format!("{t}: "))
                .unwrap_or_default();
            out.push_str(&format!("[{tag}] {:<10} {target}{}\n", f.check, f.found));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("       {:<10} fix: {fix}\n", ""));
            }
        }
        let faults = self.faults();
        if faults.is_empty() {
            out.push_str("healthy: every check passed\n");
        } else {
            out.push_str(&format!("not healthy: {}\n", faults.join(", ")));
        }
        out
    }
}

/// Runs every check for the install at `layout`.
pub fn run(layout: &Layout, opts: &DoctorOptions) -> Report {
    let mut findings = host::processes(layout, &opts.proc_root);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match rt {
        Ok(rt) => {
            let (net, load) = rt.block_on(async {
                tokio::join!(
                    network::checks(layout, opts),
                    host::load(&opts.proc_root, opts.cpu_sample)
                )
            });
            findings.extend(net);
            findings.extend(load);
        }
        Err(e) => findings.push(Finding::fail(
            "config",
            format!("cannot start the network checks: {e}"),
            "free some memory or file descriptors and run doctor again",
        )),
    }
    findings.push(host::conflicts(&opts.proc_root, layout));
    Report {
        prefix: layout.prefix().display().to_string(),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[(&'static str, Status)]) -> Report {
        Report {
            prefix: "/opt/w".into(),
            findings: statuses
                .iter()
                .map(|(c, s)| Finding::new(c, *s, "x"))
                .collect(),
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let r = report(&[
            ("agent", Status::Ok),
            ("updater", Status::Info),
            ("tls", Status::Skip),
        ]);
        assert_eq!((r.exit_code(), r.healthy()), (0, true));
        assert!(r.faults().is_empty());
        let r = report(&[("agent", Status::Ok), ("conflicts", Status::Warn)]);
        assert_eq!((r.exit_code(), r.healthy()), (6, false));
        let r = report(&[
            ("dns", Status::Fail),
            ("conflicts", Status::Warn),
            ("dns", Status::Fail),
        ]);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.faults(), vec!["dns", "conflicts"]);
    }

    #[test]
    fn text_and_json_forms() {
        let r = Report {
            prefix: "/opt/w".into(),
            findings: vec![
                Finding::ok("agent", "running (pid 7)"),
                Finding::fail("pin", "server has sha256//B", "set pin").on("https://h:1"),
            ],
        };
        let t = r.to_text();
        assert!(t.contains("[ ok ] agent      running (pid 7)\n"), "{t}");
        assert!(
            t.contains("[FAIL] pin        https://h:1: server has sha256//B\n"),
            "{t}"
        );
        assert!(t.contains("fix: set pin\n"), "{t}");
        assert!(t.ends_with("not healthy: pin\n"), "{t}");
        let j = r.to_json();
        assert_eq!(j["healthy"], false);
        assert_eq!(j["exit_code"], 1);
        assert_eq!(j["faults"], serde_json::json!(["pin"]));
        assert_eq!(j["findings"][1]["status"], "fail");
        assert_eq!(j["findings"][1]["target"], "https://h:1");
        assert_eq!(j["findings"][0]["fix"], serde_json::Value::Null);
    }
}
