//! The session cookie: `__Host-ward_session`, `HttpOnly; Secure;
//! SameSite=Strict; Path=/`.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

use super::session::COOKIE_NAME;

/// `Set-Cookie` value for a session. `max_age_secs`: `None` for a browser
/// session cookie (anonymous sessions), else the signed-in lifetime.
pub fn set_session(token: &str, max_age_secs: Option<i64>) -> String {
    let mut v = format!("{COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Some(s) = max_age_secs {
        v.push_str(&format!("; Max-Age={s}"));
    }
    v
}

/// `Set-Cookie` value that deletes the session cookie.
pub fn clear_session() -> String {
    format!("{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value, from every `Cookie` header of a request.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_has_every_protective_flag() {
        let c = set_session("abc", Some(3600));
        for flag in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(c.split("; ").any(|p| p == flag), "{flag} missing in {c}");
        }
        assert!(c.starts_with("__Host-ward_session=abc;"));
        assert!(!c.contains("Domain"), "__Host- cookies carry no Domain");
        assert!(clear_session().contains("Max-Age=0"));
    }

    #[test]
    fn token_is_found_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(session_token(&h), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; __Host-ward_session=tok_123 ; z=9"),
        );
        assert_eq!(session_token(&h).as_deref(), Some("tok_123"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("__Host-ward_session="));
        assert_eq!(session_token(&h), None);
    }
}
