//! The collector's walks (the first one builds or checks the baseline;
//! periodic ones find what events missed), the watches they add, and the
//! state files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ward_sys::Stopper;

use super::{Collector, WALK_SLICE};
use crate::accounts;
use crate::apply::Dirty;
use crate::baseline;
use crate::classify::{Plan, WatchDir};
use crate::scan::Walk;

/// Walking time between two checks for a stop during the start walk.
const START_WALK_SLICE: Duration = Duration::from_millis(50);

impl Collector {
    pub(super) fn watch(&mut self, w: &WatchDir) {
        if self.watched.contains(&w.path) {
            return;
        }
        if self.watched.len() >= self.cfg.max_dirs {
            self.stats.detail = Some(format!(
                "watching the first {} directories only",
                self.cfg.max_dirs
            ));
            return;
        }
        if let Some(watcher) = self.watcher.as_mut() {
            match watcher.add_dir(&w.path, w.mask) {
                Ok(()) => {
                    self.watched.insert(w.path.clone());
                }
                Err(e) => tracing::debug!(dir = %w.path.display(), error = %e, "cannot watch"),
            }
        }
    }

    pub(super) fn walk_slice(&mut self, walk: &mut Walk, quiet: bool, budget: Duration) {
        let mut dirs = Vec::new();
        let mut paths = Vec::new();
        walk.step(
            budget,
            |d| dirs.push(d.clone()),
            |p| paths.push(p.to_path_buf()),
        );
        // Directories were read before being watched here; a change in that
        // gap is caught by the next walk.
        for d in &dirs {
            self.watch(d);
        }
        let now = Instant::now();
        for p in paths {
            let Some(cat) = self.plan.classify(&p) else {
                continue;
            };
            // Logs, history and temporary files are not in the baseline: a
            // walk only learns their state (their changes come as events).
            let quiet = quiet || !cat.in_baseline();
            self.dirty.entry(p).or_insert(Dirty {
                first: now,
                last: now,
                flags: 0,
                pid: None,
                exe_hint: None,
                actor: None,
                seen_by: "scan",
                quiet,
            });
        }
    }

    pub(super) fn step_walk(&mut self) {
        let Some((mut walk, quiet)) = self.walk.take() else {
            return;
        };
        self.walk_slice(&mut walk, quiet, WALK_SLICE);
        if walk.done() {
            self.finish_walk(walk, quiet);
            self.stats.scans += 1;
            self.next_scan = Instant::now() + self.cfg.scan_interval;
        } else {
            self.walk = Some((walk, quiet));
        }
    }

    pub(super) fn save_baseline(&mut self) {
        if !self.baseline_dirty {
            return;
        }
        let b: baseline::Baseline = self
            .known
            .iter()
            .filter(|(_, (c, _))| c.in_baseline())
            .map(|(p, (_, s))| (p.clone(), s.clone()))
            .collect();
        match baseline::save(&self.cfg.baseline_path, &b) {
            Ok(()) => {
                self.baseline_dirty = false;
                self.last_save = Instant::now();
            }
            Err(e) => {
                self.stats.last_error =
                    Some(format!("writing {}: {e}", self.cfg.baseline_path.display()));
                self.last_save = Instant::now();
            }
        }
    }

    pub(super) fn save_accounts(&mut self) {
        if let Err(e) = accounts::save(&self.cfg.accounts_path, &self.accounts) {
            self.stats.last_error =
                Some(format!("writing {}: {e}", self.cfg.accounts_path.display()));
        }
    }

    /// Watches, the first walk to completion, accounts. `false` when `stop`
    /// came first: then the walk's results are dropped and no baseline is
    /// written (a partial first baseline would make the next start report
    /// every file it lacks as created; a partial check changes nothing), so
    /// the next start walks again. A stop is noticed between walk slices
    /// and between the files hashed, so it never waits for a whole tree.
    pub(super) fn start(&mut self, stop: &Stopper) -> bool {
        let loaded = match baseline::load(&self.cfg.baseline_path) {
            Ok(b) => b,
            Err(e) => {
                self.stats.last_error = Some(format!(
                    "{}: {e}; a new baseline is built",
                    self.cfg.baseline_path.display()
                ));
                tracing::error!(path = %self.cfg.baseline_path.display(), error = %e, "file-integrity baseline damaged; rebuilding it");
                None
            }
        };
        let first = loaded.is_none();
        if let Some(b) = loaded {
            for (p, st) in b {
                if let Some(c) = self.plan.classify(&p) {
                    self.known.insert(p, (c, st));
                }
            }
        }
        // Accounts first: the walk's own batch then sees no difference.
        let current = accounts::read(&self.cfg.root.join("etc"));
        if let Some(saved) = accounts::load(&self.cfg.accounts_path) {
            let by = self.running.now().is_some_and(|a| a.by_package);
            for e in accounts::diff(&saved, &current, by) {
                self.push("scan", e);
            }
        }
        self.accounts = current;
        self.save_accounts();
        let mut walk = Walk::new(&self.plan, self.cfg.max_dirs);
        while !walk.done() {
            if stop.is_stopped() {
                return false;
            }
            self.walk_slice(&mut walk, first, START_WALK_SLICE);
        }
        self.finish_walk(walk, first);
        if !self.settle(true, Some(stop)) {
            return false;
        }
        self.baseline_dirty = true;
        self.save_baseline();
        self.stats.state = "running".into();
        self.stats.detail = self.watcher.is_none().then(|| "periodic scans only".into());
        self.publish();
        true
    }

    /// Known paths the walk did not see are examined (deleted while unwatched).
    pub(super) fn finish_walk(&mut self, walk: Walk, quiet: bool) {
        let now = Instant::now();
        let missing: Vec<(PathBuf, bool)> = self
            .known
            .iter()
            .filter(|(p, _)| !walk.seen.contains(*p))
            .map(|(p, (c, _))| (p.clone(), quiet || !c.in_baseline()))
            .collect();
        for (p, quiet) in missing {
            self.dirty.entry(p).or_insert(Dirty {
                first: now,
                last: now,
                flags: 0,
                pid: None,
                exe_hint: None,
                actor: None,
                seen_by: "scan",
                quiet,
            });
        }
    }

    /// A directory appeared: a new home re-plans; a watched one is watched
    /// and its entries examined.
    pub(super) fn new_dir(&mut self, dir: &Path) {
        if dir.parent() == Some(self.cfg.root.join("home").as_path()) {
            self.plan = Plan::new(&Self::plan_input(&self.cfg));
        }
        if let Some(w) = self.plan.watches_new_dir(dir) {
            // Walk it (and below, for trees) like a scan.
            let mut walk = Walk::new(&self.plan, self.cfg.max_dirs);
            walk.replace_with(vec![w]);
            while !walk.done() {
                self.walk_slice(&mut walk, false, Duration::from_secs(1));
            }
        }
    }
}
