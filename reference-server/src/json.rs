//! Body extractors whose rejections are ours: a malformed or mistyped body is a 400 and a body
//! over the server's limit a 413 (PROFILE.body-limit), both with the profile's error body, never
//! axum's plain-text rejection.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::state::AppState;

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

/// How much of a refused body the server still reads and discards before answering: closing a
/// socket with unread data makes the kernel reset it, and the client may then lose the answer
/// (a "lingering close", as HTTP servers do).
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads a body up to `BODY_LIMIT`: over it a 413 (the rest drained, up to `DRAIN_LIMIT`), any
/// other failure a 400. Handlers that must refuse for other reasons first (authentication,
/// visibility) take the `Body` and call this afterwards.
pub async fn read(mut body: Body, state: &AppState) -> Result<Bytes, ApiError> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::bad("unreadable body"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= BODY_LIMIT {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            break;
        } else {
            kept = Vec::new();
        }
    }
    if total <= BODY_LIMIT {
        return Ok(Bytes::from(kept));
    }
    // Fault: the 400 the server gave before issue 14.
    if state.config.faults.contains(&Fault::OversizedAs400) {
        return Err(ApiError::bad("unreadable body: length limit exceeded"));
    }
    Err(ApiError::TooLarge(BODY_LIMIT))
}

/// Reads and discards a body the server refuses unread (up to `DRAIN_LIMIT`), so that the
/// refusal reaches the client (see `DRAIN_LIMIT`).
pub async fn drain(mut body: Body) {
    let mut total = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        total = total.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
        if total > DRAIN_LIMIT {
            break;
        }
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
