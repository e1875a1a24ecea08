//! Appending events.

use std::io::Write;

use ward_events::Event;

use crate::format::{self, SEGMENT_HEADER_LEN};
use crate::spool::Spool;
use crate::{io_err, meta, SpoolError, ID_BLOCK};

impl Spool {
    /// Appends one event, assigning its id (returned).
    pub fn append(&mut self, event: &mut Event) -> Result<u64, SpoolError> {
        self.append_batch(std::slice::from_mut(event))?;
        Ok(event.id)
    }

    /// Appends events in order, assigning consecutive ids. Either every
    /// event is rejected before anything is written (an event too large) or
    /// they are written in order; an I/O error part-way leaves the earlier
    /// ones stored.
    pub fn append_batch(&mut self, events: &mut [Event]) -> Result<(), SpoolError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut payloads = Vec::with_capacity(events.len());
        for (i, ev) in events.iter_mut().enumerate() {
            ev.id = self.next_id + i as u64;
            let p = serde_json::to_vec(&*ev).map_err(|e| SpoolError::Encode(e.to_string()))?;
            if p.len() > self.cfg.max_record_bytes {
                for ev in events.iter_mut() {
                    ev.id = 0;
                }
                return Err(SpoolError::RecordTooLarge {
                    size: p.len(),
                    max: self.cfg.max_record_bytes,
                });
            }
            payloads.push(p);
        }
        let base = self.next_id;
        let mut i = 0;
        while i < payloads.len() {
            if self.active_broken {
                self.roll()?;
            }
            let start = i;
            let seg_bytes = self.segments.back().map_or(0, |s| s.bytes);
            let mut chunk = Vec::new();
            while let Some(p) = payloads.get(i) {
                let rec = format::record_len(p.len()) as u64;
                let in_segment = seg_bytes + chunk.len() as u64;
                if in_segment + rec > self.cfg.segment_bytes
                    && in_segment > SEGMENT_HEADER_LEN as u64
                {
                    break;
                }
                self.enforce_bounds(chunk.len() as u64 + rec)?;
                format::encode_record(base + i as u64, p, &mut chunk);
                i += 1;
            }
            if i > start {
                self.write_chunk(&chunk, base + start as u64, base + i as u64 - 1)?;
            }
            if i < payloads.len() {
                self.roll()?;
            }
        }
        if self.cfg.fsync_interval.is_zero() {
            self.sync()?;
        } else {
            self.sync_if_due()?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8], first: u64, last: u64) -> Result<(), SpoolError> {
        if last >= self.meta.id_reserved {
            self.meta.id_reserved = last + 1 + ID_BLOCK;
            meta::write(&self.dir, &self.meta)?;
            self.meta_dirty = false;
        }
        let path = self.active_path();
        if let Err(e) = self.active.write_all(chunk) {
            // The file may now end in a partial record: leave it (reads stop
            // at the indexed size, recovery truncates it) and write on in a
            // new segment.
            self.active_broken = true;
            return Err(io_err("writing", &path)(e));
        }
        if let Some(seg) = self.segments.back_mut() {
            seg.appended(first, last, chunk.len() as u64);
        }
        self.next_id = last + 1;
        self.unsynced = true;
        Ok(())
    }
}
