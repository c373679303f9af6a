//! Every failure leaves as a status and a JSON [`ApiError`].

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiosk_api::{ApiError, error_code};

use crate::store::StoreError;

/// Error codes of refusals central added for issue 17, beside `kiosk_api::error_code`.
pub mod code {
    /// The request is signed but asks for another hall's data (403).
    pub const FORBIDDEN: &str = "forbidden";
    /// The kiosk is over a quota (429); the message names it.
    pub const TOO_MANY: &str = "too_many_requests";
    /// Central is at its limit of requests in flight (503); retry shortly.
    pub const BUSY: &str = "busy";
    /// The request did not arrive whole and get its answer in time (408).
    pub const TIMEOUT: &str = "timeout";
    /// Ops revoked the signing kiosk (403); the message gives their reason.
    pub use kiosk_api::error_code::REVOKED;
}

/// A refused or failed request.
#[derive(Debug)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: ApiError,
}

impl ApiFailure {
    /// A failure with this status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            body: ApiError::new(code, message),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, error_code::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::NOT_FOUND, error_code::NOT_FOUND, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::UNAUTHORIZED, error_code::UNAUTHORIZED, message)
    }

    /// A signed kiosk asking for what belongs to another hall.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::FORBIDDEN, code::FORBIDDEN, message)
    }

    /// A revoked kiosk; `message` carries ops' reason.
    pub(crate) fn revoked(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::FORBIDDEN, code::REVOKED, message)
    }

    /// A kiosk over one of its quotas; `message` says which and when to try again.
    pub(crate) fn too_many(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::TOO_MANY_REQUESTS, code::TOO_MANY, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_code::INVALID,
            message,
        )
    }

    pub(crate) fn too_large(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            error_code::TOO_LARGE,
            message,
        )
    }

    /// Reads a JSON body: broken JSON is 400, JSON of the wrong shape is 422.
    pub(crate) fn from_json(e: &serde_json::Error) -> ApiFailure {
        match e.classify() {
            serde_json::error::Category::Data => {
                ApiFailure::invalid(format!("body does not fit the contract: {e}"))
            }
            _ => ApiFailure::bad_request(format!("body is not valid JSON: {e}")),
        }
    }
}

impl From<StoreError> for ApiFailure {
    fn from(e: StoreError) -> ApiFailure {
        tracing::error!(error = %e, "request failed in the database");
        ApiFailure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error_code::INTERNAL,
            "central could not reach its database; nothing was stored, retry later",
        )
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
