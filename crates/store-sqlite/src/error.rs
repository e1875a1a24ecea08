//! Mapping of SQLite errors into [`StoreError`].

use rusqlite::ErrorCode;
use ward_store::StoreError;

/// Error inside a blocking database closure: either SQLite's or one of ours.
/// Converted into [`StoreError`] at the async boundary.
#[derive(Debug)]
pub(crate) enum DbError {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(e)
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Store(e) => e,
            DbError::Sql(e) => map_sql(e),
        }
    }
}

pub(crate) type DbResult<T> = Result<T, DbError>;

/// Maps a rusqlite error. Every value from users is a bound parameter, so
/// SQLite's messages carry no user text; the SQL text itself is never included.
pub(crate) fn map_sql(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            if f.code == ErrorCode::ConstraintViolation
                && matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
                )
            {
                StoreError::Conflict(text)
            } else {
                StoreError::Backend(format!("sqlite: {text} (code {})", f.extended_code))
            }
        }
        other => StoreError::Backend(format!("sqlite: {other}")),
    }
}

/// An I/O error while preparing the database file.
pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniqueness_is_conflict_and_other_failures_are_backend() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, b TEXT UNIQUE NOT NULL)")
            .unwrap();
        conn.execute("INSERT INTO t VALUES ('x', 'y')", []).unwrap();
        let dup_pk = conn
            .execute("INSERT INTO t VALUES ('x', 'z')", [])
            .unwrap_err();
        assert!(matches!(map_sql(dup_pk), StoreError::Conflict(_)));
        let dup_unique = conn
            .execute("INSERT INTO t VALUES ('w', 'y')", [])
            .unwrap_err();
        assert!(matches!(map_sql(dup_unique), StoreError::Conflict(_)));
        let not_null = conn
            .execute("INSERT INTO t VALUES ('v', NULL)", [])
            .unwrap_err();
        assert!(matches!(map_sql(not_null), StoreError::Backend(_)));
    }

    #[test]
    fn messages_do_not_contain_bound_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY)")
            .unwrap();
        conn.execute("INSERT INTO t VALUES (?1)", ["s3cr3t-value"])
            .unwrap();
        let err = conn
            .execute("INSERT INTO t VALUES (?1)", ["s3cr3t-value"])
            .unwrap_err();
        let text = map_sql(err).to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
