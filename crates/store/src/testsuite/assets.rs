//! Session facts, reports, last_seen, status timeline, counts, liveness.

use super::support::{add_host, change, report, T0};
use crate::{AssetLiveness, SessionStart, Status, StatusReason, Store, StoreError};
use std::collections::HashMap;

pub async fn record_session_start_sets_session_facts(store: &dyn Store) {
    let before = add_host(store, "as_s", "sess", &["192.0.2.5"]).await;
    let s1 = SessionStart {
        at: T0 + 1_000,
        addr: "192.0.2.5:51000".into(),
        endpoint: Some("https://198.51.100.1:8443".into()),
        last_error: Some("connection refused".into()),
        agent_version: "0.2.0".into(),
    };
    store
        .record_session_start(&before.id, &s1)
        .await
        .expect("record");
    let mut want = before.clone();
    want.first_seen = Some(s1.at);
    want.last_seen = Some(s1.at);
    want.last_addr = Some(s1.addr.clone());
    want.last_endpoint = s1.endpoint.clone();
    want.last_error = s1.last_error.clone();
    want.agent_version = s1.agent_version.clone();
    assert_eq!(
        store.get_asset(&before.id).await.expect("get"),
        Some(want.clone())
    );

    // A later session replaces the facts; first_seen stays.
    let s2 = SessionStart {
        at: T0 + 5_000,
        addr: "[2001:db8::5]:40000".into(),
        endpoint: None,
        last_error: None,
        agent_version: "0.3.0".into(),
    };
    store
        .record_session_start(&before.id, &s2)
        .await
        .expect("record");
    want.last_seen = Some(s2.at);
    want.last_addr = Some(s2.addr.clone());
    want.last_endpoint = None;
    want.last_error = None;
    want.agent_version = s2.agent_version.clone();
    assert_eq!(
        store.get_asset(&before.id).await.expect("get"),
        Some(want.clone())
    );

    // A session start stamped earlier than last_seen does not move it back.
    let s3 = SessionStart {
        at: T0 + 2_000,
        ..s2.clone()
    };
    store
        .record_session_start(&before.id, &s3)
        .await
        .expect("record");
    assert_eq!(store.get_asset(&before.id).await.expect("get"), Some(want));

    let err = store
        .record_session_start("as_missing", &s1)
        .await
        .expect_err("missing asset");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn update_report_updates_derived_columns(store: &dyn Store) {
    let before = add_host(store, "as_r", "before", &["192.0.2.1"]).await;
    let mut r = report("after.example", &["198.51.100.9", "2001:db8::9"]);
    r.os = "Debian GNU/Linux 13".into();
    r.kernel = "6.12.0".into();
    r.arch = "aarch64".into();
    r.agent_version = "0.9.0".into();
    r.uptime_secs = 99;
    let at = T0 + 777;
    store
        .update_report(&before.id, &r, at)
        .await
        .expect("update_report");

    let mut want = before.clone();
    want.hostname = r.hostname.clone();
    want.ips = r.ips.clone();
    want.os = r.os.clone();
    want.kernel = r.kernel.clone();
    want.arch = r.arch.clone();
    want.agent_version = r.agent_version.clone();
    want.report = Some(r.clone());
    want.report_at = Some(at);
    assert_eq!(store.get_asset(&before.id).await.expect("get"), Some(want));

    let err = store
        .update_report("as_missing", &r, at)
        .await
        .expect_err("missing asset");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn touch_last_seen_batches_and_never_goes_backwards(store: &dyn Store) {
    let a = add_host(store, "as_a", "a", &[]).await;
    let b = add_host(store, "as_b", "b", &[]).await;
    let c = add_host(store, "as_c", "c", &[]).await;
    store.touch_last_seen(&[]).await.expect("empty batch");

    let (ta, tb) = (T0 + 10_000, T0 + 20_000);
    store
        .touch_last_seen(&[(a.id.clone(), ta), (b.id.clone(), tb)])
        .await
        .expect("touch");
    let seen = |id: String| async move {
        store
            .get_asset(&id)
            .await
            .expect("get")
            .expect("exists")
            .last_seen
    };
    assert_eq!(seen(a.id.clone()).await, Some(ta));
    assert_eq!(seen(b.id.clone()).await, Some(tb));
    assert_eq!(seen(c.id.clone()).await, None);

    // Older value for a, newer for b, first for c, an unknown id, and a
    // duplicate of c within the batch whose later entry is older.
    let tc = T0 + 30_000;
    store
        .touch_last_seen(&[
            (a.id.clone(), ta - 5),
            (b.id.clone(), tb + 5),
            (c.id.clone(), tc),
            ("as_unknown".to_string(), tc),
            (c.id.clone(), tc - 1),
        ])
        .await
        .expect("touch");
    assert_eq!(seen(a.id.clone()).await, Some(ta), "never backwards");
    assert_eq!(seen(b.id.clone()).await, Some(tb + 5));
    assert_eq!(seen(c.id.clone()).await, Some(tc), "max of the batch");
    assert_eq!(store.get_asset("as_unknown").await.expect("get"), None);

    // Only last_seen (and possibly first_seen) changed.
    let now = store.get_asset(&a.id).await.expect("get").expect("exists");
    let mut want = a.clone();
    want.last_seen = now.last_seen;
    want.first_seen = now.first_seen;
    assert_eq!(now, want);
}

pub async fn set_status_appends_timeline_newest_first(store: &dyn Store) {
    let a = add_host(store, "as_t", "t", &[]).await;
    let enrolled = store.status_events(&a.id, 10).await.expect("events");
    assert_eq!(enrolled.len(), 1);

    let changes = [
        change(Status::Protected, None, T0 + 1, Some("connected")),
        change(
            Status::Unprotected,
            Some(StatusReason::Offline),
            T0 + 2,
            Some("no keepalive for 90 s"),
        ),
        change(Status::Updating, None, T0 + 3, None),
        // Same time as the previous one: insertion order breaks the tie.
        change(Status::Protected, None, T0 + 3, Some("back")),
    ];
    for ch in &changes {
        store.set_status(&a.id, ch).await.expect("set_status");
        let now = store.get_asset(&a.id).await.expect("get").expect("exists");
        assert_eq!(
            (now.status, now.status_reason, now.status_since),
            (ch.status, ch.reason, ch.at)
        );
        let auth = store
            .agent_auth(&a.id)
            .await
            .expect("auth")
            .expect("exists");
        assert_eq!((auth.status, auth.status_reason), (ch.status, ch.reason));
    }

    let mut want: Vec<crate::StatusEvent> = changes
        .iter()
        .rev()
        .map(|ch| crate::StatusEvent {
            asset_id: a.id.clone(),
            status: ch.status,
            reason: ch.reason,
            at: ch.at,
            detail: ch.detail.clone(),
        })
        .collect();
    want.push(enrolled[0].clone());
    assert_eq!(store.status_events(&a.id, 100).await.expect("events"), want);
    assert_eq!(
        store.status_events(&a.id, 0).await.expect("events"),
        want,
        "0 = default"
    );
    assert_eq!(
        store.status_events(&a.id, 2).await.expect("events"),
        want[..2].to_vec()
    );
    assert!(store
        .status_events("as_missing", 10)
        .await
        .expect("events")
        .is_empty());

    let err = store
        .set_status("as_missing", &changes[0])
        .await
        .expect_err("missing asset");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

type Pair = (Status, Option<StatusReason>);

fn all_pairs() -> Vec<Pair> {
    vec![
        (Status::Protected, None),
        (Status::Unprotected, Some(StatusReason::Offline)),
        (Status::Unprotected, Some(StatusReason::NeverConnected)),
        (Status::Unprotected, Some(StatusReason::Uninstalled)),
        (Status::Updating, None),
    ]
}

pub async fn count_by_status_counts_each_status_and_reason(store: &dyn Store) {
    assert!(
        store.count_by_status().await.expect("count").is_empty(),
        "no assets, no rows"
    );
    // Asset i gets pair (i*i) % 5 (enrollment's own never_connected if that),
    // so the counts differ per pair.
    let pairs = all_pairs();
    let mut want: HashMap<Pair, u64> = HashMap::new();
    for i in 0..13usize {
        let a = add_host(store, &format!("as_{i:02}"), &format!("h{i}"), &[]).await;
        let p = pairs[(i * i) % pairs.len()];
        if p != (Status::Unprotected, Some(StatusReason::NeverConnected)) {
            store
                .set_status(&a.id, &change(p.0, p.1, T0 + i as i64, None))
                .await
                .expect("set_status");
        }
        *want.entry(p).or_default() += 1;
    }
    let rows = store.count_by_status().await.expect("count");
    let mut got: HashMap<Pair, u64> = HashMap::new();
    for r in &rows {
        assert!(r.count > 0, "no zero rows: {rows:?}");
        assert!(
            got.insert((r.status, r.reason), r.count).is_none(),
            "pair listed twice: {rows:?}"
        );
    }
    assert_eq!(got, want);
}

pub async fn load_liveness_lists_every_asset(store: &dyn Store) {
    assert!(store.load_liveness().await.expect("liveness").is_empty());
    let pairs = all_pairs();
    let mut want = Vec::new();
    let mut seen = Vec::new();
    for i in 0..7usize {
        let a = add_host(store, &format!("as_l{i}"), &format!("l{i}"), &[]).await;
        let p = pairs[i % pairs.len()];
        let since = T0 + 100 + i as i64;
        store
            .set_status(&a.id, &change(p.0, p.1, since, None))
            .await
            .expect("set_status");
        let last_seen = (i % 2 == 0).then_some(T0 + 1_000 * i as i64);
        if let Some(t) = last_seen {
            seen.push((a.id.clone(), t));
        }
        want.push(AssetLiveness {
            asset_id: a.id.clone(),
            status: p.0,
            status_reason: p.1,
            status_since: since,
            last_seen,
        });
    }
    store.touch_last_seen(&seen).await.expect("touch");
    let mut got = store.load_liveness().await.expect("liveness");
    got.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
    want.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
    assert_eq!(got, want);
}
