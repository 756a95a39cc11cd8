//! Both required cipher suites end to end: real MLS clients run a group through the target in
//! 0x0001 and in 0xF110 (X-Wing on the wire as 0x004F), with bob on openmls_libcrux_crypto and the
//! others on openmls_rust_crypto, so two independent implementations must agree.
//!
//! Steps are numbered and run in order; a later step selected alone runs the group-join step
//! first, and reports an error (not a failure) when that prerequisite failed.

use std::collections::BTreeSet;
use std::sync::Arc;

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use p2mls_protocol::gateway::{mls_op, NS_MLS};
use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::routes::MLS_BASE;
use reqwest::Method;
use serde_json::{json, Value};

use super::context::{
    commit_json, decode_b64, decode_welcome, expect_status, proposal_json, snippet, Ctx, LiveGroup,
    ALICE, BOB, CAROL,
};
use crate::check::{CheckResult, Finding};
use crate::clients::http::ApiRequest;
use crate::clients::mls::{KeyPackageOptions, MlsClient};
use crate::clients::provider::Backend;

/// Crypto back end of alice, bob and carol in suite runs.
pub const BACKENDS: [Backend; 3] = [Backend::RustCrypto, Backend::Libcrux, Backend::RustCrypto];

/// State of one suite's run.
pub struct SuiteRun {
    pub polyproto_id: u16,
    pub suite: Ciphersuite,
    pub clients: Vec<Arc<MlsClient>>,
    /// Each actor's view of the group (None before joining or after removal).
    pub groups: Vec<Option<LiveGroup>>,
    /// Outcome of the group-join step.
    pub joined: Option<Result<(), String>>,
    /// Highest relayed message seq each actor has read.
    pub read: Vec<i64>,
}

impl SuiteRun {
    fn new(ctx: &Ctx, polyproto_id: u16) -> Result<Self, Finding> {
        let wire = ctx
            .registry
            .by_polyproto_id(polyproto_id)
            .map(|s| s.wire)
            .ok_or_else(|| {
                Finding::harness(format!("suite {polyproto_id:#06x} is not in the registry"))
            })?;
        let suite = Ciphersuite::try_from(wire).map_err(|_| {
            Finding::Unsupported(format!(
                "openmls has no cipher suite with wire code point {wire:#06x}"
            ))
        })?;
        let mut clients = Vec::new();
        for (actor, backend) in ctx.actors.iter().zip(BACKENDS) {
            let client = MlsClient::with_backend(
                actor.mls.key.0.clone(),
                actor.mls.cert_der.clone(),
                backend,
            )
            .map_err(|e| Finding::Unsupported(format!("{} cannot start: {e:?}", backend.name())))?;
            if client.provider.crypto().supports(suite).is_err() {
                return Err(Finding::Unsupported(format!(
                    "{} does not offer {suite:?}",
                    backend.name()
                )));
            }
            clients.push(Arc::new(client));
        }
        Ok(Self {
            polyproto_id,
            suite,
            clients,
            groups: vec![None, None, None],
            joined: None,
            read: vec![-1; 3],
        })
    }

    fn query(&self) -> String {
        format!("ciphersuites={}", format_code_point(self.polyproto_id))
    }
}

/// Takes the suite's run out of the context (creating it), so that steps can borrow both.
fn take_run(ctx: &mut Ctx, id: u16) -> Result<SuiteRun, Finding> {
    match ctx.suite_runs.remove(&id) {
        Some(run) => Ok(run),
        None => SuiteRun::new(ctx, id),
    }
}

/// Runs `step` with the suite's run, putting it back afterwards.
macro_rules! with_run {
    ($ctx:ident, $id:expr, |$run:ident| $body:expr) => {{
        let mut $run = take_run($ctx, $id)?;
        let result = $body;
        $ctx.suite_runs.insert($id, $run);
        result
    }};
}

fn fid_of(member: &Member) -> Option<String> {
    let chain = crate::clients::mls::x509_chain_of(member.credential.serialized_content())?;
    let cert = crate::matchers::idcert::parse(chain.first()?).ok()?;
    crate::matchers::idcert::claims(cert.subject()).ok()?.uid
}

fn parse_message(bytes: &[u8]) -> Result<ProtocolMessage, Finding> {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|e| Finding::mismatch("an MLSMessage", e.to_string()))?
        .try_into_protocol_message()
        .map_err(|e| Finding::mismatch("a protocol message", format!("{e:?}")))
}

/// Processes a proposal or commit message in `group`; returns true when a commit was merged.
fn apply(group: &mut LiveGroup, bytes: &[u8], who: &str) -> Result<bool, Finding> {
    let processed = group
        .mls
        .process_message(&group.client.provider, parse_message(bytes)?)
        .map_err(|e| {
            Finding::mismatch(
                format!("{who} processes the relayed message"),
                format!("{e:?}"),
            )
        })?;
    match processed.into_content() {
        ProcessedMessageContent::ProposalMessage(p) => {
            group
                .mls
                .store_pending_proposal(group.client.provider.storage(), *p)
                .map_err(Finding::harness)?;
            Ok(false)
        }
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            group
                .mls
                .merge_staged_commit(&group.client.provider, *staged)
                .map_err(|e| {
                    Finding::mismatch(format!("{who} merges the commit"), format!("{e:?}"))
                })?;
            Ok(true)
        }
        _ => Err(Finding::mismatch(
            "a proposal or commit",
            format!("another message for {who}"),
        )),
    }
}

// ---- step 1: KeyPackages ----------------------------------------------------------------

pub async fn keypackages(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| keypackages_step(ctx, &mut run).await)
}

async fn keypackages_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    let query = run.query();
    for actor in [ALICE, BOB, CAROL] {
        ctx.drain_query(actor, &query).await?;
        let client = &run.clients[actor];
        let one_time = client
            .key_package(run.suite, &KeyPackageOptions::default())
            .map_err(Finding::harness)?;
        let resort = client
            .key_package(
                run.suite,
                &KeyPackageOptions {
                    last_resort: true,
                    ..Default::default()
                },
            )
            .map_err(Finding::harness)?;
        let one_time = crate::clients::mls::key_package_json(&one_time, &ctx.registry)
            .map_err(Finding::harness)?;
        let resort = crate::clients::mls::key_package_json(&resort, &ctx.registry)
            .map_err(Finding::harness)?;
        ctx.upload_ok(actor, vec![one_time.clone(), resort.clone()])
            .await?;
        for expected in [&one_time, &resort] {
            let by = (actor + 1) % 3;
            let list = ctx.discover_list(by, actor, &query).await?;
            let got = list.first().cloned().unwrap_or(Value::Null);
            if list.len() != 1 || got["mlsMessage"] != expected["mlsMessage"] {
                return Err(Finding::mismatch(
                    format!(
                        "the uploaded package {} with its exact wire bytes",
                        expected["id"]
                    ),
                    format!("{} package(s), first {}", list.len(), got["id"]),
                ));
            }
            let suites = &got["capabilities"]["ciphersuites"];
            if !suites.as_array().is_some_and(|s| {
                s.iter()
                    .any(|v| v == &json!(format_code_point(run.polyproto_id)))
            }) {
                return Err(Finding::mismatch(
                    format!(
                        "capabilities naming {}",
                        format_code_point(run.polyproto_id)
                    ),
                    suites.to_string(),
                ));
            }
        }
        // Asking for the other suite must not hand out a package of this one.
        let other = ctx
            .registry
            .other_than(run.polyproto_id)
            .map_or(0x0001, |s| s.polyproto_id);
        let list = ctx
            .discover_list(
                ALICE,
                actor,
                &format!("ciphersuites={}", format_code_point(other)),
            )
            .await?;
        if let Some(kp) = list
            .iter()
            .find(|kp| super::keypackages::suite_of(ctx, kp) != Some(other))
        {
            return Err(Finding::mismatch(
                format!(
                    "only {} packages for ciphersuites={}",
                    format_code_point(other),
                    format_code_point(other)
                ),
                format!("package {} of another suite", kp["id"]),
            ));
        }
    }
    Ok(())
}

// ---- step 2: group and Welcomes -----------------------------------------------------------

pub async fn group_join(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| {
        let result = group_join_step(ctx, &mut run).await;
        run.joined = Some(result.as_ref().map(|_| ()).map_err(|e| format!("{e:?}")));
        result
    })
}

/// Runs the join step unless it ran; a failed earlier run makes dependants report an error.
async fn ensure_joined(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    match &run.joined {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(Finding::harness(format!(
            "prerequisite step 2-group-join failed: {e}"
        ))),
        None => {
            let result = group_join_step(ctx, run).await;
            run.joined = Some(result.as_ref().map(|_| ()).map_err(|e| format!("{e:?}")));
            result.map_err(|e| {
                Finding::harness(format!("prerequisite step 2-group-join failed: {e:?}"))
            })
        }
    }
}

async fn group_join_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    let query = run.query();
    for actor in [BOB, CAROL] {
        ctx.drain_query(actor, &query).await?;
    }
    // Bob listens on the gateway for his Welcome.
    let mut bob_socket = ctx.identified(BOB).await?;
    bob_socket
        .service("subscribe", NS_MLS)
        .await
        .map_err(Finding::harness)?;
    let timeout = ctx.event_timeout();
    bob_socket
        .expect(timeout, "the service channel ACK", |e| {
            e["n"] == "core" && e["op"] == 9
        })
        .await
        .map_err(|e| Finding::mismatch("bob's subscription", e))?;

    let (mut group, _) = ctx
        .create_group_with(ALICE, run.clients[ALICE].clone(), run.suite)
        .await?;
    for actor in [BOB, CAROL] {
        let client = run.clients[actor].clone();
        let (_, resp) = ctx.propose_add_with(&mut group, actor, &client).await?;
        expect_status(&resp, &[204], "the Add proposal to be accepted")?;
    }
    let (_, resp) = ctx.commit(&mut group).await?;
    expect_status(
        &resp,
        &[200],
        "the commit adding bob and carol to answer its Welcome",
    )?;
    let group_id = group.id.clone();

    // The Welcome over HTTP for both, and over the gateway for bob, byte for byte the same.
    let event = bob_socket
        .expect(timeout, "the Welcome event (mls op 2)", |e| {
            e["n"] == NS_MLS && e["op"] == mls_op::WELCOME && e["d"]["groupId"] == group_id.as_str()
        })
        .await
        .map_err(|e| Finding::mismatch("bob's Welcome over the gateway", e))?;
    bob_socket.close().await;
    for actor in [BOB, CAROL] {
        let welcome = fetch_welcome(ctx, actor, &group_id).await?;
        if actor == BOB && event["d"]["welcome"]["mlsMessage"] != welcome["mlsMessage"] {
            return Err(Finding::mismatch(
                "the same Welcome over HTTP and over the gateway",
                "two different Welcome messages",
            ));
        }
        let welcome = decode_welcome(&welcome)?;
        let client = run.clients[actor].clone();
        let config = MlsGroupJoinConfig::builder()
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(true)
            .build();
        let mls = StagedWelcome::new_from_welcome(&client.provider, &config, welcome, None)
            .and_then(|staged| staged.into_group(&client.provider))
            .map_err(|e| {
                Finding::mismatch(
                    format!("{} joins from the Welcome", ctx.actors[actor].label),
                    format!("{e:?}"),
                )
            })?;
        run.groups[actor] = Some(LiveGroup {
            id: group_id.clone(),
            owner: actor,
            client,
            suite: run.suite,
            mls,
            pending: Vec::new(),
        });
    }
    run.groups[ALICE] = Some(group);
    agree(ctx, run, &[ALICE, BOB, CAROL]).await
}

/// The caller's Welcome for `group_id` from the profile route.
async fn fetch_welcome(ctx: &mut Ctx, actor: usize, group_id: &str) -> Result<Value, Finding> {
    let req = ApiRequest::new(Method::GET, format!("{MLS_BASE}/welcomes"), ctx.auth(actor));
    let resp = ctx.send(req).await?;
    if resp.status == 404 || resp.status == 405 {
        return Err(Finding::Unsupported(
            "the target has no Welcome delivery route (PROFILE.welcome-delivery)".into(),
        ));
    }
    expect_status(&resp, &[200], "the Welcome list")?;
    resp.json()
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .find(|w| w["groupId"] == group_id)
        .map(|w| w["welcome"].clone())
        .ok_or_else(|| {
            Finding::mismatch(
                format!("a Welcome for group {group_id}"),
                snippet(&resp.text()),
            )
        })
}

/// All listed members agree on the epoch authenticator and on the member list the target shows.
async fn agree(ctx: &mut Ctx, run: &SuiteRun, members: &[usize]) -> CheckResult {
    let views: Vec<&LiveGroup> = members
        .iter()
        .filter_map(|m| run.groups[*m].as_ref())
        .collect();
    let first = views
        .first()
        .ok_or_else(|| Finding::harness("no member holds the group"))?;
    let authenticator = first.mls.epoch_authenticator().as_slice().to_vec();
    for view in &views {
        if view.mls.epoch_authenticator().as_slice() != authenticator.as_slice()
            || view.mls.epoch() != first.mls.epoch()
        {
            return Err(Finding::mismatch(
                "every member at the same epoch with the same epoch authenticator",
                format!(
                    "{} at epoch {} disagrees",
                    ctx.actors[view.owner].label,
                    view.mls.epoch().as_u64()
                ),
            ));
        }
    }
    let expected: BTreeSet<String> = members.iter().map(|m| ctx.fid(*m)).collect();
    for view in &views {
        let seen: BTreeSet<String> = view.mls.members().filter_map(|m| fid_of(&m)).collect();
        if seen != expected {
            return Err(Finding::mismatch(
                format!("MLS members {expected:?}"),
                format!("{} sees {seen:?}", ctx.actors[view.owner].label),
            ));
        }
    }
    let (method, path) = ctx.route("members_getMembers", &[("groupId", &first.id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(first.owner)))
        .await?;
    expect_status(&resp, &[200], "the member list")?;
    let listed: BTreeSet<String> = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    if listed != expected {
        return Err(Finding::mismatch(
            format!("the target to list {expected:?}"),
            format!("{listed:?}"),
        ));
    }
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &first.id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(first.owner)))
        .await?;
    let epoch = resp
        .json()
        .map(|g| g["epoch"].clone())
        .unwrap_or(Value::Null);
    if epoch != first.mls.epoch().as_u64() {
        return Err(Finding::mismatch(
            format!("the target at epoch {}", first.mls.epoch().as_u64()),
            format!("epoch {epoch}"),
        ));
    }
    Ok(())
}

// ---- step 3: application messages --------------------------------------------------------

pub async fn application_messages(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| {
        match ensure_joined(ctx, &mut run).await {
            Ok(()) => messages_step(ctx, &mut run).await,
            Err(e) => Err(e),
        }
    })
}

async fn send_message(ctx: &mut Ctx, run: &mut SuiteRun, actor: usize, text: &str) -> CheckResult {
    let group = run.groups[actor]
        .as_mut()
        .ok_or_else(|| Finding::harness("sender not in the group"))?;
    let message = group
        .mls
        .create_message(&group.client.provider, &group.client.key, text.as_bytes())
        .map_err(Finding::harness)?;
    let bytes = message.tls_serialize_detached().map_err(Finding::harness)?;
    let path = format!("{MLS_BASE}/groups/{}/messages", group.id);
    let body = json!({ "mlsMessage": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes) });
    let resp = ctx
        .send(ApiRequest::new(Method::POST, path, ctx.auth(actor)).json(&body))
        .await?;
    if resp.status == 404 || resp.status == 405 {
        return Err(Finding::Unsupported(
            "the target has no message relay route (PROFILE.message-relay)".into(),
        ));
    }
    expect_status(&resp, &[204], "the application message to be relayed")
}

/// Relayed messages after what `actor` read, in relay order: (sender fid, bytes).
async fn fetch_messages(
    ctx: &mut Ctx,
    run: &mut SuiteRun,
    actor: usize,
) -> Result<Vec<(String, Vec<u8>)>, Finding> {
    let group_id = run.groups[actor]
        .as_ref()
        .map(|g| g.id.clone())
        .ok_or_else(|| Finding::harness("not in the group"))?;
    let path = format!(
        "{MLS_BASE}/groups/{group_id}/messages?since={}",
        run.read[actor]
    );
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, ctx.auth(actor)))
        .await?;
    expect_status(&resp, &[200], "the relayed messages")?;
    let mut out = Vec::new();
    for m in resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    {
        run.read[actor] = run.read[actor].max(m["seq"].as_i64().unwrap_or(-1));
        out.push((
            m["sender"].as_str().unwrap_or("").to_owned(),
            decode_b64(&m["mlsMessage"])?,
        ));
    }
    Ok(out)
}

fn decrypt(group: &mut LiveGroup, bytes: &[u8], who: &str) -> Result<Vec<u8>, Finding> {
    let processed = group
        .mls
        .process_message(&group.client.provider, parse_message(bytes)?)
        .map_err(|e| {
            Finding::mismatch(
                format!("{who} decrypts the relayed message"),
                format!("{e:?}"),
            )
        })?;
    match processed.into_content() {
        ProcessedMessageContent::ApplicationMessage(m) => Ok(m.into_bytes()),
        _ => Err(Finding::mismatch(
            "an application message",
            format!("another content for {who}"),
        )),
    }
}

async fn messages_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    let from_alice = ["m1 from alice", "m2 from alice", "m3 from alice"];
    for text in from_alice {
        send_message(ctx, run, ALICE, text).await?;
    }
    send_message(ctx, run, BOB, "b1 from bob").await?;
    let alice = ctx.fid(ALICE);
    let bob = ctx.fid(BOB);
    // Bob reads in relay order.
    let got = fetch_messages(ctx, run, BOB).await?;
    let mut texts = Vec::new();
    for (sender, bytes) in got.iter().filter(|(s, _)| *s == alice) {
        let group = run.groups[BOB]
            .as_mut()
            .ok_or_else(|| Finding::harness("bob left"))?;
        let plain = decrypt(group, bytes, "bob")?;
        texts.push(String::from_utf8_lossy(&plain).into_owned());
        let _ = sender;
    }
    if texts != from_alice {
        return Err(Finding::mismatch(
            format!("{from_alice:?} in order"),
            format!("{texts:?}"),
        ));
    }
    // Carol reads out of order within the epoch: newest first.
    let got = fetch_messages(ctx, run, CAROL).await?;
    let mut texts = BTreeSet::new();
    for (_, bytes) in got.iter().rev() {
        let group = run.groups[CAROL]
            .as_mut()
            .ok_or_else(|| Finding::harness("carol left"))?;
        texts.insert(String::from_utf8_lossy(&decrypt(group, bytes, "carol")?).into_owned());
    }
    let expected: BTreeSet<String> = from_alice
        .iter()
        .chain(["b1 from bob"].iter())
        .map(|s| (*s).to_owned())
        .collect();
    if texts != expected {
        return Err(Finding::mismatch(
            format!("{expected:?} (read out of order)"),
            format!("{texts:?}"),
        ));
    }
    // Alice reads bob's.
    let got = fetch_messages(ctx, run, ALICE).await?;
    let from_bob: Vec<&Vec<u8>> = got
        .iter()
        .filter(|(s, _)| *s == bob)
        .map(|(_, b)| b)
        .collect();
    let [only] = from_bob.as_slice() else {
        return Err(Finding::mismatch(
            "bob's one message for alice",
            format!("{} messages", from_bob.len()),
        ));
    };
    let group = run.groups[ALICE]
        .as_mut()
        .ok_or_else(|| Finding::harness("alice left"))?;
    let plain = decrypt(group, only, "alice")?;
    if plain != b"b1 from bob" {
        return Err(Finding::mismatch(
            "b1 from bob",
            String::from_utf8_lossy(&plain).into_owned(),
        ));
    }
    Ok(())
}

// ---- step 4: a stale commit ---------------------------------------------------------------

pub async fn stale_commit(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| {
        match ensure_joined(ctx, &mut run).await {
            Ok(()) => stale_step(ctx, &mut run).await,
            Err(e) => Err(e),
        }
    })
}

/// Commits created by other members since `actor`'s epoch, from the profile route.
async fn catch_up(ctx: &mut Ctx, run: &mut SuiteRun, actor: usize) -> CheckResult {
    let group = run.groups[actor]
        .as_ref()
        .ok_or_else(|| Finding::harness("not in the group"))?;
    let (id, epoch) = (group.id.clone(), group.mls.epoch().as_u64());
    let path = format!("{MLS_BASE}/groups/{id}/commits?since={epoch}");
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, ctx.auth(actor)))
        .await?;
    if resp.status == 405 {
        return Err(Finding::Unsupported(
            "the target has no commit history route (PROFILE.commit-history)".into(),
        ));
    }
    expect_status(&resp, &[200], "the commits since the member's epoch")?;
    let label = ctx.actors[actor].label.clone();
    for commit in resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    {
        let bytes = decode_b64(&commit["mlsMessage"])?;
        let group = run.groups[actor]
            .as_mut()
            .ok_or_else(|| Finding::harness("not in the group"))?;
        apply(group, &bytes, &label)?;
    }
    Ok(())
}

async fn stale_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    // Alice stages an update; bob's update lands first; alice's is then for a past epoch.
    let alice_commit = {
        let group = run.groups[ALICE]
            .as_mut()
            .ok_or_else(|| Finding::harness("alice left"))?;
        let bundle = group
            .mls
            .self_update(
                &group.client.provider,
                &group.client.key,
                LeafNodeParameters::default(),
            )
            .map_err(Finding::harness)?;
        let (commit, _, _) = bundle.into_contents();
        commit_json(&group.id, group.mls.epoch().as_u64(), &[], &commit, None)?
    };
    let bob_group = run.groups[BOB]
        .as_mut()
        .ok_or_else(|| Finding::harness("bob left"))?;
    let bundle = bob_group
        .mls
        .self_update(
            &bob_group.client.provider,
            &bob_group.client.key,
            LeafNodeParameters::default(),
        )
        .map_err(Finding::harness)?;
    let (commit, _, _) = bundle.into_contents();
    let (_, resp) = ctx.submit_commit(bob_group, commit, None).await?;
    expect_status(&resp, &[200, 204], "bob's update commit to be accepted")?;
    let group_id = run.groups[ALICE]
        .as_ref()
        .map(|g| g.id.clone())
        .unwrap_or_default();
    let (method, path) = ctx.route("groups_submitCommit", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)).json(&alice_commit))
        .await?;
    expect_status(&resp, &[409], "a commit for a past epoch to be refused")?;
    if let Some(group) = run.groups[ALICE].as_mut() {
        group
            .mls
            .clear_pending_commit(group.client.provider.storage())
            .map_err(Finding::harness)?;
    }
    catch_up(ctx, run, ALICE).await?;
    catch_up(ctx, run, CAROL).await?;
    agree(ctx, run, &[ALICE, BOB, CAROL]).await
}

// ---- step 5: update and remove ------------------------------------------------------------

pub async fn update_remove(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| {
        match ensure_joined(ctx, &mut run).await {
            Ok(()) => update_remove_step(ctx, &mut run).await,
            Err(e) => Err(e),
        }
    })
}

async fn update_remove_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    // Members who missed commits of earlier steps catch up first (steps may run alone).
    for actor in [ALICE, BOB, CAROL] {
        catch_up(ctx, run, actor).await?;
    }
    let carol_group = run.groups[CAROL]
        .as_mut()
        .ok_or_else(|| Finding::harness("carol left"))?;
    let bundle = carol_group
        .mls
        .self_update(
            &carol_group.client.provider,
            &carol_group.client.key,
            LeafNodeParameters::default(),
        )
        .map_err(Finding::harness)?;
    let (commit, _, _) = bundle.into_contents();
    let (_, resp) = ctx.submit_commit(carol_group, commit, None).await?;
    expect_status(&resp, &[200, 204], "carol's update commit to be accepted")?;
    // Alice follows and updates too; bob, away meanwhile, catches up on both commits in order.
    catch_up(ctx, run, ALICE).await?;
    let alice_group = run.groups[ALICE]
        .as_mut()
        .ok_or_else(|| Finding::harness("alice left"))?;
    let bundle = alice_group
        .mls
        .self_update(
            &alice_group.client.provider,
            &alice_group.client.key,
            LeafNodeParameters::default(),
        )
        .map_err(Finding::harness)?;
    let (commit, _, _) = bundle.into_contents();
    let (_, resp) = ctx.submit_commit(alice_group, commit, None).await?;
    expect_status(&resp, &[200, 204], "alice's update commit to be accepted")?;
    catch_up(ctx, run, BOB).await?;
    catch_up(ctx, run, CAROL).await?;
    agree(ctx, run, &[ALICE, BOB, CAROL]).await?;

    // Alice proposes to remove carol and commits; bob follows through the target.
    let carol_fid = ctx.fid(CAROL);
    let alice_group = run.groups[ALICE]
        .as_mut()
        .ok_or_else(|| Finding::harness("alice left"))?;
    let carol_leaf = alice_group
        .mls
        .members()
        .find(|m| fid_of(m).as_deref() == Some(carol_fid.as_str()))
        .map(|m| m.index)
        .ok_or_else(|| Finding::harness("carol is not in alice's view"))?;
    let (message, _) = alice_group
        .mls
        .propose_remove_member(
            &alice_group.client.provider,
            &alice_group.client.key,
            carol_leaf,
        )
        .map_err(Finding::harness)?;
    let mut proposal = proposal_json(&message, "Remove")?;
    proposal["target"] = json!(carol_fid);
    let resp = ctx.submit_proposal(alice_group, &proposal).await?;
    expect_status(&resp, &[204], "the Remove proposal to be accepted")?;
    // Bob learns the proposal from the target's pending list.
    let group_id = alice_group.id.clone();
    let (method, path) = ctx.route("members_getProposals", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(BOB)))
        .await?;
    expect_status(&resp, &[200], "the pending proposals")?;
    for p in resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    {
        let bytes = decode_b64(&p["mlsMessage"])?;
        let group = run.groups[BOB]
            .as_mut()
            .ok_or_else(|| Finding::harness("bob left"))?;
        apply(group, &bytes, "bob")?;
    }
    let alice_group = run.groups[ALICE]
        .as_mut()
        .ok_or_else(|| Finding::harness("alice left"))?;
    let (_, resp) = ctx.commit(alice_group).await?;
    expect_status(
        &resp,
        &[200, 204],
        "the commit removing carol to be accepted",
    )?;
    catch_up(ctx, run, BOB).await?;
    run.groups[CAROL] = None;
    agree(ctx, run, &[ALICE, BOB]).await?;
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(CAROL)))
        .await?;
    expect_status(
        &resp,
        &[404],
        "the removed member to lose sight of the group",
    )
}

// ---- step 6: a KeyPackage of the other suite ----------------------------------------------

pub async fn other_suite_refused(ctx: &mut Ctx, id: u16) -> CheckResult {
    with_run!(ctx, id, |run| {
        match ensure_joined(ctx, &mut run).await {
            Ok(()) => other_suite_step(ctx, &mut run).await,
            Err(e) => Err(e),
        }
    })
}

async fn other_suite_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    catch_up(ctx, run, ALICE).await?;
    let other_id = ctx
        .registry
        .other_than(run.polyproto_id)
        .map(|s| s.polyproto_id)
        .ok_or_else(|| Finding::harness("the registry has one suite"))?;
    let other_wire = ctx
        .registry
        .by_polyproto_id(other_id)
        .map(|s| s.wire)
        .unwrap_or(0x0001);
    let other_suite = Ciphersuite::try_from(other_wire)
        .map_err(|_| Finding::Unsupported(format!("openmls lacks wire suite {other_wire:#06x}")))?;
    // A sound Add of a package of this suite, with the package's bytes swapped for one of the
    // other suite: only the DS's suite check stands between it and the group.
    let carol = &run.clients[CAROL];
    let same = carol
        .key_package(run.suite, &KeyPackageOptions::default())
        .map_err(Finding::harness)?;
    let foreign = ctx.actors[CAROL]
        .mls
        .key_package(other_suite, &KeyPackageOptions::default())
        .map_err(Finding::harness)?;
    let kp = crate::clients::mls::decode_key_package(&same).map_err(Finding::harness)?;
    let crypto = openmls_rust_crypto::RustCrypto::default();
    let kp = kp
        .validate(&crypto, ProtocolVersion::Mls10)
        .map_err(Finding::harness)?;
    let group = run.groups[ALICE]
        .as_mut()
        .ok_or_else(|| Finding::harness("alice left"))?;
    let (message, _) = group
        .mls
        .propose_add_member(&group.client.provider, &group.client.key, &kp)
        .map_err(Finding::harness)?;
    group
        .mls
        .clear_pending_proposals(group.client.provider.storage())
        .map_err(Finding::harness)?;
    let bytes = message.tls_serialize_detached().map_err(Finding::harness)?;
    let (same_body, foreign_body) = (&same[4..], &foreign[4..]);
    let at = bytes
        .windows(same_body.len())
        .position(|w| w == same_body)
        .ok_or_else(|| Finding::harness("the KeyPackage is not inside the proposal"))?;
    let mut spliced = bytes[..at].to_vec();
    spliced.extend_from_slice(foreign_body);
    spliced.extend_from_slice(&bytes[at + same_body.len()..]);
    let (rest, _) = p2mls_protocol::wire::split_trailing_opaque(&spliced, 32)
        .ok_or_else(|| Finding::harness("no tag"))?;
    let (_, signature) = p2mls_protocol::wire::split_trailing_opaque(rest, 64)
        .ok_or_else(|| Finding::harness("no signature"))?;
    use base64::Engine as _;
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let proposal = json!({
        "id": hex::encode(sha2::Sha256::digest(&spliced)),
        "type": "Add",
        "keyPackage": crate::clients::mls::key_package_json(&foreign, &ctx.registry).map_err(Finding::harness)?,
        "signature": b64.encode(signature),
        "mlsMessage": b64.encode(&spliced),
    });
    let group_id = group.id.clone();
    let (method, path) = ctx.route("groups_submitProposal", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)).json(&proposal))
        .await?;
    expect_status(
        &resp,
        &[400],
        "an Add of another suite's KeyPackage to be refused",
    )?;
    let (method, path) = ctx.route("members_getProposals", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)))
        .await?;
    if resp.json() != Some(json!([])) {
        return Err(Finding::mismatch(
            "no pending proposal after the refusal",
            snippet(&resp.text()),
        ));
    }
    Ok(())
}
