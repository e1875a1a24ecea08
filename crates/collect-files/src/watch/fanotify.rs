//! fanotify with directory-entry events and the writer's pid
//! (`FAN_REPORT_DFID_NAME`, Linux 5.9+, CAP_SYS_ADMIN). Each watched
//! directory is an inode mark with `FAN_EVENT_ON_CHILD`; events name the
//! directory by file handle, which is mapped back to the path we marked.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{drain, Raw, RawEvent, CHANGE_MASK, IS_DIR, OVERFLOW};

const METADATA_LEN: usize = 24;
const METADATA_VERSION: u8 = 3;
const INFO_DFID_NAME: u8 = 2;
const INFO_DFID: u8 = 3;
const INFO_FID: u8 = 1;
const MAX_HANDLE: usize = 128;

/// One parsed fanotify event: mask, pid, and the directory handle
/// (`fsid` + handle type + bytes) with the entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub mask: u64,
    pub pid: i32,
    /// `fsid[0..8] | handle_type[4] | handle bytes`: the directory's key.
    pub dir_key: Vec<u8>,
    pub name: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a buffer read from a fanotify descriptor. Stops at the first
/// malformed event (a short or inconsistent length); never panics.
pub fn parse(buf: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + METADATA_LEN <= buf.len() {
        let Some(len) = u32_at(buf, at).map(|l| l as usize) else {
            break;
        };
        let vers = buf[at + 4];
        let meta_len = u16_at(buf, at + 6).map(usize::from).unwrap_or(0);
        if len < METADATA_LEN || meta_len < METADATA_LEN || meta_len > len || at + len > buf.len() {
            break;
        }
        if vers != METADATA_VERSION {
            at += len;
            continue;
        }
        let ev = &buf[at..at + len];
        let mask = u64_at(ev, 8).unwrap_or(0);
        let pid = u32_at(ev, 20).map(|p| p as i32).unwrap_or(-1);
        let mut rec = Record {
            mask,
            pid,
            dir_key: Vec::new(),
            name: Vec::new(),
        };
        let mut i = meta_len;
        while i + 4 <= ev.len() {
            let kind = ev[i];
            let ilen = u16_at(ev, i + 2).map(usize::from).unwrap_or(0);
            if ilen < 4 || i + ilen > ev.len() {
                break;
            }
            let info = &ev[i..i + ilen];
            if matches!(kind, INFO_DFID_NAME | INFO_DFID | INFO_FID) && rec.dir_key.is_empty() {
                // header(4) fsid(8) handle_bytes(4) handle_type(4) handle[n] [name\0]
                if let Some(hb) = u32_at(info, 12).map(|h| h as usize) {
                    let end = 20usize.saturating_add(hb);
                    if hb <= MAX_HANDLE && end <= info.len() {
                        rec.dir_key.extend_from_slice(&info[4..12]);
                        rec.dir_key.extend_from_slice(&info[16..20]);
                        rec.dir_key.extend_from_slice(&info[20..end]);
                        if kind == INFO_DFID_NAME {
                            let name = &info[end..];
                            let n = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                            rec.name = name[..n].to_vec();
                        }
                    }
                }
            }
            i += ilen;
        }
        out.push(rec);
        at += len;
    }
    out
}

/// A fanotify group (non-blocking).
pub struct Fanotify {
    fd: OwnedFd,
    dirs: HashMap<Vec<u8>, PathBuf>,
    buf: Vec<u8>,
}

/// The key fanotify events use for `dir`: fsid + handle type + handle.
pub fn dir_key(dir: &Path) -> io::Result<Vec<u8>> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("path holds a NUL byte"))?;
    // SAFETY: a zeroed statfs is valid for statfs to fill.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated; `sfs` is writable.
    if unsafe { libc::statfs(c.as_ptr(), &mut sfs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // struct file_handle with room for MAX_HANDLE bytes.
    let mut fh = vec![0u8; 8 + MAX_HANDLE];
    fh[..4].copy_from_slice(&(MAX_HANDLE as u32).to_ne_bytes());
    let mut mount_id: i32 = 0;
    // SAFETY: `fh` holds a file_handle header and MAX_HANDLE bytes, as
    // handle_bytes says; `mount_id` is writable.
    let rc = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            c.as_ptr(),
            fh.as_mut_ptr().cast(),
            &mut mount_id,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let hb = (u32_at(&fh, 0).unwrap_or(0) as usize).min(MAX_HANDLE);
    // SAFETY: f_fsid is two ints; read them as bytes.
    let fsid: [u8; 8] = unsafe { std::mem::transmute(sfs.f_fsid) };
    let mut key = fsid.to_vec();
    key.extend_from_slice(&fh[4..8]);
    key.extend_from_slice(&fh[8..8 + hb]);
    Ok(key)
}

impl Fanotify {
    pub fn open() -> io::Result<Fanotify> {
        let flags = libc::FAN_CLASS_NOTIF
            | libc::FAN_REPORT_DFID_NAME
            | libc::FAN_NONBLOCK
            | libc::FAN_CLOEXEC;
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe { libc::fanotify_init(flags, (libc::O_RDONLY | libc::O_LARGEFILE) as u32) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Fanotify {
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
        let key = dir_key(dir)?;
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("path holds a NUL byte"))?;
        let m = u64::from(mask & CHANGE_MASK) | libc::FAN_EVENT_ON_CHILD | libc::FAN_ONDIR;
        // SAFETY: `c` is NUL-terminated; plain syscall.
        let rc = unsafe {
            libc::fanotify_mark(
                self.fd.as_raw_fd(),
                libc::FAN_MARK_ADD | libc::FAN_MARK_ONLYDIR | libc::FAN_MARK_DONT_FOLLOW,
                m,
                libc::AT_FDCWD,
                c.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.dirs.insert(key, dir.to_path_buf());
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
            if r.mask & u64::from(OVERFLOW) != 0 {
                out.push(Raw::Overflow);
                continue;
            }
            let Some(dir) = self.dirs.get(&r.dir_key) else {
                continue;
            };
            out.push(Raw::Event(RawEvent {
                dir: dir.clone(),
                name: OsString::from_vec(r.name),
                flags: (r.mask as u32 & (CHANGE_MASK | IS_DIR)),
                pid: u32::try_from(r.pid).ok().filter(|&p| p > 0),
            }));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event as the kernel lays it out (<linux/fanotify.h>), written
    /// independently of the parser.
    fn event(mask: u64, pid: i32, handle: &[u8], name: &str) -> Vec<u8> {
        let mut info = Vec::new();
        info.push(INFO_DFID_NAME);
        info.push(0);
        info.extend_from_slice(&[0, 0]); // len, patched below
        info.extend_from_slice(&[7, 0, 0, 0, 9, 0, 0, 0]); // fsid
        info.extend_from_slice(&(handle.len() as u32).to_ne_bytes());
        info.extend_from_slice(&1i32.to_ne_bytes()); // handle type
        info.extend_from_slice(handle);
        info.extend_from_slice(name.as_bytes());
        info.push(0);
        while info.len() % 4 != 0 {
            info.push(0);
        }
        let ilen = info.len() as u16;
        info[2..4].copy_from_slice(&ilen.to_ne_bytes());
        let len = (METADATA_LEN + info.len()) as u32;
        let mut ev = Vec::new();
        ev.extend_from_slice(&len.to_ne_bytes());
        ev.push(METADATA_VERSION);
        ev.push(0);
        ev.extend_from_slice(&(METADATA_LEN as u16).to_ne_bytes());
        ev.extend_from_slice(&mask.to_ne_bytes());
        ev.extend_from_slice(&(-1i32).to_ne_bytes());
        ev.extend_from_slice(&pid.to_ne_bytes());
        ev.extend_from_slice(&info);
        ev
    }

    #[test]
    fn parses_dfid_name_events() {
        let mut buf = event(0x108, 4242, &[1, 2, 3, 4, 5, 6, 7, 8], "cron.job");
        buf.extend(event(0x200, 7, &[9; 12], "x"));
        let r = parse(&buf);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].mask, 0x108);
        assert_eq!(r[0].pid, 4242);
        assert_eq!(r[0].name, b"cron.job");
        let mut key = vec![7, 0, 0, 0, 9, 0, 0, 0];
        key.extend_from_slice(&1i32.to_ne_bytes());
        key.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(r[0].dir_key, key);
        assert_eq!(r[1].name, b"x");
    }

    #[test]
    fn truncated_and_hostile_buffers_end_the_parse() {
        let one = event(0x8, 1, &[1; 8], "name");
        for cut in 0..one.len() {
            assert!(parse(&one[..cut]).is_empty(), "cut {cut}");
        }
        // A length below the metadata size never loops.
        let mut bad = one.clone();
        bad[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse(&bad).is_empty());
        // A handle claiming more bytes than the record: no key.
        let mut big = one.clone();
        big[METADATA_LEN + 12..METADATA_LEN + 16].copy_from_slice(&1000u32.to_ne_bytes());
        let r = parse(&big);
        assert!(r[0].dir_key.is_empty());
        // Another metadata version is skipped.
        let mut v = one;
        v[4] = 2;
        assert!(parse(&v).is_empty());
    }

    #[test]
    fn real_events_carry_the_writer_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fanotify::open().expect("fanotify (root, Linux 5.9+)");
        f.add_dir(dir.path(), CHANGE_MASK).unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        let mut out = Vec::new();
        for _ in 0..50 {
            f.read(&mut out).unwrap();
            if !out.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let Raw::Event(e) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(e.dir, dir.path());
        assert_eq!(e.name, "a");
        assert_eq!(e.pid, Some(std::process::id()));
        assert_ne!(e.flags & super::super::CREATED, 0);
    }
}
