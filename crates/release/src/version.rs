//! Release versions are semantic versions (`MAJOR.MINOR.PATCH[-PRE][+BUILD]`)
//! ordered as SemVer 2.0 says: `0.9.0 < 0.10.0`, `1.0.0-rc.1 < 1.0.0`.

use std::cmp::Ordering;

use crate::ReleaseError;

/// Longest version string accepted.
pub const MAX_VERSION_LEN: usize = 64;

/// Parses a release version.
pub fn parse(v: &str) -> Result<semver::Version, ReleaseError> {
    if v.len() > MAX_VERSION_LEN || v.trim() != v {
        return Err(ReleaseError::BadVersion(v.chars().take(80).collect()));
    }
    semver::Version::parse(v).map_err(|_| ReleaseError::BadVersion(v.to_string()))
}

/// Orders two release versions.
pub fn cmp(a: &str, b: &str) -> Result<Ordering, ReleaseError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

/// True when `v` is usable as a directory name and a version: a semantic
/// version without `/` (always true for a parsed semver) and not `.`/`..`.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_ok()
}
