//! `ward-sys`: the few raw Linux calls the agent's collector threads share,
//! with no extra crate: a [`Stopper`] (an eventfd another thread writes to
//! stop a collector) and [`wait`] (`poll(2)` on several descriptors with a
//! timeout), [`Worker`] (a collector thread with its stopper, stopped and
//! joined when dropped) and [`background_priority`] (a thread's CPU and I/O priority
//! lowered for bulk work). It owns nothing else.

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

/// A collector's thread and its [`Stopper`]: stopping (or dropping) it
/// signals the stopper and waits for the thread, which hands over what it
/// holds before it returns.
pub struct Worker {
    stopper: Stopper,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts `run` on a thread named `name` with `stack` bytes of stack;
    /// `run` returns once its stopper is stopped.
    pub fn spawn(
        name: &str,
        stack: usize,
        run: impl FnOnce(&Stopper) + Send + 'static,
    ) -> io::Result<Worker> {
        let stopper = Stopper::new()?;
        let stop = stopper.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .stack_size(stack)
            .spawn(move || run(&stop))?;
        Ok(Worker {
            stopper,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The nice value of a background collector thread.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`] (unless
/// it is already lower) and its
/// I/O priority to the lowest of the best-effort class, so bulk work
/// (hashing the file-integrity baseline) yields to the host's programs and
/// to the agent's own session thread. Linux applies both per thread.
/// Failure (e.g. a seccomp filter) is returned and changes nothing else.
pub fn background_priority() -> std::io::Result<()> {
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        // Never raised: a thread already nicer stays so.
        if libc::getpriority(libc::PRIO_PROCESS, tid) < BACKGROUND_NICE
            && libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        // ioprio_set(IOPRIO_WHO_PROCESS, tid, IOPRIO_PRIO_VALUE(BE, 7)).
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_BE: libc::c_long = 2;
        const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
        let prio = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 7;
        if libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            tid as libc::c_long,
            prio,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_worker_is_stopped_and_joined_when_stopped_or_dropped() {
        use std::sync::atomic::AtomicU32;
        let ended = Arc::new(AtomicU32::new(0));
        for drop_it in [false, true] {
            let e = ended.clone();
            let w = Worker::spawn("test-worker", 64 * 1024, move |stop| {
                while !wait(&[stop.fd()], Duration::from_secs(5))[0] {}
                assert!(stop.is_stopped());
                e.fetch_add(1, Ordering::SeqCst);
            })
            .expect("spawn");
            let before = ended.load(Ordering::SeqCst);
            if drop_it {
                drop(w);
            } else {
                w.stop();
            }
            // Joined: the thread's last step happened before stop returned.
            assert_eq!(ended.load(Ordering::SeqCst), before + 1);
        }
    }

    #[test]
    fn background_priority_lowers_only_the_calling_thread() {
        let nice = |tid: libc::id_t| {
            // SAFETY: getpriority on a thread id; errno is not needed here.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }
        };
        // SAFETY: gettid has no arguments.
        let main_tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        let before = nice(main_tid);
        let child = std::thread::spawn(move || {
            background_priority().expect("background_priority");
            // SAFETY: as above.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            let io = unsafe {
                libc::syscall(libc::SYS_ioprio_get, 1 as libc::c_long, tid as libc::c_long)
            };
            (nice(tid), io)
        })
        .join()
        .expect("thread");
        assert_eq!(
            child.0,
            BACKGROUND_NICE.max(before),
            "the thread's nice value"
        );
        assert_eq!(child.1, (2 << 13) | 7, "best-effort class, level 7");
        assert_eq!(nice(main_tid), before, "other threads keep theirs");
    }

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
