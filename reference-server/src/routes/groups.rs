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
use p2mls_protocol::gateway::mls_op;
use p2mls_protocol::routes;
use p2mls_protocol::wire::{self, content_type, Sender};
use serde::Deserialize;
use serde_json::{json, Value};

use super::group_access::{parse_for_member, visible_group};
use crate::auth::Caller;
use crate::config::random_token;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::json::Json;
use crate::mls::{message_id, proposal_type_name, KeyPackageBody, HASH_LEN, SIGNATURE_LEN};
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

/// A Proposal JSON object as submitted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProposalBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    target: Option<String>,
    key_package: Option<KeyPackageBody>,
    signature: String,
    mls_message: Option<String>,
}

/// Decodes `mlsMessage` and reads its public header, checking group, epoch and sender.
fn handshake(
    encoded: Option<&str>,
    group_id: &str,
    row: &GroupRow,
    expected_content: u8,
    accept_stale: bool,
) -> Result<(Vec<u8>, wire::PublicMessageHeader), ApiError> {
    let encoded = encoded
        .ok_or_else(|| ApiError::bad("mlsMessage is missing (PROFILE.mls-message-field)"))?;
    let bytes = B64
        .decode(encoded)
        .map_err(|e| ApiError::bad(format!("mlsMessage is not base64: {e}")))?;
    let header = wire::public_message_header(&bytes)
        .map_err(|e| ApiError::bad(format!("mlsMessage is not a PublicMessage: {e}")))?;
    if header.group_id != group_id.as_bytes() {
        return Err(ApiError::bad("mlsMessage belongs to another group"));
    }
    if header.content_type != expected_content {
        return Err(ApiError::bad("mlsMessage carries another content type"));
    }
    if header.sender
        != (Sender::Member {
            leaf_index: row.caller_leaf,
        })
    {
        return Err(ApiError::bad("mlsMessage is not sent by the caller's leaf"));
    }
    if header.epoch != row.epoch && !accept_stale {
        return Err(ApiError::Conflict(
            "stale_epoch",
            format!(
                "mlsMessage is for epoch {}, the group is at epoch {}",
                header.epoch, row.epoch
            ),
        ));
    }
    Ok((bytes, header))
}

/// The signature field at the end of a member's PublicMessage, before the given tags.
fn framed_signature(bytes: &[u8], tags: usize) -> Result<String, ApiError> {
    let mut rest = bytes;
    for _ in 0..tags {
        rest = wire::split_trailing_opaque(rest, HASH_LEN)
            .ok_or_else(|| ApiError::bad("mlsMessage lacks its authentication tags"))?
            .0;
    }
    let (_, signature) = wire::split_trailing_opaque(rest, SIGNATURE_LEN)
        .ok_or_else(|| ApiError::bad("mlsMessage lacks an Ed25519 signature"))?;
    Ok(B64.encode(signature))
}

async fn submit_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    let body: ProposalBody = parse_for_member(&state, &group_id, &caller.fid, body).await?;
    let mls = state.mls.clone();
    let hub = state.hub.clone();
    state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            let (bytes, header) = handshake(
                body.mls_message.as_deref(),
                &group_id,
                &row,
                content_type::PROPOSAL,
                false,
            )?;
            let kind = header.proposal_type.and_then(proposal_type_name);
            if kind != Some(body.kind.as_str()) {
                return Err(ApiError::bad("type does not agree with mlsMessage"));
            }
            if body.id != message_id(&bytes) {
                return Err(ApiError::bad("id is not the SHA-256 of mlsMessage"));
            }
            // Member senders append a membership tag after the signature.
            if body.signature != framed_signature(&bytes, 1)? {
                return Err(ApiError::bad("signature does not agree with mlsMessage"));
            }
            let mut stored = json!({
                "id": body.id,
                "type": body.kind,
                "signature": body.signature,
                "mlsMessage": body.mls_message,
            });
            let mut added_fid = None;
            if body.kind == "Add" {
                let kp_body = body
                    .key_package
                    .as_ref()
                    .ok_or_else(|| ApiError::bad("an Add proposal needs keyPackage"))?;
                let kp = mls
                    .check_embedded_key_package(&bytes[header.body_offset + 2..], kp_body)
                    .map_err(|e| ApiError::bad(format!("keyPackage: {e}")))?;
                if kp.suite != row.suite {
                    return Err(ApiError::bad(
                        "keyPackage is of another cipher suite than the group",
                    ));
                }
                let fid = kp.owner.fid();
                if tx.is_member(&group_id, &fid)? {
                    return Err(ApiError::bad(format!(
                        "{fid} is already a member (duplicate_member)"
                    )));
                }
                stored["keyPackage"] = kp.json;
                added_fid = Some(fid);
            }
            let mut removed_fid = None;
            if body.kind == "Remove" {
                // Remove { uint32 removed; }: the leaf index follows the proposal type.
                let start = header.body_offset + 2;
                let leaf = bytes
                    .get(start..start + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(|| ApiError::bad("Remove proposal lacks its leaf index"))?;
                let fid = tx
                    .member_at_leaf(&group_id, leaf)?
                    .ok_or_else(|| ApiError::bad(format!("no member at leaf {leaf}")))?;
                if body.target.as_ref().is_some_and(|t| *t != fid) {
                    return Err(ApiError::bad(
                        "target is not the member the proposal removes",
                    ));
                }
                stored["target"] = json!(fid);
                removed_fid = Some(fid);
            } else if let Some(target) = &body.target {
                stored["target"] = json!(target);
            }
            if tx.proposal_submitted(&group_id, &body.id)? {
                return Err(ApiError::Conflict(
                    "duplicate_proposal",
                    "proposal was submitted before".into(),
                ));
            }
            let record = json!({ "proposal": stored, "adds": added_fid, "removes": removed_fid });
            tx.insert_proposal(&group_id, row.epoch, &record)?;
            let event = json!({ "groupId": group_id, "epoch": row.epoch, "proposal": stored });
            Ok((tx.member_fids(&group_id)?, event))
        })
        .await
        .map(|(members, event)| {
            hub.publish(&members, mls_op::PROPOSAL, event);
            StatusCode::NO_CONTENT
        })
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

/// A Commit JSON object as submitted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitBody {
    id: String,
    group_id: String,
    epoch: u64,
    proposals: Vec<Value>,
    signature: String,
    mls_message: Option<String>,
    welcome: Option<String>,
}

async fn submit_commit(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    let body: CommitBody = parse_for_member(&state, &group_id, &caller.fid, body).await?;
    let registry = state.mls.registry.clone();
    let hub = state.hub.clone();
    let drop_welcome = state.config.faults.contains(&Fault::DropWelcome);
    let accept_stale = state.config.faults.contains(&Fault::AcceptStaleCommit);
    state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            let (bytes, _) = handshake(
                body.mls_message.as_deref(),
                &group_id,
                &row,
                content_type::COMMIT,
                accept_stale,
            )?;
            if body.group_id != group_id {
                return Err(ApiError::bad("groupId is not the group of the path"));
            }
            if body.epoch != row.epoch + 1 && !accept_stale {
                return Err(ApiError::bad("epoch must be the epoch the commit creates"));
            }
            if body.id != message_id(&bytes) {
                return Err(ApiError::bad("id is not the SHA-256 of mlsMessage"));
            }
            // Commits carry a confirmation tag and a membership tag after the signature.
            if body.signature != framed_signature(&bytes, 2)? {
                return Err(ApiError::bad("signature does not agree with mlsMessage"));
            }
            let pending = tx.pending_proposals(&group_id, row.epoch)?;
            let pending_ids: Vec<&str> = pending
                .iter()
                .filter_map(|r| r["proposal"]["id"].as_str())
                .collect();
            let body_ids: Vec<&str> = body
                .proposals
                .iter()
                .filter_map(|p| p["id"].as_str())
                .collect();
            if pending_ids != body_ids {
                return Err(ApiError::bad(
                    "proposals must list the pending proposals in order (by reference)",
                ));
            }
            let adds: Vec<(String, Value)> = pending
                .iter()
                .filter_map(|r| {
                    r["adds"]
                        .as_str()
                        .map(|fid| (fid.to_owned(), r["proposal"]["keyPackage"].clone()))
                })
                .collect();
            let new_epoch = row.epoch + 1;
            let welcome = match (&body.welcome, adds.is_empty()) {
                (None, false) => {
                    return Err(ApiError::bad("a commit that adds members needs welcome"))
                }
                (Some(_), true) => return Err(ApiError::bad("welcome given but nobody is added")),
                (None, true) => None,
                (Some(encoded), false) => {
                    let bytes = B64
                        .decode(encoded)
                        .map_err(|e| ApiError::bad(format!("welcome is not base64: {e}")))?;
                    let parts = wire::welcome_parts(&bytes)
                        .map_err(|e| ApiError::bad(format!("welcome is not a Welcome: {e}")))?;
                    if registry.polyproto_id_for_wire(parts.cipher_suite) != row.suite {
                        return Err(ApiError::bad("welcome is of another cipher suite"));
                    }
                    let refs: Vec<String> = parts.new_members.iter().map(hex::encode).collect();
                    let added: Vec<&str> = adds
                        .iter()
                        .filter_map(|(_, kp)| kp["id"].as_str())
                        .collect();
                    if refs != added {
                        return Err(ApiError::bad(
                            "welcome is not addressed to the added members",
                        ));
                    }
                    Some(json!({
                        "groupId": group_id,
                        "epoch": new_epoch,
                        "keyPackage": adds[0].1,
                        "encryptedGroupState": B64.encode(&parts.encrypted_group_info),
                        "mlsMessage": encoded,
                    }))
                }
            };
            let commit = json!({
                "id": body.id,
                "groupId": group_id,
                "epoch": new_epoch,
                "proposals": pending.iter().map(|r| r["proposal"].clone()).collect::<Vec<_>>(),
                "signature": body.signature,
                "mlsMessage": body.mls_message,
            });
            // Members before the commit process it (removed ones included); the added ones join
            // from the Welcome.
            let previous_members = tx.member_fids(&group_id)?;
            for record in &pending {
                if let Some(fid) = record["removes"].as_str() {
                    tx.remove_member(&group_id, fid)?;
                }
            }
            // RFC 9420 §12.1.1: an Add takes the leftmost blank leaf, after the removals.
            let occupied = tx.occupied_leaves(&group_id)?;
            let free_leaves = (0u32..).filter(|leaf| !occupied.contains(leaf));
            for ((fid, kp), leaf) in adds.iter().zip(free_leaves) {
                tx.insert_member(&group_id, fid, "Member", kp, leaf)?;
                if let Some(welcome) = welcome.as_ref().filter(|_| !drop_welcome) {
                    tx.insert_welcome(&group_id, fid, welcome)?;
                }
            }
            tx.commit_proposals(&group_id, row.epoch)?;
            tx.set_epoch(&group_id, new_epoch)?;
            tx.insert_commit(&group_id, new_epoch, &commit)?;
            // Events go out only after the transaction committed (below).
            let mut events = vec![(
                previous_members,
                mls_op::COMMIT,
                json!({ "groupId": group_id, "epoch": new_epoch, "commit": commit }),
            )];
            if let Some(welcome) = welcome.as_ref().filter(|_| !drop_welcome) {
                let added: Vec<String> = adds.iter().map(|(fid, _)| fid.clone()).collect();
                events.push((
                    added,
                    mls_op::WELCOME,
                    json!({ "groupId": group_id, "epoch": new_epoch, "welcome": welcome }),
                ));
            }
            Ok((welcome, events))
        })
        .await
        .map(|(welcome, events)| {
            for (fids, op, data) in events {
                hub.publish(&fids, op, data);
            }
            welcome
        })
        .map(|welcome| match welcome {
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
