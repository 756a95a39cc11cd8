//! Which kind of vector file a file is, told by its content: every entry of an RFC 9420 vector
//! file is an object with the fields of its kind (`tree-math.json`: `n_leaves`, `n_nodes`,
//! `root`, ...; `crypto-basics.json`: `ref_hash`, `expand_with_label`, ...), declared by each
//! kind as [`crate::VectorFile::FIELDS`]. So a renamed copy, or a file in a checkout of the
//! mlswg test-vectors repository, is verified like the original.
//!
//! A file is of a kind when some of its entries are of that kind and none of another; entries of
//! no kind (a broken entry) are then verified as that kind, so their errors name the missing
//! field. Only when no entry tells does the file name decide (an official name: a file whose
//! every entry is broken still gives per-entry errors). Anything else is unsupported, with the
//! reason, never skipped.

use crate::Error;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::{FileKind, FILES};

/// What a file is.
#[derive(Debug)]
pub enum Recognition {
    /// A known kind, with the file's entries.
    Kind(FileKind, Vec<Value>),
    /// It could not be read (I/O), or it is named like a known kind but is no JSON array.
    Unreadable(Error),
    /// No known kind: why.
    Unsupported(String),
}

/// The kind whose upstream file name `name` (a path) ends in, e.g. `x/crypto-basics.json`.
pub fn kind_named(name: &str) -> Option<FileKind> {
    let base = name.rsplit('/').next().unwrap_or(name);
    FILES.iter().copied().find(|k| k.file == base)
}

/// Recognises the file `name` from what reading it gave.
pub fn recognise(name: &str, read: Result<Vec<Value>, Error>) -> Recognition {
    let entries = match read {
        Ok(entries) => entries,
        Err(e @ Error::Io { .. }) => return Recognition::Unreadable(e),
        Err(e) if kind_named(name).is_some() => return Recognition::Unreadable(e),
        Err(e) => return Recognition::Unsupported(format!("not a vector file: {}", detail(&e))),
    };
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for entry in &entries {
        // No two kinds recognise one entry (a unit test keeps it so): the first is the one.
        if let Some(at) = FILES.iter().position(|k| k.recognises(entry)) {
            *counts.entry(at).or_default() += 1;
        }
    }
    let by_name = kind_named(name);
    match counts.len() {
        1 => {
            let at = counts.keys().next().copied().unwrap_or_default();
            Recognition::Kind(FILES[at], entries)
        }
        0 => match by_name {
            Some(kind) => Recognition::Kind(kind, entries),
            None => Recognition::Unsupported(unrecognised(&entries)),
        },
        _ => match by_name.filter(|k| counts.keys().any(|at| FILES[*at] == *k)) {
            Some(kind) => Recognition::Kind(kind, entries),
            None => Recognition::Unsupported(format!(
                "entries of several kinds: {}",
                counts
                    .iter()
                    .map(|(at, n)| format!("{} ({n})", FILES[*at].file))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

/// A load error without the file name it starts with (the report names the file).
fn detail(e: &Error) -> String {
    match e {
        Error::Io { message, .. } | Error::Json { message, .. } => message.clone(),
        Error::NotAnArray { found, .. } => {
            format!("a JSON array of entries was expected, found {found}")
        }
        _ => e.to_string(),
    }
}

/// Why entries that no kind recognises are of no kind: what the first entry has, and the kind
/// it comes closest to.
fn unrecognised(entries: &[Value]) -> String {
    let Some(first) = entries.first() else {
        return "an empty array: no entry tells its kind".to_owned();
    };
    let Some(map) = first.as_object() else {
        return "entries are not JSON objects".to_owned();
    };
    let closest = FILES
        .iter()
        .map(|k| {
            let missing: Vec<&str> = k
                .fields
                .iter()
                .copied()
                .filter(|f| !map.contains_key(*f))
                .collect();
            (k.fields.len() - missing.len(), k, missing)
        })
        .filter(|(shared, _, _)| *shared > 0)
        .max_by_key(|(shared, _, _)| *shared);
    let mut fields: Vec<&str> = map.keys().map(String::as_str).collect();
    if fields.len() > 8 {
        fields.truncate(8);
        fields.push("...");
    }
    let mut reason = format!(
        "no known kind of vector file has entries with fields {{{}}}",
        fields.join(", ")
    );
    if let Some((_, kind, missing)) = closest {
        let what = if missing.is_empty() {
            // All fields present, yet not of the kind: the kind's own distinction failed.
            "its other distinctions do not hold".to_owned()
        } else {
            format!("lacks {}", missing.join(", "))
        };
        reason.push_str(&format!(" (closest: {}, {what})", kind.file));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An entry with exactly the fields of `kind`.
    fn own_entry(kind: &FileKind) -> Value {
        let mut entry: serde_json::Map<String, Value> = kind
            .fields
            .iter()
            .map(|f| ((*f).to_owned(), Value::Null))
            .collect();
        if entry.contains_key("epochs") {
            // The passive-client kinds share their fields: without epochs, or with some.
            let epochs = if kind.file == "passive-client-welcome.json" {
                json!([])
            } else {
                json!([{}])
            };
            entry.insert("epochs".into(), epochs);
        }
        Value::Object(entry)
    }

    #[test]
    fn each_kind_and_only_it_recognises_its_own_fields() {
        for kind in FILES {
            let entry = own_entry(kind);
            let recognised: Vec<&str> = FILES
                .iter()
                .filter(|k| k.recognises(&entry))
                .map(|k| k.file)
                .collect();
            assert_eq!(recognised, [kind.file]);
        }
    }

    #[test]
    fn content_decides_over_the_name() {
        let entry = json!({"vlbytes_header": "00", "length": 0});
        match recognise(
            "welcome.json",
            Ok(vec![entry.clone(), json!({"broken": 1})]),
        ) {
            Recognition::Kind(kind, entries) => {
                assert_eq!(kind.file, "deserialization.json");
                assert_eq!(entries.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_name_decides_only_when_no_entry_tells() {
        match recognise("sub/tree-math.json", Ok(vec![json!({"n_leaves": 1})])) {
            Recognition::Kind(kind, _) => assert_eq!(kind.file, "tree-math.json"),
            other => panic!("{other:?}"),
        }
        match recognise("x.json", Ok(vec![json!({"n_leaves": 1, "n_nodes": 1})])) {
            Recognition::Unsupported(why) => assert!(
                why.contains("{n_leaves, n_nodes}")
                    && why.contains("closest: tree-math.json, lacks root, left, right"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_that_are_no_vector_files_say_why() {
        let reason = |read| match recognise("x.json", read) {
            Recognition::Unsupported(why) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(Ok(Vec::new())),
            "an empty array: no entry tells its kind"
        );
        assert_eq!(
            reason(crate::load::parse_entries("x.json", b"{\"a\": 1}")),
            "not a vector file: a JSON array of entries was expected, found an object"
        );
        assert!(
            reason(crate::load::parse_entries("x.json", b"{")).starts_with("not a vector file: ")
        );
        let mixed = Ok(vec![
            json!({"vlbytes_header": "00", "length": 0}),
            json!({"cipher_suite": 1, "psks": [], "psk_secret": "00"}),
        ]);
        assert_eq!(
            reason(mixed),
            "entries of several kinds: psk_secret.json (1), deserialization.json (1)"
        );
        // Named like a known kind, a file that is no JSON array is an error, as before.
        assert!(matches!(
            recognise(
                "welcome.json",
                crate::load::parse_entries("welcome.json", b"{}")
            ),
            Recognition::Unreadable(Error::NotAnArray { .. })
        ));
    }
}
