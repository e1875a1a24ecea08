//! inotify: the fallback where fanotify is not allowed (no writer pid).

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{drain, Raw, RawEvent, CHANGE_MASK, IS_DIR, OVERFLOW};

const IN_IGNORED: u32 = 0x8000;

/// One parsed inotify event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub wd: i32,
    pub mask: u32,
    pub cookie: u32,
    pub name: Vec<u8>,
}

/// Parses a buffer read from an inotify descriptor; stops at the first
/// event that does not fit. Never panics.
pub fn parse(buf: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 16 <= buf.len() {
        let word = |o: usize| {
            u32::from_ne_bytes([
                buf[at + o],
                buf[at + o + 1],
                buf[at + o + 2],
                buf[at + o + 3],
            ])
        };
        let (wd, mask, cookie, len) = (word(0) as i32, word(4), word(8), word(12) as usize);
        let Some(end) = (at + 16).checked_add(len).filter(|&e| e <= buf.len()) else {
            break;
        };
        let name = &buf[at + 16..end];
        let n = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        out.push(Record {
            wd,
            mask,
            cookie,
            name: name[..n].to_vec(),
        });
        at = end;
    }
    out
}

/// An inotify instance (non-blocking).
pub struct Inotify {
    fd: OwnedFd,
    dirs: HashMap<i32, PathBuf>,
    buf: Vec<u8>,
}

impl Inotify {
    pub fn open() -> io::Result<Inotify> {
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Inotify {
            // SAFETY: fresh descriptor nobody else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            dirs: HashMap::new(),
            buf: vec![0u8; 64 * 1024],
        })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    pub fn add_dir(&mut self, dir: &Path, mask: u32) -> io::Result<()> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("path holds a NUL byte"))?;
        let m =
            (mask & CHANGE_MASK) | libc::IN_ONLYDIR | libc::IN_DONT_FOLLOW | libc::IN_EXCL_UNLINK;
        // SAFETY: `c` is NUL-terminated; plain syscall.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), m) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        self.dirs.insert(wd, dir.to_path_buf());
        Ok(())
    }

    pub fn read(&mut self, out: &mut Vec<Raw>) -> io::Result<()> {
        let mut recs = Vec::new();
        let mut buf = std::mem::take(&mut self.buf);
        let r = drain(self.fd.as_raw_fd(), &mut buf, |chunk| {
            recs.extend(parse(chunk))
        });
        self.buf = buf;
        for r in recs {
            if r.mask & OVERFLOW != 0 {
                out.push(Raw::Overflow);
                continue;
            }
            if r.mask & IN_IGNORED != 0 {
                self.dirs.remove(&r.wd);
                continue;
            }
            let Some(dir) = self.dirs.get(&r.wd) else {
                continue;
            };
            out.push(Raw::Event(RawEvent {
                dir: dir.clone(),
                name: OsString::from_vec(r.name),
                flags: r.mask & (CHANGE_MASK | IS_DIR),
                pid: None,
            }));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(wd: i32, mask: u32, name: &str, pad: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&wd.to_ne_bytes());
        b.extend_from_slice(&mask.to_ne_bytes());
        b.extend_from_slice(&5u32.to_ne_bytes());
        let mut n = name.as_bytes().to_vec();
        n.resize(name.len() + pad, 0);
        b.extend_from_slice(&(n.len() as u32).to_ne_bytes());
        b.extend_from_slice(&n);
        b
    }

    #[test]
    fn parses_padded_names_and_stops_at_truncation() {
        let mut buf = rec(1, 0x100, "x.sh", 12);
        buf.extend(rec(2, 0x8, "", 0));
        let r = parse(&buf);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, b"x.sh");
        assert_eq!((r[0].wd, r[0].mask, r[0].cookie), (1, 0x100, 5));
        assert!(r[1].name.is_empty());
        let one = rec(1, 0x100, "abc", 1);
        for cut in 0..one.len() {
            assert!(parse(&one[..cut]).is_empty(), "cut {cut}");
        }
        // A huge length never reads past the buffer.
        let mut huge = one;
        huge[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse(&huge).is_empty());
    }

    #[test]
    fn real_events_without_a_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Inotify::open().unwrap();
        w.add_dir(dir.path(), CHANGE_MASK).unwrap();
        std::fs::write(dir.path().join("b"), b"x").unwrap();
        let mut out = Vec::new();
        w.read(&mut out).unwrap();
        let flags: u32 = out
            .iter()
            .filter_map(|r| match r {
                Raw::Event(e) if e.name == "b" => Some(e.flags),
                _ => None,
            })
            .fold(0, |a, f| a | f);
        assert_ne!(flags & super::super::CREATED, 0);
        assert_ne!(flags & super::super::CLOSE_WRITE, 0);
        assert!(out
            .iter()
            .all(|r| matches!(r, Raw::Event(e) if e.pid.is_none())));
    }
}
