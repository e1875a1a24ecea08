//! The guardian: `ward-update` keeps `ward-agent` running and `ward-agent`
//! keeps `ward-update` running, with or without systemd.
//!
//! Each side calls [`Guardian::tick`] about once a second. A program counts
//! as running while something holds its lock file (`data/agent.lock`,
//! `data/update.lock`); when nothing does, the guardian starts it again:
//! `systemctl start <unit>` when systemd is init and the unit is installed,
//! otherwise `bin/<program> run --prefix PREFIX` detached (new session,
//! output appended to its log). Nothing is restarted while `data/stopped`
//! or `data/uninstalling` exists, or when the program is not installed.
//!
//! A **crash loop** ([`CrashLoop`]): more than `max_starts` starts within
//! `window` stop the immediate restarts; the next start waits
//! `min_backoff`, each further one twice as long (up to `max_backoff`),
//! until the program stays up for a whole `window`. Entering a loop is
//! returned as [`GuardEvent::CrashLoop`] so the caller logs and reports it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::daemon::{kill_group, lock_holder, spawn_run};
use crate::layout::{Layout, AGENT_BIN, UPDATE_BIN};
use crate::service;

/// How long a freshly started program may take to take its lock.
pub const START_GRACE: Duration = Duration::from_secs(10);

/// Restart limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopLimits {
    pub max_starts: usize,
    pub window: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for LoopLimits {
    fn default() -> Self {
        LoopLimits {
            max_starts: 5,
            window: Duration::from_secs(60),
            min_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What [`CrashLoop::on_down`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Start it now.
    Start,
    /// Too many starts: a crash loop begins; wait `backoff` before the next.
    EnteredLoop { starts: usize, backoff: Duration },
    /// In a crash loop, the backoff has not passed yet.
    Wait,
}

/// Crash-loop detection and backoff (pure: times are passed in).
#[derive(Debug, Clone)]
pub struct CrashLoop {
    limits: LoopLimits,
    starts: VecDeque<Instant>,
    in_loop: bool,
    backoff: Duration,
    not_before: Option<Instant>,
}

impl CrashLoop {
    pub fn new(limits: LoopLimits) -> Self {
        CrashLoop {
            limits,
            starts: VecDeque::new(),
            in_loop: false,
            backoff: limits.min_backoff,
            not_before: None,
        }
    }

    pub fn in_loop(&self) -> bool {
        self.in_loop
    }

    /// The program is down at `now`.
    pub fn on_down(&mut self, now: Instant) -> Verdict {
        while self
            .starts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.limits.window)
        {
            self.starts.pop_front();
        }
        if !self.in_loop {
            if self.starts.len() < self.limits.max_starts {
                self.starts.push_back(now);
                return Verdict::Start;
            }
            self.in_loop = true;
            self.backoff = self.limits.min_backoff;
            self.not_before = Some(now + self.backoff);
            return Verdict::EnteredLoop {
                starts: self.starts.len(),
                backoff: self.backoff,
            };
        }
        if self.not_before.is_some_and(|nb| now < nb) {
            return Verdict::Wait;
        }
        self.starts.push_back(now);
        self.backoff = (self.backoff * 2).min(self.limits.max_backoff);
        self.not_before = Some(now + self.backoff);
        Verdict::Start
    }

    /// The program is up at `now`: a whole window up ends a crash loop.
    pub fn on_up(&mut self, now: Instant) {
        if self.in_loop
            && self
                .starts
                .back()
                .is_none_or(|t| now.duration_since(*t) >= self.limits.window)
        {
            self.in_loop = false;
            self.starts.clear();
            self.not_before = None;
            self.backoff = self.limits.min_backoff;
        }
    }
}

/// A program of the prefix the guardian keeps running.
#[derive(Debug, Clone)]
pub struct Guarded {
    pub name: &'static str,
    link: PathBuf,
    lock: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    unit: &'static str,
    unit_path: &'static str,
}

impl Guarded {
    pub fn agent(layout: &Layout) -> Self {
        Guarded {
            name: AGENT_BIN,
            link: layout.bin_link(),
            lock: layout.lock_file(),
            pid_file: layout.pid_file(),
            log: layout.log_file(),
            unit: service::UNIT_NAME,
            unit_path: service::UNIT_PATH,
        }
    }

    pub fn updater(layout: &Layout) -> Self {
        Guarded {
            name: UPDATE_BIN,
            link: layout.update_bin_link(),
            lock: layout.update_lock_file(),
            pid_file: layout.update_pid_file(),
            log: layout.update_log_file(),
            unit: service::UPDATE_UNIT_NAME,
            unit_path: service::UPDATE_UNIT_PATH,
        }
    }

    /// Its pid when running (`Some(0)`: running, pid file not written yet).
    pub fn running_pid(&self) -> Option<u32> {
        lock_holder(&self.lock, &self.pid_file)
    }

    /// True when its `bin/` entry point exists.
    pub fn installed(&self) -> bool {
        std::fs::symlink_metadata(&self.link).is_ok()
    }

    pub fn link(&self) -> &Path {
        &self.link
    }
}

/// Something the guardian did that the caller logs (and reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardEvent {
    /// Started again; `previous` is the pid last seen running.
    Started {
        pid: Option<u32>,
        previous: Option<u32>,
    },
    /// A crash loop began: restarts back off.
    CrashLoop {
        starts: usize,
        window: Duration,
        backoff: Duration,
    },
    /// A started process did not take its lock within [`START_GRACE`]; killed.
    Hung {
        pid: u32,
    },
    StartFailed(String),
}

/// One side of the guardian.
#[derive(Debug)]
pub struct Guardian {
    layout: Layout,
    target: Guarded,
    crash: CrashLoop,
    /// Processes we started, with when (reaped as they exit).
    children: Vec<(Child, Instant)>,
    last_pid: Option<u32>,
}

impl Guardian {
    pub fn new(layout: Layout, target: Guarded, limits: LoopLimits) -> Self {
        Guardian {
            layout,
            target,
            crash: CrashLoop::new(limits),
            children: Vec::new(),
            last_pid: None,
        }
    }

    pub fn target(&self) -> &Guarded {
        &self.target
    }

    pub fn in_crash_loop(&self) -> bool {
        self.crash.in_loop()
    }

    /// Checks once; restarts the program if it is down and may be restarted.
    pub fn tick(&mut self, now: Instant) -> Vec<GuardEvent> {
        let mut events = Vec::new();
        // Reap what exited; kill what started but never took its lock.
        let running = self.target.running_pid();
        self.children
            .retain_mut(|(child, at)| match child.try_wait() {
                Ok(Some(_)) | Err(_) => false,
                Ok(None) => {
                    if running.is_none() && now.duration_since(*at) > START_GRACE {
                        events.push(GuardEvent::Hung { pid: child.id() });
                        kill_group(child);
                        false
                    } else {
                        true
                    }
                }
            });
        if self.layout.resurrection_blocked() || !self.target.installed() {
            return events;
        }
        if let Some(pid) = running {
            if pid != 0 {
                self.last_pid = Some(pid);
            }
            self.crash.on_up(now);
            return events;
        }
        // Started by us a moment ago and still coming up.
        if self
            .children
            .iter()
            .any(|(_, at)| now.duration_since(*at) <= START_GRACE)
        {
            return events;
        }
        match self.crash.on_down(now) {
            Verdict::Wait => {}
            Verdict::EnteredLoop { starts, backoff } => events.push(GuardEvent::CrashLoop {
                starts,
                window: self.crash.limits.window,
                backoff,
            }),
            Verdict::Start => events.push(self.start(now)),
        }
        events
    }

    fn start(&mut self, now: Instant) -> GuardEvent {
        let previous = self.last_pid.take();
        if service::systemd_is_init() && Path::new(self.target.unit_path).exists() {
            return match service::systemctl(&["start", self.target.unit]) {
                Ok(()) => GuardEvent::Started {
                    pid: None,
                    previous,
                },
                Err(e) => GuardEvent::StartFailed(crate::one_line(&e)),
            };
        }
        match spawn_run(&self.target.link, &self.layout, &self.target.log) {
            Ok(child) => {
                let pid = child.id();
                self.children.push((child, now));
                GuardEvent::Started {
                    pid: Some(pid),
                    previous,
                }
            }
            Err(e) => GuardEvent::StartFailed(crate::one_line(&e)),
        }
    }
}

/// One log line for an event about `name`.
pub fn describe(name: &str, e: &GuardEvent) -> String {
    match e {
        GuardEvent::Started { pid, previous } => format!(
            "{name} was not running{}; started it again{}",
            previous.map(|p| format!(" (pid {p} is gone)")).unwrap_or_default(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        GuardEvent::CrashLoop {
            starts,
            window,
            backoff,
        } => format!(
            "{name} is crash-looping ({starts} starts within {} s); next start in {} s, backing off up to {} s",
            window.as_secs(),
            backoff.as_secs(),
            LoopLimits::default().max_backoff.as_secs()
        ),
        GuardEvent::Hung { pid } => format!(
            "{name} (pid {pid}) did not take its lock within {} s; killed it",
            START_GRACE.as_secs()
        ),
        GuardEvent::StartFailed(why) => format!("starting {name} failed: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoopLimits {
        LoopLimits {
            max_starts: 3,
            window: Duration::from_secs(60),
            min_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(40),
        }
    }

    #[test]
    fn restarts_at_once_until_the_limit_then_backs_off_doubling() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = CrashLoop::new(limits());
        assert_eq!(c.on_down(at(0)), Verdict::Start);
        assert_eq!(c.on_down(at(1)), Verdict::Start);
        assert_eq!(c.on_down(at(2)), Verdict::Start);
        // Fourth death within the window: a loop, 10 s backoff.
        assert_eq!(
            c.on_down(at(3)),
            Verdict::EnteredLoop {
                starts: 3,
                backoff: Duration::from_secs(10)
            }
        );
        assert!(c.in_loop());
        assert_eq!(c.on_down(at(12)), Verdict::Wait);
        assert_eq!(c.on_down(at(13)), Verdict::Start, "after 10 s");
        // Next waits 20 s, then 40 s (the cap), then 40 s again.
        assert_eq!(c.on_down(at(32)), Verdict::Wait);
        assert_eq!(c.on_down(at(33)), Verdict::Start);
        assert_eq!(c.on_down(at(72)), Verdict::Wait);
        assert_eq!(c.on_down(at(73)), Verdict::Start);
        assert_eq!(c.on_down(at(112)), Verdict::Wait);
        assert_eq!(c.on_down(at(113)), Verdict::Start);
    }

    #[test]
    fn a_whole_window_up_ends_the_loop() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = CrashLoop::new(limits());
        for s in 0..3 {
            assert_eq!(c.on_down(at(s)), Verdict::Start);
        }
        assert!(matches!(c.on_down(at(3)), Verdict::EnteredLoop { .. }));
        assert_eq!(c.on_down(at(13)), Verdict::Start);
        c.on_up(at(40));
        assert!(c.in_loop(), "up for 27 s only");
        c.on_up(at(73));
        assert!(!c.in_loop(), "up for 60 s");
        assert_eq!(
            c.on_down(at(74)),
            Verdict::Start,
            "back to immediate restarts"
        );
    }

    #[test]
    fn deaths_spread_over_time_are_no_loop() {
        let t0 = Instant::now();
        let mut c = CrashLoop::new(limits());
        for i in 0..10 {
            assert_eq!(
                c.on_down(t0 + Duration::from_secs(61 * i)),
                Verdict::Start,
                "death {i}"
            );
        }
    }

    #[test]
    fn guardian_leaves_alone_what_is_stopped_or_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("w"));
        layout.create_dirs().unwrap();
        let mut g = Guardian::new(layout.clone(), Guarded::updater(&layout), limits());
        assert!(g.tick(Instant::now()).is_empty(), "not installed");
        // Installed as a program that exits at once: it is started…
        std::os::unix::fs::symlink("/bin/false", layout.update_bin_link()).unwrap();
        let ev = g.tick(Instant::now());
        assert!(
            matches!(ev.as_slice(), [GuardEvent::Started { pid: Some(_), .. }]),
            "{ev:?}"
        );
        // …but not while data/stopped exists.
        std::fs::write(layout.stopped_marker(), "").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let later = Instant::now() + START_GRACE + Duration::from_secs(1);
        assert!(g.tick(later).is_empty());
        std::fs::remove_file(layout.stopped_marker()).unwrap();
        std::fs::write(layout.uninstalling_marker(), "").unwrap();
        assert!(g.tick(later).is_empty());
    }
}
