//! The host fingerprint an agent identity is bound to.
//!
//! `hex(SHA-256("ward-fp-v1" NUL machine-id NUL canonical-prefix))`: two
//! installs in different prefixes of one machine are two agents, and a prefix
//! copied to another machine or directory gets another fingerprint.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{hostname, read_trimmed, HostPaths};

const DOMAIN: &[u8] = b"ward-fp-v1";

/// The machine id: `/etc/machine-id`, else `/var/lib/dbus/machine-id`, else
/// `/sys/class/dmi/id/product_uuid`, else the hostname.
pub fn machine_id(paths: &HostPaths) -> String {
    [
        paths.etc.join("machine-id"),
        paths.var_lib.join("dbus/machine-id"),
        paths.sys.join("class/dmi/id/product_uuid"),
    ]
    .iter()
    .find_map(|p| read_trimmed(p))
    .unwrap_or_else(|| hostname(paths))
}

/// The absolute, symlink-free form of `prefix`, also when it does not exist
/// yet (the deepest existing ancestor is canonicalized and the rest appended),
/// so the fingerprint computed before an install equals the one after it.
pub fn canonical_prefix(prefix: &Path) -> PathBuf {
    let absolute = if prefix.is_absolute() {
        prefix.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(prefix))
            .unwrap_or_else(|_| prefix.to_path_buf())
    };
    let mut existing = absolute.as_path();
    let mut rest: Vec<Component<'_>> = Vec::new();
    loop {
        if let Ok(canon) = std::fs::canonicalize(existing) {
            let mut out = canon;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// The fingerprint of `prefix` on the machine described by `paths`.
pub fn fingerprint_with(paths: &HostPaths, prefix: &Path) -> String {
    let id = machine_id(paths);
    let prefix = canonical_prefix(prefix);
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update([0]);
    h.update(id.as_bytes());
    h.update([0]);
    h.update(prefix.as_os_str().as_encoded_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of `prefix` on this machine.
pub fn fingerprint(prefix: &Path) -> String {
    fingerprint_with(&HostPaths::default(), prefix)
}
