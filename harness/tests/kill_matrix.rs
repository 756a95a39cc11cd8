//! The kill matrix: `p2mls run` against the clean reference server and against each named fault.
//! The clean server must pass everything; every check must fail (or stop passing) under at least
//! one fault, unless `specs/survivors.toml` says why no fault can reach it. The deterministic
//! fault -> checks table is the snapshot `reports/kill-matrix.snap`. Checks run one at a time
//! here (`jobs: 1`), so each fault's table is the same on every run.
//!
//! It runs ~40 full certifications, so it is ignored in the everyday `cargo test`; `.ci/run` runs
//! it with `--ignored`.

use std::collections::{BTreeMap, BTreeSet};

use clap::ValueEnum;
use futures_util::stream::{self, StreamExt};
use p2mls::check::{Level, Verdict};
use p2mls::{RunArgs, RunOutput};
use p2mls_reference_server::faults::Fault;
use serde::Deserialize;

#[derive(Deserialize)]
struct Survivors {
    #[serde(default)]
    survivor: Vec<Survivor>,
}

#[derive(Deserialize)]
struct Survivor {
    check: String,
    reason: String,
}

/// Faults that break only what our profile chose (specs/PROFILE.md), not a sentence of the
/// polyproto text or the OpenAPI document: under each, every MUST, SHOULD and MAY check still
/// passes or is `unsupported`, and only PROFILE checks fail. Every other fault breaks the text
/// and must fail at least one check of the text.
const PROFILE_ONLY: &[&str] = &[
    "abrupt-protocol-errors",
    "accept-stale-commit",
    "accept-summary-mismatch",
    "accept-unknown-suite",
    "crash-on-bad-json",
    "creator-not-admin",
    "flip-relayed-byte",
    "idcert-limit-before-auth",
    "key-material-overwrite",
    "last-resort-swap-over-limit",
    "mixed-suites",
    "narrow-names",
    "no-close-echo",
    "no-discovery-limit",
    "no-rate-limit",
    "no-ready",
    // The relay routes of specs/PROFILE.md section 6 are the profile's; without them the
    // steps of the text that need one are `unsupported` (harness/tests/profile_faults.rs).
    "no-relay-routes",
    // `mlsMessage` is the profile's member: without it the checks of the text that need MLS
    // bytes from the target are `unsupported` (harness/tests/profile_faults.rs).
    "no-mls-message",
    "oversized-as400",
    "partial-batch",
    "reencoded-subject",
    "reorder-commits",
    // The text lets a server refuse who revokes whose session only by implication, and
    // reusing a session id is a MAY: our profile's `sessions.revoke.refusals` judges both.
    "revoke-any-actor",
    "no-session-id-reuse",
    "session-id-in-use-as400",
    "two-last-resorts",
    "unknown-fid-empty",
    "upload-error-object",
    "x509-either-prefix",
];

/// What one check ended with under one fault.
#[derive(Clone, Debug)]
struct Outcome {
    check: String,
    level: Level,
    verdict: Verdict,
}

/// Where a fault's outcomes break the layering: a profile-only fault that makes a check of the
/// text anything but pass or `unsupported`, or a fault of the text that fails no check of the
/// text (a `fail`; `non-strict` for a SHOULD counts as failing it).
fn layering_violations(
    matrix: &BTreeMap<String, Vec<Outcome>>,
    profile_only: &[&str],
) -> Vec<String> {
    let mut violations = Vec::new();
    for fault in profile_only {
        if !matrix.contains_key(*fault) {
            violations.push(format!("{fault} is listed as profile-only but is no fault"));
        }
    }
    for (fault, outcomes) in matrix {
        let text = outcomes.iter().filter(|o| o.level != Level::Profile);
        if profile_only.contains(&fault.as_str()) {
            for o in text.filter(|o| !matches!(o.verdict, Verdict::Pass | Verdict::Unsupported)) {
                violations.push(format!(
                    "profile-only fault {fault} makes {} ({}) {}",
                    o.check,
                    o.level.as_str(),
                    o.verdict.as_str()
                ));
            }
        } else if !text
            .clone()
            .any(|o| matches!(o.verdict, Verdict::Fail | Verdict::NonStrict))
        {
            violations.push(format!(
                "fault {fault} breaks the text but fails no MUST, SHOULD or MAY check"
            ));
        }
    }
    violations
}

#[test]
fn the_layering_rule_tells_profile_faults_from_text_faults() {
    let outcome = |check: &str, level, verdict| Outcome {
        check: check.to_owned(),
        level,
        verdict,
    };
    let matrix = BTreeMap::from([
        (
            "profile-clean".to_owned(),
            vec![
                outcome("a", Level::Must, Verdict::Pass),
                outcome("b", Level::May, Verdict::Unsupported),
                outcome("c", Level::Profile, Verdict::Fail),
            ],
        ),
        (
            "profile-leaking".to_owned(),
            vec![
                outcome("a", Level::Must, Verdict::Fail),
                outcome("c", Level::Profile, Verdict::Fail),
            ],
        ),
        (
            "text".to_owned(),
            vec![outcome("d", Level::Should, Verdict::NonStrict)],
        ),
        (
            "text-unseen".to_owned(),
            vec![
                outcome("a", Level::Must, Verdict::Pass),
                outcome("c", Level::Profile, Verdict::Fail),
            ],
        ),
    ]);
    let violations = layering_violations(
        &matrix,
        &["profile-clean", "profile-leaking", "no-such-fault"],
    );
    assert_eq!(
        violations,
        vec![
            "no-such-fault is listed as profile-only but is no fault".to_owned(),
            "profile-only fault profile-leaking makes a (MUST) fail".to_owned(),
            "fault text-unseen breaks the text but fails no MUST, SHOULD or MAY check".to_owned(),
        ]
    );
}

#[test]
fn profile_only_faults_are_faults() {
    let names: BTreeSet<String> = Fault::value_variants()
        .iter()
        .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
        .collect();
    for fault in PROFILE_ONLY {
        assert!(
            names.contains(*fault),
            "{fault} is not a fault of the reference server"
        );
    }
}

async fn not_passing(fault: Option<Fault>) -> (String, Vec<Outcome>, usize) {
    let args = RunArgs {
        embedded_faults: fault.into_iter().collect(),
        embedded_event_timeout_ms: Some(3000),
        // One check at a time: under a fault, a failing check can change what a concurrent one
        // sees, and the snapshot must be the same on every run.
        jobs: 1,
        ..Default::default()
    };
    let RunOutput::Certified(report) = p2mls::run(&args).await.expect("run starts") else {
        panic!("expected a report");
    };
    let name = fault.map_or("clean".to_owned(), |f| {
        f.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    });
    let outcomes = report
        .checks
        .iter()
        .map(|c| Outcome {
            check: c.def.id.clone(),
            level: c.def.level,
            verdict: c.verdict,
        })
        .collect();
    (name, outcomes, report.checks.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs ~40 full certifications (minutes): .ci/run runs it with --ignored"]
async fn every_check_is_killed_by_a_fault_and_the_clean_server_is_clean() {
    let not_pass = |outcomes: &[Outcome]| -> BTreeSet<String> {
        outcomes
            .iter()
            .filter(|o| o.verdict != Verdict::Pass)
            .map(|o| o.check.clone())
            .collect()
    };
    let (_, clean, total) = not_passing(None).await;
    let clean = not_pass(&clean);
    // The embedded server's 1.5 s heartbeat interval (so the heartbeat-request check waits
    // seconds) is outside the text's recommended 30-60 s: that SHOULD is non-strict there on
    // purpose (certify.rs shows it pass at 45 s), so it is left out of every run's outcomes.
    let by_configuration = BTreeSet::from(["gateway.heartbeat-interval".to_owned()]);
    assert_eq!(clean, by_configuration, "the clean server fails more");
    let runs: Vec<(String, Vec<Outcome>, usize)> =
        stream::iter(Fault::value_variants().iter().copied())
            .map(|fault| not_passing(Some(fault)))
            .buffer_unordered(2)
            .collect()
            .await;
    let outcomes: BTreeMap<String, Vec<Outcome>> = runs
        .into_iter()
        .map(|(name, outcomes, _)| {
            let judged = outcomes
                .into_iter()
                .filter(|o| !by_configuration.contains(&o.check))
                .collect();
            (name, judged)
        })
        .collect();
    let violations = layering_violations(&outcomes, PROFILE_ONLY);
    assert!(
        violations.is_empty(),
        "the layering of spec and profile is broken:\n{}",
        violations.join("\n")
    );
    let matrix: BTreeMap<String, BTreeSet<String>> = outcomes
        .iter()
        .map(|(name, outcomes)| (name.clone(), not_pass(outcomes)))
        .collect();
    for (fault, failing) in &matrix {
        assert!(
            !failing.is_empty(),
            "fault {fault} kills no check: it is not exercised"
        );
    }
    let killed: BTreeSet<&String> = matrix.values().flatten().collect();
    let all = p2mls::checks::catalogue(&p2mls::spec::ApiSpec::default_spec());
    assert_eq!(all.len(), total);
    let unkilled: BTreeSet<String> = all
        .iter()
        .map(|c| c.id.clone())
        .filter(|id| !killed.contains(id))
        .collect();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/survivors.toml"
    ))
    .expect("survivors");
    let survivors: Survivors = toml::from_str(&text).expect("survivors.toml parses");
    assert!(
        survivors
            .survivor
            .iter()
            .all(|s| !s.reason.trim().is_empty()),
        "every survivor needs a reason"
    );
    let justified: BTreeSet<String> = survivors.survivor.iter().map(|s| s.check.clone()).collect();
    assert_eq!(
        unkilled, justified,
        "unkilled checks must be exactly the justified survivors"
    );
    let snapshot = serde_json::json!({
        "checks": total,
        "faults": matrix.len(),
        "clean_server_failures": clean,
        "killed_by_fault": matrix,
        "profile_only_faults": PROFILE_ONLY,
        "survivors": justified,
    });
    insta::with_settings!({ snapshot_path => "../../reports", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("kill-matrix", snapshot);
    });
}
