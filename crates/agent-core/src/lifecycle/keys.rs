//! The server's command key, as the agent keeps it: `data/command-key.pub`
//! (standard base64 of the ed25519 public key, mode 0644 inside the 0700
//! `data/`). It arrives only over the pinned TLS connection (enrollment
//! answer, `Welcome`), so no one between agent and server can substitute
//! it. Once stored, a different key offered in a `Welcome` is refused (and
//! logged): only a repair (`install` re-run, which checks the server with
//! the verification key's trust path) replaces it.

use std::path::Path;

use ward_pki::signed::Verifier;

use crate::layout::Layout;
use crate::AgentError;

/// The stored key, `None` when there is none yet.
pub fn load(layout: &Layout) -> Result<Option<Verifier>, AgentError> {
    let path = layout.command_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => Verifier::from_b64(&text)
            .map(Some)
            .map_err(|e| AgentError::Runtime(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AgentError::io("reading", &path, e)),
    }
}

/// Writes the key (install and repair).
pub fn save(layout: &Layout, key_b64: &str) -> Result<Verifier, AgentError> {
    let v = Verifier::from_b64(key_b64).map_err(|e| {
        AgentError::Runtime(format!("the server sent an unusable command key: {e}"))
    })?;
    write(&layout.command_key_file(), &v)?;
    Ok(v)
}

fn write(path: &Path, v: &Verifier) -> Result<(), AgentError> {
    ward_pki::secret::write_file_atomic(path, format!("{}\n", v.to_b64()).as_bytes(), 0o644)
        .map_err(|e| AgentError::io("writing", path, e))
}

/// The key to use after a `Welcome` offering `offered`: the stored one; or,
/// when none is stored, the offered one (then stored).
pub fn adopt(layout: &Layout, offered: Option<&str>) -> Option<Verifier> {
    let stored = match load(layout) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %crate::one_line(&e), "the stored command key is unusable");
            None
        }
    };
    match (stored, offered) {
        (Some(k), Some(o)) => {
            if Verifier::from_b64(o).ok().as_ref() != Some(&k) {
                tracing::warn!(
                    "the server offers a command key other than the stored one; keeping the stored \
                     key (commands signed by the new one are refused until the install is repaired)"
                );
            }
            Some(k)
        }
        (Some(k), None) => Some(k),
        (None, Some(o)) => match save(layout, o) {
            Ok(k) => {
                tracing::info!("command key of the server stored");
                Some(k)
            }
            Err(e) => {
                tracing::warn!(error = %crate::one_line(&e), "cannot store the command key");
                Verifier::from_b64(o).ok()
            }
        },
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(seed: u8) -> String {
        use base64::Engine as _;
        let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        base64::engine::general_purpose::STANDARD.encode(k.verifying_key().to_bytes())
    }

    #[test]
    fn first_key_is_stored_and_a_different_one_later_is_not() {
        let (first, second) = (public(1), public(2));
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        assert_eq!(load(&l).unwrap(), None);
        assert_eq!(adopt(&l, None), None);
        let k1 = adopt(&l, Some(first.as_str())).unwrap();
        assert_eq!(k1.to_b64(), first);
        assert_eq!(load(&l).unwrap(), Some(k1.clone()));
        // A different key offered later is not adopted.
        assert_eq!(adopt(&l, Some(second.as_str())), Some(k1.clone()));
        assert_eq!(
            std::fs::read_to_string(l.command_key_file())
                .unwrap()
                .trim(),
            first
        );
        // save() (the repair path) replaces it.
        save(&l, &second).unwrap();
        assert_eq!(load(&l).unwrap().unwrap().to_b64(), second);
        assert!(save(&l, "short").is_err());
    }
}
