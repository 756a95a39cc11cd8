//! A polyproto server without the mls routes: every request, gateway discovery included, gets
//! a framework's bare `text/plain` 404. Such a target must get no pass at PROFILE level and no
//! `error` verdict: a 404 that cannot tell a missing resource from a missing route is
//! `unsupported` with that cause, and what the target does not serve is its failure, not the
//! harness's.

use std::path::PathBuf;

use axum::http::{header, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use p2mls::check::{Level, Verdict};
use p2mls::{RunArgs, RunOutput};
use p2mls_protocol::idcert::{build_csr, verify_csr, ActorName, ServerIdentity};

/// A real HTTP server on loopback answering every request 404 `text/plain`.
async fn bare_404_server() -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "404 page not found",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), task)
}

/// A target config with three static actors of domain `bare`, certified by a CA made here
/// (the target has no AS to ask).
fn config() -> PathBuf {
    let mut rng = rand::rngs::OsRng;
    let ca = ServerIdentity::new("bare", &SigningKey::generate(&mut rng)).expect("CA");
    let mut text = String::from(
        "timeout_seconds = 2\ncheck_timeout_seconds = 20\nevent_timeout_ms = 500\n\
         [actors]\nmode = \"static\"\n",
    );
    for (serial, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let key = SigningKey::generate(&mut rng);
        let actor = ActorName {
            local_name: name.into(),
            domain: "bare".into(),
            session_id: format!("bare-{name}"),
        };
        let csr = verify_csr(&build_csr(&actor, &key).expect("CSR")).expect("own CSR");
        let (pem, _) = ca.issue(&csr, &[serial as u8 + 1], 3600).expect("issue");
        text.push_str(&format!(
            "[[actors.list]]\nfid = \"{}\"\nsession_id = \"{}\"\ntoken = \"made-up-{name}\"\n\
             signing_key = \"{}\"\nid_cert_pem = '''\n{pem}'''\n",
            actor.fid(),
            actor.session_id,
            hex::encode(key.to_bytes()),
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "p2mls-bare-404-{}-{}",
        std::process::id(),
        p2mls::random_hex(4)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("target.toml");
    std::fs::write(&path, text).expect("config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_mls_routes_gets_no_profile_pass_and_no_error() {
    let (url, server) = bare_404_server().await;
    let config = config();
    let args = RunArgs {
        target: Some(url),
        config: Some(config.clone()),
        ..Default::default()
    };
    let output = p2mls::run(&args)
        .await
        .expect("static actors reach the checks");
    server.abort();
    let _ = std::fs::remove_dir_all(config.parent().expect("config dir"));
    let RunOutput::Certified(report) = output else {
        panic!("expected a report");
    };
    for check in &report.checks {
        eprintln!(
            "{} {}: {}",
            check.verdict.as_str(),
            check.def.id,
            check.reason
        );
    }
    assert!(report.checks.len() > 100, "every check ran");
    let mut wrong = Vec::new();
    for check in &report.checks {
        let profile_pass = check.def.level == Level::Profile && check.verdict == Verdict::Pass;
        if profile_pass || check.verdict == Verdict::Error {
            wrong.push(format!(
                "{} ({:?}) is {}: {}",
                check.def.id,
                check.def.level,
                check.verdict.as_str(),
                check.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The 404 checks say why they cannot judge.
    for id in [
        "members_getMembers.not-found.missing",
        "groups_getGroup.not-found.missing",
        "keypackages.discover.unknown-fid",
    ] {
        assert_unsupported(&report, id, &["serves no route of the mls API"]);
    }
    // Checks of an existing group's routes need a group the target cannot make: their own rule
    // (a 401 for a missing token, ...) was never tried, and they say so instead of failing on
    // the group creation another check judges.
    for id in [
        "groups_getGroup.auth.missing-token",
        "groups_submitCommit.auth.invalid-token",
        "groups_getGroup.not-found.foreign",
        "members_getMember.success",
        "groups_submitCommit.success",
    ] {
        assert_unsupported(&report, id, &["not reached", "status 404"]);
    }
    let create = report
        .checks
        .iter()
        .find(|c| c.def.id == "groups_createGroup.success")
        .expect("listed");
    assert_eq!(create.verdict, Verdict::Fail, "{}", create.reason);
    assert!(
        report
            .checks
            .iter()
            .all(|c| !(c.def.id.contains(".not-found.") && c.verdict == Verdict::Pass)),
        "no not-found check passes"
    );
}

/// `id` ran, is `unsupported`, and its reason says every one of `phrases`.
fn assert_unsupported(report: &p2mls::report::Report, id: &str, phrases: &[&str]) {
    let check = report
        .checks
        .iter()
        .find(|c| c.def.id == id)
        .unwrap_or_else(|| panic!("{id} is listed"));
    assert_eq!(
        check.verdict,
        Verdict::Unsupported,
        "{id}: {}",
        check.reason
    );
    for phrase in phrases {
        assert!(check.reason.contains(phrase), "{id}: {}", check.reason);
    }
}
