//! The signed release metadata document and its envelope.
//!
//! ```json
//! {"signed": "<standard base64 of the document's JSON bytes>",
//!  "signatures": [{"keyid": "<hex SHA-256 of the ed25519 public key>",
//!                  "sig": "<standard base64 of the 64-byte signature>"}]}
//! ```
//!
//! The signature covers [`SIGNING_CONTEXT`] followed by the exact document
//! bytes, so no canonical JSON is needed and a signature made for another
//! purpose (e.g. a signed command) can never pass as release metadata. The
//! document:
//!
//! ```json
//! {"type": "ward.releases", "spec_version": 1, "version": 12,
//!  "issued_ms": 1767225600000, "expires_ms": 1767830400000,
//!  "releases": [{"version": "0.2.0", "platforms": {"linux-x86_64": {
//!      "agent": {"sha256": "<64 hex>", "size": 4194304},
//!      "update": {"sha256": "<64 hex>", "size": 2097152}}}}]}
//! ```
//!
//! `version` grows with every document the server signs; `expires_ms` bounds
//! how long a copy may be replayed. Unknown fields are ignored (additive
//! changes keep `spec_version` 1).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{version, ReleaseError};

/// The document's `type`.
pub const METADATA_TYPE: &str = "ward.releases";
/// The document format this crate reads and writes.
pub const SPEC_VERSION: u32 = 1;
/// Prefix of every signed message (domain separation).
pub const SIGNING_CONTEXT: &[u8] = b"ward release metadata v1\n";
/// Largest envelope accepted.
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;
/// Largest release file accepted.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Most releases one document lists.
pub const MAX_RELEASES: usize = 1000;
/// File names of a release on disk and in downloads.
pub const AGENT_FILE: &str = "ward-agent";
pub const UPDATE_FILE: &str = "ward-update";

/// A file of a release: its SHA-256 (lower-case hex) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub sha256: String,
    pub size: u64,
}

impl FileInfo {
    /// Checks downloaded bytes (their length and SHA-256 hex) against the
    /// signed values.
    pub fn check(
        &self,
        file: &str,
        version: &str,
        size: u64,
        sha256: &str,
    ) -> Result<(), ReleaseError> {
        let tampered = |detail: String| ReleaseError::Tampered {
            file: file.to_string(),
            version: version.to_string(),
            detail,
        };
        if size != self.size {
            return Err(tampered(format!(
                "{size} bytes received, the signed metadata says {}",
                self.size
            )));
        }
        if !sha256.eq_ignore_ascii_case(&self.sha256) {
            return Err(tampered(format!(
                "sha256 {sha256}, the signed metadata says {}",
                self.sha256
            )));
        }
        Ok(())
    }

    fn validate(&self, what: &str) -> Result<(), ReleaseError> {
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ReleaseError::Malformed(format!(
                "{what}: sha256 must be 64 lower-case hex digits"
            )));
        }
        if self.size == 0 || self.size > MAX_FILE_BYTES {
            return Err(ReleaseError::Malformed(format!(
                "{what}: size must be between 1 and {MAX_FILE_BYTES} bytes, got {}",
                self.size
            )));
        }
        Ok(())
    }
}

/// The files of one release for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformFiles {
    /// `ward-agent`.
    pub agent: FileInfo,
    /// `ward-update`, when the release carries a new updater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<FileInfo>,
}

/// One release: its version and its files per platform (`linux-x86_64`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEntry {
    pub version: String,
    pub platforms: BTreeMap<String, PlatformFiles>,
}

/// The signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "type")]
    pub kind: String,
    pub spec_version: u32,
    /// Grows with every document signed.
    pub version: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub releases: Vec<ReleaseEntry>,
}

impl Metadata {
    /// A document of the current type and spec version.
    pub fn new(version: u64, issued_ms: i64, expires_ms: i64, releases: Vec<ReleaseEntry>) -> Self {
        Metadata {
            kind: METADATA_TYPE.to_string(),
            spec_version: SPEC_VERSION,
            version,
            issued_ms,
            expires_ms,
            releases,
        }
    }

    /// The release with this version, if listed.
    pub fn release(&self, version: &str) -> Option<&ReleaseEntry> {
        self.releases.iter().find(|r| r.version == version)
    }

    /// Checks the document is one this crate understands and is internally
    /// consistent (valid versions, no duplicates, well-formed file entries).
    pub fn validate(&self) -> Result<(), ReleaseError> {
        if self.kind != METADATA_TYPE {
            return Err(ReleaseError::Malformed(format!(
                "type is {:?}, expected {METADATA_TYPE:?}",
                self.kind
            )));
        }
        if self.spec_version != SPEC_VERSION {
            return Err(ReleaseError::Malformed(format!(
                "spec_version {} is not {SPEC_VERSION}: this updater is too old for it",
                self.spec_version
            )));
        }
        if self.expires_ms <= self.issued_ms {
            return Err(ReleaseError::Malformed(
                "expires_ms must be after issued_ms".into(),
            ));
        }
        if self.releases.len() > MAX_RELEASES {
            return Err(ReleaseError::Malformed(format!(
                "more than {MAX_RELEASES} releases"
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.releases {
            version::parse(&r.version)?;
            if !seen.insert(r.version.as_str()) {
                return Err(ReleaseError::Malformed(format!(
                    "release {} is listed twice",
                    r.version
                )));
            }
            for (platform, files) in &r.platforms {
                if platform.is_empty() || platform.len() > 64 {
                    return Err(ReleaseError::Malformed(format!(
                        "release {}: bad platform name",
                        r.version
                    )));
                }
                files
                    .agent
                    .validate(&format!("{} {platform} {AGENT_FILE}", r.version))?;
                if let Some(u) = &files.update {
                    u.validate(&format!("{} {platform} {UPDATE_FILE}", r.version))?;
                }
            }
        }
        Ok(())
    }
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    pub sig: String,
}

/// What crosses the network: the document bytes and their signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub signed: String,
    pub signatures: Vec<Signature>,
}

/// The release public key an updater trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedKey {
    key: VerifyingKey,
    id: String,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey").field("id", &self.id).finish()
    }
}

impl TrustedKey {
    /// Parses the standard base64 of a 32-byte ed25519 public key.
    pub fn parse(b64: &str) -> Result<TrustedKey, ReleaseError> {
        let bad = |why: &str| ReleaseError::Malformed(format!("release key: {why}"));
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| bad("not base64"))?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("an ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad("not an ed25519 point"))?;
        Ok(TrustedKey {
            key,
            id: key_id(&raw),
        })
    }

    /// Hex SHA-256 of the public key bytes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as standard base64 (the form [`TrustedKey::parse`] reads).
    pub fn to_b64(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }
}

/// Hex SHA-256 of raw public key bytes: the `keyid` of signatures.
pub fn key_id(public: &[u8]) -> String {
    Sha256::digest(public)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn signing_input(doc: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + doc.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(doc);
    m
}

/// Serializes `meta` and signs it: `sign` gets the message to sign and
/// returns the standard base64 of the 64-byte ed25519 signature (the
/// server's release key does this). Returns the envelope's JSON text.
pub fn sign_envelope(
    meta: &Metadata,
    public_key_b64: &str,
    sign: impl FnOnce(&[u8]) -> String,
) -> Result<String, ReleaseError> {
    meta.validate()?;
    let key = TrustedKey::parse(public_key_b64)?;
    let doc = serde_json::to_vec(meta).map_err(|e| ReleaseError::Malformed(e.to_string()))?;
    let env = Envelope {
        signed: STANDARD.encode(&doc),
        signatures: vec![Signature {
            keyid: key.id().to_string(),
            sig: sign(&signing_input(&doc)),
        }],
    };
    let text = serde_json::to_string(&env).map_err(|e| ReleaseError::Malformed(e.to_string()))?;
    if text.len() > MAX_ENVELOPE_BYTES {
        return Err(ReleaseError::TooLarge {
            size: text.len(),
            max: MAX_ENVELOPE_BYTES,
        });
    }
    Ok(text)
}

/// Verifies an envelope with the trusted key and returns the document it
/// signs (validated, but not yet checked for freshness: see [`check_fresh`]).
pub fn verify(envelope: &str, key: &TrustedKey) -> Result<Metadata, ReleaseError> {
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(ReleaseError::TooLarge {
            size: envelope.len(),
            max: MAX_ENVELOPE_BYTES,
        });
    }
    let env: Envelope = serde_json::from_str(envelope)
        .map_err(|e| ReleaseError::Malformed(format!("envelope: {e}")))?;
    let Some(sig) = env.signatures.iter().find(|s| s.keyid == key.id) else {
        let found: Vec<&str> = env
            .signatures
            .iter()
            .map(|s| s.keyid.get(..16).unwrap_or(&s.keyid))
            .collect();
        return Err(ReleaseError::UnknownKey {
            trusted: key.id[..16].to_string(),
            found: if found.is_empty() {
                "no signature".into()
            } else {
                found.join(", ")
            },
        });
    };
    let bad_sig = || ReleaseError::BadSignature {
        key: key.id[..16].to_string(),
    };
    let sig_bytes = STANDARD.decode(sig.sig.trim()).map_err(|_| bad_sig())?;
    let sig = EdSignature::from_slice(&sig_bytes).map_err(|_| bad_sig())?;
    let doc = STANDARD
        .decode(env.signed.trim())
        .map_err(|_| ReleaseError::Malformed("signed is not base64".into()))?;
    key.key
        .verify_strict(&signing_input(&doc), &sig)
        .map_err(|_| bad_sig())?;
    let meta: Metadata = serde_json::from_slice(&doc)
        .map_err(|e| ReleaseError::Malformed(format!("document: {e}")))?;
    meta.validate()?;
    Ok(meta)
}

/// Refuses metadata older than the newest version already trusted and
/// metadata past its expiry at `now_ms`.
pub fn check_fresh(meta: &Metadata, trusted_version: u64, now_ms: i64) -> Result<(), ReleaseError> {
    if meta.version < trusted_version {
        return Err(ReleaseError::Rollback {
            found: meta.version,
            trusted: trusted_version,
        });
    }
    if now_ms >= meta.expires_ms {
        return Err(ReleaseError::Expired {
            expires_ms: meta.expires_ms,
            now_ms,
        });
    }
    Ok(())
}
