//! CSRF protection: a synchronizer token per session, sent in a hidden
//! `csrf` field of every form and compared in constant time. The check runs
//! in the console's session middleware for every `POST`, so no handler can
//! forget it.

use ward_pki::secret::constant_time_eq;

/// Name of the hidden form field.
pub const FIELD: &str = "csrf";

/// True when `given` is the session's token.
pub fn token_matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(g) if !expected.is_empty() => constant_time_eq(expected.as_bytes(), g.as_bytes()),
        _ => false,
    }
}

/// The `csrf` field of an `application/x-www-form-urlencoded` body, if any.
/// Other fields (even repeated ones) are ignored.
pub fn token_in_form(body: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let mut found = pairs
        .into_iter()
        .filter(|(k, _)| k == FIELD)
        .map(|(_, v)| v);
    let first = found.next()?;
    // Two different tokens in one form is not a form we rendered.
    if found.any(|other| other != first) {
        return None;
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_match_exactly() {
        assert!(token_matches("abc123", Some("abc123")));
        assert!(!token_matches("abc123", Some("abc124")));
        assert!(!token_matches("abc123", Some("abc12")));
        assert!(!token_matches("abc123", Some("")));
        assert!(!token_matches("abc123", None));
        assert!(!token_matches("", Some("")), "an empty token never matches");
    }

    #[test]
    fn token_is_read_from_url_encoded_forms() {
        assert_eq!(
            token_in_form(b"label=web+servers&csrf=t0k%2Fen&x=1").as_deref(),
            Some("t0k/en")
        );
        assert_eq!(
            token_in_form(b"id=a&id=b&csrf=tok").as_deref(),
            Some("tok"),
            "repeated other fields are fine"
        );
        assert_eq!(token_in_form(b"label=x").as_deref(), None);
        assert_eq!(token_in_form(b"").as_deref(), None);
        assert_eq!(token_in_form(b"csrf=a&csrf=b").as_deref(), None);
        assert_eq!(token_in_form(b"csrf=a&csrf=a").as_deref(), Some("a"));
    }
}
