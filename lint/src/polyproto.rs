//! polyproto rules: what a general OpenAPI linter cannot know. The document's version against
//! the spec text's, namespace and base path (core §8.2, §8.6), the spelling of MLS identifiers,
//! epoch width (RFC 9420 uint64), a field for the MLS wire message, and the ambiguous 404 that
//! protects resources from existence leaks.

use std::collections::BTreeMap;

use serde_json::Value;

use super::source::{child, deref, SpecText};
use super::{for_each_schema, operations, types, Document, Finding, Rule, Severity};

pub const VERSION_VS_TEXT: Rule = Rule {
    id: "P2L-PP-001",
    name: "version-vs-spec-text",
    severity: Severity::Warning,
    summary: "The document's `info.version` differs from the version of the spec text of its \
              namespace (given with --spec-text).",
    rationale: "Implementers cannot tell which API document belongs to which text: \
                polyproto-mls text v1.0-alpha.2 links to API documents versioned \
                v0.1.0-alpha.x. Either the text names the API version it describes, or both \
                share one version.",
};

pub const NAMESPACE: Rule = Rule {
    id: "P2L-PP-002",
    name: "namespace-base-path",
    severity: Severity::Error,
    summary: "A path does not start with `/.p2/<namespace>/` (core §8.6), the namespace is not \
              2-64 of `[a-z0-9_-]` (core §8.2), paths mix namespaces, or a path leaves the spec \
              text's base path.",
    rationale: "Namespaces keep extensions from colliding on one server; a route outside its \
                namespace or base path is unreachable for clients that follow the text.",
};

pub const IDENTIFIER_FORMAT: Rule = Rule {
    id: "P2L-PP-003",
    name: "identifier-format",
    severity: Severity::Warning,
    summary: "An MLS identifier field (cipher suites, protocol versions, extensions) is a bare \
              string without `format`, `pattern` or `enum`.",
    rationale: "RFC 9420 identifiers are 16-bit code points; as free strings, one server writes \
                `0x0001`, another `1`, a third `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`, \
                and filters silently match nothing (p2mls profile: PROFILE.identifier-strings).",
};

pub const EPOCH_WIDTH: Rule = Rule {
    id: "P2L-PP-004",
    name: "epoch-width",
    severity: Severity::Error,
    summary: "An `epoch` field is narrower than RFC 9420's uint64 (e.g. `format: int32`); \
              `format: int64` passes when the description states the uint64 range.",
    rationale: "RFC 9420 §8 epochs are uint64. A validator that honours int32 rejects a \
                legitimate group after 2^31 commits, and generated code truncates the value.",
};

pub const WIRE_MESSAGE: Rule = Rule {
    id: "P2L-PP-005",
    name: "mls-wire-message",
    severity: Severity::Error,
    summary: "A KeyPackage, Proposal, Commit or Welcome schema has no field that can carry the \
              TLS-serialized RFC 9420 message.",
    rationale: "An MLS client processes MLSMessage bytes, not JSON summaries: without the wire \
                message (media type `message/mls`, e.g. base64 in an `mlsMessage` field) the \
                Delivery Service cannot deliver anything a client can use \
                (PROFILE.mls-message-field).",
};

pub const NOT_FOUND_WORDING: Rule = Rule {
    id: "P2L-PP-006",
    name: "not-found-anti-leak",
    severity: Severity::Warning,
    summary: "An operation on a resource path that takes credentials (required or optional) \
              answers 403 and 404 apart, or has a 404 that does not say that a missing and an \
              inaccessible resource get the same answer. A POST or PUT that documents 409 \
              (it creates under a new id) is exempt; a missing 404 is `P2L-HTTP-008`.",
    rationale: "Answering 403 for a foreign group and 404 for a missing one tells any caller \
                which group ids exist; with optional login (`security` with `{}`) anyone can \
                ask (polyproto.core beta.1 `getResource`). polyproto.mls alpha.4 states the \
                ambiguous 404; every resource operation should.",
};

pub const NOT_FOUND_CONSISTENT: Rule = Rule {
    id: "P2L-PP-007",
    name: "not-found-consistent",
    severity: Severity::Warning,
    summary: "The 404s that state the anti-leak ambiguity are worded differently within one \
              document.",
    rationale: "The anti-leak rule only works if every operation follows the same one; differing \
                wordings make readers look for a difference in behaviour that is not meant.",
};

pub const VERSION_SCHEMA: Rule = Rule {
    id: "P2L-PP-008",
    name: "version-schema",
    severity: Severity::Warning,
    summary: "The document's `Version` schema does not list its own `info.version`.",
    rationale: "Generated code takes the version constant from the schema; it must match the \
                document.",
};

pub fn check(doc: &Document, texts: &[SpecText], out: &mut Vec<Finding>) {
    let namespace = document_namespace(doc);
    let text = namespace.as_deref().and_then(|ns| {
        texts
            .iter()
            .find(|t| t.namespace.as_ref().is_some_and(|h| h.value == ns))
    });
    version_vs_text(doc, text, out);
    namespaces(doc, namespace.as_deref(), text, out);
    identifier_formats(doc, out);
    epoch_width(doc, out);
    wire_message(doc, out);
    not_found(doc, out);
    version_schema(doc, out);
}

/// The namespace of a path `/.p2/<namespace>/...`.
fn namespace_of(path: &str) -> Option<&str> {
    path.strip_prefix("/.p2/")?.split('/').next()
}

/// The namespace most of the document's paths use.
fn document_namespace(doc: &Document) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for path in doc
        .value
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
    {
        if let Some(ns) = namespace_of(path) {
            *counts.entry(ns).or_default() += 1;
        }
    }
    let max = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == max)
        .map(|(ns, _)| ns.to_owned())
}

fn version_vs_text(doc: &Document, text: Option<&SpecText>, out: &mut Vec<Finding>) {
    let (Some(text), Some(version)) = (text, doc.version()) else {
        return;
    };
    let Some(header) = &text.version else {
        return;
    };
    if header.value != version {
        out.push(Finding::at(
            &VERSION_VS_TEXT,
            doc,
            "/info/version",
            format!(
                "info.version is `{version}`, but the spec text {} says `{}` (line {})",
                text.name, header.value, header.line
            ),
        ));
    }
}

fn valid_namespace(ns: &str) -> bool {
    (2..=64).contains(&ns.len())
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn namespaces(
    doc: &Document,
    namespace: Option<&str>,
    text: Option<&SpecText>,
    out: &mut Vec<Finding>,
) {
    let base = text.and_then(|t| t.base_path.as_ref());
    for path in doc
        .value
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
    {
        let pointer = child("/paths", path);
        let message = match namespace_of(path) {
            None => format!("path `{path}` does not start with `/.p2/<namespace>/` (core §8.6)"),
            Some(ns) if !valid_namespace(ns) => format!(
                "namespace `{ns}` of `{path}` is not 2-64 lowercase letters, digits, `-` or `_` \
                 (core §8.2)"
            ),
            Some(ns) if Some(ns) != namespace => format!(
                "path `{path}` uses namespace `{ns}`, the rest of the document `{}`",
                namespace.unwrap_or_default()
            ),
            Some(_) => match base {
                Some(b) if !path.starts_with(&format!("/{}", b.value.trim_start_matches('/'))) => {
                    format!(
                        "path `{path}` is outside the base path `{}` of the spec text (line {})",
                        b.value, b.line
                    )
                }
                _ => continue,
            },
        };
        out.push(Finding::at(&NAMESPACE, doc, &pointer, message));
    }
}

/// Field and parameter names that hold MLS identifiers, normalised (lowercase, no `_`/`-`).
const IDENTIFIER_NAMES: &[&str] = &[
    "ciphersuite",
    "ciphersuites",
    "versions",
    "protocolversion",
    "protocolversions",
    "mlsversion",
    "mlsversions",
    "extension",
    "extensions",
    "extensiontype",
    "extensiontypes",
];

fn is_identifier_name(name: &str) -> bool {
    let normalised: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    IDENTIFIER_NAMES.contains(&normalised.as_str())
}

/// Whether `schema` (or, for an array, its items) is a string with no spelling constraint.
fn unconstrained_string(root: &Value, schema: &Value) -> bool {
    let schema = deref(root, schema);
    if types(schema).contains(&"array") {
        return schema
            .get("items")
            .is_some_and(|items| unconstrained_string(root, items));
    }
    types(schema).contains(&"string")
        && !["format", "pattern", "enum", "const"]
            .iter()
            .any(|k| schema.get(*k).is_some())
}

fn identifier_formats(doc: &Document, out: &mut Vec<Finding>) {
    let message = |name: &str| {
        let lower = name.to_ascii_lowercase();
        let spellings = if lower.contains("cipher") {
            "`0x0001`? `1`? `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`?"
        } else if lower.contains("version") {
            "`1.0`? `mls10`? `0x0001`?"
        } else {
            "`0x000A`? `10`? `last_resort`?"
        };
        format!(
            "`{name}` holds MLS identifiers as strings with no format, pattern or enum: their \
             spelling ({spellings}) is left open"
        )
    };
    for_each_schema(doc, |pointer, schema| {
        for (name, prop) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if is_identifier_name(name) && unconstrained_string(&doc.value, prop) {
                out.push(Finding::at(
                    &IDENTIFIER_FORMAT,
                    doc,
                    &child(&child(pointer, "properties"), name),
                    message(name),
                ));
            }
        }
    });
    for_each_parameter(doc, |pointer, parameter| {
        let Some(name) = parameter.get("name").and_then(Value::as_str) else {
            return;
        };
        if let Some(schema) = parameter.get("schema") {
            if is_identifier_name(name) && unconstrained_string(&doc.value, schema) {
                out.push(Finding::at(
                    &IDENTIFIER_FORMAT,
                    doc,
                    &format!("{pointer}/schema"),
                    message(name),
                ));
            }
        }
    });
}

/// Calls `visit` for every parameter object written in the document (each once: references
/// are not followed).
fn for_each_parameter(doc: &Document, mut visit: impl FnMut(&str, &Value)) {
    fn walk(pointer: &str, value: &Value, visit: &mut dyn FnMut(&str, &Value)) {
        match value {
            Value::Object(map) => {
                let is_parameter = map.get("in").is_some_and(Value::is_string)
                    && map.get("name").is_some_and(Value::is_string);
                if is_parameter {
                    visit(pointer, value);
                    return;
                }
                for (k, v) in map {
                    if k != "schema" && k != "example" && k != "examples" {
                        walk(&child(pointer, k), v, visit);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{pointer}/{i}"), item, visit);
                }
            }
            _ => {}
        }
    }
    for key in ["paths", "components"] {
        if let Some(v) = doc.value.get(key) {
            walk(&format!("/{key}"), v, &mut visit);
        }
    }
}
pub use p2mls_openapi::schema::{narrower_than_u64, states_uint64};

fn epoch_width(doc: &Document, out: &mut Vec<Finding>) {
    for_each_schema(doc, |pointer, schema| {
        for (name, prop) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if !name.to_ascii_lowercase().ends_with("epoch") {
                continue;
            }
            if let Some(why) = narrower_than_u64(deref(&doc.value, prop)) {
                out.push(Finding::at(
                    &EPOCH_WIDTH,
                    doc,
                    &child(&child(pointer, "properties"), name),
                    format!("`{name}` is {why}, but RFC 9420 epochs are uint64"),
                ));
            }
        }
    });
}

/// The MLS objects a Delivery Service hands around.
const MLS_OBJECTS: &[&str] = &["keypackage", "proposal", "commit", "welcome"];

/// The properties of a schema, including those of its `allOf` parts.
fn all_properties<'a>(root: &'a Value, schema: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    let schema = deref(root, schema);
    for (name, prop) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.push((name, deref(root, prop)));
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        all_properties(root, part, out);
    }
}

/// Whether a property can carry TLS-serialised MLS bytes.
fn carries_wire_message(name: &str, schema: &Value) -> bool {
    let media = schema
        .get("contentMediaType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if media.eq_ignore_ascii_case("message/mls") {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("mlsmessage") {
        return true;
    }
    let binary = matches!(
        schema.get("format").and_then(Value::as_str),
        Some("byte" | "binary")
    ) || schema.get("contentEncoding").is_some();
    binary
        && ["message", "wire", "tls", "serialized", "serialised", "raw"]
            .iter()
            .any(|w| lower.contains(w))
}

fn wire_message(doc: &Document, out: &mut Vec<Finding>) {
    for (name, schema) in doc
        .value
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let short = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        if !MLS_OBJECTS.contains(&short.as_str()) {
            continue;
        }
        let mut props = Vec::new();
        all_properties(&doc.value, schema, &mut props);
        if !props.iter().any(|(n, s)| carries_wire_message(n, s)) {
            let fields: Vec<&str> = props.iter().map(|(n, _)| *n).collect();
            out.push(Finding::at(
                &WIRE_MESSAGE,
                doc,
                &child("/components/schemas", name),
                format!(
                    "{name} ({}) is a JSON summary with no field for the TLS-serialized RFC 9420 \
                     message (media type message/mls), which MLS clients need; add e.g. \
                     `mlsMessage` (base64 of the MLSMessage)",
                    fields.join(", ")
                ),
            ));
        }
    }
}

/// Whether a 404 description states that missing and inaccessible resources look the same.
pub fn states_ambiguity(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    d.contains("ambigu") || (d.contains("access") && d.contains("not exist"))
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn not_found(doc: &Document, out: &mut Vec<Finding>) {
    let mut wordings: Vec<(String, String)> = Vec::new();
    for op in operations(doc) {
        let not_found = op
            .responses(doc)
            .into_iter()
            .find(|(_, status, _)| *status == "404");
        let description = not_found
            .as_ref()
            .and_then(|(_, _, r)| r.get("description"))
            .and_then(Value::as_str);
        if let (Some((pointer, _, _)), Some(d)) = (&not_found, description) {
            wordings.push((format!("{pointer}/description"), normalise(d)));
        }
        let credentials = op.secured(doc) || op.optional_login(doc);
        if !credentials || !op.path.contains('{') || op.creates_under_new_id() {
            continue;
        }
        let Some((pointer, _, _)) = &not_found else {
            // No 404 at all: P2L-HTTP-008.
            continue;
        };
        if !description.is_some_and(states_ambiguity) {
            out.push(Finding::at(
                &NOT_FOUND_WORDING,
                doc,
                pointer,
                format!(
                    "the 404 of {} does not say that a resource the caller may not access gets \
                     the same 404 as a missing one",
                    op.label
                ),
            ));
        }
        if let Some((forbidden, _, _)) = op
            .responses(doc)
            .into_iter()
            .find(|(_, status, _)| *status == "403")
        {
            let who = if op.optional_login(doc) {
                "anyone, logged in or not,"
            } else {
                "any caller"
            };
            out.push(Finding::at(
                &NOT_FOUND_WORDING,
                doc,
                &forbidden,
                format!(
                    "{} answers 403 for a resource the caller may not see and 404 for a missing \
                     one, so {who} learns which ids exist",
                    op.label
                ),
            ));
        }
    }
    // Only the wordings that state the ambiguity are compared: other 404s say other things.
    wordings.retain(|(_, w)| states_ambiguity(w));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, w) in &wordings {
        *counts.entry(w).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(0);
    // The wording most such 404s use (the first in document order on a tie).
    let Some((usual_at, usual)) = wordings
        .iter()
        .find(|(_, w)| counts.get(w.as_str()) == Some(&max))
    else {
        return;
    };
    let usual_line = doc.locate(usual_at).line;
    for (pointer, w) in &wordings {
        if w != usual {
            out.push(Finding::at(
                &NOT_FOUND_CONSISTENT,
                doc,
                pointer,
                format!(
                    "this anti-leak 404 is worded differently from the {max} that read like line \
                     {usual_line}"
                ),
            ));
        }
    }
}

fn version_schema(doc: &Document, out: &mut Vec<Finding>) {
    let Some(version) = doc.version() else {
        return;
    };
    for (name, schema) in doc
        .value
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if name.rsplit('.').next() != Some("Version") {
            continue;
        }
        let Some(values) = schema.get("enum").and_then(Value::as_array) else {
            continue;
        };
        if !values.iter().any(|v| v.as_str() == Some(version)) {
            out.push(Finding::at(
                &VERSION_SCHEMA,
                doc,
                &format!("{}/enum", child("/components/schemas", name)),
                format!("schema {name} does not list info.version `{version}`"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{findings, findings_with};

    const TEXT: &str =
        "# x\n\n**Namespace:** `mls`\n\n**Version:** `v1.0-alpha.2`\n\n**Base Path:** `/.p2/mls/v1/`\n";

    fn doc(version: &str, paths: &str, schemas: &str) -> String {
        format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: '{version}'}}\npaths:\n{paths}components:\n  schemas:\n{schemas}  securitySchemes:\n    BearerAuth: {{type: http, scheme: bearer}}\n"
        )
    }

    const GET: &str = "    get:\n      operationId: g_getGroup\n      security: [{BearerAuth: []}]\n      responses:\n        '200': {description: ok}\n";

    #[test]
    fn version_vs_text_fires_and_stays_silent() {
        let text = SpecText::parse(TEXT, "mls.md");
        let paths = format!("  /.p2/mls/v1/groups:\n{GET}");
        let bad = doc("v0.1.0-alpha.4", &paths, "");
        let f = findings_with(&bad, VERSION_VS_TEXT.id, std::slice::from_ref(&text));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("v1.0-alpha.2"));
        assert_eq!(f[0].line, 2);
        let good = doc("v1.0-alpha.2", &paths, "");
        assert!(findings_with(&good, VERSION_VS_TEXT.id, &[text]).is_empty());
        // Without a text of the document's namespace there is nothing to compare with.
        assert!(findings(&bad, VERSION_VS_TEXT.id).is_empty());
    }

    #[test]
    fn namespace_fires_and_stays_silent() {
        let text = SpecText::parse(TEXT, "mls.md");
        let bad = doc(
            "1",
            &format!("  /.p2/mls/v1/groups:\n{GET}  /.p2/mls/v2/x:\n{GET}  /groups:\n{GET}  /.p2/MLS/v1/y:\n{GET}  /.p2/other/v1/z:\n{GET}")
                .replace("g_getGroup", "g_getX"),
            "",
        );
        let f = findings_with(&bad, NAMESPACE.id, std::slice::from_ref(&text));
        assert_eq!(f.len(), 4, "{f:?}");
        let good = doc("1", &format!("  /.p2/mls/v1/groups:\n{GET}"), "");
        assert!(findings_with(&good, NAMESPACE.id, &[text]).is_empty());
    }

    #[test]
    fn identifier_format_fires_and_stays_silent() {
        let paths = "  /.p2/mls/v1/kp/{fid}:\n    get:\n      operationId: k_discoverKeyPackages\n      parameters:\n        - {name: fid, in: path, required: true, schema: {type: string}}\n        - {name: ciphersuites, in: query, required: true, schema: {type: array, items: {type: string}}}\n      responses:\n        '200': {description: ok}\n";
        let bad = doc(
            "1",
            paths,
            "    Caps:\n      type: object\n      properties:\n        versions: {type: array, items: {type: string}}\n        extensions: {type: array, items: {type: string}}\n",
        );
        assert_eq!(findings(&bad, IDENTIFIER_FORMAT.id).len(), 3);
        let good = doc(
            "1",
            &paths.replace("items: {type: string}}}", "items: {type: string, pattern: '^0x[0-9A-F]{4}$'}}}"),
            "    Caps:\n      type: object\n      properties:\n        versions: {type: array, items: {type: string, enum: ['1.0']}}\n        extensions: {type: array, items: {$ref: '#/components/schemas/Code'}}\n    Code: {type: string, pattern: '^0x[0-9A-F]{4}$'}\n",
        );
        assert!(findings(&good, IDENTIFIER_FORMAT.id).is_empty());
    }

    #[test]
    fn epoch_width_fires_and_stays_silent() {
        let bad = doc(
            "1",
            "",
            "    Group:\n      type: object\n      properties:\n        epoch: {type: integer, format: int32}\n        lastEpoch: {type: integer, maximum: 65535}\n",
        );
        let f = findings(&bad, EPOCH_WIDTH.id);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].message.contains("int32"));
        let good = doc(
            "1",
            "",
            "    Group:\n      type: object\n      properties:\n        epoch: {type: integer, format: uint64, minimum: 0}\n",
        );
        assert!(findings(&good, EPOCH_WIDTH.id).is_empty());
        // int64 is the widest registered format: fine when the description says uint64.
        let int64 = |d: &str| {
            doc(
                "1",
                "",
                &format!("    Group:\n      type: object\n      properties:\n        epoch: {{type: integer, format: int64, description: '{d}'}}\n"),
            )
        };
        assert_eq!(findings(&int64("The epoch"), EPOCH_WIDTH.id).len(), 1);
        assert!(findings(&int64("The epoch (uint64: 0 to 2^64-1)"), EPOCH_WIDTH.id).is_empty());
    }

    #[test]
    fn wire_message_fires_and_stays_silent() {
        let bad = doc(
            "1",
            "",
            "    KeyPackage:\n      type: object\n      properties:\n        id: {type: string}\n        signature: {type: string, contentEncoding: base64}\n    Models.Welcome:\n      allOf:\n        - {$ref: '#/components/schemas/KeyPackage'}\n",
        );
        let f = findings(&bad, WIRE_MESSAGE.id);
        assert_eq!(f.len(), 2, "{f:?}");
        let good = doc(
            "1",
            "",
            "    KeyPackage:\n      type: object\n      properties:\n        id: {type: string}\n        mlsMessage: {type: string, contentEncoding: base64}\n    Models.Welcome:\n      allOf:\n        - {$ref: '#/components/schemas/Wire'}\n    Wire:\n      properties:\n        bytes: {type: string, contentMediaType: message/mls, contentEncoding: base64}\n",
        );
        assert!(findings(&good, WIRE_MESSAGE.id).is_empty());
    }

    const LEAK: &str = "The client either does not have the access rights to access this resource, or this resource does not exist.";

    #[test]
    fn not_found_wording_fires_and_stays_silent() {
        let op = |security: &str, responses: &str| {
            format!("  /.p2/mls/v1/groups/{{groupId}}:\n    get:\n      operationId: g_getGroup\n      security: {security}\n      responses:\n        '200': {{description: ok}}\n{responses}")
        };
        let leak404 = format!("        '404': {{description: '{LEAK}'}}\n");
        let forbidden = "        '403': {description: You may not see this group}\n";
        for security in ["[{BearerAuth: []}]", "[{BearerAuth: []}, {}]"] {
            let plain = doc(
                "1",
                &op(security, "        '404': {description: Not found}\n"),
                "",
            );
            assert_eq!(
                findings(&plain, NOT_FOUND_WORDING.id).len(),
                1,
                "{security}"
            );
            let good = doc("1", &op(security, &leak404), "");
            assert!(
                findings(&good, NOT_FOUND_WORDING.id).is_empty(),
                "{security}"
            );
            // 403 for a resource the caller may not see, 404 for a missing one: the leak.
            let apart = doc("1", &op(security, &format!("{forbidden}{leak404}")), "");
            let f = findings(&apart, NOT_FOUND_WORDING.id);
            assert_eq!(f.len(), 1, "{security}: {f:?}");
            assert!(f[0].pointer.ends_with("/responses/403"), "{}", f[0].pointer);
        }
        let optional = doc(
            "1",
            &op("[{BearerAuth: []}, {}]", &format!("{forbidden}{leak404}")),
            "",
        );
        assert!(findings(&optional, NOT_FOUND_WORDING.id)[0]
            .message
            .contains("logged in or not"));
        // Without credentials there is nobody to hide from; without a 404, P2L-HTTP-008 speaks.
        let public = doc(
            "1",
            &op("[]", "        '404': {description: Not found}\n"),
            "",
        );
        assert!(findings(&public, NOT_FOUND_WORDING.id).is_empty());
        let missing = doc("1", &op("[{BearerAuth: []}]", ""), "");
        assert!(findings(&missing, NOT_FOUND_WORDING.id).is_empty());
        // Creating under a new id with 409 for a taken one (core's POST /resource/{rid}).
        let create = doc(
            "1",
            &op(
                "[{BearerAuth: []}]",
                &format!("{forbidden}        '409': {{description: taken}}\n"),
            )
            .replace("    get:", "    post:"),
            "",
        );
        assert!(findings(&create, NOT_FOUND_WORDING.id).is_empty());
    }

    #[test]
    fn not_found_consistent_fires_and_stays_silent() {
        let op = |path: &str, id: &str, d: &str| {
            format!("  /.p2/mls/v1/{path}/{{id}}:\n    get:\n      operationId: g_get{id}\n      responses:\n        '404': {{description: '{d}'}}\n")
        };
        let bad = doc(
            "1",
            &format!(
                "{}{}{}{}",
                op("a", "A", LEAK),
                op("b", "B", LEAK),
                op(
                    "c",
                    "C",
                    "Either it does not exist or you lack access rights (ambiguous on purpose)."
                ),
                op("d", "D", "Not found.")
            ),
            "",
        );
        let f = findings(&bad, NOT_FOUND_CONSISTENT.id);
        assert_eq!(f.len(), 1);
        assert!(f[0].pointer.contains("~1c~1"), "{}", f[0].pointer);
        let good = doc(
            "1",
            &format!("{}{}", op("a", "A", LEAK), op("b", "B", LEAK)),
            "",
        );
        assert!(findings(&good, NOT_FOUND_CONSISTENT.id).is_empty());
    }

    #[test]
    fn version_schema_fires_and_stays_silent() {
        let bad = doc(
            "v0.1.0-alpha.4",
            "",
            "    Version: {type: string, enum: [v0.1.0-alpha.2]}\n",
        );
        assert_eq!(findings(&bad, VERSION_SCHEMA.id).len(), 1);
        let good = doc(
            "v0.1.0-alpha.4",
            "",
            "    Version: {type: string, enum: [v0.1.0-alpha.4]}\n",
        );
        assert!(findings(&good, VERSION_SCHEMA.id).is_empty());
    }
}
