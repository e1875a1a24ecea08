//! Enrollment and agent sessions against a real server over real TLS.

mod common;

use axum::http::{Method, StatusCode};
use common::{hello, report, TestServer};
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, Message};
use ward_proto::{
    AgentMsg, Credential, ErrorCode, Policy, ServerMsg, MAX_FRAME_BYTES, WIRE_VERSION,
};

fn fast_policy() -> Policy {
    Policy {
        keepalive_secs: 1,
        missed_keepalives: 2,
        report_interval_secs: 60,
    }
}

fn http_status(e: tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn enrollment_with_good_unknown_and_revoked_keys() {
    let s = TestServer::start().await;
    let (key_id, secret) = s.create_key("web").await;

    let e = s.enroll(&secret, "web-1").await;
    let cred = Credential::parse(&e.credential).expect("a wa1 credential");
    assert_eq!(cred.agent_id, e.agent_id);
    assert_eq!(e.policy, Policy::default());
    let a = s.asset(&e.agent_id).await;
    assert_eq!(a["hostname"], "web-1");
    assert_eq!(a["status"], "unprotected");
    assert_eq!(a["status_reason"], "never_connected");
    assert_eq!(a["online"], false);

    let (status, body) = s.enroll_raw("wk_not_a_real_key", "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "key_unknown");

    let (status, _) = s
        .api(Method::POST, &format!("/api/v1/keys/{key_id}/revoke"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.enroll_raw(&secret, "web-2").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "key_revoked");

    // The agent enrolled before the revocation still works.
    let (mut ws, welcome) = s.session(&e.credential).await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
    ws.keepalive(1).await;

    // Bad bodies are 400 with the ApiError shape.
    let (status, body, _) = s
        .request(Method::POST, ward_proto::ENROLL_PATH, &[], Some("{".into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
}

#[tokio::test]
async fn session_hello_welcome_keepalive_and_report() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "db-1").await;

    let (mut ws, welcome) = s.session(&e.credential).await;
    match welcome {
        ServerMsg::Welcome {
            agent_id,
            policy,
            server_time_ms,
            command_key,
        } => {
            assert_eq!(agent_id, e.agent_id);
            // The same command key as in the enrollment answer (both over the pinned TLS).
            assert!(command_key.is_some());
            assert_eq!(command_key, e.command_key);
            assert_eq!(policy, Policy::default());
            let now = ward_server_core::clock::now_ms();
            assert!((now - server_time_ms).abs() < 60_000);
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
    for seq in [1, 2, 42] {
        ws.keepalive(seq).await;
    }
    let a = s
        .wait_asset(&e.agent_id, "protected", |a| a["status"] == "protected")
        .await;
    assert_eq!(a["status_reason"], serde_json::Value::Null);
    assert_eq!(a["online"], true);
    assert_eq!(a["last_error"], "connection refused");
    assert_eq!(a["last_endpoint"], "https://127.0.0.1");
    assert!(a["last_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(a["last_seen"].is_string());
    let timeline = a["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|t| t["status"] == "protected"),
        "{timeline:?}"
    );

    let mut r = report("db-1-renamed");
    r.ips = vec!["198.51.100.23".into()];
    ws.send(&AgentMsg::Report { report: r }).await;
    ws.keepalive(43).await;
    let a = s
        .wait_asset(&e.agent_id, "report stored", |a| {
            a["hostname"] == "db-1-renamed"
        })
        .await;
    assert_eq!(a["ips"], json!(["198.51.100.23"]));

    // A clean close by the agent gets the close handshake's reply.
    ws.ws.close(None).await.unwrap();
    let reply = tokio::time::timeout(common::WAIT, futures_util::StreamExt::next(&mut ws.ws))
        .await
        .unwrap();
    assert!(matches!(reply, Some(Ok(Message::Close(_)))), "{reply:?}");
    s.wait_asset(&e.agent_id, "offline session", |a| a["online"] == false)
        .await;

    // The session ends (and stops counting) shortly after the close.
    let deadline = std::time::Instant::now() + common::WAIT;
    let metrics = loop {
        let (_, m, _) = s.request(Method::GET, "/metrics", &[], None).await;
        let m = String::from_utf8(m).unwrap();
        if m.contains("ward_sessions_live 0") || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(metrics.contains("ward_sessions_live 0"), "{metrics}");
    assert!(metrics.contains("ward_keepalives_total 4"), "{metrics}");
    assert!(metrics.contains("ward_enrollments_total 1"), "{metrics}");
    assert!(
        metrics.contains("ward_assets{status=\"protected\",reason=\"\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn credentials_are_bound_to_their_agent() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let a = s.enroll(&key, "host-a").await;
    let b = s.enroll(&key, "host-b").await;
    let ca = Credential::parse(&a.credential).unwrap();
    let cb = Credential::parse(&b.credential).unwrap();
    let v = WIRE_VERSION.to_string();

    // A's secret presented with B's id, A's id with a changed secret, garbage, nothing.
    let forged = Credential {
        agent_id: cb.agent_id.clone(),
        secret: ca.secret.clone(),
    }
    .encode();
    let mut flipped = ca.secret.clone();
    let last = if flipped.ends_with('A') { "B" } else { "A" };
    flipped.replace_range(flipped.len() - 1.., last);
    let tampered = Credential {
        agent_id: ca.agent_id.clone(),
        secret: flipped,
    }
    .encode();
    for cred in [
        Some(forged.as_str()),
        Some(tampered.as_str()),
        Some("wa1.x"),
        None,
    ] {
        let e = s.ws_raw(cred, Some(&v)).await.err().expect("refused");
        assert_eq!(http_status(e), 401, "{cred:?}");
    }
    // Wire version: missing or unsupported.
    for version in [None, Some("2"), Some("one")] {
        let e = s
            .ws_raw(Some(&a.credential), version)
            .await
            .err()
            .expect("refused");
        assert_eq!(http_status(e), 400, "{version:?}");
    }

    // A's session only ever affects A.
    let (mut ws, welcome) = s.session(&a.credential).await;
    match welcome {
        ServerMsg::Welcome { agent_id, .. } => assert_eq!(agent_id, ca.agent_id),
        other => panic!("{other:?}"),
    }
    ws.keepalive(1).await;
    s.wait_asset(&a.agent_id, "A protected", |x| x["status"] == "protected")
        .await;
    let bb = s.asset(&b.agent_id).await;
    assert_eq!(bb["status"], "unprotected");
    assert_eq!(bb["status_reason"], "never_connected");
    assert_eq!(bb["online"], false);
    assert_eq!(bb["last_seen"], serde_json::Value::Null);
}

#[tokio::test]
async fn bad_frames_close_only_their_session() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let good = s.enroll(&key, "good").await;
    let bad = s.enroll(&key, "bad").await;
    let (mut healthy, _) = s.session(&good.credential).await;
    healthy.keepalive(1).await;

    let oversized = format!(
        r#"{{"type":"keepalive","seq":1,"pad":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    let cases: Vec<(&str, Message)> = vec![
        ("malformed JSON", Message::text("{not json")),
        ("unknown type", Message::text(r#"{"type":"teleport"}"#)),
        ("binary frame", Message::binary(vec![1u8, 2, 3])),
        ("oversized frame", Message::text(oversized)),
        ("second hello", Message::text(hello().encode())),
    ];
    let mut seq = 2;
    for (what, frame) in cases {
        let (mut ws, _) = s.session(&bad.credential).await;
        ws.send_raw(frame).await;
        let msg = ws.expect_error_and_close(ErrorCode::Protocol).await;
        assert!(!msg.is_empty(), "{what}: the error says why");
        // The other session is unaffected.
        healthy.keepalive(seq).await;
        seq += 1;
    }

    // A first frame that is not hello is a protocol error too.
    let mut ws = s
        .ws_raw(Some(&bad.credential), Some(&WIRE_VERSION.to_string()))
        .await
        .unwrap();
    ws.send(&AgentMsg::Keepalive { seq: 1 }).await;
    ws.expect_error_and_close(ErrorCode::Protocol).await;
    healthy.keepalive(seq).await;

    let (_, metrics, _) = s.request(Method::GET, "/metrics", &[], None).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("ward_frames_rejected_total 6"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_second_session_supersedes_the_first() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "dup").await;
    let (mut first, _) = s.session(&e.credential).await;
    first.keepalive(1).await;
    let (mut second, _) = s.session(&e.credential).await;
    first.expect_error_and_close(ErrorCode::Superseded).await;
    second.keepalive(2).await;
    let a = s.asset(&e.agent_id).await;
    assert_eq!(a["online"], true);
    assert_eq!(a["status"], "protected");
}

#[tokio::test]
async fn policy_changes_are_pushed_to_live_sessions() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "p").await;
    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(1).await;

    let new = Policy {
        keepalive_secs: 5,
        missed_keepalives: 4,
        report_interval_secs: 600,
    };
    let (status, body) = s
        .api(
            Method::PUT,
            "/api/v1/settings/policy",
            Some(serde_json::to_value(new).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    match ws.recv().await {
        Some(ServerMsg::Policy { policy }) => assert_eq!(policy, new),
        other => panic!("expected a Policy push, got {other:?}"),
    }
    let got: Policy = serde_json::from_value(s.get("/api/v1/settings/policy").await).unwrap();
    assert_eq!(got, new);

    // Invalid values are refused and nothing is pushed.
    let (status, body) = s
        .api(
            Method::PUT,
            "/api/v1/settings/policy",
            Some(json!({"keepalive_secs": 0, "missed_keepalives": 3, "report_interval_secs": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
    ws.keepalive(2).await;

    // New sessions get the new policy in Welcome.
    let (_, welcome) = s.session(&e.credential).await;
    match welcome {
        ServerMsg::Welcome { policy, .. } => assert_eq!(policy, new),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missed_keepalives_make_an_asset_offline_and_a_new_session_protected() {
    let s = TestServer::start_with(fast_policy()).await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "quiet").await;
    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(1).await;
    s.wait_asset(&e.agent_id, "protected", |a| a["status"] == "protected")
        .await;
    // Keep the connection open but silent: the asset must still go offline.
    let a = s
        .wait_asset(&e.agent_id, "offline", |a| {
            a["status"] == "unprotected" && a["status_reason"] == "offline"
        })
        .await;
    assert_eq!(a["status_since"], a["last_seen"], "offline since last seen");
    drop(ws);

    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(1).await;
    let a = s
        .wait_asset(&e.agent_id, "protected again", |a| {
            a["status"] == "protected"
        })
        .await;
    let statuses: Vec<(String, String)> = a["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["status"].as_str().unwrap().to_string(),
                t["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for want in [("protected", ""), ("unprotected", "offline")] {
        assert!(
            statuses.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} missing from {statuses:?}"
        );
    }
}

#[tokio::test]
async fn restart_keeps_assets_and_their_status_without_false_transitions() {
    let mut s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "survivor").await;
    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(1).await;
    let before = s
        .wait_asset(&e.agent_id, "protected", |a| a["status"] == "protected")
        .await;
    let events_before = before["timeline"].as_array().unwrap().len();
    drop(ws);

    s.restart(Policy::default()).await;
    let a = s.asset(&e.agent_id).await;
    assert_eq!(a["status"], "protected", "still protected during the grace");
    assert_eq!(a["hostname"], "survivor");
    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(2).await;
    let a = s.asset(&e.agent_id).await;
    assert_eq!(a["status"], "protected");
    assert_eq!(
        a["timeline"].as_array().unwrap().len(),
        events_before,
        "a reconnect after a restart adds no transition: {}",
        a["timeline"]
    );
}
