//! The vectors report: the harness's conventions (report.json with `summary {pass, fail,
//! non_strict, unsupported, error}`, junit.xml, report.md, report.html), with one verdict per
//! vector entry. `non_strict` is always 0 here (vectors have no SHOULDs) but kept so that tools reading
//! `p2mls run` reports read these too.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use p2mls_report::html::{self, escape};
use p2mls_report::junit::{Body, Junit};
use p2mls_report::markdown::{cell, summary_table, table_head};
use p2mls_report::HasVerdict;
use serde::Serialize;

use crate::verdict::Verdict;
use crate::EntryReport;

/// Counts per verdict, in the harness's shape.
pub use p2mls_report::Summary;

impl HasVerdict for EntryReport {
    fn verdict(&self) -> Verdict {
        self.outcome.verdict
    }
}

/// One file's line in the summary table.
#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    /// The path relative to the verified directory.
    pub file: String,
    /// The kind it was recognised as (its upstream file name); None: no known kind.
    pub kind: Option<&'static str>,
    #[serde(flatten)]
    pub summary: Summary,
    pub duration_ms: u64,
}

impl FileRow {
    /// The kind, when the file's own name does not say it (recognised by its content).
    pub fn recognised_as(&self) -> Option<&'static str> {
        self.kind
            .filter(|k| self.file.rsplit('/').next() != Some(*k))
    }
}

/// What was verified, with what.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub harness: String,
    pub provider: String,
    pub directory: String,
    /// Kinds of vector file (upstream file names) that no file in the directory was
    /// recognised as.
    pub absent: Vec<String>,
    /// The suite filter, if any (`0x0001` style, MLS wire code point).
    pub suite: Option<String>,
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub header: Header,
    pub summary: Summary,
    pub files: Vec<FileRow>,
    pub entries: Vec<EntryReport>,
}

impl Report {
    pub fn new(header: Header, entries: Vec<EntryReport>) -> Self {
        let mut by_file: BTreeMap<String, (Vec<&EntryReport>, Duration)> = BTreeMap::new();
        let mut order = Vec::new();
        for e in &entries {
            if !by_file.contains_key(&e.file) {
                order.push(e.file.clone());
            }
            let slot = by_file.entry(e.file.clone()).or_default();
            slot.0.push(e);
            slot.1 += e.duration;
        }
        let files = order
            .into_iter()
            .filter_map(|f| {
                by_file.get(&f).map(|(es, d)| FileRow {
                    kind: es.first().and_then(|e| e.kind),
                    summary: Summary::of(es.iter().copied()),
                    file: f.clone(),
                    duration_ms: d.as_millis() as u64,
                })
            })
            .collect();
        Report {
            header,
            summary: Summary::of(&entries),
            files,
            entries,
        }
    }

    /// 0: nothing failed; 1: an entry failed or could not be read.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.summary.fail + self.summary.error > 0)
    }

    /// The summary table printed by the CLI.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<38} {:>5} {:>5} {:>11} {:>5} {:>9}\n",
            "file", "pass", "fail", "unsupported", "error", "time ms"
        );
        for f in &self.files {
            let s = &f.summary;
            out.push_str(&format!(
                "{:<38} {:>5} {:>5} {:>11} {:>5} {:>9}{}\n",
                f.file,
                s.pass,
                s.fail,
                s.unsupported,
                s.error,
                f.duration_ms,
                f.recognised_as()
                    .map(|k| format!("  (as {k})"))
                    .unwrap_or_default()
            ));
        }
        let s = &self.summary;
        out.push_str(&format!(
            "{:<38} {:>5} {:>5} {:>11} {:>5}\n",
            "total", s.pass, s.fail, s.unsupported, s.error
        ));
        out
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn junit(&self) -> String {
        let mut junit = Junit::new("p2mls vectors", &self.summary, None);
        for f in &self.files {
            junit.suite(&f.file, &f.summary, f.duration_ms as f64 / 1000.0);
            for e in self.entries.iter().filter(|e| e.file == f.file) {
                let reason = e.outcome.reason.as_str();
                let detail = e
                    .outcome
                    .mismatch
                    .as_ref()
                    .map(|m| {
                        format!(
                            "field: {}\nexpected: {}\ncomputed: {}",
                            m.field, m.expected, m.computed
                        )
                    })
                    .unwrap_or_default();
                // Vectors have no SHOULDs: non-strict is the run's vocabulary, never an entry's.
                let non_strict = format!("non-strict: {reason}");
                let body = match e.outcome.verdict {
                    Verdict::Pass if e.outcome.notes.is_empty() => Body::Empty,
                    Verdict::Pass => Body::SystemOut(reason),
                    Verdict::Fail => Body::Failure {
                        message: reason,
                        kind: "fail",
                        detail: &detail,
                    },
                    Verdict::Error => Body::Error {
                        message: reason,
                        detail: None,
                    },
                    Verdict::Unsupported => Body::Skipped { message: reason },
                    Verdict::NonStrict => Body::SystemOut(&non_strict),
                };
                junit.testcase(
                    &crate::module_name(&e.file),
                    &e.id,
                    e.duration.as_secs_f64(),
                    body,
                );
            }
            junit.end_suite();
        }
        junit.finish()
    }

    pub fn markdown(&self) -> String {
        let h = &self.header;
        let s = &self.summary;
        let mut out = String::from("# p2mls RFC 9420 vector report\n\n");
        out.push_str(&format!("- Harness: {}\n", h.harness));
        out.push_str(&format!("- Provider: {}\n", h.provider));
        out.push_str(&format!("- Directory: {}\n", h.directory));
        if let Some(suite) = &h.suite {
            out.push_str(&format!("- Suite filter (MLS wire): {suite}\n"));
        }
        if let Some(file) = &h.file {
            out.push_str(&format!("- File filter: {file}\n"));
        }
        if !h.absent.is_empty() {
            out.push_str(&format!(
                "- Kinds no file in the directory was recognised as: {}\n",
                h.absent.join(", ")
            ));
        }
        out.push_str("\n## Summary\n\n");
        out.push_str(&summary_table(s));
        out.push_str("\n## Files\n\n");
        out.push_str(&table_head(&[
            "file",
            "kind",
            "pass",
            "fail",
            "unsupported",
            "error",
            "time ms",
        ]));
        for f in &self.files {
            let fs = &f.summary;
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                f.file,
                f.kind.unwrap_or("none"),
                fs.pass,
                fs.fail,
                fs.unsupported,
                fs.error,
                f.duration_ms
            ));
        }
        out.push_str("\n## Entries that did not pass plainly\n\n");
        out.push_str(&table_head(&["entry", "suite", "verdict", "reason"]));
        for e in self
            .entries
            .iter()
            .filter(|e| e.outcome.verdict != Verdict::Pass || !e.outcome.notes.is_empty())
        {
            out.push_str(&format!(
                "| `{}` | {} | **{}** | {} |\n",
                e.id,
                e.suite.as_deref().unwrap_or("-"),
                e.outcome.verdict.as_str(),
                cell(&e.outcome.reason)
            ));
        }
        out
    }

    /// report.html: the summary and facts, the files, then the entries that failed or erred
    /// (with the mismatching field) in `<details>`, the unsupported ones grouped by reason and
    /// the passes with notes, both folded. Every string from a vector file is escaped.
    pub fn html(&self) -> String {
        let h = &self.header;
        let mut out = String::from("<h1>p2mls RFC 9420 vector report</h1>\n");
        out.push_str(&html::summary(&self.summary));
        let mut facts = vec![
            ("Harness", escape(&h.harness)),
            ("Provider", escape(&h.provider)),
            (
                "Directory",
                format!("<code>{}</code>", escape(&h.directory)),
            ),
        ];
        if let Some(suite) = &h.suite {
            facts.push(("Suite filter (MLS wire)", escape(suite)));
        }
        if let Some(file) = &h.file {
            facts.push(("File filter", escape(file)));
        }
        if !h.absent.is_empty() {
            facts.push((
                "Kinds no file was recognised as",
                escape(&h.absent.join(", ")),
            ));
        }
        out.push_str("<dl class=\"facts\">\n");
        for (name, value) in facts {
            out.push_str(&format!("<dt>{name}</dt><dd>{value}</dd>\n"));
        }
        out.push_str(
            "</dl>\n<h2>Files</h2>\n<table>\n<thead><tr><th>file</th><th>kind</th>\
             <th>pass</th><th>fail</th><th>unsupported</th><th>error</th><th>time ms</th></tr>\
             </thead>\n<tbody>\n",
        );
        for f in &self.files {
            let fs = &f.summary;
            let worst = if fs.fail > 0 {
                Verdict::Fail
            } else if fs.error > 0 {
                Verdict::Error
            } else if fs.pass == 0 && fs.unsupported > 0 {
                Verdict::Unsupported
            } else {
                Verdict::Pass
            };
            out.push_str(&format!(
                "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                html::verdict_class(worst),
                escape(&f.file),
                f.kind.unwrap_or("none"),
                fs.pass,
                fs.fail,
                fs.unsupported,
                fs.error,
                f.duration_ms
            ));
        }
        out.push_str("</tbody>\n</table>\n");
        let broken: Vec<&EntryReport> = self
            .entries
            .iter()
            .filter(|e| matches!(e.outcome.verdict, Verdict::Fail | Verdict::Error))
            .collect();
        if !broken.is_empty() {
            out.push_str("<h2>Entries that failed or could not be read</h2>\n");
            for e in broken {
                out.push_str(&format!(
                    "<details class=\"{}\" open>\n<summary>{} <code>{}</code></summary>\n<p>{}</p>\n",
                    html::verdict_class(e.outcome.verdict),
                    html::verdict_label(e.outcome.verdict),
                    escape(&e.id),
                    escape(&e.outcome.reason)
                ));
                if let Some(m) = &e.outcome.mismatch {
                    out.push_str(&format!(
                        "<p>field <code>{}</code></p>\n<h4>expected</h4>\n<pre>{}</pre>\n\
                         <h4>computed</h4>\n<pre>{}</pre>\n",
                        escape(&m.field),
                        escape(&m.expected),
                        escape(&m.computed)
                    ));
                }
                out.push_str("</details>\n");
            }
        }
        // Many and expected (a provider lacks a suite): one line per reason.
        let mut unsupported: Vec<(&str, Vec<&str>)> = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.outcome.verdict == Verdict::Unsupported)
        {
            match unsupported.iter_mut().find(|(r, _)| *r == e.outcome.reason) {
                Some((_, ids)) => ids.push(&e.id),
                None => unsupported.push((&e.outcome.reason, vec![&e.id])),
            }
        }
        if !unsupported.is_empty() {
            out.push_str("<h2>Unsupported entries</h2>\n");
            for (reason, ids) in unsupported {
                out.push_str(&format!(
                    "<details class=\"v-unsupported\">\n<summary>{} {} entries: {}</summary>\n<p>{}</p>\n</details>\n",
                    html::verdict_label(Verdict::Unsupported),
                    ids.len(),
                    escape(reason),
                    ids.iter()
                        .map(|id| format!("<code>{}</code>", escape(id)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let noted: Vec<&EntryReport> = self
            .entries
            .iter()
            .filter(|e| e.outcome.verdict == Verdict::Pass && !e.outcome.notes.is_empty())
            .collect();
        if !noted.is_empty() {
            out.push_str(&format!(
                "<h2>Passes with notes</h2>\n<details>\n<summary>{} entries passed with a \
                 condition or a note</summary>\n<table>\n<thead><tr><th>entry</th><th>notes</th>\
                 </tr></thead>\n<tbody>\n",
                noted.len()
            ));
            for e in noted {
                out.push_str(&format!(
                    "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
                    escape(&e.id),
                    escape(&e.outcome.notes.join("; "))
                ));
            }
            out.push_str("</tbody>\n</table>\n</details>\n");
        }
        html::page("p2mls RFC 9420 vector report", &out)
    }

    /// Writes report.json, junit.xml, report.md and report.html into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        p2mls_report::files::write_reports(
            dir,
            &self.json(),
            &self.junit(),
            &self.markdown(),
            &self.html(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Mismatch, Outcome};

    fn entry(id: &str, verdict: Verdict, reason: &str, mismatch: Option<Mismatch>) -> EntryReport {
        EntryReport {
            id: id.into(),
            file: "tree-math.json".into(),
            index: 0,
            suite: None,
            provider: "test",
            kind: Some("tree-math.json"),
            outcome: Outcome {
                verdict,
                reason: reason.into(),
                mismatch,
                notes: Vec::new(),
            },
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn the_html_report_escapes_what_a_vector_file_says_and_shows_the_mismatch() {
        let hostile = "</pre><script>alert(1)</script>";
        let report = Report::new(
            Header {
                harness: "p2mls".into(),
                provider: "test".into(),
                directory: "/tmp/<dir>".into(),
                absent: Vec::new(),
                suite: None,
                file: None,
            },
            vec![
                entry("tree_math::entry_0", Verdict::Pass, "", None),
                entry(
                    "tree_math::entry_1",
                    Verdict::Fail,
                    "root differs",
                    Some(Mismatch {
                        field: "root".into(),
                        expected: hostile.into(),
                        computed: "7".into(),
                    }),
                ),
                entry("tree_math::entry_2", Verdict::Unsupported, "no suite", None),
                entry("tree_math::entry_3", Verdict::Unsupported, "no suite", None),
            ],
        );
        let html = report.html();
        assert!(!html.contains("<script"));
        assert!(html.contains("<pre>&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;</pre>"));
        assert!(html.contains("<code>/tmp/&lt;dir&gt;</code>"));
        assert!(html.contains(
            "<span class=\"verdict v-fail\">fail</span> <code>tree_math::entry_1</code>"
        ));
        // The two unsupported entries share one line.
        assert!(html.contains("2 entries: no suite"));
        assert!(html.contains("<tr class=\"v-fail\"><td><code>tree-math.json</code>"));
    }
}
