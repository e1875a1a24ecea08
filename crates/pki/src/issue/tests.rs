use std::os::unix::fs::MetadataExt;
use std::process::Command;

use super::*;

/// Runs a shell pipeline and returns its trimmed stdout (panics on failure).
fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("run sh (openssl is needed for these tests)");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The pin as curl's documentation says to compute it, with the openssl CLI.
fn openssl_pin(cert: &Path) -> String {
    let b64 = sh(&format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        cert.display()
    ));
    format!("sha256//{b64}")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn first_start_creates_ca_and_server_files_with_a_pin_openssl_agrees_with() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    let tls =
        load_or_create_server_tls(&tls_dir, &names(&["ward.example", "198.51.100.7"])).unwrap();
    for f in ["ca.key", "server.key"] {
        assert_eq!(mode(&tls_dir.join(f)), 0o600, "{f}");
    }
    for f in ["ca.crt", "server.crt"] {
        assert!(tls_dir.join(f).is_file(), "{f}");
    }
    assert_eq!(tls.pin, openssl_pin(&tls_dir.join("server.crt")));
    assert_eq!(tls.cert_chain_der.len(), 2);

    // The chain verifies with openssl, and the SANs are the asked-for names plus local ones.
    let verify = sh(&format!(
        "openssl verify -CAfile '{0}/ca.crt' '{0}/server.crt'",
        tls_dir.display()
    ));
    assert!(verify.ends_with("OK"), "{verify}");
    let text = sh(&format!(
        "openssl x509 -in '{}/server.crt' -noout -text",
        tls_dir.display()
    ));
    for want in [
        "DNS:ward.example",
        "IP Address:198.51.100.7",
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
        "TLS Web Server Authentication",
    ] {
        assert!(text.contains(want), "{want} missing in:\n{text}");
    }
    let ca = sh(&format!(
        "openssl x509 -in '{}/ca.crt' -noout -text",
        tls_dir.display()
    ));
    assert!(ca.contains("CA:TRUE"), "{ca}");
    assert!(ca.contains("prime256v1") || ca.contains("P-256"), "{ca}");
}

#[test]
fn restarts_reuse_the_server_key_and_reissue_only_when_names_change() {
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_create_server_tls(dir.path(), &names(&["a.example"])).unwrap();
    let key_before = std::fs::read(dir.path().join("server.key")).unwrap();
    let crt_before = std::fs::read(dir.path().join("server.crt")).unwrap();

    let again = load_or_create_server_tls(dir.path(), &names(&["a.example"])).unwrap();
    assert_eq!(again.pin, first.pin);
    assert_eq!(
        std::fs::read(dir.path().join("server.crt")).unwrap(),
        crt_before
    );

    let renamed = load_or_create_server_tls(dir.path(), &names(&["b.example"])).unwrap();
    assert_eq!(
        renamed.pin, first.pin,
        "the pin is over the key, which is kept"
    );
    assert_eq!(
        std::fs::read(dir.path().join("server.key")).unwrap(),
        key_before
    );
    let crt_after = std::fs::read(dir.path().join("server.crt")).unwrap();
    assert_ne!(crt_after, crt_before, "new names need a new certificate");
    let text = sh(&format!(
        "openssl x509 -in '{}/server.crt' -noout -text",
        dir.path().display()
    ));
    assert!(
        text.contains("DNS:b.example") && !text.contains("DNS:a.example"),
        "{text}"
    );
    assert_eq!(openssl_pin(&dir.path().join("server.crt")), first.pin);
    let verify = sh(&format!(
        "openssl verify -CAfile '{0}/ca.crt' '{0}/server.crt'",
        dir.path().display()
    ));
    assert!(verify.ends_with("OK"), "{verify}");
}

#[test]
fn rustls_config_offers_http1_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let tls = load_or_create_server_tls(dir.path(), &[]).unwrap();
    let cfg = tls.rustls_server_config().unwrap();
    assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert!(!format!("{tls:?}").contains("Pkcs8"), "Debug hides the key");
}

#[test]
fn configured_certificate_files_load_and_mismatched_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    sh(&format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ward.test \
         -keyout '{d}/k1.pem' -out '{d}/c1.pem' -days 2 2>/dev/null && \
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
         -keyout '{d}/k2.pem' -out '{d}/c2.pem' -days 2 2>/dev/null"
    ));
    let tls =
        load_server_tls_files(&dir.path().join("c1.pem"), &dir.path().join("k1.pem")).unwrap();
    assert_eq!(tls.pin, openssl_pin(&dir.path().join("c1.pem")));
    tls.rustls_server_config().unwrap();

    let err = load_server_tls_files(&dir.path().join("c1.pem"), &dir.path().join("k2.pem"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("c1.pem"), "{err}");

    let err = load_server_tls_files(&dir.path().join("missing.pem"), &dir.path().join("k1.pem"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem"), "{err}");
}

#[test]
fn command_key_is_0600_stable_and_its_signatures_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/command.ed25519");
    let key = CommandKey::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let again = CommandKey::load_or_create(&path).unwrap();
    assert_eq!(again.public_b64(), key.public_b64());
    assert!(!format!("{key:?}").contains("PRIVATE"));

    let msg = b"uninstall asset ag_1";
    let sig = STANDARD.decode(key.sign(msg)).unwrap();
    assert_eq!(sig.len(), 64);
    let d = dir.path().display();
    std::fs::write(dir.path().join("msg"), msg).unwrap();
    std::fs::write(dir.path().join("sig"), &sig).unwrap();
    let out = sh(&format!(
        "openssl pkey -in '{}' -pubout -out '{d}/pub.pem' && \
         openssl pkeyutl -verify -pubin -inkey '{d}/pub.pem' -rawin -in '{d}/msg' -sigfile '{d}/sig'",
        path.display()
    ));
    assert!(out.contains("Signature Verified Successfully"), "{out}");
    // The public key openssl derives is the one we publish.
    let pub_b64 = sh(&format!(
        "openssl pkey -pubin -in '{d}/pub.pem' -outform der | tail -c 32 | base64"
    ));
    assert_eq!(pub_b64, key.public_b64());
}

#[test]
fn release_key_is_0600_stable_distinct_and_verifiable_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/release.ed25519");
    let key = ReleaseKey::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        ReleaseKey::load_or_create(&path).unwrap().public_b64(),
        key.public_b64()
    );
    let other = ReleaseKey::load_or_create(&dir.path().join("keys/other")).unwrap();
    assert_ne!(other.public_b64(), key.public_b64());
    assert!(!format!("{key:?}").contains("PRIVATE"));
    let msg = b"ward release metadata v1\n{}";
    let d = dir.path().display();
    std::fs::write(dir.path().join("msg"), msg).unwrap();
    std::fs::write(
        dir.path().join("sig"),
        STANDARD.decode(key.sign(msg)).unwrap(),
    )
    .unwrap();
    let out = sh(&format!(
        "openssl pkey -in '{}' -pubout -out '{d}/pub.pem' && \
         openssl pkeyutl -verify -pubin -inkey '{d}/pub.pem' -rawin -in '{d}/msg' -sigfile '{d}/sig'",
        path.display()
    ));
    assert!(out.contains("Signature Verified Successfully"), "{out}");
}

#[test]
fn civil_dates_match_known_days() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    // 2000-03-01 is day 11017; 2024-02-29 is day 19782.
    assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
}

#[test]
fn signed_documents_verify_with_the_published_public_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = CommandKey::load_or_create(&dir.path().join("k")).unwrap();
    let other = CommandKey::load_or_create(&dir.path().join("k2")).unwrap();
    let payload = serde_json::json!({"id": "cmd_1", "agent_id": "ag_1"});
    let doc = key.sign_document("ward-command-v1", &payload).unwrap();
    // The payload is the exact JSON that was signed.
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&doc.payload).unwrap(),
        payload
    );
    let published = crate::signed::Verifier::from_b64(&key.public_b64()).unwrap();
    assert_eq!(published, key.verifier());
    assert!(published.verify("ward-command-v1", &doc).is_ok());
    assert!(other.verifier().verify("ward-command-v1", &doc).is_err());
    // Cross-checked with openssl: the signed bytes are DOMAIN NUL payload.
    let d = dir.path().display();
    let mut msg = b"ward-command-v1\0".to_vec();
    msg.extend_from_slice(doc.payload.as_bytes());
    std::fs::write(dir.path().join("msg"), &msg).unwrap();
    std::fs::write(
        dir.path().join("sig"),
        STANDARD.decode(&doc.signature).unwrap(),
    )
    .unwrap();
    let out = sh(&format!(
        "openssl pkey -in '{d}/k' -pubout -out '{d}/pub.pem' && \
         openssl pkeyutl -verify -pubin -inkey '{d}/pub.pem' -rawin -in '{d}/msg' -sigfile '{d}/sig'"
    ));
    assert!(out.contains("Signature Verified Successfully"), "{out}");
}
