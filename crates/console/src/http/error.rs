//! Error answers of console pages: a plain page with a status code. Nothing
//! internal (paths, SQL, error chains) ever reaches the browser; it goes to
//! the server log instead.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use ward_store::StoreError;

use crate::view;

#[derive(Debug)]
pub enum PageError {
    NotFound(String),
    BadRequest(String),
    /// A state-changing request without a valid CSRF token.
    Forbidden,
    TooLarge,
    Internal,
}

impl PageError {
    /// Logs `err` with `context`; the browser sees a bare 500 page.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %err, "console: {context}");
        PageError::Internal
    }

    /// `NotFound` stays a 404 (without the store's wording); anything else is a logged 500.
    pub fn store(context: &str, err: StoreError) -> PageError {
        match err {
            StoreError::NotFound(_) => PageError::NotFound("That page does not exist.".into()),
            other => PageError::internal(context, other),
        }
    }

    fn parts(&self) -> (StatusCode, &str, String) {
        match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.clone()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m.clone()),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form was not sent from a current console page (missing or wrong security token). \
                 Nothing was changed. Go back, reload the page and try again."
                    .into(),
            ),
            PageError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                "The form sent was larger than the console accepts.".into(),
            ),
            PageError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete this request. The details are in the server log.".into(),
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = self.parts();
        let body = view::bare(
            title,
            html! {
                div.card.card-narrow {
                    p.eyebrow { (status.as_u16()) }
                    h1 { (title) }
                    p { (message) }
                    p { a.btn href="/console/" { "Back to the console" } }
                }
            },
        );
        (status, Html(body.into_string())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_never_show_their_text() {
        let e = PageError::store(
            "listing",
            StoreError::Backend("disk I/O error at /var/lib/ward/ward.db".into()),
        );
        let (status, _, message) = e.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("/var/lib"));
        let e = PageError::store(
            "get",
            StoreError::NotFound("asset as_1 in table assets".into()),
        );
        let (status, _, message) = e.parts();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!message.contains("table"));
    }
}
