//! Cloned hosts (SPEC L12): a copy of an install gets an identity of its own.
//!
//! The gateway calls [`reidentify`] when a session's `Hello` carries a host
//! fingerprint other than the one its identity was enrolled with (the
//! prefix was copied to another host or directory), or when two live agent
//! processes keep displacing each other with one identity (an image cloned
//! with its machine id). The copy receives a new asset id and credential
//! over its session (`ServerMsg::Reidentify`), saves them and reconnects;
//! the original keeps its identity, so neither kicks the other again.
//!
//! A copy that lost the answer and asks again gets the same new asset back
//! (the store reuses a never-connected copy of the same source and
//! fingerprint); nothing else is ever taken over, so presenting a made-up
//! fingerprint cannot capture another host's asset. Each identity can spawn
//! at most [`MAX_PER_HOUR`] copies per hour.

use ward_pki::secret::{random_token, sha256_hex};
use ward_proto::Credential;
use ward_store::{Reidentification, StoreError};

use crate::clock::now_ms;
use crate::state::AppState;

/// Re-identifications one source identity may cause per hour.
pub const MAX_PER_HOUR: u32 = 10;
const WINDOW_MS: i64 = 3_600_000;

/// Counts re-identifications per source identity.
pub type ReidLimiter = crate::ratelimit::FailureLimiter<String>;

/// A limiter allowing [`MAX_PER_HOUR`] copies per source per hour.
pub fn reid_limiter() -> ReidLimiter {
    ReidLimiter::new(MAX_PER_HOUR, WINDOW_MS)
}

/// Why a copy did not get an identity.
#[derive(Debug, thiserror::Error)]
pub enum ReidError {
    #[error("too many copies of this identity in the last hour")]
    Limited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The identity given to a copy.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub agent_id: String,
    /// `wa1.<id>.<secret>`: sent once, only its hash is stored.
    pub credential: String,
    pub reused: bool,
}

/// Gives the copy of `source_id`'s install with `fingerprint` its own identity.
pub async fn reidentify(
    st: &AppState,
    source_id: &str,
    fingerprint: &str,
    reason: &str,
) -> Result<NewIdentity, ReidError> {
    let now = now_ms();
    if !st.lifecycle.reid_limiter.take(source_id.to_string(), now) {
        return Err(ReidError::Limited);
    }
    let secret = random_token("", 32);
    let done = st
        .store
        .reidentify(&Reidentification {
            source_id: source_id.to_string(),
            new_id: random_token("ag", 12),
            fingerprint: fingerprint.to_string(),
            credential_hash: sha256_hex(secret.as_bytes()),
            reason: reason.to_string(),
            at: now,
        })
        .await?;
    st.asset_enrolled(&done.asset);
    let credential = Credential {
        agent_id: done.asset.id.clone(),
        secret,
    }
    .encode();
    tracing::warn!(
        source = %source_id,
        copy = %done.asset.id,
        reused = done.reclaimed,
        %reason,
        "cloned install detected; the copy gets its own identity"
    );
    Ok(NewIdentity {
        agent_id: done.asset.id,
        credential,
        reused: done.reclaimed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_a_few_per_hour_per_source() {
        let l = reid_limiter();
        for _ in 0..MAX_PER_HOUR {
            assert!(l.take("a".into(), 0));
        }
        assert!(!l.take("a".into(), 1), "used up");
        assert!(l.take("b".into(), 1), "per source");
        assert!(l.take("a".into(), WINDOW_MS), "a new window");
    }
}
