//! `data/update-state.json`: what the updater must remember across runs.
//!
//! * `trusted_metadata_version`: the newest release metadata version
//!   verified; older metadata is refused from then on (rollback attacks).
//! * `bad_versions`: releases rolled back here; never installed again
//!   automatically (a newer release is).
//! * `last`: the last check's outcome (shown by `ward-update check`).
//! * `reported`: the key of the last refusal reported, so a refusal that
//!   repeats every hour is reported once.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCheck {
    pub at_ms: i64,
    /// `up_to_date`, `installed`, `refused`, `rolled_back`, `failed`, `skipped`.
    pub outcome: String,
    pub message: String,
}

/// A switch in progress (written before `bin/ward-agent` is swapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateState {
    pub pending: Option<Pending>,
    pub trusted_metadata_version: u64,
    pub bad_versions: Vec<String>,
    pub last: Option<LastCheck>,
    pub reported: Option<String>,
    /// Checks started (`ward-update check` waits for this to grow).
    pub checks: u64,
}

impl UpdateState {
    /// Reads the state; a missing file is the empty state, a damaged one is
    /// an error (the trusted version must not silently reset).
    pub fn load(path: &Path) -> Result<UpdateState, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => {
                serde_json::from_str(&t).map_err(|e| format!("{} is damaged: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpdateState::default()),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    /// Writes the state atomically (0600).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        ward_pki::secret::write_secret_file(path, text.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        assert_eq!(UpdateState::load(&p).unwrap(), UpdateState::default());
        let s = UpdateState {
            pending: Some(Pending {
                from: "0.1.0".into(),
                to: "0.2.0".into(),
            }),
            trusted_metadata_version: 7,
            bad_versions: vec!["0.2.0".into()],
            last: Some(LastCheck {
                at_ms: 1,
                outcome: "refused".into(),
                message: "m".into(),
            }),
            reported: Some("k".into()),
            checks: 3,
        };
        s.save(&p).unwrap();
        assert_eq!(UpdateState::load(&p).unwrap(), s);
        std::fs::write(&p, "{").unwrap();
        assert!(UpdateState::load(&p).is_err());
    }
}
