//! The shared `ward_store` conformance suite against SQLite: on a real
//! database file in a temporary directory, and in memory.

use std::sync::Arc;
use ward_store::Store;
use ward_store_sqlite::SqliteStore;

async fn on_file() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("ward.db"))
        .await
        .expect("open");
    (Arc::new(store), dir)
}

ward_store::store_conformance_tests!(on_file());

mod in_memory {
    use super::*;

    async fn fresh() -> Arc<dyn Store> {
        Arc::new(SqliteStore::open_in_memory().await.expect("open"))
    }

    ward_store::store_conformance_tests!(fresh());
}
