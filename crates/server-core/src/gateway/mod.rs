//! The agent gateway: `GET SESSION_PATH` upgrades to a WebSocket session.
//!
//! Authentication happens before the upgrade: the agent id of a session
//! comes only from its credential (`Authorization: Bearer wa1.<id>.<secret>`),
//! whose secret hash is compared in constant time with the stored one.

pub mod lifecycle;
pub mod registry;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ward_pki::secret::{constant_time_eq, sha256_hex};
use ward_proto::{Credential, ErrorCode, MAX_FRAME_BYTES, WIRE_VERSION, WIRE_VERSION_HEADER};
use ward_store::{AgentAuth, StatusReason};

use crate::http_error::HttpError;
use crate::state::AppState;

/// Hard transport limit: frames above [`MAX_FRAME_BYTES`] but below this are
/// read whole and refused cleanly with `Error{protocol}`; larger ones are cut
/// off by the WebSocket layer (memory protection).
pub const TRANSPORT_LIMIT_BYTES: usize = 2 * MAX_FRAME_BYTES;
/// Per-session socket buffers (small: there may be 100,000 sessions).
const READ_BUFFER_BYTES: usize = 8 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// `GET SESSION_PATH`.
pub async fn upgrade(
    State(st): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let auth = match authenticate(&st, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let version = headers
        .get(WIRE_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok());
    if version != Some(WIRE_VERSION) {
        return HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedVersion,
            format!(
                "this server speaks wire version {WIRE_VERSION} ({WIRE_VERSION_HEADER} header)"
            ),
        )
        .into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return HttpError::bad_request(format!(
                "a WebSocket upgrade is required: {}",
                rejection.body_text()
            ))
            .into_response()
        }
    };
    if st.metrics.sessions_open() >= u64::from(st.limits.max_sessions) {
        tracing::warn!(
            limit = st.limits.max_sessions,
            "session refused: at the session limit"
        );
        return HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RateLimited,
            "the server is at its session limit; retry later",
        )
        .into_response();
    }
    ws.max_message_size(TRANSPORT_LIMIT_BYTES)
        .max_frame_size(TRANSPORT_LIMIT_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(TRANSPORT_LIMIT_BYTES)
        .on_upgrade(move |socket| session::run(st, socket, auth, addr))
}

/// Checks the credential; returns what is stored for the agent it proves.
pub async fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<AgentAuth, HttpError> {
    let unauthorized = || HttpError::unauthorized("missing or invalid agent credential");
    let cred = bearer(headers)
        .and_then(|t| Credential::parse(t).ok())
        .ok_or_else(unauthorized)?;
    let auth = st
        .store
        .agent_auth(&cred.agent_id)
        .await
        .map_err(|e| HttpError::internal("agent_auth failed", e))?
        .ok_or_else(unauthorized)?;
    let presented = sha256_hex(cred.secret.as_bytes());
    if !constant_time_eq(presented.as_bytes(), auth.credential_hash.as_bytes()) {
        tracing::info!(asset = %cred.agent_id, "session refused: wrong credential");
        return Err(unauthorized());
    }
    if auth.status_reason == Some(StatusReason::Uninstalled) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AssetUninstalled,
            "this asset was uninstalled; reinstall the agent to enroll again",
        ));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer wa1.ag.s"));
        assert_eq!(bearer(&h), Some("wa1.ag.s"));
        h.insert("authorization", HeaderValue::from_static("bearer   wt_x "));
        assert_eq!(bearer(&h), Some("wt_x"));
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
