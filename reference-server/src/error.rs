//! The one error type of the HTTP API. Each variant documents its status; internal details are
//! logged, never sent (clients get a machine code and a short message, PROFILE.error-body).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a parameter is malformed or violates the schema or profile.
    #[error("{0}")]
    BadRequest(String),
    /// 400 with the documented `[{id, reason}]` body of KeyPackage upload.
    #[error("{} faulty KeyPackage(s)", .0.len())]
    FaultyKeyPackages(Vec<(String, String)>),
    /// 401: missing or invalid bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 401 for a wrong registration secret (`registration_denied`).
    #[error("wrong registration secret")]
    RegistrationDenied,
    /// 403: the second factor of a sensitive action is missing or wrong.
    #[error("missing or wrong X-P2-Sensitive-Solution")]
    SecondFactor,
    /// 404: missing, or not visible to the caller (deliberately indistinguishable).
    #[error("not found")]
    NotFound,
    /// 409: conflicts with current state; the machine code of PROFILE.error-body (`stale_epoch`,
    /// `name_taken`, `session_id_in_use`, `duplicate_proposal`) and the message.
    #[error("{1}")]
    Conflict(&'static str, String),
    /// 413: the caller would hold more KeyPackages than the server allows.
    #[error("too many KeyPackages stored for this session (limit {0})")]
    TooManyKeyPackages(usize),
    /// 429: the session sent more requests than its rate limit allows; retry after the seconds.
    #[error("too many requests for this session: retry after {0} s")]
    RateLimited(u64),
    /// 413: the request body is over the server's limit (`payload_too_large`).
    #[error("the request body is over the limit of {0} bytes")]
    TooLarge(usize),
    /// 413: an element of encrypted private key material is over the route's limit (core beta.3
    /// `Registered_uploadEncryptedPKM`; `key_material_too_large`).
    #[error("an element's key_data is over the limit of {0} bytes")]
    KeyMaterialTooLarge(usize),
    /// A deliberately wrong status (fault injection only).
    #[error("{1}")]
    Injected(u16, &'static str),
    /// 500: a fault of the server itself.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn storage(e: rusqlite::Error) -> Self {
        Self::Internal(format!("storage: {e}"))
    }

    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::storage(e)
    }
}

fn body(code: &str, message: &str) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "error": code, "message": message }))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            Self::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, body("bad_request", &message)).into_response()
            }
            Self::FaultyKeyPackages(entries) => {
                let list: Vec<_> = entries
                    .into_iter()
                    .map(|(id, reason)| json!({ "id": id, "reason": reason }))
                    .collect();
                (StatusCode::BAD_REQUEST, axum::Json(list)).into_response()
            }
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                body("unauthorized", &message),
            )
                .into_response(),
            Self::RegistrationDenied => (
                StatusCode::UNAUTHORIZED,
                body("registration_denied", &message),
            )
                .into_response(),
            Self::SecondFactor => (
                StatusCode::FORBIDDEN,
                body("sensitive_solution_invalid", &message),
            )
                .into_response(),
            // The same body for "missing" and "not yours" (OAS.not-found-ambiguity).
            Self::NotFound => (StatusCode::NOT_FOUND, body("not_found", &message)).into_response(),
            Self::Conflict(code, _) => (StatusCode::CONFLICT, body(code, &message)).into_response(),
            Self::TooManyKeyPackages(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body("keypackage_limit", &message),
            )
                .into_response(),
            Self::RateLimited(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                body("rate_limited", &message),
            )
                .into_response(),
            Self::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body("payload_too_large", &message),
            )
                .into_response(),
            Self::KeyMaterialTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body("key_material_too_large", &message),
            )
                .into_response(),
            Self::Injected(status, _) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body("injected", &message),
            )
                .into_response(),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    body("internal", "internal error"),
                )
                    .into_response()
            }
        }
    }
}
