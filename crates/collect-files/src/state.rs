//! The observed state of one path: type, size, mode, owner, times, inode,
//! content hash and (for line-tracked categories) hashes of its lines.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::classify::Category;

/// Most bytes of a line-tracked file read for its lines; larger files are
/// hashed only (`lines_added` is then absent).
pub const MAX_LINE_TRACKED: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        }
    }

    pub fn from_char(c: char) -> Option<Kind> {
        Some(match c {
            'f' => Kind::File,
            'd' => Kind::Dir,
            'l' => Kind::Symlink,
            'o' => Kind::Other,
            _ => return None,
        })
    }

    pub fn as_char(self) -> char {
        match self {
            Kind::File => 'f',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::Other => 'o',
        }
    }
}

/// What is known of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub kind: Kind,
    pub size: u64,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub dev: u64,
    pub ino: u64,
    pub sha256: Option<[u8; 32]>,
    /// Sorted 64-bit hashes of the lines (line-tracked categories).
    pub lines: Option<Vec<u64>>,
    pub link: Option<String>,
}

impl FileState {
    /// Same metadata (what a scan compares before deciding to hash again).
    pub fn same_stat(&self, o: &FileState) -> bool {
        (
            self.kind,
            self.size,
            self.mode,
            self.uid,
            self.gid,
            self.mtime_ns,
            self.ctime_ns,
            self.dev,
            self.ino,
        ) == (
            o.kind, o.size, o.mode, o.uid, o.gid, o.mtime_ns, o.ctime_ns, o.dev, o.ino,
        )
    }

    /// Same content (for files: hash, or size when not hashed; links: target).
    pub fn same_content(&self, o: &FileState) -> bool {
        self.kind == o.kind
            && self.link == o.link
            && match (self.sha256, o.sha256) {
                (Some(a), Some(b)) => a == b,
                _ => self.size == o.size || self.kind == Kind::Dir,
            }
    }

    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(|h| hex(&h))
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// FNV-1a of a line (without its newline).
pub fn line_hash(line: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in line {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Sorted line hashes of `content` (empty lines ignored: they add nothing).
pub fn line_hashes(content: &[u8]) -> Vec<u64> {
    let mut v: Vec<u64> = content
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(line_hash)
        .collect();
    v.sort_unstable();
    v
}

/// How to observe a path.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files larger than this are not hashed.
    pub hash_max: u64,
}

/// The current state of `path` (not following a final symlink), with its
/// content when line-tracked. `prev` lets an unchanged file keep its hash
/// without reading it (`reuse`).
pub fn observe(
    path: &Path,
    category: Category,
    limits: Limits,
    prev: Option<&FileState>,
    reuse: bool,
) -> Option<(FileState, Option<Vec<u8>>)> {
    let md = std::fs::symlink_metadata(path).ok()?;
    let ft = md.file_type();
    let kind = if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Other
    };
    let mut st = FileState {
        kind,
        size: md.len(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime_ns: md
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.mtime_nsec()),
        ctime_ns: md
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.ctime_nsec()),
        dev: md.dev(),
        ino: md.ino(),
        sha256: None,
        lines: None,
        link: None,
    };
    if kind == Kind::Symlink {
        st.link = std::fs::read_link(path)
            .ok()
            .map(|l| l.to_string_lossy().into_owned());
    }
    if kind != Kind::File || !category.hashed() || st.size > limits.hash_max {
        return Some((st, None));
    }
    if reuse {
        if let Some(p) = prev.filter(|p| p.same_stat(&st) && p.sha256.is_some()) {
            st.sha256 = p.sha256;
            st.lines = p.lines.clone();
            return Some((st, None));
        }
    }
    let track = category.lines() && st.size <= MAX_LINE_TRACKED;
    let mut f = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut content = if track { Some(Vec::new()) } else { None };
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limits.hash_max {
            // Grew past the limit while reading: not hashed.
            return Some((st, None));
        }
        hasher.update(&buf[..n]);
        if let Some(c) = content.as_mut() {
            c.extend_from_slice(&buf[..n]);
        }
    }
    st.sha256 = Some(hasher.finalize().into());
    if let Some(c) = &content {
        st.lines = Some(line_hashes(c));
    }
    Some((st, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const L: Limits = Limits { hash_max: 1 << 20 };

    #[test]
    fn files_links_and_hash_reuse() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, b"one\ntwo\n\ntwo\n").unwrap();
        let (st, content) = observe(&f, Category::Cron, L, None, false).unwrap();
        assert_eq!(st.kind, Kind::File);
        assert_eq!(st.size, 13);
        // sha256 of the content computed independently.
        let out = std::process::Command::new("sha256sum")
            .arg(&f)
            .output()
            .unwrap();
        let want = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(st.sha256_hex().unwrap(), want);
        assert_eq!(content.as_deref(), Some(&b"one\ntwo\n\ntwo\n"[..]));
        assert_eq!(
            st.lines.as_ref().unwrap().len(),
            3,
            "the empty line is ignored"
        );
        // FIM: hashed, no lines.
        let (fim, content) = observe(&f, Category::Fim, L, None, false).unwrap();
        assert!(fim.lines.is_none() && content.is_none());
        assert_eq!(fim.sha256, st.sha256);
        // Logs: not hashed.
        let (log, _) = observe(&f, Category::Log, L, None, false).unwrap();
        assert!(log.sha256.is_none());
        // Unchanged metadata reuses the previous hash without reading.
        let mut fake = st.clone();
        fake.sha256 = Some([7; 32]);
        let (again, _) = observe(&f, Category::Cron, L, Some(&fake), true).unwrap();
        assert_eq!(again.sha256, Some([7; 32]));
        // A mode change is a metadata change: hashed again.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let (m, _) = observe(&f, Category::Cron, L, Some(&fake), true).unwrap();
        assert_eq!(m.mode, 0o4755);
        assert_eq!(m.sha256, st.sha256);
        let link = d.path().join("l");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let (l, _) = observe(&link, Category::History, L, None, false).unwrap();
        assert_eq!(l.kind, Kind::Symlink);
        assert_eq!(l.link.as_deref(), Some("/dev/null"));
        assert!(observe(&d.path().join("missing"), Category::Fim, L, None, false).is_none());
    }

    #[test]
    fn big_files_are_not_hashed() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("big");
        std::fs::write(&f, vec![b'x'; 2048]).unwrap();
        let (st, _) = observe(&f, Category::Fim, Limits { hash_max: 1024 }, None, false).unwrap();
        assert!(st.sha256.is_none());
        assert_eq!(st.size, 2048);
    }

    #[test]
    fn line_hashes_ignore_blank_lines_and_crlf() {
        assert_eq!(line_hashes(b"a\r\nb\n \n"), line_hashes(b"b\na"));
        assert_ne!(line_hashes(b"a\n"), line_hashes(b"a\na\n"), "a multiset");
    }
}
