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
    /// The root ID-Cert's cache signature is base64 over the PEM and the bounds (not hex over the
    /// serial number and the bounds, as PROFILE.server-idcert says).
    CacheSignatureOverPem,
    /// An ID-CSR's CA request is looked for in extensionRequest only: Basic Constraints and Key
    /// Usage as attributes of their own get an actor certificate issued.
    CaRequestOnlyInExtensionRequest,
    /// A KeyPackage refused for belonging to another actor is stored all the same (the answer
    /// still refuses it).
    StoreRefused,
    /// Service channel ACKs are sent without their sequence number `s`.
    UnsequencedServiceAck,
    /// `/.well-known/polyproto-core` is not served (404).
    NoWellKnown,
    /// `/.well-known/polyproto-core` names the host the client asked (`[visible domain]/.p2/core/`
    /// when asked at the visible domain) instead of the configured actual domain, where alone the
    /// API is served (core 3.1, item 4).
    WellKnownWrongApi,
    /// An actor's ID-Certs are not offered (the core 6.1.3 route answers 404).
    NoActorCerts,
    /// Encrypted private key material is answered 201 on upload but never stored (core 6.3).
    KeyMaterialLost,
    /// Key material uploaded again for a serial number replaces the stored one (no 409).
    KeyMaterialOverwrite,
    /// Key material downloads ignore the `serials` filter and list everything.
    KeyMaterialIgnoresSerials,
    /// Key material is deleted without the second factor of a sensitive action (core 4.2).
    KeyMaterialDeleteWithoutSecondFactor,
    /// Key material elements over the announced size limit are stored instead of refused (413).
    KeyMaterialNoSizeLimit,
    /// A revoked session's token is still accepted by the MLS API (core 6.1.4).
    RevokedTokenStillAccepted,
    /// Revoking a session leaves its open gateway connections open (instead of closing them with
    /// 4003, core 3.2.5).
    NoCloseOnRevoke,
    /// A revoked session's ID-Cert is listed without `invalidatedAt` (core 6.4.1).
    RevokedCertNotMarked,
    /// The `cacheSignature` of an invalidated ID-Cert leaves `invalidatedAt` out of what it signs.
    InvalidatedAtUnsigned,
    /// A revoked session's id is never given out again: an ID-CSR for it answers 409.
    NoSessionIdReuse,
    /// Sessions are revoked without the X-P2-Sensitive-Solution second factor.
    RevokeWithoutSecondFactor,
    /// A revocation matches the session id among every actor's sessions, so one actor revokes
    /// another's session of that id.
    RevokeAnyActor,
    /// No New Session event (core op 3) is ever sent.
    NoNewSessionEvent,
    /// The New Session event also goes to the new session itself (on its first identify).
    NewSessionEventToNewSession,
    /// New Session events reach only sessions connected when the session is issued: an offline
    /// session is not told on identify or resume.
    NoNewSessionBacklog,
    /// The gateway never confirms a successful identify.
    NoReady,
    /// The profile's relay routes are not served (PROFILE.welcome-delivery, .commit-history,
    /// .message-relay): `GET /welcomes`, `GET .../commits` and `.../messages` answer the 404 of
    /// an unknown route. The routes of the OpenAPI document stay.
    NoRelayRoutes,
    /// No `mlsMessage` member (PROFILE.mls-message-field, PROFILE.message-relay) in any answer
    /// or gateway event: discovered KeyPackages, proposals, commits, Welcomes, relayed messages.
    /// Requests are accepted as before.
    NoMlsMessage,
    /// The gateway closes every identify with 4004, a valid session token too.
    RefuseIdentify,
    /// Every gateway close uses 4000 instead of the specific code.
    WrongCloseCode,
    /// The gateway skips a sequence number after the hello.
    SequenceGap,
    /// Heartbeats are never acknowledged.
    NoHeartbeatAck,
    /// Heartbeat ACKs never re-send the events listed in `except`.
    AckWithoutResend,
    /// A heartbeat whose `except` lists missed events is answered only after every `mls` event
    /// queued for the connection has been sent: the re-sends wait behind other events.
    MissedBehindPending,
    /// A silent client is closed without a heartbeat request first.
    NoHeartbeatRequest,
    /// No allowance for a heartbeat's travel time: a heartbeat due at the interval that arrives
    /// later is too late (the connection is closed with 4009 right at the interval).
    NoHeartbeatGrace,
    /// Service channel ACKs lack the `success` field.
    AckWithoutSuccess,
    /// Unknown services are acknowledged as subscribed.
    UnknownServiceAccepted,
    /// Resumed events carry nothing of what was missed.
    ResumeEmpty,
    /// A resume from a sequence number the server never sent is served (with nothing) instead of
    /// being refused with a close.
    ResumeNeverRefused,
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
    /// Actor ID-Certs are issued already expired (valid from two days ago to yesterday).
    ExpiredActorCerts,
    /// Actor ID-Certs are issued for 90 days (core 6.1.3 says at most 60).
    LongLivedActorCerts,
    /// The root ID-Cert's self-signature does not verify (its last byte flipped); actor
    /// certificates are still signed with the root's key.
    BrokenRootSignature,
    /// CacheableIDCert answers carry a cache window that ended an hour ago (correctly signed).
    StaleCacheWindow,
    /// Issued ID-Certs write the subject anew from its claims, common name before
    /// uniqueIdentifier, instead of the CSR's subject Name bytes.
    ReencodedSubject,
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
    /// An Add proposal may carry a KeyPackage of another suite than the group's: the
    /// suite-mixing rule is skipped.
    MixedSuites,
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
    /// ID-CSRs whose Ed25519 key has small order or a non-canonical encoding are signed: the
    /// self-signature is verified without core 6.2.1's refusal of weak keys.
    AcceptWeakKeys,
    /// ID-CSRs whose self-signature, and KeyPackages whose signature, carries S + L (the
    /// malleable form) are accepted: S is reduced modulo L instead of being refused (core 6.2.1).
    AcceptMalleableSignatures,
    /// An ID-CSR with a session id in use silently replaces that session instead of 409.
    SessionIdTakeover,
    /// An ID-CSR with a session id in use is refused with 400 instead of PROFILE's 409 (still a
    /// refusal, so only the profile's exact answer breaks).
    SessionIdInUseAs400,
    /// ID-CSRs are signed without the X-P2-Sensitive-Solution second factor (revocations still
    /// need it).
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
    /// FIDs in discovery, member and ID-Cert lookup paths compare case-sensitively.
    FidCaseSensitive,
    /// Registration accepts upper-case letters in names and compares names byte for byte, so
    /// `Alice` and `alice` become two actors (core 5: local names are unique and FIDs
    /// case-insensitive).
    CaseSensitiveNames,
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

/// The member the `no-mls-message` fault leaves out of answers and gateway events.
const MLS_MESSAGE: &str = "mlsMessage";

/// Removes `mlsMessage` from every JSON object in `value`, at any depth (the `no-mls-message`
/// fault, for answers and gateway events alike).
pub fn strip_mls_message(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove(MLS_MESSAGE);
            map.values_mut().for_each(strip_mls_message);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_mls_message),
        _ => {}
    }
}
