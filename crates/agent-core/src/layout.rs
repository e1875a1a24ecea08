//! The install layout under a prefix (default `/usr/local/ward`):
//!
//! ```text
//! bin/ward-agent  -> ../agent/<version>/ward-agent    (swapped atomically)
//! bin/ward-update -> ../update/<version>/ward-update  (swapped atomically)
//! agent/<version>/ward-agent
//! update/<version>/ward-update
//! conf/agent.toml  conf/network.toml  conf/update.toml  conf/release.pub
//! data/identity.json (0600)  data/status.json  data/agent.pid  data/agent.lock
//! data/command-key.pub  data/protection.json  data/commands.json  data/notices/
//! data/update.pid  data/update.lock  data/update-state.json
//! data/stopped  data/uninstalling          (markers: no resurrection, no updates)
//! log/agent.log  log/update.log
//! ```
//!
//! `data/stopped` is written by an authorised `ward-agent stop` and removed
//! by `ward-agent start`; `data/uninstalling` is written first thing by any
//! uninstall. While either exists neither guardian (`ward-agent`,
//! `ward-update`) restarts the other program.
//!
//! Directories are 0755 except `data/` (0700).

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Default install prefix.
pub const DEFAULT_PREFIX: &str = "/usr/local/ward";

/// Name of the agent executable.
pub const AGENT_BIN: &str = "ward-agent";
/// Name of the updater executable.
pub const UPDATE_BIN: &str = "ward-update";

/// Paths of one install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: PathBuf,
}

impl Layout {
    /// A layout at `prefix`, made absolute against the current directory.
    pub fn new(prefix: impl AsRef<Path>) -> Self {
        let p = prefix.as_ref();
        let prefix = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        };
        Layout { prefix }
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }
    /// True for `/usr/local/ward` (where system services are installed).
    pub fn is_default_prefix(&self) -> bool {
        self.prefix == Path::new(DEFAULT_PREFIX)
    }
    pub fn bin_dir(&self) -> PathBuf {
        self.prefix.join("bin")
    }
    /// `bin/ward-agent`, the stable entry point (a symlink).
    pub fn bin_link(&self) -> PathBuf {
        self.bin_dir().join(AGENT_BIN)
    }
    pub fn agent_root(&self) -> PathBuf {
        self.prefix.join("agent")
    }
    pub fn version_dir(&self, version: &str) -> PathBuf {
        self.agent_root().join(version)
    }
    pub fn versioned_bin(&self, version: &str) -> PathBuf {
        self.version_dir(version).join(AGENT_BIN)
    }
    /// Target of the `bin/ward-agent` symlink, relative to `bin/`.
    pub fn link_target(version: &str) -> PathBuf {
        Path::new("..").join("agent").join(version).join(AGENT_BIN)
    }
    pub fn conf_dir(&self) -> PathBuf {
        self.prefix.join("conf")
    }
    pub fn agent_toml(&self) -> PathBuf {
        self.conf_dir().join("agent.toml")
    }
    pub fn network_toml(&self) -> PathBuf {
        self.conf_dir().join("network.toml")
    }
    pub fn data_dir(&self) -> PathBuf {
        self.prefix.join("data")
    }
    pub fn identity(&self) -> PathBuf {
        self.data_dir().join("identity.json")
    }
    pub fn status(&self) -> PathBuf {
        self.data_dir().join("status.json")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.data_dir().join("agent.pid")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.data_dir().join("agent.lock")
    }
    /// Public half of the server's command-signing key (base64).
    pub fn command_key_file(&self) -> PathBuf {
        self.data_dir().join("command-key.pub")
    }
    /// The signed tamper-protection statement last received.
    pub fn protection_file(&self) -> PathBuf {
        self.data_dir().join("protection.json")
    }
    /// Ids of commands already executed (replay protection).
    pub fn commands_file(&self) -> PathBuf {
        self.data_dir().join("commands.json")
    }
    /// Notices waiting to reach the server, one JSON file each.
    pub fn notices_dir(&self) -> PathBuf {
        self.data_dir().join("notices")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.prefix.join("log")
    }
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("agent.log")
    }

    /// `bin/ward-update`, the updater's stable entry point (a symlink).
    pub fn update_bin_link(&self) -> PathBuf {
        self.bin_dir().join(UPDATE_BIN)
    }
    pub fn update_root(&self) -> PathBuf {
        self.prefix.join("update")
    }
    pub fn update_version_dir(&self, version: &str) -> PathBuf {
        self.update_root().join(version)
    }
    pub fn update_versioned_bin(&self, version: &str) -> PathBuf {
        self.update_version_dir(version).join(UPDATE_BIN)
    }
    /// Target of the `bin/ward-update` symlink, relative to `bin/`.
    pub fn update_link_target(version: &str) -> PathBuf {
        Path::new("..")
            .join("update")
            .join(version)
            .join(UPDATE_BIN)
    }
    /// Held (flock) while `ward-update run` runs.
    pub fn update_lock_file(&self) -> PathBuf {
        self.data_dir().join("update.lock")
    }
    /// The pid of `ward-update run`.
    pub fn update_pid_file(&self) -> PathBuf {
        self.data_dir().join("update.pid")
    }
    /// The updater's state: trusted metadata version, versions, last result.
    pub fn update_state_file(&self) -> PathBuf {
        self.data_dir().join("update-state.json")
    }
    /// `conf/update.toml`: the updater's settings.
    pub fn update_toml(&self) -> PathBuf {
        self.conf_dir().join("update.toml")
    }
    /// `conf/release.pub`: the release public key the updater trusts.
    pub fn release_key(&self) -> PathBuf {
        self.conf_dir().join("release.pub")
    }
    pub fn update_log_file(&self) -> PathBuf {
        self.log_dir().join("update.log")
    }
    /// Written by an authorised `ward-agent stop`, removed by `start`:
    /// while it exists neither guardian restarts the other program.
    pub fn stopped_marker(&self) -> PathBuf {
        self.data_dir().join("stopped")
    }
    /// Written first by any uninstall: no restarts, no updates.
    pub fn uninstalling_marker(&self) -> PathBuf {
        self.data_dir().join("uninstalling")
    }
    /// True while `data/stopped` or `data/uninstalling` exists.
    pub fn resurrection_blocked(&self) -> bool {
        self.stopped_marker().exists() || self.uninstalling_marker().exists()
    }

    /// Every directory of the layout with its mode, parents first.
    pub fn dirs(&self) -> Vec<(PathBuf, u32)> {
        vec![
            (self.prefix.clone(), 0o755),
            (self.bin_dir(), 0o755),
            (self.agent_root(), 0o755),
            (self.update_root(), 0o755),
            (self.conf_dir(), 0o755),
            (self.data_dir(), 0o700),
            (self.log_dir(), 0o755),
        ]
    }

    /// Creates the missing directories (and the prefix's missing parents)
    /// with their modes; returns the ones it created, parents first.
    pub fn create_dirs(&self) -> io::Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        let mut missing_parents = Vec::new();
        let mut p = self.prefix.parent();
        while let Some(dir) = p {
            if dir.exists() {
                break;
            }
            missing_parents.push(dir.to_path_buf());
            p = dir.parent();
        }
        for dir in missing_parents.into_iter().rev() {
            create_dir_with_mode(&dir, 0o755)?;
            created.push(dir);
        }
        for (dir, mode) in self.dirs() {
            if dir.exists() {
                // Existing data dirs are tightened, never loosened.
                if mode == 0o700 {
                    fs::set_permissions(&dir, fs::Permissions::from_mode(mode))?;
                }
                continue;
            }
            create_dir_with_mode(&dir, mode)?;
            created.push(dir);
        }
        Ok(created)
    }
}

fn create_dir_with_mode(dir: &Path, mode: u32) -> io::Result<()> {
    DirBuilder::new().mode(mode).create(dir)?;
    // The umask may have removed bits from the mode.
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// Points `link` at `target` atomically: a temporary symlink renamed over it.
pub fn swap_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let name = link
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "link has no file name"))?;
    let tmp = link.with_file_name(format!(
        ".{}.new.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn paths_follow_the_documented_layout() {
        let l = Layout::new("/opt/w");
        assert_eq!(l.bin_link(), Path::new("/opt/w/bin/ward-agent"));
        assert_eq!(
            l.versioned_bin("1.2.3"),
            Path::new("/opt/w/agent/1.2.3/ward-agent")
        );
        assert_eq!(l.agent_toml(), Path::new("/opt/w/conf/agent.toml"));
        assert_eq!(l.network_toml(), Path::new("/opt/w/conf/network.toml"));
        assert_eq!(l.identity(), Path::new("/opt/w/data/identity.json"));
        assert_eq!(l.status(), Path::new("/opt/w/data/status.json"));
        assert_eq!(l.pid_file(), Path::new("/opt/w/data/agent.pid"));
        assert_eq!(l.log_file(), Path::new("/opt/w/log/agent.log"));
        assert_eq!(l.update_bin_link(), Path::new("/opt/w/bin/ward-update"));
        assert_eq!(
            l.update_versioned_bin("1.2.3"),
            Path::new("/opt/w/update/1.2.3/ward-update")
        );
        assert_eq!(l.update_lock_file(), Path::new("/opt/w/data/update.lock"));
        assert_eq!(l.update_pid_file(), Path::new("/opt/w/data/update.pid"));
        assert_eq!(
            l.update_state_file(),
            Path::new("/opt/w/data/update-state.json")
        );
        assert_eq!(l.stopped_marker(), Path::new("/opt/w/data/stopped"));
        assert_eq!(
            l.uninstalling_marker(),
            Path::new("/opt/w/data/uninstalling")
        );
        assert_eq!(l.release_key(), Path::new("/opt/w/conf/release.pub"));
        assert_eq!(
            l.bin_dir().join(Layout::update_link_target("1.2.3")),
            Path::new("/opt/w/bin/../update/1.2.3/ward-update")
        );
        // The relative link target resolves from bin/ to the versioned binary.
        assert_eq!(
            l.bin_dir().join(Layout::link_target("1.2.3")),
            Path::new("/opt/w/bin/../agent/1.2.3/ward-agent")
        );
        assert!(Layout::new(DEFAULT_PREFIX).is_default_prefix());
        assert!(!l.is_default_prefix());
    }

    #[test]
    fn relative_prefix_is_made_absolute() {
        let l = Layout::new("rel/w");
        assert!(l.prefix().is_absolute());
        assert!(l.prefix().ends_with("rel/w"));
    }

    #[test]
    fn create_dirs_sets_modes_and_reports_what_it_made() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path().join("a/ward"));
        let created = l.create_dirs().unwrap();
        assert_eq!(created[0], tmp.path().join("a"));
        assert_eq!(created.len(), 1 + l.dirs().len());
        for (dir, mode) in l.dirs() {
            assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, mode, "{dir:?}");
        }
        assert_eq!(fs::metadata(l.data_dir()).unwrap().mode() & 0o777, 0o700);
        assert!(
            l.create_dirs().unwrap().is_empty(),
            "second call creates nothing"
        );
    }

    #[test]
    fn symlink_swap_replaces_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("cur");
        swap_symlink(Path::new("one"), &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("one"));
        swap_symlink(Path::new("two"), &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("two"));
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
