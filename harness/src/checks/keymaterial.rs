//! Core 6.3: private key loss prevention. A home server stores an actor's encrypted private
//! identity keys and hands them back, through core beta.3's routes under
//! `/.p2/core/v1/session/keymaterial` (`Registered_uploadEncryptedPKM`,
//! `Registered_getEncryptedPKM`, `Registered_deleteEncryptedPKM`,
//! `Registered_encryptedPKMsizeLimit`).
//!
//! Every check registers an actor of its own (reference mode) with two sessions, so its key
//! material is data no other check touches, whatever runs beside it. Every answer is validated
//! against our core beta.3 document (`specs/openapi/polyproto-core-v1.0-beta.3.openapi-3.1.yaml`),
//! and key material is judged as raw JSON against what was uploaded.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use p2mls_protocol::idcert::build_csr;
use p2mls_protocol::routes;
use reqwest::Method;
use serde_json::{json, Value};

use super::context::{expect_client_error, expect_error, expect_status, snippet, Ctx};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding};
use crate::clients::actors::Actor;
use crate::clients::http::{ApiRequest, ApiResponse};

/// The key material checks (reference mode: each needs an actor of its own).
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    vec![
        CheckDef::new("keymaterial.upload-download", Must, "Encrypted private key material uploaded for two ID-Certs is downloaded as uploaded")
            .requires(&["CORE.6.3.upload-download"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(upload_download(ctx))),
        CheckDef::new("keymaterial.serials-filter", Must, "A download filtered by `serials` holds exactly the key material of those ID-Certs")
            .requires(&["CORE.6.3.serials-filter"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(serials_filter(ctx))),
        CheckDef::new("keymaterial.delete", Must, "Key material is deleted by serial number, and only with the second factor of a sensitive action")
            .requires(&["CORE.6.3.delete-sensitive"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(delete(ctx))),
        CheckDef::new("keymaterial.size-limit", Must, "Key material over the announced upload size is refused with 413 and not stored")
            .requires(&["CORE.6.3.size-limit"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(size_limit(ctx))),
        CheckDef::new("keymaterial.refusals", Profile, "Key material for no ID-Cert of the actor gets 404, for a serial stored already 409, each with an error body, and nothing changes")
            .requires(&["PROFILE.encrypted-pkm", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refusals(ctx))),
    ]
}

/// A fresh actor of this check and the serial numbers of its two sessions' ID-Certs.
struct Owner {
    actor: Actor,
    password: String,
    serials: [u64; 2],
}

/// Registers an actor for one check and opens a second session, so that it holds two ID-Certs.
async fn owner(ctx: &mut Ctx) -> Result<Owner, Finding> {
    let secret = super::registration::secret(ctx)?;
    let name = format!("{}pkm", ctx.name_prefix);
    let actor = crate::clients::actors::register(&ctx.http, &secret, &name, &crate::random_hex(4))
        .await
        .map_err(|e| Finding::mismatch("a fresh actor with an ID-Cert", e.to_string()))?;
    let account = actor
        .account
        .clone()
        .ok_or_else(|| Finding::harness("a registered actor without its account"))?;
    ctx.recorder.transcript.hide(&actor.token, "TOKEN_PKM");
    {
        let mut ledger = ctx.ledger();
        ledger.actors.push(actor.fid.clone());
        ledger.opened(&actor.fid, &actor.session_id, Some(&account));
    }
    let session_id = format!("p2mls-{}", crate::random_hex(4));
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let csr = build_csr(&account.name(&session_id), &key).map_err(Finding::harness)?;
    let resp = ctx.send(account.id_csr_request("PKM", csr)).await?;
    expect_status(
        &resp,
        &[201],
        "an ID-Cert for a second session of the actor",
    )?;
    ctx.ledger().opened(&actor.fid, &session_id, Some(&account));
    let pem = resp
        .json()
        .and_then(|b| b["id_cert"].as_str().map(str::to_owned))
        .ok_or_else(|| Finding::mismatch("{id_cert, token}", snippet(&resp.text())))?;
    let second = crate::x509::pem_to_der(&pem)
        .map_err(|e| Finding::mismatch("a PEM ID-Cert in id_cert", e.to_string()))?;
    let serials = [serial(&actor.mls.cert_der)?, serial(&second)?];
    Ok(Owner {
        actor,
        password: account.password,
        serials,
    })
}

/// An ID-Cert's serial number as the uint64 core beta.3 names it by.
fn serial(der: &[u8]) -> Result<u64, Finding> {
    let cert =
        crate::x509::parse(der).map_err(|e| Finding::mismatch("a DER ID-Cert", e.to_string()))?;
    crate::x509::serial_u64(&cert).ok_or_else(|| {
        Finding::mismatch(
            "an ID-Cert serial number that fits core beta.3's uint64 (serialNumber)",
            format!("serial {}", cert.tbs_certificate.serial),
        )
    })
}

/// One EncryptedPKM for the serial: `key_data` is the base64 of a SubjectPublicKeyInfo whose
/// key field holds 48 bytes standing for an encrypted Ed25519 seed and its tag (the server can
/// tell them from nothing else), encrypted with AES-256-GCM (its OID).
fn element(serial: u64) -> Value {
    let mut sealed = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut sealed);
    // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { 0 unused bits, 48 bytes } }
    let mut der = vec![
        0x30, 0x3a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x31, 0x00,
    ];
    der.extend_from_slice(&sealed);
    json!({
        "key_data": B64.encode(der),
        "serialNumber": serial,
        "encryptionAlgorithms": ["2.16.840.1.101.3.4.1.46"],
    })
}

/// Our core beta.3 document, parsed once.
fn core_document() -> &'static p2mls_openapi::ApiSpec {
    static DOCUMENT: std::sync::OnceLock<p2mls_openapi::ApiSpec> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(p2mls_openapi::ApiSpec::core_spec)
}

/// A documented status with a body its schema accepts (core beta.3).
fn documented(resp: &ApiResponse, operation: &str) -> CheckResult {
    core_document()
        .check_response(
            operation,
            resp.status,
            resp.content_type.as_deref(),
            &resp.body,
        )
        .map_err(|problems| {
            Finding::mismatch(
                format!("an answer core beta.3 documents for {operation}"),
                format!("status {}: {}", resp.status, problems.join("; ")),
            )
        })
}

async fn upload(ctx: &mut Ctx, owner: &Owner, elements: &[Value]) -> Result<ApiResponse, Finding> {
    let resp = ctx
        .send(
            ApiRequest::new(Method::POST, routes::KEY_MATERIAL, owner.actor.auth())
                .json(&Value::Array(elements.to_vec())),
        )
        .await?;
    if resp.status == 201 {
        documented(&resp, "Registered_uploadEncryptedPKM")?;
    }
    Ok(resp)
}

/// Downloads the owner's key material (`serials` when given): the elements, none for 204.
async fn download(
    ctx: &mut Ctx,
    owner: &Owner,
    serials: Option<&[u64]>,
) -> Result<Vec<Value>, Finding> {
    let path = match serials {
        Some(list) => format!("{}?serials={}", routes::KEY_MATERIAL, joined(list)),
        None => routes::KEY_MATERIAL.to_owned(),
    };
    let resp = ctx
        .send(ApiRequest::new(Method::GET, path, owner.actor.auth()))
        .await?;
    expect_status(&resp, &[200, 204], "the actor's key material")?;
    documented(&resp, "Registered_getEncryptedPKM")?;
    if resp.status == 204 {
        return Ok(Vec::new());
    }
    resp.json()
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| Finding::mismatch("a JSON array of EncryptedPKM", snippet(&resp.text())))
}

fn joined(serials: &[u64]) -> String {
    serials
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The three members of an EncryptedPKM as the harness compares them: other members are allowed.
fn comparable(element: &Value) -> String {
    json!({
        "key_data": element["key_data"],
        "serialNumber": element["serialNumber"],
        "encryptionAlgorithms": element["encryptionAlgorithms"],
    })
    .to_string()
}

/// The download holds exactly `expected`, in any order.
fn holds_exactly(listed: &[Value], expected: &[&Value], what: &str) -> CheckResult {
    let got: BTreeSet<String> = listed.iter().map(comparable).collect();
    let want: BTreeSet<String> = expected.iter().map(|e| comparable(e)).collect();
    if got == want && listed.len() == expected.len() {
        return Ok(());
    }
    Err(Finding::mismatch(
        format!(
            "{what}: exactly {}",
            serde_json::to_string(&want).unwrap_or_default()
        ),
        serde_json::to_string(&got).unwrap_or_default(),
    ))
}

/// Core 6.3: material uploaded for both ID-Certs in one request (201) comes back unchanged from a
/// download without a filter, which returns everything the actor uploaded.
pub async fn upload_download(ctx: &mut Ctx) -> CheckResult {
    let owner = owner(ctx).await?;
    let elements = owner.serials.map(element);
    let resp = upload(ctx, &owner, &elements).await?;
    expect_status(&resp, &[201], "key material for both ID-Certs stored")?;
    let listed = download(ctx, &owner, None).await?;
    holds_exactly(
        &listed,
        &[&elements[0], &elements[1]],
        "a download without serials",
    )
}

/// core beta.3 `Registered_getEncryptedPKM`: with `serials`, the material of those ID-Certs
/// only; both serial numbers give both.
pub async fn serials_filter(ctx: &mut Ctx) -> CheckResult {
    let owner = owner(ctx).await?;
    let elements = owner.serials.map(element);
    let resp = upload(ctx, &owner, &elements).await?;
    expect_status(&resp, &[201], "key material for both ID-Certs stored")?;
    let [first, second] = owner.serials;
    let listed = download(ctx, &owner, Some(&[second])).await?;
    holds_exactly(
        &listed,
        &[&elements[1]],
        &format!("a download with serials={second}"),
    )?;
    let listed = download(ctx, &owner, Some(&[first, second])).await?;
    holds_exactly(
        &listed,
        &[&elements[0], &elements[1]],
        &format!("a download with serials={first},{second}"),
    )
}

/// Core 4.2: deleting key material is a sensitive action. Without the X-P2-Sensitive-Solution
/// header the delete is refused (any client error) and nothing goes; with the actor's second
/// factor the material of the named serial number is deleted (204) and the other's stays.
pub async fn delete(ctx: &mut Ctx) -> CheckResult {
    let owner = owner(ctx).await?;
    let elements = owner.serials.map(element);
    let resp = upload(ctx, &owner, &elements).await?;
    expect_status(&resp, &[201], "key material for both ID-Certs stored")?;
    let [first, _] = owner.serials;
    let path = format!("{}?serials={first}", routes::KEY_MATERIAL);
    let resp = ctx
        .send(ApiRequest::new(
            Method::DELETE,
            path.clone(),
            owner.actor.auth(),
        ))
        .await?;
    expect_client_error(
        &resp,
        "a delete without X-P2-Sensitive-Solution (a sensitive action) to be refused",
    )?;
    let listed = download(ctx, &owner, None).await?;
    holds_exactly(
        &listed,
        &[&elements[0], &elements[1]],
        "everything still there after a refused delete",
    )?;
    let resp = ctx
        .send(
            ApiRequest::new(Method::DELETE, path, owner.actor.auth()).secret_header(
                routes::SENSITIVE_SOLUTION_HEADER,
                &owner.password,
                "PASSWORD_PKM",
            ),
        )
        .await?;
    expect_status(
        &resp,
        &[204],
        &format!("the key material of serial {first} deleted"),
    )?;
    let listed = download(ctx, &owner, None).await?;
    holds_exactly(
        &listed,
        &[&elements[1]],
        "only the other ID-Cert's material after the delete",
    )
}

/// core beta.3 `Registered_encryptedPKMsizeLimit` and `Registered_uploadEncryptedPKM`: the limit
/// is announced in `X-MAX-PAYLOAD-SIZE`, an element whose `key_data` alone is one byte over it
/// (so the element is over it however it is measured) is refused with 413, and nothing of that
/// upload is stored.
pub async fn size_limit(ctx: &mut Ctx) -> CheckResult {
    let owner = owner(ctx).await?;
    let resp = ctx
        .send(ApiRequest::new(
            Method::GET,
            routes::KEY_MATERIAL_SIZE,
            crate::clients::http::Auth::None,
        ))
        .await?;
    expect_status(&resp, &[200], "the key material upload limit")?;
    documented(&resp, "Registered_encryptedPKMsizeLimit")?;
    let limit = resp
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(routes::MAX_PAYLOAD_SIZE_HEADER))
        .and_then(|(_, v)| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            Finding::mismatch(
                "an X-MAX-PAYLOAD-SIZE header holding a uint32",
                format!("{:?}", resp.headers),
            )
        })?;
    let mut oversized = element(owner.serials[0]);
    oversized["key_data"] = json!("A".repeat(limit as usize + 1));
    let resp = upload(ctx, &owner, &[oversized]).await?;
    expect_status(
        &resp,
        &[413],
        &format!("key material one byte over the announced {limit} bytes refused"),
    )?;
    let listed = download(ctx, &owner, None).await?;
    holds_exactly(&listed, &[], "nothing stored from the refused upload")
}

/// PROFILE.encrypted-pkm: key material names one of the actor's own ID-Certs (404 for a serial
/// number none of them has, as for anything the caller cannot see), and a serial number keeps
/// the material first stored for it (409, not replaced); a refused batch stores nothing.
pub async fn refusals(ctx: &mut Ctx) -> CheckResult {
    let owner = owner(ctx).await?;
    let [first, second] = owner.serials;
    let stored = element(first);
    let resp = upload(ctx, &owner, std::slice::from_ref(&stored)).await?;
    expect_status(&resp, &[201], "key material for the first ID-Cert stored")?;
    let nobody = (1..)
        .map(|n: u64| first.wrapping_add(n))
        .find(|s| !owner.serials.contains(s))
        .unwrap_or_default();
    let resp = upload(ctx, &owner, &[element(second), element(nobody)]).await?;
    expect_error(
        &resp,
        404,
        &format!("key material for serial {nobody}, no ID-Cert of the actor, to be refused"),
    )?;
    let resp = upload(ctx, &owner, &[element(first)]).await?;
    expect_error(
        &resp,
        409,
        &format!("key material for serial {first}, stored already, to be refused"),
    )?;
    let listed = download(ctx, &owner, None).await?;
    holds_exactly(
        &listed,
        &[&stored],
        "only the first upload after two refused ones",
    )
}
