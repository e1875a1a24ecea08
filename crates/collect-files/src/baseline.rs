//! The file-integrity baseline kept in the agent's data directory
//! (`data/fim-baseline`, mode 0600): one line per path with its metadata,
//! SHA-256 and line hashes, and a trailer with the entry count and a
//! SHA-256 of everything before it. The parser is pure and fuzzed; a
//! damaged file is refused as a whole (the caller rebuilds it).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::state::{hex, FileState, Kind};

const MAGIC: &str = "ward-fim-baseline 1";

/// Why a baseline file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineError {
    /// Not a baseline of this version.
    Header,
    /// The trailer is missing or does not match the content (torn write,
    /// damage, tampering).
    Trailer,
    /// Line `n` (1-based) does not parse.
    Line(usize),
}

impl std::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineError::Header => f.write_str("not a version 1 baseline"),
            BaselineError::Trailer => f.write_str("the checksum trailer is missing or wrong"),
            BaselineError::Line(n) => write!(f, "line {n} is malformed"),
        }
    }
}

pub type Baseline = BTreeMap<PathBuf, FileState>;

fn escape(bytes: &[u8], out: &mut String) {
    if bytes.is_empty() {
        out.push_str("\\e");
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

fn unescape(s: &str) -> Option<Vec<u8>> {
    if s == "\\e" {
        return Some(Vec::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1)? {
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            b'x' => {
                let h = std::str::from_utf8(b.get(i + 2..i + 4)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn opt<T>(s: &str, f: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    if s == "-" {
        Some(None)
    } else {
        f(s).map(Some)
    }
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut h = [0u8; 32];
    for (i, byte) in h.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(h)
}

fn format_entry(path: &Path, st: &FileState, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{} {} {:o} {} {} {} {} {} {} ",
        st.kind.as_char(),
        st.size,
        st.mode,
        st.uid,
        st.gid,
        st.mtime_ns,
        st.ctime_ns,
        st.dev,
        st.ino
    );
    out.push_str(&st.sha256.map(|h| hex(&h)).unwrap_or_else(|| "-".into()));
    out.push(' ');
    match &st.lines {
        None => out.push('-'),
        Some(l) if l.is_empty() => out.push_str("\\e"),
        Some(l) => out.push_str(
            &l.iter()
                .map(|h| format!("{h:x}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
    out.push(' ');
    match &st.link {
        None => out.push('-'),
        Some(l) => escape(l.as_bytes(), out),
    }
    out.push(' ');
    escape(path.as_os_str().as_bytes(), out);
    out.push('\n');
}

fn parse_entry(line: &str) -> Option<(PathBuf, FileState)> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 13 {
        return None;
    }
    let mut kind_chars = f[0].chars();
    let kind = Kind::from_char(kind_chars.next()?)?;
    if kind_chars.next().is_some() {
        return None;
    }
    let lines = match f[10] {
        "-" => None,
        "\\e" => Some(Vec::new()),
        s => Some(
            s.split(',')
                .map(|h| u64::from_str_radix(h, 16).ok())
                .collect::<Option<Vec<u64>>>()?,
        ),
    };
    let link = opt(f[11], |s| {
        unescape(s).map(|b| String::from_utf8_lossy(&b).into_owned())
    })?;
    let path = PathBuf::from(OsString::from_vec(unescape(f[12])?));
    let st = FileState {
        kind,
        size: f[1].parse().ok()?,
        mode: u32::from_str_radix(f[2], 8).ok().filter(|m| *m <= 0o7777)?,
        uid: f[3].parse().ok()?,
        gid: f[4].parse().ok()?,
        mtime_ns: f[5].parse().ok()?,
        ctime_ns: f[6].parse().ok()?,
        dev: f[7].parse().ok()?,
        ino: f[8].parse().ok()?,
        sha256: opt(f[9], parse_hash)?,
        lines,
        link,
    };
    Some((path, st))
}

/// The file's text for `b`.
pub fn format(b: &Baseline) -> String {
    let mut out = String::with_capacity(b.len() * 160 + 64);
    out.push_str(MAGIC);
    out.push('\n');
    for (p, st) in b {
        format_entry(p, st, &mut out);
    }
    let sum = hex(&Sha256::digest(out.as_bytes()));
    out.push_str(&format!("end {} {sum}\n", b.len()));
    out
}

/// Parses a baseline file (all or nothing).
pub fn parse(bytes: &[u8]) -> Result<Baseline, BaselineError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BaselineError::Trailer)?;
    let body_end = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map(|i| i + 1)
        .ok_or(BaselineError::Header)?;
    let (body, trailer) = text.split_at(body_end);
    let mut lines = body.lines();
    if lines.next() != Some(MAGIC) {
        return Err(BaselineError::Header);
    }
    let t: Vec<&str> = trailer.trim_end().split(' ').collect();
    let sum = hex(&Sha256::digest(body.as_bytes()));
    if t.len() != 3 || t[0] != "end" || t[2] != sum {
        return Err(BaselineError::Trailer);
    }
    let mut out = Baseline::new();
    for (i, l) in lines.enumerate() {
        let (p, st) = parse_entry(l).ok_or(BaselineError::Line(i + 2))?;
        out.insert(p, st);
    }
    if t[1].parse::<usize>().ok() != Some(out.len()) {
        return Err(BaselineError::Trailer);
    }
    Ok(out)
}

/// Writes `b` to `path` atomically (temporary file + rename), mode 0600.
pub fn save(path: &Path, b: &Baseline) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(format(b).as_bytes())?;
    std::fs::rename(&tmp, path)
}

/// Reads `path`: `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Baseline>, BaselineError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes).map(Some),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: Kind) -> FileState {
        FileState {
            kind,
            size: 42,
            mode: 0o4755,
            uid: 0,
            gid: 27,
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: -5,
            dev: 2049,
            ino: 123_456,
            sha256: Some([0xab; 32]),
            lines: Some(vec![1, u64::MAX, 0xdead]),
            link: None,
        }
    }

    #[test]
    fn round_trips_odd_paths_and_every_field() {
        let mut b = Baseline::new();
        b.insert("/etc/cron.d/job".into(), st(Kind::File));
        let mut l = st(Kind::Symlink);
        l.sha256 = None;
        l.lines = None;
        l.link = Some("/tmp/a b\\c\n".into());
        b.insert(
            PathBuf::from(OsString::from_vec(b"/etc/we ird\n\\\xff".to_vec())),
            l,
        );
        let mut e = st(Kind::Dir);
        e.lines = Some(Vec::new());
        b.insert("/etc".into(), e);
        let text = format(&b);
        assert_eq!(parse(text.as_bytes()).unwrap(), b);
        assert!(text
            .lines()
            .all(|l| l.split(' ').count() == 13 || !l.starts_with(['f', 'l', 'd'])));
    }

    #[test]
    fn damage_is_refused() {
        let mut b = Baseline::new();
        b.insert("/etc/hosts".into(), st(Kind::File));
        let text = format(&b);
        // Any changed byte before the trailer breaks the checksum.
        let mut t = text.clone().into_bytes();
        t[30] ^= 1;
        assert!(parse(&t).is_err());
        // A torn write (no trailer).
        let cut = &text.as_bytes()[..text.len() - 20];
        assert_eq!(parse(cut), Err(BaselineError::Trailer));
        assert_eq!(parse(b"other\nend 0 x\n"), Err(BaselineError::Header));
        assert!(parse(b"").is_err());
        // A count that disagrees.
        let body = format!("{MAGIC}\n");
        let sum = hex(&Sha256::digest(body.as_bytes()));
        assert_eq!(
            parse(format!("{body}end 3 {sum}\n").as_bytes()),
            Err(BaselineError::Trailer)
        );
        assert_eq!(
            parse(format!("{body}end 0 {sum}\n").as_bytes()),
            Ok(Baseline::new())
        );
    }

    #[test]
    fn save_and_load_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fim-baseline");
        assert_eq!(load(&p), Ok(None));
        let mut b = Baseline::new();
        b.insert("/usr/bin/ls".into(), st(Kind::File));
        save(&p, &b).unwrap();
        assert_eq!(load(&p), Ok(Some(b)));
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
