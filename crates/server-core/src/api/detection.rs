//! `GET/PUT /api/v1/settings/detection` (rule thresholds, retention),
//! `GET/PUT /api/v1/settings/outputs` (webhook, syslog) and `GET
//! /api/v1/rules` (the rules in force). A PUT replaces the whole document,
//! is validated first (400 with the reason, including rule error codes
//! `W10xx`), stored, then applied at once — the same code as the console's
//! settings pages ([`crate::detect::actions`]).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use serde::Serialize;

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

/// One rule of `GET /api/v1/rules`.
#[derive(Debug, Serialize)]
pub struct RuleView {
    pub id: String,
    pub title: String,
    pub author: Option<String>,
    pub severity: &'static str,
    pub techniques: Vec<String>,
    /// `event_count`, `value_count`, ... for correlations.
    pub correlation: Option<&'static str>,
    /// Raises alerts of its own (else it only feeds correlations).
    pub alerts: bool,
    pub enabled: bool,
    /// The file it came from (`builtin/...` or a file of `rules_dir`).
    pub file: String,
}

/// `GET /api/v1/rules`: every rule in force, and the added rules left out.
#[derive(Debug, Serialize)]
pub struct RulesAnswer {
    pub items: Vec<RuleView>,
    /// Rules of `rules_dir` that did not compile (`W10xx ...`).
    pub errors: Vec<String>,
}

pub async fn rules(State(st): State<Arc<AppState>>) -> Result<Json<RulesAnswer>, HttpError> {
    let (set, errors) = st
        .detect
        .rule_set()
        .map_err(|e| HttpError::internal("compiling the rules", e))?;
    let items = set
        .rules()
        .map(|r| RuleView {
            id: r.id.clone(),
            title: r.title.clone(),
            author: r.author.clone(),
            severity: crate::detect::alerts::severity(r.severity).as_str(),
            techniques: r.techniques.clone(),
            correlation: r.correlation.map(|c| c.as_str()),
            alerts: r.alerts,
            enabled: r.enabled,
            file: r.file.clone(),
        })
        .collect();
    Ok(Json(RulesAnswer {
        items,
        errors: errors.iter().map(|e| e.to_string()).collect(),
    }))
}
