//! Decoders of signed documents on arbitrary input: uninstall tokens
//! (`wut1.<payload>.<signature>`), `Signed` JSON, the payloads an agent
//! decodes (command, token, protection statement, notice). Never a panic;
//! a token that decodes re-encodes to one that decodes to the same
//! document; verification with a fixed key only ever says no.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_pki::signed::{decode_token, encode_token, Verifier};
use ward_proto::{
    AgentNotice, CommandPayload, ProtectionPayload, Signed, UninstallTokenPayload,
};

fn payloads(doc: &Signed) {
    let _ = doc.decode_payload::<CommandPayload>();
    let _ = doc.decode_payload::<UninstallTokenPayload>();
    let _ = doc.decode_payload::<ProtectionPayload>();
    if let Ok(n) = doc.decode_payload::<AgentNotice>() {
        let _ = n.validate();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The public half of the all-zero seed key: nothing random is signed by it.
    let v = Verifier::from_b64("O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=").ok();
    if let Ok(doc) = decode_token(text) {
        let again = encode_token(&doc).expect("a decoded token re-encodes");
        assert_eq!(decode_token(&again).ok(), Some(doc.clone()));
        if let Some(v) = &v {
            assert!(v.verify("ward-uninstall-token-v1", &doc).is_err());
        }
        payloads(&doc);
    }
    if let Ok(doc) = serde_json::from_str::<Signed>(text) {
        if let Some(v) = &v {
            assert!(v.verify("ward-command-v1", &doc).is_err());
        }
        payloads(&doc);
    }
    let _ = Verifier::from_b64(text);
});
