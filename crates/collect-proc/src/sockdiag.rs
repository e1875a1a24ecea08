//! The host's TCP sockets through netlink `sock_diag` (`inet_diag`), a
//! binary dump far cheaper for the kernel than formatting
//! `/proc/net/tcp{,6}` (which stays the fallback). The parser is pure and
//! fuzzed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::parse::{SockEntry, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_SENT};

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const DIAG_MSG_LEN: usize = 72;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn addr(family: u8, b: &[u8]) -> Option<IpAddr> {
    match i32::from(family) {
        libc::AF_INET => {
            let o: [u8; 4] = b.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        }
        libc::AF_INET6 => {
            let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
            let v6 = Ipv6Addr::from(o);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    }
}

/// What one datagram of the dump holds: entries `(socket, is_v6)`, and
/// whether the dump ended (`NLMSG_DONE`) or failed (`NLMSG_ERROR`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    pub entries: Vec<(SockEntry, bool)>,
    pub done: bool,
    pub error: bool,
}

/// Parses one datagram of a `SOCK_DIAG_BY_FAMILY` dump. Malformed
/// messages end the parse; never panics.
pub fn parse(buf: &[u8]) -> Chunk {
    let mut c = Chunk::default();
    let mut at = 0usize;
    while at + 16 <= buf.len() {
        let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) else {
            break;
        };
        let len = len as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        let m = &buf[at + 16..at + len];
        match kind {
            NLMSG_DONE => c.done = true,
            NLMSG_ERROR => c.error = true,
            SOCK_DIAG_BY_FAMILY if m.len() >= DIAG_MSG_LEN => {
                let family = m[0];
                let entry = (|| {
                    Some(SockEntry {
                        local: (addr(family, &m[8..24])?, be16_at(m, 4)?),
                        remote: (addr(family, &m[24..40])?, be16_at(m, 6)?),
                        state: m[1],
                        uid: u32_at(m, 64)?,
                        inode: u64::from(u32_at(m, 68)?),
                    })
                })();
                if let Some(e) = entry {
                    c.entries.push((e, i32::from(family) == libc::AF_INET6));
                }
            }
            _ => {}
        }
        at += (len + 3) & !3;
    }
    c
}

/// The request for one family's TCP sockets in the states we track.
pub fn request(family: u8) -> Vec<u8> {
    let states: u32 = (1 << TCP_ESTABLISHED) | (1 << TCP_SYN_SENT) | (1 << TCP_LISTEN);
    let mut r = Vec::with_capacity(16 + 56);
    r.extend_from_slice(&72u32.to_ne_bytes());
    r.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    r.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    r.extend_from_slice(&[0u8; 8]); // seq, pid
    r.push(family);
    r.push(libc::IPPROTO_TCP as u8);
    r.push(0); // ext
    r.push(0); // pad
    r.extend_from_slice(&states.to_ne_bytes());
    r.extend_from_slice(&[0u8; 48]); // sockid: any
    r
}

/// A netlink `sock_diag` socket.
pub struct SockDiag {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl SockDiag {
    pub fn open() -> io::Result<SockDiag> {
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Replies must not block forever if the kernel never answers.
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a valid timeval of the given size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
        Ok(SockDiag {
            fd,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// Every IPv4 and IPv6 TCP socket that listens, is established or is
    /// connecting.
    pub fn dump(&mut self) -> io::Result<Vec<(SockEntry, bool)>> {
        let mut out = Vec::new();
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            let req = request(family);
            // SAFETY: sends our own buffer of the given length to the kernel
            // (a zeroed sockaddr_nl addresses it).
            let n = unsafe {
                let mut sa: libc::sockaddr_nl = std::mem::zeroed();
                sa.nl_family = libc::AF_NETLINK as u16;
                libc::sendto(
                    self.fd.as_raw_fd(),
                    req.as_ptr().cast(),
                    req.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as u32,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            loop {
                // SAFETY: receives into our buffer of the given length.
                let n = unsafe {
                    libc::recv(
                        self.fd.as_raw_fd(),
                        self.buf.as_mut_ptr().cast(),
                        self.buf.len(),
                        0,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return Err(e);
                }
                let c = parse(&self.buf[..n as usize]);
                out.extend(c.entries);
                if c.error {
                    return Err(io::Error::other("sock_diag refused the dump"));
                }
                if c.done || n == 0 {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn the_dump_sees_this_process_sockets_with_their_inodes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let mut d = SockDiag::open().expect("sock_diag");
        let all = d.dump().expect("dump");
        let local = c.local_addr().unwrap();
        let e = all
            .iter()
            .find(|(e, _)| e.local == (local.ip(), local.port()))
            .expect("our connection")
            .0;
        assert_eq!(
            e.remote,
            (l.local_addr().unwrap().ip(), l.local_addr().unwrap().port())
        );
        assert_eq!(e.state, TCP_ESTABLISHED);
        // The same inode /proc gives for the descriptor.
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", c.as_raw_fd())).unwrap();
        assert_eq!(link.to_string_lossy(), format!("socket:[{}]", e.inode));
        assert!(all
            .iter()
            .any(|(e, _)| e.state == TCP_LISTEN && e.local.1 == l.local_addr().unwrap().port()));
    }

    #[test]
    fn parse_handles_done_error_and_truncation() {
        let mut msg = vec![0u8; 16 + DIAG_MSG_LEN];
        msg[..4].copy_from_slice(&((16 + DIAG_MSG_LEN) as u32).to_ne_bytes());
        msg[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        let m = &mut msg[16..];
        m[0] = libc::AF_INET as u8;
        m[1] = TCP_ESTABLISHED;
        m[4..6].copy_from_slice(&4444u16.to_be_bytes());
        m[6..8].copy_from_slice(&80u16.to_be_bytes());
        m[8..12].copy_from_slice(&[10, 0, 0, 1]);
        m[24..28].copy_from_slice(&[192, 0, 2, 9]);
        m[68..72].copy_from_slice(&777u32.to_ne_bytes());
        let mut done = vec![0u8; 20];
        done[..4].copy_from_slice(&20u32.to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        let mut buf = msg.clone();
        buf.extend(&done);
        let c = parse(&buf);
        assert!(c.done);
        assert_eq!(c.entries.len(), 1);
        let (e, v6) = c.entries[0];
        assert!(!v6);
        assert_eq!(e.local, ("10.0.0.1".parse().unwrap(), 4444));
        assert_eq!(e.remote, ("192.0.2.9".parse().unwrap(), 80));
        assert_eq!(e.inode, 777);
        for cut in 0..msg.len() {
            assert!(parse(&msg[..cut]).entries.is_empty(), "cut {cut}");
        }
        assert_eq!(request(libc::AF_INET as u8).len(), 72);
    }
}
