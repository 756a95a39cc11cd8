//! Source documents for `p2mls lint`: an OpenAPI document with the line and column of every JSON
//! pointer, and the header of a spec text (namespace, version, base path).
//!
//! Positions come from `saphyr-parser`, the event parser of the saphyr project (the maintained
//! successor of yaml-rust/yaml-rust2): it is YAML 1.2 compliant, depends only on `arraydeque` and
//! `thiserror`, and gives every event a span with 1-based line and 0-based column. The values
//! themselves still come from serde_yaml_ng (as in `crate::spec`), so lint judges exactly what
//! `p2mls run` loads; the event walk only maps pointers to places in the text.

use std::collections::HashMap;
use std::path::Path;

use saphyr_parser::{Event, Parser, Span};
use serde_json::Value;
use thiserror::Error;

pub use p2mls_openapi::schema::deref;
use p2mls_openapi::Dialect;

/// The lint crate's one error type: why a document could not be linted, compared or repaired
/// (exit code 2).
#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{name} is not valid YAML or JSON: {message}")]
    Syntax { name: String, message: String },
    #[error("{name}: {message}")]
    NotOpenApi { name: String, message: String },
    /// A baseline file that cannot be used.
    #[error("{0}")]
    Baseline(String),
    /// Repairs that cannot be applied to the document's text.
    #[error("{0}")]
    Repair(String),
    /// An output that cannot be written.
    #[error("{0}")]
    Output(String),
}

/// A line and column in a source text, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A loaded OpenAPI 3.0.x or 3.1.x document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The name findings are reported under (the path as given, or a display name).
    pub name: String,
    pub text: String,
    pub value: Value,
    /// The `openapi` field, e.g. `3.1.0`.
    pub openapi: String,
    pub dialect: Dialect,
    positions: HashMap<String, Position>,
}

impl Document {
    /// Reads and parses a file; `name` is what findings call it.
    pub fn load(path: &Path, name: &str) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, name)
    }

    /// Parses YAML or JSON text. Only what prevents linting is an error here (syntax, not an
    /// OpenAPI 3.0/3.1 document); everything else is a finding.
    pub fn parse(text: &str, name: &str) -> Result<Self, Error> {
        let syntax = |message: String| Error::Syntax {
            name: name.to_owned(),
            message,
        };
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| syntax(e.to_string()))?;
        // The values parsed, so the document is lintable even if the position parser disagrees
        // on some YAML corner: findings then point at line 1 rather than not at all.
        let positions = positions(text).unwrap_or_default();
        let not_openapi = |message: &str| Error::NotOpenApi {
            name: name.to_owned(),
            message: message.to_owned(),
        };
        if !value.is_object() {
            return Err(not_openapi("the document is not a mapping"));
        }
        let openapi = match value.get("openapi") {
            Some(Value::String(s)) => s.clone(),
            // `openapi: 3.0` unquoted is a YAML number: a common slip worth a clear message.
            Some(Value::Number(n)) => {
                return Err(not_openapi(&format!(
                    "`openapi: {n}` is a number; write the version as a string such as '3.1.0'"
                )))
            }
            _ => {
                return Err(not_openapi(
                    "no `openapi` version field (is this an OpenAPI 3 document?)",
                ))
            }
        };
        let dialect = if openapi.starts_with("3.0.") {
            Dialect::Oas30
        } else if openapi.starts_with("3.1.") {
            Dialect::Oas31
        } else {
            return Err(not_openapi(&format!(
                "unsupported OpenAPI version `{openapi}` (lint reads 3.0.x and 3.1.x)"
            )));
        };
        Ok(Self {
            name: name.to_owned(),
            text: text.to_owned(),
            value,
            openapi,
            dialect,
            positions,
        })
    }

    /// Where `pointer` is written: the key of a mapping entry, the start of a sequence item. A
    /// pointer to something absent (a missing response, say) gets the place of its nearest
    /// present ancestor.
    pub fn locate(&self, pointer: &str) -> Position {
        let mut current = pointer;
        loop {
            if let Some(p) = self.positions.get(current) {
                return *p;
            }
            match current.rfind('/') {
                Some(i) => current = &current[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    /// Source line `line` (1-based), without its line break.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)?)
    }

    /// The value at `pointer`, following local `$ref`s (bounded).
    pub fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        deref(&self.value, value)
    }

    /// `info.version`, if it is a string.
    pub fn version(&self) -> Option<&str> {
        self.value.pointer("/info/version").and_then(Value::as_str)
    }

    /// `info.title`, if it is a string.
    pub fn title(&self) -> Option<&str> {
        self.value.pointer("/info/title").and_then(Value::as_str)
    }
}

/// Escapes a key for use as a JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Undoes `escape`.
pub fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Appends a segment to a pointer.
pub fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", escape(segment))
}

/// A container being walked, with the pointer it sits at.
enum Frame {
    Map {
        pointer: String,
        /// The key whose value comes next; None while a key is expected.
        key: Option<String>,
    },
    Seq {
        pointer: String,
        index: usize,
    },
}

fn pos(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// Maps every JSON pointer of the first YAML document in `text` to its position.
fn positions(text: &str) -> Result<HashMap<String, Position>, String> {
    let mut out = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root_seen = false;
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            format!(
                "{} at line {} column {}",
                e.info(),
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let starts_node = matches!(
            event,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        );
        if starts_node {
            // The pointer of this node, or None when it is a mapping key.
            let pointer = match stack.last_mut() {
                None if root_seen => break, // a second document: only the first is linted
                None => {
                    root_seen = true;
                    out.insert(String::new(), pos(&span));
                    Some(String::new())
                }
                Some(Frame::Map { pointer, key }) => match key.take() {
                    None => {
                        // A key. Complex (non-scalar) keys never occur in OpenAPI; they get a
                        // placeholder so that the walk stays balanced.
                        let name = match &event {
                            Event::Scalar(value, ..) => value.to_string(),
                            _ => "?".to_owned(),
                        };
                        out.entry(child(pointer, &name)).or_insert(pos(&span));
                        *key = Some(name);
                        None
                    }
                    Some(name) => Some(child(pointer, &name)),
                },
                Some(Frame::Seq { pointer, index }) => {
                    let p = child(pointer, &index.to_string());
                    *index += 1;
                    out.entry(p.clone()).or_insert(pos(&span));
                    Some(p)
                }
            };
            // A key that is itself a container: walk it under a throwaway pointer.
            let pointer = pointer.unwrap_or_else(|| "\u{0}key".to_owned());
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map { pointer, key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { pointer, index: 0 }),
                _ => {}
            }
        } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
            stack.pop();
        }
    }
    Ok(out)
}

/// The header of a spec text (a polyproto extension document in Markdown).
#[derive(Debug, Clone)]
pub struct SpecText {
    pub name: String,
    pub namespace: Option<Header>,
    pub version: Option<Header>,
    pub base_path: Option<Header>,
}

/// One `**Key:** `value`` line of a spec text, with its line number.
#[derive(Debug, Clone)]
pub struct Header {
    pub value: String,
    pub line: usize,
}

impl SpecText {
    pub fn load(path: &Path, name: &str) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self::parse(&text, name))
    }

    /// Reads the `**Namespace:**`, `**Version:**` and `**Base Path:**` lines that polyproto texts
    /// open with (core §8 asks extensions to state them).
    pub fn parse(text: &str, name: &str) -> Self {
        let header = |label: &str| {
            text.lines().enumerate().find_map(|(i, line)| {
                let rest = line.trim().strip_prefix(&format!("**{label}:**"))?;
                let value = rest.trim().trim_matches('`').trim();
                (!value.is_empty()).then(|| Header {
                    value: value.to_owned(),
                    line: i + 1,
                })
            })
        };
        Self {
            name: name.to_owned(),
            namespace: header("Namespace"),
            version: header("Version"),
            base_path: header("Base Path"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "openapi: 3.1.0\ninfo:\n  title: t\n  version: '1'\npaths:\n  /.p2/x/v1/a:\n    get:\n      tags: [one, two]\n      responses:\n        '200':\n          description: ok\n";

    #[test]
    fn pointers_map_to_lines_and_columns() {
        let doc = Document::parse(DOC, "d.yaml").expect("parses");
        assert_eq!(doc.locate("/info/version"), Position { line: 4, column: 3 });
        assert_eq!(doc.locate("/paths/~1.p2~1x~1v1~1a/get").line, 7);
        assert_eq!(
            doc.locate("/paths/~1.p2~1x~1v1~1a/get/tags/1"),
            Position {
                line: 8,
                column: 19
            }
        );
        assert_eq!(
            doc.locate("/paths/~1.p2~1x~1v1~1a/get/responses/200/description")
                .line,
            11
        );
        // Absent: the nearest present ancestor.
        assert_eq!(
            doc.locate("/paths/~1.p2~1x~1v1~1a/get/responses/401").line,
            9
        );
        assert_eq!(doc.line_text(4), Some("  version: '1'"));
    }

    #[test]
    fn json_documents_have_positions_too() {
        let doc = Document::parse(
            "{\"openapi\": \"3.0.3\",\n \"info\": {\"title\": \"t\",\n  \"version\": \"1\"}, \"paths\": {}}",
            "d.json",
        )
        .expect("parses");
        assert_eq!(doc.dialect, Dialect::Oas30);
        assert_eq!(doc.locate("/info/version").line, 3);
    }

    #[test]
    fn unreadable_documents_get_clear_errors() {
        let e = Document::parse("openapi: [", "bad.yaml").unwrap_err();
        assert!(e.to_string().contains("bad.yaml"), "{e}");
        let e = Document::parse("openapi: 3.0\ninfo: {}\n", "n.yaml").unwrap_err();
        assert!(e.to_string().contains("is a number"), "{e}");
        let e = Document::parse("swagger: '2.0'\n", "s.yaml").unwrap_err();
        assert!(e.to_string().contains("no `openapi`"), "{e}");
        let e = Document::parse("openapi: 2.0.0\n", "v.yaml").unwrap_err();
        assert!(e.to_string().contains("unsupported"), "{e}");
        let e = Document::load(Path::new("/nonexistent/x.yaml"), "x").unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn spec_text_headers_are_read_with_lines() {
        let text = SpecText::parse(
            "# T\n\n**Namespace:** `mls`\n\n**Version:** `v1.0-alpha.2`\n\n**Base Path:** `/.p2/mls/v1/`\n",
            "t.md",
        );
        assert_eq!(
            text.namespace.as_ref().map(|h| h.value.as_str()),
            Some("mls")
        );
        let version = text.version.expect("version");
        assert_eq!((version.value.as_str(), version.line), ("v1.0-alpha.2", 5));
        assert_eq!(text.base_path.map(|h| h.value), Some("/.p2/mls/v1/".into()));
    }
}
