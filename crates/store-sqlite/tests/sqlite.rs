//! SQLite-only behaviour: persistence, schema versions, several stores and
//! processes on one file, and a 100,000-asset database.

use rusqlite::Connection;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use ward_proto::{HostReport, Policy};
use ward_store::{
    ApiToken, AssetQuery, Enrollment, NewKey, Status, StatusChange, Store, StoreError,
};
use ward_store_sqlite::{SqliteStore, SCHEMA_VERSION};

const T0: i64 = 1_700_000_000_000;
const CHILD_ENV: &str = "WARD_STORE_SQLITE_TEST_CHILD_DB";
const PER_WRITER: usize = 200;

fn key(id: &str) -> NewKey {
    NewKey {
        id: id.to_string(),
        secret: format!("wk_{id}"),
        label: id.to_string(),
        default_group: Some("g".into()),
        created_at: T0,
    }
}

fn enrollment(id: &str, hostname: &str, ips: Vec<String>) -> Enrollment {
    Enrollment {
        new_id: id.to_string(),
        key_id: "key_main".into(),
        fingerprint: format!("fp-{id}"),
        platform: "linux-x86_64".into(),
        credential_hash: format!("hash-{id}"),
        report: HostReport {
            hostname: hostname.to_string(),
            ips,
            ..Default::default()
        },
        at: T0,
    }
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store.create_key(key("key_main")).await.expect("key");
    let asset = store
        .enroll(enrollment("as_1", "persist", vec!["192.0.2.1".into()]))
        .await
        .expect("enroll")
        .asset;
    let online = StatusChange {
        status: Status::Protected,
        reason: None,
        at: T0 + 1,
        detail: None,
    };
    store.set_status(&asset.id, &online).await.expect("status");
    store
        .touch_last_seen(&[(asset.id.clone(), T0 + 2)])
        .await
        .expect("touch");
    let policy = Policy {
        keepalive_secs: 5,
        ..Policy::default()
    };
    store.set_policy(&policy).await.expect("policy");
    let token = ApiToken {
        id: "tok".into(),
        label: "l".into(),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    };
    store.create_api_token(&token, "h").await.expect("token");
    let asset_before = store.get_asset(&asset.id).await.expect("get");
    let keys_before = store.list_keys().await.expect("keys");
    let events_before = store.status_events(&asset.id, 10).await.expect("events");
    drop(store);

    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.get_asset(&asset.id).await.expect("get"), asset_before);
    assert_eq!(store.list_keys().await.expect("keys"), keys_before);
    assert_eq!(
        store.status_events(&asset.id, 10).await.expect("ev"),
        events_before
    );
    assert_eq!(events_before.len(), 2);
    assert_eq!(store.get_policy().await.expect("policy"), Some(policy));
    assert_eq!(store.list_api_tokens().await.expect("tokens"), vec![token]);
    drop(store);

    // Reopening applied no migration twice.
    let conn = Connection::open(&path).expect("raw open");
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .expect("versions");
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    drop(SqliteStore::open(&path).await.expect("open"));
    let conn = Connection::open(&path).expect("raw open");
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'from_the_future', 0)",
        [SCHEMA_VERSION + 1],
    )
    .expect("insert");
    drop(conn);
    match SqliteStore::open(&path).await {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

/// A database written before migration 0003 (asset search text) is searched
/// correctly after the upgrade: the migration backfills existing rows.
#[tokio::test]
async fn assets_from_before_the_search_column_are_found_after_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.execute_batch(include_str!("../migrations/0001_init.sql"))
            .expect("0001");
        conn.execute_batch(include_str!("../migrations/0002_events_alerts.sql"))
            .expect("0002");
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY,
                 name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;
             INSERT INTO schema_migrations VALUES (1, 'init', 0), (2, 'events_alerts', 0);
             INSERT INTO verification_keys (id, secret, label, created_at)
                 VALUES ('key_old', 'wk_old', 'old', 0);
             INSERT INTO assets (id, hostname, hostname_lower, ips, os, kernel, arch, platform,
                 agent_version, fingerprint, credential_hash, status, status_reason,
                 status_since, enrolled_at)
             VALUES ('as_old', 'Web-ÄLT-1', 'web-ält-1', '[\"192.0.2.7\",\"2001:DB8::7\"]', '', '',
                 '', 'linux-x86_64', '', 'fp', 'h', 'unprotected', 'never_connected', 0, 0);",
        )
        .expect("schema 2 data");
    }
    let store = SqliteStore::open(&path).await.expect("open upgrades");
    for needle in ["ält", "WEB-ä", "192.0.2.7", "2001:db8::7", "db8"] {
        let page = store
            .list_assets(&AssetQuery {
                search: Some(needle.into()),
                ..Default::default()
            })
            .await
            .expect("search");
        let ids: Vec<&str> = page.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["as_old"], "search {needle:?}");
    }
    let page = store
        .list_assets(&AssetQuery {
            search: Some("192.0.2.8".into()),
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(page.items.is_empty(), "{:?}", page.items);
}

#[tokio::test]
async fn open_creates_missing_parent_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/ward.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store.create_key(key("key_x")).await.expect("write");
    assert!(path.is_file());
    let mode = std::fs::metadata(dir.path().join("a/b"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "created directories are private: {mode:o}");
}

#[tokio::test]
async fn a_directory_in_the_way_is_a_backend_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = SqliteStore::open(dir.path())
        .await
        .expect_err("a directory");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

/// Writes keys `key_<who>_<i>` and enrolls one asset per key, interleaved
/// with keepalive batches on the shared asset `as_shared`.
async fn writer(store: &dyn Store, who: &str) {
    for i in 0..PER_WRITER {
        store
            .create_key(key(&format!("key_{who}_{i}")))
            .await
            .expect("create_key");
        store
            .enroll(enrollment(
                &format!("as_{who}_{i}"),
                &format!("{who}-{i}"),
                vec![],
            ))
            .await
            .expect("enroll");
        store
            .touch_last_seen(&[("as_shared".to_string(), T0 + i as i64)])
            .await
            .expect("touch");
    }
}

async fn assert_both_writers_landed(store: &dyn Store, whos: &[&str]) {
    let keys = store.list_keys().await.expect("keys");
    let mut want: Vec<String> = whos
        .iter()
        .flat_map(|w| (0..PER_WRITER).map(move |i| format!("key_{w}_{i}")))
        .chain(["key_main".to_string()])
        .collect();
    want.sort();
    let mut got: Vec<String> = keys.into_iter().map(|k| k.id).collect();
    got.sort();
    assert_eq!(got, want);
    let assets = store.load_liveness().await.expect("liveness");
    assert_eq!(assets.len(), whos.len() * PER_WRITER + 1);
    let shared = store
        .get_asset("as_shared")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(shared.last_seen, Some(T0 + PER_WRITER as i64 - 1));
}

async fn seed(store: &dyn Store) {
    store.create_key(key("key_main")).await.expect("key");
    store
        .enroll(enrollment("as_shared", "shared", vec![]))
        .await
        .expect("enroll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_open_and_write_one_file_concurrently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    // Both open (and migrate) a file that does not exist yet, at once.
    let (a, b) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
    let (a, b) = (a.expect("open a"), b.expect("open b"));
    seed(&a).await;
    tokio::join!(writer(&a, "server"), writer(&b, "cli"));
    assert_both_writers_landed(&a, &["server", "cli"]).await;
    assert_both_writers_landed(&b, &["server", "cli"]).await;
}

#[tokio::test]
#[ignore = "child process of two_processes_write_one_file_concurrently"]
async fn child_process_writer() {
    let path = std::env::var_os(CHILD_ENV).expect("run by the parent test");
    let store = SqliteStore::open(Path::new(&path)).await.expect("open");
    writer(&store, "child").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_write_one_file_concurrently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    let store = SqliteStore::open(&path).await.expect("open");
    seed(&store).await;
    let exe = std::env::current_exe().expect("test binary");
    let child = tokio::process::Command::new(exe)
        .args(["child_process_writer", "--exact", "--ignored", "--quiet"])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    writer(&store, "parent").await;
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("child finished within its deadline")
        .expect("wait");
    assert!(
        out.status.success(),
        "child failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_both_writers_landed(&store, &["parent", "child"]).await;
}

/// Writes `hosts` straight into the table, as `enroll` would (new asset,
/// `unprotected`/`never_connected`, no report). Going through `enroll` one
/// by one takes over a minute in a debug build; this takes seconds.
fn bulk_insert(path: &Path, hosts: &[(String, String, String)]) {
    let mut conn = Connection::open(path).expect("raw open");
    let tx = conn.transaction().expect("begin");
    {
        let mut st = tx
            .prepare(
                "INSERT INTO assets (id, hostname, hostname_lower, ips, os, kernel, arch,
                    platform, agent_version, group_name, fingerprint, credential_hash, status,
                    status_reason, status_since, enrolled_at, enrolled_with_key, search_text)
                 VALUES (?1, ?2, lower(?2), json_array(?3), '', '', '', 'linux-x86_64', '',
                    'g', 'fp-' || ?1, 'hash-' || ?1, 'unprotected', 'never_connected', ?4, ?4,
                    'key_main', lower(?2) || char(31) || ?3)",
            )
            .expect("prepare");
        for (hostname, id, ip) in hosts {
            st.execute(rusqlite::params![id, hostname, ip, T0])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_assets() {
    const N: usize = 100_000;
    const VIA_API: usize = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ward.db");
    // (hostname, id, ip) of every asset; hostnames repeat, ids are shuffled.
    let hosts: Vec<(String, String, String)> = (0..N)
        .map(|i| {
            let id = format!("as_{:06}", (i * 7919) % N);
            let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            (format!("host-{:05}", i % 50_000), id, ip)
        })
        .collect();
    let store = SqliteStore::open(&path).await.expect("open");
    store.create_key(key("key_main")).await.expect("key");
    // A few through the API, the rest in bulk, while the store is open.
    for (hostname, id, ip) in &hosts[..VIA_API] {
        store
            .enroll(enrollment(id, hostname, vec![ip.clone()]))
            .await
            .expect("enroll");
    }
    let bulk_path = path.clone();
    let bulk = hosts[VIA_API..].to_vec();
    tokio::task::spawn_blocking(move || bulk_insert(&bulk_path, &bulk))
        .await
        .expect("bulk insert");
    let mut order: Vec<(&str, &str)> = hosts
        .iter()
        .map(|(h, i, _)| (h.as_str(), i.as_str()))
        .collect();
    order.sort();

    // First page, and a page from deep inside via a cursor.
    let page = store
        .list_assets(&AssetQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    let got: Vec<&str> = page.items.iter().map(|a| a.id.as_str()).collect();
    let want: Vec<&str> = order[..100].iter().map(|(_, id)| *id).collect();
    assert_eq!(got, want);
    let mut q = AssetQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut walked = 0usize;
    let mut pages = 0usize;
    loop {
        let page = store.list_assets(&q).await.expect("list");
        for a in &page.items {
            assert_eq!((a.hostname.as_str(), a.id.as_str()), order[walked]);
            walked += 1;
        }
        pages += 1;
        match page.next_cursor {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!((walked, pages), (N, N / 1000));

    // Search by IP: exactly the hosts whose (single) IP contains the text.
    let needle = "10.1.134.";
    let q = AssetQuery {
        search: Some(needle.into()),
        limit: 1000,
        ..Default::default()
    };
    let page = store.list_assets(&q).await.expect("search");
    let mut want: Vec<(&str, &str)> = hosts
        .iter()
        .filter(|(h, _, ip)| ip.contains(needle) || h.contains(needle))
        .map(|(h, i, _)| (h.as_str(), i.as_str()))
        .collect();
    want.sort();
    let got: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|a| (a.hostname.as_str(), a.id.as_str()))
        .collect();
    assert_eq!(got, want);

    // One keepalive batch for every asset.
    let seen: Vec<(String, i64)> = hosts
        .iter()
        .enumerate()
        .map(|(i, (_, id, _))| (id.clone(), T0 + 1_000 + i as i64))
        .collect();
    store.touch_last_seen(&seen).await.expect("touch 100k");
    let live = store.load_liveness().await.expect("liveness");
    assert_eq!(live.len(), N);
    let want: std::collections::HashMap<&str, i64> =
        seen.iter().map(|(id, t)| (id.as_str(), *t)).collect();
    for l in &live {
        assert_eq!(
            l.last_seen,
            want.get(l.asset_id.as_str()).copied(),
            "{}",
            l.asset_id
        );
    }
    let counts = store.count_by_status().await.expect("count");
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), N as u64);
}
