//! What agents and updaters call (see the wire docs in `ward-proto`):
//! `GET RELEASE_PATH` (the signed metadata and this agent's target),
//! `POST LIFECYCLE_PATH` (reports), and the public release file downloads.
//! The first two take the agent credential; the asset is always the
//! credential's.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ward_proto::{LifecycleReport, ReleaseOffer, MAX_LIFECYCLE_MESSAGE, PLATFORMS};
use ward_release::{AGENT_FILE, UPDATE_FILE};
use ward_store::NewLifecycleEvent;

use crate::clock::now_ms;
use crate::download::bytes_response;
use crate::gateway::authenticate;
use crate::http_error::HttpError;
use crate::state::AppState;

/// `GET /api/v1/agent/release`.
pub async fn offer(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<ReleaseOffer>, HttpError> {
    let agent_id = authenticate(&st, &headers).await?.asset_id;
    let asset = st
        .store
        .get_asset(&agent_id)
        .await
        .map_err(|e| HttpError::store("reading an asset failed", e))?
        .ok_or_else(|| HttpError::unauthorized("missing or invalid agent credential"))?;
    let now = now_ms();
    let signed = st
        .releases
        .metadata(&*st.store, now)
        .await
        .map_err(|e| HttpError::store("release metadata", e))?;
    // Chosen among the releases of the signed document itself, so the
    // target is always one the updater finds in the metadata it gets.
    let versions = signed.versions_for(&asset.platform);
    let rollout = super::rollout(&*st.store)
        .await
        .map_err(|e| HttpError::store("reading the rollout failed", e))?;
    let chosen = rollout.select(&versions, &asset.id, asset.group.as_deref());
    tracing::debug!(
        asset = %asset.id,
        target = chosen.as_ref().map(|c| c.version.as_str()).unwrap_or("none"),
        metadata_version = signed.version,
        "release offer"
    );
    Ok(Json(ReleaseOffer {
        metadata: signed.envelope.clone(),
        target: chosen.as_ref().map(|c| c.version.clone()),
        reason: chosen.map(|c| c.reason),
        release_key: st.releases.public_key().to_string(),
    }))
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `POST /api/v1/agent/lifecycle`.
pub async fn report(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<LifecycleReport>, JsonRejection>,
) -> Result<Response, HttpError> {
    let agent_id = authenticate(&st, &headers).await?.asset_id;
    let Json(r) = body.map_err(|e| HttpError::bad_request(e.body_text()))?;
    if r.program != AGENT_FILE && r.program != UPDATE_FILE {
        return Err(HttpError::bad_request(format!(
            "program must be {AGENT_FILE} or {UPDATE_FILE}"
        )));
    }
    let short = |v: &Option<String>| v.as_deref().map(|s| clip(s, 64));
    let event = NewLifecycleEvent {
        asset_id: agent_id.clone(),
        at: r.at_ms,
        received_at: now_ms(),
        kind: r.kind.as_str().to_string(),
        program: r.program.clone(),
        from_version: short(&r.from_version),
        to_version: short(&r.to_version),
        detail: short(&r.detail),
        message: clip(r.message.trim(), MAX_LIFECYCLE_MESSAGE),
    };
    st.store
        .add_lifecycle_event(&event)
        .await
        .map_err(|e| HttpError::store("storing a lifecycle report failed", e))?;
    tracing::info!(
        asset = %agent_id,
        kind = %event.kind,
        program = %event.program,
        to_version = event.to_version.as_deref().unwrap_or(""),
        detail = event.detail.as_deref().unwrap_or(""),
        message = %event.message,
        "agent lifecycle report"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /download/release/{version}/{platform}/{file}` (public).
pub async fn download(
    State(st): State<Arc<AppState>>,
    Path((version, platform, file)): Path<(String, String, String)>,
) -> Result<Response, HttpError> {
    if ward_release::version::parse(&version).is_err()
        || !PLATFORMS.contains(&platform.as_str())
        || (file != AGENT_FILE && file != UPDATE_FILE)
    {
        return Err(HttpError::not_found("no such release file"));
    }
    let path = st.releases.file_path(&version, &platform, &file);
    let pkg = st
        .packages
        .get(&path)
        .await
        .map_err(|e| HttpError::internal("reading a release file failed", e))?
        .ok_or_else(|| {
            HttpError::not_found(format!("release {version} has no {file} for {platform}"))
        })?;
    Ok(bytes_response(&pkg))
}
