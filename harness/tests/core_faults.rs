//! The core 3.1 domain rule and the core 6.1.3 actor ID-Cert lifetime: each fault of those rules
//! makes exactly the check of that rule stop passing.

use p2mls::check::Verdict;
use p2mls::RunArgs;
use p2mls_reference_server::faults::Fault;

mod common;

async fn not_passing_among(faults: Vec<Fault>, only: &str) -> Vec<(String, Verdict)> {
    let (found, ran) = common::not_passing_under(faults, only).await;
    assert!(ran > 0, "{only} selects checks");
    found
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

/// The embedded server names `localhost` on its ID-Certs and in FIDs and serves its API at
/// `127.0.0.1:PORT`: the visible domain's well-known leads there. Naming the host asked instead
/// leads to the visible domain, which serves no API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_rule_holds_with_visible_and_actual_apart_and_a_wrong_api_fails_it() {
    assert_eq!(not_passing_among(Vec::new(), "core.*").await, Vec::new());
    assert_eq!(
        not_passing_among(vec![Fault::WellKnownWrongApi], "core.*").await,
        vec![("core.visible-domain".to_owned(), Verdict::Fail)]
    );
}

/// A server served under its own domain passes the same chain; a visible domain whose
/// well-known leads to a server of another domain (issuer DCs `other.test`) fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visible_equal_to_actual_passes_and_another_domains_server_fails() {
    const SECRET: &str = "visible-domain-secret";
    let home = p2mls_reference_server::spawn(p2mls_reference_server::Config::ephemeral(SECRET))
        .await
        .expect("home server");
    let mut other_config = p2mls_reference_server::Config::ephemeral(SECRET);
    other_config.domain = "other.test".into();
    let other = p2mls_reference_server::spawn(other_config)
        .await
        .expect("other server");
    let dir = std::env::temp_dir().join(format!("p2mls-visible-{}", std::process::id()));
    let verdict = |visible_url: String, name: &str| {
        let config = common::reference_target_config(
            &dir.join(name),
            SECRET,
            &format!("visible_url = {visible_url:?}"),
        );
        let target = home.url();
        async move {
            let (report, _) = common::certify(RunArgs {
                target: Some(target),
                config: Some(config),
                only: vec!["core.visible-domain".into()],
                ..Default::default()
            })
            .await;
            let check = &report.checks[0];
            (check.verdict, check.reason.clone())
        }
    };
    let port = home.addr.port();
    let (same, reason) = verdict(format!("http://localhost:{port}"), "same").await;
    assert_eq!(same, Verdict::Pass, "{reason}");
    let (foreign, reason) = verdict(other.url(), "foreign").await;
    assert_eq!(foreign, Verdict::Fail);
    assert!(reason.contains("`other.test`"), "{reason}");
    home.stop().await;
    other.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
