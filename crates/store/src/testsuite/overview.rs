//! Console aggregates: assets per agent version, groups with their counts.

use std::collections::BTreeMap;

use super::support::{change, enrollment, ensure_key, report, T0};
use crate::{GroupCount, Status, StatusReason, Store, VersionCount};

/// (id, group, agent version, uninstalled?)
const HOSTS: &[(&str, Option<&str>, &str, bool)] = &[
    ("as_a", Some("web"), "0.2.0", false),
    ("as_b", Some("web"), "0.1.0", false),
    ("as_c", Some("db"), "0.2.0", false),
    ("as_d", None, "0.2.0", false),
    ("as_e", Some("Web"), "0.1.0", false),
    ("as_f", Some("db"), "0.3.0", true),
    ("as_g", None, "0.1.0", false),
    ("as_h", Some("web"), "0.3.0", true),
];

async fn load(store: &dyn Store) {
    for (i, (id, group, version, uninstalled)) in HOSTS.iter().enumerate() {
        let key = match group {
            Some(g) => format!("key_group_{g}"),
            None => "key_nogroup".to_string(),
        };
        ensure_key(store, &key, *group).await;
        let mut r = report(&format!("host-{id}"), &["10.0.0.1"]);
        r.agent_version = version.to_string();
        let e = enrollment(id, &key, &format!("fp-{id}"), r, T0 + i as i64);
        store.enroll(e).await.expect("enroll");
        if *uninstalled {
            let c = change(
                Status::Unprotected,
                Some(StatusReason::Uninstalled),
                T0 + 100,
                None,
            );
            store.set_status(id, &c).await.expect("set_status");
        }
    }
}

pub async fn count_by_agent_version_skips_uninstalled_and_sorts_by_count(store: &dyn Store) {
    assert_eq!(store.count_by_agent_version().await.unwrap(), vec![]);
    load(store).await;
    // Reference: count versions of non-uninstalled hosts, then order.
    let mut by_version: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, _, v, uninstalled) in HOSTS {
        if !uninstalled {
            *by_version.entry(v).or_default() += 1;
        }
    }
    let mut want: Vec<VersionCount> = by_version
        .into_iter()
        .map(|(v, n)| VersionCount {
            version: v.to_string(),
            count: n,
        })
        .collect();
    want.sort_by(|a, b| b.count.cmp(&a.count).then(a.version.cmp(&b.version)));
    let got = store.count_by_agent_version().await.unwrap();
    assert_eq!(got, want);
    assert!(
        !got.iter().any(|v| v.version == "0.3.0"),
        "only uninstalled assets run 0.3.0"
    );

    // A new report with a new version moves the asset to it.
    let mut r = report("host-as_a", &["10.0.0.1"]);
    r.agent_version = "0.4.0".to_string();
    store.update_report("as_a", &r, T0 + 200).await.unwrap();
    let got = store.count_by_agent_version().await.unwrap();
    let n = |v: &str| got.iter().find(|c| c.version == v).map(|c| c.count);
    assert_eq!(n("0.4.0"), Some(1));
    assert_eq!(n("0.2.0"), Some(2));
}

pub async fn list_groups_counts_every_grouped_asset_in_byte_order(store: &dyn Store) {
    assert_eq!(store.list_groups().await.unwrap(), vec![]);
    load(store).await;
    let mut by_group: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, g, _, _) in HOSTS {
        if let Some(g) = g {
            *by_group.entry(g).or_default() += 1;
        }
    }
    // BTreeMap<&str> iterates in byte order: "Web" < "db" < "web".
    let want: Vec<GroupCount> = by_group
        .into_iter()
        .map(|(g, n)| GroupCount {
            group: g.to_string(),
            count: n,
        })
        .collect();
    assert_eq!(want[0].group, "Web", "the reference is in byte order");
    assert_eq!(store.list_groups().await.unwrap(), want);
}
