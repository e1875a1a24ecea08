//! `spool.meta`: the spool's counters, written atomically (temporary file,
//! fsync, rename, fsync of the directory).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{io_err, SpoolError};

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
    let text = serde_json::to_vec(meta).map_err(|e| SpoolError::Encode(e.to_string()))?;
    replace_file(dir, &dir.join(META_FILE), &dir.join(META_TMP), &text)
}

/// Replaces `path` (in `dir`) by `bytes` atomically: written to `tmp`
/// (mode 0600) and fsynced, renamed over `path`, then the directory fsynced.
pub(crate) fn replace_file(
    dir: &Path,
    path: &Path,
    tmp: &Path,
    bytes: &[u8],
) -> Result<(), SpoolError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(io_err("creating", tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err("writing", tmp))?;
    fs::rename(tmp, path).map_err(io_err("renaming", path))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}
