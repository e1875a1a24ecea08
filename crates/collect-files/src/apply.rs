//! A settled batch of changed paths → observed states → typed events, with
//! renames paired (same device and inode) and changes attributed to the
//! package manager or log rotation.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ward_events::{Actor, EventData, FileChange};

use crate::classify::{Category, Plan};
use crate::diff::{diff, ChangeKind};
use crate::pkg::{dpkg_md5s, from_actor, md5_file, Attributed, Running};
use crate::state::{observe, FileState, Kind, Limits};

/// A path with pending events.
#[derive(Debug, Clone)]
pub struct Dirty {
    pub first: Instant,
    pub last: Instant,
    /// Union of the watch flags seen.
    pub flags: u32,
    /// The writer's pid (fanotify) and its executable read when the event
    /// arrived (the process may be gone by the time the path settles).
    pub pid: Option<u32>,
    pub exe_hint: Option<String>,
    /// The writer, resolved when the path settled (the process collector
    /// has then seen its exec).
    pub actor: Option<Actor>,
    /// `fanotify`, `inotify` or `scan`.
    pub seen_by: &'static str,
    /// Record the state without reporting (the first baseline).
    pub quiet: bool,
}

/// What the collector knows of every watched path.
pub type Known = HashMap<PathBuf, (Category, FileState)>;

pub struct Context<'a> {
    pub plan: &'a Plan,
    pub known: &'a mut Known,
    pub running: &'a mut Running,
    pub limits: Limits,
    pub dpkg_dir: &'a Path,
    pub max_files: usize,
    /// Checked before each path is read and hashed: when it turns true the
    /// batch is abandoned with nothing changed ([`Applied::aborted`]).
    pub abort: &'a dyn Fn() -> bool,
}

/// The outcome of a batch.
#[derive(Debug, Default)]
pub struct Applied {
    pub events: Vec<EventData>,
    /// An account database changed (re-read and diff accounts); `true`
    /// in the second field when the package manager did it.
    pub accounts: Option<bool>,
    /// The persisted baseline changed.
    pub baseline_changed: bool,
    /// The batch was abandoned (the collector is stopping): no event, and
    /// the known state is untouched.
    pub aborted: bool,
}

struct Obs {
    path: PathBuf,
    category: Category,
    dirty: Dirty,
    old: Option<FileState>,
    new: Option<FileState>,
    content: Option<Vec<u8>>,
}

fn event(kind: ChangeKind, f: FileChange) -> EventData {
    match kind {
        ChangeKind::Created => EventData::FileCreated(f),
        ChangeKind::Modified => EventData::FileModified(f),
        ChangeKind::Deleted => EventData::FileDeleted(f),
        ChangeKind::Renamed => EventData::FileRenamed(f),
        ChangeKind::Attrib => EventData::FileAttrib(f),
    }
}

fn same_inode(a: &FileState, b: &FileState) -> bool {
    (a.dev, a.ino) == (b.dev, b.ino)
}

/// Observes, pairs, attributes and reports a batch.
pub fn apply(cx: &mut Context<'_>, batch: Vec<(PathBuf, Dirty)>) -> Applied {
    let mut out = Applied::default();
    let mut obs: Vec<Obs> = Vec::with_capacity(batch.len());
    for (path, dirty) in batch {
        if (cx.abort)() {
            return Applied {
                aborted: true,
                ..Applied::default()
            };
        }
        let Some(category) = cx.plan.classify(&path) else {
            continue;
        };
        let old = cx.known.get(&path).map(|(_, s)| s.clone());
        let reuse = dirty.seen_by == "scan";
        let (new, content) = match observe(&path, category, cx.limits, old.as_ref(), reuse) {
            Some((s, c)) => (Some(s), c),
            None => (None, None),
        };
        obs.push(Obs {
            path,
            category,
            dirty,
            old,
            new,
            content,
        });
    }
    // Renames: a path that moved away and one that moved in with its inode.
    let mut renamed_to: HashMap<usize, usize> = HashMap::new();
    for i in 0..obs.len() {
        let (Some(o), None) = (&obs[i].old, &obs[i].new) else {
            continue;
        };
        if obs[i].dirty.flags & crate::watch::MOVED_FROM == 0 {
            continue;
        }
        if let Some(j) = (0..obs.len()).find(|&j| {
            j != i
                && obs[j].dirty.flags & crate::watch::MOVED_TO != 0
                && obs[j].new.as_ref().is_some_and(|n| same_inode(n, o))
        }) {
            renamed_to.insert(j, i);
        }
    }
    let sources: HashSet<usize> = renamed_to.values().copied().collect();
    // Attribution: the writer's chain, else what runs now.
    let mut attr: Vec<Attributed> = Vec::with_capacity(obs.len());
    for o in &obs {
        let a = match &o.dirty.actor {
            Some(actor) => from_actor(actor).unwrap_or_default(),
            None => cx.running.now().unwrap_or_default(),
        };
        attr.push(a);
    }
    // dpkg's database for hashed files nobody attributed.
    let verify: HashSet<String> = obs
        .iter()
        .zip(&attr)
        .filter(|(o, a)| {
            !a.by_package
                && !o.dirty.quiet
                && o.category.hashed()
                && o.new.as_ref().is_some_and(|n| n.kind == Kind::File)
        })
        .map(|(o, _)| o.path.to_string_lossy().into_owned())
        .collect();
    let md5s = dpkg_md5s(cx.dpkg_dir, &verify);
    for (i, o) in obs.iter().enumerate() {
        let key = o.path.to_string_lossy().into_owned();
        if let Some((pkg, sum)) = md5s.get(&key) {
            attr[i].package = Some(pkg.clone());
            if md5_file(&o.path, cx.limits.hash_max).as_deref() == Some(sum.as_str()) {
                attr[i].by_package = true;
                attr[i].tool = Some("dpkg".into());
            }
        }
    }
    let source_path: HashMap<usize, String> = renamed_to
        .iter()
        .map(|(&dst, &src)| (dst, obs[src].path.to_string_lossy().into_owned()))
        .collect();
    for (i, o) in obs.into_iter().enumerate() {
        if o.category.in_baseline() {
            out.baseline_changed = true;
        }
        match &o.new {
            Some(n) => {
                if cx.known.len() < cx.max_files || cx.known.contains_key(&o.path) {
                    cx.known.insert(o.path.clone(), (o.category, n.clone()));
                }
            }
            None => {
                cx.known.remove(&o.path);
            }
        }
        if o.category == Category::Accounts {
            let by = out.accounts.unwrap_or(false) || attr[i].by_package;
            out.accounts = Some(by);
        }
        // A source of a rename reports nothing itself (it was not deleted).
        if o.dirty.quiet || sources.contains(&i) {
            continue;
        }
        let path = o.path.to_string_lossy().into_owned();
        let change = match (source_path.get(&i), &o.old) {
            // Renamed into a new name.
            (Some(_), None) => diff(
                &path,
                o.category,
                None,
                o.new.as_ref(),
                o.content.as_deref(),
            )
            .map(|(_, f)| (ChangeKind::Renamed, f)),
            // Renamed over an existing file (editors, useradd, dpkg): a
            // modification compared with the file it replaced.
            _ => diff(
                &path,
                o.category,
                o.old.as_ref(),
                o.new.as_ref(),
                o.content.as_deref(),
            ),
        };
        let Some((kind, mut f)) = change else {
            continue;
        };
        let a = &attr[i];
        f.old_path = source_path.get(&i).cloned();
        f.by_package = a.by_package;
        f.tool = a.tool.clone();
        f.package = a.package.clone();
        f.actor = o.dirty.actor.clone();
        f.seen_by = o.dirty.seen_by.to_string();
        out.events.push(event(kind, f));
    }
    out
}
