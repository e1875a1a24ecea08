//! HTTP error answers: an `ApiError` JSON body with a proper status code.
//! 5xx answers never carry internal details; those go to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ward_proto::{ApiError, ErrorCode};
use ward_store::StoreError;

/// An error answer of any handler.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// Logs `err` with `context` and answers a bare 500.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error (see the server log)",
        )
    }

    /// A store error: `NotFound` is a 404, anything else a logged 500.
    pub fn store(context: &str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found(format!("not found: {what}")),
            other => Self::internal(context, other),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(ApiError::new(self.code, self.message))).into_response()
    }
}

/// Answer for routes that do not exist.
pub async fn not_found() -> HttpError {
    HttpError::not_found("no such endpoint")
}
