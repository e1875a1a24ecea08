//! The release API over real TLS: signed offers per agent under the
//! rollout controls, release downloads, lifecycle reports, and their
//! refusals.

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use serde_json::{json, Value};
use ward_proto::{ReleaseOffer, LIFECYCLE_PATH, RELEASE_PATH};
use ward_release::{verify, TrustedKey};
use ward_server_core::releases::publish::{publish, PublishRequest};

/// A fake but well-formed x86-64 ELF executable with `tag` inside.
fn elf(tag: &str) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[16] = 2;
    b[18] = 62;
    b.extend_from_slice(tag.as_bytes());
    b
}

async fn release(s: &TestServer, version: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let bytes = elf(version);
    let f = dir.path().join("ward-agent");
    std::fs::write(&f, &bytes).unwrap();
    let req = PublishRequest {
        version: version.into(),
        platform: "linux-x86_64".into(),
        agent: f,
        update: None,
        notes: None,
    };
    publish(&*s.running().store(), &s.data_dir().join("releases"), &req)
        .await
        .expect("publish");
    bytes
}

async fn offer(s: &TestServer, credential: &str) -> (StatusCode, Value) {
    let auth = format!("Bearer {credential}");
    let (status, body, _) = s
        .request(Method::GET, RELEASE_PATH, &[("authorization", &auth)], None)
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn offers_are_signed_per_agent_and_follow_the_rollout() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let a = s.enroll(&key, "host-a").await;
    let b = s.enroll(&key, "host-b").await;
    // The enrollment answer carries the release key; it verifies offers.
    let release_key = a.release_key.clone().expect("release key at enrollment");
    let trusted = TrustedKey::parse(&release_key).unwrap();
    assert_eq!(s.running().info.release_key, release_key);

    // No release yet: signed, empty, no target.
    let (st, v) = offer(&s, &a.credential).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let o: ReleaseOffer = serde_json::from_value(v).unwrap();
    assert_eq!(o.target, None);
    assert_eq!(o.release_key, release_key);
    let m = verify(&o.metadata, &trusted).unwrap();
    assert!(m.releases.is_empty());
    let first_version = m.version;

    let v2 = release(&s, "0.2.0").await;
    release(&s, "0.3.0").await;
    let (_, v) = offer(&s, &a.credential).await;
    let o: ReleaseOffer = serde_json::from_value(v).unwrap();
    assert_eq!(o.target.as_deref(), Some("0.3.0"));
    let m = verify(&o.metadata, &trusted).unwrap();
    assert!(m.version > first_version, "re-signed with a higher version");
    let entry = m.release("0.2.0").unwrap();
    assert_eq!(
        entry.platforms["linux-x86_64"].agent.sha256,
        ward_pki::secret::sha256_hex(&v2)
    );

    // Pin at 0.2.0: both agents are held there.
    let (st, _) = s
        .api(
            Method::PUT,
            "/api/v1/settings/rollout",
            Some(json!({"pinned_version": "0.2.0", "percentage": 100, "groups": []})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    for cred in [&a.credential, &b.credential] {
        let (_, v) = offer(&s, cred).await;
        assert_eq!(v["target"], "0.2.0");
    }
    // 0 % with no group: everyone gets the release before the newest.
    s.api(
        Method::PUT,
        "/api/v1/settings/rollout",
        Some(json!({"percentage": 0, "groups": ["canary"]})),
    )
    .await;
    let (_, v) = offer(&s, &a.credential).await;
    assert_eq!(
        (v["target"].as_str(), v["reason"].as_str()),
        (Some("0.2.0"), Some("previous"))
    );
    assert_eq!(
        s.get("/api/v1/settings/rollout").await["groups"][0],
        "canary"
    );
    // Bad controls are refused with a reason and change nothing.
    for bad in [
        json!({"percentage": 101}),
        json!({"pinned_version": "latest"}),
        json!({"percentage": 10, "surprise": true}),
    ] {
        let (st, v) = s
            .api(Method::PUT, "/api/v1/settings/rollout", Some(bad.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    assert_eq!(s.get("/api/v1/settings/rollout").await["percentage"], 0);
    let list = s.get("/api/v1/releases").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["release_key"], release_key.as_str());

    // The release file, public, byte for byte.
    let (st, body, h) = s
        .request(
            Method::GET,
            "/download/release/0.2.0/linux-x86_64/ward-agent",
            &[],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, v2);
    assert_eq!(
        h["x-ward-sha256"],
        ward_pki::secret::sha256_hex(&v2).as_str()
    );
    for bad in [
        "/download/release/0.9.0/linux-x86_64/ward-agent",
        "/download/release/..%2f/linux-x86_64/ward-agent",
        "/download/release/0.2.0/linux-x86_64/passwd",
        "/download/release/0.2.0/plan9/ward-agent",
    ] {
        let (st, _, _) = s.request(Method::GET, bad, &[], None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{bad}");
    }
}

#[tokio::test]
async fn offers_and_reports_need_the_agent_credential() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let a = s.enroll(&key, "host-a").await;
    let (st, _) = offer(&s, "wa1.ag_nobody.secret").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, _) = s.request(Method::GET, RELEASE_PATH, &[], None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // An API token is not an agent credential.
    let api = format!("Bearer {}", s.token);
    let (st, _, _) = s
        .request(Method::GET, RELEASE_PATH, &[("authorization", &api)], None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let report = json!({"kind": "update_refused", "program": "ward-update", "at_ms": 5,
        "to_version": "0.2.0", "detail": "tampered", "message": "ward-agent of release 0.2.0 was tampered with"});
    let auth = format!("Bearer {}", a.credential);
    let post = |body: Value, auth: String| {
        let s = &s;
        async move {
            let (st, body, _) = s
                .request(
                    Method::POST,
                    LIFECYCLE_PATH,
                    &[("authorization", &auth)],
                    Some(body.to_string()),
                )
                .await;
            (st, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (st, body) = post(report.clone(), auth.clone()).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, _) = post(report.clone(), "Bearer wa1.ag_x.y".into()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let mut bad = report.clone();
    bad["program"] = "rm".into();
    assert_eq!(post(bad, auth.clone()).await.0, StatusCode::BAD_REQUEST);
    let mut bad = report.clone();
    bad["kind"] = "exploded".into();
    assert_eq!(post(bad, auth.clone()).await.0, StatusCode::BAD_REQUEST);
    // A huge message is clipped, not refused.
    let mut long = report.clone();
    long["message"] = "x".repeat(10_000).into();
    assert_eq!(post(long, auth.clone()).await.0, StatusCode::NO_CONTENT);

    // Stored on the credential's asset, newest first; in the asset detail too.
    let items = s
        .get(&format!("/api/v1/assets/{}/lifecycle", a.agent_id))
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    assert!(items[0]["message"].as_str().unwrap().len() <= ward_proto::MAX_LIFECYCLE_MESSAGE + 4);
    assert_eq!(items[1]["detail"], "tampered");
    assert_eq!(items[1]["asset_id"], a.agent_id.as_str());
    let detail = s.asset(&a.agent_id).await;
    assert_eq!(detail["lifecycle"].as_array().unwrap().len(), 2);
    let (st, _) = s
        .api(Method::GET, "/api/v1/assets/ag_none/lifecycle", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .api(
            Method::GET,
            &format!("/api/v1/assets/{}/lifecycle?limit=0", a.agent_id),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}
