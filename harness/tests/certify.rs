//! End-to-end: `p2mls run` against the embedded reference server (clean and with faults) and
//! against a separately started one, through the library entry point.

use p2mls::check::Verdict;
use p2mls::report::Report;
use p2mls::runner::GateLevel;
use p2mls::RunArgs;
use p2mls_reference_server::faults::Fault;

mod common;
use common::certify;

/// The check the embedded server's short heartbeat interval (1.5 s, so the heartbeat-request
/// check waits seconds) makes non-strict on purpose.
const SHORT_TIMERS: &str = "gateway.heartbeat-interval";

/// Checks that do not pass, beyond `SHORT_TIMERS` (which `short_timers_are_reported_as_such`
/// checks on its own).
fn failed(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass && c.def.id != SHORT_TIMERS)
        .map(|c| c.def.id.clone())
        .collect()
}

fn verdict_of(report: &Report, id: &str) -> (Verdict, String) {
    let check = report
        .checks
        .iter()
        .find(|c| c.def.id == id)
        .unwrap_or_else(|| panic!("{id} did not run"));
    (check.verdict, check.reason.clone())
}

/// A heartbeat interval outside the recommended 30-60 s is non-strict (the embedded default
/// of 1.5 s, and 1 s), and the recommended 45 s passes.
#[tokio::test]
async fn short_timers_are_reported_as_such() {
    for (interval, expected) in [
        (None, Verdict::NonStrict),
        (Some(1000), Verdict::NonStrict),
        (Some(45_000), Verdict::Pass),
    ] {
        let (report, code) = certify(RunArgs {
            embedded_heartbeat_ms: interval,
            only: vec![SHORT_TIMERS.into()],
            ..Default::default()
        })
        .await;
        let (verdict, reason) = verdict_of(&report, SHORT_TIMERS);
        assert_eq!(verdict, expected, "{interval:?}: {reason}");
        let announced = interval.unwrap_or(p2mls::EMBEDDED_HEARTBEAT_MS);
        if expected == Verdict::NonStrict {
            assert!(reason.contains(&format!("{announced} ms")), "{reason}");
        }
        assert_eq!(code, 0, "a SHOULD never fails the gate");
    }
}

#[tokio::test]
async fn embedded_reference_server_passes_every_check_and_matches_the_snapshot() {
    let (report, code) = certify(RunArgs::default()).await;
    assert_eq!(failed(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    assert!(
        report.checks.len() >= 60,
        "only {} checks ran",
        report.checks.len()
    );
    let deterministic = p2mls::report::json::render(&report, true);
    insta::with_settings!({ snapshot_path => "../../reports", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("reference-server-report", deterministic);
    });
}

/// Checks that share state wait for each other, so running them concurrently changes nothing a
/// report says: the deterministic report of a parallel run is the one-at-a-time run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_give_the_report_of_one_at_a_time() {
    let (sequential, _) = certify(RunArgs {
        jobs: 1,
        ..Default::default()
    })
    .await;
    let (concurrent, _) = certify(RunArgs {
        jobs: 32,
        ..Default::default()
    })
    .await;
    let reasons: Vec<String> = concurrent
        .checks
        .iter()
        .filter(|c| failed(&concurrent).contains(&c.def.id))
        .map(|c| format!("{}: {}", c.def.id, c.reason))
        .collect();
    assert_eq!(reasons, Vec::<String>::new());
    assert_eq!(
        p2mls::report::json::render(&sequential, true),
        p2mls::report::json::render(&concurrent, true)
    );
}

/// What a person reads is written for people: no Rust debug formatting (`Some(404)`, `None`,
/// `Mismatch { .. }`) and routes as they are (`/.p2/mls/v1/groups/<id>`, never `/.<blob>`), in
/// every report of a run with many failures.
#[tokio::test]
async fn reports_show_numbers_and_routes_not_debug_formatting() {
    let (report, _) = certify(RunArgs {
        embedded_faults: vec![Fault::NoAuth, Fault::WrongCloseCode, Fault::DropMlsEvents],
        ..Default::default()
    })
    .await;
    assert!(!failed(&report).is_empty());
    let dir = std::env::temp_dir().join(format!("p2mls-debug-fmt-{}", std::process::id()));
    report.write(&dir).expect("reports written");
    for file in ["report.json", "report.md", "junit.xml", "report.html"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("report");
        for debug in ["Some(", "None)", "Mismatch {", "Harness(", "/.<blob>"] {
            assert!(!text.contains(debug), "{file} has `{debug}`");
        }
    }
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(md.contains("/.p2/mls/v1/groups/"), "no route in report.md");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_server_answering_without_a_token_fails_the_auth_checks() {
    let args = RunArgs {
        embedded_faults: vec![Fault::NoAuth],
        // One check at a time: under a fault a check can change what a concurrent one sees,
        // and which checks a fault fails is judged as the kill matrix judges it.
        jobs: 1,
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 1);
    let failures = failed(&report);
    // A server that takes any token takes a revoked session's token too.
    let revoked_token_checks = [
        "sessions.revoke.session-id-reuse",
        "sessions.revoke.token-401",
        "sessions.revoke.token-refused",
    ];
    assert!(
        failures
            .iter()
            .all(|id| id.contains(".auth.") || revoked_token_checks.contains(&id.as_str())),
        "{failures:?}"
    );
    // Every secured operation's missing-token check fails.
    assert_eq!(
        failures
            .iter()
            .filter(|id| id.ends_with(".auth.missing-token"))
            .count(),
        10
    );
}

#[tokio::test]
async fn a_server_handing_out_a_keypackage_twice_fails_the_one_time_checks() {
    let args = RunArgs {
        embedded_faults: vec![Fault::KeypackageReuse],
        // One check at a time: under a fault a check can change what a concurrent one sees,
        // and which checks a fault fails is judged as the kill matrix judges it.
        jobs: 1,
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 1);
    let failures = failed(&report);
    for expected in [
        "keypackages.discover.one-time",
        "keypackages.discover.concurrent-distinct",
    ] {
        assert!(
            failures.contains(&expected.to_owned()),
            "{expected} not in {failures:?}"
        );
    }
    // Suite runs, the GREASE join and the limit check (which drains a full store) depend on
    // one-time hand-out too; nothing else may fail.
    assert!(
        failures
            .iter()
            .all(|id| id.starts_with("keypackages.discover.")
                || id.starts_with("suites.")
                || id == "keypackages.grease.join"
                || id == "keypackages.upload.limit-last-resort-swap"),
        "{failures:?}"
    );
}

#[tokio::test]
async fn a_separately_started_server_gets_the_same_verdicts() {
    let secret = "test-secret".to_owned();
    // Same short heartbeats as the embedded server, so the heartbeat-request check can run.
    let mut config = p2mls_reference_server::Config::ephemeral(secret.clone());
    p2mls::embedded_limits(&mut config);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    let server = p2mls_reference_server::spawn(config)
        .await
        .expect("server starts");
    let dir = std::env::temp_dir().join(format!("p2mls-target-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("target.toml");
    std::fs::write(
        &config,
        format!(
            "keypackage_limit = 100\n[actors]\nmode = \"reference\"\nregistration_secret = \"{secret}\"\n"
        ),
    )
    .expect("config");
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(config),
        out: Some(dir.join("out")),
        ..Default::default()
    };
    let (remote, code) = certify(args.clone()).await;
    assert_eq!(code, 0, "{:?}", failed(&remote));
    let (embedded, _) = certify(RunArgs::default()).await;
    // The embedded server speaks TLS, this one plain HTTP: the TLS checks differ, nothing else.
    let verdicts = |r: &Report| {
        r.checks
            .iter()
            .filter(|c| !c.def.id.starts_with("tls."))
            .map(|c| (c.def.id.clone(), c.verdict))
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&remote), verdicts(&embedded));
    for c in remote
        .checks
        .iter()
        .filter(|c| c.def.id.starts_with("tls."))
    {
        assert_eq!(c.verdict, Verdict::Unsupported, "{}", c.def.id);
    }
    remote.write(&dir.join("out")).expect("reports written");
    for file in ["report.json", "junit.xml", "report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join("out").join(file)).expect(file);
        assert!(
            text.contains("keypackages.discover.one-time"),
            "{file} lacks the checks"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).expect("json"))
            .expect("valid");
    for key in ["pass", "fail", "non_strict", "unsupported", "error"] {
        assert!(json["summary"][key].is_u64(), "summary.{key}");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn expected_failures_do_not_fail_the_gate_but_stale_ones_are_reported() {
    let dir = std::env::temp_dir().join(format!("p2mls-expect-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let expect = dir.join("expect.toml");
    std::fs::write(
        &expect,
        "[[expected]]\ncheck = \"keypackages.discover.one-time\"\nreason = \"known reuse bug\"\n\
         [[expected]]\ncheck = \"keypackages.discover.concurrent-distinct\"\nreason = \"same bug\"\n\
         [[expected]]\ncheck = \"keypackages.discover.empty\"\nreason = \"same bug\"\n\
         [[expected]]\ncheck = \"keypackages.discover.filter-*\"\nreason = \"not an id: stays a new failure\"\n\
         [[expected]]\ncheck = \"groups.welcome-joins\"\nreason = \"stale: passes\"\n",
    )
    .expect("write");
    let args = RunArgs {
        embedded_faults: vec![Fault::KeypackageReuse],
        // One check at a time: under a fault a check can change what a concurrent one sees,
        // and which checks a fault fails is judged as the kill matrix judges it.
        jobs: 1,
        expect: Some(expect),
        // The one-time hand-out is our profile's rule: only the profile gate counts it.
        gate: GateLevel::Profile,
        only: vec![
            "keypackages.discover.*".into(),
            "groups.welcome-joins".into(),
        ],
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(
        report.gate.now_passing,
        vec!["groups.welcome-joins".to_owned()]
    );
    assert!(report
        .gate
        .expected_failures
        .contains(&"keypackages.discover.one-time".to_owned()));
    // The filter checks fail under this fault and are not listed by id: the gate fails on them.
    assert_eq!(code, i32::from(!report.gate.new_failures.is_empty()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Registers an actor over HTTP the way an operator's own tooling would, returning the static
/// actor entry (fid, session, token, key seed, ID-Cert).
async fn provision(base: &str, secret: &str, name: &str) -> serde_json::Value {
    let client = reqwest::Client::new();
    let password = "pw-".to_owned() + name;
    let reg: serde_json::Value = client
        .post(format!("{base}/.p2/p2mls/v1/register"))
        .json(&serde_json::json!({ "name": name, "secret": secret, "password": password }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let fid = reg["fid"].as_str().expect("fid").to_owned();
    let name_parts = p2mls_protocol::idcert::ActorName {
        local_name: name.to_owned(),
        domain: fid.split_once('@').expect("domain").1.to_owned(),
        session_id: "ops-1".into(),
    };
    let csr = p2mls_protocol::idcert::build_csr(&name_parts, &key).expect("csr");
    let cert: serde_json::Value = client
        .post(format!("{base}/.p2/core/v1/idcert"))
        .bearer_auth(reg["token"].as_str().expect("token"))
        .header("X-P2-Sensitive-Solution", password)
        .body(csr)
        .send()
        .await
        .expect("idcert")
        .json()
        .await
        .expect("json");
    serde_json::json!({
        "fid": fid,
        "session_id": "ops-1",
        "token": cert["token"],
        "signing_key": hex::encode(key.to_bytes()),
        "id_cert_pem": cert["id_cert"],
    })
}

#[tokio::test]
async fn static_and_command_actor_sources_certify_a_server() {
    let secret = "ops-secret";
    let mut config = p2mls_reference_server::Config::ephemeral(secret);
    p2mls::embedded_limits(&mut config);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    let server = p2mls_reference_server::spawn(config)
        .await
        .expect("server starts");
    let mut actors = Vec::new();
    for name in ["ann", "ben", "cat"] {
        actors.push(provision(&server.url(), secret, name).await);
    }
    let dir = std::env::temp_dir().join(format!("p2mls-static-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");

    let list: Vec<toml::Value> = actors
        .iter()
        .map(|a| toml::Value::try_from(a).expect("toml"))
        .collect();
    let mut table = toml::map::Map::new();
    table.insert("mode".into(), toml::Value::String("static".into()));
    table.insert("list".into(), toml::Value::Array(list));
    let mut root = toml::map::Map::new();
    root.insert("actors".into(), toml::Value::Table(table));
    let static_config = dir.join("static.toml");
    std::fs::write(
        &static_config,
        toml::to_string(&toml::Value::Table(root)).expect("toml"),
    )
    .expect("write");

    let json_file = dir.join("actors.json");
    std::fs::write(&json_file, serde_json::to_string(&actors).expect("json")).expect("write");
    let command_config = dir.join("command.toml");
    std::fs::write(
        &command_config,
        format!(
            "[actors]\nmode = \"command\"\ncommand = [\"cat\", {:?}]\n",
            json_file.display().to_string()
        ),
    )
    .expect("write");

    for config in [static_config, command_config] {
        let args = RunArgs {
            target: Some(server.url()),
            config: Some(config.clone()),
            ..Default::default()
        };
        let (report, code) = certify(args).await;
        assert_eq!(code, 0, "{}: {:?}", config.display(), failed(&report));
    }

    // A config whose seed belongs to another actor's certificate is the operator's mistake: a
    // usage error before any check, never a failure of the server.
    let mut swapped = actors.clone();
    swapped[0]["signing_key"] = actors[1]["signing_key"].clone();
    let swapped_file = dir.join("swapped.json");
    std::fs::write(
        &swapped_file,
        serde_json::to_string(&swapped).expect("json"),
    )
    .expect("write");
    let swapped_config = dir.join("swapped.toml");
    std::fs::write(
        &swapped_config,
        format!(
            "[actors]\nmode = \"command\"\ncommand = [\"cat\", {:?}]\n",
            swapped_file.display().to_string()
        ),
    )
    .expect("write");
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(swapped_config),
        ..Default::default()
    };
    let Err(error) = p2mls::run(&args).await else {
        panic!("a seed of another actor's certificate must not start a run");
    };
    assert!(
        error.to_string().contains("signing_key is not the key"),
        "{error}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failed_gateway_check_replays_from_its_transcript() {
    let secret = "replay-secret";
    let mut config = p2mls_reference_server::Config::ephemeral(secret);
    p2mls::embedded_limits(&mut config);
    config.faults = vec![Fault::UnknownServiceAccepted];
    let server = p2mls_reference_server::spawn(config)
        .await
        .expect("server starts");
    let mut actors = Vec::new();
    for name in ["rae", "rob", "ria"] {
        actors.push(provision(&server.url(), secret, name).await);
    }
    let dir = std::env::temp_dir().join(format!("p2mls-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let json_file = dir.join("actors.json");
    std::fs::write(&json_file, serde_json::to_string(&actors).expect("json")).expect("write");
    let config = dir.join("command.toml");
    std::fs::write(
        &config,
        format!(
            "[actors]\nmode = \"command\"\ncommand = [\"cat\", {:?}]\n",
            json_file.display().to_string()
        ),
    )
    .expect("write");
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(config),
        only: vec!["gateway.service.unknown".into()],
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 1);
    report.write(&dir.join("out")).expect("written");
    let recorded = std::fs::read_to_string(dir.join("out/report.json")).expect("report");
    let token = actors[0]["token"].as_str().expect("token");
    assert!(
        !recorded.contains(token),
        "the session token leaked into the report"
    );
    std::env::set_var("TOKEN_ALICE", token);
    let frames = p2mls::replay::replay(&p2mls::replay::ReplayArgs {
        report: dir.join("out/report.json"),
        check: "gateway.service.unknown".into(),
        gateway: None,
    })
    .await
    .expect("replays");
    // The replay reproduces the fault: the unknown service is acknowledged as a success.
    assert!(
        frames
            .iter()
            .any(|f| f.payload.contains("p2mls-no-such-service")
                && f.payload.contains("\"success\":true")),
        "{frames:?}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn differential_mode_reports_where_a_target_differs_from_the_reference() {
    let secret = "diff-secret";
    let mut config = p2mls_reference_server::Config::ephemeral(secret);
    p2mls::embedded_limits(&mut config);
    config.faults = vec![Fault::EpochAsString];
    let server = p2mls_reference_server::spawn(config)
        .await
        .expect("server starts");
    let dir = std::env::temp_dir().join(format!("p2mls-diff-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config_file = dir.join("target.toml");
    std::fs::write(
        &config_file,
        format!(
            "keypackage_limit = 100\n[actors]\nmode = \"reference\"\nregistration_secret = \"{secret}\"\n"
        ),
    )
    .expect("config");
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(config_file),
        differential: true,
        only: vec![
            "groups_getGroup.success".into(),
            "keypackages.discover.one-time".into(),
        ],
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 1);
    let at_group: Vec<_> = report
        .differences
        .iter()
        .filter(|d| d.check == "groups_getGroup.success")
        .collect();
    assert!(
        at_group.iter().any(|d| d.at == "verdict"),
        "{:?}",
        report.differences
    );
    assert!(
        at_group.iter().any(|d| d.at.starts_with("http[")
            && d.target.contains(r#""epoch":"string""#)
            && d.reference.contains(r#""epoch":"number""#)),
        "{:?}",
        report.differences
    );
    // The unaffected check shows no difference.
    assert!(report
        .differences
        .iter()
        .all(|d| d.check != "keypackages.discover.one-time"));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
