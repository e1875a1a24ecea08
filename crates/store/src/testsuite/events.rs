//! Host events: de-duplicated ingestion, the ordered feed, retention, spool health.

use super::support::{add_host, T0};
use crate::{SpoolStats, Store, StoreError};
use std::net::{IpAddr, Ipv4Addr};
use ward_events::{Event, EventData, SshFailed};

/// An `auth.ssh_failed` event with id `id` at `T0 + id` seconds, from
/// 192.0.2.<id % 250>; the parser's host name is deliberately wrong.
pub(crate) fn failed(id: u64) -> Event {
    let mut e = Event::new(
        T0 + id as i64 * 1000,
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: format!("user{id}"),
            src_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, (id % 250) as u8)),
            src_port: 40_000,
            method: "password".into(),
            invalid_user: false,
        }),
    );
    e.id = id;
    e.host = "spoofed-host".into();
    e
}

fn batch(ids: &[u64]) -> Vec<Event> {
    ids.iter().map(|&i| failed(i)).collect()
}

/// The event as the store must give it back: `host` is the asset id.
fn as_stored(id: u64, asset: &str) -> Event {
    let mut e = failed(id);
    e.host = asset.to_string();
    e
}

pub async fn events_ingest_drops_ids_at_or_below_the_high_water_mark(store: &dyn Store) {
    add_host(store, "as_ev", "ev-host", &[]).await;
    assert_eq!(store.event_high_water("as_ev").await.expect("hw"), 0);
    let out = store
        .ingest_events("as_ev", &batch(&[1, 2, 3]), T0)
        .await
        .expect("ingest");
    assert_eq!((out.stored, out.duplicates, out.high_water), (3, 0, 3));
    // A re-sent tail (ack lost) plus new events.
    let out = store
        .ingest_events("as_ev", &batch(&[2, 3, 4, 7]), T0 + 1)
        .await
        .expect("ingest");
    assert_eq!((out.stored, out.duplicates, out.high_water), (2, 2, 7));
    // Everything already stored: the ack repeats the mark.
    let out = store
        .ingest_events("as_ev", &batch(&[4, 7]), T0 + 2)
        .await
        .expect("ingest");
    assert_eq!((out.stored, out.duplicates, out.high_water), (0, 2, 7));
    let out = store
        .ingest_events("as_ev", &[], T0 + 2)
        .await
        .expect("empty batch");
    assert_eq!((out.stored, out.high_water), (0, 7));
    assert_eq!(store.event_high_water("as_ev").await.expect("hw"), 7);
    assert_eq!(store.count_events(Some("as_ev")).await.expect("count"), 5);
    assert_eq!(store.count_events(None).await.expect("count"), 5);

    let feed = store.events_after(0, 0).await.expect("feed");
    let ids: Vec<u64> = feed.iter().map(|s| s.event.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 7]);
    for s in &feed {
        assert_eq!(s.asset_id, "as_ev");
        assert_eq!(s.event, as_stored(s.event.id, "as_ev"));
    }
    assert_eq!(feed[0].received_at, T0);
    assert_eq!(feed[3].received_at, T0 + 1);

    let some = store
        .asset_events("as_ev", &[7, 1, 5, 7])
        .await
        .expect("asset_events");
    let ids: Vec<u64> = some.iter().map(|s| s.event.id).collect();
    assert_eq!(ids, vec![1, 7], "id order, missing ids left out");
    assert!(store
        .asset_events("as_other", &[1])
        .await
        .expect("asset_events")
        .is_empty());
}

pub async fn events_bad_batches_store_nothing(store: &dyn Store) {
    add_host(store, "as_bad", "bad-host", &[]).await;
    for ids in [&[1u64, 3, 2][..], &[5, 5]] {
        let err = store
            .ingest_events("as_bad", &batch(ids), T0)
            .await
            .expect_err("non-increasing ids are refused");
        assert!(
            !matches!(err, StoreError::Backend(_)),
            "{ids:?}: a caller error, got {err:?}"
        );
    }
    let mut huge = failed(1);
    huge.id = u64::MAX;
    let err = store
        .ingest_events("as_bad", &[failed(1), huge], T0)
        .await
        .expect_err("ids above i64::MAX are refused");
    assert!(!matches!(err, StoreError::Backend(_)), "{err:?}");
    assert_eq!(store.count_events(None).await.expect("count"), 0);
    assert_eq!(store.event_high_water("as_bad").await.expect("hw"), 0);
    let err = store
        .ingest_events("as_missing", &batch(&[1]), T0)
        .await
        .expect_err("unknown asset");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn events_feed_is_in_ingest_order_across_assets(store: &dyn Store) {
    add_host(store, "as_a", "a", &[]).await;
    add_host(store, "as_b", "b", &[]).await;
    // Interleaved batches; ingest order is the order of the calls.
    let plan: &[(&str, &[u64])] = &[
        ("as_a", &[1, 2]),
        ("as_b", &[10]),
        ("as_a", &[3]),
        ("as_b", &[11, 12, 13]),
    ];
    let mut want = Vec::new();
    for (asset, ids) in plan {
        store
            .ingest_events(asset, &batch(ids), T0)
            .await
            .expect("ingest");
        want.extend(ids.iter().map(|&i| (asset.to_string(), i)));
    }
    // Read in pages of 2 with the seq cursor.
    let mut got = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.events_after(cursor, 2).await.expect("feed");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        assert!(last.seq > cursor);
        cursor = last.seq;
        got.extend(page.into_iter().map(|s| (s.asset_id, s.event.id)));
    }
    assert_eq!(got, want);
    let all = store.events_after(0, 100).await.expect("feed");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.count_events(Some("as_b")).await.expect("count"), 4);
}

pub async fn events_prune_by_age_and_cap_never_past_the_cursor(store: &dyn Store) {
    add_host(store, "as_p", "p", &[]).await;
    // Ten events, received at T0 + id.
    for id in 1..=10u64 {
        store
            .ingest_events("as_p", &batch(&[id]), T0 + id as i64)
            .await
            .expect("ingest");
    }
    let seqs: Vec<i64> = store
        .events_after(0, 100)
        .await
        .expect("feed")
        .iter()
        .map(|s| s.seq)
        .collect();
    async fn remaining(s: &dyn Store) -> Vec<u64> {
        s.events_after(0, 100)
            .await
            .expect("feed")
            .iter()
            .map(|e| e.event.id)
            .collect()
    }
    // Age: received before T0 + 4 → ids 1..=3 go.
    let n = store
        .prune_events(T0 + 4, u64::MAX, i64::MAX)
        .await
        .expect("prune");
    assert_eq!(n, 3);
    assert_eq!(remaining(store).await, (4..=10).collect::<Vec<_>>());
    // Cap: keep at most 4 → ids 4..=6 go.
    let n = store.prune_events(0, 4, i64::MAX).await.expect("prune");
    assert_eq!(n, 3);
    assert_eq!(remaining(store).await, (7..=10).collect::<Vec<_>>());
    // Everything is old, but nothing past the cursor (the seq of id 8) goes.
    let n = store
        .prune_events(T0 + 1_000, 0, seqs[7])
        .await
        .expect("prune");
    assert_eq!(n, 2);
    assert_eq!(remaining(store).await, vec![9, 10]);
    // The mark survives retention: re-sent old ids are still duplicates.
    let out = store
        .ingest_events("as_p", &batch(&[1, 2, 11]), T0 + 20)
        .await
        .expect("ingest");
    assert_eq!((out.stored, out.duplicates, out.high_water), (1, 2, 11));
    // New rows get new seqs (never reused).
    let feed = store.events_after(0, 100).await.expect("feed");
    assert!(feed.last().expect("row").seq > seqs[9]);
}

pub async fn spool_stats_are_stored_on_the_asset(store: &dyn Store) {
    add_host(store, "as_s", "s", &[]).await;
    add_host(store, "as_t", "t", &[]).await;
    assert_eq!(
        store
            .get_asset("as_s")
            .await
            .expect("get")
            .expect("asset")
            .spool,
        None
    );
    let s1 = SpoolStats {
        depth: 12,
        dropped_total: 3,
        at: T0 + 5,
    };
    let s2 = SpoolStats {
        depth: 0,
        dropped_total: 0,
        at: T0 + 6,
    };
    store
        .set_spool_stats(&[
            ("as_s".into(), s1),
            ("as_t".into(), s2),
            ("as_unknown".into(), s1),
        ])
        .await
        .expect("set");
    assert_eq!(
        store
            .get_asset("as_s")
            .await
            .expect("get")
            .expect("asset")
            .spool,
        Some(s1)
    );
    assert_eq!(
        store
            .get_asset("as_t")
            .await
            .expect("get")
            .expect("asset")
            .spool,
        Some(s2)
    );
    let s3 = SpoolStats {
        depth: 1,
        dropped_total: 9,
        at: T0 + 7,
    };
    store
        .set_spool_stats(&[("as_s".into(), s3)])
        .await
        .expect("set");
    let listed = super::support::all_assets(store, &crate::AssetQuery::default()).await;
    let s = listed.iter().find(|a| a.id == "as_s").expect("listed");
    assert_eq!(s.spool, Some(s3), "listing carries the spool too");
}
