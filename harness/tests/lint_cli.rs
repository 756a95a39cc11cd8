//! `p2mls lint` and `p2mls diff` from the command line: exit codes, formats, baseline.

use std::path::PathBuf;

mod common;
use common::p2mls;

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2mls-lint-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf8").to_owned()
}

/// Clean apart from one warning (no 400 for a body) and one info (no tags).
const WARNS: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /.p2/xy/v1/things:\n    post:\n      operationId: things_addThing\n      summary: Add a thing\n      security: []\n      requestBody:\n        content:\n          application/json: {schema: {type: object}}\n      responses:\n        '204': {description: stored}\n";

#[test]
fn exit_codes_follow_fail_on() {
    let dir = scratch("exit");
    let doc = write(&dir, "warns.yaml", WARNS);
    let (code, stdout, _) = p2mls(&["lint", &doc]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("warning[P2L-HTTP-004]"), "{stdout}");
    assert!(stdout.contains("0 errors, 1 warnings, 1 infos"), "{stdout}");
    let (code, _, _) = p2mls(&["lint", &doc, "--fail-on", "warning"]);
    assert_eq!(code, 1);
    let (code, _, stderr) = p2mls(&["lint", &doc, "--fail-on", "fatal"]);
    assert_eq!(code, 2, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_documents_exit_2_but_the_rest_is_linted() {
    let dir = scratch("unreadable");
    let doc = write(&dir, "warns.yaml", WARNS);
    let bad = write(&dir, "bad.yaml", "openapi: 3.1.0\ninfo: [unclosed\n");
    let (code, stdout, stderr) = p2mls(&["lint", &doc, &bad, "/nonexistent/x.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/x.yaml"),
        "{stderr}"
    );
    assert!(stdout.contains("P2L-HTTP-004"), "{stdout}");
    let swagger = write(&dir, "swagger.yaml", "swagger: '2.0'\n");
    let (code, _, stderr) = p2mls(&["lint", &swagger]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no `openapi` version field"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn baseline_accepts_findings_and_reports_stale_entries() {
    let dir = scratch("baseline");
    let doc = write(&dir, "warns.yaml", WARNS);
    let baseline = write(
        &dir,
        "baseline.toml",
        "[[accepted]]\nrule = \"P2L-HTTP-004\"\ndocument = \"warns.yaml\"\nreason = \"400 comes with the error body work\"\n\n[[accepted]]\nrule = \"P2L-PP-004\"\nreason = \"no epoch here any more\"\n",
    );
    let (code, stdout, _) = p2mls(&[
        "lint",
        &doc,
        "--fail-on",
        "warning",
        "--baseline",
        &baseline,
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("accepted warning[P2L-HTTP-004]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stale baseline entry: P2L-PP-004"),
        "{stdout}"
    );
    let no_reason = write(
        &dir,
        "nr.toml",
        "[[accepted]]\nrule = \"P2L-HTTP-004\"\nreason = \"\"\n",
    );
    let (code, _, stderr) = p2mls(&["lint", &doc, "--baseline", &no_reason]);
    assert_eq!(code, 2);
    assert!(stderr.contains("needs a reason"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn formats_and_output_file() {
    let dir = scratch("formats");
    let doc = write(&dir, "warns.yaml", WARNS);
    let (code, stdout, _) = p2mls(&["lint", &doc, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["summary"]["warning"], 1);
    let out = dir.join("lint.sarif");
    let (code, stdout, _) = p2mls(&[
        "lint",
        &doc,
        "--format",
        "sarif",
        "--output",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("json");
    assert_eq!(sarif["version"], "2.1.0");
    let (_, md, _) = p2mls(&["lint", &doc, "--format", "md"]);
    assert!(md.starts_with("# p2mls lint report"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn our_own_documents_are_linted_by_default() {
    let (code, stdout, _) = p2mls(&["lint", "--format", "json"]);
    // Our restatement keeps the published defects on purpose.
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let rules: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for expected in ["P2L-HTTP-001", "P2L-PP-004", "P2L-PP-005", "P2L-HTTP-002"] {
        assert!(rules.contains(&expected), "{expected} missing: {rules:?}");
    }
    // The 3.0 and 3.1 forms of our document say the same thing.
    assert!(!rules.contains(&"P2L-PAR-001"), "{rules:?}");
}

#[test]
fn diff_lists_changes_and_fails_on_breaking_when_asked() {
    let dir = scratch("diff");
    let old = write(&dir, "old.yaml", WARNS);
    let new = write(
        &dir,
        "new.yaml",
        &WARNS.replace("      security: []\n", "      security: [{B: []}]\n"),
    );
    let (code, stdout, _) = p2mls(&["diff", &old, &new]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("added    security"), "{stdout}");
    assert!(
        stdout.contains("clients: BREAKING, servers: ok"),
        "{stdout}"
    );
    let (code, _, _) = p2mls(&["diff", &old, &new, "--fail-on-breaking", "clients"]);
    assert_eq!(code, 1);
    let (code, _, _) = p2mls(&["diff", &old, &new, "--fail-on-breaking", "servers"]);
    assert_eq!(code, 0);
    let (code, stdout, _) = p2mls(&["diff", &old, &new, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["summary"]["breaking_for_clients"], 1);
    let (code, _, stderr) = p2mls(&["diff", &old, "/nonexistent/new.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fix_dry_run_prints_the_diff_and_fix_writes_it() {
    let dir = scratch("fix");
    let doc = write(&dir, "warns.yaml", WARNS);
    let (code, stdout, _) = p2mls(&["lint", &doc, "--fix-dry-run"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(": 1 repairs\n"), "{stdout}");
    assert!(
        stdout.contains("#   P2L-HTTP-004 line 12: adds 400 -> #/components/responses/BadRequest"),
        "{stdout}"
    );
    assert!(
        stdout.contains("#   no mechanical repair: P2L-STRUCT-008 x1"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("\n+        '400':\n+          $ref: '#/components/responses/BadRequest'\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n+components:\n+  responses:\n+    BadRequest:\n"),
        "{stdout}"
    );
    // A finding the baseline accepts is left alone.
    let baseline = write(
        &dir,
        "baseline.toml",
        "[[accepted]]\nrule = \"P2L-HTTP-004\"\nreason = \"400 comes with the error body work\"\n",
    );
    let (code, stdout, _) = p2mls(&["lint", &doc, "--fix-dry-run", "--baseline", &baseline]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(": 0 repairs\n"), "{stdout}");
    assert!(
        stdout.contains("#   left alone (accepted by the baseline): 1\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("+++"), "{stdout}");
    // A dry run changes nothing.
    assert_eq!(std::fs::read_to_string(&doc).expect("read"), WARNS);
    // --fix writes the same repair, reports it on stderr and lints what it wrote.
    let (code, stdout, stderr) = p2mls(&["lint", &doc, "--fix", "--fail-on", "warning"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("P2L-HTTP-004 line 12"), "{stderr}");
    assert!(stdout.contains("0 errors, 0 warnings, 1 infos"), "{stdout}");
    let written = std::fs::read_to_string(&doc).expect("read");
    assert!(written.starts_with(&WARNS.replace(
        "        '204': {description: stored}\n",
        "        '204': {description: stored}\n        '400':\n          $ref: '#/components/responses/BadRequest'\n"
    )), "{written}");
    // Nothing left to repair.
    let (_, stdout, _) = p2mls(&["lint", &doc, "--fix-dry-run"]);
    assert!(
        stdout.contains(": 0 repairs\n") && !stdout.contains("+++"),
        "{stdout}"
    );
    let (code, _, stderr) = p2mls(&["lint", "--fix"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("need the documents"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
