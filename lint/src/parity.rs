//! Variant parity: the 3.0 and 3.1 forms of one API version must say the same thing.
//!
//! Both forms are brought to one canonical form, then compared. The canonical form undoes the
//! differences that the dialects force: `format: byte` / `contentEncoding: base64`, `type: string,
//! format: binary` / `contentMediaType`, a schema's `example` / `examples: [..]`, `nullable: true` /
//! a `null` type, boolean / numeric `exclusiveMinimum`/`exclusiveMaximum`, and the `openapi` field.
//! What remains is a real difference, reported at its place in the 3.1 form.
//!
//! Pairs: two documents whose file names are equal once the OpenAPI version is removed from them
//! (`3.0.0/x.yaml` and `3.1.0/x.yaml`, `x.openapi-3.0.yaml` and `x.openapi-3.1.yaml`); failing
//! that, a 3.0 and a 3.1 document with the same `info.title` and `info.version`.

use serde_json::{json, Map, Value};

use super::source::{child, Document};
use super::{Finding, Rule, Severity};
use p2mls_openapi::Dialect;

pub const VARIANT_PARITY: Rule = Rule {
    id: "P2L-PAR-001",
    name: "variant-parity",
    severity: Severity::Error,
    summary: "The 3.0.x and 3.1.x forms of one API version differ beyond what the dialects force.",
    rationale: "polyproto publishes each API version in both forms and implementers pick either: \
                a difference means two implementations of the same version disagree.",
};

/// At most this many differences are reported per pair (the rest are counted in the last).
const MAX_DIFFERENCES: usize = 50;

pub fn check(docs: &[Document], out: &mut Vec<Finding>) {
    for (old, new) in pairs(docs) {
        compare(old, new, out);
    }
}

/// The file name of `name` with the OpenAPI version taken out.
fn pairing_key(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut key = file.to_owned();
    for token in [
        "openapi-3.0.0",
        "openapi-3.1.0",
        "openapi-3.0",
        "openapi-3.1",
        "3.0.0",
        "3.1.0",
        "oas30",
        "oas31",
    ] {
        key = key.replace(token, "");
    }
    key
}

/// Whether two documents are forms of one version.
type Matcher = dyn Fn(&Document, &Document) -> bool;

/// (3.0 form, 3.1 form) pairs among `docs`, each document in at most one pair.
pub fn pairs(docs: &[Document]) -> Vec<(&Document, &Document)> {
    let mut out = Vec::new();
    let mut used = vec![false; docs.len()];
    let by: [&Matcher; 2] = [
        &|a, b| pairing_key(&a.name) == pairing_key(&b.name),
        &|a, b| a.title() == b.title() && a.version() == b.version() && a.version().is_some(),
    ];
    for same in by {
        for i in 0..docs.len() {
            for j in 0..docs.len() {
                let (a, b) = (&docs[i], &docs[j]);
                if used[i] || used[j] || a.dialect != Dialect::Oas30 || b.dialect != Dialect::Oas31
                {
                    continue;
                }
                if same(a, b) {
                    used[i] = true;
                    used[j] = true;
                    out.push((a, b));
                }
            }
        }
    }
    out
}

fn compare(old: &Document, new: &Document, out: &mut Vec<Finding>) {
    let a = canonical_doc(&old.value, Dialect::Oas30);
    let b = canonical_doc(&new.value, Dialect::Oas31);
    let mut diffs = Vec::new();
    differences("", &a, &b, &mut diffs);
    let total = diffs.len();
    for (i, (pointer, what)) in diffs.into_iter().enumerate() {
        if i == MAX_DIFFERENCES {
            out.push(Finding::at(
                &VARIANT_PARITY,
                new,
                "",
                format!("… and {} more differences from {}", total - i, old.name),
            ));
            break;
        }
        let line = old.locate(&pointer).line;
        out.push(Finding::at(
            &VARIANT_PARITY,
            new,
            &pointer,
            format!("{what} (3.0 form: {}:{line})", old.name),
        ));
    }
}

/// Lists the places where `a` (3.0) and `b` (3.1) differ, outermost first.
fn differences(pointer: &str, a: &Value, b: &Value, out: &mut Vec<(String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let here = child(pointer, k);
                match y.get(k) {
                    Some(w) => differences(&here, v, w, out),
                    None => out.push((here, format!("`{k}` is only in the 3.0 form"))),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push((child(pointer, k), format!("`{k}` is only in the 3.1 form")));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                differences(&format!("{pointer}/{i}"), v, w, out);
            }
        }
        _ if a == b => {}
        _ => out.push((
            pointer.to_owned(),
            format!("3.0 form has {}, 3.1 form has {}", short(a), short(b)),
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// The canonical form of a whole document: schemas canonicalised wherever they are written.
fn canonical_doc(doc: &Value, dialect: Dialect) -> Value {
    fn walk(value: &Value, dialect: Dialect, parent: &str) -> Value {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if parent.is_empty() && k == "openapi" {
                        continue;
                    }
                    let v = if k == "schema" && v.is_object() {
                        canonical_schema(v, dialect)
                    } else if parent == "components" && k == "schemas" {
                        Value::Object(
                            v.as_object()
                                .into_iter()
                                .flatten()
                                .map(|(n, s)| (n.clone(), canonical_schema(s, dialect)))
                                .collect(),
                        )
                    } else {
                        walk(v, dialect, k)
                    };
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| walk(v, dialect, "")).collect())
            }
            other => other.clone(),
        }
    }
    walk(doc, dialect, "")
}

/// Keywords whose values are data, never schemas.
const DATA: &[&str] = &[
    "enum", "const", "default", "example", "examples", "required",
];

/// The canonical form of one schema.
fn canonical_schema(schema: &Value, dialect: Dialect) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let v = if DATA.contains(&k.as_str()) {
            v.clone()
        } else if matches!(
            k.as_str(),
            "properties" | "patternProperties" | "$defs" | "definitions"
        ) {
            Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(n, s)| (n.clone(), canonical_schema(s, dialect)))
                    .collect(),
            )
        } else {
            match v {
                Value::Object(_) => canonical_schema(v, dialect),
                Value::Array(items) => {
                    Value::Array(items.iter().map(|s| canonical_schema(s, dialect)).collect())
                }
                other => other.clone(),
            }
        };
        out.insert(k.clone(), v);
    }
    // Binary content: 3.0 `type: string, format: binary`, 3.1 `contentMediaType`.
    let binary30 = out.get("format") == Some(&json!("binary"));
    let binary31 = out.contains_key("contentMediaType") && !out.contains_key("contentEncoding");
    if binary30 || binary31 {
        out.remove("format");
        out.remove("contentMediaType");
        if out.get("type") == Some(&json!("string")) {
            out.remove("type");
        }
        out.insert("x-p2mls-binary".into(), json!(true));
    }
    // Base64: 3.0 `format: byte`, 3.1 `contentEncoding: base64`.
    if out.get("format") == Some(&json!("byte")) {
        out.remove("format");
        out.insert("contentEncoding".into(), json!("base64"));
    }
    // Examples: 3.0 `example: x`, 3.1 `examples: [x]`.
    if let Some(example) = out.remove("example") {
        out.entry("examples").or_insert(json!([example]));
    }
    if dialect == Dialect::Oas30 {
        // `nullable: true` widens the type.
        if out.remove("nullable") == Some(json!(true)) {
            if let Some(Value::String(t)) = out.get("type").cloned() {
                out.insert("type".into(), json!([t, "null"]));
            }
        }
        // Boolean exclusive bounds become numbers.
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if let Some(Value::Bool(exclusive)) = out.get(flag).cloned() {
                out.remove(flag);
                if exclusive {
                    if let Some(n) = out.remove(bound) {
                        out.insert(flag.into(), n);
                    }
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(v30: &str, v31: &str) -> Vec<Finding> {
        let docs = [
            Document::parse(v30, "3.0.0/x.yaml").expect("3.0"),
            Document::parse(v31, "3.1.0/x.yaml").expect("3.1"),
        ];
        let mut out = Vec::new();
        check(&docs, &mut out);
        out
    }

    const V30: &str = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        sig: {type: string, format: byte}\n        file: {type: string, format: binary}\n        n: {type: integer, nullable: true, minimum: 0, exclusiveMinimum: true, example: 3}\n";
    const V31: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        sig: {type: string, contentEncoding: base64}\n        file: {contentMediaType: '*/*'}\n        n: {type: [integer, 'null'], exclusiveMinimum: 0, examples: [3]}\n";

    #[test]
    fn equivalent_forms_are_silent() {
        assert_eq!(pair(V30, V31), Vec::new());
    }

    #[test]
    fn real_differences_fire_at_the_31_line() {
        let changed = V31.replace("exclusiveMinimum: 0", "exclusiveMinimum: 1");
        let f = pair(V30, &changed);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].line, 11);
        assert!(f[0].message.contains("3.0.0/x.yaml:11"), "{}", f[0].message);
        let extra = V31.replace("    A:\n", "    B: {type: string}\n    A:\n");
        let f = pair(V30, &extra);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("only in the 3.1 form"));
    }

    #[test]
    fn pairing_by_name_then_by_title_and_version() {
        assert_eq!(
            pairing_key("specs/p.openapi-3.0.yaml"),
            pairing_key("specs/p.openapi-3.1.yaml")
        );
        let docs = [
            Document::parse(V30, "a.yaml").expect("a"),
            Document::parse(V31, "b.yaml").expect("b"),
            Document::parse(&V31.replace("version: '1'", "version: '2'"), "c.yaml").expect("c"),
        ];
        let found = pairs(&docs);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0.name.as_str(), found[0].1.name.as_str()),
            ("a.yaml", "b.yaml")
        );
    }
}
