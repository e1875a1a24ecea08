//! Releases, the release metadata version and lifecycle events.

use rusqlite::{params, Connection, Row};
use ward_store::{LifecycleEvent, NewLifecycleEvent, Release, ReleaseFile, StoreError};

use crate::error::DbResult;

const RELEASE_COLS: &str =
    "version, platform, agent_sha256, agent_size, update_sha256, update_size, added_at, notes";
const EVENT_COLS: &str =
    "seq, asset_id, at, received_at, kind, program, from_version, to_version, detail, message";

fn size(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn release_from_row(r: &Row<'_>) -> rusqlite::Result<Release> {
    let update_sha: Option<String> = r.get(4)?;
    let update_size: Option<i64> = r.get(5)?;
    Ok(Release {
        version: r.get(0)?,
        platform: r.get(1)?,
        agent: ReleaseFile {
            sha256: r.get(2)?,
            size: size(r.get(3)?),
        },
        update: match (update_sha, update_size) {
            (Some(sha256), Some(s)) => Some(ReleaseFile {
                sha256,
                size: size(s),
            }),
            _ => None,
        },
        added_at: r.get(6)?,
        notes: r.get(7)?,
    })
}

fn sql_size(s: u64) -> DbResult<i64> {
    i64::try_from(s).map_err(|_| StoreError::Conflict(format!("file size {s} is too large")).into())
}

pub(crate) fn add(c: &Connection, r: &Release) -> DbResult<()> {
    let (update_sha, update_size) = match &r.update {
        Some(u) => (Some(u.sha256.as_str()), Some(sql_size(u.size)?)),
        None => (None, None),
    };
    c.prepare_cached(&format!(
        "INSERT INTO releases ({RELEASE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![
        r.version,
        r.platform,
        r.agent.sha256,
        sql_size(r.agent.size)?,
        update_sha,
        update_size,
        r.added_at,
        r.notes
    ])?;
    Ok(())
}

pub(crate) fn list(c: &Connection) -> DbResult<Vec<Release>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {RELEASE_COLS} FROM releases ORDER BY added_at, version, platform"
    ))?;
    let rows = st.query_map([], release_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn next_metadata_version(c: &Connection) -> DbResult<u64> {
    let v: i64 = c
        .prepare_cached(
            "UPDATE release_metadata_version SET version = version + 1 WHERE id = 1
             RETURNING version",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(size(v))
}

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<LifecycleEvent> {
    Ok(LifecycleEvent {
        seq: r.get(0)?,
        asset_id: r.get(1)?,
        at: r.get(2)?,
        received_at: r.get(3)?,
        kind: r.get(4)?,
        program: r.get(5)?,
        from_version: r.get(6)?,
        to_version: r.get(7)?,
        detail: r.get(8)?,
        message: r.get(9)?,
    })
}

pub(crate) fn add_event(c: &Connection, e: &NewLifecycleEvent) -> DbResult<LifecycleEvent> {
    let exists: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM assets WHERE id = ?1")?
        .query_row([&e.asset_id], |r| r.get(0))?;
    if exists == 0 {
        return Err(StoreError::NotFound(format!("asset {}", e.asset_id)).into());
    }
    let mut st = c.prepare_cached(&format!(
        "INSERT INTO lifecycle_events (asset_id, at, received_at, kind, program, from_version,
             to_version, detail, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {EVENT_COLS}"
    ))?;
    Ok(st.query_row(
        params![
            e.asset_id,
            e.at,
            e.received_at,
            e.kind,
            e.program,
            e.from_version,
            e.to_version,
            e.detail,
            e.message
        ],
        event_from_row,
    )?)
}

pub(crate) fn events(c: &Connection, asset_id: &str, limit: u32) -> DbResult<Vec<LifecycleEvent>> {
    let limit = match limit {
        0 => 50,
        n => n.min(1000),
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT {EVENT_COLS} FROM lifecycle_events WHERE asset_id = ?1 ORDER BY seq DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(params![asset_id, limit], event_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
