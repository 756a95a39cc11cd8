//! `p2mls vectors`: exit codes 0 (no failure), 1 (a failing entry), 2 (usage or unreadable
//! directory), and the report files, on our own generated vectors (no third-party data needed).

use std::path::{Path, PathBuf};

mod common;
use common::p2mls;

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/generated")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2mls-vectors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[test]
fn generated_vectors_pass_and_reports_are_written() {
    let out = temp("out");
    let dir = generated();
    let (code, stdout, stderr) = p2mls(&[
        "vectors",
        "verify",
        "--dir",
        dir.to_str().expect("utf8"),
        "--suite",
        "0xF110",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("welcome.json"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("json"))
            .expect("valid json");
    assert_eq!(report["summary"]["fail"], 0);
    assert!(report["summary"]["pass"].as_u64().unwrap_or(0) >= 10);
    assert!(report["entries"][0]["verdict"].is_string());
    assert!(out.join("junit.xml").exists() && out.join("report.md").exists());
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("welcome.json"), "report.html lacks the files");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_failing_entry_exits_1_and_names_the_field() {
    let dir = temp("bad");
    let text = std::fs::read_to_string(generated().join("psk_secret.json")).expect("read");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut entries = value.as_array().cloned().expect("array");
    // Entry 2 has three PSKs, so its psk_secret is not the all-zero one.
    entries[2]["psk_secret"] = serde_json::json!("00".repeat(32));
    std::fs::write(
        dir.join("psk_secret.json"),
        serde_json::to_string(&entries).expect("ser"),
    )
    .expect("write");
    let (code, stdout, _) = p2mls(&["vectors", "verify", "--dir", dir.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("psk_secret: expected 0000"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, stderr) = p2mls(&["vectors", "verify", "--dir", "/nonexistent/vectors"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a readable directory"), "{stderr}");
    let dir = generated();
    let (code, _, stderr) = p2mls(&[
        "vectors",
        "verify",
        "--dir",
        dir.to_str().expect("utf8"),
        "--suite",
        "banana",
    ]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn files_are_recognised_by_content_in_subdirectories_and_unknown_ones_are_listed() {
    let dir = temp("checkout");
    std::fs::create_dir_all(dir.join("test-vectors/sub")).expect("dir");
    std::fs::copy(
        generated().join("psk_secret.json"),
        dir.join("test-vectors/sub/my-psks.json"),
    )
    .expect("copy");
    std::fs::write(dir.join("notes.json"), r#"[{"foo": 1}]"#).expect("write");
    std::fs::write(dir.join("README.md"), "not JSON").expect("write");
    let (code, stdout, stderr) =
        p2mls(&["vectors", "verify", "--dir", dir.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("test-vectors/sub/my-psks.json") && stdout.contains("(as psk_secret.json)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "unsupported notes::file: no known kind of vector file has entries with fields {foo}"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("README"), "{stdout}");

    // Nothing of a known kind: a usage error, naming what was found.
    std::fs::remove_dir_all(dir.join("test-vectors")).expect("remove");
    let (code, _, stderr) = p2mls(&["vectors", "verify", "--dir", dir.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("holds no vector file of a known kind (1 JSON file(s) of no known kind)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
