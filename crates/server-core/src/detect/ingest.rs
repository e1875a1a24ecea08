//! Validation of `Events` batches (pure) before they reach the store.

use ward_events::Event;
use ward_proto::MAX_EVENTS_PER_BATCH;

/// Checks a batch against the wire contract: at most
/// [`MAX_EVENTS_PER_BATCH`] events, ids strictly increasing, every id in
/// `1..=i64::MAX` (the storable range). The message is the protocol error.
pub fn validate_batch(events: &[Event]) -> Result<(), String> {
    if events.len() > MAX_EVENTS_PER_BATCH {
        return Err(format!(
            "an events batch carries at most {MAX_EVENTS_PER_BATCH} events, got {}",
            events.len()
        ));
    }
    let mut prev: Option<u64> = None;
    for e in events {
        if e.id == 0 || e.id > i64::MAX as u64 {
            return Err(format!(
                "event ids must be between 1 and {}, got {}",
                i64::MAX,
                e.id
            ));
        }
        if let Some(p) = prev {
            if e.id <= p {
                return Err(format!(
                    "event ids must increase within a batch: {} after {p}",
                    e.id
                ));
            }
        }
        prev = Some(e.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_events::{EventData, SessionClosed};

    fn ev(id: u64) -> Event {
        let mut e = Event::new(
            1_700_000_000_000,
            "/var/log/auth.log",
            EventData::SessionClosed(SessionClosed {
                service: "sshd".into(),
                user: "alice".into(),
            }),
        );
        e.id = id;
        e
    }

    fn batch(ids: &[u64]) -> Vec<Event> {
        ids.iter().map(|&i| ev(i)).collect()
    }

    #[test]
    fn increasing_batches_within_the_limit_pass() {
        assert!(validate_batch(&[]).is_ok());
        assert!(validate_batch(&batch(&[1, 2, 9, 10])).is_ok());
        assert!(validate_batch(&batch(&[i64::MAX as u64])).is_ok());
        let full: Vec<u64> = (1..=MAX_EVENTS_PER_BATCH as u64).collect();
        assert!(validate_batch(&batch(&full)).is_ok());
    }

    #[test]
    fn bad_batches_are_refused() {
        for ids in [
            &[2u64, 1][..],
            &[1, 1],
            &[1, 3, 2],
            &[0],
            &[1, i64::MAX as u64 + 1],
        ] {
            assert!(validate_batch(&batch(ids)).is_err(), "{ids:?}");
        }
        let over: Vec<u64> = (1..=MAX_EVENTS_PER_BATCH as u64 + 1).collect();
        let e = validate_batch(&batch(&over)).unwrap_err();
        assert!(e.contains(&MAX_EVENTS_PER_BATCH.to_string()), "{e}");
    }
}
