//! The one error type of the HTTP API: every error is JSON `{"code", "description"}` with the
//! right status, as OGC API - Features servers answer (pygeoapi's exception codes).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer. `description` is written for the person reading it; nothing internal leaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code a client can match on (`InvalidParameterValue`, `NotFound` ...).
    pub code: &'static str,
    /// What went wrong and what to do, in words.
    pub description: String,
}

/// The start of a client's text, at most `n` characters, to quote in an error: enough to
/// recognise it, never an echo of a whole oversized input.
pub(crate) fn clip(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

impl ApiError {
    /// 400 with `InvalidParameterValue`.
    pub fn invalid(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterValue",
            description: description.into(),
        }
    }

    /// 400 with `UnknownParameter`: OGC API - Features requires 400 for parameters it does not
    /// define, so a typo does not silently return everything.
    pub fn unknown_parameter(name: &str, allowed: &[&str]) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "UnknownParameter",
            description: format!(
                "unknown query parameter {name:?}; this endpoint accepts: {}",
                allowed.join(", ")
            ),
        }
    }

    /// 404 with `NotFound`.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            description: description.into(),
        }
    }

    /// 406 with `NotAcceptable`.
    pub fn not_acceptable(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "NotAcceptable",
            description: description.into(),
        }
    }

    /// 413 with `PayloadTooLarge`.
    pub fn too_large(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "PayloadTooLarge",
            description: description.into(),
        }
    }

    /// 503 with `Overloaded`: the server is at a cap; the client should retry shortly.
    pub fn overloaded(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "Overloaded",
            description: description.into(),
        }
    }

    /// 500 with a fixed description; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServerError",
            description: "the server failed to answer; the cause is in its log".into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.description
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "description": self.description});
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        resp.extensions_mut().insert(JsonError);
        match self.status {
            // A body that came too slowly may still be arriving: this connection is done.
            StatusCode::REQUEST_TIMEOUT => {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // RFC 9110 § 11.6.1: a 401 must say how to authenticate, wherever it comes from.
            StatusCode::UNAUTHORIZED => crate::auth::add_challenges(resp.headers_mut()),
            _ => {}
        }
        resp
    }
}

/// Marks a response as one of our JSON errors (so outer layers know it from a status they set
/// on another body).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonError;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
