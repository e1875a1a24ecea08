//! `GET/PUT /api/v1/settings/policy`: agent intervals, pushed to every live
//! session at once when changed.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use ward_proto::Policy;

use crate::clock::now_ms;
use crate::http_error::HttpError;
use crate::state::AppState;

pub async fn get(State(st): State<Arc<AppState>>) -> Json<Policy> {
    Json(st.policy())
}

pub async fn put(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Policy>, JsonRejection>,
) -> Result<Json<Policy>, HttpError> {
    let Json(policy) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    apply(&st, policy).await.map(Json)
}

/// Validates, stores and applies a policy (engine window and a push to
/// every live session). The API and the console both save through here.
pub async fn apply(st: &AppState, policy: Policy) -> Result<Policy, HttpError> {
    policy.validate().map_err(HttpError::bad_request)?;
    st.store
        .set_policy(&policy)
        .await
        .map_err(|e| HttpError::internal("saving the policy failed", e))?;
    st.set_policy(policy, now_ms());
    tracing::info!(
        keepalive_secs = policy.keepalive_secs,
        missed_keepalives = policy.missed_keepalives,
        report_interval_secs = policy.report_interval_secs,
        "agent policy changed"
    );
    Ok(policy)
}
