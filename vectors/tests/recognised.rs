//! Vector files are recognised by their content, not their name: a renamed copy still verifies,
//! a directory is searched recursively (a checkout of the mlswg test-vectors repository), and a
//! JSON file of no known kind is listed as unsupported with the reason, never skipped.
//!
//! The official files are third-party data: they are copied into a temporary directory at test
//! time from `P2MLS_VECTORS_DIR` (the test that needs one says so and returns without it); the
//! other tests use our generated vectors (`vectors/generated/`).

use std::path::{Path, PathBuf};

use p2mls_vectors::{verify_dir, EntryReport, ProviderKind, Selection, Verdict};

/// A fresh temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("p2mls-recognised-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }

    /// Writes `text` to `path` under the directory, creating subdirectories.
    fn write(&self, path: &str, text: &[u8]) {
        let file = self.0.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("subdirectory");
        std::fs::write(file, text).expect("write");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn generated(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("generated")
            .join(file),
    )
    .expect("generated vector file")
}

fn verify(dir: &Path) -> (Vec<EntryReport>, Vec<&'static str>) {
    verify_dir(dir, ProviderKind::RustCrypto, &Selection::default())
}

#[test]
fn a_renamed_official_file_is_recognised_by_its_content() {
    let Some(official) = std::env::var_os("P2MLS_VECTORS_DIR").map(PathBuf::from) else {
        eprintln!("P2MLS_VECTORS_DIR unset: no official file to rename, nothing checked");
        return;
    };
    let original = std::fs::read(official.join("deserialization.json")).expect("official file");
    let dir = TempDir::new("renamed");
    dir.write("my-headers.json", &original);
    let (entries, absent) = verify(&dir.0);
    assert!(!entries.is_empty());
    for e in &entries {
        assert_eq!(e.file, "my-headers.json");
        assert_eq!(e.kind, Some("deserialization.json"));
        assert_eq!(
            e.outcome.verdict,
            Verdict::Pass,
            "{}: {}",
            e.id,
            e.outcome.reason
        );
        assert!(e.id.starts_with("my_headers::entry_"), "{}", e.id);
    }
    assert!(!absent.contains(&"deserialization.json"));
    assert!(absent.contains(&"tree-math.json"));
}

#[test]
fn a_nested_checkout_is_searched_and_unknown_files_are_listed() {
    let dir = TempDir::new("checkout");
    dir.write(
        "test-vectors/sub/my-psks.json",
        &generated("psk_secret.json"),
    );
    dir.write("test-vectors/welcome.json", &generated("welcome.json"));
    dir.write("interop/config.json", br#"{"servers": []}"#);
    dir.write("other.json", br#"[{"foo": 1}]"#);
    dir.write("README.md", b"not JSON, not reported");
    dir.write(".git/objects.json", b"[]");
    let (entries, absent) = verify(&dir.0);

    let psk: Vec<&EntryReport> = entries
        .iter()
        .filter(|e| e.file == "test-vectors/sub/my-psks.json")
        .collect();
    assert_eq!(psk.len(), 3);
    assert!(psk.iter().all(|e| e.kind == Some("psk_secret.json")
        && e.outcome.verdict == Verdict::Pass
        && e.id.starts_with("test_vectors::sub::my_psks::suite_")));
    assert!(entries
        .iter()
        .any(|e| e.file == "test-vectors/welcome.json" && e.outcome.verdict == Verdict::Pass));

    let unsupported = |file: &str| {
        let e = entries
            .iter()
            .find(|e| e.file == file)
            .unwrap_or_else(|| panic!("{file} is not reported"));
        assert_eq!(e.outcome.verdict, Verdict::Unsupported, "{file}");
        assert_eq!(e.kind, None);
        e.outcome.reason.clone()
    };
    assert!(unsupported("interop/config.json").contains("found an object"));
    assert!(unsupported("other.json").contains("fields {foo}"));
    // Known kinds first (in the order of test-vectors.md), then the files of no known kind.
    let files: Vec<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    let mut order = files.clone();
    order.dedup();
    assert_eq!(
        order,
        [
            "test-vectors/sub/my-psks.json",
            "test-vectors/welcome.json",
            "interop/config.json",
            "other.json"
        ]
    );
    assert!(!files
        .iter()
        .any(|f| f.ends_with(".md") || f.starts_with(".git")));
    assert!(!absent.contains(&"psk_secret.json") && absent.contains(&"treekem.json"));
}

#[test]
fn a_file_named_like_a_kind_but_unreadable_stays_an_error() {
    let dir = TempDir::new("broken");
    dir.write("treekem.json", b"{ not json");
    let (entries, absent) = verify(&dir.0);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].outcome.verdict, Verdict::Error);
    assert_eq!(entries[0].kind, Some("treekem.json"));
    assert!(!absent.contains(&"treekem.json"));
}

#[test]
fn every_official_file_is_recognised_as_its_kind_by_content_alone() {
    let Some(official) = std::env::var_os("P2MLS_VECTORS_DIR").map(PathBuf::from) else {
        eprintln!("P2MLS_VECTORS_DIR unset: no official file to recognise, nothing checked");
        return;
    };
    for kind in p2mls_vectors::FILES {
        let entries = p2mls_vectors::load::read_entries(&official, kind.file).expect("official");
        // Under a name that says nothing, every entry tells the kind.
        assert!(
            entries.iter().all(|e| kind.recognises(e)),
            "{}: an entry is not recognised",
            kind.file
        );
        match p2mls_vectors::recognise::recognise("renamed.json", Ok(entries)) {
            p2mls_vectors::recognise::Recognition::Kind(found, _) => {
                assert_eq!(found.file, kind.file)
            }
            other => panic!("{}: {other:?}", kind.file),
        }
    }
}
