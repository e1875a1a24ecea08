//! The collector thread: watches, the first walk (baseline), events
//! settled into batches, periodic walks, account diffs, the baseline file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_collect_proc::read::ProcFs;
use ward_collect_proc::table::Table;
use ward_events::{Actor, Event, EventData, Sink};
use ward_sys::{wait, Stopper, Worker};

use crate::accounts::{self, Accounts};
use crate::apply::{apply, Context, Dirty, Known};
use crate::classify::{Plan, PlanInput};
use crate::config::{Backend, FilesConfig};
use crate::pkg::Running;
use crate::scan::Walk;
use crate::state::Limits;
use crate::status::FilesStatus;
use crate::watch::{Raw, Watcher, CREATED, DELETED, IS_DIR, MOVED_FROM, MOVED_TO};

mod walk;

/// Longest time a path's events wait for quiet before being examined.
const MAX_SETTLE: Duration = Duration::from_secs(1);
/// The baseline is written at most this often (and when stopping).
const SAVE_EVERY: Duration = Duration::from_secs(10);
/// A walk works this long per loop turn, then handles events again.
const WALK_SLICE: Duration = Duration::from_millis(20);
const SINK_RETRY: Duration = Duration::from_secs(1);
const MAX_PENDING: usize = 50_000;

/// A running file collector.
pub struct FilesHandle {
    worker: Worker,
    status: Arc<Mutex<FilesStatus>>,
}

impl FilesHandle {
    pub fn status(&self) -> FilesStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn status_reader(&self) -> StatusReader {
        StatusReader(self.status.clone())
    }

    /// Stops the thread (it hands over pending events and saves the baseline).
    pub fn stop(self) {
        self.worker.stop();
    }
}

#[derive(Clone)]
pub struct StatusReader(Arc<Mutex<FilesStatus>>);

impl StatusReader {
    pub fn read(&self) -> FilesStatus {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Starts the collector on its own thread.
pub fn spawn(cfg: FilesConfig, sink: impl Sink) -> std::io::Result<FilesHandle> {
    let watcher = match cfg.backend {
        Backend::Auto => Some(Watcher::open(true)?),
        Backend::Fanotify => Some(Watcher::Fanotify(crate::watch::fanotify::Fanotify::open()?)),
        Backend::Inotify => Some(Watcher::open(false)?),
    };
    let status = Arc::new(Mutex::new(FilesStatus {
        state: "starting".into(),
        backend: watcher.as_ref().map_or("none", |w| w.name()).into(),
        ..FilesStatus::default()
    }));
    let mut c = Collector::new(cfg, watcher, status.clone());
    let worker = Worker::spawn("collect-files", 512 * 1024, move |stop| {
        // Baseline walks hash whole trees: they yield to the host.
        if let Err(e) = ward_sys::background_priority() {
            tracing::debug!(error = %e, "file collector: priority not lowered");
        }
        c.run(sink, stop)
    })?;
    Ok(FilesHandle { worker, status })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `/root` and every directory in `/home` (under `root`).
fn homes(root: &Path) -> Vec<PathBuf> {
    let mut h = vec![root.join("root")];
    if let Ok(rd) = std::fs::read_dir(root.join("home")) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        more.sort();
        h.extend(more);
    }
    h
}

struct Collector {
    cfg: FilesConfig,
    plan: Plan,
    watcher: Option<Watcher>,
    watched: std::collections::HashSet<PathBuf>,
    known: Known,
    dirty: HashMap<PathBuf, Dirty>,
    walk: Option<(Walk, bool)>,
    next_scan: Instant,
    running: Running,
    accounts: Accounts,
    pending: Vec<Event>,
    baseline_dirty: bool,
    last_save: Instant,
    sink_retry_at: Option<Instant>,
    fallback: Option<(Table, ProcFs)>,
    last_publish: Instant,
    stats: FilesStatus,
    shared: Arc<Mutex<FilesStatus>>,
}

impl Collector {
    fn new(
        cfg: FilesConfig,
        watcher: Option<Watcher>,
        shared: Arc<Mutex<FilesStatus>>,
    ) -> Collector {
        let plan = Plan::new(&Self::plan_input(&cfg));
        let fallback = cfg.actor_lookup.is_none().then(|| {
            (
                Table::new(256),
                ProcFs::new(&cfg.proc_root, cfg.root.join("etc/passwd")),
            )
        });
        let stats = shared.lock().map(|s| s.clone()).unwrap_or_default();
        Collector {
            running: Running::new(&cfg.proc_root),
            next_scan: Instant::now() + cfg.scan_interval,
            cfg,
            plan,
            watcher,
            watched: Default::default(),
            known: Known::new(),
            dirty: HashMap::new(),
            walk: None,
            accounts: Accounts::default(),
            pending: Vec::new(),
            baseline_dirty: false,
            last_save: Instant::now(),
            sink_retry_at: None,
            fallback,
            last_publish: Instant::now(),
            stats,
            shared,
        }
    }

    fn plan_input(cfg: &FilesConfig) -> PlanInput {
        PlanInput {
            root: cfg.root.clone(),
            homes: homes(&cfg.root),
            fim: cfg.fim_paths.clone(),
            history: cfg.history,
            logs: cfg.logs,
            temp: cfg.temp,
            exclude_names: cfg.exclude_names.clone(),
            exclude_paths: cfg.exclude_paths.clone(),
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            hash_max: self.cfg.hash_max_bytes,
        }
    }

    fn run(&mut self, mut sink: impl Sink, stop: &Stopper) {
        if !self.start(stop) {
            // Stopped during the start walk: nothing of it is kept (see
            // `start`); the next start walks again. Account changes found
            // before it are handed over (their state is already saved).
            self.flush(&mut sink);
            self.stats.state = "stopped".into();
            self.publish();
            return;
        }
        self.flush(&mut sink);
        loop {
            let timeout = self.timeout();
            let mut fds = vec![stop.fd()];
            if let Some(w) = &self.watcher {
                fds.push(w.fd());
            }
            let ready = wait(&fds, timeout);
            if stop.is_stopped() {
                break;
            }
            if ready.get(1).copied().unwrap_or(false) {
                self.read_watcher();
            }
            self.settle(false, None);
            self.step_walk();
            if self.walk.is_none() && Instant::now() >= self.next_scan {
                self.walk = Some((Walk::new(&self.plan, self.cfg.max_dirs), false));
            }
            if self.baseline_dirty && self.last_save.elapsed() >= SAVE_EVERY {
                self.save_baseline();
            }
            self.flush(&mut sink);
            self.publish();
        }
        self.read_watcher();
        self.settle(true, None);
        self.flush(&mut sink);
        self.save_baseline();
        self.stats.state = "stopped".into();
        self.publish();
    }

    fn timeout(&self) -> Duration {
        if self.walk.is_some() {
            return Duration::from_millis(5);
        }
        let now = Instant::now();
        let mut d = self
            .next_scan
            .saturating_duration_since(now)
            .min(Duration::from_secs(1));
        if let Some(at) = self
            .dirty
            .values()
            .map(|x| (x.last + self.cfg.settle).min(x.first + MAX_SETTLE))
            .min()
        {
            d = d.min(at.saturating_duration_since(now));
        }
        if !self.pending.is_empty() {
            d = d.min(Duration::from_millis(200));
        }
        d.max(Duration::from_millis(1))
    }

    fn actor(&mut self, pid: u32) -> Option<Actor> {
        if let Some(f) = &self.cfg.actor_lookup {
            return f(pid);
        }
        let (t, fs) = self.fallback.as_mut()?;
        t.actor(pid, fs)
    }

    fn read_watcher(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let mut raws = Vec::new();
        if let Err(e) = w.read(&mut raws) {
            self.stats.last_error = Some(format!("reading {} events: {e}", w.name()));
        }
        let seen_by = w.name();
        let now = Instant::now();
        for r in raws {
            let e = match r {
                Raw::Overflow => {
                    self.stats.overflows += 1;
                    if self.walk.is_none() {
                        self.walk = Some((Walk::new(&self.plan, self.cfg.max_dirs), false));
                    }
                    continue;
                }
                Raw::Event(e) => e,
            };
            let path = e.path();
            if e.flags & IS_DIR != 0 && e.flags & (CREATED | MOVED_TO) != 0 {
                self.new_dir(&path);
            }
            if e.flags & IS_DIR != 0 && e.flags & (DELETED | MOVED_FROM) != 0 {
                let under: Vec<PathBuf> = self
                    .known
                    .keys()
                    .filter(|p| p.starts_with(&path))
                    .cloned()
                    .collect();
                for p in under {
                    self.mark(p, now, 0, None, None, seen_by);
                }
            }
            if self.plan.classify(&path).is_none() {
                continue;
            }
            let exe_hint = e.pid.and_then(|p| {
                std::fs::read_link(self.cfg.proc_root.join(p.to_string()).join("exe"))
                    .ok()
                    .map(|l| {
                        l.to_string_lossy()
                            .trim_end_matches(" (deleted)")
                            .to_string()
                    })
            });
            self.mark(path, now, e.flags, e.pid, exe_hint, seen_by);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mark(
        &mut self,
        path: PathBuf,
        now: Instant,
        flags: u32,
        pid: Option<u32>,
        exe_hint: Option<String>,
        seen_by: &'static str,
    ) {
        let d = self.dirty.entry(path).or_insert(Dirty {
            first: now,
            last: now,
            flags: 0,
            pid: None,
            exe_hint: None,
            actor: None,
            seen_by,
            quiet: false,
        });
        d.last = now;
        d.flags |= flags;
        d.seen_by = seen_by;
        d.quiet = false;
        // The latest writer is the one whose change is examined.
        if pid.is_some() {
            d.pid = pid;
            d.exe_hint = exe_hint;
        }
    }

    /// Examines settled paths (all when `all`).
    /// Applies the settled changes (all of them with `all`). Given `stop`
    /// (the start walk, which may hash whole trees), a stop abandons the
    /// batch: `false`, nothing applied.
    fn settle(&mut self, all: bool, stop: Option<&Stopper>) -> bool {
        let now = Instant::now();
        let settle = self.cfg.settle;
        let ready: Vec<PathBuf> = self
            .dirty
            .iter()
            .filter(|(_, d)| all || now >= d.last + settle || now >= d.first + MAX_SETTLE)
            .map(|(p, _)| p.clone())
            .collect();
        if ready.is_empty() {
            return true;
        }
        let mut batch: Vec<(PathBuf, Dirty)> = ready
            .into_iter()
            .filter_map(|p| self.dirty.remove(&p).map(|d| (p, d)))
            .collect();
        for (_, d) in batch.iter_mut() {
            if let Some(pid) = d.pid {
                let mut a = self.actor(pid);
                // The executable seen while it ran wins over a table entry
                // that predates its exec.
                if let (Some(a), Some(hint)) = (a.as_mut(), d.exe_hint.as_ref()) {
                    if a.exe != *hint {
                        a.exe = hint.clone();
                    }
                }
                if a.is_none() {
                    a = d.exe_hint.clone().map(|exe| Actor {
                        pid,
                        exe,
                        ..Actor::default()
                    });
                }
                d.actor = a;
            }
        }
        let limits = self.limits();
        let abort = || stop.is_some_and(Stopper::is_stopped);
        let mut cx = Context {
            plan: &self.plan,
            known: &mut self.known,
            running: &mut self.running,
            limits,
            dpkg_dir: &self.cfg.dpkg_dir,
            max_files: self.cfg.max_files,
            abort: &abort,
        };
        let out = apply(&mut cx, batch);
        if out.aborted {
            return false;
        }
        self.baseline_dirty |= out.baseline_changed;
        for e in out.events {
            self.push(e_seen_by(&e), e);
        }
        if let Some(by_package) = out.accounts {
            let current = accounts::read(&self.cfg.root.join("etc"));
            let events = accounts::diff(&self.accounts, &current, by_package);
            let new_home = events
                .iter()
                .any(|e| matches!(e, EventData::AccountCreated(_)));
            for e in events {
                self.push("accounts", e);
            }
            self.accounts = current;
            self.save_accounts();
            if new_home {
                self.plan = Plan::new(&Self::plan_input(&self.cfg));
            }
        }
        self.stats.files = self.known.values().filter(|(c, _)| c.in_baseline()).count() as u64;
        true
    }

    fn push(&mut self, source: &str, data: EventData) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending
            .push(Event::new(now_ms(), format!("files-{source}"), data));
    }

    fn flush(&mut self, sink: &mut impl Sink) {
        if self.pending.is_empty() || self.sink_retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let n = self.pending.len() as u64;
        match sink.append(&mut self.pending) {
            Ok(()) => {
                self.pending.clear();
                self.stats.events += n;
                self.sink_retry_at = None;
            }
            Err(e) => {
                self.stats.sink_errors += 1;
                self.stats.last_error = Some(format!("handing events to the spool: {e}"));
                self.sink_retry_at = Some(Instant::now() + SINK_RETRY);
            }
        }
    }

    fn publish(&mut self) {
        // At most once a second (the agent's status file follows it),
        // except when the state changes.
        let state_changed = self
            .shared
            .lock()
            .map(|s| s.state != self.stats.state)
            .unwrap_or(true);
        if !state_changed && self.last_publish.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_publish = Instant::now();
        self.stats.dirs = self.watched.len() as u64;
        if let Ok(mut s) = self.shared.lock() {
            if *s != self.stats {
                *s = self.stats.clone();
            }
        }
    }
}

/// The event source name of a file change (`files-fanotify`, ...).
fn e_seen_by(e: &EventData) -> &'static str {
    match e {
        EventData::FileCreated(f)
        | EventData::FileModified(f)
        | EventData::FileDeleted(f)
        | EventData::FileRenamed(f)
        | EventData::FileAttrib(f) => match f.seen_by.as_str() {
            "fanotify" => "fanotify",
            "inotify" => "inotify",
            _ => "scan",
        },
        _ => "accounts",
    }
}
