//! The vectors report: the harness's conventions (report.json with `summary {pass, fail,
//! non_strict, unsupported, error}`, junit.xml, report.md), with one verdict per vector entry.
//! `non_strict` is always 0 here (vectors have no SHOULDs) but kept so that tools reading
//! `p2mls run` reports read these too.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::verdict::Verdict;
use crate::EntryReport;

/// Counts per verdict, in the harness's shape.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub non_strict: usize,
    pub unsupported: usize,
    pub error: usize,
}

impl Summary {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a EntryReport>) -> Self {
        let mut s = Summary::default();
        for e in entries {
            match e.outcome.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Unsupported => s.unsupported += 1,
                Verdict::Error => s.error += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.non_strict + self.unsupported + self.error
    }
}

/// One file's line in the summary table.
#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    pub file: String,
    #[serde(flatten)]
    pub summary: Summary,
    pub duration_ms: u64,
}

/// What was verified, with what.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub harness: String,
    pub provider: String,
    pub directory: String,
    /// Known files that are not in the directory.
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
                "{:<38} {:>5} {:>5} {:>11} {:>5} {:>9}\n",
                f.file, s.pass, s.fail, s.unsupported, s.error, f.duration_ms
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
        let s = &self.summary;
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"p2mls vectors\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            s.total(),
            s.fail,
            s.error,
            s.unsupported
        ));
        for f in &self.files {
            let fs = &f.summary;
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
                xml_escape(&f.file),
                fs.total(),
                fs.fail,
                fs.error,
                fs.unsupported,
                f.duration_ms as f64 / 1000.0
            ));
            for e in self.entries.iter().filter(|e| e.file == f.file) {
                out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                    xml_escape(&crate::module_name(&e.file)),
                    xml_escape(&e.id),
                    e.duration.as_secs_f64()
                ));
                let reason = xml_escape(&e.outcome.reason);
                match e.outcome.verdict {
                    Verdict::Pass if e.outcome.notes.is_empty() => {}
                    Verdict::Pass => {
                        out.push_str(&format!("<system-out>{reason}</system-out>"));
                    }
                    Verdict::Fail => {
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
                        out.push_str(&format!(
                            "<failure message=\"{reason}\" type=\"fail\">{}</failure>",
                            xml_escape(&detail)
                        ));
                    }
                    Verdict::Error => out.push_str(&format!("<error message=\"{reason}\"/>")),
                    Verdict::Unsupported => {
                        out.push_str(&format!("<skipped message=\"{reason}\"/>"))
                    }
                }
                out.push_str("</testcase>\n");
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
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
                "- Files not in the directory: {}\n",
                h.absent.join(", ")
            ));
        }
        out.push_str("\n## Summary\n\n| pass | fail | non-strict | unsupported | error |\n|---|---|---|---|---|\n");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n\n",
            s.pass, s.fail, s.non_strict, s.unsupported, s.error
        ));
        out.push_str("## Files\n\n| file | pass | fail | unsupported | error | time ms |\n|---|---|---|---|---|---|\n");
        for f in &self.files {
            let fs = &f.summary;
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                f.file, fs.pass, fs.fail, fs.unsupported, fs.error, f.duration_ms
            ));
        }
        out.push_str("\n## Entries that did not pass plainly\n\n| entry | suite | verdict | reason |\n|---|---|---|---|\n");
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

    /// Writes report.json, junit.xml and report.md into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(&self.json()).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("junit.xml"), self.junit())?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        Ok(())
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Escapes text for XML (JUnit reports), dropping control characters XML 1.0 cannot carry.
pub fn xml_escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            other => other.to_string(),
        })
        .collect()
}
