//! Renderings of a lint report: text with codeframes (for people at a terminal), JSON (for
//! scripts), SARIF 2.1.0 (for code-scanning UIs) and Markdown (for reviews and `reports/`). All
//! four are deterministic: findings are sorted, and nothing depends on time or machine.

use std::collections::BTreeMap;

use p2mls_report::markdown::cell;
use serde_json::{json, Value};

use super::{Document, Finding, Format, LintReport, RULES};

pub fn render(report: &LintReport, docs: &[Document], format: Format) -> String {
    match format {
        Format::Text => text(report, docs),
        Format::Json => pretty(&json(report)),
        Format::Sarif => pretty(&sarif(report)),
        Format::Md => markdown(report),
    }
}

fn pretty(value: &Value) -> String {
    // Serialising a Value cannot fail (no non-string keys, no foreign Serialize impls).
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Lines of context shown above the finding's line.
const CONTEXT: usize = 2;

/// The text form: one block per finding with the source lines and a caret.
pub fn text(report: &LintReport, docs: &[Document]) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let label = match &f.accepted {
            Some(_) => format!("accepted {}", f.severity.as_str()),
            None => f.severity.as_str().to_owned(),
        };
        out.push_str(&format!("{label}[{}]: {}\n", f.rule, f.message));
        out.push_str(&format!("  --> {}:{}:{}\n", f.document, f.line, f.column));
        if let Some(doc) = docs.iter().find(|d| d.name == f.document) {
            let width = f.line.to_string().len();
            let first = f.line.saturating_sub(CONTEXT).max(1);
            out.push_str(&format!("{:>width$} |\n", ""));
            for n in first..=f.line {
                if let Some(line) = doc.line_text(n) {
                    out.push_str(&format!("{n:>width$} | {line}\n"));
                }
            }
            let caret_at = f.column.saturating_sub(1);
            let span = doc
                .line_text(f.line)
                .map(|l| {
                    l.chars()
                        .skip(caret_at)
                        .take_while(|c| !c.is_whitespace() && *c != ':')
                        .count()
                })
                .unwrap_or(1)
                .max(1);
            out.push_str(&format!(
                "{:>width$} | {}{}\n",
                "",
                " ".repeat(caret_at),
                "^".repeat(span)
            ));
        }
        out.push_str(&format!("   = pointer: {}\n", display_pointer(&f.pointer)));
        if let Some(rule) = super::rule(f.rule) {
            out.push_str(&format!("   = rule {}: {}\n", rule.name, rule.summary));
        }
        if let Some(reason) = &f.accepted {
            out.push_str(&format!("   = accepted: {reason}\n"));
        }
        out.push('\n');
    }
    for e in &report.stale_baseline {
        out.push_str(&format!(
            "stale baseline entry: {} {}{} matches no finding (reason was: {})\n",
            e.rule,
            e.document.as_deref().unwrap_or("*"),
            e.pointer.as_deref().unwrap_or(""),
            e.reason
        ));
    }
    let (errors, warnings, infos, accepted) = report.counts();
    out.push_str(&format!(
        "{errors} errors, {warnings} warnings, {infos} infos ({accepted} accepted) in {} documents\n",
        report.documents.len()
    ));
    out
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(document root)"
    } else {
        pointer
    }
}

/// The JSON form.
pub fn json(report: &LintReport) -> Value {
    let (errors, warnings, infos, accepted) = report.counts();
    json!({
        "tool": "p2mls lint",
        "documents": report.documents,
        "spec_texts": report.spec_texts,
        "summary": {
            "error": errors,
            "warning": warnings,
            "info": infos,
            "accepted": accepted,
        },
        "findings": report.findings,
        "stale_baseline": report.stale_baseline,
        "rules": RULES,
    })
}

/// A document name as a SARIF URI reference: forward slashes, and everything but unreserved
/// characters and `/` percent-encoded (RFC 3986).
fn uri(document: &str) -> String {
    let mut out = String::new();
    for byte in document.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The SARIF 2.1.0 form: one run, every rule in `tool.driver.rules`, one result per finding;
/// accepted findings carry an external suppression with the baseline's reason.
pub fn sarif(report: &LintReport) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.rationale},
                "help": {
                    "text": format!("{} {}", r.summary, r.rationale),
                    "markdown": format!("**{}** ({}): {}\n\n{}", r.id, r.name, r.summary, r.rationale),
                },
                "defaultConfiguration": {"level": r.severity.sarif_level()},
                "properties": {"tags": ["polyproto", "openapi"]},
            })
        })
        .collect();
    let artifacts: Vec<Value> = report
        .documents
        .iter()
        .map(|d| json!({"location": {"uri": uri(&d.name)}}))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": RULES.iter().position(|r| r.id == f.rule).unwrap_or(0),
                "level": f.severity.sarif_level(),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": uri(&f.document),
                            "index": report.documents.iter().position(|d| d.name == f.document).unwrap_or(0),
                        },
                        "region": {"startLine": f.line, "startColumn": f.column},
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": display_pointer(&f.pointer),
                        "kind": "member",
                    }],
                }],
                "partialFingerprints": {
                    "p2mlsPointer/v1": format!("{}|{}|{}", f.rule, uri(&f.document), f.pointer),
                },
            });
            if let Some(reason) = &f.accepted {
                result["suppressions"] = json!([{"kind": "external", "justification": reason}]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "p2mls lint",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "artifacts": artifacts,
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// The Markdown form: documents, counts per rule, then the findings of each document.
pub fn markdown(report: &LintReport) -> String {
    let mut out = String::from("# p2mls lint report\n\n");
    out.push_str("| # | document | OpenAPI | title | version |\n|---|---|---|---|---|\n");
    for (i, d) in report.documents.iter().enumerate() {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            i + 1,
            d.name,
            d.openapi,
            cell(&d.title),
            cell(&d.version)
        ));
    }
    if !report.spec_texts.is_empty() {
        out.push_str(&format!(
            "\nSpec texts: {}\n",
            report
                .spec_texts
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (errors, warnings, infos, accepted) = report.counts();
    out.push_str(&format!(
        "\n**{errors} errors, {warnings} warnings, {infos} infos** ({accepted} accepted)\n"
    ));
    out.push_str("\n## Findings per rule and document\n\n| rule | name | severity | ");
    for i in 1..=report.documents.len() {
        out.push_str(&format!("#{i} | "));
    }
    out.push_str("total |\n|---|---|---|");
    out.push_str(&"---|".repeat(report.documents.len() + 1));
    out.push('\n');
    let mut per: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in &report.findings {
        *per.entry((f.rule, f.document.as_str())).or_default() += 1;
    }
    for r in RULES {
        let counts: Vec<usize> = report
            .documents
            .iter()
            .map(|d| per.get(&(r.id, d.name.as_str())).copied().unwrap_or(0))
            .collect();
        let total: usize = counts.iter().sum();
        if total == 0 {
            continue;
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {}{total} |\n",
            r.id,
            r.name,
            r.severity.as_str(),
            counts.iter().map(|c| format!("{c} | ")).collect::<String>()
        ));
    }
    let silent: Vec<String> = RULES
        .iter()
        .filter(|r| !report.findings.iter().any(|f| f.rule == r.id))
        .map(|r| format!("`{}`", r.id))
        .collect();
    if !silent.is_empty() {
        out.push_str(&format!("\nNo findings for: {}.\n", silent.join(", ")));
    }
    for d in &report.documents {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.document == d.name)
            .collect();
        out.push_str(&format!("\n## `{}`\n\n", d.name));
        if findings.is_empty() {
            out.push_str("No findings.\n");
            continue;
        }
        out.push_str("| line | severity | rule | pointer | message |\n|---|---|---|---|---|\n");
        for f in findings {
            let severity = match &f.accepted {
                Some(reason) => format!("{} (accepted: {})", f.severity.as_str(), cell(reason)),
                None => f.severity.as_str().to_owned(),
            };
            out.push_str(&format!(
                "| {} | {severity} | `{}` | `{}` | {} |\n",
                f.line,
                f.rule,
                cell(display_pointer(&f.pointer)),
                cell(&f.message)
            ));
        }
    }
    if !report.stale_baseline.is_empty() {
        out.push_str("\n## Stale baseline entries\n\n");
        for e in &report.stale_baseline {
            out.push_str(&format!("- `{}`: {}\n", e.rule, cell(&e.reason)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lint, Baseline, Options};

    /// A small document with findings of several rules and severities.
    const DOC: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\ntags: []\npaths:\n  /.p2/mls/v1/groups/{id}:\n    get:\n      operationId: groups_getGroup\n      security: [{B: []}]\n      responses:\n        '200':\n          description: ok\n          content:\n            text/plain:\n              schema: {type: number, enum: [413]}\ncomponents:\n  securitySchemes:\n    B: {type: http, scheme: bearer}\n";

    fn report() -> (LintReport, Vec<Document>) {
        let docs = vec![Document::parse(DOC, "specs/a b.yaml").expect("parses")];
        let baseline = Baseline::parse(
            "[[accepted]]\nrule = \"P2L-STRUCT-008\"\nreason = \"tags come later\"\n",
        )
        .expect("baseline");
        (lint(&docs, &Options::default(), Some(&baseline)), docs)
    }

    #[test]
    fn sarif_output_validates_against_our_sarif_subset_schema() {
        let (report, _) = report();
        let sarif = sarif(&report);
        let schema: Value =
            serde_json::from_str(include_str!("sarif-subset.schema.json")).expect("schema");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // What a schema cannot say: indexes point at the right rule and artifact.
        let run = &sarif["runs"][0];
        let results = run["results"].as_array().expect("results");
        assert!(!results.is_empty());
        for r in results {
            let index = r["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(run["tool"]["driver"]["rules"][index]["id"], r["ruleId"]);
            let location = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            let artifact = location["index"].as_u64().expect("artifact") as usize;
            assert_eq!(
                run["artifacts"][artifact]["location"]["uri"],
                location["uri"]
            );
        }
        let suppressed: Vec<&Value> = results
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .collect();
        assert_eq!(suppressed.len(), 1);
        assert_eq!(suppressed[0]["ruleId"], "P2L-STRUCT-008");
        // A misspelt member is caught: the schema is not vacuous.
        let mut broken = sarif.clone();
        broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
            ["startline"] = json!(3);
        assert!(!validator.is_valid(&broken));
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("specs/a b.yaml"), "specs/a%20b.yaml");
        assert_eq!(uri("3.1.0\\x~1.yaml"), "3.1.0/x~1.yaml");
        assert_eq!(uri("ü"), "%C3%BC");
    }

    #[test]
    fn text_output_has_codeframes_and_a_summary() {
        let (report, docs) = report();
        let out = text(&report, &docs);
        assert!(out.contains("error[P2L-HTTP-001]"), "{out}");
        assert!(out.contains("  --> specs/a b.yaml:14:15"), "{out}");
        assert!(
            out.contains("14 |               schema: {type: number, enum: [413]}"),
            "{out}"
        );
        assert!(out.contains("   |               ^^^^^^"), "{out}");
        assert!(out.contains("accepted info[P2L-STRUCT-008]"), "{out}");
        assert!(out.ends_with("(1 accepted) in 1 documents\n"), "{out}");
    }

    #[test]
    fn markdown_and_json_outputs_list_every_finding() {
        let (report, _) = report();
        let md = markdown(&report);
        let json = json(&report);
        for f in &report.findings {
            assert!(md.contains(&format!("`{}`", f.rule)), "{md}");
        }
        assert_eq!(
            json["findings"].as_array().map(Vec::len),
            Some(report.findings.len())
        );
        assert_eq!(json["summary"]["accepted"], 1);
        assert!(md.contains("(accepted: tags come later)"), "{md}");
    }
}
