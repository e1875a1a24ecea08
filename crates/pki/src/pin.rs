//! The server-key pin and the rustls verifier that enforces it.
//!
//! A pin is curl's `--pinnedpubkey` form: `sha256//` followed by the standard
//! base64 of the SHA-256 of the certificate's DER `SubjectPublicKeyInfo`.
//! The pin is the only trust anchor of an agent: [`PinnedVerifier`] accepts a
//! server certificate iff its public key hashes to the pin (names, chain and
//! validity dates are not checked), and still verifies the TLS handshake
//! signatures so the server must hold the private key.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Prefix of the pin string, as curl writes it.
pub const PIN_PREFIX: &str = "sha256//";

/// Text every pin mismatch carries, so callers can show it verbatim.
pub const PIN_MISMATCH: &str = "server key does not match pin";

/// Errors reading certificates or pins.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("malformed certificate: {0}")]
    BadCertificate(&'static str),
    #[error("malformed pin: {0}")]
    BadPin(String),
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// `sha256//BASE64` of the DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_pin(cert_der: &[u8]) -> Result<String, PinError> {
    Ok(format_pin(&spki_sha256(cert_der)?))
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_sha256(cert_der: &[u8]) -> Result<[u8; 32], PinError> {
    let spki = extract_spki(cert_der)?;
    Ok(Sha256::digest(spki).into())
}

/// The pin string for a SHA-256 digest.
pub fn format_pin(digest: &[u8; 32]) -> String {
    format!("{PIN_PREFIX}{}", STANDARD.encode(digest))
}

/// Parses `sha256//BASE64` into the 32-byte digest.
pub fn parse_pin(s: &str) -> Result<[u8; 32], PinError> {
    let s = s.trim();
    let Some(b64) = s.strip_prefix(PIN_PREFIX) else {
        return Err(PinError::BadPin(format!(
            "expected {PIN_PREFIX}<base64 of 32 bytes>"
        )));
    };
    let bytes = STANDARD
        .decode(b64)
        .map_err(|e| PinError::BadPin(format!("invalid base64: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        PinError::BadPin(format!(
            "a SHA-256 pin holds 32 bytes, this one holds {}",
            bytes.len()
        ))
    })
}

/// One DER TLV: the tag, the whole encoding and the content.
struct Tlv<'a> {
    tag: u8,
    whole: &'a [u8],
    content: &'a [u8],
}

/// Reads the TLV at the start of `input`; returns it and what follows.
fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), PinError> {
    let (&tag, rest) = input
        .split_first()
        .ok_or(PinError::BadCertificate("truncated (expected a tag)"))?;
    if tag & 0x1f == 0x1f {
        return Err(PinError::BadCertificate(
            "multi-byte tags are not used in certificates",
        ));
    }
    let (&first, mut rest) = rest
        .split_first()
        .ok_or(PinError::BadCertificate("truncated (expected a length)"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(PinError::BadCertificate("indefinite length is not DER"));
        }
        if n > 4 || n > rest.len() {
            return Err(PinError::BadCertificate("bad length"));
        }
        let (len_bytes, after) = rest.split_at(n);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if len > rest.len() {
        return Err(PinError::BadCertificate("length runs past the end"));
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Ok((
        Tlv {
            tag,
            whole: &input[..header + len],
            content,
        },
        after,
    ))
}

fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), PinError> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(PinError::BadCertificate(what));
    }
    Ok((tlv, rest))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION_TAG: u8 = 0xa0;

/// The whole DER encoding of the certificate's SubjectPublicKeyInfo.
pub fn extract_spki(cert_der: &[u8]) -> Result<&[u8], PinError> {
    let (cert, trailing) = expect(cert_der, SEQUENCE, "certificate is not a SEQUENCE")?;
    if !trailing.is_empty() {
        return Err(PinError::BadCertificate(
            "trailing bytes after the certificate",
        ));
    }
    let (tbs, _) = expect(cert.content, SEQUENCE, "tbsCertificate is not a SEQUENCE")?;
    let mut rest = tbs.content;
    // [0] EXPLICIT version, absent for v1 certificates.
    if rest.first() == Some(&VERSION_TAG) {
        rest = read_tlv(rest)?.1;
    }
    rest = expect(rest, INTEGER, "serialNumber is not an INTEGER")?.1;
    rest = expect(rest, SEQUENCE, "signature algorithm is not a SEQUENCE")?.1;
    rest = expect(rest, SEQUENCE, "issuer is not a SEQUENCE")?.1;
    rest = expect(rest, SEQUENCE, "validity is not a SEQUENCE")?.1;
    rest = expect(rest, SEQUENCE, "subject is not a SEQUENCE")?.1;
    let (spki, _) = expect(rest, SEQUENCE, "subjectPublicKeyInfo is not a SEQUENCE")?;
    Ok(spki.whole)
}

/// Compares two digests without an early exit.
fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    crate::secret::constant_time_eq(a, b)
}

/// A rustls verifier that trusts exactly one server public key; or, made
/// with [`PinnedVerifier::recording`] for diagnosis only, any key. Either
/// way it records the pin of the last key it saw ([`PinnedVerifier::seen`])
/// and verifies the handshake signatures, so the server must hold the
/// private key of the certificate it shows.
#[derive(Debug)]
pub struct PinnedVerifier {
    /// `None`: accept any key (diagnosis: "TLS works, but is it our key?").
    pin: Option<[u8; 32]>,
    seen: Mutex<Option<[u8; 32]>>,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    /// A verifier for a `sha256//BASE64` pin, using the ring provider.
    pub fn new(pin: &str) -> Result<Self, PinError> {
        Ok(Self::from_digest(parse_pin(pin)?))
    }

    /// A verifier for a SHA-256 SPKI digest, using the ring provider.
    pub fn from_digest(pin: [u8; 32]) -> Self {
        Self::with(Some(pin))
    }

    /// A verifier that accepts any server key and records its pin. Nothing
    /// may be sent over such a connection before [`PinnedVerifier::seen`]
    /// was compared with the expected pin.
    pub fn recording() -> Self {
        Self::with(None)
    }

    fn with(pin: Option<[u8; 32]>) -> Self {
        PinnedVerifier {
            pin,
            seen: Mutex::new(None),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    /// The pin of the key the last handshake saw.
    pub fn seen(&self) -> Option<String> {
        self.seen
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(format_pin))
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = spki_sha256(end_entity.as_ref()).map_err(|e| match self.pin {
            Some(_) => rustls::Error::General(format!("{PIN_MISMATCH} ({e})")),
            None => rustls::Error::General(format!("unreadable server certificate: {e}")),
        })?;
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(got);
        }
        match &self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if digest_eq(&got, pin) => Ok(ServerCertVerified::assertion()),
            Some(pin) => Err(rustls::Error::General(format!(
                "{PIN_MISMATCH} (expected {}, server has {})",
                format_pin(pin),
                format_pin(&got)
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config (ring provider, TLS 1.2/1.3, ALPN `http/1.1`) that uses
/// `verifier`.
pub fn client_config_with(
    verifier: Arc<PinnedVerifier>,
) -> Result<Arc<rustls::ClientConfig>, PinError> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PinError::Tls(e.to_string()))?
    .dangerous()
    .with_custom_certificate_verifier(verifier)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client config that trusts only the server key named by `pin`.
pub fn pinned_client_config(pin: &str) -> Result<Arc<rustls::ClientConfig>, PinError> {
    client_config_with(Arc::new(PinnedVerifier::new(pin)?))
}

/// A client config that accepts any server key and records its pin, with
/// its verifier (diagnosis only, see [`PinnedVerifier::recording`]).
pub fn recording_client_config(
) -> Result<(Arc<rustls::ClientConfig>, Arc<PinnedVerifier>), PinError> {
    let verifier = Arc::new(PinnedVerifier::recording());
    Ok((client_config_with(verifier.clone())?, verifier))
}

#[cfg(test)]
#[path = "pin_tests.rs"]
mod tests;
