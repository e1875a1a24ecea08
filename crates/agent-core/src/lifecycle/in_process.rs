//! The remote uninstall inside the running agent (`ward-agent run`): after
//! an accepted `uninstall` command ends the session loop, and at the next
//! start when an accepted one was interrupted (`data/uninstalling` holding
//! the verified command). The removal itself is [`super::uninstall`].

use std::time::Duration;

use super::uninstall;
use crate::layout::Layout;
use crate::session::Ws;
use crate::{service, AgentError};

/// The error of a start while `data/uninstalling` exists.
pub fn uninstall_in_progress(layout: &Layout) -> AgentError {
    AgentError::Usage(format!(
        "an uninstall of this agent is in progress ({} exists); run `ward-agent uninstall --prefix {}` to finish it",
        layout.uninstalling_marker().display(),
        layout.prefix().display()
    ))
}

/// `run` found `data/uninstalling`: a remote uninstall this agent accepted
/// (and verified) was interrupted, so finish it; anything else is left to
/// `ward-agent uninstall`.
pub fn finish_interrupted(layout: &Layout, m: &uninstall::Marker) -> Result<(), AgentError> {
    if !uninstall::marker_is_verified_command(layout, m) {
        return Err(uninstall_in_progress(layout));
    }
    let Some(_lock) = crate::daemon::try_lock(layout, Duration::from_secs(2))? else {
        return Err(AgentError::Runtime(
            "another ward-agent runs for this prefix".into(),
        ));
    };
    crate::daemon::init_logging("info");
    tracing::warn!("finishing an interrupted remote uninstall");
    let (after, removal) = remove_everything(layout);
    tracing::warn!(result = %removal.summary(layout), "uninstall finished");
    final_steps(&after);
    Ok(())
}

/// Stops the updater, removes the services and the files; returns the
/// service steps left for last and what the removal did (with every problem).
fn remove_everything(layout: &Layout) -> (Vec<service::RemovalStep>, uninstall::Removal) {
    let (after, mut problems) = uninstall::stop_and_remove_services(layout, true);
    let mut removal = uninstall::remove_files(layout);
    problems.append(&mut removal.problems);
    removal.problems = problems;
    (after, removal)
}

/// Last service steps of an in-process uninstall (systemd: the stop job of
/// our own unit). SIGTERM is ignored from here on: we exit by ourselves.
fn final_steps(after: &[service::RemovalStep]) {
    if after.is_empty() {
        return;
    }
    // SAFETY: setting a signal disposition; no handler code runs.
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    for p in service::run_removal(after) {
        tracing::warn!(problem = %p, "removing the service");
    }
}

/// After an accepted uninstall command (pipeline and sessions stopped):
/// removes everything and reports the result over the still-open session.
pub async fn finish_remote(layout: &Layout, mut ws: Ws, command_id: &str) {
    let (after, removal) = remove_everything(layout);
    let summary = removal.summary(layout);
    let outcome = if removal.problems.is_empty() {
        ward_proto::CommandOutcome::Done
    } else {
        ward_proto::CommandOutcome::Failed
    };
    tracing::warn!(command = %command_id, result = %summary, "uninstall finished");
    let msg = ward_proto::AgentMsg::CommandResult {
        id: command_id.to_string(),
        outcome,
        message: Some(summary),
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), crate::session::send(&mut ws, &msg)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    final_steps(&after);
}
