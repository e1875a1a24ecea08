//! What each watched path is for (its [`Category`]) and which directories
//! are watched: the persistence paths, accounts, shell history, logs,
//! temporary directories and the file-integrity trees. Pure: paths are
//! built under a configurable root, nothing is read.

use std::path::{Path, PathBuf};

use crate::watch::{ATTRIB, CLOSE_WRITE, CREATED, DELETED, MOVED_FROM, MOVED_TO};

/// The purpose of a path (the event field `category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Cron,
    Systemd,
    RcLocal,
    Profile,
    AuthorizedKeys,
    LdPreload,
    Pam,
    Sudoers,
    Accounts,
    History,
    Log,
    Temp,
    Fim,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Cron => "cron",
            Category::Systemd => "systemd",
            Category::RcLocal => "rc_local",
            Category::Profile => "profile",
            Category::AuthorizedKeys => "authorized_keys",
            Category::LdPreload => "ld_preload",
            Category::Pam => "pam",
            Category::Sudoers => "sudoers",
            Category::Accounts => "accounts",
            Category::History => "history",
            Category::Log => "log",
            Category::Temp => "temp",
            Category::Fim => "fim",
        }
    }

    /// Content is hashed (SHA-256).
    pub fn hashed(self) -> bool {
        !matches!(self, Category::History | Category::Log | Category::Temp)
    }

    /// Lines are tracked (events say how many were added and quote them).
    pub fn lines(self) -> bool {
        matches!(
            self,
            Category::Cron
                | Category::Systemd
                | Category::RcLocal
                | Category::Profile
                | Category::AuthorizedKeys
                | Category::LdPreload
                | Category::Pam
                | Category::Sudoers
        )
    }

    /// Kept in the persisted baseline (changes while the agent was down
    /// are found at start). History, logs and temporary files are not.
    pub fn in_baseline(self) -> bool {
        self.hashed()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The path itself.
    Exact,
    /// Entries directly in the directory.
    Children,
    /// Everything below the directory.
    Tree,
    /// Entries of the directory with these names.
    Names(&'static [&'static str]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    path: PathBuf,
    scope: Scope,
    category: Category,
}

/// A directory to watch and the changes wanted there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchDir {
    pub path: PathBuf,
    /// Watch every subdirectory too (walked at start, added as they appear).
    pub recursive: bool,
    pub mask: u32,
}

/// Which paths are watched and what they are for.
#[derive(Debug, Clone)]
pub struct Plan {
    rules: Vec<Rule>,
    exclude_names: Vec<String>,
    exclude_paths: Vec<PathBuf>,
}

const FULL: u32 = CREATED | DELETED | MOVED_FROM | MOVED_TO | CLOSE_WRITE | ATTRIB;
/// Temporary directories: new entries and mode changes only.
const TEMP: u32 = CREATED | MOVED_TO | CLOSE_WRITE | ATTRIB;

const HOME_PROFILE: &[&str] = &[
    ".bashrc",
    ".profile",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
];
const HOME_HISTORY: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".ash_history",
    ".history",
    ".mysql_history",
    ".psql_history",
    ".python_history",
];
const AUTHORIZED_KEYS: &[&str] = &["authorized_keys", "authorized_keys2"];

/// Inputs of a [`Plan`].
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Root of the system paths (`/`; tests use a temporary directory).
    pub root: PathBuf,
    /// Home directories (`/root`, `/home/*`), already under `root`.
    pub homes: Vec<PathBuf>,
    /// File-integrity trees (absolute, used as given).
    pub fim: Vec<PathBuf>,
    pub history: bool,
    pub logs: bool,
    pub temp: bool,
    /// Entry names never reported (shell globs: `*.swp`, `*~`, ...).
    pub exclude_names: Vec<String>,
    /// Paths (and everything below) never reported (the agent's own prefix).
    pub exclude_paths: Vec<PathBuf>,
}

impl Plan {
    pub fn new(p: &PlanInput) -> Plan {
        let r = |s: &str| p.root.join(s);
        let mut rules = Vec::new();
        let mut add = |path: PathBuf, scope: Scope, category: Category| {
            rules.push(Rule {
                path,
                scope,
                category,
            })
        };
        use Category as C;
        add(r("etc/ld.so.preload"), Scope::Exact, C::LdPreload);
        for f in [
            "etc/crontab",
            "etc/anacrontab",
            "etc/cron.allow",
            "etc/cron.deny",
        ] {
            add(r(f), Scope::Exact, C::Cron);
        }
        for d in [
            "etc/cron.d",
            "etc/cron.hourly",
            "etc/cron.daily",
            "etc/cron.weekly",
            "etc/cron.monthly",
            "var/spool/cron",
            "var/spool/cron/crontabs",
        ] {
            add(r(d), Scope::Children, C::Cron);
        }
        for d in [
            "etc/systemd/system",
            "etc/systemd/user",
            "usr/lib/systemd/system",
            "usr/lib/systemd/user",
        ] {
            add(r(d), Scope::Tree, C::Systemd);
        }
        add(r("etc/rc.local"), Scope::Exact, C::RcLocal);
        for d in [
            "etc/init.d",
            "etc/rc0.d",
            "etc/rc1.d",
            "etc/rc2.d",
            "etc/rc3.d",
            "etc/rc4.d",
            "etc/rc5.d",
            "etc/rc6.d",
            "etc/rcS.d",
        ] {
            add(r(d), Scope::Children, C::RcLocal);
        }
        for f in [
            "etc/profile",
            "etc/bash.bashrc",
            "etc/bashrc",
            "etc/environment",
        ] {
            add(r(f), Scope::Exact, C::Profile);
        }
        add(r("etc/profile.d"), Scope::Children, C::Profile);
        add(r("etc/zsh"), Scope::Children, C::Profile);
        add(r("etc/pam.d"), Scope::Children, C::Pam);
        add(r("etc/security"), Scope::Tree, C::Pam);
        for d in [
            "usr/lib/x86_64-linux-gnu/security",
            "usr/lib/aarch64-linux-gnu/security",
            "usr/lib/i386-linux-gnu/security",
            "usr/lib64/security",
            "usr/lib/security",
        ] {
            add(r(d), Scope::Children, C::Pam);
        }
        add(r("etc/sudoers"), Scope::Exact, C::Sudoers);
        add(r("etc/sudoers.d"), Scope::Children, C::Sudoers);
        for base in ["passwd", "shadow", "group", "gshadow", "subuid", "subgid"] {
            for suffix in ["", "-", "+"] {
                add(r(&format!("etc/{base}{suffix}")), Scope::Exact, C::Accounts);
            }
        }
        add(r("etc/.pwd.lock"), Scope::Exact, C::Accounts);
        for h in &p.homes {
            add(
                h.join(".ssh"),
                Scope::Names(AUTHORIZED_KEYS),
                C::AuthorizedKeys,
            );
            add(h.clone(), Scope::Names(HOME_PROFILE), C::Profile);
            if p.history {
                add(h.clone(), Scope::Names(HOME_HISTORY), C::History);
            }
            add(h.join(".config/systemd/user"), Scope::Tree, C::Systemd);
        }
        if p.logs {
            add(r("var/log"), Scope::Children, C::Log);
        }
        if p.temp {
            for d in ["tmp", "var/tmp", "dev/shm"] {
                add(r(d), Scope::Children, C::Temp);
            }
        }
        for f in &p.fim {
            add(f.clone(), Scope::Tree, C::Fim);
        }
        Plan {
            rules,
            exclude_names: p.exclude_names.clone(),
            exclude_paths: p.exclude_paths.clone(),
        }
    }

    fn excluded(&self, path: &Path) -> bool {
        if self.exclude_paths.iter().any(|x| path.starts_with(x)) {
            return true;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        self.exclude_names.iter().any(|g| glob(g, name))
    }

    /// The category of `path`: an exact or named file first, then the
    /// deepest directory rule; `None` when nothing watched covers it.
    pub fn classify(&self, path: &Path) -> Option<Category> {
        if self.excluded(path) {
            return None;
        }
        let mut best: Option<(usize, usize, Category)> = None;
        for rule in &self.rules {
            let depth = rule.path.components().count();
            let rank = match &rule.scope {
                Scope::Exact if path == rule.path => 3,
                Scope::Names(names)
                    if path.parent() == Some(rule.path.as_path())
                        && path
                            .file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| names.contains(&n)) =>
                {
                    3
                }
                Scope::Children if path.parent() == Some(rule.path.as_path()) => 2,
                Scope::Tree if path.starts_with(&rule.path) && path != rule.path => {
                    if rule.category == Category::Fim {
                        1
                    } else {
                        2
                    }
                }
                _ => continue,
            };
            if best.is_none_or(|(r, d, _)| (rank, depth) > (r, d)) {
                best = Some((rank, depth, rule.category));
            }
        }
        best.map(|(_, _, c)| c)
    }

    /// Directories to watch at start (deduplicated; trees are walked by the
    /// caller). Parents of exact and named files are watched for their
    /// entries.
    pub fn watch_dirs(&self) -> Vec<WatchDir> {
        let mut out: Vec<WatchDir> = Vec::new();
        let mut push = |path: PathBuf, recursive: bool, mask: u32| {
            if let Some(w) = out.iter_mut().find(|w| w.path == path) {
                w.recursive |= recursive;
                w.mask |= mask;
            } else {
                out.push(WatchDir {
                    path,
                    recursive,
                    mask,
                });
            }
        };
        for rule in &self.rules {
            let mask = if rule.category == Category::Temp {
                TEMP
            } else {
                FULL
            };
            match &rule.scope {
                Scope::Exact => {
                    if let Some(parent) = rule.path.parent() {
                        push(parent.to_path_buf(), false, mask);
                    }
                }
                Scope::Names(_) | Scope::Children => push(rule.path.clone(), false, mask),
                Scope::Tree => push(rule.path.clone(), true, mask),
            }
            // Where a watched directory may appear later (a new home's .ssh,
            // a user's systemd directory), watch the nearest parent for it.
            if let Some(parent) = rule.path.parent() {
                push(parent.to_path_buf(), false, CREATED | MOVED_TO);
            }
        }
        out
    }

    /// Whether a directory that just appeared must be watched itself.
    pub fn watches_new_dir(&self, dir: &Path) -> Option<WatchDir> {
        if self.excluded(dir) {
            return None;
        }
        let planned = self.watch_dirs();
        if let Some(w) = planned.iter().find(|w| w.path == dir) {
            return Some(w.clone());
        }
        planned
            .into_iter()
            .find(|w| w.recursive && dir.starts_with(&w.path))
            .map(|w| WatchDir {
                path: dir.to_path_buf(),
                ..w
            })
    }
}

/// Shell-style glob on a name: `*` any run, `?` one character.
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    // Bounded: names are short; patterns come from configuration.
    pattern.len() <= 256 && name.len() <= 4096 && go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
