//! Faults that break only a mechanism our profile defines (specs/PROFILE.md) leave every check
//! of the text passing or `unsupported`, and fail the PROFILE checks that judge the mechanism:
//! the layering the kill matrix's `PROFILE_ONLY` list asserts, shown here for the faults that
//! take away what the suite runs and the KeyPackage checks build on.

use std::collections::BTreeSet;

use p2mls::check::{Level, Verdict};
use p2mls::{RunArgs, RunOutput};
use p2mls_reference_server::faults::Fault;

/// What a full run ends with under `fault`, one check at a time (as the kill matrix runs).
struct Outcomes(Vec<(String, Level, Verdict, String)>);

async fn outcomes(fault: Fault) -> Outcomes {
    let args = RunArgs {
        embedded_faults: vec![fault],
        embedded_event_timeout_ms: Some(3000),
        jobs: 1,
        ..Default::default()
    };
    let RunOutput::Certified(report) = p2mls::run(&args).await.expect("runs") else {
        panic!("expected a report");
    };
    Outcomes(
        report
            .checks
            .into_iter()
            // The embedded server's short heartbeat interval makes this SHOULD non-strict
            // whatever the fault (certify.rs checks it on its own).
            .filter(|c| c.def.id != "gateway.heartbeat-interval")
            .map(|c| (c.def.id, c.def.level, c.verdict, c.reason))
            .collect(),
    )
}

impl Outcomes {
    /// Checks of the text (MUST, SHOULD, MAY) that end other than pass or `unsupported`.
    fn text_broken(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, level, verdict, _)| {
                *level != Level::Profile && !matches!(verdict, Verdict::Pass | Verdict::Unsupported)
            })
            .map(|(id, _, verdict, reason)| format!("{id} {}: {reason}", verdict.as_str()))
            .collect()
    }

    fn with(&self, level: Level, verdict: Verdict) -> BTreeSet<&str> {
        self.0
            .iter()
            .filter(|(_, l, v, _)| *l == level && *v == verdict)
            .map(|(id, ..)| id.as_str())
            .collect()
    }

    fn reason(&self, id: &str) -> &str {
        self.0
            .iter()
            .find(|(i, ..)| i == id)
            .map_or("", |(.., reason)| reason.as_str())
    }

    fn any_error(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, _, v, _)| *v == Verdict::Error)
            .map(|(id, ..)| id.as_str())
            .collect()
    }
}

fn per_suite(steps: &[&str]) -> BTreeSet<String> {
    ["0x0001", "0xF110"]
        .iter()
        .flat_map(|suite| {
            steps
                .iter()
                .map(move |step| format!("suites.{suite}.{step}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_relay_routes_the_text_is_unsupported_and_the_profile_fails() {
    let found = outcomes(Fault::NoRelayRoutes).await;
    assert_eq!(found.text_broken(), Vec::<String>::new());
    assert_eq!(found.any_error(), Vec::<&str>::new());
    // The join needs a Welcome over the profile's delivery route, and the missed-events priority
    // check relays messages to have events pending: MUSTs they cannot judge.
    let unsupported = found.with(Level::Must, Verdict::Unsupported);
    let priority = "gateway.heartbeat.priority";
    let mut expected = per_suite(&["2-group-join"]);
    expected.insert(priority.to_owned());
    assert_eq!(unsupported, expected.iter().map(String::as_str).collect());
    for id in &unsupported {
        let route = if *id == priority {
            "PROFILE.message-relay"
        } else {
            "PROFILE.welcome-delivery"
        };
        assert!(
            found.reason(id).contains(route),
            "{id}: {}",
            found.reason(id)
        );
    }
    // The PROFILE steps after it fail, naming the missing route as the cause.
    let failing = found.with(Level::Profile, Verdict::Fail);
    let expected = per_suite(&[
        "3-application-messages",
        "4-stale-commit",
        "5-update-remove",
        "6-other-suite-refused",
    ]);
    assert_eq!(
        failing,
        expected.iter().map(String::as_str).collect(),
        "PROFILE failures"
    );
    for id in &failing {
        let reason = found.reason(id);
        assert!(
            reason.contains("not reached") && reason.contains("PROFILE.welcome-delivery"),
            "{id}: {reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mls_message_the_text_is_unsupported_and_the_profile_fails() {
    let found = outcomes(Fault::NoMlsMessage).await;
    assert_eq!(found.text_broken(), Vec::<String>::new());
    assert_eq!(found.any_error(), Vec::<&str>::new());
    let missing = "carries no mlsMessage (PROFILE.";
    // Checks of the text that need the bytes of a discovered KeyPackage cannot judge.
    let unsupported = found.with(Level::Must, Verdict::Unsupported);
    let needing_bytes = per_suite(&["1-keypackages", "2-group-join"])
        .into_iter()
        .chain(
            [
                "keypackages.upload.x509-credential",
                "keypackages.grease.join",
                "groups.welcome-joins",
            ]
            .map(str::to_owned),
        );
    for id in needing_bytes {
        assert!(unsupported.contains(id.as_str()), "{id}: {unsupported:?}");
    }
    for id in &unsupported {
        assert!(
            found.reason(id).contains(missing),
            "{id}: {}",
            found.reason(id)
        );
    }
    // The discovered KeyPackage's schema is the document's: its check still passes.
    assert!(found
        .with(Level::Must, Verdict::Pass)
        .contains("keypackages_discoverKeyPackages.success"));
    // The PROFILE checks that judge the bytes fail, naming the member.
    let failing = found.with(Level::Profile, Verdict::Fail);
    let judging_bytes = per_suite(&[
        "3-application-messages",
        "4-stale-commit",
        "5-update-remove",
        "6-other-suite-refused",
    ])
    .into_iter()
    .chain(["keypackages.discover.one-time", "gateway.mls.events"].map(str::to_owned));
    for id in judging_bytes {
        assert!(failing.contains(id.as_str()), "{id}: {failing:?}");
    }
    for id in &failing {
        assert!(
            found.reason(id).contains(missing),
            "{id}: {}",
            found.reason(id)
        );
    }
}
