//! The REST API under `/api/v1`, authenticated with bearer API tokens
//! (`Authorization: Bearer wt_…`, stored as SHA-256 hashes).

pub mod alerts;
pub mod assets;
pub mod commands;
pub mod detection;
pub mod keys;
pub mod params;
pub mod policy;
pub mod rules;
pub mod setup;
pub mod tamper;
pub mod views;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use ward_pki::secret::sha256_hex;

use crate::clock::now_ms;
use crate::gateway::bearer;
use crate::http_error::HttpError;
use crate::state::AppState;

/// The OpenAPI 3 document of this API.
pub const OPENAPI_JSON: &str = include_str!("../../assets/openapi.json");

/// Authenticated API routes.
pub fn routes(st: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/assets", get(assets::list))
        .route("/api/v1/assets/{id}", get(assets::detail))
        .route(
            "/api/v1/assets/{id}/lifecycle",
            get(crate::releases::api::asset_lifecycle),
        )
        .route("/api/v1/releases", get(crate::releases::api::list))
        .route(
            "/api/v1/settings/rollout",
            get(crate::releases::api::get_rollout).put(crate::releases::api::put_rollout),
        )
        .route("/api/v1/assets/{id}/uninstall", post(commands::uninstall))
        .route(
            "/api/v1/assets/{id}/update-check",
            post(commands::update_check),
        )
        .route("/api/v1/assets/{id}/uninstall-token", post(commands::token))
        .route("/api/v1/uninstall", post(commands::uninstall_bulk))
        .route("/api/v1/commands", get(commands::list))
        .route("/api/v1/commands/{id}", get(commands::detail))
        .route("/api/v1/commands/{id}/cancel", post(commands::cancel))
        .route(
            "/api/v1/settings/tamper-protection",
            get(tamper::get).put(tamper::put),
        )
        .route("/api/v1/keys", get(keys::list).post(keys::create))
        .route("/api/v1/keys/{id}/revoke", post(keys::revoke))
        .route("/api/v1/install-command", get(setup::install_command))
        .route("/api/v1/uninstall-command", get(setup::uninstall_command))
        .route("/api/v1/settings/policy", get(policy::get).put(policy::put))
        .route("/api/v1/alerts", get(alerts::list))
        .route(
            "/api/v1/alerts/{id}",
            get(alerts::detail).patch(alerts::patch),
        )
        .route(
            "/api/v1/whitelist",
            get(alerts::whitelist_list).post(alerts::whitelist_add),
        )
        .route("/api/v1/whitelist/{id}", delete(alerts::whitelist_delete))
        .route(
            "/api/v1/settings/detection",
            get(detection::get_detection).put(detection::put_detection),
        )
        .route("/api/v1/rules", get(rules::list))
        .route(
            "/api/v1/settings/outputs",
            get(detection::get_outputs).put(detection::put_outputs),
        )
        .route_layer(middleware::from_fn_with_state(st, require_token))
}

/// Refuses requests without a live API token.
async fn require_token(
    State(st): State<Arc<AppState>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let Some(token) = bearer(req.headers()) else {
        return HttpError::unauthorized("an API token is required (Authorization: Bearer wt_…)")
            .into_response();
    };
    match st
        .store
        .use_api_token(&sha256_hex(token.as_bytes()), now_ms())
        .await
    {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => HttpError::unauthorized("unknown or revoked API token").into_response(),
        Err(e) => HttpError::internal("checking an API token failed", e).into_response(),
    }
}

/// `GET /api/v1/openapi.json` (public).
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
