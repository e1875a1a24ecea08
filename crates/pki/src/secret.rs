//! Random tokens, hashing of secrets, and files written atomically with a
//! fixed mode (0600 for secrets).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A random token: `prefix`, then URL-safe base64 (no padding) of `bytes`
/// bytes from the operating system's random source.
///
/// A `prefix` that does not already end in `_` gets one appended, so
/// `random_token("wk", 32)` and `random_token("wk_", 32)` both give `wk_…`;
/// an empty prefix gives the bare base64.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    let body = URL_SAFE_NO_PAD.encode(&buf);
    if prefix.is_empty() || prefix.ends_with('_') {
        format!("{prefix}{body}")
    } else {
        format!("{prefix}_{body}")
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Equality whose time depends only on the lengths, not on where the
/// contents differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Writes a secret: parent directories are created (0700), the data goes to
/// a temporary file created with mode 0600 (never widened, never chmod-ed
/// afterwards), which is fsync-ed and renamed over `path`; the directory is
/// fsync-ed last.
pub fn write_secret_file(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic(path, data, 0o600, 0o700, false)
}

/// Writes `data` to `path` atomically with exactly `mode` (parent
/// directories are created 0755): temp file, fsync, rename, fsync dir.
pub fn write_file_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_atomic(path, data, mode, 0o755, true)
}

fn write_atomic(
    path: &Path,
    data: &[u8],
    mode: u32,
    dir_mode: u32,
    exact_mode: bool,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(&dir)?;
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        URL_SAFE_NO_PAD.encode(suffix)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        if exact_mode {
            // The umask may have removed bits; set them before any data is
            // written (this only ever restores bits the caller asked for).
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn tokens_are_prefixed_url_safe_and_distinct() {
        let a = random_token("wk", 32);
        let b = random_token("wk_", 32);
        assert!(a.starts_with("wk_") && b.starts_with("wk_"));
        // 32 bytes -> ceil(32 * 4 / 3) = 43 base64 characters without padding;
        // a prefix given with its `_` is not doubled (the random part itself
        // may start with `_`, so the length is what tells).
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(b.len(), 3 + 43);
        assert!(a[3..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert_eq!(random_token("", 3).len(), 4);
    }

    #[test]
    fn sha256_hex_matches_known_vectors() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_behaves_like_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"a", b""));
    }

    #[test]
    fn secret_file_is_0600_in_new_dirs_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/identity.json");
        write_secret_file(&path, b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(dir.path().join("a/b")).unwrap().mode() & 0o777,
            0o700
        );
        write_secret_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("identity.json")]);
    }

    #[test]
    fn atomic_file_gets_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/x.toml");
        write_file_atomic(&path, b"k = 1\n", 0o664).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o664);
        assert_eq!(fs::read_to_string(&path).unwrap(), "k = 1\n");
    }

    #[test]
    fn failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails.
        let target = dir.path().join("occupied");
        fs::create_dir_all(target.join("inner")).unwrap();
        assert!(write_secret_file(&target, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("occupied")]);
    }
}
