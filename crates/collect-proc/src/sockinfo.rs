//! What socket a process's descriptor is, in O(1) whatever the size of the
//! host's socket tables: the descriptor is copied with `pidfd_getfd(2)`
//! (Linux 5.6+, root) and asked with `getsockopt`/`getsockname`/
//! `getpeername`. The copy is closed at once; the process is not affected.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ward_events::FdKind;

/// Family, addresses of descriptor `fd` of `pid`; `None` when the kernel
/// refuses (old kernel, no privilege, process gone).
pub fn describe(pid: u32, fd: u32) -> Option<(FdKind, Option<SocketAddr>, Option<SocketAddr>)> {
    let pid = i32::try_from(pid).ok()?;
    // SAFETY: plain syscalls with integer arguments; returned descriptors
    // are owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: as above.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if copy < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor nobody else owns (a copy of the target's).
    let sock = unsafe { OwnedFd::from_raw_fd(copy as i32) };
    let s = sock.as_raw_fd();
    let domain = sockopt(s, libc::SO_DOMAIN)?;
    let kind = match (domain, sockopt(s, libc::SO_TYPE)) {
        (libc::AF_INET | libc::AF_INET6, Some(libc::SOCK_STREAM)) => FdKind::Tcp,
        (libc::AF_INET | libc::AF_INET6, Some(libc::SOCK_DGRAM)) => FdKind::Udp,
        (libc::AF_UNIX, _) => FdKind::Unix,
        _ => FdKind::Socket,
    };
    if !kind.is_inet() {
        return Some((kind, None, None));
    }
    Some((kind, name(s, libc::getsockname), name(s, libc::getpeername)))
}

fn sockopt(fd: i32, opt: i32) -> Option<i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v)
}

type NameFn = unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32;

fn name(fd: i32, f: NameFn) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_storage is valid; the call writes at most
    // `len` bytes into it.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above.
    let rc = unsafe {
        f(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    from_storage(&ss)
}

fn from_storage(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
            let v6 = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let ip = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
            Some(SocketAddr::new(ip, u16::from_be(a.sin6_port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    #[test]
    fn tcp_udp_and_unix_of_this_process() {
        let me = std::process::id();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (kind, local, remote) =
            describe(me, c.as_raw_fd() as u32).expect("pidfd_getfd works as root");
        assert_eq!(kind, FdKind::Tcp);
        assert_eq!(local, Some(c.local_addr().unwrap()));
        assert_eq!(remote, Some(l.local_addr().unwrap()));
        let v6 = TcpListener::bind("[::1]:0").unwrap();
        let c6 = TcpStream::connect(v6.local_addr().unwrap()).unwrap();
        let (_, _, remote) = describe(me, c6.as_raw_fd() as u32).unwrap();
        assert_eq!(remote, Some(v6.local_addr().unwrap()));
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (kind, local, remote) = describe(me, u.as_raw_fd() as u32).unwrap();
        assert_eq!(kind, FdKind::Udp);
        assert_eq!(local, Some(u.local_addr().unwrap()));
        assert_eq!(remote, None, "not connected");
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(
            describe(me, a.as_raw_fd() as u32).map(|d| d.0),
            Some(FdKind::Unix)
        );
        assert_eq!(describe(me, 9999), None, "no such descriptor");
    }
}
