//! A JSON extractor whose rejections are ours: any malformed or mistyped body is a 400 with the
//! profile's error body, never axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::AppState;

/// The request body as bytes, for handlers that parse it themselves.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::bad(format!("unreadable body: {e}")))
    }
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
