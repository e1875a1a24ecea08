//! The server's lifecycle half over real TLS sessions and the real API:
//! cloned installs get their own identity (another fingerprint, or a second
//! live agent process), signed commands are delivered and answered,
//! notices raise tamper alerts once, protection statements and uninstall
//! tokens are signed by the command key.

mod common;

use axum::http::{Method, StatusCode};
use common::{agent_hello, TestServer};
use serde_json::json;
use ward_proto::lifecycle::{COMMAND_DOMAIN, PROTECTION_DOMAIN, TOKEN_DOMAIN};
use ward_proto::{
    AgentMsg, CommandKind, CommandOutcome, CommandPayload, ErrorCode, LocalAction, NoticeKind,
    ProtectionPayload, ServerMsg, UninstallTokenPayload,
};

/// "accepted", or the error of a session upgrade with `credential`.
async fn upgrade(s: &TestServer, credential: &str) -> String {
    match s.ws_raw(Some(credential), Some("1")).await {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

fn reidentified(m: ServerMsg) -> (String, String, String) {
    match m {
        ServerMsg::Reidentify {
            agent_id,
            credential,
            reason,
        } => (agent_id, credential, reason),
        other => panic!("expected Reidentify, got {other:?}"),
    }
}

fn welcomed(m: &ServerMsg) -> &str {
    match m {
        ServerMsg::Welcome { agent_id, .. } => agent_id,
        other => panic!("expected Welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hello_from_another_fingerprint_gets_its_own_identity() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "web-1").await; // fingerprint fp-web-1

    // The copy (another fingerprint): a new identity instead of Welcome.
    let (mut ws, first) = s
        .session_with(&e.credential, &agent_hello("fp-copy", "i1"))
        .await;
    let (copy_id, cred1, reason) = reidentified(first);
    assert_ne!(copy_id, e.agent_id);
    assert!(reason.contains("fingerprint"), "{reason}");
    assert!(ws.recv().await.is_none(), "the session ends after it");
    // The answer was lost: asking again gives the same asset a new credential.
    let (_, again) = s
        .session_with(&e.credential, &agent_hello("fp-copy", "i2"))
        .await;
    let (same_id, cred2, _) = reidentified(again);
    assert_eq!(same_id, copy_id);
    let (mut ws, w) = s.session_with(&cred2, &agent_hello("fp-copy", "i2")).await;
    assert_eq!(welcomed(&w), copy_id);
    ws.keepalive(1).await;
    let status = upgrade(&s, &cred1).await;
    assert!(
        status.contains("401"),
        "the first copy credential was replaced: {status}"
    );

    // The original is untouched.
    let (mut orig, w) = s
        .session_with(&e.credential, &agent_hello("fp-web-1", "o1"))
        .await;
    assert_eq!(welcomed(&w), e.agent_id);
    orig.keepalive(1).await;
    let copy = s.asset(&copy_id).await;
    assert_eq!(copy["hostname"], "web-1");
    let tl = copy["timeline"].to_string();
    assert!(tl.contains(&format!("copy of {}", e.agent_id)), "{tl}");

    // An agent too old to re-identify keeps the old behaviour.
    let (_, w) = s.session_with(&e.credential, &common::hello()).await;
    assert_eq!(welcomed(&w), e.agent_id);
}

#[tokio::test]
async fn two_live_agent_processes_of_one_identity_do_not_fight() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "db-1").await;
    let fp = "fp-db-1";
    let (mut a, w) = s.session_with(&e.credential, &agent_hello(fp, "A")).await;
    welcomed(&w);
    // B takes over (it could be a restart of A): A is superseded.
    let (mut b, w) = s.session_with(&e.credential, &agent_hello(fp, "B")).await;
    welcomed(&w);
    a.expect_error_and_close(ErrorCode::Superseded).await;
    // A was alive after all and comes back: two copies. A gets a new identity.
    let (_, first) = s.session_with(&e.credential, &agent_hello(fp, "A")).await;
    let (a_id, a_cred, reason) = reidentified(first);
    assert!(reason.contains("second live agent process"), "{reason}");
    b.keepalive(7).await; // B was not kicked
    let (mut a2, w) = s.session_with(&a_cred, &agent_hello(fp, "A")).await;
    assert_eq!(welcomed(&w), a_id);
    a2.keepalive(1).await;
    b.keepalive(8).await;
    // A restart of B (new instance) is an ordinary supersede, not a copy.
    let (mut c, w) = s.session_with(&e.credential, &agent_hello(fp, "C")).await;
    assert_eq!(welcomed(&w), e.agent_id);
    b.expect_error_and_close(ErrorCode::Superseded).await;
    c.keepalive(1).await;
    let assets = s.get("/api/v1/assets").await;
    assert_eq!(assets["items"].as_array().unwrap().len(), 2);
}

fn payload_of(m: ServerMsg, s: &TestServer) -> CommandPayload {
    let ServerMsg::Command { command } = m else {
        panic!("expected a command, got {m:?}");
    };
    s.command_key()
        .verify(COMMAND_DOMAIN, &command)
        .expect("signed by the command key");
    command.decode_payload().unwrap()
}

#[tokio::test]
async fn commands_are_signed_delivered_answered_and_uninstall_ends_the_identity() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "app-1").await;
    let off = s.enroll(&key, "app-2").await;
    let old = s.enroll(&key, "app-3").await;
    let (mut ws, w) = s
        .session_with(&e.credential, &agent_hello("fp-app-1", "i"))
        .await;
    welcomed(&w);
    let (_old_ws, w) = s.session_with(&old.credential, &common::hello()).await;
    welcomed(&w);
    assert!(matches!(
        ws.recv().await,
        Some(ServerMsg::Protection { .. })
    ));

    let (st, v) = s
        .api(
            Method::POST,
            "/api/v1/uninstall",
            Some(json!({
                "asset_ids": [e.agent_id, off.agent_id, old.agent_id, "ag_nope"],
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let by_id = |id: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["asset_id"] == id)
            .unwrap()["delivery"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(by_id(&e.agent_id), "sent");
    assert_eq!(by_id(&off.agent_id), "offline");
    assert_eq!(by_id(&old.agent_id), "unsupported");
    assert_eq!(by_id("ag_nope"), "not_found");

    let p = payload_of(ws.recv().await.expect("command"), &s);
    assert_eq!(
        (p.kind, p.agent_id.as_str()),
        (CommandKind::Uninstall, e.agent_id.as_str())
    );
    assert!(p.expires_at_ms > p.issued_at_ms);
    ws.send(&AgentMsg::CommandResult {
        id: p.id.clone(),
        outcome: CommandOutcome::Accepted,
        message: None,
    })
    .await;
    // Uninstalled at once, before the agent reports the removal.
    s.wait_asset(&e.agent_id, "uninstalled", |a| {
        a["status_reason"] == "uninstalled"
    })
    .await;
    ws.send(&AgentMsg::CommandResult {
        id: p.id.clone(),
        outcome: CommandOutcome::Done,
        message: Some("removed /opt/w (9 paths)".into()),
    })
    .await;
    let cmd_path = format!("/api/v1/commands/{}", p.id);
    let c = loop {
        let c = s.get(&cmd_path).await;
        if c["state"] == "done" {
            break c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(c["result"], "removed /opt/w (9 paths)");
    assert!(c["delivered_at"].is_string() && c["finished_at"].is_string());
    let refused = upgrade(&s, &e.credential).await;
    assert!(refused.contains("403"), "{refused}");

    // Another agent cannot answer someone else's command.
    let (st, q) = s
        .api(
            Method::POST,
            &format!("/api/v1/assets/{}/uninstall", off.agent_id),
            Some(json!({"queue": true})),
        )
        .await;
    assert_eq!(
        (st, q["delivery"].as_str()),
        (StatusCode::ACCEPTED, Some("queued")),
        "{q}"
    );
    let queued = q["command"]["id"].as_str().unwrap().to_string();
    let (mut other, _) = s.session_with(&old.credential, &common::hello()).await;
    other
        .send(&AgentMsg::CommandResult {
            id: queued.clone(),
            outcome: CommandOutcome::Rejected,
            message: None,
        })
        .await;
    other.keepalive(1).await;
    assert_eq!(
        s.get(&format!("/api/v1/commands/{queued}")).await["state"],
        "pending"
    );
    // Cancelled before delivery: never sent.
    let (st, c) = s
        .api(
            Method::POST,
            &format!("/api/v1/commands/{queued}/cancel"),
            None,
        )
        .await;
    assert_eq!(
        (st, c["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (mut offw, _) = s
        .session_with(&off.credential, &agent_hello("fp-app-2", "x"))
        .await;
    assert!(matches!(
        offw.recv().await,
        Some(ServerMsg::Protection { .. })
    ));
    offw.keepalive(1).await;
    let (st, c) = s
        .api(
            Method::POST,
            &format!("/api/v1/commands/{queued}/cancel"),
            None,
        )
        .await;
    assert_eq!(
        (st, c["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
}

fn notice(id: &str) -> ward_proto::AgentNotice {
    ward_proto::AgentNotice {
        id: id.into(),
        kind: NoticeKind::TamperAttempt,
        action: Some(LocalAction::Stop),
        at_ms: 1_700_000_000_000,
        reason: "no uninstall token given".into(),
        uid: Some(0),
        parent: Some("pid 1: bash".into()),
    }
}

#[tokio::test]
async fn notices_raise_one_urgent_alert_each_and_need_the_agents_credential() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "h-1").await;
    let body = serde_json::to_string(&notice("ntc_a")).unwrap();
    let path = ward_proto::lifecycle::NOTICE_PATH;
    let (st, _, _) = s.request(Method::POST, path, &[], Some(body.clone())).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {}", e.credential);
    let post = |b: String| {
        let auth = auth.clone();
        let s = &s;
        async move {
            let (st, bytes, _) = s
                .request(Method::POST, path, &[("authorization", &auth)], Some(b))
                .await;
            (
                st,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
            )
        }
    };
    let (st, first) = post(body.clone()).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let (_, again) = post(body).await;
    assert_eq!(first["alert_id"], again["alert_id"], "stored once");
    let (st, _) = post(r#"{"id":"bad id","kind":"tamper_attempt","at_ms":1}"#.into()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Over the session: acknowledged once stored.
    let (mut ws, _) = s
        .session_with(&e.credential, &agent_hello("fp-h-1", "i"))
        .await;
    ws.send(&AgentMsg::Notice {
        notice: notice("ntc_b"),
    })
    .await;
    loop {
        match ws.recv().await {
            Some(ServerMsg::NoticeAck { id }) => {
                assert_eq!(id, "ntc_b");
                break;
            }
            Some(ServerMsg::Protection { .. }) => continue,
            other => panic!("expected NoticeAck, got {other:?}"),
        }
    }
    let alerts = s.get(&format!("/api/v1/alerts?asset={}", e.agent_id)).await;
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{alerts}");
    for a in items {
        assert_eq!(a["rule_id"], "ward.tamper.stop");
        assert_eq!(a["severity"], "urgent");
        assert_eq!(a["technique"], "T1562.001");
    }
    // One agent cannot flood the alert list: 100 notices an hour.
    let used = 3; // ntc_a twice and ntc_b (the invalid one was refused before counting)
    let mut accepted = used;
    for i in 0.. {
        let (st, _) = post(serde_json::to_string(&notice(&format!("ntc_f{i}"))).unwrap()).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(st, StatusCode::OK);
        accepted += 1;
        assert!(accepted <= 200, "never limited");
    }
    assert_eq!(accepted, ward_server_core::lifecycle::NOTICES_PER_HOUR);
}

#[tokio::test]
async fn protection_statements_and_tokens_are_signed_and_scoped() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let e = s.enroll(&key, "h-1").await;
    let put =
        |v: serde_json::Value| s.api(Method::PUT, "/api/v1/settings/tamper-protection", Some(v));
    let (st, _) = put(json!({"default": true, "extra": 1})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "unknown keys are errors");
    let (mut ws, _) = s
        .session_with(&e.credential, &agent_hello("fp-h-1", "i"))
        .await;
    let statement = |m: Option<ServerMsg>| match m {
        Some(ServerMsg::Protection { statement }) => {
            s.command_key()
                .verify(PROTECTION_DOMAIN, &statement)
                .expect("signed");
            statement.decode_payload::<ProtectionPayload>().unwrap()
        }
        other => panic!("expected Protection, got {other:?}"),
    };
    let first = statement(ws.recv().await);
    assert!(!first.tamper_protection);
    assert_eq!(first.agent_id, e.agent_id);
    let (st, v) = put(json!({"default": true})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let pushed = statement(ws.recv().await);
    assert!(pushed.tamper_protection && pushed.issued_at_ms >= first.issued_at_ms);

    let path = format!("/api/v1/assets/{}/uninstall-token", e.agent_id);
    let (st, t) = s
        .api(Method::POST, &path, Some(json!({"actions": ["stop"]})))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let doc = ward_pki::signed::decode_token(t["token"].as_str().unwrap()).unwrap();
    s.command_key().verify(TOKEN_DOMAIN, &doc).expect("signed");
    let p: UninstallTokenPayload = doc.decode_payload().unwrap();
    assert_eq!(p.agent_id, e.agent_id);
    assert_eq!(p.actions, vec![LocalAction::Stop]);
    assert_eq!(
        p.expires_at_ms - p.issued_at_ms,
        3_600_000,
        "one hour by default"
    );
    let (st, _) = s
        .api(
            Method::POST,
            &path,
            Some(json!({"expires_in_secs": 999_999_999})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = s
        .api(Method::POST, "/api/v1/assets/ag_nope/uninstall-token", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_the_lifecycle_api() {
    let s = TestServer::start().await;
    let (_, body, _) = s
        .request(Method::GET, "/api/v1/openapi.json", &[], None)
        .await;
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for (path, method) in [
        ("/api/v1/assets/{id}/uninstall", "post"),
        ("/api/v1/assets/{id}/update-check", "post"),
        ("/api/v1/assets/{id}/uninstall-token", "post"),
        ("/api/v1/uninstall", "post"),
        ("/api/v1/commands", "get"),
        ("/api/v1/commands/{id}", "get"),
        ("/api/v1/commands/{id}/cancel", "post"),
        ("/api/v1/settings/tamper-protection", "get"),
        ("/api/v1/settings/tamper-protection", "put"),
        ("/api/v1/uninstall-command", "get"),
        ("/api/v1/agent/notice", "post"),
        ("/uninstall.sh", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
    let codes = doc["components"]["schemas"]["ApiError"]["properties"]["error"]["properties"]
        ["code"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    for c in [ErrorCode::AgentOffline, ErrorCode::Conflict] {
        assert!(codes.contains(&json!(c.as_str())), "{} missing", c.as_str());
    }
    // The served uninstaller is valid POSIX sh and runs `ward-agent uninstall`.
    let (st, script, _) = s.request(Method::GET, "/uninstall.sh", &[], None).await;
    assert_eq!(st, StatusCode::OK);
    let file = s.dir.path().join("uninstall.sh");
    std::fs::write(&file, &script).unwrap();
    let check = std::process::Command::new("sh")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        String::from_utf8_lossy(&script).contains(r#"exec "$agent" uninstall --prefix "$prefix""#)
    );
}
