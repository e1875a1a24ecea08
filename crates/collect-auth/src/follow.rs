//! Following one file across rotation and truncation, by lines or by
//! fixed-size records, from a persisted position.
//!
//! * **Position**: device + inode + byte offset of the next unread unit, and
//!   a hash of the file's first line ([`FilePos`]); an agent restart resumes
//!   there when the file is still the same one.
//! * **Rename rotation** (`logrotate` `create`): when the path names a new
//!   inode, the old file is read to its end first, then kept open for
//!   [`RETIRE_AFTER`] of silence (a writer may still append before it
//!   reopens), and the new file is read from its start.
//! * **Truncation** (`copytruncate`): the file got shorter than the position,
//!   or its first line changed: lines appended after the last read are taken
//!   from the rotated copy (a sibling `NAME*` file whose first line matches),
//!   then the file is read from its start.
//! * **Restart after rotation**: a position whose inode is no longer at the
//!   path is finished from the rotated sibling with that inode.
//! * Lines longer than `max_line` are cut (the rest up to the newline is
//!   skipped and counted).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a rotated-away file is still read after it stopped growing.
pub const RETIRE_AFTER: Duration = Duration::from_secs(10);
/// Bytes hashed to recognise a file by its first line.
const HEAD_BYTES: usize = 1024;
const READ_CHUNK: usize = 16 * 1024;

/// A persisted read position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePos {
    pub dev: u64,
    pub ino: u64,
    /// Offset of the next unread unit.
    pub offset: u64,
    /// FNV-1a of the first line (up to 1 KiB), once the file has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
}

/// How a file is cut into units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Newline-terminated lines (without the newline), cut at `max_line`.
    Lines { max_line: usize },
    /// Fixed-size binary records.
    Records { size: usize },
}

/// Counters of one follower.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FollowStats {
    pub units: u64,
    pub long_lines: u64,
    pub rotations: u64,
    pub truncations: u64,
}

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Offset of the first byte of `partial` (= of the next unit).
    offset: u64,
    partial: Vec<u8>,
    skipping: bool,
    head: Option<u64>,
}

/// Follows one path. Call [`Follower::poll`] whenever it may have changed.
pub struct Follower {
    path: PathBuf,
    framing: Framing,
    cur: Option<Open>,
    retired: Option<(Open, Instant)>,
    saved: Option<FilePos>,
    start_at_end: bool,
    opened_once: bool,
    buf: Vec<u8>,
    pub stats: FollowStats,
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hash of the first line of `file` (or its first [`HEAD_BYTES`]), `None`
/// while it has neither.
fn head_hash(file: &File) -> io::Result<Option<u64>> {
    let mut b = vec![0u8; HEAD_BYTES];
    let n = read_full_at(file, &mut b, 0)?;
    let b = &b[..n];
    Ok(match b.iter().position(|&c| c == b'\n') {
        Some(i) => Some(fnv1a(&b[..=i])),
        None if n == HEAD_BYTES => Some(fnv1a(b)),
        None => None,
    })
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Open {
    fn new(file: File, offset: u64) -> io::Result<Open> {
        let m = file.metadata()?;
        let head = head_hash(&file)?;
        Ok(Open {
            file,
            dev: m.dev(),
            ino: m.ino(),
            offset,
            partial: Vec::new(),
            skipping: false,
            head,
        })
    }

    /// Reads new complete units into `out` (at most `budget`); true when
    /// the budget stopped it before the end of the file.
    fn read(
        &mut self,
        framing: Framing,
        buf: &mut [u8],
        budget: usize,
        out: &mut Vec<Vec<u8>>,
        stats: &mut FollowStats,
    ) -> io::Result<bool> {
        let start_len = out.len();
        loop {
            if out.len() - start_len >= budget {
                return Ok(true);
            }
            let at = self.offset + self.partial.len() as u64;
            let n = read_full_at(&self.file, buf, at)?;
            if n == 0 {
                return Ok(false);
            }
            let data = &buf[..n];
            let mut i = 0;
            while i < data.len() && out.len() - start_len < budget {
                match framing {
                    Framing::Lines { max_line } => {
                        let nl = data[i..].iter().position(|&c| c == b'\n');
                        let end = nl.map_or(data.len(), |p| i + p);
                        if self.skipping {
                            self.offset += (end - i) as u64;
                            if nl.is_some() {
                                self.offset += 1;
                                self.skipping = false;
                            }
                            i = end + usize::from(nl.is_some());
                            continue;
                        }
                        let room = max_line.saturating_sub(self.partial.len());
                        let take = (end - i).min(room);
                        self.partial.extend_from_slice(&data[i..i + take]);
                        if take < end - i || (nl.is_none() && self.partial.len() >= max_line) {
                            // Over-long: emit the cut line, skip to the newline.
                            let line = std::mem::take(&mut self.partial);
                            self.offset += line.len() as u64;
                            out.push(line);
                            stats.long_lines += 1;
                            stats.units += 1;
                            self.skipping = true;
                            i += take;
                            continue;
                        }
                        if nl.is_some() {
                            let line = std::mem::take(&mut self.partial);
                            self.offset += line.len() as u64 + 1;
                            out.push(line);
                            stats.units += 1;
                            if self.head.is_none() && self.offset <= HEAD_BYTES as u64 {
                                self.head = head_hash(&self.file)?;
                            }
                        }
                        i = end + usize::from(nl.is_some());
                    }
                    Framing::Records { size } => {
                        let take = (size - self.partial.len()).min(data.len() - i);
                        self.partial.extend_from_slice(&data[i..i + take]);
                        i += take;
                        if self.partial.len() == size {
                            let rec = std::mem::take(&mut self.partial);
                            self.offset += size as u64;
                            out.push(rec);
                            stats.units += 1;
                        }
                    }
                }
            }
            if i < data.len() {
                // Budget reached mid-buffer: the rest is read again next time.
                return Ok(true);
            }
        }
    }

    /// Emits an unterminated last line (the file will not grow any more).
    fn flush_partial(&mut self, framing: Framing, out: &mut Vec<Vec<u8>>, stats: &mut FollowStats) {
        if matches!(framing, Framing::Lines { .. }) && !self.partial.is_empty() && !self.skipping {
            let line = std::mem::take(&mut self.partial);
            self.offset += line.len() as u64;
            out.push(line);
            stats.units += 1;
        }
    }

    fn pos(&self) -> FilePos {
        FilePos {
            dev: self.dev,
            ino: self.ino,
            offset: self.offset,
            head: self.head,
        }
    }
}

impl Follower {
    /// A follower of `path`. `saved` is the persisted position, if any;
    /// without one, a file that exists now is read from its end when
    /// `start_at_end` (files created later are always read from the start).
    pub fn new(
        path: PathBuf,
        framing: Framing,
        saved: Option<FilePos>,
        start_at_end: bool,
    ) -> Self {
        let start_at_end = start_at_end && path.exists();
        Follower {
            path,
            framing,
            cur: None,
            retired: None,
            saved,
            start_at_end,
            opened_once: false,
            buf: Vec::new(),
            stats: FollowStats::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while a file is open at the path.
    pub fn is_open(&self) -> bool {
        self.cur.is_some()
    }

    /// The position to persist: the current file's, else the one restored.
    pub fn pos(&self) -> Option<FilePos> {
        self.cur.as_ref().map(Open::pos).or(self.saved)
    }

    /// Reads what is new: at most `budget` units into `out`. Returns true
    /// when the budget cut it short (call again soon).
    pub fn poll(&mut self, budget: usize, out: &mut Vec<Vec<u8>>) -> io::Result<bool> {
        self.ensure_buf();
        let start = out.len();
        let left = |out: &Vec<Vec<u8>>| budget.saturating_sub(out.len() - start);
        // A rotated-away file first: its lines are older.
        if let Some((old, since)) = &mut self.retired {
            let before = old.offset + old.partial.len() as u64;
            if old.read(self.framing, &mut self.buf, left(out), out, &mut self.stats)? {
                return Ok(true);
            }
            if old.offset + old.partial.len() as u64 != before {
                *since = Instant::now();
            } else if since.elapsed() >= RETIRE_AFTER {
                old.flush_partial(self.framing, out, &mut self.stats);
                self.retired = None;
            }
        }
        if self.cur.is_none() && !self.open_current(out)? {
            return Ok(false);
        }
        self.check_truncated(out)?;
        let Some(cur) = self.cur.as_mut() else {
            return Ok(false);
        };
        if cur.read(self.framing, &mut self.buf, left(out), out, &mut self.stats)? {
            return Ok(true);
        }
        self.check_rotated(out)
    }

    /// Opens the file at the path; false when there is none.
    fn open_current(&mut self, out: &mut Vec<Vec<u8>>) -> io::Result<bool> {
        let first = !self.opened_once;
        self.opened_once = true;
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut open = Open::new(file, 0)?;
        let len = open.file.metadata()?.len();
        match self.saved.take() {
            Some(saved) => {
                let same = saved.dev == open.dev
                    && saved.ino == open.ino
                    && len >= saved.offset
                    && (saved.head.is_none() || open.head.is_none() || saved.head == open.head);
                if same {
                    open.offset = saved.offset;
                } else {
                    // Replaced (or truncated) while we were not running:
                    // finish the old content from its rotated copy.
                    self.drain_sibling(&saved, out)?;
                }
            }
            None if first && self.start_at_end => {
                open.offset = match self.framing {
                    Framing::Records { size } => len - len % size as u64,
                    Framing::Lines { .. } => len,
                };
            }
            None => {}
        }
        self.cur = Some(open);
        Ok(true)
    }

    /// Before reading: was the file truncated (shorter than the position,
    /// or a different first line)? Then finish the old content from its
    /// copy and read the file from its start.
    fn check_truncated(&mut self, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        let len = cur.file.metadata()?.len();
        let read_to = cur.offset + cur.partial.len() as u64;
        let head_changed = cur.head.is_some() && len > 0 && head_hash(&cur.file)? != cur.head;
        if len < read_to || head_changed {
            self.stats.truncations += 1;
            let pos = cur.pos();
            self.drain_sibling(&pos, out)?;
            if let Some(cur) = self.cur.as_mut() {
                cur.offset = 0;
                cur.partial.clear();
                cur.skipping = false;
                cur.head = head_hash(&cur.file)?;
            }
        }
        Ok(())
    }

    /// After reading to the end: does the path name another file now?
    /// True when it switched to a new file (poll again).
    fn check_rotated(&mut self, out: &mut Vec<Vec<u8>>) -> io::Result<bool> {
        let Some(cur) = self.cur.as_ref() else {
            return Ok(false);
        };
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed away, nothing new yet: keep reading the old file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if (meta.dev(), meta.ino()) == (cur.dev, cur.ino) {
            return Ok(false);
        }
        self.stats.rotations += 1;
        if let Some(cur) = self.cur.take() {
            if let Some((mut old, _)) = self.retired.take() {
                old.flush_partial(self.framing, out, &mut self.stats);
            }
            self.retired = Some((cur, Instant::now()));
        }
        // The new file is read by the next poll (call again soon).
        self.open_current(out)
    }

    /// Reads the rest of an old file from a rotated sibling (`NAME*` in the
    /// same directory, not compressed): the one with the inode of `pos`, or
    /// else one whose first line matches and that reaches past the offset.
    fn drain_sibling(&mut self, pos: &FilePos, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(());
        };
        let name = name.to_string_lossy().into_owned();
        let Ok(entries) = fs::read_dir(dir) else {
            return Ok(());
        };
        let mut by_head = None;
        for entry in entries.flatten() {
            let fname = entry.file_name().to_string_lossy().into_owned();
            if fname == name
                || !fname.starts_with(&name)
                || fname.ends_with(".gz")
                || fname.ends_with(".xz")
                || fname.ends_with(".bz2")
                || fname.ends_with(".zst")
            {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || meta.len() <= pos.offset {
                continue;
            }
            if (meta.dev(), meta.ino()) == (pos.dev, pos.ino) {
                return self.read_rest(&entry.path(), pos.offset, out);
            }
            if by_head.is_none() && pos.head.is_some() {
                if let Ok(f) = File::open(entry.path()) {
                    if head_hash(&f)? == pos.head {
                        by_head = Some(entry.path());
                    }
                }
            }
        }
        match by_head {
            Some(p) => self.read_rest(&p, pos.offset, out),
            None => Ok(()),
        }
    }

    fn ensure_buf(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0u8; READ_CHUNK];
        }
    }

    fn read_rest(&mut self, path: &Path, offset: u64, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        self.ensure_buf();
        let mut old = Open::new(File::open(path)?, offset)?;
        old.read(
            self.framing,
            &mut self.buf,
            usize::MAX,
            out,
            &mut self.stats,
        )?;
        old.flush_partial(self.framing, out, &mut self.stats);
        Ok(())
    }
}
