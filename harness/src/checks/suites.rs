//! Both required cipher suites end to end: real MLS clients of two implementations run a group
//! through the target in 0x0001 and in 0xF110 (X-Wing on the wire as 0x004F). alice is openmls on
//! openmls_rust_crypto, bob openmls on openmls_libcrux_crypto, carol mls-rs on
//! mls-rs-crypto-rustcrypto wherever that provider has the suite (else openmls_rust_crypto, and the
//! report header says why). alice's Welcome brings carol in, carol's Welcome brings bob in, so
//! Welcomes, commits and application messages cross implementations in both directions.
//!
//! Steps are numbered and run in order; a later step selected alone runs the group-join step
//! first, and reports "not reached" with the cause when that prerequisite failed (`ensure_joined`).
//! The relay routes are the profile's (`RelayRoute`): a target without one is `unsupported` for
//! the MUST steps and fails the PROFILE steps.

use std::collections::BTreeSet;
use std::sync::Arc;

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use p2mls_protocol::gateway::{mls_op, NS_MLS};
use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::routes;
use p2mls_protocol::suites::SuiteRegistry;
use reqwest::Method;
use serde_json::{json, Value};

use super::context::{
    commit_json, commit_json_bytes, decode_welcome, expect_status, mls_message, proposal_json,
    proposal_json_bytes, snippet, Ctx, LiveGroup, MlsObject, ALICE, BOB, CAROL,
};
use super::unit::{CheckDef, Fixture, Resource};
use crate::check::{CheckResult, Finding, Level};
use crate::clients::http::{ApiRequest, ApiResponse};
use crate::clients::mls::{KeyPackageOptions, MlsClient};
use crate::clients::mlsrs::{self, RsClient, RsConfig};
use crate::clients::provider::Backend;
use crate::spec::ApiSpec;

/// A step of every suite's end-to-end run: its id and title after the suite, level,
/// requirements besides the suite's own, and the function.
type Step = (
    &'static str,
    &'static str,
    Level,
    &'static [&'static str],
    for<'a> fn(&'a mut Ctx, u16) -> super::unit::CheckFuture<'a>,
);

/// The steps of a suite run, in order.
const STEPS: [Step; 6] = [
    ("1-keypackages", "KeyPackages of the suite (one-time and last resort) are stored and discovered by suite with their exact bytes", Level::Must,
     &["OAS.keypackages.discover-filter", "MLS.2.ds-keypackages", "PROFILE.suite-registry"],
     |ctx, id| Box::pin(keypackages(ctx, id))),
    ("2-group-join", "A group of three forms through the target across two MLS implementations: Welcomes both ways over HTTP and the gateway, equal epoch authenticators and member lists", Level::Must,
     &["MLS.2.ds-distribute-messages", "PROFILE.welcome-delivery", "PROFILE.gateway-mls-events", "PROFILE.group-members", "PROFILE.hybrid-interop", "PROFILE.x509-credential"],
     |ctx, id| Box::pin(group_join(ctx, id))),
    ("3-application-messages", "Application messages are relayed intact and in order, and decrypt in and out of order within an epoch", Level::Profile,
     &["PROFILE.message-relay", "MLS.2.ds-distribute-messages"],
     |ctx, id| Box::pin(application_messages(ctx, id))),
    ("4-stale-commit", "A commit for a past epoch is refused with 409 and members converge on the accepted one", Level::Profile,
     &["PROFILE.commit-epoch", "PROFILE.commit-history"],
     |ctx, id| Box::pin(stale_commit(ctx, id))),
    ("5-update-remove", "An update and a remove advance the epoch on every member; the removed member loses the group", Level::Profile,
     &["PROFILE.commit-history", "PROFILE.commit-epoch", "PROFILE.group-members", "PROFILE.proposal-summary"],
     |ctx, id| Box::pin(update_remove(ctx, id))),
    ("6-other-suite-refused", "An Add carrying a KeyPackage of the other suite is refused", Level::Profile,
     &["PROFILE.keypackage-validation", "PROFILE.suite-registry"],
     |ctx, id| Box::pin(other_suite_refused(ctx, id))),
];

/// The end-to-end steps for every suite of the registry (the suite is part of the id), listed
/// when the document has the group and KeyPackage operations the run drives.
pub fn checks(spec: &ApiSpec, registry: &SuiteRegistry) -> Vec<CheckDef> {
    if !super::context::GROUP_OPERATIONS
        .iter()
        .all(|op| spec.operation(op).is_some())
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for suite in registry.suites() {
        let polyproto_id = suite.polyproto_id;
        let id = format_code_point(polyproto_id);
        let suite_requirement = if polyproto_id == 0x0001 {
            "MLS.1.suite-default"
        } else {
            "MLS.1.suite-hybrid-pqs"
        };
        for (index, (name, title, level, reqs, judge)) in STEPS.into_iter().enumerate() {
            let mut requirements = vec![suite_requirement];
            requirements.extend(reqs);
            // Steps after the first two continue the group the earlier steps formed.
            let needs: &[Fixture] = if index < 2 {
                &[Fixture::Actors, Fixture::Gateway]
            } else {
                &[
                    Fixture::Actors,
                    Fixture::Gateway,
                    Fixture::SuiteRun(polyproto_id),
                ]
            };
            out.push(
                CheckDef::new(
                    format!("suites.{id}.{name}"),
                    level,
                    format!("[{id}] {title}"),
                )
                .requires(&requirements)
                .needs(needs)
                // The steps' own MLS clients upload and take the actors' KeyPackages: a package
                // another client made could not be joined with.
                .owns(&[
                    Resource::SuiteRun(polyproto_id),
                    Resource::KeyPackages(ALICE),
                    Resource::KeyPackages(BOB),
                    Resource::KeyPackages(CAROL),
                    Resource::Gateway(BOB),
                ])
                .judged_by(move |ctx| judge(ctx, polyproto_id)),
            );
        }
    }
    out
}

/// openmls crypto back end of alice, bob and carol in suite runs (carol's only where mls-rs
/// lacks the suite).
pub const BACKENDS: [Backend; 3] = [Backend::RustCrypto, Backend::Libcrux, Backend::RustCrypto];

/// openmls as the report header names it.
const OPENMLS: &str = "openmls 0.9.2";

/// Each member's implementation and provider per suite, for the report header.
pub fn client_lines(registry: &SuiteRegistry) -> Vec<String> {
    let mut lines = vec![
        format!("alice: {OPENMLS} ({})", BACKENDS[ALICE].name()),
        format!("bob: {OPENMLS} ({})", BACKENDS[BOB].name()),
    ];
    let hybrid = hybrid_wire(registry);
    for suite in registry.suites() {
        let id = format_code_point(suite.polyproto_id);
        lines.push(match mlsrs::supports(suite.wire, hybrid) {
            Ok(()) if Some(suite.wire) == hybrid => {
                format!("carol in {id}: {}", mlsrs::IMPLEMENTATION_XWING)
            }
            Ok(()) => format!("carol in {id}: {}", mlsrs::IMPLEMENTATION),
            Err(reason) => format!(
                "carol in {id}: {OPENMLS} ({}); mls-rs unsupported: {reason}",
                BACKENDS[CAROL].name()
            ),
        });
    }
    lines
}

/// The wire code point that carries 0xF110 in this run.
fn hybrid_wire(registry: &SuiteRegistry) -> Option<u16> {
    registry.by_polyproto_id(0xF110).map(|s| s.wire)
}

/// One member's view of the group, in whichever implementation it runs (three per suite run:
/// their size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum View {
    Openmls(LiveGroup),
    MlsRs(Box<RsView>),
}

/// An mls-rs member's group.
pub struct RsView {
    pub id: String,
    pub owner: usize,
    pub group: mls_rs::Group<RsConfig>,
    /// JSON of proposals submitted and not yet committed.
    pub pending: Vec<Value>,
}

fn rs_err(what: &str) -> impl Fn(mls_rs::error::MlsError) -> Finding + '_ {
    move |e| Finding::mismatch(what.to_owned(), format!("mls-rs: {e}"))
}

impl View {
    fn id(&self) -> &str {
        match self {
            View::Openmls(g) => &g.id,
            View::MlsRs(g) => &g.id,
        }
    }

    fn owner(&self) -> usize {
        match self {
            View::Openmls(g) => g.owner,
            View::MlsRs(g) => g.owner,
        }
    }

    fn epoch(&self) -> u64 {
        match self {
            View::Openmls(g) => g.mls.epoch().as_u64(),
            View::MlsRs(g) => g.group.current_epoch(),
        }
    }

    fn authenticator(&self) -> Result<Vec<u8>, Finding> {
        match self {
            View::Openmls(g) => Ok(g.mls.epoch_authenticator().as_slice().to_vec()),
            View::MlsRs(g) => g
                .group
                .epoch_authenticator()
                .map(|s| s.as_bytes().to_vec())
                .map_err(Finding::harness),
        }
    }

    /// The fids in the member's roster (a member without a readable ID-Cert counts as "?").
    fn fids(&self) -> BTreeSet<String> {
        match self {
            View::Openmls(g) => g
                .mls
                .members()
                .map(|m| fid_of(&m).unwrap_or_else(|| "?".into()))
                .collect(),
            View::MlsRs(g) => mlsrs::member_fids(&g.group)
                .into_iter()
                .map(|f| f.unwrap_or_else(|| "?".into()))
                .collect(),
        }
    }

    fn pending(&mut self) -> &mut Vec<Value> {
        match self {
            View::Openmls(g) => &mut g.pending,
            View::MlsRs(g) => &mut g.pending,
        }
    }

    /// The openmls group of alice and bob (always openmls).
    fn openmls(&mut self) -> Result<&mut LiveGroup, Finding> {
        match self {
            View::Openmls(g) => Ok(g),
            View::MlsRs(_) => Err(Finding::harness("this member runs mls-rs, not openmls")),
        }
    }

    /// Processes a proposal or commit message; returns true when a commit was merged.
    fn apply(&mut self, bytes: &[u8], who: &str) -> Result<bool, Finding> {
        match self {
            View::Openmls(g) => apply(g, bytes, who),
            View::MlsRs(g) => match mlsrs::process(&mut g.group, bytes) {
                Ok(mlsrs::Processed::Proposal) => Ok(false),
                Ok(mlsrs::Processed::Commit) => Ok(true),
                Ok(mlsrs::Processed::Application(_)) => Err(Finding::mismatch(
                    "a proposal or commit",
                    format!("an application message for {who}"),
                )),
                Err(e) => Err(Finding::mismatch(
                    format!("{who} (mls-rs) processes the relayed message"),
                    e,
                )),
            },
        }
    }

    fn decrypt(&mut self, bytes: &[u8], who: &str) -> Result<Vec<u8>, Finding> {
        match self {
            View::Openmls(g) => decrypt(g, bytes, who),
            View::MlsRs(g) => match mlsrs::process(&mut g.group, bytes) {
                Ok(mlsrs::Processed::Application(data)) => Ok(data),
                Ok(_) => Err(Finding::mismatch(
                    "an application message",
                    format!("another content for {who}"),
                )),
                Err(e) => Err(Finding::mismatch(
                    format!("{who} (mls-rs) decrypts the relayed message"),
                    e,
                )),
            },
        }
    }

    fn encrypt(&mut self, text: &str) -> Result<Vec<u8>, Finding> {
        match self {
            View::Openmls(g) => g
                .mls
                .create_message(&g.client.provider, &g.client.key, text.as_bytes())
                .map_err(Finding::harness)?
                .tls_serialize_detached()
                .map_err(Finding::harness),
            View::MlsRs(g) => g
                .group
                .encrypt_application_message(text.as_bytes(), Vec::new())
                .and_then(|m| m.to_bytes())
                .map_err(Finding::harness),
        }
    }

    /// An Add proposal for the KeyPackage MLSMessage `package` (validated first).
    fn propose_add(&mut self, package: &[u8]) -> Result<Vec<u8>, Finding> {
        match self {
            View::Openmls(g) => {
                let kp_in = crate::clients::mls::decode_key_package(package)
                    .map_err(|e| Finding::mismatch("a KeyPackage MLSMessage", e.to_string()))?;
                let kp =
                    crate::clients::mls::validate_key_package(kp_in, g.client.provider.crypto())
                        .map_err(|e| Finding::mismatch("a valid KeyPackage from discovery", e))?;
                let (message, _) = g
                    .mls
                    .propose_add_member(&g.client.provider, &g.client.key, &kp)
                    .map_err(Finding::harness)?;
                message.tls_serialize_detached().map_err(Finding::harness)
            }
            View::MlsRs(g) => {
                let message = mls_rs::MlsMessage::from_bytes(package).map_err(|e| {
                    Finding::mismatch("a KeyPackage MLSMessage", format!("mls-rs: {e}"))
                })?;
                g.group
                    .propose_add(message, Vec::new())
                    .and_then(|m| m.to_bytes())
                    .map_err(rs_err("mls-rs to accept the discovered KeyPackage"))
            }
        }
    }

    /// Stages a commit of the pending proposals: (commit, Welcome).
    fn stage_commit(&mut self) -> Result<(Vec<u8>, Option<Vec<u8>>), Finding> {
        match self {
            View::Openmls(g) => {
                let (commit, welcome, _) = g
                    .mls
                    .commit_to_pending_proposals(&g.client.provider, &g.client.key)
                    .map_err(Finding::harness)?;
                let welcome = match welcome {
                    Some(w) => Some(w.tls_serialize_detached().map_err(Finding::harness)?),
                    None => None,
                };
                Ok((
                    commit.tls_serialize_detached().map_err(Finding::harness)?,
                    welcome,
                ))
            }
            View::MlsRs(g) => {
                let output = g.group.commit(Vec::new()).map_err(Finding::harness)?;
                let welcome = match output.welcome_messages.first() {
                    Some(w) => Some(w.to_bytes().map_err(Finding::harness)?),
                    None => None,
                };
                Ok((
                    output.commit_message.to_bytes().map_err(Finding::harness)?,
                    welcome,
                ))
            }
        }
    }

    /// Stages a commit that updates the member's own leaf (an UpdatePath, no proposals).
    fn stage_update(&mut self) -> Result<Vec<u8>, Finding> {
        match self {
            View::Openmls(g) => {
                let bundle = g
                    .mls
                    .self_update(
                        &g.client.provider,
                        &g.client.key,
                        LeafNodeParameters::default(),
                    )
                    .map_err(Finding::harness)?;
                let (commit, _, _) = bundle.into_contents();
                commit.tls_serialize_detached().map_err(Finding::harness)
            }
            View::MlsRs(g) => g
                .group
                .commit_builder()
                .build()
                .and_then(|o| o.commit_message.to_bytes())
                .map_err(Finding::harness),
        }
    }

    /// Merges (accepted) or drops (refused) the staged commit.
    fn finish_commit(&mut self, accepted: bool) -> CheckResult {
        match (self, accepted) {
            (View::Openmls(g), true) => g
                .mls
                .merge_pending_commit(&g.client.provider)
                .map_err(Finding::harness),
            (View::Openmls(g), false) => g
                .mls
                .clear_pending_commit(g.client.provider.storage())
                .map_err(Finding::harness),
            (View::MlsRs(g), true) => g
                .group
                .apply_pending_commit()
                .map(|_| ())
                .map_err(Finding::harness),
            (View::MlsRs(g), false) => {
                g.group.clear_pending_commit();
                Ok(())
            }
        }
    }
}

/// Submits a proposal JSON as the view's owner; remembers it as pending when accepted.
async fn submit_proposal(
    ctx: &mut Ctx,
    view: &mut View,
    proposal: &Value,
) -> Result<ApiResponse, Finding> {
    let (method, path) = ctx.route("groups_submitProposal", &[("groupId", view.id())])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(view.owner())).json(proposal))
        .await?;
    if (200..300).contains(&resp.status) {
        view.pending().push(proposal.clone());
    }
    Ok(resp)
}

/// Submits a commit the view just staged; merges it on success, drops it otherwise.
async fn submit_commit(
    ctx: &mut Ctx,
    view: &mut View,
    commit: &[u8],
    welcome: Option<&[u8]>,
) -> Result<ApiResponse, Finding> {
    let (id, epoch) = (view.id().to_owned(), view.epoch());
    let body = commit_json_bytes(&id, epoch, view.pending(), commit, welcome)?;
    let (method, path) = ctx.route("groups_submitCommit", &[("groupId", &id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(view.owner())).json(&body))
        .await?;
    let accepted = (200..300).contains(&resp.status);
    view.finish_commit(accepted)?;
    if accepted {
        view.pending().clear();
    }
    Ok(resp)
}

/// State of one suite's run.
pub struct SuiteRun {
    pub polyproto_id: u16,
    pub suite: Ciphersuite,
    /// openmls clients of all three (carol's is used where mls-rs lacks the suite, and to
    /// make the other suite's package of step 6).
    pub clients: Vec<Arc<MlsClient>>,
    /// carol's mls-rs client, where mls-rs-crypto-rustcrypto has the suite.
    pub carol_rs: Option<Arc<RsClient>>,
    /// Each actor's view of the group (None before joining or after removal).
    pub groups: Vec<Option<View>>,
    /// Outcome of the group-join step.
    pub joined: Option<Result<(), Finding>>,
    /// Highest relayed message seq each actor has read.
    pub read: Vec<i64>,
}

impl SuiteRun {
    async fn new(ctx: &mut Ctx, polyproto_id: u16) -> Result<Self, Finding> {
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
            .map_err(|e| Finding::Unsupported(format!("{} cannot start: {e}", backend.name())))?;
            if client.provider.crypto().supports(suite).is_err() {
                return Err(Finding::Unsupported(format!(
                    "{} does not offer {suite:?}",
                    backend.name()
                )));
            }
            clients.push(Arc::new(client));
        }
        let hybrid = hybrid_wire(&ctx.registry);
        let carol_rs = if mlsrs::supports(wire, hybrid).is_ok() {
            // carol's identity provider trusts what the target's root ID-Cert signed.
            let root = super::idcert::server_root(ctx).await?;
            let carol = &ctx.actors[CAROL].mls;
            let client = RsClient::new(&carol.key.0, carol.cert_der.clone(), root, wire, hybrid)
                .map_err(Finding::harness)?;
            Some(Arc::new(client))
        } else {
            None
        };
        Ok(Self {
            polyproto_id,
            suite,
            clients,
            carol_rs,
            groups: vec![None, None, None],
            joined: None,
            read: vec![-1; 3],
        })
    }

    fn query(&self) -> String {
        format!("ciphersuites={}", format_code_point(self.polyproto_id))
    }

    /// A fresh KeyPackage MLSMessage of `actor` in this suite, from its implementation.
    fn key_package(&self, actor: usize, last_resort: bool) -> Result<Vec<u8>, Finding> {
        match (&self.carol_rs, actor) {
            (Some(rs), CAROL) => rs.key_package(last_resort).map_err(Finding::harness),
            _ => self.clients[actor]
                .key_package(
                    self.suite,
                    &KeyPackageOptions {
                        last_resort,
                        ..Default::default()
                    },
                )
                .map_err(Finding::harness),
        }
    }

    fn view(&mut self, actor: usize, who: &str) -> Result<&mut View, Finding> {
        self.groups[actor]
            .as_mut()
            .ok_or_else(|| Finding::harness(format!("{who} is not in the group")))
    }
}

/// The per-suite end-to-end runs of the session, by polyproto suite id (a `Ctx` fixture).
#[derive(Default)]
struct SuiteRuns(std::collections::BTreeMap<u16, SuiteRun>);

/// Takes the suite's run out of the context (creating it), so that steps can borrow both.
async fn take_run(ctx: &mut Ctx, id: u16) -> Result<SuiteRun, Finding> {
    match ctx.with_fixture(|runs: &mut SuiteRuns| runs.0.remove(&id)) {
        Some(run) => Ok(run),
        None => SuiteRun::new(ctx, id).await,
    }
}

/// Runs `step` with the suite's run, putting it back afterwards.
macro_rules! with_run {
    ($ctx:ident, $id:expr, |$run:ident| $body:expr) => {{
        let mut $run = take_run($ctx, $id).await?;
        let result = $body;
        $ctx.with_fixture(|runs: &mut SuiteRuns| runs.0.insert($id, $run));
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
        .map_err(|e| Finding::mismatch("a protocol message", format!("{e}")))
}

/// Processes a proposal or commit message in `group`; returns true when a commit was merged.
fn apply(group: &mut LiveGroup, bytes: &[u8], who: &str) -> Result<bool, Finding> {
    let processed = group
        .mls
        .process_message(&group.client.provider, parse_message(bytes)?)
        .map_err(|e| {
            Finding::mismatch(
                format!("{who} processes the relayed message"),
                format!("{e}"),
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
                    Finding::mismatch(format!("{who} merges the commit"), format!("{e}"))
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
        let one_time = run.key_package(actor, false)?;
        let resort = run.key_package(actor, true)?;
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
            let same_bytes = list.len() == 1
                && mls_message(&got, MlsObject::KeyPackage)?
                    == mls_message(expected, MlsObject::KeyPackage)?;
            if !same_bytes {
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
        let mut wrong = None;
        for kp in &list {
            if super::keypackages::suite_of(ctx, kp)? != Some(other) {
                wrong = Some(kp);
                break;
            }
        }
        if let Some(kp) = wrong {
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
        run.joined = Some(result.clone());
        result
    })
}

/// Runs the join step unless it ran. When it failed, the later steps were not reached: a
/// failure of the target there makes them `unsupported` with the cause (their own rules were
/// never tried), a fault of the harness stays the harness's `error`.
async fn ensure_joined(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    let joined = match &run.joined {
        Some(joined) => joined.clone(),
        None => {
            let result = group_join_step(ctx, run).await;
            run.joined = Some(result.clone());
            result
        }
    };
    joined.map_err(|cause| cause.not_reached("prerequisite step 2-group-join"))
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

    // The HTTP steps can wait out a rate-limited target for longer than a heartbeat interval:
    // bob's connection stays alive meanwhile.
    let steps = async {
        // Alice (openmls) creates the group and adds carol: alice's Welcome brings carol in.
        let (mut group, _) = ctx
            .create_group_with(ALICE, run.clients[ALICE].clone(), run.suite)
            .await?;
        let carol_package = run.key_package(CAROL, false)?;
        let (_, resp) = ctx
            .propose_add_package(&mut group, CAROL, &carol_package)
            .await?;
        expect_status(&resp, &[204], "the Add proposal for carol to be accepted")?;
        let (_, resp) = ctx.commit(&mut group).await?;
        expect_status(
            &resp,
            &[200],
            "the commit adding carol to answer its Welcome",
        )?;
        let group_id = group.id.clone();
        run.groups[ALICE] = Some(View::Openmls(group));
        let welcome = fetch_welcome(ctx, CAROL, &group_id).await?;
        let carol = join(ctx, run, CAROL, &group_id, &welcome)?;
        run.groups[CAROL] = Some(carol);

        // Carol adds bob: carol's Welcome brings bob in (over HTTP and the gateway).
        let bob_package = run.key_package(BOB, false)?;
        let kp_json = ctx
            .upload_and_discover(BOB, CAROL, &bob_package, &query)
            .await?;
        let carol = run.view(CAROL, "carol")?;
        let proposal = carol.propose_add(&mls_message(&kp_json, MlsObject::KeyPackage)?)?;
        let mut proposal = proposal_json_bytes(&proposal, "Add")?;
        proposal["keyPackage"] = kp_json;
        let resp = submit_proposal(ctx, carol, &proposal).await?;
        expect_status(&resp, &[204], "carol's Add proposal for bob to be accepted")?;
        // Alice learns the proposal from the target's pending list before carol commits it.
        learn_proposals(ctx, run, ALICE).await?;
        let carol = run.view(CAROL, "carol")?;
        let (commit, welcome) = carol.stage_commit()?;
        let resp = submit_commit(ctx, carol, &commit, welcome.as_deref()).await?;
        expect_status(
            &resp,
            &[200],
            "carol's commit adding bob to answer its Welcome",
        )?;
        Ok::<_, Finding>(group_id)
    };
    let group_id = bob_socket.alive_during(steps).await?;
    let event = bob_socket
        .expect(timeout, "the Welcome event (mls op 2)", |e| {
            e["n"] == NS_MLS && e["op"] == mls_op::WELCOME && e["d"]["groupId"] == group_id.as_str()
        })
        .await
        .map_err(|e| Finding::mismatch("bob's Welcome over the gateway", e))?;
    bob_socket.close().await;
    let welcome = fetch_welcome(ctx, BOB, &group_id).await?;
    if mls_message(&event["d"]["welcome"], MlsObject::Welcome)?
        != mls_message(&welcome, MlsObject::Welcome)?
    {
        return Err(Finding::mismatch(
            "the same Welcome over HTTP and over the gateway",
            "two different Welcome messages",
        ));
    }
    let bob = join(ctx, run, BOB, &group_id, &welcome)?;
    run.groups[BOB] = Some(bob);
    // Alice follows carol's commit through the target.
    catch_up(ctx, run, ALICE).await?;
    agree(ctx, run, &[ALICE, BOB, CAROL]).await
}

/// `actor` processes the group's pending proposals from the target's list.
async fn learn_proposals(ctx: &mut Ctx, run: &mut SuiteRun, actor: usize) -> CheckResult {
    let group_id = run.view(actor, "the member")?.id().to_owned();
    let (method, path) = ctx.route("members_getProposals", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(actor)))
        .await?;
    expect_status(&resp, &[200], "the pending proposals")?;
    let label = ctx.actors[actor].label.clone();
    for p in resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    {
        let bytes = mls_message(&p, MlsObject::Proposal)?;
        run.view(actor, "the member")?.apply(&bytes, &label)?;
    }
    Ok(())
}

/// `actor` joins from the Welcome JSON with its implementation.
fn join(
    ctx: &Ctx,
    run: &SuiteRun,
    actor: usize,
    group_id: &str,
    welcome: &Value,
) -> Result<View, Finding> {
    let label = &ctx.actors[actor].label;
    if let (Some(rs), CAROL) = (&run.carol_rs, actor) {
        let bytes = mls_message(welcome, MlsObject::Welcome)?;
        let group = rs.join(&bytes).map_err(|e| {
            Finding::mismatch(format!("{label} (mls-rs) joins from the Welcome"), e)
        })?;
        return Ok(View::MlsRs(Box::new(RsView {
            id: group_id.to_owned(),
            owner: actor,
            group,
            pending: Vec::new(),
        })));
    }
    let welcome = decode_welcome(welcome)?;
    let client = run.clients[actor].clone();
    let config = MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build();
    let mls = StagedWelcome::new_from_welcome(&client.provider, &config, welcome, None)
        .and_then(|staged| staged.into_group(&client.provider))
        .map_err(|e| {
            Finding::mismatch(format!("{label} joins from the Welcome"), format!("{e}"))
        })?;
    Ok(View::Openmls(LiveGroup {
        id: group_id.to_owned(),
        owner: actor,
        client,
        suite: run.suite,
        mls,
        pending: Vec::new(),
    }))
}

/// The profile's delivery routes (specs/PROFILE.md section 6), which the OpenAPI document
/// lacks: a target without one cannot be judged by the text's checks that need it
/// (`unsupported`) and fails the PROFILE checks (`Finding::ProfileMissing`).
#[derive(Clone, Copy)]
enum RelayRoute {
    Welcomes,
    CommitHistory,
    MessageRelay,
}

impl RelayRoute {
    fn mechanism(self) -> &'static str {
        match self {
            RelayRoute::Welcomes => "Welcome delivery route (PROFILE.welcome-delivery)",
            RelayRoute::CommitHistory => "commit history route (PROFILE.commit-history)",
            RelayRoute::MessageRelay => "message relay route (PROFILE.message-relay)",
        }
    }

    /// Err when `resp` shows the route is not served: a 405, or a 404 that cannot be the
    /// group's (no group in the path, or `caller` still sees the group), so that a member's
    /// 404 is the route's and not the ambiguous one of a group.
    async fn served(
        self,
        ctx: &mut Ctx,
        resp: &ApiResponse,
        caller: usize,
        group_id: Option<&str>,
    ) -> CheckResult {
        let missing = match (resp.status, group_id) {
            (405, _) | (404, None) => true,
            (404, Some(group_id)) => {
                let (method, path) = ctx.route("groups_getGroup", &[("groupId", group_id)])?;
                let group = ctx
                    .send(ApiRequest::new(method, path, ctx.auth(caller)))
                    .await?;
                group.status == 200
            }
            _ => false,
        };
        if missing {
            return Err(Finding::ProfileMissing(format!(
                "the target has no {} (it answers {})",
                self.mechanism(),
                resp.status
            )));
        }
        Ok(())
    }
}

/// The caller's Welcome for `group_id` from the profile route.
async fn fetch_welcome(ctx: &mut Ctx, actor: usize, group_id: &str) -> Result<Value, Finding> {
    let req = ApiRequest::new(Method::GET, routes::WELCOMES.to_owned(), ctx.auth(actor));
    let resp = ctx.send(req).await?;
    RelayRoute::Welcomes.served(ctx, &resp, actor, None).await?;
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
    let views: Vec<&View> = members
        .iter()
        .filter_map(|m| run.groups[*m].as_ref())
        .collect();
    let first = views
        .first()
        .ok_or_else(|| Finding::harness("no member holds the group"))?;
    let authenticator = first.authenticator()?;
    for view in &views {
        if view.authenticator()? != authenticator || view.epoch() != first.epoch() {
            return Err(Finding::mismatch(
                "every member at the same epoch with the same epoch authenticator",
                format!(
                    "{} at epoch {} disagrees with {} at epoch {}",
                    ctx.actors[view.owner()].label,
                    view.epoch(),
                    ctx.actors[first.owner()].label,
                    first.epoch()
                ),
            ));
        }
    }
    let expected: BTreeSet<String> = members.iter().map(|m| ctx.fid(*m)).collect();
    for view in &views {
        let seen = view.fids();
        if seen != expected {
            return Err(Finding::mismatch(
                format!("MLS members {expected:?}"),
                format!("{} sees {seen:?}", ctx.actors[view.owner()].label),
            ));
        }
    }
    let (first_id, first_owner, first_epoch) =
        (first.id().to_owned(), first.owner(), first.epoch());
    let (method, path) = ctx.route("members_getMembers", &[("groupId", &first_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(first_owner)))
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
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &first_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(first_owner)))
        .await?;
    let epoch = resp
        .json()
        .map(|g| g["epoch"].clone())
        .unwrap_or(Value::Null);
    if epoch != first_epoch {
        return Err(Finding::mismatch(
            format!("the target at epoch {first_epoch}"),
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
    let group = run.view(actor, "the sender")?;
    let bytes = group.encrypt(text)?;
    let path = routes::group_messages(group.id());
    let body = json!({ "mlsMessage": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes) });
    let group_id = group.id().to_owned();
    let resp = ctx
        .send(ApiRequest::new(Method::POST, path, ctx.auth(actor)).json(&body))
        .await?;
    RelayRoute::MessageRelay
        .served(ctx, &resp, actor, Some(&group_id))
        .await?;
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
        .map(|g| g.id().to_owned())
        .ok_or_else(|| Finding::harness("not in the group"))?;
    let path = format!(
        "{}?since={}",
        routes::group_messages(&group_id),
        run.read[actor]
    );
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, ctx.auth(actor)))
        .await?;
    RelayRoute::MessageRelay
        .served(ctx, &resp, actor, Some(&group_id))
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
            mls_message(&m, MlsObject::RelayedMessage)?,
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
                format!("{e}"),
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
    let carol = ctx.fid(CAROL);
    // Bob reads in relay order.
    let got = fetch_messages(ctx, run, BOB).await?;
    let mut texts = Vec::new();
    for (_, bytes) in got.iter().filter(|(s, _)| *s == alice) {
        let plain = run.view(BOB, "bob")?.decrypt(bytes, "bob")?;
        texts.push(String::from_utf8_lossy(&plain).into_owned());
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
        let plain = run.view(CAROL, "carol")?.decrypt(bytes, "carol")?;
        texts.insert(String::from_utf8_lossy(&plain).into_owned());
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
    // Carol answers; alice reads bob's and carol's, bob reads carol's.
    send_message(ctx, run, CAROL, "c1 from carol").await?;
    let got = fetch_messages(ctx, run, ALICE).await?;
    for (sender, text) in [(&bob, "b1 from bob"), (&carol, "c1 from carol")] {
        let from: Vec<&Vec<u8>> = got
            .iter()
            .filter(|(s, _)| s == sender)
            .map(|(_, b)| b)
            .collect();
        let [only] = from.as_slice() else {
            return Err(Finding::mismatch(
                format!("one message from {sender} for alice"),
                format!("{} messages", from.len()),
            ));
        };
        let plain = run.view(ALICE, "alice")?.decrypt(only, "alice")?;
        if plain != text.as_bytes() {
            return Err(Finding::mismatch(
                text,
                String::from_utf8_lossy(&plain).into_owned(),
            ));
        }
    }
    let got = fetch_messages(ctx, run, BOB).await?;
    let from_carol: Vec<&Vec<u8>> = got
        .iter()
        .filter(|(s, _)| *s == carol)
        .map(|(_, b)| b)
        .collect();
    let [only] = from_carol.as_slice() else {
        return Err(Finding::mismatch(
            "carol's one message for bob",
            format!("{} messages", from_carol.len()),
        ));
    };
    let plain = run.view(BOB, "bob")?.decrypt(only, "bob")?;
    if plain != b"c1 from carol" {
        return Err(Finding::mismatch(
            "c1 from carol",
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
    let group = run.view(actor, "the member")?;
    let (id, epoch) = (group.id().to_owned(), group.epoch());
    let path = format!("{}?since={epoch}", routes::group_commits(&id));
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, ctx.auth(actor)))
        .await?;
    RelayRoute::CommitHistory
        .served(ctx, &resp, actor, Some(&id))
        .await?;
    expect_status(&resp, &[200], "the commits since the member's epoch")?;
    let label = ctx.actors[actor].label.clone();
    for commit in resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    {
        let bytes = mls_message(&commit, MlsObject::Commit)?;
        run.view(actor, "the member")?.apply(&bytes, &label)?;
    }
    Ok(())
}

async fn stale_step(ctx: &mut Ctx, run: &mut SuiteRun) -> CheckResult {
    // Alice stages an update; bob's update lands first; alice's is then for a past epoch.
    let alice_commit = {
        let group = run.view(ALICE, "alice")?.openmls()?;
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
    let bob = run.view(BOB, "bob")?;
    let commit = bob.stage_update()?;
    let resp = submit_commit(ctx, bob, &commit, None).await?;
    expect_status(&resp, &[200, 204], "bob's update commit to be accepted")?;
    let group_id = run.view(ALICE, "alice")?.id().to_owned();
    let (method, path) = ctx.route("groups_submitCommit", &[("groupId", &group_id)])?;
    let resp = ctx
        .send(ApiRequest::new(method, path, ctx.auth(ALICE)).json(&alice_commit))
        .await?;
    expect_status(&resp, &[409], "a commit for a past epoch to be refused")?;
    run.view(ALICE, "alice")?.finish_commit(false)?;
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
    let carol = run.view(CAROL, "carol")?;
    let commit = carol.stage_update()?;
    let resp = submit_commit(ctx, carol, &commit, None).await?;
    expect_status(&resp, &[200, 204], "carol's update commit to be accepted")?;
    // Alice follows and updates too; bob, away meanwhile, catches up on both commits in order.
    catch_up(ctx, run, ALICE).await?;
    let alice = run.view(ALICE, "alice")?;
    let commit = alice.stage_update()?;
    let resp = submit_commit(ctx, alice, &commit, None).await?;
    expect_status(&resp, &[200, 204], "alice's update commit to be accepted")?;
    catch_up(ctx, run, BOB).await?;
    catch_up(ctx, run, CAROL).await?;
    agree(ctx, run, &[ALICE, BOB, CAROL]).await?;

    // Alice proposes to remove carol and commits; bob follows through the target.
    let carol_fid = ctx.fid(CAROL);
    let alice_group = run.view(ALICE, "alice")?.openmls()?;
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
    learn_proposals(ctx, run, BOB).await?;
    let alice = run.view(ALICE, "alice")?;
    let (commit, welcome) = alice.stage_commit()?;
    let resp = submit_commit(ctx, alice, &commit, welcome.as_deref()).await?;
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
    // carol's KeyPackage of the other suite, sound in its own suite (it verifies there), in an
    // Add that alice's openmls group frames, signs and tags as any proposal: openmls does not
    // compare the package's suite with the group's when proposing, so the framing is right and
    // only the DS's suite rule stands between the proposal and the group.
    let foreign = ctx.actors[CAROL]
        .mls
        .key_package(other_suite, &KeyPackageOptions::default())
        .map_err(Finding::harness)?;
    let kp = crate::clients::mls::decode_key_package(&foreign).map_err(Finding::harness)?;
    let crypto = openmls_rust_crypto::RustCrypto::default();
    let kp = kp
        .validate(&crypto, ProtocolVersion::Mls10)
        .map_err(|e| Finding::harness(format!("the other suite's KeyPackage: {e}")))?;
    let group = run.view(ALICE, "alice")?.openmls()?;
    let (message, _) = group
        .mls
        .propose_add_member(&group.client.provider, &group.client.key, &kp)
        .map_err(Finding::harness)?;
    group
        .mls
        .clear_pending_proposals(group.client.provider.storage())
        .map_err(Finding::harness)?;
    let mut proposal = proposal_json(&message, "Add")?;
    proposal["keyPackage"] =
        crate::clients::mls::key_package_json(&foreign, &ctx.registry).map_err(Finding::harness)?;
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
