//! Checks against the third-party material in `../shared` (never copied into the repository).
//! They need `P2MLS_SHARED` pointing at that directory; `.ci/run` sets it and runs them with
//! `--ignored`. Without the variable they fail loudly instead of passing silently.

use std::path::PathBuf;

use p2mls::spec::{resolve, ApiSpec};
use serde_json::Value;

fn shared() -> PathBuf {
    let dir = std::env::var("P2MLS_SHARED")
        .expect("set P2MLS_SHARED to the shared/ directory (see .ci/run)");
    PathBuf::from(dir)
}

fn load(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Maps whose keys are names (not keywords): text keywords inside them are names and stay.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "paths",
    "responses",
    "content",
    "schemas",
    "securitySchemes",
    "variables",
    "headers",
    "examples",
    "links",
    "callbacks",
    "$defs",
];

/// Removes human-readable text (`description`, `summary`, `title`) where it is a keyword.
fn strip_text(value: &Value, parent_is_name_map: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| {
                    parent_is_name_map
                        || !(matches!(k.as_str(), "description" | "summary" | "title")
                            && v.is_string())
                })
                .map(|(k, v)| (k.clone(), strip_text(v, NAME_MAPS.contains(&k.as_str()))))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| strip_text(v, false)).collect()),
        other => other.clone(),
    }
}

fn structure(doc: &Value) -> Value {
    let resolved = resolve(doc, doc, 0).expect("refs resolve");
    strip_text(&resolved, false)
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn our_documents_are_structurally_equal_to_the_published_ones() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (ours, theirs) in [
        (
            "polyproto-mls-v0.1.0-alpha.4.openapi-3.1.yaml",
            "3.1.0/polyproto.mls-v0.1.0-alpha.4.yaml",
        ),
        (
            "polyproto-mls-v0.1.0-alpha.4.openapi-3.0.yaml",
            "3.0.0/polyproto.mls-v0.1.0-alpha.4.yaml",
        ),
    ] {
        let ours_doc = load(&PathBuf::from(root).join("../specs/openapi").join(ours));
        let theirs_doc = load(&shared().join("openapi-upstream").join(theirs));
        assert_eq!(
            structure(&ours_doc),
            structure(&theirs_doc),
            "{ours} differs from {theirs}"
        );
        // The text must be ours: no description may be copied verbatim.
        let ours_text = serde_json::to_string(&ours_doc).expect("json");
        for desc in [
            "Create a new MLS group",
            "Get information about an MLS group",
        ] {
            assert!(!ours_text.contains(desc), "{ours} copies `{desc}`");
        }
    }
}

/// Our core beta.3 document restates the operations a run calls: each of its paths, schemas and
/// security schemes is structurally the published one (text aside), it holds nothing the
/// published one lacks, and none of its text is copied.
#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn our_core_document_is_a_structurally_equal_part_of_the_published_one() {
    let root = env!("CARGO_MANIFEST_DIR");
    let ours = load(
        &PathBuf::from(root).join("../specs/openapi/polyproto-core-v1.0-beta.3.openapi-3.1.yaml"),
    );
    let theirs = load(&shared().join("openapi-upstream/3.1.0/polyproto.core-v1.0-beta.3.yaml"));
    let (ours_s, theirs_s) = (structure(&ours), structure(&theirs));
    for key in ["openapi", "servers"] {
        assert_eq!(ours_s[key], theirs_s[key], "{key} differs");
    }
    assert_eq!(ours["info"]["version"], theirs["info"]["version"]);
    let paths = ours_s["paths"].as_object().expect("our paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        assert_eq!(
            item, &theirs_s["paths"][path],
            "{path} differs from the published document (or is not in it)"
        );
    }
    for group in ["schemas", "securitySchemes"] {
        for (name, value) in ours_s["components"][group].as_object().expect("components") {
            assert_eq!(
                value, &theirs_s["components"][group][name],
                "components.{group}.{name} differs"
            );
        }
    }
    for tag in ours["tags"].as_array().expect("tags") {
        assert!(
            theirs["tags"].as_array().expect("tags").contains(tag),
            "tag {tag} is not the published document's"
        );
    }
    let mut theirs_text = Vec::new();
    texts(&theirs, &mut theirs_text);
    let mut ours_text = Vec::new();
    texts(&ours, &mut ours_text);
    for text in ours_text {
        assert!(!theirs_text.contains(&text), "copied text: `{text}`");
    }
}

/// Every `description`, `summary` and `title` string of a document.
fn texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text)
                        if matches!(key.as_str(), "description" | "summary" | "title") =>
                    {
                        out.push(text.clone())
                    }
                    other => texts(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
        _ => {}
    }
}

/// docs/TARGET.md says, for every operation of core beta.3, whether a run calls it or why an MLS
/// home server need not serve it: each operationId of the published document is named there, and
/// the file names none the document lacks.
#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn target_md_accounts_for_every_core_operation() {
    let doc = load(&shared().join("openapi-upstream/3.1.0/polyproto.core-v1.0-beta.3.yaml"));
    let target = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/TARGET.md"),
    )
    .expect("docs/TARGET.md");
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            if let Some(id) = op["operationId"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    assert_eq!(ids.len(), 35, "core beta.3 has 35 operations");
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !target.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/TARGET.md does not account for {missing:?}"
    );
    // Names in backticks that look like operation ids must be the document's.
    let named: Vec<&str> = target
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            [
                "Registered_",
                "Unregistered_",
                "ResourceAddressingWithRelativeRoots_",
            ]
            .iter()
            .any(|p| w.starts_with(p))
        })
        .collect();
    let unknown: Vec<&&str> = named
        .iter()
        .filter(|w| !ids.iter().any(|id| id == *w))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/TARGET.md names operations core beta.3 lacks: {unknown:?}"
    );
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn every_published_document_loads() {
    for version in ["3.0.0", "3.1.0"] {
        let dir = shared().join("openapi-upstream").join(version);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                ApiSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
        assert_eq!(
            count, 3,
            "{version}: expected the three published documents"
        );
    }
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn the_published_alpha4_document_certifies_the_reference_server() {
    let spec = shared().join("openapi-upstream/3.0.0/polyproto.mls-v0.1.0-alpha.4.yaml");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let output = runtime
        .block_on(p2mls::run(&p2mls::RunArgs {
            spec: Some(spec),
            ..Default::default()
        }))
        .expect("runs");
    assert_eq!(
        output.exit_code(),
        0,
        "the 3.0.0 document judges the reference server differently"
    );
}

#[test]
#[ignore = "needs ../shared: run by .ci/run with P2MLS_SHARED set"]
fn the_engine_self_check_passes_and_catches_a_wrong_vector() {
    let official = shared().join("vectors/rfc9420");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let run = |dir: PathBuf| {
        runtime.block_on(p2mls::run(&p2mls::RunArgs {
            vectors: Some(dir),
            only: vec!["engine.*".into()],
            ..Default::default()
        }))
    };
    let verdicts = |output: p2mls::RunOutput| match output {
        p2mls::RunOutput::Certified(report) => report
            .checks
            .iter()
            .map(|c| (c.def.id.clone(), c.verdict))
            .collect::<Vec<_>>(),
        p2mls::RunOutput::Listed(_) => panic!("expected a report"),
    };
    let good = verdicts(run(official.clone()).expect("runs"));
    assert!(
        good.iter().all(|(_, v)| *v == p2mls::check::Verdict::Pass),
        "{good:?}"
    );
    // A copy (outside the repository) whose first expected ref_hash is wrong: the harness must
    // distrust its engine for 0x0001, as an error of its own, not a target failure.
    let dir = std::env::temp_dir().join(format!("p2mls-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(official.join("crypto-basics.json")).expect("read"),
    )
    .expect("json");
    let out = &mut vectors[0]["ref_hash"]["out"];
    let flipped = out
        .as_str()
        .expect("hex")
        .replacen(|c: char| c.is_ascii_hexdigit(), "0", 1);
    let flipped = if flipped == out.as_str().unwrap_or_default() {
        flipped.replacen('0', "1", 1)
    } else {
        flipped
    };
    *out = Value::String(flipped);
    std::fs::write(dir.join("crypto-basics.json"), vectors.to_string()).expect("write");
    let bad = verdicts(run(dir.clone()).expect("runs"));
    assert!(
        bad.contains(&(
            "engine.0x0001.vectors".to_owned(),
            p2mls::check::Verdict::Error
        )),
        "{bad:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
