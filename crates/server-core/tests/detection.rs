//! The event pipeline against a real in-process server over real TLS:
//! ingestion with acks and de-duplication, protocol errors, spool stats,
//! alerts from the built-in rules, the alerts and whitelist API, settings.

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::{TestServer, Ws};
use serde_json::{json, Value};
use ward_events::{Event, EventData, SshAccepted, SshFailed};
use ward_proto::{AgentMsg, ErrorCode, ServerMsg, MAX_EVENTS_PER_BATCH};

const T0: i64 = 1_765_000_000_000;

fn failed(id: u64, ip: &str, secs: i64) -> Event {
    let mut e = Event::new(
        T0 + secs * 1000,
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: "root".into(),
            src_ip: ip.parse().unwrap(),
            src_port: 40_000 + id as u16,
            method: "password".into(),
            invalid_user: false,
        }),
    );
    e.id = id;
    // Whatever the agent claims, the server uses the session's asset.
    e.host = "not-the-asset".into();
    e
}

fn accepted(id: u64, ip: &str, secs: i64) -> Event {
    let mut e = Event::new(
        T0 + secs * 1000,
        "/var/log/auth.log",
        EventData::SshAccepted(SshAccepted {
            user: "deploy".into(),
            src_ip: ip.parse().unwrap(),
            src_port: 50_000,
            method: "password".into(),
            key: None,
        }),
    );
    e.id = id;
    e
}

/// Sends a batch and returns the ack's `up_to`.
async fn send_events(ws: &mut Ws, events: Vec<Event>) -> u64 {
    ws.send(&AgentMsg::Events { events }).await;
    loop {
        match ws.recv().await {
            Some(ServerMsg::EventsAck { up_to }) => return up_to,
            Some(ServerMsg::Policy { .. } | ServerMsg::KeepaliveAck { .. }) => continue,
            other => panic!("expected EventsAck, got {other:?}"),
        }
    }
}

async fn agent(s: &TestServer, host: &str) -> (String, Ws) {
    let (_, secret) = s.create_key(&format!("k-{host}")).await;
    let e = s.enroll(&secret, host).await;
    let (ws, welcome) = s.session(&e.credential).await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }));
    (e.agent_id, ws)
}

async fn alerts(s: &TestServer, query: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/alerts{query}")).await["items"]
        .as_array()
        .expect("items")
        .clone()
}

async fn wait_alerts(s: &TestServer, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + common::WAIT;
    loop {
        let a = alerts(s, query).await;
        if a.len() >= n {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {n} alerts on {query}: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_are_acked_after_storage_and_deduplicated_across_sessions() {
    let s = TestServer::start().await;
    let (id, mut ws) = agent(&s, "web-1").await;
    let store = s.running().store();

    let up_to = send_events(
        &mut ws,
        (1..=3).map(|i| failed(i, "192.0.2.1", i as i64)).collect(),
    )
    .await;
    assert_eq!(up_to, 3);
    // Acked means stored, at once.
    assert_eq!(store.count_events(Some(&id)).await.unwrap(), 3);
    assert_eq!(store.event_high_water(&id).await.unwrap(), 3);

    // The agent lost the ack and re-sends 2..=3 with new ones after a reconnect.
    drop(ws);
    let cred = {
        // A fresh enrollment of the same host reclaims the asset with a new credential.
        let (_, secret) = s.create_key("again").await;
        s.enroll(&secret, "web-1").await
    };
    assert_eq!(cred.agent_id, id);
    let (mut ws, _) = s.session(&cred.credential).await;
    let up_to = send_events(
        &mut ws,
        (2..=5).map(|i| failed(i, "192.0.2.1", i as i64)).collect(),
    )
    .await;
    assert_eq!(up_to, 5);
    let stored = store.events_after(0, 100).await.unwrap();
    let ids: Vec<u64> = stored.iter().map(|e| e.event.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5], "each event exactly once");
    assert!(stored
        .iter()
        .all(|e| e.event.host == id && e.asset_id == id));
    // Only duplicates: the ack repeats the mark.
    assert_eq!(
        send_events(&mut ws, vec![failed(4, "192.0.2.1", 4)]).await,
        5
    );
    assert_eq!(send_events(&mut ws, vec![]).await, 5);
    // 3 + 2 stored; 2 + 1 re-sent ones dropped.
    let (_, body, _) = s.request(Method::GET, "/metrics", &[], None).await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("\nward_events_stored_total 5\n"), "{text}");
    assert!(text.contains("\nward_events_duplicate_total 3\n"), "{text}");
}

#[tokio::test]
async fn bad_batches_are_protocol_errors_and_store_nothing() {
    let s = TestServer::start().await;
    let (id, mut ws) = agent(&s, "web-2").await;
    ws.send(&AgentMsg::Events {
        events: vec![failed(2, "192.0.2.1", 0), failed(1, "192.0.2.1", 0)],
    })
    .await;
    let m = ws.expect_error_and_close(ErrorCode::Protocol).await;
    assert!(m.contains("increase"), "{m}");

    let (_, secret) = s.create_key("k2").await;
    let e = s.enroll(&secret, "web-2").await;
    let (mut ws, _) = s.session(&e.credential).await;
    let too_many: Vec<Event> = (1..=MAX_EVENTS_PER_BATCH as u64 + 1)
        .map(|i| failed(i, "192.0.2.1", 0))
        .collect();
    ws.send(&AgentMsg::Events { events: too_many }).await;
    let m = ws.expect_error_and_close(ErrorCode::Protocol).await;
    assert!(m.contains(&MAX_EVENTS_PER_BATCH.to_string()), "{m}");
    assert_eq!(
        s.running().store().count_events(Some(&id)).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn spool_stats_reach_the_asset_json() {
    let s = TestServer::start().await;
    let (id, mut ws) = agent(&s, "web-3").await;
    ws.send(&AgentMsg::SpoolStats {
        depth: 17,
        dropped_total: 4,
    })
    .await;
    ws.keepalive(1).await;
    let a = s
        .wait_asset(&id, "spool stats", |a| a["spool_dropped_total"] == 4)
        .await;
    assert_eq!(a["spool_depth"], 17);
    let listed = s.get("/api/v1/assets").await;
    let item = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["spool_dropped_total"], 4);
}

#[tokio::test]
async fn brute_force_then_login_raises_alerts_with_evidence() {
    let s = TestServer::start().await;
    let (id, mut ws) = agent(&s, "bastion").await;
    // 7 failures: below the threshold of 8 (RULES.md, ward-login-001).
    let mut events: Vec<Event> = (1..=7).map(|i| failed(i, "192.0.2.66", i as i64)).collect();
    assert_eq!(send_events(&mut ws, events.clone()).await, 7);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(alerts(&s, "").await.is_empty(), "7 failures raise nothing");
    // The 8th within 120 s: one brute-force alert.
    events = vec![failed(8, "192.0.2.66", 8)];
    send_events(&mut ws, events).await;
    let a = wait_alerts(&s, "?rule=ward-login-001", 1).await;
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a["severity"], "suspicious");
    assert_eq!(a["state"], "unhandled");
    assert_eq!(a["asset_id"], id.as_str());
    assert_eq!(a["hostname"], "bastion");
    assert_eq!(a["technique"], "T1110.001");
    assert_eq!(a["author"], "Ward");
    assert_eq!(a["group"]["SourceIp"], "192.0.2.66");
    assert_eq!(a["evidence"], json!([1, 2, 3, 4, 5, 6, 7, 8]));

    // Then a successful login from that source: the urgent alert.
    send_events(&mut ws, vec![accepted(9, "192.0.2.66", 30)]).await;
    let urgent = wait_alerts(&s, "?severity=urgent", 1).await;
    assert_eq!(urgent[0]["rule_id"], "ward-login-003");
    let detail = s.get(&format!("/api/v1/alerts/{}", urgent[0]["id"])).await;
    let ev = detail["evidence_events"].as_array().unwrap();
    assert!(!ev.is_empty());
    assert!(ev.iter().all(|e| e["host"] == id.as_str()), "{detail}");
    assert!(
        ev.iter().any(|e| e["kind"] == "auth.ssh_accepted"),
        "{detail}"
    );

    // State changes; whitelisted is not a PATCH state.
    let path = format!("/api/v1/alerts/{}", a["id"]);
    let (st, v) = s
        .api(Method::PATCH, &path, Some(json!({"state": "handled"})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "handled");
    let (st, v) = s
        .api(Method::PATCH, &path, Some(json!({"state": "whitelisted"})))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "bad_request");
    assert_eq!(alerts(&s, "?state=handled").await.len(), 1);
    let (st, _) = s.api(Method::GET, "/api/v1/alerts/999999", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .api(Method::GET, "/api/v1/alerts?severity=high", None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn whitelisted_sources_are_stored_as_whitelisted() {
    let s = TestServer::start().await;
    let (_, mut ws) = agent(&s, "scanner-target").await;
    let (st, w) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": "ward-login-001", "field": "SourceIp", "value": "192.0.2.99", "comment": "our scanner"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{w}");
    let (st, _) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": "ward-login-001", "field": "SourceIp", "value": "192.0.2.99"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": "no-such-rule", "field": "SourceIp", "value": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Two sources brute-force: the whitelisted one is stored as whitelisted.
    let mut events = Vec::new();
    for i in 0..8u64 {
        events.push(failed(2 * i + 1, "192.0.2.99", i as i64));
        events.push(failed(2 * i + 2, "192.0.2.98", i as i64));
    }
    send_events(&mut ws, events).await;
    let all = wait_alerts(&s, "?rule=ward-login-001", 2).await;
    let state_of = |ip: &str| {
        all.iter()
            .find(|a| a["group"]["SourceIp"] == ip)
            .map(|a| a["state"].clone())
    };
    assert_eq!(state_of("192.0.2.99"), Some(json!("whitelisted")));
    assert_eq!(state_of("192.0.2.98"), Some(json!("unhandled")));

    let listed = s.get("/api/v1/whitelist").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (st, _) = s
        .api(
            Method::DELETE,
            &format!("/api/v1/whitelist/{}", w["id"]),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s
        .api(
            Method::DELETE,
            &format!("/api/v1/whitelist/{}", w["id"]),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn thresholds_are_settings_and_outputs_hide_secrets() {
    let s = TestServer::start().await;
    let (_, mut ws) = agent(&s, "db-1").await;
    let d = s.get("/api/v1/settings/detection").await;
    assert_eq!(d["event_retention_days"], 30);
    let (st, v) = s
        .api(
            Method::PUT,
            "/api/v1/settings/detection",
            Some(json!({"rules": {"ward-login-001": {"threshold": 3}}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = s
        .api(
            Method::PUT,
            "/api/v1/settings/detection",
            Some(json!({"rules": {"ward-login-001": {"threshold": 0}}})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("W1015"),
        "{v}"
    );
    // Three failures now raise the alert.
    send_events(
        &mut ws,
        (1..=3).map(|i| failed(i, "192.0.2.3", i as i64)).collect(),
    )
    .await;
    let a = wait_alerts(&s, "?rule=ward-login-001", 1).await;
    assert_eq!(a[0]["evidence"], json!([1, 2, 3]));

    let (st, v) = s
        .api(
            Method::PUT,
            "/api/v1/settings/outputs",
            Some(json!({
                "webhook": {"url": "http://127.0.0.1:9/hook", "secret_header": {"name": "X-Ward-Token", "value": "hunter2"}},
                "syslog": {"target": "127.0.0.1:514", "transport": "tcp"}
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let shown = s.get("/api/v1/settings/outputs").await;
    assert!(!shown.to_string().contains("hunter2"), "{shown}");
    assert_eq!(shown["webhook"]["secret_header"]["name"], "X-Ward-Token");
    // Putting the shown (redacted) document back keeps the secret.
    let (st, _) = s
        .api(Method::PUT, "/api/v1/settings/outputs", Some(shown.clone()))
        .await;
    assert_eq!(st, StatusCode::OK);
    let stored = s
        .running()
        .store()
        .get_setting("outputs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["webhook"]["secret_header"]["value"], "hunter2");
    let (st, _) = s
        .api(
            Method::PUT,
            "/api/v1/settings/outputs",
            Some(json!({"syslog": {"target": "nope"}})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn restart_resumes_detection_without_duplicate_alerts() {
    let mut s = TestServer::start().await;
    let (_, secret) = s.create_key("k").await;
    let e = s.enroll(&secret, "app-1").await;
    let (mut ws, _) = s.session(&e.credential).await;
    send_events(
        &mut ws,
        (1..=8).map(|i| failed(i, "192.0.2.44", i as i64)).collect(),
    )
    .await;
    wait_alerts(&s, "?rule=ward-login-001", 1).await;
    drop(ws);
    s.restart(ward_proto::Policy::default()).await;
    // The burst goes on after the restart: the warmed-up engine is still
    // quiet for this group, so no second alert (RULES.md de-duplication).
    let (mut ws, _) = s.session(&e.credential).await;
    send_events(
        &mut ws,
        (9..=20)
            .map(|i| failed(i, "192.0.2.44", i as i64))
            .collect(),
    )
    .await;
    // A different source in the same batch proves the batch was evaluated.
    send_events(
        &mut ws,
        (21..=28)
            .map(|i| failed(i, "192.0.2.45", i as i64))
            .collect(),
    )
    .await;
    let all = wait_alerts(&s, "?rule=ward-login-001", 2).await;
    let n44 = all
        .iter()
        .filter(|a| a["group"]["SourceIp"] == "192.0.2.44")
        .count();
    assert_eq!(n44, 1, "{all:?}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_detection_api() {
    let s = TestServer::start().await;
    let (status, body, _) = s
        .request(Method::GET, "/api/v1/openapi.json", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    for (path, methods) in [
        ("/api/v1/alerts", &["get"][..]),
        ("/api/v1/alerts/{id}", &["get", "patch"]),
        ("/api/v1/whitelist", &["get", "post"]),
        ("/api/v1/whitelist/{id}", &["delete"]),
        ("/api/v1/settings/detection", &["get", "put"]),
        ("/api/v1/settings/outputs", &["get", "put"]),
        ("/api/v1/rules", &["get"]),
    ] {
        for m in methods {
            assert!(
                doc["paths"][path][m].is_object(),
                "{m} {path} not documented"
            );
        }
    }
    let asset = &doc["components"]["schemas"]["Asset"]["properties"];
    assert!(asset["spool_dropped_total"].is_object());
    let entry = &doc["components"]["schemas"]["NewWhitelistEntry"]["properties"];
    assert!(entry["alert_id"].is_object());
}

/// The SigmaHQ rule "Shellshock Expression" (keywords in the raw line), read
/// from the shared corpus.
fn sigma_shellshock() -> String {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/sigma-linux/rules/linux/builtin/lnx_shellshock.yml");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("SigmaHQ rule {} is missing ({e})", p.display()))
}

#[tokio::test]
async fn added_sigma_rules_alert_with_their_author_and_whitelist_from_an_alert() {
    let shellshock = sigma_shellshock();
    let broken =
        "title: Broken\nid: site-broken\ndetection:\n  sel:\n    a|nope: 1\n  condition: sel\n";
    let s = TestServer::start_with_rules(
        ward_proto::Policy::default(),
        &[("lnx_shellshock.yml", &shellshock), ("broken.yml", broken)],
    )
    .await;
    // The rules in force: built-in and SigmaHQ, the broken one left out with its code.
    let rules = s.get("/api/v1/rules").await;
    let items = rules["items"].as_array().unwrap();
    let sigma = items
        .iter()
        .find(|r| r["id"] == "c67e0c98-4d39-46ee-8f6b-437ebf6b950e")
        .expect("the SigmaHQ rule is loaded");
    assert_eq!(sigma["author"], "Florian Roth (Nextron Systems)");
    assert_eq!(sigma["severity"], "urgent", "level high");
    assert!(items.iter().any(|r| r["id"] == "ward-login-001"));
    let errors = rules["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].as_str().unwrap().starts_with("W1001"),
        "{errors:?}"
    );

    // A crafted user name carrying a shellshock expression.
    let (asset, mut ws) = agent(&s, "web-9").await;
    let mut e = failed(1, "203.0.113.50", 0);
    let EventData::SshFailed(f) = &mut e.data else {
        unreachable!()
    };
    f.user = "() { :; }; /bin/id".into();
    e.raw = Some(
        "Dec 10 06:55:48 web-9 sshd[7]: Failed password for invalid user () { :; }; /bin/id from 203.0.113.50 port 40001 ssh2"
            .into(),
    );
    send_events(&mut ws, vec![e]).await;
    let found = wait_alerts(&s, "?rule=c67e0c98-4d39-46ee-8f6b-437ebf6b950e", 1).await;
    assert_eq!(found.len(), 1);
    let a = &found[0];
    assert_eq!(a["author"], "Florian Roth (Nextron Systems)");
    assert_eq!(a["rule_title"], "Shellshock Expression");
    assert_eq!(a["technique"], "T1505.003");
    assert_eq!(a["asset_id"], asset.as_str());

    // Whitelisting from the alert: the entry must match it.
    let (st, body) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": a["rule_id"], "field": "SourceIp", "value": "198.51.100.1", "alert_id": a["id"]})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(s.get("/api/v1/whitelist").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let (st, body) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": a["rule_id"], "field": "src_ip", "value": "203.0.113.50", "alert_id": a["id"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let after = s.get(&format!("/api/v1/alerts/{}", a["id"])).await;
    assert_eq!(after["state"], "whitelisted");
    let (st, _) = s
        .api(
            Method::POST,
            "/api/v1/whitelist",
            Some(json!({"rule_id": "*", "field": "User", "value": "x", "alert_id": 999_999})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
