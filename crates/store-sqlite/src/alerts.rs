//! Alerts (insert with de-duplication and evidence copies, listing, state),
//! the whitelist and JSON settings documents.

use crate::error::DbResult;
use crate::rows::to_json;
use rusqlite::types::Type;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use std::collections::BTreeMap;
use ward_store::{
    AlertCount, AlertInsert, AlertQuery, AlertRecord, AlertSeverity, AlertState, NewAlert,
    NewWhitelistEntry, Page, StoreError, WhitelistEntry,
};

/// Default and largest page of [`list`].
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 1000;

const COLS: &str = "id, rule_id, rule_title, author, severity, technique, asset_id, group_key, \
    group_json, first_ms, last_ms, evidence, state, state_at, created_at, repeats";

fn bad(idx: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, msg.into())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<AlertRecord> {
    let sev: String = r.get(4)?;
    let state: String = r.get(12)?;
    let group: String = r.get(8)?;
    let evidence: String = r.get(11)?;
    let repeats: i64 = r.get(15)?;
    Ok(AlertRecord {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        rule_title: r.get(2)?,
        author: r.get(3)?,
        severity: AlertSeverity::parse(&sev)
            .ok_or_else(|| bad(4, format!("unknown severity {sev:?}")))?,
        technique: r.get(5)?,
        asset_id: r.get(6)?,
        group_key: r.get(7)?,
        group: serde_json::from_str::<BTreeMap<String, String>>(&group)
            .map_err(|e| bad(8, format!("bad JSON: {e}")))?,
        first_ms: r.get(9)?,
        last_ms: r.get(10)?,
        evidence: serde_json::from_str(&evidence).map_err(|e| bad(11, format!("bad JSON: {e}")))?,
        state: AlertState::parse(&state)
            .ok_or_else(|| bad(12, format!("unknown state {state:?}")))?,
        state_at: r.get(13)?,
        created_at: r.get(14)?,
        repeats: repeats.max(0) as u64,
    })
}

pub(crate) fn get(c: &Connection, id: i64) -> DbResult<Option<AlertRecord>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM alerts WHERE id = ?1"))?;
    Ok(st.query_row([id], from_row).optional()?)
}

/// See [`ward_store::Store::insert_alert`]; runs in the caller's transaction.
pub(crate) fn insert(c: &Connection, a: &NewAlert) -> DbResult<AlertInsert> {
    let horizon = a.first_ms.saturating_sub(a.dedup_window_ms.max(0));
    let existing: Option<i64> = c
        .prepare_cached(
            "SELECT id FROM alerts WHERE dedup_key = ?1 AND last_ms >= ?2
             ORDER BY last_ms DESC, id DESC LIMIT 1",
        )?
        .query_row(params![a.dedup_key, horizon], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        c.prepare_cached(
            "UPDATE alerts SET last_ms = MAX(last_ms, ?2), repeats = repeats + 1 WHERE id = ?1",
        )?
        .execute(params![id, a.last_ms])?;
        let rec = get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        return Ok(AlertInsert::Merged(rec));
    }
    let exists: Option<i64> = c
        .prepare_cached("SELECT 1 FROM assets WHERE id = ?1")?
        .query_row([&a.asset_id], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("asset {}", a.asset_id)).into());
    }
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO alerts (rule_id, rule_title, author, severity, technique, asset_id,
                group_key, group_json, first_ms, last_ms, evidence, state, state_at, created_at,
                repeats, dedup_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 0, ?14)
             RETURNING id",
        )?
        .query_row(
            params![
                a.rule_id,
                a.rule_title,
                a.author,
                a.severity.as_str(),
                a.technique,
                a.asset_id,
                a.group_key,
                to_json(&a.group)?,
                a.first_ms,
                a.last_ms,
                to_json(&a.evidence)?,
                a.state.as_str(),
                a.created_at,
                a.dedup_key
            ],
            |r| r.get(0),
        )?;
    let mut copy = c.prepare_cached(
        "INSERT OR IGNORE INTO alert_evidence (alert_id, event_id, body)
         SELECT ?1, event_id, body FROM events WHERE asset_id = ?2 AND event_id = ?3",
    )?;
    for &ev in &a.evidence {
        if let Ok(ev) = i64::try_from(ev) {
            copy.execute(params![id, a.asset_id, ev])?;
        }
    }
    let rec = get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
    Ok(AlertInsert::Created(rec))
}

pub(crate) fn evidence(c: &Connection, id: i64) -> DbResult<Vec<ward_events::Event>> {
    let mut st =
        c.prepare_cached("SELECT body FROM alert_evidence WHERE alert_id = ?1 ORDER BY event_id")?;
    let rows = st.query_map([id], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for body in rows {
        if let Ok(e) = serde_json::from_str(&body?) {
            out.push(e);
        }
    }
    Ok(out)
}

pub(crate) fn list(c: &Connection, q: &AlertQuery) -> DbResult<Page<AlertRecord>> {
    let limit = match q.limit {
        0 => PAGE_DEFAULT,
        n => n.min(PAGE_MAX),
    };
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    use rusqlite::types::Value as V;
    if let Some(s) = q.severity {
        clauses.push("severity = ?");
        args.push(V::Text(s.as_str().into()));
    }
    if let Some(s) = q.state {
        clauses.push("state = ?");
        args.push(V::Text(s.as_str().into()));
    }
    if let Some(a) = &q.asset_id {
        clauses.push("asset_id = ?");
        args.push(V::Text(a.clone()));
    }
    if let Some(r) = &q.rule_id {
        clauses.push("rule_id = ?");
        args.push(V::Text(r.clone()));
    }
    if let Some(t) = q.since {
        clauses.push("last_ms >= ?");
        args.push(V::Integer(t));
    }
    if let Some(t) = q.until {
        clauses.push("last_ms < ?");
        args.push(V::Integer(t));
    }
    if let Some(cur) = &q.before {
        let id: i64 = cur
            .parse()
            .ok()
            .filter(|n: &i64| *n > 0)
            .ok_or_else(|| StoreError::NotFound(format!("cursor {cur:?}")))?;
        clauses.push("id < ?");
        args.push(V::Integer(id));
    }
    let mut sql = format!("SELECT {COLS} FROM alerts");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(V::Integer(i64::from(limit) + 1));
    let mut st = c.prepare_cached(&sql)?;
    let mut items: Vec<AlertRecord> = st
        .query_map(params_from_iter(args), from_row)?
        .collect::<Result<_, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|a| a.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn set_state(
    c: &Connection,
    id: i64,
    state: AlertState,
    at: i64,
) -> DbResult<AlertRecord> {
    let n = c
        .prepare_cached("UPDATE alerts SET state = ?2, state_at = ?3 WHERE id = ?1")?
        .execute(params![id, state.as_str(), at])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("alert {id}")).into());
    }
    get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")).into())
}

pub(crate) fn counts(c: &Connection) -> DbResult<Vec<AlertCount>> {
    let mut st = c.prepare_cached(
        "SELECT severity, state, COUNT(*) FROM alerts GROUP BY severity, state
         ORDER BY severity, state",
    )?;
    let rows = st.query_map([], |r| {
        let sev: String = r.get(0)?;
        let state: String = r.get(1)?;
        let n: i64 = r.get(2)?;
        Ok(AlertCount {
            severity: AlertSeverity::parse(&sev)
                .ok_or_else(|| bad(0, format!("unknown severity {sev:?}")))?,
            state: AlertState::parse(&state)
                .ok_or_else(|| bad(1, format!("unknown state {state:?}")))?,
            count: n.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const WL_COLS: &str = "id, rule_id, field, value, comment, created_at";

fn wl_from_row(r: &Row<'_>) -> rusqlite::Result<WhitelistEntry> {
    Ok(WhitelistEntry {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        field: r.get(2)?,
        value: r.get(3)?,
        comment: r.get(4)?,
        created_at: r.get(5)?,
    })
}

pub(crate) fn add_whitelist(c: &Connection, e: &NewWhitelistEntry) -> DbResult<WhitelistEntry> {
    let mut st = c.prepare_cached(&format!(
        "INSERT INTO whitelist (rule_id, field, value, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {WL_COLS}"
    ))?;
    Ok(st.query_row(
        params![e.rule_id, e.field, e.value, e.comment, e.created_at],
        wl_from_row,
    )?)
}

pub(crate) fn list_whitelist(c: &Connection) -> DbResult<Vec<WhitelistEntry>> {
    let mut st = c.prepare_cached(&format!("SELECT {WL_COLS} FROM whitelist ORDER BY id"))?;
    let rows = st.query_map([], wl_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn delete_whitelist(c: &Connection, id: i64) -> DbResult<()> {
    let n = c
        .prepare_cached("DELETE FROM whitelist WHERE id = ?1")?
        .execute([id])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("whitelist entry {id}")).into());
    }
    Ok(())
}

pub(crate) fn get_setting(c: &Connection, key: &str) -> DbResult<Option<serde_json::Value>> {
    let v: Option<String> = c
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    v.map(|s| {
        serde_json::from_str(&s).map_err(|e| {
            StoreError::Backend(format!("stored setting {key:?} is not valid JSON: {e}")).into()
        })
    })
    .transpose()
}

pub(crate) fn set_setting(c: &Connection, key: &str, value: &serde_json::Value) -> DbResult<()> {
    c.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, to_json(value)?])?;
    Ok(())
}
