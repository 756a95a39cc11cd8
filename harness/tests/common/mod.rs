//! Helpers shared by the integration tests (each test file includes what it needs with
//! `mod common;`; not every file uses every helper).
#![allow(dead_code)]

use std::path::PathBuf;

use p2mls::lint::Document;

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
