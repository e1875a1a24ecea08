//! Tests for the pin and the verifier. The oracle is the real `openssl` CLI:
//! it creates the certificates and computes the expected pins.

use super::*;
use std::path::Path;
use std::process::Command;

/// A self-signed certificate and its PKCS#8 key, both DER, made by openssl.
struct OpensslCert {
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    /// `sha256//...` as computed by openssl itself.
    oracle_pin: String,
}

fn run(cmd: &str, dir: &Path) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn openssl_cert(newkey: &str) -> OpensslCert {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        &format!(
            "openssl req -x509 -newkey {newkey} -nodes -keyout key.pem -out cert.pem \
             -days 2 -subj /CN=ward-test -addext subjectAltName=DNS:ward-test 2>/dev/null"
        ),
        d,
    );
    run("openssl x509 -in cert.pem -outform der -out cert.der", d);
    run("openssl pkey -in key.pem -outform der -out key.der", d);
    let oracle = run(
        "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
        d,
    );
    OpensslCert {
        cert_der: std::fs::read(d.join("cert.der")).unwrap(),
        key_der: std::fs::read(d.join("key.der")).unwrap(),
        oracle_pin: format!("sha256//{}", String::from_utf8(oracle).unwrap().trim()),
    }
}

#[test]
fn pin_matches_openssl_for_rsa_ec_and_ed25519() {
    for newkey in [
        "rsa:2048",
        "ec -pkeyopt ec_paramgen_curve:P-256",
        "ec -pkeyopt ec_paramgen_curve:P-384",
        "ed25519",
    ] {
        let c = openssl_cert(newkey);
        assert_eq!(spki_pin(&c.cert_der).unwrap(), c.oracle_pin, "{newkey}");
        let digest = parse_pin(&c.oracle_pin).unwrap();
        assert_eq!(format_pin(&digest), c.oracle_pin);
    }
}

#[test]
fn parse_pin_rejects_malformed_pins() {
    let good = format!("sha256//{}", STANDARD.encode([7u8; 32]));
    assert_eq!(parse_pin(&good).unwrap(), [7u8; 32]);
    assert_eq!(parse_pin(&format!(" {good}\n")).unwrap(), [7u8; 32]);
    for bad in [
        String::new(),
        "sha256//".to_string(),
        STANDARD.encode([7u8; 32]),
        format!("sha1//{}", STANDARD.encode([7u8; 32])),
        format!("sha256//{}", STANDARD.encode([7u8; 31])),
        format!("sha256//{}", STANDARD.encode([7u8; 33])),
        "sha256//not base64!".to_string(),
    ] {
        assert!(
            matches!(parse_pin(&bad), Err(PinError::BadPin(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn walker_never_panics_on_truncated_or_mutated_input() {
    let c = openssl_cert("ec -pkeyopt ec_paramgen_curve:P-256");
    for len in 0..c.cert_der.len() {
        assert!(extract_spki(&c.cert_der[..len]).is_err(), "prefix {len}");
    }
    let mut trailing = c.cert_der.clone();
    trailing.push(0);
    assert!(extract_spki(&trailing).is_err());
    // Flip every byte of the first 200 (all the header and length bytes):
    // whatever comes out, nothing panics or reads out of bounds.
    for i in 0..200.min(c.cert_der.len()) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut m = c.cert_der.clone();
            m[i] ^= x;
            let _ = extract_spki(&m);
        }
    }
    for bad in [
        &[0x30u8, 0x80][..],
        &[0x30, 0x85, 1, 1, 1, 1, 1],
        &[0x1f, 0],
    ] {
        assert!(extract_spki(bad).is_err());
    }
}

/// Drives a full in-memory TLS handshake; returns the client's error, if any.
fn handshake(
    client_cfg: Arc<rustls::ClientConfig>,
    server: &OpensslCert,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(), rustls::Error> {
    use rustls::pki_types::PrivateKeyDer;
    let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(server.cert_der.clone())],
        PrivateKeyDer::try_from(server.key_der.clone()).unwrap(),
    )
    .unwrap();
    // The name is not checked by the pin; use one the cert does not carry.
    let name = ServerName::try_from("not-the-cert-name.example").unwrap();
    let mut client = rustls::ClientConnection::new(client_cfg, name)?;
    let mut srv = rustls::ServerConnection::new(Arc::new(server_cfg)).unwrap();
    for _ in 0..20 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            srv.read_tls(&mut rd).unwrap();
        }
        // The server's own errors surface as the client's alert below.
        let _ = srv.process_new_packets();
        let mut buf = Vec::new();
        srv.write_tls(&mut buf).unwrap();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
        }
        client.process_new_packets()?;
        if !client.is_handshaking() && !srv.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn verifier_accepts_the_pinned_key_and_refuses_another() {
    let a = openssl_cert("ec -pkeyopt ec_paramgen_curve:P-256");
    let b = openssl_cert("rsa:2048");
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        for server in [&a, &b] {
            let cfg = pinned_client_config(&server.oracle_pin).unwrap();
            assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
            handshake(cfg, server, versions).expect("pinned key is accepted");
        }
        let cfg = pinned_client_config(&a.oracle_pin).unwrap();
        let err = handshake(cfg, &b, versions).expect_err("other key is refused");
        assert!(err.to_string().contains(PIN_MISMATCH), "{err}");
    }
}

#[test]
fn pinned_client_config_rejects_a_bad_pin() {
    assert!(matches!(
        pinned_client_config("sha256//AAAA"),
        Err(PinError::BadPin(_))
    ));
}

#[test]
fn recording_verifier_accepts_any_key_and_reports_its_pin() {
    let a = openssl_cert("ec -pkeyopt ec_paramgen_curve:P-256");
    let b = openssl_cert("rsa:2048");
    for server in [&a, &b] {
        let (cfg, rec) = recording_client_config().unwrap();
        assert_eq!(rec.seen(), None);
        handshake(cfg, server, &[&rustls::version::TLS13]).expect("any key is accepted");
        assert_eq!(rec.seen().as_deref(), Some(server.oracle_pin.as_str()));
    }
    // A pinned verifier records the key it refused, too.
    let v = Arc::new(PinnedVerifier::new(&a.oracle_pin).unwrap());
    let err = handshake(
        client_config_with(v.clone()).unwrap(),
        &b,
        &[&rustls::version::TLS13],
    )
    .expect_err("other key is refused");
    assert!(err.to_string().contains(PIN_MISMATCH), "{err}");
    assert_eq!(v.seen().as_deref(), Some(b.oracle_pin.as_str()));
}
