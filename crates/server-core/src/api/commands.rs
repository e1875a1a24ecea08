//! Remote commands and uninstall tokens in the REST API:
//!
//! * `POST /api/v1/assets/{id}/uninstall`, `POST /api/v1/uninstall` (bulk),
//!   `POST /api/v1/assets/{id}/update-check`: `{"queue": bool,
//!   "expires_in_secs": n}`. An online agent gets the command at once
//!   (202 `sent`); an offline one is refused with 409 `agent_offline` unless
//!   `queue` is true (202 `queued`, delivered on reconnect or `expired`).
//! * `GET /api/v1/commands?asset_id=&state=&limit=&cursor=`,
//!   `GET /api/v1/commands/{id}`, `POST /api/v1/commands/{id}/cancel`.
//! * `POST /api/v1/assets/{id}/uninstall-token`: a time-bound token for
//!   `ward-agent stop|uninstall --token` on a tamper-protected host.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use ward_proto::{CommandKind, ErrorCode, LocalAction};
use ward_store::{CommandQuery, CommandRecord, CommandState, StoreError};

use super::views::Items;
use crate::clock::rfc3339;
use crate::http_error::HttpError;
use crate::lifecycle::commands::{self, Delivery, IssueOptions, Issued, DEFAULT_EXPIRY_SECS};
use crate::lifecycle::tamper::{self, TOKEN_DEFAULT_SECS};
use crate::state::AppState;

/// Most assets one bulk request may name.
pub const MAX_BULK: usize = 1000;

/// Body of the command requests (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// Queue the command for an offline agent.
    #[serde(default)]
    pub queue: bool,
    /// Lifetime of the command, seconds (default 1 day, at most 30 days).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    pub asset_ids: Vec<String>,
    #[serde(default)]
    pub queue: bool,
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// A command as the API shows it.
#[derive(Debug, Serialize)]
pub struct CommandView {
    pub id: String,
    pub asset_id: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub created_at: String,
    pub expires_at: String,
    pub delivered_at: Option<String>,
    pub finished_at: Option<String>,
    pub result: Option<String>,
    pub created_by: String,
}

impl From<CommandRecord> for CommandView {
    fn from(c: CommandRecord) -> Self {
        CommandView {
            id: c.id,
            asset_id: c.asset_id,
            kind: c.kind.as_str(),
            state: c.state.as_str(),
            created_at: rfc3339(c.created_at),
            expires_at: rfc3339(c.expires_at),
            delivered_at: c.delivered_at.map(rfc3339),
            finished_at: c.finished_at.map(rfc3339),
            result: c.result,
            created_by: c.created_by,
        }
    }
}

/// The answer for one asset.
#[derive(Debug, Serialize)]
pub struct IssuedView {
    pub asset_id: String,
    /// `sent`, `queued`, `offline`, `uninstalled`, `not_found`, `unsupported`.
    pub delivery: &'static str,
    pub message: String,
    pub command: Option<CommandView>,
}

impl From<Issued> for IssuedView {
    fn from(i: Issued) -> Self {
        IssuedView {
            asset_id: i.asset_id,
            delivery: i.delivery.as_str(),
            message: i.message,
            command: i.command.map(CommandView::from),
        }
    }
}

fn options(queue: bool, secs: Option<u64>) -> Result<IssueOptions, HttpError> {
    let secs = secs.unwrap_or(DEFAULT_EXPIRY_SECS);
    if secs == 0 || secs > commands::MAX_EXPIRY_SECS {
        return Err(HttpError::bad_request(format!(
            "expires_in_secs must be between 1 and {}",
            commands::MAX_EXPIRY_SECS
        )));
    }
    Ok(IssueOptions {
        queue,
        expires_in_secs: secs,
    })
}

fn body<T: Default>(b: Result<Json<T>, JsonRejection>) -> Result<T, HttpError> {
    match b {
        Ok(Json(b)) => Ok(b),
        // No body at all: every field has a default.
        Err(JsonRejection::MissingJsonContentType(_)) => Ok(T::default()),
        Err(r) => Err(HttpError::bad_request(r.body_text())),
    }
}

/// One asset: an error status for what was not done, 202 for what was.
fn single(i: Issued) -> Result<(StatusCode, Json<IssuedView>), HttpError> {
    let (status, code) = match i.delivery {
        Delivery::Sent | Delivery::Queued => return Ok((StatusCode::ACCEPTED, Json(i.into()))),
        Delivery::Offline => (StatusCode::CONFLICT, ErrorCode::AgentOffline),
        Delivery::Uninstalled | Delivery::Unsupported => {
            (StatusCode::CONFLICT, ErrorCode::Conflict)
        }
        Delivery::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
    };
    Err(HttpError::new(status, code, i.message))
}

async fn issue_one(
    st: &AppState,
    id: &str,
    kind: CommandKind,
    b: CommandBody,
) -> Result<(StatusCode, Json<IssuedView>), HttpError> {
    let opts = options(b.queue, b.expires_in_secs)?;
    let i = commands::issue(st, id, kind, opts, "api")
        .await
        .map_err(|e| HttpError::store("issuing a command failed", e))?;
    single(i)
}

/// `POST /api/v1/assets/{id}/uninstall`.
pub async fn uninstall(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    b: Result<Json<CommandBody>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedView>), HttpError> {
    issue_one(&st, &id, CommandKind::Uninstall, body(b)?).await
}

/// `POST /api/v1/assets/{id}/update-check`.
pub async fn update_check(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    b: Result<Json<CommandBody>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedView>), HttpError> {
    issue_one(&st, &id, CommandKind::UpdateCheck, body(b)?).await
}

/// `POST /api/v1/uninstall`: one answer per asset.
pub async fn uninstall_bulk(
    State(st): State<Arc<AppState>>,
    b: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Json<Items<IssuedView>>, HttpError> {
    let Json(b) = b.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let opts = options(b.queue, b.expires_in_secs)?;
    if b.asset_ids.is_empty() || b.asset_ids.len() > MAX_BULK {
        return Err(HttpError::bad_request(format!(
            "asset_ids must name 1 to {MAX_BULK} assets"
        )));
    }
    let items = issue_many(&st, b.asset_ids, opts, "api")
        .await
        .map_err(|e| HttpError::store("issuing commands failed", e))?;
    Ok(Json(Items {
        items: items.into_iter().map(IssuedView::from).collect(),
        next_cursor: None,
    }))
}

/// Uninstall for many assets (API bulk and the console), de-duplicated.
pub async fn issue_many(
    st: &AppState,
    mut ids: Vec<String>,
    opts: IssueOptions,
    by: &str,
) -> Result<Vec<Issued>, StoreError> {
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_BULK);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(commands::issue(st, &id, CommandKind::Uninstall, opts, by).await?);
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub asset_id: Option<String>,
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// `GET /api/v1/commands`.
pub async fn list(
    State(st): State<Arc<AppState>>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Items<CommandView>>, HttpError> {
    let Query(p) = q.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let state = match p.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(CommandState::parse(s).ok_or_else(|| {
            HttpError::bad_request(format!(
                "state must be pending, delivered, done, failed, rejected, expired or cancelled, got {s:?}"
            ))
        })?),
    };
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(HttpError::bad_request("limit must be between 1 and 1000"));
    }
    let page = st
        .store
        .list_commands(&CommandQuery {
            asset_id: p.asset_id.filter(|s| !s.trim().is_empty()),
            state,
            before: p.cursor.filter(|s| !s.trim().is_empty()),
            limit,
        })
        .await
        .map_err(|e| HttpError::store("listing commands failed", e))?;
    Ok(Json(Items {
        items: page.items.into_iter().map(CommandView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `GET /api/v1/commands/{id}`.
pub async fn detail(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<CommandView>, HttpError> {
    st.store
        .get_command(&id)
        .await
        .map_err(|e| HttpError::store("reading a command failed", e))?
        .map(|c| Json(c.into()))
        .ok_or_else(|| HttpError::not_found(format!("no command {id:?}")))
}

/// `POST /api/v1/commands/{id}/cancel`: only pending commands.
pub async fn cancel(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<CommandView>, HttpError> {
    match commands::cancel(&st, &id).await {
        Ok(c) => Ok(Json(c.into())),
        Err(StoreError::Conflict(m)) => {
            Err(HttpError::new(StatusCode::CONFLICT, ErrorCode::Conflict, m))
        }
        Err(e) => Err(HttpError::store("cancelling a command failed", e)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Lifetime, seconds (default 3600, at most 7 days).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// `stop`, `uninstall` (default both).
    #[serde(default)]
    pub actions: Vec<LocalAction>,
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    /// Pass it to `ward-agent stop|uninstall --token`; shown only here.
    pub token: String,
    pub id: String,
    pub asset_id: String,
    pub actions: Vec<&'static str>,
    pub expires_at: String,
}

/// `POST /api/v1/assets/{id}/uninstall-token`.
pub async fn token(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    b: Result<Json<TokenBody>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenView>), HttpError> {
    let b = body(b)?;
    let secs = b.expires_in_secs.unwrap_or(TOKEN_DEFAULT_SECS);
    if secs == 0 || secs > tamper::TOKEN_MAX_SECS {
        return Err(HttpError::bad_request(format!(
            "expires_in_secs must be between 1 and {}",
            tamper::TOKEN_MAX_SECS
        )));
    }
    st.store
        .get_asset(&id)
        .await
        .map_err(|e| HttpError::store("reading an asset failed", e))?
        .ok_or_else(|| HttpError::not_found(format!("no asset {id:?}")))?;
    let t = tamper::issue_token(&st, &id, b.actions, secs).map_err(HttpError::bad_request)?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView {
            token: t.token,
            id: t.id,
            asset_id: t.agent_id,
            actions: t.actions.iter().map(|a| a.as_str()).collect(),
            expires_at: rfc3339(t.expires_at),
        }),
    ))
}
