//! The console's lifecycle pages over a real SQLite store: bulk uninstall
//! (sent, queued with expiry, offline not sent), pending commands on the
//! Assets list and the asset page, cancelling, tamper protection per group,
//! uninstall tokens. (The real delivery is in tests/console/*.test.mjs.)

mod support;

use axum::http::StatusCode;
use support::{get, post, sign_in, TestHost};
use ward_console::ConsoleHost;
use ward_proto::HostReport;
use ward_store::{CommandState, Enrollment, NewKey};

const PASSWORD: &str = "correct horse battery staple";

async fn setup() -> (tempfile::TempDir, std::sync::Arc<TestHost>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::open(dir.path(), &dir.path().join("ward.db"), PASSWORD).await;
    host.store
        .create_key(NewKey {
            id: "key_w".into(),
            secret: "wk_w".into(),
            label: "web".into(),
            default_group: Some("web".into()),
            created_at: 1_700_000_000_000,
        })
        .await
        .unwrap();
    for (id, name) in [("as_on", "online-1"), ("as_off", "offline-1")] {
        host.store
            .enroll(Enrollment {
                new_id: id.into(),
                key_id: "key_w".into(),
                fingerprint: format!("fp-{id}"),
                platform: "linux-x86_64".into(),
                credential_hash: format!("h-{id}"),
                report: HostReport {
                    hostname: name.into(),
                    ..Default::default()
                },
                at: 1_700_000_000_000,
            })
            .await
            .unwrap();
    }
    host.online.lock().unwrap().insert("as_on".into());
    host.refresh().await;
    let app = support::router(host.clone());
    (dir, host, app)
}

#[tokio::test]
async fn bulk_uninstall_sends_queues_and_shows_pending_with_expiry() {
    let (_d, host, app) = setup().await;
    let (cookie, csrf) = sign_in(&app, PASSWORD).await;
    let r = post(
        &app,
        "/console/assets/uninstall",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("id", "as_on"),
            ("id", "as_off"),
            ("queue", "1"),
            ("expires", "3600"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Sent now (1)"), "{}", r.body);
    assert!(r.body.contains("Offline — pending (1)"), "{}", r.body);
    assert!(r.body.contains("pending · expires in 59 min"), "{}", r.body);
    let pending = host.pending_commands(&["as_off".to_string()]).await;
    assert_eq!(pending.len(), 1);

    let list = get(&app, "/console/assets", Some(&cookie)).await;
    assert_eq!(
        list.body.matches("Uninstall pending · expires in").count(),
        2
    );

    // The asset page lists it; cancelling withdraws it.
    let page = get(&app, "/console/assets/as_off", Some(&cookie)).await;
    assert!(page.body.contains(&pending[0].id), "{}", page.body);
    assert!(page.body.contains(">Cancel<"));
    let r = post(
        &app,
        &format!("/console/commands/{}/cancel", pending[0].id),
        Some(&cookie),
        &[("csrf", &csrf), ("asset", "as_off")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some("/console/assets/as_off?msg=cancelled")
    );
    let c = host
        .store
        .get_command(&pending[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.state, CommandState::Cancelled);
    let r = post(
        &app,
        &format!("/console/commands/{}/cancel", pending[0].id),
        Some(&cookie),
        &[("csrf", &csrf), ("asset", "as_off")],
    )
    .await;
    assert_eq!(
        r.header("location"),
        Some("/console/assets/as_off?msg=not-pending")
    );

    // Without "queue", offline servers are only reported.
    let r = post(
        &app,
        "/console/assets/uninstall",
        Some(&cookie),
        &[("csrf", &csrf), ("id", "as_off")],
    )
    .await;
    assert!(r.body.contains("Offline — not sent (1)"), "{}", r.body);
    assert!(host
        .pending_commands(&["as_off".to_string()])
        .await
        .is_empty());
    let r = post(
        &app,
        "/console/assets/uninstall",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tamper_protection_is_set_per_group_and_tokens_are_shown_once() {
    let (_d, host, app) = setup().await;
    let (cookie, csrf) = sign_in(&app, PASSWORD).await;
    let page = get(&app, "/console/settings/policy", Some(&cookie)).await;
    assert!(
        page.body.contains("name=\"g:web\""),
        "the web group is offered"
    );
    let r = post(
        &app,
        "/console/settings/policy/tamper",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("default", "1"),
            ("g:web", "off"),
            ("g:db", "on"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let t = host.tamper_protection();
    assert!(t.default && !t.protects(Some("web")) && t.protects(Some("db")));
    let r = post(
        &app,
        "/console/settings/policy/tamper",
        Some(&cookie),
        &[("csrf", &csrf), ("g:web", "sometimes")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(host.tamper_protection(), t, "nothing changed");
    let page = get(&app, "/console/assets/as_on", Some(&cookie)).await;
    assert!(page.body.contains("Tamper protection"));

    let r = post(
        &app,
        "/console/assets/as_on/token",
        Some(&cookie),
        &[("csrf", &csrf), ("expires", "3600")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("wut1.test-token-for-as_on"), "{}", r.body);
    assert!(r.body.contains("shown only now"));
    let again = get(&app, "/console/assets/as_on", Some(&cookie)).await;
    assert!(
        !again.body.contains("wut1.test-token-for-as_on"),
        "shown once"
    );
    let r = post(
        &app,
        "/console/assets/as_on/token",
        Some(&cookie),
        &[("csrf", &csrf), ("expires", "99")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
