//! Sessions of polyproto-core: revoking one (core 6.1.4, through core beta.3's `DELETE
//! /.p2/core/v1/session`, a sensitive action) and the New Session event (core 4.4, op 3 of
//! §3.2.3.4).
//!
//! Every check registers an actor of its own (reference mode: the harness holds the registration
//! secret) and opens that actor's sessions through its account, so that no revocation and no New
//! Session event reaches the run's alice, bob and carol, or another check's sessions, even when
//! checks run at once; it revokes what it opened when it ends. A target that answers 404 or 405 to
//! revoking a session it has just issued does not serve the route: those checks are
//! `unsupported`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p2mls_protocol::gateway::{close, core_op, NS_CORE};
use p2mls_protocol::idcert::build_csr;
use p2mls_protocol::routes;
use reqwest::Method;
use serde_json::{json, Value};

use super::context::{expect_error, expect_status, snippet, Ctx};
use super::idcert::{cache_problems, fresh_session, parse, record_session, server_root};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding};
use crate::clients::actors::Account;
use crate::clients::gateway::{close_code_text, GatewayClient};
use crate::clients::http::{ApiRequest, ApiResponse, Auth};
use crate::matchers::idcert as judge;

/// The session checks: core routes, always listed; they need account credentials.
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    vec![
        CheckDef::new("sessions.revoke.token-refused", Must, "A revoked session's token is refused by the API that accepted it before")
            .requires(&["CORE.6.1.revoke-session"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(token_refused(ctx, false))),
        CheckDef::new("sessions.revoke.token-401", Profile, "A revoked session's token gets 401 with an error body")
            .requires(&["PROFILE.auth-401", "PROFILE.session-revoke", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(token_refused(ctx, true))),
        CheckDef::new("sessions.revoke.gateway-closed", Must, "A revoked session's open gateway connection is closed with 4003, and its token cannot identify again")
            .requires(&["CORE.6.1.revoke-session", "CORE.3.2.close-4003-not-authenticated"])
            .needs(&[Actors, Account, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(gateway_closed(ctx))),
        CheckDef::new("sessions.revoke.idcert-invalidated", Must, "A revoked session's ID-Cert is still offered, with invalidatedAt")
            .requires(&["CORE.6.4.invalidated-at", "CORE.6.1.3.certs-on-request"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(invalidated(ctx, false))),
        CheckDef::new("sessions.revoke.invalidated-signature", Must, "The cacheSignature of an invalidated ID-Cert covers invalidatedAt")
            .requires(&["CORE.6.4.cache-signature", "PROFILE.session-revoke"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(invalidated(ctx, true))),
        CheckDef::new("sessions.revoke.session-id-reuse", May, "The id of a revoked session can be used for a new ID-Cert")
            .requires(&["CORE.6.1.session-id-reuse"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(session_id_reuse(ctx))),
        CheckDef::new("sessions.revoke.second-factor", Must, "A revocation without the right X-P2-Sensitive-Solution is refused, and the session stays valid")
            .requires(&["CORE.6.1.revoke-sensitive"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(second_factor(ctx, false))),
        CheckDef::new("sessions.revoke.second-factor-403", Profile, "A revocation without the right X-P2-Sensitive-Solution is refused with 403 and an error body")
            .requires(&["PROFILE.session-revoke", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(second_factor(ctx, true))),
        CheckDef::new("sessions.revoke.refusals", Profile, "Revocation answers 204; 404 for a revoked, unknown or other actor's session id (which stays valid), 400 without one, 401 without a token")
            .requires(&["PROFILE.session-revoke", "PROFILE.error-body"])
            .needs(&[Actors, Account])
            .isolated()
            .judged_by(|ctx| Box::pin(refusals(ctx))),
        CheckDef::new("sessions.new-session.live", Must, "An identified session gets a New Session event carrying the new session's ID-Cert")
            .requires(&["CORE.4.4.new-session-others", "CORE.3.2.new-session-payload"])
            .needs(&[Actors, Account, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(announced_live(ctx))),
        CheckDef::new("sessions.new-session.not-to-new", Must, "A new session is never told about itself")
            .requires(&["CORE.4.4.new-session-not-new"])
            .needs(&[Actors, Account, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(not_to_new(ctx))),
        CheckDef::new("sessions.new-session.on-identify", Must, "A session that identifies again is told about the sessions issued while it was away")
            .requires(&["CORE.4.4.new-session-offline", "CORE.3.2.new-session-payload"])
            .needs(&[Actors, Account, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(on_identify(ctx))),
        CheckDef::new("sessions.new-session.on-resume", Must, "A resumed session finds the New Session events of its absence among the missed events")
            .requires(&["CORE.4.4.new-session-offline", "CORE.3.2.resumed"])
            .needs(&[Actors, Account, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(on_resume(ctx))),
    ]
}

/// A session a check opened for itself.
struct Fresh {
    /// Names its token in evidence: `ACTOR_B` gives `$TOKEN_ACTOR_B`.
    label: String,
    session_id: String,
    token: String,
    /// Its ID-Cert, as the ID-CSR answer gave it.
    der: Vec<u8>,
}

impl Fresh {
    fn auth(&self) -> Auth {
        Auth::Bearer {
            token: self.token.clone(),
            label: format!("TOKEN_{}", self.label),
        }
    }
}

/// An actor a check registered for itself, and the sessions it opened through the actor's
/// account; what is still active when the check ends is revoked again (`tidy`).
struct Opened {
    account: Account,
    fid: String,
    /// `ACTOR` or `OTHER`: names the account's secrets in evidence (`$ACCOUNT_ACTOR`).
    owner: &'static str,
    active: Vec<String>,
}

impl Opened {
    /// Registers a fresh actor (PROFILE.actor-registration); the clean-up lists it.
    async fn register(ctx: &mut Ctx, owner: &'static str) -> Result<Self, Finding> {
        let secret = ctx.registration_secret.clone().ok_or_else(|| {
            Finding::Unsupported(
                "needs an actor of its own, which only reference mode (the registration secret) \
                 lets the harness register"
                    .into(),
            )
        })?;
        // The config's prefix first, so an operator can tell the harness's actors apart.
        let local_name = format!("{}sess-{}", ctx.name_prefix, crate::random_hex(4));
        let password = crate::random_hex(16);
        let req = ApiRequest::new(Method::POST, routes::REGISTER, Auth::None)
            .json(&json!({ "name": local_name, "secret": secret, "password": password }));
        let resp = ctx.send(req).await;
        if let Some(exchange) = ctx.recorder.exchanges.last_mut() {
            exchange.request = exchange
                .request
                .replace(&secret, "$REGISTRATION_SECRET")
                .replace(&password, &format!("$PASSWORD_{owner}"));
        }
        let resp = resp?;
        expect_status(&resp, &[201], "the registration of an actor for the check")?;
        let body = resp.json().unwrap_or_default();
        let (Some(fid), Some(token)) = (body["fid"].as_str(), body["token"].as_str()) else {
            return Err(Finding::mismatch(
                "a registration answer {fid, token}",
                snippet(&resp.text()),
            ));
        };
        hide_in_last_answer(ctx, token, &format!("ACCOUNT_{owner}"));
        let domain = fid
            .split_once('@')
            .map(|(_, domain)| domain.to_owned())
            .ok_or_else(|| Finding::mismatch("a fid name@domain", fid))?;
        Ok(Self {
            account: Account {
                local_name,
                domain,
                token: token.to_owned(),
                password,
            },
            fid: fid.to_owned(),
            owner,
            active: Vec::new(),
        })
    }

    /// Asks for an ID-Cert for a new key and `session_id` (PROFILE.idcert-issue).
    async fn request(&mut self, ctx: &mut Ctx, session_id: &str) -> Result<ApiResponse, Finding> {
        let (_, key) = fresh_session();
        let pem = build_csr(&self.account.name(session_id), &key).map_err(Finding::harness)?;
        let resp = ctx
            .send(self.account.id_csr_request(self.owner, pem))
            .await?;
        record_session(ctx, &resp, &self.account, session_id);
        if resp.status == 201 {
            self.active.push(session_id.to_owned());
        }
        Ok(resp)
    }

    /// The session an accepted ID-CSR opened.
    fn fresh(
        &self,
        ctx: &mut Ctx,
        resp: &ApiResponse,
        name: &str,
        session_id: &str,
    ) -> Result<Fresh, Finding> {
        let body = resp.json().unwrap_or_default();
        let (Some(pem), Some(token)) = (body["id_cert"].as_str(), body["token"].as_str()) else {
            return Err(Finding::mismatch(
                "an ID-CSR answer {id_cert, token}",
                snippet(&resp.text()),
            ));
        };
        let der = judge::pem_to_der(pem)
            .map_err(|e| Finding::mismatch("a PEM certificate in id_cert", e.to_string()))?;
        let label = format!("{}_{name}", self.owner);
        ctx.recorder
            .transcript
            .hide(token, &format!("TOKEN_{label}"));
        hide_in_last_answer(ctx, token, &format!("TOKEN_{label}"));
        Ok(Fresh {
            label,
            session_id: session_id.to_owned(),
            token: token.to_owned(),
            der,
        })
    }

    /// Opens session `name` with a fresh id.
    async fn open(&mut self, ctx: &mut Ctx, name: &str) -> Result<Fresh, Finding> {
        let (session_id, _) = fresh_session();
        let resp = self.request(ctx, &session_id).await?;
        expect_status(
            &resp,
            &[201],
            &format!("an ID-Cert for a fresh session {name} of the account"),
        )?;
        self.fresh(ctx, &resp, name, &session_id)
    }

    /// `DELETE /.p2/core/v1/session?session_id=…` with the account's token and second factor.
    async fn revoke(&mut self, ctx: &mut Ctx, session_id: &str) -> Result<ApiResponse, Finding> {
        let resp = ctx
            .send(self.account.revoke_request(self.owner, session_id))
            .await?;
        if (200..300).contains(&resp.status) {
            self.forget(ctx, session_id);
        }
        Ok(resp)
    }

    /// Revokes `fresh` and requires success; a 404 or 405 for a session the target has just
    /// issued means it does not serve the route.
    async fn revoke_ok(&mut self, ctx: &mut Ctx, fresh: &Fresh) -> CheckResult {
        let resp = self.revoke(ctx, &fresh.session_id).await?;
        if matches!(resp.status, 404 | 405) {
            return Err(unsupported_route(resp.status));
        }
        expect_status(&resp, &[200, 204], "the revocation of a session to succeed")
    }

    /// The session no longer needs revoking.
    fn forget(&mut self, ctx: &mut Ctx, session_id: &str) {
        self.active.retain(|s| s != session_id);
        let fid = &self.fid;
        ctx.ledger()
            .sessions
            .retain(|s| !(s.fid.eq_ignore_ascii_case(fid) && s.session_id == session_id));
    }

    /// Revokes what is still active. Best effort and out of the evidence: a target without the
    /// route keeps them, and the clean-up lists them.
    async fn tidy(mut self, ctx: &mut Ctx) {
        let recorded = ctx.recorder.exchanges.len();
        for session_id in std::mem::take(&mut self.active) {
            let _ = self.revoke(ctx, &session_id).await;
        }
        ctx.recorder.exchanges.truncate(recorded);
    }
}

/// Writes `secret` as `$name` in the answer of the last exchange, as curl lines and transcripts
/// write tokens.
fn hide_in_last_answer(ctx: &mut Ctx, secret: &str, name: &str) {
    if let Some(exchange) = ctx.recorder.exchanges.last_mut() {
        exchange.body = exchange.body.replace(secret, &format!("${name}"));
    }
}

fn unsupported_route(status: u16) -> Finding {
    Finding::Unsupported(format!(
        "the target does not serve DELETE {} (core beta.3 Registered_deleteSession): it answered \
         {status} to revoking a session it had just issued",
        routes::SESSION
    ))
}

/// Registers an actor for the check, runs `steps` with it, then revokes what they left active.
macro_rules! with_actor {
    ($ctx:ident, |$opened:ident| $steps:expr) => {{
        let mut $opened = Opened::register($ctx, "ACTOR").await?;
        let result: CheckResult = $steps.await;
        $opened.tidy($ctx).await;
        result
    }};
}

/// An authenticated request that changes nothing: a group nobody has. An accepted token gets
/// 404 (any answer but 401 or 403 counts as accepted), a refused one PROFILE.auth-401's 401.
async fn probe(ctx: &mut Ctx, session: &Fresh) -> Result<ApiResponse, Finding> {
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", "p2mls-no-such-group")])?;
    ctx.send(ApiRequest::new(method, path, session.auth()))
        .await
}

fn accepted(resp: &ApiResponse) -> bool {
    !matches!(resp.status, 401 | 403)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Core 6.1.4: revoking an ID-Cert revokes its session. The token that was accepted before the
/// revocation is refused after it: 401 or 403 at the text's level, 401 with the error body for
/// our profile (`exact`, PROFILE.auth-401).
pub async fn token_refused(ctx: &mut Ctx, exact: bool) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let session = opened.open(ctx, "S1").await?;
        let before = probe(ctx, &session).await?;
        if !accepted(&before) {
            return Err(Finding::mismatch(
                "a fresh session's token accepted before its revocation",
                format!("status {}: {}", before.status, snippet(&before.text())),
            ));
        }
        opened.revoke_ok(ctx, &session).await?;
        let after = probe(ctx, &session).await?;
        if exact {
            expect_error(&after, 401, "the revoked session's token refused")
        } else if accepted(&after) {
            Err(Finding::mismatch(
                "the revoked session's token refused (401 or 403) where it was accepted before",
                format!("status {}: {}", after.status, snippet(&after.text())),
            ))
        } else {
            Ok(())
        }
    })
}

/// Core 3.2.5: 4003 also means "the clients' session has been invalidated". An identified
/// connection of the session is closed with it when the session is revoked, and the token no
/// longer identifies (4003 or 4004: the text fits both).
pub async fn gateway_closed(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let session = opened.open(ctx, "S1").await?;
        let label = session.label.to_lowercase();
        let mut client = ctx
            .identified_with(&session.token, &format!("{label}#1"))
            .await?;
        opened.revoke_ok(ctx, &session).await?;
        let timeout = ctx.event_timeout();
        let code = client.expect_close(timeout).await.map_err(|e| {
            Finding::mismatch(
                "the revoked session's open connection closed with 4003",
                e.to_string(),
            )
        })?;
        if code != Some(close::NOT_AUTHENTICATED) {
            return Err(Finding::mismatch(
                "the revoked session's open connection closed with 4003",
                close_text(code),
            ));
        }
        let (mut again, _) = ctx.gateway(&format!("{label}#2")).await?;
        again
            .identify(&session.token)
            .await
            .map_err(Finding::harness)?;
        let code = again.expect_close(timeout).await.map_err(|e| {
            Finding::mismatch(
                "identify with the revoked session's token refused with a close",
                e.to_string(),
            )
        })?;
        if !code
            .is_some_and(|c| [close::NOT_AUTHENTICATED, close::INVALID_AUTHENTICATION].contains(&c))
        {
            return Err(Finding::mismatch(
                "identify with the revoked session's token closed with 4003 or 4004",
                close_text(code),
            ));
        }
        Ok(())
    })
}

/// Core 6.1.3 keeps every ID-Cert on offer, and core 6.4.1 marks an invalidated one with
/// `invalidatedAt` ("Certificate was not prematurely invalidated if not present"). After the
/// revocation the session's ID-Cert is still listed for its session id, with `invalidatedAt`
/// within the time of the revocation (a minute of leeway for clocks). With `signature`
/// (PROFILE.session-revoke): its `cacheSignature` verifies with the root's key over the serial
/// number, both cache bounds and `invalidatedAt`, in decimal.
pub async fn invalidated(ctx: &mut Ctx, signature: bool) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let session = opened.open(ctx, "S1").await?;
        let started = unix_now();
        opened.revoke_ok(ctx, &session).await?;
        let ended = unix_now();
        let path = format!(
            "{}?session_id={}",
            routes::actor_idcerts(&opened.fid.clone()),
            session.session_id
        );
        let resp = ctx
            .send(ApiRequest::new(Method::GET, path, Auth::None))
            .await?;
        expect_status(
            &resp,
            &[200],
            "the actor's ID-Certs for the session (core 6.1.3)",
        )?;
        let listed = resp
            .json()
            .and_then(|v| v.as_array().cloned())
            .ok_or_else(|| {
                Finding::mismatch(
                    "a JSON array of CacheableIDCert objects",
                    snippet(&resp.text()),
                )
            })?;
        let entry = listed
            .iter()
            .find(|e| {
                e["idCertPem"]
                    .as_str()
                    .and_then(|pem| judge::pem_to_der(pem).ok())
                    .is_some_and(|der| der == session.der)
            })
            .ok_or_else(|| {
                Finding::mismatch(
                    "the revoked session's ID-Cert still offered (core 6.1.3), marked invalidated",
                    format!("{} certificate(s) for the session id, not it", listed.len()),
                )
            })?;
        let mut shown = entry.clone();
        if let Some(object) = shown.as_object_mut() {
            object.remove("idCertPem");
        }
        let at = match &entry["invalidatedAt"] {
            Value::Number(n) => n.as_u64(),
            // The text's table types it as a string holding an unsigned integer.
            Value::String(s) => s.parse::<u64>().ok(),
            _ => None,
        };
        let Some(at) = at else {
            return Err(Finding::mismatch(
                "invalidatedAt: the UNIX time the revoked ID-Cert was invalidated",
                format!("the entry without it: {shown}"),
            ));
        };
        if at + 60 < started || at > ended + 60 {
            return Err(Finding::mismatch(
                format!("invalidatedAt within the revocation ([{started}, {ended}], a minute of leeway)"),
                format!("invalidatedAt {at}"),
            ));
        }
        if !signature {
            return Ok(());
        }
        let root_der = server_root(ctx).await?;
        let root = parse(&root_der)?;
        let cert = parse(&session.der)?;
        let mut problems = cache_problems(entry, &cert, &root);
        if !entry["invalidatedAt"].is_u64() {
            problems.push("invalidatedAt is not a JSON integer (the document's uint64)".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Finding::mismatch(
                "a cacheSignature by the root over serial, cacheNotValidBefore, cacheNotValidAfter and invalidatedAt",
                format!("{}; the entry: {shown}", problems.join("; ")),
            ))
        }
    })
}

/// Core 6.1.1.3: "A session ID can be reused if the session belonging to that session ID has
/// become invalid." A MAY: a target that refuses with 409 does not take it (`unsupported`). One
/// that issues the ID-Cert must bind the new key to that session id, accept the new token and
/// still refuse the revoked one.
pub async fn session_id_reuse(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let first = opened.open(ctx, "S1").await?;
        opened.revoke_ok(ctx, &first).await?;
        let resp = opened.request(ctx, &first.session_id).await?;
        if resp.status == 409 {
            return Err(Finding::Unsupported(
                "the target does not give out the id of a revoked session again (409); core \
                 6.1.1.3 allows reuse, it does not require it"
                    .into(),
            ));
        }
        expect_status(
            &resp,
            &[201],
            "an ID-Cert for the id of a revoked session (or 409: not reused)",
        )?;
        let second = opened.fresh(ctx, &resp, "S1_AGAIN", &first.session_id)?;
        let cert = parse(&second.der)?;
        let claims = judge::claims(cert.subject())
            .map_err(|e| Finding::mismatch("the pDN claims of an ID-Cert", e.to_string()))?;
        if claims.session_id.as_deref() != Some(first.session_id.as_str()) {
            return Err(Finding::mismatch(
                format!("the new ID-Cert for session id {}", first.session_id),
                format!(
                    "session id {}",
                    claims.session_id.as_deref().unwrap_or("(none)")
                ),
            ));
        }
        let new = probe(ctx, &second).await?;
        if !accepted(&new) {
            return Err(Finding::mismatch(
                "the token of the session that reuses the id accepted",
                format!("status {}: {}", new.status, snippet(&new.text())),
            ));
        }
        let old = probe(ctx, &first).await?;
        if accepted(&old) {
            return Err(Finding::mismatch(
                "the revoked session's token still refused once its id is in use again",
                format!("status {}: {}", old.status, snippet(&old.text())),
            ));
        }
        Ok(())
    })
}

/// Revoking is a sensitive action (core 6.1.4; the core document requires the header on the
/// route). Without `X-P2-Sensitive-Solution`, or with a wrong one, the revocation is refused (a
/// 4xx; `exact`: 403 with the error body, PROFILE.session-revoke) and the session still works
/// afterwards. Revoking it with the second factor at the end shows the route is served.
pub async fn second_factor(ctx: &mut Ctx, exact: bool) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let session = opened.open(ctx, "S1").await?;
        let mut refusals = Vec::new();
        for (label, password) in [("missing", None), ("wrong", Some("p2mls-wrong-solution"))] {
            let mut req = opened
                .account
                .revoke_request(opened.owner, &session.session_id);
            req.secret_headers.clear();
            if let Some(password) = password {
                req = req.header(routes::SENSITIVE_SOLUTION_HEADER, password);
            }
            let resp = ctx.send(req).await?;
            if (200..300).contains(&resp.status) {
                opened.forget(ctx, &session.session_id);
                return Err(Finding::mismatch(
                    format!("a revocation with a {label} X-P2-Sensitive-Solution refused"),
                    format!("status {}: the session was revoked", resp.status),
                ));
            }
            refusals.push((label, resp));
        }
        let after = probe(ctx, &session).await?;
        if !accepted(&after) {
            return Err(Finding::mismatch(
                "the session still valid after the refused revocations",
                format!("its token refused: status {}", after.status),
            ));
        }
        opened.revoke_ok(ctx, &session).await?;
        for (label, resp) in refusals {
            let what = format!("a revocation with a {label} X-P2-Sensitive-Solution to be refused");
            if exact {
                expect_error(&resp, 403, &what)?;
            } else if !(400..500).contains(&resp.status) {
                return Err(Finding::mismatch(
                    format!("{what} (a 4xx)"),
                    format!("status {}", resp.status),
                ));
            }
        }
        Ok(())
    })
}

/// PROFILE.session-revoke's answers: 204 with an empty body; 404 with the error body for a
/// session revoked already, for an id the actor never had, and for an id only another actor has
/// (whose session stays valid: session ids are unique per actor only, core 6.1.1); 400 without
/// a session id; 401 without a token.
pub async fn refusals(ctx: &mut Ctx) -> CheckResult {
    let mut other = Opened::register(ctx, "OTHER").await?;
    let result = with_actor!(ctx, |opened| async {
        let session = opened.open(ctx, "S1").await?;
        let resp = opened.revoke(ctx, &session.session_id).await?;
        if matches!(resp.status, 404 | 405) {
            return Err(unsupported_route(resp.status));
        }
        if resp.status != 204 || !resp.body.is_empty() {
            return Err(Finding::mismatch(
                "204 with an empty body for a revocation",
                format!("status {}: {}", resp.status, snippet(&resp.text())),
            ));
        }
        let resp = opened.revoke(ctx, &session.session_id).await?;
        expect_error(&resp, 404, "revoking a session revoked already")?;
        let (unknown, _) = fresh_session();
        let resp = opened.revoke(ctx, &unknown).await?;
        expect_error(&resp, 404, "revoking a session id the actor never had")?;
        let theirs = other.open(ctx, "S1").await?;
        let resp = opened.revoke(ctx, &theirs.session_id).await?;
        expect_error(&resp, 404, "revoking a session id only another actor has")?;
        let after = probe(ctx, &theirs).await?;
        if !accepted(&after) {
            return Err(Finding::mismatch(
                "the other actor's session untouched by a revocation of its id by someone else",
                format!("its token refused: status {}", after.status),
            ));
        }
        let mut req = opened.account.revoke_request(opened.owner, "");
        req.path = routes::SESSION.to_owned();
        let resp = ctx.send(req).await?;
        expect_error(&resp, 400, "a revocation without session_id")?;
        let resp = ctx
            .send(ApiRequest::new(
                Method::DELETE,
                format!("{}?session_id={unknown}", routes::SESSION),
                Auth::None,
            ))
            .await?;
        expect_error(&resp, 401, "a revocation without a token")
    });
    other.tidy(ctx).await;
    result
}

/// A close as a person reads it.
fn close_text(code: Option<u16>) -> String {
    format!("close code {}", close_code_text(code))
}

fn is_new_session(event: &Value) -> bool {
    event["n"] == NS_CORE && event["op"] == core_op::NEW_SESSION
}

/// The next New Session event on `client` within `timeout`, also among the events `expect`
/// passed over before.
async fn next_announcement(client: &mut GatewayClient, timeout: Duration) -> Result<Value, String> {
    if let Some(at) = client.skipped.iter().position(is_new_session) {
        return Ok(client.skipped.remove(at));
    }
    client
        .expect(timeout, "a New Session event (core op 3)", is_new_session)
        .await
        .map_err(|e| e.to_string())
}

/// The certificate a New Session event carries (`d.cert`, ASCII PEM), read with x509-parser.
fn announced_der(event: &Value) -> Result<Vec<u8>, String> {
    let pem = event["d"]["cert"]
        .as_str()
        .ok_or_else(|| format!("d without a cert string: {}", event["d"]))?;
    judge::pem_to_der(pem).map_err(|e| format!("d.cert is not a PEM certificate: {e}"))
}

/// Core §3.2.3.4: d is `{cert}`, the ASCII-PEM ID-Cert of the new session: the certificate the
/// target issued for it (the same DER), whose pDN names the actor and the session, signed by
/// the server's root.
async fn judge_announcement(ctx: &mut Ctx, event: &Value, new: &Fresh, fid: &str) -> CheckResult {
    let expected = format!(
        "a New Session event {{n: core, op: 3, d: {{cert}}}} carrying session {}'s ID-Cert",
        new.session_id
    );
    let der = announced_der(event).map_err(|e| Finding::mismatch(&expected, e))?;
    let root_der = server_root(ctx).await?;
    let root = parse(&root_der)?;
    let cert =
        judge::parse(&der).map_err(|e| Finding::mismatch(&expected, format!("d.cert: {e}")))?;
    let mut problems = Vec::new();
    if der != new.der {
        let claims = judge::claims(cert.subject()).ok();
        let shown = |value: Option<String>| value.unwrap_or_else(|| "(none)".into());
        problems.push(format!(
            "another certificate (UID {}, session id {})",
            shown(claims.as_ref().and_then(|c| c.uid.clone())),
            shown(claims.as_ref().and_then(|c| c.session_id.clone())),
        ));
    }
    match judge::claims(cert.subject()) {
        Ok(claims) => problems.extend(judge::actor_claims_problems(&claims, fid, &new.session_id)),
        Err(e) => problems.push(e.to_string()),
    }
    if let Err(e) = judge::signed_by(&cert, &root) {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Finding::mismatch(expected, problems.join("; ")))
    }
}

/// Core 4.4 and the opcode table of §3.2.1.2: the New Session event is "Received by all
/// sessions except the new one". Session A is identified when session B is issued: A gets op 3
/// with B's ID-Cert.
pub async fn announced_live(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let a = opened.open(ctx, "A").await?;
        let mut client = ctx
            .identified_with(&a.token, &format!("{}#1", a.label.to_lowercase()))
            .await?;
        let b = opened.open(ctx, "B").await?;
        let event = next_announcement(&mut client, ctx.event_timeout()).await;
        client.close().await;
        let event = event.map_err(|e| {
            Finding::mismatch(
                "a New Session event on session A's connection when session B was issued",
                e,
            )
        })?;
        judge_announcement(ctx, &event, &b, &opened.fid.clone()).await
    })
}

/// Core 4.4: the event goes to "all sessions, excluding the new session". Session B identifies
/// after it was issued, then session C is issued: B hears of C, and of itself never, neither
/// before C's event nor with it.
pub async fn not_to_new(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let b = opened.open(ctx, "B").await?;
        let mut client = ctx
            .identified_with(&b.token, &format!("{}#1", b.label.to_lowercase()))
            .await?;
        let c = opened.open(ctx, "C").await?;
        let deadline = tokio::time::Instant::now() + ctx.event_timeout();
        let outcome = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match next_announcement(&mut client, left).await {
                Err(e) => {
                    break Err(Finding::mismatch(
                        "session B to hear of the later session C (and never of itself)",
                        e,
                    ))
                }
                Ok(event) => match announced_der(&event) {
                    Ok(der) if der == b.der => {
                        break Err(Finding::mismatch(
                            "no New Session event about session B on its own connection",
                            format!("one carrying B's ID-Cert: {}", snippet(&event.to_string())),
                        ))
                    }
                    Ok(der) if der == c.der => break Ok(()),
                    _ => {}
                },
            }
        };
        client.close().await;
        outcome
    })
}

/// Core 4.4: "Clients re-establishing server connections must be updated on any new sessions
/// generated during their absence." Session A was identified and left; session B is issued; A
/// identifies again and gets op 3 with B's ID-Cert.
pub async fn on_identify(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let a = opened.open(ctx, "A").await?;
        let label = a.label.to_lowercase();
        let first = ctx.identified_with(&a.token, &format!("{label}#1")).await?;
        first.close().await;
        // Let the server notice the disconnect before the session is issued.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = opened.open(ctx, "B").await?;
        let mut again = ctx.identified_with(&a.token, &format!("{label}#2")).await?;
        let event = next_announcement(&mut again, ctx.event_timeout()).await;
        again.close().await;
        let event = event.map_err(|e| {
            Finding::mismatch(
                "session A, identifying again, told of session B issued while it was away",
                e,
            )
        })?;
        judge_announcement(ctx, &event, &b, &opened.fid.clone()).await
    })
}

/// Core 4.4 with core §3.2.3.6: a session that resumes instead finds the New Session event of
/// its absence among the missed events of Resumed (op 10), with `s` above the one it resumed
/// from. Resuming is a MAY: a target that refuses it (4010) makes this check `unsupported`.
pub async fn on_resume(ctx: &mut Ctx) -> CheckResult {
    with_actor!(ctx, |opened| async {
        let a = opened.open(ctx, "A").await?;
        let label = a.label.to_lowercase();
        let first = ctx.identified_with(&a.token, &format!("{label}#1")).await?;
        let last = first.received.iter().max().copied().unwrap_or(0);
        first.close().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = opened.open(ctx, "B").await?;
        let (mut second, _) = ctx.gateway(&format!("{label}#2")).await?;
        second
            .send_core(core_op::RESUME, json!({ "s": last, "token": a.token }))
            .await
            .map_err(Finding::harness)?;
        let resumed = super::gateway::expect_resumed(&mut second, ctx.event_timeout()).await;
        second.close().await;
        let resumed = resumed?;
        let replayed = resumed["d"].as_array().cloned().unwrap_or_default();
        let event = replayed
            .iter()
            .find(|e| is_new_session(e) && announced_der(e).is_ok_and(|der| der == b.der))
            .ok_or_else(|| {
                Finding::mismatch(
                    "among the missed events, the New Session event about session B",
                    snippet(&resumed.to_string()),
                )
            })?;
        if event["s"].as_u64().is_none_or(|s| s <= last) {
            return Err(Finding::mismatch(
                format!("the New Session event among the missed events with s > {last}"),
                snippet(&event.to_string()),
            ));
        }
        judge_announcement(ctx, event, &b, &opened.fid.clone()).await
    })
}
