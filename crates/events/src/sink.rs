//! Where collectors hand their events (the agent's spool).

use crate::Event;

/// A consumer of event batches. On `Err` the collector keeps the events
/// and offers them again later (nothing is dropped by a failing sink).
pub trait Sink: Send + 'static {
    fn append(&mut self, events: &mut Vec<Event>) -> Result<(), String>;
}

impl<F> Sink for F
where
    F: FnMut(&mut Vec<Event>) -> Result<(), String> + Send + 'static,
{
    fn append(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        self(events)
    }
}
