//! `list_assets`: order, pagination, filters, search, cursors.
//!
//! Expectations come from a small reference model ([`Host`] and
//! [`Host::matches`]) fed with the same inputs as the store.

use super::support::{all_assets, change, enrollment, ensure_key, report, T0};
use crate::{AssetQuery, Status, StatusReason, Store, StoreError};

/// What the test gave the store about one asset.
#[derive(Debug, Clone)]
struct Host {
    id: String,
    hostname: String,
    ips: Vec<String>,
    status: Status,
    reason: Option<StatusReason>,
    group: Option<String>,
}

impl Host {
    fn new(id: &str, hostname: &str, ips: &[&str]) -> Host {
        Host {
            id: id.to_string(),
            hostname: hostname.to_string(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            status: Status::Unprotected,
            reason: Some(StatusReason::NeverConnected),
            group: None,
        }
    }

    /// The documented rule: filters are equalities, search is a
    /// case-insensitive literal substring of the hostname or of one IP.
    fn matches(&self, q: &AssetQuery) -> bool {
        let search_ok = match q.search.as_deref() {
            None | Some("") => true,
            Some(s) => {
                let s = s.to_lowercase();
                self.hostname.to_lowercase().contains(&s)
                    || self.ips.iter().any(|ip| ip.to_lowercase().contains(&s))
            }
        };
        q.status.is_none_or(|st| st == self.status)
            && q.reason.is_none_or(|r| Some(r) == self.reason)
            && q.group
                .as_ref()
                .is_none_or(|g| Some(g) == self.group.as_ref())
            && search_ok
    }
}

/// Enrolls every host (with a key carrying its group) and applies its status.
async fn load(store: &dyn Store, hosts: &[Host]) {
    for (i, h) in hosts.iter().enumerate() {
        let key = match &h.group {
            Some(g) => format!("key_group_{g}"),
            None => "key_nogroup".to_string(),
        };
        ensure_key(store, &key, h.group.as_deref()).await;
        let ips: Vec<&str> = h.ips.iter().map(String::as_str).collect();
        let e = enrollment(
            &h.id,
            &key,
            &format!("fp-{}", h.id),
            report(&h.hostname, &ips),
            T0 + i as i64,
        );
        let done = store.enroll(e).await.expect("enroll");
        assert!(!done.reclaimed);
        if (h.status, h.reason) != (Status::Unprotected, Some(StatusReason::NeverConnected)) {
            store
                .set_status(&h.id, &change(h.status, h.reason, T0 + 1_000, None))
                .await
                .expect("set_status");
        }
    }
}

/// Ids of the hosts matching `q`, in `(hostname, id)` byte order.
fn expected(hosts: &[Host], q: &AssetQuery) -> Vec<String> {
    let mut m: Vec<&Host> = hosts.iter().filter(|h| h.matches(q)).collect();
    m.sort_by(|a, b| (&a.hostname, &a.id).cmp(&(&b.hostname, &b.id)));
    m.into_iter().map(|h| h.id.clone()).collect()
}

/// More than any case creates: a walk past it is a pagination loop.
const MAX_ITEMS: usize = 100_000;

/// Walks every page of `q` with page size `limit`, checking page shapes.
async fn walk(store: &dyn Store, q: &AssetQuery, limit: u32) -> Vec<String> {
    let mut q = AssetQuery { limit, ..q.clone() };
    let mut ids = Vec::new();
    loop {
        let page = store.list_assets(&q).await.expect("list_assets");
        assert!(
            page.items.len() <= limit as usize,
            "page larger than its limit"
        );
        ids.extend(page.items.iter().map(|a| a.id.clone()));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(
                    page.items.len(),
                    limit as usize,
                    "only the last page is short"
                );
                assert_ne!(q.after.as_ref(), Some(&c), "the cursor must advance");
                assert!(ids.len() <= MAX_ITEMS, "pagination does not end");
                q.after = Some(c);
            }
            None => return ids,
        }
    }
}

pub async fn list_pages_walk_every_asset_once_in_order(store: &dyn Store) {
    let names = ["web", "DB", "cache", "Web", "db"];
    let n = 53usize;
    // Ids are a permutation unrelated to hostname order; hostnames repeat.
    let hosts: Vec<Host> = (0..n)
        .map(|i| {
            let hostname = format!("{}-{}", names[i % names.len()], i % 7);
            Host::new(&format!("as_{:03}", (i * 37) % n), &hostname, &[])
        })
        .collect();
    load(store, &hosts).await;
    let q = AssetQuery::default();
    let want = expected(&hosts, &q);
    assert_eq!(want.len(), n);

    let limit = 7u32;
    let mut pages = 0usize;
    let mut ids = Vec::new();
    let mut q = AssetQuery { limit, ..q };
    loop {
        let page = store.list_assets(&q).await.expect("list_assets");
        pages += 1;
        ids.extend(page.items.iter().map(|a| a.id.clone()));
        assert!(pages <= n, "pagination does not end");
        match page.next_cursor {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        ids, want,
        "every asset exactly once, in (hostname, id) order"
    );
    assert_eq!(pages, n.div_ceil(limit as usize), "no empty trailing page");
    assert_eq!(walk(store, &AssetQuery::default(), 1).await, want);
    assert_eq!(walk(store, &AssetQuery::default(), 1000).await, want);
}

pub async fn list_limit_defaults_to_50_and_caps_at_1000(store: &dyn Store) {
    let n = 1003usize;
    let hosts: Vec<Host> = (0..n)
        .map(|i| Host::new(&format!("as_{i:04}"), &format!("h{i:04}"), &[]))
        .collect();
    load(store, &hosts).await;
    let want = expected(&hosts, &AssetQuery::default());

    let page = store
        .list_assets(&AssetQuery::default())
        .await
        .expect("list");
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, want[..50].to_vec(), "limit 0 means 50");
    assert!(page.next_cursor.is_some());

    let big = AssetQuery {
        limit: 5000,
        ..Default::default()
    };
    let page = store.list_assets(&big).await.expect("list");
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, want[..1000].to_vec(), "capped at 1000");
    let rest = AssetQuery {
        after: page.next_cursor,
        ..big
    };
    let page = store.list_assets(&rest).await.expect("list");
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, want[1000..].to_vec());
    assert_eq!(page.next_cursor, None);
}

pub async fn list_filters_by_status_reason_and_group(store: &dyn Store) {
    let pairs = [
        (Status::Protected, None),
        (Status::Unprotected, Some(StatusReason::Offline)),
        (Status::Unprotected, Some(StatusReason::NeverConnected)),
        (Status::Unprotected, Some(StatusReason::Uninstalled)),
        (Status::Updating, None),
    ];
    let groups = [Some("web"), Some("db"), None];
    let hosts: Vec<Host> = (0..31usize)
        .map(|i| {
            let mut h = Host::new(
                &format!("as_{i:02}"),
                &format!("host-{}", (i * 7) % 31),
                &[],
            );
            (h.status, h.reason) = pairs[i % pairs.len()];
            h.group = groups[(i / 2) % groups.len()].map(str::to_string);
            h
        })
        .collect();
    load(store, &hosts).await;

    let mut queries = Vec::new();
    for (status, reason) in pairs {
        queries.push(AssetQuery {
            status: Some(status),
            ..Default::default()
        });
        queries.push(AssetQuery {
            status: Some(status),
            reason,
            ..Default::default()
        });
        queries.push(AssetQuery {
            reason,
            ..Default::default()
        });
    }
    for g in ["web", "db", "nope"] {
        queries.push(AssetQuery {
            group: Some(g.into()),
            ..Default::default()
        });
        queries.push(AssetQuery {
            group: Some(g.into()),
            status: Some(Status::Unprotected),
            ..Default::default()
        });
    }
    for q in &queries {
        let want = expected(&hosts, q);
        assert_eq!(walk(store, q, 1000).await, want, "{q:?}");
        assert_eq!(walk(store, q, 2).await, want, "paged: {q:?}");
    }
    // The model must not be vacuous: some query selects a strict subset.
    assert!(queries.iter().any(|q| {
        let n = expected(&hosts, q).len();
        n > 0 && n < hosts.len()
    }));
    // Every asset has the fields the filters promise.
    for a in all_assets(
        store,
        &AssetQuery {
            status: Some(Status::Protected),
            ..Default::default()
        },
    )
    .await
    {
        assert_eq!(a.status, Status::Protected);
    }
}

pub async fn list_search_matches_hostname_or_ip_case_insensitively(store: &dyn Store) {
    let hosts = vec![
        Host::new(
            "as_1",
            "Web-01.Example.COM",
            &["192.0.2.10", "2001:DB8::10"],
        ),
        Host::new("as_2", "db-01.example.com", &["10.0.0.5"]),
        Host::new("as_3", "cache", &["10.0.10.7", "fe80::1"]),
        Host::new("as_4", "Ünïcödé-хост", &[]),
        Host::new("as_5", "backup", &["192.0.2.100"]),
    ];
    load(store, &hosts).await;
    let search = |s: &str| AssetQuery {
        search: Some(s.to_string()),
        ..Default::default()
    };
    // Spot checks written from the inputs above.
    assert_eq!(walk(store, &search("WEB"), 10).await, ["as_1"]);
    assert_eq!(
        walk(store, &search("192.0.2.1"), 10).await,
        ["as_1", "as_5"]
    );
    assert_eq!(walk(store, &search("ХОСТ"), 10).await, ["as_4"]);
    for s in [
        "web",
        "EXAMPLE.com",
        "10.0.0",
        "192.0.2.1",
        "db8::1",
        "FE80",
        "ünï",
        "0",
        "-01",
        "nothing-here",
        "\"",
        ",",
        "[",
        "\"10.0.0.5\"",
    ] {
        let q = search(s);
        assert_eq!(
            walk(store, &q, 2).await,
            expected(&hosts, &q),
            "search {s:?}"
        );
    }
    // Search combines with filters.
    let q = AssetQuery {
        search: Some("10.".into()),
        status: Some(Status::Unprotected),
        ..Default::default()
    };
    assert_eq!(walk(store, &q, 1).await, expected(&hosts, &q));
}

pub async fn list_search_treats_like_metacharacters_literally(store: &dyn Store) {
    let names = [
        "a%b", "a_b", "axb", "a\\b", "ab", "a.b", "a*b", "a[b]", "100%", "x'y", "a\\%b",
    ];
    let hosts: Vec<Host> = names
        .iter()
        .enumerate()
        .map(|(i, h)| Host::new(&format!("as_{i:02}"), h, &[]))
        .collect();
    load(store, &hosts).await;
    let hostnames = |ids: Vec<String>| -> Vec<String> {
        ids.iter()
            .map(|id| {
                hosts
                    .iter()
                    .find(|h| &h.id == id)
                    .map(|h| h.hostname.clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    let q = |s: &str| AssetQuery {
        search: Some(s.to_string()),
        ..Default::default()
    };
    // Spot checks from the names above (byte order: '1' < 'a').
    assert_eq!(
        hostnames(walk(store, &q("%"), 10).await),
        ["100%", "a%b", "a\\%b"]
    );
    assert_eq!(hostnames(walk(store, &q("_"), 10).await), ["a_b"]);
    assert_eq!(
        hostnames(walk(store, &q("\\"), 10).await),
        ["a\\%b", "a\\b"]
    );
    for s in [
        "%", "_", "\\", "a%", "%b", "a_b", "[b]", "*", ".", "'", "%%", "a\\", "\\%", "a_",
    ] {
        let query = q(s);
        assert_eq!(
            walk(store, &query, 3).await,
            expected(&hosts, &query),
            "search {s:?}"
        );
    }
}

pub async fn list_cursor_round_trips_awkward_hostnames(store: &dyn Store) {
    let names = [
        "Ünïcödé-хост",
        "ünïcödé-хост",
        "o'brien",
        "100%",
        "back\\slash",
        "quote\"d",
        "with space",
        "😀-emoji",
        "a,b",
        "",
        "tab\there",
        "Z",
        "z",
        "[1]",
        "{json}",
        "end\u{10FFFF}",
        "o'brien",
        "%",
        "",
    ];
    let hosts: Vec<Host> = names
        .iter()
        .enumerate()
        .map(|(i, h)| Host::new(&format!("as_{:02}", (i * 7) % names.len()), h, &[]))
        .collect();
    load(store, &hosts).await;
    let all = AssetQuery::default();
    let want = expected(&hosts, &all);
    for limit in [1, 2, 3, 5] {
        assert_eq!(walk(store, &all, limit).await, want, "page size {limit}");
    }
    let listed = all_assets(store, &all).await;
    for a in &listed {
        let h = hosts.iter().find(|h| h.id == a.id).expect("known id");
        assert_eq!(a.hostname, h.hostname, "hostname stored exactly");
    }
    let q = AssetQuery {
        search: Some("O".into()),
        ..Default::default()
    };
    assert_eq!(walk(store, &q, 1).await, expected(&hosts, &q));
}

pub async fn list_malformed_cursor_is_a_client_error(store: &dyn Store) {
    super::support::add_host(store, "as_1", "one", &[]).await;
    for bad in ["!!not a cursor!!", "AAAA", "%00"] {
        let q = AssetQuery {
            after: Some(bad.to_string()),
            ..Default::default()
        };
        let err = store.list_assets(&q).await.expect_err("malformed cursor");
        assert!(!matches!(err, StoreError::Backend(_)), "{bad:?}: {err:?}");
    }
}
