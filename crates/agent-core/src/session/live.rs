//! One live session, after `Welcome`: reports, keepalives, policy pushes,
//! dead-session detection, spooled events (sent in acknowledged batches,
//! see `pipeline::sender`, with `SpoolStats` beside keepalives), and the
//! lifecycle messages (commands, protection, notices; see
//! `crate::lifecycle::session`).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use ward_hostinfo::HostCollector;
use ward_proto::{AgentMsg, HostReport, Policy, ServerMsg};

use super::{decode_frame, send, ws_error, SessionError, Ws};
use crate::lifecycle::session::{After, Lifecycle};
use crate::pipeline::sender::EventSender;
use crate::pipeline::PipelineHandle;
use crate::status_file::StatusWriter;

/// What a live session needs from the agent around it.
pub struct LiveContext<'a> {
    pub collector: &'a mut HostCollector,
    pub status: &'a mut StatusWriter,
    /// How often to check whether the host report changed materially.
    pub report_check: Duration,
    /// The event pipeline, when it runs.
    pub events: Option<&'a PipelineHandle>,
    /// Commands, protection and notices (the running agent only).
    pub life: Option<&'a mut Lifecycle>,
}

/// How a live session ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEnd {
    /// Shutdown asked for; the WebSocket was closed.
    Stopped,
    /// An uninstall command was accepted; the WebSocket is still open so
    /// the result can be reported after the removal.
    Uninstall { command_id: String },
}

async fn send_notices(ws: &mut Ws, life: Option<&mut Lifecycle>) -> Result<(), SessionError> {
    if let Some(life) = life {
        for m in life.notices_to_send() {
            send(ws, &m).await?;
        }
    }
    Ok(())
}

fn every(period: Duration) -> Interval {
    let period = period.max(Duration::from_millis(10));
    let mut i = interval_at(Instant::now() + period, period);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}

async fn send_report(
    ws: &mut Ws,
    collector: &mut HostCollector,
) -> Result<HostReport, SessionError> {
    let report = collector.collect();
    send(
        ws,
        &AgentMsg::Report {
            report: report.clone(),
        },
    )
    .await?;
    Ok(report)
}

/// Runs the session until it fails (`Err`), `shutdown` turns true
/// (`Stopped`, after a WebSocket close) or an uninstall is accepted.
/// `healthy` becomes true at the first keepalive ack.
pub async fn run(
    ws: &mut Ws,
    mut policy: Policy,
    ctx: &mut LiveContext<'_>,
    shutdown: &mut watch::Receiver<bool>,
    healthy: &mut bool,
) -> Result<LiveEnd, SessionError> {
    let mut last_sent = send_report(ws, ctx.collector).await?;
    send_notices(ws, ctx.life.as_deref_mut()).await?;
    let mut events = ctx.events.map(|h| EventSender::new(h.clone()));
    let events_notify = events.as_ref().map(EventSender::notify);
    if let Some(ev) = events.as_mut() {
        send(ws, &ev.stats_msg()).await?;
        ev.pump(ws).await?;
    }
    let mut seq = 0u64;
    let mut keepalive = every(secs(policy.keepalive_secs));
    let mut full_report = every(secs(policy.report_interval_secs));
    let mut check = every(ctx.report_check);
    let mut last_inbound = Instant::now();
    loop {
        if *shutdown.borrow() {
            break;
        }
        // The server answers each keepalive; allow half an interval of
        // latency on top of the missed keepalives before giving up.
        let silence = secs(policy.keepalive_secs) * policy.missed_keepalives
            + secs(policy.keepalive_secs) / 2;
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = keepalive.tick() => {
                seq += 1;
                send(ws, &AgentMsg::Keepalive { seq }).await?;
                if let Some(ev) = events.as_ref() {
                    send(ws, &ev.stats_msg()).await?;
                    ev.check_stalled()?;
                }
                send_notices(ws, ctx.life.as_deref_mut()).await?;
            }
            _ = async {
                match &events_notify {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(ev) = events.as_mut() {
                    ev.pump(ws).await?;
                }
            }
            _ = full_report.tick() => {
                last_sent = send_report(ws, ctx.collector).await?;
            }
            _ = check.tick() => {
                if ctx.collector.host_facts().differs_materially(&last_sent) {
                    tracing::info!("host facts changed; sending a report");
                    last_sent = send_report(ws, ctx.collector).await?;
                }
            }
            _ = tokio::time::sleep_until(last_inbound + silence) => {
                return Err(SessionError::Timeout(format!(
                    "no message from the server for {:.1} s ({} missed keepalives)",
                    silence.as_secs_f32(),
                    policy.missed_keepalives
                )));
            }
            frame = ws.next() => {
                last_inbound = Instant::now();
                let Some(frame) = frame else {
                    return Err(SessionError::Closed);
                };
                match decode_frame(frame.map_err(ws_error)?)? {
                    Some(ServerMsg::KeepaliveAck { .. }) => {
                        *healthy = true;
                        ctx.status.keepalive_acked();
                    }
                    Some(ServerMsg::Policy { policy: new }) => match new.validate() {
                        Ok(()) => {
                            tracing::info!(
                                keepalive_secs = new.keepalive_secs,
                                missed_keepalives = new.missed_keepalives,
                                report_interval_secs = new.report_interval_secs,
                                "policy applied"
                            );
                            policy = new;
                            keepalive = every(secs(policy.keepalive_secs));
                            full_report = every(secs(policy.report_interval_secs));
                            ctx.status.policy(policy);
                        }
                        Err(e) => tracing::warn!(error = %e, "ignoring an invalid policy"),
                    },
                    Some(ServerMsg::Error { code, message }) => {
                        return Err(SessionError::Server { code, message });
                    }
                    Some(ServerMsg::Welcome { .. }) => {
                        tracing::debug!("ignoring a second welcome");
                    }
                    Some(ServerMsg::EventsAck { up_to }) => {
                        if let Some(ev) = events.as_mut() {
                            ev.on_ack(up_to);
                            ev.pump(ws).await?;
                        }
                    }
                    Some(ServerMsg::Command { command }) => {
                        let Some(life) = ctx.life.as_deref_mut() else {
                            tracing::warn!("command ignored: this agent runs without lifecycle support");
                            continue;
                        };
                        let (answer, after) = life.on_command(&command);
                        send(ws, &answer).await?;
                        if let After::Uninstall { command_id } = after {
                            return Ok(LiveEnd::Uninstall { command_id });
                        }
                    }
                    Some(ServerMsg::Protection { statement }) => {
                        if let Some(life) = ctx.life.as_deref_mut() {
                            life.on_protection(&statement);
                        }
                    }
                    Some(ServerMsg::NoticeAck { id }) => {
                        if let Some(life) = ctx.life.as_deref_mut() {
                            life.on_notice_ack(&id);
                        }
                    }
                    Some(ServerMsg::Reidentify { .. }) => {
                        return Err(SessionError::Protocol("re-identification after welcome".into()));
                    }
                    None => {}
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    Ok(LiveEnd::Stopped)
}
