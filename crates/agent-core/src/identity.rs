//! The agent's own identity, `data/identity.json` (mode 0600).
//!
//! `{"agent_id": "...", "credential": "wa1.<agent_id>.<secret>", "fingerprint": "<hex>"}`.
//! The credential is a secret: it is never logged and `Debug` hides it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ward_proto::Credential;

use crate::AgentError;

/// Unknown fields are ignored (not denied): an agent rolled back by the
/// updater must still read an identity a newer version wrote.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub agent_id: String,
    /// `wa1.<agent_id>.<secret>`.
    pub credential: String,
    /// Host fingerprint the identity was enrolled with.
    pub fingerprint: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("agent_id", &self.agent_id)
            .field("credential", &"<redacted>")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl Identity {
    /// Reads the identity; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Identity>, AgentError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AgentError::io("reading", path, e)),
        };
        let id: Identity = serde_json::from_str(&text)
            .map_err(|e| AgentError::Runtime(format!("{} is damaged: {e}", path.display())))?;
        let cred = Credential::parse(&id.credential).map_err(|_| {
            AgentError::Runtime(format!("{} holds a malformed credential", path.display()))
        })?;
        if cred.agent_id != id.agent_id {
            return Err(AgentError::Runtime(format!(
                "{}: credential does not belong to agent {}",
                path.display(),
                id.agent_id
            )));
        }
        Ok(Some(id))
    }

    /// Writes the identity atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::Runtime(format!("encoding identity: {e}")))?;
        ward_pki::secret::write_secret_file(path, text.as_bytes())
            .map_err(|e| AgentError::io("writing", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn round_trip_is_0600_and_debug_hides_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/identity.json");
        assert_eq!(Identity::load(&path).unwrap(), None);
        let id = Identity {
            agent_id: "ag_1".into(),
            credential: "wa1.ag_1.TopSecret".into(),
            fingerprint: "ab".into(),
        };
        id.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(Identity::load(&path).unwrap(), Some(id.clone()));
        assert!(!format!("{id:?}").contains("TopSecret"));
    }

    #[test]
    fn mismatched_or_damaged_identity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        std::fs::write(
            &path,
            r#"{"agent_id":"ag_1","credential":"wa1.ag_2.x","fingerprint":"f"}"#,
        )
        .unwrap();
        assert!(Identity::load(&path).is_err());
        std::fs::write(&path, "{").unwrap();
        assert!(Identity::load(&path).is_err());
    }
}
