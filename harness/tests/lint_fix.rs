//! `p2mls lint --fix` round trip on the published documents in `../shared` (read from there,
//! never copied into the repository): for each document, fix, then lint again. Every repairable
//! finding is gone, nothing new appears, the document still parses as OpenAPI of its version,
//! the 3.0 and 3.1 forms get the same repairs, `p2mls diff` sees every single repair, and the
//! documents converted to JSON get the same repairs with the same result.
//!
//! The repairs of polyproto.mls alpha.4 and polyproto.core beta.3 (3.1.0 forms), as
//! `--fix-dry-run` prints them, are snapshots in `reports/lint/`; bless like `lint_reports`:
//!
//! ```sh
//! P2MLS_SHARED=../shared P2MLS_BLESS=1 cargo test -p p2mls --test lint_fix -- --ignored
//! ```

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use p2mls::diff;
use p2mls::lint::{self, fix, Document, Finding, Options};

use common::{compare_with_committed as compare, lint_reports as reports, published};

fn findings(doc: &Document) -> Vec<Finding> {
    lint::lint(std::slice::from_ref(doc), &Options::default(), None).findings
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn fix_then_lint_round_trip_of_the_published_documents() {
    let docs = published();
    assert_eq!(docs.len(), 6, "expected the six published documents");
    let mut fixed_docs = Vec::new();
    let mut repairs_by_doc = Vec::new();
    for doc in &docs {
        let before = findings(doc);
        let fixed = fix::fix(doc);
        assert!(
            fixed.skipped.is_empty(),
            "{}: skipped {:#?}",
            doc.name,
            fixed.skipped
        );
        assert!(!fixed.applied.is_empty(), "{}: nothing repaired", doc.name);
        // Still OpenAPI of its version.
        let after_doc = Document::parse(&fixed.text, &doc.name)
            .unwrap_or_else(|e| panic!("{}: the repaired document does not parse: {e}", doc.name));
        assert_eq!(after_doc.openapi, doc.openapi);
        if doc.openapi.starts_with("3.0.") {
            serde_yaml_ng::from_str::<openapiv3::OpenAPI>(&fixed.text)
                .unwrap_or_else(|e| panic!("{}: not a typed OpenAPI 3.0 document: {e}", doc.name));
        }
        let after = findings(&after_doc);
        for rule in ["P2L-STRUCT-001", "P2L-STRUCT-002", "P2L-STRUCT-009"] {
            assert!(
                !after.iter().any(|f| f.rule == rule),
                "{}: {rule} after the fix",
                doc.name
            );
        }
        // Every repairable finding is gone ...
        let left: Vec<&Finding> = after
            .iter()
            .filter(|f| fix::REPAIRABLE.contains(&f.rule))
            .collect();
        assert!(left.is_empty(), "{}: still {left:#?}", doc.name);
        // ... and nothing new appeared.
        let key = |f: &Finding| (f.rule, f.message.clone());
        let old: HashSet<_> = before.iter().map(key).collect();
        let new: Vec<&Finding> = after.iter().filter(|f| !old.contains(&key(f))).collect();
        assert!(new.is_empty(), "{}: new findings {new:#?}", doc.name);
        assert!(after.len() < before.len());
        // `p2mls diff` sees each repair on its own, and classifies it for both sides.
        for r in &fixed.applied {
            let one = fix::apply_repairs(doc, std::slice::from_ref(r))
                .unwrap_or_else(|e| panic!("{}: {} alone: {e}", doc.name, r.rule));
            let one = Document::parse(&one, &doc.name).expect("parses");
            let changes = diff::diff(doc, &one).changes;
            assert!(
                !changes.is_empty(),
                "{}: diff sees nothing of {} at {} ({})",
                doc.name,
                r.rule,
                r.pointer,
                r.summary
            );
        }
        repairs_by_doc.push(
            fixed
                .applied
                .iter()
                .map(|r| (r.rule, r.summary.clone()))
                .collect::<Vec<_>>(),
        );
        fixed_docs.push(after_doc);
    }
    // The same documents as pretty JSON get the same repairs, in JSON.
    for (doc, yaml_repairs) in docs.iter().zip(&repairs_by_doc) {
        let name = doc.name.replace(".yaml", ".json");
        let text = serde_json::to_string_pretty(&doc.value).expect("json") + "\n";
        let json_doc = Document::parse(&text, &name).expect("parses");
        let fixed = fix::fix(&json_doc);
        assert!(
            fixed.skipped.is_empty(),
            "{name}: skipped {:#?}",
            fixed.skipped
        );
        let repairs: Vec<_> = fixed
            .applied
            .iter()
            .map(|r| (r.rule, r.summary.clone()))
            .collect();
        assert_eq!(&repairs, yaml_repairs, "{name}");
        let value: serde_json::Value = serde_json::from_str(&fixed.text)
            .unwrap_or_else(|e| panic!("{name}: not JSON after the fix: {e}"));
        let yaml_fixed: serde_json::Value =
            serde_yaml_ng::from_str(&fix::fix(doc).text).expect("yaml");
        assert_eq!(
            value, yaml_fixed,
            "{name}: the JSON and YAML repairs differ"
        );
    }
    // The 3.0 and 3.1 forms of one document get the same repairs and stay alike.
    for i in 0..3 {
        assert_eq!(
            repairs_by_doc[i],
            repairs_by_doc[i + 3],
            "{} and {}",
            docs[i].name,
            docs[i + 3].name
        );
    }
    let report = lint::lint(&fixed_docs, &Options::default(), None);
    assert!(
        !report.findings.iter().any(|f| f.rule == "P2L-PAR-001"),
        "the repaired 3.0 and 3.1 forms differ"
    );
    // The repairs as `--fix-dry-run` prints them.
    for (doc, snapshot) in [
        (&docs[5], "fix-mls-alpha.4.diff"),
        (&docs[3], "fix-core-beta.3.diff"),
    ] {
        let fixed = fix::fix(doc);
        let output =
            fix::summary(&doc.name, &fixed) + &fix::unified_diff(&doc.name, &doc.text, &fixed.text);
        compare(snapshot, &output);
    }
}

/// The snapshots never name a machine path.
#[test]
fn fix_snapshots_are_machine_independent() {
    for name in ["fix-mls-alpha.4.diff", "fix-core-beta.3.diff"] {
        let text = std::fs::read_to_string(reports().join(name)).expect("snapshot");
        assert!(
            !text.contains("/work/") && !text.contains("/tmp/"),
            "{name}"
        );
    }
}

/// The README's example of a fix is cut from the snapshot the round trip compares: its summary
/// lines and its hunk appear there as they are.
#[test]
fn the_readme_fix_example_comes_from_the_snapshot() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README");
    let snapshot =
        std::fs::read_to_string(reports().join("fix-mls-alpha.4.diff")).expect("snapshot");
    let block = readme
        .split("```diff\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```diff block in the README");
    let (summary, hunk) = block.split_once("@@").expect("summary lines, then a hunk");
    assert!(summary.lines().count() >= 1 && hunk.lines().count() > 5);
    for line in summary.lines() {
        assert!(
            snapshot.contains(&format!("{line}\n")),
            "not in the snapshot: {line}"
        );
    }
    assert!(
        snapshot.contains(&format!("@@{hunk}")),
        "the hunk is not in the snapshot"
    );
}
