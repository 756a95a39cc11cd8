//! `p2mls lint`: a rule catalogue for polyproto OpenAPI documents, for spec editors.
//!
//! General OpenAPI linters know the format but not polyproto; these rules know both. Each rule has
//! a stable id (`P2L-<FAMILY>-<NNN>`, never renumbered), a severity and a rationale; each finding
//! names its document, a JSON pointer and the line and column the pointer is written at. The
//! rules live in one module per family (`structure`, `http`, `polyproto`, `parity`); `output`
//! renders findings as text with codeframes, JSON, SARIF 2.1.0 or Markdown; `baseline` holds the
//! accepted findings, each with a reason; `diff` compares two versions of a document. The
//! harness's matchers (`p2mls::matchers::attribution`) tell a schema defect that a rule here flags
//! from a server failure. docs/LINT.md lists the rules.

pub mod baseline;
pub mod diff;
pub mod fix;
pub mod http;
pub mod output;
pub mod parity;
pub mod polyproto;
pub mod source;
pub mod structure;

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

pub use baseline::Baseline;
pub use source::{Document, Error, Position, SpecText};

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The SARIF `level` of this severity.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (use error, warning or info)"
            )),
        }
    }
}

/// A rule of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `P2L-HTTP-002`.
    pub id: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what the rule finds.
    pub summary: &'static str,
    /// Why it matters.
    pub rationale: &'static str,
}

/// Every rule, in id order. docs/LINT.md documents the same list; a unit test keeps them equal.
pub const RULES: &[Rule] = &[
    structure::UNRESOLVED_REF,
    structure::INVALID_SCHEMA,
    structure::DIALECT_KEYWORD,
    structure::OPERATION_ID_UNIQUE,
    structure::OPERATION_ID_NAMING,
    structure::UNUSED_COMPONENT,
    structure::PLACEHOLDER_SERVER,
    structure::EMPTY_TAGS,
    structure::OAS30_MODEL,
    structure::REQUIRED_WITH_DEFAULT,
    structure::INVALID_EXAMPLE,
    structure::TRAILING_SLASH,
    structure::DUPLICATE_SUBSCHEMA,
    structure::UNDESCRIBED_OPERATION,
    http::STATUS_AS_BODY,
    http::SECURED_WITHOUT_401,
    http::GET_WITH_BODY,
    http::BODY_WITHOUT_400,
    http::NO_CONTENT_WITH_BODY,
    http::DESCRIPTION_STATUS,
    http::IMPLICIT_NO_SECURITY,
    http::MISSING_NOT_FOUND,
    polyproto::VERSION_VS_TEXT,
    polyproto::NAMESPACE,
    polyproto::IDENTIFIER_FORMAT,
    polyproto::EPOCH_WIDTH,
    polyproto::WIRE_MESSAGE,
    polyproto::NOT_FOUND_WORDING,
    polyproto::NOT_FOUND_CONSISTENT,
    polyproto::VERSION_SCHEMA,
    parity::VARIANT_PARITY,
];

/// The rule with `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub document: String,
    /// JSON pointer (RFC 6901) into the document.
    pub pointer: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The baseline's reason when the finding is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

impl Finding {
    /// A finding of `rule` at `pointer` of `doc`.
    pub fn at(rule: &'static Rule, doc: &Document, pointer: &str, message: String) -> Self {
        let p = doc.locate(pointer);
        Self {
            rule: rule.id,
            severity: rule.severity,
            document: doc.name.clone(),
            pointer: pointer.to_owned(),
            line: p.line,
            column: p.column,
            message,
            accepted: None,
        }
    }

    fn sort_key(&self) -> (&str, usize, usize, &str, &str, &str) {
        (
            &self.document,
            self.line,
            self.column,
            self.rule,
            &self.pointer,
            &self.message,
        )
    }
}

/// What to lint with.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Spec texts; a document is compared with the one whose namespace its paths use.
    pub spec_texts: Vec<SpecText>,
}

/// The result of a lint run.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub documents: Vec<DocumentInfo>,
    pub spec_texts: Vec<String>,
    /// Sorted by document, line, column, rule.
    pub findings: Vec<Finding>,
    /// Baseline entries that matched no finding (they went stale).
    pub stale_baseline: Vec<baseline::Entry>,
}

/// What the report says about each document.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentInfo {
    pub name: String,
    pub openapi: String,
    pub title: String,
    pub version: String,
}

impl LintReport {
    /// Findings not accepted by the baseline with at least `severity`.
    pub fn failing(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.accepted.is_none() && f.severity >= severity)
            .count()
    }

    /// (errors, warnings, infos, accepted) among the findings.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let open = |s| {
            self.findings
                .iter()
                .filter(|f| f.accepted.is_none() && f.severity == s)
                .count()
        };
        let accepted = self
            .findings
            .iter()
            .filter(|f| f.accepted.is_some())
            .count();
        (
            open(Severity::Error),
            open(Severity::Warning),
            open(Severity::Info),
            accepted,
        )
    }
}

/// Runs every rule over `docs` (and the parity rule over 3.0/3.1 pairs among them).
pub fn lint(docs: &[Document], options: &Options, baseline: Option<&Baseline>) -> LintReport {
    let mut findings = Vec::new();
    for doc in docs {
        structure::check(doc, &mut findings);
        http::check(doc, &mut findings);
        polyproto::check(doc, &options.spec_texts, &mut findings);
    }
    parity::check(docs, &mut findings);
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
    let stale_baseline = match baseline {
        Some(b) => b.apply(&mut findings),
        None => Vec::new(),
    };
    LintReport {
        documents: docs
            .iter()
            .map(|d| DocumentInfo {
                name: d.name.clone(),
                openapi: d.openapi.clone(),
                title: d.title().unwrap_or_default().to_owned(),
                version: d.version().unwrap_or_default().to_owned(),
            })
            .collect(),
        spec_texts: options.spec_texts.iter().map(|t| t.name.clone()).collect(),
        findings,
        stale_baseline,
    }
}

/// Output formats of `p2mls lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Sarif,
    Md,
}

/// Options of `p2mls lint`.
#[derive(Debug, Clone, clap::Args)]
pub struct LintArgs {
    /// OpenAPI 3.0.x/3.1.x documents (YAML or JSON); without any, our own documents in
    /// specs/openapi. A 3.0 and a 3.1 form of one version are compared with each other.
    #[arg(value_name = "DOC")]
    pub docs: Vec<PathBuf>,
    /// A polyproto spec text (Markdown) whose namespace, version and base path the documents
    /// must agree with; may be given once per text.
    #[arg(long = "spec-text", value_name = "FILE")]
    pub spec_texts: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when a finding at or above this severity is not accepted by the baseline.
    #[arg(long = "fail-on", value_name = "SEVERITY", default_value = "error")]
    pub fail_on: Severity,
    /// TOML file of accepted findings, each with a reason.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Repair what can be repaired mechanically, in place (keeping key order, comments and
    /// formatting of untouched lines); prints one line per repair, with its rule id.
    #[arg(long, conflicts_with = "fix_dry_run")]
    pub fix: bool,
    /// Print the repairs `--fix` would make as a unified diff, changing nothing.
    #[arg(long = "fix-dry-run")]
    pub fix_dry_run: bool,
}

/// Our own documents, linted when no DOC is given.
const OWN_DOCS: &[(&str, &str)] = &[
    (
        p2mls_openapi::DEFAULT_SPEC_NAME,
        p2mls_openapi::DEFAULT_SPEC,
    ),
    (
        "specs/openapi/polyproto-mls-v0.1.0-alpha.4.openapi-3.0.yaml",
        include_str!("../../specs/openapi/polyproto-mls-v0.1.0-alpha.4.openapi-3.0.yaml"),
    ),
];

/// What `p2mls lint` produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The rendered report (stdout); with `--fix-dry-run`, the repair summary and the diff.
    pub output: String,
    /// With `--fix`, one line per repair (stderr).
    pub notes: String,
    /// Documents, spec texts or baselines that could not be read (stderr).
    pub errors: Vec<String>,
    /// 0 nothing at or above `--fail-on`, 1 such findings, 2 something could not be read.
    pub code: i32,
}

/// Runs `p2mls lint`. Unreadable inputs do not stop the others from being linted, but make the
/// exit code 2. With `--fix`, the documents are repaired in place first and the report is about
/// the repaired documents; with `--fix-dry-run`, the output is the unified diff of the repairs
/// and the exit code is about the documents as they are.
pub fn run(args: &LintArgs) -> RunOutcome {
    let mut errors = Vec::new();
    let mut docs = Vec::new();
    if args.docs.is_empty() {
        for (name, text) in OWN_DOCS {
            match Document::parse(text, name) {
                Ok(d) => docs.push(d),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let mut doc_paths = Vec::new();
    for path in &args.docs {
        match Document::load(path, &path.display().to_string()) {
            Ok(d) => {
                docs.push(d);
                doc_paths.push(path);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut options = Options::default();
    for path in &args.spec_texts {
        match SpecText::load(path, &path.display().to_string()) {
            Ok(t) => options.spec_texts.push(t),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let baseline = match args.baseline.as_deref().map(Baseline::load).transpose() {
        Ok(b) => b,
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    let mut fix_output = String::new();
    if args.fix || args.fix_dry_run {
        if args.docs.is_empty() {
            errors.push("--fix and --fix-dry-run need the documents to repair (DOC)".to_owned());
            docs.clear();
        }
        for (doc, path) in docs.iter_mut().zip(doc_paths) {
            // Findings the baseline accepts are left as they are.
            let fixed = fix::fix_with(doc, baseline.as_ref());
            fix_output.push_str(&fix::summary(&doc.name, &fixed));
            if args.fix_dry_run {
                fix_output.push_str(&fix::unified_diff(&doc.name, &doc.text, &fixed.text));
                continue;
            }
            if fixed.applied.is_empty() {
                continue;
            }
            if let Err(e) = std::fs::write(path, &fixed.text) {
                errors.push(format!("cannot write {}: {e}", path.display()));
                continue;
            }
            // Lint what was written.
            match Document::parse(&fixed.text, &doc.name) {
                Ok(d) => *doc = d,
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let report = lint(&docs, &options, baseline.as_ref());
    let (output, notes) = if args.fix_dry_run {
        // The diff is the output; the exit code still follows the findings of the originals.
        (fix_output, String::new())
    } else {
        (output::render(&report, &docs, args.format), fix_output)
    };
    let code = if !errors.is_empty() {
        2
    } else {
        i32::from(report.failing(args.fail_on) > 0)
    };
    RunOutcome {
        output,
        notes,
        errors,
        code,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared walkers for the rule modules.
// ---------------------------------------------------------------------------------------------

/// HTTP methods an OpenAPI path item can hold.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a document, unresolved.
pub struct Op<'a> {
    pub path: &'a str,
    pub method: &'a str,
    /// Pointer to the operation object.
    pub pointer: String,
    pub value: &'a Value,
    /// The operationId, or `METHOD path`.
    pub label: String,
}

impl Op<'_> {
    /// The operation's responses (pointer, status, response object with `$ref` followed).
    pub fn responses<'d>(&'d self, doc: &'d Document) -> Vec<(String, &'d str, &'d Value)> {
        let mut out = Vec::new();
        if let Some(map) = self.value.get("responses").and_then(Value::as_object) {
            for (status, response) in map {
                out.push((
                    source::child(&format!("{}/responses", self.pointer), status),
                    status.as_str(),
                    doc.deref(response),
                ));
            }
        }
        out
    }

    /// Whether a response for `status` (exactly, by range or by default) is documented.
    pub fn documents(&self, status: u16) -> bool {
        let Some(map) = self.value.get("responses").and_then(Value::as_object) else {
            return false;
        };
        let range = format!("{}XX", status / 100);
        map.contains_key(&status.to_string())
            || map.keys().any(|k| k.eq_ignore_ascii_case(&range))
            || map.contains_key("default")
    }

    /// Whether calling the operation needs credentials (its own `security`, else the
    /// document's; an empty requirement `{}` makes security optional).
    pub fn secured(&self, doc: &Document) -> bool {
        let list = self
            .value
            .get("security")
            .or_else(|| doc.value.get("security"))
            .and_then(Value::as_array);
        list.is_some_and(|l| {
            !l.is_empty()
                && !l
                    .iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        })
    }

    /// Whether credentials are optional: the requirements (own, else the document's) list both
    /// a scheme and the empty requirement `{}`.
    pub fn optional_login(&self, doc: &Document) -> bool {
        let list = self
            .value
            .get("security")
            .or_else(|| doc.value.get("security"))
            .and_then(Value::as_array);
        let empty = |r: &Value| r.as_object().is_some_and(|o| o.is_empty());
        list.is_some_and(|l| l.iter().any(empty) && l.iter().any(|r| !empty(r)))
    }

    /// Whether the operation creates a resource under an id the caller chooses: a POST or PUT
    /// that documents 409 for an id that is already taken. For such an operation a missing
    /// resource is the normal case, not an error.
    pub fn creates_under_new_id(&self) -> bool {
        matches!(self.method, "post" | "put")
            && self
                .value
                .get("responses")
                .and_then(Value::as_object)
                .is_some_and(|r| r.contains_key("409"))
    }

    /// Whether the operation declares a request body.
    pub fn has_body(&self) -> bool {
        self.value.get("requestBody").is_some()
    }
}

/// Every operation of `doc`, in document order.
pub fn operations(doc: &Document) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    let Some(paths) = doc.value.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let item = doc.deref(item);
        for method in METHODS {
            if let Some(value) = item.get(*method) {
                let label = value
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map_or_else(
                        || format!("{} {path}", method.to_uppercase()),
                        str::to_owned,
                    );
                out.push(Op {
                    path,
                    method,
                    pointer: format!("{}/{method}", source::child("/paths", path)),
                    value,
                    label,
                });
            }
        }
    }
    out
}

/// Keywords whose value is one subschema.
const SUBSCHEMA: &[&str] = &[
    "items",
    "not",
    "additionalProperties",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
];
/// Keywords whose value is a list of subschemas.
const SUBSCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to subschemas.
const SUBSCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// Calls `visit(pointer, schema)` for every schema written in `doc` (top-level and nested),
/// without following `$ref`, so each written schema is visited once.
pub fn for_each_schema(doc: &Document, mut visit: impl FnMut(&str, &Value)) {
    fn walk_schema(pointer: &str, schema: &Value, visit: &mut dyn FnMut(&str, &Value)) {
        let Some(map) = schema.as_object() else {
            return;
        };
        visit(pointer, schema);
        for (key, value) in map {
            let here = source::child(pointer, key);
            if SUBSCHEMA.contains(&key.as_str()) {
                if value.is_object() {
                    walk_schema(&here, value, visit);
                } else if let Some(items) = value.as_array() {
                    // `items` as a list (draft 4 tuple form).
                    for (i, item) in items.iter().enumerate() {
                        walk_schema(&format!("{here}/{i}"), item, visit);
                    }
                }
            } else if SUBSCHEMA_LISTS.contains(&key.as_str()) {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    walk_schema(&format!("{here}/{i}"), item, visit);
                }
            } else if SUBSCHEMA_MAPS.contains(&key.as_str()) {
                for (name, item) in value.as_object().into_iter().flatten() {
                    walk_schema(&source::child(&here, name), item, visit);
                }
            }
        }
    }
    /// Finds `schema` keys in the non-schema parts of the document.
    fn walk_doc(pointer: &str, value: &Value, visit: &mut dyn FnMut(&str, &Value)) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let here = source::child(pointer, key);
                    if key == "schema" && v.is_object() {
                        walk_schema(&here, v, visit);
                    } else if pointer == "/components" && key == "schemas" {
                        for (name, s) in v.as_object().into_iter().flatten() {
                            walk_schema(&source::child(&here, name), s, visit);
                        }
                    } else if key != "example" && key != "examples" {
                        walk_doc(&here, v, visit);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk_doc(&format!("{pointer}/{i}"), item, visit);
                }
            }
            _ => {}
        }
    }
    walk_doc("", &doc.value, &mut visit);
}
pub use p2mls_openapi::schema::types;

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the rule tests: parse an inline document, lint it, pick one rule's findings.

    use super::*;

    pub fn doc(text: &str) -> Document {
        Document::parse(text, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The findings of `rule` for one document, with the given spec texts.
    pub fn findings_with(text: &str, rule: &str, texts: &[SpecText]) -> Vec<Finding> {
        let options = Options {
            spec_texts: texts.to_vec(),
        };
        lint(&[doc(text)], &options, None)
            .findings
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    pub fn findings(text: &str, rule: &str) -> Vec<Finding> {
        findings_with(text, rule, &[])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn rule_ids_are_unique_sorted_by_family_and_documented() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate rule id");
        let lint_md = include_str!("../../docs/LINT.md");
        for r in RULES {
            assert!(r.id.starts_with("P2L-"), "{}", r.id);
            assert!(!r.rationale.is_empty() && !r.summary.is_empty());
            assert!(
                lint_md.contains(&format!("`{}`", r.id)),
                "docs/LINT.md does not document {}",
                r.id
            );
        }
    }

    #[test]
    fn the_fix_column_of_docs_lint_md_matches_the_repairable_rules() {
        let lint_md = include_str!("../../docs/LINT.md");
        for r in RULES {
            let row = lint_md
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", r.id)))
                .unwrap_or_else(|| panic!("no row for {}", r.id));
            let says_no = row.ends_with("| no |");
            assert_eq!(
                says_no,
                !fix::REPAIRABLE.contains(&r.id),
                "the --fix column of {} disagrees with fix::REPAIRABLE",
                r.id
            );
        }
    }

    #[test]
    fn our_own_documents_lint_without_crashing() {
        let outcome = run(&LintArgs {
            docs: Vec::new(),
            spec_texts: Vec::new(),
            format: Format::Json,
            fail_on: Severity::Error,
            baseline: None,
            output: None,
            fix: false,
            fix_dry_run: false,
        });
        // Our restatement keeps the published defects on purpose: errors are expected.
        assert_eq!(outcome.code, 1, "{outcome:?}");
        assert!(outcome.errors.is_empty());
        let json: Value = serde_json::from_str(&outcome.output).expect("json");
        assert_eq!(json["documents"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!("warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!("fatal".parse::<Severity>().is_err());
    }
}
