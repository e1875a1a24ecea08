//! The agent's session loop: endpoints in order with jittered backoff
//! between attempts (failover), return to the preferred endpoint when it
//! recovers (failback, see [`crate::net::select`]), `network.toml` re-read
//! after failures, `data/status.json` kept current.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ward_hostinfo::{HostCollector, HostPaths};
use ward_proto::Policy;

use super::live::{self, LiveContext, LiveEnd};
use super::{agent_hello, handshake, hello, open_via, SessionError, Ws};
use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::http::{connect_tls_via, Endpoint};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::lifecycle::session::Lifecycle;
use crate::net::reload::{LoadedNetwork, NetworkWatcher, Reload};
use crate::net::{NetOptions, Selector};
use crate::status_file::StatusWriter;

/// Everything the session loop needs.
pub struct RunnerParams {
    pub endpoints: Vec<Endpoint>,
    pub tls: Arc<rustls::ClientConfig>,
    pub identity: Identity,
    /// This host's fingerprint (sent in `Hello`).
    pub fingerprint: String,
    pub config: AgentConfig,
    pub status_path: PathBuf,
    pub host_paths: HostPaths,
    /// The install, for the lifecycle (commands, protection, notices,
    /// re-identification). `None`: a bare session loop without them.
    pub layout: Option<Layout>,
}

/// Why the session loop returned.
pub enum SessionsEnd {
    /// Shutdown was asked for.
    Stopped,
    /// An uninstall command was accepted; `ws` is still open for its result.
    Uninstall { ws: Box<Ws>, command_id: String },
}

/// How the session loop reaches the server beyond [`RunnerParams`].
#[derive(Debug, Clone, Default)]
pub struct NetRuntime {
    /// Overrides, proxy, connect timeout.
    pub options: NetOptions,
    /// While on a fallback endpoint, probe the preferred ones this often.
    pub failback_every: Option<Duration>,
    /// `network.toml`, re-read after each failed attempt when it changed.
    pub network_toml: Option<PathBuf>,
}

/// Why a live session ended without an error.
enum Ended {
    Shutdown,
    /// A preferred endpoint (this index) answered a probe.
    FailBack(usize),
    Uninstall(Box<Ws>, String),
}

/// Keeps a session up until `shutdown` turns true: direct connections, no
/// failback probes, no reloads. Returns only then.
pub async fn run_sessions(params: RunnerParams, shutdown: watch::Receiver<bool>) -> SessionsEnd {
    run_sessions_with(params, NetRuntime::default(), shutdown).await
}

/// Keeps a session up until `shutdown` turns true, reaching the server as
/// `net` says. Returns only then.
pub async fn run_sessions_with(
    params: RunnerParams,
    net: NetRuntime,
    shutdown: watch::Receiver<bool>,
) -> SessionsEnd {
    run_sessions_piped(params, net, None, shutdown).await
}

/// [`run_sessions_with`], also sending the events of `pipeline` (issue 6)
/// over each live session and sharing `status.json` with it.
pub async fn run_sessions_piped(
    mut params: RunnerParams,
    mut net: NetRuntime,
    pipeline: Option<crate::pipeline::PipelineHandle>,
    mut shutdown: watch::Receiver<bool>,
) -> SessionsEnd {
    let instance = ward_pki::secret::random_token("in", 12);
    let mut life = params
        .layout
        .clone()
        .map(|l| Lifecycle::new(l, &params.identity.agent_id));
    let mut status = StatusWriter::new(
        params.status_path.clone(),
        std::process::id(),
        &params.identity.agent_id,
    );
    if let Some(p) = &pipeline {
        status.share_with(p.status_share());
    }
    let mut collector = HostCollector::new(params.host_paths.clone(), crate::version());
    let mut backoff = Backoff::new(params.config.min_backoff(), params.config.max_backoff());
    let mut last_error: Option<String> = None;
    let mut watcher = net.network_toml.clone().map(NetworkWatcher::new);
    let mut sel = Selector::new(params.endpoints.len());
    if params.endpoints.is_empty() {
        status.disconnected(None, "no endpoints configured".into());
        let _ = shutdown.wait_for(|s| *s).await;
        return SessionsEnd::Stopped;
    }
    while !*shutdown.borrow() {
        let ep = params.endpoints[sel.current() % params.endpoints.len()].clone();
        status.connecting(&ep);
        let mut healthy = false;
        let result = one_session(
            &params,
            &net,
            &sel,
            &mut last_error,
            &instance,
            &mut LiveContext {
                collector: &mut collector,
                status: &mut status,
                report_check: Duration::from_secs(params.config.report_check_secs),
                events: pipeline.as_ref(),
                life: life.as_mut(),
            },
            &mut shutdown,
            &mut healthy,
        )
        .await;
        let err = match result {
            Ok(Ended::Shutdown) => break,
            Ok(Ended::Uninstall(ws, command_id)) => {
                status.stopped();
                return SessionsEnd::Uninstall { ws, command_id };
            }
            Err(SessionError::Reidentify { credential, reason }) => {
                if adopt_identity(&mut params, life.as_mut(), &credential, &reason) {
                    status.agent_id(&params.identity.agent_id);
                    backoff.reset();
                    continue;
                }
                SessionError::Reidentify { credential, reason }
            }
            Ok(Ended::FailBack(to)) => {
                tracing::info!(
                    from = %ep.url,
                    to = %params.endpoints[to].url,
                    "a preferred endpoint is reachable again; switching to it"
                );
                sel.fail_back(to);
                backoff.reset();
                continue;
            }
            Err(e) => e,
        };
        let text = err.to_string();
        let delay = if err.is_auth_rejection() {
            tracing::error!(
                endpoint = %ep.url,
                error = %text,
                "the server rejects this agent's identity; retrying at the longest interval \
                 (re-run the install command to repair)"
            );
            backoff.max()
        } else {
            tracing::warn!(endpoint = %ep.url, error = %text, "session ended");
            if healthy {
                backoff.reset();
            }
            backoff.next_delay()
        };
        status.disconnected(Some(&ep), text.clone());
        last_error = Some(text);
        // After a healthy session start again from the preferred endpoint,
        // after a failure fail over to the next one.
        sel.session_ended(healthy);
        if let Some(w) = watcher.as_mut() {
            match w.check() {
                Reload::Unchanged => {}
                Reload::Changed(n) => {
                    tracing::info!(
                        path = %w.path().display(),
                        endpoints = n.endpoints.len(),
                        "network.toml changed; using the new settings"
                    );
                    apply(&mut params, &mut net, *n);
                    sel.reset(params.endpoints.len());
                    backoff.reset();
                }
                Reload::Invalid(e) => tracing::warn!(
                    path = %w.path().display(),
                    error = %e,
                    "network.toml changed but is invalid; keeping the previous settings"
                ),
            }
        }
        tracing::debug!(
            delay_ms = delay.as_millis() as u64,
            "reconnecting after delay"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => break,
        }
    }
    status.stopped();
    SessionsEnd::Stopped
}

/// Saves the identity the server gave this copy of an install and uses it
/// from now on. False when it cannot be saved (the old one is kept and the
/// server asked again at the next attempt).
fn adopt_identity(
    params: &mut RunnerParams,
    life: Option<&mut Lifecycle>,
    credential: &ward_proto::Credential,
    reason: &str,
) -> bool {
    let Some(layout) = params.layout.clone() else {
        return false;
    };
    let new = Identity {
        agent_id: credential.agent_id.clone(),
        credential: credential.encode(),
        fingerprint: params.fingerprint.clone(),
    };
    if let Err(e) = new.save(&layout.identity()) {
        tracing::error!(
            error = %crate::one_line(&e),
            "cannot save the identity the server gave this copy; keeping the old one"
        );
        return false;
    }
    tracing::warn!(
        old = %params.identity.agent_id,
        new = %new.agent_id,
        %reason,
        "this install is a copy of another host's: it is a new asset from now on"
    );
    if let Some(life) = life {
        life.reidentified(&new.agent_id);
    }
    params.identity = new;
    true
}

/// Puts reloaded `network.toml` settings in place.
fn apply(params: &mut RunnerParams, net: &mut NetRuntime, n: LoadedNetwork) {
    params.endpoints = n.endpoints;
    params.tls = n.tls;
    net.options = n.options;
    net.failback_every = n.failback_every;
}

#[allow(clippy::too_many_arguments)]
async fn one_session(
    params: &RunnerParams,
    net: &NetRuntime,
    sel: &Selector,
    last_error: &mut Option<String>,
    instance: &str,
    ctx: &mut LiveContext<'_>,
    shutdown: &mut watch::Receiver<bool>,
    healthy: &mut bool,
) -> Result<Ended, SessionError> {
    let ep = &params.endpoints[sel.current() % params.endpoints.len()];
    let hello_msg = match params.layout {
        Some(_) => agent_hello(&params.fingerprint, last_error.clone(), ep, instance),
        None => hello(&params.fingerprint, last_error.clone(), ep),
    };
    let opening = async {
        let (mut ws, route) = open_via(
            ep,
            params.tls.clone(),
            &net.options,
            &params.identity.credential,
        )
        .await?;
        let welcome = handshake(&mut ws, &hello_msg).await?;
        Ok::<_, SessionError>((ws, route, welcome))
    };
    let (mut ws, route, welcome) = tokio::select! {
        r = opening => r?,
        _ = shutdown.changed() => return Ok(Ended::Shutdown),
    };
    if welcome.agent_id != params.identity.agent_id {
        tracing::warn!(
            welcomed = %welcome.agent_id,
            ours = %params.identity.agent_id,
            "the server welcomed a different agent id"
        );
    }
    let policy = match welcome.policy.validate() {
        Ok(()) => welcome.policy,
        Err(e) => {
            tracing::warn!(error = %e, "invalid policy in welcome; using defaults");
            Policy::default()
        }
    };
    let peer = ws
        .get_ref()
        .get_ref()
        .0
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        endpoint = %ep.url,
        path = %route,
        agent_id = %welcome.agent_id,
        keepalive_secs = policy.keepalive_secs,
        "session established"
    );
    *last_error = None;
    ctx.status.route(route.to_string(), peer);
    ctx.status.connected(ep, policy);
    if let Some(life) = ctx.life.as_deref_mut() {
        life.welcomed(welcome.command_key.as_deref(), welcome.server_time_ms);
    }

    // The live session stops on shutdown or when a preferred endpoint is
    // back; either way it closes the WebSocket cleanly.
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let mut ended = Ended::Shutdown;
    let probing = net.failback_every.filter(|_| sel.on_fallback());
    let end = {
        let live = live::run(&mut ws, policy, ctx, &mut stop_rx, healthy);
        tokio::pin!(live);
        let mut stopping = false;
        loop {
            tokio::select! {
                r = &mut live => break r?,
                _ = shutdown.changed(), if !stopping => {
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
                to = probe_preferred(params, net, sel, probing), if !stopping => {
                    ended = Ended::FailBack(to);
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
            }
        }
    };
    match end {
        LiveEnd::Stopped => Ok(ended),
        LiveEnd::Uninstall { command_id } => Ok(Ended::Uninstall(Box::new(ws), command_id)),
    }
}

/// Every `every`, tries a TCP + TLS handshake with the pinned key on each
/// endpoint preferred over the current one; resolves with the first that
/// succeeds. Never resolves when there is nothing to probe.
async fn probe_preferred(
    params: &RunnerParams,
    net: &NetRuntime,
    sel: &Selector,
    every: Option<Duration>,
) -> usize {
    let Some(every) = every else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(every).await;
        for i in sel.preferred() {
            let ep = &params.endpoints[i];
            match connect_tls_via(ep, params.tls.clone(), &net.options).await {
                Ok(_) => return i,
                Err(e) => {
                    tracing::debug!(endpoint = %ep.url, error = %e, "preferred endpoint still down")
                }
            }
        }
    }
}
