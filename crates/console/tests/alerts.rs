//! The Alerts, Alert detail, Whitelist and Alert outputs pages, and the
//! alerts and spool cards of the asset page, through the console's router
//! over a real SQLite store holding real ingested events and alerts.

mod support;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use support::{get, post, sign_in, TestHost};
use ward_events::{Event, EventData, SshFailed};
use ward_proto::HostReport;
use ward_store::{
    AlertInsert, AlertSeverity, AlertState, Enrollment, NewAlert, NewKey, SpoolStats, Store,
};

const PASSWORD: &str = "correct horse battery staple";
const NOW: i64 = 1_700_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    host: std::sync::Arc<TestHost>,
    app: axum::Router,
    cookie: String,
    csrf: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::open(dir.path(), &dir.path().join("ward.db"), PASSWORD).await;
    let app = support::router(host.clone());
    let (cookie, csrf) = sign_in(&app, PASSWORD).await;
    Fixture {
        _dir: dir,
        host,
        app,
        cookie,
        csrf,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn enroll(store: &dyn Store, id: &str, hostname: &str) {
    if store.get_key("key_t").await.unwrap().is_none() {
        store
            .create_key(NewKey {
                id: "key_t".into(),
                secret: "wk_t".into(),
                label: "t".into(),
                default_group: None,
                created_at: NOW,
            })
            .await
            .unwrap();
    }
    store
        .enroll(Enrollment {
            new_id: id.into(),
            key_id: "key_t".into(),
            fingerprint: format!("fp-{id}"),
            platform: "linux-x86_64".into(),
            credential_hash: format!("hash-{id}"),
            report: HostReport {
                hostname: hostname.into(),
                os: "Debian".into(),
                kernel: "6.1".into(),
                arch: "x86_64".into(),
                ips: vec![],
                agent_version: "0.1.0".into(),
                agent_cpu_percent: 0.0,
                agent_rss_bytes: 0,
                uptime_secs: 1,
            },
            at: NOW,
        })
        .await
        .unwrap();
}

fn failed(id: u64, at: i64, user: &str, ip: &str) -> Event {
    let mut e = Event::new(
        at,
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: user.into(),
            src_ip: ip.parse().unwrap(),
            src_port: 40_000 + id as u16,
            method: "password".into(),
            invalid_user: true,
        }),
    );
    e.id = id;
    e.raw = Some(format!(
        "Dec 10 06:55:48 web-1 sshd[7]: Failed password for invalid user {user} from {ip} port {} ssh2",
        40_000 + id
    ));
    e
}

/// Ingests `events` for `asset` and stores one alert over them.
async fn alert(
    store: &dyn Store,
    asset: &str,
    events: &[Event],
    rule: (&str, &str, Option<&str>),
    severity: AlertSeverity,
    at: i64,
) -> i64 {
    store.ingest_events(asset, events, at).await.unwrap();
    let ip = match &events[0].data {
        EventData::SshFailed(f) => f.src_ip.to_string(),
        _ => unreachable!(),
    };
    let mut group = BTreeMap::new();
    group.insert("SourceIp".to_string(), ip.clone());
    let a = store
        .insert_alert(&NewAlert {
            rule_id: rule.0.into(),
            rule_title: rule.1.into(),
            author: rule.2.map(str::to_string),
            severity,
            technique: Some("T1110.001".into()),
            asset_id: asset.into(),
            group_key: format!("SourceIp={ip}"),
            group,
            first_ms: events[0].host_time_ms,
            last_ms: at,
            evidence: events.iter().map(|e| e.id).collect(),
            state: AlertState::Unhandled,
            created_at: at,
            dedup_key: format!("{}-{asset}-{ip}", rule.0),
            dedup_window_ms: 0,
        })
        .await
        .unwrap();
    match a {
        AlertInsert::Created(r) => r.id,
        AlertInsert::Merged(_) => panic!("merged"),
    }
}

/// Ids of the alert rows of a page, in order.
fn row_ids(body: &str) -> Vec<i64> {
    body.split("<tr data-alert-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn list_filters_by_state_severity_host_rule_and_time() {
    let f = fixture().await;
    let store = &*f.host.store;
    enroll(store, "as_web", "web-1").await;
    enroll(store, "as_db", "db-1").await;
    enroll(store, "as_db2", "db-2").await;
    let now = now_ms();
    let bf = (
        "ward-login-001",
        "SSH brute force from one source",
        Some("Ward"),
    );
    let shock = (
        "c67e0c98-4d39-46ee-8f6b-437ebf6b950e",
        "Shellshock Expression",
        Some("Florian Roth (Nextron Systems)"),
    );
    let web_bf = alert(
        store,
        "as_web",
        &[failed(1, now - 5000, "oracle", "192.0.2.1")],
        bf,
        AlertSeverity::Suspicious,
        now - 4000,
    )
    .await;
    let web_old = alert(
        store,
        "as_web",
        &[failed(2, now - 3 * 86_400_000, "admin", "192.0.2.2")],
        bf,
        AlertSeverity::Suspicious,
        now - 3 * 86_400_000,
    )
    .await;
    let db_shock = alert(
        store,
        "as_db",
        &[failed(1, now - 2000, "() { :; };", "2001:db8::7")],
        shock,
        AlertSeverity::Urgent,
        now - 1000,
    )
    .await;

    // Default: unhandled, newest first; the SigmaHQ rule's author is shown.
    let page = get(&f.app, "/console/alerts", Some(&f.cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(row_ids(&page.body), vec![db_shock, web_old, web_bf]);
    assert!(page.body.contains("by Florian Roth (Nextron Systems)"));
    assert!(page.body.contains(">db-1<") && page.body.contains(">web-1<"));
    assert!(page
        .body
        .contains("https://attack.mitre.org/techniques/T1110/001/"));

    let ids = |q: &'static str| {
        let app = f.app.clone();
        let cookie = f.cookie.clone();
        async move {
            row_ids(
                &get(&app, &format!("/console/alerts?{q}"), Some(&cookie))
                    .await
                    .body,
            )
        }
    };
    assert_eq!(ids("severity=urgent").await, vec![db_shock]);
    assert_eq!(ids("severity=suspicious").await, vec![web_old, web_bf]);
    assert_eq!(ids("rule=ward-login-001").await, vec![web_old, web_bf]);
    assert_eq!(
        ids("host=WEB-1").await,
        vec![web_old, web_bf],
        "hostname, any case"
    );
    assert_eq!(ids("host=as_db").await, vec![db_shock], "asset id");
    assert_eq!(ids("asset=as_web&period=24h").await, vec![web_bf]);
    assert_eq!(ids("period=1h&severity=suspicious").await, vec![web_bf]);
    // "db-" matches two servers: the page asks which one.
    let amb = get(&f.app, "/console/alerts?host=db-", Some(&f.cookie)).await;
    assert!(row_ids(&amb.body).is_empty());
    assert!(amb.body.contains("2 servers match"), "{}", amb.body);
    assert!(amb.body.contains("asset=as_db2"));
    let none = get(&f.app, "/console/alerts?host=nowhere", Some(&f.cookie)).await;
    assert!(none.body.contains("No server matches"));
    // Day range: the old alert's day only.
    let day = |ms: i64| {
        humantime::format_rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64),
        )
        .to_string()[..10]
            .to_string()
    };
    let old_day = day(now - 3 * 86_400_000);
    let r = get(
        &f.app,
        &format!("/console/alerts?from={old_day}&to={old_day}"),
        Some(&f.cookie),
    )
    .await;
    assert_eq!(row_ids(&r.body), vec![web_old]);
    // Bad values are ignored with a message, not a 4xx.
    let r = get(
        &f.app,
        "/console/alerts?severity=high&from=yesterday",
        Some(&f.cookie),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(row_ids(&r.body).len(), 3);
    assert!(r.body.contains("Unknown severity"));

    // Bulk: without the CSRF token nothing changes.
    let form = [
        ("id", web_bf.to_string()),
        ("id", web_old.to_string()),
        ("state", "handled".into()),
        ("back", "/console/alerts?state=unhandled".into()),
    ];
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&f.app, "/console/alerts/state", Some(&f.cookie), &fields).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        store.get_alert(web_bf).await.unwrap().unwrap().state,
        AlertState::Unhandled
    );
    let mut with_token = fields.clone();
    with_token.push(("csrf", &f.csrf));
    let r = post(
        &f.app,
        "/console/alerts/state",
        Some(&f.cookie),
        &with_token,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some("/console/alerts?state=unhandled&msg=done")
    );
    for id in [web_bf, web_old] {
        assert_eq!(
            store.get_alert(id).await.unwrap().unwrap().state,
            AlertState::Handled
        );
    }
    assert_eq!(ids("").await, vec![db_shock]);
    assert_eq!(ids("state=handled").await, vec![web_old, web_bf]);
    assert_eq!(ids("state=all").await.len(), 3);
    // A foreign back link is not followed; whitelisted cannot be set by hand.
    let r = post(
        &f.app,
        "/console/alerts/state",
        Some(&f.cookie),
        &[
            ("csrf", &f.csrf),
            ("id", &db_shock.to_string()),
            ("state", "ignored"),
            ("back", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(r.header("location"), Some("/console/alerts?msg=done"));
    let r = post(
        &f.app,
        "/console/alerts/state",
        Some(&f.cookie),
        &[
            ("csrf", &f.csrf),
            ("id", &db_shock.to_string()),
            ("state", "whitelisted"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        store.get_alert(db_shock).await.unwrap().unwrap().state,
        AlertState::Ignored
    );
}

#[tokio::test]
async fn detail_shows_evidence_escaped_and_whitelists_from_the_alert() {
    let f = fixture().await;
    let store = &*f.host.store;
    enroll(store, "as_web", "web-1").await;
    let now = now_ms();
    let evil = "<script>alert(1)</script>";
    let events: Vec<Event> = (1..=3)
        .map(|i| failed(i, now - 10_000 + i as i64, evil, "192.0.2.44"))
        .collect();
    let id = alert(
        store,
        "as_web",
        &events,
        (
            "ward-login-001",
            "SSH brute force from one source",
            Some("Ward"),
        ),
        AlertSeverity::Suspicious,
        now,
    )
    .await;

    let page = get(&f.app, &format!("/console/alerts/{id}"), Some(&f.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(evil), "user names are escaped");
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(page.body.matches("<tr data-event-id=").count(), 3);
    assert!(page.body.contains("port 40003 ssh2"), "the raw log line");
    assert!(page.body.contains("data-author>Ward<"));
    // Candidates: the group's SourceIp, then the raising event's fields (not its port).
    assert!(page.body.contains("value=\"SourceIp=192.0.2.44\""));
    assert!(page.body.contains("value=\"User=&lt;script&gt;"));
    assert!(!page.body.contains("value=\"SourcePort="));
    assert_eq!(
        get(&f.app, "/console/alerts/999", Some(&f.cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&f.app, "/console/alerts/x", Some(&f.cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let path = format!("/console/alerts/{id}/whitelist");
    let r = post(
        &f.app,
        &path,
        Some(&f.cookie),
        &[("pick", "SourceIp=192.0.2.44"), ("scope", "rule")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF");
    let r = post(
        &f.app,
        &path,
        Some(&f.cookie),
        &[("csrf", &f.csrf), ("scope", "rule")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Choose the value to whitelist."));
    assert!(store.list_whitelist().await.unwrap().is_empty());
    let r = post(
        &f.app,
        &path,
        Some(&f.cookie),
        &[
            ("csrf", &f.csrf),
            ("pick", "SourceIp=192.0.2.44"),
            ("scope", "rule"),
            ("comment", "scanner"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = store.list_whitelist().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].rule_id.as_str(),
            list[0].field.as_str(),
            list[0].value.as_str()
        ),
        ("ward-login-001", "SourceIp", "192.0.2.44")
    );
    assert_eq!(list[0].comment.as_deref(), Some("scanner"));
    assert_eq!(
        store.get_alert(id).await.unwrap().unwrap().state,
        AlertState::Whitelisted
    );
    let page = get(&f.app, r.header("location").unwrap(), Some(&f.cookie)).await;
    assert!(page.body.contains("Whitelisted. This alert"));
    // The same entry again: refused with the reason.
    let r = post(
        &f.app,
        &path,
        Some(&f.cookie),
        &[
            ("csrf", &f.csrf),
            ("pick", "SourceIp=192.0.2.44"),
            ("scope", "rule"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Nothing was changed."));

    // The whitelist page lists it and deletes it (with the token only).
    let wl = get(&f.app, "/console/alerts/whitelist", Some(&f.cookie)).await;
    assert!(wl.body.contains("SSH brute force from one source") && wl.body.contains("192.0.2.44"));
    let del = format!("/console/alerts/whitelist/{}/delete", list[0].id);
    assert_eq!(
        post(&f.app, &del, Some(&f.cookie), &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(store.list_whitelist().await.unwrap().len(), 1);
    let r = post(&f.app, &del, Some(&f.cookie), &[("csrf", &f.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(store.list_whitelist().await.unwrap().is_empty());
    // By hand: every rule, a user name.
    let r = post(
        &f.app,
        "/console/alerts/whitelist",
        Some(&f.cookie),
        &[
            ("csrf", &f.csrf),
            ("rule_id", "*"),
            ("field", "User"),
            ("value", "deploy"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let list = store.list_whitelist().await.unwrap();
    assert_eq!(
        (list[0].rule_id.as_str(), list[0].value.as_str()),
        ("*", "deploy")
    );
}

#[tokio::test]
async fn asset_page_shows_its_alerts_and_spool() {
    let f = fixture().await;
    let store = &*f.host.store;
    enroll(store, "as_web", "web-1").await;
    let now = now_ms();
    let page = get(&f.app, "/console/assets/as_web", Some(&f.cookie)).await;
    assert!(page.body.contains("No alerts for this server."));
    assert!(page
        .body
        .contains("The agent has not reported its spool yet."));
    let id = alert(
        store,
        "as_web",
        &[failed(1, now, "oracle", "192.0.2.9")],
        ("ward-login-001", "SSH brute force from one source", None),
        AlertSeverity::Suspicious,
        now,
    )
    .await;
    store
        .set_spool_stats(&[(
            "as_web".to_string(),
            SpoolStats {
                depth: 12,
                dropped_total: 3,
                at: now,
            },
        )])
        .await
        .unwrap();
    let page = get(&f.app, "/console/assets/as_web", Some(&f.cookie)).await;
    assert!(page
        .body
        .contains(&format!("href=\"/console/alerts/{id}\"")));
    assert!(page
        .body
        .contains("/console/alerts?state=all&amp;asset=as_web"));
    assert!(page.body.contains("data-spool=\"depth\">12<"));
    assert!(page.body.contains("data-spool=\"dropped\">3<"));
    assert!(page.body.contains("kpi-crit"));
}

#[tokio::test]
async fn outputs_page_saves_and_never_shows_the_secret() {
    let f = fixture().await;
    let page = get(&f.app, "/console/settings/outputs", Some(&f.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\""));
    let form = |url: &'static str| {
        vec![
            ("csrf", f.csrf.as_str()),
            ("webhook_url", url),
            ("webhook_header_name", "X-Ward-Token"),
            ("webhook_header_value", "s3cret-value"),
            ("syslog_target", "192.0.2.1:514"),
            ("syslog_transport", "tcp"),
            ("syslog_facility", "10"),
        ]
    };
    let r = post(
        &f.app,
        "/console/settings/outputs",
        Some(&f.cookie),
        &form("ftp://x/")[1..],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &f.app,
        "/console/settings/outputs",
        Some(&f.cookie),
        &form("ftp://x/"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("must start with http:// or https://"));
    assert!(
        !r.body.contains("s3cret-value"),
        "the secret is not sent back"
    );
    assert_eq!(f.host.outputs.lock().unwrap().webhook_url, "");
    let r = post(
        &f.app,
        "/console/settings/outputs",
        Some(&f.cookie),
        &form("https://hooks.example/w"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let saved = f.host.outputs.lock().unwrap().clone();
    assert_eq!(saved.webhook_url, "https://hooks.example/w");
    assert_eq!(saved.webhook_header_value, "s3cret-value");
    assert_eq!(
        (
            saved.syslog_transport.as_str(),
            saved.syslog_facility.as_str()
        ),
        ("tcp", "10")
    );
    let page = get(
        &f.app,
        "/console/settings/outputs?msg=saved",
        Some(&f.cookie),
    )
    .await;
    assert!(page.body.contains("Outputs saved"));
    assert!(page.body.contains("value=\"https://hooks.example/w\""));
    assert!(!page.body.contains("s3cret-value"));
}
