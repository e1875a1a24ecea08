//! Walking everything watched (at start, periodically, after a queue
//! overflow): the directories to watch and the paths to observe, visited
//! a slice at a time so events keep being handled during long scans.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::classify::{Plan, WatchDir};

/// One full walk in progress.
#[derive(Debug)]
pub struct Walk {
    dirs: VecDeque<WatchDir>,
    visited: HashSet<PathBuf>,
    /// Paths seen by this walk (to find deletions when it ends).
    pub seen: HashSet<PathBuf>,
    pub started: Instant,
    /// Directories found (to watch).
    pub found_dirs: Vec<WatchDir>,
    max_dirs: usize,
    /// More directories than `max_dirs`: the rest is not walked.
    pub truncated: bool,
}

impl Walk {
    pub fn new(plan: &Plan, max_dirs: usize) -> Walk {
        Walk {
            dirs: plan.watch_dirs().into(),
            visited: HashSet::new(),
            seen: HashSet::new(),
            started: Instant::now(),
            found_dirs: Vec::new(),
            max_dirs,
            truncated: false,
        }
    }

    /// Walks only these directories (a directory that just appeared).
    pub fn replace_with(&mut self, dirs: Vec<WatchDir>) {
        self.dirs = dirs.into();
    }

    pub fn done(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Visits directories for at most `budget`, calling `on_dir` with each
    /// directory before it is read (to watch it first, so nothing changes
    /// unseen between reading and watching) and `f` with every entry found
    /// (files, links and directories).
    pub fn step(
        &mut self,
        budget: Duration,
        mut on_dir: impl FnMut(&WatchDir),
        mut f: impl FnMut(&std::path::Path),
    ) {
        let t0 = Instant::now();
        while let Some(w) = self.dirs.pop_front() {
            if !self.visited.insert(w.path.clone()) {
                continue;
            }
            if self.visited.len() > self.max_dirs {
                self.truncated = true;
                self.dirs.clear();
                break;
            }
            if !w.path.is_dir() {
                continue;
            }
            on_dir(&w);
            let Ok(rd) = std::fs::read_dir(&w.path) else {
                continue;
            };
            self.found_dirs.push(w.clone());
            for e in rd.flatten() {
                let p = e.path();
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && w.recursive {
                    self.dirs.push_back(WatchDir {
                        path: p.clone(),
                        recursive: true,
                        mask: w.mask,
                    });
                }
                self.seen.insert(p.clone());
                f(&p);
            }
            if t0.elapsed() >= budget {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::PlanInput;

    #[test]
    fn walks_trees_and_children_within_the_bound() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for p in ["etc/cron.d", "etc/a/b/c", "usr/bin", "var/log/apt"] {
            std::fs::create_dir_all(root.join(p)).unwrap();
        }
        std::fs::write(root.join("etc/cron.d/job"), "x").unwrap();
        std::fs::write(root.join("etc/a/b/c/deep"), "x").unwrap();
        std::fs::write(root.join("var/log/apt/history.log"), "x").unwrap();
        let plan = Plan::new(&PlanInput {
            root: root.to_path_buf(),
            homes: vec![],
            fim: vec![root.join("etc")],
            history: false,
            logs: true,
            temp: false,
            exclude_names: vec![],
            exclude_paths: vec![],
        });
        let mut w = Walk::new(&plan, 1000);
        let mut found = Vec::new();
        while !w.done() {
            w.step(
                Duration::from_secs(1),
                |_| {},
                |p| found.push(p.to_path_buf()),
            );
        }
        assert!(found.contains(&root.join("etc/cron.d/job")));
        assert!(
            found.contains(&root.join("etc/a/b/c/deep")),
            "the FIM tree is walked"
        );
        assert!(
            found.contains(&root.join("var/log/apt")),
            "a log child (a dir)"
        );
        assert!(
            !found.contains(&root.join("var/log/apt/history.log")),
            "not below"
        );
        assert!(w
            .found_dirs
            .iter()
            .any(|x| x.path == root.join("etc/a/b/c")));
        let mut small = Walk::new(&plan, 2);
        while !small.done() {
            small.step(Duration::from_secs(1), |_| {}, |_| {});
        }
        assert!(small.truncated);
    }
}
