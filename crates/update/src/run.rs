//! `ward-update run` (the long-running updater and guardian),
//! `ward-update check` (one check now) and `start`/`stop`.
//!
//! `run` holds `data/update.lock` and writes `data/update.pid`. Every
//! `guard_interval_ms` it checks that `ward-agent` runs (see
//! `ward_agent_core::guard`); every `check_interval_secs` (plus a random
//! jitter) and on SIGUSR1 it runs an update check. It exits on SIGTERM, and
//! by itself when its prefix disappears.
//!
//! `check` asks a running `run` to check (SIGUSR1) and waits for its result;
//! with no `run`, it takes the lock and checks itself.

use std::time::{Duration, Instant};

use rand::Rng;
use tokio::signal::unix::{signal, SignalKind};
use ward_agent_core::daemon::{init_logging, lock_holder, try_lock_path};
use ward_agent_core::guard::{describe, GuardEvent, Guarded, Guardian, LoopLimits};
use ward_agent_core::layout::{Layout, AGENT_BIN};
use ward_agent_core::lifecycle::client::{report, send_report};
use ward_agent_core::AgentError;
use ward_proto::LifecycleKind;

use crate::config::{self, UpdateConfig};
use crate::cycle::{self, Outcome};
use crate::state::UpdateState;

fn load_config(layout: &Layout) -> Result<UpdateConfig, AgentError> {
    let c = config::load(&layout.update_toml())?;
    let problems = c.problems();
    if !problems.is_empty() {
        return Err(AgentError::Usage(format!(
            "{}: {}",
            layout.update_toml().display(),
            problems.join("; ")
        )));
    }
    Ok(c)
}

fn runtime() -> Result<tokio::runtime::Runtime, AgentError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::Runtime(format!("starting the runtime: {e}")))
}

fn next_check(c: &UpdateConfig) -> Instant {
    let jitter = rand::thread_rng().gen_range(0..=c.check_jitter_secs);
    Instant::now() + Duration::from_secs(c.check_interval_secs + jitter)
}

/// `ward-update run`.
pub fn run(layout: &Layout) -> Result<(), AgentError> {
    let config = load_config(layout)?;
    if !layout.data_dir().is_dir() {
        return Err(AgentError::Usage(format!(
            "no Ward agent is installed in {}",
            layout.prefix().display()
        )));
    }
    let Some(lock) = try_lock_path(&layout.update_lock_file(), Duration::from_secs(2))? else {
        return Err(AgentError::Runtime(format!(
            "another ward-update is already running for {}",
            layout.prefix().display()
        )));
    };
    let pid = std::process::id();
    ward_pki::secret::write_file_atomic(
        &layout.update_pid_file(),
        format!("{pid}\n").as_bytes(),
        0o644,
    )
    .map_err(|e| AgentError::io("writing", &layout.update_pid_file(), e))?;
    init_logging(&config.log_level);
    tracing::info!(
        version = ward_agent_core::version(),
        pid,
        prefix = %layout.prefix().display(),
        "ward-update starting"
    );
    let rt = runtime()?;
    let result = rt.block_on(run_loop(layout, &config));
    if std::fs::read_to_string(layout.update_pid_file())
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        == Some(pid)
    {
        let _ = std::fs::remove_file(layout.update_pid_file());
    }
    drop(lock);
    tracing::info!("ward-update stopped");
    result
}

async fn run_loop(layout: &Layout, config: &UpdateConfig) -> Result<(), AgentError> {
    let sig = |kind| signal(kind).map_err(|e| AgentError::Runtime(format!("signal handler: {e}")));
    let (mut term, mut int, mut usr1) = (
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::user_defined1())?,
    );
    cycle::recover(layout, config).await;
    let mut guardian = Guardian::new(
        layout.clone(),
        Guarded::agent(layout),
        LoopLimits::default(),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(config.guard_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first check 5 to 30 s after start (spread by the jitter), then
    // every check_interval_secs (plus jitter).
    let first = 5 + rand::thread_rng().gen_range(0..=config.check_jitter_secs.min(25));
    let mut next = Instant::now() + Duration::from_secs(first);
    loop {
        let mut check_now = false;
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM received; stopping"); return Ok(()) }
            _ = int.recv() => { tracing::info!("SIGINT received; stopping"); return Ok(()) }
            _ = usr1.recv() => { tracing::info!("check requested"); check_now = true; }
            _ = tick.tick() => {}
        }
        if !layout.data_dir().is_dir() || !layout.network_toml().exists() {
            tracing::warn!("the install is gone (no data/ or conf/network.toml); stopping");
            return Ok(());
        }
        for e in guardian.tick(Instant::now()) {
            let line = describe(AGENT_BIN, &e);
            match e {
                GuardEvent::Started { .. } => tracing::warn!("{line}"),
                GuardEvent::CrashLoop { .. } => {
                    tracing::error!("{line}");
                    let mut r = report(LifecycleKind::CrashLoop, AGENT_BIN, line);
                    r.detail = Some("crash_loop".into());
                    r.from_version = crate::switch::linked_version(&layout.bin_link());
                    send_report(layout, r).await;
                }
                _ => tracing::error!("{line}"),
            }
        }
        if check_now || Instant::now() >= next {
            cycle::check(layout, config).await;
            next = next_check(config);
            crate::selfupdate::reexec_if_moved(layout);
        }
    }
}

/// What `ward-update check` prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub exit_code: i32,
    pub line: String,
}

impl From<Outcome> for CheckResult {
    fn from(o: Outcome) -> Self {
        CheckResult {
            exit_code: o.exit_code(),
            line: o.line(),
        }
    }
}

/// `ward-update check`: one check now; its outcome.
pub fn check(layout: &Layout, wait: Duration) -> Result<CheckResult, AgentError> {
    let config = load_config(layout)?;
    init_logging(&config.log_level);
    if let Some(pid) =
        lock_holder(&layout.update_lock_file(), &layout.update_pid_file()).filter(|p| *p > 1)
    {
        return ask_running(layout, pid, wait);
    }
    let Some(_lock) = try_lock_path(&layout.update_lock_file(), Duration::from_secs(2))? else {
        return Err(AgentError::Runtime("ward-update is busy; try again".into()));
    };
    let rt = runtime()?;
    Ok(rt.block_on(cycle::check(layout, &config)).into())
}

/// Sends SIGUSR1 to the running updater and waits for its next result.
fn ask_running(layout: &Layout, pid: u32, wait: Duration) -> Result<CheckResult, AgentError> {
    let state = |l: &Layout| UpdateState::load(&l.update_state_file()).map_err(AgentError::Runtime);
    let before = state(layout)?;
    // SAFETY: kill() with the pid of the holder of the updater's lock.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGUSR1) } != 0 {
        return Err(AgentError::Runtime(format!(
            "cannot signal ward-update (pid {pid}): {}",
            std::io::Error::last_os_error()
        )));
    }
    let deadline = Instant::now() + wait;
    loop {
        let s = state(layout)?;
        if s.checks > before.checks && s.last != before.last {
            if let Some(last) = s.last {
                return Ok(CheckResult {
                    exit_code: Outcome::code_of(&last.outcome),
                    line: last.message,
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(AgentError::Runtime(format!(
                "ward-update (pid {pid}) did not finish a check within {} s",
                wait.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
