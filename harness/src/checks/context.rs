//! What checks share: the HTTP client, the document, the actors, recorded evidence, and MLS
//! fixtures (groups driven by real openmls clients through the target).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use p2mls_protocol::gateway::{core_op, NS_CORE};
use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::suites::SuiteRegistry;
use p2mls_protocol::wire;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::check::{CheckResult, Exchange, Finding, SpecFinding};
use crate::clients::actors::Actor;
use crate::clients::gateway::{GatewayClient, NarrowTcp, Transcript};
use crate::clients::http::{ApiRequest, ApiResponse, Auth, Http};
use crate::clients::mls::{capabilities, key_package_json, KeyPackageOptions, MlsClient};
use crate::clients::tls::{Probe, TlsSettings};
use crate::matchers::response::{self, Conformance};
use crate::spec::ApiSpec;
use crate::Error;

/// State the checks build once and share, found by its type.
type FixtureStore = std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any + Send>>;

pub const ALICE: usize = 0;
pub const BOB: usize = 1;
pub const CAROL: usize = 2;

/// A group created on the target and mirrored by its creator's openmls client.
pub struct LiveGroup {
    pub id: String,
    pub owner: usize,
    /// The owner's MLS client (its provider holds the group's state).
    pub client: Arc<MlsClient>,
    pub suite: Ciphersuite,
    pub mls: MlsGroup,
    /// JSON of proposals submitted and not yet committed.
    pub pending: Vec<Value>,
}

/// The established fixture: alice's group with bob added by one commit.
pub struct Established {
    pub group: LiveGroup,
    pub welcome: Value,
}

/// Longest a single check may take, whatever the target does (default of the config's
/// `check_timeout_seconds`; the runner bounds each check by `Ctx::check_timeout`).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// What one check observed: the runner empties it before each check and takes its contents as
/// the check's evidence when it ends.
#[derive(Default)]
pub struct Recorder {
    /// HTTP exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// Gateway frames of every connection the check opened (shared with the connections).
    pub transcript: Transcript,
    /// Mismatches that a document defect explains (not server failures).
    pub spec_findings: Vec<SpecFinding>,
}

impl Recorder {
    /// Forgets what the previous check observed; the transcript keeps its secrets.
    pub fn begin(&mut self) {
        self.exchanges.clear();
        self.transcript.take();
        self.spec_findings.clear();
    }
}

/// A check's view of the run. The runner gives each check a `fork` of the run's context: its own
/// recorder and counters, and the run-wide state (ledger, fixtures, established group, gateway
/// URL) behind shared handles, so checks can run concurrently.
pub struct Ctx {
    pub http: Http,
    pub spec: Arc<ApiSpec>,
    pub registry: SuiteRegistry,
    pub actors: Vec<Actor>,
    /// The MLS suite of this run (0x0001 on the wire).
    pub suite: Ciphersuite,
    /// What the running check observed (created and collected by the runner).
    pub recorder: Recorder,
    established: Arc<tokio::sync::Mutex<Option<Arc<Established>>>>,
    counter: u64,
    /// Keep every check's exchanges and frames (differential mode).
    pub capture: bool,
    /// State the checks build once and share (e.g. the suite runs), owned by the module that
    /// builds it and found by its type.
    fixtures: Arc<Mutex<FixtureStore>>,
    /// (gateway URL from the config, event timeout).
    pub gateway_config: (Option<String>, Duration),
    gateway_url: Arc<Mutex<Option<String>>>,
    /// Longest a single check may take (the runner's bound).
    pub check_timeout: Duration,
    /// The target config's trust anchors (HTTP and gateway connections).
    pub tls: TlsSettings,
    /// The handshake probe of an https:// target (None: plain http://).
    pub tls_probe: Option<Arc<Probe>>,
    /// Why no check but the TLS ones can run (the target's TLS is refused).
    pub blocked: Option<String>,
    /// What the run created on the target (for the clean-up).
    ledger: Arc<Mutex<crate::ledger::Ledger>>,
    /// Set when the run is interrupted (Ctrl-C): the runner stops, the clean-up still runs.
    pub interrupt: Option<tokio::sync::watch::Receiver<bool>>,
    /// The target's KeyPackage limit per session, when the config names it.
    pub keypackage_limit: Option<usize>,
    /// The registration secret (reference mode only).
    pub registration_secret: Option<String>,
    /// What the names of actors the run registers start with (the config's `name_prefix`).
    pub name_prefix: String,
    /// Where the visible domain serves its well-known document (the config's `visible_url`).
    pub visible_url: Option<String>,
}

impl Ctx {
    pub fn new(http: Http, spec: ApiSpec, registry: SuiteRegistry, actors: Vec<Actor>) -> Self {
        let spec = Arc::new(spec);
        let transcript = Transcript::default();
        for actor in &actors {
            transcript.hide(&actor.token, &format!("TOKEN_{}", actor.label));
        }
        Self {
            http,
            spec,
            registry,
            actors,
            suite: Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
            recorder: Recorder {
                transcript,
                ..Recorder::default()
            },
            established: Arc::default(),
            counter: 0,
            fixtures: Arc::default(),
            capture: false,
            gateway_config: (None, Duration::from_secs(5)),
            gateway_url: Arc::default(),
            check_timeout: CHECK_TIMEOUT,
            tls: TlsSettings::default(),
            tls_probe: None,
            blocked: None,
            ledger: Arc::default(),
            interrupt: None,
            keypackage_limit: None,
            registration_secret: None,
            name_prefix: String::new(),
            visible_url: None,
        }
    }

    /// A context for one check: the run's shared state, a fresh recorder (its transcript keeps
    /// the secrets it hides) and counters of its own.
    pub fn fork(&self) -> Ctx {
        Ctx {
            http: self.http.clone(),
            spec: self.spec.clone(),
            registry: self.registry.clone(),
            actors: self.actors.clone(),
            suite: self.suite,
            recorder: Recorder {
                transcript: self.recorder.transcript.fresh(),
                ..Recorder::default()
            },
            established: self.established.clone(),
            counter: 0,
            capture: self.capture,
            fixtures: self.fixtures.clone(),
            gateway_config: self.gateway_config.clone(),
            gateway_url: self.gateway_url.clone(),
            check_timeout: self.check_timeout,
            tls: self.tls.clone(),
            tls_probe: self.tls_probe.clone(),
            blocked: self.blocked.clone(),
            ledger: self.ledger.clone(),
            interrupt: self.interrupt.clone(),
            keypackage_limit: self.keypackage_limit,
            registration_secret: self.registration_secret.clone(),
            name_prefix: self.name_prefix.clone(),
            visible_url: self.visible_url.clone(),
        }
    }

    /// What the run created on the target, for the clean-up (shared by every fork).
    pub fn ledger(&self) -> MutexGuard<'_, crate::ledger::Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the shared fixture of type `T` (created empty on first use). A fixture that
    /// must not change under a check is guarded by the checks' declared resources.
    pub fn with_fixture<T: Default + Send + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut store = self.fixtures.lock().unwrap_or_else(|p| p.into_inner());
        let fixture = store
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("fixtures are stored under their own type id");
        f(fixture)
    }

    /// The polyproto identifier of this run's suite, as written in queries.
    pub fn suite_id(&self) -> String {
        format_code_point(self.registry.polyproto_id_for_wire(u16::from(self.suite)))
    }

    /// A fresh unique string for ids the harness makes up.
    pub fn unique(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}-{}", crate::random_hex(4), self.counter)
    }

    /// Sends a request, recording it; a transport failure is the target's failure, a rate limit
    /// past the budget nobody's (`error`).
    pub async fn send(&mut self, req: ApiRequest) -> Result<ApiResponse, Finding> {
        // Before sending: a check interrupted while its upload is in flight still leaves the
        // packages in the ledger for the clean-up to drain.
        self.record_upload(&req);
        let (result, exchange) = self.http.send(&req).await;
        self.recorder.exchanges.push(exchange);
        let response = result.map_err(http_finding)?;
        self.record_creation(&req, &response);
        Ok(response)
    }

    /// Sends a request to another origin than the target's (core 3.1: the visible domain, the
    /// API it names), recording it like any other.
    pub async fn send_at(&mut self, base: &str, req: ApiRequest) -> Result<ApiResponse, Finding> {
        let (result, exchange) = self.http.at(base).send(&req).await;
        self.recorder.exchanges.push(exchange);
        result.map_err(http_finding)
    }

    /// Whether `req` is a request for the operation `op` of the document.
    fn is_operation(&self, req: &ApiRequest, op: &str) -> bool {
        self.spec.operation(op).is_some_and(|o| {
            o.method.eq_ignore_ascii_case(req.method.as_str()) && o.path == req.path
        })
    }

    /// Notes in the ledger the KeyPackages an upload may store (refused ones are never found by
    /// the clean-up, so noting them does no harm).
    fn record_upload(&mut self, req: &ApiRequest) {
        if !self.is_operation(req, "keypackages_addKeyPackages") {
            return;
        }
        let Auth::Bearer { token, .. } = &req.auth else {
            return;
        };
        let Some(owner) = self.actors.iter().position(|a| &a.token == token) else {
            return;
        };
        let body: Option<Value> = req
            .body
            .as_ref()
            .and_then(|(_, bytes)| serde_json::from_slice(bytes).ok());
        for kp in body
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = kp["id"].as_str() {
                let last_resort = kp["lastResort"].as_bool() == Some(true);
                self.ledger()
                    .keypackages
                    .push((owner, id.to_owned(), last_resort));
            }
        }
    }

    /// Notes in the ledger what an accepted request created (actors, groups).
    fn record_creation(&mut self, req: &ApiRequest, response: &ApiResponse) {
        if req.path == p2mls_protocol::routes::REGISTER && response.status == 201 {
            if let Some(fid) = response
                .json()
                .and_then(|b| b["fid"].as_str().map(str::to_owned))
            {
                self.ledger().actors.push(fid);
            }
            return;
        }
        if response.status == 200 && self.is_operation(req, "groups_createGroup") {
            if let Some(id) = response
                .json()
                .and_then(|g| g["id"].as_str().map(str::to_owned))
            {
                self.ledger().groups.push(id);
            }
        }
    }

    /// Method and concrete path of an operation in the document.
    pub fn route(&self, op: &str, params: &[(&str, &str)]) -> Result<(Method, String), Finding> {
        let operation = self
            .spec
            .operation(op)
            .ok_or_else(|| Finding::Unsupported(format!("the document has no operation {op}")))?;
        let mut path = operation.path.clone();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), &encode_segment(value));
        }
        let method = Method::from_bytes(operation.method.as_bytes()).map_err(Finding::harness)?;
        Ok((method, path))
    }

    /// The response's status is documented and its body matches the schema. A mismatch that a
    /// defect of the document explains is recorded as a spec finding and does not fail the check.
    pub fn conforms(&mut self, op: &str, resp: &ApiResponse) -> CheckResult {
        match response::conformance(&self.spec, op, resp) {
            Conformance::Conforms => Ok(()),
            Conformance::ExplainedByDocument { defect, observed } => {
                self.recorder.spec_findings.push(SpecFinding {
                    check: String::new(),
                    operation: op.to_owned(),
                    status: resp.status,
                    rule: defect.rule.to_owned(),
                    explanation: defect.explanation,
                    observed,
                });
                Ok(())
            }
            Conformance::Mismatch(mismatch) => Err(mismatch.into()),
        }
    }

    pub fn auth(&self, actor: usize) -> Auth {
        self.actors[actor].auth()
    }

    pub fn fid(&self, actor: usize) -> String {
        self.actors[actor].fid.clone()
    }

    /// A KeyPackage of `actor` as JSON (PROFILE.keypackage-summary).
    pub fn key_package(&self, actor: usize, options: &KeyPackageOptions) -> Result<Value, Finding> {
        self.key_package_of_suite(actor, self.suite, options)
    }

    pub fn key_package_of_suite(
        &self,
        actor: usize,
        suite: Ciphersuite,
        options: &KeyPackageOptions,
    ) -> Result<Value, Finding> {
        let bytes = self.actors[actor]
            .mls
            .key_package(suite, options)
            .map_err(Finding::harness)?;
        key_package_json(&bytes, &self.registry).map_err(Finding::harness)
    }

    /// Uploads KeyPackages as `actor`.
    pub async fn upload(
        &mut self,
        actor: usize,
        packages: Vec<Value>,
    ) -> Result<ApiResponse, Finding> {
        let (method, path) = self.route("keypackages_addKeyPackages", &[])?;
        let req = ApiRequest::new(method, path, self.auth(actor)).json(&Value::Array(packages));
        self.send(req).await
    }

    /// Uploads and requires success.
    pub async fn upload_ok(&mut self, actor: usize, packages: Vec<Value>) -> CheckResult {
        let resp = self.upload(actor, packages).await?;
        expect_status(&resp, &[200], "the upload to succeed")
    }

    /// Discovers `owner`'s KeyPackages as `by` with a raw query string.
    pub async fn discover(
        &mut self,
        by: usize,
        owner: &str,
        query: &str,
    ) -> Result<ApiResponse, Finding> {
        let (method, path) = self.route("keypackages_discoverKeyPackages", &[("fid", owner)])?;
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        self.send(ApiRequest::new(method, path, self.auth(by)))
            .await
    }

    /// A 404 that is to mean "no such resource" (a missing or foreign group, an unknown
    /// actor). The document gives these 404s no body, so a bare 404 cannot tell a missing
    /// resource from a missing route: when the body is not PROFILE.error-body's object, the
    /// target is probed once (`mls_routes_served`), and a target that serves no route of the
    /// mls API at all gets `unsupported` naming that cause instead of a pass.
    pub async fn expect_not_found(&mut self, resp: &ApiResponse, what: &str) -> CheckResult {
        expect_status(resp, &[404], what)?;
        if is_error_body(resp) {
            return Ok(());
        }
        match self.mls_routes_served().await? {
            Ok(()) => Ok(()),
            Err(probes) => Err(Finding::Unsupported(format!(
                "the target serves no route of the mls API ({probes}), so its 404 here ({}) cannot tell a missing resource from a missing route",
                snippet(&resp.text())
            ))),
        }
    }

    /// Whether the target serves any route under the mls API: requests that a server with the
    /// routes answers with something other than 404 whatever its data (discovery and a group's
    /// member list, both without a token, which the document secures: 401). Unauthenticated, so
    /// the probe consumes no KeyPackage and touches no state other checks use. Asked once per
    /// run; `Err` lists what every probe got.
    pub async fn mls_routes_served(&mut self) -> Result<Result<(), String>, Finding> {
        #[derive(Default)]
        struct Probed(Option<Result<(), String>>);
        if let Some(known) = self.with_fixture(|probed: &mut Probed| probed.0.clone()) {
            return Ok(known);
        }
        let mut requests = Vec::new();
        let own = self.fid(ALICE);
        // 0x0A0A: a GREASE value of RFC 9420's cipher suite registry.
        let query = format!("ciphersuites={}", format_code_point(0x0A0A));
        if let Ok((method, path)) = self.route("keypackages_discoverKeyPackages", &[("fid", &own)])
        {
            requests.push(ApiRequest::new(
                method,
                format!("{path}?{query}"),
                Auth::None,
            ));
        }
        let group = self.unique("p2mls-probe-group");
        if let Ok((method, path)) = self.route("members_getMembers", &[("groupId", &group)]) {
            requests.push(ApiRequest::new(method, path, Auth::None));
        }
        let mut seen = Vec::new();
        let mut served = false;
        for req in requests {
            let resp = self.send(req.clone()).await?;
            // A 5xx may come from a proxy in front of nothing; 404 is the missing route.
            served |= resp.status != 404 && resp.status < 500;
            seen.push(format!(
                "{} {} answered {}",
                req.method, req.path, resp.status
            ));
        }
        let known = if served { Ok(()) } else { Err(seen.join("; ")) };
        self.with_fixture(|probed: &mut Probed| probed.0 = Some(known.clone()));
        Ok(known)
    }

    /// Discovers and returns the list (200 with an array, or 204 read as empty).
    pub async fn discover_list(
        &mut self,
        by: usize,
        owner: usize,
        query: &str,
    ) -> Result<Vec<Value>, Finding> {
        let fid = self.fid(owner);
        let resp = self.discover(by, &fid, query).await?;
        if resp.status == 204 {
            return Ok(Vec::new());
        }
        expect_status(&resp, &[200], "discovery to answer 200")?;
        match resp.json() {
            Some(Value::Array(list)) => Ok(list),
            _ => Err(Finding::mismatch(
                "a JSON array of KeyPackages",
                resp.text(),
            )),
        }
    }

    /// Default discovery query for this run's suite.
    pub fn suite_query(&self) -> String {
        format!("ciphersuites={}", self.suite_id())
    }

    /// Consumes `owner`'s one-time KeyPackages until discovery returns none (or only the same
    /// last-resort package), so that a check starts from a known state.
    pub async fn drain(&mut self, owner: usize) -> CheckResult {
        let query = self.suite_query();
        self.drain_query(owner, &query).await
    }

    /// As `drain`, for the packages a discovery `query` selects.
    pub async fn drain_query(&mut self, owner: usize, query: &str) -> CheckResult {
        self.drain_seeing(owner, query, |_| Ok(())).await?;
        self.recorder.exchanges.clear();
        Ok(())
    }

    /// Sends `request` `times` times at once; the answers in sending order, unrecorded (the
    /// caller keeps what is evidence).
    pub async fn send_at_once(
        &self,
        request: &ApiRequest,
        times: usize,
    ) -> Result<Vec<(Result<ApiResponse, crate::Error>, Exchange)>, Finding> {
        let tasks: Vec<_> = (0..times)
            .map(|_| {
                let (http, request) = (self.http.clone(), request.clone());
                tokio::spawn(async move { http.send(&request).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(times);
        for task in tasks {
            answers.push(task.await.map_err(Finding::harness)?);
        }
        Ok(answers)
    }

    /// Discovers `owner`'s packages (as `owner`) until none or only the last resort is left,
    /// showing each answer to `seen` first. Discoveries go out a few at once, so that draining
    /// a target far away costs a round trip per few packages, not per package.
    pub async fn drain_seeing(
        &mut self,
        owner: usize,
        query: &str,
        mut seen: impl FnMut(&[Value]) -> CheckResult,
    ) -> CheckResult {
        const AT_ONCE: usize = 8;
        const MOST: usize = 256;
        let fid = self.fid(owner);
        let (method, path) = self.route("keypackages_discoverKeyPackages", &[("fid", &fid)])?;
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        // The owner drains its own packages: no other requester uses up its discovery allowance
        // (PROFILE.keypackage-discovery-limit does not count one's own).
        let request = ApiRequest::new(method, path, self.auth(owner));
        let mut previous: Option<Value> = None;
        let mut handed_out = 0;
        while handed_out <= MOST {
            let mut drained = false;
            for (result, exchange) in self.send_at_once(&request, AT_ONCE).await? {
                self.recorder.exchanges.push(exchange);
                let resp = result.map_err(http_finding)?;
                let list = if resp.status == 204 {
                    Vec::new()
                } else {
                    expect_status(&resp, &[200], "discovery to answer 200")?;
                    match resp.json() {
                        Some(Value::Array(list)) => list,
                        _ => {
                            return Err(Finding::mismatch(
                                "a JSON array of KeyPackages",
                                resp.text(),
                            ))
                        }
                    }
                };
                seen(&list)?;
                let first = list.first().map(|kp| kp["id"].clone());
                if first.is_none() || first == previous {
                    drained = true;
                } else {
                    previous = first;
                    handed_out += 1;
                }
            }
            if drained {
                return Ok(());
            }
        }
        Err(Finding::mismatch(
            "discovery to run out of one-time KeyPackages",
            format!("more than {MOST} packages handed out while draining"),
        ))
    }

    /// Creates a group on the target with `owner`'s KeyPackage, and the mirroring MLS group.
    pub async fn create_group(
        &mut self,
        owner: usize,
    ) -> Result<(LiveGroup, ApiResponse), Finding> {
        let client = self.actors[owner].mls.clone();
        self.create_group_with(owner, client, self.suite).await
    }

    /// Creates a group in `suite` as `owner` using `client` (its KeyPackage is the body).
    pub async fn create_group_with(
        &mut self,
        owner: usize,
        client: Arc<MlsClient>,
        suite: Ciphersuite,
    ) -> Result<(LiveGroup, ApiResponse), Finding> {
        let bytes = client
            .key_package(suite, &KeyPackageOptions::default())
            .map_err(Finding::harness)?;
        let kp = key_package_json(&bytes, &self.registry).map_err(Finding::harness)?;
        let (method, path) = self.route("groups_createGroup", &[])?;
        let resp = self
            .send(ApiRequest::new(method, path, self.auth(owner)).json(&kp))
            .await?;
        expect_status(&resp, &[200], "group creation to answer 200")?;
        let id = resp
            .json()
            .and_then(|g| g["id"].as_str().map(str::to_owned))
            .ok_or_else(|| Finding::mismatch("a Group with an id", resp.text()))?;
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(suite)
            .use_ratchet_tree_extension(true)
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .capabilities(capabilities(suite))
            .build();
        let mls = MlsGroup::new_with_group_id(
            &client.provider,
            &client.key,
            &config,
            GroupId::from_slice(id.as_bytes()),
            client.credential(None),
        )
        .map_err(Finding::harness)?;
        Ok((
            LiveGroup {
                id,
                owner,
                client,
                suite,
                mls,
                pending: Vec::new(),
            },
            resp,
        ))
    }

    /// `added` uploads a fresh KeyPackage; the group owner discovers it and proposes the add.
    pub async fn propose_add(
        &mut self,
        group: &mut LiveGroup,
        added: usize,
    ) -> Result<(Value, ApiResponse), Finding> {
        let client = self.actors[added].mls.clone();
        self.propose_add_with(group, added, &client).await
    }

    /// As `propose_add`, with the KeyPackage made by `added_client` (which can then join).
    pub async fn propose_add_with(
        &mut self,
        group: &mut LiveGroup,
        added: usize,
        added_client: &MlsClient,
    ) -> Result<(Value, ApiResponse), Finding> {
        let bytes = added_client
            .key_package(group.suite, &KeyPackageOptions::default())
            .map_err(Finding::harness)?;
        self.propose_add_package(group, added, &bytes).await
    }

    /// `added` uploads the KeyPackage MLSMessage `package` (made by any implementation); the
    /// group owner discovers it and proposes the add.
    pub async fn propose_add_package(
        &mut self,
        group: &mut LiveGroup,
        added: usize,
        package: &[u8],
    ) -> Result<(Value, ApiResponse), Finding> {
        let query = format!(
            "ciphersuites={}",
            format_code_point(self.registry.polyproto_id_for_wire(u16::from(group.suite)))
        );
        let kp_json = self
            .upload_and_discover(added, group.owner, package, &query)
            .await?;
        self.propose_add_discovered(group, kp_json).await
    }

    /// The group owner validates a KeyPackage it discovered (its JSON) and proposes the add.
    pub async fn propose_add_discovered(
        &mut self,
        group: &mut LiveGroup,
        kp_json: Value,
    ) -> Result<(Value, ApiResponse), Finding> {
        let bytes = mls_message(&kp_json, MlsObject::KeyPackage)?;
        let kp_in = crate::clients::mls::decode_key_package(&bytes).map_err(|e| {
            Finding::mismatch("a KeyPackage MLSMessage in mlsMessage", e.to_string())
        })?;
        let kp = crate::clients::mls::validate_key_package(kp_in, group.client.provider.crypto())
            .map_err(|e| Finding::mismatch("a valid KeyPackage from discovery", e))?;
        let (message, _) = group
            .mls
            .propose_add_member(&group.client.provider, &group.client.key, &kp)
            .map_err(Finding::harness)?;
        let mut proposal = proposal_json(&message, "Add")?;
        proposal["keyPackage"] = kp_json;
        let resp = self.submit_proposal(group, &proposal).await?;
        Ok((proposal, resp))
    }

    /// `owner` uploads the KeyPackage MLSMessage `package`; `by` discovers it right away (with
    /// `query`) and gets its JSON.
    pub async fn upload_and_discover(
        &mut self,
        owner: usize,
        by: usize,
        package: &[u8],
        query: &str,
    ) -> Result<Value, Finding> {
        let kp = key_package_json(package, &self.registry).map_err(Finding::harness)?;
        self.upload_ok(owner, vec![kp]).await?;
        let found = self.discover_list(by, owner, query).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| Finding::mismatch("a KeyPackage right after its upload", "none"))
    }

    /// Submits a proposal JSON as the group owner; remembers it as pending when accepted.
    pub async fn submit_proposal(
        &mut self,
        group: &mut LiveGroup,
        proposal: &Value,
    ) -> Result<ApiResponse, Finding> {
        let (method, path) = self.route("groups_submitProposal", &[("groupId", &group.id)])?;
        let resp = self
            .send(ApiRequest::new(method, path, self.auth(group.owner)).json(proposal))
            .await?;
        if (200..300).contains(&resp.status) {
            group.pending.push(proposal.clone());
        }
        Ok(resp)
    }

    /// The owner commits the pending proposals; on success the local group advances.
    pub async fn commit(&mut self, group: &mut LiveGroup) -> Result<(Value, ApiResponse), Finding> {
        let (commit, welcome, _) = group
            .mls
            .commit_to_pending_proposals(&group.client.provider, &group.client.key)
            .map_err(Finding::harness)?;
        self.submit_commit(group, commit, welcome).await
    }

    /// Submits a commit the owner's MLS group just staged; merges it on success, discards it
    /// otherwise.
    pub async fn submit_commit(
        &mut self,
        group: &mut LiveGroup,
        commit: MlsMessageOut,
        welcome: Option<MlsMessageOut>,
    ) -> Result<(Value, ApiResponse), Finding> {
        let epoch = group.mls.epoch().as_u64();
        let body = commit_json(&group.id, epoch, &group.pending, &commit, welcome.as_ref())?;
        let (method, path) = self.route("groups_submitCommit", &[("groupId", &group.id)])?;
        let resp = self
            .send(ApiRequest::new(method, path, self.auth(group.owner)).json(&body))
            .await?;
        if (200..300).contains(&resp.status) {
            group
                .mls
                .merge_pending_commit(&group.client.provider)
                .map_err(Finding::harness)?;
            group.pending.clear();
        } else {
            group
                .mls
                .clear_pending_commit(group.client.provider.storage())
                .map_err(Finding::harness)?;
        }
        Ok((body, resp))
    }

    /// The shared fixture: alice's group with bob added (created on first use; a check that
    /// needs it while another creates it waits for that one). The checks that use it judge
    /// something else, so a target failure while building it leaves them "not reached"; the
    /// steps themselves are judged by the operation checks (`groups_createGroup.success`, ...).
    pub async fn established(&mut self) -> Result<Arc<Established>, Finding> {
        self.build_established()
            .await
            .map_err(|f| f.not_reached("the shared group (alice creates it and adds bob)"))
    }

    async fn build_established(&mut self) -> Result<Arc<Established>, Finding> {
        let cell = self.established.clone();
        let mut slot = cell.lock().await;
        if let Some(established) = slot.as_ref() {
            return Ok(established.clone());
        }
        let (mut group, _) = self.create_group(ALICE).await?;
        let (_, resp) = self.propose_add(&mut group, BOB).await?;
        expect_status(&resp, &[204], "the Add proposal to be accepted")?;
        let (_, resp) = self.commit(&mut group).await?;
        expect_status(&resp, &[200], "the commit to be accepted")?;
        let welcome = resp
            .json()
            .ok_or_else(|| Finding::mismatch("a Welcome JSON body", resp.text()))?;
        let established = Arc::new(Established { group, welcome });
        *slot = Some(established.clone());
        Ok(established)
    }

    pub async fn established_id(&mut self) -> Result<String, Finding> {
        Ok(self.established().await?.group.id.clone())
    }
}

/// The finding for a request that got no response.
pub fn http_finding(error: Error) -> Finding {
    match error {
        Error::Transport(why) => Finding::mismatch("an HTTP response", why),
        other => Finding::harness(other),
    }
}

/// The operations the group and suite checks drive: without all of them those checks are not
/// listed.
pub const GROUP_OPERATIONS: [&str; 6] = [
    "groups_createGroup",
    "groups_submitProposal",
    "groups_submitCommit",
    "members_getMembers",
    "keypackages_addKeyPackages",
    "keypackages_discoverKeyPackages",
];

/// How long identify waits for our profile's ready event before asking the text's question.
const READY_WAIT: Duration = Duration::from_secs(1);

/// A service no server offers: asking for it after identify must be answered (success false),
/// never closed with 4003.
const PROBE_SERVICE: &str = "p2mls-identify-probe";

impl Ctx {
    /// The gateway URL: `GET /.p2/core/v1/gateway`, else the config's, else unsupported.
    pub async fn gateway_url(&mut self) -> Result<String, Finding> {
        let known = self
            .gateway_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(url) = known {
            return Ok(url);
        }
        let req = ApiRequest::new(Method::GET, p2mls_protocol::gateway::DISCOVERY, Auth::None);
        let recorded = self.recorder.exchanges.len();
        let resp = self.send(req).await?;
        let discovered = resp
            .json()
            .filter(|_| resp.status == 200)
            .and_then(|v| v["url"].as_str().map(str::to_owned));
        // The discovery is the run's, not the check's evidence; what the check sent before stays.
        self.recorder.exchanges.truncate(recorded);
        let url = discovered
            .or_else(|| self.gateway_config.0.clone())
            .ok_or_else(|| {
                Finding::Unsupported(
                    "the target has no gateway discovery route and the config names no gateway_url"
                        .into(),
                )
            })?;
        *self.gateway_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        Ok(url)
    }

    pub fn event_timeout(&self) -> Duration {
        self.gateway_config.1
    }

    /// Opens a gateway connection named `label` and reads the hello.
    pub async fn gateway(&mut self, label: &str) -> Result<(GatewayClient, Value), Finding> {
        self.gateway_with_tcp(label, None).await
    }

    /// Like `gateway`, on a narrow TCP connection when `narrow` is given.
    pub async fn gateway_with_tcp(
        &mut self,
        label: &str,
        narrow: Option<NarrowTcp>,
    ) -> Result<(GatewayClient, Value), Finding> {
        let url = self.gateway_url().await?;
        let transcript = self.recorder.transcript.clone();
        let mut client = GatewayClient::connect_with_tcp(
            &url,
            label,
            transcript,
            self.http.timeout(),
            &self.tls,
            narrow,
        )
        .await
        .map_err(|e| Finding::mismatch("a WebSocket connection to the gateway", e))?;
        let timeout = self.event_timeout();
        let hello = client
            .expect(timeout, "hello", |_| true)
            .await
            .map_err(|e| Finding::mismatch("a hello event", e))?;
        Ok((client, hello))
    }

    /// A connection of `actor`, identified (the ready event received).
    pub async fn identified(&mut self, actor: usize) -> Result<GatewayClient, Finding> {
        self.identified_with_tcp(actor, None).await
    }

    /// Like `identified`, on a narrow TCP connection when `narrow` is given.
    pub async fn identified_with_tcp(
        &mut self,
        actor: usize,
        narrow: Option<NarrowTcp>,
    ) -> Result<GatewayClient, Finding> {
        let label = format!(
            "{}#{}",
            self.actors[actor].label.to_lowercase(),
            self.counter
        );
        self.counter += 1;
        let token = self.actors[actor].token.clone();
        let (client, _) = self.gateway_with_tcp(&label, narrow).await?;
        self.identify_on(client, &token).await
    }

    /// A connection named `label`, identified with the session token `token` (the ready event
    /// received, or identify otherwise seen to be accepted). Events before that are kept in the
    /// client's `skipped`.
    pub async fn identified_with(
        &mut self,
        token: &str,
        label: &str,
    ) -> Result<GatewayClient, Finding> {
        let (client, _) = self.gateway(label).await?;
        self.identify_on(client, token).await
    }

    /// Identifies an open connection with the session token `token`, as `identified_with` does.
    async fn identify_on(
        &mut self,
        mut client: GatewayClient,
        token: &str,
    ) -> Result<GatewayClient, Finding> {
        client.identify(token).await.map_err(Finding::harness)?;
        // Our profile confirms identify with a ready event (core op 12); the text confirms
        // nothing. Without op 12, a request only an identified client may make (a service
        // channel action: before identify it closes with 4003) tells whether identify took.
        let ready = client
            .expect(
                READY_WAIT.min(self.event_timeout()),
                "the ready event",
                |e| e["n"] == NS_CORE && e["op"] == core_op::READY,
            )
            .await;
        if ready.is_err() {
            client
                .service("subscribe", PROBE_SERVICE)
                .await
                .map_err(|e| Finding::mismatch("identify to be accepted", e.to_string()))?;
            client
                .expect(
                    self.event_timeout(),
                    "a service channel answer (core op 9)",
                    |e| e["n"] == NS_CORE && e["op"] == core_op::SERVICE_CHANNEL_ACK,
                )
                .await
                .map_err(|e| {
                    Finding::mismatch(
                        "identify to be accepted: the socket open and a service channel request answered",
                        e.to_string(),
                    )
                })?;
        }
        Ok(client)
    }
}

/// The Proposal JSON for a member's proposal message (PROFILE.proposal-summary).
pub fn proposal_json(message: &MlsMessageOut, kind: &str) -> Result<Value, Finding> {
    let bytes = message.tls_serialize_detached().map_err(Finding::harness)?;
    proposal_json_bytes(&bytes, kind)
}

/// The Proposal JSON for the bytes of a proposal MLSMessage of any implementation.
pub fn proposal_json_bytes(bytes: &[u8], kind: &str) -> Result<Value, Finding> {
    let (rest, _membership_tag) = wire::split_trailing_opaque(bytes, 32)
        .ok_or_else(|| Finding::harness("proposal lacks a membership tag"))?;
    let (_, signature) = wire::split_trailing_opaque(rest, 64)
        .ok_or_else(|| Finding::harness("proposal lacks a signature"))?;
    Ok(json!({
        "id": hex::encode(Sha256::digest(bytes)),
        "type": kind,
        "signature": B64.encode(signature),
        "mlsMessage": B64.encode(bytes),
    }))
}

/// The Commit JSON for a member's commit message (PROFILE.commit-summary).
pub fn commit_json(
    group_id: &str,
    epoch: u64,
    pending: &[Value],
    commit: &MlsMessageOut,
    welcome: Option<&MlsMessageOut>,
) -> Result<Value, Finding> {
    let bytes = commit.tls_serialize_detached().map_err(Finding::harness)?;
    let welcome = match welcome {
        Some(w) => Some(w.tls_serialize_detached().map_err(Finding::harness)?),
        None => None,
    };
    commit_json_bytes(group_id, epoch, pending, &bytes, welcome.as_deref())
}

/// The Commit JSON for the bytes of a commit (and Welcome) MLSMessage of any implementation.
pub fn commit_json_bytes(
    group_id: &str,
    epoch: u64,
    pending: &[Value],
    bytes: &[u8],
    welcome: Option<&[u8]>,
) -> Result<Value, Finding> {
    let mut rest = bytes;
    for _ in 0..2 {
        rest = wire::split_trailing_opaque(rest, 32)
            .ok_or_else(|| Finding::harness("commit lacks its tags"))?
            .0;
    }
    let (_, signature) = wire::split_trailing_opaque(rest, 64)
        .ok_or_else(|| Finding::harness("commit lacks a signature"))?;
    let mut body = json!({
        "id": hex::encode(Sha256::digest(bytes)),
        "groupId": group_id,
        "epoch": epoch + 1,
        "proposals": pending,
        "signature": B64.encode(signature),
        "mlsMessage": B64.encode(bytes),
    });
    if let Some(welcome) = welcome {
        body["welcome"] = json!(B64.encode(welcome));
    }
    Ok(body)
}

/// Requires one of the statuses (`matchers::response::status`).
pub fn expect_status(resp: &ApiResponse, expected: &[u16], what: &str) -> CheckResult {
    Ok(response::status(resp, expected, what)?)
}

/// Any client error (4xx): what the text asks for where it says "refused" and names no status
/// (`matchers::response::client_error`).
pub fn expect_client_error(resp: &ApiResponse, what: &str) -> CheckResult {
    Ok(response::client_error(resp, what)?)
}

/// An error answer: the status and a PROFILE.error-body (`matchers::response::error_answer`).
pub fn expect_error(resp: &ApiResponse, status: u16, what: &str) -> CheckResult {
    Ok(response::error_answer(resp, status, what)?)
}

pub use crate::matchers::response::{is_error_body, snippet};

/// The Welcome in a JSON object's base64 `mlsMessage`.
pub fn decode_welcome(object: &Value) -> Result<Welcome, Finding> {
    let bytes = mls_message(object, MlsObject::Welcome)?;
    match MlsMessageIn::tls_deserialize_exact(&bytes)
        .map_err(|e| Finding::mismatch("a Welcome MLSMessage", e.to_string()))?
        .extract()
    {
        MlsMessageBodyIn::Welcome(w) => Ok(w),
        _ => Err(Finding::mismatch(
            "a Welcome MLSMessage",
            "another message type",
        )),
    }
}

/// The kinds of JSON object that carry MLS bytes in `mlsMessage`, for the finding when one does
/// not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlsObject {
    KeyPackage,
    Proposal,
    Commit,
    Welcome,
    RelayedMessage,
}

impl MlsObject {
    fn name(self) -> &'static str {
        match self {
            MlsObject::KeyPackage => "KeyPackage",
            MlsObject::Proposal => "Proposal",
            MlsObject::Commit => "Commit",
            MlsObject::Welcome => "Welcome",
            MlsObject::RelayedMessage => "relayed message",
        }
    }

    /// The profile rule that gives the object its `mlsMessage`.
    fn rule(self) -> &'static str {
        match self {
            MlsObject::RelayedMessage => "PROFILE.message-relay",
            _ => "PROFILE.mls-message-field",
        }
    }
}

/// The MLS bytes of a JSON object: the base64 of its `mlsMessage`, which only our profile adds
/// (PROFILE.mls-message-field), so every read of MLS bytes from the target goes through here.
/// Without the member nothing that needs the bytes can proceed: `Finding::ProfileMissing`, which
/// makes a check of the text `unsupported` and fails a PROFILE check. A member that is there but
/// not base64 is the target's mismatch.
pub fn mls_message(object: &Value, kind: MlsObject) -> Result<Vec<u8>, Finding> {
    let Some(value) = object.get("mlsMessage") else {
        return Err(Finding::ProfileMissing(format!(
            "the target's {} carries no mlsMessage ({})",
            kind.name(),
            kind.rule()
        )));
    };
    value
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| {
            Finding::mismatch(
                format!("the {}'s mlsMessage in base64", kind.name()),
                value.to_string(),
            )
        })
}

/// Percent-encodes a path segment (fids contain `@`).
fn encode_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
