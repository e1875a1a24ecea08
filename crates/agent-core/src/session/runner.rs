//! The agent's session loop: endpoints in order, jittered backoff between
//! attempts, `data/status.json` kept current.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ward_hostinfo::{HostCollector, HostPaths};
use ward_proto::Policy;

use super::live::{self, LiveContext};
use super::{handshake, hello, open, SessionError};
use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::http::Endpoint;
use crate::identity::Identity;
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
}

/// Keeps a session up until `shutdown` turns true. Returns only then.
pub async fn run_sessions(params: RunnerParams, mut shutdown: watch::Receiver<bool>) {
    let mut status = StatusWriter::new(
        params.status_path.clone(),
        std::process::id(),
        &params.identity.agent_id,
    );
    let mut collector = HostCollector::new(params.host_paths.clone(), crate::VERSION);
    let mut backoff = Backoff::new(params.config.min_backoff(), params.config.max_backoff());
    let mut last_error: Option<String> = None;
    let mut idx = 0usize;
    if params.endpoints.is_empty() {
        status.disconnected(None, "no endpoints configured".into());
        let _ = shutdown.wait_for(|s| *s).await;
        return;
    }
    while !*shutdown.borrow() {
        let ep = &params.endpoints[idx % params.endpoints.len()];
        status.connecting(ep);
        let mut healthy = false;
        let result = one_session(
            &params,
            ep,
            &mut last_error,
            &mut LiveContext {
                collector: &mut collector,
                status: &mut status,
                report_check: Duration::from_secs(params.config.report_check_secs),
            },
            &mut shutdown,
            &mut healthy,
        )
        .await;
        let err = match result {
            Ok(()) => break,
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
        status.disconnected(Some(ep), text.clone());
        last_error = Some(text);
        // After a healthy session start again from the preferred endpoint,
        // after a failure fail over to the next one.
        idx = if healthy { 0 } else { idx + 1 };
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
}

async fn one_session(
    params: &RunnerParams,
    ep: &Endpoint,
    last_error: &mut Option<String>,
    ctx: &mut LiveContext<'_>,
    shutdown: &mut watch::Receiver<bool>,
    healthy: &mut bool,
) -> Result<(), SessionError> {
    let hello_msg = hello(&params.fingerprint, last_error.clone(), ep);
    let opening = async {
        let mut ws = open(ep, params.tls.clone(), &params.identity.credential).await?;
        let welcome = handshake(&mut ws, &hello_msg).await?;
        Ok::<_, SessionError>((ws, welcome))
    };
    let (mut ws, welcome) = tokio::select! {
        r = opening => r?,
        _ = shutdown.changed() => return Ok(()),
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
    tracing::info!(
        endpoint = %ep.url,
        agent_id = %welcome.agent_id,
        keepalive_secs = policy.keepalive_secs,
        "session established"
    );
    *last_error = None;
    ctx.status.connected(ep, policy);
    live::run(&mut ws, policy, ctx, shutdown, healthy).await
}
