//! Checks generated per operation of the document: success with a schema-valid body, 401 without
//! or with a bad token, the ambiguous 404, and 400 for malformed bodies.

use serde_json::{json, Value};

use super::context::{expect_status, is_error_body, snippet, Ctx, LiveGroup, ALICE, BOB, CAROL};
use super::unit::{CheckDef, CheckFuture, Fixture, Resource};
use crate::check::{CheckResult, Finding, Level};
use crate::clients::http::{ApiRequest, ApiResponse, Auth};
use crate::clients::mls::KeyPackageOptions;
use crate::spec::{media_type_essence, ApiSpec, Operation};

/// Operations whose requests the harness can build.
pub const KNOWN: &[&str] = &[
    "groups_createGroup",
    "groups_getGroup",
    "groups_submitCommit",
    "groups_getLatestCommit",
    "members_getMembers",
    "members_getMember",
    "groups_submitProposal",
    "members_getProposals",
    "keypackages_addKeyPackages",
    "keypackages_discoverKeyPackages",
];

/// One aspect checked on every operation it applies to; `{op}` in a requirement id stands for the
/// operation id.
struct Aspect {
    suffix: &'static str,
    level: Level,
    applies: fn(&Operation) -> bool,
    /// The title after the operation's method and path.
    title: fn(&Operation) -> &'static str,
    requirements: fn(&Operation) -> Vec<&'static str>,
    judge: for<'a> fn(&'a mut Ctx, String) -> CheckFuture<'a>,
}

const ASPECTS: &[Aspect] = &[
    Aspect {
        suffix: "success",
        level: Level::Must,
        applies: |_| true,
        title: |_| "succeeds with a documented status and a schema-valid body",
        requirements: |op| {
            let mut reqs = vec![
                "OAS.{op}.success",
                "OAS.{op}.schema",
                "MLS.3.base-path",
                "MLS.3.openapi-contract",
            ];
            if op.id.starts_with("keypackages_") {
                reqs.push("OAS.keypackages.id-length");
            }
            reqs
        },
        judge: |ctx, op| Box::pin(async move { success(ctx, &op).await }),
    },
    Aspect {
        suffix: "auth.missing-token",
        level: Level::Must,
        applies: |op| op.secured,
        title: |_| "without a token is refused with 401",
        requirements: |_| vec!["OAS.{op}.auth", "PROFILE.auth-401"],
        judge: |ctx, op| Box::pin(async move { missing_token(ctx, &op).await }),
    },
    Aspect {
        suffix: "auth.invalid-token",
        level: Level::Must,
        applies: |op| op.secured,
        title: |_| "with an unknown token is refused with 401",
        requirements: |_| vec!["OAS.{op}.auth", "PROFILE.auth-401"],
        judge: |ctx, op| Box::pin(async move { invalid_token(ctx, &op).await }),
    },
    Aspect {
        suffix: "not-found.missing",
        level: Level::Must,
        applies: documents_group_404,
        title: |_| "for a group that does not exist answers 404",
        requirements: |_| vec!["OAS.{op}.not-found"],
        judge: |ctx, op| Box::pin(async move { not_found_missing(ctx, &op).await }),
    },
    Aspect {
        suffix: "not-found.foreign",
        level: Level::Must,
        applies: documents_group_404,
        title: |op| {
            if op.request_body.is_empty() {
                "for a group the caller is not in answers the same 404 as a missing one"
            } else {
                "for a group the caller is not in answers the same 404 as a missing one, also with a malformed body"
            }
        },
        requirements: |op| {
            let mut reqs = vec!["OAS.{op}.not-found", "OAS.not-found-ambiguity"];
            if !op.request_body.is_empty() {
                reqs.push("PROFILE.error-body");
            }
            reqs
        },
        judge: |ctx, op| Box::pin(async move { not_found_foreign(ctx, &op).await }),
    },
    Aspect {
        suffix: "bad-request.invalid-json",
        level: Level::Profile,
        applies: takes_body,
        title: |_| "with a body that is not JSON answers 400 with an error body, never 5xx",
        requirements: bad_request_requirements,
        judge: |ctx, op| Box::pin(async move { invalid_json(ctx, &op).await }),
    },
    Aspect {
        suffix: "bad-request.schema-invalid",
        level: Level::Profile,
        applies: takes_body,
        title: |_| "with a schema-invalid JSON body answers 400 with an error body, never 5xx",
        requirements: bad_request_requirements,
        judge: |ctx, op| Box::pin(async move { schema_invalid(ctx, &op).await }),
    },
    Aspect {
        suffix: "bad-request.oversized",
        level: Level::Profile,
        applies: takes_body,
        title: |_| "with a body over 4 MiB answers 413 with an error body",
        requirements: |_| {
            vec![
                "PROFILE.body-limit",
                "PROFILE.no-5xx-for-client-errors",
                "PROFILE.error-body",
            ]
        },
        judge: |ctx, op| Box::pin(async move { oversized(ctx, &op).await }),
    },
];

/// Operations whose path carries a group id and that document a 404: the ambiguous 404 is checked.
fn documents_group_404(op: &Operation) -> bool {
    op.responses.contains_key("404") && op.path.contains("{groupId}")
}

fn takes_body(op: &Operation) -> bool {
    !op.request_body.is_empty()
}

fn bad_request_requirements(op: &Operation) -> Vec<&'static str> {
    let mut reqs = vec![
        "PROFILE.bad-request-400",
        "PROFILE.no-5xx-for-client-errors",
        "PROFILE.error-body",
    ];
    if op.id == UPLOAD {
        reqs.push("PROFILE.keypackage-batch-atomic");
    }
    reqs
}

/// The operation checks: every aspect on every operation of the document it applies to, for the
/// operations whose requests the harness can build.
pub fn checks(spec: &ApiSpec) -> Vec<CheckDef> {
    let mut checks = Vec::new();
    for op in spec.operations.values() {
        if !KNOWN.contains(&op.id.as_str()) {
            continue;
        }
        // Requests to a group's routes are built against the run's established group.
        let needs: &[Fixture] = if op.path.contains("{groupId}") {
            &[Fixture::Actors, Fixture::Group]
        } else {
            &[Fixture::Actors]
        };
        for aspect in ASPECTS.iter().filter(|a| (a.applies)(op)) {
            let requirements: Vec<String> = (aspect.requirements)(op)
                .into_iter()
                .map(|r| r.replace("{op}", &op.id))
                .collect();
            let (id, judge) = (op.id.clone(), aspect.judge);
            checks.push(
                CheckDef::new(
                    format!("{}.{}", op.id, aspect.suffix),
                    aspect.level,
                    format!("{} {} {}", op.method, op.path, (aspect.title)(op)),
                )
                .requires(&requirements)
                .needs(needs)
                .shares(&keypackages_used(&op.id, aspect.suffix))
                .judged_by(move |ctx| judge(ctx, id.clone())),
            );
        }
    }
    checks
}

/// The actors whose KeyPackages a check of `op` uploads and takes one of (see `success`); every
/// check of a group's route may be the one that creates the established group, which adds bob.
/// The requests the other aspects make are refused and change nothing.
fn keypackages_used(op: &str, aspect: &str) -> Vec<Resource> {
    let mut actors = Vec::new();
    if aspect == "success" {
        match op {
            "groups_submitProposal" | "members_getProposals" | "groups_submitCommit" => {
                actors.push(CAROL)
            }
            "keypackages_addKeyPackages" => actors.push(ALICE),
            "keypackages_discoverKeyPackages" => actors.push(BOB),
            _ => {}
        }
    }
    if op.starts_with("members_") || (op.starts_with("groups_") && op != "groups_createGroup") {
        actors.push(BOB);
    }
    actors.into_iter().map(Resource::KeyPackages).collect()
}

/// A well-formed request for `op` (schema-valid body, existing resources), sent as `caller`
/// against `group` (the established group unless given).
async fn sample(
    ctx: &mut Ctx,
    op: &str,
    caller: Auth,
    group: Option<String>,
) -> Result<ApiRequest, Finding> {
    let group = match group {
        Some(g) => g,
        None if op.starts_with("groups_") && op != "groups_createGroup"
            || op.starts_with("members_") =>
        {
            ctx.established_id().await?
        }
        None => String::new(),
    };
    let alice = ctx.fid(ALICE);
    let bob = ctx.fid(BOB);
    let params: Vec<(&str, &str)> = vec![("groupId", &group), ("memberId", &alice), ("fid", &bob)];
    let (method, mut path) = ctx.route(op, &params)?;
    let req = ApiRequest::new(method, String::new(), caller);
    let body = match op {
        "groups_createGroup" => Some(ctx.key_package(ALICE, &KeyPackageOptions::default())?),
        "keypackages_addKeyPackages" => Some(json!([
            ctx.key_package(ALICE, &KeyPackageOptions::default())?
        ])),
        "groups_submitProposal" => Some(json!({
            "id": "0".repeat(64), "type": "Remove", "target": bob, "signature": "AAAA",
        })),
        "groups_submitCommit" => Some(json!({
            "id": "0".repeat(64), "groupId": group, "epoch": 2, "proposals": [], "signature": "AAAA",
        })),
        _ => None,
    };
    if op == "keypackages_discoverKeyPackages" {
        path = format!("{path}?{}", ctx.suite_query());
    }
    let mut req = ApiRequest { path, ..req };
    if let Some(body) = body {
        req = req.json(&body);
    }
    Ok(req)
}

pub async fn success(ctx: &mut Ctx, op: &str) -> CheckResult {
    let resp = match op {
        "groups_createGroup" => ctx.create_group(ALICE).await?.1,
        "groups_submitProposal" => {
            let mut group = new_group(ctx).await?;
            ctx.propose_add(&mut group, CAROL).await?.1
        }
        "members_getProposals" => {
            let mut group = new_group(ctx).await?;
            let proposal = pending_add(ctx, &mut group).await?;
            let req = sample(ctx, op, ctx.auth(ALICE), Some(group.id.clone())).await?;
            let resp = ctx.send(req).await?;
            ctx.conforms(op, &resp)?;
            let ids: Vec<Value> = resp
                .json()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|p| p["id"].clone())
                .collect();
            if ids != vec![proposal["id"].clone()] {
                return Err(Finding::mismatch(
                    format!("the one pending proposal {}", proposal["id"]),
                    format!("proposal ids {ids:?}"),
                ));
            }
            resp
        }
        "groups_submitCommit" => {
            let mut group = new_group(ctx).await?;
            pending_add(ctx, &mut group).await?;
            ctx.commit(&mut group).await?.1
        }
        "keypackages_addKeyPackages" => {
            let kp = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
            ctx.upload(ALICE, vec![kp]).await?
        }
        "keypackages_discoverKeyPackages" => {
            let kp = ctx.key_package(BOB, &KeyPackageOptions::default())?;
            ctx.upload_ok(BOB, vec![kp])
                .await
                .map_err(|f| f.not_reached("bob's KeyPackage upload"))?;
            let req = sample(ctx, op, ctx.auth(ALICE), None).await?;
            let resp = ctx.send(req).await?;
            ctx.conforms(op, &resp)?;
            if resp
                .json()
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0)
                == 0
            {
                return Err(Finding::mismatch(
                    "bob's freshly uploaded KeyPackage",
                    snippet(&resp.text()),
                ));
            }
            resp
        }
        "members_getMember" => member_by_listed_id(ctx).await?,
        _ => {
            let req = sample(ctx, op, ctx.auth(ALICE), None).await?;
            ctx.send(req).await?
        }
    };
    let documented = ctx
        .spec
        .operation(op)
        .map(|o| o.success_statuses())
        .unwrap_or_default();
    expect_status(&resp, &documented, "a documented success status")?;
    ctx.conforms(op, &resp)
}

/// `members_getMember` for a member the listing names. The document leaves `memberId`
/// undescribed; the one identifier it gives a member is `GroupMember.id` ("Unique identifier for
/// the member"), so the member is asked for by the `id` that `members_getMembers` lists, and the
/// answer must be that member. That the id is the FID is PROFILE.group-members
/// (`groups.member-fid-case`), not assumed here.
async fn member_by_listed_id(ctx: &mut Ctx) -> Result<ApiResponse, Finding> {
    let group = ctx.established_id().await?;
    let (method, path) = ctx.route("members_getMembers", &[("groupId", &group)])?;
    let listing = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    expect_status(&listing, &[200], "the group's member list")
        .and_then(|()| ctx.conforms("members_getMembers", &listing))
        .map_err(|f| f.not_reached("the group's member list (members_getMembers)"))?;
    let members = listing
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    // The last listed member: with a creator and one added member, not just the caller.
    let member_id = members
        .last()
        .and_then(|m| m["id"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            Finding::mismatch(
                "a member list with members and their ids",
                snippet(&listing.text()),
            )
        })?;
    let (method, path) = ctx.route(
        "members_getMember",
        &[("groupId", &group), ("memberId", &member_id)],
    )?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    if resp.status == 200 && resp.json().is_some_and(|m| m["id"] != member_id.as_str()) {
        return Err(Finding::mismatch(
            format!("the member with id {member_id:?}, as listed"),
            snippet(&resp.text()),
        ));
    }
    Ok(resp)
}

/// A group of alice's made for a check that judges another operation on it.
async fn new_group(ctx: &mut Ctx) -> Result<LiveGroup, Finding> {
    let (group, _) = ctx
        .create_group(ALICE)
        .await
        .map_err(|f| f.not_reached("creating a group for the check (groups_createGroup)"))?;
    Ok(group)
}

/// Alice's accepted proposal to add carol to `group`, made for a check that judges another
/// operation.
async fn pending_add(ctx: &mut Ctx, group: &mut LiveGroup) -> Result<Value, Finding> {
    let (proposal, resp) = ctx.propose_add(group, CAROL).await?;
    expect_status(&resp, &[204], "the proposal to be accepted")
        .map_err(|f| f.not_reached("alice's Add proposal (groups_submitProposal)"))?;
    Ok(proposal)
}

pub async fn missing_token(ctx: &mut Ctx, op: &str) -> CheckResult {
    let req = sample(ctx, op, Auth::None, None).await?;
    let resp = ctx.send(req).await?;
    expect_status(&resp, &[401], "a request without a token is unauthorised")
}

pub async fn invalid_token(ctx: &mut Ctx, op: &str) -> CheckResult {
    let bogus = Auth::Literal(format!("p2mls-invalid-{}", crate::random_hex(8)));
    let req = sample(ctx, op, bogus, None).await?;
    let resp = ctx.send(req).await?;
    expect_status(&resp, &[401], "an unknown token is unauthorised")
}

fn missing_group(ctx: &mut Ctx) -> String {
    ctx.unique("p2mls-missing-group")
}

pub async fn not_found_missing(ctx: &mut Ctx, op: &str) -> CheckResult {
    let group = missing_group(ctx);
    let req = sample(ctx, op, ctx.auth(ALICE), Some(group)).await?;
    let resp = ctx.send(req).await?;
    ctx.expect_not_found(&resp, "a missing group is not found")
        .await
}

/// Carol is in no group of alice's: she must get the 404 a missing group gets, body included.
pub async fn not_found_foreign(ctx: &mut Ctx, op: &str) -> CheckResult {
    let foreign = ctx.established_id().await?;
    let req = sample(ctx, op, ctx.auth(CAROL), Some(foreign.clone())).await?;
    let seen = ctx.send(req).await?;
    ctx.expect_not_found(&seen, "another actor's group is not found")
        .await?;
    let group = missing_group(ctx);
    let req = sample(ctx, op, ctx.auth(CAROL), Some(group.clone())).await?;
    let missing = ctx.send(req).await?;
    let ids = [foreign.as_str(), group.as_str()];
    same_answer(&seen, &missing, &ids, "foreign")?;
    // PROFILE.error-body's order: visibility (404) before request syntax (400), so a malformed
    // body tells a non-member nothing either.
    if ctx
        .spec
        .operation(op)
        .is_some_and(|o| !o.request_body.is_empty())
    {
        let req = sample(ctx, op, ctx.auth(CAROL), Some(foreign.clone())).await?;
        let req = req.raw("application/json", b"{\"truncated\": ".to_vec());
        let malformed = ctx.send(req).await?;
        let ids = [foreign.as_str(), group.as_str()];
        same_answer(&malformed, &missing, &ids, "foreign with a malformed body")?;
    }
    Ok(())
}

/// `seen` must be indistinguishable from the 404 `missing` got (the document's "indistinguishable"
/// rule, not byte equality): the same status and media type, and the same body once the group ids
/// the caller named are taken out, or, for JSON objects, the same members and the same `error`
/// code (a message may word things differently without telling anything).
fn same_answer(
    seen: &ApiResponse,
    missing: &ApiResponse,
    group_ids: &[&str],
    what: &str,
) -> CheckResult {
    let without_ids = |r: &ApiResponse| {
        group_ids
            .iter()
            .fold(r.text(), |text, id| text.replace(id, "{groupId}"))
    };
    let shape = |r: &ApiResponse| {
        r.json().and_then(|v| {
            let object = v.as_object()?;
            let members: Vec<String> = object.keys().cloned().collect();
            Some((members, object.get("error").cloned()))
        })
    };
    let same_media = media_type_essence(seen.content_type.as_deref())
        == media_type_essence(missing.content_type.as_deref());
    let same_body = without_ids(seen) == without_ids(missing)
        || shape(seen).is_some_and(|s| Some(s) == shape(missing));
    if missing.status != seen.status || !same_media || !same_body {
        return Err(Finding::mismatch(
            "an answer indistinguishable from a missing group's (status, media type, body shape and error code)",
            format!(
                "{what}: {} {}; missing: {} {}",
                seen.status,
                snippet(&seen.text()),
                missing.status,
                snippet(&missing.text())
            ),
        ));
    }
    Ok(())
}

/// Sends `content` as the body of `op`: a 400 with the error body of PROFILE.error-body, or for
/// KeyPackage upload the documented array with the one entry `{id: entry, reason}`.
async fn bad_body(ctx: &mut Ctx, op: &str, content: &str, entry: &str) -> CheckResult {
    let req = sample(ctx, op, ctx.auth(ALICE), None).await?;
    let req = req.raw("application/json", content.as_bytes().to_vec());
    let resp = ctx.send(req).await?;
    expect_status(&resp, &[400], "a malformed body is the client's error")?;
    if op == UPLOAD {
        return batch_entry(ctx, &resp, entry);
    }
    if is_error_body(&resp) {
        Ok(())
    } else {
        Err(Finding::mismatch(
            "an error body {error, message} (PROFILE.error-body)",
            snippet(&resp.text()),
        ))
    }
}

const UPLOAD: &str = "keypackages_addKeyPackages";

/// PROFILE.keypackage-batch-atomic: every 400 of an upload is the document's `[{id, reason}]`,
/// one entry per faulty item (`#<index>` for an item without an id, `#body` for a body that is
/// not an array at all).
fn batch_entry(ctx: &mut Ctx, resp: &ApiResponse, id: &str) -> CheckResult {
    ctx.conforms(UPLOAD, resp)?;
    let entries = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let named = entries.len() == 1
        && entries[0]["id"] == id
        && entries[0]["reason"]
            .as_str()
            .is_some_and(|r| !r.trim().is_empty());
    if named {
        Ok(())
    } else {
        Err(Finding::mismatch(
            format!("[{{\"id\": \"{id}\", \"reason\": …}}] (PROFILE.keypackage-batch-atomic)"),
            snippet(&resp.text()),
        ))
    }
}

pub async fn invalid_json(ctx: &mut Ctx, op: &str) -> CheckResult {
    bad_body(ctx, op, "{\"truncated\": ", "#body").await
}

pub async fn schema_invalid(ctx: &mut Ctx, op: &str) -> CheckResult {
    // Right JSON syntax, wrong shape: a number where an object is required.
    if op == UPLOAD {
        // An item that is no KeyPackage, then a body that is not an array at all.
        bad_body(ctx, op, "[42]", "#0").await?;
        return bad_body(ctx, op, "{\"id\": 42}", "#body").await;
    }
    bad_body(ctx, op, "{\"id\": 42}", "#body").await
}

/// PROFILE.body-limit: a JSON body over 4 MiB from a caller who may use the route gets 413 with
/// the error body, not 400 and never 5xx.
pub async fn oversized(ctx: &mut Ctx, op: &str) -> CheckResult {
    let req = sample(ctx, op, ctx.auth(ALICE), None).await?;
    let mut body = b"{\"pad\": \"".to_vec();
    body.resize(5 * 1024 * 1024, b'x');
    body.extend(b"\"}");
    let resp = ctx.send(req.raw("application/json", body)).await?;
    super::context::expect_error(&resp, 413, "a body over 4 MiB to be refused as too large")
}
