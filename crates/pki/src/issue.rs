//! The server's own keys (feature `issue`): the CA and server certificate
//! created at first start, a configured certificate, and the ed25519
//! command-signing key.
//!
//! The agents pin the **server key**, so it is created once and reused for
//! ever; the certificate around it is reissued (same key, same pin) when the
//! names it must carry change or it nears expiry.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::pin::{extract_spki, spki_pin, PinError};
use crate::secret::{write_file_atomic, write_secret_file};

/// Validity of the generated CA and server certificates.
const VALIDITY_DAYS: i64 = 3650;
/// A certificate expiring sooner than this is reissued at start.
const RENEW_BEFORE_DAYS: i64 = 30;
/// Names every generated server certificate carries besides the configured ones.
const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Errors creating or loading keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{0}")]
    Pin(#[from] PinError),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, message: impl fmt::Display) -> PkiError {
    PkiError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The server's TLS identity: certificate chain (leaf first), key and pin.
pub struct ServerTls {
    pub cert_chain_der: Vec<CertificateDer<'static>>,
    pub key_der: PrivateKeyDer<'static>,
    /// `sha256//BASE64` of the leaf's SubjectPublicKeyInfo.
    pub pin: String,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificates", &self.cert_chain_der.len())
            .field("key_der", &"<redacted>")
            .field("pin", &self.pin)
            .finish()
    }
}

impl ServerTls {
    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`).
    pub fn rustls_server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.cert_chain_der.clone(), self.key_der.clone_key())?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, PkiError> {
        let leaf = chain
            .first()
            .ok_or(PinError::BadCertificate("empty certificate chain"))?;
        let pin = spki_pin(leaf)?;
        let tls = ServerTls {
            cert_chain_der: chain,
            key_der: key,
            pin,
        };
        // Fails early when the key does not belong to the certificate.
        tls.rustls_server_config()?;
        Ok(tls)
    }
}

/// Loads the generated TLS identity from `dir`, creating what is missing.
///
/// First start: `ca.key`/`ca.crt` (ECDSA P-256, 10 years) and
/// `server.key`/`server.crt` signed by that CA, with SANs = `names` plus
/// `localhost`, `127.0.0.1` and `::1`. Keys are written 0600. Later starts
/// reuse the same server key and reissue the certificate only when its
/// names changed, it expires within 30 days, or it no longer matches the key.
pub fn load_or_create_server_tls(dir: &Path, names: &[String]) -> Result<ServerTls, PkiError> {
    let ca_key_path = dir.join("ca.key");
    let ca_crt_path = dir.join("ca.crt");
    let key_path = dir.join("server.key");
    let crt_path = dir.join("server.crt");

    let (ca_key, ca_der, ca_created) = if ca_key_path.exists() && ca_crt_path.exists() {
        let key = read_key(&ca_key_path)?;
        let der = read_cert_der(&ca_crt_path)?;
        (key, der, false)
    } else {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = ca_params().self_signed(&key)?;
        write_secret_file(&ca_key_path, key.serialize_pem().as_bytes())
            .map_err(io_err(&ca_key_path))?;
        write_file_atomic(&ca_crt_path, cert.pem().as_bytes(), 0o644)
            .map_err(io_err(&ca_crt_path))?;
        (key, cert.der().to_vec(), true)
    };

    let server_key = if key_path.exists() {
        read_key(&key_path)?
    } else {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        write_secret_file(&key_path, key.serialize_pem().as_bytes()).map_err(io_err(&key_path))?;
        key
    };

    let wanted = san_list(names)?;
    let existing = if crt_path.exists() && !ca_created {
        Some(read_cert_der(&crt_path)?)
    } else {
        None
    };
    let server_der = match existing {
        Some(der) if cert_is_current(&der, &server_key, &wanted)? => der,
        _ => {
            let ca_params =
                CertificateParams::from_ca_cert_der(&CertificateDer::from(ca_der.as_slice()))
                    .map_err(|e| invalid(&ca_crt_path, e))?;
            let ca_cert = ca_params.self_signed(&ca_key)?;
            let cert = server_params(wanted).signed_by(&server_key, &ca_cert, &ca_key)?;
            write_file_atomic(&crt_path, cert.pem().as_bytes(), 0o644)
                .map_err(io_err(&crt_path))?;
            cert.der().to_vec()
        }
    };

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    ServerTls::new(
        vec![
            CertificateDer::from(server_der),
            CertificateDer::from(ca_der),
        ],
        key_der,
    )
}

/// Loads a configured certificate chain (PEM, leaf first) and its private key (PEM).
pub fn load_server_tls_files(cert: &Path, key: &Path) -> Result<ServerTls, PkiError> {
    let cert_pem = std::fs::read(cert).map_err(io_err(cert))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(io_err(cert))?;
    if chain.is_empty() {
        return Err(invalid(cert, "no PEM certificate found"));
    }
    let key_pem = std::fs::read(key).map_err(io_err(key))?;
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(io_err(key))?
        .ok_or_else(|| invalid(key, "no PEM private key found"))?;
    ServerTls::new(chain, key_der).map_err(|e| match e {
        PkiError::Tls(t) => invalid(
            cert,
            format!("does not match the key in {}: {t}", key.display()),
        ),
        other => other,
    })
}

fn read_key(path: &Path) -> Result<KeyPair, PkiError> {
    let pem = std::fs::read_to_string(path).map_err(io_err(path))?;
    KeyPair::from_pem(&pem).map_err(|e| invalid(path, e))
}

fn read_cert_der(path: &Path) -> Result<Vec<u8>, PkiError> {
    let pem = std::fs::read(path).map_err(io_err(path))?;
    let cert = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .ok_or_else(|| invalid(path, "no PEM certificate found"))?
        .map_err(io_err(path))?;
    Ok(cert.to_vec())
}

/// The SANs to put in the server certificate, deduplicated, in order.
fn san_list(names: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut out: Vec<SanType> = Vec::new();
    for name in names
        .iter()
        .map(String::as_str)
        .chain(LOCAL_NAMES.iter().copied())
    {
        let name = name.trim().trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() {
            continue;
        }
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.to_ascii_lowercase()
                    .try_into()
                    .map_err(|e| invalid(Path::new(name), format!("not a valid DNS name: {e}")))?,
            ),
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

/// True when `der` certifies `key`, carries exactly `wanted` and is not near expiry.
fn cert_is_current(der: &[u8], key: &KeyPair, wanted: &[SanType]) -> Result<bool, PkiError> {
    if extract_spki(der)? != key.public_key_der().as_slice() {
        return Ok(false);
    }
    let Ok(params) = CertificateParams::from_ca_cert_der(&CertificateDer::from(der)) else {
        return Ok(false);
    };
    let same_names = params.subject_alt_names.len() == wanted.len()
        && wanted.iter().all(|w| params.subject_alt_names.contains(w));
    let renew_at = params.not_after.unix_timestamp() - RENEW_BEFORE_DAYS * 86_400;
    Ok(same_names && unix_now() < renew_at)
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Ward CA");
    dn.push(DnType::OrganizationName, "Ward");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut p);
    p
}

fn server_params(sans: Vec<SanType>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Ward server");
    dn.push(DnType::OrganizationName, "Ward");
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    set_validity(&mut p);
    p
}

fn set_validity(p: &mut CertificateParams) {
    let today = unix_now() / 86_400;
    let (y, m, d) = civil_from_days(today - 1);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + VALIDITY_DAYS);
    p.not_after = rcgen::date_time_ymd(y, m, d);
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u8, d as u8)
}

/// The methods every ed25519 key of the server has (`self.key`).
macro_rules! signing_key_methods {
    () => {
        /// The 32-byte public key, standard base64.
        pub fn public_b64(&self) -> String {
            STANDARD.encode(self.key.verifying_key().to_bytes())
        }

        /// The 64-byte ed25519 signature of `data`, standard base64.
        pub fn sign(&self, data: &[u8]) -> String {
            STANDARD.encode(self.key.sign(data).to_bytes())
        }

        /// Signs `payload` (serialized to JSON once, and that exact text is what
        /// is signed) as a document of `domain` (see [`crate::signed`]).
        pub fn sign_document<T: serde::Serialize>(
            &self,
            domain: &str,
            payload: &T,
        ) -> Result<ward_proto::Signed, PkiError> {
            let text = serde_json::to_string(payload).map_err(|e| PkiError::Invalid {
                path: PathBuf::from(domain),
                message: format!("encoding a signed document: {e}"),
            })?;
            let signature = self.sign(&crate::signed::message(domain, &text));
            Ok(ward_proto::Signed {
                payload: text,
                signature,
            })
        }

        /// The public half, for verifying.
        pub fn verifier(&self) -> crate::signed::Verifier {
            crate::signed::Verifier::from_key(self.key.verifying_key())
        }
    };
}

/// The ed25519 key the server signs agent commands with.
pub struct CommandKey {
    key: SigningKey,
}

impl fmt::Debug for CommandKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandKey")
            .field("public", &self.public_b64())
            .finish()
    }
}

impl CommandKey {
    /// Loads the PKCS#8 PEM key at `path`, or creates it (0600).
    pub fn load_or_create(path: &Path) -> Result<CommandKey, PkiError> {
        Ok(CommandKey {
            key: load_or_create_ed25519(path)?,
        })
    }

    signing_key_methods!();
}

/// Loads the ed25519 PKCS#8 PEM key at `path`, or creates it (0600).
fn load_or_create_ed25519(path: &Path) -> Result<SigningKey, PkiError> {
    if path.exists() {
        let pem = std::fs::read_to_string(path).map_err(io_err(path))?;
        return SigningKey::from_pkcs8_pem(&pem).map_err(|e| invalid(path, e));
    }
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 v1 (no embedded public key): the form OpenSSL also reads.
    let pem = KeypairBytes {
        secret_key: seed,
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| invalid(path, e))?;
    write_secret_file(path, pem.as_bytes()).map_err(io_err(path))?;
    Ok(key)
}

/// The ed25519 key the server signs agent release metadata with. Created at
/// the server's first start (0600 in the data dir), never served: agents
/// receive only its public half, at enrollment, over the pinned TLS.
pub struct ReleaseKey {
    key: SigningKey,
}

impl fmt::Debug for ReleaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseKey")
            .field("public", &self.public_b64())
            .finish()
    }
}

impl ReleaseKey {
    /// Loads the PKCS#8 PEM key at `path`, or creates it (0600).
    pub fn load_or_create(path: &Path) -> Result<ReleaseKey, PkiError> {
        Ok(ReleaseKey {
            key: load_or_create_ed25519(path)?,
        })
    }

    signing_key_methods!();
}

#[cfg(test)]
mod tests;
