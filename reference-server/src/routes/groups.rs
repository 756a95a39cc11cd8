//! Groups, their members, proposals and commits: the DS orders handshake messages per group and
//! checks what it can see without group secrets (PROFILE.proposal-summary, PROFILE.commit-*).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p2mls_protocol::routes;
use serde_json::{json, Value};

use super::group_access::{parse_for_member, visible_group};
use crate::auth::Caller;
use crate::config::random_token;
use crate::ds::{self, CommitBody, ProposalBody};
use crate::error::ApiError;
use crate::faults::Fault;
use crate::json::Json;
use crate::mls::KeyPackageBody;
use crate::params::{Path, Query};
use crate::state::AppState;
use crate::store::{GroupRow, MemberRow, Tx};

/// axum's placeholders for the path segments of `p2mls_protocol::routes`.
const GROUP: &str = "{group_id}";
const MEMBER: &str = "{member_id}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::GROUPS, post(create_group))
        .route(&routes::group(GROUP), get(get_group))
        .route(
            &routes::group_commits(GROUP),
            post(submit_commit).get(commits_since),
        )
        .route(&routes::group_latest_commit(GROUP), get(latest_commit))
        .route(&routes::group_members(GROUP), get(members))
        .route(&routes::group_member(GROUP, MEMBER), get(member))
        .route(
            &routes::group_proposals(GROUP),
            post(submit_proposal).get(proposals),
        )
}

fn member_list(tx: &Tx<'_>, group_id: &str) -> Result<Vec<Value>, ApiError> {
    Ok(tx.members(group_id)?.into_iter().map(member_json).collect())
}

fn member_json(member: MemberRow) -> Value {
    json!({ "id": member.fid, "keyPackage": member.keypackage, "role": member.role })
}

fn group_json(tx: &Tx<'_>, group_id: &str, row: &GroupRow) -> Result<Value, ApiError> {
    Ok(json!({
        "id": group_id,
        "epoch": row.epoch,
        "members": member_list(tx, group_id)?,
        "publicKey": row.public_key,
    }))
}

async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<KeyPackageBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let kp = state
        .mls
        .check_key_package(&body)
        .map_err(ApiError::BadRequest)?;
    if kp.owner.fid() != caller.fid || kp.owner.session_id != caller.session_id {
        return Err(ApiError::bad(
            "the KeyPackage's credential is not the caller's",
        ));
    }
    // Group ids are opaque to clients; the MLS group_id bytes are this string's UTF-8.
    let group_id = random_token()[..32].to_owned();
    let public_key = B64.encode(&kp.signature_key);
    state
        .store
        .tx(move |tx| {
            tx.insert_group(&group_id, kp.suite, &public_key)?;
            tx.insert_member(&group_id, &caller.fid, "Admin", &kp.json, 0)?;
            let row = visible_group(tx, &group_id, &caller.fid)?;
            group_json(tx, &group_id, &row)
        })
        .await
        .map(axum::Json)
}

async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            group_json(tx, &group_id, &row)
        })
        .await
        .map(axum::Json)
}

async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    state
        .store
        .tx(move |tx| {
            visible_group(tx, &group_id, &caller.fid)?;
            member_list(tx, &group_id)
        })
        .await
        .map(axum::Json)
}

async fn member(
    State(state): State<AppState>,
    caller: Caller,
    Path((group_id, member_id)): Path<(String, String)>,
) -> Result<axum::Json<Value>, ApiError> {
    let case_sensitive = state.config.faults.contains(&Fault::FidCaseSensitive);
    state
        .store
        .tx(move |tx| {
            visible_group(tx, &group_id, &caller.fid)?;
            // memberId matches the member's FID case-insensitively (PROFILE.group-members); the
            // answer carries the FID as stored.
            tx.member(&group_id, &member_id, case_sensitive)?
                .map(member_json)
                .ok_or(ApiError::NotFound)
        })
        .await
        .map(axum::Json)
}

async fn submit_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    let body: ProposalBody = parse_for_member(&state, &group_id, &caller.fid, body).await?;
    let mls = state.mls.clone();
    let event = state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            ds::accept_proposal(tx, &mls, &group_id, &row, body)
        })
        .await?;
    state.hub.publish(&event.to, event.op, event.data);
    Ok(StatusCode::NO_CONTENT)
}

async fn proposals(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            Ok(tx
                .pending_proposals(&group_id, row.epoch)?
                .into_iter()
                .map(|record| record["proposal"].clone())
                .collect())
        })
        .await
        .map(axum::Json)
}

async fn submit_commit(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    let body: CommitBody = parse_for_member(&state, &group_id, &caller.fid, body).await?;
    let registry = state.mls.registry.clone();
    let config = state.config.clone();
    let accepted = state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            ds::accept_commit(tx, &registry, &config.faults, &group_id, &row, body)
        })
        .await?;
    for event in accepted.events {
        state.hub.publish(&event.to, event.op, event.data);
    }
    Ok(match accepted.welcome {
        Some(welcome) => (StatusCode::OK, axum::Json(welcome)).into_response(),
        // The document answers a commit with a Welcome; a commit that adds nobody has none,
        // so it answers 204 (PROFILE.commit-summary, a spec finding).
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn latest_commit(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    state
        .store
        .tx(move |tx| {
            visible_group(tx, &group_id, &caller.fid)?;
            tx.latest_commit(&group_id)?.ok_or(ApiError::NotFound)
        })
        .await
        .map(axum::Json)
}

/// Commits that created epochs after `?since=` (default: all), in epoch order
/// (PROFILE.commit-history: how a member who missed events catches up).
async fn commits_since(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    let since = crate::params::since(&query)?;
    state
        .store
        .tx(move |tx| {
            visible_group(tx, &group_id, &caller.fid)?;
            tx.commits_since(&group_id, since)
        })
        .await
        .map(axum::Json)
}
