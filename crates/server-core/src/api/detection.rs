//! `GET/PUT /api/v1/settings/detection` (rule thresholds, retention) and
//! `GET/PUT /api/v1/settings/outputs` (webhook, syslog); the rules in force
//! are in [`super::rules`]. A PUT replaces the whole document,
//! is validated first (400 with the reason, including rule error codes
//! `W10xx`), stored, then applied at once — the same code as the console's
//! settings pages ([`crate::detect::actions`]).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;

use crate::detect::actions;
use crate::detect::settings::{self, DetectionSettings, OutputSettings};
use crate::http_error::HttpError;
use crate::state::AppState;

pub async fn get_detection(
    State(st): State<Arc<AppState>>,
) -> Result<Json<DetectionSettings>, HttpError> {
    let s: DetectionSettings = settings::load(&*st.store, settings::DETECTION_KEY)
        .await
        .map_err(|e| HttpError::store("reading detection settings failed", e))?;
    Ok(Json(s))
}

pub async fn put_detection(
    State(st): State<Arc<AppState>>,
    body: Result<Json<DetectionSettings>, JsonRejection>,
) -> Result<Json<DetectionSettings>, HttpError> {
    let Json(s) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    Ok(Json(actions::save_detection(&st, s).await?))
}

pub async fn get_outputs(
    State(st): State<Arc<AppState>>,
) -> Result<Json<OutputSettings>, HttpError> {
    Ok(Json(actions::output_settings(&st).await?.redacted()))
}

pub async fn put_outputs(
    State(st): State<Arc<AppState>>,
    body: Result<Json<OutputSettings>, JsonRejection>,
) -> Result<Json<OutputSettings>, HttpError> {
    let Json(s) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    Ok(Json(actions::save_outputs(&st, s).await?.redacted()))
}
