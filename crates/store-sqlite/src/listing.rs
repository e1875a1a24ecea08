//! `list_assets`: filters, search and keyset pagination on `(hostname, id)`.
//!
//! Every query is an ordered scan of an index ending in `(hostname, id)`
//! (`assets_search_order`, or the status/group ones when that filter is given) that
//! stops after `limit + 1` matching rows, so a page costs the same at
//! asset 10 and at asset 100,000.

use crate::error::DbResult;
use crate::rows::{asset_from_row, ASSET_COLS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::types::Value;
use rusqlite::Connection;
use ward_store::{Asset, AssetQuery, Page, StoreError};

/// Page size when the query asks for 0.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
/// Largest page.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// Opaque cursor: URL-safe base64 of the JSON array `[hostname, id]`, so any
/// hostname (quotes, `%`, NUL, non-ASCII) round-trips exactly.
pub(crate) fn encode_cursor(hostname: &str, id: &str) -> String {
    // A pair of strings always serialises; fall back to an empty array.
    let json = serde_json::to_vec(&(hostname, id)).unwrap_or_else(|_| b"[]".to_vec());
    URL_SAFE_NO_PAD.encode(json)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(String, String), StoreError> {
    let bad = || StoreError::NotFound("page cursor (malformed or from another query)".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// The page size a query asks for, defaulted and capped.
fn page_size(q: &AssetQuery) -> u32 {
    match q.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    }
}

/// Builds the SQL and its parameters (separate for the query-plan test).
pub(crate) fn build(q: &AssetQuery) -> Result<(String, Vec<Value>), StoreError> {
    let limit = page_size(q);
    let mut conds: Vec<&str> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(s) = q.status {
        conds.push("status = ?");
        params.push(Value::Text(s.as_str().into()));
    }
    if let Some(r) = q.reason {
        conds.push("status_reason = ?");
        params.push(Value::Text(r.as_str().into()));
    }
    if let Some(g) = &q.group {
        conds.push("group_name = ?");
        params.push(Value::Text(g.clone()));
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
        // instr() on lower-cased text: a plain substring test, so `%`, `_`
        // and `\` in the user's text are literal by construction (no LIKE
        // pattern to escape), and hostnames fold case beyond ASCII (Rust's
        // to_lowercase). `search_text` holds the hostname and every IP
        // (migration 0003) and sits in the covering index
        // `assets_search_order`, so a search that matches few rows walks the
        // index entries only: no table row and no JSON is read per asset.
        conds.push("instr(search_text, ?) > 0");
        params.push(Value::Text(s.to_lowercase()));
    }
    if let Some(c) = &q.after {
        let (hostname, id) = decode_cursor(c)?;
        conds.push("(hostname, id) > (?, ?)");
        params.push(Value::Text(hostname));
        params.push(Value::Text(id));
    }
    let mut sql = format!("SELECT {ASSET_COLS} FROM assets");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY hostname, id LIMIT ?");
    // One extra row tells whether another page follows.
    params.push(Value::Integer(i64::from(limit) + 1));
    Ok((sql, params))
}

pub(crate) fn list(c: &Connection, q: &AssetQuery) -> DbResult<Page<Asset>> {
    let (sql, params) = build(q)?;
    let limit = page_size(q) as usize;
    let mut st = c.prepare_cached(&sql)?;
    let mut items: Vec<Asset> = st
        .query_map(rusqlite::params_from_iter(params), asset_from_row)?
        .collect::<Result<_, _>>()?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|a| encode_cursor(&a.hostname, &a.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_store::{Status, StatusReason};

    #[test]
    fn cursor_round_trips_awkward_text() {
        for (h, id) in [
            ("", ""),
            ("plain", "as_1"),
            ("o'brien\"%_\\", "x"),
            ("nul\0inside", "id\0"),
            ("хост-ü-😀", "ид"),
        ] {
            let c = encode_cursor(h, id);
            assert!(c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(decode_cursor(&c).unwrap(), (h.to_string(), id.to_string()));
        }
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        for bad in ["!!", "e30", "WyJhIl0", "WzEsMl0"] {
            // e30 = {}, WyJhIl0 = ["a"], WzEsMl0 = [1,2]
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    fn plan(q: &AssetQuery) -> String {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::migrate(&mut conn, 0).unwrap();
        let (sql, params) = build(q).unwrap();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join("\n")
    }

    #[test]
    fn every_listing_is_an_index_ordered_scan() {
        let after = Some(encode_cursor("m", "x"));
        let queries = [
            AssetQuery::default(),
            AssetQuery {
                after: after.clone(),
                ..Default::default()
            },
            AssetQuery {
                status: Some(Status::Protected),
                after: after.clone(),
                ..Default::default()
            },
            AssetQuery {
                status: Some(Status::Unprotected),
                reason: Some(StatusReason::Offline),
                after: after.clone(),
                ..Default::default()
            },
            AssetQuery {
                group: Some("web".into()),
                after: after.clone(),
                ..Default::default()
            },
            AssetQuery {
                search: Some("10.0".into()),
                after,
                ..Default::default()
            },
        ];
        for q in &queries {
            let p = plan(q);
            assert!(
                !p.contains("TEMP B-TREE"),
                "sorts instead of an ordered scan: {q:?}\n{p}"
            );
            assert!(
                p.contains("USING INDEX assets_") || p.contains("USING COVERING INDEX assets_"),
                "no index: {q:?}\n{p}"
            );
        }
    }
}
