//! Path and query extractors whose rejections are ours: a path segment that is not UTF-8 or a
//! query that does not parse is a 400 with the profile's error body, never axum's plain text.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Path parameters parsed as `T`.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| ApiError::bad(format!("invalid path: {}", e.body_text())))
    }
}

/// Query parameters parsed as `T`.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| ApiError::bad(format!("invalid query: {}", e.body_text())))
    }
}

/// The `since` parameter of the history routes (commits, messages): an integer, everything
/// (-1) when absent.
pub fn since(query: &std::collections::HashMap<String, String>) -> Result<i64, ApiError> {
    match query.get("since") {
        None => Ok(-1),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ApiError::bad("since must be an integer")),
    }
}
