//! Enrollment: new assets, reclaim by fingerprint, credentials.

use super::support::{
    add_host, all_assets, change, credential_hash, enrollment, new_key, report, T0,
};
use crate::{AgentAuth, Asset, AssetQuery, Enrollment, Status, StatusReason, Store, StoreError};

/// The asset a first enrollment must create, derived from the input alone.
fn new_asset(e: &Enrollment, group: Option<&str>) -> Asset {
    Asset {
        id: e.new_id.clone(),
        hostname: e.report.hostname.clone(),
        ips: e.report.ips.clone(),
        os: e.report.os.clone(),
        kernel: e.report.kernel.clone(),
        arch: e.report.arch.clone(),
        platform: e.platform.clone(),
        agent_version: e.report.agent_version.clone(),
        group: group.map(str::to_string),
        fingerprint: e.fingerprint.clone(),
        status: Status::Unprotected,
        status_reason: Some(StatusReason::NeverConnected),
        status_since: e.at,
        first_seen: None,
        last_seen: None,
        last_addr: None,
        last_error: None,
        last_endpoint: None,
        enrolled_at: e.at,
        enrolled_with_key: Some(e.key_id.clone()),
        report: Some(e.report.clone()),
        report_at: Some(e.at),
        spool: None,
    }
}

pub async fn enroll_creates_never_connected_asset(store: &dyn Store) {
    store
        .create_key(new_key("key_web", Some("web"), T0))
        .await
        .expect("create_key");
    let e = enrollment(
        "as_1",
        "key_web",
        "fp-1",
        report("web-01", &["192.0.2.10", "2001:db8::10"]),
        T0 + 5,
    );
    let done = store.enroll(e.clone()).await.expect("enroll");
    let want = new_asset(&e, Some("web"));
    assert!(!done.reclaimed);
    assert_eq!(done.asset, want);
    assert_eq!(store.get_asset("as_1").await.expect("get"), Some(want));
    assert_eq!(store.get_asset("as_missing").await.expect("get"), None);

    assert_eq!(
        store.agent_auth("as_1").await.expect("agent_auth"),
        Some(AgentAuth {
            asset_id: e.new_id.clone(),
            credential_hash: e.credential_hash.clone(),
            fingerprint: e.fingerprint.clone(),
            status: Status::Unprotected,
            status_reason: Some(StatusReason::NeverConnected),
        })
    );
    assert_eq!(store.agent_auth("as_missing").await.expect("auth"), None);

    let events = store.status_events("as_1", 10).await.expect("events");
    assert_eq!(
        events.len(),
        1,
        "enrollment starts the timeline: {events:?}"
    );
    assert_eq!(events[0].asset_id, e.new_id);
    assert_eq!(events[0].status, Status::Unprotected);
    assert_eq!(events[0].reason, Some(StatusReason::NeverConnected));
    assert_eq!(events[0].at, e.at);
}

pub async fn enroll_with_groupless_key_has_no_group(store: &dyn Store) {
    store
        .create_key(new_key("key_plain", None, T0))
        .await
        .expect("create_key");
    let e = enrollment("as_2", "key_plain", "fp-2", report("h", &[]), T0);
    let done = store.enroll(e.clone()).await.expect("enroll");
    assert_eq!(done.asset, new_asset(&e, None));
}

pub async fn enroll_reclaims_by_fingerprint(store: &dyn Store) {
    store
        .create_key(new_key("key_1", Some("first"), T0))
        .await
        .expect("create_key");
    store
        .create_key(new_key("key_2", Some("second"), T0))
        .await
        .expect("create_key");
    let first = enrollment(
        "as_old",
        "key_1",
        "fp-same",
        report("old-name", &["192.0.2.1"]),
        T0,
    );
    let created = store.enroll(first.clone()).await.expect("enroll").asset;
    let online = change(Status::Protected, None, T0 + 100, Some("connected"));
    store
        .set_status(&created.id, &online)
        .await
        .expect("set_status");

    // Reinstall on the same host: new id proposed, new credential, new report.
    let mut again = enrollment(
        "as_new",
        "key_2",
        "fp-same",
        report("new-name", &["198.51.100.7"]),
        T0 + 200,
    );
    again.platform = "linux-aarch64".into();
    let done = store.enroll(again.clone()).await.expect("re-enroll");
    assert!(done.reclaimed, "same fingerprint must reclaim");

    let mut want = created.clone();
    want.hostname = again.report.hostname.clone();
    want.ips = again.report.ips.clone();
    want.os = again.report.os.clone();
    want.kernel = again.report.kernel.clone();
    want.arch = again.report.arch.clone();
    want.agent_version = again.report.agent_version.clone();
    want.platform = again.platform.clone();
    want.report = Some(again.report.clone());
    want.report_at = Some(again.at);
    // Status, group and enrollment origin stay those of the existing asset.
    want.status = online.status;
    want.status_reason = online.reason;
    want.status_since = online.at;
    assert_eq!(done.asset, want);
    assert_eq!(
        store.get_asset(&first.new_id).await.expect("get"),
        Some(want)
    );
    assert_eq!(store.get_asset(&again.new_id).await.expect("get"), None);

    let auth = store
        .agent_auth(&first.new_id)
        .await
        .expect("agent_auth")
        .expect("asset exists");
    assert_eq!(
        auth.credential_hash, again.credential_hash,
        "new credential"
    );
    assert_ne!(
        auth.credential_hash, first.credential_hash,
        "old one is gone"
    );

    let all = all_assets(store, &AssetQuery::default()).await;
    assert_eq!(all.len(), 1, "no second asset: {all:?}");
}

pub async fn enroll_does_not_reclaim_uninstalled_asset(store: &dyn Store) {
    let gone = add_host(store, "as_gone", "box", &[]).await;
    let uninstalled = change(
        Status::Unprotected,
        Some(StatusReason::Uninstalled),
        T0 + 10,
        Some("agent uninstalled"),
    );
    store
        .set_status(&gone.id, &uninstalled)
        .await
        .expect("set_status");

    let e = enrollment(
        "as_fresh",
        "key_t",
        &gone.fingerprint,
        report("box", &[]),
        T0 + 20,
    );
    let done = store.enroll(e.clone()).await.expect("enroll");
    assert!(!done.reclaimed, "an uninstalled asset is not reclaimed");
    assert_eq!(done.asset, new_asset(&e, None));

    let old = store
        .agent_auth(&gone.id)
        .await
        .expect("auth")
        .expect("kept");
    assert_eq!(
        old.credential_hash,
        credential_hash(&gone.id),
        "old asset untouched"
    );
    assert_eq!(old.status_reason, Some(StatusReason::Uninstalled));

    // The next enrollment of that host reclaims the live asset, not the old one.
    let third = enrollment(
        "as_third",
        "key_t",
        &gone.fingerprint,
        report("box", &[]),
        T0 + 30,
    );
    let done = store.enroll(third.clone()).await.expect("enroll");
    assert!(done.reclaimed);
    assert_eq!(done.asset.id, e.new_id);
    let auth = store
        .agent_auth(&e.new_id)
        .await
        .expect("auth")
        .expect("exists");
    assert_eq!(auth.credential_hash, third.credential_hash);
    assert_eq!(all_assets(store, &AssetQuery::default()).await.len(), 2);
}

pub async fn enroll_unknown_key_is_not_found(store: &dyn Store) {
    let e = enrollment("as_x", "key_nobody_made", "fp-x", report("x", &[]), T0);
    let err = store.enroll(e).await.expect_err("unknown key");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(store.get_asset("as_x").await.expect("get"), None);
}

pub async fn enroll_clashing_new_id_conflicts(store: &dyn Store) {
    let a = add_host(store, "as_same", "one", &[]).await;
    let e = enrollment(
        "as_same",
        "key_t",
        "fp-other-host",
        report("two", &[]),
        T0 + 1,
    );
    let err = store.enroll(e).await.expect_err("id clash");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_asset("as_same").await.expect("get"),
        Some(a),
        "unchanged"
    );
}

pub async fn concurrent_enrolls_of_one_host_make_one_asset(store: &dyn Store) {
    super::support::ensure_key(store, "key_t", None).await;
    let a = enrollment("as_a", "key_t", "fp-race", report("race", &[]), T0);
    let b = enrollment("as_b", "key_t", "fp-race", report("race", &[]), T0);
    let (ra, rb) = tokio::join!(store.enroll(a.clone()), store.enroll(b.clone()));
    let (ra, rb) = (ra.expect("enroll a"), rb.expect("enroll b"));
    assert_eq!(ra.asset.id, rb.asset.id, "both name the same asset");
    assert!(ra.reclaimed != rb.reclaimed, "exactly one created it");
    let later = if ra.reclaimed { &a } else { &b };
    let auth = store
        .agent_auth(&ra.asset.id)
        .await
        .expect("auth")
        .expect("exists");
    assert_eq!(
        auth.credential_hash, later.credential_hash,
        "the reclaim's credential wins"
    );
    assert_eq!(all_assets(store, &AssetQuery::default()).await.len(), 1);
}
