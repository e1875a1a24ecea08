//! Reading unacknowledged events, oldest first.

use std::fs::File;
use std::os::unix::fs::FileExt;

use ward_events::Event;

use crate::format::{self, Decoded, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::spool::{Cursor, Spool};
use crate::{io_err, SpoolError};

/// Bytes read from a segment at a time (beyond the batch byte limit).
const READ_SLACK: u64 = 64 * 1024;

impl Spool {
    /// The oldest unacknowledged events: at most `max_events`, and at most
    /// `max_bytes` of encoded JSON (but always at least one event when any is
    /// waiting). Does not consume anything.
    pub fn peek_unacked(
        &mut self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<Event>, SpoolError> {
        self.peek_after(0, max_events, max_bytes)
    }

    /// Like [`Spool::peek_unacked`], but only events with an id above
    /// `after` (for sending more while earlier batches are in flight).
    /// Sequential calls are cheap: the read position is cached.
    pub fn peek_after(
        &mut self,
        after: u64,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<Event>, SpoolError> {
        let mut after = after.max(self.meta.acked);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut idx = 0;
        while idx < self.segments.len() && out.len() < max_events {
            let seg = &self.segments[idx];
            if seg.last_id.is_none_or(|l| l <= after) {
                idx += 1;
                continue;
            }
            let name_id = seg.name_id;
            let start = match self.cursor {
                Some(c) if c.name_id == name_id && c.after == after => c.offset,
                _ => SEGMENT_HEADER_LEN as u64,
            };
            let full = self.read_segment(
                idx, start, &mut after, &mut out, &mut bytes, max_events, max_bytes,
            )?;
            if full {
                break;
            }
            idx += 1;
        }
        Ok(out)
    }

    /// Reads records of segment `idx` from `offset`; returns true when the
    /// batch limits were reached (the cursor then points at the next record).
    #[allow(clippy::too_many_arguments)]
    fn read_segment(
        &mut self,
        idx: usize,
        mut offset: u64,
        after: &mut u64,
        out: &mut Vec<Event>,
        bytes: &mut usize,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<bool, SpoolError> {
        let path = self.segments[idx].path.clone();
        let name_id = self.segments[idx].name_id;
        let end = self.segments[idx].bytes;
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted behind our back: its events are lost.
                let lost = self.segments[idx].unacked(self.meta.acked);
                self.meta.dropped_total = self.meta.dropped_total.saturating_add(lost);
                self.meta.damaged_total = self.meta.damaged_total.saturating_add(lost);
                self.meta_dirty = true;
                self.segments[idx].first_id = None;
                self.segments[idx].last_id = None;
                self.segments[idx].count = 0;
                return Ok(false);
            }
            Err(e) => return Err(io_err("opening", &path)(e)),
        };
        let chunk_len = (max_bytes as u64)
            .max(self.cfg.max_record_bytes as u64)
            .saturating_add(READ_SLACK + RECORD_HEADER_LEN as u64);
        while offset < end {
            let buf = read_at(&file, offset, (end - offset).min(chunk_len))
                .map_err(io_err("reading", &path))?;
            let mut p = 0usize;
            let mut jump = None;
            while p < buf.len() {
                match format::decode_record(&buf[p..]) {
                    Decoded::Record { id, payload, total } => {
                        if id > *after {
                            if !out.is_empty() && *bytes + payload.len() > max_bytes {
                                self.set_cursor(name_id, offset + p as u64, *after);
                                return Ok(true);
                            }
                            match serde_json::from_slice::<Event>(payload) {
                                Ok(mut ev) => {
                                    ev.id = id;
                                    *bytes += payload.len();
                                    out.push(ev);
                                }
                                // Checksummed but not an event this agent reads.
                                Err(_) => self.damaged_records += 1,
                            }
                            *after = id;
                        }
                        p += total;
                        if out.len() >= max_events {
                            self.set_cursor(name_id, offset + p as u64, *after);
                            return Ok(true);
                        }
                    }
                    Decoded::Incomplete if offset + (buf.len() as u64) < end => break,
                    _ => {
                        jump =
                            Some(self.skip_damage(idx, &file, offset + p as u64, end, *after)?);
                        break;
                    }
                }
            }
            match jump {
                Some(next) => offset = next,
                None if p == 0 => break, // no progress (file shorter than indexed)
                None => offset += p as u64,
            }
        }
        self.set_cursor(name_id, offset, *after);
        Ok(false)
    }

    fn set_cursor(&mut self, name_id: u64, offset: u64, after: u64) {
        self.cursor = Some(Cursor {
            name_id,
            offset,
            after,
        });
    }

    /// A record at `at` does not decode: the offset of the next valid record
    /// (or `end`). Damage not seen before is counted once.
    fn skip_damage(
        &mut self,
        idx: usize,
        file: &File,
        at: u64,
        end: u64,
        after: u64,
    ) -> Result<u64, SpoolError> {
        if let Some(b) = self.segments[idx].known_bad_end(at) {
            return Ok(b);
        }
        let path = self.segments[idx].path.clone();
        let rest = read_at(file, at, end - at).map_err(io_err("reading", &path))?;
        let next = format::resync(&rest, 1, after).map_or(end, |r| at + r as u64);
        self.segments[idx].bad_regions.push((at, next));
        self.damaged_records += 1;
        Ok(next.max(at + 1))
    }
}

fn read_at(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}
