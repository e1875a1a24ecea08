//! Wire-shape and parsing tests of the core messages.

use super::*;

#[test]
fn hello_round_trips_with_documented_json_shape() {
    let msg = AgentMsg::Hello {
        wire_version: 1,
        agent_version: "0.1.0".into(),
        fingerprint: "fp".into(),
        last_error: None,
        endpoint: Some("https://198.51.100.7:8443".into()),
        instance: None,
        capabilities: Vec::new(),
    };
    let text = msg.encode();
    // The documented shape: a "type" tag and snake_case names.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "hello");
    assert_eq!(v["wire_version"], 1);
    assert!(v.get("last_error").is_none(), "None fields are omitted");
    assert_eq!(AgentMsg::decode(&text).unwrap(), msg);
}

#[test]
fn server_messages_round_trip() {
    let msgs = [
        ServerMsg::Welcome {
            agent_id: "ag_1".into(),
            policy: Policy::default(),
            server_time_ms: 1_700_000_000_000,
            command_key: Some("AAAA".into()),
        },
        ServerMsg::Policy {
            policy: Policy {
                keepalive_secs: 1,
                missed_keepalives: 3,
                report_interval_secs: 60,
            },
        },
        ServerMsg::KeepaliveAck { seq: 7 },
        ServerMsg::EventsAck { up_to: 99 },
        ServerMsg::Error {
            code: ErrorCode::Protocol,
            message: "bad".into(),
        },
    ];
    for m in msgs {
        assert_eq!(ServerMsg::decode(&m.encode()).unwrap(), m);
    }
}

#[test]
fn keepalive_wire_form_is_stable() {
    // Written by hand from the contract in the crate docs.
    let frame = r#"{"type":"keepalive","seq":42}"#;
    assert_eq!(
        AgentMsg::decode(frame).unwrap(),
        AgentMsg::Keepalive { seq: 42 }
    );
    assert_eq!(AgentMsg::Keepalive { seq: 42 }.encode(), frame);
}

#[test]
fn unknown_fields_are_ignored_unknown_types_are_errors() {
    let extra = r#"{"type":"keepalive","seq":1,"future_field":true}"#;
    assert_eq!(
        AgentMsg::decode(extra).unwrap(),
        AgentMsg::Keepalive { seq: 1 }
    );
    let unknown = r#"{"type":"teleport","seq":1}"#;
    assert!(matches!(
        AgentMsg::decode(unknown),
        Err(ProtoError::Malformed(_))
    ));
}

#[test]
fn malformed_and_oversized_frames_are_rejected() {
    for bad in [
        "",
        "{",
        "null",
        "[]",
        r#"{"seq":1}"#,
        r#"{"type":"keepalive"}"#,
    ] {
        assert!(AgentMsg::decode(bad).is_err(), "{bad:?} must not decode");
    }
    let big = format!(
        r#"{{"type":"keepalive","seq":1,"pad":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert_eq!(
        AgentMsg::decode(&big),
        Err(ProtoError::TooLarge {
            size: big.len(),
            max: MAX_FRAME_BYTES
        })
    );
}

#[test]
fn lifecycle_report_wire_form() {
    // Written by hand from the contract.
    let body = r#"{"kind":"update_refused","program":"ward-update","at_ms":5,"to_version":"0.2.0","detail":"tampered","message":"m"}"#;
    let r: LifecycleReport = serde_json::from_str(body).unwrap();
    assert_eq!(r.kind, LifecycleKind::UpdateRefused);
    assert_eq!(r.from_version, None);
    assert_eq!(serde_json::to_string(&r).unwrap(), body);
    for k in [
        LifecycleKind::UpdateInstalled,
        LifecycleKind::UpdateRolledBack,
        LifecycleKind::UpdateRefused,
        LifecycleKind::UpdateFailed,
        LifecycleKind::CrashLoop,
        LifecycleKind::ResourceCap,
    ] {
        assert_eq!(LifecycleKind::parse(k.as_str()), Some(k));
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    assert_eq!(LifecycleKind::parse("exploded"), None);
    // Old servers answer enrollments without a release key.
    let e: EnrollResponse = serde_json::from_str(
        r#"{"agent_id":"ag","credential":"wa1.ag.s","policy":{"keepalive_secs":30,"missed_keepalives":3,"report_interval_secs":60}}"#,
    )
    .unwrap();
    assert_eq!(e.release_key, None);
}

#[test]
fn credential_parse_and_encode() {
    let c = Credential::parse("wa1.ag_abc.S3cr3t-_x").unwrap();
    assert_eq!(c.agent_id, "ag_abc");
    assert_eq!(c.secret, "S3cr3t-_x");
    assert_eq!(c.encode(), "wa1.ag_abc.S3cr3t-_x");
    for bad in [
        "",
        "wa1",
        "wa1.ag",
        "wa2.ag.s",
        "wa1..s",
        "wa1.ag.",
        "wa1.a g.s",
        "wa1.ag.s/../",
    ] {
        assert!(Credential::parse(bad).is_err(), "{bad:?} must not parse");
    }
    assert!(
        !format!("{c:?}").contains("S3cr3t"),
        "Debug hides the secret"
    );
}

#[test]
fn policy_offline_window_and_validation() {
    let p = Policy::default();
    assert_eq!(p.offline_after_ms(), 90_000);
    assert!(p.validate().is_ok());
    let bad = Policy {
        keepalive_secs: 0,
        ..p
    };
    assert!(bad.validate().is_err());
}

#[test]
fn report_material_difference_ignores_resource_use() {
    let a = HostReport {
        hostname: "h".into(),
        agent_cpu_percent: 1.0,
        ..Default::default()
    };
    let mut b = a.clone();
    b.agent_cpu_percent = 50.0;
    b.agent_rss_bytes = 1 << 20;
    b.uptime_secs = 99;
    assert!(!a.differs_materially(&b));
    b.ips.push("192.0.2.1".into());
    assert!(a.differs_materially(&b));
}
