//! Enrolling many simulated agents through the real `POST /api/v1/agent/enroll`
//! (`ward-agent-core`'s `enroll`), and the credentials file that lets a rerun
//! skip enrollment.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use ward_agent_core::enroll::{enroll, EnrollError};
use ward_agent_core::http::{ConnectError, Endpoint};
use ward_proto::{EnrollRequest, ErrorCode, HostReport};

use crate::stats::{ErrorTally, HistSnapshot, Histogram};

/// One simulated agent's identity.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCred {
    pub fingerprint: String,
    pub agent_id: String,
    /// `wa1.<id>.<secret>`; never printed.
    pub credential: String,
}

impl std::fmt::Debug for AgentCred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCred")
            .field("fingerprint", &self.fingerprint)
            .field("agent_id", &self.agent_id)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// The credentials file (JSON, mode 0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredFile {
    /// Pin of the server the agents are enrolled with.
    pub pin: String,
    /// Prefix of the simulated hostnames and fingerprints.
    pub prefix: String,
    pub agents: Vec<AgentCred>,
}

impl CredFile {
    pub fn new(pin: &str) -> CredFile {
        CredFile {
            pin: pin.to_string(),
            prefix: format!("{:08x}", rand::random::<u32>()),
            agents: Vec::new(),
        }
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> anyhow::Result<Option<CredFile>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let f: CredFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a ward-bench credentials file", path.display()))?;
        Ok(Some(f))
    }

    /// Writes `path` atomically with mode 0600.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        let body = serde_json::to_vec(self).context("encoding the credentials file")?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&body)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }

    /// Name (hostname and fingerprint) of agent `index`.
    pub fn agent_name(&self, index: usize) -> String {
        agent_name(&self.prefix, index)
    }
}

pub fn agent_name(prefix: &str, index: usize) -> String {
    format!("bench-{prefix}-{index:06}")
}

/// The report a simulated agent sends: distinct hostname and an address in
/// 198.18.0.0/15 (RFC 2544's benchmarking range).
pub fn simulated_report(name: &str, index: usize) -> HostReport {
    let n = u32::try_from(index % (1 << 17)).unwrap_or(0);
    let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + n);
    HostReport {
        hostname: name.to_string(),
        os: "Ward bench (simulated agent)".into(),
        kernel: "0.0.0-bench".into(),
        arch: std::env::consts::ARCH.into(),
        ips: vec![ip.to_string()],
        agent_version: ward_agent_core::version().into(),
        agent_cpu_percent: 0.0,
        agent_rss_bytes: 8 << 20,
        uptime_secs: 86_400,
    }
}

/// The outcome of [`enroll_missing`].
pub struct EnrollOutcome {
    pub enrolled: usize,
    pub elapsed: Duration,
    pub latency: HistSnapshot,
    pub errors: BTreeMap<String, u64>,
}

/// Short, address-free kind of an enrollment failure.
pub fn enroll_error_kind(e: &EnrollError) -> String {
    match e {
        EnrollError::Connect(c) => format!("enroll {}", connect_error_kind(c)),
        EnrollError::Refused { code, .. } => format!("enroll refused: {}", code.as_str()),
        EnrollError::Server { status, .. } => format!("enroll server error: HTTP {status}"),
    }
}

/// Short, address-free kind of a connection failure.
pub fn connect_error_kind(e: &ConnectError) -> String {
    match e {
        ConnectError::Resolve { reason, .. } => format!("resolve: {reason}"),
        ConnectError::Connect { reason, .. } => format!("connect: {reason}"),
        ConnectError::Tls { reason, .. } => format!("tls: {reason}"),
        ConnectError::Proxy { reason, .. } => format!("proxy: {reason}"),
        ConnectError::Exchange { reason, .. } => format!("http: {reason}"),
    }
}

fn is_fatal(e: &EnrollError) -> bool {
    matches!(
        e,
        EnrollError::Refused {
            code: ErrorCode::KeyUnknown | ErrorCode::KeyRevoked | ErrorCode::BadRequest,
            ..
        }
    )
}

/// Enrolls agents until `file` holds `count` of them, `concurrency` at a time,
/// with up to `attempts` tries each. Prints progress to stderr.
pub async fn enroll_missing(
    file: &mut CredFile,
    count: usize,
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    key: &str,
    concurrency: usize,
) -> anyhow::Result<EnrollOutcome> {
    const ATTEMPTS: u32 = 5;
    let start_index = file.agents.len();
    let started = Instant::now();
    let latency = Arc::new(Histogram::default());
    let errors = Arc::new(ErrorTally::default());
    let done = Arc::new(AtomicU64::new(0));
    let fatal = Arc::new(AtomicBool::new(false));
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let progress = tokio::spawn(progress(done.clone(), count.saturating_sub(start_index)));
    for index in start_index..count {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("enrollment semaphore closed")?;
        if fatal.load(Ordering::Relaxed) {
            break;
        }
        let name = file.agent_name(index);
        let req = EnrollRequest {
            key: key.to_string(),
            fingerprint: name.clone(),
            agent_version: ward_agent_core::version().to_string(),
            platform: "linux-x86_64".into(),
            report: simulated_report(&name, index),
        };
        let (ep, tls) = (ep.clone(), tls.clone());
        let (latency, errors, done, fatal) =
            (latency.clone(), errors.clone(), done.clone(), fatal.clone());
        set.spawn(async move {
            let _permit = permit;
            let mut last = None;
            for attempt in 0..ATTEMPTS {
                let t0 = Instant::now();
                match enroll(&ep, tls.clone(), &req).await {
                    Ok(resp) => {
                        latency.record(t0.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                        return Ok((
                            index,
                            AgentCred {
                                fingerprint: req.fingerprint,
                                agent_id: resp.agent_id,
                                credential: resp.credential,
                            },
                        ));
                    }
                    Err(e) => {
                        errors.add(enroll_error_kind(&e));
                        if is_fatal(&e) {
                            fatal.store(true, Ordering::Relaxed);
                            return Err(e.to_string());
                        }
                        last = Some(e.to_string());
                        let backoff = Duration::from_millis(200 << attempt);
                        tokio::time::sleep(backoff).await;
                    }
                }
            }
            Err(last.unwrap_or_default())
        });
        // Reap finished tasks as we go so the set stays small.
        while let Some(r) = set.try_join_next() {
            collect(r, file)?;
        }
    }
    let mut first_failure: Option<String> = None;
    while let Some(r) = set.join_next().await {
        if let Err(e) = collect(r, file) {
            first_failure.get_or_insert(e.to_string());
        }
    }
    progress.abort();
    // Agents in index order so the file's order matches their names.
    sort_by_name(file);
    let outcome = EnrollOutcome {
        enrolled: file.agents.len() - start_index,
        elapsed: started.elapsed(),
        latency: latency.snapshot(),
        errors: errors.snapshot(),
    };
    if let Some(e) = first_failure {
        if fatal.load(Ordering::Relaxed) || file.agents.len() < count {
            bail!(
                "enrollment stopped with {} of {count} agents: {e}",
                file.agents.len()
            );
        }
    }
    Ok(outcome)
}

type Enrolled = Result<(usize, AgentCred), String>;

fn collect(r: Result<Enrolled, tokio::task::JoinError>, file: &mut CredFile) -> anyhow::Result<()> {
    match r {
        Ok(Ok((_, cred))) => {
            file.agents.push(cred);
            Ok(())
        }
        Ok(Err(e)) => bail!("{e}"),
        Err(e) => bail!("enrollment task failed: {e}"),
    }
}

fn sort_by_name(file: &mut CredFile) {
    file.agents
        .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
}

async fn progress(done: Arc<AtomicU64>, total: usize) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        let n = done.load(Ordering::Relaxed);
        eprintln!(
            "[enroll {:>5.0}s] {n}/{total} enrolled ({:.0}/s)",
            start.elapsed().as_secs_f64(),
            n as f64 / start.elapsed().as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn cred(i: usize, prefix: &str) -> AgentCred {
        AgentCred {
            fingerprint: agent_name(prefix, i),
            agent_id: format!("ag_{i}"),
            credential: format!("wa1.ag_{i}.secret{i}"),
        }
    }

    #[test]
    fn credentials_file_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.json");
        assert!(CredFile::load(&path).unwrap().is_none());
        let mut f = CredFile::new("sha256//pin");
        f.agents = (0..3).map(|i| cred(i, &f.prefix.clone())).collect();
        f.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(CredFile::load(&path).unwrap(), Some(f.clone()));
        // Saving again replaces the content (no stale temp file left behind).
        f.agents.truncate(1);
        f.save(&path).unwrap();
        assert_eq!(CredFile::load(&path).unwrap().unwrap().agents.len(), 1);
        assert!(!path.with_extension("tmp").exists());
        std::fs::write(&path, "{\"pin\":1}").unwrap();
        assert!(CredFile::load(&path).is_err());
    }

    #[test]
    fn names_sort_in_index_order_and_debug_hides_secrets() {
        let mut f = CredFile::new("p");
        let prefix = f.prefix.clone();
        f.agents = [10usize, 2, 999_999, 0]
            .iter()
            .map(|&i| cred(i, &prefix))
            .collect();
        sort_by_name(&mut f);
        let ids: Vec<&str> = f.agents.iter().map(|a| a.agent_id.as_str()).collect();
        assert_eq!(ids, ["ag_0", "ag_2", "ag_10", "ag_999999"]);
        assert!(!format!("{:?}", f.agents[0]).contains("secret"));
        assert_eq!(f.prefix.len(), 8);
    }

    #[test]
    fn simulated_reports_are_distinct_and_in_the_benchmark_range() {
        let a = simulated_report("bench-x-000000", 0);
        let b = simulated_report("bench-x-000300", 300);
        assert_eq!(a.ips, vec!["198.18.0.0"]);
        // 300 = 1 * 256 + 44.
        assert_eq!(b.ips, vec!["198.18.1.44"]);
        assert_ne!(a.hostname, b.hostname);
        let last = simulated_report("n", (1 << 17) - 1);
        assert_eq!(last.ips, vec!["198.19.255.255"]);
    }
}
