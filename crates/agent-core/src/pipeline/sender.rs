//! Sending spooled events over a live session: batches of at most
//! `MAX_EVENTS_PER_BATCH` events and [`MAX_BATCH_BYTES`], at most
//! [`MAX_IN_FLIGHT`] batches unacknowledged, everything unacknowledged sent
//! again on the next session, `EventsAck` applied to the spool.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use ward_proto::{AgentMsg, MAX_EVENTS_PER_BATCH};

use super::PipelineHandle;
use crate::session::{send, SessionError, Ws};

/// Most JSON bytes of events in one batch (the frame limit is 1 MiB).
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Batches sent and not yet acknowledged.
pub const MAX_IN_FLIGHT: usize = 4;
/// A session whose server acknowledges nothing for this long is restarted.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-session sending state.
pub struct EventSender {
    handle: PipelineHandle,
    /// Last id of each unacknowledged batch, oldest first.
    in_flight: VecDeque<u64>,
    last_sent: u64,
    /// When the oldest unacknowledged batch was sent (or last progress).
    waiting_since: Option<Instant>,
}

impl EventSender {
    /// A fresh session: everything unacknowledged is sent again.
    pub fn new(handle: PipelineHandle) -> EventSender {
        EventSender {
            handle,
            in_flight: VecDeque::new(),
            last_sent: 0,
            waiting_since: None,
        }
    }

    /// Notified when events are appended.
    pub fn notify(&self) -> Arc<Notify> {
        self.handle.notify()
    }

    /// Sends batches while there is room in flight and events waiting.
    pub async fn pump(&mut self, ws: &mut Ws) -> Result<(), SessionError> {
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let batch =
                match self
                    .handle
                    .peek_after(self.last_sent, MAX_EVENTS_PER_BATCH, MAX_BATCH_BYTES)
                {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the event spool");
                        break;
                    }
                };
            let Some(last) = batch.last().map(|e| e.id) else {
                break;
            };
            let n = batch.len();
            send(ws, &AgentMsg::Events { events: batch }).await?;
            tracing::debug!(events = n, up_to = last, "events sent");
            self.last_sent = last;
            self.in_flight.push_back(last);
            self.waiting_since.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// The server stored everything up to `up_to`.
    pub fn on_ack(&mut self, up_to: u64) {
        if let Err(e) = self.handle.ack(up_to) {
            tracing::warn!(error = %e, "applying an events acknowledgement");
        }
        let before = self.in_flight.len();
        while self.in_flight.front().is_some_and(|&l| l <= up_to) {
            self.in_flight.pop_front();
        }
        if self.in_flight.len() != before {
            self.waiting_since = (!self.in_flight.is_empty()).then(Instant::now);
        }
    }

    /// `SpoolStats` for the keepalive.
    pub fn stats_msg(&self) -> AgentMsg {
        let s = self.handle.spool_stats();
        AgentMsg::SpoolStats {
            depth: s.depth,
            dropped_total: s.dropped_total,
        }
    }

    /// An error when batches have waited for an acknowledgement too long.
    pub fn check_stalled(&self) -> Result<(), SessionError> {
        match self.waiting_since {
            Some(t) if t.elapsed() >= ACK_TIMEOUT => Err(SessionError::Timeout(format!(
                "no events acknowledgement from the server for {} s",
                ACK_TIMEOUT.as_secs()
            ))),
            _ => Ok(()),
        }
    }
}
