//! The polyproto gateway (polyproto-core §3.2) and the `mls` service channel, checked over a real
//! WebSocket: hello, identify, each close code, heartbeats and re-sends, heartbeat requests,
//! service channels, sequence numbers, resume, and `mls` events caused by HTTP calls.

use std::time::Duration;

use p2mls_protocol::gateway::{close, core_op, mls_op, NS_CORE, NS_MLS};
use p2mls_protocol::routes;
use reqwest::Method;
use serde_json::{json, Value};

use super::context::{expect_status, mls_message, Ctx, MlsObject, ALICE, BOB, CAROL};
use super::unit::{CheckDef, Fixture, Resource};
use crate::check::{CheckResult, Finding};
use crate::clients::gateway::{close_code_text, GatewayClient, Incoming, NarrowTcp};
use crate::clients::http::ApiRequest;

/// The gateway checks: the gateway is not part of the OpenAPI document, so they are always listed.
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    let mut checks = vec![
        CheckDef::new("gateway.hello", Must, "The first frame is a hello with a heartbeat interval and s = 0")
            .requires(&["CORE.3.2.hello", "CORE.3.2.envelope", "CORE.3.2.seq-numbering", "CORE.3.2.core-opcodes", "PROFILE.gateway-discovery"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(hello(ctx))),
        CheckDef::new("gateway.identify", Must, "Identify with a session token is accepted: the socket stays open and a service channel request is answered, not closed with 4003")
            .requires(&["CORE.3.2.identify"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(identify(ctx))),
        CheckDef::new("gateway.ready", Profile, "Identify is confirmed with the ready event (core op 12) naming the actor")
            .requires(&["PROFILE.gateway-ready"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(ready(ctx))),
        CheckDef::new("gateway.heartbeat-interval", Should, "The hello announces a heartbeat interval of 30 to 60 seconds")
            .requires(&["CORE.3.2.heartbeat-interval"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(heartbeat_interval(ctx))),
        CheckDef::new("gateway.heartbeat.late", Must, "A heartbeat that arrives 250 ms after the interval ran out is acknowledged, not closed")
            .requires(&["CORE.3.2.heartbeat-latency"])
            .needs(&[Actors, Gateway])
            .isolated()
            .waits()
            .judged_by(|ctx| Box::pin(heartbeat_late(ctx))),
        CheckDef::new("gateway.heartbeat.ack", Must, "A heartbeat is acknowledged with an array of re-sent events")
            .requires(&["CORE.3.2.heartbeat-ack", "CORE.3.2.heartbeat-ack-payload", "CORE.3.2.heartbeat-payload", "CORE.3.2.heartbeat-ack-no-nesting"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(heartbeat_ack(ctx))),
        CheckDef::new("gateway.heartbeat.resend", Must, "Events listed in `except` are re-sent unchanged in the ACK")
            .requires(&["CORE.3.2.missed-resend"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(heartbeat_resend(ctx))),
        CheckDef::new("gateway.heartbeat.priority", Must, "The heartbeat ACK with the events re-sent for `except` goes out ahead of other events queued while it is owed")
            .requires(&["CORE.3.2.missed-priority"])
            .needs(&[Actors, Gateway])
            .shares(&[Resource::KeyPackages(BOB)])
            .owns(&[Resource::Gateway(BOB)])
            .judged_by(|ctx| Box::pin(heartbeat_priority(ctx))),
        CheckDef::new("gateway.heartbeat.request", Should, "A silent client gets a heartbeat request, then a 4009 close")
            .requires(&["CORE.3.2.heartbeat-request-before-close", "CORE.3.2.heartbeat-timeout-close", "CORE.3.2.heartbeat-request", "CORE.3.2.heartbeat-request-payload", "CORE.3.2.close-4009-timeout"])
            .needs(&[Actors, Gateway])
            .isolated()
            .waits()
            .judged_by(|ctx| Box::pin(heartbeat_request(ctx))),
        CheckDef::new("gateway.close.timeout", Must, "A silent client that is closed gets 4009, and any heartbeat request before it carries no data")
            .requires(&["CORE.3.2.close-4009-timeout", "CORE.3.2.heartbeat-request-payload"])
            .needs(&[Actors, Gateway])
            .isolated()
            .waits()
            .judged_by(|ctx| Box::pin(timeout_close(ctx))),
        CheckDef::new("gateway.service.subscribe", Must, "Subscribing to `mls` is acknowledged with success")
            .requires(&["CORE.3.2.service-channel-subscribe", "CORE.3.2.service-channel-ack", "MLS.4.gateway-namespace", "MLS.4.subscribe"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(subscribe(ctx))),
        CheckDef::new("gateway.service.unsubscribe", Must, "Unsubscribing from `mls` is acknowledged with success")
            .requires(&["CORE.3.2.service-channel-unsubscribe", "CORE.3.2.service-channel-ack"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(unsubscribe(ctx))),
        CheckDef::new("gateway.service.unknown", Must, "An unknown service is refused with success false")
            .requires(&["CORE.3.2.service-channel-ack"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(unknown_service(ctx))),
        CheckDef::new("gateway.sequence", Must, "Sequence numbers start at 0 and grow by one per server message")
            .requires(&["CORE.3.2.seq-numbering"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(sequence(ctx))),
        CheckDef::new("gateway.resume", May, "A resumed session gets the events it missed while disconnected")
            .requires(&["CORE.3.2.resume", "CORE.3.2.resumed", "CORE.3.2.resumed-minimal"])
            .needs(&[Actors, Gateway])
            .shares(&[Resource::KeyPackages(BOB)])
            .owns(&[Resource::Gateway(BOB)])
            .waits()
            .judged_by(|ctx| Box::pin(resume(ctx))),
        CheckDef::new("gateway.resume.rejected", Must, "A resume the server cannot serve is refused with a fitting close code (4000, 4007 or 4010), not served")
            .requires(&["CORE.3.2.resume-reject"])
            .needs(&[Actors, Gateway])
            .shares(&[Resource::Gateway(BOB)])
            .judged_by(|ctx| Box::pin(resume_rejected(ctx, false))),
        CheckDef::new("gateway.resume.rejected-4010", Profile, "A resume the server cannot serve is closed with 4010 (Unresumeable)")
            .requires(&["PROFILE.resume-reject-4010"])
            .needs(&[Actors, Gateway])
            .shares(&[Resource::Gateway(BOB)])
            .judged_by(|ctx| Box::pin(resume_rejected(ctx, true))),
        CheckDef::new("gateway.websocket.protocol-errors", Profile, "Reserved opcodes, RSV bits, unmasked or stray continuation frames and oversized pings get a close frame with 1002")
            .requires(&["PROFILE.gateway-websocket"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(websocket(ctx, WireFault::ProtocolErrors))),
        CheckDef::new("gateway.websocket.invalid-utf8", Profile, "A text frame that is not UTF-8 gets a close frame with 1007 (or 4002)")
            .requires(&["PROFILE.gateway-websocket"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(websocket(ctx, WireFault::InvalidUtf8))),
        CheckDef::new("gateway.websocket.frame-too-large", Profile, "A frame over 64 KiB gets a close frame with 1009")
            .requires(&["PROFILE.gateway-websocket"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(websocket(ctx, WireFault::FrameTooLarge))),
        CheckDef::new("gateway.websocket.close-echo", Profile, "A client's close frame (1000) is echoed")
            .requires(&["PROFILE.gateway-websocket"])
            .needs(&[Actors, Gateway])
            .isolated()
            .judged_by(|ctx| Box::pin(websocket(ctx, WireFault::CloseEcho))),
        CheckDef::new("gateway.mls.events", Profile, "Subscribed members receive proposal and commit events in order, invitees their Welcome")
            .requires(&["PROFILE.gateway-mls-events", "MLS.2.ds-distribute-messages", "MLS.4.gateway-namespace"])
            .needs(&[Actors, Gateway])
            .shares(&[
                Resource::KeyPackages(BOB),
                Resource::KeyPackages(CAROL),
                Resource::Gateway(BOB),
                Resource::Gateway(CAROL),
            ])
            .judged_by(|ctx| Box::pin(mls_events(ctx))),
    ];
    // Each close code the text names, provoked on its own connection.
    let closes = [
        (
            "unknown-opcode",
            "An unknown opcode closes the connection with 4001",
            "CORE.3.2.close-4001-unknown-opcode",
            Provocation::UnknownOpcode,
        ),
        (
            "invalid-payload",
            "A frame that is not an event closes the connection with 4002",
            "CORE.3.2.close-4002-invalid-payload",
            Provocation::InvalidPayload,
        ),
        (
            "not-authenticated",
            "A service channel request before identify closes with 4003",
            "CORE.3.2.close-4003-not-authenticated",
            Provocation::NotAuthenticated,
        ),
        (
            "invalid-authentication",
            "Identify with an unknown token closes with 4004",
            "CORE.3.2.close-4004-invalid-authentication",
            Provocation::InvalidAuthentication,
        ),
        (
            "already-authenticated",
            "A second identify closes with 4005",
            "CORE.3.2.close-4005-already-authenticated",
            Provocation::AlreadyAuthenticated,
        ),
        (
            "invalid-sequence",
            "A heartbeat acknowledging unsent sequence numbers closes with 4007",
            "CORE.3.2.close-4007-invalid-sequence",
            Provocation::InvalidSequence,
        ),
    ];
    checks.extend(
        closes
            .into_iter()
            .map(|(name, title, requirement, provocation)| {
                CheckDef::new(format!("gateway.close.{name}"), Must, title)
                    .requires(&["CORE.3.2.close-codes", requirement])
                    .needs(&[Actors, Gateway])
                    .isolated()
                    .judged_by(move |ctx| Box::pin(close_code(ctx, provocation)))
            }),
    );
    checks
}

fn is(event: &Value, n: &str, op: u16) -> bool {
    event["n"] == n && event["op"] == op
}

fn mismatch<E: std::fmt::Display>(expected: &str) -> impl FnOnce(E) -> Finding + '_ {
    move |observed| Finding::mismatch(expected, observed.to_string())
}

/// The recommended heartbeat intervals (core 3.2.2), in milliseconds.
const RECOMMENDED_INTERVAL_MS: std::ops::RangeInclusive<u64> = 30_000..=60_000;

/// `gateway.heartbeat-interval`: the announced interval against the text's recommendation. A
/// server may choose another (SHOULD), so outside the range is non-strict, whatever the reason
/// (the embedded server's short default included).
pub async fn heartbeat_interval(ctx: &mut Ctx) -> CheckResult {
    let (client, hello) = ctx.gateway("probe#interval").await?;
    client.close().await;
    let Some(interval) = hello["d"]["heartbeat_interval"].as_u64() else {
        return Err(Finding::mismatch(
            "a hello with a numeric heartbeat_interval",
            hello.to_string(),
        ));
    };
    if !RECOMMENDED_INTERVAL_MS.contains(&interval) {
        return Err(Finding::mismatch(
            "a heartbeat interval of 30000 to 60000 ms (the recommended range)",
            format!("{interval} ms"),
        ));
    }
    Ok(())
}

pub async fn hello(ctx: &mut Ctx) -> CheckResult {
    let (client, hello) = ctx.gateway("probe#hello").await?;
    client.close().await;
    let interval = hello["d"]["heartbeat_interval"]
        .as_u64()
        .filter(|i| *i > 0 && *i <= u64::from(u32::MAX));
    if !is(&hello, NS_CORE, core_op::HELLO) || hello["s"] != 0 || interval.is_none() {
        return Err(Finding::mismatch(
            "first frame {n: core, op: 1, d: {heartbeat_interval: uint32 > 0}, s: 0}",
            hello.to_string(),
        ));
    }
    Ok(())
}

pub async fn identify(ctx: &mut Ctx) -> CheckResult {
    let client = ctx.identified(ALICE).await?;
    client.close().await;
    Ok(())
}

/// PROFILE.gateway-ready: identify is confirmed with core op 12 carrying the actor's FID.
pub async fn ready(ctx: &mut Ctx) -> CheckResult {
    let (mut client, _) = ctx.gateway("alice#ready").await?;
    let token = ctx.actors[ALICE].token.clone();
    client.identify(&token).await.map_err(Finding::harness)?;
    let ready = client
        .expect(ctx.event_timeout(), "the ready event (core op 12)", |e| {
            is(e, NS_CORE, core_op::READY)
        })
        .await
        .map_err(mismatch("a ready event (core op 12) after identify"))?;
    client.close().await;
    let fid = ctx.fid(ALICE);
    match ready["d"]["fid"].as_str() {
        Some(seen) if seen.eq_ignore_ascii_case(&fid) => Ok(()),
        other => Err(Finding::mismatch(
            format!("the ready event naming the actor ({fid})"),
            format!("fid {}", other.unwrap_or("absent")),
        )),
    }
}

/// What a close check does before sending its offending frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Provocation {
    UnknownOpcode,
    InvalidPayload,
    NotAuthenticated,
    InvalidAuthentication,
    AlreadyAuthenticated,
    InvalidSequence,
}

pub async fn close_code(ctx: &mut Ctx, provocation: Provocation) -> CheckResult {
    use Provocation::*;
    let mut client = match provocation {
        NotAuthenticated | InvalidAuthentication => ctx.gateway("alice#close").await?.0,
        _ => ctx.identified(ALICE).await?,
    };
    let token = ctx.actors[ALICE].token.clone();
    let (sent, expected) = match provocation {
        UnknownOpcode => (
            client.send_core(4711, json!({})).await,
            close::UNKNOWN_OPCODE,
        ),
        InvalidPayload => (
            client.send_text("this is not a gateway event".into()).await,
            close::INVALID_PAYLOAD,
        ),
        NotAuthenticated => (
            client.service("subscribe", NS_MLS).await,
            close::NOT_AUTHENTICATED,
        ),
        InvalidAuthentication => (
            client.identify("p2mls-not-a-session-token").await,
            close::INVALID_AUTHENTICATION,
        ),
        AlreadyAuthenticated => (client.identify(&token).await, close::ALREADY_AUTHENTICATED),
        InvalidSequence => (
            client
                .send_core(
                    core_op::HEARTBEAT,
                    json!({ "from": "0", "to": "1000000000", "except": [] }),
                )
                .await,
            close::INVALID_SEQUENCE,
        ),
    };
    sent.map_err(Finding::harness)?;
    let timeout = ctx.event_timeout();
    let code = client
        .expect_close(timeout)
        .await
        .map_err(mismatch("the server to close the connection"))?;
    if code != Some(expected) {
        return Err(Finding::mismatch(
            format!("close code {expected}"),
            format!("close code {}", close_code_text(code)),
        ));
    }
    Ok(())
}

async fn ack(client: &mut GatewayClient, timeout: Duration) -> Result<Value, Finding> {
    client
        .expect(timeout, "a heartbeat ACK (core op 7)", |e| {
            is(e, NS_CORE, core_op::HEARTBEAT_ACK)
        })
        .await
        .map_err(mismatch("a heartbeat ACK"))
}

pub async fn heartbeat_ack(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    client.heartbeat(&[]).await.map_err(Finding::harness)?;
    let ack = ack(&mut client, ctx.event_timeout()).await?;
    client.close().await;
    match ack["d"].as_array() {
        Some(items)
            if items
                .iter()
                .all(|e| !is(e, NS_CORE, core_op::HEARTBEAT_ACK)) =>
        {
            Ok(())
        }
        _ => Err(Finding::mismatch(
            "d: an array of re-sent events, without heartbeat ACKs",
            ack.to_string(),
        )),
    }
}

pub async fn heartbeat_resend(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    let timeout = ctx.event_timeout();
    client
        .service("subscribe", NS_MLS)
        .await
        .map_err(Finding::harness)?;
    let acked = client
        .expect(timeout, "the service channel ACK", |e| {
            is(e, NS_CORE, core_op::SERVICE_CHANNEL_ACK)
        })
        .await
        .map_err(mismatch("a service channel ACK"))?;
    let missed = acked["s"]
        .as_u64()
        .ok_or_else(|| Finding::mismatch("a sequence number on the ACK", acked.to_string()))?;
    client
        .heartbeat(&[missed])
        .await
        .map_err(Finding::harness)?;
    let ack = ack(&mut client, timeout).await?;
    client.close().await;
    let resent = ack["d"].as_array().cloned().unwrap_or_default();
    if !resent.contains(&acked) {
        return Err(Finding::mismatch(
            format!("the ACK to re-send event s = {missed} unchanged"),
            ack.to_string(),
        ));
    }
    Ok(())
}

/// bob's connection in `gateway.heartbeat.priority`: once he stops reading, the target's writes
/// stall after a few of the messages below (on loopback after about 130 KB, where a full-sized
/// connection buffers megabytes). The kernel may round the sizes.
const PRIORITY_TCP: NarrowTcp = NarrowTcp {
    receive_buffer: 4096,
    segment_size: 536,
};
/// The plaintext of each message relayed in `gateway.heartbeat.priority` (its event, base64 in
/// JSON, stays under the 64 KiB frame cap of PROFILE.gateway-limits).
const PRIORITY_MESSAGE_BYTES: usize = 32 * 1024;
/// Messages relayed to bob before his heartbeat, while he does not read: more bytes than the
/// kernel buffers of the narrow connection hold (about 4 messages on loopback), so that most are
/// still queued at the target. Far fewer than a connection's queue holds (256 in the reference
/// server, PROFILE.gateway-limits).
const PRIORITY_BEFORE: usize = 16;
/// Messages relayed after the heartbeat has reached the target (bob still not reading). Each
/// relay is an HTTP round trip to the target, so by the last one the heartbeat has long arrived.
const PRIORITY_AFTER: usize = 8;
/// How long bob's heartbeat is given to reach the target before the later messages are relayed.
const PRIORITY_SETTLE: Duration = Duration::from_millis(200);
/// Received frames longer than this are shortened in the check's transcript.
const PRIORITY_TRANSCRIPT_LIMIT: usize = 400;

/// Where the heartbeat ACK came among the relayed messages, as bob read them.
#[derive(Default)]
struct AckPosition {
    /// Messages relayed before the heartbeat that came before the ACK, and after it.
    before_ack: usize,
    after_ack: usize,
    /// The same for the messages relayed after the heartbeat had reached the target.
    later_before_ack: usize,
    later_after_ack: usize,
    ack_seen: bool,
}

/// `gateway.heartbeat.priority` (core 3.2.6: missed events go out before other events). bob
/// subscribes on a connection with a small receive window and stops reading. alice relays large
/// application messages to him, more than the kernel buffers between the two hold, so that the
/// target's writes stall with messages still queued. bob sends a heartbeat whose `except` names
/// an event he did receive; once it has reached the target, alice relays a few more messages, and
/// bob reads again. Every message relayed after the heartbeat arrived is "other events" the
/// target had queued while the re-send was owed: a target that sends all of them before the ACK
/// did not put the re-send first, whatever its buffers. A target that does answers before the
/// later messages (and, when its writes stalled, before the rest of the earlier ones too). Whether
/// the ACK carries the event is `gateway.heartbeat.resend`'s to judge; this check judges when it
/// comes.
pub async fn heartbeat_priority(ctx: &mut Ctx) -> CheckResult {
    let (mut group, _) = add_to_fresh_group(ctx, BOB)
        .await
        .map_err(|e| e.not_reached("a group with bob in it"))?;
    let mut bob = ctx.identified_with_tcp(BOB, Some(PRIORITY_TCP)).await?;
    bob.transcript_limit = PRIORITY_TRANSCRIPT_LIMIT;
    let timeout = ctx.event_timeout();
    let acked = service_ack(ctx, &mut bob, "subscribe", NS_MLS).await?;
    expect_success(&acked, "subscribe")?;
    // Any event bob did receive can be asked for again.
    let missed = bob
        .received
        .last()
        .copied()
        .ok_or_else(|| Finding::mismatch("a sequence number on the events before", "none"))?;
    // bob reads nothing from here until all messages are relayed.
    let mut relayed = std::collections::HashMap::new();
    for i in 0..PRIORITY_BEFORE {
        relayed.insert(relay_large_message(ctx, &mut group, i).await?, false);
    }
    bob.heartbeat(&[missed]).await.map_err(Finding::harness)?;
    tokio::time::sleep(PRIORITY_SETTLE).await;
    for i in PRIORITY_BEFORE..PRIORITY_BEFORE + PRIORITY_AFTER {
        relayed.insert(relay_large_message(ctx, &mut group, i).await?, true);
    }
    let mut seen = AckPosition::default();
    let total = PRIORITY_BEFORE + PRIORITY_AFTER;
    // Why reading stopped short: nothing more of it came in time, or the connection ended.
    let mut ended = format!(
        "within {} ms of the last relayed message or ACK",
        timeout.as_millis()
    );
    let mut due = tokio::time::Instant::now() + timeout;
    loop {
        let counted =
            seen.before_ack + seen.after_ack + seen.later_before_ack + seen.later_after_ack;
        if seen.ack_seen && counted == total {
            break;
        }
        let left = due.saturating_duration_since(tokio::time::Instant::now());
        match bob.recv(left).await {
            // The first ACK answers bob's heartbeat; later ones, his keep-alives.
            Incoming::Event(e) if is(&e, NS_CORE, core_op::HEARTBEAT_ACK) => {
                if !seen.ack_seen {
                    seen.ack_seen = true;
                    due = tokio::time::Instant::now() + timeout;
                }
            }
            Incoming::Event(e) if is(&e, NS_MLS, mls_op::APPLICATION) => {
                // Which message it is, bob tells by its bytes (PROFILE.message-relay).
                let bytes = match mls_message(&e["d"], MlsObject::RelayedMessage) {
                    Ok(bytes) => bytes,
                    Err(unknown) => {
                        bob.close().await;
                        return Err(unknown);
                    }
                };
                let later = relayed.get(&bytes).copied();
                if later.is_some() {
                    due = tokio::time::Instant::now() + timeout;
                }
                match (later, seen.ack_seen) {
                    (None, _) => {}
                    (Some(false), false) => seen.before_ack += 1,
                    (Some(false), true) => seen.after_ack += 1,
                    (Some(true), false) => seen.later_before_ack += 1,
                    (Some(true), true) => seen.later_after_ack += 1,
                }
            }
            // Waiting for what is missing, bob keeps the connection alive (his ACK came first:
            // the target answers heartbeats in order).
            Incoming::Event(e) if is(&e, NS_CORE, core_op::HEARTBEAT_REQUEST) => {
                bob.heartbeat(&[]).await.map_err(Finding::harness)?;
            }
            Incoming::Event(_) | Incoming::Malformed(_) => {}
            Incoming::Closed(code) => {
                ended = format!(
                    "before the connection closed (code {})",
                    close_code_text(code)
                );
                break;
            }
            Incoming::Timeout => break,
        }
    }
    bob.close().await;
    let AckPosition {
        before_ack,
        after_ack,
        later_before_ack,
        later_after_ack,
        ack_seen,
    } = seen;
    let relayed_text = format!(
        "{PRIORITY_BEFORE} messages of {PRIORITY_MESSAGE_BYTES} bytes relayed before the heartbeat and {PRIORITY_AFTER} after it reached the target; bob's receive buffer {} bytes, segments {} bytes",
        PRIORITY_TCP.receive_buffer, PRIORITY_TCP.segment_size
    );
    if !ack_seen {
        return Err(Finding::mismatch(
            format!("a heartbeat ACK re-sending event s = {missed}"),
            format!("none {ended} ({relayed_text})"),
        ));
    }
    if after_ack + later_after_ack > 0 {
        return Ok(());
    }
    if later_before_ack < PRIORITY_AFTER {
        return Err(Finding::mismatch(
            format!("bob to receive the {total} messages relayed to him"),
            format!("{} {ended}", before_ack + later_before_ack),
        ));
    }
    Err(Finding::mismatch(
        format!("the heartbeat ACK re-sending event s = {missed} ahead of the messages queued for bob, at least of those relayed after the heartbeat reached the target"),
        format!("the ACK after all of them ({relayed_text})"),
    ))
}

/// alice relays her `index`th large application message to the group (PROFILE.message-relay);
/// returns its bytes, which the members' events carry unchanged.
async fn relay_large_message(
    ctx: &mut Ctx,
    group: &mut super::context::LiveGroup,
    index: usize,
) -> Result<Vec<u8>, Finding> {
    use openmls::prelude::tls_codec::Serialize as _;
    let text = format!("{index:04} {}", "x".repeat(PRIORITY_MESSAGE_BYTES));
    let bytes = group
        .mls
        .create_message(&group.client.provider, &group.client.key, text.as_bytes())
        .map_err(Finding::harness)?
        .tls_serialize_detached()
        .map_err(Finding::harness)?;
    let message = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
    let req = ApiRequest::new(
        Method::POST,
        routes::group_messages(&group.id),
        ctx.auth(ALICE),
    )
    .json(&json!({ "mlsMessage": message }));
    let resp = ctx.send(req).await?;
    // The group was just made and alice is in it: a 404 is the route's.
    if resp.status == 404 || resp.status == 405 {
        return Err(Finding::ProfileMissing(format!(
            "the target has no message relay route (PROFILE.message-relay) to send bob events with (it answers {})",
            resp.status
        )));
    }
    expect_status(&resp, &[204], "the application message to be relayed")
        .map_err(|e| e.not_reached("relaying messages to bob"))?;
    Ok(bytes)
}

/// How late after the interval `gateway.heartbeat.late` sends its heartbeat: about a round trip
/// across a continent, the travel time the server must allow for.
const LATE_BY: Duration = Duration::from_millis(250);

/// `gateway.heartbeat.late`: the client stays silent for the whole interval and a bit (its
/// heartbeat was sent on time and spent `LATE_BY` on the way); the server must take it, not
/// close. A heartbeat request in between is the server allowing for it too.
pub async fn heartbeat_late(ctx: &mut Ctx) -> CheckResult {
    let (mut client, hello) = ctx.gateway("alice#late").await?;
    let started = tokio::time::Instant::now();
    let interval = waitable_interval(&hello)?;
    client.auto_heartbeat = false;
    let due = started + Duration::from_millis(interval) + LATE_BY;
    // Read what comes until the late heartbeat is due: a close here is the failure.
    loop {
        let left = due.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match client.recv(left).await {
            Incoming::Closed(code) => {
                return Err(Finding::mismatch(
                    format!(
                        "the connection open {} ms after the interval ran out, for a heartbeat on its way",
                        LATE_BY.as_millis()
                    ),
                    format!("closed with code {}", close_code_text(code)),
                ))
            }
            Incoming::Timeout => break,
            Incoming::Event(_) | Incoming::Malformed(_) => {}
        }
    }
    client.heartbeat(&[]).await.map_err(Finding::harness)?;
    ack(&mut client, ctx.event_timeout()).await?;
    client.close().await;
    Ok(())
}

/// Longest heartbeat interval the harness waits through.
const MAX_WAIT_INTERVAL_MS: u64 = 10_000;

/// The hello's heartbeat interval, if the timer checks can wait it out (else `unsupported`).
fn waitable_interval(hello: &Value) -> Result<u64, Finding> {
    let interval = hello["d"]["heartbeat_interval"]
        .as_u64()
        .unwrap_or(u64::MAX);
    if interval > MAX_WAIT_INTERVAL_MS {
        return Err(Finding::Unsupported(format!(
            "heartbeat interval {interval} ms is longer than the {MAX_WAIT_INTERVAL_MS} ms the harness waits; \
             configure the target with a shorter one"
        )));
    }
    Ok(interval)
}

pub async fn heartbeat_request(ctx: &mut Ctx) -> CheckResult {
    let (mut client, hello) = ctx.gateway("alice#silent").await?;
    let interval = waitable_interval(&hello)?;
    let token = ctx.actors[ALICE].token.clone();
    client.identify(&token).await.map_err(Finding::harness)?;
    client.auto_heartbeat = false;
    let patience = Duration::from_millis(interval * 3 + 2000);
    let request = client
        .expect(patience, "a heartbeat request (core op 11)", |e| {
            is(e, NS_CORE, core_op::HEARTBEAT_REQUEST)
        })
        .await
        .map_err(mismatch(
            "a heartbeat request before closing a silent client",
        ))?;
    if request["d"] != json!({}) {
        return Err(Finding::mismatch(
            "a heartbeat request with an empty d",
            request.to_string(),
        ));
    }
    let code = client
        .expect_close(patience)
        .await
        .map_err(mismatch("the silent client to be closed"))?;
    if code != Some(close::TIMEOUT) {
        return Err(Finding::mismatch(
            "close code 4009",
            format!("close code {}", close_code_text(code)),
        ));
    }
    Ok(())
}

/// The MUST half of a silent client's end: whether or not the server asks for a heartbeat
/// first (a SHOULD, `gateway.heartbeat.request`), a server that closes the connection does so
/// with 4009 (core §3.2.5), and a heartbeat request it sends carries no data (core §3.2.3.9). A
/// server that never closes a silent client breaks no MUST: `unsupported`.
pub async fn timeout_close(ctx: &mut Ctx) -> CheckResult {
    let (mut client, hello) = ctx.gateway("alice#timeout").await?;
    let interval = waitable_interval(&hello)?;
    let token = ctx.actors[ALICE].token.clone();
    client.identify(&token).await.map_err(Finding::harness)?;
    client.auto_heartbeat = false;
    let patience = Duration::from_millis(interval * 6 + 4000);
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.recv(left).await {
            Incoming::Event(e) if is(&e, NS_CORE, core_op::HEARTBEAT_REQUEST) => {
                if e["d"] != json!({}) {
                    return Err(Finding::mismatch(
                        "a heartbeat request with an empty d",
                        e.to_string(),
                    ));
                }
            }
            Incoming::Event(_) => {}
            Incoming::Closed(Some(close::TIMEOUT)) => return Ok(()),
            Incoming::Closed(code) => {
                return Err(Finding::mismatch(
                    "close code 4009 for a client that sent no heartbeat",
                    format!("close code {}", close_code_text(code)),
                ))
            }
            Incoming::Malformed(text) => {
                return Err(Finding::mismatch("gateway events", text));
            }
            Incoming::Timeout => {
                return Err(Finding::Unsupported(format!(
                "the server did not close a client silent for {patience:?}: no close code to judge"
            )))
            }
        }
    }
}

async fn service_ack(
    ctx: &mut Ctx,
    client: &mut GatewayClient,
    action: &str,
    service: &str,
) -> Result<Value, Finding> {
    client
        .service(action, service)
        .await
        .map_err(Finding::harness)?;
    let timeout = ctx.event_timeout();
    let ack = client
        .expect(timeout, "a service channel ACK (core op 9)", |e| {
            is(e, NS_CORE, core_op::SERVICE_CHANNEL_ACK)
        })
        .await
        .map_err(mismatch("a service channel ACK"))?;
    Ok(ack["d"].clone())
}

fn expect_success(d: &Value, action: &str) -> CheckResult {
    if d["action"] == action
        && d["service"] == NS_MLS
        && d["success"] == true
        && d.get("error").is_none()
    {
        Ok(())
    } else {
        Err(Finding::mismatch(
            format!("{{action: {action}, service: mls, success: true}} without error"),
            d.to_string(),
        ))
    }
}

pub async fn subscribe(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    let d = service_ack(ctx, &mut client, "subscribe", NS_MLS).await?;
    client.close().await;
    expect_success(&d, "subscribe")
}

pub async fn unsubscribe(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    let first = service_ack(ctx, &mut client, "subscribe", NS_MLS).await?;
    expect_success(&first, "subscribe")?;
    let d = service_ack(ctx, &mut client, "unsubscribe", NS_MLS).await?;
    client.close().await;
    expect_success(&d, "unsubscribe")
}

pub async fn unknown_service(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    let d = service_ack(ctx, &mut client, "subscribe", "p2mls-no-such-service").await?;
    client.close().await;
    // `error` is typed `string?` in core §3.2.3.3: optional, but a string when present.
    let error_ok = d.get("error").is_none_or(Value::is_string);
    if d["success"] == false && error_ok {
        Ok(())
    } else {
        Err(Finding::mismatch(
            "{success: false} (with `error` a string, if present)",
            d.to_string(),
        ))
    }
}

pub async fn sequence(ctx: &mut Ctx) -> CheckResult {
    let mut client = ctx.identified(ALICE).await?;
    service_ack(ctx, &mut client, "subscribe", NS_MLS).await?;
    client.heartbeat(&[]).await.map_err(Finding::harness)?;
    ack(&mut client, ctx.event_timeout()).await?;
    service_ack(ctx, &mut client, "unsubscribe", NS_MLS).await?;
    let received = client.received.clone();
    let unsequenced = client.unsequenced.clone();
    client.close().await;
    if let Some(event) = unsequenced.first() {
        return Err(Finding::mismatch(
            "every server message with its sequence number s",
            format!("{} without s, e.g. {event}", unsequenced.len()),
        ));
    }
    let expected: Vec<u64> = (0..received.len() as u64).collect();
    if received != expected {
        return Err(Finding::mismatch(
            format!("sequence numbers {expected:?}"),
            format!("{received:?}"),
        ));
    }
    Ok(())
}

/// Alice makes a fresh group and adds `added` with one commit; returns the group id and the
/// commit's Welcome JSON.
async fn add_to_fresh_group(
    ctx: &mut Ctx,
    added: usize,
) -> Result<(super::context::LiveGroup, Value), Finding> {
    let (mut group, _) = ctx.create_group(ALICE).await?;
    let (_, resp) = ctx.propose_add(&mut group, added).await?;
    expect_status(&resp, &[204], "the proposal to be accepted")?;
    let (_, resp) = ctx.commit(&mut group).await?;
    expect_status(&resp, &[200], "the commit to be accepted")?;
    let welcome = resp.json().unwrap_or(Value::Null);
    Ok((group, welcome))
}

/// The Resumed event (core op 10) a resume is answered with; a 4010 close instead is the
/// target declining to resume, which the text leaves optional (`unsupported`).
pub async fn expect_resumed(
    client: &mut GatewayClient,
    timeout: Duration,
) -> Result<Value, Finding> {
    match client
        .expect(timeout, "a resumed event (core op 10)", |e| {
            is(e, NS_CORE, core_op::RESUMED)
        })
        .await
    {
        Ok(resumed) => Ok(resumed),
        Err(e)
            if e.to_string()
                .contains(&format!("(code {})", close::UNRESUMEABLE)) =>
        {
            Err(Finding::Unsupported(
                "the target refuses to resume (4010); resuming is optional".into(),
            ))
        }
        Err(e) => Err(Finding::mismatch("a resumed event", e)),
    }
}

pub async fn resume(ctx: &mut Ctx) -> CheckResult {
    let mut first = ctx.identified(BOB).await?;
    let d = service_ack(ctx, &mut first, "subscribe", NS_MLS).await?;
    expect_success(&d, "subscribe")?;
    let last = first.received.last().copied().unwrap_or(0);
    first.close().await;
    // Let the server notice the disconnect before the event happens.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (group, _) = add_to_fresh_group(ctx, BOB).await?;
    let (mut second, _) = ctx.gateway("bob#resume").await?;
    let token = ctx.actors[BOB].token.clone();
    second
        .send_core(core_op::RESUME, json!({ "s": last, "token": token }))
        .await
        .map_err(Finding::harness)?;
    let timeout = ctx.event_timeout();
    let resumed = expect_resumed(&mut second, timeout).await;
    second.close().await;
    let resumed = resumed?;
    let replayed = resumed["d"].as_array().cloned().unwrap_or_default();
    let welcome = replayed
        .iter()
        .find(|e| is(e, NS_MLS, mls_op::WELCOME) && e["d"]["groupId"] == group.id.as_str());
    match welcome {
        Some(event) if event["s"].as_u64().is_some_and(|s| s > last) => Ok(()),
        _ => Err(Finding::mismatch(
            format!(
                "the Welcome of group {} missed while disconnected, with s > {last}",
                group.id
            ),
            resumed.to_string(),
        )),
    }
}

/// A resume of an unknown sequence number is refused with a close. The text asks for "an
/// appropriate close code (ex.: 4010)": at spec level any code of core's table that fits (4000,
/// 4007, 4010); our profile fixes 4010.
pub async fn resume_rejected(ctx: &mut Ctx, exactly_4010: bool) -> CheckResult {
    let first = ctx.identified(BOB).await?;
    first.close().await;
    let (mut client, _) = ctx.gateway("bob#stale").await?;
    let token = ctx.actors[BOB].token.clone();
    client
        .send_core(
            core_op::RESUME,
            json!({ "s": 1_000_000_000_000u64, "token": token }),
        )
        .await
        .map_err(Finding::harness)?;
    // The refusal is the close: a Resumed event (core op 10) first means the resume was served.
    let deadline = tokio::time::Instant::now() + ctx.event_timeout();
    let code = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.recv(left).await {
            Incoming::Closed(code) => break code,
            Incoming::Event(e) if is(&e, NS_CORE, core_op::RESUMED) => {
                return Err(Finding::mismatch(
                    "the resume of a sequence number never sent refused with a close",
                    format!("it was served: {e}"),
                ))
            }
            Incoming::Event(_) | Incoming::Malformed(_) => {}
            Incoming::Timeout => {
                return Err(Finding::mismatch(
                    "an unresumable session to be closed",
                    format!("no close within {} ms", ctx.event_timeout().as_millis()),
                ))
            }
        }
    };
    let fitting = if exactly_4010 {
        code == Some(close::UNRESUMEABLE)
    } else {
        // The codes of core's table whose meaning fits a refused resume: not 4009 (a timeout),
        // which a served-but-silent session would end with too.
        code.is_some_and(|c| {
            [
                close::UNKNOWN_ERROR,
                close::INVALID_SEQUENCE,
                close::UNRESUMEABLE,
            ]
            .contains(&c)
        })
    };
    if !fitting {
        return Err(Finding::mismatch(
            if exactly_4010 {
                "close code 4010"
            } else {
                "a close code whose meaning fits a refused resume (4000, 4007 or 4010)"
            },
            format!("close code {}", close_code_text(code)),
        ));
    }
    Ok(())
}

pub async fn mls_events(ctx: &mut Ctx) -> CheckResult {
    let mut bob = ctx.identified(BOB).await?;
    let d = service_ack(ctx, &mut bob, "subscribe", NS_MLS).await?;
    expect_success(&d, "subscribe")?;
    let mut carol = ctx.identified(CAROL).await?;
    let d = service_ack(ctx, &mut carol, "subscribe", NS_MLS).await?;
    expect_success(&d, "subscribe")?;
    let steps = async {
        let (mut group, _) = add_to_fresh_group(ctx, BOB).await?;
        let (proposal, resp) = ctx.propose_add(&mut group, CAROL).await?;
        expect_status(&resp, &[204], "the proposal to be accepted")?;
        let (commit, resp) = ctx.commit(&mut group).await?;
        expect_status(&resp, &[200], "the commit to be accepted")?;
        Ok::<_, Finding>((group, proposal, commit, resp))
    };
    // A rate-limited target can make these steps wait longer than a heartbeat interval: both
    // connections stay alive meanwhile.
    let (group, proposal, commit, resp) = bob.alive_during(carol.alive_during(steps)).await?;
    let welcome = mls_message(&resp.json().unwrap_or(Value::Null), MlsObject::Welcome)?;
    let timeout = ctx.event_timeout();
    let group_id = group.id.clone();
    bob.expect(timeout, "the proposal event (mls op 0)", |e| {
        is(e, NS_MLS, mls_op::PROPOSAL)
            && e["d"]["groupId"] == group_id.as_str()
            && e["d"]["proposal"]["id"] == proposal["id"]
    })
    .await
    .map_err(mismatch("bob to receive the proposal event"))?;
    bob.expect(
        timeout,
        "the commit event (mls op 1) after the proposal",
        |e| {
            is(e, NS_MLS, mls_op::COMMIT)
                && e["d"]["groupId"] == group_id.as_str()
                && e["d"]["commit"]["id"] == commit["id"]
        },
    )
    .await
    .map_err(mismatch(
        "bob to receive the commit event after the proposal event",
    ))?;
    let event = carol
        .expect(timeout, "the Welcome event (mls op 2)", |e| {
            is(e, NS_MLS, mls_op::WELCOME) && e["d"]["groupId"] == group_id.as_str()
        })
        .await
        .map_err(mismatch("carol to receive her Welcome"))?;
    if mls_message(&event["d"]["welcome"], MlsObject::Welcome)? != welcome {
        return Err(Finding::mismatch(
            "carol's Welcome event to carry the Welcome the commit answered",
            "another Welcome",
        ));
    }
    bob.close().await;
    carol.close().await;
    Ok(())
}

/// Transport faults below the gateway's JSON (RFC 6455), sent as raw frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum WireFault {
    ProtocolErrors,
    InvalidUtf8,
    FrameTooLarge,
    CloseEcho,
}

/// Each provocation on a fresh raw connection must end in a close frame with one of the listed
/// codes (RFC 6455 §7.4.1: 1002 protocol error, 1007 invalid data, 1009 too big; polyproto's
/// 4002 where the text of §3.2.5 fits), never in a bare TCP drop; a client's close(1000) is
/// echoed.
pub async fn websocket(ctx: &mut Ctx, fault: WireFault) -> CheckResult {
    use crate::clients::raw_ws::{frame, Ending, RawSocket};
    use WireFault::*;
    let url = ctx.gateway_url().await?;
    let cases: Vec<(&str, Vec<u8>, &[u16])> = match fault {
        ProtocolErrors => vec![
            (
                "a frame with the reserved opcode 0x3",
                frame(0x83, b"{}", true),
                &[1002],
            ),
            (
                "a text frame with RSV1 set and no extension",
                frame(0xC1, b"{}", true),
                &[1002],
            ),
            (
                "an unmasked client frame",
                frame(0x81, b"{}", false),
                &[1002],
            ),
            (
                "a continuation frame with nothing to continue",
                frame(0x80, b"{}", true),
                &[1002],
            ),
            (
                "a ping of 126 bytes",
                frame(0x89, &[b'p'; 126], true),
                &[1002],
            ),
        ],
        InvalidUtf8 => vec![(
            "a text frame that is not UTF-8",
            frame(0x81, &[b'{', 0xFF, 0xFE, b'}'], true),
            &[1007, close::INVALID_PAYLOAD],
        )],
        FrameTooLarge => vec![(
            "a text frame of 64 KiB + 1 byte",
            frame(0x81, &vec![b' '; 64 * 1024 + 1], true),
            &[1009],
        )],
        CloseEcho => vec![(
            "a close frame with code 1000",
            frame(0x88, &1000u16.to_be_bytes(), true),
            &[1000],
        )],
    };
    for (what, bytes, codes) in cases {
        let mut socket = RawSocket::connect(&url, ctx.http.timeout(), &ctx.tls)
            .await
            .map_err(|e| Finding::mismatch("a WebSocket upgrade of the gateway", e))?;
        // A server that closes early may refuse the rest of a large frame; its answer counts.
        let _ = socket.send(&bytes).await;
        let ending = socket.ending(ctx.event_timeout()).await;
        if !codes.iter().any(|c| ending == Ending::Close(Some(*c))) {
            return Err(Finding::mismatch(
                format!("after {what}: a close frame with code {codes:?}"),
                ending.to_string(),
            ));
        }
    }
    Ok(())
}
