//! The one router behind the HTTPS port.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use ward_proto::{ENROLL_PATH, LIFECYCLE_PATH, RELEASE_PATH, SESSION_PATH};

use crate::state::AppState;
use crate::{api, download, enroll, gateway, http_error, metrics, notice, releases};

/// Largest request body accepted (enrollment reports, API bodies).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(st: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::handler))
        .route(ENROLL_PATH, post(enroll::handler))
        .route(SESSION_PATH, get(gateway::upgrade))
        .route(ward_proto::lifecycle::NOTICE_PATH, post(notice::handler))
        .route("/install.sh", get(download::install_sh))
        .route("/uninstall.sh", get(download::uninstall_sh))
        .route("/download/agent/{file}", get(download::agent))
        .route("/download/update/{file}", get(download::update))
        .route(
            "/download/release/{version}/{platform}/{file}",
            get(releases::agent_api::download),
        )
        .route(RELEASE_PATH, get(releases::agent_api::offer))
        .route(LIFECYCLE_PATH, post(releases::agent_api::report))
        .route("/api/v1/openapi.json", get(api::openapi))
        .merge(api::routes(st.clone()))
        .merge(crate::console::routes(st.clone()))
        .fallback(http_error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(st)
}
