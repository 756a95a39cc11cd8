//! Structure rules: references resolve, schemas are valid in the document's JSON Schema dialect,
//! operationIds are unique and named alike, components are used, servers are real, operations
//! are tagged, and a 3.0 document fits the typed 3.0 model.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::source::{child, unescape};
use super::{for_each_schema, operations, Document, Finding, Rule, Severity};
use p2mls_openapi::Dialect;

pub const UNRESOLVED_REF: Rule = Rule {
    id: "P2L-STRUCT-001",
    name: "unresolved-ref",
    severity: Severity::Error,
    summary: "A `$ref` points at nothing in the document.",
    rationale: "A dangling reference makes the document unusable for every tool: code generators \
                stop, validators accept anything. Only local references (`#/...`) are resolved; a \
                published single-file document should not depend on other files.",
};

pub const INVALID_SCHEMA: Rule = Rule {
    id: "P2L-STRUCT-002",
    name: "invalid-schema",
    severity: Severity::Error,
    summary: "A schema is not valid in the document's dialect (JSON Schema draft 4 subset for \
              3.0, 2020-12 for 3.1) or does not compile.",
    rationale: "Validators built on the document reject or misread an invalid schema, so servers \
                and clients disagree on what a valid message is.",
};

pub const DIALECT_KEYWORD: Rule = Rule {
    id: "P2L-STRUCT-003",
    name: "dialect-keyword",
    severity: Severity::Warning,
    summary: "A schema uses a keyword of the other OpenAPI version (e.g. `nullable` in 3.1, \
              `contentEncoding` in 3.0) or a `$ref` with siblings in 3.0.",
    rationale: "Tools of the document's version silently ignore such keywords, so the constraint \
                the editor meant is not there. This happens when a 3.0 and a 3.1 form are kept \
                by hand.",
};

pub const OPERATION_ID_UNIQUE: Rule = Rule {
    id: "P2L-STRUCT-004",
    name: "operation-id-unique",
    severity: Severity::Error,
    summary: "An operation has no operationId, or shares it with another operation.",
    rationale: "operationIds name operations in generated code, in reports and in the p2mls \
                requirement catalogue (`OAS.<operationId>.*`); they must exist and be unique \
                (OpenAPI requires uniqueness).",
};

pub const OPERATION_ID_NAMING: Rule = Rule {
    id: "P2L-STRUCT-005",
    name: "operation-id-naming",
    severity: Severity::Warning,
    summary: "An operationId does not follow `<group>_<verb><Object>` (e.g. `groups_createGroup`).",
    rationale: "The published documents name operations `<group>_<action>`; an action that is \
                not a verb (`Registered_name`, `Unregistered_actorCerts`) hides what the \
                operation does in generated client code and in reports.",
};

pub const UNUSED_COMPONENT: Rule = Rule {
    id: "P2L-STRUCT-006",
    name: "unused-component",
    severity: Severity::Warning,
    summary: "A component is not reachable from any path or security requirement.",
    rationale: "An unused schema is either dead weight or a sign that an operation forgot to \
                reference it; readers cannot tell which.",
};

pub const PLACEHOLDER_SERVER: Rule = Rule {
    id: "P2L-STRUCT-007",
    name: "placeholder-server",
    severity: Severity::Warning,
    summary: "A server URL uses a reserved example host (example.com, *.test, localhost, ...).",
    rationale: "Tools send \"try it\" requests to the first server. polyproto servers are per \
                actor (the home server, found through `.well-known`, core §3.1), so a server \
                variable such as `https://{domain}` says what is meant; example.com does not.",
};

pub const EMPTY_TAGS: Rule = Rule {
    id: "P2L-STRUCT-008",
    name: "empty-tags",
    severity: Severity::Info,
    summary: "The document declares no tags, or operations carry no tag.",
    rationale: "Documentation tools group operations by tag; untagged operations land in one \
                unnamed group, and `tags: []` is usually a generator artefact.",
};

pub const OAS30_MODEL: Rule = Rule {
    id: "P2L-STRUCT-009",
    name: "oas30-model",
    severity: Severity::Error,
    summary: "A 3.0 document does not fit the typed OpenAPI 3.0 object model.",
    rationale: "A field of the wrong type or a missing required field breaks strict 3.0 \
                tooling (and `p2mls run --spec`, which parses 3.0 documents with a typed model).",
};

pub const REQUIRED_WITH_DEFAULT: Rule = Rule {
    id: "P2L-STRUCT-010",
    name: "required-with-default",
    severity: Severity::Warning,
    summary: "A required property declares a `default`.",
    rationale: "A default only applies when the property is absent, which `required` forbids: \
                either the property is optional (and the default says what absence means) or the \
                default is dead text (polyproto.mls alpha.4: `KeyPackage.lastResort`).",
};

pub const INVALID_EXAMPLE: Rule = Rule {
    id: "P2L-STRUCT-011",
    name: "invalid-example",
    severity: Severity::Warning,
    summary: "A schema's `example`/`examples` value does not validate against the schema.",
    rationale: "Readers and mock servers take examples at face value; an example the schema \
                rejects means one of them is wrong (polyproto.core beta.3: a 64-character \
                `cacheSignature` example for a field limited to 32).",
};

pub const TRAILING_SLASH: Rule = Rule {
    id: "P2L-STRUCT-012",
    name: "trailing-slash-path",
    severity: Severity::Warning,
    summary: "A path ends in `/` (other than the root path).",
    rationale: "Servers and routers tell `/info` and `/info/` apart: one of them answers 404 or a \
                redirect that clients do not follow for POST. polyproto.core beta.3 has \
                `/.p2/core/v1/resource/{rid}/info/`.",
};

pub const DUPLICATE_SUBSCHEMA: Rule = Rule {
    id: "P2L-STRUCT-013",
    name: "duplicate-subschema",
    severity: Severity::Warning,
    summary: "An `anyOf` or `oneOf` lists the same schema twice.",
    rationale: "A repeated `anyOf` member adds nothing and reads as if two alternatives were \
                meant (polyproto.core beta.3's service discovery responses); in `oneOf`, a value \
                that matches one copy matches both, so every such value is rejected.",
};

pub const UNDESCRIBED_OPERATION: Rule = Rule {
    id: "P2L-STRUCT-014",
    name: "undescribed-operation",
    severity: Severity::Info,
    summary: "An operation has neither a `description` nor a `summary`.",
    rationale: "Generated documentation and client code show the operationId alone; readers \
                cannot tell what the operation does or when to call it.",
};

/// Runs the structure rules on `doc`.
pub fn check(doc: &Document, out: &mut Vec<Finding>) {
    unresolved_refs(doc, out);
    invalid_schemas(doc, out);
    dialect_keywords(doc, out);
    operation_ids(doc, out);
    unused_components(doc, out);
    placeholder_servers(doc, out);
    empty_tags(doc, out);
    oas30_model(doc, out);
    required_with_default(doc, out);
    invalid_examples(doc, out);
    trailing_slashes(doc, out);
    duplicate_subschemas(doc, out);
    undescribed_operations(doc, out);
}

/// Keys whose values are data, not document structure.
const DATA_KEYS: &[&str] = &["example", "examples", "default", "enum", "const"];

/// Calls `visit(pointer_of_ref_key, target)` for every `$ref` outside example data.
fn for_each_ref(doc: &Document, mut visit: impl FnMut(&str, &str)) {
    fn walk(pointer: &str, value: &Value, in_names: bool, visit: &mut dyn FnMut(&str, &str)) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let here = child(pointer, key);
                    if key == "$ref" && !in_names {
                        if let Some(target) = v.as_str() {
                            visit(&here, target);
                        }
                    } else if in_names || !DATA_KEYS.contains(&key.as_str()) {
                        // Under `properties` the keys are names, so `example` is a name there.
                        walk(&here, v, key == "properties" && !in_names, visit);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{pointer}/{i}"), item, false, visit);
                }
            }
            _ => {}
        }
    }
    walk("", &doc.value, false, &mut visit);
}

fn unresolved_refs(doc: &Document, out: &mut Vec<Finding>) {
    for_each_ref(doc, |pointer, target| {
        let message = match target.strip_prefix('#') {
            Some(p) if doc.value.pointer(p).is_some() => return,
            Some(_) => format!("`$ref: '{target}'` points at nothing in this document"),
            None => format!(
                "`$ref: '{target}'` is not a local reference; p2mls resolves `#/...` only, and a \
                 published single-file document should not depend on other files"
            ),
        };
        out.push(Finding::at(&UNRESOLVED_REF, doc, pointer, message));
    });
}

/// OpenAPI 3.0 Schema Object fields that are not draft 4 keywords, dropped before the draft 4
/// meta-schema check.
const OAS30_EXTRA: &[&str] = &[
    "nullable",
    "discriminator",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
];

/// The draft 4 view of a 3.0 schema: OAS-only fields dropped, `nullable` widening `type`.
fn as_draft4(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if OAS30_EXTRA.contains(&k.as_str()) || k.starts_with("x-") {
                    continue;
                }
                let v = match k.as_str() {
                    "properties" | "patternProperties" | "definitions" => Value::Object(
                        v.as_object()
                            .into_iter()
                            .flatten()
                            .map(|(n, s)| (n.clone(), as_draft4(s)))
                            .collect(),
                    ),
                    "enum" | "default" | "required" => v.clone(),
                    _ => as_draft4(v),
                };
                out.insert(k.clone(), v);
            }
            if map.get("nullable").and_then(Value::as_bool) == Some(true) {
                if let Some(Value::String(t)) = map.get("type") {
                    out.insert("type".into(), serde_json::json!([t, "null"]));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(as_draft4).collect()),
        other => other.clone(),
    }
}

/// Top-level schemas: component schemas and inline `schema` values (nested ones are checked as
/// part of these).
fn top_level_schemas(doc: &Document) -> Vec<(String, &Value)> {
    let mut tops: Vec<String> = Vec::new();
    // The walker visits a schema before the schemas nested in it.
    for_each_schema(doc, |pointer, _| {
        let nested = tops
            .iter()
            .any(|p| pointer.starts_with(p.as_str()) && pointer[p.len()..].starts_with('/'));
        if !nested {
            tops.push(pointer.to_owned());
        }
    });
    tops.into_iter()
        .filter_map(|p| doc.value.pointer(&p).map(|v| (p, v)))
        .collect()
}

fn invalid_schemas(doc: &Document, out: &mut Vec<Finding>) {
    for (pointer, schema) in top_level_schemas(doc) {
        let meta = match doc.dialect {
            Dialect::Oas30 => jsonschema::draft4::meta::validate(&as_draft4(schema))
                .map_err(|e| (e.to_string(), e.instance_path.to_string())),
            Dialect::Oas31 => jsonschema::draft202012::meta::validate(schema)
                .map_err(|e| (e.to_string(), e.instance_path.to_string())),
        };
        if let Err((message, at)) = meta {
            out.push(Finding::at(
                &INVALID_SCHEMA,
                doc,
                &format!("{pointer}{at}"),
                format!(
                    "not a valid {} schema: {message}",
                    dialect_name(doc.dialect)
                ),
            ));
            continue;
        }
        if doc.dialect == Dialect::Oas30 {
            for_type_arrays(&pointer, schema, &mut |p| {
                out.push(Finding::at(
                    &INVALID_SCHEMA,
                    doc,
                    p,
                    "`type` must be a single string in OpenAPI 3.0 (use `nullable: true` for null)"
                        .into(),
                ));
            });
        }
        // Compile: catches what the meta-schema cannot (bad regexes). References become `{}`:
        // each referenced schema is compiled on its own, so a defect is reported once, where it
        // is written.
        let own = without_refs(schema);
        let (own, draft) = match doc.dialect {
            Dialect::Oas30 => (as_draft4(&own), jsonschema::Draft::Draft4),
            Dialect::Oas31 => (own, jsonschema::Draft::Draft202012),
        };
        if let Err(e) = jsonschema::options().with_draft(draft).build(&own) {
            out.push(Finding::at(
                &INVALID_SCHEMA,
                doc,
                &pointer,
                format!("schema does not compile: {e}"),
            ));
        }
    }
}

/// `schema` with every `$ref` dropped (a bare reference becomes `{}`, which allows anything).
fn without_refs(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "$ref")
                .map(|(k, v)| {
                    let v = if DATA_KEYS.contains(&k.as_str()) {
                        v.clone()
                    } else {
                        without_refs(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_refs).collect()),
        other => other.clone(),
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Oas30 => "OpenAPI 3.0 (JSON Schema draft 4 subset)",
        Dialect::Oas31 => "OpenAPI 3.1 (JSON Schema 2020-12)",
    }
}

/// Calls `found` for every `type` array under `schema` (walking nested schemas).
fn for_type_arrays(pointer: &str, schema: &Value, found: &mut dyn FnMut(&str)) {
    if let Value::Object(map) = schema {
        if map.get("type").is_some_and(Value::is_array) {
            found(&format!("{pointer}/type"));
        }
        for (k, v) in map {
            if DATA_KEYS.contains(&k.as_str()) {
                continue;
            }
            let here = child(pointer, k);
            match v {
                Value::Object(inner) if k == "properties" => {
                    for (name, s) in inner {
                        for_type_arrays(&child(&here, name), s, found);
                    }
                }
                Value::Object(_) => for_type_arrays(&here, v, found),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        for_type_arrays(&format!("{here}/{i}"), item, found);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Fields of the OpenAPI 3.0 Schema Object.
const OAS30_KEYWORDS: &[&str] = &[
    "title",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "type",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "items",
    "properties",
    "additionalProperties",
    "description",
    "format",
    "default",
    "nullable",
    "discriminator",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
    "$ref",
];

fn dialect_keywords(doc: &Document, out: &mut Vec<Finding>) {
    for_each_schema(doc, |pointer, schema| {
        let Some(map) = schema.as_object() else {
            return;
        };
        for key in map.keys() {
            if key.starts_with("x-") {
                continue;
            }
            let message = match doc.dialect {
                Dialect::Oas31 if key == "nullable" => {
                    "`nullable` is an OpenAPI 3.0 field; 3.1 ignores it: write `type: [<type>, \
                     'null']`"
                        .to_owned()
                }
                Dialect::Oas30 if !OAS30_KEYWORDS.contains(&key.as_str()) => {
                    let hint = match key.as_str() {
                        "contentEncoding" => " (3.0 writes `format: byte` for base64)",
                        "contentMediaType" => " (3.0 writes `format: binary`)",
                        "examples" => " (3.0 schemas take a single `example`)",
                        "const" => " (3.0 writes a one-value `enum`)",
                        _ => "",
                    };
                    format!(
                        "`{key}` is not a field of the OpenAPI 3.0 Schema Object; 3.0 tools ignore \
                         it{hint}"
                    )
                }
                _ => continue,
            };
            out.push(Finding::at(
                &DIALECT_KEYWORD,
                doc,
                &child(pointer, key),
                message,
            ));
        }
        if doc.dialect == Dialect::Oas30 && map.contains_key("$ref") {
            let siblings: Vec<&str> = map
                .keys()
                .filter(|k| *k != "$ref" && !k.starts_with("x-"))
                .map(String::as_str)
                .collect();
            if !siblings.is_empty() {
                out.push(Finding::at(
                    &DIALECT_KEYWORD,
                    doc,
                    pointer,
                    format!(
                        "in OpenAPI 3.0 the siblings of `$ref` are ignored ({}); wrap the \
                         reference in `allOf`",
                        siblings.join(", ")
                    ),
                ));
            }
        }
    });
}

/// Verbs an operation name may start with.
const VERBS: &[&str] = &[
    "add",
    "check",
    "commit",
    "create",
    "delete",
    "discover",
    "download",
    "export",
    "fetch",
    "find",
    "get",
    "import",
    "invalidate",
    "issue",
    "list",
    "modify",
    "patch",
    "post",
    "put",
    "query",
    "register",
    "remove",
    "renew",
    "replace",
    "request",
    "revoke",
    "rotate",
    "search",
    "send",
    "set",
    "setup",
    "submit",
    "subscribe",
    "unregister",
    "unsubscribe",
    "update",
    "upload",
    "verify",
];

/// Why `id` breaks the `<group>_<verb><Object>` convention, if it does.
fn naming_problem(id: &str) -> Option<String> {
    let Some((group, action)) = id.split_once('_') else {
        return Some("has no `<group>_` prefix".into());
    };
    let alnum = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !alnum(group) || !group.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some(format!("group `{group}` is not alphanumeric"));
    }
    if !alnum(action) || !action.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(format!("action `{action}` is not lowerCamelCase"));
    }
    let verb: String = action
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    if !VERBS.contains(&verb.as_str()) {
        return Some(format!(
            "action `{action}` does not start with a verb (such as get, create, submit, delete)"
        ));
    }
    None
}

fn operation_ids(doc: &Document, out: &mut Vec<Finding>) {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for op in operations(doc) {
        let Some(id) = op.value.get("operationId").and_then(Value::as_str) else {
            out.push(Finding::at(
                &OPERATION_ID_UNIQUE,
                doc,
                &op.pointer,
                format!("{} has no operationId", op.label),
            ));
            continue;
        };
        let pointer = format!("{}/operationId", op.pointer);
        if let Some(first) = seen.get(id) {
            out.push(Finding::at(
                &OPERATION_ID_UNIQUE,
                doc,
                &pointer,
                format!(
                    "operationId `{id}` is also used by the operation at line {}",
                    doc.locate(first).line
                ),
            ));
        } else {
            seen.insert(id, pointer.clone());
        }
        if let Some(problem) = naming_problem(id) {
            out.push(Finding::at(
                &OPERATION_ID_NAMING,
                doc,
                &pointer,
                format!("operationId `{id}` {problem}"),
            ));
        }
    }
}

/// Component sections whose entries are referenced by `$ref`.
const COMPONENT_SECTIONS: &[&str] = &[
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
    "pathItems",
];

fn unused_components(doc: &Document, out: &mut Vec<Finding>) {
    // Edges: from the component a `$ref` sits in (or None for the rest of the document).
    let mut edges: Vec<(Option<String>, String)> = Vec::new();
    for_each_ref(doc, |pointer, target| {
        let Some(target) = target.strip_prefix('#') else {
            return;
        };
        let from = component_of(pointer);
        if let Some(to) = component_of(target) {
            edges.push((from, to));
        }
    });
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut frontier: Vec<String> = edges
        .iter()
        .filter(|(from, _)| from.is_none())
        .map(|(_, to)| to.clone())
        .collect();
    while let Some(next) = frontier.pop() {
        if used.insert(next.clone()) {
            frontier.extend(
                edges
                    .iter()
                    .filter(|(from, _)| from.as_deref() == Some(next.as_str()))
                    .map(|(_, to)| to.clone()),
            );
        }
    }
    // Security schemes are used by name in security requirements.
    let mut schemes_used: BTreeSet<String> = BTreeSet::new();
    let mut note_requirements = |list: Option<&Value>| {
        for req in list.and_then(Value::as_array).into_iter().flatten() {
            for name in req.as_object().into_iter().flatten().map(|(k, _)| k) {
                schemes_used.insert(name.clone());
            }
        }
    };
    note_requirements(doc.value.get("security"));
    for op in operations(doc) {
        note_requirements(op.value.get("security"));
    }
    let Some(components) = doc.value.get("components").and_then(Value::as_object) else {
        return;
    };
    for (section, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for name in entries.keys() {
            let pointer = child(&child("/components", section), name);
            let unused = if section == "securitySchemes" {
                !schemes_used.contains(name)
            } else {
                COMPONENT_SECTIONS.contains(&section.as_str()) && !used.contains(&pointer)
            };
            if unused {
                out.push(Finding::at(
                    &UNUSED_COMPONENT,
                    doc,
                    &pointer,
                    format!("components.{section}.{name} is never used"),
                ));
            }
        }
    }
}

/// The component (`/components/<section>/<name>`) a pointer lies in.
fn component_of(pointer: &str) -> Option<String> {
    let mut parts = pointer.strip_prefix("/components/")?.splitn(3, '/');
    let section = parts.next()?;
    let name = parts.next()?;
    Some(format!("/components/{section}/{name}"))
}

/// Whether `host` is reserved for examples or local use (RFC 2606, RFC 6761).
fn placeholder_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    ["example.com", "example.net", "example.org", "localhost"]
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        || [".example", ".test", ".invalid", ".localhost"]
            .iter()
            .any(|tld| host.ends_with(tld))
        || host == "127.0.0.1"
}

fn placeholder_servers(doc: &Document, out: &mut Vec<Finding>) {
    for (i, server) in doc
        .value
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(url) = server.get("url").and_then(Value::as_str) else {
            continue;
        };
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or(host);
        let host = host.split(':').next().unwrap_or(host);
        if !host.contains('{') && placeholder_host(host) {
            out.push(Finding::at(
                &PLACEHOLDER_SERVER,
                doc,
                &format!("/servers/{i}/url"),
                format!(
                    "server `{url}` is a placeholder; a polyproto API lives on each actor's home \
                     server: write `https://{{domain}}` with a server variable instead"
                ),
            ));
        }
    }
}

fn empty_tags(doc: &Document, out: &mut Vec<Finding>) {
    let declared = doc.value.get("tags").and_then(Value::as_array);
    let ops = operations(doc);
    let untagged: Vec<&str> = ops
        .iter()
        .filter(|op| {
            op.value
                .get("tags")
                .and_then(Value::as_array)
                .is_none_or(|t| t.is_empty())
        })
        .map(|op| op.label.as_str())
        .collect();
    let declared_empty = declared.is_some_and(|t| t.is_empty());
    if !declared_empty && untagged.is_empty() {
        return;
    }
    let mut message = if declared_empty {
        "`tags` is empty".to_owned()
    } else {
        String::new()
    };
    if !untagged.is_empty() {
        if !message.is_empty() {
            message.push_str(" and ");
        }
        message.push_str(&format!(
            "{} of {} operations have no tag ({})",
            untagged.len(),
            ops.len(),
            untagged.join(", ")
        ));
    }
    out.push(Finding::at(&EMPTY_TAGS, doc, "/tags", message));
}

fn oas30_model(doc: &Document, out: &mut Vec<Finding>) {
    if doc.dialect != Dialect::Oas30 {
        return;
    }
    if let Err(e) = serde_json::from_value::<openapiv3::OpenAPI>(doc.value.clone()) {
        out.push(Finding::at(
            &OAS30_MODEL,
            doc,
            "",
            format!("not a valid OpenAPI 3.0 document: {e}"),
        ));
    }
}

fn required_with_default(doc: &Document, out: &mut Vec<Finding>) {
    for_each_schema(doc, |pointer, schema| {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, prop) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(default) = prop
                .get("default")
                .filter(|_| required.contains(&name.as_str()))
            {
                out.push(Finding::at(
                    &REQUIRED_WITH_DEFAULT,
                    doc,
                    &format!("{}/default", child(&child(pointer, "properties"), name)),
                    format!("`{name}` is required, so its default {default} never applies"),
                ));
            }
        }
    });
}

fn invalid_examples(doc: &Document, out: &mut Vec<Finding>) {
    for_each_schema(doc, |pointer, schema| {
        let mut examples: Vec<(String, &Value)> = Vec::new();
        if let Some(example) = schema.get("example") {
            examples.push((format!("{pointer}/example"), example));
        }
        if let Some(list) = schema.get("examples").and_then(Value::as_array) {
            for (i, example) in list.iter().enumerate() {
                examples.push((format!("{pointer}/examples/{i}"), example));
            }
        }
        if examples.is_empty() {
            return;
        }
        let Ok(resolved) = p2mls_openapi::resolve(&doc.value, schema, 0) else {
            return; // dangling references: reported by P2L-STRUCT-001
        };
        let (resolved, draft) = match doc.dialect {
            Dialect::Oas30 => (as_draft4(&resolved), jsonschema::Draft::Draft4),
            Dialect::Oas31 => (resolved, jsonschema::Draft::Draft202012),
        };
        let Ok(validator) = jsonschema::options().with_draft(draft).build(&resolved) else {
            return; // an invalid schema: reported by P2L-STRUCT-002
        };
        for (at, example) in examples {
            if let Some(e) = validator.iter_errors(example).next() {
                out.push(Finding::at(
                    &INVALID_EXAMPLE,
                    doc,
                    &at,
                    format!("the example does not fit its schema: {e}"),
                ));
            }
        }
    });
}

fn trailing_slashes(doc: &Document, out: &mut Vec<Finding>) {
    for path in doc
        .value
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
    {
        if path.len() > 1 && path.ends_with('/') {
            out.push(Finding::at(
                &TRAILING_SLASH,
                doc,
                &child("/paths", path),
                format!(
                    "path `{path}` ends in `/`; servers route `{}` and `{path}` apart",
                    path.trim_end_matches('/')
                ),
            ));
        }
    }
}

/// For every `anyOf`/`oneOf` member equal to an earlier one: (pointer of the duplicate, keyword,
/// index of the duplicate, index of the first copy).
pub fn duplicate_members(doc: &Document) -> Vec<(String, &'static str, usize, usize)> {
    let mut found = Vec::new();
    for_each_schema(doc, |pointer, schema| {
        for keyword in ["anyOf", "oneOf"] {
            let Some(members) = schema.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            for (i, member) in members.iter().enumerate() {
                if let Some(first) = members[..i].iter().position(|m| m == member) {
                    found.push((
                        format!("{}/{i}", child(pointer, keyword)),
                        keyword,
                        i,
                        first,
                    ));
                }
            }
        }
    });
    found
}

fn duplicate_subschemas(doc: &Document, out: &mut Vec<Finding>) {
    for (pointer, keyword, i, first) in duplicate_members(doc) {
        out.push(Finding::at(
            &DUPLICATE_SUBSCHEMA,
            doc,
            &pointer,
            format!("{keyword} member {i} is the same schema as member {first}"),
        ));
    }
}

fn undescribed_operations(doc: &Document, out: &mut Vec<Finding>) {
    for op in operations(doc) {
        let has = |key: &str| {
            op.value
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
        };
        if !has("description") && !has("summary") {
            out.push(Finding::at(
                &UNDESCRIBED_OPERATION,
                doc,
                &op.pointer,
                format!("{} has neither a description nor a summary", op.label),
            ));
        }
    }
}

/// Splits a pointer into its unescaped segments (used by tests and other modules).
pub fn segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(unescape).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::findings;

    fn doc31(paths: &str, components: &str) -> String {
        format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\ntags: [{{name: a}}]\npaths:\n{paths}components:\n{components}"
        )
    }

    const OP: &str = "  /.p2/x/v1/a:\n    get:\n      operationId: a_getThing\n      tags: [a]\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Thing'}\n";

    #[test]
    fn unresolved_ref_fires_and_stays_silent() {
        let bad = doc31(OP, "  schemas:\n    Other: {type: string}\n");
        let f = findings(&bad, UNRESOLVED_REF.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].line, 14);
        assert!(f[0].pointer.ends_with("/schema/$ref"));
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, UNRESOLVED_REF.id).is_empty());
    }

    #[test]
    fn invalid_schema_fires_per_dialect_and_stays_silent() {
        let bad = doc31(OP, "  schemas:\n    Thing: {type: string, minLength: -1}\n");
        assert_eq!(findings(&bad, INVALID_SCHEMA.id).len(), 1);
        let regex = doc31(OP, "  schemas:\n    Thing: {type: string, pattern: '(['}\n");
        assert_eq!(findings(&regex, INVALID_SCHEMA.id).len(), 1);
        // 3.1 allows type arrays; 3.0 does not.
        let arrays = "  schemas:\n    Thing: {type: [string, 'null']}\n";
        assert!(findings(&doc31(OP, arrays), INVALID_SCHEMA.id).is_empty());
        let as30 = doc31(OP, arrays).replace("3.1.0", "3.0.3");
        let f = findings(&as30, INVALID_SCHEMA.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].pointer.ends_with("/Thing/type"));
        let good = doc31(OP, "  schemas:\n    Thing: {type: string, minLength: 1}\n");
        assert!(findings(&good, INVALID_SCHEMA.id).is_empty());
    }

    #[test]
    fn dialect_keyword_fires_and_stays_silent() {
        let in31 = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, nullable: true}\n",
        );
        assert_eq!(findings(&in31, DIALECT_KEYWORD.id).len(), 1);
        let in30 = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, contentEncoding: base64}\n",
        )
        .replace("3.1.0", "3.0.3");
        let f = findings(&in30, DIALECT_KEYWORD.id);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("format: byte"));
        let siblings = doc31(
            OP,
            "  schemas:\n    Thing: {type: object, properties: {k: {$ref: '#/components/schemas/K', description: d}}}\n    K: {type: string}\n",
        )
        .replace("3.1.0", "3.0.3");
        assert_eq!(findings(&siblings, DIALECT_KEYWORD.id).len(), 1);
        let good30 = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, format: byte, nullable: true}\n",
        )
        .replace("3.1.0", "3.0.3");
        assert!(findings(&good30, DIALECT_KEYWORD.id).is_empty());
        let good31 = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, contentEncoding: base64}\n",
        );
        assert!(findings(&good31, DIALECT_KEYWORD.id).is_empty());
    }

    #[test]
    fn operation_id_unique_fires_and_stays_silent() {
        let twice = format!(
            "{OP}  /.p2/x/v1/b:\n    get:\n      operationId: a_getThing\n      tags: [a]\n      responses:\n        '204': {{description: none}}\n    put:\n      tags: [a]\n      responses:\n        '204': {{description: none}}\n"
        );
        let f = findings(
            &doc31(&twice, "  schemas:\n    Thing: {type: string}\n"),
            OPERATION_ID_UNIQUE.id,
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().any(|f| f.message.contains("also used")));
        assert!(f.iter().any(|f| f.message.contains("has no operationId")));
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, OPERATION_ID_UNIQUE.id).is_empty());
    }

    #[test]
    fn operation_id_naming_fires_and_stays_silent() {
        for bad in ["Registered_name", "getThing", "a_GetThing", "a_actorCerts"] {
            assert!(naming_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "groups_createGroup",
            "Unregistered_getKeyTrials",
            "a_getThing",
        ] {
            assert_eq!(naming_problem(good), None, "{good}");
        }
        let bad = doc31(
            &OP.replace("a_getThing", "Registered_name"),
            "  schemas:\n    Thing: {type: string}\n",
        );
        assert_eq!(findings(&bad, OPERATION_ID_NAMING.id).len(), 1);
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, OPERATION_ID_NAMING.id).is_empty());
    }

    #[test]
    fn unused_component_fires_transitively_and_stays_silent() {
        let bad = doc31(
            OP,
            "  schemas:\n    Thing: {type: string}\n    Lonely: {type: object, properties: {x: {$ref: '#/components/schemas/Only'}}}\n    Only: {type: string}\n  securitySchemes:\n    BearerAuth: {type: http, scheme: bearer}\n",
        );
        let f = findings(&bad, UNUSED_COMPONENT.id);
        let names: Vec<&str> = f.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            names,
            [
                "/components/schemas/Lonely",
                "/components/schemas/Only",
                "/components/securitySchemes/BearerAuth"
            ]
        );
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, UNUSED_COMPONENT.id).is_empty());
    }

    #[test]
    fn placeholder_server_fires_and_stays_silent() {
        let base = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        let bad = format!(
            "{base}servers:\n  - url: https://example.com\n  - url: http://api.test:8080/x\n"
        );
        assert_eq!(findings(&bad, PLACEHOLDER_SERVER.id).len(), 2);
        let good = format!(
            "{base}servers:\n  - url: 'https://{{domain}}'\n    variables: {{domain: {{default: polyphony.chat}}}}\n  - url: https://polyphony.chat\n"
        );
        assert!(findings(&good, PLACEHOLDER_SERVER.id).is_empty());
    }

    #[test]
    fn empty_tags_fires_and_stays_silent() {
        let bad = doc31(OP, "  schemas:\n    Thing: {type: string}\n")
            .replace("tags: [{name: a}]", "tags: []")
            .replace("      tags: [a]\n", "");
        let f = findings(&bad, EMPTY_TAGS.id);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("1 of 1 operations"),
            "{}",
            f[0].message
        );
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, EMPTY_TAGS.id).is_empty());
    }

    #[test]
    fn required_with_default_fires_and_stays_silent() {
        let bad = doc31(OP, "  schemas:\n    Thing:\n      type: object\n      required: [last]\n      properties:\n        last: {type: boolean, default: false}\n");
        let f = findings(&bad, REQUIRED_WITH_DEFAULT.id);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 21);
        let good = bad.replace("required: [last]", "required: []");
        assert!(findings(&good, REQUIRED_WITH_DEFAULT.id).is_empty());
    }

    #[test]
    fn invalid_example_fires_and_stays_silent() {
        let bad = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, maxLength: 4, examples: [abcdefgh]}\n",
        );
        assert_eq!(findings(&bad, INVALID_EXAMPLE.id).len(), 1);
        let bad30 = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, maxLength: 4, example: abcdefgh}\n",
        )
        .replace("3.1.0", "3.0.3");
        assert_eq!(findings(&bad30, INVALID_EXAMPLE.id).len(), 1);
        let good = doc31(
            OP,
            "  schemas:\n    Thing: {type: string, maxLength: 4, examples: [abcd]}\n",
        );
        assert!(findings(&good, INVALID_EXAMPLE.id).is_empty());
    }

    #[test]
    fn trailing_slash_fires_and_stays_silent() {
        let bad = doc31(
            &OP.replace("/.p2/x/v1/a:", "/.p2/x/v1/a/:"),
            "  schemas:\n    Thing: {type: string}\n",
        );
        let f = findings(&bad, TRAILING_SLASH.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].pointer.as_str(), f[0].line),
            ("/paths/~1.p2~1x~1v1~1a~1", 5)
        );
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        assert!(findings(&good, TRAILING_SLASH.id).is_empty());
    }

    #[test]
    fn duplicate_subschema_fires_and_stays_silent() {
        let bad = doc31(
            OP,
            "  schemas:\n    Thing:\n      anyOf:\n        - {type: array, items: {type: string}}\n        - {type: array, items: {type: string}}\n        - {type: integer}\n      oneOf: [{type: integer}, {type: integer}]\n",
        );
        let f = findings(&bad, DUPLICATE_SUBSCHEMA.id);
        let pointers: Vec<&str> = f.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/components/schemas/Thing/anyOf/1",
                "/components/schemas/Thing/oneOf/1"
            ]
        );
        let good = doc31(
            OP,
            "  schemas:\n    Thing:\n      anyOf:\n        - {type: array, items: {type: string}}\n        - {type: array, items: {type: integer}}\n",
        );
        assert!(findings(&good, DUPLICATE_SUBSCHEMA.id).is_empty());
    }

    #[test]
    fn undescribed_operation_fires_and_stays_silent() {
        let bad = doc31(OP, "  schemas:\n    Thing: {type: string}\n");
        let f = findings(&bad, UNDESCRIBED_OPERATION.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Info);
        for key in ["summary", "description"] {
            let good = bad.replace(
                "      tags: [a]\n",
                &format!("      tags: [a]\n      {key}: Get the thing\n"),
            );
            assert!(
                findings(&good, UNDESCRIBED_OPERATION.id).is_empty(),
                "{key}"
            );
        }
    }

    #[test]
    fn oas30_model_fires_and_stays_silent() {
        let good = doc31(OP, "  schemas:\n    Thing: {type: string}\n").replace("3.1.0", "3.0.3");
        assert!(findings(&good, OAS30_MODEL.id).is_empty());
        let bad = good.replace("description: ok", "description: [not, a, string]");
        assert_eq!(findings(&bad, OAS30_MODEL.id).len(), 1);
    }
}
