//! `POST NOTICE_PATH`: what `ward-agent` reports outside a session (a
//! refused local stop or uninstall, a manual uninstall), authenticated with
//! the agent's own credential like the session. The same notices also
//! arrive over sessions (`AgentMsg::Notice`); both are stored once per
//! notice id.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use ward_proto::{AgentNotice, ErrorCode};

use crate::gateway::authenticate;
use crate::http_error::HttpError;
use crate::lifecycle::tamper::{record_notice, NoticeEffect, RATE_LIMITED};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct NoticeAnswer {
    pub id: String,
    /// The alert raised for a tamper attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<i64>,
    pub uninstalled: bool,
}

pub async fn handler(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<AgentNotice>, JsonRejection>,
) -> Result<Json<NoticeAnswer>, HttpError> {
    let auth = authenticate(&st, &headers).await?;
    let Json(n) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    n.validate().map_err(HttpError::bad_request)?;
    let effect = record_notice(&st, &auth.asset_id, &n)
        .await
        .map_err(|m| match m.as_str() {
            RATE_LIMITED => {
                HttpError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, m)
            }
            _ => HttpError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal, m),
        })?;
    Ok(Json(NoticeAnswer {
        id: n.id,
        alert_id: match effect {
            NoticeEffect::Alert(id) => Some(id),
            NoticeEffect::Uninstalled => None,
        },
        uninstalled: effect == NoticeEffect::Uninstalled,
    }))
}
