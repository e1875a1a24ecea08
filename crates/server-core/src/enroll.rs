//! `POST ENROLL_PATH`: a verification key is exchanged for an agent identity.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use ward_pki::secret::{random_token, sha256_hex};
use ward_proto::{Credential, EnrollRequest, EnrollResponse, ErrorCode, PLATFORMS};
use ward_store::Enrollment;

use crate::clock::now_ms;
use crate::http_error::HttpError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Longest key, fingerprint or version string accepted.
const MAX_FIELD: usize = 256;

pub async fn handler(
    State(st): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    body: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<Json<EnrollResponse>, HttpError> {
    let now = now_ms();
    let ip = addr.ip();
    if st.enroll_limiter.is_blocked(ip, now) {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many failed enrollments from this address; wait a minute",
        ));
    }
    let Json(req) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    check_request(&req)?;

    let key = st
        .store
        .find_key_by_secret(req.key.trim())
        .await
        .map_err(|e| HttpError::internal("looking up a verification key failed", e))?;
    let Some(key) = key else {
        st.enroll_limiter.failed(ip, now);
        tracing::info!(%addr, "enrollment refused: unknown verification key");
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::KeyUnknown,
            "the verification key is not known to this server",
        ));
    };
    if key.revoked_at.is_some() {
        st.enroll_limiter.failed(ip, now);
        tracing::info!(%addr, key = %key.id, "enrollment refused: revoked key");
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::KeyRevoked,
            "the verification key was revoked",
        ));
    }

    let secret = random_token("", 32);
    let enrolled = st
        .store
        .enroll(Enrollment {
            new_id: random_token("ag", 12),
            key_id: key.id.clone(),
            fingerprint: req.fingerprint.clone(),
            platform: req.platform.clone(),
            credential_hash: sha256_hex(secret.as_bytes()),
            report: req.report.clone(),
            at: now,
        })
        .await
        .map_err(|e| HttpError::internal("enrollment failed", e))?;
    let credential = Credential {
        agent_id: enrolled.asset.id.clone(),
        secret,
    };
    if Credential::parse(&credential.encode()).is_err() {
        return Err(HttpError::internal(
            "enrollment produced an unusable credential",
            format!("asset id {:?}", enrolled.asset.id),
        ));
    }
    st.asset_enrolled(&enrolled.asset);
    Metrics::inc(&st.metrics.enrollments);
    tracing::info!(
        asset = %enrolled.asset.id,
        key = %key.id,
        reclaimed = enrolled.reclaimed,
        hostname = %req.report.hostname,
        %addr,
        "agent enrolled"
    );
    Ok(Json(EnrollResponse {
        agent_id: enrolled.asset.id,
        credential: credential.encode(),
        policy: st.policy(),
        release_key: Some(st.releases.public_key().to_string()),
        command_key: Some(st.lifecycle.public_key()),
    }))
}

fn check_request(req: &EnrollRequest) -> Result<(), HttpError> {
    if !PLATFORMS.contains(&req.platform.as_str()) {
        return Err(HttpError::bad_request(format!(
            "unknown platform {:?}; known: {}",
            req.platform,
            PLATFORMS.join(", ")
        )));
    }
    for (name, v) in [
        ("key", &req.key),
        ("fingerprint", &req.fingerprint),
        ("agent_version", &req.agent_version),
    ] {
        if v.trim().is_empty() || v.len() > MAX_FIELD {
            return Err(HttpError::bad_request(format!(
                "{name} must be 1 to {MAX_FIELD} characters"
            )));
        }
    }
    Ok(())
}
