//! Releases, the release metadata version and lifecycle events.

use super::support::{add_host, T0};
use crate::{NewLifecycleEvent, Release, ReleaseFile, Store, StoreError};

fn release(version: &str, platform: &str, added_at: i64, with_update: bool) -> Release {
    Release {
        version: version.to_string(),
        platform: platform.to_string(),
        agent: ReleaseFile {
            sha256: format!("{:a<64}", version.len()),
            size: 1000 + version.len() as u64,
        },
        update: with_update.then(|| ReleaseFile {
            sha256: "b".repeat(64),
            size: 77,
        }),
        added_at,
        notes: with_update.then(|| format!("notes of {version}")),
    }
}

pub async fn releases_add_list_and_conflict(store: &dyn Store) {
    assert!(store.list_releases().await.expect("list").is_empty());
    let a = release("0.2.0", "linux-x86_64", T0 + 10, true);
    let b = release("0.2.0", "linux-aarch64", T0 + 10, false);
    let c = release("0.1.5", "linux-x86_64", T0 + 20, false);
    for r in [&c, &a, &b] {
        store.add_release(r).await.expect("add");
    }
    // Publication order, ties by version then platform.
    let want = vec![b.clone(), a.clone(), c.clone()];
    assert_eq!(store.list_releases().await.expect("list"), want);
    // Releases are immutable: the same version and platform again conflicts
    // and changes nothing.
    let mut again = a.clone();
    again.agent.size = 5;
    let e = store.add_release(&again).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    assert_eq!(store.list_releases().await.expect("list"), want);
}

pub async fn release_metadata_version_only_grows(store: &dyn Store) {
    let mut last = 0;
    for _ in 0..5 {
        let v = store.next_release_metadata_version().await.expect("next");
        assert_eq!(v, last + 1);
        last = v;
    }
    // Concurrent callers (polled together; the backend runs each in its
    // own transaction) never get the same number.
    let mut got = Vec::new();
    for _ in 0..5 {
        let (a, b, c, d) = tokio::join!(
            store.next_release_metadata_version(),
            store.next_release_metadata_version(),
            store.next_release_metadata_version(),
            store.next_release_metadata_version(),
        );
        for v in [a, b, c, d] {
            got.push(v.expect("next"));
        }
    }
    got.sort_unstable();
    assert_eq!(got, (6..26).collect::<Vec<u64>>());
}

fn event(asset: &str, at: i64, kind: &str) -> NewLifecycleEvent {
    NewLifecycleEvent {
        asset_id: asset.to_string(),
        at,
        received_at: at + 5,
        kind: kind.to_string(),
        program: "ward-update".to_string(),
        from_version: Some("0.1.0".into()),
        to_version: (kind != "crash_loop").then(|| "0.2.0".to_string()),
        detail: Some(format!("detail {kind}")),
        message: format!("message {kind} at {at}"),
    }
}

pub async fn lifecycle_events_newest_first_per_asset(store: &dyn Store) {
    add_host(store, "ag_a", "a.example", &[]).await;
    add_host(store, "ag_b", "b.example", &[]).await;
    assert!(store
        .lifecycle_events("ag_a", 0)
        .await
        .expect("list")
        .is_empty());
    let kinds = ["update_installed", "update_refused", "crash_loop"];
    let mut stored = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        let e = event("ag_a", T0 + i as i64, k);
        let got = store.add_lifecycle_event(&e).await.expect("add");
        assert_eq!(
            (
                got.asset_id.as_str(),
                got.at,
                got.received_at,
                got.kind.as_str()
            ),
            (e.asset_id.as_str(), e.at, e.received_at, e.kind.as_str())
        );
        assert_eq!(got.message, e.message);
        assert_eq!(got.to_version, e.to_version);
        assert_eq!(got.detail, e.detail);
        stored.push(got);
    }
    store
        .add_lifecycle_event(&event("ag_b", T0, "update_failed"))
        .await
        .expect("add b");
    let listed = store.lifecycle_events("ag_a", 0).await.expect("list");
    stored.reverse();
    assert_eq!(listed, stored, "newest first, only this asset's");
    assert!(listed.windows(2).all(|w| w[0].seq > w[1].seq));
    assert_eq!(
        store.lifecycle_events("ag_a", 2).await.expect("list").len(),
        2
    );
    assert_eq!(
        store.lifecycle_events("ag_b", 0).await.expect("list").len(),
        1
    );
    assert!(store
        .lifecycle_events("ag_none", 0)
        .await
        .expect("list")
        .is_empty());
    let e = store
        .add_lifecycle_event(&event("ag_none", T0, "crash_loop"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e:?}");
}
