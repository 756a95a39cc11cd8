//! KeyPackage behaviour: one-time hand-out, last resort, concurrency, discovery filters, and the
//! AS refusing faulty packages with per-package reasons, atomically per batch.

use std::collections::BTreeSet;

use openmls::prelude::Ciphersuite;
use p2mls_protocol::idcert::ServerIdentity;
use serde_json::Value;

use openmls::prelude::{MlsGroupJoinConfig, StagedWelcome, PURE_PLAINTEXT_WIRE_FORMAT_POLICY};
use p2mls_protocol::identifiers::format_code_point;

use super::context::{
    decode_welcome, expect_error, expect_status, mls_message, snippet, Ctx, MlsObject, ALICE, BOB,
    CAROL,
};
use super::unit::{CheckDef, Fixture, Resource};
use crate::check::{CheckResult, Finding};
use crate::clients::http::ApiRequest;
use crate::clients::mls::{key_package_json, x509_credential_content, KeyPackageOptions};
use crate::spec::ApiSpec;

/// The KeyPackage checks, listed when the document has the upload and discovery operations.
pub fn checks(spec: &ApiSpec) -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    if !(spec.operation("keypackages_addKeyPackages").is_some()
        && spec.operation("keypackages_discoverKeyPackages").is_some())
    {
        return Vec::new();
    }
    // Each check empties one actor's KeyPackages and counts what discovery hands out, so it owns
    // that actor's KeyPackages while it runs.
    vec![
        CheckDef::new("keypackages.discover.one-time", Profile, "A discovered KeyPackage is handed out once, with the uploaded wire bytes")
            .requires(&["PROFILE.keypackage-one-time", "MLS.2.ds-keypackages", "MLS.2.ds-role", "PROFILE.mls-message-field"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(one_time(ctx))),
        CheckDef::new("keypackages.discover.last-resort", Profile, "The last-resort KeyPackage serves only when no other matches, and is kept")
            .requires(&["OAS.keypackages.last-resort", "PROFILE.keypackage-last-resort-kept"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(CAROL)])
            .judged_by(|ctx| Box::pin(last_resort(ctx))),
        CheckDef::new("keypackages.discover.concurrent-distinct", Profile, "Concurrent discoveries never hand out the same KeyPackage twice")
            .requires(&["PROFILE.keypackage-concurrent-distinct"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(concurrent(ctx))),
        CheckDef::new("keypackages.discover.filter-ciphersuites", Must, "Discovery returns only KeyPackages of the requested cipher suites")
            .requires(&["OAS.keypackages.discover-filter", "PROFILE.identifier-strings"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(filter_suite(ctx))),
        CheckDef::new("keypackages.discover.filter-versions", Must, "Discovery returns only KeyPackages of the requested protocol versions")
            .requires(&["OAS.keypackages.discover-filter", "PROFILE.identifier-strings"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(filter_version(ctx))),
        CheckDef::new("keypackages.discover.filter-extensions", Profile, "Discovery returns only KeyPackages supporting the requested extensions")
            .requires(&["OAS.keypackages.discover-filter", "PROFILE.identifier-strings"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(filter_extension(ctx))),
        CheckDef::new("keypackages.discover.empty", Profile, "A known actor without matching KeyPackages gets an empty answer")
            .requires(&["PROFILE.keypackage-discover-empty"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(discover_empty(ctx))),
        CheckDef::new("keypackages.discover.fid-case-insensitive", Profile, "Discovery finds an actor's KeyPackage by its FID in another letter case")
            .requires(&["PROFILE.keypackage-one-time"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(BOB)])
            .judged_by(|ctx| Box::pin(fid_case(ctx))),
        CheckDef::new("keypackages.discover.unknown-fid", Profile, "Discovery for an unknown actor answers 404")
            .requires(&["PROFILE.keypackage-discover-empty"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(unknown_fid(ctx))),
        CheckDef::new("keypackages.discover.exhaustion-limit", Profile, "One requester cannot drain another actor's one-time KeyPackages: past a limit it gets 429 with Retry-After, while other requesters are still served")
            .requires(&["PROFILE.keypackage-discovery-limit", "PROFILE.error-body"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(CAROL)])
            .waits()
            .judged_by(|ctx| Box::pin(exhaustion_limit(ctx))),
        CheckDef::new("keypackages.discover.missing-ciphersuites", Must, "Discovery without the required ciphersuites parameter answers 400")
            .requires(&["OAS.keypackages.discover-filter", "PROFILE.bad-request-400"])
            .needs(&[Actors])
            .isolated()
            .judged_by(|ctx| Box::pin(missing_suites(ctx))),
        CheckDef::new("keypackages.upload.reject-tampered-signature", Must, "A KeyPackage with a tampered signature is refused with its id and a reason")
            .requires(&["OAS.keypackages.upload-errors", "PROFILE.keypackage-validation", "MLS.2.as-validate-credentials"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::TamperedSignature))),
        CheckDef::new("keypackages.upload.reject-malleable-signature", Must, "A KeyPackage whose signature carries S + L (the malleable form) is refused with its id and a reason")
            .requires(&["CORE.6.2.1.malleable-signatures-refused", "OAS.keypackages.upload-errors", "PROFILE.keypackage-validation"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::MalleableSignature))),
        CheckDef::new("keypackages.upload.reject-expired", Must, "A KeyPackage whose lifetime has ended is refused")
            .requires(&["OAS.keypackages.upload-errors", "PROFILE.keypackage-validation"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::Expired))),
        CheckDef::new("keypackages.upload.reject-foreign-credential", Must, "A KeyPackage whose ID-Cert another CA issued is refused")
            .requires(&["OAS.keypackages.upload-errors", "PROFILE.keypackage-credential", "MLS.2.as-validate-credentials", "MLS.2.as-attest-binding"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::ForeignCredential))),
        CheckDef::new("keypackages.upload.reject-unknown-suite", Profile, "A KeyPackage of a suite outside the registry is refused")
            .requires(&["OAS.keypackages.upload-errors", "PROFILE.keypackage-validation", "PROFILE.suite-registry"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::UnknownSuite))),
        CheckDef::new("keypackages.upload.reject-summary-mismatch", Profile, "A KeyPackage whose JSON summary disagrees with its bytes is refused")
            .requires(&["PROFILE.keypackage-summary", "OAS.keypackages.upload-errors"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::SummaryMismatch))),
        CheckDef::new("keypackages.upload.reject-other-actor", Must, "A KeyPackage with another actor's credential is refused")
            .requires(&["PROFILE.keypackage-credential", "MLS.2.as-attest-binding"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::OtherActor))),
        CheckDef::new("keypackages.upload.batch-atomic", Profile, "A batch with one faulty KeyPackage stores none of its packages")
            .requires(&["PROFILE.keypackage-batch-atomic", "OAS.keypackages.upload-errors"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(batch_atomic(ctx))),
        CheckDef::new("keypackages.upload.x509-credential", Must, "A KeyPackage whose X.509 credential holds the ID-Cert and the root in RFC 9420 form is accepted")
            .requires(&["PROFILE.keypackage-credential", "MLS.3.rfc9420-basis", "MLS.2.as-validate-credentials"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(x509_chain(ctx))),
        CheckDef::new("keypackages.upload.reject-extra-prefix-credential", Profile, "A KeyPackage whose X.509 credential wraps its certificate list in an extra length prefix is refused")
            .requires(&["PROFILE.keypackage-credential", "OAS.keypackages.upload-errors"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(reject(ctx, Defect::ExtraPrefixCredential))),
        CheckDef::new("keypackages.upload.reject-two-last-resort", Profile, "A batch with two last-resort KeyPackages of one client is refused and stores nothing")
            .requires(&["PROFILE.keypackage-batch-atomic", "PROFILE.keypackage-last-resort-kept"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(ALICE)])
            .judged_by(|ctx| Box::pin(two_last_resorts(ctx))),
        CheckDef::new("keypackages.upload.limit-last-resort-swap", Profile, "At the KeyPackage limit one more package gets 413, but a new last-resort package replaces the stored one")
            .requires(&["PROFILE.keypackage-upload-limit", "PROFILE.keypackage-batch-atomic"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(CAROL)])
            .judged_by(|ctx| Box::pin(limit_swap(ctx))),
        CheckDef::new("keypackages.grease.join", Must, "A KeyPackage with GREASE values is accepted, handed out whole, and its owner joins a group")
            .requires(&["MLS.13.5-grease", "MLS.2.ds-keypackages"])
            .needs(&[Actors])
            .owns(&[Resource::KeyPackages(CAROL)])
            .judged_by(|ctx| Box::pin(grease_join(ctx))),
    ]
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|kp| kp["id"].as_str().unwrap_or("<no id>").to_owned())
        .collect()
}

pub async fn one_time(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(BOB).await?;
    let first = ctx.key_package(BOB, &KeyPackageOptions::default())?;
    let second = ctx.key_package(BOB, &KeyPackageOptions::default())?;
    ctx.upload_ok(BOB, vec![first.clone(), second.clone()])
        .await?;
    let query = ctx.suite_query();
    let mut handed_out = Vec::new();
    // Two different requesters: a server that tracks hand-outs per requester, not per package,
    // would give each of them the same package.
    for requester in [ALICE, CAROL] {
        let list = ctx.discover_list(requester, BOB, &query).await?;
        if list.len() != 1 {
            return Err(Finding::mismatch(
                "exactly one KeyPackage for bob's one client",
                format!("{:?}", ids(&list)),
            ));
        }
        handed_out.push(list[0].clone());
    }
    for requester in [ALICE, CAROL] {
        let third = ctx.discover_list(requester, BOB, &query).await?;
        if !third.is_empty() {
            return Err(Finding::mismatch(
                "no KeyPackage for any requester once both were handed out",
                format!("{:?}", ids(&third)),
            ));
        }
    }
    let bytes = |list: &[&Value]| -> Result<BTreeSet<Vec<u8>>, Finding> {
        list.iter()
            .map(|kp| mls_message(kp, MlsObject::KeyPackage))
            .collect()
    };
    let uploaded = bytes(&[&first, &second])?;
    let got = bytes(&handed_out.iter().collect::<Vec<_>>())?;
    if uploaded != got {
        return Err(Finding::mismatch(
            "each uploaded package handed out once, with the uploaded wire bytes",
            format!("handed out {:?}", ids(&handed_out)),
        ));
    }
    Ok(())
}

pub async fn last_resort(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(CAROL).await?;
    let resort = ctx.key_package(
        CAROL,
        &KeyPackageOptions {
            last_resort: true,
            ..Default::default()
        },
    )?;
    let normal = ctx.key_package(CAROL, &KeyPackageOptions::default())?;
    ctx.upload_ok(CAROL, vec![resort.clone(), normal.clone()])
        .await?;
    let query = ctx.suite_query();
    let expected = [&normal["id"], &resort["id"], &resort["id"]];
    let mut seen = Vec::new();
    for _ in 0..3 {
        let list = ctx.discover_list(ALICE, CAROL, &query).await?;
        seen.push(list.first().map_or(Value::Null, |kp| kp["id"].clone()));
    }
    if seen.iter().zip(expected).any(|(got, want)| got != want) {
        return Err(Finding::mismatch(
            "the one-time package first, then the last-resort package on every later discovery",
            format!(
                "normal {}, last resort {}, handed out {seen:?}",
                normal["id"], resort["id"]
            ),
        ));
    }
    Ok(())
}

pub async fn concurrent(ctx: &mut Ctx) -> CheckResult {
    const N: usize = 8;
    ctx.drain(BOB).await?;
    let mut packages = Vec::new();
    for _ in 0..N {
        packages.push(ctx.key_package(BOB, &KeyPackageOptions::default())?);
    }
    ctx.upload_ok(BOB, packages).await?;
    let (method, path) = ctx.route("keypackages_discoverKeyPackages", &[("fid", &ctx.fid(BOB))])?;
    let path = format!("{path}?{}", ctx.suite_query());
    let mut tasks = Vec::new();
    for _ in 0..N {
        let http = ctx.http.clone();
        let req =
            crate::clients::http::ApiRequest::new(method.clone(), path.clone(), ctx.auth(ALICE));
        tasks.push(tokio::spawn(async move { http.send(&req).await }));
    }
    let mut handed_out = Vec::new();
    for task in tasks {
        let (result, exchange) = task.await.map_err(Finding::harness)?;
        ctx.recorder.exchanges.push(exchange);
        let resp = result.map_err(super::context::http_finding)?;
        expect_status(&resp, &[200], "each concurrent discovery to succeed")?;
        let list = resp
            .json()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        handed_out.extend(ids(&list));
    }
    let distinct: BTreeSet<&String> = handed_out.iter().collect();
    if handed_out.len() != N || distinct.len() != N {
        return Err(Finding::mismatch(
            format!("{N} distinct KeyPackages for {N} concurrent discoveries"),
            format!(
                "{} handed out, {} distinct",
                handed_out.len(),
                distinct.len()
            ),
        ));
    }
    Ok(())
}

/// Uploads one package of bob's, then asks with `query`: no package that breaks the filter may
/// come back (`allowed` says which may: packages of earlier runs can legitimately match); then
/// asks with the plain suite query: the package must still be there (the filter consumed nothing).
async fn filtered_out(
    ctx: &mut Ctx,
    query: String,
    allowed: impl Fn(&Ctx, &Value) -> Result<bool, Finding>,
) -> CheckResult {
    ctx.drain(BOB).await?;
    let kp = ctx.key_package(BOB, &KeyPackageOptions::default())?;
    ctx.upload_ok(BOB, vec![kp.clone()]).await?;
    let list = ctx.discover_list(ALICE, BOB, &query).await?;
    let mut wrong = None;
    for found in &list {
        if found["id"] == kp["id"] || !allowed(ctx, found)? {
            wrong = Some(found);
            break;
        }
    }
    if let Some(wrong) = wrong {
        return Err(Finding::mismatch(
            format!("no KeyPackage outside the filter `{query}`"),
            format!("{} among {:?}", wrong["id"], ids(&list)),
        ));
    }
    let plain = ctx.suite_query();
    let list = ctx.discover_list(ALICE, BOB, &plain).await?;
    if ids(&list) != vec![kp["id"].as_str().unwrap_or_default().to_owned()] {
        return Err(Finding::mismatch(
            "the package, untouched by the filtered discovery",
            format!("{:?}", ids(&list)),
        ));
    }
    Ok(())
}

/// The polyproto suite id of a discovered package, read from its bytes (None when they are no
/// KeyPackage).
pub(crate) fn suite_of(ctx: &Ctx, kp: &Value) -> Result<Option<u16>, Finding> {
    let bytes = match mls_message(kp, MlsObject::KeyPackage) {
        Ok(bytes) => bytes,
        // Without the bytes the suite cannot be judged at all.
        Err(missing @ Finding::ProfileMissing(_)) => return Err(missing),
        // Bytes that are not base64 are no package of any suite.
        Err(_) => return Ok(None),
    };
    let Ok(kp_in) = crate::clients::mls::decode_key_package(&bytes) else {
        return Ok(None);
    };
    let wire = u16::from(kp_in.into_unchecked().ciphersuite());
    Ok(Some(ctx.registry.polyproto_id_for_wire(wire)))
}

pub async fn filter_suite(ctx: &mut Ctx) -> CheckResult {
    let own = ctx.registry.polyproto_id_for_wire(u16::from(ctx.suite));
    let other = ctx
        .registry
        .other_than(own)
        .map_or(0xF110, |s| s.polyproto_id);
    let query = format!(
        "ciphersuites={}",
        p2mls_protocol::identifiers::format_code_point(other)
    );
    filtered_out(ctx, query, move |ctx, kp| {
        Ok(suite_of(ctx, kp)? == Some(other))
    })
    .await
}

pub async fn filter_version(ctx: &mut Ctx) -> CheckResult {
    let query = format!("{}&versions=0x0002", ctx.suite_query());
    // No package of any version 2 exists: anything returned breaks the filter.
    filtered_out(ctx, query, |_, _| Ok(false)).await
}

pub async fn filter_extension(ctx: &mut Ctx) -> CheckResult {
    // 0xF0A0 is in the private-use range: no package of ours supports it.
    let query = format!("{}&extensions=0xF0A0", ctx.suite_query());
    filtered_out(ctx, query, |_, _| Ok(false)).await
}

pub async fn discover_empty(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(BOB).await?;
    let fid = ctx.fid(BOB);
    let query = ctx.suite_query();
    let resp = ctx.discover(ALICE, &fid, &query).await?;
    match resp.status {
        204 => Ok(()),
        200 if resp.json() == Some(Value::Array(Vec::new())) => Ok(()),
        _ => Err(Finding::mismatch(
            "200 with [] (or 204)",
            format!("{} {}", resp.status, snippet(&resp.text())),
        )),
    }
}

pub async fn unknown_fid(ctx: &mut Ctx) -> CheckResult {
    let domain = ctx
        .fid(ALICE)
        .split_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let nobody = format!("{}@{domain}", ctx.unique("nobody"));
    let query = ctx.suite_query();
    let resp = ctx.discover(ALICE, &nobody, &query).await?;
    ctx.expect_not_found(&resp, "an unknown actor is not found")
        .await
}

pub async fn missing_suites(ctx: &mut Ctx) -> CheckResult {
    let fid = ctx.fid(BOB);
    let resp = ctx.discover(ALICE, &fid, "").await?;
    expect_status(
        &resp,
        &[400],
        "the required ciphersuites parameter is missing",
    )
}

/// Ways to make a KeyPackage that the AS must refuse.
#[derive(Debug, Clone, Copy)]
pub enum Defect {
    TamperedSignature,
    /// The KeyPackage signature (R, S) as (R, S + L): valid for a verifier that reduces S
    /// modulo L, refused by a strict one (core 6.2.1).
    MalleableSignature,
    Expired,
    ForeignCredential,
    UnknownSuite,
    SummaryMismatch,
    OtherActor,
    /// The X.509 credential's certificate list wrapped in one more length prefix: its first
    /// `cert_data` is then the list itself, not a certificate (RFC 9420 §5.3).
    ExtraPrefixCredential,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A faulty package uploaded by alice, as JSON.
fn faulty(ctx: &Ctx, defect: Defect) -> Result<Value, Finding> {
    let registry = ctx.registry.clone();
    match defect {
        Defect::TamperedSignature => {
            // Flip a bit of the KeyPackage signature and describe the tampered bytes, so that the
            // JSON agrees with them and only the signature is wrong.
            let kp = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
            let mut bytes = mls_message(&kp, MlsObject::KeyPackage)?;
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
            key_package_json(&bytes, &registry).map_err(Finding::harness)
        }
        Defect::MalleableSignature => {
            let kp = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
            let mut bytes = mls_message(&kp, MlsObject::KeyPackage)?;
            let key = ctx.actors[ALICE].mls.key.0.verifying_key().to_bytes();
            malleate_key_package(&mut bytes, &key).map_err(Finding::harness)?;
            key_package_json(&bytes, &registry).map_err(Finding::harness)
        }
        Defect::Expired => ctx.key_package(
            ALICE,
            &KeyPackageOptions {
                lifetime: Some((now() - 7200, now() - 3600)),
                ..Default::default()
            },
        ),
        Defect::ForeignCredential => {
            // Another CA, same domain and claims: only the issuer differs.
            let rogue_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let name = parse_name(&ctx.actors[ALICE].mls.cert_der)?;
            let rogue = ServerIdentity::new(&name.domain, &rogue_key).map_err(Finding::harness)?;
            let csr_pem = p2mls_protocol::idcert::build_csr(&name, &ctx.actors[ALICE].mls.key.0)
                .map_err(Finding::harness)?;
            let csr = p2mls_protocol::idcert::verify_csr(&csr_pem).map_err(Finding::harness)?;
            let (_, der) = rogue.issue(&csr, &[7], 3600).map_err(Finding::harness)?;
            ctx.key_package(
                ALICE,
                &KeyPackageOptions {
                    certificate: Some(der),
                    ..Default::default()
                },
            )
        }
        Defect::UnknownSuite => ctx.key_package_of_suite(
            ALICE,
            Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
            &KeyPackageOptions::default(),
        ),
        Defect::SummaryMismatch => {
            let mut kp = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
            let other = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
            kp["publicKey"] = other["publicKey"].clone();
            Ok(kp)
        }
        Defect::ExtraPrefixCredential => {
            let list = x509_credential_content(&[ctx.actors[ALICE].mls.cert_der.clone()]);
            ctx.key_package(
                ALICE,
                &KeyPackageOptions {
                    // One `cert_data<V>` holding the list: the list's length, then the list.
                    credential_content: Some(x509_credential_content(&[list])),
                    ..Default::default()
                },
            )
        }
        Defect::OtherActor => {
            let bytes = ctx.actors[BOB]
                .mls
                .key_package(ctx.suite, &KeyPackageOptions::default())
                .map_err(Finding::harness)?;
            key_package_json(&bytes, &registry).map_err(Finding::harness)
        }
    }
}

/// Replaces the signature of a KeyPackage MLSMessage by its malleable form (R, S + L), proven by
/// `weak_ed25519::malleate` to pass a lax verification. An MLSMessage holding a KeyPackage is
/// version and wire format (4 bytes), the KeyPackageTBS, then `signature<V>` (64 bytes behind
/// the 2-byte length 0x4040), signed over SignContent {"MLS 1.0 KeyPackageTBS", TBS} (RFC 9420
/// §5.1.2, §10).
fn malleate_key_package(bytes: &mut [u8], key: &[u8; 32]) -> Result<(), String> {
    let n = bytes.len();
    if n < 70 || bytes[n - 66..n - 64] != [0x40, 0x40] {
        return Err("the KeyPackage does not end in a 64-byte signature".into());
    }
    let tbs = &bytes[4..n - 66];
    let label = b"MLS 1.0 KeyPackageTBS";
    let mut content = crate::clients::mls::varint(label.len());
    content.extend_from_slice(label);
    content.extend(crate::clients::mls::varint(tbs.len()));
    content.extend_from_slice(tbs);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&bytes[n - 64..]);
    let malleable = crate::weak_ed25519::malleate(key, &content, signature)?;
    bytes[n - 64..].copy_from_slice(&malleable);
    Ok(())
}

/// The pDN claims of a certificate of ours, read without verifying its issuer (with the
/// harness's own reader), as the name an ID-CSR is built for.
fn parse_name(der: &[u8]) -> Result<p2mls_protocol::idcert::ActorName, Finding> {
    use crate::matchers::idcert as judge;
    let cert = judge::parse(der).map_err(Finding::harness)?;
    let claims = judge::claims(cert.subject()).map_err(Finding::harness)?;
    Ok(p2mls_protocol::idcert::ActorName {
        local_name: claims
            .common_name
            .clone()
            .ok_or_else(|| Finding::harness("our certificate has no common name"))?,
        domain: claims.domain(),
        session_id: claims
            .session_id
            .ok_or_else(|| Finding::harness("our certificate has no session id"))?,
    })
}

pub async fn reject(ctx: &mut Ctx, defect: Defect) -> CheckResult {
    let bad = faulty(ctx, defect)?;
    let bad_id = bad["id"].as_str().unwrap_or_default().to_owned();
    let resp = ctx.upload(ALICE, vec![bad]).await?;
    expect_status(&resp, &[400], "the faulty KeyPackage to be refused")?;
    ctx.conforms("keypackages_addKeyPackages", &resp)?;
    let entries = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let named = entries.iter().any(|e| {
        e["id"].as_str() == Some(bad_id.as_str())
            && e["reason"].as_str().is_some_and(|r| !r.trim().is_empty())
    });
    if !named {
        return Err(Finding::mismatch(
            format!("an entry {{id: {bad_id}, reason}} for the faulty package ({defect:?})"),
            snippet(&resp.text()),
        ));
    }
    never_handed_out(ctx, ALICE, &bad_id).await
}

/// A refused package is not stored: discovering all of `owner`'s packages never yields `id`.
async fn never_handed_out(ctx: &mut Ctx, owner: usize, id: &str) -> CheckResult {
    let query = ctx.suite_query();
    ctx.drain_seeing(owner, &query, |list| {
        if list.iter().any(|kp| kp["id"].as_str() == Some(id)) {
            return Err(Finding::mismatch(
                "a refused KeyPackage to be stored nowhere",
                format!("discovery handed out {id} after the refusal"),
            ));
        }
        Ok(())
    })
    .await
}

pub async fn batch_atomic(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(ALICE).await?;
    let good = ctx.key_package(ALICE, &KeyPackageOptions::default())?;
    let bad = faulty(ctx, Defect::SummaryMismatch)?;
    let good_id = good["id"].as_str().unwrap_or_default().to_owned();
    let resp = ctx.upload(ALICE, vec![good, bad]).await?;
    expect_status(&resp, &[400], "a batch with a faulty package to be refused")?;
    let entries = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    if entries
        .iter()
        .any(|e| e["id"].as_str() == Some(good_id.as_str()))
    {
        return Err(Finding::mismatch(
            "no error entry for the sound package",
            snippet(&resp.text()),
        ));
    }
    let query = ctx.suite_query();
    let list = ctx.discover_list(BOB, ALICE, &query).await?;
    if !list.is_empty() {
        return Err(Finding::mismatch(
            "nothing of the refused batch stored",
            format!("discovery handed out {:?}", ids(&list)),
        ));
    }
    Ok(())
}

/// Highest number of one-time KeyPackages of one actor PROFILE.keypackage-discovery-limit lets
/// one requester session consume in its window.
pub const DISCOVERY_LIMIT_MAX: usize = 100;

/// `keypackages.discover.exhaustion-limit`: bob consumes carol's one-time KeyPackages until the
/// target refuses (429 with Retry-After and an error body), at most after
/// `DISCOVERY_LIMIT_MAX`; alice, another requester, is still served. (Carol and bob: the pair
/// no other check needs, since the limit holds for the rest of the target's window.)
pub async fn exhaustion_limit(ctx: &mut Ctx) -> CheckResult {
    const BATCH: usize = 50;
    const DISCOVERIES_AT_ONCE: usize = 8;
    ctx.drain(CAROL).await?;
    let fid = ctx.fid(CAROL);
    let (method, path) = ctx.route("keypackages_discoverKeyPackages", &[("fid", &fid)])?;
    let path = format!("{path}?{}", ctx.suite_query());
    let mut consumed = 0;
    let mut refused = None;
    'stock: while consumed <= DISCOVERY_LIMIT_MAX {
        let packages = (0..BATCH)
            .map(|_| ctx.key_package(CAROL, &KeyPackageOptions::default()))
            .collect::<Result<Vec<_>, _>>()?;
        ctx.upload_ok(CAROL, packages).await?;
        // Discoveries go out in rounds of a few at once, so that a target far away is not
        // given the time of a hundred round trips to refill a limit that is a rate.
        let request = ApiRequest::new(method.clone(), path.clone(), ctx.auth(BOB)).without_retry();
        loop {
            let mut used_up = false;
            for (result, exchange) in ctx.send_at_once(&request, DISCOVERIES_AT_ONCE).await? {
                // Only the last answers matter as evidence; a hundred discoveries would bury them.
                ctx.recorder.exchanges.clear();
                ctx.recorder.exchanges.push(exchange);
                let resp = result.map_err(super::context::http_finding)?;
                if resp.status == 429 {
                    refused.get_or_insert(resp);
                    continue;
                }
                expect_status(&resp, &[200], "discovery to answer 200 or 429")?;
                let one_time = resp
                    .json()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter(|kp| kp["lastResort"].as_bool() != Some(true))
                    .count();
                used_up |= one_time == 0;
                consumed += one_time;
            }
            if refused.is_some() || consumed > DISCOVERY_LIMIT_MAX {
                break 'stock;
            }
            if used_up {
                // This batch is used up: upload the next.
                continue 'stock;
            }
        }
    }
    let Some(refusal) = refused else {
        return Err(Finding::mismatch(
            format!(
                "429 before one requester has consumed more than {DISCOVERY_LIMIT_MAX} of one actor's one-time KeyPackages"
            ),
            format!("bob consumed {consumed} of carol's without a refusal"),
        ));
    };
    let retry_after = refusal
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| {
            crate::clients::http::parse_retry_after(v, std::time::SystemTime::now())
        });
    if retry_after.is_none() {
        return Err(Finding::mismatch(
            "the 429 with Retry-After",
            refusal
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let body = refusal.json();
    if !body
        .as_ref()
        .is_some_and(|b| b["error"].is_string() && b["message"].is_string())
    {
        return Err(Finding::mismatch(
            "the 429 with the error body {error, message}",
            snippet(&refusal.text()),
        ));
    }
    // The limit is per requester: alice still gets one of carol's packages.
    let packages = vec![ctx.key_package(CAROL, &KeyPackageOptions::default())?];
    ctx.upload_ok(CAROL, packages).await?;
    let list = ctx.discover_list(ALICE, CAROL, &ctx.suite_query()).await?;
    if !list
        .iter()
        .any(|kp| kp["lastResort"].as_bool() != Some(true))
    {
        return Err(Finding::mismatch(
            "another requester (alice) still served a one-time KeyPackage",
            format!("{} package(s), none one-time", list.len()),
        ));
    }
    ctx.drain(CAROL).await
}

/// RFC 9420 §5.3 X.509 credentials: a chain of two (the ID-Cert, then the server's root, as
/// PROFILE.keypackage-credential allows), written by the harness's own encoder, is accepted and
/// served with its bytes.
pub async fn x509_chain(ctx: &mut Ctx) -> CheckResult {
    let root = super::idcert::server_root(ctx).await?;
    ctx.drain(ALICE).await?;
    let leaf = ctx.actors[ALICE].mls.cert_der.clone();
    let kp = ctx.key_package(
        ALICE,
        &KeyPackageOptions {
            credential_content: Some(x509_credential_content(&[leaf, root])),
            ..Default::default()
        },
    )?;
    let resp = ctx.upload(ALICE, vec![kp.clone()]).await?;
    expect_status(
        &resp,
        &[200],
        "a KeyPackage with an RFC 9420 X.509 credential (ID-Cert, root) to be accepted",
    )?;
    let query = ctx.suite_query();
    let list = ctx.discover_list(BOB, ALICE, &query).await?;
    let same_bytes = list.len() == 1
        && mls_message(&list[0], MlsObject::KeyPackage)?
            == mls_message(&kp, MlsObject::KeyPackage)?;
    if !same_bytes {
        return Err(Finding::mismatch(
            format!("the uploaded package {} with its bytes", kp["id"]),
            format!("{:?}", ids(&list)),
        ));
    }
    Ok(())
}

/// PROFILE.keypackage-batch-atomic: a second last-resort package of one client in one batch is a
/// fault of the batch (400 naming it, nothing stored), not a silent replacement of the first.
pub async fn two_last_resorts(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(ALICE).await?;
    let last_resort = KeyPackageOptions {
        last_resort: true,
        ..Default::default()
    };
    let first = ctx.key_package(ALICE, &last_resort)?;
    let second = ctx.key_package(ALICE, &last_resort)?;
    let resp = ctx
        .upload(ALICE, vec![first.clone(), second.clone()])
        .await?;
    expect_status(
        &resp,
        &[400],
        "a batch with two last-resort packages of one client to be refused",
    )?;
    ctx.conforms("keypackages_addKeyPackages", &resp)?;
    let entries = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    if !entries.iter().any(|e| e["id"] == second["id"]) {
        return Err(Finding::mismatch(
            format!(
                "an entry {{id: {}, reason}} for the second last-resort package",
                second["id"]
            ),
            snippet(&resp.text()),
        ));
    }
    let query = ctx.suite_query();
    let list = ctx.discover_list(BOB, ALICE, &query).await?;
    if let Some(kp) = list
        .iter()
        .find(|kp| kp["id"] == first["id"] || kp["id"] == second["id"])
    {
        return Err(Finding::mismatch(
            "nothing of the refused batch stored",
            format!("discovery handed out {}", kp["id"]),
        ));
    }
    Ok(())
}

/// PROFILE.keypackage-upload-limit: at the limit N (from the target config), one more package is
/// refused with 413, but a new last-resort package replaces the stored one (a swap) and is
/// accepted. Carol's packages of every suite are drained first and last.
pub async fn limit_swap(ctx: &mut Ctx) -> CheckResult {
    let limit = ctx.keypackage_limit.ok_or_else(|| {
        Finding::Unsupported("the target config names no keypackage_limit".into())
    })?;
    if !(1..=1000).contains(&limit) {
        return Err(Finding::Unsupported(format!(
            "keypackage_limit {limit} is outside 1..=1000, too many packages to fill"
        )));
    }
    let every_suite = format!(
        "ciphersuites={}",
        ctx.registry
            .suites()
            .iter()
            .map(|s| p2mls_protocol::identifiers::format_code_point(s.polyproto_id))
            .collect::<Vec<_>>()
            .join(",")
    );
    // Afterwards at most one (last-resort) package of carol's session is stored.
    ctx.drain_query(CAROL, &every_suite).await?;
    let outcome = fill_and_swap(ctx, limit, &every_suite).await;
    if outcome.is_err() {
        // Leave carol's store usable for later checks whatever happened; the evidence of the
        // failure stays first.
        let evidence = std::mem::take(&mut ctx.recorder.exchanges);
        let _ = ctx.drain_query(CAROL, &every_suite).await;
        ctx.recorder.exchanges = evidence;
    }
    outcome
}

async fn fill_and_swap(ctx: &mut Ctx, limit: usize, every_suite: &str) -> CheckResult {
    let last_resort = KeyPackageOptions {
        last_resort: true,
        ..Default::default()
    };
    let first = ctx.key_package(CAROL, &last_resort)?;
    ctx.upload_ok(CAROL, vec![first]).await?;
    let mut normal = Vec::new();
    for _ in 1..limit {
        normal.push(ctx.key_package(CAROL, &KeyPackageOptions::default())?);
    }
    for chunk in normal.chunks(100) {
        ctx.upload_ok(CAROL, chunk.to_vec()).await?;
    }
    let extra = ctx.key_package(CAROL, &KeyPackageOptions::default())?;
    let resp = ctx.upload(CAROL, vec![extra]).await?;
    expect_error(
        &resp,
        413,
        &format!("a package beyond the configured limit of {limit} to be refused"),
    )?;
    let second = ctx.key_package(CAROL, &last_resort)?;
    let resp = ctx.upload(CAROL, vec![second.clone()]).await?;
    expect_status(
        &resp,
        &[200],
        "a new last-resort package at the limit to replace the stored one (a swap)",
    )?;
    ctx.drain_query(CAROL, every_suite).await?;
    let query = ctx.suite_query();
    let list = ctx.discover_list(ALICE, CAROL, &query).await?;
    if ids(&list) != vec![second["id"].as_str().unwrap_or_default().to_owned()] {
        return Err(Finding::mismatch(
            format!(
                "the new last-resort package {} once the others are gone",
                second["id"]
            ),
            format!("{:?}", ids(&list)),
        ));
    }
    Ok(())
}

/// PROFILE.keypackage-one-time: the `fid` of discovery compares case-insensitively, so bob's FID
/// in upper case finds his package.
pub async fn fid_case(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(BOB).await?;
    let kp = ctx.key_package(BOB, &KeyPackageOptions::default())?;
    ctx.upload_ok(BOB, vec![kp.clone()]).await?;
    let shouted = ctx.fid(BOB).to_uppercase();
    let query = ctx.suite_query();
    let resp = ctx.discover(ALICE, &shouted, &query).await?;
    expect_status(&resp, &[200], "discovery by the FID in upper case")?;
    let list = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    if ids(&list) != vec![kp["id"].as_str().unwrap_or_default().to_owned()] {
        return Err(Finding::mismatch(
            format!("bob's package {} for `{shouted}`", kp["id"]),
            snippet(&resp.text()),
        ));
    }
    Ok(())
}

/// A KeyPackage with GREASE values (RFC 9420 §13.5) in its capabilities and extensions is
/// accepted, handed out with its bytes and its GREASE code points in the summary, and its owner
/// joins a group from the Welcome of an Add of it.
pub async fn grease_join(ctx: &mut Ctx) -> CheckResult {
    ctx.drain(CAROL).await?;
    // A fresh client: the package's private keys stay in its storage for the join.
    let carol = &ctx.actors[CAROL].mls;
    let client = std::sync::Arc::new(crate::clients::mls::MlsClient::new(
        carol.key.0.clone(),
        carol.cert_der.clone(),
    ));
    let (bytes, grease) = client
        .greased_key_package(ctx.suite)
        .map_err(Finding::harness)?;
    let kp = key_package_json(&bytes, &ctx.registry).map_err(Finding::harness)?;
    let resp = ctx.upload(CAROL, vec![kp.clone()]).await?;
    expect_status(
        &resp,
        &[200],
        &format!(
            "a KeyPackage with GREASE values {} to be accepted",
            grease
                .iter()
                .map(|g| format_code_point(*g))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    let (mut group, _) = ctx.create_group(ALICE).await?;
    let query = ctx.suite_query();
    let found = ctx.discover_list(ALICE, CAROL, &query).await?;
    let got = found.first().cloned().unwrap_or(Value::Null);
    let same_bytes = found.len() == 1
        && mls_message(&got, MlsObject::KeyPackage)? == mls_message(&kp, MlsObject::KeyPackage)?;
    if !same_bytes {
        return Err(Finding::mismatch(
            "the GREASE'd package with its exact wire bytes",
            format!("{} package(s), first {}", found.len(), got["id"]),
        ));
    }
    for field in ["ciphersuites", "extensions"] {
        let values = &got["capabilities"][field];
        let greased = values.as_array().is_some_and(|list| {
            list.iter().any(|v| {
                v.as_str()
                    .and_then(|s| u16::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                    .is_some_and(crate::clients::mls::is_grease)
            })
        });
        if values != &kp["capabilities"][field] || !greased {
            return Err(Finding::mismatch(
                format!(
                    "capabilities.{field} {} as uploaded, GREASE included",
                    kp["capabilities"][field]
                ),
                values.to_string(),
            ));
        }
    }
    let (_, resp) = ctx.propose_add_discovered(&mut group, got).await?;
    expect_status(
        &resp,
        &[204],
        "the Add of the GREASE'd package to be accepted",
    )?;
    let (_, resp) = ctx.commit(&mut group).await?;
    expect_status(
        &resp,
        &[200],
        "the commit adding carol to answer its Welcome",
    )?;
    let welcome = resp
        .json()
        .ok_or_else(|| Finding::mismatch("a Welcome JSON body", resp.text()))?;
    let welcome = decode_welcome(&welcome)?;
    let config = MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build();
    let joined = StagedWelcome::new_from_welcome(&client.provider, &config, welcome, None)
        .and_then(|staged| staged.into_group(&client.provider))
        .map_err(|e| Finding::mismatch("carol joins with her GREASE'd package", format!("{e}")))?;
    if joined.epoch_authenticator().as_slice() != group.mls.epoch_authenticator().as_slice() {
        return Err(Finding::mismatch(
            "carol and alice with the same epoch authenticator",
            "different ones",
        ));
    }
    Ok(())
}
