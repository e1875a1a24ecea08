//! The agent's half of the lifecycle (SPEC L9–L12):
//!
//! * [`keys`]: the server's command key (learnt over the pinned TLS at
//!   enrollment or in `Welcome`, kept in `data/command-key.pub`).
//! * [`commands`]: signed commands: verification (signature, agent id,
//!   expiry, replay), what each kind does, the record of executed ids.
//! * [`protection`]: the signed tamper-protection statement, uninstall
//!   tokens, and the gate in front of `ward-agent stop` and `uninstall`.
//! * [`notices`]: tamper attempts and manual uninstalls reported to the
//!   server (directly over HTTPS, or queued in `data/notices/` and sent
//!   over the session).
//! * [`uninstall`]: removing everything the agent installed (updater,
//!   services, files), for a remote command and for `ward-agent uninstall`.
//! * [`session`]: what the live session does with these messages;
//!   [`in_process`]: finishing an accepted remote uninstall inside
//!   `ward-agent run`.
//! * [`client`]: the HTTPS calls of the updater and guardian (release offer,
//!   release file downloads, lifecycle reports) with the agent credential.

pub mod client;
pub mod commands;
pub mod in_process;
pub mod keys;
pub mod notices;
pub mod protection;
pub mod session;
pub mod uninstall;

/// Signing helpers for the unit tests (the server side signs for real).
#[cfg(test)]
pub(crate) mod testkeys {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use ed25519_dalek::{Signer, SigningKey};
    use ward_pki::signed::Verifier;
    use ward_proto::Signed;

    pub fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub fn verifier(k: &SigningKey) -> Verifier {
        Verifier::from_b64(&STANDARD.encode(k.verifying_key().to_bytes())).unwrap()
    }

    pub fn sign<T: serde::Serialize>(k: &SigningKey, domain: &str, payload: &T) -> Signed {
        let text = serde_json::to_string(payload).unwrap();
        Signed {
            signature: STANDARD
                .encode(k.sign(&ward_pki::signed::message(domain, &text)).to_bytes()),
            payload: text,
        }
    }
}
