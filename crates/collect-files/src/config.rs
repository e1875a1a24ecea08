//! What the file collector watches and how (the agent maps
//! `[collect.files]` of `agent.toml` here).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ward_events::Actor;

/// Names the process behind a pid (the process collector's table, so a
/// short-lived writer is still named after it exited).
pub type ActorLookup = Arc<dyn Fn(u32) -> Option<Actor> + Send + Sync>;

/// Which kernel interface watches directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// fanotify (names the writer), else inotify.
    Auto,
    Fanotify,
    Inotify,
}

#[derive(Clone)]
pub struct FilesConfig {
    /// Root of the system paths (`/`; tests use a temporary tree).
    pub root: PathBuf,
    /// File-integrity trees (recursive), absolute.
    pub fim_paths: Vec<PathBuf>,
    /// Watch shell history files in home directories.
    pub history: bool,
    /// Watch `/var/log` entries (truncation, deletion).
    pub logs: bool,
    /// Watch `/tmp`, `/var/tmp`, `/dev/shm` entries (new files, setuid bits).
    pub temp: bool,
    /// Entry names never reported (globs: editor swap files ...).
    pub exclude_names: Vec<String>,
    /// Paths never reported (the agent's own prefix).
    pub exclude_paths: Vec<PathBuf>,
    pub backend: Backend,
    /// The persisted baseline (`data/fim-baseline`).
    pub baseline_path: PathBuf,
    /// The persisted account state (`data/collect-files-accounts.json`).
    pub accounts_path: PathBuf,
    /// Larger files are not hashed (metadata only).
    pub hash_max_bytes: u64,
    /// Full metadata scan of everything watched (changed files are hashed).
    pub scan_interval: Duration,
    /// A path is examined once no event came for it this long.
    pub settle: Duration,
    /// Most directories watched.
    pub max_dirs: usize,
    /// Most paths kept in the baseline.
    pub max_files: usize,
    /// dpkg's database (package attribution).
    pub dpkg_dir: PathBuf,
    /// `/proc` (running package managers; writers when no lookup is given).
    pub proc_root: PathBuf,
    pub actor_lookup: Option<ActorLookup>,
}

impl std::fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesConfig")
            .field("root", &self.root)
            .field("fim_paths", &self.fim_paths)
            .field("backend", &self.backend)
            .field("baseline_path", &self.baseline_path)
            .field("scan_interval", &self.scan_interval)
            .field("actor_lookup", &self.actor_lookup.is_some())
            .finish_non_exhaustive()
    }
}

/// The defaults for `/etc`, `/usr/bin`, `/usr/sbin`, `/bin`, `/sbin`, `/boot`.
pub const DEFAULT_FIM_PATHS: &[&str] = &["/etc", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/boot"];

/// Editor swap and backup files, and dpkg's temporary names.
pub const DEFAULT_EXCLUDE_NAMES: &[&str] = &[
    "*.swp",
    "*.swx",
    "*.swpx",
    "*~",
    ".#*",
    "4913",
    "*.dpkg-new",
    "*.dpkg-tmp",
    "*.dpkg-old",
    "*.dpkg-dist",
    "*.ucf-new",
    "*.ucf-old",
];

impl FilesConfig {
    /// Defaults with state files in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> FilesConfig {
        let data: PathBuf = data_dir.into();
        FilesConfig {
            root: "/".into(),
            fim_paths: DEFAULT_FIM_PATHS.iter().map(PathBuf::from).collect(),
            history: true,
            logs: true,
            temp: true,
            exclude_names: DEFAULT_EXCLUDE_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            exclude_paths: Vec::new(),
            backend: Backend::Auto,
            baseline_path: data.join("fim-baseline"),
            accounts_path: data.join("collect-files-accounts.json"),
            hash_max_bytes: 64 << 20,
            scan_interval: Duration::from_secs(3600),
            settle: Duration::from_millis(100),
            max_dirs: 20_000,
            max_files: 500_000,
            dpkg_dir: "/var/lib/dpkg".into(),
            proc_root: "/proc".into(),
            actor_lookup: None,
        }
    }
}
