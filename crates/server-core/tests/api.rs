//! The REST API, downloads and public endpoints over real TLS.

mod common;

use std::process::Command;

use axum::http::{Method, StatusCode};
use common::TestServer;
use serde_json::{json, Value};

#[tokio::test]
async fn api_requires_a_live_token() {
    let s = TestServer::start().await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer wt_wrong")],
        vec![("authorization", "Basic dXNlcjpwYXNz")],
    ] {
        for path in [
            "/api/v1/assets",
            "/api/v1/keys",
            "/api/v1/settings/policy",
            "/api/v1/install-command?platform=linux-x86_64",
        ] {
            let (status, body, _) = s.request(Method::GET, path, &headers, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {headers:?}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
    let (status, _) = s.api(Method::GET, "/api/v1/assets", None).await;
    assert_eq!(status, StatusCode::OK);

    // Public endpoints need no token.
    let (status, body, _) = s.request(Method::GET, "/healthz", &[], None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (status, body, _) = s
        .request(Method::GET, "/api/v1/openapi.json", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/assets",
        "/api/v1/assets/{id}",
        "/api/v1/keys",
        "/api/v1/keys/{id}/revoke",
        "/api/v1/install-command",
        "/api/v1/settings/policy",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    let (status, body, _) = s.request(Method::GET, "/nope", &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn keys_can_be_listed_created_and_revoked() {
    let s = TestServer::start().await;
    let keys = s.get("/api/v1/keys").await;
    let items = keys["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "first start creates one key: {keys}");
    assert_eq!(items[0]["label"], "default");

    let (status, k) = s
        .api(
            Method::POST,
            "/api/v1/keys",
            Some(json!({"label": "web servers", "default_group": "web"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{k}");
    assert_eq!(k["default_group"], "web");
    assert_eq!(k["revoked"], false);
    assert!(k["secret"].as_str().unwrap().starts_with("wk_"));
    let id = k["id"].as_str().unwrap();

    // Enrolled assets get the key's default group.
    let e = s.enroll(k["secret"].as_str().unwrap(), "web-7").await;
    assert_eq!(s.asset(&e.agent_id).await["group"], "web");

    for bad in [
        json!({}),
        json!({"label": ""}),
        json!({"label": "x", "extra": 1}),
    ] {
        let (status, v) = s.api(Method::POST, "/api/v1/keys", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }

    let (status, r) = s
        .api(Method::POST, &format!("/api/v1/keys/{id}/revoke"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["revoked"], true);
    assert!(r["revoked_at"].is_string());
    let (status, v) = s
        .api(Method::POST, "/api/v1/keys/key_missing/revoke", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        s.get("/api/v1/keys").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn install_command_endpoint() {
    let s = TestServer::start().await;
    let (key_id, secret) = s.create_key("newest").await;
    let v = s
        .get("/api/v1/install-command?platform=linux-aarch64")
        .await;
    assert_eq!(v["platform"], "linux-aarch64");
    assert_eq!(v["key_id"], key_id.as_str(), "default: the newest key");
    let cmd = v["command"].as_str().unwrap();
    let url = format!("https://127.0.0.1:{}", s.addr.port());
    assert!(
        cmd.contains(&format!("--pinnedpubkey '{}'", s.pin)),
        "{cmd}"
    );
    assert!(cmd.contains(&format!("'{url}/install.sh'")), "{cmd}");
    assert!(cmd.contains(&format!("--key '{secret}'")), "{cmd}");
    assert!(cmd.ends_with("--platform linux-aarch64"), "{cmd}");

    let (status, _) = s
        .api(
            Method::GET,
            "/api/v1/install-command?platform=windows",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = s
        .api(
            Method::GET,
            "/api/v1/install-command?platform=linux-x86_64&key=key_nope",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.api(Method::POST, &format!("/api/v1/keys/{key_id}/revoke"), None)
        .await;
    let (status, v) = s
        .api(
            Method::GET,
            &format!("/api/v1/install-command?platform=linux-x86_64&key={key_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn asset_list_filters_searches_and_pages() {
    let s = TestServer::start().await;
    let (_, key) = s.create_key("k").await;
    let mut ids = Vec::new();
    for h in ["alpha", "bravo", "charlie", "delta", "echo"] {
        ids.push(s.enroll(&key, h).await.agent_id);
    }
    let e = s.enroll(&key, "foxtrot").await;
    let (mut ws, _) = s.session(&e.credential).await;
    ws.keepalive(1).await;
    s.wait_asset(&e.agent_id, "protected", |a| a["status"] == "protected")
        .await;

    // Pages of 2 in hostname order, following next_cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/assets?limit=2&cursor={c}"),
            None => "/api/v1/assets?limit=2".to_string(),
        };
        let page = s.get(&path).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|a| a["hostname"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    );

    let p = s.get("/api/v1/assets?status=protected").await;
    let hosts: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["foxtrot"]);
    let u = s
        .get("/api/v1/assets?status=unprotected&reason=never_connected")
        .await;
    assert_eq!(u["items"].as_array().unwrap().len(), 5);
    let q = s.get("/api/v1/assets?q=HARL").await;
    assert_eq!(q["items"][0]["hostname"], "charlie");
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    let by_ip = s.get("/api/v1/assets?q=192.0.2.10").await;
    assert_eq!(by_ip["items"].as_array().unwrap().len(), 6);

    // Every documented field is present.
    let a = &q["items"][0];
    for f in [
        "id",
        "hostname",
        "ips",
        "os",
        "kernel",
        "arch",
        "platform",
        "agent_version",
        "group",
        "status",
        "status_reason",
        "status_since",
        "last_seen",
        "first_seen",
        "enrolled_at",
        "last_addr",
        "last_error",
        "last_endpoint",
        "report",
    ] {
        assert!(a.get(f).is_some(), "field {f} missing: {a}");
    }
    assert_eq!(a["os"], "Debian GNU/Linux 12 (bookworm)");
    assert!(a["enrolled_at"].as_str().unwrap().ends_with('Z'));

    for bad in [
        "status=online",
        "reason=asleep",
        "limit=0",
        "limit=5000",
        "bogus=1",
    ] {
        let (status, v) = s
            .api(Method::GET, &format!("/api/v1/assets?{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (status, _) = s.api(Method::GET, "/api/v1/assets/ag_missing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    drop(ids);
}

#[tokio::test]
async fn agent_packages_and_installer_are_served() {
    let s = TestServer::start().await;
    let (status, body, _) = s
        .request(Method::GET, "/download/agent/linux-x86_64", &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no ward-agent package"),
        "{v}"
    );
    let (status, _, _) = s
        .request(Method::GET, "/download/agent/..%2F..%2Fward.db", &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let pkg_dir = s.data_dir().join("packages/linux-x86_64");
    std::fs::create_dir_all(&pkg_dir).unwrap();
    let pkg = pkg_dir.join("ward-agent");
    std::fs::write(&pkg, b"#!/bin/sh\necho agent\n").unwrap();
    let want = sha256sum(&pkg);

    let (status, body, headers) = s
        .request(Method::GET, "/download/agent/linux-x86_64", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"#!/bin/sh\necho agent\n");
    assert_eq!(headers["x-ward-sha256"], want.as_str());
    let (status, body, _) = s
        .request(
            Method::GET,
            "/download/agent/linux-x86_64.sha256",
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!("{want}  ward-agent\n")
    );

    // A replaced package is served fresh.
    std::fs::write(&pkg, b"#!/bin/sh\necho agent v2, longer\n").unwrap();
    let (_, body, headers) = s
        .request(Method::GET, "/download/agent/linux-x86_64", &[], None)
        .await;
    assert_eq!(body, b"#!/bin/sh\necho agent v2, longer\n");
    assert_eq!(headers["x-ward-sha256"], sha256sum(&pkg).as_str());

    let (status, body, _) = s.request(Method::GET, "/install.sh", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let script = String::from_utf8(body).unwrap();
    assert!(script.starts_with("#!/bin/sh"));
    assert_eq!(script.trim_end().lines().last(), Some("main \"$@\""));
}

fn sha256sum(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
