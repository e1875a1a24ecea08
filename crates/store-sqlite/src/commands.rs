//! Commands and re-identified copies (`commands`, `asset_clones`).

use crate::assets::{append_event, get as get_asset};
use crate::error::DbResult;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use ward_proto::{CommandKind, Signed};
use ward_store::{
    CommandQuery, CommandRecord, CommandState, CommandUpdate, Enrolled, NewCommand, Page,
    Reidentification, Status, StatusReason, StoreError,
};

const COLS: &str = "id, asset_id, kind, payload, signature, state, created_at, expires_at, \
    delivered_at, finished_at, result, created_by, seq";
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 1000;
/// Most assets one `pending_commands` call looks at.
const PENDING_MAX_ASSETS: usize = 1000;

fn bad(idx: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, msg.into())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(CommandRecord, i64)> {
    let kind: String = r.get(2)?;
    let state: String = r.get(5)?;
    Ok((
        CommandRecord {
            id: r.get(0)?,
            asset_id: r.get(1)?,
            kind: CommandKind::parse(&kind).unwrap_or(CommandKind::Unknown),
            envelope: Signed {
                payload: r.get(3)?,
                signature: r.get(4)?,
            },
            state: CommandState::parse(&state)
                .ok_or_else(|| bad(5, format!("unknown command state {state:?}")))?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            delivered_at: r.get(8)?,
            finished_at: r.get(9)?,
            result: r.get(10)?,
            created_by: r.get(11)?,
        },
        r.get(12)?,
    ))
}

pub(crate) fn get(c: &Connection, id: &str) -> DbResult<Option<CommandRecord>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM commands WHERE id = ?1"))?;
    Ok(st.query_row([id], from_row).optional()?.map(|(c, _)| c))
}

pub(crate) fn create(c: &Connection, n: &NewCommand) -> DbResult<CommandRecord> {
    if get_asset(c, &n.asset_id)?.is_none() {
        return Err(StoreError::NotFound(format!("asset {}", n.asset_id)).into());
    }
    c.prepare_cached(
        "INSERT INTO commands (id, asset_id, kind, payload, signature, state, created_at,
            expires_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8)",
    )?
    .execute(params![
        n.id,
        n.asset_id,
        n.kind.as_str(),
        n.envelope.payload,
        n.envelope.signature,
        n.created_at,
        n.expires_at,
        n.created_by
    ])?;
    get(c, &n.id)?.ok_or_else(|| StoreError::NotFound(format!("command {}", n.id)).into())
}

pub(crate) fn list(c: &Connection, q: &CommandQuery) -> DbResult<Page<CommandRecord>> {
    use rusqlite::types::Value as V;
    let limit = match q.limit {
        0 => PAGE_DEFAULT,
        n => n.min(PAGE_MAX),
    };
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<V> = Vec::new();
    if let Some(a) = &q.asset_id {
        clauses.push("asset_id = ?");
        args.push(V::Text(a.clone()));
    }
    if let Some(s) = q.state {
        clauses.push("state = ?");
        args.push(V::Text(s.as_str().into()));
    }
    if let Some(cur) = &q.before {
        let seq: i64 = cur
            .parse()
            .ok()
            .filter(|n: &i64| *n > 0)
            .ok_or_else(|| StoreError::NotFound(format!("cursor {cur:?}")))?;
        clauses.push("seq < ?");
        args.push(V::Integer(seq));
    }
    let mut sql = format!("SELECT {COLS} FROM commands");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    args.push(V::Integer(i64::from(limit) + 1));
    let mut st = c.prepare_cached(&sql)?;
    let mut rows: Vec<(CommandRecord, i64)> = st
        .query_map(params_from_iter(args), from_row)?
        .collect::<Result<_, _>>()?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(_, seq)| seq.to_string())
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(|(c, _)| c).collect(),
        next_cursor,
    })
}

pub(crate) fn pending(c: &Connection, ids: &[String], now: i64) -> DbResult<Vec<CommandRecord>> {
    let mut out: Vec<(CommandRecord, i64)> = Vec::new();
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM commands
         WHERE asset_id = ?1 AND state = 'pending' AND expires_at > ?2 ORDER BY seq"
    ))?;
    for id in ids.iter().take(PENDING_MAX_ASSETS) {
        for row in st.query_map(params![id, now], from_row)? {
            out.push(row?);
        }
    }
    out.sort_by_key(|(_, seq)| *seq);
    out.dedup_by_key(|(_, seq)| *seq);
    Ok(out.into_iter().map(|(c, _)| c).collect())
}

pub(crate) fn update(c: &Connection, id: &str, u: &CommandUpdate) -> DbResult<CommandRecord> {
    let cur = get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("command {id}")))?;
    if !cur.state.can_become(u.state) {
        return Err(StoreError::Conflict(format!(
            "command {id} is {} and cannot become {}",
            cur.state.as_str(),
            u.state.as_str()
        ))
        .into());
    }
    let delivered = match (cur.delivered_at, u.state) {
        (Some(t), _) => Some(t),
        (None, CommandState::Expired | CommandState::Cancelled) => None,
        (None, _) => Some(u.at),
    };
    let finished = u.state.is_final().then_some(u.at);
    c.prepare_cached(
        "UPDATE commands SET state = ?2, delivered_at = ?3, finished_at = ?4,
            result = COALESCE(?5, result)
         WHERE id = ?1",
    )?
    .execute(params![id, u.state.as_str(), delivered, finished, u.result])?;
    get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("command {id}")).into())
}

pub(crate) fn expire(c: &Connection, now: i64) -> DbResult<Vec<CommandRecord>> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT id FROM commands WHERE state = 'pending' AND expires_at <= ?1 ORDER BY seq",
        )?
        .query_map([now], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(update(
            c,
            &id,
            &CommandUpdate {
                state: CommandState::Expired,
                at: now,
                result: Some("not delivered before it expired".into()),
            },
        )?);
    }
    Ok(out)
}

pub(crate) fn reidentify(c: &Connection, r: &Reidentification) -> DbResult<Enrolled> {
    let src = get_asset(c, &r.source_id)?
        .ok_or_else(|| StoreError::NotFound(format!("asset {}", r.source_id)))?;
    // Only an earlier copy of this source, same fingerprint, never connected.
    let earlier: Option<String> = c
        .prepare_cached(
            "SELECT a.id FROM asset_clones k JOIN assets a ON a.id = k.asset_id
             WHERE k.source_id = ?1 AND a.fingerprint = ?2 AND a.first_seen IS NULL
               AND a.status_reason IS NOT 'uninstalled'
             ORDER BY k.at DESC, a.id LIMIT 1",
        )?
        .query_row(params![r.source_id, r.fingerprint], |row| row.get(0))
        .optional()?;
    if let Some(id) = earlier {
        c.prepare_cached("UPDATE assets SET credential_hash = ?2 WHERE id = ?1")?
            .execute(params![id, r.credential_hash])?;
        let asset =
            get_asset(c, &id)?.ok_or_else(|| StoreError::NotFound(format!("asset {id}")))?;
        return Ok(Enrolled {
            asset,
            reclaimed: true,
        });
    }
    let (status, reason) = (Status::Unprotected, StatusReason::NeverConnected);
    c.prepare_cached(
        "INSERT INTO assets (id, hostname, hostname_lower, ips, os, kernel, arch, platform,
            agent_version, group_name, fingerprint, credential_hash, status, status_reason,
            status_since, enrolled_at, enrolled_with_key, report, report_at)
         SELECT ?2, hostname, hostname_lower, ips, os, kernel, arch, platform, agent_version,
            group_name, ?3, ?4, ?5, ?6, ?7, ?7, enrolled_with_key, report, report_at
         FROM assets WHERE id = ?1",
    )?
    .execute(params![
        src.id,
        r.new_id,
        r.fingerprint,
        r.credential_hash,
        status.as_str(),
        reason.as_str(),
        r.at
    ])?;
    c.prepare_cached(
        "INSERT INTO asset_clones (asset_id, source_id, reason, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![r.new_id, src.id, r.reason, r.at])?;
    let detail = format!("re-identified: copy of {} ({})", src.id, r.reason);
    append_event(c, &r.new_id, status, Some(reason), r.at, Some(&detail))?;
    let asset = get_asset(c, &r.new_id)?
        .ok_or_else(|| StoreError::NotFound(format!("asset {}", r.new_id)))?;
    Ok(Enrolled {
        asset,
        reclaimed: false,
    })
}

pub(crate) fn clone_source(c: &Connection, id: &str) -> DbResult<Option<String>> {
    Ok(
        c.prepare_cached("SELECT source_id FROM asset_clones WHERE asset_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?,
    )
}
