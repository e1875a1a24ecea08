//! The administrator password: an argon2id PHC string in a 0600 file of the
//! data directory.
//!
//! The file is re-read when it changes (modification time or size), so
//! `ward-server admin set-password` takes effect on a running server, and
//! every session signed in under the old password stops working.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use ward_pki::secret::{random_token, sha256_hex, write_secret_file};

use crate::error::AuthError;

/// File name of the password hash inside the data dir.
pub const PASSWORD_FILE: &str = "console-admin.argon2";
/// Shortest password `set-password` accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 hashes anything, but a bound keeps
/// request bodies and hashing time small).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id cost parameters of new hashes (a stored hash carries its own,
/// so changing these never locks anyone out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for PasswordCost {
    /// OWASP's recommendation for argon2id: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        PasswordCost {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl PasswordCost {
    /// The cheapest parameters argon2 allows; only for tests of code
    /// around hashing (unoptimised test builds hash slowly).
    pub const MINIMAL: PasswordCost = PasswordCost {
        m_kib: 8,
        t: 1,
        p: 1,
    };
}

/// Hashes `password` with argon2id at `cost` and a random 16-byte salt.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let params = Params::new(cost.m_kib, cost.t, cost.p, None)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// True when `password` matches the PHC string `hash`. A malformed hash
/// matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks a new password; returns what is wrong with it.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("the password must not contain control characters".into());
    }
    Ok(())
}

/// A fresh random password (24 URL-safe characters, 144 bits).
pub fn generate_password() -> String {
    random_token("", 18)
}

/// The current hash and a short fingerprint of it that sessions remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordState {
    pub hash: String,
    /// Changes whenever the password is reset.
    pub generation: String,
}

#[derive(Debug)]
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    state: Arc<PasswordState>,
}

/// The password file of one data dir.
#[derive(Debug)]
pub struct PasswordFile {
    path: PathBuf,
    cost: PasswordCost,
    cache: Mutex<Option<Cached>>,
}

impl PasswordFile {
    pub fn new(data_dir: &Path) -> PasswordFile {
        PasswordFile::with_cost(data_dir, PasswordCost::default())
    }

    /// A password file whose new hashes use `cost`.
    pub fn with_cost(data_dir: &Path, cost: PasswordCost) -> PasswordFile {
        PasswordFile {
            path: data_dir.join(PASSWORD_FILE),
            cost,
            cache: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the file with a random password when it does not exist and
    /// returns that password (to be shown once); `None` when it existed.
    pub fn ensure(&self) -> Result<Option<String>, AuthError> {
        if self.path.exists() {
            return Ok(None);
        }
        let password = generate_password();
        self.set(&password)?;
        Ok(Some(password))
    }

    /// Replaces the password (after [`check_new_password`]).
    pub fn set(&self, password: &str) -> Result<(), AuthError> {
        check_new_password(password).map_err(AuthError::WeakPassword)?;
        let mut text = hash_password(password, self.cost)?;
        text.push('\n');
        write_secret_file(&self.path, text.as_bytes()).map_err(|source| AuthError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The current hash, re-read when the file changed; `None` when there is
    /// no password file (nobody can sign in).
    pub fn current(&self) -> Result<Option<Arc<PasswordState>>, AuthError> {
        let io = |source| AuthError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let modified = meta.modified().ok();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref() {
            if c.modified == modified && c.len == meta.len() {
                return Ok(Some(c.state.clone()));
            }
        }
        let text = std::fs::read_to_string(&self.path).map_err(io)?;
        let hash = text.trim().to_string();
        let state = Arc::new(PasswordState {
            generation: sha256_hex(hash.as_bytes())[..16].to_string(),
            hash,
        });
        *cache = Some(Cached {
            modified,
            len: meta.len(),
            state: state.clone(),
        });
        Ok(Some(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn default_hash_is_argon2id_with_owasp_parameters() {
        let h = hash_password("correct horse battery", PasswordCost::default()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let cost = PasswordCost::MINIMAL;
        let h = hash_password("correct horse battery", cost).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password(&h, ""));
        assert!(!verify_password("not a phc string", "x"));
        // Same password, new salt: a different hash that still verifies.
        let h2 = hash_password("correct horse battery", cost).unwrap();
        assert_ne!(h, h2);
        assert!(verify_password(&h2, "correct horse battery"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("123456789").is_err()); // 9 chars
        assert!(check_new_password("1234567890").is_ok());
        assert!(check_new_password("with\nnewline!").is_err());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert_eq!(generate_password().len(), 24);
        assert!(check_new_password(&generate_password()).is_ok());
    }

    #[test]
    fn file_is_created_once_0600_and_reloaded_after_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let f = PasswordFile::with_cost(dir.path(), PasswordCost::MINIMAL);
        assert_eq!(f.current().unwrap(), None);
        let first = f.ensure().unwrap().expect("a first password");
        assert_eq!(f.ensure().unwrap(), None, "only created once");
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let st1 = f.current().unwrap().unwrap();
        assert!(verify_password(&st1.hash, &first));

        // A second PasswordFile (as the CLI uses) resets it; the first sees it.
        PasswordFile::with_cost(dir.path(), PasswordCost::MINIMAL)
            .set("a brand new password")
            .unwrap();
        let st2 = f.current().unwrap().unwrap();
        assert_ne!(st1.generation, st2.generation);
        assert!(verify_password(&st2.hash, "a brand new password"));
        assert!(!verify_password(&st2.hash, &first));
    }
}
