//! Directory watches: fanotify (with the writer's pid, Linux 5.9+) or
//! inotify, both reduced to [`RawEvent`]s. The buffer parsers are pure and
//! fuzzed (`fuzz/fuzz_targets/file_parse.rs`).

pub mod fanotify;
pub mod inotify;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// A path appeared in the directory.
pub const CREATED: u32 = 0x100;
/// A path was removed.
pub const DELETED: u32 = 0x200;
/// A path was renamed away (to another name, maybe another directory).
pub const MOVED_FROM: u32 = 0x40;
/// A path was renamed to this name.
pub const MOVED_TO: u32 = 0x80;
/// A file opened for writing was closed.
pub const CLOSE_WRITE: u32 = 0x8;
/// Mode, owner, times or links changed.
pub const ATTRIB: u32 = 0x4;
/// The path is a directory.
pub const IS_DIR: u32 = 0x4000_0000;
/// The kernel dropped events: rescan.
pub const OVERFLOW: u32 = 0x4000;

/// The change bits both backends share (the same values in fanotify and inotify).
pub const CHANGE_MASK: u32 = CREATED | DELETED | MOVED_FROM | MOVED_TO | CLOSE_WRITE | ATTRIB;

/// One change under a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The watched directory.
    pub dir: PathBuf,
    /// The entry's name in it.
    pub name: OsString,
    /// [`CREATED`], [`DELETED`], ... and [`IS_DIR`].
    pub flags: u32,
    /// The process that made the change (fanotify only).
    pub pid: Option<u32>,
}

impl RawEvent {
    pub fn path(&self) -> PathBuf {
        if self.name.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(&self.name)
        }
    }
}

/// What a backend delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    Event(RawEvent),
    /// Events were lost (queue overflow): the caller rescans.
    Overflow,
}

/// A directory-watching backend.
pub enum Watcher {
    Fanotify(fanotify::Fanotify),
    Inotify(inotify::Inotify),
}

impl Watcher {
    /// fanotify when the kernel and privileges allow, else inotify.
    pub fn open(prefer_fanotify: bool) -> io::Result<Watcher> {
        if prefer_fanotify {
            match fanotify::Fanotify::open() {
                Ok(f) => return Ok(Watcher::Fanotify(f)),
                Err(e) => tracing::info!(error = %e, "fanotify unavailable; using inotify"),
            }
        }
        inotify::Inotify::open().map(Watcher::Inotify)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Watcher::Fanotify(_) => "fanotify",
            Watcher::Inotify(_) => "inotify",
        }
    }

    pub fn fd(&self) -> i32 {
        match self {
            Watcher::Fanotify(f) => f.fd(),
            Watcher::Inotify(i) => i.fd(),
        }
    }

    /// Watches the entries of `dir` (not recursive).
    pub fn add_dir(&mut self, dir: &Path, mask: u32) -> io::Result<()> {
        match self {
            Watcher::Fanotify(f) => f.add_dir(dir, mask),
            Watcher::Inotify(i) => i.add_dir(dir, mask),
        }
    }

    /// Directories watched.
    pub fn len(&self) -> usize {
        match self {
            Watcher::Fanotify(f) => f.len(),
            Watcher::Inotify(i) => i.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads every pending event.
    pub fn read(&mut self, out: &mut Vec<Raw>) -> io::Result<()> {
        match self {
            Watcher::Fanotify(f) => f.read(out),
            Watcher::Inotify(i) => i.read(out),
        }
    }
}

/// Reads a non-blocking descriptor until it would block; calls `f` with
/// each chunk.
pub(crate) fn drain(fd: i32, buf: &mut [u8], mut f: impl FnMut(&[u8])) -> io::Result<()> {
    loop {
        // SAFETY: reads into our buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(()),
                Some(libc::EINTR) => continue,
                _ => Err(e),
            };
        }
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n as usize]);
    }
}
