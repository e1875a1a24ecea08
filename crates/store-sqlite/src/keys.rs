//! Verification keys.

use crate::error::DbResult;
use rusqlite::{params, Connection, OptionalExtension, Row};
use ward_store::{NewKey, StoreError, VerificationKey};

const COLS: &str = "id, secret, label, default_group, created_at, revoked_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<VerificationKey> {
    Ok(VerificationKey {
        id: r.get(0)?,
        secret: r.get(1)?,
        label: r.get(2)?,
        default_group: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

pub(crate) fn create(c: &Connection, k: &NewKey) -> DbResult<VerificationKey> {
    c.prepare_cached(
        "INSERT INTO verification_keys (id, secret, label, default_group, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        k.id,
        k.secret,
        k.label,
        k.default_group,
        k.created_at
    ])?;
    Ok(VerificationKey {
        id: k.id.clone(),
        secret: k.secret.clone(),
        label: k.label.clone(),
        default_group: k.default_group.clone(),
        created_at: k.created_at,
        revoked_at: None,
    })
}

pub(crate) fn list(c: &Connection) -> DbResult<Vec<VerificationKey>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM verification_keys ORDER BY created_at, id"
    ))?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn get(c: &Connection, id: &str) -> DbResult<Option<VerificationKey>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM verification_keys WHERE id = ?1"
    ))?;
    Ok(st.query_row([id], from_row).optional()?)
}

pub(crate) fn find_by_secret(c: &Connection, secret: &str) -> DbResult<Option<VerificationKey>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM verification_keys WHERE secret = ?1"
    ))?;
    Ok(st.query_row([secret], from_row).optional()?)
}

pub(crate) fn revoke(c: &Connection, id: &str, at: i64) -> DbResult<VerificationKey> {
    c.prepare_cached(
        "UPDATE verification_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("verification key {id}")).into())
}
