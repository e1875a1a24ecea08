//! The collector thread: process connector events (or `/proc` polling),
//! the start snapshot and the periodic checks (deleted executables, CPU,
//! connections), handing events to the sink.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_events::{Actor, Event, EventData, ProcessInfo, Sink};
use ward_sys::{wait, Stopper, Worker};

use crate::config::{Mode, ProcConfig};
use crate::cpu::CpuTracker;
use crate::net::NetTracker;
use crate::netlink::{Connector, ProcEvent};
use crate::read::ProcFs;
use crate::state::Reported;
use crate::status::ProcStatus;
use crate::table::{Entry, Table};

mod checks;
mod selfexe;
use selfexe::SelfExe;

/// Most events kept while the sink fails; older ones are dropped (counted).
const MAX_PENDING: usize = 50_000;
/// How often the table is pruned and the status refreshed.
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// Events wait at most this long to be handed over together (one spool
/// write and one send for a burst instead of one per process).
const BATCH_DELAY: Duration = Duration::from_millis(25);
/// A batch this large is handed over at once.
const BATCH_MAX: usize = 512;
/// Delay before retrying a failed sink.
const SINK_RETRY: Duration = Duration::from_secs(1);

struct Shared {
    table: Mutex<Table>,
    fs: ProcFs,
    status: Mutex<ProcStatus>,
}

/// Names the process behind a pid (for the file collector's actors).
/// Cheap to clone; safe from any thread.
#[derive(Clone)]
pub struct ActorLookup(Arc<Shared>);

impl ActorLookup {
    /// The process, its user and ancestors, from the table or `/proc`.
    pub fn actor(&self, pid: u32) -> Option<Actor> {
        let mut t = self.0.table.lock().ok()?;
        t.actor(pid, &self.0.fs)
    }
}

/// A running process collector.
pub struct ProcHandle {
    worker: Worker,
    shared: Arc<Shared>,
}

impl ProcHandle {
    pub fn status(&self) -> ProcStatus {
        self.shared
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// A reader of the status that outlives the handle's borrows.
    pub fn status_reader(&self) -> StatusReader {
        StatusReader(self.shared.clone())
    }

    pub fn actor_lookup(&self) -> ActorLookup {
        ActorLookup(self.shared.clone())
    }

    /// Stops the thread (it hands over pending events and saves its state).
    pub fn stop(self) {
        self.worker.stop();
    }
}

/// Reads a collector's status from anywhere.
#[derive(Clone)]
pub struct StatusReader(Arc<Shared>);

impl StatusReader {
    pub fn read(&self) -> ProcStatus {
        self.0.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Starts the collector on its own thread. In `Mode::Connector` a
/// connector that cannot be opened is an error here.
pub fn spawn(cfg: ProcConfig, sink: impl Sink) -> std::io::Result<ProcHandle> {
    // Exec events only where the kernel can filter (exits are found by the
    // periodic liveness check, parents read from /proc).
    let release =
        std::fs::read_to_string(cfg.proc_root.join("sys/kernel/osrelease")).unwrap_or_default();
    let only =
        crate::netlink::kernel_filters_events(release.trim()).then_some(crate::netlink::EXEC_ONLY);
    let conn = match cfg.mode {
        Mode::Poll => None,
        Mode::Connector => Some(Connector::open(cfg.rcvbuf, only)?),
        Mode::Auto => match Connector::open(cfg.rcvbuf, only) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "process connector unavailable; polling /proc instead");
                None
            }
        },
    };
    let shared = Arc::new(Shared {
        table: Mutex::new(Table::new(cfg.max_processes)),
        fs: ProcFs::new(&cfg.proc_root, &cfg.passwd),
        status: Mutex::new(ProcStatus {
            state: "starting".into(),
            source: if conn.is_some() { "connector" } else { "poll" }.into(),
            ..ProcStatus::default()
        }),
    });
    let mut c = Collector::new(cfg, shared.clone(), conn);
    let worker = Worker::spawn("collect-proc", 512 * 1024, move |stop| c.run(sink, stop))?;
    Ok(ProcHandle { worker, shared })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

struct Collector {
    cfg: ProcConfig,
    shared: Arc<Shared>,
    conn: Option<Connector>,
    self_pid: u32,
    /// Our own executable: its runs (`ward-agent status`, an installer's
    /// copy in a temporary directory) are ours.
    self_exe: Option<SelfExe>,
    pending: Vec<Event>,
    /// When the oldest pending event was made.
    pending_since: Option<Instant>,
    reported: Reported,
    reported_dirty: bool,
    net: NetTracker,
    sockdiag: Option<crate::sockdiag::SockDiag>,
    sockdiag_failed: bool,
    cpu: Option<CpuTracker>,
    rescan: bool,
    next_poll: Instant,
    next_exe_check: Instant,
    next_cpu: Instant,
    next_net: Instant,
    next_house: Instant,
    sink_retry_at: Option<Instant>,
    rate_window: Instant,
    rate_count: u32,
    stats: ProcStatus,
}

impl Collector {
    fn new(cfg: ProcConfig, shared: Arc<Shared>, conn: Option<Connector>) -> Collector {
        let now = Instant::now();
        let cpu = cfg
            .cpu
            .as_ref()
            .map(|c| CpuTracker::new(c.window, c.percent, ticks_per_sec()));
        let source = if conn.is_some() { "connector" } else { "poll" };
        Collector {
            self_pid: std::process::id(),
            self_exe: SelfExe::read(),
            cfg,
            shared,
            conn,
            pending: Vec::new(),
            pending_since: None,
            reported: Reported::default(),
            reported_dirty: false,
            net: NetTracker::default(),
            sockdiag: None,
            sockdiag_failed: false,
            cpu,
            rescan: false,
            next_poll: now,
            next_exe_check: now,
            next_cpu: now,
            next_net: now,
            next_house: now,
            sink_retry_at: None,
            rate_window: now,
            rate_count: 0,
            stats: ProcStatus {
                state: "running".into(),
                source: source.into(),
                ..ProcStatus::default()
            },
        }
    }

    fn run(&mut self, mut sink: impl Sink, stop: &Stopper) {
        self.snapshot();
        // Learn the existing connections before the first wait.
        self.poll_net();
        self.flush(&mut sink);
        let mut buf = vec![0u8; 64 * 1024];
        let mut evs = Vec::new();
        loop {
            let timeout = self
                .next_deadline()
                .saturating_duration_since(Instant::now());
            let mut fds = vec![stop.fd()];
            if let Some(c) = &self.conn {
                fds.push(c.fd());
            }
            let ready = wait(
                &fds,
                timeout.clamp(Duration::from_millis(5), Duration::from_secs(1)),
            );
            if stop.is_stopped() {
                break;
            }
            if ready.get(1).copied().unwrap_or(false) {
                if let Some(c) = &self.conn {
                    evs.clear();
                    if let Err(e) = c.read(&mut buf, &mut evs) {
                        self.stats.last_error = Some(format!("reading the process connector: {e}"));
                    }
                    for e in std::mem::take(&mut evs) {
                        self.on_event(e);
                    }
                }
            }
            self.periodic();
            self.flush_due(&mut sink);
        }
        self.flush(&mut sink);
        self.save_reported();
        self.stats.state = "stopped".into();
        self.publish();
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.next_house.min(self.next_exe_check);
        if self.conn.is_none() || self.rescan {
            d = d.min(self.next_poll);
        }
        if self.cfg.cpu.is_some() {
            d = d.min(self.next_cpu);
        }
        if self.cfg.net.is_some() {
            d = d.min(self.next_net);
        }
        if let Some(r) = self.sink_retry_at {
            d = d.min(r);
        } else if let Some(t) = self.pending_since {
            d = d.min(t + BATCH_DELAY);
        }
        d
    }

    fn on_event(&mut self, e: ProcEvent) {
        match e {
            ProcEvent::Fork { parent, child } => {
                if let Ok(mut t) = self.shared.table.lock() {
                    t.fork(parent, child, &self.shared.fs);
                }
            }
            ProcEvent::Exec { pid } => self.on_exec(pid, "process-connector"),
            ProcEvent::Uid { pid, ruid } => {
                if let Some(e) = self
                    .shared
                    .table
                    .lock()
                    .ok()
                    .as_mut()
                    .and_then(|t| t.get_mut(pid))
                {
                    e.uid = ruid;
                }
            }
            ProcEvent::Exit { pid, .. } => {
                if let Ok(mut t) = self.shared.table.lock() {
                    t.exited(pid, Instant::now());
                }
            }
            ProcEvent::Overrun => {
                self.stats.overruns += 1;
                self.rescan = true;
                self.next_poll = Instant::now();
            }
        }
    }

    fn is_self_binary(&mut self, pid: u32, exe_path: &str) -> bool {
        let exe = self.shared.fs.root().join(pid.to_string()).join("exe");
        match self.self_exe.as_mut() {
            Some(own) => own.same(exe_path, &exe),
            None => false,
        }
    }

    /// Details of `pid` with its ancestors, entered in the table; `None`
    /// when it is gone, a kernel thread, or the agent itself (or its child).
    fn describe(&mut self, pid: u32) -> Option<(ProcessInfo, u64)> {
        self.describe_with(pid, None)
    }

    /// [`Collector::describe`], the parent known from a fork event.
    fn describe_with(&mut self, pid: u32, ppid: Option<u32>) -> Option<(ProcessInfo, u64)> {
        let own = self.cfg.ignore_own;
        if own && pid == self.self_pid {
            return None;
        }
        let (mut info, stat) = self.shared.fs.info_with(pid, ppid)?;
        if own && (info.ppid == self.self_pid || self.is_self_binary(pid, &info.exe)) {
            return None;
        }
        let mut t = self.shared.table.lock().ok()?;
        t.insert(Entry {
            pid,
            ppid: info.ppid,
            start_time: stat.start_time,
            comm: stat.comm,
            exe: info.exe.clone(),
            cmdline: info.cmdline.clone(),
            uid: info.uid,
            exited: None,
            deleted_reported: false,
        });
        info.ancestors = t.ancestors(info.ppid, &self.shared.fs);
        drop(t);
        info.stdio_inherited = self.shared.fs.stdio_inherited(&info);
        Some((info, stat.start_time))
    }

    fn on_exec(&mut self, pid: u32, source: &str) {
        self.stats.execs += 1;
        // The connector's fork event told the parent: no stat to read.
        let ppid = (source == "process-connector")
            .then(|| {
                self.shared
                    .table
                    .lock()
                    .ok()
                    .and_then(|t| t.get(pid).filter(|e| e.exited.is_none()).map(|e| e.ppid))
            })
            .flatten()
            .filter(|&p| p != 0);
        match self.describe_with(pid, ppid) {
            Some((info, _)) => self.push(source, EventData::ProcessExec(info)),
            None => {
                if pid != self.self_pid && self.shared.fs.stat(pid).is_none() {
                    self.stats.missed += 1;
                }
            }
        }
    }

    fn push(&mut self, source: &str, data: EventData) {
        let now = Instant::now();
        if now.duration_since(self.rate_window) >= Duration::from_secs(1) {
            self.rate_window = now;
            self.rate_count = 0;
        }
        if self.rate_count >= self.cfg.max_events_per_sec {
            self.stats.dropped += 1;
            return;
        }
        self.rate_count += 1;
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
            self.stats.dropped += 1;
        }
        self.pending.push(Event::new(now_ms(), source, data));
        if self.pending_since.is_none() {
            self.pending_since = Some(now);
        }
    }

    /// Hands pending events over once the oldest waited [`BATCH_DELAY`]
    /// (or the batch is full, or `now`).
    fn flush_due(&mut self, sink: &mut impl Sink) {
        let due = self.pending.len() >= BATCH_MAX
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= BATCH_DELAY);
        if due {
            self.flush(sink);
        }
    }

    fn flush(&mut self, sink: &mut impl Sink) {
        if self.pending.is_empty() {
            return;
        }
        if self.sink_retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let n = self.pending.len() as u64;
        match sink.append(&mut self.pending) {
            Ok(()) => {
                self.pending.clear();
                self.pending_since = None;
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
        self.stats.processes = self
            .shared
            .table
            .lock()
            .map(|t| t.len() as u64)
            .unwrap_or(0);
        if let Ok(mut s) = self.shared.status.lock() {
            *s = self.stats.clone();
        }
    }
}
