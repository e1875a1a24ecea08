//! Process plumbing shared by `ward-agent` and `ward-update`: flocks and
//! their holders, pid files, detached `run` processes in their own session,
//! starting one and waiting for it, stopping a lock holder.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::START_TIMEOUT;
use crate::layout::Layout;
use crate::AgentError;

fn flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    // SAFETY: flock on a file descriptor we own; no memory is touched.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// True when nobody holds an exclusive lock on `file` (probed with a shared
/// lock that is released again at once).
pub fn try_flock_shared(file: &File) -> io::Result<bool> {
    if !flock(file, libc::LOCK_SH)? {
        return Ok(false);
    }
    // SAFETY: unlocking a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    Ok(true)
}

/// Spawns `cmd` as the leader of a new session (detached from our terminal
/// and process group) and reaps it in a thread when it exits.
pub fn spawn_session_leader(cmd: &mut Command) -> io::Result<u32> {
    // SAFETY: only async-signal-safe setsid() runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::spawn(move || child.wait());
    Ok(pid)
}

pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid of the process holding the flock of `lock` (read from
/// `pid_file`; `Some(0)` while it is not written yet), `None` if nobody
/// holds it.
pub fn lock_holder(lock: &Path, pid_file: &Path) -> Option<u32> {
    let file = File::open(lock).ok()?;
    match flock(&file, libc::LOCK_SH) {
        Ok(true) => None, // nobody holds it; closing the file releases ours
        Ok(false) => Some(read_pid(pid_file).unwrap_or(0)),
        Err(_) => None,
    }
}

/// Takes the exclusive flock of `path` (created 0600); `None` if another
/// process holds it (retried for `patience`).
pub fn try_lock_path(path: &Path, patience: Duration) -> Result<Option<File>, AgentError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| AgentError::io("opening", path, e))?;
    let deadline = Instant::now() + patience;
    loop {
        if flock(&file, libc::LOCK_EX).map_err(|e| AgentError::io("locking", path, e))? {
            return Ok(Some(file));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `program run --prefix PREFIX` in a new session (stdin closed,
/// output appended to `log`) and returns it without waiting.
pub fn spawn_run(
    program: &Path,
    layout: &Layout,
    log_path: &Path,
) -> Result<std::process::Child, AgentError> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(log_path)
        .map_err(|e| AgentError::io("opening", log_path, e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| AgentError::io("opening", log_path, e))?;
    let mut cmd = Command::new(program);
    cmd.arg("run")
        .arg("--prefix")
        .arg(layout.prefix())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // SAFETY: only async-signal-safe setsid() runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| AgentError::io("starting", program, e))
}

/// Kills a process group made by [`spawn_run`] (its leader is `pid`) and reaps it.
pub fn kill_group(child: &mut std::process::Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill() of the process group we created with setsid().
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `program run` detached (see [`spawn_run`]) and waits until
/// `ready(child pid)`. A child that exits while another process of the same
/// program holds the lock (`holder`: the guardian or a concurrent start won
/// the race) is a success with that pid. One that is not ready within
/// [`START_TIMEOUT`] is killed with its process group. A started child is
/// reaped when it exits, so a long-lived caller (ward-update) leaves no
/// zombies.
pub fn start_and_wait(
    program: &Path,
    layout: &Layout,
    log_path: &Path,
    what: &str,
    ready: impl Fn(u32) -> bool,
    holder: impl Fn() -> Option<u32>,
    exit_detail: impl Fn() -> String,
) -> Result<u32, AgentError> {
    let mut child = spawn_run(program, layout, log_path)?;
    let pid = child.id();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            if let Some(other) = holder() {
                return Ok(other);
            }
            return Err(AgentError::Runtime(format!(
                "{what} exited at start ({st}); {}{}",
                log_path.display(),
                exit_detail()
            )));
        }
        if ready(pid) {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(pid);
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Err(AgentError::Runtime(format!(
                "{what} did not start within {} s (killed); see {}",
                START_TIMEOUT.as_secs(),
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops the process holding the flock of `lock` (its pid in `pid_file`):
/// SIGTERM, then SIGKILL after `grace`. The pid stopped, `None` if nobody
/// holds the lock; an error when it holds it with an unusable pid file or
/// survives SIGKILL. `what` names it in messages.
pub fn stop_lock_holder(
    lock: &Path,
    pid_file: &Path,
    what: &str,
    grace: Duration,
) -> Result<Option<u32>, AgentError> {
    let holder = || lock_holder(lock, pid_file);
    let Some(mut pid) = holder() else {
        return Ok(None);
    };
    if pid == 0 {
        // Starting right now: give it a moment to write its pid file.
        std::thread::sleep(Duration::from_millis(500));
        match holder() {
            Some(p) => pid = p,
            None => return Ok(None),
        }
    }
    if pid <= 1 || pid == std::process::id() {
        return Err(AgentError::Runtime(format!(
            "{what} holds {} but its pid file ({}) is unusable",
            lock.display(),
            pid_file.display()
        )));
    }
    let signal = |sig| {
        // SAFETY: kill() with the pid of the lock holder, checked above.
        unsafe { libc::kill(pid as libc::pid_t, sig) }
    };
    let stopped_within = |timeout: Duration| {
        let deadline = Instant::now() + timeout;
        while holder().is_some() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    };
    signal(libc::SIGTERM);
    if stopped_within(grace) {
        return Ok(Some(pid));
    }
    tracing::warn!(pid, "{what} did not stop after SIGTERM; sending SIGKILL");
    signal(libc::SIGKILL);
    if stopped_within(Duration::from_secs(5)) {
        Ok(Some(pid))
    } else {
        Err(AgentError::Runtime(format!(
            "{what} (pid {pid}) did not stop"
        )))
    }
}
