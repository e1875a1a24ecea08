//! One update check: ask the server, verify, decide, install, switch,
//! health-check, roll back. Every refusal and failure is logged as one line
//! and reported to the server (a refusal that repeats is reported once).
//!
//! Order of the checks (each one refuses on failure):
//! 1. nothing happens while `data/stopped` or `data/uninstalling` exists;
//! 2. the metadata must be signed by the trusted release key
//!    (`conf/release.pub`; taken from the offer, over the pinned and
//!    authenticated channel, only when no key is trusted yet);
//! 3. its version must not be below the newest one trusted, and it must
//!    not be expired (by this host's clock);
//! 4. the offered release must be listed in it, for this platform, and
//!    newer than the running agent (never a downgrade);
//! 5. the downloaded files must have the signed size and SHA-256.
//!
//! A switch is recorded in the state before it happens (`pending`), so an
//! updater killed in the middle finishes or undoes it at its next start.

use std::time::Instant;

use ward_agent_core::layout::{Layout, AGENT_BIN, UPDATE_BIN};
use ward_agent_core::lifecycle::client::{report, send_report, LifecycleClient};
use ward_proto::{LifecycleKind, LifecycleReport, ReleaseOffer};
use ward_release::{check_fresh, plan, verify, Plan, PlatformFiles, ReleaseError, TrustedKey};

use crate::config::UpdateConfig;
use crate::state::{LastCheck, Pending, UpdateState};
use crate::switch::{self, FetchError};

/// What a check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate(String),
    Installed {
        from: String,
        to: String,
    },
    Refused {
        kind: String,
        message: String,
    },
    RolledBack {
        from: String,
        to: String,
        reason: String,
    },
    Failed(String),
    Skipped(String),
}

impl Outcome {
    /// `ward-update check` exit codes: 0 up to date / installed / skipped,
    /// 1 failure, 3 refused, 4 rolled back.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::UpToDate(_) | Outcome::Installed { .. } | Outcome::Skipped(_) => 0,
            Outcome::Failed(_) => 1,
            Outcome::Refused { .. } => 3,
            Outcome::RolledBack { .. } => 4,
        }
    }

    /// The exit code of an outcome by its [`Outcome::name`].
    pub fn code_of(name: &str) -> i32 {
        match name {
            "up_to_date" | "installed" | "skipped" => 0,
            "refused" => 3,
            "rolled_back" => 4,
            _ => 1,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::UpToDate(_) => "up_to_date",
            Outcome::Installed { .. } => "installed",
            Outcome::Refused { .. } => "refused",
            Outcome::RolledBack { .. } => "rolled_back",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }

    /// The one line printed and logged.
    pub fn line(&self) -> String {
        match self {
            Outcome::UpToDate(m) | Outcome::Skipped(m) => m.clone(),
            Outcome::Installed { from, to } => {
                format!("updated ward-agent {from} -> {to}; the new agent is online")
            }
            Outcome::Refused { kind, message } => format!("release refused ({kind}): {message}"),
            Outcome::RolledBack { from, to, reason } => {
                format!("ward-agent {to} did not come online ({reason}); rolled back to {from}")
            }
            Outcome::Failed(m) => format!("update check failed: {m}"),
        }
    }
}

/// One check, with its state, reports and log lines.
pub async fn check(layout: &Layout, config: &UpdateConfig) -> Outcome {
    let state_path = layout.update_state_file();
    let mut state = match UpdateState::load(&state_path) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e),
    };
    state.checks += 1;
    let _ = state.save(&state_path);
    let outcome = run_check(layout, config, &mut state).await;
    log(&outcome);
    state.last = Some(LastCheck {
        at_ms: ward_agent_core::now_ms(),
        outcome: outcome.name().to_string(),
        message: outcome.line(),
    });
    if let Err(e) = state.save(&state_path) {
        tracing::error!(error = %e, "cannot save the updater state");
    }
    outcome
}

fn log(o: &Outcome) {
    match o {
        Outcome::UpToDate(_) | Outcome::Skipped(_) => tracing::info!("{}", o.line()),
        Outcome::Installed { .. } => tracing::info!("{}", o.line()),
        _ => tracing::error!("{}", o.line()),
    }
}

fn platform() -> Result<&'static str, String> {
    ward_proto::current_platform().ok_or_else(|| "this platform is not supported".to_string())
}

async fn run_check(layout: &Layout, config: &UpdateConfig, state: &mut UpdateState) -> Outcome {
    if layout.resurrection_blocked() {
        return Outcome::Skipped("the agent is stopped or being uninstalled; no update".into());
    }
    let platform = match platform() {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e),
    };
    let Some(current) = switch::linked_version(&layout.bin_link()) else {
        return Outcome::Failed(format!(
            "{} does not point at an installed agent version",
            layout.bin_link().display()
        ));
    };
    let client = match LifecycleClient::from_layout(layout) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let offer = match client.offer().await {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let key = match trusted_key(layout, &offer) {
        Ok(k) => k,
        Err(e) => return Outcome::Failed(e),
    };
    let meta = match verify(&offer.metadata, &key) {
        Ok(m) => m,
        Err(e) => return refused(layout, e, &current, offer.target.as_deref(), state).await,
    };
    if let Err(e) = check_fresh(
        &meta,
        state.trusted_metadata_version,
        ward_agent_core::now_ms(),
    ) {
        return refused(layout, e, &current, offer.target.as_deref(), state).await;
    }
    state.trusted_metadata_version = state.trusted_metadata_version.max(meta.version);
    let (version, files) = match plan(&meta, offer.target.as_deref(), &current, platform) {
        Ok(Plan::UpToDate) => {
            return Outcome::UpToDate(format!(
                "ward-agent {current} is up to date (release metadata version {})",
                meta.version
            ))
        }
        Ok(Plan::Install { version, files }) => (version.to_string(), files.clone()),
        Err(e) => return refused(layout, e, &current, offer.target.as_deref(), state).await,
    };
    if state.bad_versions.contains(&version) {
        return Outcome::UpToDate(format!(
            "ward-agent {current} stays: release {version} was rolled back on this host before"
        ));
    }
    install(
        layout, config, &client, state, &current, &version, platform, &files,
    )
    .await
}

/// The trusted release key; the first one comes from the offer.
fn trusted_key(layout: &Layout, offer: &ReleaseOffer) -> Result<TrustedKey, String> {
    let path = layout.release_key();
    match std::fs::read_to_string(&path) {
        Ok(text) => TrustedKey::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = TrustedKey::parse(&offer.release_key).map_err(|e| e.to_string())?;
            ward_pki::secret::write_file_atomic(
                &path,
                format!("{}\n", key.to_b64()).as_bytes(),
                0o644,
            )
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
            tracing::warn!(
                key = key.id(),
                "no release key was trusted yet: trusting the one the server sent over the pinned session"
            );
            Ok(key)
        }
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

async fn refused(
    layout: &Layout,
    e: ReleaseError,
    current: &str,
    to: Option<&str>,
    state: &mut UpdateState,
) -> Outcome {
    let kind = e.kind().to_string();
    let message = e.to_string();
    let key = format!("{kind}:{}:{message}", to.unwrap_or(""));
    if state.reported.as_deref() != Some(key.as_str()) {
        let mut r = report(LifecycleKind::UpdateRefused, UPDATE_BIN, &message);
        r.detail = Some(kind.clone());
        r.from_version = Some(current.to_string());
        r.to_version = to.map(str::to_string);
        send_report(layout, r).await;
        state.reported = Some(key);
    }
    Outcome::Refused { kind, message }
}

fn update_report(
    kind: LifecycleKind,
    from: &str,
    to: &str,
    detail: &str,
    message: String,
) -> LifecycleReport {
    let mut r = report(kind, AGENT_BIN, message);
    r.from_version = Some(from.to_string());
    r.to_version = Some(to.to_string());
    r.detail = Some(detail.to_string());
    r
}

#[allow(clippy::too_many_arguments)]
async fn install(
    layout: &Layout,
    config: &UpdateConfig,
    client: &LifecycleClient,
    state: &mut UpdateState,
    current: &str,
    version: &str,
    platform: &str,
    files: &PlatformFiles,
) -> Outcome {
    tracing::info!(
        from = current,
        to = version,
        "installing a new agent release"
    );
    if let Err(e) = switch::fetch_agent(client, layout, version, platform, &files.agent).await {
        return fetch_failed(layout, state, current, version, e).await;
    }
    // A new updater is fetched now too, but switched to only after the new
    // agent proved itself.
    let new_updater = match &files.update {
        Some(info) => {
            let dest = layout.update_versioned_bin(version);
            match switch::fetch(client, version, platform, UPDATE_BIN, info, &dest).await {
                Ok(()) => Some(dest),
                Err(e) => return fetch_failed(layout, state, current, version, e).await,
            }
        }
        None => None,
    };

    state.pending = Some(Pending {
        from: current.to_string(),
        to: version.to_string(),
    });
    let _ = state.save(&layout.update_state_file());
    let outcome = switch_and_check(layout, config, current, version).await;
    state.pending = None;
    match &outcome {
        Outcome::Installed { .. } => {
            send_report(
                layout,
                update_report(
                    LifecycleKind::UpdateInstalled,
                    current,
                    version,
                    "online",
                    outcome.line(),
                ),
            )
            .await;
            if let Some(bin) = new_updater {
                crate::selfupdate::switch_updater(layout, &bin, version);
            }
        }
        Outcome::RolledBack { reason, .. } => {
            state.bad_versions.push(version.to_string());
            let mut r = update_report(
                LifecycleKind::UpdateRolledBack,
                current,
                version,
                "not_online",
                outcome.line(),
            );
            if reason.contains("exited at start") {
                r.detail = Some("exited_at_start".into());
            }
            send_report(layout, r).await;
        }
        _ => {}
    }
    outcome
}

async fn fetch_failed(
    layout: &Layout,
    state: &mut UpdateState,
    current: &str,
    version: &str,
    e: FetchError,
) -> Outcome {
    match e {
        FetchError::Refused(e) => refused(layout, e, current, Some(version), state).await,
        FetchError::Failed(m) => {
            let line = format!("installing release {version} failed: {m}");
            send_report(
                layout,
                update_report(
                    LifecycleKind::UpdateFailed,
                    current,
                    version,
                    "install",
                    line.clone(),
                ),
            )
            .await;
            Outcome::Failed(line)
        }
    }
}

/// Switches to `to`, health-checks, rolls back to `from` on failure.
pub async fn switch_and_check(
    layout: &Layout,
    config: &UpdateConfig,
    from: &str,
    to: &str,
) -> Outcome {
    let deadline = Instant::now() + config.health_deadline();
    let healthy = switch::link_agent(layout, to)
        .and_then(|()| switch::restart_agent(layout))
        .and_then(|()| switch::wait_online(layout, to, deadline));
    match healthy {
        Ok(_) => Outcome::Installed {
            from: from.to_string(),
            to: to.to_string(),
        },
        Err(reason) => {
            tracing::error!(version = to, %reason, "the new agent is not online; rolling back");
            if let Err(e) = roll_back(layout, config, from, to) {
                tracing::error!(error = %e, "rolling back failed; the guardian keeps trying");
            }
            Outcome::RolledBack {
                from: from.to_string(),
                to: to.to_string(),
                reason,
            }
        }
    }
}

/// Points the link back at `from`, kills what still runs the failed
/// release `to`, and starts the `from` agent again.
pub fn roll_back(
    layout: &Layout,
    config: &UpdateConfig,
    from: &str,
    to: &str,
) -> Result<(), String> {
    switch::link_agent(layout, from)?;
    let n = switch::kill_version_processes(layout, to);
    if n > 0 {
        tracing::warn!(
            version = to,
            processes = n,
            "killed what still ran the failed release"
        );
    }
    switch::restart_agent(layout)?;
    switch::wait_online(layout, from, Instant::now() + config.health_deadline())
        .map(|pid| tracing::info!(version = from, pid, "the previous agent is back online"))
}

/// At start: an update interrupted mid-switch is finished or undone.
pub async fn recover(layout: &Layout, config: &UpdateConfig) {
    let path = layout.update_state_file();
    let Ok(mut state) = UpdateState::load(&path) else {
        return;
    };
    let Some(p) = state.pending.take() else {
        return;
    };
    tracing::warn!(from = %p.from, to = %p.to, "an update was interrupted; checking it");
    let deadline = Instant::now() + config.health_deadline();
    if switch::linked_version(&layout.bin_link()).as_deref() == Some(p.to.as_str())
        && switch::wait_online(layout, &p.to, deadline).is_ok()
    {
        tracing::info!(version = %p.to, "the interrupted update is online");
    } else {
        let o = match roll_back(layout, config, &p.from, &p.to) {
            Ok(()) => Outcome::RolledBack {
                from: p.from.clone(),
                to: p.to.clone(),
                reason: "the update was interrupted".into(),
            },
            Err(e) => Outcome::Failed(format!("rolling back an interrupted update: {e}")),
        };
        log(&o);
        state.bad_versions.push(p.to.clone());
        send_report(
            layout,
            update_report(
                LifecycleKind::UpdateRolledBack,
                &p.from,
                &p.to,
                "interrupted",
                o.line(),
            ),
        )
        .await;
    }
    let _ = state.save(&path);
}
