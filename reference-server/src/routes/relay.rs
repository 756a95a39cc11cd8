//! Profile routes the published API lacks (PROFILE.message-relay, PROFILE.welcome-delivery):
//! without them a member cannot receive Welcomes or exchange application messages over HTTP.
//! (The commit history of PROFILE.commit-history shares its path with commit submission and
//! lives with the group routes.)

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p2mls_protocol::gateway::mls_op;
use p2mls_protocol::routes;
use p2mls_protocol::wire::{self, content_type};
use serde::Deserialize;
use serde_json::{json, Value};

use super::group_access::{parse_for_member, visible_group};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{since, Path, Query};
use crate::state::AppState;

/// How many epochs back an application message may be (clients keep past epochs' secrets).
const PAST_EPOCHS: u64 = 2;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::WELCOMES, get(welcomes)).route(
        &routes::group_messages("{group_id}"),
        get(messages).post(relay),
    )
}

/// Welcomes addressed to the caller, oldest first.
async fn welcomes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    state
        .store
        .tx(move |tx| {
            Ok(tx
                .welcomes_for(&caller.fid)?
                .into_iter()
                .map(|welcome| {
                    json!({ "groupId": welcome["groupId"], "epoch": welcome["epoch"], "welcome": welcome })
                })
                .collect())
        })
        .await
        .map(axum::Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageBody {
    mls_message: String,
}

/// Accepts an application message (a PrivateMessage) for the group and fans it out.
async fn relay(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    let body: MessageBody = parse_for_member(&state, &group_id, &caller.fid, body).await?;
    let bytes = B64
        .decode(&body.mls_message)
        .map_err(|e| ApiError::bad(format!("mlsMessage is not base64: {e}")))?;
    let header = wire::private_message_header(&bytes)
        .map_err(|e| ApiError::bad(format!("mlsMessage is not a PrivateMessage: {e}")))?;
    if header.group_id != group_id.as_bytes() {
        return Err(ApiError::bad("mlsMessage belongs to another group"));
    }
    if header.content_type != content_type::APPLICATION {
        return Err(ApiError::bad(
            "only application messages are relayed; proposals and commits have their own routes",
        ));
    }
    let hub = state.hub.clone();
    let (members, event) = state
        .store
        .tx(move |tx| {
            let row = visible_group(tx, &group_id, &caller.fid)?;
            if header.epoch > row.epoch || header.epoch + PAST_EPOCHS < row.epoch {
                return Err(ApiError::Conflict(
                    "stale_epoch",
                    format!(
                        "message for epoch {}, the group is at epoch {}",
                        header.epoch, row.epoch
                    ),
                ));
            }
            let seq = tx.insert_message(&group_id, header.epoch, &caller.fid, &body.mls_message)?;
            let event = json!({
                "groupId": group_id, "seq": seq, "epoch": header.epoch,
                "sender": caller.fid, "mlsMessage": body.mls_message,
            });
            Ok((tx.member_fids(&group_id)?, event))
        })
        .await?;
    hub.publish(&members, mls_op::APPLICATION, event);
    Ok(StatusCode::NO_CONTENT)
}

/// Application messages after `since` (a seq), in acceptance order.
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(group_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    let since = since(&query)?;
    state
        .store
        .tx(move |tx| {
            visible_group(tx, &group_id, &caller.fid)?;
            Ok(tx
                .messages_since(&group_id, since)?
                .into_iter()
                .map(|m| {
                    json!({ "seq": m.seq, "epoch": m.epoch, "sender": m.sender, "mlsMessage": m.mls_message })
                })
                .collect())
        })
        .await
        .map(axum::Json)
}
