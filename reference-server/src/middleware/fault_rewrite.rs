//! The fault layer: rewrites responses for the faults that only change what the server says
//! (statuses, fields), so that the routes themselves stay free of such fault code. Only
//! `--fault` enables any of it (`crate::faults`).

use p2mls_protocol::routes;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::state::AppState;

/// Rewrites responses for the faults that only change what the server says (statuses, fields),
/// so that the routes themselves stay free of fault code. A no-op without such faults.
pub async fn rewrite(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, Method, StatusCode};
    use axum::response::IntoResponse;

    let faults = state.config.faults.clone();
    if faults.is_empty() {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if faults.contains(&Fault::NoRelayRoutes) && is_relay_route(&method, &path) {
        return ApiError::NotFound.into_response();
    }
    let response = next.run(req).await;
    let status = response.status();
    let has = |f: Fault| faults.contains(&f);
    let group_id = path
        .strip_prefix(routes::GROUPS)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let is_discovery = path
        .strip_prefix(routes::KEYPACKAGES)
        .is_some_and(|rest| rest.starts_with('/'));

    if status == StatusCode::NOT_FOUND {
        if let Some(group_id) = &group_id {
            let id = group_id.clone();
            let exists = state
                .store
                .tx(move |tx| tx.group_exists(&id))
                .await
                .unwrap_or(false);
            if exists && has(Fault::ForbiddenForForeign) {
                return ApiError::Injected(403, "forbidden").into_response();
            }
            if !exists && has(Fault::GoneForMissing) {
                return ApiError::Injected(410, "gone").into_response();
            }
        }
        if method == Method::GET && is_discovery && has(Fault::UnknownFidEmpty) {
            return axum::Json(serde_json::json!([])).into_response();
        }
        return response;
    }
    if status == StatusCode::BAD_REQUEST && has(Fault::PlainTextErrors) {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            "bad request",
        )
            .into_response();
    }
    if status == StatusCode::NO_CONTENT
        && method == Method::POST
        && path.ends_with("/proposals")
        && has(Fault::ProposalCreated)
    {
        return StatusCode::CREATED.into_response();
    }
    if status == StatusCode::OK
        && method == Method::POST
        && path == routes::KEYPACKAGES
        && has(Fault::UploadJsonBody)
    {
        return axum::Json(serde_json::json!({ "ok": true })).into_response();
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status != StatusCode::OK || !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let discovery = method == Method::GET && is_discovery;
    let proposals = method == Method::GET && path.ends_with("/proposals");
    let commit_answer = method == Method::POST && path.ends_with("/commits");
    let commit_history = method == Method::GET && path.ends_with("/commits");
    let relayed = method == Method::GET && path.ends_with("/messages");
    if commit_history && has(Fault::ReorderCommits) {
        if let serde_json::Value::Array(commits) = &mut value {
            commits.reverse();
        }
    }
    edit(&mut value, &mut |object| {
        if has(Fault::EpochAsString) {
            if let Some(epoch) = object.get("epoch").and_then(serde_json::Value::as_u64) {
                object.insert("epoch".into(), serde_json::json!(epoch.to_string()));
            }
        }
        if let Some(role) = object
            .get("role")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
        {
            if has(Fault::CreatorNotAdmin) && role == "Admin" {
                object.insert("role".into(), serde_json::json!("Member"));
            } else if has(Fault::RoleLowercase) {
                object.insert("role".into(), serde_json::json!(role.to_lowercase()));
            }
        }
        if proposals && has(Fault::ProposalWithoutSignature) && object.contains_key("type") {
            object.remove("signature");
        }
        if discovery && has(Fault::DiscoveryWithoutLastResort) {
            object.remove("lastResort");
        }
    });
    if commit_answer && has(Fault::CorruptWelcome) {
        if let Some(object) = value.as_object_mut() {
            flip_last_byte(object);
        }
    }
    if relayed && has(Fault::FlipRelayedByte) {
        edit(&mut value, &mut flip_last_byte);
    }
    if has(Fault::NoMlsMessage) {
        crate::faults::strip_mls_message(&mut value);
    }
    let mut response = axum::Json(value).into_response();
    *response.status_mut() = parts.status;
    response
}

/// The profile's delivery routes (specs/PROFILE.md section 6), which the OpenAPI document lacks:
/// the Welcome list, the commit history (`GET` of the path where the document's `POST` submits
/// commits) and the message relay (both methods).
fn is_relay_route(method: &axum::http::Method, path: &str) -> bool {
    let under_group = |suffix: &str| {
        path.strip_prefix(routes::GROUPS)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(group, rest)| !group.is_empty() && rest == suffix)
    };
    path == routes::WELCOMES
        || under_group("messages")
        || (method == axum::http::Method::GET && under_group("commits"))
}

/// Flips the last byte of an object's base64 `mlsMessage`, if it has one.
fn flip_last_byte(object: &mut serde_json::Map<String, serde_json::Value>) {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(message) = object.get("mlsMessage").and_then(serde_json::Value::as_str) else {
        return;
    };
    let mut raw = engine.decode(message).unwrap_or_default();
    if let Some(last) = raw.last_mut() {
        *last ^= 0x01;
    }
    object.insert("mlsMessage".into(), serde_json::json!(engine.encode(raw)));
}

/// Applies `f` to every JSON object in `value`, depth first.
fn edit(
    value: &mut serde_json::Value,
    f: &mut impl FnMut(&mut serde_json::Map<String, serde_json::Value>),
) {
    match value {
        serde_json::Value::Object(map) => {
            for child in map.values_mut() {
                edit(child, f);
            }
            f(map);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                edit(item, f);
            }
        }
        _ => {}
    }
}
