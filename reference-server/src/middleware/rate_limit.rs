//! Enforces the per-session request rate limit (`crate::rate_limit`, PROFILE.rate-limit) on
//! every route.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The middleware: a no-op without a configured limit.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(req).await;
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(token) = token {
        if let Err(wait) = limiter.take(&token, Instant::now()) {
            // Retry-After has whole seconds: round up, never 0.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            // Read what the client is still sending, so that the 429 reaches it (see
            // `json::drain`): a large upload refused unread would end in a reset instead.
            crate::json::drain(req.into_body()).await;
            return ApiError::RateLimited(seconds.max(1)).into_response();
        }
    }
    next.run(req).await
}
