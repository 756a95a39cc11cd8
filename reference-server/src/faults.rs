//! Named faults: each breaks exactly one rule so that tests can show the harness noticing.
//! They are enabled only by an explicit `--fault NAME`; the default server has none.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// MLS routes answer without a bearer token (acting for the newest session).
    NoAuth,
    /// Discovery hands a consumed KeyPackage out again instead of deleting it.
    KeypackageReuse,
    /// The gateway's hello carries s = 1 instead of 0.
    HelloSeqOne,
    /// The gateway never confirms a successful identify.
    NoReady,
    /// Every gateway close uses 4000 instead of the specific code.
    WrongCloseCode,
    /// The gateway skips a sequence number after the hello.
    SequenceGap,
    /// Heartbeats are never acknowledged.
    NoHeartbeatAck,
    /// Heartbeat ACKs never re-send the events listed in `except`.
    AckWithoutResend,
    /// A silent client is closed without a heartbeat request first.
    NoHeartbeatRequest,
    /// Service channel ACKs lack the `success` field.
    AckWithoutSuccess,
    /// Unknown services are acknowledged as subscribed.
    UnknownServiceAccepted,
    /// Resumed events carry nothing of what was missed.
    ResumeEmpty,
    /// `mls` events are never delivered.
    DropMlsEvents,
    /// Welcomes are accepted with their commit but never delivered to the invitees.
    DropWelcome,
    /// Commits since an epoch are listed newest first.
    ReorderCommits,
    /// Discovery ignores the ciphersuites filter.
    IgnoreSuiteFilter,
    /// One byte of every relayed application message is flipped.
    FlipRelayedByte,
    /// Another actor's group answers 403 instead of the ambiguous 404.
    ForbiddenForForeign,
    /// A group that does not exist answers 410 instead of 404.
    GoneForMissing,
    /// Group, Commit and Welcome objects carry `epoch` as a string.
    EpochAsString,
    /// GroupMember roles are written in lower case (outside the enum).
    RoleLowercase,
    /// Listed proposals lack their required `signature`.
    ProposalWithoutSignature,
    /// An accepted proposal answers 201 instead of 204.
    ProposalCreated,
    /// A successful upload answers a JSON body instead of text/plain `200`.
    UploadJsonBody,
    /// Discovered KeyPackages lack their required `lastResort`.
    DiscoveryWithoutLastResort,
    /// A malformed or mistyped JSON body answers 500.
    CrashOnBadJson,
    /// ID-Certs break polyproto-core §6.1: the root without CA flags, actor certs with them.
    BrokenCertificates,
    /// Discovery without `ciphersuites` serves every suite instead of answering 400.
    DefaultCiphersuites,
    /// Discovery for an unknown actor answers 200 [] instead of 404.
    UnknownFidEmpty,
    /// KeyPackages with an invalid signature are accepted.
    AcceptBadSignature,
    /// KeyPackages whose lifetime has ended are accepted.
    AcceptExpired,
    /// Credentials are not checked against this server's root.
    AcceptForeignCredential,
    /// KeyPackages with another actor's credential are accepted.
    AcceptOtherActor,
    /// KeyPackages of suites outside the registry are accepted.
    AcceptUnknownSuite,
    /// KeyPackages naming an extension type outside RFC 9420's list and last_resort (a GREASE
    /// value, RFC 9420 §13.5) are refused instead of ignoring the unknown type.
    RefuseUnknownExtensions,
    /// JSON summaries are not compared with the bytes.
    AcceptSummaryMismatch,
    /// A batch with faulty packages stores its sound ones.
    PartialBatch,
    /// The group creator is listed as a plain Member.
    CreatorNotAdmin,
    /// Commits for a past epoch are accepted.
    AcceptStaleCommit,
    /// The Welcome a commit answers has one byte flipped.
    CorruptWelcome,
    /// ID-CSRs are signed as they come: no self-signature, pDN, CA-request, caller or domain
    /// check (breaks CORE.6.1.csr-verify).
    IssueUnverifiedCsr,
    /// An ID-CSR with a session id in use silently replaces that session instead of 409.
    SessionIdTakeover,
    /// ID-CSRs are signed without the X-P2-Sensitive-Solution second factor.
    NoSecondFactor,
    /// 400 answers carry a plain-text body instead of the profile's error object.
    PlainTextErrors,
    /// No per-session rate limit, whatever the configuration says.
    NoRateLimit,
    /// One actor may consume any number of another's one-time KeyPackages.
    NoDiscoveryLimit,
    /// Over TLS, ALPN offers only `http/1.1`: no HTTP/2 (core 3.4's recommendation).
    NoHttp2,
    /// Embedded runs: the server's TLS certificate comes from a CA the harness was not given.
    TlsForeignCa,
    /// Embedded runs: the server's TLS certificate names another host.
    TlsWrongName,
    /// Embedded runs: the server's TLS certificate expired yesterday.
    TlsExpired,
    /// X.509 credentials are read with an extra length prefix around the certificate list (the
    /// server before issue 14), so RFC 9420 §5.3 credentials are refused.
    X509ExtraPrefix,
    /// X.509 credentials are read in RFC 9420 form, and in the extra-prefixed form when that
    /// fails: a credential whose first cert_data is not a certificate is accepted.
    X509EitherPrefix,
    /// An upload whose body is not a JSON array answers the generic error object instead of
    /// the documented `[{id: "#body", reason}]`.
    UploadErrorObject,
    /// Two last-resort packages in one batch are accepted; the second silently replaces the
    /// first (instead of 400).
    TwoLastResorts,
    /// At the KeyPackage limit, replacing the last-resort package answers 413: the replacement
    /// is counted as an addition, not a swap.
    LastResortSwapOverLimit,
    /// FIDs in discovery and member paths compare case-sensitively.
    FidCaseSensitive,
    /// Bodies sent to a group's routes are parsed before visibility is checked, so a
    /// non-member's malformed body gets 400 instead of the 404 (PROFILE.error-body's order).
    ValidateBeforeVisibility,
    /// Registration accepts only `[a-z0-9_.-]{1,32}`, narrower than PROFILE's
    /// `[a-z0-9._%+-]{1,64}`.
    NarrowNames,
    /// A JSON body over the size limit answers 400 instead of 413.
    OversizedAs400,
    /// An ID-CSR body over the size limit answers a plain-text 413 before authentication.
    IdcertLimitBeforeAuth,
    /// WebSocket protocol errors, invalid UTF-8 and oversized frames end the connection without
    /// a close frame.
    AbruptProtocolErrors,
    /// A client's close frame is not echoed; the connection is just dropped.
    NoCloseEcho,
}

/// Rewrites responses for the faults that only change what the server says (statuses, fields),
/// so that the routes themselves stay free of fault code. A no-op without such faults.
pub async fn rewrite(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, Method, StatusCode};
    use axum::response::IntoResponse;

    let faults = state.config.faults.clone();
    if faults.is_empty() {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let has = |f: Fault| faults.contains(&f);
    let mls = p2mls_protocol::routes::MLS_BASE;
    let group_id = path
        .strip_prefix(&format!("{mls}/groups/"))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);

    if status == StatusCode::NOT_FOUND {
        if let Some(group_id) = &group_id {
            let id = group_id.clone();
            let exists = state
                .store
                .tx(move |tx| {
                    Ok(tx
                        .query_row("SELECT 1 FROM groups WHERE id = ?1", [&id], |_| Ok(()))
                        .is_ok())
                })
                .await
                .unwrap_or(false);
            if exists && has(Fault::ForbiddenForForeign) {
                return crate::error::ApiError::Injected(403, "forbidden").into_response();
            }
            if !exists && has(Fault::GoneForMissing) {
                return crate::error::ApiError::Injected(410, "gone").into_response();
            }
        }
        if method == Method::GET
            && path.starts_with(&format!("{mls}/keypackages/"))
            && has(Fault::UnknownFidEmpty)
        {
            return axum::Json(serde_json::json!([])).into_response();
        }
        return response;
    }
    if status == StatusCode::BAD_REQUEST && has(Fault::PlainTextErrors) {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            "bad request",
        )
            .into_response();
    }
    if status == StatusCode::NO_CONTENT
        && method == Method::POST
        && path.ends_with("/proposals")
        && has(Fault::ProposalCreated)
    {
        return StatusCode::CREATED.into_response();
    }
    if status == StatusCode::OK
        && method == Method::POST
        && path == format!("{mls}/keypackages")
        && has(Fault::UploadJsonBody)
    {
        return axum::Json(serde_json::json!({ "ok": true })).into_response();
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status != StatusCode::OK || !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let discovery = method == Method::GET && path.starts_with(&format!("{mls}/keypackages/"));
    let proposals = method == Method::GET && path.ends_with("/proposals");
    let commit_answer = method == Method::POST && path.ends_with("/commits");
    let commit_history = method == Method::GET && path.ends_with("/commits");
    let relayed = method == Method::GET && path.ends_with("/messages");
    if commit_history && has(Fault::ReorderCommits) {
        if let serde_json::Value::Array(commits) = &mut value {
            commits.reverse();
        }
    }
    edit(&mut value, &mut |object| {
        if has(Fault::EpochAsString) {
            if let Some(epoch) = object.get("epoch").and_then(serde_json::Value::as_u64) {
                object.insert("epoch".into(), serde_json::json!(epoch.to_string()));
            }
        }
        if let Some(role) = object
            .get("role")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
        {
            if has(Fault::CreatorNotAdmin) && role == "Admin" {
                object.insert("role".into(), serde_json::json!("Member"));
            } else if has(Fault::RoleLowercase) {
                object.insert("role".into(), serde_json::json!(role.to_lowercase()));
            }
        }
        if proposals && has(Fault::ProposalWithoutSignature) && object.contains_key("type") {
            object.remove("signature");
        }
        if discovery && has(Fault::DiscoveryWithoutLastResort) {
            object.remove("lastResort");
        }
    });
    if commit_answer && has(Fault::CorruptWelcome) {
        if let Some(object) = value.as_object_mut() {
            flip_last_byte(object);
        }
    }
    if relayed && has(Fault::FlipRelayedByte) {
        edit(&mut value, &mut flip_last_byte);
    }
    let mut response = axum::Json(value).into_response();
    *response.status_mut() = parts.status;
    response
}

/// Flips the last byte of an object's base64 `mlsMessage`, if it has one.
fn flip_last_byte(object: &mut serde_json::Map<String, serde_json::Value>) {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(message) = object.get("mlsMessage").and_then(serde_json::Value::as_str) else {
        return;
    };
    let mut raw = engine.decode(message).unwrap_or_default();
    if let Some(last) = raw.last_mut() {
        *last ^= 0x01;
    }
    object.insert("mlsMessage".into(), serde_json::json!(engine.encode(raw)));
}

/// Applies `f` to every JSON object in `value`, depth first.
fn edit(
    value: &mut serde_json::Value,
    f: &mut impl FnMut(&mut serde_json::Map<String, serde_json::Value>),
) {
    match value {
        serde_json::Value::Object(map) => {
            for child in map.values_mut() {
                edit(child, f);
            }
            f(map);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                edit(item, f);
            }
        }
        _ => {}
    }
}
