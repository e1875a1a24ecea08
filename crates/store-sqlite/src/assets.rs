//! Assets: enrollment, authentication data, session facts, status timeline.

use crate::error::DbResult;
use crate::rows::{asset_from_row, reason_at, status_at, ReportCols, ASSET_COLS};
use rusqlite::{params, Connection, OptionalExtension};
use ward_proto::HostReport;
use ward_store::{
    AgentAuth, Asset, AssetLiveness, Enrolled, Enrollment, SessionStart, Status, StatusChange,
    StatusCount, StatusEvent, StatusReason, StoreError,
};

/// Default and largest page of [`status_events`].
const EVENTS_DEFAULT: u32 = 50;
const EVENTS_MAX: u32 = 1000;

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("asset {id}"))
}

pub(crate) fn get(c: &Connection, id: &str) -> DbResult<Option<Asset>> {
    let mut st = c.prepare_cached(&format!("SELECT {ASSET_COLS} FROM assets WHERE id = ?1"))?;
    Ok(st.query_row([id], asset_from_row).optional()?)
}

pub(crate) fn append_event(
    c: &Connection,
    id: &str,
    status: Status,
    reason: Option<StatusReason>,
    at: i64,
    detail: Option<&str>,
) -> DbResult<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO status_events (asset_id, status, reason, at, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    st.execute(params![
        id,
        status.as_str(),
        reason.map(|r| r.as_str()),
        at,
        detail
    ])?;
    Ok(())
}

/// Enrollment in the caller's (immediate) transaction; see [`ward_store::Store::enroll`].
pub(crate) fn enroll(c: &Connection, e: &Enrollment) -> DbResult<Enrolled> {
    let group: Option<String> = c
        .prepare_cached("SELECT default_group FROM verification_keys WHERE id = ?1")?
        .query_row([&e.key_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("verification key {}", e.key_id)))?;
    let existing: Option<String> = c
        .prepare_cached(
            "SELECT id FROM assets
             WHERE fingerprint = ?1 AND status_reason IS NOT 'uninstalled'
             ORDER BY enrolled_at DESC, id LIMIT 1",
        )?
        .query_row([&e.fingerprint], |r| r.get(0))
        .optional()?;
    let cols = ReportCols::of(&e.report)?;
    let (id, reclaimed) = match existing {
        Some(id) => {
            c.prepare_cached(
                "UPDATE assets SET credential_hash = ?2, platform = ?3, hostname = ?4,
                    hostname_lower = ?5, ips = ?6, os = ?7, kernel = ?8, arch = ?9,
                    agent_version = ?10, report = ?11, report_at = ?12, search_text = ?13
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                e.credential_hash,
                e.platform,
                cols.hostname,
                cols.hostname_lower,
                cols.ips,
                cols.os,
                cols.kernel,
                cols.arch,
                cols.agent_version,
                cols.report,
                e.at,
                cols.search_text
            ])?;
            (id, true)
        }
        None => {
            let (status, reason) = (Status::Unprotected, StatusReason::NeverConnected);
            c.prepare_cached(
                "INSERT INTO assets (id, hostname, hostname_lower, ips, os, kernel, arch,
                    platform, agent_version, group_name, fingerprint, credential_hash, status,
                    status_reason, status_since, enrolled_at, enrolled_with_key, report,
                    report_at, search_text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?15, ?16, ?17, ?15, ?18)",
            )?
            .execute(params![
                e.new_id,
                cols.hostname,
                cols.hostname_lower,
                cols.ips,
                cols.os,
                cols.kernel,
                cols.arch,
                e.platform,
                cols.agent_version,
                group,
                e.fingerprint,
                e.credential_hash,
                status.as_str(),
                reason.as_str(),
                e.at,
                e.key_id,
                cols.report,
                cols.search_text
            ])?;
            append_event(c, &e.new_id, status, Some(reason), e.at, Some("enrolled"))?;
            (e.new_id.clone(), false)
        }
    };
    let asset = get(c, &id)?.ok_or_else(|| not_found(&id))?;
    Ok(Enrolled { asset, reclaimed })
}

pub(crate) fn agent_auth(c: &Connection, id: &str) -> DbResult<Option<AgentAuth>> {
    let mut st = c.prepare_cached(
        "SELECT id, credential_hash, fingerprint, status, status_reason FROM assets WHERE id = ?1",
    )?;
    Ok(st
        .query_row([id], |r| {
            Ok(AgentAuth {
                asset_id: r.get(0)?,
                credential_hash: r.get(1)?,
                fingerprint: r.get(2)?,
                status: status_at(r, 3)?,
                status_reason: reason_at(r, 4)?,
            })
        })
        .optional()?)
}

pub(crate) fn record_session_start(c: &Connection, id: &str, s: &SessionStart) -> DbResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE assets SET last_addr = ?2, last_endpoint = ?3, last_error = ?4,
            agent_version = ?5, first_seen = COALESCE(first_seen, ?6),
            last_seen = MAX(COALESCE(last_seen, ?6), ?6)
         WHERE id = ?1",
        )?
        .execute(params![
            id,
            s.addr,
            s.endpoint,
            s.last_error,
            s.agent_version,
            s.at
        ])?;
    if n == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn update_report(c: &Connection, id: &str, r: &HostReport, at: i64) -> DbResult<()> {
    let cols = ReportCols::of(r)?;
    let n = c
        .prepare_cached(
            "UPDATE assets SET hostname = ?2, hostname_lower = ?3, ips = ?4, os = ?5, kernel = ?6,
            arch = ?7, agent_version = ?8, report = ?9, report_at = ?10, search_text = ?11
         WHERE id = ?1",
        )?
        .execute(params![
            id,
            cols.hostname,
            cols.hostname_lower,
            cols.ips,
            cols.os,
            cols.kernel,
            cols.arch,
            cols.agent_version,
            cols.report,
            at,
            cols.search_text
        ])?;
    if n == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

/// Unknown ids are ignored (the asset may have been removed meanwhile).
pub(crate) fn touch_last_seen(c: &Connection, seen: &[(String, i64)]) -> DbResult<()> {
    let mut st = c.prepare_cached(
        "UPDATE assets SET last_seen = ?2, first_seen = COALESCE(first_seen, ?2)
         WHERE id = ?1 AND (last_seen IS NULL OR last_seen < ?2)",
    )?;
    for (id, at) in seen {
        st.execute(params![id, at])?;
    }
    Ok(())
}

pub(crate) fn set_status(c: &Connection, id: &str, ch: &StatusChange) -> DbResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE assets SET status = ?2, status_reason = ?3, status_since = ?4 WHERE id = ?1",
        )?
        .execute(params![
            id,
            ch.status.as_str(),
            ch.reason.map(|r| r.as_str()),
            ch.at
        ])?;
    if n == 0 {
        return Err(not_found(id).into());
    }
    append_event(c, id, ch.status, ch.reason, ch.at, ch.detail.as_deref())
}

pub(crate) fn status_events(c: &Connection, id: &str, limit: u32) -> DbResult<Vec<StatusEvent>> {
    let limit = match limit {
        0 => EVENTS_DEFAULT,
        n => n.min(EVENTS_MAX),
    };
    let mut st = c.prepare_cached(
        "SELECT asset_id, status, reason, at, detail FROM status_events
         WHERE asset_id = ?1 ORDER BY at DESC, seq DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![id, limit], |r| {
        Ok(StatusEvent {
            asset_id: r.get(0)?,
            status: status_at(r, 1)?,
            reason: reason_at(r, 2)?,
            at: r.get(3)?,
            detail: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn load_liveness(c: &Connection) -> DbResult<Vec<AssetLiveness>> {
    let mut st = c.prepare_cached(
        "SELECT id, status, status_reason, status_since, last_seen FROM assets ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(AssetLiveness {
            asset_id: r.get(0)?,
            status: status_at(r, 1)?,
            status_reason: reason_at(r, 2)?,
            status_since: r.get(3)?,
            last_seen: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn count_by_status(c: &Connection) -> DbResult<Vec<StatusCount>> {
    let mut st = c.prepare_cached(
        "SELECT status, status_reason, COUNT(*) FROM assets
         GROUP BY status, status_reason ORDER BY status, status_reason",
    )?;
    let rows = st.query_map([], |r| {
        Ok(StatusCount {
            status: status_at(r, 0)?,
            reason: reason_at(r, 1)?,
            count: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
