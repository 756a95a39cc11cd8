//! A JSON extractor whose rejections are ours: any malformed or mistyped body is a 400 with the
//! profile's error body, never axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::AppState;

/// Request body parsed as `T`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let crash = state.config.faults.contains(&Fault::CrashOnBadJson);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad(format!("unreadable body: {e}")))?;
        serde_json::from_slice(&bytes).map(Json).map_err(|e| {
            if crash {
                ApiError::Internal(format!("fault: {e}"))
            } else {
                ApiError::bad(format!("invalid JSON body: {e}"))
            }
        })
    }
}
