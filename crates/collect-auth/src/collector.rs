//! The collector thread: polls every source, parses, hands events to the
//! sink, then persists positions.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_authlog::{parse_line, ParseContext};
use ward_events::Event;

use crate::checkpoint::Checkpoint;
use crate::clock::{local_offset_secs, now_ms, year_of};
use crate::config::{find_program, AuthConfig, JournaldMode};
use crate::follow::{Follower, Framing};
use crate::journal::{entry_to_line, JournalProcess};
use crate::status::{CollectorStatus, SourceStatus};
use crate::utmp::{parse_record, to_event, UtmpKind, UTMP_SIZE};
use crate::watch::Inotify;
use ward_sys::{wait, Stopper, Worker};

/// Where events go (the agent's spool). On `Err` the same events are offered
/// again later and positions are not advanced.
pub trait Sink: Send + 'static {
    fn append(&mut self, events: &mut Vec<Event>) -> Result<(), String>;
}

impl<F> Sink for F
where
    F: FnMut(&mut Vec<Event>) -> Result<(), String> + Send + 'static,
{
    fn append(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        self(events)
    }
}

/// Positions are written at most this often (and when stopping).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// Delay before retrying a failed sink.
const SINK_RETRY: Duration = Duration::from_secs(1);
/// A classic timestamp more than this in the future belongs to last year.
const FUTURE_SLACK_MS: i64 = 86_400_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Utmp(UtmpKind),
}

struct Source {
    kind: Kind,
    key: String,
    follower: Follower,
    watched_ino: Option<u64>,
    status: SourceStatus,
}

struct Journal {
    program: PathBuf,
    proc: Option<JournalProcess>,
    cursor: Option<String>,
    restart_at: Instant,
    backoff: Duration,
    status: SourceStatus,
}

/// A running collector.
pub struct CollectorHandle {
    worker: Worker,
    status: Arc<Mutex<CollectorStatus>>,
}

/// Reads a collector's status from anywhere (cheap to clone).
#[derive(Clone)]
pub struct StatusReader(Arc<Mutex<CollectorStatus>>);

impl StatusReader {
    pub fn read(&self) -> CollectorStatus {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl CollectorHandle {
    /// A snapshot of the collector's state.
    pub fn status(&self) -> CollectorStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A reader of the status that outlives borrows of the handle.
    pub fn status_reader(&self) -> StatusReader {
        StatusReader(self.status.clone())
    }

    /// Stops the thread (it hands over pending events and saves positions).
    pub fn stop(self) {
        self.worker.stop();
    }
}

/// Starts the collector on its own thread.
pub fn spawn(cfg: AuthConfig, sink: impl Sink) -> std::io::Result<CollectorHandle> {
    let status = Arc::new(Mutex::new(CollectorStatus {
        name: "auth".into(),
        state: "running".into(),
        ..CollectorStatus::default()
    }));
    let mut c = Collector::new(cfg, status.clone());
    let worker = Worker::spawn("collect-auth", 256 * 1024, move |stop| c.run(sink, stop))?;
    Ok(CollectorHandle { worker, status })
}

struct Collector {
    cfg: AuthConfig,
    sources: Vec<Source>,
    journal: Option<Journal>,
    inotify: Option<Inotify>,
    pending: Vec<Event>,
    /// Positions that hold once `pending` is handed over.
    pending_cp: Option<Checkpoint>,
    committed: Checkpoint,
    cp_dirty: bool,
    last_cp_save: Instant,
    tokens: f64,
    last_refill: Instant,
    status: Arc<Mutex<CollectorStatus>>,
    sink_errors: u64,
    last_error: Option<String>,
}

impl Collector {
    fn new(cfg: AuthConfig, status: Arc<Mutex<CollectorStatus>>) -> Collector {
        let (cp, why) = Checkpoint::load(&cfg.checkpoint_path);
        if let Some(why) = &why {
            tracing::warn!(reason = %why, "auth collector positions reset");
        }
        let line_framing = Framing::Lines {
            max_line: cfg.max_line_bytes.max(256),
        };
        let mut sources = Vec::new();
        let mut add = |kind: Kind, path: &PathBuf| {
            let key = path.display().to_string();
            let framing = match kind {
                Kind::Text => line_framing,
                Kind::Utmp(_) => Framing::Records { size: UTMP_SIZE },
            };
            let saved = cp.files.get(&key).copied();
            sources.push(Source {
                kind,
                follower: Follower::new(path.clone(), framing, saved, cfg.start_at_end),
                watched_ino: None,
                status: SourceStatus {
                    source: key.clone(),
                    state: "waiting".into(),
                    ..SourceStatus::default()
                },
                key,
            });
        };
        for p in &cfg.paths {
            add(Kind::Text, p);
        }
        if let Some(p) = &cfg.wtmp {
            add(Kind::Utmp(UtmpKind::Wtmp), p);
        }
        if let Some(p) = &cfg.btmp {
            add(Kind::Utmp(UtmpKind::Btmp), p);
        }
        let any_log = cfg.paths.iter().any(|p| p.exists());
        let journal = match cfg.journald {
            JournaldMode::Off => None,
            JournaldMode::On => Some(cfg.journalctl.clone()),
            JournaldMode::Auto if any_log => None,
            JournaldMode::Auto => find_program(&cfg.journalctl),
        }
        .map(|program| Journal {
            program,
            proc: None,
            cursor: cp.journal_cursor.clone(),
            restart_at: Instant::now(),
            backoff: Duration::from_secs(2),
            status: SourceStatus {
                source: "journald".into(),
                state: "waiting".into(),
                ..SourceStatus::default()
            },
        });
        let inotify = match Inotify::new() {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::warn!(error = %e, "inotify unavailable; polling auth logs");
                None
            }
        };
        Collector {
            tokens: f64::from(cfg.max_lines_per_sec.max(1)),
            cfg,
            sources,
            journal,
            inotify,
            pending: Vec::new(),
            pending_cp: None,
            committed: cp,
            cp_dirty: false,
            last_cp_save: Instant::now(),
            last_refill: Instant::now(),
            status,
            sink_errors: 0,
            last_error: None,
        }
    }

    fn run(&mut self, mut sink: impl Sink, stop: &Stopper) {
        loop {
            let delay = self.step(&mut sink);
            self.save_checkpoint(false);
            self.publish("running");
            let mut fds = vec![stop.fd()];
            if let Some(i) = &self.inotify {
                fds.push(i.fd());
            }
            if let Some(fd) = self
                .journal
                .as_ref()
                .and_then(|j| j.proc.as_ref())
                .map(|p| p.fd())
            {
                fds.push(fd);
            }
            let ready = wait(&fds, delay);
            if ready.first().copied().unwrap_or(false) {
                break;
            }
            if let Some(i) = &self.inotify {
                if ready.get(1).copied().unwrap_or(false) {
                    i.drain();
                    // Let a burst of writes land before reading.
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        if !self.pending.is_empty() {
            self.flush(&mut sink);
        }
        self.save_checkpoint(true);
        for s in &mut self.sources {
            s.status.state = "stopped".into();
        }
        if let Some(j) = &mut self.journal {
            j.proc = None;
            j.status.state = "stopped".into();
        }
        self.publish("stopped");
    }

    /// One round; returns how long to wait before the next one.
    fn step(&mut self, sink: &mut impl Sink) -> Duration {
        if !self.pending.is_empty() && !self.flush(sink) {
            return SINK_RETRY;
        }
        let budget = self.take_budget();
        if budget == 0 {
            return Duration::from_millis(100);
        }
        let now = now_ms();
        let offset = local_offset_secs(now / 1000);
        let year = year_of(now, offset);
        let mut used = 0usize;
        let mut more = false;
        let mut units = Vec::new();
        for s in &mut self.sources {
            units.clear();
            let left = budget - used.min(budget);
            let r = s.follower.poll(left, &mut units);
            used += units.len();
            match r {
                Ok(cut) => {
                    more |= cut;
                    s.status.state = if s.follower.is_open() {
                        "following"
                    } else {
                        "waiting"
                    }
                    .into();
                    s.status.detail = None;
                }
                Err(e) => {
                    s.status.state = "error".into();
                    s.status.detail = Some(e.to_string());
                }
            }
            if let Some(i) = &self.inotify {
                let ino = s.follower.pos().map(|p| p.ino);
                if s.watched_ino.is_none() || ino != s.watched_ino {
                    i.watch_file(s.follower.path());
                    s.watched_ino = ino.or(Some(0));
                }
            }
            let before = self.pending.len();
            for u in &units {
                match s.kind {
                    Kind::Text => {
                        let line = String::from_utf8_lossy(u);
                        parse_text(
                            &line,
                            &s.key,
                            year,
                            offset,
                            now,
                            self.cfg.keep_raw,
                            &mut self.pending,
                        );
                    }
                    Kind::Utmp(k) => {
                        if let Some(ev) = parse_record(u).and_then(|r| to_event(&r, k, &s.key)) {
                            self.pending.push(ev);
                        }
                    }
                }
            }
            s.status.lines += units.len() as u64;
            s.status.events += (self.pending.len() - before) as u64;
        }
        let mut cursor = None;
        if let Some(j) = &mut self.journal {
            let left = budget - used.min(budget);
            let (n, c, cut) = poll_journal(
                j,
                left,
                self.cfg.start_at_end,
                year,
                offset,
                now,
                self.cfg.keep_raw,
                &mut self.pending,
            );
            used += n;
            more |= cut;
            cursor = c;
        }
        self.tokens -= used as f64;
        let mut cp = self.committed.clone();
        for s in &self.sources {
            if let Some(p) = s.follower.pos() {
                cp.files.insert(s.key.clone(), p);
            }
        }
        if cursor.is_some() {
            cp.journal_cursor = cursor;
        }
        if cp != self.committed {
            self.pending_cp = Some(cp);
        }
        if !self.pending.is_empty() {
            if !self.flush(sink) {
                return SINK_RETRY;
            }
        } else if let Some(cp) = self.pending_cp.take() {
            self.committed = cp;
            self.cp_dirty = true;
        }
        if more {
            Duration::from_millis(20)
        } else if self.inotify.is_some() {
            self.cfg.poll_interval.max(Duration::from_millis(50)) * 2
        } else {
            self.cfg.poll_interval.max(Duration::from_millis(50))
        }
    }

    fn take_budget(&mut self) -> usize {
        let rate = f64::from(self.cfg.max_lines_per_sec.max(1));
        let el = self.last_refill.elapsed().as_secs_f64();
        self.last_refill = Instant::now();
        self.tokens = (self.tokens + el * rate).min(rate);
        if self.tokens < 1.0 {
            0
        } else {
            self.tokens as usize
        }
    }

    /// Hands `pending` to the sink; on success the matching positions
    /// become the committed ones.
    fn flush(&mut self, sink: &mut impl Sink) -> bool {
        match sink.append(&mut self.pending) {
            Ok(()) => {
                self.pending.clear();
                if let Some(cp) = self.pending_cp.take() {
                    self.committed = cp;
                    self.cp_dirty = true;
                }
                true
            }
            Err(e) => {
                self.sink_errors += 1;
                if self.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(error = %e, "auth events could not be spooled; retrying");
                }
                self.last_error = Some(e);
                false
            }
        }
    }

    fn save_checkpoint(&mut self, force: bool) {
        if !self.cp_dirty || (!force && self.last_cp_save.elapsed() < CHECKPOINT_EVERY) {
            return;
        }
        match self.committed.save(&self.cfg.checkpoint_path) {
            Ok(()) => {
                self.cp_dirty = false;
                self.last_cp_save = Instant::now();
            }
            Err(e) => {
                self.last_error = Some(format!(
                    "saving {}: {e}",
                    self.cfg.checkpoint_path.display()
                ));
            }
        }
    }

    fn publish(&self, state: &str) {
        let mut sources: Vec<SourceStatus> =
            self.sources.iter().map(|s| s.status.clone()).collect();
        if let Some(j) = &self.journal {
            sources.push(j.status.clone());
        }
        let long_lines = self
            .sources
            .iter()
            .map(|s| s.follower.stats.long_lines)
            .sum();
        if let Ok(mut st) = self.status.lock() {
            st.state = state.into();
            st.sources = sources;
            st.long_lines = long_lines;
            st.sink_errors = self.sink_errors;
            st.last_error = self.last_error.clone();
        }
    }
}

/// Parses one text line into `out`; a classic timestamp that would be in the
/// future belongs to the previous year.
fn parse_text(
    line: &str,
    source: &str,
    year: i32,
    offset: i32,
    now: i64,
    keep_raw: bool,
    out: &mut Vec<Event>,
) {
    let mut ctx = ParseContext::new(year, source);
    ctx.utc_offset_secs = offset;
    ctx.keep_raw = keep_raw;
    let mut parsed = parse_line(line, &ctx);
    if parsed
        .host_time_ms()
        .is_some_and(|t| t > now + FUTURE_SLACK_MS)
    {
        ctx.year -= 1;
        parsed = parse_line(line, &ctx);
    }
    out.extend(parsed);
}

/// Reads journald lines; returns (lines read, last cursor, budget cut).
#[allow(clippy::too_many_arguments)]
fn poll_journal(
    j: &mut Journal,
    budget: usize,
    start_at_end: bool,
    year: i32,
    offset: i32,
    now: i64,
    keep_raw: bool,
    out: &mut Vec<Event>,
) -> (usize, Option<String>, bool) {
    if j.proc.is_none() {
        if Instant::now() < j.restart_at {
            return (0, None, false);
        }
        match JournalProcess::spawn(&j.program, j.cursor.as_deref(), !start_at_end) {
            Ok(p) => {
                j.proc = Some(p);
                j.status.state = "following".into();
                j.status.detail = None;
            }
            Err(e) => {
                j.status.state = "error".into();
                j.status.detail = Some(format!("starting {}: {e}", j.program.display()));
                j.restart_at = Instant::now() + j.backoff;
                j.backoff = (j.backoff * 2).min(Duration::from_secs(60));
                return (0, None, false);
            }
        }
    }
    let Some(p) = j.proc.as_mut() else {
        return (0, None, false);
    };
    let mut lines = Vec::new();
    let r = p.read_lines(budget, &mut lines);
    let mut cursor = None;
    for l in &lines {
        if let Some(jl) = entry_to_line(l) {
            if jl.auth {
                parse_text(&jl.line, "journald", year, offset, now, keep_raw, out);
            }
            if jl.cursor.is_some() {
                cursor = jl.cursor;
            }
        }
    }
    j.status.lines += lines.len() as u64;
    if cursor.is_some() {
        j.cursor = cursor.clone();
    }
    let cut = lines.len() >= budget && budget > 0;
    match r {
        Ok(Some(())) => {}
        Ok(None) | Err(_) => {
            let status = p
                .exited()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "closed its output".into());
            j.proc = None;
            j.status.state = "error".into();
            j.status.detail = Some(format!("journalctl exited ({status}); restarting"));
            j.restart_at = Instant::now() + j.backoff;
            j.backoff = (j.backoff * 2).min(Duration::from_secs(60));
        }
    }
    (lines.len(), cursor, cut)
}
