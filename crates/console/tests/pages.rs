//! The console's pages through its router over a real SQLite store:
//! authentication, CSRF on every form, escaping of agent-supplied text, and
//! the policy form.

mod support;

use axum::http::StatusCode;
use support::{get, post, sign_in, TestHost};
use ward_console::ConsoleHost;
use ward_proto::{HostReport, Policy};
use ward_store::{Enrollment, NewKey, SessionStart, Status, StatusChange, StatusReason, Store};

const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    _dir: tempfile::TempDir,
    host: std::sync::Arc<TestHost>,
    app: axum::Router,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::open(dir.path(), &dir.path().join("ward.db"), PASSWORD).await;
    let app = support::router(host.clone());
    Fixture {
        _dir: dir,
        host,
        app,
    }
}

fn report(hostname: &str, os: &str, ips: &[&str]) -> HostReport {
    HostReport {
        hostname: hostname.into(),
        os: os.into(),
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        ips: ips.iter().map(|s| s.to_string()).collect(),
        agent_version: "0.1.0".into(),
        agent_cpu_percent: 0.1,
        agent_rss_bytes: 8 << 20,
        uptime_secs: 60,
    }
}

async fn add_key(store: &dyn Store, id: &str, label: &str, group: Option<&str>) {
    store
        .create_key(NewKey {
            id: id.into(),
            secret: format!("wk_{id}"),
            label: label.into(),
            default_group: group.map(str::to_string),
            created_at: 1_700_000_000_000,
        })
        .await
        .unwrap();
}

async fn enroll(store: &dyn Store, id: &str, key: &str, r: HostReport) {
    store
        .enroll(Enrollment {
            new_id: id.into(),
            key_id: key.into(),
            fingerprint: format!("fp-{id}"),
            platform: "linux-x86_64".into(),
            credential_hash: format!("hash-{id}"),
            report: r,
            at: 1_700_000_000_000,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_works() {
    let f = fixture().await;
    for path in [
        "/console/",
        "/console/assets?q=a",
        "/console/settings/agents",
        "/console/settings/policy",
    ] {
        let r = get(&f.app, path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        let loc = r.header("location").unwrap();
        assert!(
            loc.starts_with("/console/signin?next=%2Fconsole%2F"),
            "{path} -> {loc}"
        );
    }
    assert_eq!(
        get(&f.app, "/console/live?ids=x", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&f.app, "/console/", Some("made-up")).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        get(&f.app, "/", None).await.header("location"),
        Some("/console/")
    );

    // Wrong password: 401 and the form again; right one: a new session cookie.
    let page = get(&f.app, "/console/signin", None).await;
    let anon = page.session_cookie().unwrap();
    let csrf = page.csrf().unwrap();
    let wrong = post(
        &f.app,
        "/console/signin",
        Some(&anon),
        &[("csrf", &csrf), ("password", "nope")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("That password is not right."));
    let (cookie, _) = sign_in(&f.app, PASSWORD).await;
    assert_ne!(cookie, anon);
    let overview = get(&f.app, "/console/", Some(&cookie)).await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("No servers yet — copy this command"));
    assert!(overview
        .body
        .contains("There is no active verification key"));
    add_key(&*f.host.store, "key_n", "newcomer", None).await;
    let overview = get(&f.app, "/console/", Some(&cookie)).await;
    assert!(
        overview
            .body
            .contains("install --key 'wk_key_n' --platform linux-"),
        "the empty state shows the command"
    );

    // Security headers on every page.
    let csp = overview.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(overview.header("x-frame-options"), Some("DENY"));
    assert_eq!(overview.header("cache-control"), Some("no-store"));

    // A password reset ends the session.
    f.host
        .auth
        .password_file()
        .set("a whole new password")
        .unwrap();
    assert_eq!(
        get(&f.app, "/console/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn every_form_needs_the_session_csrf_token() {
    let f = fixture().await;
    add_key(&*f.host.store, "key_a", "a", None).await;
    let (cookie, csrf) = sign_in(&f.app, PASSWORD).await;
    let (_, other_csrf) = sign_in(&f.app, PASSWORD).await;
    let forms: [(&str, Vec<(&str, &str)>); 8] = [
        ("/console/settings/keys", vec![("label", "x")]),
        ("/console/settings/keys/key_a/revoke", vec![]),
        (
            "/console/settings/policy",
            vec![
                ("keepalive_secs", "9"),
                ("missed_keepalives", "3"),
                ("report_interval_mins", "60"),
            ],
        ),
        ("/console/assets/uninstall", vec![("id", "as_1")]),
        ("/console/settings/policy/tamper", vec![("default", "1")]),
        ("/console/assets/as_1/token", vec![("expires", "3600")]),
        ("/console/commands/cmd_1/cancel", vec![("asset", "as_1")]),
        ("/console/signout", vec![]),
    ];
    for (path, fields) in &forms {
        for bad in [
            None,
            Some(""),
            Some("0123456789abcdef0123456789abcdef"),
            Some(other_csrf.as_str()),
        ] {
            let mut form = fields.clone();
            if let Some(t) = bad {
                form.push(("csrf", t));
            }
            let r = post(&f.app, path, Some(&cookie), &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with {bad:?}");
        }
    }
    // Nothing changed: the key is live, the policy is the default, still signed in.
    assert!(f
        .host
        .store
        .get_key("key_a")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert_eq!(f.host.store.list_keys().await.unwrap().len(), 1);
    assert_eq!(f.host.policy(), Policy::default());
    assert_eq!(f.host.tamper_protection(), Default::default());
    assert_eq!(
        get(&f.app, "/console/", Some(&cookie)).await.status,
        StatusCode::OK
    );

    // With the token, each works.
    let r = post(
        &f.app,
        "/console/settings/keys/key_a/revoke",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(f
        .host
        .store
        .get_key("key_a")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let r = post(
        &f.app,
        "/console/signout",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert_eq!(
        get(&f.app, "/console/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn agent_supplied_text_is_escaped_on_every_page() {
    let f = fixture().await;
    let store = &*f.host.store;
    add_key(store, "key_x", "<em>label</em>", Some("<i>grp</i>")).await;
    let host = "<img src=x onerror=alert(1)>";
    enroll(
        store,
        "as_evil",
        "key_x",
        report(host, "<script>alert(2)</script>", &["<b>10.0.0.1</b>"]),
    )
    .await;
    store
        .record_session_start(
            "as_evil",
            &SessionStart {
                at: 1_700_000_001_000,
                addr: "<u>addr</u>".into(),
                endpoint: Some("\"><svg onload=alert(4)>".into()),
                last_error: Some("\"><svg onload=alert(3)>".into()),
                agent_version: "<s>v</s>".into(),
            },
        )
        .await
        .unwrap();
    store
        .set_status(
            "as_evil",
            &StatusChange {
                status: Status::Unprotected,
                reason: Some(StatusReason::Offline),
                at: 1_700_000_002_000,
                detail: Some("<marquee>detail</marquee>".into()),
            },
        )
        .await
        .unwrap();
    f.host.refresh().await;
    let (cookie, csrf) = sign_in(&f.app, PASSWORD).await;
    let raw = [
        "<img src=x",
        "<script>alert",
        "<svg onload",
        "<b>10.0.0.1",
        "<i>grp",
        "<em>label",
        "<u>addr",
        "<marquee>",
        "<s>v</s>",
    ];
    let pages = [
        get(&f.app, "/console/", Some(&cookie)).await,
        get(&f.app, "/console/assets", Some(&cookie)).await,
        get(
            &f.app,
            "/console/assets?q=%3Cimg&group=%3Ci%3Egrp%3C%2Fi%3E",
            Some(&cookie),
        )
        .await,
        get(&f.app, "/console/assets/as_evil", Some(&cookie)).await,
        get(&f.app, "/console/settings/agents", Some(&cookie)).await,
        get(&f.app, "/console/settings/agents?uq=%3Cimg", Some(&cookie)).await,
        post(
            &f.app,
            "/console/assets/uninstall",
            Some(&cookie),
            &[("csrf", &csrf), ("id", "as_evil")],
        )
        .await,
    ];
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.status, StatusCode::OK, "page {i}: {}", p.body);
        for r in raw {
            assert!(!p.body.contains(r), "page {i} contains raw {r:?}");
        }
    }
    // The text is shown, escaped, where it belongs.
    let assets = &pages[1].body;
    assert!(assets.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(assets.contains("&lt;b&gt;10.0.0.1&lt;/b&gt;"));
    assert!(assets.contains("&lt;i&gt;grp&lt;/i&gt;"));
    let searched = &pages[2].body;
    assert!(
        searched.contains("value=\"&lt;img\""),
        "the search box keeps the text, escaped"
    );
    assert!(
        searched.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "and finds the host"
    );
    let detail = &pages[3].body;
    assert!(
        detail.contains("&quot;&gt;&lt;svg onload=alert(3)&gt;"),
        "last error"
    );
    assert!(
        detail.contains("&lt;marquee&gt;detail&lt;/marquee&gt;"),
        "timeline detail"
    );
    assert!(
        detail.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "OS"
    );
    assert!(pages[4].body.contains("&lt;em&gt;label&lt;/em&gt;"));
    // The bulk dialog reads the hostname from an attribute, escaped too.
    assert!(assets.contains("data-hostname=\"&lt;img src=x onerror=alert(1)&gt;\""));
}

#[tokio::test]
async fn policy_form_validates_and_saves() {
    let f = fixture().await;
    let (cookie, csrf) = sign_in(&f.app, PASSWORD).await;
    let bad = post(
        &f.app,
        "/console/settings/policy",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("keepalive_secs", "0"),
            ("missed_keepalives", "3"),
            ("report_interval_mins", "60"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad
        .body
        .contains("keepalive_secs must be between 1 and 3600"));
    assert!(bad.body.contains("Nothing was changed."));
    assert_eq!(f.host.policy(), Policy::default());

    let ok = post(
        &f.app,
        "/console/settings/policy",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("keepalive_secs", "15"),
            ("missed_keepalives", "4"),
            ("report_interval_mins", "120"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let want = Policy {
        keepalive_secs: 15,
        missed_keepalives: 4,
        report_interval_secs: 7200,
    };
    assert_eq!(f.host.policy(), want);
    assert_eq!(f.host.store.get_policy().await.unwrap(), Some(want));
    let page = get(&f.app, "/console/settings/policy?msg=saved", Some(&cookie)).await;
    assert!(page.body.contains("Policy saved"));
    assert!(
        page.body.contains("1 min"),
        "offline after 15 s x 4 = 1 min"
    );
}

#[tokio::test]
async fn assets_page_pages_with_the_store_cursor_and_filters() {
    let f = fixture().await;
    let store = &*f.host.store;
    add_key(store, "key_w", "w", Some("web")).await;
    add_key(store, "key_d", "d", Some("db")).await;
    for i in 0..120 {
        let key = if i % 3 == 0 { "key_d" } else { "key_w" };
        enroll(
            store,
            &format!("as_{i:03}"),
            key,
            report(&format!("host-{i:03}"), "Linux", &[&format!("10.1.0.{i}")]),
        )
        .await;
    }
    f.host.refresh().await;
    let (cookie, _) = sign_in(&f.app, PASSWORD).await;
    let rows = |body: &str| body.matches("<tr data-asset-id=").count();

    let first = get(&f.app, "/console/assets", Some(&cookie)).await;
    assert_eq!(rows(&first.body), 50);
    assert!(first.body.contains("Showing 1–50"));
    let next = first
        .body
        .split("rel=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = get(&f.app, &next, Some(&cookie)).await;
    assert_eq!(rows(&second.body), 50);
    assert!(second.body.contains("Showing 51–100"));
    assert!(second.body.contains("host-050") && !second.body.contains("host-049<"));

    let db = get(&f.app, "/console/assets?group=db", Some(&cookie)).await;
    assert_eq!(rows(&db.body), 40, "every third host is in db");
    let search = get(&f.app, "/console/assets?q=10.1.0.11", Some(&cookie)).await;
    // 10.1.0.11 and 10.1.0.110..119
    assert_eq!(rows(&search.body), 11);
    let none = get(&f.app, "/console/assets?status=offline", Some(&cookie)).await;
    assert_eq!(rows(&none.body), 0);
    assert!(none.body.contains("No servers match"));
    let stale = get(&f.app, "/console/assets?cursor=not-a-cursor", Some(&cookie)).await;
    assert_eq!(stale.status, StatusCode::OK);
    assert!(stale.body.contains("no longer valid"));
}

#[tokio::test]
async fn updates_page_lists_releases_and_saves_the_rollout() {
    let f = fixture().await;
    let (cookie, csrf) = sign_in(&f.app, PASSWORD).await;
    let store = f.host.store();
    store
        .add_release(&ward_store::Release {
            version: "0.2.0".into(),
            platform: "linux-x86_64".into(),
            agent: ward_store::ReleaseFile {
                sha256: "ab".repeat(32),
                size: 4 << 20,
            },
            update: None,
            added_at: 1_700_000_000_000,
            notes: Some("<b>fixes</b>".into()),
        })
        .await
        .unwrap();
    let page = get(&f.app, "/console/settings/updates", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-release=\"0.2.0\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("abababababab"), "short hash shown");
    assert!(page.body.contains("&lt;b&gt;fixes"), "notes are escaped");
    assert!(page.body.contains("TESTKEY+release/public="));

    // Save: pinned, 25 %, two groups.
    let res = post(
        &f.app,
        "/console/settings/updates",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("pinned_version", "0.2.0"),
            ("percentage", "25"),
            ("groups", "canary, web"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let r = f.host.rollout().await.unwrap();
    assert_eq!(r.pinned_version.as_deref(), Some("0.2.0"));
    assert_eq!((r.percentage, r.groups.len()), (25, 2));
    // Bad values: 400, a message, nothing changed.
    let res = post(
        &f.app,
        "/console/settings/updates",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("pinned_version", ""),
            ("percentage", "150"),
            ("groups", ""),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("0 to 100") && res.body.contains("Nothing was changed"));
    assert_eq!(f.host.rollout().await.unwrap().percentage, 25);
    // Without the CSRF token: refused.
    let res = post(
        &f.app,
        "/console/settings/updates",
        Some(&cookie),
        &[("percentage", "10")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(f.host.rollout().await.unwrap().percentage, 25);
}

#[tokio::test]
async fn asset_page_shows_updates_and_guardian_events() {
    let f = fixture().await;
    let (cookie, _) = sign_in(&f.app, PASSWORD).await;
    let store = f.host.store();
    add_key(store, "key_a", "a", None).await;
    enroll(
        store,
        "ag_1",
        "key_a",
        report("web-1", "Debian", &["10.0.0.1"]),
    )
    .await;
    store
        .add_lifecycle_event(&ward_store::NewLifecycleEvent {
            asset_id: "ag_1".into(),
            at: 1_700_000_000_000,
            received_at: 1_700_000_000_000,
            kind: "update_rolled_back".into(),
            program: "ward-agent".into(),
            from_version: Some("0.1.0".into()),
            to_version: Some("0.1.1".into()),
            detail: Some("not_online".into()),
            message: "ward-agent 0.1.1 did not come online (<i>x</i>); rolled back to 0.1.0".into(),
        })
        .await
        .unwrap();
    let page = get(&f.app, "/console/assets/ag_1", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Updates and guardian"));
    assert!(page.body.contains("Rolled back"));
    assert!(page.body.contains("0.1.0 → 0.1.1"));
    assert!(page.body.contains("&lt;i&gt;x"), "agent text escaped");
}
