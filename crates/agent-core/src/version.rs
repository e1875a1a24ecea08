//! The version a `ward-agent` / `ward-update` binary reports.
//!
//! It is the crate version, unless the binary carries a **version stamp**:
//! a fixed 64-byte slot in its read-only data that starts with
//! [`STAMP_MAGIC`] and is NUL-padded. A release build can write another
//! semantic version into the slot of a built binary (e.g. to publish the
//! same code as `0.1.1`) without recompiling: `scripts/stamp-version.py`
//! does it, and the end-to-end tests use it to make real "version N+1"
//! binaries. The stamp must be a valid semantic version, otherwise the crate
//! version is used.

use std::sync::OnceLock;

/// Bytes that open the slot. Stamping tools search the binary for them.
pub const STAMP_MAGIC: &[u8; 20] = b"\0WARD-VERSION-SLOT1:";
/// Size of the slot, magic included.
pub const STAMP_LEN: usize = 64;

#[used]
static STAMP: [u8; STAMP_LEN] = {
    let mut s = [0u8; STAMP_LEN];
    let mut i = 0;
    while i < STAMP_MAGIC.len() {
        s[i] = STAMP_MAGIC[i];
        i += 1;
    }
    s
};

/// The version this binary reports.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        // SAFETY: a plain read of a static array; volatile so the optimizer
        // cannot assume the compile-time (unstamped) contents.
        let slot: [u8; STAMP_LEN] = unsafe { std::ptr::read_volatile(&STAMP) };
        from_slot(&slot).unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
    })
}

/// The stamped version in a slot, if it holds a valid one.
pub fn from_slot(slot: &[u8]) -> Option<String> {
    let value = slot.get(STAMP_MAGIC.len()..)?;
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    let v = std::str::from_utf8(&value[..end]).ok()?;
    (!v.is_empty() && ward_release::version::is_valid(v)).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstamped_binary_reports_the_crate_version() {
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn slots_parse_only_valid_versions() {
        let mut slot = [0u8; STAMP_LEN];
        slot[..STAMP_MAGIC.len()].copy_from_slice(STAMP_MAGIC);
        assert_eq!(from_slot(&slot), None);
        slot[STAMP_MAGIC.len()..STAMP_MAGIC.len() + 5].copy_from_slice(b"1.2.3");
        assert_eq!(from_slot(&slot).as_deref(), Some("1.2.3"));
        slot[STAMP_MAGIC.len()..STAMP_MAGIC.len() + 5].copy_from_slice(b"1.x.3");
        assert_eq!(from_slot(&slot), None);
    }

    #[test]
    fn the_slot_is_in_the_binary_once() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let hits = me
            .windows(STAMP_MAGIC.len())
            .filter(|w| w == STAMP_MAGIC)
            .count();
        assert!(hits >= 1, "the stamp slot is in the binary");
    }
}
