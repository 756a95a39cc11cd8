//! Body extractors whose rejections are ours: a malformed or mistyped body is a 400 and a body
//! over the server's limit a 413 (PROFILE.body-limit), both with the profile's error body, never
//! axum's plain-text rejection.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::AppState;

/// The most a request body may hold (`DefaultBodyLimit` in `app`).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The request body as bytes (up to `BODY_LIMIT`), for handlers that parse it themselves.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read(req.into_body(), state).await.map(RawBody)
    }
}

/// Reads a body up to `BODY_LIMIT`: over it a 413, any other failure a 400. Handlers that must
/// refuse for other reasons first (authentication, visibility) take the `Body` and call this
/// afterwards.
pub async fn read(body: Body, state: &AppState) -> Result<Bytes, ApiError> {
    let oversized_as_400 = state.config.faults.contains(&Fault::OversizedAs400);
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        let too_large = e
            .into_inner()
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some();
        // Fault: the 400 the server gave before issue 14.
        if too_large && !oversized_as_400 {
            ApiError::TooLarge(BODY_LIMIT)
        } else if too_large {
            ApiError::bad("unreadable body: length limit exceeded")
        } else {
            ApiError::bad("unreadable body")
        }
    })
}

/// Request body parsed as `T`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse(&bytes, state).map(Json)
    }
}

/// Parses a JSON body as `T`: a 400 when it does not fit (a 500 under `crash-on-bad-json`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], state: &AppState) -> Result<T, ApiError> {
    let crash = state.config.faults.contains(&Fault::CrashOnBadJson);
    serde_json::from_slice(bytes).map_err(|e| {
        if crash {
            ApiError::Internal(format!("fault: {e}"))
        } else {
            ApiError::bad(format!("invalid JSON body: {e}"))
        }
    })
}
