//! The collector's persisted read positions (`data/collect-auth.json`),
//! replaced atomically (temporary file + rename).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::follow::FilePos;

/// Every source's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Checkpoint {
    /// Text logs and utmp files, by path.
    pub files: BTreeMap<String, FilePos>,
    /// The last journald entry handed to the sink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_cursor: Option<String>,
}

impl Checkpoint {
    /// Reads the file; a missing or unreadable file is an empty checkpoint
    /// (returned with the reason, for the log).
    pub fn load(path: &Path) -> (Checkpoint, Option<String>) {
        match fs::read(path) {
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(c) => (c, None),
                Err(e) => (
                    Checkpoint::default(),
                    Some(format!(
                        "{} is damaged ({e}); starting over",
                        path.display()
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Checkpoint::default(), None),
            Err(e) => (
                Checkpoint::default(),
                Some(format!("reading {}: {e}", path.display())),
            ),
        }
    }

    /// Writes it atomically (mode 0600).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&text)?;
        fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cp.json");
        assert_eq!(Checkpoint::load(&p), (Checkpoint::default(), None));
        let mut c = Checkpoint::default();
        c.files.insert(
            "/var/log/auth.log".into(),
            FilePos {
                dev: 1,
                ino: 2,
                offset: 3,
                head: Some(4),
            },
        );
        c.journal_cursor = Some("s=abc;i=1".into());
        c.save(&p).unwrap();
        assert_eq!(Checkpoint::load(&p).0, c);
        std::fs::write(&p, b"{oops").unwrap();
        let (c2, why) = Checkpoint::load(&p);
        assert_eq!(c2, Checkpoint::default());
        assert!(why.unwrap().contains("damaged"));
    }
}
