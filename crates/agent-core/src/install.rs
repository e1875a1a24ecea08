//! `ward-agent install`: what the server's `install.sh` runs.
//!
//! 1. Validate the arguments, and plan `conf/network.toml` from the network
//!    flags and the file already there ([`crate::net::plan`]); its overrides
//!    and proxy apply to the enrollment and repair connections too.
//! 2. If `data/identity.json` exists (and belongs to this host and prefix),
//!    check it with the server by opening a session: accepted → this is a
//!    **repair**, the identity is kept and the key is not presented.
//! 3. Otherwise enroll with the key (the key is never written to disk).
//! 4. Only then write the layout. If the prefix did not exist and anything
//!    fails, everything created is removed; a repair never deletes the
//!    existing identity.
//! 5. Stop a running agent (and `ward-update`) of this prefix, start the
//!    agent, wait until `data/status.json` says connected, start `ward-update`.
//!
//! `ward-update` is installed from `--updater FILE`, or from a `ward-update`
//! next to this `ward-agent` (where `install.sh` downloads it), into
//! `update/<version>/` with `bin/ward-update` pointing at it. The release
//! public key from the enrollment answer is written to `conf/release.pub`
//! (never replaced once there).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ward_proto::{Credential, EnrollRequest, PLATFORMS};

use crate::config::{load_network_config, to_toml, AgentConfig, NetworkConfig};
use crate::daemon;
use crate::enroll::enroll_via;
use crate::http::Endpoint;
use crate::identity::Identity;
use crate::layout::{swap_symlink, Layout};
use crate::net::plan::{plan as plan_network, NetworkFlags};
use crate::net::NetOptions;
use crate::session::probe_via;
use crate::status_file::{AgentStatus, SessionState};
use crate::AgentError;

/// Arguments of `ward-agent install`.
#[derive(Clone)]
pub struct InstallArgs {
    pub server: String,
    pub pin: String,
    /// The verification key; used once, never stored, never logged.
    pub key: String,
    pub prefix: PathBuf,
    pub platform: Option<String>,
    pub no_start: bool,
    pub wait_secs: u64,
    /// The `ward-update` binary to install (default: next to this program).
    pub updater: Option<PathBuf>,
    /// `--endpoint`, `--update-endpoint`, `--override`, `--proxy` (see
    /// [`crate::net::plan`]).
    pub network: NetworkFlags,
}

/// What the install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOutcome {
    pub agent_id: String,
    pub prefix: PathBuf,
    /// An existing identity was kept.
    pub repaired: bool,
    pub started: bool,
    /// The endpoint the agent connected to within `wait_secs`.
    pub connected: Option<String>,
    /// The agent's last error when it did not connect in time.
    pub last_error: Option<String>,
    /// The `ward-update` version installed, and whether it runs.
    pub updater: Option<String>,
    pub updater_started: bool,
}

impl InstallOutcome {
    /// The line printed on success (stdout), or the warning (stderr).
    pub fn message(&self, wait_secs: u64) -> Result<String, String> {
        let (id, prefix) = (&self.agent_id, self.prefix.display());
        match (&self.connected, self.started) {
            (Some(ep), _) => Ok(format!(
                "Ward agent {id} installed in {prefix}; connected to {ep}: protected{}",
                match (&self.updater, self.updater_started) {
                    (Some(v), true) => format!("; ward-update {v} running"),
                    (Some(v), false) => format!("; ward-update {v} installed"),
                    (None, _) => "; ward-update not installed".to_string(),
                }
            )),
            (None, false) => Ok(format!(
                "Ward agent {id} installed in {prefix}; not started (--no-start)"
            )),
            (None, true) => Err(format!(
                "warning: Ward agent {id} installed in {prefix} but not connected after {wait_secs} s \
                 (last error: {}); it keeps trying, see `ward-agent status --prefix {prefix}`",
                self.last_error.as_deref().unwrap_or("none yet")
            )),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AgentError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::Runtime(format!("starting the runtime: {e}")))
}

fn platform(arg: Option<&str>) -> Result<String, AgentError> {
    match arg {
        Some(p) if PLATFORMS.contains(&p) => Ok(p.to_string()),
        Some(p) => Err(AgentError::Usage(format!(
            "unknown platform {p:?} (known: {})",
            PLATFORMS.join(", ")
        ))),
        None => ward_proto::current_platform()
            .map(str::to_string)
            .ok_or_else(|| {
                AgentError::Usage("this platform is not supported; pass --platform".into())
            }),
    }
}

/// Runs the whole install.
pub fn install(args: &InstallArgs) -> Result<InstallOutcome, AgentError> {
    let ep =
        Endpoint::parse(&args.server).map_err(|e| AgentError::Usage(format!("--server: {e}")))?;
    let tls = ward_pki::pin::pinned_client_config(&args.pin)
        .map_err(|e| AgentError::Usage(format!("--pin: {e}")))?;
    if args.key.trim().is_empty() || args.key.chars().any(char::is_whitespace) {
        return Err(AgentError::Usage(
            "--key: the verification key is empty or malformed".into(),
        ));
    }
    let platform = platform(args.platform.as_deref())?;
    let layout = Layout::new(&args.prefix);
    // The network.toml to write; enrollment and the repair check already
    // use its overrides and proxy.
    let existing_net = load_network_config(&layout.network_toml()).ok();
    let net_config =
        plan_network(existing_net, &ep, &args.pin, &args.network).map_err(AgentError::Usage)?;
    let net = NetOptions::from_config(&net_config).map_err(|p| AgentError::Usage(p.join("; ")))?;
    let fingerprint = ward_hostinfo::fingerprint(layout.prefix());
    let rt = runtime()?;

    // 2. Repair check.
    let existing = match Identity::load(&layout.identity()) {
        Ok(id) => id,
        Err(e) => {
            println!(
                "existing identity is unusable ({}); enrolling again",
                crate::one_line(&e)
            );
            None
        }
    };
    let mut kept = None;
    let mut command_key: Option<String> = None;
    if let Some(id) = existing {
        if id.fingerprint != fingerprint {
            println!(
                "identity {} was enrolled on another host or prefix; enrolling a new agent",
                id.agent_id
            );
        } else {
            match rt.block_on(probe_via(
                &ep,
                tls.clone(),
                &net,
                &id.credential,
                &fingerprint,
            )) {
                Ok(welcome) => {
                    println!(
                        "agent {} is known to the server; repairing the install",
                        id.agent_id
                    );
                    command_key = welcome.command_key;
                    kept = Some(id);
                }
                Err(e) if e.is_auth_rejection() => println!(
                    "the server no longer accepts agent {} ({e}); enrolling again",
                    id.agent_id
                ),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let repaired = kept.is_some();

    // 3. Enroll.
    let mut release_key: Option<String> = None;
    let identity = match kept {
        Some(id) => id,
        None => {
            let report =
                ward_hostinfo::HostCollector::new(Default::default(), crate::version()).collect();
            let req = EnrollRequest {
                key: args.key.clone(),
                fingerprint: fingerprint.clone(),
                agent_version: crate::version().to_string(),
                platform,
                report,
            };
            let resp = rt.block_on(enroll_via(&ep, tls.clone(), &net, &req))?;
            command_key = resp.command_key.clone();
            let cred = Credential::parse(&resp.credential).map_err(|_| {
                AgentError::Runtime("the server returned a malformed credential".into())
            })?;
            if cred.agent_id != resp.agent_id {
                return Err(AgentError::Runtime(
                    "the server returned a credential for another agent".into(),
                ));
            }
            release_key = resp.release_key.clone();
            Identity {
                agent_id: resp.agent_id,
                credential: resp.credential,
                fingerprint,
            }
        }
    };
    drop(rt);

    // 4. Write the layout, undoing it on failure.
    let updater_source = args.updater.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(crate::layout::UPDATE_BIN)))
            .filter(|p| p.is_file())
    });
    let mut undo = Undo::new(&layout);
    let written =
        write_layout(&layout, &net_config, &identity, repaired, &mut undo).and_then(|()| {
            // The server's command key, learnt over the pinned connection.
            if let Some(k) = &command_key {
                undo.before_write(&layout.command_key_file());
                crate::lifecycle::keys::save(&layout, k)?;
            }
            write_release_key(&layout, release_key.as_deref(), &mut undo)?;
            match &updater_source {
                Some(src) => install_updater(&layout, src, &mut undo).map(Some),
                None => Ok(None),
            }
        });
    let updater = match written {
        Ok(v) => v,
        Err(e) => {
            undo.run();
            return Err(e);
        }
    };
    if updater.is_none() {
        println!("no ward-update next to this installer; the agent runs without its updater");
    }

    // 5. (Re)start.
    let mut outcome = InstallOutcome {
        agent_id: identity.agent_id.clone(),
        prefix: layout.prefix().to_path_buf(),
        repaired,
        started: false,
        connected: None,
        last_error: None,
        updater: updater.clone(),
        updater_started: false,
    };
    if args.no_start {
        return Ok(outcome);
    }
    // An explicit install (re)starts what an operator's `stop` left stopped.
    let _ = std::fs::remove_file(layout.stopped_marker());
    let started = crate::updater_ctl::stop(&layout)
        .and_then(|_| daemon::stop(&layout))
        .and_then(|_| daemon::start(&layout));
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            if !undo.prefix_existed {
                undo.run();
            }
            return Err(e);
        }
    };
    outcome.started = true;
    let (connected, last_error) = wait_connected(&layout, pid, Duration::from_secs(args.wait_secs));
    outcome.connected = connected;
    outcome.last_error = last_error;
    if updater.is_some() {
        match crate::updater_ctl::start(&layout) {
            Ok(_) => outcome.updater_started = true,
            Err(e) => eprintln!(
                "ward-agent: warning: ward-update did not start: {}",
                crate::one_line(&e)
            ),
        }
    }
    Ok(outcome)
}

/// `conf/release.pub` from the enrollment answer, unless one is there.
fn write_release_key(
    layout: &Layout,
    key: Option<&str>,
    undo: &mut Undo,
) -> Result<(), AgentError> {
    let Some(key) = key else { return Ok(()) };
    let path = layout.release_key();
    if path.exists() {
        return Ok(());
    }
    ward_release::TrustedKey::parse(key).map_err(|e| {
        AgentError::Runtime(format!("the server sent an unusable release key: {e}"))
    })?;
    undo.before_write(&path);
    ward_pki::secret::write_file_atomic(&path, format!("{}\n", key.trim()).as_bytes(), 0o644)
        .map_err(io_err("writing", &path))
}

/// `update/<version>/ward-update` and the `bin/ward-update` link.
fn install_updater(layout: &Layout, src: &Path, undo: &mut Undo) -> Result<String, AgentError> {
    let version = crate::updater_ctl::binary_version(src)?;
    let dir = layout.update_version_dir(&version);
    if !dir.exists() {
        undo.before_write(&dir);
    }
    undo.before_write(&layout.update_versioned_bin(&version));
    undo.before_write(&layout.update_bin_link());
    crate::updater_ctl::install_binary(layout, src)
}

/// Polls `data/status.json` of agent `pid` until it says connected.
fn wait_connected(layout: &Layout, pid: u32, wait: Duration) -> (Option<String>, Option<String>) {
    let deadline = Instant::now() + wait;
    let mut last_error = None;
    loop {
        if let Ok(Some(s)) = AgentStatus::read(&layout.status()) {
            if s.pid == pid {
                if s.session == SessionState::Connected {
                    return (s.endpoint, None);
                }
                last_error = s.last_error;
            }
        }
        if Instant::now() >= deadline || daemon::running_pid(layout).is_none() {
            return (None, last_error);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the install created or overwrote, to put back on failure.
struct Undo {
    prefix: PathBuf,
    prefix_existed: bool,
    created: Vec<PathBuf>,
    overwritten: Vec<(PathBuf, Vec<u8>)>,
}

impl Undo {
    fn new(layout: &Layout) -> Self {
        Undo {
            prefix: layout.prefix().to_path_buf(),
            prefix_existed: layout.prefix().exists(),
            created: Vec::new(),
            overwritten: Vec::new(),
        }
    }

    /// Notes that `path` is about to be written.
    fn before_write(&mut self, path: &Path) {
        match std::fs::read(path) {
            Ok(old) => self.overwritten.push((path.to_path_buf(), old)),
            Err(_) if std::fs::symlink_metadata(path).is_err() => {
                self.created.push(path.to_path_buf())
            }
            Err(_) => {}
        }
    }

    fn run(&mut self) {
        if !self.prefix_existed {
            let _ = std::fs::remove_dir_all(&self.prefix);
        }
        for (path, old) in self.overwritten.drain(..).rev() {
            let _ = std::fs::write(&path, old);
        }
        for path in self.created.drain(..).rev() {
            if path.is_dir() && !path.is_symlink() {
                let _ = std::fs::remove_dir(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

fn io_err<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> AgentError + 'a {
    move |e| AgentError::io(context, path, e)
}

fn write_layout(
    layout: &Layout,
    net: &NetworkConfig,
    identity: &Identity,
    repaired: bool,
    undo: &mut Undo,
) -> Result<(), AgentError> {
    let created = layout
        .create_dirs()
        .map_err(io_err("creating", layout.prefix()))?;
    undo.created.extend(created);

    // The binary, into agent/<version>/, and the bin/ link to it.
    let version_dir = layout.version_dir(crate::version());
    if !version_dir.exists() {
        std::fs::create_dir(&version_dir).map_err(io_err("creating", &version_dir))?;
        undo.created.push(version_dir.clone());
    }
    let exe = std::env::current_exe()
        .map_err(|e| AgentError::Runtime(format!("finding this program: {e}")))?;
    let bin = layout.versioned_bin(crate::version());
    let bytes = std::fs::read(&exe).map_err(io_err("reading", &exe))?;
    if std::fs::read(&bin).ok().as_deref() != Some(bytes.as_slice()) {
        undo.before_write(&bin);
        ward_pki::secret::write_file_atomic(&bin, &bytes, 0o755)
            .map_err(io_err("writing", &bin))?;
    }
    let link = layout.bin_link();
    undo.before_write(&link);
    swap_symlink(&Layout::link_target(crate::version()), &link)
        .map_err(io_err("linking", &link))?;

    // conf/network.toml as planned from the flags (0600 when it holds
    // proxy credentials).
    let net_path = layout.network_toml();
    let mode = if net.has_secrets() { 0o600 } else { 0o644 };
    undo.before_write(&net_path);
    ward_pki::secret::write_file_atomic(&net_path, to_toml(net).as_bytes(), mode)
        .map_err(io_err("writing", &net_path))?;

    // conf/agent.toml: defaults, unless the operator already has one.
    let agent_path = layout.agent_toml();
    if !agent_path.exists() {
        undo.before_write(&agent_path);
        ward_pki::secret::write_file_atomic(
            &agent_path,
            to_toml(&AgentConfig::default()).as_bytes(),
            0o644,
        )
        .map_err(io_err("writing", &agent_path))?;
    }

    // data/identity.json last, 0600; a repair keeps the file as it is.
    if !repaired {
        undo.before_write(&layout.identity());
        identity.save(&layout.identity())?;
        // What the previous identity of this prefix received is not ours.
        for stale in [layout.protection_file(), layout.commands_file()] {
            let _ = std::fs::remove_file(stale);
        }
    }
    // Installing (with a verification key) supersedes an unfinished uninstall.
    let _ = std::fs::remove_file(layout.uninstalling_marker());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut o = InstallOutcome {
            agent_id: "ag_1".into(),
            prefix: "/opt/w".into(),
            repaired: false,
            started: true,
            connected: Some("https://h:1".into()),
            last_error: None,
            updater: Some("0.1.0".into()),
            updater_started: true,
        };
        assert_eq!(
            o.message(15).unwrap(),
            "Ward agent ag_1 installed in /opt/w; connected to https://h:1: protected; ward-update 0.1.0 running"
        );
        o.connected = None;
        o.last_error = Some("connect 127.0.0.1:9: connection refused".into());
        let w = o.message(15).unwrap_err();
        assert!(
            w.starts_with("warning: ") && w.contains("connection refused") && !w.contains('\n')
        );
    }

    #[test]
    fn platform_validation() {
        assert_eq!(platform(Some("linux-aarch64")).unwrap(), "linux-aarch64");
        assert!(matches!(platform(Some("plan9")), Err(AgentError::Usage(_))));
    }

    #[test]
    fn undo_removes_a_new_prefix_and_restores_overwritten_files() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("new"));
        let mut undo = Undo::new(&layout);
        undo.created.extend(layout.create_dirs().unwrap());
        std::fs::write(layout.agent_toml(), "x").unwrap();
        undo.run();
        assert!(!layout.prefix().exists());

        let layout = Layout::new(dir.path().join("old"));
        layout.create_dirs().unwrap();
        std::fs::write(layout.network_toml(), "old").unwrap();
        let mut undo = Undo::new(&layout);
        undo.before_write(&layout.network_toml());
        undo.before_write(&layout.agent_toml());
        std::fs::write(layout.network_toml(), "new").unwrap();
        std::fs::write(layout.agent_toml(), "new").unwrap();
        undo.run();
        assert_eq!(
            std::fs::read_to_string(layout.network_toml()).unwrap(),
            "old"
        );
        assert!(!layout.agent_toml().exists());
        assert!(layout.prefix().exists());
    }
}
