//! Forward-only schema migrations.
//!
//! Each file `migrations/NNNN_name.sql` is embedded in the binary and applied
//! once, in version order, in its own `BEGIN IMMEDIATE` transaction together
//! with its row in `schema_migrations(version, name, applied_at)`. Several
//! processes may open the same database at once: the immediate transaction
//! serialises them and each re-reads the applied version inside it, so a
//! migration never runs twice. A migration file must not contain
//! `BEGIN`/`COMMIT` of its own.

use crate::error::DbResult;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use ward_store::StoreError;

/// One embedded migration.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration this binary knows, in order. Append only.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "events_alerts",
        sql: include_str!("../migrations/0002_events_alerts.sql"),
    },
    Migration {
        version: 3,
        name: "asset_search",
        sql: include_str!("../migrations/0003_asset_search.sql"),
    },
    Migration {
        version: 4,
        name: "updates",
        sql: include_str!("../migrations/0004_updates.sql"),
    },
    Migration {
        version: 5,
        name: "commands",
        sql: include_str!("../migrations/0005_commands.sql"),
    },
    Migration {
        version: 6,
        name: "hostdetect",
        sql: include_str!("../migrations/0006_hostdetect.sql"),
    },
];

/// The newest schema version this binary knows (the last entry of [`MIGRATIONS`]).
pub const SCHEMA_VERSION: i64 = 6;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT";

/// Brings the schema up to [`SCHEMA_VERSION`], or fails with
/// [`StoreError::SchemaTooNew`] when the database was written by a newer Ward.
pub(crate) fn migrate(conn: &mut Connection, now_ms: i64) -> DbResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(CREATE_TABLE)?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: SCHEMA_VERSION,
            }
            .into());
        }
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            tx.commit()?;
            return Ok(());
        };
        tx.execute_batch(next.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![next.version, next.name, now_ms],
        )?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_from_one_and_end_at_schema_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "migration {} out of order", m.name);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn every_migration_file_is_embedded_under_its_file_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let expected: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, expected);
        for m in MIGRATIONS {
            let on_disk =
                std::fs::read_to_string(dir.join(format!("{:04}_{}.sql", m.version, m.name)))
                    .unwrap();
            assert_eq!(on_disk, m.sql);
        }
    }

    #[test]
    fn migrating_twice_is_a_no_op_and_records_each_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 5).unwrap();
        migrate(&mut conn, 9).unwrap();
        let rows: Vec<(i64, String, i64)> = conn
            .prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(i64, String, i64)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_string(), 5))
            .collect();
        assert_eq!(rows, expected);
    }
}
