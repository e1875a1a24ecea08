//! The netlink process connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`):
//! the socket (raw syscalls, needs root) and a pure parser of the messages
//! it delivers (fuzzed).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_UID: u32 = 0x0000_0004;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One process connector event the collector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// A new process (thread-group leader) forked from `parent`.
    Fork { parent: u32, child: u32 },
    /// `pid` executed a new program.
    Exec { pid: u32 },
    /// `pid` changed its real uid.
    Uid { pid: u32, ruid: u32 },
    /// `pid` (a process, not a thread) exited.
    Exit { pid: u32, code: u32 },
    /// The kernel dropped messages (or answered an error): rescan /proc.
    Overrun,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses every netlink message in one datagram. Unknown and malformed
/// messages are skipped; a message claiming more bytes than there are ends
/// the parse.
pub fn parse_datagram(buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + NLMSG_HDRLEN <= buf.len() {
        let Some(len) = u32_at(buf, at).map(|l| l as usize) else {
            break;
        };
        let Some(kind) = u16_at(buf, at + 4) else {
            break;
        };
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        let msg = &buf[at + NLMSG_HDRLEN..at + len];
        match kind {
            NLMSG_ERROR | NLMSG_OVERRUN => out.push(ProcEvent::Overrun),
            NLMSG_DONE => {
                if let Some(e) = parse_cn_msg(msg) {
                    out.push(e);
                }
            }
            _ => {}
        }
        // NLMSG_ALIGN (4 bytes).
        at += (len + 3) & !3;
    }
    out
}

fn parse_cn_msg(m: &[u8]) -> Option<ProcEvent> {
    let (idx, val) = (u32_at(m, 0)?, u32_at(m, 4)?);
    if idx != CN_IDX_PROC || val != CN_VAL_PROC {
        return None;
    }
    let data_len = usize::from(u16_at(m, 16)?);
    let ev = m.get(CN_MSG_LEN..CN_MSG_LEN + data_len)?;
    // proc_event: what u32, cpu u32, timestamp u64, then the union.
    let what = u32_at(ev, 0)?;
    let d = ev.get(16..)?;
    match what {
        PROC_EVENT_FORK => {
            let (ppid, ptgid, cpid, ctgid) =
                (u32_at(d, 0)?, u32_at(d, 4)?, u32_at(d, 8)?, u32_at(d, 12)?);
            // Threads (child pid != tgid) are not processes.
            (cpid == ctgid).then_some(ProcEvent::Fork {
                parent: if ptgid != 0 { ptgid } else { ppid },
                child: ctgid,
            })
        }
        PROC_EVENT_EXEC => Some(ProcEvent::Exec { pid: u32_at(d, 4)? }),
        PROC_EVENT_UID => {
            let (pid, tgid) = (u32_at(d, 0)?, u32_at(d, 4)?);
            (pid == tgid).then_some(ProcEvent::Uid {
                pid: tgid,
                ruid: u32_at(d, 8)?,
            })
        }
        PROC_EVENT_EXIT => {
            let (pid, tgid) = (u32_at(d, 0)?, u32_at(d, 4)?);
            (pid == tgid).then_some(ProcEvent::Exit {
                pid: tgid,
                code: u32_at(d, 8)?,
            })
        }
        _ => None,
    }
}

/// Builds the subscription message (`PROC_CN_MCAST_LISTEN`). With
/// `only`, a mask of event types (Linux 6.6+ `struct proc_input`), the
/// kernel sends only those: exec alone is a third of the messages of
/// fork + exec + exit, so a third of the wake-ups.
pub fn listen_message(pid: u32, only: Option<u32>) -> Vec<u8> {
    let data = if only.is_some() { 8 } else { 4 };
    let total = NLMSG_HDRLEN + CN_MSG_LEN + data;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&pid.to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&(data as u16).to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    if let Some(mask) = only {
        m.extend_from_slice(&mask.to_ne_bytes());
    }
    m
}

/// Whether this kernel filters connector events by type (6.6 or later):
/// older ones ignore a filtered subscription altogether.
pub fn kernel_filters_events(release: &str) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 6)
}

/// The event mask of an exec-only subscription.
pub const EXEC_ONLY: u32 = PROC_EVENT_EXEC;

/// A subscribed, non-blocking process connector socket.
pub struct Connector {
    fd: OwnedFd,
}

impl Connector {
    /// Opens and subscribes (needs CAP_NET_ADMIN; fails in most containers);
    /// `only`: see [`listen_message`].
    pub fn open(rcvbuf: usize, only: Option<u32>) -> io::Result<Connector> {
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let size = i32::try_from(rcvbuf).unwrap_or(i32::MAX);
        // SAFETY: setsockopt with a valid int option value; failure only
        // leaves the default buffer size (SO_RCVBUFFORCE needs root).
        unsafe {
            let p = (&size as *const i32).cast();
            if libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, p, 4) != 0 {
                libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, p, 4);
            }
        }
        // SAFETY: a zeroed sockaddr_nl is valid; we fill family and groups.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl of the given size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let msg = listen_message(0, only);
        // SAFETY: sends our own buffer of the given length.
        let n = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Connector { fd })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Reads every pending datagram into events. An overflowed socket
    /// (`ENOBUFS`) yields [`ProcEvent::Overrun`].
    pub fn read(&self, buf: &mut [u8], out: &mut Vec<ProcEvent>) -> io::Result<()> {
        loop {
            // SAFETY: receives into our buffer of the given length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(()),
                    Some(libc::ENOBUFS) => {
                        out.push(ProcEvent::Overrun);
                        continue;
                    }
                    Some(libc::EINTR) => continue,
                    _ => Err(e),
                };
            }
            if n == 0 {
                return Ok(());
            }
            out.extend(parse_datagram(&buf[..n as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector datagram as the kernel builds it (layout from
    /// <linux/cn_proc.h>, written independently of the parser).
    fn datagram(what: u32, data: &[u32]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes()); // cpu
        ev.extend_from_slice(&123u64.to_ne_bytes()); // timestamp
        for d in data {
            ev.extend_from_slice(&d.to_ne_bytes());
        }
        let mut cn = Vec::new();
        cn.extend_from_slice(&1u32.to_ne_bytes());
        cn.extend_from_slice(&1u32.to_ne_bytes());
        cn.extend_from_slice(&[0u8; 8]);
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&0u16.to_ne_bytes());
        cn.extend_from_slice(&ev);
        let len = 16 + cn.len();
        let mut nl = Vec::new();
        nl.extend_from_slice(&(len as u32).to_ne_bytes());
        nl.extend_from_slice(&3u16.to_ne_bytes());
        nl.extend_from_slice(&[0u8; 10]);
        nl.extend_from_slice(&cn);
        while nl.len() % 4 != 0 {
            nl.push(0);
        }
        nl
    }

    #[test]
    fn exec_fork_uid_exit_and_threads() {
        assert_eq!(
            parse_datagram(&datagram(PROC_EVENT_EXEC, &[77, 77])),
            vec![ProcEvent::Exec { pid: 77 }]
        );
        assert_eq!(
            parse_datagram(&datagram(PROC_EVENT_FORK, &[10, 10, 11, 11])),
            vec![ProcEvent::Fork {
                parent: 10,
                child: 11
            }]
        );
        // A new thread of process 10.
        assert!(parse_datagram(&datagram(PROC_EVENT_FORK, &[10, 10, 12, 10])).is_empty());
        assert_eq!(
            parse_datagram(&datagram(PROC_EVENT_EXIT, &[11, 11, 256, 17, 10, 10])),
            vec![ProcEvent::Exit { pid: 11, code: 256 }]
        );
        assert!(parse_datagram(&datagram(PROC_EVENT_EXIT, &[12, 11, 0, 0])).is_empty());
        assert_eq!(
            parse_datagram(&datagram(PROC_EVENT_UID, &[11, 11, 1000, 1000])),
            vec![ProcEvent::Uid {
                pid: 11,
                ruid: 1000
            }]
        );
        // The listen acknowledgement (what = 0) and unknown events.
        assert!(parse_datagram(&datagram(0, &[0, 0])).is_empty());
        assert!(parse_datagram(&datagram(0x200, &[1, 1, 0, 0, 0, 0])).is_empty());
    }

    #[test]
    fn several_messages_truncation_and_garbage() {
        let mut two = datagram(PROC_EVENT_EXEC, &[1, 1]);
        two.extend(datagram(PROC_EVENT_EXEC, &[2, 2]));
        assert_eq!(
            parse_datagram(&two),
            vec![ProcEvent::Exec { pid: 1 }, ProcEvent::Exec { pid: 2 }]
        );
        let one = datagram(PROC_EVENT_EXEC, &[1, 1]);
        for cut in 0..one.len() {
            assert!(parse_datagram(&one[..cut]).is_empty(), "cut at {cut}");
        }
        // An error message means lost events.
        let mut err = vec![0u8; 36];
        err[..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(parse_datagram(&err), vec![ProcEvent::Overrun]);
        // A zero length never loops.
        assert!(parse_datagram(&[0u8; 64]).is_empty());
    }

    #[test]
    fn listen_message_layout() {
        let f = listen_message(5, Some(EXEC_ONLY));
        assert_eq!(f.len(), 44);
        assert_eq!(u16_at(&f, 32), Some(8));
        assert_eq!(u32_at(&f, 40), Some(PROC_EVENT_EXEC));
        assert!(kernel_filters_events("6.18.44-fc-v1252"));
        assert!(kernel_filters_events("6.6.0"));
        assert!(!kernel_filters_events("6.1.0-18-amd64"));
        assert!(!kernel_filters_events("5.15.0"));
        assert!(!kernel_filters_events("garbage"));
        let m = listen_message(5, None);
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u16_at(&m, 4), Some(NLMSG_DONE));
        assert_eq!(u32_at(&m, 12), Some(5));
        assert_eq!(u32_at(&m, 16), Some(CN_IDX_PROC));
        assert_eq!(u16_at(&m, 32), Some(4));
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
    }
}
