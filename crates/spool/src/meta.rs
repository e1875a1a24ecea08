//! `spool.meta`: the spool's counters, written atomically (temporary file,
//! fsync, rename, fsync of the directory).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SpoolError;

pub(crate) const META_FILE: &str = "spool.meta";
const META_TMP: &str = "spool.meta.tmp";

/// Persisted counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Meta {
    pub version: u32,
    /// Every id ever assigned is below this (ids are reserved in blocks).
    pub id_reserved: u64,
    /// Highest id the server acknowledged (cumulative).
    pub acked: u64,
    /// Events dropped without acknowledgement (full spool, damage).
    pub dropped_total: u64,
    /// Of `dropped_total`, those lost to damaged records.
    pub damaged_total: u64,
}

pub(crate) fn read(dir: &Path) -> Result<Option<Meta>, String> {
    let path = dir.join(META_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub(crate) fn write(dir: &Path, meta: &Meta) -> Result<(), SpoolError> {
    let tmp = dir.join(META_TMP);
    let path = dir.join(META_FILE);
    let text = serde_json::to_vec(meta).map_err(|e| SpoolError::Encode(e.to_string()))?;
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| SpoolError::Io {
            op,
            path: p,
            source,
        }
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    f.write_all(&text).map_err(io("writing", &tmp))?;
    f.sync_all().map_err(io("syncing", &tmp))?;
    fs::rename(&tmp, &path).map_err(io("renaming", &path))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SpoolError::Io {
            op: "syncing",
            path: dir.to_path_buf(),
            source,
        })
}
