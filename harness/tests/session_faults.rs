//! The session checks (revocation, New Session events) pass against the reference server, and
//! each fault of those rules fails exactly the checks that depend on it.

use p2mls::check::Verdict;
use p2mls_reference_server::faults::Fault;

mod common;

async fn not_passing(faults: Vec<Fault>) -> Vec<(String, Verdict)> {
    let (found, ran) = common::not_passing_under(faults, "sessions.*").await;
    assert_eq!(ran, 13, "the session checks");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_every_session_check() {
    assert_eq!(not_passing(Vec::new()).await, Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_fault_is_caught_by_its_checks() {
    use Verdict::*;
    let cases: &[(Fault, &[(&str, Verdict)])] = &[
        (
            Fault::RevokedTokenStillAccepted,
            &[
                ("sessions.revoke.session-id-reuse", Fail),
                ("sessions.revoke.token-401", Fail),
                ("sessions.revoke.token-refused", Fail),
            ],
        ),
        (
            Fault::NoCloseOnRevoke,
            &[("sessions.revoke.gateway-closed", Fail)],
        ),
        (
            Fault::RevokedCertNotMarked,
            &[
                ("sessions.revoke.idcert-invalidated", Fail),
                ("sessions.revoke.invalidated-signature", Fail),
            ],
        ),
        (
            Fault::InvalidatedAtUnsigned,
            &[("sessions.revoke.invalidated-signature", Fail)],
        ),
        (
            Fault::NoSessionIdReuse,
            &[("sessions.revoke.session-id-reuse", Unsupported)],
        ),
        (
            Fault::RevokeWithoutSecondFactor,
            &[
                ("sessions.revoke.second-factor", Fail),
                ("sessions.revoke.second-factor-403", Fail),
            ],
        ),
        (Fault::RevokeAnyActor, &[("sessions.revoke.refusals", Fail)]),
        (
            Fault::NoNewSessionEvent,
            &[
                ("sessions.new-session.live", Fail),
                ("sessions.new-session.not-to-new", Fail),
                ("sessions.new-session.on-identify", Fail),
                ("sessions.new-session.on-resume", Fail),
            ],
        ),
        // A new session told about itself: on its first identify, before anything else.
        (
            Fault::NewSessionEventToNewSession,
            &[
                ("sessions.new-session.live", Fail),
                ("sessions.new-session.not-to-new", Fail),
            ],
        ),
        (
            Fault::NoNewSessionBacklog,
            &[
                ("sessions.new-session.on-identify", Fail),
                ("sessions.new-session.on-resume", Fail),
            ],
        ),
    ];
    for (fault, expected) in cases {
        let found = not_passing(vec![*fault]).await;
        let expected: Vec<(String, Verdict)> = expected
            .iter()
            .map(|(id, verdict)| ((*id).to_owned(), *verdict))
            .collect();
        assert_eq!(found, expected, "{fault:?}");
    }
}
