//! The core 3.1 domain rule and the core 6.1.3 actor ID-Cert lifetime: each fault of those rules
//! makes exactly the check of that rule stop passing.

use p2mls::check::Verdict;
use p2mls::{RunArgs, RunOutput};
use p2mls_reference_server::faults::Fault;

/// Checks among `only` that do not pass under `faults`, run one at a time as the kill matrix
/// runs them.
async fn not_passing_among(faults: Vec<Fault>, only: &str) -> Vec<(String, Verdict)> {
    let args = RunArgs {
        only: vec![only.into()],
        embedded_faults: faults,
        jobs: 1,
        ..Default::default()
    };
    let RunOutput::Certified(report) = p2mls::run(&args).await.expect("runs") else {
        panic!("expected a report");
    };
    assert!(!report.checks.is_empty(), "{only} selects checks");
    report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| (c.def.id.clone(), c.verdict))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_actor_certs_are_a_non_strict_should() {
    assert_eq!(
        not_passing_among(Vec::new(), "idcert.*").await,
        Vec::new(),
        "the reference server issues actor ID-Certs for 30 days"
    );
    assert_eq!(
        not_passing_among(vec![Fault::LongLivedActorCerts], "idcert.*").await,
        vec![("idcert.actor-cert-lifetime".to_owned(), Verdict::NonStrict)]
    );
}
