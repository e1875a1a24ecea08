//! The operator API of releases (bearer API tokens):
//! `GET /api/v1/releases`, `GET|PUT /api/v1/settings/rollout`,
//! `GET /api/v1/assets/{id}/lifecycle`.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use ward_release::Rollout;
use ward_store::{LifecycleEvent, Release};

use super::RolloutError;
use crate::clock::now_ms;
use crate::http_error::HttpError;
use crate::state::AppState;

/// `GET /api/v1/releases`.
#[derive(Debug, Serialize)]
pub struct ReleasesView {
    /// One entry per version and platform, in publication order.
    pub items: Vec<Release>,
    /// The signed metadata currently served.
    pub metadata_version: u64,
    pub metadata_expires_ms: i64,
    /// The release public key agents verify with.
    pub release_key: String,
    pub rollout: Rollout,
}

pub async fn list(State(st): State<Arc<AppState>>) -> Result<Json<ReleasesView>, HttpError> {
    let signed = st
        .releases
        .metadata(&*st.store, now_ms())
        .await
        .map_err(|e| HttpError::store("release metadata", e))?;
    let items = st
        .store
        .list_releases()
        .await
        .map_err(|e| HttpError::store("listing releases failed", e))?;
    let rollout = super::rollout(&*st.store)
        .await
        .map_err(|e| HttpError::store("reading the rollout failed", e))?;
    Ok(Json(ReleasesView {
        items,
        metadata_version: signed.version,
        metadata_expires_ms: signed.expires_ms,
        release_key: st.releases.public_key().to_string(),
        rollout,
    }))
}

/// `GET /api/v1/settings/rollout`.
pub async fn get_rollout(State(st): State<Arc<AppState>>) -> Result<Json<Rollout>, HttpError> {
    super::rollout(&*st.store)
        .await
        .map(Json)
        .map_err(|e| HttpError::store("reading the rollout failed", e))
}

/// `PUT /api/v1/settings/rollout` with the whole [`Rollout`].
pub async fn put_rollout(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Rollout>, JsonRejection>,
) -> Result<Json<Rollout>, HttpError> {
    let Json(r) = body.map_err(|e| HttpError::bad_request(e.body_text()))?;
    match super::set_rollout(&*st.store, &r).await {
        Ok(()) => Ok(Json(r)),
        Err(RolloutError::Invalid(m)) => Err(HttpError::bad_request(m)),
        Err(e @ RolloutError::Store(_)) => Err(HttpError::internal("saving the rollout", e)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleParams {
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct LifecycleItems {
    pub items: Vec<LifecycleEvent>,
}

/// `GET /api/v1/assets/{id}/lifecycle?limit=`: newest first.
pub async fn asset_lifecycle(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    params: Result<Query<LifecycleParams>, QueryRejection>,
) -> Result<Json<LifecycleItems>, HttpError> {
    let Query(p) = params.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(HttpError::bad_request(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    if st
        .store
        .get_asset(&id)
        .await
        .map_err(|e| HttpError::store("reading an asset failed", e))?
        .is_none()
    {
        return Err(HttpError::not_found(format!("no asset {id:?}")));
    }
    let items = st
        .store
        .lifecycle_events(&id, limit)
        .await
        .map_err(|e| HttpError::store("reading lifecycle events failed", e))?;
    Ok(Json(LifecycleItems { items }))
}
