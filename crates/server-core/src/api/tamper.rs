//! `GET/PUT /api/v1/settings/tamper-protection`: which groups have tamper
//! protection (`{"default": bool, "groups": {"<group>": bool}}`); a change
//! reaches every connected agent at once.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;

use crate::http_error::HttpError;
use crate::lifecycle::tamper::{self, SaveError, TamperSettings};
use crate::state::AppState;

pub async fn get(State(st): State<Arc<AppState>>) -> Json<TamperSettings> {
    Json((*st.lifecycle.tamper()).clone())
}

pub async fn put(
    State(st): State<Arc<AppState>>,
    body: Result<Json<TamperSettings>, JsonRejection>,
) -> Result<Json<TamperSettings>, HttpError> {
    let Json(s) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    match tamper::save(&st, s).await {
        Ok(s) => Ok(Json(s)),
        Err(SaveError::Invalid(m)) => Err(HttpError::bad_request(m)),
        Err(e) => Err(HttpError::internal("saving tamper protection failed", e)),
    }
}
