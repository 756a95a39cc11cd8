//! TLS end to end on loopback, with a CA and certificates made in the test: `p2mls serve` with
//! `--tls-cert/--tls-key` (through `Config::resolve`, as the CLI does) certified over https and
//! wss with the CA named in the target config; the bad certificates a deployment can present
//! (another CA, another name, expired) each fail `tls.certificate` with the reason; a missing
//! CA fails fast instead of hanging; `insecure_skip_verify` is loud in every report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use p2mls::check::Verdict;
use p2mls::report::Report;
use p2mls::test_ca::{TestCa, Validity};
use p2mls::RunArgs;
use p2mls_reference_server::faults::Fault;
use p2mls_reference_server::{Config, RunningServer, ServeArgs};

mod common;
use common::certify;

const SECRET: &str = "tls-test-secret";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2mls-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Writes the CA, the server's chain and key into `dir` and starts the server from files.
async fn serve_tls(dir: &Path) -> RunningServer {
    let ca = TestCa::new("p2mls tls test CA").expect("ca");
    let cert = ca
        .issue(&["localhost", "127.0.0.1"], Validity::Current)
        .expect("leaf");
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).expect("ca.pem");
    std::fs::write(dir.join("server.pem"), &cert.chain_pem).expect("server.pem");
    std::fs::write(dir.join("server.key"), &cert.key_pem).expect("server.key");
    let config = Config::resolve(ServeArgs {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        in_memory: true,
        registration_secret: Some(SECRET.into()),
        heartbeat_interval_ms: Some(p2mls::EMBEDDED_HEARTBEAT_MS),
        heartbeat_grace_ms: Some(p2mls::EMBEDDED_HEARTBEAT_MS / 2),
        tls_cert: Some(dir.join("server.pem")),
        tls_key: Some(dir.join("server.key")),
        ..Default::default()
    })
    .expect("config resolves");
    p2mls_reference_server::spawn(config)
        .await
        .expect("server starts")
}

fn target_config(dir: &Path, extra: &str) -> PathBuf {
    common::reference_target_config(dir, SECRET, extra)
}

fn verdict(report: &Report, id: &str) -> (Verdict, String) {
    let check = report
        .checks
        .iter()
        .find(|c| c.def.id == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    (check.verdict, check.reason.clone())
}

fn not_passing(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        // The server runs with the short heartbeat interval the heartbeat-request check needs,
        // which its SHOULD check reports as outside the recommended range (certify.rs).
        .filter(|c| c.verdict != Verdict::Pass && c.def.id != "gateway.heartbeat-interval")
        .map(|c| format!("{}: {}", c.def.id, c.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_target_with_its_ca_in_the_config_passes_every_check_over_https_and_wss() {
    let dir = temp_dir("pass");
    let server = serve_tls(&dir).await;
    assert!(server.url().starts_with("https://"), "{}", server.url());
    // The gateway is announced as wss:// (asked over HTTP/2, where there is no Host header).
    let discovery: serde_json::Value = reqwest::Client::builder()
        .use_preconfigured_tls(
            p2mls::clients::tls::TlsSettings::from_pem(
                &std::fs::read_to_string(dir.join("ca.pem")).expect("ca"),
            )
            .expect("anchors")
            .http_config(),
        )
        .build()
        .expect("client")
        .get(format!("{}/.p2/core/v1/gateway", server.url()))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let announced = discovery["url"].as_str().expect("url");
    assert!(announced.starts_with("wss://127.0.0.1:"), "{announced}");

    let args = RunArgs {
        target: Some(server.url()),
        config: Some(target_config(
            &dir,
            "ca_certs = [\"ca.pem\"]\nkeypackage_limit = 100",
        )),
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(not_passing(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    let tls = report.header.tls.as_ref().expect("the header records TLS");
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.chain.len(), 2);
    assert_eq!(tls.chain[0].issuer, "CN=p2mls tls test CA, O=p2mls test CA");
    assert!(tls.chain[0].names.contains(&"127.0.0.1".to_owned()));
    // The gateway checks really ran over wss.
    assert_eq!(verdict(&report, "gateway.resume").0, Verdict::Pass);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_run_fails_fast_with_the_reason() {
    let dir = temp_dir("no-ca");
    let server = serve_tls(&dir).await;
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(target_config(&dir, "")),
        ..Default::default()
    };
    let started = Instant::now();
    let (report, code) = certify(args).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code, 1);
    let (certificate, reason) = verdict(&report, "tls.certificate");
    assert_eq!(certificate, Verdict::Fail, "{reason}");
    assert!(reason.contains("unknown issuer"), "{reason}");
    assert!(reason.contains("CN=p2mls tls test CA"), "{reason}");
    // Nothing else is judged over a refused connection: error, never a target fail.
    for check in &report.checks {
        if !check.def.id.starts_with("tls.") {
            assert_eq!(check.verdict, Verdict::Error, "{}", check.def.id);
            assert!(check.reason.contains("not run"), "{}", check.reason);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_runs_everything_and_says_so_in_every_report() {
    let dir = temp_dir("insecure");
    let server = serve_tls(&dir).await;
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(target_config(&dir, "insecure_skip_verify = true")),
        only: vec![
            "tls.*".into(),
            "gateway.hello".into(),
            "keypackages.*".into(),
        ],
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 0);
    let (certificate, reason) = verdict(&report, "tls.certificate");
    assert_eq!(certificate, Verdict::Unsupported);
    assert!(reason.contains("insecure_skip_verify"), "{reason}");
    assert!(reason.contains("would refuse"), "{reason}");
    assert_eq!(verdict(&report, "gateway.hello").0, Verdict::Pass);
    assert!(report.header.insecure_skip_verify);
    let out = dir.join("out");
    report.write(&out).expect("reports");
    for file in ["report.json", "junit.xml", "report.md"] {
        let text = std::fs::read_to_string(out.join(file)).expect(file);
        assert!(text.contains("insecure_skip_verify"), "{file}");
    }
    server.stop().await;
}

async fn embedded_with(fault: Fault) -> Report {
    embedded_run(fault, false).await
}

async fn embedded_run(fault: Fault, strict: bool) -> Report {
    let args = RunArgs {
        embedded_faults: vec![fault],
        strict,
        only: vec!["tls.*".into(), "keypackages.discover.one-time".into()],
        ..Default::default()
    };
    certify(args).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_ca_another_name_and_an_expired_certificate_each_fail_with_their_reason() {
    for (fault, words) in [
        (
            Fault::TlsForeignCa,
            ["unknown issuer", "CN=a CA the harness was not given"],
        ),
        (
            Fault::TlsWrongName,
            ["not issued for `127.0.0.1`", "wrong.example"],
        ),
        (Fault::TlsExpired, ["has expired", "valid "]),
    ] {
        let report = embedded_with(fault).await;
        let (certificate, reason) = verdict(&report, "tls.certificate");
        assert_eq!(certificate, Verdict::Fail, "{fault:?}: {reason}");
        for word in words {
            assert!(reason.contains(word), "{fault:?}: {reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_http2_is_non_strict_and_fails_under_strict() {
    let report = embedded_with(Fault::NoHttp2).await;
    let (http2, reason) = verdict(&report, "tls.http2");
    assert_eq!(http2, Verdict::NonStrict, "{reason}");
    assert!(reason.contains("http/1.1"), "{reason}");
    assert_eq!(
        report
            .header
            .tls
            .as_ref()
            .and_then(|t| t.alpn.clone())
            .as_deref(),
        Some("http/1.1")
    );
    // Everything else still runs over HTTP/1.1.
    assert_eq!(verdict(&report, "tls.certificate").0, Verdict::Pass);
    assert_eq!(
        verdict(&report, "keypackages.discover.one-time").0,
        Verdict::Pass
    );
    let strict = embedded_run(Fault::NoHttp2, true).await;
    assert_eq!(verdict(&strict, "tls.http2").0, Verdict::Fail);
}

#[tokio::test]
async fn a_plain_http_target_leaves_the_tls_checks_unsupported() {
    let server = p2mls_reference_server::spawn(Config::ephemeral(SECRET))
        .await
        .expect("server");
    let dir = temp_dir("plain");
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(target_config(&dir, "")),
        only: vec!["tls.*".into()],
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    assert_eq!(code, 0);
    for id in ["tls.certificate", "tls.http2"] {
        let (v, reason) = verdict(&report, id);
        assert_eq!(v, Verdict::Unsupported, "{id}");
        assert!(reason.contains("plain http://"), "{reason}");
    }
    assert!(report.header.tls.is_none());
    server.stop().await;
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_is_a_config_error() {
    let dir = temp_dir("bad-ca");
    let missing = target_config(&dir, "ca_certs = [\"nowhere.pem\"]");
    let error = p2mls::target::TargetConfig::load(&missing).expect_err("missing CA file");
    assert!(error.to_string().contains("nowhere.pem"), "{error}");
    std::fs::write(dir.join("junk.pem"), "not a certificate").expect("junk");
    let junk = target_config(&dir, "ca_certs = [\"junk.pem\"]");
    let error = p2mls::target::TargetConfig::load(&junk).expect_err("junk CA file");
    assert!(error.to_string().contains("no CERTIFICATE"), "{error}");
}
