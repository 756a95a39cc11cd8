//! Snapshot-verified lint and diff reports of the published documents in `../shared` (read from
//! there, never copied into the repository). The reports are ours and live in `reports/lint/`:
//!
//! - `published.md` and `published.sarif`: `p2mls lint` over the six published documents with
//!   the polyproto-mls and polyproto-core spec texts;
//! - `mls-alpha.2-to-alpha.4.diff.txt`: `p2mls diff` between the 3.1.0 forms of polyproto.mls
//!   v0.1.0-alpha.2 and v0.1.0-alpha.4.
//!
//! A changed output fails. To accept a change, run outside CI with `P2MLS_BLESS=1` and review
//! the diff of `reports/lint/` before committing:
//!
//! ```sh
//! P2MLS_SHARED=../shared P2MLS_BLESS=1 cargo test -p p2mls --test lint_reports -- --ignored
//! ```
//!
//! With `CI=true` blessing is refused, so CI can only compare.

mod common;

use std::path::Path;

use p2mls::diff::{self, Impact, Kind};
use p2mls::lint::{self, output, Document, Options, SpecText};

use common::{compare_with_committed as compare, lint_reports as reports, published, shared};

fn texts() -> Vec<SpecText> {
    ["spec-text/polyproto-mls.md", "spec-text/polyproto-core.md"]
        .iter()
        .map(|n| SpecText::load(&shared().join(n), n).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn lint_reports_of_the_published_documents_match_the_snapshots() {
    let docs = published();
    assert_eq!(docs.len(), 6, "expected the six published documents");
    let report = lint::lint(
        &docs,
        &Options {
            spec_texts: texts(),
        },
        None,
    );
    // The defects of PROFILE.md's "Spec findings" are found where they are.
    let has = |rule: &str, doc: &str| {
        report
            .findings
            .iter()
            .any(|f| f.rule == rule && f.document.ends_with(doc))
    };
    let alpha4 = "3.1.0/polyproto.mls-v0.1.0-alpha.4.yaml";
    for rule in [
        "P2L-HTTP-001", // status codes as text/plain body values
        "P2L-HTTP-002", // no 401
        "P2L-PP-001",   // v0.1.0-alpha.4 vs text v1.0-alpha.2
        "P2L-PP-003",   // identifier strings undefined
        "P2L-PP-004",   // int32 epochs
        "P2L-PP-005",   // no MLS wire message
        "P2L-HTTP-008", // discoverKeyPackages has no 404
        "P2L-STRUCT-007",
    ] {
        assert!(has(rule, alpha4), "{rule} not reported for {alpha4}");
    }
    // The 3.0.0 and 3.1.0 forms agree.
    assert!(!report.findings.iter().any(|f| f.rule == "P2L-PAR-001"));
    compare("published.md", &output::markdown(&report));
    let sarif = serde_json::to_string_pretty(&output::sarif(&report)).expect("json") + "\n";
    compare("published.sarif", &sarif);
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn diff_of_mls_alpha2_and_alpha4_matches_the_snapshot() {
    let load = |v: &str| {
        let name = format!("openapi-upstream/3.1.0/polyproto.mls-v0.1.0-{v}.yaml");
        Document::load(&shared().join(&name), &name).unwrap_or_else(|e| panic!("{e}"))
    };
    let report = diff::diff(&load("alpha.2"), &load("alpha.4"));
    let find = |kind: Kind, location: &str| {
        report
            .changes
            .iter()
            .find(|c| c.kind == kind && c.subject == "operation" && c.location == location)
            .unwrap_or_else(|| panic!("no {kind:?} operation {location}"))
    };
    let member = "/.p2/mls/v1/groups/{groupId}/members/{memberId}";
    for method in ["PUT", "DELETE"] {
        let c = find(Kind::Removed, &format!("{method} {member}"));
        assert_eq!(
            (c.clients, c.servers),
            (Impact::Breaking, Impact::NonBreaking)
        );
    }
    for route in [
        "POST /.p2/mls/v1/keypackages",
        "GET /.p2/mls/v1/keypackages/{fid}",
    ] {
        let c = find(Kind::Added, route);
        assert_eq!(
            (c.clients, c.servers),
            (Impact::NonBreaking, Impact::Breaking)
        );
    }
    compare("mls-alpha.2-to-alpha.4.diff.txt", &diff::text(&report));
}

/// The snapshots never name a machine path.
#[test]
fn snapshots_are_machine_independent() {
    for name in [
        "published.md",
        "published.sarif",
        "mls-alpha.2-to-alpha.4.diff.txt",
    ] {
        let path: &Path = &reports().join(name);
        let text = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            !text.contains("/work/") && !text.contains("/tmp/"),
            "{name}"
        );
    }
}
