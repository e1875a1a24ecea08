//! `GET /api/v1/rules`: every rule of the running rule book (built-in, of
//! `rules_dir`, imported), loaded or why not, with its author.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::detect::rulebook::RuleReport;
use crate::http_error::HttpError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesParams {
    /// `builtin`, `rules_dir` or `imported`.
    pub origin: Option<String>,
    /// `loaded` or `not_loaded`.
    pub status: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RulesView {
    pub loaded: usize,
    pub not_loaded: usize,
    pub items: Vec<RuleReport>,
    /// The rule errors (`W10xx message (file:line:col, rule id)`) of the
    /// added rules left out because they do not compile.
    pub errors: Vec<String>,
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    q: Result<Query<RulesParams>, QueryRejection>,
) -> Result<Json<RulesView>, HttpError> {
    let Query(q) = q.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let check = |name: &str, v: &Option<String>, allowed: &[&str]| match v.as_deref() {
        Some(x) if !allowed.contains(&x) => Err(HttpError::bad_request(format!(
            "{name} must be one of {}, got {x:?}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    };
    check("origin", &q.origin, &["builtin", "rules_dir", "imported"])?;
    check("status", &q.status, &["loaded", "not_loaded"])?;
    let report = st.detect.rule_report();
    let items: Vec<RuleReport> = report
        .iter()
        .filter(|r| q.origin.as_deref().is_none_or(|o| r.origin == o))
        .filter(|r| q.status.as_deref().is_none_or(|s| r.status == s))
        .cloned()
        .collect();
    let loaded = items.iter().filter(|r| r.status == "loaded").count();
    let errors = items.iter().filter_map(|r| r.error.clone()).collect();
    Ok(Json(RulesView {
        loaded,
        not_loaded: items.len() - loaded,
        items,
        errors,
    }))
}
