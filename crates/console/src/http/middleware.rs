//! Request layers of the console: the session and CSRF check (every
//! request), the signed-in requirement (every page but sign-in), and the
//! security headers (every answer).

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::error::PageError;
use crate::auth::session::SessionInfo;
use crate::auth::{cookie, csrf};
use crate::host::ConsoleHost;
use crate::view::fmt::now_ms;

/// Largest form body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the session layer found (an extension on every console request).
#[derive(Debug, Clone)]
pub struct SessionCtx {
    /// The cookie value, if the browser sent one.
    pub token: Option<String>,
    /// The live session of that cookie.
    pub info: Option<SessionInfo>,
}

/// A signed-in request (an extension on every protected route).
#[derive(Debug, Clone)]
pub struct Authed {
    pub token: String,
    /// CSRF token for the forms of the page.
    pub csrf: String,
}

/// Finds the session; for every method but GET/HEAD, refuses (403) a body
/// without the session's CSRF token before any handler runs.
pub async fn session_and_csrf(
    State(host): State<Arc<dyn ConsoleHost>>,
    req: Request,
    next: Next,
) -> Response {
    let now = now_ms();
    let token = cookie::session_token(req.headers());
    let info = match &token {
        Some(t) => match host.auth().session(t, now) {
            Ok(i) => i,
            Err(e) => return PageError::internal("reading the session", e).into_response(),
        },
        None => None,
    };
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return PageError::TooLarge.into_response();
        };
        let given = csrf::token_in_form(&bytes);
        let ok = info
            .as_ref()
            .is_some_and(|i| csrf::token_matches(&i.csrf, given.as_deref()));
        if !ok {
            tracing::warn!(
                path = %parts.uri.path(),
                had_session = info.is_some(),
                "console: request refused, missing or wrong CSRF token"
            );
            if parts.uri.path() == crate::pages::signin::PATH {
                return crate::pages::signin::expired_form(&*host, now);
            }
            return PageError::Forbidden.into_response();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(SessionCtx { token, info });
    next.run(req).await
}

/// Lets signed-in sessions through; sends others to the sign-in page (or a
/// 401 for the JSON endpoint).
pub async fn require_signed_in(req: Request, next: Next) -> Response {
    let authed = req.extensions().get::<SessionCtx>().and_then(|c| {
        let info = c.info.as_ref().filter(|i| i.signed_in.is_some())?;
        Some(Authed {
            token: c.token.clone()?,
            csrf: info.csrf.clone(),
        })
    });
    match authed {
        Some(a) => {
            let mut req = req;
            req.extensions_mut().insert(a);
            next.run(req).await
        }
        None if req.uri().path().starts_with("/console/live") => (
            StatusCode::UNAUTHORIZED,
            Json(
                serde_json::json!({"error": {"code": "unauthorized", "message": "sign in first"}}),
            ),
        )
            .into_response(),
        None => {
            let target = if req.method() == Method::GET {
                let here = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/console/");
                format!(
                    "{}?next={}",
                    crate::pages::signin::PATH,
                    encode_component(here)
                )
            } else {
                crate::pages::signin::PATH.to_string()
            };
            Redirect::to(&target).into_response()
        }
    }
}

/// Headers on every console answer: a strict CSP (scripts and styles only
/// from our own static files, no inline code), no framing, no sniffing, no
/// caching of pages.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/console/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(
            encode_component("/console/assets?q=a b&x=1"),
            "%2Fconsole%2Fassets%3Fq%3Da%20b%26x%3D1"
        );
        assert_eq!(encode_component("abc-_.~"), "abc-_.~");
        assert_eq!(encode_component("é"), "%C3%A9");
    }
}
