//! Enrollment: one `POST /api/v1/agent/enroll` over the pinned TLS
//! connection, exchanging the verification key for the agent's identity.

use std::sync::Arc;

use ward_proto::{ApiError, EnrollRequest, EnrollResponse, ErrorCode, ENROLL_PATH};

use crate::error::exit_code;
use crate::http::{connect_tls_via, post_json, ConnectError, Endpoint};
use crate::net::NetOptions;

/// Why enrollment failed, as one line.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("enrollment refused by {server}: {}", refusal_text(*code, message))]
    Refused {
        server: String,
        code: ErrorCode,
        message: String,
    },
    #[error("enrollment failed: {server} answered HTTP {status}: {detail}")]
    Server {
        server: String,
        status: u16,
        detail: String,
    },
}

fn refusal_text(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::KeyUnknown => "the verification key is not known (key_unknown)".into(),
        ErrorCode::KeyRevoked => "the verification key was revoked (key_revoked)".into(),
        other => format!("{message} ({})", other.as_str()),
    }
}

impl EnrollError {
    pub fn exit_code(&self) -> i32 {
        match self {
            EnrollError::Connect(_) => exit_code::UNREACHABLE,
            EnrollError::Refused { .. } => exit_code::ENROLL_REFUSED,
            EnrollError::Server { .. } => exit_code::RUNTIME,
        }
    }
}

/// Presents the key once; returns the new identity.
pub async fn enroll(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    req: &EnrollRequest,
) -> Result<EnrollResponse, EnrollError> {
    enroll_via(ep, tls, &NetOptions::direct(), req).await
}

/// [`enroll`] dialed as `net` says (overrides, proxy).
pub async fn enroll_via(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    net: &NetOptions,
    req: &EnrollRequest,
) -> Result<EnrollResponse, EnrollError> {
    let body = serde_json::to_string(req).map_err(|e| EnrollError::Server {
        server: ep.url.clone(),
        status: 0,
        detail: format!("encoding the request: {e}"),
    })?;
    let (mut stream, _) = connect_tls_via(ep, tls, net).await?;
    let resp = post_json(&mut stream, ep, ENROLL_PATH, &body).await?;
    let server = ep.url.clone();
    if (200..300).contains(&resp.status) {
        return serde_json::from_slice::<EnrollResponse>(&resp.body).map_err(|e| {
            EnrollError::Server {
                server,
                status: resp.status,
                detail: format!("malformed enrollment answer: {e}"),
            }
        });
    }
    match serde_json::from_slice::<ApiError>(&resp.body) {
        Ok(api) if (400..500).contains(&resp.status) => Err(EnrollError::Refused {
            server,
            code: api.error.code,
            message: api.error.message,
        }),
        Ok(api) => Err(EnrollError::Server {
            server,
            status: resp.status,
            detail: format!("{} ({})", api.error.message, api.error.code.as_str()),
        }),
        Err(_) => Err(EnrollError::Server {
            server,
            status: resp.status,
            detail: summarize_body(&resp.body),
        }),
    }
}

/// The first line of a non-JSON body, shortened.
fn summarize_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.is_empty() {
        return "no error details".into();
    }
    line.chars().take(200).collect()
}
