//! Alerts, the whitelist and JSON settings documents.

use super::events::failed;
use super::support::{add_host, T0};
use crate::{
    AlertInsert, AlertQuery, AlertRecord, AlertSeverity, AlertState, NewAlert, NewWhitelistEntry,
    Store, StoreError,
};
use std::collections::BTreeMap;

fn new_alert(asset: &str, rule: &str, key: &str, first_ms: i64, last_ms: i64) -> NewAlert {
    let mut group = BTreeMap::new();
    if !key.is_empty() {
        group.insert("SourceIp".to_string(), key.to_string());
    }
    NewAlert {
        rule_id: rule.to_string(),
        rule_title: format!("title of {rule}"),
        author: Some("Ward".into()),
        severity: AlertSeverity::Suspicious,
        technique: Some("T1110.001".into()),
        asset_id: asset.to_string(),
        group_key: if key.is_empty() {
            String::new()
        } else {
            format!("SourceIp={key}")
        },
        group,
        first_ms,
        last_ms,
        evidence: vec![],
        state: AlertState::Unhandled,
        created_at: last_ms + 5,
        dedup_key: format!("{rule}|{asset}|{key}"),
        dedup_window_ms: 0,
    }
}

/// The record a first insert must produce, derived from the input.
fn expected(id: i64, a: &NewAlert) -> AlertRecord {
    AlertRecord {
        id,
        rule_id: a.rule_id.clone(),
        rule_title: a.rule_title.clone(),
        author: a.author.clone(),
        severity: a.severity,
        technique: a.technique.clone(),
        asset_id: a.asset_id.clone(),
        group_key: a.group_key.clone(),
        group: a.group.clone(),
        first_ms: a.first_ms,
        last_ms: a.last_ms,
        evidence: a.evidence.clone(),
        state: a.state,
        state_at: a.created_at,
        created_at: a.created_at,
        repeats: 0,
    }
}

pub async fn alerts_insert_copies_evidence_and_merges_duplicates(store: &dyn Store) {
    add_host(store, "as_al", "al", &[]).await;
    let ids: Vec<u64> = (1..=5).collect();
    let events: Vec<_> = ids.iter().map(|&i| failed(i)).collect();
    store
        .ingest_events("as_al", &events, T0)
        .await
        .expect("ingest");
    let mut a = new_alert("as_al", "r1", "192.0.2.1", T0 + 1000, T0 + 4000);
    a.evidence = vec![2, 3, 4, 99];
    let AlertInsert::Created(rec) = store.insert_alert(&a).await.expect("insert") else {
        panic!("first insert creates");
    };
    assert_eq!(rec, expected(rec.id, &a));
    assert_eq!(
        store.get_alert(rec.id).await.expect("get"),
        Some(rec.clone())
    );
    assert_eq!(store.get_alert(rec.id + 1000).await.expect("get"), None);
    // Evidence: copies of the stored events (id 99 was never stored).
    let ev = store.alert_evidence(rec.id).await.expect("evidence");
    let got: Vec<u64> = ev.iter().map(|e| e.id).collect();
    assert_eq!(got, vec![2, 3, 4]);
    assert!(ev.iter().all(|e| e.host == "as_al"));
    // ... which outlive retention of the events table.
    store
        .prune_events(i64::MAX, 0, i64::MAX)
        .await
        .expect("prune");
    assert_eq!(store.count_events(None).await.expect("count"), 0);
    assert_eq!(
        store.alert_evidence(rec.id).await.expect("evidence").len(),
        3
    );

    // Raised again with an overlapping window (e.g. after a restart): merged.
    let again = new_alert("as_al", "r1", "192.0.2.1", T0 + 3000, T0 + 9000);
    let AlertInsert::Merged(m) = store.insert_alert(&again).await.expect("insert") else {
        panic!("an overlapping alert with the same key merges");
    };
    assert_eq!(m.id, rec.id);
    assert_eq!(
        (m.last_ms, m.repeats, m.first_ms),
        (T0 + 9000, 1, T0 + 1000)
    );
    // An older re-raise does not move last_ms back.
    let older = new_alert("as_al", "r1", "192.0.2.1", T0 + 2000, T0 + 5000);
    let m = store.insert_alert(&older).await.expect("insert");
    assert_eq!(
        (m.record().id, m.record().last_ms, m.record().repeats),
        (rec.id, T0 + 9000, 2)
    );
    // After the window: a new alert. With a window: merged again.
    let later = new_alert("as_al", "r1", "192.0.2.1", T0 + 9001, T0 + 9500);
    let AlertInsert::Created(l) = store.insert_alert(&later).await.expect("insert") else {
        panic!("a later alert is new");
    };
    assert!(l.id > rec.id);
    let mut windowed = new_alert("as_al", "r1", "192.0.2.1", T0 + 10_400, T0 + 10_500);
    windowed.dedup_window_ms = 1000;
    let m = store.insert_alert(&windowed).await.expect("insert");
    assert_eq!(m.record().id, l.id, "within 1000 ms of the newest: merged");
    // Other keys never merge.
    let other = new_alert("as_al", "r1", "192.0.2.2", T0 + 3000, T0 + 9000);
    assert!(matches!(
        store.insert_alert(&other).await.expect("insert"),
        AlertInsert::Created(_)
    ));
    let err = store
        .insert_alert(&new_alert("as_none", "r1", "x", T0, T0))
        .await
        .expect_err("unknown asset");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn alerts_list_filters_and_pages_newest_first(store: &dyn Store) {
    add_host(store, "as_x", "x", &[]).await;
    add_host(store, "as_y", "y", &[]).await;
    let mut inputs = Vec::new();
    for i in 0..23i64 {
        let asset = if i % 3 == 0 { "as_y" } else { "as_x" };
        let rule = if i % 2 == 0 { "r-even" } else { "r-odd" };
        let mut a = new_alert(
            asset,
            rule,
            &format!("k{i}"),
            T0 + i * 100,
            T0 + i * 100 + 50,
        );
        a.severity = match i % 3 {
            0 => AlertSeverity::Urgent,
            1 => AlertSeverity::Suspicious,
            _ => AlertSeverity::Reminder,
        };
        if i % 5 == 0 {
            a.state = AlertState::Whitelisted;
        }
        let rec = store.insert_alert(&a).await.expect("insert");
        inputs.push((rec.record().id, a));
    }
    let walk = |q: AlertQuery| async move {
        let mut out = Vec::new();
        let mut q = q;
        loop {
            let page = store.list_alerts(&q).await.expect("list");
            out.extend(page.items.iter().map(|a| a.id));
            match page.next_cursor {
                Some(c) => {
                    assert_ne!(q.before.as_ref(), Some(&c));
                    q.before = Some(c);
                }
                None => return out,
            }
        }
    };
    let model = |f: &dyn Fn(&NewAlert) -> bool| {
        let mut ids: Vec<i64> = inputs
            .iter()
            .filter(|(_, a)| f(a))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    };
    let q = |limit| AlertQuery {
        limit,
        ..Default::default()
    };
    assert_eq!(walk(q(4)).await, model(&|_| true));
    assert_eq!(
        store.list_alerts(&q(0)).await.expect("list").items.len(),
        23,
        "limit 0 means 50"
    );
    assert_eq!(
        walk(AlertQuery {
            severity: Some(AlertSeverity::Urgent),
            ..q(3)
        })
        .await,
        model(&|a| a.severity == AlertSeverity::Urgent)
    );
    assert_eq!(
        walk(AlertQuery {
            state: Some(AlertState::Whitelisted),
            ..q(2)
        })
        .await,
        model(&|a| a.state == AlertState::Whitelisted)
    );
    assert_eq!(
        walk(AlertQuery {
            asset_id: Some("as_x".into()),
            rule_id: Some("r-odd".into()),
            ..q(5)
        })
        .await,
        model(&|a| a.asset_id == "as_x" && a.rule_id == "r-odd")
    );
    let (since, until) = (T0 + 500, T0 + 1250);
    assert_eq!(
        walk(AlertQuery {
            since: Some(since),
            until: Some(until),
            ..q(2)
        })
        .await,
        model(&|a| a.last_ms >= since && a.last_ms < until)
    );
    for bad in ["", "abc", "-5", "0"] {
        let err = store
            .list_alerts(&AlertQuery {
                before: Some(bad.into()),
                ..q(5)
            })
            .await
            .expect_err("malformed cursor");
        assert!(!matches!(err, StoreError::Backend(_)), "{bad:?}: {err:?}");
    }
}

pub async fn alerts_state_changes_and_counts(store: &dyn Store) {
    add_host(store, "as_c", "c", &[]).await;
    let mut ids = Vec::new();
    for (i, sev) in [
        AlertSeverity::Urgent,
        AlertSeverity::Urgent,
        AlertSeverity::Reminder,
    ]
    .into_iter()
    .enumerate()
    {
        let mut a = new_alert("as_c", "r", &format!("k{i}"), T0, T0);
        a.severity = sev;
        ids.push(store.insert_alert(&a).await.expect("insert").record().id);
    }
    let rec = store
        .set_alert_state(ids[1], AlertState::Handled, T0 + 77)
        .await
        .expect("set state");
    assert_eq!((rec.state, rec.state_at), (AlertState::Handled, T0 + 77));
    assert_eq!(store.get_alert(ids[1]).await.expect("get"), Some(rec));
    let err = store
        .set_alert_state(ids[2] + 100, AlertState::Ignored, T0)
        .await
        .expect_err("missing");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let mut counts: Vec<(AlertSeverity, AlertState, u64)> = store
        .count_alerts()
        .await
        .expect("counts")
        .into_iter()
        .map(|c| (c.severity, c.state, c.count))
        .collect();
    counts.sort();
    let mut want = vec![
        (AlertSeverity::Urgent, AlertState::Unhandled, 1),
        (AlertSeverity::Urgent, AlertState::Handled, 1),
        (AlertSeverity::Reminder, AlertState::Unhandled, 1),
    ];
    want.sort();
    assert_eq!(counts, want);
}

pub async fn whitelist_add_list_delete(store: &dyn Store) {
    assert!(store.list_whitelist().await.expect("list").is_empty());
    let e = |rule: &str, value: &str, at| NewWhitelistEntry {
        rule_id: rule.into(),
        field: "SourceIp".into(),
        value: value.into(),
        comment: Some("lab scanner".into()),
        created_at: at,
    };
    let a = store
        .add_whitelist(&e("r1", "192.0.2.7", T0))
        .await
        .expect("add");
    let b = store
        .add_whitelist(&e("*", "192.0.2.8", T0 + 1))
        .await
        .expect("add");
    assert_eq!(
        (a.rule_id.as_str(), a.value.as_str(), a.created_at),
        ("r1", "192.0.2.7", T0)
    );
    assert_eq!(a.comment.as_deref(), Some("lab scanner"));
    assert_ne!(a.id, b.id);
    let err = store
        .add_whitelist(&e("r1", "192.0.2.7", T0 + 2))
        .await
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.list_whitelist().await.expect("list"),
        vec![a.clone(), b.clone()]
    );
    store.delete_whitelist(a.id).await.expect("delete");
    let err = store.delete_whitelist(a.id).await.expect_err("gone");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(store.list_whitelist().await.expect("list"), vec![b]);
}

pub async fn settings_documents_round_trip(store: &dyn Store) {
    assert_eq!(store.get_setting("outputs").await.expect("get"), None);
    let v = serde_json::json!({"webhook": {"url": "http://192.0.2.1/x"}, "n": 3});
    store.set_setting("outputs", &v).await.expect("set");
    assert_eq!(store.get_setting("outputs").await.expect("get"), Some(v));
    let w = serde_json::json!(42);
    store.set_setting("outputs", &w).await.expect("set");
    assert_eq!(store.get_setting("outputs").await.expect("get"), Some(w));
    assert_eq!(store.get_setting("other").await.expect("get"), None);
}
