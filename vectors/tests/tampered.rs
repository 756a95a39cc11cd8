//! The verifiers can fail: every value of our generated `0xF110` vectors is tampered with, one
//! at a time, and the entry must then no longer pass. A hex field gets one bit flipped (in its
//! first, middle and last byte, since encoded structures such as trees and UpdatePaths hide
//! different fields at different offsets); a number is incremented. A tampered entry that
//! still passes is a survivor: a field the verifier does not actually check.
//!
//! Uses only the committed files under `vectors/generated/`, so it runs on any machine.

use std::path::Path;

use p2mls_vectors::{file_kind, load, ProviderKind, Verdict};
use serde_json::Value;

/// A JSON path and the tampered entry.
type Mutant = (String, Value);

/// How many leading bytes of a hex field are inputs, where not all are: the sender-data key
/// and nonce depend only on `ciphertext_sample`, the first KDF.Nh bytes (RFC 9420 §6.3.2).
fn input_prefix(file: &str, pointer: &str) -> Option<usize> {
    (file == "secret-tree.json" && pointer.ends_with("/sender_data/ciphertext")).then_some(32)
}

/// Every single-value mutation of `value`, an entry of `file`.
fn mutants(file: &str, value: &Value) -> Vec<Mutant> {
    let mut leaves = Vec::new();
    collect_leaves(value, String::new(), &mut leaves);
    let mut out = Vec::new();
    for (pointer, leaf) in leaves {
        let replacements: Vec<(String, Value)> = match leaf {
            Value::String(s) if is_hex(s) => {
                let bytes = hex::decode(s).expect("checked hex");
                let len = input_prefix(file, &pointer).map_or(bytes.len(), |n| n.min(bytes.len()));
                let mut offsets = vec![0, len / 2, len - 1];
                offsets.dedup();
                offsets
                    .into_iter()
                    .map(|at| {
                        let mut b = bytes.clone();
                        b[at] ^= 0x01;
                        (
                            format!("{pointer} (byte {at})"),
                            Value::String(hex::encode(b)),
                        )
                    })
                    .collect()
            }
            Value::Number(n) => n
                .as_u64()
                .map(|v| vec![(pointer.clone(), Value::from(v.wrapping_add(1)))])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for (name, replacement) in replacements {
            let mut m = value.clone();
            *m.pointer_mut(&pointer).expect("collected pointer exists") = replacement;
            out.push((name, m));
        }
    }
    out
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every leaf value with its JSON pointer.
fn collect_leaves<'a>(value: &'a Value, pointer: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                collect_leaves(v, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        leaf => out.push((pointer, leaf)),
    }
}

#[test]
fn every_tampered_value_of_the_generated_vectors_is_caught() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("vectors/generated exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut survivors = Vec::new();
    let mut tried = 0;
    for name in &names {
        let kind = file_kind(name).unwrap_or_else(|| panic!("{name}: unknown vector file"));
        let entries = load::read_entries(&dir, name).expect("committed files load");
        for (index, entry) in entries.iter().enumerate() {
            let baseline = kind.run(ProviderKind::RustCrypto, index, entry);
            assert_eq!(
                baseline.verdict,
                Verdict::Pass,
                "{name}[{index}]: {baseline:?}"
            );
            for (path, mutant) in mutants(name, entry) {
                tried += 1;
                let outcome = kind.run(ProviderKind::RustCrypto, index, &mutant);
                if outcome.verdict == Verdict::Pass {
                    survivors.push(format!("{name}[{index}]{path}"));
                }
            }
        }
    }
    assert!(tried > 500, "only {tried} mutants: the walk lost fields");
    assert!(
        survivors.is_empty(),
        "{} of {tried} tampered values still pass:\n{}",
        survivors.len(),
        survivors.join("\n")
    );
}
