//! The `p2mls` binary's exit codes and usage errors.

mod common;
use common::p2mls;

#[test]
fn list_needs_no_network_and_names_requirements() {
    let (code, stdout, _) = p2mls(&["run", "--list", "--only", "keypackages.*"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("keypackages.discover.one-time"));
    assert!(stdout.contains("PROFILE.keypackage-one-time"));
    assert!(!stdout.contains("groups.welcome-joins"));
}

#[test]
fn a_malformed_spec_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("p2mls-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "openapi: 3.1.0\ninfo: [unclosed\n").expect("write");
    let (code, _, stderr) = p2mls(&["run", "--list", "--spec", bad.to_str().expect("utf8")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    let (code, _, stderr) = p2mls(&["run", "--spec", "/nonexistent/spec.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn target_without_config_is_a_usage_error() {
    let (code, _, stderr) = p2mls(&["run", "--target", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--config"), "{stderr}");
}

#[test]
fn a_faulty_embedded_server_exits_1() {
    let (code, stdout, _) = p2mls(&[
        "run",
        "--embedded-fault",
        "no-auth",
        "--only",
        "*.auth.missing-token",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("fail"), "{stdout}");
}

#[test]
fn progress_lines_annotations_and_quiet() {
    let args = [
        "run",
        "--embedded-fault",
        "no-http2",
        "--only",
        "tls.*",
        "--format",
        "github",
    ];
    // Not a terminal here: a plain line per check that does not pass, as it ends.
    let (code, stdout, stderr) = p2mls(&args);
    assert_eq!(code, 0, "{stdout}");
    // The two TLS checks run at once: the count is of the checks done when it ended.
    assert!(
        stderr.contains("/2] non-strict  tls.http2: expected ALPN `h2`"),
        "{stderr}"
    );
    assert!(!stderr.contains("tls.certificate"), "{stderr}");
    assert!(
        stdout.contains("::warning title=p2mls non-strict tls.http2 (CORE.3.4.http2)::"),
        "{stdout}"
    );
    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let (code, stdout, stderr) = p2mls(&quiet);
    assert_eq!(code, 0, "{stdout}");
    assert!(!stderr.contains("tls.http2"), "{stderr}");
    // Annotations only where asked for.
    let mut text = args[..5].to_vec();
    text.extend(["--format", "text"]);
    let (_, stdout, _) = p2mls(&text);
    assert!(!stdout.contains("::warning"), "{stdout}");
}
