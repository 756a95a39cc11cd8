//! The Delivery Service's acceptance of proposals and commits (PROFILE.proposal-summary,
//! PROFILE.commit-summary, PROFILE.commit-epoch): what it checks without group secrets (the
//! public header of each PublicMessage, and that the JSON summary agrees with the bytes), what it
//! records, and which `mls` events follow. The routes check visibility and parse; the events go
//! out only after the transaction committed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p2mls_protocol::gateway::mls_op;
use p2mls_protocol::suites::SuiteRegistry;
use p2mls_protocol::wire::{self, content_type, Sender};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::faults::Fault;
use crate::mls::{
    message_id, proposal_type_name, KeyPackageBody, MlsContext, HASH_LEN, SIGNATURE_LEN,
};
use crate::store::{GroupRow, Tx};

/// An `mls` gateway event for some actors.
pub struct Event {
    pub to: Vec<String>,
    pub op: u16,
    pub data: Value,
}

/// What an accepted commit answers (the Welcome, when it adds members) and announces.
pub struct AcceptedCommit {
    pub welcome: Option<Value>,
    pub events: Vec<Event>,
}

/// A Proposal JSON object as submitted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    target: Option<String>,
    key_package: Option<KeyPackageBody>,
    signature: String,
    mls_message: Option<String>,
}

/// A Commit JSON object as submitted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitBody {
    id: String,
    group_id: String,
    epoch: u64,
    proposals: Vec<Value>,
    signature: String,
    mls_message: Option<String>,
    welcome: Option<String>,
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

/// Accepts a member's proposal for the group's current epoch: checks it against its bytes,
/// resolves whom an Add adds and a Remove removes, and stores it as pending.
pub fn accept_proposal(
    tx: &Tx<'_>,
    mls: &MlsContext,
    group_id: &str,
    row: &GroupRow,
    body: ProposalBody,
) -> Result<Event, ApiError> {
    let (bytes, header) = handshake(
        body.mls_message.as_deref(),
        group_id,
        row,
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
        if kp.suite != row.suite && !mls.has(Fault::MixedSuites) {
            return Err(ApiError::bad(
                "keyPackage is of another cipher suite than the group",
            ));
        }
        let fid = kp.owner.fid();
        if tx.is_member(group_id, &fid)? {
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
            .member_at_leaf(group_id, leaf)?
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
    if tx.proposal_submitted(group_id, &body.id)? {
        return Err(ApiError::Conflict(
            "duplicate_proposal",
            "proposal was submitted before".into(),
        ));
    }
    let record = json!({ "proposal": stored, "adds": added_fid, "removes": removed_fid });
    tx.insert_proposal(group_id, row.epoch, &record)?;
    Ok(Event {
        to: tx.member_fids(group_id)?,
        op: mls_op::PROPOSAL,
        data: json!({ "groupId": group_id, "epoch": row.epoch, "proposal": stored }),
    })
}

/// Accepts a member's commit of the pending proposals: the group moves to the next epoch, removed
/// members leave, added ones take the leftmost free leaves and get the Welcome.
pub fn accept_commit(
    tx: &Tx<'_>,
    registry: &SuiteRegistry,
    faults: &[Fault],
    group_id: &str,
    row: &GroupRow,
    body: CommitBody,
) -> Result<AcceptedCommit, ApiError> {
    let drop_welcome = faults.contains(&Fault::DropWelcome);
    let accept_stale = faults.contains(&Fault::AcceptStaleCommit);
    let (bytes, _) = handshake(
        body.mls_message.as_deref(),
        group_id,
        row,
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
    let pending = tx.pending_proposals(group_id, row.epoch)?;
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
        (None, false) => return Err(ApiError::bad("a commit that adds members needs welcome")),
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
    let previous_members = tx.member_fids(group_id)?;
    for record in &pending {
        if let Some(fid) = record["removes"].as_str() {
            tx.remove_member(group_id, fid)?;
        }
    }
    // RFC 9420 §12.1.1: an Add takes the leftmost blank leaf, after the removals.
    let occupied = tx.occupied_leaves(group_id)?;
    let free_leaves = (0u32..).filter(|leaf| !occupied.contains(leaf));
    for ((fid, kp), leaf) in adds.iter().zip(free_leaves) {
        tx.insert_member(group_id, fid, "Member", kp, leaf)?;
        if let Some(welcome) = welcome.as_ref().filter(|_| !drop_welcome) {
            tx.insert_welcome(group_id, fid, welcome)?;
        }
    }
    tx.commit_proposals(group_id, row.epoch)?;
    tx.set_epoch(group_id, new_epoch)?;
    tx.insert_commit(group_id, new_epoch, &commit)?;
    // The caller publishes the events once the transaction committed.
    let mut events = vec![Event {
        to: previous_members,
        op: mls_op::COMMIT,
        data: json!({ "groupId": group_id, "epoch": new_epoch, "commit": commit }),
    }];
    if let Some(welcome) = welcome.as_ref().filter(|_| !drop_welcome) {
        events.push(Event {
            to: adds.iter().map(|(fid, _)| fid.clone()).collect(),
            op: mls_op::WELCOME,
            data: json!({ "groupId": group_id, "epoch": new_epoch, "welcome": welcome }),
        });
    }
    Ok(AcceptedCommit { welcome, events })
}
