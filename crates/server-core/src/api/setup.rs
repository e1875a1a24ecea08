//! `GET /api/v1/install-command?platform=&key=`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use ward_proto::PLATFORMS;

use crate::admin::{self, KeyChoiceError};
use crate::http_error::HttpError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub platform: Option<String>,
    /// Key id or secret; default: the newest non-revoked key.
    pub key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct InstallCommand {
    pub platform: String,
    pub key_id: String,
    pub command: String,
}

pub async fn install_command(
    State(st): State<Arc<AppState>>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<InstallCommand>, HttpError> {
    let Query(p) = params.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let platform = p.platform.unwrap_or_default();
    if !admin::is_platform(&platform) {
        return Err(HttpError::bad_request(format!(
            "platform must be one of {}",
            PLATFORMS.join(", ")
        )));
    }
    let key = admin::choose_key(&*st.store, p.key.as_deref())
        .await
        .map_err(|e| match e {
            KeyChoiceError::Store(e) => HttpError::store("choosing a key failed", e),
            KeyChoiceError::NotFound(_) => HttpError::not_found(e.to_string()),
            other => HttpError::bad_request(other.to_string()),
        })?;
    let command = admin::install_command(&st.public.url, &st.public.pin, &key.secret, &platform);
    Ok(Json(InstallCommand {
        platform,
        key_id: key.id,
        command,
    }))
}
