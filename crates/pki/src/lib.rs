//! Keys, certificates, pins and secret files for Ward.
//!
//! * [`pin`]: the server-key pin (`sha256//BASE64` of the SubjectPublicKeyInfo,
//!   curl's `--pinnedpubkey` form) and the rustls verifier that enforces it.
//! * [`secret`]: random tokens, hashing of secrets, 0600 secret files written atomically.
//! * [`signed`]: signed documents (commands, uninstall tokens, protection
//!   statements): the signed message, verification with the command key's
//!   public half, the token text form.
//! * `issue` (feature `issue`, server only): the CA, the server certificate
//!   and the command-signing key created at first start.

pub mod pin;
pub mod secret;
pub mod signed;

#[cfg(feature = "issue")]
pub mod issue;
