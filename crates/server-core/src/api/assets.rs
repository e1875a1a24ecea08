//! `GET /api/v1/assets` and `GET /api/v1/assets/{id}`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use ward_store::{AssetQuery, Status, StatusReason};

use super::params::{limit, non_empty, parse_with};
use super::views::{AssetDetail, AssetView, Items, TimelineEntry};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Timeline entries returned with an asset.
pub const TIMELINE_LEN: u32 = 100;
/// Lifecycle events (updates, guardian) returned with an asset.
pub const LIFECYCLE_LEN: u32 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<String>,
    pub reason: Option<String>,
    pub group: Option<String>,
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Turns query parameters into a store query (400 on bad values).
pub fn parse_query(p: ListParams) -> Result<AssetQuery, HttpError> {
    Ok(AssetQuery {
        status: parse_with(
            p.status,
            "status",
            "protected, unprotected or updating",
            Status::parse,
        )?,
        reason: parse_with(
            p.reason,
            "reason",
            "offline, never_connected or uninstalled",
            StatusReason::parse,
        )?,
        group: non_empty(p.group),
        search: non_empty(p.q),
        after: non_empty(p.cursor),
        limit: limit(p.limit, DEFAULT_LIMIT, MAX_LIMIT)?,
    })
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Items<AssetView>>, HttpError> {
    let Query(params) = params.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let q = parse_query(params)?;
    let page = st
        .store
        .list_assets(&q)
        .await
        .map_err(|e| HttpError::store("listing assets failed", e))?;
    Ok(Json(Items {
        items: page
            .items
            .into_iter()
            .map(|a| AssetView::new(&st, a))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

pub async fn detail(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<AssetDetail>, HttpError> {
    let asset = st
        .store
        .get_asset(&id)
        .await
        .map_err(|e| HttpError::store("reading an asset failed", e))?
        .ok_or_else(|| HttpError::not_found(format!("no asset {id:?}")))?;
    let timeline = st
        .store
        .status_events(&id, TIMELINE_LEN)
        .await
        .map_err(|e| HttpError::store("reading a timeline failed", e))?;
    let lifecycle = st
        .store
        .lifecycle_events(&id, LIFECYCLE_LEN)
        .await
        .map_err(|e| HttpError::store("reading lifecycle events failed", e))?;
    Ok(Json(AssetDetail {
        online: st.registry.is_online(&id),
        asset: AssetView::new(&st, asset),
        timeline: timeline.into_iter().map(TimelineEntry::from).collect(),
        lifecycle,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut p = ListParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "status" => p.status = v,
                "reason" => p.reason = v,
                "group" => p.group = v,
                "q" => p.q = v,
                "limit" => p.limit = v,
                "cursor" => p.cursor = v,
                _ => unreachable!(),
            }
        }
        p
    }

    #[test]
    fn query_parameters_map_to_the_store_query() {
        let q = parse_query(params(&[
            ("status", "unprotected"),
            ("reason", "offline"),
            ("group", "web"),
            ("q", " 10.0.0 "),
            ("limit", "50"),
            ("cursor", "abc"),
        ]))
        .unwrap();
        assert_eq!(q.status, Some(Status::Unprotected));
        assert_eq!(q.reason, Some(StatusReason::Offline));
        assert_eq!(q.group.as_deref(), Some("web"));
        assert_eq!(q.search.as_deref(), Some("10.0.0"));
        assert_eq!(q.limit, 50);
        assert_eq!(q.after.as_deref(), Some("abc"));

        let q = parse_query(params(&[("status", ""), ("q", "  ")])).unwrap();
        assert_eq!(q.status, None);
        assert_eq!(q.search, None);
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn bad_query_parameters_are_400() {
        for bad in [
            ("status", "online"),
            ("reason", "asleep"),
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "ten"),
        ] {
            let e = parse_query(params(&[bad])).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
