//! `p2mls lint --fix`: mechanical repairs, written into the author's text.
//!
//! A repair never re-serialises the document. Each one is a list of structural changes (set a
//! scalar, add a mapping entry, remove an entry or item, rename a key) that are turned into byte
//! edits of the original text with the spans of `saphyr-parser`: untouched lines keep their key
//! order, comments, quoting and indentation. Block YAML is edited by whole lines at the
//! indentation of the siblings; flow collections (and so JSON documents) by spans, with commas.
//! The result is parsed again before it is returned; a repair whose edits would overlap another
//! one, or that has no safe place in the text, is skipped with a reason instead of guessed.
//!
//! Only rules with a repair that needs no judgement have one (docs/LINT.md lists them). Missing
//! 400/401/404 responses become references to shared responses in `components/responses`
//! (`BadRequest`, `Unauthorized`, `NotFound`), created when the document has none of that name;
//! the `NotFound` description reuses the document's own anti-leak wording so that
//! `P2L-PP-006`/`P2L-PP-007` stay quiet.

use crate::Error;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{json, Map, Value};

use super::source::{child, unescape};
use super::{http, polyproto, structure, Baseline, Document, Finding};

/// The anti-leak 404 wording polyproto's documents use, for documents that have none yet.
const ANTI_LEAK_404: &str = "The client either does not have the access rights to access this \
     resource, or this resource does not exist. The ambiguity about the actual error has the \
     purpose of protecting the targeted resource from information leaks.";

/// What `--fix` writes into the description of a widened epoch.
const UINT64_NOTE: &str = "RFC 9420 epochs are uint64 (0 to 18446744073709551615); `int64` is \
     the widest format OpenAPI registers.";

/// One structural change of a document.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// Replace the value at `pointer` (a scalar).
    Set { pointer: String, value: Value },
    /// Add `key: value` to the mapping at `parent` (created inside its nearest present ancestor
    /// when absent).
    Insert {
        parent: String,
        key: String,
        value: Value,
    },
    /// Remove the mapping entry or sequence item at `pointer`.
    Remove { pointer: String },
    /// Rename the mapping key at `pointer`.
    Rename { pointer: String, key: String },
}

/// One repair: what a finding becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    pub rule: &'static str,
    /// The finding's pointer and line.
    pub pointer: String,
    pub line: usize,
    /// What the repair does, for the summary.
    pub summary: String,
    changes: Vec<Change>,
}

/// The result of fixing one document.
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The repaired text (the original text when nothing applied).
    pub text: String,
    pub applied: Vec<Repair>,
    /// Repairs not applied, with the reason.
    pub skipped: Vec<(Repair, String)>,
    /// Findings of the document that have no mechanical repair.
    pub unrepairable: Vec<Finding>,
    /// Findings left alone because the baseline accepts them.
    pub accepted: usize,
}

/// Rules with a mechanical repair.
pub const REPAIRABLE: &[&str] = &[
    "P2L-STRUCT-006",
    "P2L-STRUCT-007",
    "P2L-STRUCT-010",
    "P2L-STRUCT-012",
    "P2L-STRUCT-013",
    "P2L-HTTP-001",
    "P2L-HTTP-002",
    "P2L-HTTP-004",
    "P2L-HTTP-008",
    "P2L-PP-004",
];

/// Plans and applies every repair for `doc`.
pub fn fix(doc: &Document) -> Fixed {
    fix_with(doc, None)
}

/// Plans and applies the repairs for the findings of `doc` that `baseline` does not accept.
pub fn fix_with(doc: &Document, baseline: Option<&Baseline>) -> Fixed {
    let mut findings = findings_of(doc);
    let accepted = match baseline {
        Some(b) => {
            b.apply(&mut findings);
            let n = findings.iter().filter(|f| f.accepted.is_some()).count();
            findings.retain(|f| f.accepted.is_none());
            n
        }
        None => 0,
    };
    let (repairs, unrepairable) = plan(doc, &findings);
    let mut fixed = apply_all(doc, repairs, unrepairable);
    fixed.accepted = accepted;
    fixed
}

/// The findings of the single-document rules (parity needs two documents and has no repair).
fn findings_of(doc: &Document) -> Vec<Finding> {
    let mut findings = Vec::new();
    structure::check(doc, &mut findings);
    http::check(doc, &mut findings);
    polyproto::check(doc, &[], &mut findings);
    findings.sort_by(|a, b| (a.line, a.column, a.rule).cmp(&(b.line, b.column, b.rule)));
    findings.dedup();
    findings
}

/// Applies `repairs`: all at once when they go together (the usual case), else one by one in
/// order, skipping those that clash with the ones already taken or would not parse.
fn apply_all(doc: &Document, repairs: Vec<Repair>, unrepairable: Vec<Finding>) -> Fixed {
    if let Ok(text) = apply(doc, &repairs) {
        return Fixed {
            text,
            applied: repairs,
            skipped: Vec::new(),
            unrepairable,
            accepted: 0,
        };
    }
    let mut applied: Vec<Repair> = Vec::new();
    let mut skipped = Vec::new();
    let mut text = doc.text.clone();
    for repair in repairs {
        let mut trial = applied.clone();
        trial.push(repair.clone());
        match apply(doc, &trial) {
            Ok(t) => {
                text = t;
                applied.push(repair);
            }
            Err(why) => skipped.push((repair, why)),
        }
    }
    Fixed {
        text,
        applied,
        skipped,
        unrepairable,
        accepted: 0,
    }
}

/// The repairs of a document's findings, and the findings without one.
pub fn plan(doc: &Document, findings: &[Finding]) -> (Vec<Repair>, Vec<Finding>) {
    let mut repairs = Vec::new();
    let mut unrepairable = Vec::new();
    for f in findings {
        match repair_for(doc, f) {
            Some((summary, changes)) => repairs.push(Repair {
                rule: f.rule,
                pointer: f.pointer.clone(),
                line: f.line,
                summary,
                changes,
            }),
            None => unrepairable.push(f.clone()),
        }
    }
    (repairs, unrepairable)
}

/// Applies some repairs of `doc` to its text.
pub fn apply_repairs(doc: &Document, repairs: &[Repair]) -> Result<String, Error> {
    apply(doc, repairs).map_err(Error::Repair)
}

fn parent_of(pointer: &str) -> &str {
    pointer.rfind('/').map_or("", |i| &pointer[..i])
}

fn last_segment(pointer: &str) -> String {
    unescape(pointer.rsplit('/').next().unwrap_or(""))
}

/// The shared response `components/responses/<name>` for `status`, and the change that
/// creates it when the document has none of that name.
fn shared_response(doc: &Document, status: u16) -> (Value, Vec<Change>) {
    let (name, description) = match status {
        400 => (
            "BadRequest",
            "The request is malformed or does not match the document (RFC 9110 §15.5.1)."
                .to_owned(),
        ),
        401 => (
            "Unauthorized",
            "No valid credentials were given (RFC 9110 §15.5.2).".to_owned(),
        ),
        _ => ("NotFound", anti_leak_wording(doc)),
    };
    let reference = json!({ "$ref": format!("#/components/responses/{name}") });
    let exists = doc
        .value
        .pointer("/components/responses")
        .and_then(|r| r.get(name))
        .is_some();
    let changes = if exists {
        Vec::new()
    } else {
        vec![Change::Insert {
            parent: "/components/responses".into(),
            key: name.into(),
            value: json!({ "description": description }),
        }]
    };
    (reference, changes)
}

/// The anti-leak 404 wording the document uses most, or polyproto's.
fn anti_leak_wording(doc: &Document) -> String {
    let mut wordings: Vec<(String, usize)> = Vec::new();
    for op in super::operations(doc) {
        for (_, status, response) in op.responses(doc) {
            let Some(d) = response.get("description").and_then(Value::as_str) else {
                continue;
            };
            if status != "404" || !polyproto::states_ambiguity(d) {
                continue;
            }
            match wordings.iter_mut().find(|(w, _)| w == d) {
                Some((_, n)) => *n += 1,
                None => wordings.push((d.to_owned(), 1)),
            }
        }
    }
    let max = wordings.iter().map(|(_, n)| *n).max().unwrap_or(0);
    wordings
        .into_iter()
        .find(|(_, n)| *n == max)
        .map_or_else(|| ANTI_LEAK_404.to_owned(), |(w, _)| w)
}

/// A missing response for `status` at `responses` (a pointer).
fn add_response(doc: &Document, responses: &str, status: u16) -> Vec<Change> {
    let (reference, mut changes) = shared_response(doc, status);
    changes.insert(
        0,
        Change::Insert {
            parent: responses.to_owned(),
            key: status.to_string(),
            value: reference,
        },
    );
    changes
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        308 => "Permanent Redirect",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Documented by p2mls lint --fix",
    }
}

/// The repair of one finding: (summary, changes), or None when it has no mechanical repair.
fn repair_for(doc: &Document, f: &Finding) -> Option<(String, Vec<Change>)> {
    let p = f.pointer.as_str();
    match f.rule {
        "P2L-STRUCT-006" => Some((
            format!(
                "removes unused {}",
                p.trim_start_matches('/').replace('/', ".")
            ),
            vec![Change::Remove { pointer: p.into() }],
        )),
        "P2L-STRUCT-007" => {
            let url = doc.value.pointer(p)?.as_str()?;
            let (scheme, rest) = url.split_once("://")?;
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let host_start = authority.rfind('@').map_or(0, |i| i + 1);
            let host_end = authority[host_start..]
                .find(':')
                .map_or(authority.len(), |i| host_start + i);
            let host = &authority[host_start..host_end];
            let new_url = format!(
                "{scheme}://{}{{domain}}{}{}",
                &authority[..host_start],
                &authority[host_end..],
                &rest[end..]
            );
            let server = parent_of(p);
            if doc
                .value
                .pointer(&format!("{server}/variables/domain"))
                .is_some()
            {
                return None;
            }
            Some((
                format!("server `{url}` becomes `{new_url}` with a `domain` variable"),
                vec![
                    Change::Set {
                        pointer: p.into(),
                        value: Value::String(new_url),
                    },
                    Change::Insert {
                        parent: format!("{server}/variables"),
                        key: "domain".into(),
                        value: json!({
                            "default": host,
                            "description": "The actor's home server (polyproto core §3.1)."
                        }),
                    },
                ],
            ))
        }
        "P2L-STRUCT-010" => Some((
            format!(
                "drops the default of required `{}`",
                last_segment(parent_of(p))
            ),
            vec![Change::Remove { pointer: p.into() }],
        )),
        "P2L-STRUCT-012" => {
            let path = last_segment(p);
            let trimmed = path.trim_end_matches('/').to_owned();
            if trimmed.is_empty() || doc.value.get("paths")?.get(&trimmed).is_some() {
                return None;
            }
            Some((
                format!("path `{path}` becomes `{trimmed}`"),
                vec![Change::Rename {
                    pointer: p.into(),
                    key: trimmed,
                }],
            ))
        }
        "P2L-STRUCT-013" => Some((
            format!(
                "removes the repeated {} member {}",
                last_segment(parent_of(p)),
                last_segment(p)
            ),
            vec![Change::Remove { pointer: p.into() }],
        )),
        "P2L-HTTP-001" => {
            // p = .../responses/<status>/content/<media>/schema
            let media_at = parent_of(p);
            let content_at = parent_of(media_at);
            let response_at = parent_of(content_at);
            let responses_at = parent_of(response_at);
            let status = last_segment(response_at);
            let media = last_segment(media_at);
            let schema = doc.value.pointer(p)?;
            let codes = http::status_codes(&doc.value, schema, media.starts_with("text/"))?;
            let content = doc.value.pointer(content_at)?.as_object()?;
            let mut changes = vec![Change::Remove {
                pointer: if content.len() == 1 {
                    content_at.to_owned()
                } else {
                    media_at.to_owned()
                },
            }];
            let documented = doc.value.pointer(responses_at)?.as_object()?;
            let mut added = Vec::new();
            for code in codes {
                let key = code.to_string();
                if key == status || documented.contains_key(&key) {
                    continue;
                }
                added.push(key.clone());
                if matches!(code, 400 | 401 | 404) {
                    changes.extend(add_response(doc, responses_at, code));
                } else {
                    changes.push(Change::Insert {
                        parent: responses_at.to_owned(),
                        key,
                        value: json!({ "description": reason_phrase(code) }),
                    });
                }
            }
            let added = if added.is_empty() {
                String::new()
            } else {
                format!(", documents {} as responses", added.join(", "))
            };
            Some((
                format!("drops the {media} status-code body of {status}{added}"),
                changes,
            ))
        }
        "P2L-HTTP-002" | "P2L-HTTP-004" | "P2L-HTTP-008" => {
            let status = match f.rule {
                "P2L-HTTP-002" => 401,
                "P2L-HTTP-004" => 400,
                _ => 404,
            };
            doc.value.pointer(p)?.as_object()?;
            let (reference, _) = shared_response(doc, status);
            Some((
                format!(
                    "adds {status} -> {}",
                    reference["$ref"].as_str().unwrap_or_default()
                ),
                add_response(doc, p, status),
            ))
        }
        "P2L-PP-004" => {
            let prop = doc.value.pointer(p)?;
            let format = prop.get("format")?.as_str()?;
            if !matches!(
                format,
                "int8" | "int16" | "int32" | "uint8" | "uint16" | "uint32"
            ) || prop.get("maximum").is_some()
            {
                return None;
            }
            let description = match prop.get("description") {
                None => None,
                Some(Value::String(d)) => Some(d.trim_end()),
                Some(_) => return None,
            };
            let note = match description {
                Some(d) if d.ends_with('.') => format!("{d} {UINT64_NOTE}"),
                Some(d) if !d.is_empty() => format!("{d}. {UINT64_NOTE}"),
                _ => UINT64_NOTE.to_owned(),
            };
            let describe = if description.is_some() {
                Change::Set {
                    pointer: format!("{p}/description"),
                    value: Value::String(note),
                }
            } else {
                Change::Insert {
                    parent: p.into(),
                    key: "description".into(),
                    value: Value::String(note),
                }
            };
            Some((
                format!(
                    "`{}` becomes `format: int64` with the uint64 range in its description \
                     (was {format})",
                    last_segment(p)
                ),
                vec![
                    Change::Set {
                        pointer: format!("{p}/format"),
                        value: Value::String("int64".into()),
                    },
                    describe,
                ],
            ))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Applying changes to the text.
// ---------------------------------------------------------------------------------------------

/// Where a node is written.
#[derive(Debug, Clone)]
struct Node {
    /// Byte span of the key when the node is a mapping value.
    key: Option<(usize, usize)>,
    /// Byte span of the node itself.
    start: usize,
    end: usize,
    /// A mapping (`Some(true)`), a sequence (`Some(false)`) or a scalar (`None`).
    container: Option<bool>,
    /// The node is a flow collection (`{...}`, `[...]`): the byte offset of its closing bracket.
    close: Option<usize>,
    /// The node sits inside a flow collection.
    in_flow: bool,
    children: Vec<String>,
}

struct Index {
    nodes: HashMap<String, Node>,
}

struct Frame {
    pointer: String,
    map: bool,
    key: Option<(String, (usize, usize))>,
    index: usize,
    flow: bool,
}

impl Index {
    fn build(text: &str) -> Result<Self, String> {
        let mut byte_of: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        byte_of.push(text.len());
        let at = |chars: usize| byte_of.get(chars).copied().unwrap_or(text.len());
        let mut nodes: HashMap<String, Node> = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut seen_root = false;
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| e.info().to_owned())?;
            let (mut start, mut end) = (at(span.start.index()), at(span.end.index()));
            // Quoted scalars: the span is widened to take in the quotes when it does not.
            if let Event::Scalar(_, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, ..) =
                &event
            {
                let bytes = text.as_bytes();
                if start > 0
                    && !matches!(bytes.get(start), Some(b'\'' | b'"'))
                    && matches!(bytes.get(start - 1), Some(b'\'' | b'"'))
                {
                    start -= 1;
                    end = (end + 1).min(text.len());
                }
            }
            match event {
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..) => {
                    let in_flow = stack.last().is_some_and(|f| f.flow);
                    let (pointer, key) = match stack.last_mut() {
                        None if seen_root => break,
                        None => {
                            seen_root = true;
                            (String::new(), None)
                        }
                        Some(frame) if frame.map => match frame.key.take() {
                            None => {
                                let name = match &event {
                                    Event::Scalar(v, ..) => v.to_string(),
                                    _ => return Err("complex mapping key".into()),
                                };
                                frame.key = Some((name, (start, end)));
                                continue;
                            }
                            Some((name, span)) => (child(&frame.pointer, &name), Some(span)),
                        },
                        Some(frame) => {
                            frame.index += 1;
                            (child(&frame.pointer, &(frame.index - 1).to_string()), None)
                        }
                    };
                    if let Some(parent) = stack.last() {
                        if let Some(n) = nodes.get_mut(&parent.pointer) {
                            n.children.push(pointer.clone());
                        }
                    }
                    let container = match event {
                        Event::MappingStart(..) => Some(true),
                        Event::SequenceStart(..) => Some(false),
                        _ => None,
                    };
                    let flow = container.is_some()
                        && matches!(text.as_bytes().get(start), Some(b'{' | b'['));
                    nodes.insert(
                        pointer.clone(),
                        Node {
                            key,
                            start,
                            end,
                            container,
                            close: None,
                            in_flow,
                            children: Vec::new(),
                        },
                    );
                    if let Some(map) = container {
                        stack.push(Frame {
                            pointer,
                            map,
                            key: None,
                            index: 0,
                            flow,
                        });
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let Some(frame) = stack.pop() else { continue };
                    let last_end = nodes
                        .get(&frame.pointer)
                        .and_then(|n| n.children.last())
                        .and_then(|c| nodes.get(c))
                        .map(|c| c.end);
                    if let Some(n) = nodes.get_mut(&frame.pointer) {
                        if frame.flow {
                            n.close = Some(start);
                            n.end = end;
                        } else {
                            n.end = last_end.unwrap_or(n.end);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Self { nodes })
    }

    fn get(&self, pointer: &str) -> Result<&Node, String> {
        self.nodes
            .get(pointer)
            .ok_or_else(|| format!("{pointer} is not in the text"))
    }
}

/// The byte offset of the start of the line holding `offset`.
fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// The byte offset just after the line break of the line holding `offset`.
fn line_after(text: &str, offset: usize) -> usize {
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The lines of a block entry or item that starts at `anchor` (the key, or the dash of an
/// item): (byte start of its first line, byte end after its last content line).
fn block_extent(text: &str, anchor: usize, entry: bool) -> (usize, usize) {
    let first = line_start(text, anchor);
    let column = anchor - first;
    let mut end = line_after(text, anchor);
    let mut cursor = end;
    while cursor < text.len() {
        let next = line_after(text, cursor);
        let line = text[cursor..next].trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            cursor = next;
            continue;
        }
        let indent = indent_of(line);
        if indent > column || (entry && indent == column && trimmed.starts_with("- ")) {
            end = next;
            cursor = next;
        } else {
            break;
        }
    }
    (first, end)
}

/// A byte edit: replace `start..end` with `text`; `order` keeps insertions at one place in the
/// order they were planned.
#[derive(Debug, Clone)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
    order: usize,
}

fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// A YAML scalar for block context: plain when that reads back as the same string (flow
/// indicators are fine inside a block plain scalar), else single-quoted.
fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$' || c == '/')
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.ends_with(':')
                && !s.ends_with(' ')
                && !s.contains(['\n', '\t'])
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
                );
            if plain {
                s.clone()
            } else if s.contains(['\n', '\t']) {
                // Line breaks would fold to spaces in a single-quoted scalar.
                Value::String(s.clone()).to_string()
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
        other => other.to_string(),
    }
}

/// `key: value` as block YAML lines at `indent`.
fn yaml_entry(key: &str, value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let key = yaml_scalar(&Value::String(key.to_owned()));
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut out = format!("{pad}{key}:\n");
            for (k, v) in map {
                out.push_str(&yaml_entry(k, v, indent + 2));
            }
            out
        }
        Value::Object(_) | Value::Array(_) => format!("{pad}{key}: {value}\n"),
        Value::String(text) if text.contains('\n') && !text.contains(['\t', '\r']) => {
            // A literal block keeps the author's line breaks.
            let body = text.strip_suffix('\n').unwrap_or(text);
            let chomp = if body.len() == text.len() { "|-" } else { "|" };
            let mut out = format!("{pad}{key}: {chomp}\n");
            for line in body.split('\n') {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("{pad}  {line}\n"));
                }
            }
            out
        }
        scalar => format!("{pad}{key}: {}\n", yaml_scalar(scalar)),
    }
}

/// `value` as pretty JSON (two-space steps) whose continuation lines start at `column`.
fn pretty_json(value: &Value, column: usize) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    pretty.replace('\n', &format!("\n{}", " ".repeat(column)))
}

/// Deep-merges `value` into `map[key]`.
fn merge(map: &mut Map<String, Value>, key: String, value: Value) {
    match (map.get_mut(&key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                merge(existing, k, v);
            }
        }
        (Some(_), _) => {} // the first planned value wins
        (None, value) => {
            map.insert(key, value);
        }
    }
}

fn apply(doc: &Document, repairs: &[Repair]) -> Result<String, String> {
    let text = doc.text.as_str();
    let index = Index::build(text)?;
    let json = is_json(text);
    let mut changes: Vec<Change> = Vec::new();
    for r in repairs {
        for c in &r.changes {
            if !changes.contains(c) {
                changes.push(c.clone());
            }
        }
    }
    // Removals: a container whose entries all go goes itself (an emptied components section).
    let mut removed: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Remove { pointer } => Some(pointer.clone()),
            _ => None,
        })
        .collect();
    loop {
        let mut grown = false;
        let parents: BTreeSet<String> = removed.iter().map(|p| parent_of(p).to_owned()).collect();
        for parent in parents {
            if parent.is_empty() || removed.contains(&parent) {
                continue;
            }
            let Some(node) = index.nodes.get(&parent) else {
                continue;
            };
            if node.container == Some(true)
                && !node.children.is_empty()
                && node.children.iter().all(|c| removed.contains(c))
            {
                removed.insert(parent);
                grown = true;
            }
        }
        if !grown {
            break;
        }
    }
    let inside_removed = |p: &str| {
        removed
            .iter()
            .any(|r| p == r || p.starts_with(&format!("{r}/")))
    };
    // Keep only the outermost removals.
    let removals: Vec<String> = removed
        .iter()
        .filter(|r| {
            !removed
                .iter()
                .any(|o| o != *r && r.starts_with(&format!("{o}/")))
        })
        .cloned()
        .collect();
    // Insertions, grouped by the present mapping they go into.
    let mut inserts: Vec<(String, Map<String, Value>)> = Vec::new();
    for c in &changes {
        let Change::Insert { parent, key, value } = c else {
            continue;
        };
        let (mut parent, mut key, mut value) = (parent.clone(), key.clone(), value.clone());
        while !index.nodes.contains_key(&parent) || inside_removed(&parent) {
            if parent.is_empty() {
                return Err("the document has no root mapping".into());
            }
            let mut wrapped = Map::new();
            wrapped.insert(key, value);
            key = last_segment(&parent);
            value = Value::Object(wrapped);
            parent = parent_of(&parent).to_owned();
        }
        if inside_removed(&parent) {
            continue;
        }
        if parent.ends_with("/responses") {
            // New statuses in numeric order after the documented ones.
            let pos = inserts.iter().position(|(p, _)| *p == parent);
            if let Some(pos) = pos {
                let map = &mut inserts[pos].1;
                merge(map, key, value);
                let mut sorted: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                map.extend(sorted);
                continue;
            }
        }
        match inserts.iter_mut().find(|(p, _)| *p == parent) {
            Some((_, map)) => merge(map, key, value),
            None => {
                let mut map = Map::new();
                map.insert(key, value);
                inserts.push((parent, map));
            }
        }
    }
    let mut edits: Vec<Edit> = Vec::new();
    let mut order = 0;
    let mut push = |edits: &mut Vec<Edit>, start: usize, end: usize, text: String| {
        edits.push(Edit {
            start,
            end,
            text,
            order,
        });
        order += 1;
    };
    for pointer in &removals {
        let node = index.get(pointer)?;
        let parent = index.get(parent_of(pointer))?;
        let anchor = node.key.map_or(node.start, |k| k.0);
        if node.in_flow {
            let siblings = &parent.children;
            let i = siblings
                .iter()
                .position(|s| s == pointer)
                .ok_or("sibling lost")?;
            let entry_start = |p: &str| -> Result<usize, String> {
                let n = index.get(p)?;
                Ok(n.key.map_or(n.start, |k| k.0))
            };
            if let Some(next) = siblings.get(i + 1) {
                push(&mut edits, anchor, entry_start(next)?, String::new());
            } else if i > 0 {
                let prev = index.get(&siblings[i - 1])?;
                push(&mut edits, prev.end, node.end, String::new());
            } else {
                push(&mut edits, anchor, node.end, String::new());
            }
        } else {
            let entry = node.key.is_some();
            let anchor = if entry {
                anchor
            } else {
                // A block sequence item: its dash.
                let ls = line_start(text, anchor);
                let dash = ls + indent_of(&text[ls..]);
                if text.as_bytes().get(dash) != Some(&b'-') || dash > anchor {
                    return Err(format!("{pointer}: no dash before the item"));
                }
                dash
            };
            let ls = line_start(text, anchor);
            if !text[ls..anchor].trim().is_empty() {
                return Err(format!("{pointer} shares its line with its parent"));
            }
            let (start, end) = block_extent(text, anchor, entry);
            push(&mut edits, start, end, String::new());
        }
    }
    for c in &changes {
        match c {
            Change::Set { pointer, value } if !inside_removed(pointer) => {
                let node = index.get(pointer)?;
                if node.container.is_some() {
                    return Err(format!("{pointer} is not a scalar"));
                }
                let rendered = if json || node.in_flow {
                    value.to_string()
                } else {
                    yaml_scalar(value)
                };
                let mut end = node.end;
                if let (Some(b'|' | b'>'), Some((ks, _))) =
                    (text.as_bytes().get(node.start), node.key)
                {
                    // A block scalar runs to the end of its entry.
                    end = block_extent(text, ks, true).1;
                    end -= usize::from(text[..end].ends_with('\n'));
                }
                push(&mut edits, node.start, end, rendered);
            }
            Change::Rename { pointer, key } if !inside_removed(pointer) => {
                let node = index.get(pointer)?;
                let (ks, ke) = node.key.ok_or("not a mapping entry")?;
                let rendered = if json || node.in_flow {
                    Value::String(key.clone()).to_string()
                } else {
                    yaml_scalar(&Value::String(key.clone()))
                };
                push(&mut edits, ks, ke, rendered);
            }
            _ => {}
        }
    }
    for (parent, entries) in &inserts {
        let node = index.get(parent)?;
        if node.container != Some(true) {
            return Err(format!("{parent} is not a mapping"));
        }
        if let Some(close) = node.close {
            let empty = node.children.is_empty();
            if empty && !json && !node.in_flow {
                // `key: {}` in block YAML: the entries replace `{}` as a block.
                let column = node.key.map_or(0, |(ks, _)| ks - line_start(text, ks));
                let mut block = String::from("\n");
                for (k, v) in entries {
                    block.push_str(&yaml_entry(k, v, column + 2));
                }
                let block = block.trim_end_matches('\n').to_owned();
                // From just after the colon, so that no space is left at the end of the line.
                let colon = node
                    .key
                    .and_then(|(_, ke)| text[ke..node.start].find(':').map(|i| ke + i + 1))
                    .unwrap_or(node.start);
                push(&mut edits, colon, node.end, block);
                continue;
            }
            let last_end = node
                .children
                .last()
                .map(|c| index.get(c).map(|n| n.end))
                .transpose()?;
            match last_end {
                Some(last_end) => {
                    let first_key = index.get(&node.children[0])?.key.map_or(last_end, |k| k.0);
                    let multiline = text[last_end..close].contains('\n');
                    let column = first_key - line_start(text, first_key);
                    let sep = if multiline {
                        format!(",\n{}", " ".repeat(column))
                    } else {
                        ", ".to_owned()
                    };
                    // One entry per line where the author wrote one per line (pretty JSON).
                    let joined: String = entries
                        .iter()
                        .map(|(k, v)| {
                            let v = if multiline {
                                pretty_json(v, column)
                            } else {
                                v.to_string()
                            };
                            format!("{sep}{}: {v}", Value::String(k.clone()))
                        })
                        .collect();
                    push(&mut edits, last_end, last_end, joined);
                }
                None if json => {
                    // `"key": {}` in a JSON document: the whole object, pretty, from the key's
                    // column.
                    let column = node.key.map_or(0, |(ks, _)| ks - line_start(text, ks));
                    let object = Value::Object(entries.clone());
                    push(
                        &mut edits,
                        node.start,
                        node.end,
                        pretty_json(&object, column),
                    );
                }
                None => {
                    let rendered: Vec<String> = entries
                        .iter()
                        .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
                        .collect();
                    push(&mut edits, close, close, rendered.join(", "));
                }
            }
        } else {
            let first = node.children.first().ok_or("empty block mapping")?;
            let first = index.get(first)?;
            let key_at = first.key.ok_or("mapping child without key")?.0;
            let column = key_at - line_start(text, key_at);
            let last = index.get(node.children.last().ok_or("no children")?)?;
            let last_anchor = last.key.ok_or("mapping child without key")?.0;
            let (_, after) = block_extent(text, last_anchor, true);
            let mut block = String::new();
            if after == text.len() && !text.ends_with('\n') {
                block.push('\n');
            }
            for (k, v) in entries {
                block.push_str(&yaml_entry(k, v, column));
            }
            push(&mut edits, after, after, block);
        }
    }
    edits.sort_by_key(|e| (e.start, e.end, e.order));
    for pair in edits.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.start < a.end || (a.start == b.start && a.start != a.end && b.start != b.end) {
            return Err("overlaps another repair".into());
        }
    }
    // New lines end like the author's.
    let crlf = text.contains("\r\n");
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    for e in &edits {
        out.push_str(&text[cursor..e.start]);
        if crlf {
            out.push_str(&e.text.replace('\n', "\r\n"));
        } else {
            out.push_str(&e.text);
        }
        cursor = e.end.max(cursor);
    }
    out.push_str(&text[cursor..]);
    Document::parse(&out, &doc.name)
        .map_err(|e| format!("the repaired text does not parse: {e}"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Unified diff.
// ---------------------------------------------------------------------------------------------

/// A unified diff (3 lines of context) from `old` to `new`.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a == b {
        return String::new();
    }
    // Common prefix and suffix, then an LCS table over the middle.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let (n, m) = (ma.len(), mb.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if ma[i] == mb[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    // ops: (' ' | '-' | '+', line index in a or b)
    let mut ops: Vec<(char, usize)> = (0..prefix).map(|i| (' ', i)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && ma[i] == mb[j] {
            ops.push((' ', prefix + i));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i * (m + 1) + j + 1] > lcs[(i + 1) * (m + 1) + j]) {
            ops.push(('+', prefix + j));
            j += 1;
        } else {
            ops.push(('-', prefix + i));
            i += 1;
        }
    }
    ops.extend((0..suffix).map(|k| (' ', a.len() - suffix + k)));
    // git's a/ and b/ prefixes for relative names (`git apply`, `patch -p1`); absolute names as
    // they are.
    let mut out = if name.starts_with('/') {
        format!("--- {name}\n+++ {name}\n")
    } else {
        format!("--- a/{name}\n+++ b/{name}\n")
    };
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| *c != ' ')
        .map(|(k, _)| k)
        .collect();
    let mut k = 0;
    while k < changed.len() {
        let from = changed[k].saturating_sub(3);
        let mut to = changed[k];
        while k < changed.len() && changed[k] <= to + 7 {
            to = changed[k];
            k += 1;
        }
        let to = (to + 3).min(ops.len() - 1);
        // Line numbers of the hunk in a and b.
        let (mut a_line, mut b_line) = (1, 1);
        for (c, _) in &ops[..from] {
            match c {
                ' ' => {
                    a_line += 1;
                    b_line += 1
                }
                '-' => a_line += 1,
                _ => b_line += 1,
            }
        }
        let hunk = &ops[from..=to];
        let a_count = hunk.iter().filter(|(c, _)| *c != '+').count();
        let b_count = hunk.iter().filter(|(c, _)| *c != '-').count();
        out.push_str(&format!(
            "@@ -{},{a_count} +{},{b_count} @@\n",
            if a_count == 0 { a_line - 1 } else { a_line },
            if b_count == 0 { b_line - 1 } else { b_line }
        ));
        for (c, idx) in hunk {
            let line = if *c == '+' { b[*idx] } else { a[*idx] };
            out.push_str(&format!("{c}{line}\n"));
        }
    }
    out
}

/// The summary of a fix: one line per applied repair (rule id first), then the skipped ones and
/// the count of findings without a mechanical repair. Lines start with `#` so that the summary
/// can stand before a unified diff.
pub fn summary(name: &str, fixed: &Fixed) -> String {
    let mut out = format!("# {name}: {} repairs\n", fixed.applied.len());
    for r in &fixed.applied {
        out.push_str(&format!("#   {} line {}: {}\n", r.rule, r.line, r.summary));
    }
    for (r, why) in &fixed.skipped {
        out.push_str(&format!(
            "#   skipped {} line {}: {} ({why})\n",
            r.rule, r.line, r.summary
        ));
    }
    if fixed.accepted > 0 {
        out.push_str(&format!(
            "#   left alone (accepted by the baseline): {}\n",
            fixed.accepted
        ));
    }
    if !fixed.unrepairable.is_empty() {
        let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &fixed.unrepairable {
            *rules.entry(f.rule).or_default() += 1;
        }
        let list: Vec<String> = rules.iter().map(|(r, n)| format!("{r} x{n}")).collect();
        out.push_str(&format!("#   no mechanical repair: {}\n", list.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(text, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn rules_left(text: &str) -> Vec<&'static str> {
        findings_of(&doc(text))
            .into_iter()
            .filter(|f| REPAIRABLE.contains(&f.rule))
            .map(|f| f.rule)
            .collect()
    }

    const BLOCK: &str = "openapi: 3.1.0
info:
  title: t   # the title
  version: '1'
tags:
  - name: a
paths:
  # the one resource
  /.p2/x/v1/things/{id}/:
    get:
      operationId: things_getThing
      summary: Get a thing
      tags: [a]
      security:
        - BearerAuth: []
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                anyOf:
                  - $ref: '#/components/schemas/Thing'
                  - $ref: '#/components/schemas/Thing'
            text/plain:
              schema:
                type: number
                enum: [200, 413]
components:
  schemas:
    Thing:
      type: object
      required: [epoch, last]
      properties:
        epoch:
          type: integer
          format: int32
          description: The epoch
        last: {type: boolean, default: false}
    Unused:
      type: string
  securitySchemes:
    BearerAuth: {type: http, scheme: bearer}
servers:
  - url: https://example.com/api
    description: Example
";

    #[test]
    fn block_yaml_is_repaired_in_place() {
        let before = rules_left(BLOCK);
        for rule in [
            "P2L-STRUCT-006",
            "P2L-STRUCT-007",
            "P2L-STRUCT-010",
            "P2L-STRUCT-012",
            "P2L-STRUCT-013",
            "P2L-HTTP-001",
            "P2L-HTTP-002",
            "P2L-HTTP-008",
            "P2L-PP-004",
        ] {
            assert!(before.contains(&rule), "{rule} missing before: {before:?}");
        }
        let fixed = fix(&doc(BLOCK));
        assert!(fixed.skipped.is_empty(), "{:?}", fixed.skipped);
        assert_eq!(
            rules_left(&fixed.text),
            Vec::<&str>::new(),
            "{}",
            fixed.text
        );
        // Untouched lines, comments included, are kept verbatim.
        for line in [
            "  title: t   # the title",
            "  # the one resource",
            "      tags: [a]",
        ] {
            assert!(
                fixed.text.contains(&format!("{line}\n")),
                "{line}\n{}",
                fixed.text
            );
        }
        let expected = "  /.p2/x/v1/things/{id}:
    get:
      operationId: things_getThing
      summary: Get a thing
      tags: [a]
      security:
        - BearerAuth: []
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                anyOf:
                  - $ref: '#/components/schemas/Thing'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '413':
          description: Content Too Large
components:
  schemas:
    Thing:
      type: object
      required: [epoch, last]
      properties:
        epoch:
          type: integer
          format: int64
          description: The epoch. RFC 9420 epochs are uint64 (0 to 18446744073709551615); `int64` is the widest format OpenAPI registers.
        last: {type: boolean}
  securitySchemes:
    BearerAuth: {type: http, scheme: bearer}
  responses:
    Unauthorized:
      description: No valid credentials were given (RFC 9110 §15.5.2).
    NotFound:
      description: The client either does not have the access rights to access this resource, or this resource does not exist. The ambiguity about the actual error has the purpose of protecting the targeted resource from information leaks.
servers:
  - url: https://{domain}/api
    description: Example
    variables:
      domain:
        default: example.com
        description: The actor's home server (polyproto core §3.1).
";
        assert!(fixed.text.ends_with(expected), "{}", fixed.text);
        // Every applied repair names its rule in the summary.
        let summary = summary("t.yaml", &fixed);
        for r in &fixed.applied {
            assert!(
                summary.contains(&format!("#   {} line {}", r.rule, r.line)),
                "{summary}"
            );
        }
        // Fixing again finds nothing more to do.
        let again = fix(&doc(&fixed.text));
        assert!(again.applied.is_empty(), "{:?}", again.applied);
    }

    #[test]
    fn crlf_documents_keep_their_line_ends() {
        let crlf = BLOCK.replace('\n', "\r\n");
        let fixed = fix(&doc(&crlf));
        assert!(fixed.skipped.is_empty(), "{:?}", fixed.skipped);
        assert_eq!(fixed.text, fix(&doc(BLOCK)).text.replace('\n', "\r\n"));
    }

    #[test]
    fn json_documents_are_repaired_with_json_syntax() {
        let text = r##"{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "tags": [{"name": "a"}],
  "paths": {
    "/.p2/x/v1/things/{id}/": {
      "delete": {
        "operationId": "things_deleteThing",
        "summary": "Delete a thing",
        "tags": ["a"],
        "security": [{"BearerAuth": []}],
        "responses": {
          "200": {"description": "the last state", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Unused": {"type": "string"},
      "Thing": {"type": "object", "required": ["last"], "properties": {"last": {"type": "boolean", "default": false}}, "anyOf": [{"type": "object"}, {"type": "object"}]}
    },
    "securitySchemes": {"BearerAuth": {"type": "http", "scheme": "bearer"}}
  },
  "servers": [{"url": "https://api.test"}]
}
"##;
        let fixed = fix(&doc(text));
        assert!(fixed.skipped.is_empty(), "{:?}", fixed.skipped);
        let value: Value = serde_json::from_str(&fixed.text)
            .unwrap_or_else(|e| panic!("not JSON any more: {e}\n{}", fixed.text));
        assert!(value
            .pointer("/paths/~1.p2~1x~1v1~1things~1{id}/delete/responses/401/$ref")
            .is_some());
        assert!(value.pointer("/components/schemas/Unused").is_none());
        assert_eq!(
            value.pointer("/servers/0/url"),
            Some(&json!("https://{domain}"))
        );
        assert_eq!(
            value.pointer("/components/schemas/Thing/anyOf"),
            Some(&json!([{"type": "object"}]))
        );
        // The untouched lines are the author's.
        assert!(fixed
            .text
            .contains("\n  \"info\": {\"title\": \"t\", \"version\": \"1\"},\n"));
        let left: Vec<_> = findings_of(&doc(&fixed.text))
            .into_iter()
            .filter(|f| REPAIRABLE.contains(&f.rule))
            .collect();
        assert!(left.is_empty(), "{left:?}\n{}", fixed.text);
    }

    #[test]
    fn a_document_without_findings_is_left_alone() {
        let text = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\ntags: [{name: a}]\npaths:\n  /.p2/x/v1/things:\n    get:\n      operationId: things_getThings\n      summary: List things\n      tags: [a]\n      security: []\n      responses:\n        '200': {description: ok}\n";
        let fixed = fix(&doc(text));
        assert!(fixed.applied.is_empty());
        assert_eq!(fixed.text, text);
        assert_eq!(unified_diff("t.yaml", text, &fixed.text), "");
    }

    #[test]
    fn clashing_repairs_are_skipped_with_a_reason() {
        let d = doc(BLOCK);
        let set = |value: &str| Repair {
            rule: "P2L-STRUCT-007",
            pointer: "/servers/0/url".into(),
            line: 48,
            summary: format!("url becomes {value}"),
            changes: vec![Change::Set {
                pointer: "/servers/0/url".into(),
                value: Value::String(value.into()),
            }],
        };
        let fixed = apply_all(
            &d,
            vec![set("https://a.org"), set("https://b.org")],
            Vec::new(),
        );
        assert_eq!(fixed.applied, vec![set("https://a.org")]);
        assert_eq!(fixed.skipped.len(), 1);
        assert_eq!(fixed.skipped[0].1, "overlaps another repair");
        assert!(
            fixed.text.contains("  - url: https://a.org\n"),
            "{}",
            fixed.text
        );
        assert!(summary("t.yaml", &fixed)
            .contains("#   skipped P2L-STRUCT-007 line 48: url becomes https://b.org (overlaps another repair)"));
    }

    #[test]
    fn rendered_yaml_reads_back_as_the_same_value() {
        for text in [
            "plain words",
            "https://{domain}/api",
            "401",
            "true",
            "a: b",
            "it's",
            "#/components/responses/NotFound",
            "two\nlines",
            "ends with newline\n",
            "",
        ] {
            let value = Value::String(text.to_owned());
            for yaml in [
                format!("k: {}\n", yaml_scalar(&value)),
                format!("m:\n{}", yaml_entry("k", &value, 2)),
            ] {
                let back: Value = serde_yaml_ng::from_str(&yaml).expect("yaml");
                let got = back.get("k").or_else(|| back.pointer("/m/k"));
                assert_eq!(got, Some(&value), "{yaml}");
            }
        }
    }

    #[test]
    fn unified_diff_has_hunks_with_line_numbers() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n";
        let d = unified_diff("x", old, new);
        assert_eq!(
            d,
            "--- a/x\n+++ b/x\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n"
        );
    }
}
