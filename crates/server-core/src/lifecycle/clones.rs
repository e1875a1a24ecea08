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

use std::collections::HashMap;
use std::sync::Mutex;

use ward_pki::secret::{random_token, sha256_hex};
use ward_proto::Credential;
use ward_store::{Reidentification, StoreError};

use crate::clock::now_ms;
use crate::state::AppState;

/// Re-identifications one source identity may cause per hour.
pub const MAX_PER_HOUR: u32 = 10;
const WINDOW_MS: i64 = 3_600_000;

/// Counts re-identifications per source identity.
#[derive(Debug, Default)]
pub struct ReidLimiter {
    map: Mutex<HashMap<String, (i64, u32)>>,
}

impl ReidLimiter {
    /// Takes one from `source`'s allowance; false when it is used up.
    pub fn take(&self, source: &str, now: i64) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now - *start < WINDOW_MS);
        }
        let e = map.entry(source.to_string()).or_insert((now, 0));
        if now - e.0 >= WINDOW_MS {
            *e = (now, 0);
        }
        if e.1 >= MAX_PER_HOUR {
            return false;
        }
        e.1 += 1;
        true
    }
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
    if !st.lifecycle.reid_limiter.take(source_id, now) {
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
        let l = ReidLimiter::default();
        for _ in 0..MAX_PER_HOUR {
            assert!(l.take("a", 0));
        }
        assert!(!l.take("a", 1), "used up");
        assert!(l.take("b", 1), "per source");
        assert!(l.take("a", WINDOW_MS), "a new window");
    }
}
