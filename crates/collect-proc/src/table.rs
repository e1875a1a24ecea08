//! The process table: what the collector knows of every live process (and
//! of recently exited ones, for late lookups), to build parent chains and
//! to name the process behind a file change or a connection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ward_events::{Actor, Ancestor, MAX_ANCESTORS};

use crate::read::ProcFs;

/// Longest command line an ancestor carries: the parent's, then the others'
/// (an event's own command line keeps `MAX_CMDLINE`).
pub const PARENT_CMDLINE: usize = 1024;
pub const ANCESTOR_CMDLINE: usize = 160;

/// How long an exited process stays in the table.
pub const EXITED_RETENTION: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Entry {
    pub pid: u32,
    pub ppid: u32,
    pub start_time: u64,
    /// `comm` when last read (polling sees an exec as a change of it).
    pub comm: [u8; 16],
    pub exe: String,
    pub cmdline: String,
    pub uid: u32,
    pub exited: Option<Instant>,
    /// A `process.exe_deleted` was reported for it.
    pub deleted_reported: bool,
}

/// Live and recently exited processes, bounded.
#[derive(Debug)]
pub struct Table {
    map: HashMap<u32, Entry>,
    max: usize,
}

impl Table {
    pub fn new(max: usize) -> Table {
        Table {
            map: HashMap::new(),
            max: max.max(64),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, pid: u32) -> Option<&Entry> {
        self.map.get(&pid)
    }

    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Entry> {
        self.map.get_mut(&pid)
    }

    pub fn live(&self) -> impl Iterator<Item = &Entry> {
        self.map.values().filter(|e| e.exited.is_none())
    }

    pub fn insert(&mut self, e: Entry) {
        if self.map.len() >= self.max && !self.map.contains_key(&e.pid) {
            self.evict();
        }
        self.map.insert(e.pid, e);
    }

    /// A fork: the child runs the parent's program until it executes
    /// (its start time is filled in when it does; no `/proc` read here,
    /// forks are the most frequent event).
    pub fn fork(&mut self, parent: u32, child: u32, _fs: &ProcFs) {
        let start_time = 0;
        let comm = [0u8; 16];
        let base = self.get(parent).cloned();
        let e = match base {
            Some(p) => Entry {
                pid: child,
                ppid: parent,
                start_time,
                comm,
                exited: None,
                deleted_reported: false,
                ..p
            },
            None => Entry {
                pid: child,
                ppid: parent,
                start_time,
                comm,
                exe: String::new(),
                cmdline: String::new(),
                uid: 0,
                exited: None,
                deleted_reported: false,
            },
        };
        self.insert(e);
    }

    pub fn exited(&mut self, pid: u32, now: Instant) {
        if let Some(e) = self.map.get_mut(&pid) {
            e.exited = Some(now);
        }
    }

    /// Drops processes that exited more than [`EXITED_RETENTION`] ago.
    pub fn prune(&mut self, now: Instant) {
        self.map.retain(|_, e| {
            e.exited
                .is_none_or(|t| now.duration_since(t) < EXITED_RETENTION)
        });
    }

    /// Over the bound: exited entries first, then the oldest tenth by start time.
    fn evict(&mut self) {
        let before = self.map.len();
        self.map.retain(|_, e| e.exited.is_none());
        if self.map.len() < before {
            return;
        }
        let mut starts: Vec<(u64, u32)> =
            self.map.values().map(|e| (e.start_time, e.pid)).collect();
        starts.sort_unstable();
        for (_, pid) in starts.into_iter().take(self.max / 10 + 1) {
            self.map.remove(&pid);
        }
    }

    /// The entry of `pid`, read from `/proc` when unknown (not remembered:
    /// the table holds only processes the collector has described, so that
    /// polling tells new processes from known ones).
    pub fn lookup(&mut self, pid: u32, fs: &ProcFs) -> Option<Entry> {
        if let Some(e) = self.map.get(&pid) {
            return Some(e.clone());
        }
        let stat = fs.stat(pid)?;
        if stat.kernel_thread {
            return None;
        }
        let (exe, _, _) = fs.exe(pid).unwrap_or_default();
        let uid = fs.uid(pid).unwrap_or(0);
        let e = Entry {
            pid,
            ppid: stat.ppid,
            start_time: stat.start_time,
            comm: stat.comm,
            exe,
            cmdline: fs.cmdline(pid),
            uid,
            exited: None,
            deleted_reported: false,
        };
        Some(e)
    }

    /// Parent first, at most [`MAX_ANCESTORS`], stopping at pid 0 or a loop.
    pub fn ancestors(&mut self, ppid: u32, fs: &ProcFs) -> Vec<Ancestor> {
        let mut out: Vec<Ancestor> = Vec::new();
        let mut next = ppid;
        while next != 0 && out.len() < MAX_ANCESTORS && !out.iter().any(|a| a.pid == next) {
            let Some(e) = self.lookup(next, fs) else {
                break;
            };
            let max = if out.is_empty() {
                PARENT_CMDLINE
            } else {
                ANCESTOR_CMDLINE
            };
            out.push(Ancestor {
                pid: e.pid,
                exe: e.exe.clone(),
                cmdline: ward_events::truncate_at_char(&e.cmdline, max).to_string(),
            });
            next = e.ppid;
        }
        out
    }

    /// The process behind a file change or connection.
    pub fn actor(&mut self, pid: u32, fs: &ProcFs) -> Option<Actor> {
        let e = self.lookup(pid, fs)?;
        let ancestors = self.ancestors(e.ppid, fs);
        Some(Actor {
            pid,
            exe: e.exe,
            cmdline: e.cmdline,
            uid: e.uid,
            user: fs.user_name(e.uid),
            ancestors,
            ..Actor::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32, ppid: u32, exe: &str) -> Entry {
        Entry {
            pid,
            ppid,
            start_time: u64::from(pid),
            comm: [0; 16],
            exe: exe.into(),
            cmdline: exe.into(),
            uid: 0,
            exited: None,
            deleted_reported: false,
        }
    }

    /// A /proc that has nothing: only the table answers.
    fn empty_fs(dir: &tempfile::TempDir) -> ProcFs {
        ProcFs::new(dir.path(), dir.path().join("passwd"))
    }

    #[test]
    fn ancestors_walk_the_table_and_stop_at_loops_and_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let fs = empty_fs(&dir);
        let mut t = Table::new(100);
        t.insert(entry(1, 0, "/sbin/init"));
        t.insert(entry(10, 1, "/usr/sbin/sshd"));
        t.insert(entry(20, 10, "/usr/bin/bash"));
        let a = t.ancestors(20, &fs);
        let exes: Vec<&str> = a.iter().map(|x| x.exe.as_str()).collect();
        assert_eq!(exes, ["/usr/bin/bash", "/usr/sbin/sshd", "/sbin/init"]);
        // A loop (corrupt ppids) ends.
        t.insert(entry(30, 31, "a"));
        t.insert(entry(31, 30, "b"));
        assert_eq!(t.ancestors(30, &fs).len(), 2);
        // Command lines are bounded: the parent's at 1 KiB, the rest shorter.
        let mut long = entry(500, 10, "/usr/bin/x");
        long.cmdline = "y".repeat(5000);
        t.insert(long);
        t.insert(entry(501, 500, "/usr/bin/z"));
        let mut big = entry(502, 501, "/usr/bin/w");
        big.cmdline = "q".repeat(5000);
        t.insert(big);
        let a = t.ancestors(502, &fs);
        assert_eq!(a[0].cmdline.len(), PARENT_CMDLINE);
        assert_eq!(a[2].cmdline.len(), ANCESTOR_CMDLINE);
        // A long chain is cut.
        for p in 100..120 {
            t.insert(entry(p + 1, p, "x"));
        }
        assert_eq!(t.ancestors(119, &fs).len(), MAX_ANCESTORS);
        // An unknown parent ends the chain.
        assert!(t.ancestors(9999, &fs).is_empty());
    }

    #[test]
    fn forks_inherit_and_exits_are_kept_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let fs = empty_fs(&dir);
        let mut t = Table::new(100);
        t.insert(entry(10, 1, "/usr/bin/bash"));
        t.fork(10, 11, &fs);
        assert_eq!(t.get(11).unwrap().exe, "/usr/bin/bash");
        assert_eq!(t.get(11).unwrap().ppid, 10);
        let now = Instant::now();
        t.exited(11, now);
        t.prune(now + Duration::from_secs(1));
        assert!(t.get(11).is_some(), "recently exited");
        assert_eq!(t.live().count(), 1);
        t.prune(now + EXITED_RETENTION + Duration::from_secs(1));
        assert!(t.get(11).is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Table::new(64);
        for p in 1..=200 {
            t.insert(entry(p, 0, "x"));
        }
        assert!(t.len() <= 64);
        // The newest stay.
        assert!(t.get(200).is_some());
    }

    #[test]
    fn actors_come_from_real_proc_when_unknown() {
        let fs = ProcFs::new("/proc", "/etc/passwd");
        let mut t = Table::new(100);
        let me = std::process::id();
        let a = t.actor(me, &fs).expect("own process");
        assert_eq!(
            a.exe,
            std::env::current_exe().unwrap().display().to_string()
        );
        assert!(!a.ancestors.is_empty());
        // SAFETY: getppid has no preconditions.
        assert_eq!(a.ancestors[0].pid, unsafe { libc::getppid() } as u32);
    }
}
