//! What a run creates on the target, and the clean-up when it ends (also after Ctrl-C or a check
//! timeout): a shared staging server should not pile up state run after run.
//!
//! The ledger is filled where things are created: `Ctx::send` sees every accepted KeyPackage
//! upload and group creation, actor bootstrap the registered actors and their sessions, the
//! ID-CSR checks the extra sessions they open. Discovery consumes one-time KeyPackages: the
//! clean-up drains every suite of every actor that uploaded. Sessions of actors the run
//! registered are revoked (core beta.3's `DELETE /.p2/core/v1/session`, with the account's
//! token and second factor); sessions of configured actors are the user's and stay. Everything
//! else is listed as left on the target, with the reason.

use std::collections::BTreeSet;

use crate::checks::Ctx;
use crate::ledger::{item, OpenSession};
pub use crate::ledger::{Cleanup, Item, Ledger};

/// Discoveries per actor and suite before the clean-up gives up (the profile's upload limit is
/// far below).
const MAX_DRAIN: usize = 512;

/// Removes what the API lets the run remove and lists the rest.
pub async fn clean_up(ctx: &mut Ctx) -> Cleanup {
    let mut cleanup = Cleanup::default();
    let ledger = ctx.ledger().clone();
    let ours: BTreeSet<&str> = ledger
        .keypackages
        .iter()
        .map(|(_, id, _)| id.as_str())
        .collect();
    let owners: BTreeSet<usize> = ledger.keypackages.iter().map(|(o, _, _)| *o).collect();
    let suites: Vec<String> = ctx
        .registry
        .suites()
        .iter()
        .map(|s| p2mls_protocol::identifiers::format_code_point(s.polyproto_id))
        .collect();
    for owner in owners {
        let fid = ctx.fid(owner);
        // The owner asks: one's own packages count against no discovery limit.
        let by = owner;
        for suite in &suites {
            let query = format!("ciphersuites={suite}");
            let mut seen = BTreeSet::new();
            for _ in 0..MAX_DRAIN {
                let list = match ctx.discover_list(by, owner, &query).await {
                    Ok(list) => list,
                    Err(e) => {
                        cleanup
                            .errors
                            .push(format!("draining {fid}'s {suite} KeyPackages: {}", e));
                        break;
                    }
                };
                let Some(kp) = list.first() else { break };
                let id = kp["id"].as_str().unwrap_or_default().to_owned();
                if kp["lastResort"].as_bool() == Some(true) || !seen.insert(id.clone()) {
                    // Only the last resort is left: it is kept by design.
                    if ours.contains(id.as_str()) {
                        cleanup.left.push(item(
                            "last-resort-keypackage",
                            &id,
                            &format!(
                                "{fid}, {suite}: a last-resort KeyPackage is never consumed and no route deletes it"
                            ),
                        ));
                    }
                    break;
                }
                let note = if ours.contains(id.as_str()) {
                    format!("{fid}, {suite}: consumed through discovery")
                } else {
                    format!("{fid}, {suite}: consumed through discovery (not uploaded by this run)")
                };
                cleanup.removed.push(item("keypackage", &id, &note));
            }
        }
    }
    ctx.recorder.exchanges.clear();
    for group in &ledger.groups {
        cleanup.left.push(item(
            "group",
            group,
            "no route of the API deletes a group or lets its last members leave",
        ));
    }
    // After the draining, which still needs the actors' sessions.
    let mut not_found = Vec::new();
    for session in &ledger.sessions {
        if let Some(id) = revoke(ctx, session, &mut cleanup).await {
            not_found.push(id);
        }
    }
    // A 404 cannot tell a session already gone (a check interrupted after revoking it) from a
    // route the target does not serve; the other revocations can.
    let route_served = cleanup.removed.iter().any(|i| i.kind == "session");
    for id in not_found {
        if route_served {
            cleanup.removed.push(item(
                "session",
                &id,
                "already gone: its revocation answered 404 where others succeeded",
            ));
        } else {
            cleanup.left.push(item(
                "session",
                &id,
                &format!(
                    "the target does not serve DELETE {} (answered 404)",
                    p2mls_protocol::routes::SESSION
                ),
            ));
        }
    }
    ctx.recorder.exchanges.clear();
    for fid in &ledger.actors {
        cleanup
            .left
            .push(item("actor", fid, "no route of the API deletes an actor"));
    }
    cleanup
}

/// Revokes a session the run opened for an actor it registered; lists it as left otherwise.
/// Returns the session's id when the target answered 404, which the caller sorts out.
async fn revoke(ctx: &mut Ctx, session: &OpenSession, cleanup: &mut Cleanup) -> Option<String> {
    let id = format!("{}/{}", session.fid, session.session_id);
    let Some(account) = &session.account else {
        cleanup.left.push(item(
            "session",
            &id,
            "a session of a configured actor: the harness has no account to revoke it with",
        ));
        return None;
    };
    let req = account.revoke_request("CLEANUP", &session.session_id);
    match ctx.send(req).await {
        Ok(resp) if (200..300).contains(&resp.status) => cleanup.removed.push(item(
            "session",
            &id,
            &format!("revoked (DELETE {})", p2mls_protocol::routes::SESSION),
        )),
        Ok(resp) if resp.status == 404 => return Some(id),
        Ok(resp) if resp.status == 405 => cleanup.left.push(item(
            "session",
            &id,
            &format!(
                "the target does not serve DELETE {} (answered 405)",
                p2mls_protocol::routes::SESSION
            ),
        )),
        Ok(resp) => cleanup
            .errors
            .push(format!("revoking session {id}: answered {}", resp.status)),
        Err(e) => cleanup.errors.push(format!("revoking session {id}: {e}")),
    }
    None
}
