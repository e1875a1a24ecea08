//! The collector's start snapshot and periodic work: polling, deleted
//! executables, CPU samples, TCP connections.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use ward_events::{EventData, ExeDeleted, ProcessCpu, ProcessInfo};

use super::{Collector, HOUSEKEEPING};
use crate::net::to_event;
use crate::state::{ProcKey, Reported};

impl Collector {
    pub(super) fn boot_id(&self) -> String {
        std::fs::read_to_string(self.cfg.proc_root.join("sys/kernel/random/boot_id"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// Fills the table with every running process; reports the ones not
    /// reported before (`process.running`, and `process.exe_deleted`).
    pub(super) fn snapshot(&mut self) {
        self.reported = Reported::load(&self.cfg.state_path, &self.boot_id());
        let pids = self.shared.fs.pids();
        let mut infos = Vec::with_capacity(pids.len());
        for pid in pids {
            if let Some(d) = self.describe(pid) {
                infos.push(d);
            }
        }
        // Ancestors again now that the whole table is known.
        let mut alive: HashSet<ProcKey> = HashSet::new();
        for (mut info, start) in infos {
            let key = (info.pid, start);
            alive.insert(key);
            if let Ok(mut t) = self.shared.table.lock() {
                info.ancestors = t.ancestors(info.ppid, &self.shared.fs);
            }
            if self.cfg.snapshot && self.reported.running.insert(key) {
                self.push("process-snapshot", EventData::ProcessRunning(info.clone()));
            }
            if info.exe_deleted && !info.memfd {
                self.report_deleted(info, start);
            }
        }
        self.reported.retain_alive(&alive);
        self.reported_dirty = true;
        self.save_reported();
        self.publish();
    }

    pub(super) fn report_deleted(&mut self, info: ProcessInfo, start: u64) {
        let key = (info.pid, start);
        if let Some(e) = self
            .shared
            .table
            .lock()
            .ok()
            .as_mut()
            .and_then(|t| t.get_mut(info.pid))
        {
            e.deleted_reported = true;
        }
        if !self.reported.deleted.insert(key) {
            return;
        }
        self.reported_dirty = true;
        let replaced = Path::new(&info.exe).exists();
        self.push(
            "process-check",
            EventData::ProcessExeDeleted(ExeDeleted {
                process: info,
                replaced,
            }),
        );
    }

    pub(super) fn save_reported(&mut self) {
        if !self.reported_dirty {
            return;
        }
        if let Err(e) = self.reported.save(&self.cfg.state_path) {
            self.stats.last_error = Some(format!("writing {}: {e}", self.cfg.state_path.display()));
        } else {
            self.reported_dirty = false;
        }
    }

    pub(super) fn periodic(&mut self) {
        let now = Instant::now();
        if (self.conn.is_none() || self.rescan) && now >= self.next_poll {
            self.rescan = false;
            self.next_poll = now + self.cfg.poll_interval;
            self.scan();
        }
        if now >= self.next_exe_check {
            self.next_exe_check = now + self.cfg.exe_check_interval;
            self.check_deleted();
        }
        if let Some(c) = self.cfg.cpu.clone() {
            if now >= self.next_cpu {
                self.next_cpu = now + c.sample;
                self.sample_cpu(now);
            }
        }
        if let Some(n) = self.cfg.net.clone() {
            if now >= self.next_net {
                let took = self.poll_net();
                self.next_net = Instant::now() + n.interval.max(took * 200);
            }
        }
        if now >= self.next_house {
            self.next_house = now + HOUSEKEEPING;
            if let Ok(mut t) = self.shared.table.lock() {
                // Exits are not subscribed to where the kernel filters
                // events: a process whose /proc entry is gone exited.
                let gone: Vec<u32> = t
                    .live()
                    .map(|e| e.pid)
                    .filter(|pid| !self.shared.fs.root().join(pid.to_string()).exists())
                    .collect();
                for pid in gone {
                    t.exited(pid, now);
                }
                t.prune(now);
            }
            self.save_reported();
            self.publish();
        }
    }

    /// Polling: processes not in the table are new; table entries whose
    /// process is gone exited.
    pub(super) fn scan(&mut self) {
        let pids = self.shared.fs.pids();
        let present: HashSet<u32> = pids.iter().copied().collect();
        let mut new = Vec::new();
        if let Ok(mut t) = self.shared.table.lock() {
            let now = Instant::now();
            let gone: Vec<u32> = t
                .live()
                .filter(|e| !present.contains(&e.pid))
                .map(|e| e.pid)
                .collect();
            for pid in gone {
                t.exited(pid, now);
            }
            for pid in pids {
                // Same process and same program name: nothing new (an exec
                // keeping the name is not seen by polling).
                let stat = self.shared.fs.stat(pid);
                let known = match (t.get_mut(pid), stat) {
                    (Some(e), Some(s)) if e.exited.is_none() && e.start_time == 0 => {
                        // Seen through the connector: learn what polling compares.
                        e.start_time = s.start_time;
                        e.comm = s.comm;
                        true
                    }
                    (Some(e), Some(s)) => {
                        e.exited.is_none() && s.start_time == e.start_time && s.comm == e.comm
                    }
                    (Some(e), None) => e.exited.is_none(),
                    (None, _) => false,
                };
                if !known {
                    new.push(pid);
                }
            }
        }
        for pid in new {
            self.on_exec(pid, "process-poll");
        }
    }

    pub(super) fn check_deleted(&mut self) {
        let candidates: Vec<(u32, u64)> = match self.shared.table.lock() {
            Ok(t) => t
                .live()
                .filter(|e| !e.deleted_reported)
                .map(|e| (e.pid, e.start_time))
                .collect(),
            Err(_) => return,
        };
        for (pid, start) in candidates {
            let Some((_, deleted, memfd)) = self.shared.fs.exe(pid) else {
                continue;
            };
            if !deleted || memfd {
                continue;
            }
            let Some(now) = self.shared.fs.stat(pid) else {
                continue;
            };
            // 0: seen through the connector without a stat read.
            if start != 0 && now.start_time != start {
                continue;
            }
            if let Some((info, start)) = self.describe(pid) {
                self.report_deleted(info, start);
            }
        }
    }

    pub(super) fn sample_cpu(&mut self, now: Instant) {
        let Some(tracker) = self.cpu.as_mut() else {
            return;
        };
        let samples: Vec<(u32, u64, u64)> = self
            .shared
            .fs
            .pids()
            .into_iter()
            .filter(|&p| !self.cfg.ignore_own || p != self.self_pid)
            .filter_map(|p| self.shared.fs.stat(p))
            .filter(|s| !s.kernel_thread)
            .map(|s| (s.pid, s.start_time, s.utime + s.stime))
            .collect();
        let busy = tracker.round(now, &samples);
        let Some(cfg) = self.cfg.cpu.clone() else {
            return;
        };
        for (pid, _, pct) in busy {
            let Some((info, _)) = self.describe(pid) else {
                continue;
            };
            let packaged = self.cfg.dpkg_dir.join("info").is_dir().then(|| {
                ward_hostinfo::packages::dpkg_owner(&self.cfg.dpkg_dir, &info.exe).is_some()
            });
            self.push(
                "process-cpu",
                EventData::ProcessCpu(ProcessCpu {
                    process: info,
                    cpu_percent: pct,
                    window_secs: u32::try_from(cfg.window.as_secs()).unwrap_or(u32::MAX),
                    packaged,
                }),
            );
        }
    }

    /// The TCP tables: netlink `sock_diag`, else `/proc/net/tcp{,6}` line
    /// by line (a host with many connections has tables of many megabytes).
    pub(super) fn read_tcp_tables(&mut self) -> Vec<(crate::parse::SockEntry, bool)> {
        if self.sockdiag.is_none() && !self.sockdiag_failed {
            match crate::sockdiag::SockDiag::open() {
                Ok(d) => self.sockdiag = Some(d),
                Err(_) => self.sockdiag_failed = true,
            }
        }
        if let Some(d) = self.sockdiag.as_mut() {
            match d.dump() {
                Ok(v) => return v,
                Err(e) => {
                    tracing::info!(error = %e, "sock_diag failed; reading /proc/net/tcp instead");
                    self.sockdiag = None;
                    self.sockdiag_failed = true;
                }
            }
        }
        use std::io::BufRead;
        let mut out = Vec::new();
        for (name, v6) in [("net/tcp", false), ("net/tcp6", true)] {
            let Ok(f) = std::fs::File::open(self.cfg.proc_root.join(name)) else {
                continue;
            };
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Some(e) = crate::parse::parse_net_sockets(&line).into_iter().next() {
                    out.push((e, v6));
                }
            }
        }
        out
    }

    /// One connection poll; returns how long it took (the next poll waits
    /// at least 200 times that, so polling stays under 0.5 % of a core on
    /// hosts with huge tables).
    pub(super) fn poll_net(&mut self) -> Duration {
        let t0 = Instant::now();
        self.poll_net_once();
        t0.elapsed()
    }

    pub(super) fn poll_net_once(&mut self) {
        let Some(cfg) = self.cfg.net.clone() else {
            return;
        };
        let entries = self.read_tcp_tables();
        let new = self.net.update_entries(entries, cfg.inbound);
        if new.is_empty() {
            return;
        }
        let inodes: Vec<u64> = new.iter().map(|c| c.entry.inode).collect();
        let owners = self.shared.fs.socket_owners(&inodes);
        for c in new {
            let owner = owners
                .iter()
                .find(|(i, _)| *i == c.entry.inode)
                .map(|(_, p)| *p);
            if self.cfg.ignore_own && owner == Some(self.self_pid) {
                continue;
            }
            let mut ev = to_event(&c);
            ev.process = owner.and_then(|pid| {
                let mut t = self.shared.table.lock().ok()?;
                t.actor(pid, &self.shared.fs)
            });
            self.push("process-net", EventData::NetConnect(ev));
        }
    }
}
