//! Running the agent: `run` (lock, pid file, signals, session loop), and
//! `start`/`stop` of the agent of one prefix.
//!
//! `start` installs a systemd unit when systemd is init and the prefix is
//! the default one; with the default prefix and `/etc/init.d` present it
//! drops a SysV init script (for boot) and starts the agent itself; in every
//! other case it spawns `PREFIX/bin/ward-agent run --prefix PREFIX` detached
//! (new session, stdin closed, output appended to `log/agent.log`).
//!
//! The process plumbing it shares with `ward-update` (flocks, pid files,
//! detached starts, stopping a lock holder) is in `process`, re-exported here.

use std::fs::File;
use std::io;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{load_agent_config, load_network_config};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::lifecycle::{in_process, uninstall};
use crate::session::{run_sessions_piped, RunnerParams, SessionsEnd};
use crate::{service, AgentError};

mod process;
pub(crate) use process::read_pid;
pub use process::{
    kill_group, lock_holder, spawn_run, spawn_session_leader, start_and_wait, stop_lock_holder,
    try_flock_shared, try_lock_path,
};

/// Time `stop` waits after SIGTERM before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time `start` waits for the pid file.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Takes the exclusive lock of `data/agent.lock`; `None` if another process
/// holds it (retried for `patience`).
pub fn try_lock(layout: &Layout, patience: Duration) -> Result<Option<File>, AgentError> {
    try_lock_path(&layout.lock_file(), patience)
}

/// The pid of the agent running for this prefix (the holder of the lock),
/// `Some(0)` if it runs but its pid file is not written yet.
pub fn running_pid(layout: &Layout) -> Option<u32> {
    lock_holder(&layout.lock_file(), &layout.pid_file())
}

/// Plain-text logs to stderr (the log file) at `level` (the agent and
/// `ward-update` log alike).
pub fn init_logging(level: &str) {
    let level = level
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .with_writer(io::stderr)
        .try_init();
}

/// `ward-agent run`: the agent itself, in the foreground, until SIGTERM/SIGINT.
pub fn run(layout: &Layout) -> Result<(), AgentError> {
    let config = load_agent_config(&layout.agent_toml())?;
    let network = load_network_config(&layout.network_toml())?;
    let mut problems = config.problems();
    problems.extend(network.problems());
    if !problems.is_empty() {
        return Err(AgentError::Usage(format!(
            "invalid configuration: {}",
            problems.join("; ")
        )));
    }
    let identity = Identity::load(&layout.identity())?.ok_or_else(|| {
        AgentError::Usage(format!(
            "not enrolled: {} is missing; run the install command",
            layout.identity().display()
        ))
    })?;
    if let Some(marker) = uninstall::read_marker(layout) {
        return in_process::finish_interrupted(layout, &marker);
    }
    let loaded = crate::net::reload::LoadedNetwork::from_config(&network)
        .map_err(|e| AgentError::Usage(format!("invalid configuration: {e}")))?;
    let net = crate::session::NetRuntime {
        options: loaded.options,
        failback_every: loaded.failback_every,
        network_toml: Some(layout.network_toml()),
    };
    let (endpoints, tls) = (loaded.endpoints, loaded.tls);

    let Some(lock) = try_lock(layout, Duration::from_secs(2))? else {
        let pid = read_pid(&layout.pid_file()).map_or("unknown".into(), |p| p.to_string());
        return Err(AgentError::Runtime(format!(
            "another ward-agent is already running for {} (pid {pid})",
            layout.prefix().display()
        )));
    };
    let pid = std::process::id();
    ward_pki::secret::write_file_atomic(&layout.pid_file(), format!("{pid}\n").as_bytes(), 0o644)
        .map_err(|e| AgentError::io("writing", &layout.pid_file(), e))?;
    init_logging(&config.log_level);
    tracing::info!(
        version = crate::version(),
        pid,
        agent_id = %identity.agent_id,
        prefix = %layout.prefix().display(),
        "ward-agent starting"
    );
    // The event pipeline; without it (spool unusable) the agent still keeps
    // its session, and the failure is logged.
    let pipeline = match crate::pipeline::Pipeline::start(layout, &config) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %crate::one_line(&e), "event pipeline not started");
            None
        }
    };

    let params = RunnerParams {
        endpoints,
        tls,
        fingerprint: ward_hostinfo::fingerprint(layout.prefix()),
        identity,
        config,
        status_path: layout.status(),
        host_paths: ward_hostinfo::HostPaths::default(),
        layout: Some(layout.clone()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::Runtime(format!("starting the runtime: {e}")))?;
    let watchdog_settings = params.config.watchdog.clone();
    let outcome = rt.block_on(async {
        let (tx, rx) = watch::channel(false);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| AgentError::Runtime(format!("installing signal handlers: {e}")))?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(|e| AgentError::Runtime(format!("installing signal handlers: {e}")))?;
        let tx2 = tx.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received; stopping"),
                _ = int.recv() => tracing::info!("SIGINT received; stopping"),
            }
            let _ = tx2.send(true);
        });
        // Over a resource cap: stop everything, then restart (below).
        let watchdog = crate::supervise::watchdog(layout.clone(), watchdog_settings, rx.clone());
        let watchdog = async {
            let b = watchdog.await;
            if b.is_some() {
                let _ = tx.send(true);
            }
            b
        };
        let guard = crate::supervise::guard_updater(layout.clone(), rx.clone(), tx.clone());
        let handle = pipeline.as_ref().map(|p| p.handle());
        let pipeline_task = pipeline.as_ref().map(|p| p.run(rx.clone()));
        let pipeline_task = async {
            if let Some(t) = pipeline_task {
                t.await;
            }
        };
        let sessions = async {
            let end = run_sessions_piped(params, net, handle, rx.clone()).await;
            // Everything stops with the sessions (also for an uninstall).
            let _ = tx.send(true);
            end
        };
        let (end, (), breach, ()) = tokio::join!(sessions, pipeline_task, watchdog, guard);
        Ok::<_, AgentError>((end, breach))
    });
    let (result, breach) = match outcome {
        Ok((end, b)) => (Ok(end), b),
        Err(e) => (Err(e), None),
    };
    if let Some(p) = pipeline {
        p.shutdown();
    }
    let result = match result {
        Ok(SessionsEnd::Uninstall { ws, command_id }) => {
            rt.block_on(in_process::finish_remote(layout, *ws, &command_id));
            Ok(())
        }
        Ok(SessionsEnd::Stopped) => Ok(()),
        Err(e) => Err(e),
    };
    if read_pid(&layout.pid_file()) == Some(pid) {
        let _ = std::fs::remove_file(layout.pid_file());
    }
    if breach.is_some() && !layout.resurrection_blocked() {
        restart_after_breach(layout, lock);
    } else {
        drop(lock);
    }
    tracing::info!("ward-agent stopped");
    result
}

/// After a resource-cap breach: under systemd the unit restarts us; else a
/// fresh `bin/ward-agent run` is started, which takes the lock as soon as
/// this process releases it (it waits for it up to 2 s).
fn restart_after_breach(layout: &Layout, lock: File) {
    if service::detect(layout) == service::Mode::Systemd && service::unit_installed() {
        drop(lock);
        tracing::info!("exiting; systemd starts the agent again");
        return;
    }
    match spawn_run(&layout.bin_link(), layout, &layout.log_file()) {
        Ok(child) => tracing::info!(pid = child.id(), "started a fresh agent process"),
        Err(e) => tracing::error!(error = %crate::one_line(&e), "could not start a fresh agent"),
    }
    drop(lock);
}

/// Writes `data/stopped`: the guardians leave the agent stopped.
pub fn mark_stopped(layout: &Layout) -> Result<(), AgentError> {
    if !layout.data_dir().is_dir() {
        return Ok(());
    }
    let path = layout.stopped_marker();
    ward_pki::secret::write_file_atomic(&path, format!("{}\n", crate::now_ms()).as_bytes(), 0o644)
        .map_err(|e| AgentError::io("writing", &path, e))
}

/// Removes `data/stopped`.
pub fn clear_stopped(layout: &Layout) -> Result<(), AgentError> {
    match std::fs::remove_file(layout.stopped_marker()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AgentError::io("removing", &layout.stopped_marker(), e)),
    }
}

/// `ward-agent start`: removes `data/stopped` (refused while an uninstall
/// is in progress) and starts the agent. Returns the pid of the running agent.
pub fn start(layout: &Layout) -> Result<u32, AgentError> {
    if let Some(pid) = running_pid(layout) {
        println!(
            "ward-agent is already running for {} (pid {pid})",
            layout.prefix().display()
        );
        return Ok(pid);
    }
    if std::fs::symlink_metadata(layout.bin_link()).is_err() {
        return Err(AgentError::Usage(format!(
            "no agent installed in {} ({} is missing); run the install command",
            layout.prefix().display(),
            layout.bin_link().display()
        )));
    }
    if !layout.identity().exists() {
        return Err(AgentError::Usage(format!(
            "not enrolled: {} is missing; run the install command",
            layout.identity().display()
        )));
    }
    if layout.uninstalling_marker().exists() {
        return Err(in_process::uninstall_in_progress(layout));
    }
    clear_stopped(layout)?;
    match service::detect(layout) {
        service::Mode::Systemd => service::systemd_enable_now(layout)
            .and_then(|()| wait_running(layout, None, START_TIMEOUT)),
        service::Mode::SysV => {
            service::install_init_script(layout)?;
            spawn_detached(layout)
        }
        service::Mode::Detached => spawn_detached(layout),
    }
}

/// The last line the log got after byte `from` (what the new process wrote).
fn last_log_line(layout: &Layout, from: u64) -> String {
    std::fs::read(layout.log_file())
        .ok()
        .and_then(|t| {
            let t = String::from_utf8_lossy(t.get(from as usize..)?).into_owned();
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "(it wrote nothing)".into())
}

/// Spawns `bin/ward-agent run` in a new session and waits for its pid file.
/// An agent that does not get there within [`START_TIMEOUT`] is killed (with
/// its process group), so a broken binary never lingers half-started.
pub fn spawn_detached(layout: &Layout) -> Result<u32, AgentError> {
    let _ = std::fs::remove_file(layout.pid_file());
    let log_path = layout.log_file();
    let log_from = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    start_and_wait(
        &layout.bin_link(),
        layout,
        &log_path,
        "the agent",
        |pid| read_pid(&layout.pid_file()) == Some(pid) && running_pid(layout).is_some(),
        || running_pid(layout).filter(|p| *p != 0),
        || format!(": {}", last_log_line(layout, log_from)),
    )
}

/// Waits until an agent (with `pid`, if given) holds the lock.
fn wait_running(layout: &Layout, pid: Option<u32>, timeout: Duration) -> Result<u32, AgentError> {
    let deadline = Instant::now() + timeout;
    loop {
        match running_pid(layout) {
            Some(p) if p != 0 && pid.is_none_or(|want| want == p) => return Ok(p),
            _ if Instant::now() >= deadline => {
                return Err(AgentError::Runtime(format!(
                    "the agent did not start within {} s; see {}",
                    timeout.as_secs(),
                    layout.log_file().display()
                )))
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `ward-agent stop`: SIGTERM, up to [`STOP_TIMEOUT`], then SIGKILL.
/// Returns the pid that was stopped, `None` if none was running.
pub fn stop(layout: &Layout) -> Result<Option<u32>, AgentError> {
    if service::detect(layout) == service::Mode::Systemd && service::unit_installed() {
        service::systemctl(&["stop", service::UNIT_NAME])?;
    }
    stop_lock_holder(
        &layout.lock_file(),
        &layout.pid_file(),
        "the agent",
        STOP_TIMEOUT,
    )
}
