//! `GET/PUT /api/v1/settings/detection` (rule thresholds, retention) and
//! `GET/PUT /api/v1/settings/outputs` (webhook, syslog). A PUT replaces the
//! whole document, is validated first (400 with the reason, including rule
//! error codes `W10xx`), stored, then applied at once.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;

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
    s.validate_with(&st.detect.imported())
        .map_err(HttpError::bad_request)?;
    settings::save(&*st.store, settings::DETECTION_KEY, &s)
        .await
        .map_err(|e| HttpError::store("saving detection settings failed", e))?;
    st.detect.set_settings(s.clone());
    tracing::info!(overrides = s.rules.len(), "detection settings changed");
    Ok(Json(s))
}

pub async fn get_outputs(
    State(st): State<Arc<AppState>>,
) -> Result<Json<OutputSettings>, HttpError> {
    let s: OutputSettings = settings::load(&*st.store, settings::OUTPUTS_KEY)
        .await
        .map_err(|e| HttpError::store("reading output settings failed", e))?;
    Ok(Json(s.redacted()))
}

pub async fn put_outputs(
    State(st): State<Arc<AppState>>,
    body: Result<Json<OutputSettings>, JsonRejection>,
) -> Result<Json<OutputSettings>, HttpError> {
    let Json(s) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let stored: OutputSettings = settings::load(&*st.store, settings::OUTPUTS_KEY)
        .await
        .map_err(|e| HttpError::store("reading output settings failed", e))?;
    let s = s.keep_secret_from(&stored);
    s.validate().map_err(HttpError::bad_request)?;
    settings::save(&*st.store, settings::OUTPUTS_KEY, &s)
        .await
        .map_err(|e| HttpError::store("saving output settings failed", e))?;
    st.detect.set_output_settings(s.clone());
    tracing::info!(
        webhook = s.webhook.is_some(),
        syslog = s.syslog.is_some(),
        "output settings changed"
    );
    Ok(Json(s.redacted()))
}
