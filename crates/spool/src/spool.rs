//! The spool: open and recovery, acknowledgement, statistics, sync, close.

use std::collections::VecDeque;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::format::{self, SEGMENT_HEADER_LEN};
use crate::meta::{self, Meta};
use crate::segment::{parse_segment_name, Segment};
use crate::{io_err, SpoolConfig, SpoolError, SpoolStats, ID_BLOCK};

/// A read position cache: in segment `name_id`, at byte `offset`, every
/// record before it has an id `<= after`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    pub name_id: u64,
    pub offset: u64,
    pub after: u64,
}

/// An open spool directory. See the crate docs for its invariants.
#[derive(Debug)]
pub struct Spool {
    pub(crate) dir: PathBuf,
    pub(crate) cfg: SpoolConfig,
    /// Oldest first; the last one is the active (written) segment.
    pub(crate) segments: VecDeque<Segment>,
    pub(crate) active: File,
    /// A failed write may have left a partial record: start a new segment.
    pub(crate) active_broken: bool,
    pub(crate) next_id: u64,
    pub(crate) meta: Meta,
    pub(crate) meta_dirty: bool,
    pub(crate) damaged_records: u64,
    pub(crate) unsynced: bool,
    pub(crate) last_sync: Instant,
    pub(crate) cursor: Option<Cursor>,
    pub(crate) closed: bool,
}

impl Spool {
    /// Opens (creating when missing, mode 0700) the spool in `dir` and
    /// recovers it: scans every segment, truncates a torn tail, skips and
    /// counts damaged records, deletes acknowledged and empty segments,
    /// continues the last segment (or starts one) and enforces the bounds.
    pub fn open(dir: impl AsRef<Path>, cfg: SpoolConfig) -> Result<Spool, SpoolError> {
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(SpoolError::Config(problems.join("; ")));
        }
        let dir = dir.as_ref().to_path_buf();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err("creating", &dir))?;
        let mut damaged_records = 0u64;
        let mut meta = match meta::read(&dir) {
            Ok(Some(m)) if m.id_reserved <= format::MAX_ID && m.acked <= format::MAX_ID => m,
            Ok(Some(_)) => {
                damaged_records += 1;
                Meta::default()
            }
            Ok(None) => Meta::default(),
            Err(_) => {
                // Unreadable counters: keep going (ids are recovered from the
                // records, acknowledgements are re-learnt from the server).
                damaged_records += 1;
                Meta::default()
            }
        };
        meta.version = 1;
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
            let entry = entry.map_err(io_err("listing", &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = parse_segment_name(&name) {
                names.push(id);
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        names.sort_unstable();
        let mut segments = VecDeque::new();
        let mut last_seen = 0u64;
        for name_id in names {
            let seg = recover_segment(&dir, name_id, &mut meta, &mut damaged_records)?;
            if let Some(seg) = seg {
                last_seen = last_seen.max(seg.last_id.unwrap_or(0));
                segments.push_back(seg);
            }
        }
        let next_id = meta.id_reserved.max(last_seen + 1).max(1);
        meta.acked = meta.acked.min(next_id - 1);
        // Drop what was acknowledged before the restart.
        while segments.front().is_some_and(|s| s.fully_acked(meta.acked)) {
            if let Some(s) = segments.pop_front() {
                remove(&s.path)?;
            }
        }
        // Append to the last segment when it has room, else start one.
        let reuse = segments
            .back()
            .filter(|s| s.bytes < cfg.segment_bytes)
            .map(|s| s.path.clone());
        let active = match reuse {
            Some(path) => OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io_err("opening", &path))?,
            None => {
                let (file, seg) = create_segment(&dir, next_id)?;
                segments.push_back(seg);
                file
            }
        };
        meta.id_reserved = next_id + ID_BLOCK;
        meta::write(&dir, &meta)?;
        let mut spool = Spool {
            dir,
            cfg,
            segments,
            active,
            active_broken: false,
            next_id,
            meta,
            meta_dirty: false,
            damaged_records,
            unsynced: true,
            last_sync: Instant::now(),
            cursor: None,
            closed: false,
        };
        spool.enforce_bounds(0)?;
        spool.sync()?;
        Ok(spool)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limits it was opened with.
    pub fn config(&self) -> &SpoolConfig {
        &self.cfg
    }

    /// Highest acknowledged id.
    pub fn acked(&self) -> u64 {
        self.meta.acked
    }

    /// The id the next appended event gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// True while appended records wait for an fsync.
    pub fn unsynced(&self) -> bool {
        self.unsynced
    }

    /// Counters and sizes.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            depth: self
                .segments
                .iter()
                .map(|s| s.unacked(self.meta.acked))
                .sum(),
            dropped_total: self.meta.dropped_total,
            damaged_total: self.meta.damaged_total,
            damaged_records: self.damaged_records,
            bytes: self.total_bytes(),
            segments: self.segments.len() as u64,
            acked: self.meta.acked,
            next_id: self.next_id,
        }
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The server stored every event with an id `<= up_to` (cumulative).
    /// Segments whose events are all acknowledged are deleted. An `up_to`
    /// beyond the last assigned id is clamped to it.
    pub fn ack(&mut self, up_to: u64) -> Result<(), SpoolError> {
        let up_to = up_to.min(self.next_id - 1);
        if up_to <= self.meta.acked {
            return Ok(());
        }
        self.meta.acked = up_to;
        self.meta_dirty = true;
        while self.segments.len() > 1
            && self
                .segments
                .front()
                .is_some_and(|s| s.fully_acked(self.meta.acked))
        {
            if let Some(s) = self.segments.pop_front() {
                if self.cursor.is_some_and(|c| c.name_id == s.name_id) {
                    self.cursor = None;
                }
                remove(&s.path)?;
            }
        }
        Ok(())
    }

    /// Counts `n` events lost before they could be spooled (e.g. larger
    /// than a record may be even without their raw line): they are added to
    /// `dropped_total`, which is written at once and reaches the server.
    pub fn count_lost(&mut self, n: u64) -> Result<(), SpoolError> {
        if n == 0 {
            return Ok(());
        }
        self.meta.dropped_total = self.meta.dropped_total.saturating_add(n);
        meta::write(&self.dir, &self.meta)?;
        self.meta_dirty = false;
        Ok(())
    }

    /// Fsyncs appended records and writes changed counters.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.unsynced {
            let path = self.active_path();
            self.active.sync_data().map_err(io_err("syncing", &path))?;
            self.unsynced = false;
        }
        if self.meta_dirty {
            meta::write(&self.dir, &self.meta)?;
            self.meta_dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// [`Spool::sync`] when records have waited `fsync_interval` or longer.
    pub fn sync_if_due(&mut self) -> Result<(), SpoolError> {
        if (self.unsynced || self.meta_dirty) && self.last_sync.elapsed() >= self.cfg.fsync_interval
        {
            self.sync()?;
        }
        Ok(())
    }

    /// Syncs and records the exact next id (so a clean restart skips none).
    pub fn close(mut self) -> Result<(), SpoolError> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<(), SpoolError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.sync()?;
        self.meta.id_reserved = self.next_id;
        meta::write(&self.dir, &self.meta)
    }

    pub(crate) fn active_path(&self) -> PathBuf {
        self.segments
            .back()
            .map(|s| s.path.clone())
            .unwrap_or_else(|| self.dir.clone())
    }

    /// Drops the oldest sealed segment; its unacknowledged events are
    /// counted as dropped (persisted first). False when only the active one
    /// is left.
    pub(crate) fn drop_oldest(&mut self) -> Result<bool, SpoolError> {
        if self.segments.len() < 2 {
            return Ok(false);
        }
        let lost = self
            .segments
            .front()
            .map_or(0, |s| s.unacked(self.meta.acked));
        if lost > 0 {
            self.meta.dropped_total = self.meta.dropped_total.saturating_add(lost);
            meta::write(&self.dir, &self.meta)?;
            self.meta_dirty = false;
        }
        if let Some(s) = self.segments.pop_front() {
            if self.cursor.is_some_and(|c| c.name_id == s.name_id) {
                self.cursor = None;
            }
            remove(&s.path)?;
        }
        Ok(true)
    }

    /// Drops oldest segments until `extra` more bytes fit and the file count
    /// is within bounds.
    pub(crate) fn enforce_bounds(&mut self, extra: u64) -> Result<(), SpoolError> {
        while self.total_bytes() + extra > self.cfg.max_bytes
            || self.segments.len() > self.cfg.max_files
        {
            if !self.drop_oldest()? {
                break;
            }
        }
        Ok(())
    }

    /// Seals the active segment (fsync) and starts a new one at `next_id`.
    pub(crate) fn roll(&mut self) -> Result<(), SpoolError> {
        if self.unsynced {
            let path = self.active_path();
            self.active.sync_data().map_err(io_err("syncing", &path))?;
            self.unsynced = false;
        }
        // Room for one more file and its header.
        while self.segments.len() + 1 > self.cfg.max_files
            || self.total_bytes() + SEGMENT_HEADER_LEN as u64 > self.cfg.max_bytes
        {
            if !self.drop_oldest()? {
                break;
            }
        }
        // An empty active segment is replaced rather than kept.
        if self.segments.back().is_some_and(|s| s.count == 0) {
            if let Some(s) = self.segments.pop_back() {
                remove(&s.path)?;
            }
        }
        let (file, seg) = create_segment(&self.dir, self.next_id)?;
        self.active = file;
        self.segments.push_back(seg);
        self.active_broken = false;
        self.unsynced = true;
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.close_inner();
    }
}

fn remove(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("deleting", path)(e)),
    }
}

fn create_segment(dir: &Path, name_id: u64) -> Result<(File, Segment), SpoolError> {
    let seg = Segment::new(dir, name_id, SEGMENT_HEADER_LEN as u64);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&seg.path)
        .map_err(io_err("creating", &seg.path))?;
    f.write_all(&format::segment_header())
        .map_err(io_err("writing", &seg.path))?;
    meta::sync_dir(dir)?;
    Ok((f, seg))
}

/// Scans one segment file; `None` when it holds nothing worth keeping (it
/// is then deleted).
fn recover_segment(
    dir: &Path,
    name_id: u64,
    meta: &mut Meta,
    damaged_records: &mut u64,
) -> Result<Option<Segment>, SpoolError> {
    let path = dir.join(crate::segment::segment_name(name_id));
    let bytes = fs::read(&path).map_err(io_err("reading", &path))?;
    let scan = match format::scan_segment(&bytes) {
        Ok(scan) => scan,
        Err(_) => {
            // A header torn at creation holds nothing; any other bad header
            // makes the whole file unreadable: count it as one lost record.
            if bytes.len() > SEGMENT_HEADER_LEN {
                meta.dropped_total = meta.dropped_total.saturating_add(1);
                meta.damaged_total = meta.damaged_total.saturating_add(1);
                *damaged_records += 1;
            }
            remove(&path)?;
            return Ok(None);
        }
    };
    let lost = scan.lost + u64::from(scan.torn_tail);
    meta.dropped_total = meta.dropped_total.saturating_add(lost);
    meta.damaged_total = meta.damaged_total.saturating_add(lost);
    *damaged_records += scan.bad_regions.len() as u64 + u64::from(scan.torn_tail);
    if scan.count == 0 {
        remove(&path)?;
        return Ok(None);
    }
    if !scan.bad_regions.is_empty() {
        // Rewrite without the damaged regions so they are counted once.
        rewrite_valid(dir, &path, &bytes, &scan)?;
        let mut seg = Segment::from_scan(dir, name_id, scan);
        seg.bytes = fs::metadata(&path).map_err(io_err("reading", &path))?.len();
        seg.bad_regions.clear();
        return Ok(Some(seg));
    }
    if scan.torn_tail {
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        f.set_len(scan.valid_end)
            .and_then(|()| f.sync_all())
            .map_err(io_err("truncating", &path))?;
    }
    Ok(Some(Segment::from_scan(dir, name_id, scan)))
}

/// Replaces a segment by its valid records only (same ids, same order).
fn rewrite_valid(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    scan: &format::SegmentScan,
) -> Result<(), SpoolError> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&format::segment_header());
    let mut pos = SEGMENT_HEADER_LEN;
    let end = scan.valid_end as usize;
    while pos < end {
        if let Some(&(_, b)) = scan
            .bad_regions
            .iter()
            .find(|&&(a, b)| a as usize <= pos && pos < b as usize)
        {
            pos = b as usize;
            continue;
        }
        match format::decode_record(&bytes[pos..end]) {
            format::Decoded::Record { total, .. } => {
                out.extend_from_slice(&bytes[pos..pos + total]);
                pos += total;
            }
            _ => break,
        }
    }
    meta::replace_file(dir, path, &path.with_extension("seg.tmp"), &out)
}
