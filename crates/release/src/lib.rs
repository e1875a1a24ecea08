//! Ward's signed release metadata: pure logic, no I/O.
//!
//! This crate owns the format of the agent release metadata the server
//! publishes and the updater (`ward-update`) trusts, and every decision that
//! can be made from it without touching the network or the disk:
//!
//! * [`metadata`]: the signed document ([`Metadata`]: monotonic `version`,
//!   `expires_ms`, the releases with the SHA-256 and size of each file per
//!   platform) inside an [`Envelope`] carrying ed25519 signatures; building
//!   and signing an envelope (the server) and verifying it against the
//!   trusted release key (the updater);
//! * freshness ([`check_fresh`]): metadata older than the newest version
//!   already trusted (a rollback or freeze attack) or past its expiry is
//!   refused;
//! * [`version`]: semantic-version ordering of release versions;
//! * [`plan`]: what the updater does with an offered release (nothing,
//!   install it, or refuse it because it is older than what runs);
//! * [`rollout`]: which release the server offers to one agent (pinned
//!   version, percentage of the fleet, groups first).
//!
//! Like TUF's targets role, the metadata names files by hash and size; a
//! file whose bytes do not match ([`FileInfo::check`]) is refused before it
//! is ever executed.

pub mod metadata;
pub mod plan;
pub mod rollout;
pub mod version;

#[cfg(test)]
mod tests;

pub use metadata::{
    check_fresh, sign_envelope, verify, Envelope, FileInfo, Metadata, PlatformFiles, ReleaseEntry,
    Signature, TrustedKey, AGENT_FILE, MAX_ENVELOPE_BYTES, MAX_FILE_BYTES, METADATA_TYPE,
    SIGNING_CONTEXT, SPEC_VERSION, UPDATE_FILE,
};
pub use plan::{plan, Plan};
pub use rollout::{Rollout, Selection};

/// Every way release metadata or a release can be refused. `Display` is one
/// line naming the cause; these lines are what the updater logs and reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("release metadata is malformed: {0}")]
    Malformed(String),
    #[error("release metadata of {size} bytes exceeds the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error(
        "release metadata is not signed by the trusted release key {trusted} (signed by: {found})"
    )]
    UnknownKey { trusted: String, found: String },
    #[error("release metadata signature does not verify with the trusted release key {key}")]
    BadSignature { key: String },
    #[error("release metadata version {found} is older than version {trusted} already trusted (rollback refused)")]
    Rollback { found: u64, trusted: u64 },
    #[error("release metadata expired {} s ago (expires_ms {expires_ms}); refusing stale metadata", (now_ms - expires_ms) / 1000)]
    Expired { expires_ms: i64, now_ms: i64 },
    #[error("release {offered} is older than the running version {current} (downgrade refused)")]
    Older { offered: String, current: String },
    #[error("release {0} is not listed in the signed release metadata")]
    NotListed(String),
    #[error("release {version} has no package for platform {platform}")]
    NoPackage { version: String, platform: String },
    #[error("{file} of release {version} was tampered with: {detail}")]
    Tampered {
        file: String,
        version: String,
        detail: String,
    },
    #[error("{0:?} is not a semantic version (MAJOR.MINOR.PATCH[-PRE][+BUILD])")]
    BadVersion(String),
}

impl ReleaseError {
    /// A short stable name for reports and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ReleaseError::Malformed(_) | ReleaseError::TooLarge { .. } => "malformed_metadata",
            ReleaseError::UnknownKey { .. } | ReleaseError::BadSignature { .. } => "bad_signature",
            ReleaseError::Rollback { .. } => "metadata_rollback",
            ReleaseError::Expired { .. } => "expired_metadata",
            ReleaseError::Older { .. } => "older_version",
            ReleaseError::NotListed(_) | ReleaseError::NoPackage { .. } => "not_listed",
            ReleaseError::Tampered { .. } => "tampered",
            ReleaseError::BadVersion(_) => "bad_version",
        }
    }
}
