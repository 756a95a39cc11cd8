//! Helpers shared by the integration tests (each test file includes what it needs with
//! `mod common;`; not every file uses every helper).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use p2mls::lint::Document;
use p2mls::report::Report;
use p2mls::{RunArgs, RunOutput};

/// The `shared/` directory of third-party material (`P2MLS_SHARED`, set by `.ci/run`).
pub fn shared() -> PathBuf {
    let dir = std::env::var("P2MLS_SHARED")
        .expect("set P2MLS_SHARED to the shared/ directory (see .ci/run)");
    PathBuf::from(dir)
}

/// Where the committed lint, diff and fix reports live.
pub fn lint_reports() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../reports/lint")
}

/// Compares `actual` with the committed report `name`, or writes it when blessing
/// (`P2MLS_BLESS=1`, never under `CI=true`).
pub fn compare_with_committed(name: &str, actual: &str) {
    let path = lint_reports().join(name);
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::env::var("P2MLS_BLESS").is_ok_and(|v| v == "1") && !ci {
        std::fs::create_dir_all(lint_reports()).expect("reports/lint");
        std::fs::write(&path, actual).expect("write snapshot");
        eprintln!("blessed {}", path.display());
        return;
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    panic!(
        "{} differs from the generated report (first difference at line {}):\n  committed: {:?}\n  generated: {:?}\nrun with P2MLS_BLESS=1 outside CI to accept, then review the diff",
        path.display(),
        first + 1,
        expected.lines().nth(first),
        actual.lines().nth(first)
    );
}

/// The six published documents of `shared/openapi-upstream/`, named relative to `shared/`.
pub fn published() -> Vec<Document> {
    let root = shared();
    let mut docs = Vec::new();
    for version in ["3.0.0", "3.1.0"] {
        let dir = root.join("openapi-upstream").join(version);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        names.sort();
        for n in names {
            let name = format!("openapi-upstream/{version}/{n}");
            docs.push(Document::load(&root.join(&name), &name).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    docs
}

/// Runs the `p2mls` binary: (exit code, stdout, stderr).
pub fn p2mls(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_p2mls"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `p2mls run` in-process: the report and the exit code it would give.
pub async fn certify(args: RunArgs) -> (Report, i32) {
    let output = p2mls::run(&args).await.expect("run starts");
    let code = output.exit_code();
    match output {
        RunOutput::Certified(report) => (*report, code),
        RunOutput::Listed(_) => panic!("expected a report"),
    }
}

/// The checks among `only` that do not pass against the embedded server with `faults`, with
/// their verdicts, in declaration order; and how many checks ran. One check at a time: under a
/// fault a check can change what a concurrent one sees, and which checks a fault fails is judged
/// as the kill matrix judges it.
pub async fn not_passing_under(
    faults: Vec<p2mls_reference_server::faults::Fault>,
    only: &str,
) -> (Vec<(String, p2mls::check::Verdict)>, usize) {
    let args = RunArgs {
        only: vec![only.into()],
        embedded_faults: faults,
        jobs: 1,
        ..Default::default()
    };
    let (report, _) = certify(args).await;
    let found = report
        .checks
        .iter()
        .filter(|c| c.verdict != p2mls::check::Verdict::Pass)
        .map(|c| (c.def.id.clone(), c.verdict))
        .collect();
    (found, report.checks.len())
}

/// A target config `target.toml` in `dir`: `extra` lines, then reference-mode actors registered
/// with `secret`.
pub fn reference_target_config(dir: &Path, secret: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("config dir");
    let path = dir.join("target.toml");
    std::fs::write(
        &path,
        format!("{extra}\n[actors]\nmode = \"reference\"\nregistration_secret = \"{secret}\"\n"),
    )
    .expect("target.toml");
    path
}
