//! Release metadata on arbitrary input: envelopes never panic the verifier;
//! any input that is a valid document, once signed, verifies to the same
//! document, and the freshness check and the updater's plan never panic on it.
#![no_main]
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use ward_release::{check_fresh, plan, sign_envelope, verify, Metadata, TrustedKey};

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = STANDARD.encode(key.verifying_key().to_bytes());
    let Ok(trusted) = TrustedKey::parse(&public) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As an envelope: must be refused or verified, never panic.
    if let Ok(m) = verify(text, &trusted) {
        let _ = check_fresh(&m, 1, 0);
    }
    // As a document: a valid one signs and verifies to itself.
    let Ok(doc) = serde_json::from_str::<Metadata>(text) else {
        return;
    };
    if doc.validate().is_err() {
        return;
    }
    let env = sign_envelope(&doc, &public, |msg| STANDARD.encode(key.sign(msg).to_bytes()))
        .expect("a valid document signs");
    let back = verify(&env, &trusted).expect("a signed document verifies");
    assert_eq!(back, doc);
    let _ = check_fresh(&back, back.version, back.issued_ms);
    for r in &back.releases {
        for platform in r.platforms.keys() {
            let _ = plan(&back, Some(&r.version), "0.1.0", platform);
        }
    }
});
