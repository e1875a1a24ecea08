//! `ward-sys`: the few raw Linux calls the agent's collector threads share,
//! with no extra crate: a [`Stopper`] (an eventfd another thread writes to
//! stop a collector) and [`wait`] (`poll(2)` on several descriptors with a
//! timeout). It owns nothing else.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Wakes a collector thread to stop it. Cheap to clone; every clone shares
/// the eventfd and the flag.
#[derive(Clone)]
pub struct Stopper {
    fd: Arc<OwnedFd>,
    stopped: Arc<AtomicBool>,
}

impl Stopper {
    pub fn new() -> io::Result<Stopper> {
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Stopper {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Asks the thread to stop (idempotent).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local u64 to our eventfd.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Whether [`Stopper::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The eventfd, readable once stopped (to pass to [`wait`]).
    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable (or hung up, or in error) or
/// `timeout` passes; returns which were.
pub fn wait(fds: &[i32], timeout: Duration) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    pfds.iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn stop_wakes_a_waiter_and_sets_the_flag() {
        let s = Stopper::new().unwrap();
        assert!(!s.is_stopped());
        let t0 = Instant::now();
        assert_eq!(wait(&[s.fd()], Duration::from_millis(30)), vec![false]);
        assert!(t0.elapsed() >= Duration::from_millis(25));
        let c = s.clone();
        let h = std::thread::spawn(move || wait(&[c.fd()], Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        s.stop();
        assert_eq!(h.join().unwrap(), vec![true]);
        assert!(s.is_stopped());
    }
}
