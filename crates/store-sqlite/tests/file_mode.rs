//! The database and its WAL files are mode 0600 whatever the umask. Its own
//! test binary, because the umask is per process.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use ward_store::{NewKey, Store};
use ward_store_sqlite::SqliteStore;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

fn sidecar(p: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

#[tokio::test]
async fn database_files_are_0600_even_with_umask_0() {
    // SAFETY: umask only sets the process file-creation mask; this binary
    // holds this single test, so nothing else depends on the mask.
    unsafe {
        libc::umask(0);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .create_key(NewKey {
            id: "key_1".into(),
            secret: "wk_1".into(),
            label: "l".into(),
            default_group: None,
            created_at: 1,
        })
        .await
        .expect("write");
    for p in [path.clone(), sidecar(&path, "-wal"), sidecar(&path, "-shm")] {
        assert!(p.exists(), "{} exists while open", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(store);

    // SQLite removes the WAL files on the last close and recreates them on
    // the next open: still 0600.
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.list_keys().await.expect("read").len(), 1);
    for p in [path.clone(), sidecar(&path, "-wal"), sidecar(&path, "-shm")] {
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    drop(store);

    // A pre-existing, world-readable empty file is tightened.
    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"").expect("create");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    drop(SqliteStore::open(&loose).await.expect("open loose"));
    assert_eq!(mode(&loose), 0o600);
}
