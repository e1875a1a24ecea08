//! Read-only aggregates for the console: assets per agent version and the
//! list of groups.

use crate::error::DbResult;
use rusqlite::Connection;
use ward_store::{GroupCount, VersionCount};

/// A scan of the `assets_version` index (covering), not of the table.
pub(crate) fn count_by_agent_version(c: &Connection) -> DbResult<Vec<VersionCount>> {
    let mut st = c.prepare_cached(
        "SELECT agent_version, COUNT(*) AS n FROM assets
         WHERE status_reason IS NOT 'uninstalled'
         GROUP BY agent_version ORDER BY n DESC, agent_version",
    )?;
    let rows = st.query_map([], |r| {
        Ok(VersionCount {
            version: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A scan of the `assets_group_order` index (covering), not of the table.
pub(crate) fn list_groups(c: &Connection) -> DbResult<Vec<GroupCount>> {
    let mut st = c.prepare_cached(
        "SELECT group_name, COUNT(*) FROM assets
         WHERE group_name IS NOT NULL
         GROUP BY group_name ORDER BY group_name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(GroupCount {
            group: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    /// The query plan of `sql` on a freshly migrated database, one line per step.
    fn plan_of(sql: &str) -> String {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrate::migrate(&mut conn, 0).unwrap();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        plan.join("\n")
    }

    #[test]
    fn group_listing_reads_only_the_group_index() {
        let plan = plan_of(
            "SELECT group_name, COUNT(*) FROM assets
             WHERE group_name IS NOT NULL GROUP BY group_name ORDER BY group_name",
        );
        assert!(plan.contains("COVERING INDEX assets_group_order"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn version_counts_read_only_the_version_index() {
        let plan = plan_of(
            "SELECT agent_version, COUNT(*) AS n FROM assets
             WHERE status_reason IS NOT 'uninstalled'
             GROUP BY agent_version ORDER BY n DESC, agent_version",
        );
        assert!(plan.contains("COVERING INDEX assets_version"), "{plan}");
    }
}
