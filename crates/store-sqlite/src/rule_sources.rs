//! Imported rule files (`rule_sources`, `rule_sources_revision`).

use rusqlite::{params, Connection};
use ward_store::RuleSource;

use crate::error::DbResult;

pub(crate) fn import(c: &Connection, sources: &[RuleSource], replace_all: bool) -> DbResult<i64> {
    if replace_all {
        c.execute("DELETE FROM rule_sources", [])?;
    }
    let mut ins = c.prepare_cached(
        "INSERT INTO rule_sources (name, body, sha256, imported_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, sha256 = excluded.sha256,
             imported_at = excluded.imported_at",
    )?;
    for s in sources {
        ins.execute(params![s.name, s.body, s.sha256, s.imported_at])?;
    }
    c.execute(
        "UPDATE rule_sources_revision SET revision = revision + 1 WHERE id = 1",
        [],
    )?;
    revision(c)
}

pub(crate) fn list(c: &Connection) -> DbResult<Vec<RuleSource>> {
    let mut st =
        c.prepare_cached("SELECT name, body, sha256, imported_at FROM rule_sources ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(RuleSource {
            name: r.get(0)?,
            body: r.get(1)?,
            sha256: r.get(2)?,
            imported_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revision(c: &Connection) -> DbResult<i64> {
    Ok(
        c.prepare_cached("SELECT revision FROM rule_sources_revision WHERE id = 1")?
            .query_row([], |r| r.get(0))?,
    )
}
