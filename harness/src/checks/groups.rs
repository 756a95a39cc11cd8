//! Group behaviour seen through real MLS clients: the roster after a commit, joining from the
//! Welcome the target returns, and refusal of stale commits.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openmls::prelude::*;
use serde_json::Value;

use super::context::{
    commit_json, decode_welcome, expect_status, http_finding, snippet, Ctx, LiveGroup, ALICE, BOB,
    CAROL, GROUP_OPERATIONS,
};
use super::unit::{CheckDef, Fixture, Resource};
use crate::check::{CheckResult, Finding};
use crate::clients::http::ApiRequest;
use crate::spec::ApiSpec;

/// The group checks, listed when the document has the group and KeyPackage operations they drive.
pub fn checks(spec: &ApiSpec) -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    if !GROUP_OPERATIONS
        .iter()
        .all(|op| spec.operation(op).is_some())
    {
        return Vec::new();
    }
    vec![
        CheckDef::new("groups.members-after-commit", Profile, "After a commit that adds a member, the group lists both members and the new epoch")
            .requires(&["PROFILE.group-members", "PROFILE.commit-epoch", "PROFILE.group-create"])
            .needs(&[Actors, Group])
            .shares(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(members_after_commit(ctx))),
        CheckDef::new("groups.welcome-joins", Must, "The Welcome the target returns lets the added member join with the same epoch authenticator")
            .requires(&["MLS.2.ds-distribute-messages", "PROFILE.commit-summary", "PROFILE.mls-message-field", "MLS.1.suite-default", "MLS.3.rfc9420-basis"])
            .needs(&[Actors, Group])
            .shares(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(welcome_joins(ctx))),
        CheckDef::new("groups.member-fid-case-insensitive", Profile, "A member is found by its FID in another letter case and answered in lowercase")
            .requires(&["PROFILE.group-members"])
            .needs(&[Actors, Group])
            .shares(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(member_fid_case(ctx))),
        CheckDef::new("groups.stale-commit-refused", Profile, "A different commit for a past epoch is refused with 409 and changes nothing")
            .requires(&["PROFILE.commit-epoch"])
            .needs(&[Actors])
            .shares(&[Resource::KeyPackages(CAROL)])
            .judged_by(|ctx| Box::pin(stale_commit(ctx))),
        CheckDef::new("groups.concurrent-commits", Profile, "Of two different commits for one epoch sent at once, exactly one is accepted")
            .requires(&["PROFILE.commit-epoch"])
            .needs(&[Actors])
            .shares(&[Resource::KeyPackages(CAROL)])
            .judged_by(|ctx| Box::pin(concurrent_commits(ctx))),
    ]
}

pub async fn members_after_commit(ctx: &mut Ctx) -> CheckResult {
    let id = ctx.established_id().await?;
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    expect_status(&resp, &[200], "the group to be visible to its creator")?;
    let group = resp.json().unwrap_or(Value::Null);
    let members: Vec<(String, String)> = group["members"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|m| {
                    (
                        m["id"].as_str().unwrap_or("").to_owned(),
                        m["role"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected = vec![
        (ctx.fid(ALICE), "Admin".to_owned()),
        (ctx.fid(BOB), "Member".to_owned()),
    ];
    if group["epoch"] != 1 || members != expected {
        return Err(Finding::mismatch(
            format!("epoch 1 with members {expected:?}"),
            format!("epoch {} with members {members:?}", group["epoch"]),
        ));
    }
    // Bob, now a member, sees the group too.
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(BOB)))
        .await?;
    expect_status(&resp, &[200], "the group to be visible to the added member")
}

pub async fn welcome_joins(ctx: &mut Ctx) -> CheckResult {
    let fixture = ctx.established().await?;
    let welcome_json = fixture.welcome.clone();
    let alice_authenticator = fixture.group.mls.epoch_authenticator().as_slice().to_vec();
    let welcome = decode_welcome(&welcome_json)?;
    if welcome_json["encryptedGroupState"]
        .as_str()
        .map(|s| B64.decode(s).is_ok())
        != Some(true)
    {
        return Err(Finding::mismatch(
            "base64 encryptedGroupState",
            welcome_json["encryptedGroupState"].to_string(),
        ));
    }
    let bob = &ctx.actors[BOB];
    let join_config = MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build();
    let group = StagedWelcome::new_from_welcome(&bob.mls.provider, &join_config, welcome, None)
        .and_then(|staged| staged.into_group(&bob.mls.provider))
        .map_err(|e| Finding::mismatch("bob joins from the Welcome", e.to_string()))?;
    if group.epoch_authenticator().as_slice() != alice_authenticator.as_slice() {
        return Err(Finding::mismatch(
            "the same epoch authenticator as alice",
            "a different one",
        ));
    }
    Ok(())
}

pub async fn stale_commit(ctx: &mut Ctx) -> CheckResult {
    // Alice's group at epoch 0 with carol's Add pending, and two different commits of it.
    let (mut group, rival) = group_with_rival_commits(ctx).await?;
    let (_, resp) = ctx.commit(&mut group).await?;
    expect_status(&resp, &[200], "the first commit to be accepted")?;
    // The rival (other bytes, the same past epoch) must fail and change nothing: not a replay,
    // which a server could refuse as a duplicate without looking at the epoch.
    let (method, path) = ctx.route("groups_submitCommit", &[("groupId", &group.id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)).json(&rival))
        .await?;
    expect_status(
        &resp,
        &[409],
        "a different commit for a past epoch is refused",
    )?;
    epoch_is(ctx, &group.id, 1).await
}

/// PROFILE.commit-epoch, concurrently: two different commits for one epoch sent at once, exactly
/// one accepted.
pub async fn concurrent_commits(ctx: &mut Ctx) -> CheckResult {
    let (mut group, rival) = group_with_rival_commits(ctx).await?;
    let (commit, welcome, _) = group
        .mls
        .commit_to_pending_proposals(&group.client.provider, &group.client.key)
        .map_err(Finding::harness)?;
    let epoch = group.mls.epoch().as_u64();
    let mine = commit_json(&group.id, epoch, &group.pending, &commit, welcome.as_ref())?;
    let (method, path) = ctx.route("groups_submitCommit", &[("groupId", &group.id)])?;
    let first = ApiRequest::new(method.clone(), path.clone(), ctx.auth(ALICE)).json(&mine);
    let second = ApiRequest::new(method, path, ctx.auth(ALICE)).json(&rival);
    let http = ctx.http.clone();
    let ((first, first_exchange), (second, second_exchange)) =
        tokio::join!(http.send(&first), http.send(&second));
    ctx.recorder
        .exchanges
        .extend([first_exchange, second_exchange]);
    let statuses = [
        first.map_err(http_finding)?.status,
        second.map_err(http_finding)?.status,
    ];
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    if (accepted, refused) != (1, 1) {
        return Err(Finding::mismatch(
            "one of two commits for the same epoch accepted (200), the other refused (409)",
            format!("statuses {statuses:?}"),
        ));
    }
    epoch_is(ctx, &group.id, 1).await
}

/// Alice's new group at epoch 0 with carol's Add proposed, and the JSON of a commit of it that
/// alice's MLS group then forgets (a rival for whatever alice commits next).
async fn group_with_rival_commits(ctx: &mut Ctx) -> Result<(LiveGroup, Value), Finding> {
    let (mut group, _) = ctx.create_group(ALICE).await?;
    let (_, resp) = ctx.propose_add(&mut group, CAROL).await?;
    expect_status(&resp, &[204], "the proposal to be accepted")?;
    let (commit, welcome, _) = group
        .mls
        .commit_to_pending_proposals(&group.client.provider, &group.client.key)
        .map_err(Finding::harness)?;
    let epoch = group.mls.epoch().as_u64();
    let rival = commit_json(&group.id, epoch, &group.pending, &commit, welcome.as_ref())?;
    group
        .mls
        .clear_pending_commit(group.client.provider.storage())
        .map_err(Finding::harness)?;
    Ok((group, rival))
}

/// The group's epoch, as the target reports it, is `expected`.
async fn epoch_is(ctx: &mut Ctx, group_id: &str, expected: u64) -> CheckResult {
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    let epoch = resp
        .json()
        .map(|g| g["epoch"].clone())
        .unwrap_or(Value::Null);
    if epoch != expected {
        return Err(Finding::mismatch(
            format!("the group still at epoch {expected}"),
            format!("epoch {epoch}: {}", snippet(&resp.text())),
        ));
    }
    Ok(())
}

/// PROFILE.group-members: `memberId` matches the member's FID case-insensitively, and the answer
/// carries the FID in lowercase.
pub async fn member_fid_case(ctx: &mut Ctx) -> CheckResult {
    let id = ctx.established_id().await?;
    let fid = ctx.fid(BOB);
    let shouted = fid.to_uppercase();
    let (method, path) = ctx.route(
        "members_getMember",
        &[("groupId", &id), ("memberId", &shouted)],
    )?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    expect_status(&resp, &[200], "the member found by the FID in upper case")?;
    ctx.conforms("members_getMember", &resp)?;
    let answered = resp.json().unwrap_or_default()["id"].clone();
    if answered != fid.to_lowercase().as_str() {
        return Err(Finding::mismatch(
            format!("id {:?} (the FID in lowercase)", fid.to_lowercase()),
            answered.to_string(),
        ));
    }
    Ok(())
}
