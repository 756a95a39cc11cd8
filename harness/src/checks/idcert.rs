//! The AS side of polyproto-core §6.1 as seen from outside: the home server's root ID-Cert, the
//! actor ID-Certs it issued to the harness's sessions, and its refusal of ID-CSRs it must not
//! sign (forged claims, a session id in use, no second factor).

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
// Building ID-CSRs (requests) with the shared format code is fine; judging what the target
// answers is done with `matchers::idcert` only.
use p2mls_protocol::idcert::{
    build_csr, build_csr_requesting, build_csr_signed_by, build_csr_with_bare_ca_attributes,
    csr_with_flipped_signature,
};
use p2mls_protocol::routes;
use reqwest::Method;
use serde::Serialize;
use x509_parser::prelude::{X509Certificate, X509Version};

use super::context::{expect_client_error, expect_error, expect_status, Ctx, ALICE, BOB};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding};
use crate::clients::actors::Account;
use crate::clients::http::{ApiRequest, ApiResponse, Auth};
use crate::matchers::idcert as judge;
use crate::weak_ed25519;

/// The ID-Cert checks: the served root, the issued actor certificates and ID-CSR refusals.
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    vec![
        CheckDef::new("idcert.server-root", Must, "The home server's ID-Cert is a polyproto root certificate")
            .requires(&["CORE.6.1.root-ca", "CORE.6.1.pdn-server-no-cn", "CORE.6.1.pdn-dc", "CORE.6.1.critical-extensions", "CORE.6.1.x509-v3", "PROFILE.server-idcert"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(server_root_cert(ctx))),
        CheckDef::new("idcert.actor-lookup", Must, "An actor's ID-Certs are offered on request, for its session and for a given time")
            .requires(&["CORE.6.1.3.certs-on-request", "CORE.6.4.cache-signature"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(actor_lookup(ctx))),
        CheckDef::new("idcert.actor-lookup.fid-any-case", Must, "An actor's ID-Certs are found by its FID in another letter case")
            .requires(&["CORE.5.fid-case-insensitive"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(actor_lookup_any_case(ctx))),
        CheckDef::new("idcert.actor-certs", Must, "The ID-Certs the AS issued bind each actor session to its key per polyproto-core 6.1")
            .requires(&["CORE.6.1.x509-v3", "CORE.6.1.pdn-actor-cn", "CORE.6.1.pdn-uid-fid", "CORE.6.1.pdn-session-id", "CORE.6.1.pdn-dc", "CORE.6.1.dc-issuer-subject-equal", "CORE.6.1.serial-unique", "CORE.6.1.validity-within-root", "CORE.6.1.session-id-format", "CORE.6.1.actor-not-ca", "CORE.6.1.actor-key-usage", "CORE.6.1.critical-extensions", "MLS.2.as-generate-credentials", "MLS.2.as-attest-binding", "MLS.2.as-role", "PROFILE.idcert-issue"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(actor_certs(ctx))),
        CheckDef::new("idcert.actor-cert-lifetime", Should, "The actor ID-Certs the server issued are valid for at most 60 days")
            .requires(&["CORE.6.1.3.actor-cert-lifetime"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(actor_cert_lifetime(ctx))),
        CheckDef::new("idcert.csr.other-actor", Must, "An ID-CSR whose common name is another actor's is refused, and no ID-Cert is issued")
            .requires(&["CORE.6.1.csr-verify", "CORE.6.1.pdn-actor-cn", "MLS.2.as-attest-binding"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::OtherActor, false))),
        CheckDef::new("idcert.csr.other-actor-400", Profile, "An ID-CSR whose common name is another actor's is refused with 400 and an error body")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::OtherActor, true))),
        CheckDef::new("idcert.csr.foreign-domain", Must, "An ID-CSR naming another server's domain is refused, and no ID-Cert is issued")
            .requires(&["CORE.6.1.csr-verify", "CORE.6.1.pdn-dc"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::ForeignDomain, false))),
        CheckDef::new("idcert.csr.foreign-domain-400", Profile, "An ID-CSR naming another server's domain is refused with 400 and an error body")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::ForeignDomain, true))),
        CheckDef::new("idcert.csr.bad-signature", Must, "An ID-CSR whose self-signature does not verify is refused, and no ID-Cert is issued")
            .requires(&["CORE.6.1.csr-verify"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::BadSignature, false))),
        CheckDef::new("idcert.csr.bad-signature-400", Profile, "An ID-CSR whose self-signature does not verify is refused with 400 and an error body")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::BadSignature, true))),
        CheckDef::new("idcert.csr.requests-ca", Must, "An ID-CSR requesting CA true and keyCertSign is refused, in extensionRequest or as bare attributes, and no ID-Cert is issued")
            .requires(&["CORE.6.1.csr-verify", "CORE.6.1.actor-not-ca"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::RequestsCa, false))),
        CheckDef::new("idcert.csr.requests-ca-400", Profile, "An ID-CSR requesting CA rights is refused with 400 and an error body, in extensionRequest or as bare attributes")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_forged_csr(ctx, CsrForgery::RequestsCa, true))),
        CheckDef::new("idcert.csr.weak-key", Must, "An ID-CSR whose Ed25519 key has small order, in any encoding, is refused with a client error")
            .requires(&["CORE.6.2.1.weak-keys-refused", "CORE.6.1.csr-verify"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_weak_key_csr(ctx))),
        CheckDef::new("idcert.csr.malleable-signature", Must, "An ID-CSR whose self-signature carries S + L (the malleable form) is refused with a client error")
            .requires(&["CORE.6.2.1.malleable-signatures-refused", "CORE.6.1.csr-verify"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_malleable_csr(ctx))),
        CheckDef::new("idcert.csr.session-id-in-use", Must, "An ID-CSR for a session id in use is refused, not taken over, and no ID-Cert is issued")
            .requires(&["CORE.6.1.session-id-unique"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_session_id_in_use(ctx, false))),
        CheckDef::new("idcert.csr.session-id-in-use-409", Profile, "An ID-CSR for a session id in use is refused with 409 and an error body")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_session_id_in_use(ctx, true))),
        CheckDef::new("idcert.csr.second-factor", Must, "An ID-CSR without the right X-P2-Sensitive-Solution is refused, and no ID-Cert is issued")
            .requires(&["CORE.6.1.sensitive-action"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_without_second_factor(ctx, false))),
        CheckDef::new("idcert.csr.second-factor-403", Profile, "An ID-CSR without the right X-P2-Sensitive-Solution is refused with 403 and an error body")
            .requires(&["PROFILE.idcert-issue", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refuse_without_second_factor(ctx, true))),
        CheckDef::new("idcert.csr.subject-verbatim", Profile, "An issued ID-Cert's subject is the ID-CSR's subject Name, byte for byte")
            .requires(&["PROFILE.idcert-issue"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(subject_verbatim(ctx))),
        CheckDef::new("idcert.csr.oversized-unauthenticated", Profile, "An ID-CSR body over 4 MiB without a token gets 401 with an error body (authentication first)")
            .requires(&["PROFILE.body-limit", "PROFILE.auth-401", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(oversized_unauthenticated(ctx))),
        CheckDef::new("idcert.csr.oversized", Profile, "An ID-CSR body over 4 MiB from an authenticated account gets 413 with an error body")
            .requires(&["PROFILE.body-limit", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(oversized(ctx))),
    ]
}

const OID_DC: &str = "0.9.2342.19200300.100.1.25";
const OID_CN: &str = "2.5.4.3";

/// Fetches and parses the server's root ID-Cert (DER) for a check that judges something else
/// with it: when the target does not give it, that check is not reached (the root's own check
/// judges the answer).
pub(crate) async fn server_root(ctx: &mut Ctx) -> Result<Vec<u8>, Finding> {
    let (_, der) = server_root_answer(ctx)
        .await
        .map_err(|f| f.not_reached("fetching the server's root ID-Cert"))?;
    Ok(der)
}

/// The server's ID-Cert answer (the JSON) and its certificate (DER).
async fn server_root_answer(ctx: &mut Ctx) -> Result<(serde_json::Value, Vec<u8>), Finding> {
    let resp = ctx
        .send(ApiRequest::new(
            Method::GET,
            routes::SERVER_IDCERT,
            Auth::None,
        ))
        .await?;
    expect_status(&resp, &[200], "the server's ID-Cert")?;
    let body = resp.json().unwrap_or_default();
    for field in ["cacheNotValidBefore", "cacheNotValidAfter"] {
        if !body[field].is_u64() {
            return Err(Finding::mismatch(
                format!("{field} as a UNIX timestamp"),
                body[field].to_string(),
            ));
        }
    }
    if !body["cacheSignature"].is_string() {
        return Err(Finding::mismatch(
            "a cacheSignature string",
            body["cacheSignature"].to_string(),
        ));
    }
    let pem = body["idCertPem"].as_str().ok_or_else(|| {
        Finding::mismatch("idCertPem holding a PEM certificate", body.to_string())
    })?;
    let der = judge::pem_to_der(pem)
        .map_err(|e| Finding::mismatch("a PEM certificate in idCertPem", e.to_string()))?;
    Ok((body, der))
}

/// PROFILE.server-idcert (core 6.4): the cache window holds now, and `cacheSignature` is hex of
/// the root key's Ed25519 signature over the serial number of `cert` and the cache bounds (and
/// `invalidatedAt`, if present) in decimal, concatenated. Verified with ed25519-dalek against the
/// key of `signer`: the root, itself for the server's entry.
pub(crate) fn cache_problems(
    body: &serde_json::Value,
    cert: &X509Certificate<'_>,
    signer: &X509Certificate<'_>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (Some(before), Some(after)) = (
        body["cacheNotValidBefore"].as_u64(),
        body["cacheNotValidAfter"].as_u64(),
    ) else {
        return vec!["cache bounds are not UNIX timestamps".into()];
    };
    problems.extend(judge::cache_window_problem(
        before,
        after,
        judge::unix_now(),
    ));
    let mut signed = format!("{}{before}{after}", cert.tbs_certificate.serial);
    if let Some(at) = body["invalidatedAt"].as_u64() {
        signed.push_str(&at.to_string());
    }
    let signature = body["cacheSignature"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok());
    let key = judge::ed25519_key(signer)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok());
    match (signature, key) {
        (None, _) => problems.push(format!(
            "cacheSignature is not the hex of a 64-byte signature: {}",
            body["cacheSignature"]
        )),
        (_, None) => problems.push("the root's key is not an Ed25519 key".into()),
        (Some(signature), Some(key)) => {
            if key.verify_strict(signed.as_bytes(), &signature).is_err() {
                problems.push(format!(
                    "cacheSignature does not verify over \"{signed}\" (serial, cacheNotValidBefore, cacheNotValidAfter, invalidatedAt if present) with the root's key"
                ));
            }
        }
    }
    problems
}

pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Finding> {
    judge::parse(der).map_err(|e| Finding::mismatch("a DER X.509 certificate", e))
}

fn dcs(name: &x509_parser::x509::X509Name<'_>) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == OID_DC)
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

type Extension<'a, T> =
    Result<Option<x509_parser::certificate::BasicExtension<&'a T>>, x509_parser::error::X509Error>;

/// basicConstraints as a person reads it (not Rust's debug form).
fn basic_constraints_text(
    ext: &Extension<'_, x509_parser::extensions::BasicConstraints>,
) -> String {
    match ext {
        Ok(None) => "absent".into(),
        Ok(Some(e)) => format!(
            "{}CA {}, path length {}",
            if e.critical {
                "critical, "
            } else {
                "not critical, "
            },
            e.value.ca,
            e.value
                .path_len_constraint
                .map_or("absent".to_owned(), |p| p.to_string())
        ),
        Err(e) => format!("unreadable ({e})"),
    }
}

/// keyUsage as a person reads it.
fn key_usage_text(ext: &Extension<'_, x509_parser::extensions::KeyUsage>) -> String {
    match ext {
        Ok(None) => "absent".into(),
        Ok(Some(e)) => format!(
            "{}{}",
            if e.critical {
                "critical, "
            } else {
                "not critical, "
            },
            e.value
        ),
        Err(e) => format!("unreadable ({e})"),
    }
}

/// Root: v3, CA with path length 0, keyCertSign, both extensions critical, no CN, DCs present.
pub async fn server_root_cert(ctx: &mut Ctx) -> CheckResult {
    let (body, der) = server_root_answer(ctx).await?;
    let cert = parse(&der)?;
    let mut problems = cache_problems(&body, &cert, &cert);
    if cert.version() != X509Version::V3 {
        problems.push("not X.509 v3".to_owned());
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0) => {}
        other => problems.push(format!(
            "basicConstraints not critical CA with pathlen 0: {}",
            basic_constraints_text(&other)
        )),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.critical && ku.value.key_cert_sign() => {}
        other => problems.push(format!(
            "keyUsage not critical with keyCertSign: {}",
            key_usage_text(&other)
        )),
    }
    if cert
        .subject()
        .iter_attributes()
        .any(|a| a.attr_type().to_id_string() == OID_CN)
    {
        problems.push("a home server pDN has a common name".into());
    }
    if dcs(cert.subject()).is_empty() {
        problems.push("no domain component".into());
    }
    if let Err(e) = judge::signed_by(&cert, &cert) {
        problems.push(format!("not self-signed: {e}"));
    } else if let Some(problem) = judge::self_signature_problem(&cert) {
        problems.push(format!("not self-signed: {problem}"));
    }
    problems.extend(judge::validity_problem(&cert, judge::unix_now()));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Finding::mismatch(
            "a polyproto root ID-Cert",
            problems.join("; "),
        ))
    }
}

/// Actor certs: signed by the root, v3, pDN claims, not CA, digitalSignature, critical
/// extensions, DCs equal to the issuer's, validity inside the root's, unique serials.
pub async fn actor_certs(ctx: &mut Ctx) -> CheckResult {
    let root_der = server_root(ctx).await?;
    let root = parse(&root_der)?;
    let mut problems = Vec::new();
    let mut serials = BTreeSet::new();
    for actor in &ctx.actors {
        let der = &actor.mls.cert_der;
        let who = &actor.fid;
        let cert = parse(der)?;
        if let Err(e) = judge::signed_by(&cert, &root) {
            problems.push(format!("{who}: {e}"));
        }
        if cert.issuer().as_raw() != root.subject().as_raw() {
            problems.push(format!("{who}: the issuer is not the root's subject"));
        }
        match judge::claims(cert.subject()) {
            Ok(claims) => problems.extend(
                judge::actor_claims_problems(&claims, who, &actor.session_id)
                    .into_iter()
                    .map(|p| format!("{who}: {p}")),
            ),
            Err(e) => problems.push(format!("{who}: {e}")),
        }
        match judge::ed25519_key(&cert) {
            Ok(key) if key == actor.mls.key.0.verifying_key().to_bytes() => {}
            Ok(_) => problems.push(format!("{who}: certificate is for another key")),
            Err(e) => problems.push(format!("{who}: {e}")),
        }
        if let Some(problem) = judge::validity_problem(&cert, judge::unix_now()) {
            problems.push(format!("{who}: {problem}"));
        }
        if cert.version() != X509Version::V3 {
            problems.push(format!("{who}: not X.509 v3"));
        }
        match cert.basic_constraints() {
            Ok(None) => {}
            Ok(Some(bc)) if bc.critical && !bc.value.ca => {}
            other => problems.push(format!(
                "{who}: basicConstraints must be critical and not CA: {}",
                basic_constraints_text(&other)
            )),
        }
        match cert.key_usage() {
            Ok(Some(ku))
                if ku.critical
                    && !ku.value.key_cert_sign()
                    && (ku.value.digital_signature() || ku.value.non_repudiation()) => {}
            other => problems.push(format!(
                "{who}: keyUsage must be critical with digitalSignature: {}",
                key_usage_text(&other)
            )),
        }
        if dcs(cert.subject()) != dcs(cert.issuer()) {
            problems.push(format!(
                "{who}: subject and issuer domain components differ"
            ));
        }
        if cert.validity().not_before < root.validity().not_before
            || cert.validity().not_after > root.validity().not_after
        {
            problems.push(format!("{who}: validity exceeds the root's"));
        }
        if !serials.insert(cert.raw_serial().to_vec()) {
            problems.push(format!("{who}: serial number reused"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Finding::mismatch(
            "ID-Certs following polyproto-core §6.1",
            problems.join("; "),
        ))
    }
}

/// Core 6.1.3's longest actor ID-Cert lifetime.
const ACTOR_CERT_MAX_SECONDS: i64 = 60 * 24 * 3600;

/// Core 6.1.3 (SHOULD): notAfter - notBefore of every actor ID-Cert of the run is at most 60
/// days. The certificates are those the harness's sessions hold: issued to it by ID-CSR, or
/// given by the target config (static and command actors, issued by the target all the same).
pub async fn actor_cert_lifetime(ctx: &mut Ctx) -> CheckResult {
    let mut problems = Vec::new();
    for actor in &ctx.actors {
        let cert = parse(&actor.mls.cert_der)?;
        let validity = cert.validity();
        let seconds = validity.not_after.timestamp() - validity.not_before.timestamp();
        if seconds > ACTOR_CERT_MAX_SECONDS {
            problems.push(format!(
                "{}: valid for {} ({} to {})",
                actor.fid,
                days_text(seconds),
                validity.not_before,
                validity.not_after
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Finding::mismatch(
            "actor ID-Certs valid for at most 60 days",
            problems.join("; "),
        ))
    }
}

/// A span of seconds as days, to a tenth.
fn days_text(seconds: i64) -> String {
    format!("{:.1} days", seconds as f64 / 86_400.0)
}

/// A forged ID-CSR: each breaks one claim a home server must verify before signing
/// (polyproto-core §6.1; PROFILE.idcert-issue checks 1–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsrForgery {
    /// The common name is another actor's local name.
    OtherActor,
    /// The domain components name another server.
    ForeignDomain,
    /// The self-signature does not verify.
    BadSignature,
    /// It requests Basic Constraints CA true and keyCertSign.
    RequestsCa,
}

/// The account behind a session, known in reference mode only.
pub(crate) fn account_of(ctx: &Ctx, actor: usize) -> Result<Account, Finding> {
    ctx.actors[actor].account.clone().ok_or_else(|| {
        Finding::Unsupported(
            "needs the actors' account credentials, which only reference mode (registration \
             through PROFILE.actor-registration) gives the harness"
                .into(),
        )
    })
}

/// An ID-CSR the target accepted opened a session: the clean-up lists it.
pub(crate) fn record_session(
    ctx: &mut Ctx,
    resp: &crate::clients::http::ApiResponse,
    account: &crate::clients::actors::Account,
    session_id: &str,
) {
    if resp.status == 201 {
        let fid = format!("{}@{}", account.local_name, account.domain);
        ctx.ledger().opened(&fid, session_id, Some(account));
    }
}

/// A fresh session id and identity key for one more ID-CSR.
pub(crate) fn fresh_session() -> (String, SigningKey) {
    (
        format!("p2mls-{}", crate::random_hex(4)),
        SigningKey::generate(&mut rand::rngs::OsRng),
    )
}

/// The answer to an ID-CSR the target must not sign. The core text only asks that it is refused
/// and no ID-Cert issued: any 4xx without a certificate in it (a 5xx is no refusal, it is a
/// failure). `exact` is PROFILE.idcert-issue's answer: that status with the error body.
fn expect_csr_refused(resp: &ApiResponse, exact: Option<u16>, what: &str) -> CheckResult {
    if let Some(status) = exact {
        return expect_error(resp, status, what);
    }
    expect_client_error(resp, &format!("{what}, no ID-Cert issued"))?;
    if resp.text().contains("BEGIN CERTIFICATE") {
        return Err(Finding::mismatch(
            format!("{what}, no ID-Cert issued"),
            format!("status {} with a certificate in the body", resp.status),
        ));
    }
    Ok(())
}

/// A forged ID-CSR from alice's account is refused (`exact`: with PROFILE's 400 and error body).
pub async fn refuse_forged_csr(ctx: &mut Ctx, forgery: CsrForgery, exact: bool) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    let (session_id, key) = fresh_session();
    let mut name = account.name(&session_id);
    let pem = match forgery {
        CsrForgery::OtherActor => {
            name.local_name = account_of(ctx, BOB)?.local_name;
            build_csr(&name, &key)
        }
        CsrForgery::ForeignDomain => {
            name.domain = if name.domain == "p2mls-elsewhere" {
                "p2mls-elsewhere-too".into()
            } else {
                "p2mls-elsewhere".into()
            };
            build_csr(&name, &key)
        }
        CsrForgery::BadSignature => {
            build_csr(&name, &key).and_then(|pem| csr_with_flipped_signature(&pem))
        }
        CsrForgery::RequestsCa => build_csr_requesting(&name, &key, true),
    }
    .map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    record_session(ctx, &resp, &account, &session_id);
    expect_csr_refused(
        &resp,
        exact.then_some(400),
        &format!("an ID-CSR forged as {forgery:?} to be refused"),
    )?;
    if forgery == CsrForgery::RequestsCa {
        // The same request in another encoding PKCS #10 allows: Basic Constraints and Key Usage
        // as attributes of their own, outside extensionRequest.
        let (session_id, key) = fresh_session();
        let pem = build_csr_with_bare_ca_attributes(&account.name(&session_id), &key)
            .map_err(Finding::harness)?;
        let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
        record_session(ctx, &resp, &account, &session_id);
        expect_csr_refused(
            &resp,
            exact.then_some(400),
            "an ID-CSR asking for CA rights with bare attributes to be refused",
        )?;
    }
    Ok(())
}

/// Core 6.2.1: weak public keys are refused. alice asks for ID-Certs of keys of small order (the
/// neutral element, order 2, order 8, and the neutral element encoded non-canonically), each
/// ID-CSR self-signed without a private key in the way only such keys allow
/// (`weak_ed25519::sign_with_weak_key`, proven to pass a lax verifier). Any client error is the
/// refusal; an ID-Cert for such a key would vouch for signatures anyone can make.
pub async fn refuse_weak_key_csr(ctx: &mut Ctx) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    for key in weak_ed25519::weak_keys() {
        let (session_id, _) = fresh_session();
        let pem = build_csr_signed_by(&account.name(&session_id), &key.bytes, |info| {
            weak_ed25519::sign_with_weak_key(&key.bytes, info)
        })
        .map_err(|e| Finding::harness(format!("{}: {e}", key.what)))?;
        let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
        record_session(ctx, &resp, &account, &session_id);
        expect_client_error(
            &resp,
            &format!(
                "an ID-CSR for {} ({}) to be refused",
                key.what,
                hex::encode(key.bytes)
            ),
        )?;
    }
    Ok(())
}

/// Core 6.2.1: malleable signatures are refused. alice's ID-CSR for a fresh key, its
/// self-signature (R, S) replaced by (R, S + L): the same scalar modulo L, so a verifier that
/// reduces S accepts it (`weak_ed25519::malleate` proves it), while S >= L is not canonical.
pub async fn refuse_malleable_csr(ctx: &mut Ctx) -> CheckResult {
    use ed25519_dalek::Signer;
    let account = account_of(ctx, ALICE)?;
    let (session_id, key) = fresh_session();
    let public = key.verifying_key().to_bytes();
    let pem = build_csr_signed_by(&account.name(&session_id), &public, |info| {
        weak_ed25519::malleate(&public, info, key.sign(info).to_bytes())
    })
    .map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    record_session(ctx, &resp, &account, &session_id);
    expect_client_error(
        &resp,
        "an ID-CSR whose self-signature has S + L (S >= L) to be refused",
    )
}

/// Core 6.1.3: the home server offers an actor's ID-Certs on request, also for a given time
/// (`GET /.p2/core/v1/idcert/actor/{fid}`, core beta.3, with `session_id`, `notBefore` and
/// `notAfter`). Alice's current certificate is among them, for her session and for now, and is
/// left out for a session nobody has and for a span long after it expires.
pub async fn actor_lookup(ctx: &mut Ctx) -> CheckResult {
    let fid = ctx.fid(ALICE);
    let session = ctx.actors[ALICE].session_id.clone();
    let mine = ctx.actors[ALICE].mls.cert_der.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let later = now + 200 * 365 * 24 * 3600;
    let root_der = server_root(ctx).await?;
    let root = parse(&root_der)?;
    let asks = [
        (String::new(), true),
        (format!("?session_id={session}"), true),
        (format!("?notBefore={now}&notAfter={now}"), true),
        ("?session_id=p2mls-nobody".to_owned(), false),
        (format!("?notBefore={later}&notAfter={later}"), false),
    ];
    for (query, expected) in asks {
        let path = format!("{}{query}", routes::actor_idcerts(&fid));
        let (count, found) = lists_cert(ctx, path, &mine, &root, &query).await?;
        if found != expected {
            return Err(Finding::mismatch(
                format!(
                    "alice's current ID-Cert {} the answer to `{query}`",
                    if expected { "in" } else { "not in" }
                ),
                format!(
                    "{count} certificate(s), hers {}",
                    if found { "among them" } else { "not" }
                ),
            ));
        }
    }
    Ok(())
}

/// Core 5: FIDs are case-insensitive, so alice's ID-Certs are found by her FID written in upper
/// case, and with only the domain in upper case (core 6.1.3's lookup route).
pub async fn actor_lookup_any_case(ctx: &mut Ctx) -> CheckResult {
    let fid = ctx.fid(ALICE);
    let mine = ctx.actors[ALICE].mls.cert_der.clone();
    let (local, domain) = fid.split_once('@').unwrap_or((fid.as_str(), ""));
    let root_der = server_root(ctx).await?;
    let root = parse(&root_der)?;
    for written in [
        fid.to_uppercase(),
        format!("{local}@{}", domain.to_uppercase()),
    ] {
        if written == fid {
            continue;
        }
        let path = routes::actor_idcerts(&written);
        let (count, found) = lists_cert(ctx, path, &mine, &root, &written).await?;
        if !found {
            return Err(Finding::mismatch(
                format!("alice's current ID-Cert among those of `{written}` (her FID `{fid}`)"),
                format!("{count} certificate(s), hers not among them"),
            ));
        }
    }
    Ok(())
}

/// Asks the ID-Cert lookup route (`path`, for `asked` in findings) and tells how many
/// certificates it listed and whether `cert` (DER) is one of them. Anything but 200 with an array
/// of CacheableIDCert, each with a current cache window and a cacheSignature that verifies with
/// the root's key (core 6.4, PROFILE.server-idcert), is a mismatch.
async fn lists_cert(
    ctx: &mut Ctx,
    path: String,
    cert: &[u8],
    root: &X509Certificate<'_>,
    asked: &str,
) -> Result<(usize, bool), Finding> {
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, Auth::None))
        .await?;
    expect_status(&resp, &[200], "the actor's ID-Certs")?;
    let listed = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| Finding::mismatch("a JSON array of CacheableIDCert objects", resp.text()))?;
    let mut found = false;
    for entry in &listed {
        let der = entry["idCertPem"]
            .as_str()
            .and_then(|pem| judge::pem_to_der(pem).ok())
            .ok_or_else(|| {
                Finding::mismatch("idCertPem holding a PEM certificate", entry.to_string())
            })?;
        let problems = cache_problems(entry, &parse(&der)?, root);
        if !problems.is_empty() {
            return Err(Finding::mismatch(
                format!("a CacheableIDCert for `{asked}` with a current, signed cache window"),
                problems.join("; "),
            ));
        }
        found |= der == cert;
    }
    Ok((listed.len(), found))
}

/// PROFILE.idcert-issue: the subject of the issued ID-Cert is the CSR's pDN as it came, the
/// same DER bytes (both read by `x509::subject_name_der`, a hand-written DER walk), not the
/// same claims written anew.
pub async fn subject_verbatim(ctx: &mut Ctx) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    let (session_id, key) = fresh_session();
    let pem = build_csr(&account.name(&session_id), &key).map_err(Finding::harness)?;
    let csr_der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(Finding::harness)?
        .1
        .contents;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    record_session(ctx, &resp, &account, &session_id);
    expect_status(&resp, &[201], "a sound ID-CSR for a new session of alice")?;
    let body = resp.json().unwrap_or_default();
    let cert_der = body["id_cert"]
        .as_str()
        .and_then(|pem| judge::pem_to_der(pem).ok())
        .ok_or_else(|| Finding::mismatch("id_cert holding a PEM certificate", resp.text()))?;
    let requested = crate::x509::subject_name_der(&csr_der).map_err(Finding::harness)?;
    let issued = crate::x509::subject_name_der(&cert_der)
        .map_err(|e| Finding::mismatch("a DER certificate with a subject Name", e.to_string()))?;
    if issued == requested {
        Ok(())
    } else {
        Err(Finding::mismatch(
            format!(
                "the subject Name of the ID-CSR, {}",
                hex::encode(&requested)
            ),
            format!("the issued subject Name {}", hex::encode(&issued)),
        ))
    }
}

/// An ID-CSR for a session id in use is refused (`exact`: with PROFILE's 409 and error body): a
/// session in use is never taken over silently (§6.1.1.3). The session in question is a second
/// one alice opens for this check, so a server that does take it over breaks this check only,
/// not the sessions other checks use.
pub async fn refuse_session_id_in_use(ctx: &mut Ctx, exact: bool) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    let (session_id, key) = fresh_session();
    let pem = build_csr(&account.name(&session_id), &key).map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    record_session(ctx, &resp, &account, &session_id);
    expect_status(
        &resp,
        &[201],
        "a sound ID-CSR for a second session of alice",
    )?;
    let (_, other_key) = fresh_session();
    let pem = build_csr(&account.name(&session_id), &other_key).map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    expect_csr_refused(
        &resp,
        exact.then_some(409),
        "an ID-CSR for a session id in use to be refused",
    )
}

/// A sound ID-CSR without the second factor, or with a wrong one, is refused: by the core
/// document any refusal (a 4xx, no certificate), by PROFILE.idcert-issue (`exact`) a 403 with
/// the error body.
pub async fn refuse_without_second_factor(ctx: &mut Ctx, exact: bool) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    for (label, password) in [("missing", None), ("wrong", Some("p2mls-wrong-solution"))] {
        let (session_id, key) = fresh_session();
        let pem = build_csr(&account.name(&session_id), &key).map_err(Finding::harness)?;
        let mut req = account.id_csr_request("ALICE", pem);
        req.secret_headers.clear();
        if let Some(password) = password {
            req = req.header(routes::SENSITIVE_SOLUTION_HEADER, password);
        }
        let resp = ctx.send(req).await?;
        record_session(ctx, &resp, &account, &session_id);
        let what = format!("an ID-CSR with a {label} X-P2-Sensitive-Solution to be refused");
        expect_csr_refused(&resp, exact.then_some(403), &what)?;
    }
    Ok(())
}

/// More than PROFILE.body-limit's 4 MiB: 5 MiB of PEM-looking text.
pub(crate) fn oversized_body() -> Vec<u8> {
    let mut body = b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec();
    body.resize(5 * 1024 * 1024, b'A');
    body
}

/// An oversized ID-CSR without a token gets the 401 (authentication comes first), with the
/// error body: never a bare-text 413 that answers before the caller is known.
pub async fn oversized_unauthenticated(ctx: &mut Ctx) -> CheckResult {
    let req = ApiRequest::new(Method::POST, routes::IDCERT, Auth::None)
        .raw("text/plain", oversized_body());
    let resp = ctx.send(req).await?;
    expect_error(
        &resp,
        401,
        "an oversized ID-CSR without a token to be refused for the token first",
    )
}

/// An oversized ID-CSR from an authenticated account gets 413 with the error body.
pub async fn oversized(ctx: &mut Ctx) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    let mut req = account.id_csr_request("ALICE", String::new());
    req.body = Some(("text/plain".into(), oversized_body()));
    let resp = ctx.send(req).await?;
    expect_error(&resp, 413, "an ID-CSR body over 4 MiB to be refused")
}
