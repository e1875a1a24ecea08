//! Waiting for changes: raw inotify (no extra crate) on the followed files
//! and their directories; the collector waits on it and a stop eventfd
//! (`ward_sys::{Stopper, wait}`), with a timeout for polling when inotify
//! is unavailable or misses something (NFS, overlay quirks).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const DIR_MASK: u32 = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_MOVED_FROM | libc::IN_DELETE;
const FILE_MASK: u32 = libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_MOVE_SELF
    | libc::IN_DELETE_SELF;

/// An inotify instance (non-blocking).
pub struct Inotify {
    fd: OwnedFd,
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::other("path holds a NUL byte"))
}

impl Inotify {
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Inotify {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn add(&self, path: &Path, mask: u32) -> io::Result<()> {
        let c = cpath(path)?;
        // SAFETY: `c` is a valid NUL-terminated string for the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches a followed file (writes, renames, deletion) — re-adding the
    /// same inode is harmless — and its directory (files appearing).
    pub fn watch_file(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = self.add(dir, DIR_MASK);
        }
        let _ = self.add(path, FILE_MASK);
    }

    /// Discards pending events (any event just means "poll everything").
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a buffer we own, with its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
        }
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
