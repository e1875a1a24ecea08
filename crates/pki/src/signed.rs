//! Signed documents (`ward_proto::Signed`): what is signed, how it is
//! verified, and the text form of uninstall tokens.
//!
//! The signed message is `DOMAIN || 0x00 || payload` (the payload's exact
//! JSON text), so a signature over one kind of document (a protection
//! statement) is never valid for another (a command). Signing needs the
//! server's command key (feature `issue`, [`crate::issue::CommandKey`]);
//! verifying needs only its public half, which agents keep in `data/`.
//!
//! Uninstall tokens are written `wut1.<payload>.<signature>`, both parts
//! URL-safe base64 without padding, so they survive shells and URLs.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use ward_proto::lifecycle::MAX_PAYLOAD_BYTES;
use ward_proto::Signed;

/// Prefix of the text form of an uninstall token.
pub const TOKEN_PREFIX: &str = "wut1";

/// Why a signed document or a token is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("the command key is malformed ({0})")]
    BadKey(String),
    #[error("the signature is malformed")]
    MalformedSignature,
    #[error("the signature is not from this server's command key")]
    BadSignature,
    #[error("the payload is too large ({0} bytes)")]
    TooLarge(usize),
    #[error("not an uninstall token (expected {TOKEN_PREFIX}.<payload>.<signature>)")]
    MalformedToken,
}

/// The bytes a document's signature covers.
pub fn message(domain: &str, payload: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.len() + 1 + payload.len());
    m.extend_from_slice(domain.as_bytes());
    m.push(0);
    m.extend_from_slice(payload.as_bytes());
    m
}

/// The public half of the command key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    key: VerifyingKey,
}

impl Verifier {
    /// From standard base64 of the 32-byte ed25519 public key.
    pub fn from_b64(text: &str) -> Result<Verifier, SignedError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SignedError::BadKey("not base64".into()))?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignedError::BadKey(format!("{} bytes, not 32", bytes.len())))?;
        let key = VerifyingKey::from_bytes(&arr)
            .map_err(|_| SignedError::BadKey("not an ed25519 public key".into()))?;
        Ok(Verifier { key })
    }

    #[cfg(feature = "issue")]
    pub(crate) fn from_key(key: VerifyingKey) -> Verifier {
        Verifier { key }
    }

    /// Standard base64 of the public key.
    pub fn to_b64(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }

    /// Checks that `doc` was signed by this key for `domain`.
    pub fn verify(&self, domain: &str, doc: &Signed) -> Result<(), SignedError> {
        if doc.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(SignedError::TooLarge(doc.payload.len()));
        }
        let raw = STANDARD
            .decode(doc.signature.trim())
            .map_err(|_| SignedError::MalformedSignature)?;
        let sig = Signature::from_slice(&raw).map_err(|_| SignedError::MalformedSignature)?;
        self.key
            .verify_strict(&message(domain, &doc.payload), &sig)
            .map_err(|_| SignedError::BadSignature)
    }
}

/// The text form of a token: `wut1.<payload>.<signature>`.
pub fn encode_token(doc: &Signed) -> Option<String> {
    let sig = STANDARD.decode(doc.signature.trim()).ok()?;
    Some(format!(
        "{TOKEN_PREFIX}.{}.{}",
        URL_SAFE_NO_PAD.encode(doc.payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(sig)
    ))
}

/// Parses `wut1.<payload>.<signature>` back into a signed document
/// (the signature is not checked here; see [`Verifier::verify`]).
pub fn decode_token(text: &str) -> Result<Signed, SignedError> {
    let text = text.trim();
    if text.len() > 2 * MAX_PAYLOAD_BYTES {
        return Err(SignedError::TooLarge(text.len()));
    }
    let mut parts = text.split('.');
    let (Some(TOKEN_PREFIX), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignedError::MalformedToken);
    };
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(SignedError::MalformedToken)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| SignedError::MalformedToken)?;
    if sig.len() != 64 {
        return Err(SignedError::MalformedToken);
    }
    Ok(Signed {
        payload,
        signature: STANDARD.encode(sig),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sign(k: &SigningKey, domain: &str, payload: &str) -> Signed {
        Signed {
            payload: payload.to_string(),
            signature: STANDARD.encode(k.sign(&message(domain, payload)).to_bytes()),
        }
    }

    fn verifier(k: &SigningKey) -> Verifier {
        Verifier::from_b64(&STANDARD.encode(k.verifying_key().to_bytes())).unwrap()
    }

    #[test]
    fn signatures_verify_only_for_their_key_domain_and_payload() {
        let k = key(7);
        let doc = sign(&k, "ward-command-v1", r#"{"id":"c1"}"#);
        let v = verifier(&k);
        assert_eq!(v.verify("ward-command-v1", &doc), Ok(()));
        assert_eq!(
            v.verify("ward-protection-v1", &doc),
            Err(SignedError::BadSignature),
            "another domain"
        );
        let mut changed = doc.clone();
        changed.payload = r#"{"id":"c2"}"#.into();
        assert_eq!(
            v.verify("ward-command-v1", &changed),
            Err(SignedError::BadSignature)
        );
        assert_eq!(
            verifier(&key(8)).verify("ward-command-v1", &doc),
            Err(SignedError::BadSignature),
            "another key"
        );
        let mut bad = doc;
        bad.signature = "!!".into();
        assert_eq!(
            v.verify("ward-command-v1", &bad),
            Err(SignedError::MalformedSignature)
        );
    }

    #[test]
    fn message_is_domain_nul_payload() {
        assert_eq!(message("d", "p"), b"d\0p".to_vec());
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(Verifier::from_b64("not base64!").is_err());
        assert!(Verifier::from_b64(&STANDARD.encode([1u8; 31])).is_err());
        let v = verifier(&key(3));
        assert_eq!(Verifier::from_b64(&v.to_b64()).unwrap(), v);
    }

    #[test]
    fn tokens_round_trip_and_malformed_tokens_are_refused() {
        let doc = sign(&key(1), "ward-uninstall-token-v1", r#"{"a":"b/+="}"#);
        let text = encode_token(&doc).unwrap();
        assert!(text.starts_with("wut1."));
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'));
        assert_eq!(decode_token(&format!(" {text}\n")).unwrap(), doc);
        for bad in [
            "",
            "wut1",
            "wut1.a",
            "wut2.YQ.YQ",
            "wut1.YQ.YQ",
            "wut1.@@.YQ",
            &format!("{text}.x"),
        ] {
            assert!(decode_token(bad).is_err(), "{bad:?}");
        }
    }
}
