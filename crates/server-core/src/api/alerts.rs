//! `GET /api/v1/alerts`, `GET/PATCH /api/v1/alerts/{id}` and the whitelist
//! (`GET/POST /api/v1/whitelist`, `DELETE /api/v1/whitelist/{id}`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use ward_proto::ErrorCode;
use ward_store::{AlertQuery, AlertSeverity, AlertState, StoreError};

use super::params::{limit, non_empty, parse_with};
use super::views::Items;
use crate::detect::actions::{self, ActionError, WhitelistRequest};
use crate::detect::view::{AlertView, WhitelistView};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub severity: Option<String>,
    pub state: Option<String>,
    pub asset: Option<String>,
    pub rule: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A time parameter: RFC 3339 (`2026-01-02T03:04:05Z`) or Unix milliseconds.
pub fn parse_time(name: &str, v: &str) -> Result<i64, HttpError> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(v)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or_else(|| {
            HttpError::bad_request(format!(
                "{name} must be an RFC 3339 time or Unix milliseconds, got {v:?}"
            ))
        })
}

/// Turns query parameters into a store query (400 on bad values).
pub fn parse_query(p: ListParams) -> Result<AlertQuery, HttpError> {
    let time =
        |v: Option<String>, name: &str| non_empty(v).map(|v| parse_time(name, &v)).transpose();
    Ok(AlertQuery {
        severity: parse_with(
            p.severity,
            "severity",
            "urgent, suspicious or reminder",
            AlertSeverity::parse,
        )?,
        state: parse_with(
            p.state,
            "state",
            "unhandled, handled, ignored or whitelisted",
            AlertState::parse,
        )?,
        asset_id: non_empty(p.asset),
        rule_id: non_empty(p.rule),
        since: time(p.since, "since")?,
        until: time(p.until, "until")?,
        before: non_empty(p.cursor),
        limit: limit(p.limit, DEFAULT_LIMIT, MAX_LIMIT)?,
    })
}

async fn hostname(
    st: &AppState,
    cache: &mut HashMap<String, Option<String>>,
    id: &str,
) -> Option<String> {
    if let Some(h) = cache.get(id) {
        return h.clone();
    }
    let h = st
        .store
        .get_asset(id)
        .await
        .ok()
        .flatten()
        .map(|a| a.hostname);
    cache.insert(id.to_string(), h.clone());
    h
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Items<AlertView>>, HttpError> {
    let Query(params) = params.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let q = parse_query(params)?;
    let page = st.store.list_alerts(&q).await.map_err(|e| match e {
        StoreError::NotFound(_) => HttpError::bad_request("malformed cursor"),
        e => HttpError::store("listing alerts failed", e),
    })?;
    let mut cache = HashMap::new();
    let mut items = Vec::with_capacity(page.items.len());
    for a in page.items {
        let h = hostname(&st, &mut cache, &a.asset_id).await;
        items.push(AlertView::new(a, h));
    }
    Ok(Json(Items {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// `GET /api/v1/alerts/{id}`: the alert with its evidence events.
#[derive(Debug, Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: AlertView,
    pub evidence_events: Vec<ward_events::Event>,
}

fn alert_id(id: &str) -> Result<i64, HttpError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| HttpError::not_found(format!("no alert {id:?}")))
}

pub async fn detail(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, HttpError> {
    let n = alert_id(&id)?;
    let a = st
        .store
        .get_alert(n)
        .await
        .map_err(|e| HttpError::store("reading an alert failed", e))?
        .ok_or_else(|| HttpError::not_found(format!("no alert {id:?}")))?;
    let evidence = st
        .store
        .alert_evidence(n)
        .await
        .map_err(|e| HttpError::store("reading alert evidence failed", e))?;
    let h = hostname(&st, &mut HashMap::new(), &a.asset_id).await;
    Ok(Json(AlertDetail {
        alert: AlertView::new(a, h),
        evidence_events: evidence,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub state: String,
}

impl From<ActionError> for HttpError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Invalid(m) => HttpError::bad_request(m),
            ActionError::NotFound(m) => HttpError::not_found(m),
            ActionError::Conflict(m) => {
                HttpError::new(StatusCode::CONFLICT, ErrorCode::BadRequest, m)
            }
            e @ ActionError::Store { .. } => HttpError::internal("alert action", e),
        }
    }
}

pub async fn patch(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<PatchBody>, JsonRejection>,
) -> Result<Json<AlertView>, HttpError> {
    let Json(body) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let state = match AlertState::parse(body.state.trim()) {
        Some(s @ (AlertState::Unhandled | AlertState::Handled | AlertState::Ignored)) => s,
        _ => {
            return Err(HttpError::bad_request(format!(
                "state must be handled, ignored or unhandled (whitelist with /api/v1/whitelist), got {:?}",
                body.state
            )))
        }
    };
    let n = alert_id(&id)?;
    let a = actions::set_alert_state(&st, n, state).await?;
    let h = hostname(&st, &mut HashMap::new(), &a.asset_id).await;
    Ok(Json(AlertView::new(a, h)))
}

pub async fn whitelist_list(
    State(st): State<Arc<AppState>>,
) -> Result<Json<Items<WhitelistView>>, HttpError> {
    let items = st
        .store
        .list_whitelist()
        .await
        .map_err(|e| HttpError::store("listing the whitelist failed", e))?;
    Ok(Json(Items {
        items: items.into_iter().map(WhitelistView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// A rule id, or `*` for every rule.
    pub rule_id: String,
    /// A field name (`SourceIp`, `User`, ...; see `crates/events/SCHEMA.md`).
    pub field: String,
    pub value: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// The alert this entry is made from: it must match the entry and is
    /// marked `whitelisted`.
    #[serde(default)]
    pub alert_id: Option<i64>,
}

pub async fn whitelist_add(
    State(st): State<Arc<AppState>>,
    body: Result<Json<NewEntry>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(e) = body.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let entry = actions::add_whitelist(
        &st,
        WhitelistRequest {
            rule_id: e.rule_id,
            field: e.field,
            value: e.value,
            comment: e.comment,
            from_alert: e.alert_id,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(WhitelistView::from(entry))).into_response())
}

pub async fn whitelist_delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let n: i64 = id
        .parse()
        .map_err(|_| HttpError::not_found(format!("no whitelist entry {id:?}")))?;
    actions::delete_whitelist(&st, n).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_map_to_the_store_query() {
        let q = parse_query(ListParams {
            severity: Some("urgent".into()),
            state: Some(" unhandled ".into()),
            asset: Some("as_1".into()),
            rule: Some("ward-login-001".into()),
            since: Some("2023-11-14T22:13:20Z".into()),
            until: Some("1700000001000".into()),
            limit: Some("10".into()),
            cursor: Some("42".into()),
        })
        .unwrap();
        assert_eq!(
            q,
            AlertQuery {
                severity: Some(AlertSeverity::Urgent),
                state: Some(AlertState::Unhandled),
                asset_id: Some("as_1".into()),
                rule_id: Some("ward-login-001".into()),
                // 2023-11-14T22:13:20Z is 1_700_000_000 s after the epoch.
                since: Some(1_700_000_000_000),
                until: Some(1_700_000_001_000),
                before: Some("42".into()),
                limit: 10,
            }
        );
        assert_eq!(
            parse_query(ListParams::default()).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn bad_parameters_are_400() {
        let cases = [
            ListParams {
                severity: Some("high".into()),
                ..Default::default()
            },
            ListParams {
                state: Some("open".into()),
                ..Default::default()
            },
            ListParams {
                since: Some("yesterday".into()),
                ..Default::default()
            },
            ListParams {
                limit: Some("0".into()),
                ..Default::default()
            },
            ListParams {
                limit: Some("1001".into()),
                ..Default::default()
            },
        ];
        for p in cases {
            let e = parse_query(p).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }
}
