//! The agent's own executable (its runs are not reported).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The agent's own executable: the same file, or a copy of it (same size
/// and SHA-256, computed once, on the first candidate).
pub(super) struct SelfExe {
    /// The file name (a copy of the agent is named like it).
    name: std::ffi::OsString,
    dev: u64,
    ino: u64,
    size: u64,
    sha256: Option<[u8; 32]>,
}

fn sha256_file(path: &Path) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            return Some(h.finalize().into());
        }
        h.update(&buf[..n]);
    }
}

impl SelfExe {
    pub(super) fn read() -> Option<SelfExe> {
        let m = std::fs::metadata("/proc/self/exe").ok()?;
        let name = std::fs::read_link("/proc/self/exe")
            .ok()?
            .file_name()?
            .to_os_string();
        Some(SelfExe {
            name,
            dev: m.dev(),
            ino: m.ino(),
            size: m.len(),
            sha256: None,
        })
    }

    /// Whether `exe_link` (`/proc/PID/exe`) of a process whose executable
    /// is `exe_path` is this program: same file, or a copy of it with the
    /// same name.
    pub(super) fn same(&mut self, exe_path: &str, exe: &Path) -> bool {
        if Path::new(exe_path).file_name() != Some(self.name.as_os_str()) {
            return false;
        }
        let Ok(m) = std::fs::metadata(exe) else {
            return false;
        };
        if (m.dev(), m.ino()) == (self.dev, self.ino) {
            return true;
        }
        if m.len() != self.size {
            return false;
        }
        if self.sha256.is_none() {
            self.sha256 = sha256_file(Path::new("/proc/self/exe"));
        }
        self.sha256.is_some() && sha256_file(exe) == self.sha256
    }
}
