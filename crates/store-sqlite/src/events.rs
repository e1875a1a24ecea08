//! Host events: de-duplicated ingestion with the per-asset high-water mark,
//! the ordered feed for detection, retention, and spool health.

use crate::error::DbResult;
use crate::rows::to_json;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};
use ward_events::Event;
use ward_store::{IngestOutcome, SpoolStats, StoreError, StoredEvent};

/// Default and largest page of [`after`].
const FEED_DEFAULT: u32 = 1000;
const FEED_MAX: u32 = 10_000;
/// Rows deleted per statement by retention.
const PRUNE_CHUNK: i64 = 10_000;

fn id_to_sql(id: u64) -> DbResult<i64> {
    i64::try_from(id).map_err(|_| {
        StoreError::Conflict(format!("event id {id} is above the storable range")).into()
    })
}

fn high_water(c: &Connection, asset_id: &str) -> DbResult<u64> {
    let v: Option<i64> = c
        .prepare_cached("SELECT event_id FROM event_high_water WHERE asset_id = ?1")?
        .query_row([asset_id], |r| r.get(0))
        .optional()?;
    Ok(v.map_or(0, |v| v.max(0) as u64))
}

/// See [`ward_store::Store::ingest_events`]; runs in the caller's transaction.
pub(crate) fn ingest(
    c: &Connection,
    asset_id: &str,
    events: &[Event],
    received_at: i64,
) -> DbResult<IngestOutcome> {
    let exists: Option<i64> = c
        .prepare_cached("SELECT 1 FROM assets WHERE id = ?1")?
        .query_row([asset_id], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("asset {asset_id}")).into());
    }
    let mut hw = high_water(c, asset_id)?;
    let mut out = IngestOutcome::default();
    let mut prev: Option<u64> = None;
    let mut insert = c.prepare_cached(
        "INSERT INTO events (asset_id, event_id, host_time_ms, received_at, kind, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in events {
        if let Some(p) = prev.filter(|p| e.id <= *p) {
            return Err(StoreError::Conflict(format!(
                "event ids must increase: {} after {p}",
                e.id
            ))
            .into());
        }
        prev = Some(e.id);
        if e.id <= hw {
            out.duplicates += 1;
            continue;
        }
        let id = id_to_sql(e.id)?;
        let mut ev = e.clone();
        ev.host = asset_id.to_string();
        let body = to_json(&ev)?;
        insert.execute(params![
            asset_id,
            id,
            e.host_time_ms,
            received_at,
            e.kind(),
            body
        ])?;
        hw = e.id;
        out.stored += 1;
    }
    if out.stored > 0 {
        c.prepare_cached(
            "INSERT INTO event_high_water (asset_id, event_id) VALUES (?1, ?2)
             ON CONFLICT (asset_id) DO UPDATE SET event_id = excluded.event_id",
        )?
        .execute(params![asset_id, id_to_sql(hw)?])?;
    }
    out.high_water = hw;
    Ok(out)
}

pub(crate) fn get_high_water(c: &Connection, asset_id: &str) -> DbResult<u64> {
    high_water(c, asset_id)
}

fn stored_from_row(r: &Row<'_>) -> rusqlite::Result<Option<StoredEvent>> {
    let body = match r.get_ref(3)? {
        ValueRef::Text(t) => t,
        _ => return Ok(None),
    };
    let Ok(event) = serde_json::from_slice::<Event>(body) else {
        return Ok(None);
    };
    Ok(Some(StoredEvent {
        seq: r.get(0)?,
        asset_id: r.get(1)?,
        received_at: r.get(2)?,
        event,
    }))
}

pub(crate) fn after(c: &Connection, after_seq: i64, limit: u32) -> DbResult<Vec<StoredEvent>> {
    let limit = match limit {
        0 => FEED_DEFAULT,
        n => n.min(FEED_MAX),
    };
    let mut st = c.prepare_cached(
        "SELECT seq, asset_id, received_at, body FROM events
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(params![after_seq, limit], stored_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(e) = r? {
            out.push(e);
        }
    }
    Ok(out)
}

pub(crate) fn count(c: &Connection, asset_id: Option<&str>) -> DbResult<u64> {
    let n: i64 = match asset_id {
        Some(id) => c
            .prepare_cached("SELECT COUNT(*) FROM events WHERE asset_id = ?1")?
            .query_row([id], |r| r.get(0))?,
        None => c
            .prepare_cached("SELECT COUNT(*) FROM events")?
            .query_row([], |r| r.get(0))?,
    };
    Ok(n.max(0) as u64)
}

pub(crate) fn of_asset(c: &Connection, asset_id: &str, ids: &[u64]) -> DbResult<Vec<StoredEvent>> {
    let mut st = c.prepare_cached(
        "SELECT seq, asset_id, received_at, body FROM events
         WHERE asset_id = ?1 AND event_id = ?2",
    )?;
    let mut ids: Vec<u64> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(id) = i64::try_from(id) else { continue };
        if let Some(Some(e)) = st
            .query_row(params![asset_id, id], stored_from_row)
            .optional()?
        {
            out.push(e);
        }
    }
    Ok(out)
}

/// Deletes a prefix of the events table (in `seq` order); see
/// [`ward_store::Store::prune_events`].
pub(crate) fn prune(
    c: &Connection,
    received_before: i64,
    keep_at_most: u64,
    keep_after_seq: i64,
) -> DbResult<u64> {
    let (min, max): (Option<i64>, Option<i64>) = c
        .prepare_cached("SELECT MIN(seq), MAX(seq) FROM events")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(0);
    };
    // Only prefixes are ever deleted and seqs are never reused, but
    // duplicates are not stored, so the table holds at most max - min + 1
    // rows; count exactly only when the cap may be exceeded.
    let mut cut = i64::MIN;
    let keep = i64::try_from(keep_at_most).unwrap_or(i64::MAX);
    if max - min + 1 > keep {
        let n: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM events")?
            .query_row([], |r| r.get(0))?;
        if n > keep {
            // The (n - keep)-th oldest row is the last to go.
            let s: Option<i64> = c
                .prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET ?1")?
                .query_row([n - keep - 1], |r| r.get(0))
                .optional()?;
            cut = cut.max(s.unwrap_or(i64::MIN));
        }
    }
    // The newest old-enough row, walking from the oldest end.
    let mut st = c.prepare_cached(
        "SELECT seq, received_at FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut from = min - 1;
    loop {
        let rows: Vec<(i64, i64)> = st
            .query_map(params![from, PRUNE_CHUNK], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _)) = rows.last() else { break };
        let old = rows.iter().take_while(|(_, at)| *at < received_before);
        let Some(&(seq, _)) = old.last() else { break };
        cut = cut.max(seq);
        if seq != last || rows.len() < PRUNE_CHUNK as usize {
            break;
        }
        from = last;
    }
    let cut = cut.min(keep_after_seq);
    if cut < min {
        return Ok(0);
    }
    let n = c
        .prepare_cached("DELETE FROM events WHERE seq <= ?1")?
        .execute([cut])?;
    Ok(n as u64)
}

pub(crate) fn set_spool(c: &Connection, stats: &[(String, SpoolStats)]) -> DbResult<()> {
    let mut st = c.prepare_cached(
        "UPDATE assets SET spool_depth = ?2, spool_dropped_total = ?3, spool_at = ?4
         WHERE id = ?1",
    )?;
    for (id, s) in stats {
        st.execute(params![
            id,
            i64::try_from(s.depth).unwrap_or(i64::MAX),
            i64::try_from(s.dropped_total).unwrap_or(i64::MAX),
            s.at
        ])?;
    }
    Ok(())
}

/// The spool columns of an asset row starting at `idx` (depth, dropped, at).
pub(crate) fn spool_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<SpoolStats>> {
    let depth: Option<i64> = row.get(idx)?;
    let dropped: Option<i64> = row.get(idx + 1)?;
    let at: Option<i64> = row.get(idx + 2)?;
    Ok(match (depth, dropped, at) {
        (Some(d), Some(x), Some(at)) => Some(SpoolStats {
            depth: d.max(0) as u64,
            dropped_total: x.max(0) as u64,
            at,
        }),
        _ => None,
    })
}
