//! PROFILE.rate-limit: a server limits each session's request rate. A burst of requests from one
//! session beyond its limit gets 429 with `Retry-After` and the profile's error body, and after
//! that many seconds the session is served again.
//!
//! The burst is cheap and changes nothing: lookups of a group that does not exist (404). The
//! harness's own retrying is off for these requests, so the 429s reach the check as they are.
//! In reference mode the burst comes from an actor the check registers for itself, so the checks
//! running alongside keep their sessions' allowance.

use std::time::Duration;

use super::context::{http_finding, snippet, Ctx, ALICE};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding, Level};
use crate::clients::http::{parse_retry_after, ApiRequest, Auth};
use crate::spec::ApiSpec;

/// Requests sent at once; PROFILE.rate-limit says a session's burst allowance is below this.
pub const BURST: usize = 300;
/// Longest Retry-After the check waits for before its last request.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// The rate-limit check, listed when the document has the group read it bursts with.
pub fn checks(spec: &ApiSpec) -> Vec<CheckDef> {
    if spec.operation("groups_getGroup").is_none() {
        return Vec::new();
    }
    vec![CheckDef::new(
        "ratelimit.session-burst",
        Level::Profile,
        "A burst of requests from one session beyond its limit gets 429 with Retry-After and an error body, and the session is served again after it",
    )
    .requires(&["PROFILE.rate-limit", "PROFILE.error-body"])
    .needs(&[Fixture::Actors])
    // With a session of its own (reference mode) the burst disturbs nobody; on alice's session
    // it runs alone among the checks that act on the target, whose requests would be refused
    // too while her session is over its limit.
    .isolated_with_fresh_actors()
    .waits()
    .judged_by(|ctx| Box::pin(session_burst(ctx)))]
}

/// The session that bursts: an actor the check registers for itself when the run can register
/// actors (so the other checks' sessions keep their allowance), else alice's.
async fn bursting_session(ctx: &mut Ctx) -> Result<Auth, Finding> {
    let Some(secret) = ctx.registration_secret.clone() else {
        return Ok(ctx.auth(ALICE));
    };
    let name = format!("{}burst", ctx.name_prefix);
    let actor = crate::clients::actors::register(&ctx.http, &secret, &name, &crate::random_hex(4))
        .await
        .map_err(|e| Finding::harness(format!("cannot register the actor that bursts: {e}")))?;
    ctx.recorder.transcript.hide(&actor.token, "TOKEN_BURST");
    {
        let mut ledger = ctx.ledger();
        ledger.actors.push(actor.fid.clone());
        ledger.opened(&actor.fid, &actor.session_id, actor.account.as_ref());
    }
    Ok(Auth::Bearer {
        token: actor.token,
        label: "TOKEN_BURST".into(),
    })
}

/// `ratelimit.session-burst`.
pub async fn session_burst(ctx: &mut Ctx) -> CheckResult {
    let missing = ctx.unique("no-such-group");
    let (method, path) = ctx.route("groups_getGroup", &[("groupId", &missing)])?;
    let caller = bursting_session(ctx).await?;
    let request = ApiRequest::new(method, path, caller).without_retry();
    // "At once": over HTTP/1.1 each concurrent request needs a connection of its own, and 300
    // TLS handshakes on a loaded machine spread the burst over more than a second, during which
    // the server's allowance refills. A round with a token of no session opens the connections
    // first (its answers do not matter, and no real session's allowance is spent), so alice's
    // requests then arrive together on warm connections.
    let warm_up = ApiRequest {
        auth: Auth::Literal(format!("p2mls-warm-up-{}", crate::random_hex(8))),
        ..request.clone()
    };
    let rounds: Vec<_> = (0..BURST)
        .map(|_| {
            let (http, warm_up) = (ctx.http.clone(), warm_up.clone());
            tokio::spawn(async move { http.send(&warm_up).await })
        })
        .collect();
    for round in rounds {
        let _ = round.await;
    }
    let mut tasks = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        let http = ctx.http.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move { http.send(&request).await }));
    }
    let mut limited = Vec::new();
    let mut served = 0;
    for task in tasks {
        let (result, exchange) = task.await.map_err(Finding::harness)?;
        let response = result.map_err(http_finding)?;
        match response.status {
            404 => served += 1,
            429 => {
                // Keep the refusals (and not 300 lookups) as evidence.
                if limited.len() < 3 {
                    ctx.recorder.exchanges.push(exchange);
                }
                limited.push(response);
            }
            other => {
                ctx.recorder.exchanges.push(exchange);
                return Err(Finding::mismatch(
                    "404 (the group does not exist) or 429 (rate-limited)",
                    format!("{other}: {}", snippet(&response.text())),
                ));
            }
        }
    }
    if limited.is_empty() {
        return Err(Finding::mismatch(
            format!("429 for some of {BURST} requests one session sends at once"),
            format!("all {served} were served"),
        ));
    }
    let mut longest = Duration::ZERO;
    for response in &limited {
        let retry_after = response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| v.clone());
        let Some(wait) = retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
        else {
            return Err(Finding::mismatch(
                "429 with Retry-After (seconds or an HTTP date)",
                match &retry_after {
                    Some(value) => format!("Retry-After: {value}"),
                    None => "no Retry-After".to_owned(),
                },
            ));
        };
        longest = longest.max(wait);
        let body = response.json();
        let shaped = body.as_ref().is_some_and(|b| {
            b.get("error").is_some_and(|e| e.is_string())
                && b.get("message").is_some_and(|m| m.is_string())
        });
        if !shaped {
            return Err(Finding::mismatch(
                "429 with the error body {error, message}",
                snippet(&response.text()),
            ));
        }
    }
    if longest > LONGEST_WAIT {
        return Err(Finding::Unsupported(format!(
            "Retry-After asks for {} s; the check waits {} s at most",
            longest.as_secs(),
            LONGEST_WAIT.as_secs()
        )));
    }
    tokio::time::sleep(longest).await;
    let response = ctx.send(request).await?;
    if response.status == 429 {
        return Err(Finding::mismatch(
            format!(
                "the session served again after Retry-After ({} s)",
                longest.as_secs()
            ),
            format!("429 again ({} of {BURST} were 429 first)", limited.len()),
        ));
    }
    Ok(())
}
