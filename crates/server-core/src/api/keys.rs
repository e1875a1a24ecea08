//! Verification keys: `GET/POST /api/v1/keys`, `POST /api/v1/keys/{id}/revoke`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::views::{Items, KeyView};
use crate::admin;
use crate::clock::now_ms;
use crate::http_error::HttpError;
use crate::state::AppState;

/// Longest label or group name.
pub const MAX_LABEL: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    pub label: String,
    #[serde(default)]
    pub default_group: Option<String>,
}

/// Checks a label / group name.
pub fn check_name(what: &str, v: &str) -> Result<(), HttpError> {
    if v.trim().is_empty() || v.chars().count() > MAX_LABEL || v.chars().any(char::is_control) {
        return Err(HttpError::bad_request(format!(
            "{what} must be 1 to {MAX_LABEL} printable characters"
        )));
    }
    Ok(())
}

pub async fn list(State(st): State<Arc<AppState>>) -> Result<Json<Items<KeyView>>, HttpError> {
    let keys = st
        .store
        .list_keys()
        .await
        .map_err(|e| HttpError::store("listing keys failed", e))?;
    Ok(Json(Items {
        items: keys.into_iter().map(KeyView::from).collect(),
        next_cursor: None,
    }))
}

pub async fn create(
    State(st): State<Arc<AppState>>,
    body: Result<Json<NewKeyBody>, JsonRejection>,
) -> Result<(StatusCode, Json<KeyView>), HttpError> {
    let Json(body) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    check_name("label", &body.label)?;
    let group = body
        .default_group
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    if let Some(g) = &group {
        check_name("default_group", g)?;
    }
    let key = admin::create_key(&*st.store, body.label.trim(), group)
        .await
        .map_err(|e| HttpError::store("creating a key failed", e))?;
    tracing::info!(key = %key.id, label = %key.label, "verification key created");
    Ok((StatusCode::CREATED, Json(KeyView::from(key))))
}

pub async fn revoke(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, HttpError> {
    let key = st
        .store
        .revoke_key(&id, now_ms())
        .await
        .map_err(|e| HttpError::store("revoking a key failed", e))?;
    tracing::info!(key = %key.id, "verification key revoked");
    Ok(Json(KeyView::from(key)))
}
