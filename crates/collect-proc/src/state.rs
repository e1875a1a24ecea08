//! Which running processes were already reported (`process.running`,
//! `process.exe_deleted`), kept in the agent's data directory so that an
//! agent restart does not report them again.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// `(pid, start time in clock ticks since boot)`: one process, never reused
/// (until a reboot, which changes `boot_id`).
pub type ProcKey = (u32, u64);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    /// `/proc/sys/kernel/random/boot_id` when the set was written: keys of
    /// another boot mean nothing.
    pub boot_id: String,
    pub running: HashSet<ProcKey>,
    pub deleted: HashSet<ProcKey>,
}

impl Reported {
    /// The saved set, or an empty one when missing, unreadable, malformed
    /// or from another boot.
    pub fn load(path: &Path, boot_id: &str) -> Reported {
        let r: Reported = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if r.boot_id == boot_id {
            r
        } else {
            Reported {
                boot_id: boot_id.to_string(),
                ..Reported::default()
            }
        }
    }

    /// Writes atomically (temporary file, rename), mode 0600. Not synced:
    /// losing the file in a crash only reports some processes again, and an
    /// fsync under heavy disk load would stall the collector.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, path)
    }

    /// Keeps only keys of processes still alive.
    pub fn retain_alive(&mut self, alive: &HashSet<ProcKey>) {
        self.running.retain(|k| alive.contains(k));
        self.deleted.retain(|k| alive.contains(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_other_boots_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("collect-proc.json");
        let mut r = Reported::load(&p, "boot-a");
        assert!(r.running.is_empty());
        r.running.insert((10, 500));
        r.deleted.insert((11, 600));
        r.save(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(Reported::load(&p, "boot-a"), r);
        assert!(Reported::load(&p, "boot-b").running.is_empty());
        std::fs::write(&p, b"{not json").unwrap();
        assert!(Reported::load(&p, "boot-a").running.is_empty());
        let alive: HashSet<ProcKey> = [(10, 500)].into_iter().collect();
        r.retain_alive(&alive);
        assert_eq!(r.running.len(), 1);
        assert!(r.deleted.is_empty());
    }
}
