//! The AS side of polyproto-core §6.1 as seen from outside: the home server's root ID-Cert, the
//! actor ID-Certs it issued to the harness's sessions, and its refusal of ID-CSRs it must not
//! sign (forged claims, a session id in use, no second factor).

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use p2mls_protocol::idcert::{
    actor_name_of, build_csr, build_csr_requesting, cert_pem_to_der, csr_with_flipped_signature,
    verify_actor_cert,
};
use p2mls_protocol::routes;
use reqwest::Method;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

use super::context::{expect_error, expect_status, Ctx, ALICE, BOB};
use crate::check::{CheckResult, Finding};
use crate::clients::actors::Account;
use crate::clients::http::{ApiRequest, Auth};

const OID_DC: &str = "0.9.2342.19200300.100.1.25";
const OID_CN: &str = "2.5.4.3";

/// Fetches and parses the server's root ID-Cert (DER).
pub(crate) async fn server_root(ctx: &mut Ctx) -> Result<Vec<u8>, Finding> {
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
    cert_pem_to_der(pem)
        .map_err(|e| Finding::mismatch("a PEM certificate in idCertPem", e.to_string()))
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Finding> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| Finding::mismatch("a DER X.509 certificate", e.to_string()))
}

fn dcs(name: &x509_parser::x509::X509Name<'_>) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == OID_DC)
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

/// Root: v3, CA with path length 0, keyCertSign, both extensions critical, no CN, DCs present.
pub async fn server_root_cert(ctx: &mut Ctx) -> CheckResult {
    let der = server_root(ctx).await?;
    let cert = parse(&der)?;
    let mut problems = Vec::new();
    if cert.version() != X509Version::V3 {
        problems.push("not X.509 v3".to_owned());
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0) => {}
        other => problems.push(format!(
            "basicConstraints not critical CA with pathlen 0: {other:?}"
        )),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.critical && ku.value.key_cert_sign() => {}
        other => problems.push(format!("keyUsage not critical with keyCertSign: {other:?}")),
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
        match verify_actor_cert(der, &root_der) {
            Ok(info) => {
                if info.name.fid() != *who || info.name.session_id != actor.session_id {
                    problems.push(format!(
                        "{who}: pDN names {} session {}",
                        info.name.fid(),
                        info.name.session_id
                    ));
                }
                if info.public_key != actor.mls.key.0.verifying_key().to_bytes() {
                    problems.push(format!("{who}: certificate is for another key"));
                }
            }
            Err(e) => problems.push(format!("{who}: {e}")),
        }
        let cert = parse(der)?;
        if cert.version() != X509Version::V3 {
            problems.push(format!("{who}: not X.509 v3"));
        }
        match cert.basic_constraints() {
            Ok(None) => {}
            Ok(Some(bc)) if bc.critical && !bc.value.ca => {}
            other => problems.push(format!(
                "{who}: basicConstraints must be critical and not CA: {other:?}"
            )),
        }
        match cert.key_usage() {
            Ok(Some(ku))
                if ku.critical
                    && !ku.value.key_cert_sign()
                    && (ku.value.digital_signature() || ku.value.non_repudiation()) => {}
            other => problems.push(format!(
                "{who}: keyUsage must be critical with digitalSignature: {other:?}"
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
        if actor_name_of(der).is_err() {
            problems.push(format!("{who}: pDN lacks CN, UID or uniqueIdentifier"));
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
fn account_of(ctx: &Ctx, actor: usize) -> Result<Account, Finding> {
    ctx.actors[actor].account.clone().ok_or_else(|| {
        Finding::Unsupported(
            "needs the actors' account credentials, which only reference mode (registration \
             through PROFILE.actor-registration) gives the harness"
                .into(),
        )
    })
}

/// A fresh session id and identity key for one more ID-CSR.
fn fresh_session() -> (String, SigningKey) {
    (
        format!("p2mls-{}", crate::random_hex(4)),
        SigningKey::generate(&mut rand::rngs::OsRng),
    )
}

/// A forged ID-CSR from alice's account is refused with 400.
pub async fn refuse_forged_csr(ctx: &mut Ctx, forgery: CsrForgery) -> CheckResult {
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
    expect_error(
        &resp,
        400,
        &format!("an ID-CSR forged as {forgery:?} to be refused"),
    )
}

/// An ID-CSR for a session id in use is refused with 409: a session in use is never taken over
/// silently (§6.1.1.3). The session in question is a second one alice opens for this check, so
/// a server that does take it over breaks this check only, not the sessions other checks use.
pub async fn refuse_session_id_in_use(ctx: &mut Ctx) -> CheckResult {
    let account = account_of(ctx, ALICE)?;
    let (session_id, key) = fresh_session();
    let pem = build_csr(&account.name(&session_id), &key).map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    expect_status(
        &resp,
        &[201],
        "a sound ID-CSR for a second session of alice",
    )?;
    let (_, other_key) = fresh_session();
    let pem = build_csr(&account.name(&session_id), &other_key).map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("ALICE", pem)).await?;
    expect_error(
        &resp,
        409,
        "an ID-CSR for a session id in use to be refused",
    )
}

/// A sound ID-CSR without the second factor, or with a wrong one, is refused with 403.
pub async fn refuse_without_second_factor(ctx: &mut Ctx) -> CheckResult {
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
        expect_error(
            &resp,
            403,
            &format!("an ID-CSR with a {label} X-P2-Sensitive-Solution to be refused"),
        )?;
    }
    Ok(())
}
