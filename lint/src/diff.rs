//! `p2mls diff OLD NEW`: what changed between two versions of an OpenAPI document, and for whom
//! each change breaks.
//!
//! Two perspectives, both about the wire:
//! - **clients**: a change is breaking when a client written against OLD fails against a server
//!   implementing NEW (a removed operation, a new required request field, a new token);
//! - **servers**: a change is breaking when a server implementing OLD fails clients written
//!   against NEW (a new operation, a new required response field, a new enum value in requests).
//!
//! Operations are matched by method and path with parameter names ignored, so a renamed
//! operationId is a change of one operation. Schemas are compared where they are written:
//! inline schemas with their operation, component schemas once, classified by whether requests,
//! responses or both use them (reachability through `$ref`). docs/LINT.md has the table.

use crate::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};

use crate::source::deref;
use crate::{operations, Document, Op};

/// Whether a change breaks one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impact {
    Breaking,
    NonBreaking,
}

use Impact::{Breaking, NonBreaking};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Added,
    Removed,
    Changed,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: Kind,
    /// What changed: operation, operationId, security, parameter, request-body, response,
    /// media-type, schema, property, required, enum, type, constraint, document.
    pub subject: &'static str,
    /// Where: `METHOD /path`, `METHOD /path request body`, `schema KeyPackage.id`, ...
    pub location: String,
    pub detail: String,
    pub clients: Impact,
    pub servers: Impact,
}

/// The result of `p2mls diff`.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub old: Side,
    pub new: Side,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub name: String,
    pub title: String,
    pub version: String,
}

impl DiffReport {
    pub fn breaking_for_clients(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.clients == Breaking)
            .count()
    }

    pub fn breaking_for_servers(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.servers == Breaking)
            .count()
    }
}

/// Which messages a schema takes part in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    request: bool,
    response: bool,
}

impl Usage {
    const REQUEST: Usage = Usage {
        request: true,
        response: false,
    };
    const RESPONSE: Usage = Usage {
        request: false,
        response: true,
    };

    fn or(self, other: Usage) -> Usage {
        Usage {
            request: self.request || other.request,
            response: self.response || other.response,
        }
    }

    /// (clients, servers) for a change that breaks whoever writes the message under the other
    /// version (a new required field, a tightened constraint, a removed alternative).
    fn writer_breaks(self) -> (Impact, Impact) {
        // Requests are written by clients, responses by servers.
        (
            if self.request { Breaking } else { NonBreaking },
            if self.response { Breaking } else { NonBreaking },
        )
    }

    /// (clients, servers) for a change that breaks whoever reads the message under the other
    /// version (a new enum value, a new media type, a dropped required field).
    fn reader_breaks(self) -> (Impact, Impact) {
        // Requests are read by servers, responses by clients.
        (
            if self.response { Breaking } else { NonBreaking },
            if self.request { Breaking } else { NonBreaking },
        )
    }

    /// (clients, servers) for a change that breaks both sides wherever the schema is used.
    fn both_break(self) -> (Impact, Impact) {
        if self.request || self.response {
            (Breaking, Breaking)
        } else {
            (NonBreaking, NonBreaking)
        }
    }
}

struct Differ<'a> {
    old: &'a Document,
    new: &'a Document,
    changes: Vec<Change>,
}

impl Differ<'_> {
    fn push(
        &mut self,
        kind: Kind,
        subject: &'static str,
        location: impl Into<String>,
        detail: impl Into<String>,
        (clients, servers): (Impact, Impact),
    ) {
        self.changes.push(Change {
            kind,
            subject,
            location: location.into(),
            detail: detail.into(),
            clients,
            servers,
        });
    }
}

/// Matches operations across versions: method and path with parameter names erased.
fn op_key(op: &Op<'_>) -> String {
    let mut key = String::new();
    let mut in_param = false;
    for c in op.path.chars() {
        match c {
            '{' => {
                in_param = true;
                key.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => key.push(c),
        }
    }
    format!("{} {key}", op.method.to_uppercase())
}

/// An operation key without the trailing slash of its path.
fn slashless(key: &str) -> &str {
    if key.ends_with('/') && !key.ends_with(" /") {
        &key[..key.len() - 1]
    } else {
        key
    }
}

fn op_title(op: &Op<'_>) -> String {
    format!("{} {}", op.method.to_uppercase(), op.path)
}

fn op_id<'a>(op: &Op<'a>) -> Option<&'a str> {
    op.value.get("operationId").and_then(Value::as_str)
}

/// Compares two documents.
pub fn diff(old: &Document, new: &Document) -> DiffReport {
    let mut d = Differ {
        old,
        new,
        changes: Vec::new(),
    };
    document(&mut d);
    let old_ops = operations(old);
    let new_ops = operations(new);
    let new_by_key: BTreeMap<String, &Op<'_>> = new_ops.iter().map(|o| (op_key(o), o)).collect();
    let mut old_keys: BTreeSet<String> = old_ops.iter().map(op_key).collect();
    for o in &old_ops {
        // A path that only gained or lost its trailing slash is the same operation, moved.
        let moved = || {
            new_ops
                .iter()
                .filter(|n| !old_keys.contains(&op_key(n)))
                .find(|n| slashless(&op_key(n)) == slashless(&op_key(o)))
        };
        match new_by_key.get(&op_key(o)) {
            Some(n) => operation(&mut d, o, n),
            None if moved().is_some() => {
                let n = moved().expect("checked");
                d.push(
                    Kind::Changed,
                    "path",
                    op_title(n),
                    format!(
                        "path {} -> {} (servers route the two apart: clients of OLD call the \
                         old path, servers implementing OLD serve only it)",
                        o.path, n.path
                    ),
                    (Breaking, Breaking),
                );
                operation(&mut d, o, n);
                old_keys.insert(op_key(n));
            }
            None => d.push(
                Kind::Removed,
                "operation",
                op_title(o),
                format!("{} is gone", op_id(o).unwrap_or("the operation")),
                (Breaking, NonBreaking),
            ),
        }
    }
    for n in new_ops.iter().filter(|n| !old_keys.contains(&op_key(n))) {
        d.push(
            Kind::Added,
            "operation",
            op_title(n),
            format!("{} is new", op_id(n).unwrap_or("the operation")),
            (NonBreaking, Breaking),
        );
    }
    components(&mut d);
    DiffReport {
        old: side(old),
        new: side(new),
        changes: d.changes,
    }
}

fn side(doc: &Document) -> Side {
    Side {
        name: doc.name.clone(),
        title: doc.title().unwrap_or_default().to_owned(),
        version: doc.version().unwrap_or_default().to_owned(),
    }
}

/// The server URLs of a document.
fn server_urls(doc: &Document) -> Vec<&str> {
    doc.value
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(Value::as_str))
        .collect()
}

fn document(d: &mut Differ<'_>) {
    let (old, new) = (server_urls(d.old), server_urls(d.new));
    if old != new {
        d.push(
            Kind::Changed,
            "document",
            "servers",
            format!(
                "{} -> {} (where tools send requests; not part of the wire contract)",
                old.join(", "),
                new.join(", ")
            ),
            (NonBreaking, NonBreaking),
        );
    }
    for (field, old, new) in [
        ("info.version", d.old.version(), d.new.version()),
        ("info.title", d.old.title(), d.new.title()),
    ] {
        if old != new {
            d.push(
                Kind::Changed,
                "document",
                field,
                format!("{} -> {}", old.unwrap_or("-"), new.unwrap_or("-")),
                (NonBreaking, NonBreaking),
            );
        }
    }
}

fn operation(d: &mut Differ<'_>, o: &Op<'_>, n: &Op<'_>) {
    let at = op_title(n);
    if op_id(o) != op_id(n) {
        d.push(
            Kind::Changed,
            "operationId",
            &at,
            format!(
                "{} -> {} (names in generated code change; the wire does not)",
                op_id(o).unwrap_or("-"),
                op_id(n).unwrap_or("-")
            ),
            (NonBreaking, NonBreaking),
        );
    }
    if op_key(o) == op_key(n) && o.path != n.path {
        d.push(
            Kind::Changed,
            "parameter",
            &at,
            format!("path parameters renamed: {} -> {}", o.path, n.path),
            (NonBreaking, NonBreaking),
        );
    }
    match (o.secured(d.old), n.secured(d.new)) {
        (false, true) => d.push(
            Kind::Added,
            "security",
            &at,
            "the operation now requires credentials",
            (Breaking, NonBreaking),
        ),
        (true, false) => d.push(
            Kind::Removed,
            "security",
            &at,
            "the operation no longer requires credentials",
            (NonBreaking, Breaking),
        ),
        _ => {}
    }
    parameters(d, o, n, &at);
    request_body(d, o, n, &at);
    responses(d, o, n, &at);
}

/// Query, header and cookie parameters by (in, name), with path-level parameters included.
fn named_parameters<'a>(doc: &'a Document, op: &Op<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    let item = doc
        .value
        .get("paths")
        .and_then(|p| p.get(op.path))
        .map(|i| deref(&doc.value, i));
    let lists = [
        item.and_then(|i| i.get("parameters")),
        op.value.get("parameters"),
    ];
    for p in lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
    {
        let p = deref(&doc.value, p);
        let (Some(name), Some(location)) = (
            p.get("name").and_then(Value::as_str),
            p.get("in").and_then(Value::as_str),
        ) else {
            continue;
        };
        if location != "path" {
            out.insert((location.to_owned(), name.to_owned()), p);
        }
    }
    out
}

fn required(v: &Value) -> bool {
    v.get("required").and_then(Value::as_bool) == Some(true)
}

fn parameters(d: &mut Differ<'_>, o: &Op<'_>, n: &Op<'_>, at: &str) {
    let old = named_parameters(d.old, o);
    let new = named_parameters(d.new, n);
    for ((location, name), p) in &new {
        let here = format!("{at} {location} parameter `{name}`");
        match old.get(&(location.clone(), name.clone())) {
            None if required(p) => {
                d.push(
                    Kind::Added,
                    "parameter",
                    here,
                    "new required parameter",
                    (Breaking, NonBreaking),
                );
            }
            None => d.push(
                Kind::Added,
                "parameter",
                here,
                "new optional parameter (servers implementing OLD ignore it)",
                (NonBreaking, NonBreaking),
            ),
            Some(q) => {
                match (required(q), required(p)) {
                    (false, true) => d.push(
                        Kind::Changed,
                        "required",
                        &here,
                        "the parameter became required",
                        (Breaking, NonBreaking),
                    ),
                    (true, false) => d.push(
                        Kind::Changed,
                        "required",
                        &here,
                        "the parameter became optional",
                        (NonBreaking, Breaking),
                    ),
                    _ => {}
                }
                if let (Some(a), Some(b)) = (q.get("schema"), p.get("schema")) {
                    schema(d, a, b, Usage::REQUEST, &here);
                }
            }
        }
    }
    for ((location, name), p) in &old {
        if !new.contains_key(&(location.clone(), name.clone())) {
            let impact = if required(p) {
                (NonBreaking, Breaking)
            } else {
                (NonBreaking, NonBreaking)
            };
            d.push(
                Kind::Removed,
                "parameter",
                format!("{at} {location} parameter `{name}`"),
                if required(p) {
                    "required parameter removed (servers implementing OLD still require it)"
                } else {
                    "optional parameter removed"
                },
                impact,
            );
        }
    }
}

/// Media type -> schema of a content map.
fn content(doc: &Document, holder: Option<&Value>) -> BTreeMap<String, Option<Value>> {
    holder
        .map(|h| deref(&doc.value, h))
        .and_then(|h| h.get("content"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(m, body)| (m.clone(), body.get("schema").cloned()))
        .collect()
}

fn request_body(d: &mut Differ<'_>, o: &Op<'_>, n: &Op<'_>, at: &str) {
    let here = format!("{at} request body");
    let (old, new) = (o.value.get("requestBody"), n.value.get("requestBody"));
    let required_body =
        |doc: &Document, b: Option<&Value>| b.map(|b| deref(&doc.value, b)).is_some_and(required);
    match (old, new) {
        (None, None) => return,
        (None, Some(_)) => {
            let impact = if required_body(d.new, new) {
                (Breaking, NonBreaking)
            } else {
                (NonBreaking, NonBreaking)
            };
            d.push(
                Kind::Added,
                "request-body",
                &here,
                "new request body",
                impact,
            );
            return;
        }
        (Some(_), None) => {
            d.push(
                Kind::Removed,
                "request-body",
                &here,
                "the request body is gone (servers implementing OLD still expect it)",
                (NonBreaking, Breaking),
            );
            return;
        }
        (Some(_), Some(_)) => {}
    }
    match (required_body(d.old, old), required_body(d.new, new)) {
        (false, true) => d.push(
            Kind::Changed,
            "required",
            &here,
            "the request body became required",
            (Breaking, NonBreaking),
        ),
        (true, false) => d.push(
            Kind::Changed,
            "required",
            &here,
            "the request body became optional",
            (NonBreaking, Breaking),
        ),
        _ => {}
    }
    media(
        d,
        content(d.old, old),
        content(d.new, new),
        Usage::REQUEST,
        &here,
    );
}

fn media(
    d: &mut Differ<'_>,
    old: BTreeMap<String, Option<Value>>,
    new: BTreeMap<String, Option<Value>>,
    usage: Usage,
    at: &str,
) {
    for (m, s) in &new {
        match old.get(m) {
            None => d.push(
                Kind::Added,
                "media-type",
                format!("{at} {m}"),
                "new media type",
                usage.reader_breaks(),
            ),
            Some(t) => {
                if let (Some(a), Some(b)) = (t, s) {
                    schema(d, a, b, usage, &format!("{at} {m}"));
                }
            }
        }
    }
    for m in old.keys().filter(|m| !new.contains_key(*m)) {
        d.push(
            Kind::Removed,
            "media-type",
            format!("{at} {m}"),
            "media type removed",
            usage.writer_breaks(),
        );
    }
}

fn responses(d: &mut Differ<'_>, o: &Op<'_>, n: &Op<'_>, at: &str) {
    let statuses = |op: &Op<'_>| -> Vec<String> {
        op.value
            .get("responses")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (old, new) = (statuses(o), statuses(n));
    let success = |s: &str| s.starts_with('2');
    for s in &new {
        let here = format!("{at} response {s}");
        fn response<'a>(op: &Op<'a>, status: &str) -> Option<&'a Value> {
            op.value.get("responses").and_then(|r| r.get(status))
        }
        if old.contains(s) {
            media(
                d,
                content(d.old, response(o, s)),
                content(d.new, response(n, s)),
                Usage::RESPONSE,
                &here,
            );
        } else if success(s) {
            d.push(
                Kind::Added,
                "response",
                here,
                "new success status (clients of OLD do not expect it)",
                (Breaking, NonBreaking),
            );
        } else {
            d.push(
                Kind::Added,
                "response",
                here,
                "new documented status",
                (NonBreaking, NonBreaking),
            );
        }
    }
    for s in old.iter().filter(|s| !new.contains(s)) {
        let impact = if success(s) {
            (NonBreaking, Breaking)
        } else {
            (NonBreaking, NonBreaking)
        };
        d.push(
            Kind::Removed,
            "response",
            format!("{at} response {s}"),
            if success(s) {
                "success status removed (servers of OLD still send it)"
            } else {
                "documented status removed"
            },
            impact,
        );
    }
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(|r| r.rsplit('/').next().unwrap_or(r))
}

fn type_of(schema: &Value) -> Option<String> {
    schema.get("type").map(|t| match t {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Compares two schemas as written (references by name; the components they name are compared
/// once, in `components`).
fn schema(d: &mut Differ<'_>, a: &Value, b: &Value, usage: Usage, at: &str) {
    match (ref_name(a), ref_name(b)) {
        (Some(x), Some(y)) if x == y => return,
        (Some(x), Some(y)) => {
            d.push(
                Kind::Changed,
                "schema",
                at,
                format!("schema {x} replaced by {y}"),
                usage.both_break(),
            );
            return;
        }
        (None, None) => {}
        (x, y) => {
            d.push(
                Kind::Changed,
                "schema",
                at,
                format!(
                    "schema {} replaced by {}",
                    x.unwrap_or("(inline)"),
                    y.unwrap_or("(inline)")
                ),
                usage.both_break(),
            );
            return;
        }
    }
    if type_of(a) != type_of(b) {
        d.push(
            Kind::Changed,
            "type",
            at,
            format!(
                "type {} -> {}",
                type_of(a).unwrap_or("-".into()),
                type_of(b).unwrap_or("-".into())
            ),
            usage.both_break(),
        );
        return;
    }
    for key in ["format", "contentEncoding", "pattern"] {
        if a.get(key) != b.get(key) {
            d.push(
                Kind::Changed,
                if key == "pattern" {
                    "constraint"
                } else {
                    "type"
                },
                at,
                format!("{key} {} -> {}", show(a.get(key)), show(b.get(key))),
                usage.both_break(),
            );
        }
    }
    if a.get("default") != b.get("default") {
        d.push(
            Kind::Changed,
            "default",
            at,
            format!(
                "default {} -> {} (what readers assume when the value is absent)",
                show(a.get("default")),
                show(b.get("default"))
            ),
            usage.reader_breaks(),
        );
    }
    enums(d, a, b, usage, at);
    constraints(d, a, b, usage, at);
    properties(d, a, b, usage, at);
    if let (Some(x), Some(y)) = (a.get("items"), b.get("items")) {
        schema(d, x, y, usage, &format!("{at}[]"));
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        let (x, y) = (
            a.get(key).and_then(Value::as_array),
            b.get(key).and_then(Value::as_array),
        );
        match (x, y) {
            (Some(x), Some(y)) if x.len() == y.len() => {
                for (i, (s, t)) in x.iter().zip(y).enumerate() {
                    schema(d, s, t, usage, &format!("{at} {key}[{i}]"));
                }
            }
            (Some(x), Some(y)) if key != "allOf" && distinct(x) == distinct(y) => {
                if key == "anyOf" {
                    d.push(
                        Kind::Changed,
                        "schema",
                        at,
                        "repeated anyOf member removed or added (the same alternatives)",
                        (NonBreaking, NonBreaking),
                    );
                } else {
                    // A value matching a repeated oneOf member matches twice and is rejected.
                    let loosened = y.len() < x.len();
                    d.push(
                        Kind::Changed,
                        "schema",
                        at,
                        if loosened {
                            "repeated oneOf member removed: values matching it were rejected \
                             and are valid now"
                        } else {
                            "oneOf member repeated: values matching it are rejected now"
                        },
                        if loosened {
                            usage.reader_breaks()
                        } else {
                            usage.writer_breaks()
                        },
                    );
                }
            }
            (None, None) => {}
            _ => d.push(
                Kind::Changed,
                "schema",
                at,
                format!("{key} changed"),
                usage.both_break(),
            ),
        }
    }
}

/// The members of a list without repeats, in first-seen order.
fn distinct(list: &[Value]) -> Vec<&Value> {
    let mut out: Vec<&Value> = Vec::new();
    for v in list {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "-".to_owned(), Value::to_string)
}

fn enums(d: &mut Differ<'_>, a: &Value, b: &Value, usage: Usage, at: &str) {
    let values =
        |s: &Value| -> Option<Vec<Value>> { s.get("enum").and_then(Value::as_array).cloned() };
    let (Some(x), Some(y)) = (values(a), values(b)) else {
        if values(a).is_some() != values(b).is_some() {
            d.push(
                Kind::Changed,
                "enum",
                at,
                if values(b).is_some() {
                    "values restricted to an enum"
                } else {
                    "enum restriction lifted"
                },
                if values(b).is_some() {
                    usage.writer_breaks()
                } else {
                    usage.reader_breaks()
                },
            );
        }
        return;
    };
    let added: Vec<String> = y
        .iter()
        .filter(|v| !x.contains(v))
        .map(Value::to_string)
        .collect();
    let removed: Vec<String> = x
        .iter()
        .filter(|v| !y.contains(v))
        .map(Value::to_string)
        .collect();
    if !added.is_empty() {
        d.push(
            Kind::Added,
            "enum",
            at,
            format!("new values {}", added.join(", ")),
            usage.reader_breaks(),
        );
    }
    if !removed.is_empty() {
        d.push(
            Kind::Removed,
            "enum",
            at,
            format!("values {} removed", removed.join(", ")),
            usage.writer_breaks(),
        );
    }
}

/// Lower bounds (`true`) and upper bounds (`false`) that constrain values.
const BOUNDS: &[(&str, bool)] = &[
    ("minLength", true),
    ("maxLength", false),
    ("minimum", true),
    ("maximum", false),
    ("exclusiveMinimum", true),
    ("exclusiveMaximum", false),
    ("minItems", true),
    ("maxItems", false),
];

fn constraints(d: &mut Differ<'_>, a: &Value, b: &Value, usage: Usage, at: &str) {
    for (key, lower) in BOUNDS {
        let (x, y) = (
            a.get(*key).and_then(Value::as_f64),
            b.get(*key).and_then(Value::as_f64),
        );
        let tightened = match (x, y) {
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) if x != y => (y > x) == *lower,
            _ => continue,
        };
        let detail = format!(
            "{key} {} -> {} ({})",
            show(a.get(*key)),
            show(b.get(*key)),
            if tightened { "tightened" } else { "loosened" }
        );
        let impact = if tightened {
            usage.writer_breaks()
        } else {
            usage.reader_breaks()
        };
        d.push(Kind::Changed, "constraint", at, detail, impact);
    }
}

fn required_names(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn properties(d: &mut Differ<'_>, a: &Value, b: &Value, usage: Usage, at: &str) {
    let empty = serde_json::Map::new();
    let x = a
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let y = b
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (ra, rb) = (required_names(a), required_names(b));
    for (name, t) in y {
        let here = format!("{at}.{name}");
        match x.get(name) {
            None if rb.contains(name) => d.push(
                Kind::Added,
                "required",
                here,
                "new required field",
                usage.writer_breaks(),
            ),
            None => d.push(
                Kind::Added,
                "property",
                here,
                "new optional field",
                (NonBreaking, NonBreaking),
            ),
            Some(s)
                if ra.contains(name)
                    && rb.contains(name)
                    && s.get("default") != t.get("default") =>
            {
                // A required field's default never applies: changing it changes no message.
                d.push(
                    Kind::Changed,
                    "default",
                    &here,
                    format!(
                        "default {} -> {} of a required field (it never applied)",
                        show(s.get("default")),
                        show(t.get("default"))
                    ),
                    (NonBreaking, NonBreaking),
                );
                let mut same = t.clone();
                if let (Some(map), Some(old)) = (same.as_object_mut(), s.get("default")) {
                    map.insert("default".into(), old.clone());
                } else if let Some(map) = same.as_object_mut() {
                    map.remove("default");
                }
                schema(d, s, &same, usage, &here);
            }
            Some(s) => schema(d, s, t, usage, &here),
        }
    }
    for name in x.keys().filter(|n| !y.contains_key(*n)) {
        let impact = if ra.contains(name) {
            usage.reader_breaks()
        } else {
            (NonBreaking, NonBreaking)
        };
        d.push(
            Kind::Removed,
            "property",
            format!("{at}.{name}"),
            if ra.contains(name) {
                "required field removed"
            } else {
                "optional field removed"
            },
            impact,
        );
    }
    // Fields present in both whose required status changed.
    for name in y.keys().filter(|n| x.contains_key(*n)) {
        match (ra.contains(name), rb.contains(name)) {
            (false, true) => d.push(
                Kind::Changed,
                "required",
                format!("{at}.{name}"),
                "the field became required",
                usage.writer_breaks(),
            ),
            (true, false) => d.push(
                Kind::Changed,
                "required",
                format!("{at}.{name}"),
                "the field became optional",
                usage.reader_breaks(),
            ),
            _ => {}
        }
    }
}

/// Which component schemas requests and responses of `doc` reach.
fn usages(doc: &Document) -> BTreeMap<String, Usage> {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "$ref" {
                        if let Some(name) = v
                            .as_str()
                            .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        {
                            out.push(name.to_owned());
                        }
                    } else {
                        refs(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let schemas = doc.value.pointer("/components/schemas");
    let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
    let reach = |roots: Vec<String>, u: Usage, usage: &mut BTreeMap<String, Usage>| {
        let mut frontier = roots;
        let mut seen = BTreeSet::new();
        while let Some(name) = frontier.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let entry = usage.entry(name.clone()).or_default();
            *entry = entry.or(u);
            if let Some(s) = schemas.and_then(|s| s.get(&name)) {
                refs(s, &mut frontier);
            }
        }
    };
    for op in operations(doc) {
        let mut request = Vec::new();
        if let Some(body) = op.value.get("requestBody") {
            refs(deref(&doc.value, body), &mut request);
        }
        if let Some(params) = op.value.get("parameters") {
            refs(params, &mut request);
        }
        let mut response = Vec::new();
        if let Some(r) = op.value.get("responses") {
            for resp in r.as_object().into_iter().flatten().map(|(_, v)| v) {
                refs(deref(&doc.value, resp), &mut response);
            }
        }
        reach(request, Usage::REQUEST, &mut usage);
        reach(response, Usage::RESPONSE, &mut usage);
    }
    usage
}

fn components(d: &mut Differ<'_>) {
    let empty = serde_json::Map::new();
    let old = d
        .old
        .value
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new = d
        .new
        .value
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (uo, un) = (usages(d.old), usages(d.new));
    for (name, s) in old {
        let usage = uo
            .get(name)
            .copied()
            .unwrap_or_default()
            .or(un.get(name).copied().unwrap_or_default());
        match new.get(name) {
            Some(t) => schema(d, s, t, usage, &format!("schema {name}")),
            None => d.push(
                Kind::Removed,
                "schema",
                format!("schema {name}"),
                "component removed (operations that used it are listed above)",
                (NonBreaking, NonBreaking),
            ),
        }
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        d.push(
            Kind::Added,
            "schema",
            format!("schema {name}"),
            "new component",
            (NonBreaking, NonBreaking),
        );
    }
    // Other components (responses, parameters, ...) matter where operations use them, which
    // the operations above report; here they are listed as added or removed.
    let sections = |doc: &Document| -> BTreeSet<(String, String)> {
        doc.value
            .get("components")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(section, _)| *section != "schemas")
            .flat_map(|(section, entries)| {
                entries
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(name, _)| (section.clone(), name.clone()))
            })
            .collect()
    };
    let (old, new) = (sections(d.old), sections(d.new));
    for (section, name) in new.difference(&old) {
        d.push(
            Kind::Added,
            "component",
            format!("{section} {name}"),
            "new component",
            (NonBreaking, NonBreaking),
        );
    }
    for (section, name) in old.difference(&new) {
        d.push(
            Kind::Removed,
            "component",
            format!("{section} {name}"),
            "component removed (operations that used it are listed above)",
            (NonBreaking, NonBreaking),
        );
    }
}

/// Output formats of `p2mls diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DiffFormat {
    #[default]
    Text,
    Json,
}

/// Which side's breaking changes make `p2mls diff` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOnBreaking {
    Clients,
    Servers,
    Any,
}

/// Options of `p2mls diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The older document.
    pub old: PathBuf,
    /// The newer document.
    pub new: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit 1 when a change breaks this side.
    #[arg(long = "fail-on-breaking", value_enum)]
    pub fail_on_breaking: Option<FailOnBreaking>,
}

/// Runs `p2mls diff`: the rendered output, or the load error (exit 2), and the exit code.
pub fn run(args: &DiffArgs) -> Result<(String, i32), Error> {
    let old = Document::load(&args.old, &args.old.display().to_string())?;
    let new = Document::load(&args.new, &args.new.display().to_string())?;
    let report = diff(&old, &new);
    let output = match args.format {
        DiffFormat::Text => text(&report),
        DiffFormat::Json => {
            serde_json::to_string_pretty(&json(&report))
                .map_err(|e| Error::Output(e.to_string()))?
                + "\n"
        }
    };
    let failing = match args.fail_on_breaking {
        None => false,
        Some(FailOnBreaking::Clients) => report.breaking_for_clients() > 0,
        Some(FailOnBreaking::Servers) => report.breaking_for_servers() > 0,
        Some(FailOnBreaking::Any) => {
            report.breaking_for_clients() + report.breaking_for_servers() > 0
        }
    };
    Ok((output, i32::from(failing)))
}

pub fn json(report: &DiffReport) -> Value {
    json!({
        "old": report.old,
        "new": report.new,
        "summary": {
            "changes": report.changes.len(),
            "breaking_for_clients": report.breaking_for_clients(),
            "breaking_for_servers": report.breaking_for_servers(),
        },
        "changes": report.changes,
    })
}

pub fn text(report: &DiffReport) -> String {
    let mut out = format!(
        "{} {} ({}) -> {} {} ({})\n\n",
        report.old.title,
        report.old.version,
        report.old.name,
        report.new.title,
        report.new.version,
        report.new.name
    );
    let mark = |i: Impact| if i == Breaking { "BREAKING" } else { "ok" };
    for c in &report.changes {
        out.push_str(&format!(
            "{:<8} {:<12} {}: {}\n         clients: {}, servers: {}\n",
            c.kind.as_str(),
            c.subject,
            c.location,
            c.detail,
            mark(c.clients),
            mark(c.servers)
        ));
    }
    out.push_str(&format!(
        "\n{} changes: {} breaking for clients, {} breaking for servers\n",
        report.changes.len(),
        report.breaking_for_clients(),
        report.breaking_for_servers()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(text, "d.yaml").expect("parses")
    }

    const BASE: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /.p2/x/v1/things/{id}:\n    get:\n      operationId: things_getThing\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json: {schema: {$ref: '#/components/schemas/Thing'}}\n    put:\n      operationId: things_putThing\n      requestBody:\n        required: true\n        content:\n          application/json: {schema: {$ref: '#/components/schemas/Input'}}\n      responses:\n        '204': {description: ok}\ncomponents:\n  schemas:\n    Thing:\n      type: object\n      required: [id]\n      properties:\n        id: {type: string}\n    Input:\n      type: object\n      required: [id]\n      properties:\n        id: {type: string}\n        kind: {type: string, enum: [a, b]}\n";

    fn find<'a>(r: &'a DiffReport, subject: &str, location: &str) -> &'a Change {
        r.changes
            .iter()
            .find(|c| c.subject == subject && c.location.contains(location))
            .unwrap_or_else(|| panic!("no {subject} change at {location}: {:#?}", r.changes))
    }

    #[test]
    fn identical_documents_have_no_changes() {
        assert!(diff(&doc(BASE), &doc(BASE)).changes.is_empty());
    }

    #[test]
    fn operations_removed_added_and_renamed() {
        let new = BASE
            .replace(
                "    put:\n      operationId: things_putThing",
                "    delete:\n      operationId: things_deleteThing",
            )
            .replace("things_getThing", "items_getThing")
            .replace("{id}", "{thingId}")
            .replace("name: id, in: path", "name: thingId, in: path");
        let r = diff(&doc(BASE), &doc(&new));
        let removed = find(&r, "operation", "PUT");
        assert_eq!(
            (removed.kind, removed.clients, removed.servers),
            (Kind::Removed, Breaking, NonBreaking)
        );
        let added = find(&r, "operation", "DELETE");
        assert_eq!(
            (added.kind, added.clients, added.servers),
            (Kind::Added, NonBreaking, Breaking)
        );
        let renamed = find(&r, "operationId", "GET");
        assert_eq!(
            (renamed.clients, renamed.servers),
            (NonBreaking, NonBreaking)
        );
        assert!(!r
            .changes
            .iter()
            .any(|c| c.subject == "operation" && c.location.starts_with("GET")));
    }

    #[test]
    fn required_fields_break_the_writer() {
        let new = BASE
            .replace("    Thing:\n      type: object\n      required: [id]\n      properties:\n        id: {type: string}\n", "    Thing:\n      type: object\n      required: [id, size]\n      properties:\n        id: {type: string}\n        size: {type: integer}\n")
            .replace("      required: [id]\n      properties:\n        id: {type: string}\n        kind:", "      required: [id, owner]\n      properties:\n        id: {type: string}\n        owner: {type: string}\n        kind:");
        let r = diff(&doc(BASE), &doc(&new));
        let response_field = find(&r, "required", "schema Thing.size");
        assert_eq!(
            (response_field.clients, response_field.servers),
            (NonBreaking, Breaking)
        );
        let request_field = find(&r, "required", "schema Input.owner");
        assert_eq!(
            (request_field.clients, request_field.servers),
            (Breaking, NonBreaking)
        );
    }

    #[test]
    fn enums_constraints_parameters_security_and_statuses() {
        let new = BASE
            .replace("enum: [a, b]", "enum: [a, b, c]")
            .replace("        id: {type: string}\n    Input:", "        id: {type: string, maxLength: 8}\n    Input:")
            .replace("      responses:\n        '204'", "      security: [{B: []}]\n      parameters:\n        - {name: v, in: query, required: true, schema: {type: string}}\n      responses:\n        '404': {description: gone}\n        '204'");
        let r = diff(&doc(BASE), &doc(&new));
        let e = find(&r, "enum", "schema Input.kind");
        assert_eq!((e.clients, e.servers), (NonBreaking, Breaking));
        let c = find(&r, "constraint", "schema Thing.id");
        assert_eq!((c.clients, c.servers), (NonBreaking, Breaking));
        let p = find(&r, "parameter", "query parameter `v`");
        assert_eq!((p.clients, p.servers), (Breaking, NonBreaking));
        let s = find(&r, "security", "PUT");
        assert_eq!((s.clients, s.servers), (Breaking, NonBreaking));
        let status = find(&r, "response", "response 404");
        assert_eq!((status.clients, status.servers), (NonBreaking, NonBreaking));
    }

    #[test]
    fn what_lint_fix_changes_is_classified() {
        let old = BASE
            .replace("/.p2/x/v1/things/{id}:", "/.p2/x/v1/things/{id}/:")
            .replace("        id: {type: string}\n    Input:", "        id: {type: string, default: x}\n    Input:")
            .replace("        kind: {type: string, enum: [a, b]}\n", "        kind: {type: string, enum: [a, b]}\n        alt: {anyOf: [{type: string}, {type: string}]}\n        one: {oneOf: [{type: string}, {type: string}]}\n")
            + "  responses:\n    Gone: {description: gone}\nservers:\n  - url: https://example.com\n";
        let new = BASE
            .replace("        kind: {type: string, enum: [a, b]}\n", "        kind: {type: string, enum: [a, b]}\n        alt: {anyOf: [{type: string}]}\n        one: {oneOf: [{type: string}]}\n")
            + "servers:\n  - url: 'https://{domain}'\n";
        let r = diff(&doc(&old), &doc(&new));
        let path = find(&r, "path", "GET /.p2/x/v1/things/{id}");
        assert_eq!((path.clients, path.servers), (Breaking, Breaking));
        assert!(
            !r.changes.iter().any(|c| c.subject == "operation"),
            "{:#?}",
            r.changes
        );
        let default = find(&r, "default", "schema Thing.id");
        assert_eq!(
            (default.clients, default.servers),
            (NonBreaking, NonBreaking)
        );
        let any = find(&r, "schema", "schema Input.alt");
        assert_eq!((any.clients, any.servers), (NonBreaking, NonBreaking));
        // Input is a request body: a loosened oneOf breaks servers of OLD.
        let one = find(&r, "schema", "schema Input.one");
        assert_eq!((one.clients, one.servers), (NonBreaking, Breaking));
        let servers = find(&r, "document", "servers");
        assert_eq!(
            (servers.clients, servers.servers),
            (NonBreaking, NonBreaking)
        );
        let gone = find(&r, "component", "responses Gone");
        assert_eq!(gone.kind, Kind::Removed);
        // An optional field's default is what readers assume when it is absent.
        let optional = BASE.replace(
            "kind: {type: string, enum: [a, b]}",
            "kind: {type: string, enum: [a, b], default: a}",
        );
        let r = diff(&doc(&optional), &doc(BASE));
        let d = find(&r, "default", "schema Input.kind");
        assert_eq!((d.clients, d.servers), (NonBreaking, Breaking));
    }
}
