//! API tokens and settings.

use crate::error::DbResult;
use crate::rows::to_json;
use rusqlite::{params, Connection, OptionalExtension, Row};
use ward_proto::Policy;
use ward_store::{ApiToken, StoreError};

const COLS: &str = "id, label, created_at, last_used_at, revoked_at";
const POLICY_KEY: &str = "policy";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        label: r.get(1)?,
        created_at: r.get(2)?,
        last_used_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

pub(crate) fn create(c: &Connection, t: &ApiToken, hash: &str) -> DbResult<()> {
    c.prepare_cached(
        "INSERT INTO api_tokens (id, label, hash, created_at, last_used_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        t.id,
        t.label,
        hash,
        t.created_at,
        t.last_used_at,
        t.revoked_at
    ])?;
    Ok(())
}

/// Records the use of a live token; `last_used_at` never moves backwards.
pub(crate) fn use_token(c: &Connection, hash: &str, at: i64) -> DbResult<Option<ApiToken>> {
    let mut st = c.prepare_cached(&format!(
        "UPDATE api_tokens SET last_used_at = MAX(COALESCE(last_used_at, ?2), ?2)
         WHERE hash = ?1 AND revoked_at IS NULL RETURNING {COLS}"
    ))?;
    Ok(st.query_row(params![hash, at], from_row).optional()?)
}

pub(crate) fn list(c: &Connection) -> DbResult<Vec<ApiToken>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM api_tokens ORDER BY created_at, id"
    ))?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revoke(c: &Connection, id: &str, at: i64) -> DbResult<ApiToken> {
    let mut st = c.prepare_cached(&format!(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1 RETURNING {COLS}"
    ))?;
    st.query_row(params![id, at], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("API token {id}")).into())
}

pub(crate) fn get_policy(c: &Connection) -> DbResult<Option<Policy>> {
    let v: Option<String> = c
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([POLICY_KEY], |r| r.get(0))
        .optional()?;
    v.map(|s| {
        serde_json::from_str(&s).map_err(|e| {
            StoreError::Backend(format!("stored policy is not valid JSON: {e}")).into()
        })
    })
    .transpose()
}

pub(crate) fn set_policy(c: &Connection, p: &Policy) -> DbResult<()> {
    c.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![POLICY_KEY, to_json(p)?])?;
    Ok(())
}
