//! The AS side of polyproto-core that polyproto-mls needs: the server's ID-Cert, ID-CSR signing,
//! an actor's ID-Certs, session revocation (PROFILE.session-revoke), and our registration route
//! (PROFILE.actor-registration).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer;
use p2mls_protocol::idcert::{
    read_csr_unverified, verify_csr, verify_csr_with, SubjectCopy, VerifiedCsr,
};
use p2mls_protocol::routes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::random_token;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::hub::NewSession as Announcement;
use crate::json::Json;
use crate::lax_ed25519::Lax;
use crate::state::AppState;
use crate::store::NewSession;

/// How long issued actor ID-Certs are valid: within core 6.1.3's 60 days (SHOULD), counting
/// the minute of clock skew notBefore allows.
const ACTOR_CERT_SECONDS: u64 = 30 * 24 * 3600;
/// How long clients may cache the server's ID-Cert answer.
const SERVER_CERT_CACHE_SECONDS: u64 = 3600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::REGISTER, post(register))
        .route(routes::IDCERT, post(new_id_cert))
        .route(routes::SERVER_IDCERT, get(server_id_cert))
        .route(routes::WELL_KNOWN_CORE, get(well_known))
        .route(&routes::actor_idcerts("{fid}"), get(actor_id_certs))
        .route(routes::SESSION, delete(revoke_session))
}

#[derive(Deserialize)]
struct Registration {
    name: String,
    secret: String,
    password: String,
}

/// PROFILE.actor-registration's one rule for local names: `^[a-z0-9._%+-]{1,64}$` (the local
/// part of core §5's FID pattern, limited to 64 characters).
fn valid_local_name(name: &str, faults: &[Fault]) -> bool {
    // Fault: the rule the server had before issue 14, `[a-z0-9_.-]{1,32}`.
    let narrow = faults.contains(&Fault::NarrowNames);
    let upper = faults.contains(&Fault::CaseSensitiveNames);
    let (max, extra) = if narrow { (32, "_-.") } else { (64, "._%+-") };
    (1..=max).contains(&name.len())
        && name.chars().all(|c| {
            c.is_ascii_lowercase()
                || (upper && c.is_ascii_uppercase())
                || c.is_ascii_digit()
                || extra.contains(c)
        })
}

async fn register(
    State(state): State<AppState>,
    Json(body): Json<Registration>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    if !constant_time_eq(
        body.secret.as_bytes(),
        state.config.registration_secret.as_bytes(),
    ) {
        return Err(ApiError::RegistrationDenied);
    }
    if !valid_local_name(&body.name, &state.config.faults) {
        return Err(ApiError::bad(
            "name must be 1-64 characters of a-z, 0-9, ., _, %, + or -",
        ));
    }
    if body.password.is_empty() {
        return Err(ApiError::bad("password must not be empty"));
    }
    let fid = format!("{}@{}", body.name, state.config.domain);
    let token = random_token();
    let (fid_out, token_out) = (fid.clone(), token.clone());
    // Core 5: a local name is unique on this server, and FIDs are case-insensitive.
    let case_sensitive = state.config.faults.contains(&Fault::CaseSensitiveNames);
    state
        .store
        .tx(move |tx| {
            if tx.local_name_taken(&body.name, case_sensitive)? {
                return Err(ApiError::Conflict(
                    "name_taken",
                    format!("name `{}` is taken", body.name),
                ));
            }
            tx.insert_actor(&body.name, &fid, &body.password, &token)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "fid": fid_out, "token": token_out })),
    ))
}

/// `POST /.p2/core/v1/idcert` (PROFILE.idcert-issue), checking in the profile's order: account
/// token (401), second factor (403), the ID-CSR's own claims (400), its fit with the caller and
/// this server (400), a session id in use (409).
async fn new_id_cert(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    // Fault: the plain-text 413 axum's extractor gave before authentication (before issue 14).
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if state.config.faults.contains(&Fault::IdcertLimitBeforeAuth)
        && declared.is_some_and(|len| len > crate::json::BODY_LIMIT)
    {
        return Ok((StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response());
    }
    // The body is read only once the caller is authenticated (PROFILE.body-limit); a refused
    // one is drained, so that the refusal reaches the client.
    let no_second_factor = state.config.faults.contains(&Fault::NoSecondFactor);
    let (local_name, fid) = match account(&state, &headers, no_second_factor).await {
        Ok(account) => account,
        Err(e) => {
            crate::json::drain(body).await;
            return Err(e);
        }
    };
    let body = crate::json::read(body, &state).await?;
    let body = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad("invalid ID-CSR: the body is not UTF-8 PEM text"))?;
    let unverified = state.config.faults.contains(&Fault::IssueUnverifiedCsr);
    let csr = if unverified {
        read_csr_unverified(body)
    } else {
        match verify(body, &state.config.faults) {
            // The fault looks for a CA request in extensionRequest only, as this server once did.
            Err(p2mls_protocol::Error::RequestsCa)
                if state
                    .config
                    .faults
                    .contains(&Fault::CaRequestOnlyInExtensionRequest)
                    && p2mls_protocol::idcert::requests_ca_in_extension_request(body)
                        == Ok(false) =>
            {
                read_csr_unverified(body)
            }
            verified => verified,
        }
    }
    .map_err(|e| ApiError::bad(format!("invalid ID-CSR: {e}")))?;
    if !unverified {
        if csr.name.domain != state.config.domain {
            return Err(ApiError::bad(format!(
                "the ID-CSR names domain `{}`, this server is `{}`",
                csr.name.domain, state.config.domain
            )));
        }
        if csr.name.local_name != local_name {
            return Err(ApiError::bad(
                "the ID-CSR's common name is not the caller's name",
            ));
        }
    }
    let serial = {
        use rand::RngCore;
        // 8 bytes: core beta.3 types serial numbers as uint64 (EncryptedPKM, invalidation).
        let mut serial = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut serial);
        serial[0] &= 0x7F; // positive INTEGER
        serial[0] |= 0x01; // and no leading zero byte
        serial
    };
    let now = unix_now();
    // Faults: an expired certificate, a subject written anew.
    let validity = if state.config.faults.contains(&Fault::ExpiredActorCerts) {
        (now - 2 * 24 * 3600, now - 24 * 3600)
    } else if state.config.faults.contains(&Fault::LongLivedActorCerts) {
        (now - 60, now + 90 * 24 * 3600)
    } else {
        (now - 60, now + ACTOR_CERT_SECONDS)
    };
    let subject = if state.config.faults.contains(&Fault::ReencodedSubject) {
        SubjectCopy::Reordered
    } else {
        SubjectCopy::Verbatim
    };
    let (pem, der) = state
        .identity
        .issue_with(&csr, &serial, validity, subject)
        .map_err(|e| ApiError::bad(format!("cannot issue an ID-Cert for this ID-CSR: {e}")))?;
    // The session belongs to the caller's account (the verified CSR names the same actor).
    let session_token = random_token();
    let session_out = session_token.clone();
    let has = |fault| state.config.faults.contains(&fault);
    let takeover = has(Fault::SessionIdTakeover);
    let in_use_as_400 = has(Fault::SessionIdInUseAs400);
    let never_reuse = has(Fault::NoSessionIdReuse);
    let owed_to_itself = has(Fault::NewSessionEventToNewSession);
    let owner = fid.clone();
    let seq = state
        .store
        .tx(move |tx| {
            let in_use = tx.session_id_in_use(&fid, &csr.name.session_id, never_reuse)?;
            if in_use && takeover {
                tx.revoke_session(&fid, &csr.name.session_id, revocation_time(), false)?;
            } else if in_use && in_use_as_400 {
                return Err(ApiError::bad("session id is in use: choose another"));
            } else if in_use {
                return Err(ApiError::Conflict(
                    "session_id_in_use",
                    "session id is in use: choose another".into(),
                ));
            }
            tx.insert_session(
                &NewSession {
                    token: &session_token,
                    fid: &fid,
                    session_id: &csr.name.session_id,
                    public_key: &csr.public_key,
                    cert_der: &der,
                    serial: serial.as_slice(),
                },
                owed_to_itself,
            )
        })
        .await?;
    // Core 4.4: the actor's other identified sessions hear of it now; the store owes it to the
    // others until they come back.
    if !has(Fault::NoNewSessionEvent) {
        let announcement = Announcement {
            seq,
            cert_pem: pem.clone(),
        };
        state.hub.new_session(&owner, &announcement);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id_cert": pem, "token": session_out })),
    )
        .into_response())
}

/// `verify_csr`, or under the faults that lift a refusal of core 6.2.1 the same checks with a lax
/// verification of the self-signature.
fn verify(pem: &str, faults: &[Fault]) -> Result<VerifiedCsr, p2mls_protocol::Error> {
    let lax = Lax {
        weak_keys: faults.contains(&Fault::AcceptWeakKeys),
        malleable: faults.contains(&Fault::AcceptMalleableSignatures),
    };
    if lax.weak_keys || lax.malleable {
        verify_csr_with(pem, &|key, message, signature| {
            lax.verify(key, message, signature)
        })
    } else {
        verify_csr(pem)
    }
}

/// The account a sensitive action (an ID-CSR, a revocation) authenticates as: its token (401),
/// then its second factor (403; `no_second_factor` for the faults that skip it). Returns (local
/// name, fid).
async fn account(
    state: &AppState,
    headers: &HeaderMap,
    no_second_factor: bool,
) -> Result<(String, String), ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned)
        .ok_or(ApiError::Unauthorized)?;
    let solution = headers
        .get(routes::SENSITIVE_SOLUTION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let account = state
        .store
        .tx(move |tx| tx.account_by_token(&token)?.ok_or(ApiError::Unauthorized))
        .await?;
    if !no_second_factor
        && solution
            .as_deref()
            .map(str::as_bytes)
            .is_none_or(|s| !constant_time_eq(s, account.password.as_bytes()))
    {
        return Err(ApiError::SecondFactor);
    }
    Ok((account.local_name, account.fid))
}

/// `DELETE /.p2/core/v1/session?session_id=…` (core beta.3 `Registered_deleteSession`,
/// PROFILE.session-revoke): revokes one of the caller's active sessions. Checked in the profile's
/// order: account token (401), second factor (403), the session id (400), an active session of
/// the caller's actor with that id (404). The session's token stops working, its gateway
/// connections close with 4003, its ID-Cert is listed as invalidated (core 6.1.4, 6.4.1), and
/// its id may be used again.
async fn revoke_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::params::Query(query): crate::params::Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let has = |fault| state.config.faults.contains(&fault);
    let (_, fid) = account(&state, &headers, has(Fault::RevokeWithoutSecondFactor)).await?;
    let session_id = query
        .get("session_id")
        .filter(|id| (1..=32).contains(&id.len()) && id.is_ascii())
        .cloned()
        .ok_or_else(|| ApiError::bad("session_id must be a session id (1-32 IA5 characters)"))?;
    let any_actor = has(Fault::RevokeAnyActor);
    let owner = fid.clone();
    let revoked = state
        .store
        .tx(move |tx| tx.revoke_session(&owner, &session_id, revocation_time(), any_actor))
        .await?
        .ok_or(ApiError::NotFound)?;
    // Under the fault the session may be another actor's: its connections are found by token.
    let holder = if any_actor {
        let token = revoked.token.clone();
        state
            .store
            .tx(move |tx| Ok(tx.session_by_token(&token, true)?.map(|s| s.fid)))
            .await?
            .unwrap_or(fid)
    } else {
        fid
    };
    state
        .hub
        .revoke(&holder, &revoked.token, has(Fault::NoCloseOnRevoke));
    Ok(StatusCode::NO_CONTENT)
}

/// Now, in UNIX seconds, as the store keeps revocation times.
fn revocation_time() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// Core 3.1: `{"api": "[actual domain name]/.p2/core/"}`, the actual domain being the one
/// configured, else the host the client asked (this server serves its API itself).
async fn well_known(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    if state.config.faults.contains(&Fault::NoWellKnown) {
        return Err(ApiError::NotFound);
    }
    let asked = || {
        crate::middleware::visible_domain::requested_host(&uri, &headers)
            .unwrap_or_else(|| state.config.domain.clone())
    };
    let host = match &state.config.actual_domain {
        Some(actual) if !state.config.faults.contains(&Fault::WellKnownWrongApi) => actual.clone(),
        _ => asked(),
    };
    Ok(axum::Json(
        json!({ "api": format!("{host}{}", routes::CORE_API) }),
    ))
}

async fn server_id_cert(State(state): State<AppState>) -> axum::Json<Value> {
    let pem = state.identity.cert_pem.clone();
    axum::Json(cacheable(
        &state,
        &pem,
        &state.identity.serial_decimal(),
        None,
    ))
}

/// A CacheableIDCert (core 6.4, PROFILE.server-idcert): the PEM, a cache window from now,
/// `invalidatedAt` for a revoked one, and hex of the root key's signature over the serial number,
/// both bounds and `invalidatedAt` if present, in decimal.
fn cacheable(
    state: &AppState,
    pem: &str,
    serial_decimal: &str,
    invalidated_at: Option<i64>,
) -> Value {
    let mut now = unix_now();
    if state.config.faults.contains(&Fault::StaleCacheWindow) {
        now -= 2 * SERVER_CERT_CACHE_SECONDS;
    }
    let until = now + SERVER_CERT_CACHE_SECONDS;
    let has = |fault| state.config.faults.contains(&fault);
    let invalidated_at = invalidated_at.filter(|_| !has(Fault::RevokedCertNotMarked));
    let cache_signature = if has(Fault::CacheSignatureOverPem) {
        let signed = format!("{pem}{now}{until}");
        B64.encode(state.signing_key.sign(signed.as_bytes()).to_bytes())
    } else {
        let signed_invalidation = invalidated_at
            .filter(|_| !has(Fault::InvalidatedAtUnsigned))
            .map_or(String::new(), |at| at.to_string());
        let signed = format!("{serial_decimal}{now}{until}{signed_invalidation}");
        hex::encode(state.signing_key.sign(signed.as_bytes()).to_bytes())
    };
    let mut answer = json!({
        "idCertPem": pem,
        "cacheNotValidBefore": now,
        "cacheNotValidAfter": until,
        "cacheSignature": cache_signature,
    });
    if let Some(at) = invalidated_at {
        answer["invalidatedAt"] = json!(at);
    }
    answer
}

/// Core 6.1.3: the ID-Certs of a registered actor, for a point in time (`notBefore`, `notAfter`:
/// certificates valid at some moment of that span) and a session (`session_id`); those of revoked
/// sessions too, with `invalidatedAt` (core 6.4.1).
async fn actor_id_certs(
    State(state): State<AppState>,
    Path(fid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    if state.config.faults.contains(&Fault::NoActorCerts) {
        return Err(ApiError::NotFound);
    }
    let bound = |name: &str| -> Result<Option<i64>, ApiError> {
        query
            .get(name)
            .map(|v| {
                v.parse::<u64>()
                    .ok()
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or_else(|| ApiError::bad(format!("{name} is not a UNIX timestamp")))
            })
            .transpose()
    };
    let (from, until) = (bound("notBefore")?, bound("notAfter")?);
    let lookup = fid.clone();
    // Core 5: FIDs compare case-insensitively.
    let case_sensitive = state.config.faults.contains(&Fault::FidCaseSensitive);
    let (known, certs) = state
        .store
        .tx(move |tx| {
            Ok((
                tx.actor_fid(&lookup, case_sensitive)?,
                tx.actor_certs(&lookup, case_sensitive)?,
            ))
        })
        .await?;
    if known.is_none() {
        return Err(ApiError::NotFound);
    }
    let mut out = Vec::new();
    for cert in certs {
        let info = p2mls_protocol::idcert::verify_actor_cert(&cert.der, &state.identity.cert_der)
            .map_err(|e| {
            ApiError::Internal(format!("a stored ID-Cert does not verify: {e}"))
        })?;
        let wanted = query
            .get("session_id")
            .is_none_or(|s| *s == info.name.session_id)
            && from.is_none_or(|from| info.not_after >= from)
            && until.is_none_or(|until| info.not_before <= until);
        if wanted {
            let pem = p2mls_protocol::idcert::cert_der_to_pem(&cert.der)
                .map_err(|e| ApiError::Internal(format!("a stored ID-Cert: {e}")))?;
            out.push(cacheable(
                &state,
                &pem,
                &decimal(&cert.serial),
                cert.revoked_at,
            ));
        }
    }
    Ok(axum::Json(out))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A big-endian unsigned integer in decimal (certificate serial numbers).
fn decimal(bytes: &[u8]) -> String {
    let mut digits = vec![0u8];
    for byte in bytes {
        let mut carry = u32::from(*byte);
        for digit in digits.iter_mut() {
            let value = u32::from(*digit) * 256 + carry;
            *digit = (value % 10) as u8;
            carry = value / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// Compares secrets without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
