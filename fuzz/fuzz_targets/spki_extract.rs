//! The DER walker that finds a certificate's SubjectPublicKeyInfo for the
//! server-key pin: arbitrary bytes never panic or read out of bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pin) = ward_pki::pin::spki_pin(data) {
        assert!(ward_pki::pin::parse_pin(&pin).is_ok());
    }
});
