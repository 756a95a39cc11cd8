//! The check catalogue. Each check has a stable id, a title, the requirement ids it verifies and
//! a level; `run` dispatches to the function in the module of its spec area.
//!
//! Operation-level checks are generated from the OpenAPI document (every operation, its security
//! and its documented 404), so a `--spec` document with other operations yields other checks.

pub mod context;
pub mod engine;
pub mod gateway;
pub mod groups;
pub mod idcert;
pub mod keypackages;
pub mod operations;
pub mod ratelimit;
pub mod registration;
pub mod suites;
pub mod tls;

use serde::Serialize;

use crate::check::{CheckResult, Finding, Level};
use crate::spec::ApiSpec;
pub use context::Ctx;

/// What a check does; the operation id where it is generated per operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "operation", rename_all = "kebab-case")]
pub enum Kind {
    Success(String),
    MissingToken(String),
    InvalidToken(String),
    NotFoundMissing(String),
    NotFoundForeign(String),
    InvalidJson(String),
    SchemaInvalidBody(String),
    OversizedBody(String),
    KeyPackageOneTime,
    KeyPackageLastResort,
    KeyPackageConcurrent,
    KeyPackageFilterSuite,
    KeyPackageFilterVersion,
    KeyPackageFilterExtension,
    KeyPackageDiscoverEmpty,
    KeyPackageUnknownFid,
    KeyPackageExhaustionLimit,
    KeyPackageMissingSuites,
    KeyPackageRejectTampered,
    KeyPackageRejectExpired,
    KeyPackageRejectForeignCredential,
    KeyPackageRejectUnknownSuite,
    KeyPackageRejectSummaryMismatch,
    KeyPackageRejectOtherActor,
    KeyPackageBatchAtomic,
    KeyPackageRejectExtraPrefix,
    KeyPackageX509Chain,
    KeyPackageTwoLastResorts,
    KeyPackageLimitSwap,
    KeyPackageFidCase,
    GroupMemberFidCase,
    KeyPackageGreaseJoin,
    GroupMembersAfterCommit,
    GroupWelcomeJoins,
    GroupStaleCommit,
    ServerRootCert,
    ActorCerts,
    IdCsrForged(idcert::CsrForgery),
    IdCsrSessionIdInUse,
    IdCsrSecondFactor,
    IdCsrOversizedUnauthenticated,
    IdCsrOversized,
    RegistrationNames,
    GatewayHello,
    GatewayIdentify,
    GatewayClose(gateway::Provocation),
    GatewayHeartbeatAck,
    GatewayHeartbeatResend,
    GatewayHeartbeatRequest,
    GatewaySubscribe,
    GatewayUnsubscribe,
    GatewayUnknownService,
    GatewaySequence,
    GatewayResume,
    GatewayResumeRejected,
    GatewayMlsEvents,
    TlsCertificate,
    TlsHttp2,
    RateLimitSession,
    GatewayWebSocket(gateway::WireFault),
    /// One step of the end-to-end run in a suite (polyproto id).
    Suite(u16, SuiteStep),
    /// The harness's own engine against the RFC 9420 vectors of a suite (polyproto id, wire,
    /// official vector directory).
    Engine(u16, u16, std::path::PathBuf),
}

/// The steps of a suite run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuiteStep {
    KeyPackages,
    GroupJoin,
    ApplicationMessages,
    StaleCommit,
    UpdateRemove,
    OtherSuiteRefused,
}

/// A check as listed and reported.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDef {
    pub id: String,
    pub title: String,
    pub requirements: Vec<String>,
    pub level: Level,
    #[serde(skip)]
    pub kind: Kind,
}

fn def(
    id: impl Into<String>,
    title: impl Into<String>,
    level: Level,
    reqs: &[&str],
    kind: Kind,
) -> CheckDef {
    CheckDef {
        id: id.into(),
        title: title.into(),
        requirements: reqs.iter().map(|r| (*r).to_owned()).collect(),
        level,
        kind,
    }
}

/// Operations whose path carries a group id: their 404 behaviour is checked.
fn takes_group(op: &crate::spec::Operation) -> bool {
    op.path.contains("{groupId}")
}

/// All checks for a spec, sorted by id.
pub fn catalogue(spec: &ApiSpec) -> Vec<CheckDef> {
    use Kind::*;
    use Level::*;
    let mut checks = Vec::new();
    for op in spec.operations.values() {
        let id = &op.id;
        let oas = |aspect: &str| format!("OAS.{id}.{aspect}");
        let known = known_operation(id);
        if known {
            checks.push(CheckDef {
                id: format!("{id}.success"),
                title: format!(
                    "{} {} succeeds with a documented status and a schema-valid body",
                    op.method, op.path
                ),
                requirements: success_requirements(id, oas("success"), oas("schema")),
                level: Must,
                kind: Success(id.clone()),
            });
        }
        if op.secured && known {
            checks.push(CheckDef {
                id: format!("{id}.auth.missing-token"),
                title: format!(
                    "{} {} without a token is refused with 401",
                    op.method, op.path
                ),
                requirements: vec![oas("auth"), "PROFILE.auth-401".into()],
                level: Must,
                kind: MissingToken(id.clone()),
            });
            checks.push(CheckDef {
                id: format!("{id}.auth.invalid-token"),
                title: format!(
                    "{} {} with an unknown token is refused with 401",
                    op.method, op.path
                ),
                requirements: vec![oas("auth"), "PROFILE.auth-401".into()],
                level: Must,
                kind: InvalidToken(id.clone()),
            });
        }
        if op.responses.contains_key("404") && takes_group(op) && known {
            checks.push(CheckDef {
                id: format!("{id}.not-found.missing"),
                title: format!(
                    "{} {} for a group that does not exist answers 404",
                    op.method, op.path
                ),
                requirements: vec![oas("not-found")],
                level: Must,
                kind: NotFoundMissing(id.clone()),
            });
            checks.push(CheckDef {
                id: format!("{id}.not-found.foreign"),
                title: format!(
                    "{} {} for a group the caller is not in answers the same 404 as a missing one{}",
                    op.method,
                    op.path,
                    if op.request_body.is_empty() {
                        ""
                    } else {
                        ", also with a malformed body"
                    }
                ),
                requirements: if op.request_body.is_empty() {
                    vec![oas("not-found"), "OAS.not-found-ambiguity".into()]
                } else {
                    vec![
                        oas("not-found"),
                        "OAS.not-found-ambiguity".into(),
                        "PROFILE.error-body".into(),
                    ]
                },
                level: Must,
                kind: NotFoundForeign(id.clone()),
            });
        }
        if !op.request_body.is_empty() && known {
            let mut bad_request = vec![
                "PROFILE.bad-request-400".to_owned(),
                "PROFILE.no-5xx-for-client-errors".to_owned(),
                "PROFILE.error-body".to_owned(),
            ];
            if id == "keypackages_addKeyPackages" {
                bad_request.push("PROFILE.keypackage-batch-atomic".to_owned());
            }
            checks.push(CheckDef {
                id: format!("{id}.bad-request.invalid-json"),
                title: format!(
                    "{} {} with a body that is not JSON answers 400 with an error body, never 5xx",
                    op.method, op.path
                ),
                requirements: bad_request.clone(),
                level: Profile,
                kind: InvalidJson(id.clone()),
            });
            checks.push(CheckDef {
                id: format!("{id}.bad-request.schema-invalid"),
                title: format!(
                    "{} {} with a schema-invalid JSON body answers 400 with an error body, never 5xx",
                    op.method, op.path
                ),
                requirements: bad_request,
                level: Profile,
                kind: SchemaInvalidBody(id.clone()),
            });
            checks.push(CheckDef {
                id: format!("{id}.bad-request.oversized"),
                title: format!(
                    "{} {} with a body over 4 MiB answers 413 with an error body",
                    op.method, op.path
                ),
                requirements: vec![
                    "PROFILE.body-limit".into(),
                    "PROFILE.no-5xx-for-client-errors".into(),
                    "PROFILE.error-body".into(),
                ],
                level: Profile,
                kind: OversizedBody(id.clone()),
            });
        }
    }
    let kp_ops = spec.operation("keypackages_addKeyPackages").is_some()
        && spec.operation("keypackages_discoverKeyPackages").is_some();
    if kp_ops {
        checks.extend([
            def(
                "keypackages.discover.one-time",
                "A discovered KeyPackage is handed out once, with the uploaded wire bytes",
                Profile,
                &[
                    "PROFILE.keypackage-one-time",
                    "MLS.2.ds-keypackages",
                    "MLS.2.ds-role",
                    "PROFILE.mls-message-field",
                ],
                KeyPackageOneTime,
            ),
            def(
                "keypackages.discover.last-resort",
                "The last-resort KeyPackage serves only when no other matches, and is kept",
                Must,
                &[
                    "OAS.keypackages.last-resort",
                    "PROFILE.keypackage-last-resort-kept",
                ],
                KeyPackageLastResort,
            ),
            def(
                "keypackages.discover.concurrent-distinct",
                "Concurrent discoveries never hand out the same KeyPackage twice",
                Profile,
                &["PROFILE.keypackage-concurrent-distinct"],
                KeyPackageConcurrent,
            ),
            def(
                "keypackages.discover.filter-ciphersuites",
                "Discovery returns only KeyPackages of the requested cipher suites",
                Must,
                &[
                    "OAS.keypackages.discover-filter",
                    "PROFILE.identifier-strings",
                ],
                KeyPackageFilterSuite,
            ),
            def(
                "keypackages.discover.filter-versions",
                "Discovery returns only KeyPackages of the requested protocol versions",
                Must,
                &[
                    "OAS.keypackages.discover-filter",
                    "PROFILE.identifier-strings",
                ],
                KeyPackageFilterVersion,
            ),
            def(
                "keypackages.discover.filter-extensions",
                "Discovery returns only KeyPackages supporting the requested extensions",
                Must,
                &[
                    "OAS.keypackages.discover-filter",
                    "PROFILE.identifier-strings",
                ],
                KeyPackageFilterExtension,
            ),
            def(
                "keypackages.discover.empty",
                "A known actor without matching KeyPackages gets an empty answer",
                Profile,
                &["PROFILE.keypackage-discover-empty"],
                KeyPackageDiscoverEmpty,
            ),
            def(
                "keypackages.discover.fid-case-insensitive",
                "Discovery finds an actor's KeyPackage by its FID in another letter case",
                Profile,
                &["PROFILE.keypackage-one-time"],
                KeyPackageFidCase,
            ),
            def(
                "keypackages.discover.unknown-fid",
                "Discovery for an unknown actor answers 404",
                Profile,
                &["PROFILE.keypackage-discover-empty"],
                KeyPackageUnknownFid,
            ),
            def(
                "keypackages.discover.exhaustion-limit",
                "One requester cannot drain another actor's one-time KeyPackages: past a limit it gets 429 with Retry-After, while other requesters are still served",
                Profile,
                &["PROFILE.keypackage-discovery-limit", "PROFILE.error-body"],
                KeyPackageExhaustionLimit,
            ),
            def(
                "keypackages.discover.missing-ciphersuites",
                "Discovery without the required ciphersuites parameter answers 400",
                Must,
                &["OAS.keypackages.discover-filter", "PROFILE.bad-request-400"],
                KeyPackageMissingSuites,
            ),
            def(
                "keypackages.upload.reject-tampered-signature",
                "A KeyPackage with a tampered signature is refused with its id and a reason",
                Must,
                &[
                    "OAS.keypackages.upload-errors",
                    "PROFILE.keypackage-validation",
                    "MLS.2.as-validate-credentials",
                ],
                KeyPackageRejectTampered,
            ),
            def(
                "keypackages.upload.reject-expired",
                "A KeyPackage whose lifetime has ended is refused",
                Must,
                &[
                    "OAS.keypackages.upload-errors",
                    "PROFILE.keypackage-validation",
                ],
                KeyPackageRejectExpired,
            ),
            def(
                "keypackages.upload.reject-foreign-credential",
                "A KeyPackage whose ID-Cert another CA issued is refused",
                Must,
                &[
                    "OAS.keypackages.upload-errors",
                    "PROFILE.keypackage-credential",
                    "MLS.2.as-validate-credentials",
                    "MLS.2.as-attest-binding",
                ],
                KeyPackageRejectForeignCredential,
            ),
            def(
                "keypackages.upload.reject-unknown-suite",
                "A KeyPackage of a suite outside the registry is refused",
                Must,
                &[
                    "OAS.keypackages.upload-errors",
                    "PROFILE.keypackage-validation",
                    "PROFILE.suite-registry",
                ],
                KeyPackageRejectUnknownSuite,
            ),
            def(
                "keypackages.upload.reject-summary-mismatch",
                "A KeyPackage whose JSON summary disagrees with its bytes is refused",
                Profile,
                &[
                    "PROFILE.keypackage-summary",
                    "OAS.keypackages.upload-errors",
                ],
                KeyPackageRejectSummaryMismatch,
            ),
            def(
                "keypackages.upload.reject-other-actor",
                "A KeyPackage with another actor's credential is refused",
                Must,
                &["PROFILE.keypackage-credential", "MLS.2.as-attest-binding"],
                KeyPackageRejectOtherActor,
            ),
            def(
                "keypackages.upload.batch-atomic",
                "A batch with one faulty KeyPackage stores none of its packages",
                Profile,
                &[
                    "PROFILE.keypackage-batch-atomic",
                    "OAS.keypackages.upload-errors",
                ],
                KeyPackageBatchAtomic,
            ),
            def(
                "keypackages.upload.x509-credential",
                "A KeyPackage whose X.509 credential holds the ID-Cert and the root in RFC 9420 form is accepted",
                Must,
                &[
                    "PROFILE.keypackage-credential",
                    "MLS.3.rfc9420-basis",
                    "MLS.2.as-validate-credentials",
                ],
                KeyPackageX509Chain,
            ),
            def(
                "keypackages.upload.reject-extra-prefix-credential",
                "A KeyPackage whose X.509 credential wraps its certificate list in an extra length prefix is refused",
                Profile,
                &[
                    "PROFILE.keypackage-credential",
                    "OAS.keypackages.upload-errors",
                ],
                KeyPackageRejectExtraPrefix,
            ),
            def(
                "keypackages.upload.reject-two-last-resort",
                "A batch with two last-resort KeyPackages of one client is refused and stores nothing",
                Profile,
                &[
                    "PROFILE.keypackage-batch-atomic",
                    "PROFILE.keypackage-last-resort-kept",
                ],
                KeyPackageTwoLastResorts,
            ),
            def(
                "keypackages.upload.limit-last-resort-swap",
                "At the KeyPackage limit one more package gets 413, but a new last-resort package replaces the stored one",
                Profile,
                &[
                    "PROFILE.keypackage-upload-limit",
                    "PROFILE.keypackage-batch-atomic",
                ],
                KeyPackageLimitSwap,
            ),
            def(
                "keypackages.grease.join",
                "A KeyPackage with GREASE values is accepted, handed out whole, and its owner joins a group",
                Must,
                &["MLS.13.5-grease", "MLS.2.ds-keypackages"],
                KeyPackageGreaseJoin,
            ),
        ]);
    }
    let group_ops = [
        "groups_createGroup",
        "groups_submitProposal",
        "groups_submitCommit",
        "members_getMembers",
    ]
    .iter()
    .all(|o| spec.operation(o).is_some());
    if group_ops && kp_ops {
        checks.extend([
            def("groups.members-after-commit", "After a commit that adds a member, the group lists both members and the new epoch", Profile,
                &["PROFILE.group-members", "PROFILE.commit-epoch", "PROFILE.group-create"], GroupMembersAfterCommit),
            def("groups.welcome-joins", "The Welcome the target returns lets the added member join with the same epoch authenticator", Must,
                &["MLS.2.ds-distribute-messages", "PROFILE.commit-summary", "PROFILE.mls-message-field",
                  "MLS.1.suite-default", "MLS.3.rfc9420-basis"], GroupWelcomeJoins),
            def("groups.member-fid-case-insensitive", "A member is found by its FID in another letter case and answered in lowercase", Profile,
                &["PROFILE.group-members"], GroupMemberFidCase),
            def("groups.stale-commit-refused", "A commit for a past epoch is refused with 409 and changes nothing", Profile,
                &["PROFILE.commit-epoch"], GroupStaleCommit),
        ]);
    }
    checks.extend([
        def(
            "idcert.server-root",
            "The home server's ID-Cert is a polyproto root certificate",
            Must,
            &[
                "CORE.6.1.root-ca",
                "CORE.6.1.pdn-server-no-cn",
                "CORE.6.1.pdn-dc",
                "CORE.6.1.critical-extensions",
                "CORE.6.1.x509-v3",
                "PROFILE.server-idcert",
            ],
            ServerRootCert,
        ),
        def(
            "idcert.actor-certs",
            "The ID-Certs the AS issued bind each actor session to its key per polyproto-core 6.1",
            Must,
            &[
                "CORE.6.1.x509-v3",
                "CORE.6.1.pdn-actor-cn",
                "CORE.6.1.pdn-uid-fid",
                "CORE.6.1.pdn-session-id",
                "CORE.6.1.pdn-dc",
                "CORE.6.1.dc-issuer-subject-equal",
                "CORE.6.1.serial-unique",
                "CORE.6.1.validity-within-root",
                "CORE.6.1.session-id-format",
                "CORE.6.1.actor-not-ca",
                "CORE.6.1.actor-key-usage",
                "CORE.6.1.critical-extensions",
                "CORE.6.1.receiver-verify",
                "CORE.6.1.cert-per-session",
                "MLS.2.as-generate-credentials",
                "MLS.2.as-attest-binding",
                "MLS.2.as-role",
                "PROFILE.idcert-issue",
            ],
            ActorCerts,
        ),
        def(
            "idcert.csr.other-actor",
            "An ID-CSR whose common name is another actor's is refused with 400",
            Must,
            &[
                "CORE.6.1.csr-verify",
                "CORE.6.1.pdn-actor-cn",
                "MLS.2.as-attest-binding",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrForged(idcert::CsrForgery::OtherActor),
        ),
        def(
            "idcert.csr.foreign-domain",
            "An ID-CSR naming another server's domain is refused with 400",
            Must,
            &[
                "CORE.6.1.csr-verify",
                "CORE.6.1.pdn-dc",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrForged(idcert::CsrForgery::ForeignDomain),
        ),
        def(
            "idcert.csr.bad-signature",
            "An ID-CSR whose self-signature does not verify is refused with 400",
            Must,
            &[
                "CORE.6.1.csr-verify",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrForged(idcert::CsrForgery::BadSignature),
        ),
        def(
            "idcert.csr.requests-ca",
            "An ID-CSR requesting CA true and keyCertSign is refused with 400",
            Must,
            &[
                "CORE.6.1.csr-verify",
                "CORE.6.1.actor-not-ca",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrForged(idcert::CsrForgery::RequestsCa),
        ),
        def(
            "idcert.csr.session-id-in-use",
            "An ID-CSR for a session id in use is refused with 409, not taken over",
            Must,
            &[
                "CORE.6.1.session-id-unique",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrSessionIdInUse,
        ),
        def(
            "idcert.csr.second-factor",
            "An ID-CSR without the right X-P2-Sensitive-Solution is refused with 403",
            Should,
            &[
                "CORE.6.1.sensitive-action",
                "PROFILE.idcert-issue",
                "PROFILE.error-body",
            ],
            IdCsrSecondFactor,
        ),
        def(
            "idcert.csr.oversized-unauthenticated",
            "An ID-CSR body over 4 MiB without a token gets 401 with an error body (authentication first)",
            Profile,
            &[
                "PROFILE.body-limit",
                "PROFILE.auth-401",
                "PROFILE.error-body",
            ],
            IdCsrOversizedUnauthenticated,
        ),
        def(
            "idcert.csr.oversized",
            "An ID-CSR body over 4 MiB from an authenticated account gets 413 with an error body",
            Profile,
            &["PROFILE.body-limit", "PROFILE.error-body"],
            IdCsrOversized,
        ),
        def(
            "registration.names",
            "Registration accepts exactly the names `[a-z0-9._%+-]{1,64}`",
            Profile,
            &["PROFILE.actor-registration", "PROFILE.error-body"],
            RegistrationNames,
        ),
    ]);
    checks.extend(gateway_checks());
    checks.extend(tls_checks());
    if spec.operation("groups_getGroup").is_some() {
        checks.push(def(
            "ratelimit.session-burst",
            "A burst of requests from one session beyond its limit gets 429 with Retry-After and an error body, and the session is served again after it",
            Level::Profile,
            &["PROFILE.rate-limit", "PROFILE.error-body"],
            Kind::RateLimitSession,
        ));
    }
    if group_ops && kp_ops {
        checks.extend(suite_checks(
            &p2mls_protocol::suites::SuiteRegistry::default(),
        ));
    }
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    checks
}

/// The end-to-end steps for every suite of the registry; the suite is part of the id.
fn suite_checks(registry: &p2mls_protocol::suites::SuiteRegistry) -> Vec<CheckDef> {
    use Level::*;
    use SuiteStep::*;
    let mut out = Vec::new();
    for suite in registry.suites() {
        let id = p2mls_protocol::identifiers::format_code_point(suite.polyproto_id);
        let suite_req = if suite.polyproto_id == 0x0001 {
            "MLS.1.suite-default"
        } else {
            "MLS.1.suite-hybrid-pqs"
        };
        let steps: [(SuiteStep, &str, &str, Level, &[&str]); 6] = [
            (KeyPackages, "1-keypackages", "KeyPackages of the suite (one-time and last resort) are stored and discovered by suite with their exact bytes", Must,
             &["OAS.keypackages.discover-filter", "MLS.2.ds-keypackages", "PROFILE.suite-registry"]),
            (GroupJoin, "2-group-join", "A group of three forms through the target across two MLS implementations: Welcomes both ways over HTTP and the gateway, equal epoch authenticators and member lists", Must,
             &["MLS.2.ds-distribute-messages", "PROFILE.welcome-delivery", "PROFILE.gateway-mls-events", "PROFILE.group-members", "PROFILE.hybrid-interop", "PROFILE.x509-credential"]),
            (ApplicationMessages, "3-application-messages", "Application messages are relayed intact and in order, and decrypt in and out of order within an epoch", Profile,
             &["PROFILE.message-relay", "MLS.2.ds-distribute-messages"]),
            (StaleCommit, "4-stale-commit", "A commit for a past epoch is refused with 409 and members converge on the accepted one", Profile,
             &["PROFILE.commit-epoch", "PROFILE.commit-history"]),
            (UpdateRemove, "5-update-remove", "An update and a remove advance the epoch on every member; the removed member loses the group", Profile,
             &["PROFILE.commit-history", "PROFILE.commit-epoch", "PROFILE.group-members", "PROFILE.proposal-summary"]),
            (OtherSuiteRefused, "6-other-suite-refused", "An Add carrying a KeyPackage of the other suite is refused", Profile,
             &["PROFILE.keypackage-validation", "PROFILE.suite-registry"]),
        ];
        for (step, name, title, level, reqs) in steps {
            let mut requirements: Vec<String> = reqs.iter().map(|r| (*r).to_owned()).collect();
            requirements.insert(0, suite_req.to_owned());
            out.push(CheckDef {
                id: format!("suites.{id}.{name}"),
                title: format!("[{id}] {title}"),
                requirements,
                level,
                kind: Kind::Suite(suite.polyproto_id, step),
            });
        }
    }
    out
}

/// Self-checks of the harness's MLS engine, one per registry suite (`p2mls run --vectors DIR`).
pub fn engine_checks(
    official: &std::path::Path,
    registry: &p2mls_protocol::suites::SuiteRegistry,
) -> Vec<CheckDef> {
    registry
        .suites()
        .iter()
        .map(|suite| {
            let id = p2mls_protocol::identifiers::format_code_point(suite.polyproto_id);
            CheckDef {
                id: format!("engine.{id}.vectors"),
                title: format!(
                    "[{id}] The harness's own MLS engine passes the RFC 9420 vectors of the suite with both back ends"
                ),
                requirements: vec!["MLS.3.rfc9420-basis".into()],
                level: Level::Must,
                kind: Kind::Engine(suite.polyproto_id, suite.wire, official.to_path_buf()),
            }
        })
        .collect()
}

/// TLS checks: judged on https:// targets (the probe handshake), unsupported on plain http://.
fn tls_checks() -> Vec<CheckDef> {
    use Kind::*;
    use Level::*;
    vec![
        def(
            "tls.certificate",
            "An https:// target presents a certificate chain the configured trust anchors accept, valid now, for its host",
            Must,
            &["TLS.https-certificate"],
            TlsCertificate,
        ),
        def(
            "tls.http2",
            "The server offers HTTP/2 (ALPN h2) on TLS",
            Should,
            &["CORE.3.4.http2"],
            TlsHttp2,
        ),
    ]
}

/// Gateway checks: the gateway is not part of the OpenAPI document, so they are always listed.
fn gateway_checks() -> Vec<CheckDef> {
    use gateway::Provocation::*;
    use Kind::*;
    use Level::*;
    let close = |id: &str, title: &str, req: &str, p: gateway::Provocation| {
        def(
            format!("gateway.close.{id}"),
            title,
            Must,
            &["CORE.3.2.close-codes", req],
            GatewayClose(p),
        )
    };
    vec![
        def("gateway.hello", "The first frame is a hello with a heartbeat interval and s = 0", Must,
            &["CORE.3.2.hello", "CORE.3.2.envelope", "CORE.3.2.seq-numbering", "CORE.3.2.heartbeat-interval",
              "CORE.3.2.core-opcodes", "PROFILE.gateway-discovery"], GatewayHello),
        def("gateway.identify", "Identify with a session token is accepted and confirmed", Must,
            &["CORE.3.2.identify", "PROFILE.gateway-ready"], GatewayIdentify),
        close("unknown-opcode", "An unknown opcode closes the connection with 4001", "CORE.3.2.close-4001-unknown-opcode", UnknownOpcode),
        close("invalid-payload", "A frame that is not an event closes the connection with 4002", "CORE.3.2.close-4002-invalid-payload", InvalidPayload),
        close("not-authenticated", "A service channel request before identify closes with 4003", "CORE.3.2.close-4003-not-authenticated", NotAuthenticated),
        close("invalid-authentication", "Identify with an unknown token closes with 4004", "CORE.3.2.close-4004-invalid-authentication", InvalidAuthentication),
        close("already-authenticated", "A second identify closes with 4005", "CORE.3.2.close-4005-already-authenticated", AlreadyAuthenticated),
        close("invalid-sequence", "A heartbeat acknowledging unsent sequence numbers closes with 4007", "CORE.3.2.close-4007-invalid-sequence", InvalidSequence),
        def("gateway.heartbeat.ack", "A heartbeat is acknowledged with an array of re-sent events", Must,
            &["CORE.3.2.heartbeat-ack", "CORE.3.2.heartbeat-ack-payload", "CORE.3.2.heartbeat-payload",
              "CORE.3.2.heartbeat-ack-no-nesting"], GatewayHeartbeatAck),
        def("gateway.heartbeat.resend", "Events listed in `except` are re-sent unchanged in the ACK", Must,
            &["CORE.3.2.missed-resend"], GatewayHeartbeatResend),
        def("gateway.heartbeat.request", "A silent client gets a heartbeat request, then a 4009 close", Should,
            &["CORE.3.2.heartbeat-request-before-close", "CORE.3.2.heartbeat-timeout-close",
              "CORE.3.2.heartbeat-request", "CORE.3.2.heartbeat-request-payload", "CORE.3.2.close-4009-timeout"],
            GatewayHeartbeatRequest),
        def("gateway.service.subscribe", "Subscribing to `mls` is acknowledged with success", Must,
            &["CORE.3.2.service-channel-subscribe", "CORE.3.2.service-channel-ack", "MLS.4.gateway-namespace",
              "MLS.4.subscribe"], GatewaySubscribe),
        def("gateway.service.unsubscribe", "Unsubscribing from `mls` is acknowledged with success", Must,
            &["CORE.3.2.service-channel-unsubscribe", "CORE.3.2.service-channel-ack"], GatewayUnsubscribe),
        def("gateway.service.unknown", "An unknown service is refused with success false and an error", Must,
            &["CORE.3.2.service-channel-ack"], GatewayUnknownService),
        def("gateway.sequence", "Sequence numbers start at 0 and grow by one per server message", Must,
            &["CORE.3.2.seq-numbering"], GatewaySequence),
        def("gateway.resume", "A resumed session gets the events it missed while disconnected", May,
            &["CORE.3.2.resume", "CORE.3.2.resumed", "CORE.3.2.resumed-minimal"], GatewayResume),
        def("gateway.resume.rejected", "A resume the server cannot serve is closed with 4010", Must,
            &["CORE.3.2.resume-reject", "CORE.3.2.close-4010-unresumeable"], GatewayResumeRejected),
        def("gateway.websocket.protocol-errors", "Reserved opcodes, RSV bits, unmasked or stray continuation frames and oversized pings get a close frame with 1002", Profile,
            &["PROFILE.gateway-websocket"], GatewayWebSocket(gateway::WireFault::ProtocolErrors)),
        def("gateway.websocket.invalid-utf8", "A text frame that is not UTF-8 gets a close frame with 1007 (or 4002)", Profile,
            &["PROFILE.gateway-websocket"], GatewayWebSocket(gateway::WireFault::InvalidUtf8)),
        def("gateway.websocket.frame-too-large", "A frame over 64 KiB gets a close frame with 1009", Profile,
            &["PROFILE.gateway-websocket"], GatewayWebSocket(gateway::WireFault::FrameTooLarge)),
        def("gateway.websocket.close-echo", "A client's close frame (1000) is echoed", Profile,
            &["PROFILE.gateway-websocket"], GatewayWebSocket(gateway::WireFault::CloseEcho)),
        def("gateway.mls.events", "Subscribed members receive proposal and commit events in order, invitees their Welcome", Profile,
            &["PROFILE.gateway-mls-events", "MLS.2.ds-distribute-messages", "MLS.4.gateway-namespace"], GatewayMlsEvents),
    ]
}

/// Requirements a success check verifies besides its operation's own.
fn success_requirements(op: &str, success: String, schema: String) -> Vec<String> {
    let mut reqs = vec![
        success,
        schema,
        "MLS.3.base-path".into(),
        "MLS.3.openapi-contract".into(),
    ];
    if op.starts_with("keypackages_") {
        reqs.push("OAS.keypackages.id-length".into());
    }
    reqs
}

/// Operations whose happy path the harness knows how to drive.
fn known_operation(id: &str) -> bool {
    operations::KNOWN.contains(&id)
}

/// Runs one check.
pub async fn run(kind: &Kind, ctx: &mut Ctx) -> CheckResult {
    use Kind::*;
    if let Some(why) = &ctx.blocked {
        if !matches!(kind, TlsCertificate | TlsHttp2) {
            return Err(Finding::harness(format!("not run: {why}")));
        }
    }
    match kind {
        TlsCertificate => tls::certificate(ctx).await,
        TlsHttp2 => tls::http2(ctx).await,
        RateLimitSession => ratelimit::session_burst(ctx).await,
        Success(op) => operations::success(ctx, op).await,
        MissingToken(op) => operations::missing_token(ctx, op).await,
        InvalidToken(op) => operations::invalid_token(ctx, op).await,
        NotFoundMissing(op) => operations::not_found_missing(ctx, op).await,
        NotFoundForeign(op) => operations::not_found_foreign(ctx, op).await,
        InvalidJson(op) => operations::invalid_json(ctx, op).await,
        SchemaInvalidBody(op) => operations::schema_invalid(ctx, op).await,
        OversizedBody(op) => operations::oversized(ctx, op).await,
        KeyPackageOneTime => keypackages::one_time(ctx).await,
        KeyPackageLastResort => keypackages::last_resort(ctx).await,
        KeyPackageConcurrent => keypackages::concurrent(ctx).await,
        KeyPackageFilterSuite => keypackages::filter_suite(ctx).await,
        KeyPackageFilterVersion => keypackages::filter_version(ctx).await,
        KeyPackageFilterExtension => keypackages::filter_extension(ctx).await,
        KeyPackageDiscoverEmpty => keypackages::discover_empty(ctx).await,
        KeyPackageUnknownFid => keypackages::unknown_fid(ctx).await,
        KeyPackageExhaustionLimit => keypackages::exhaustion_limit(ctx).await,
        KeyPackageMissingSuites => keypackages::missing_suites(ctx).await,
        KeyPackageRejectTampered => {
            keypackages::reject(ctx, keypackages::Defect::TamperedSignature).await
        }
        KeyPackageRejectExpired => keypackages::reject(ctx, keypackages::Defect::Expired).await,
        KeyPackageRejectForeignCredential => {
            keypackages::reject(ctx, keypackages::Defect::ForeignCredential).await
        }
        KeyPackageRejectUnknownSuite => {
            keypackages::reject(ctx, keypackages::Defect::UnknownSuite).await
        }
        KeyPackageRejectSummaryMismatch => {
            keypackages::reject(ctx, keypackages::Defect::SummaryMismatch).await
        }
        KeyPackageRejectOtherActor => {
            keypackages::reject(ctx, keypackages::Defect::OtherActor).await
        }
        KeyPackageBatchAtomic => keypackages::batch_atomic(ctx).await,
        KeyPackageRejectExtraPrefix => {
            keypackages::reject(ctx, keypackages::Defect::ExtraPrefixCredential).await
        }
        KeyPackageX509Chain => keypackages::x509_chain(ctx).await,
        KeyPackageTwoLastResorts => keypackages::two_last_resorts(ctx).await,
        KeyPackageLimitSwap => keypackages::limit_swap(ctx).await,
        KeyPackageFidCase => keypackages::fid_case(ctx).await,
        GroupMemberFidCase => groups::member_fid_case(ctx).await,
        KeyPackageGreaseJoin => keypackages::grease_join(ctx).await,
        GroupMembersAfterCommit => groups::members_after_commit(ctx).await,
        GroupWelcomeJoins => groups::welcome_joins(ctx).await,
        GroupStaleCommit => groups::stale_commit(ctx).await,
        ServerRootCert => idcert::server_root_cert(ctx).await,
        ActorCerts => idcert::actor_certs(ctx).await,
        IdCsrForged(forgery) => idcert::refuse_forged_csr(ctx, *forgery).await,
        IdCsrSessionIdInUse => idcert::refuse_session_id_in_use(ctx).await,
        IdCsrSecondFactor => idcert::refuse_without_second_factor(ctx).await,
        IdCsrOversizedUnauthenticated => idcert::oversized_unauthenticated(ctx).await,
        IdCsrOversized => idcert::oversized(ctx).await,
        RegistrationNames => registration::names(ctx).await,
        GatewayHello => gateway::hello(ctx).await,
        GatewayIdentify => gateway::identify(ctx).await,
        GatewayClose(p) => gateway::close_code(ctx, *p).await,
        GatewayHeartbeatAck => gateway::heartbeat_ack(ctx).await,
        GatewayHeartbeatResend => gateway::heartbeat_resend(ctx).await,
        GatewayHeartbeatRequest => gateway::heartbeat_request(ctx).await,
        GatewaySubscribe => gateway::subscribe(ctx).await,
        GatewayUnsubscribe => gateway::unsubscribe(ctx).await,
        GatewayUnknownService => gateway::unknown_service(ctx).await,
        GatewaySequence => gateway::sequence(ctx).await,
        GatewayResume => gateway::resume(ctx).await,
        GatewayResumeRejected => gateway::resume_rejected(ctx).await,
        GatewayMlsEvents => gateway::mls_events(ctx).await,
        GatewayWebSocket(fault) => gateway::websocket(ctx, *fault).await,
        Engine(id, wire, dir) => engine::self_check(dir.clone(), *id, *wire).await,
        Suite(id, step) => match step {
            SuiteStep::KeyPackages => suites::keypackages(ctx, *id).await,
            SuiteStep::GroupJoin => suites::group_join(ctx, *id).await,
            SuiteStep::ApplicationMessages => suites::application_messages(ctx, *id).await,
            SuiteStep::StaleCommit => suites::stale_commit(ctx, *id).await,
            SuiteStep::UpdateRemove => suites::update_remove(ctx, *id).await,
            SuiteStep::OtherSuiteRefused => suites::other_suite_refused(ctx, *id).await,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalogue::requirements;

    #[test]
    fn every_cited_requirement_exists() {
        let known: BTreeSet<String> = requirements().into_iter().map(|r| r.id).collect();
        for check in catalogue(&ApiSpec::default_spec()) {
            for req in &check.requirements {
                assert!(
                    known.contains(req),
                    "{} cites unknown requirement {req}",
                    check.id
                );
            }
        }
    }

    #[test]
    fn every_must_is_checked_or_explains_why_not() {
        let checked: BTreeSet<String> = catalogue(&ApiSpec::default_spec())
            .into_iter()
            .flat_map(|c| c.requirements)
            .collect();
        let missing: Vec<String> = requirements()
            .into_iter()
            .filter(|r| {
                r.level == Level::Must && !checked.contains(&r.id) && r.not_checked.is_none()
            })
            .map(|r| r.id)
            .collect();
        assert!(
            missing.is_empty(),
            "MUST requirements without a check or a reason: {missing:?}"
        );
    }

    #[test]
    fn no_covered_requirement_claims_it_is_not_checked() {
        let checked: BTreeSet<String> = catalogue(&ApiSpec::default_spec())
            .into_iter()
            .flat_map(|c| c.requirements)
            .collect();
        let stale: Vec<String> = requirements()
            .into_iter()
            .filter(|r| r.not_checked.is_some() && checked.contains(&r.id))
            .map(|r| r.id)
            .collect();
        assert!(
            stale.is_empty(),
            "checked requirements with a stale not_checked reason: {stale:?}"
        );
    }

    #[test]
    fn check_ids_are_unique_and_sorted() {
        let checks = catalogue(&ApiSpec::default_spec());
        let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ids);
    }
}
