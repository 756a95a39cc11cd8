//! Accepted findings (`--baseline FILE`): known defects that should not fail the gate, each with
//! a mandatory reason, like the `--expect` file of `p2mls run`. Entries that match no finding are
//! reported as stale, so the baseline shrinks when documents get fixed.
//!
//! ```toml
//! [[accepted]]
//! rule = "P2L-HTTP-001"                               # required
//! document = "polyproto.mls-v0.1.0-alpha.4.yaml"      # optional: end of the document's name
//! pointer = "/paths/~1.p2~1mls~1v1~1keypackages/post/responses/200/content/text~1plain/schema"
//! reason = "upstream defect; PROFILE.keypackage-batch-atomic works around it"   # required
//! ```

use crate::Error;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Finding;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub accepted: Vec<Entry>,
}

/// One accepted finding (or family of findings, when `document` or `pointer` is left out).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    pub reason: String,
}

impl Entry {
    fn matches(&self, f: &Finding) -> bool {
        self.rule == f.rule
            && self.document.as_deref().is_none_or(|d| {
                f.document == d
                    || f.document
                        .ends_with(&format!("/{}", d.trim_start_matches('/')))
            })
            && self.pointer.as_deref().is_none_or(|p| p == f.pointer)
    }
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Baseline(format!("cannot read baseline {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| Error::Baseline(format!("baseline {}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_text(text).map_err(Error::Baseline)
    }

    fn parse_text(text: &str) -> Result<Self, String> {
        let parsed: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(e) = parsed.accepted.iter().find(|e| e.reason.trim().is_empty()) {
            return Err(format!("the accepted finding of {} needs a reason", e.rule));
        }
        if let Some(e) = parsed
            .accepted
            .iter()
            .find(|e| super::rule(&e.rule).is_none())
        {
            return Err(format!("unknown rule `{}`", e.rule));
        }
        Ok(parsed)
    }

    /// Marks the findings the baseline accepts; returns the entries that matched nothing.
    pub fn apply(&self, findings: &mut [Finding]) -> Vec<Entry> {
        let mut stale = Vec::new();
        for entry in &self.accepted {
            let mut matched = false;
            for f in findings.iter_mut().filter(|f| entry.matches(f)) {
                f.accepted = Some(entry.reason.clone());
                matched = true;
            }
            if !matched {
                stale.push(entry.clone());
            }
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn finding(rule: &'static str, document: &str, pointer: &str) -> Finding {
        Finding {
            rule,
            severity: Severity::Error,
            document: document.into(),
            pointer: pointer.into(),
            line: 1,
            column: 1,
            message: String::new(),
            accepted: None,
        }
    }

    #[test]
    fn entries_accept_matching_findings_and_go_stale() {
        let baseline = Baseline::parse(
            "[[accepted]]\nrule = \"P2L-HTTP-001\"\ndocument = \"x.yaml\"\nreason = \"upstream\"\n\n[[accepted]]\nrule = \"P2L-PP-004\"\npointer = \"/a\"\nreason = \"known\"\n",
        )
        .expect("parses");
        let mut findings = vec![
            finding("P2L-HTTP-001", "3.1.0/x.yaml", "/p"),
            finding("P2L-HTTP-001", "3.1.0/y.yaml", "/p"),
        ];
        let stale = baseline.apply(&mut findings);
        assert_eq!(findings[0].accepted.as_deref(), Some("upstream"));
        assert_eq!(findings[1].accepted, None);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].rule, "P2L-PP-004");
    }

    #[test]
    fn a_reason_is_mandatory_and_rules_must_exist() {
        let e =
            Baseline::parse("[[accepted]]\nrule = \"P2L-HTTP-001\"\nreason = \" \"\n").unwrap_err();
        assert!(e.to_string().contains("needs a reason"), "{e}");
        let e = Baseline::parse("[[accepted]]\nrule = \"P2L-HTTP-001\"\n").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let e = Baseline::parse("[[accepted]]\nrule = \"P2L-NOPE\"\nreason = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown rule"), "{e}");
    }

    /// The baseline examples in README.md and docs/LINT.md parse.
    #[test]
    fn documented_examples_parse() {
        for (name, text) in [
            ("README.md", include_str!("../../README.md")),
            ("docs/LINT.md", include_str!("../../docs/LINT.md")),
        ] {
            let examples: Vec<&str> = text
                .split("```toml\n")
                .skip(1)
                .filter_map(|rest| rest.split("```").next())
                .filter(|block| block.contains("[[accepted]]"))
                .collect();
            assert!(!examples.is_empty(), "{name} has no baseline example");
            for block in examples {
                Baseline::parse(block).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}
