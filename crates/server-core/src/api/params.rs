//! Query parameters of list endpoints: trimmed, empty meaning absent, and
//! each bad value a 400 naming the parameter and what it accepts.

use crate::http_error::HttpError;

/// The trimmed value, `None` when absent or empty.
pub fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `v` parsed with `parse`; a value it refuses is a 400 saying
/// "`name` must be `accepted`, got ...".
pub fn parse_with<T>(
    v: Option<String>,
    name: &str,
    accepted: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, HttpError> {
    match non_empty(v) {
        None => Ok(None),
        Some(s) => parse(&s)
            .map(Some)
            .ok_or_else(|| HttpError::bad_request(format!("{name} must be {accepted}, got {s:?}"))),
    }
}

/// A page size: `default` when absent, else 1 to `max`.
pub fn limit(v: Option<String>, default: u32, max: u32) -> Result<u32, HttpError> {
    match non_empty(v) {
        None => Ok(default),
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(HttpError::bad_request(format!(
                "limit must be between 1 and {max}, got {l:?}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_checked() {
        assert_eq!(non_empty(Some("  ".into())), None);
        assert_eq!(non_empty(Some(" a ".into())).as_deref(), Some("a"));
        let p = |v: &str| parse_with(Some(v.into()), "n", "a digit", |s| s.parse::<u8>().ok());
        assert_eq!(p(" 7 ").unwrap(), Some(7));
        let e = p("x").unwrap_err();
        assert_eq!(e.message, "n must be a digit, got \"x\"");
        assert_eq!(limit(None, 50, 1000).unwrap(), 50);
        assert_eq!(limit(Some("1000".into()), 50, 1000).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "ten"] {
            assert!(limit(Some(bad.into()), 50, 1000).is_err(), "{bad}");
        }
    }
}
