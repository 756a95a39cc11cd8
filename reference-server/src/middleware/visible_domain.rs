//! Core 3.1 when the server is served under an actual domain other than its visible one: requests
//! addressed to the visible domain get only `/.well-known/polyproto-core`, which names the
//! actual domain's API, as the visible domain's own web server would answer them.

use p2mls_protocol::routes;

use crate::config::host_of;
use crate::error::ApiError;
use crate::state::AppState;

/// The host a request was addressed to: `Host` in HTTP/1.1, the URI's authority in HTTP/2.
pub fn requested_host(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

/// Answers 404 to anything but the well-known document addressed to the visible domain, when an
/// actual domain with another host is configured. A no-op otherwise.
pub async fn discovery_only(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    let Some(actual) = &state.config.actual_domain else {
        return next.run(req).await;
    };
    let visible = &state.config.domain;
    let addressed_to_visible = requested_host(req.uri(), req.headers())
        .is_some_and(|host| host_of(&host).eq_ignore_ascii_case(visible));
    if addressed_to_visible
        && !host_of(actual).eq_ignore_ascii_case(visible)
        && req.uri().path() != routes::WELL_KNOWN_CORE
    {
        return ApiError::NotFound.into_response();
    }
    next.run(req).await
}
