//! Input builders shared by the conformance cases.

use crate::{Asset, Enrollment, NewKey, Status, StatusChange, StatusReason, Store};
use ward_proto::HostReport;

/// A fixed base time (Unix ms) so expected times are plain arithmetic.
pub(crate) const T0: i64 = 1_700_000_000_000;

pub(crate) fn new_key(id: &str, group: Option<&str>, created_at: i64) -> NewKey {
    NewKey {
        id: id.to_string(),
        secret: format!("wk_secret_of_{id}"),
        label: format!("label of {id}"),
        default_group: group.map(str::to_string),
        created_at,
    }
}

pub(crate) fn report(hostname: &str, ips: &[&str]) -> HostReport {
    HostReport {
        hostname: hostname.to_string(),
        os: format!("TestOS for {hostname}"),
        kernel: "6.1.0-test".to_string(),
        arch: "x86_64".to_string(),
        ips: ips.iter().map(|s| s.to_string()).collect(),
        agent_version: "0.1.0".to_string(),
        agent_cpu_percent: 0.25,
        agent_rss_bytes: 12 << 20,
        uptime_secs: 3600,
    }
}

pub(crate) fn credential_hash(tag: &str) -> String {
    format!("sha256-of-credential-{tag}")
}

pub(crate) fn enrollment(
    new_id: &str,
    key_id: &str,
    fingerprint: &str,
    r: HostReport,
    at: i64,
) -> Enrollment {
    Enrollment {
        new_id: new_id.to_string(),
        key_id: key_id.to_string(),
        fingerprint: fingerprint.to_string(),
        platform: "linux-x86_64".to_string(),
        credential_hash: credential_hash(new_id),
        report: r,
        at,
    }
}

/// Creates key `key_t` (no group) if missing, then enrolls one host
/// whose fingerprint is `fp-<id>`; returns the new asset.
pub(crate) async fn add_host(store: &dyn Store, id: &str, hostname: &str, ips: &[&str]) -> Asset {
    ensure_key(store, "key_t", None).await;
    let e = enrollment(id, "key_t", &format!("fp-{id}"), report(hostname, ips), T0);
    let done = store.enroll(e).await.expect("enroll");
    assert!(!done.reclaimed, "fresh fingerprint must not reclaim");
    done.asset
}

pub(crate) async fn ensure_key(store: &dyn Store, id: &str, group: Option<&str>) {
    if store.get_key(id).await.expect("get_key").is_none() {
        store
            .create_key(new_key(id, group, T0 - 1000))
            .await
            .expect("create_key");
    }
}

pub(crate) fn change(
    status: Status,
    reason: Option<StatusReason>,
    at: i64,
    detail: Option<&str>,
) -> StatusChange {
    StatusChange {
        status,
        reason,
        at,
        detail: detail.map(str::to_string),
    }
}

/// Every asset, walking all pages of an unfiltered listing.
pub(crate) async fn all_assets(store: &dyn Store, q: &crate::AssetQuery) -> Vec<Asset> {
    let mut out = Vec::new();
    let mut q = q.clone();
    loop {
        let page = store.list_assets(&q).await.expect("list_assets");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => {
                assert_ne!(q.after.as_ref(), Some(&c), "the cursor must advance");
                assert!(out.len() <= 100_000, "pagination does not end");
                q.after = Some(c);
            }
            None => return out,
        }
    }
}
