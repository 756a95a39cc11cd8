//! Profile routes the published API lacks (PROFILE.message-relay, PROFILE.welcome-delivery,
//! PROFILE.commit-history): without them a member cannot receive Welcomes, catch up on commits or
//! exchange application messages over HTTP.

use std::collections::HashMap;

use axum::extract::State;

use crate::params::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p2mls_protocol::gateway::mls_op;
use p2mls_protocol::routes::MLS_BASE;
use p2mls_protocol::wire::{self, content_type};
use serde::Deserialize;
use serde_json::{json, Value};

use super::groups::{member_fids, visible_group};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// How many epochs back an application message may be (clients keep past epochs' secrets).
const PAST_EPOCHS: u64 = 2;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{MLS_BASE}/welcomes"), get(welcomes))
        .route(
            &format!("{MLS_BASE}/groups/{{group_id}}/messages"),
            get(messages).post(relay),
        )
}

fn since(query: &HashMap<String, String>) -> Result<i64, ApiError> {
    match query.get("since") {
        None => Ok(-1),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ApiError::bad("since must be an integer")),
    }
}

/// Welcomes addressed to the caller, oldest first.
async fn welcomes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    state
        .store
        .tx(move |tx| {
            let mut stmt = tx.prepare("SELECT json FROM welcomes WHERE fid = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([&caller.fid], |r| r.get::<_, String>(0))?;
            rows.map(|r| {
                let json = r?;
                let welcome: Value =
                    serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.to_string()))?;
                Ok(json!({ "groupId": welcome["groupId"], "epoch": welcome["epoch"], "welcome": welcome }))
            })
            .collect()
        })
        .await
        .map(axum::Json)
}

/// Commits that created epochs after `since`, in epoch order (GET on the commits route).
pub async fn commits_since(
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
            let mut stmt = tx.prepare(
                "SELECT json FROM commits WHERE group_id = ?1 AND epoch > ?2 ORDER BY epoch",
            )?;
            let rows = stmt.query_map((&group_id, since), |r| r.get::<_, String>(0))?;
            rows.map(|r| serde_json::from_str(&r?).map_err(|e| ApiError::Internal(e.to_string())))
                .collect()
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
    let body: MessageBody =
        super::groups::parse_for_member(&state, &group_id, &caller.fid, body).await?;
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
                return Err(ApiError::Conflict("stale_epoch", format!(
                    "message for epoch {}, the group is at epoch {}",
                    header.epoch, row.epoch
                )));
            }
            tx.execute(
                "INSERT INTO messages (group_id, epoch, sender, mls_message) VALUES (?1, ?2, ?3, ?4)",
                (&group_id, header.epoch, &caller.fid, &body.mls_message),
            )?;
            let seq = tx.last_insert_rowid();
            let event = json!({
                "groupId": group_id, "seq": seq, "epoch": header.epoch,
                "sender": caller.fid, "mlsMessage": body.mls_message,
            });
            Ok((member_fids(tx, &group_id)?, event))
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
            let mut stmt = tx.prepare(
                "SELECT seq, epoch, sender, mls_message FROM messages \
                 WHERE group_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map((&group_id, since), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            rows.map(|r| {
                let (seq, epoch, sender, message) = r?;
                Ok(json!({ "seq": seq, "epoch": epoch, "sender": sender, "mlsMessage": message }))
            })
            .collect()
        })
        .await
        .map(axum::Json)
}
