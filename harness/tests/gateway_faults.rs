//! Each gateway check fails against a reference server that breaks its rule, and only the
//! checks that depend on that rule fail.

use p2mls::check::Verdict;
use p2mls_reference_server::faults::Fault;

mod common;

async fn not_passing(fault: Fault) -> Vec<(String, Verdict)> {
    not_passing_among(fault, "gateway.*").await
}

async fn not_passing_among(fault: Fault, only: &str) -> Vec<(String, Verdict)> {
    let (found, _) = common::not_passing_under(vec![fault], only).await;
    found
        .into_iter()
        // The embedded server's short heartbeat interval makes this SHOULD non-strict whatever
        // the fault (certify.rs checks it on its own).
        .filter(|(id, _)| id != "gateway.heartbeat-interval")
        .collect()
}

fn ids(found: &[(String, Verdict)]) -> Vec<&str> {
    found.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn every_gateway_fault_is_caught_by_its_checks() {
    let cases: &[(Fault, &[&str])] = &[
        (Fault::HelloSeqOne, &["gateway.hello", "gateway.sequence"]),
        (Fault::SequenceGap, &["gateway.sequence"]),
        (
            Fault::NoHeartbeatAck,
            &[
                "gateway.heartbeat.ack",
                "gateway.heartbeat.late",
                "gateway.heartbeat.priority",
                "gateway.heartbeat.resend",
                "gateway.sequence",
            ],
        ),
        (Fault::AckWithoutResend, &["gateway.heartbeat.resend"]),
        (Fault::MissedBehindPending, &["gateway.heartbeat.priority"]),
        (Fault::UnknownServiceAccepted, &["gateway.service.unknown"]),
        (Fault::ResumeEmpty, &["gateway.resume"]),
        // The relayed messages never arrive: nothing to order the ACK against.
        (
            Fault::DropMlsEvents,
            &["gateway.heartbeat.priority", "gateway.mls.events"],
        ),
        (Fault::NoHeartbeatGrace, &["gateway.heartbeat.late"]),
    ];
    for (fault, expected) in cases {
        let found = not_passing(*fault).await;
        assert_eq!(ids(&found), *expected, "{fault:?}");
        assert!(
            found.iter().all(|(_, v)| *v == Verdict::Fail),
            "{fault:?}: {found:?}"
        );
    }
}

#[tokio::test]
async fn wrong_close_codes_fail_every_close_check() {
    let found = not_passing(Fault::WrongCloseCode).await;
    let fails: Vec<&str> = found
        .iter()
        .filter(|(_, v)| *v == Verdict::Fail)
        .map(|(id, _)| id.as_str())
        .collect();
    for id in [
        "gateway.close.unknown-opcode",
        "gateway.close.invalid-payload",
        "gateway.close.not-authenticated",
        "gateway.close.invalid-authentication",
        "gateway.close.already-authenticated",
        "gateway.close.invalid-sequence",
        // 4000 is a fitting code for a refused resume in the text; our profile's 4010 is not.
        "gateway.resume.rejected-4010",
    ] {
        assert!(fails.contains(&id), "{id} not failing: {found:?}");
    }
    // The 4009 close is part of a SHOULD-level check: non-strict, not fail.
    assert!(
        found.contains(&("gateway.heartbeat.request".to_owned(), Verdict::NonStrict)),
        "{found:?}"
    );
}

#[tokio::test]
async fn missing_ready_acks_and_requests_are_caught() {
    // Without our profile's ready event only the PROFILE check fails: identify is judged by the
    // text (the socket stays open, a service channel request is answered).
    let found = not_passing_among(Fault::NoReady, "gateway.*").await;
    assert_eq!(ids(&found), vec!["gateway.ready"]);
    let found = not_passing_among(Fault::RefuseIdentify, "gateway.identify").await;
    assert_eq!(ids(&found), vec!["gateway.identify"]);
    let found = not_passing(Fault::AckWithoutSuccess).await;
    for id in [
        "gateway.service.subscribe",
        "gateway.service.unsubscribe",
        "gateway.service.unknown",
    ] {
        assert!(ids(&found).contains(&id), "{id}: {found:?}");
    }
    let found = not_passing(Fault::NoHeartbeatRequest).await;
    assert_eq!(
        found,
        vec![("gateway.heartbeat.request".to_owned(), Verdict::NonStrict)]
    );
}
