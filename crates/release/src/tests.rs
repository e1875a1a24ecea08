use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};

use crate::metadata::{key_id, FileInfo, PlatformFiles, ReleaseEntry};
use crate::*;

fn key(seed: u8) -> (SigningKey, String) {
    let k = SigningKey::from_bytes(&[seed; 32]);
    let public = STANDARD.encode(k.verifying_key().to_bytes());
    (k, public)
}

fn file(byte: char, size: u64) -> FileInfo {
    FileInfo {
        sha256: std::iter::repeat_n(byte, 64).collect(),
        size,
    }
}

fn release(v: &str, platforms: &[&str]) -> ReleaseEntry {
    ReleaseEntry {
        version: v.into(),
        platforms: platforms
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    PlatformFiles {
                        agent: file('a', 100),
                        update: Some(file('b', 50)),
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

fn doc(version: u64, releases: Vec<ReleaseEntry>) -> Metadata {
    Metadata::new(version, 1_000, 10_000, releases)
}

fn signed(k: &SigningKey, public: &str, m: &Metadata) -> String {
    sign_envelope(m, public, |msg| STANDARD.encode(k.sign(msg).to_bytes())).unwrap()
}

#[test]
fn signed_metadata_verifies_and_round_trips() {
    let (k, public) = key(7);
    let m = doc(3, vec![release("0.2.0", &["linux-x86_64"])]);
    let env = signed(&k, &public, &m);
    let trusted = TrustedKey::parse(&public).unwrap();
    assert_eq!(verify(&env, &trusted).unwrap(), m);
    // The envelope has the documented shape: base64 document, hex key id.
    let v: serde_json::Value = serde_json::from_str(&env).unwrap();
    let doc_bytes = STANDARD.decode(v["signed"].as_str().unwrap()).unwrap();
    let d: serde_json::Value = serde_json::from_slice(&doc_bytes).unwrap();
    assert_eq!(d["type"], "ward.releases");
    assert_eq!(d["spec_version"], 1);
    assert_eq!(d["version"], 3);
    assert_eq!(
        d["releases"][0]["platforms"]["linux-x86_64"]["agent"]["size"],
        100
    );
    let raw = k.verifying_key().to_bytes();
    assert_eq!(v["signatures"][0]["keyid"], key_id(&raw));
    assert_eq!(key_id(&raw).len(), 64);
    assert_eq!(trusted.to_b64(), public);
}

#[test]
fn signature_covers_the_context_and_exact_bytes() {
    let (k, public) = key(7);
    let m = doc(3, vec![release("0.2.0", &["linux-x86_64"])]);
    let doc_bytes = serde_json::to_vec(&m).unwrap();
    // Signed without the context: must not verify.
    let env = serde_json::json!({
        "signed": STANDARD.encode(&doc_bytes),
        "signatures": [{"keyid": key_id(&k.verifying_key().to_bytes()),
                        "sig": STANDARD.encode(k.sign(&doc_bytes).to_bytes())}],
    })
    .to_string();
    let trusted = TrustedKey::parse(&public).unwrap();
    assert!(matches!(
        verify(&env, &trusted),
        Err(ReleaseError::BadSignature { .. })
    ));
    // With the context, by hand: verifies.
    let mut msg = SIGNING_CONTEXT.to_vec();
    msg.extend_from_slice(&doc_bytes);
    let env = serde_json::json!({
        "signed": STANDARD.encode(&doc_bytes),
        "signatures": [{"keyid": key_id(&k.verifying_key().to_bytes()),
                        "sig": STANDARD.encode(k.sign(&msg).to_bytes())}],
    })
    .to_string();
    assert_eq!(verify(&env, &trusted).unwrap(), m);
}

#[test]
fn tampered_document_or_foreign_key_is_refused() {
    let (k, public) = key(7);
    let m = doc(3, vec![release("0.2.0", &["linux-x86_64"])]);
    let env = signed(&k, &public, &m);
    let trusted = TrustedKey::parse(&public).unwrap();

    // Change one byte of the signed document (a size), keep the signature.
    let mut v: serde_json::Value = serde_json::from_str(&env).unwrap();
    let text = String::from_utf8(STANDARD.decode(v["signed"].as_str().unwrap()).unwrap()).unwrap();
    let forged = text.replace("\"size\":100", "\"size\":101");
    assert_ne!(forged, text);
    v["signed"] = STANDARD.encode(forged.as_bytes()).into();
    let e = verify(&v.to_string(), &trusted).unwrap_err();
    assert!(
        matches!(e, ReleaseError::BadSignature { .. }),
        "{e}: {}",
        e.kind()
    );
    assert_eq!(e.kind(), "bad_signature");

    // Signed by another key: no signature of the trusted key.
    let (other, other_public) = key(9);
    let env2 = signed(&other, &other_public, &m);
    let e = verify(&env2, &trusted).unwrap_err();
    assert!(matches!(e, ReleaseError::UnknownKey { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("not signed by the trusted release key"));

    // Another key's signature under the trusted key id.
    let mut v: serde_json::Value = serde_json::from_str(&env2).unwrap();
    v["signatures"][0]["keyid"] = trusted.id().into();
    assert!(matches!(
        verify(&v.to_string(), &trusted),
        Err(ReleaseError::BadSignature { .. })
    ));
    // Garbage signature bytes.
    v["signatures"][0]["sig"] = "AAAA".into();
    assert!(matches!(
        verify(&v.to_string(), &trusted),
        Err(ReleaseError::BadSignature { .. })
    ));
}

#[test]
fn malformed_envelopes_and_documents_are_errors_not_panics() {
    let (k, public) = key(7);
    let trusted = TrustedKey::parse(&public).unwrap();
    for bad in [
        "",
        "{",
        "null",
        "[]",
        r#"{"signed":"x"}"#,
        r#"{"signed":1,"signatures":[]}"#,
    ] {
        assert!(verify(bad, &trusted).is_err(), "{bad:?}");
    }
    let big = "x".repeat(MAX_ENVELOPE_BYTES + 1);
    assert!(matches!(
        verify(&big, &trusted),
        Err(ReleaseError::TooLarge { .. })
    ));
    // Validly signed but inconsistent documents are refused.
    let mut dup = doc(1, vec![release("0.2.0", &["p"]), release("0.2.0", &["p"])]);
    assert!(sign_envelope(&dup, &public, |_| String::new()).is_err());
    dup.releases.pop();
    dup.releases[0].version = "two".into();
    assert!(matches!(dup.validate(), Err(ReleaseError::BadVersion(_))));
    let mut m = doc(1, vec![release("0.2.0", &["p"])]);
    m.releases[0].platforms.get_mut("p").unwrap().agent.sha256 = "ZZ".into();
    assert!(m.validate().is_err());
    let mut m = doc(1, vec![]);
    m.spec_version = 2;
    assert!(m.validate().unwrap_err().to_string().contains("too old"));
    let mut m = doc(1, vec![]);
    m.expires_ms = m.issued_ms;
    assert!(m.validate().is_err());
    // A document signed correctly but not valid is refused after verification.
    let mut m = doc(1, vec![]);
    m.kind = "other".into();
    let bytes = serde_json::to_vec(&m).unwrap();
    let mut msg = SIGNING_CONTEXT.to_vec();
    msg.extend_from_slice(&bytes);
    let env = serde_json::json!({"signed": STANDARD.encode(&bytes),
        "signatures": [{"keyid": trusted.id(), "sig": STANDARD.encode(k.sign(&msg).to_bytes())}]});
    assert!(matches!(
        verify(&env.to_string(), &trusted),
        Err(ReleaseError::Malformed(_))
    ));
    assert!(TrustedKey::parse("not base64!").is_err());
    assert!(TrustedKey::parse(&STANDARD.encode([1u8; 31])).is_err());
}

#[test]
fn freshness_refuses_rollback_and_expiry() {
    let m = doc(5, vec![]);
    assert!(check_fresh(&m, 5, 9_999).is_ok(), "same version is fine");
    assert!(check_fresh(&m, 0, 1_000).is_ok());
    let e = check_fresh(&m, 6, 2_000).unwrap_err();
    assert_eq!(
        e,
        ReleaseError::Rollback {
            found: 5,
            trusted: 6
        }
    );
    assert_eq!(e.kind(), "metadata_rollback");
    let e = check_fresh(&m, 1, 10_000).unwrap_err();
    assert!(matches!(e, ReleaseError::Expired { .. }));
    assert_eq!(e.kind(), "expired_metadata");
    assert!(check_fresh(&m, 1, 70_000)
        .unwrap_err()
        .to_string()
        .contains("expired 60 s ago"));
}

#[test]
fn plan_installs_newer_refuses_older_and_unlisted() {
    let m = doc(
        1,
        vec![
            release("0.2.0", &["linux-x86_64"]),
            release("0.10.0", &["linux-x86_64"]),
        ],
    );
    assert_eq!(
        plan(&m, None, "0.1.0", "linux-x86_64").unwrap(),
        Plan::UpToDate
    );
    assert_eq!(
        plan(&m, Some("0.2.0"), "0.2.0", "linux-x86_64").unwrap(),
        Plan::UpToDate
    );
    match plan(&m, Some("0.10.0"), "0.9.0", "linux-x86_64").unwrap() {
        Plan::Install { version, files } => {
            assert_eq!(version, "0.10.0");
            assert_eq!(files.agent.size, 100);
        }
        p => panic!("{p:?}"),
    }
    // 0.2.0 < 0.10.0 numerically (not as strings).
    let e = plan(&m, Some("0.2.0"), "0.10.0", "linux-x86_64").unwrap_err();
    assert_eq!(e.kind(), "older_version");
    assert!(e
        .to_string()
        .contains("older than the running version 0.10.0"));
    assert!(matches!(
        plan(&m, Some("0.3.0"), "0.1.0", "linux-x86_64"),
        Err(ReleaseError::NotListed(_))
    ));
    assert!(matches!(
        plan(&m, Some("0.2.0"), "0.1.0", "linux-aarch64"),
        Err(ReleaseError::NoPackage { .. })
    ));
    assert!(plan(&m, Some("x"), "0.1.0", "linux-x86_64").is_err());
}

#[test]
fn file_check_names_size_and_hash_mismatches() {
    let f = file('a', 100);
    let good: String = std::iter::repeat_n('a', 64).collect();
    assert!(f.check("ward-agent", "0.2.0", 100, &good).is_ok());
    let e = f.check("ward-agent", "0.2.0", 101, &good).unwrap_err();
    assert_eq!(e.kind(), "tampered");
    assert!(e.to_string().contains("101 bytes received"));
    let bad: String = std::iter::repeat_n('b', 64).collect();
    let e = f.check("ward-agent", "0.2.0", 100, &bad).unwrap_err();
    assert!(e
        .to_string()
        .contains("ward-agent of release 0.2.0 was tampered with"));
}

#[test]
fn versions_order_as_semver() {
    use std::cmp::Ordering::*;
    assert_eq!(version::cmp("0.9.0", "0.10.0").unwrap(), Less);
    assert_eq!(version::cmp("1.0.0-rc.1", "1.0.0").unwrap(), Less);
    assert_eq!(version::cmp("1.0.0", "1.0.0").unwrap(), Equal);
    assert_eq!(version::cmp("2.0.0", "1.99.99").unwrap(), Greater);
    for bad in ["", "1", "1.0", " 1.0.0", "1.0.0/x", "../1.0.0", "v1.0.0"] {
        assert!(version::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn rollout_pins_groups_and_percentages() {
    let versions = ["0.1.0", "0.3.0", "0.2.0", "junk"];
    let all = Rollout::default();
    assert!(all.problems().is_empty());
    assert_eq!(
        all.select(&versions, "ag_1", None).unwrap().version,
        "0.3.0"
    );
    // Pin holds at 0.2.0.
    let pinned = Rollout {
        pinned_version: Some("0.2.0".into()),
        ..Rollout::default()
    };
    assert_eq!(
        pinned.select(&versions, "ag_1", None).unwrap().version,
        "0.2.0"
    );
    // A pin below every release offers nothing.
    let low = Rollout {
        pinned_version: Some("0.0.1".into()),
        ..Rollout::default()
    };
    assert_eq!(low.select(&versions, "ag_1", None), None);
    assert_eq!(all.select(&[], "ag_1", None), None);

    // 0 %: only the listed group gets the newest; others the previous one.
    let canary = Rollout {
        pinned_version: None,
        percentage: 0,
        groups: vec!["canary".into()],
    };
    let s = canary.select(&versions, "ag_1", Some("canary")).unwrap();
    assert_eq!((s.version.as_str(), s.reason.as_str()), ("0.3.0", "group"));
    let s = canary.select(&versions, "ag_1", Some("web")).unwrap();
    assert_eq!(
        (s.version.as_str(), s.reason.as_str()),
        ("0.2.0", "previous")
    );
    assert_eq!(canary.select(&["0.3.0"], "ag_1", None), None);

    // Percentages: the bucket is SHA-256(id)[0..4] mod 100, so the share of
    // 2,000 ids that get the newest release is close to the percentage, and
    // raising it only adds agents.
    let ids: Vec<String> = (0..2000).map(|i| format!("ag_{i}")).collect();
    let mut prev: Option<Vec<bool>> = None;
    for pct in [0u8, 10, 50, 100] {
        let r = Rollout {
            percentage: pct,
            ..Rollout::default()
        };
        let newest: Vec<bool> = ids
            .iter()
            .map(|id| r.select(&versions, id, None).unwrap().version == "0.3.0")
            .collect();
        let share = newest.iter().filter(|b| **b).count() as f64 / ids.len() as f64;
        assert!(
            (share - f64::from(pct) / 100.0).abs() < 0.04,
            "{pct}% gave {share}"
        );
        if let Some(p) = prev {
            assert!(p.iter().zip(&newest).all(|(was, now)| !*was || *now));
        }
        prev = Some(newest);
    }
    // The bucket of one id, computed here independently.
    use sha2::Digest;
    let d = sha2::Sha256::digest(b"ag_42");
    let want = (u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 100) as u8;
    assert_eq!(rollout::bucket("ag_42"), want);

    let bad = Rollout {
        pinned_version: Some("latest".into()),
        percentage: 101,
        groups: vec![" ".into()],
    };
    assert_eq!(bad.problems().len(), 3);
}
