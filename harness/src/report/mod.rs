//! The report model and its four renderings (JSON, JUnit, Markdown, HTML). The deterministic form of
//! the JSON (sorted, volatile values redacted) is what the snapshot in `reports/` holds. The
//! summary, the JUnit writer and the Markdown helpers are `p2mls-report`'s, shared with
//! `p2mls vectors`.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::catalogue::Requirement;
use crate::check::{Level, SpecFinding, Verdict};
use crate::runner::{CheckReport, Gate};

/// Counts per verdict.
pub use p2mls_report::Summary;

impl p2mls_report::HasVerdict for CheckReport {
    fn verdict(&self) -> Verdict {
        self.verdict
    }
}

/// One cipher suite as the header states it (polyproto id vs MLS wire point).
#[derive(Debug, Clone, Serialize)]
pub struct SuiteRow {
    pub polyproto_id: String,
    pub wire: String,
    pub name: String,
}

/// What was tested, with what.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub harness: String,
    /// The target URL, or "embedded reference server".
    pub target: String,
    pub embedded: bool,
    pub spec_source: String,
    pub spec_openapi: String,
    pub spec_version: String,
    pub suites: Vec<SuiteRow>,
    /// MLS implementation of each actor in the suite runs.
    pub clients: Vec<String>,
    pub strict: bool,
    /// What the TLS probe saw (version, ALPN, the chain); None for plain http:// targets.
    pub tls: Option<crate::clients::tls::TlsObservation>,
    /// The config turned certificate verification off (local experiments only).
    pub insecure_skip_verify: bool,
    /// Requests per second the run kept to (None: unpaced).
    pub pacing_per_second: Option<f64>,
    /// Rate-limit answers the run waited out, and for how long.
    pub rate_limit: crate::clients::http::RateLimitStats,
}

/// A requirement with the checks that verify it and its resulting verdict.
#[derive(Debug, Clone, Serialize)]
pub struct RequirementRow {
    pub id: String,
    pub level: Level,
    pub source: String,
    pub summary: String,
    pub checks: Vec<String>,
    /// Worst verdict of its checks; None when no selected check covers it.
    pub verdict: Option<Verdict>,
    pub not_checked: Option<String>,
    /// Contradictions or defects in the source, and how the harness reads them (which side a
    /// verdict holds to account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub header: Header,
    pub summary: Summary,
    /// The five counts for the checks of each level: MUST, SHOULD and MAY judge the polyproto
    /// text, PROFILE our interop profile.
    pub by_level: BTreeMap<&'static str, Summary>,
    pub gate: Gate,
    pub checks: Vec<CheckReport>,
    pub requirements: Vec<RequirementRow>,
    /// Differential mode: where the target behaved unlike the reference server.
    pub differences: Vec<crate::differential::Difference>,
    /// Responses that failed validation because of a document defect (lint's attribution):
    /// findings about the spec, not server failures. Sorted by check.
    pub spec_findings: Vec<SpecFinding>,
    /// What the run removed from the target when it ended, and what it left there.
    pub cleanup: Option<crate::ledger::Cleanup>,
}

impl Report {
    pub fn new(
        header: Header,
        mut checks: Vec<CheckReport>,
        catalogue: Vec<Requirement>,
        gate: Gate,
    ) -> Self {
        checks.sort_by(|a, b| a.def.id.cmp(&b.def.id));
        let mut by_req: BTreeMap<&str, Vec<&CheckReport>> = BTreeMap::new();
        for c in &checks {
            for r in &c.def.requirements {
                by_req.entry(r.as_str()).or_default().push(c);
            }
        }
        let mut requirements: Vec<RequirementRow> = catalogue
            .into_iter()
            .map(|r| {
                let covering = by_req.get(r.id.as_str()).cloned().unwrap_or_default();
                // A requirement of the text takes its verdict from the checks of the text only:
                // a PROFILE check citing it judges our profile's reading, not the sentence.
                let judging = covering
                    .iter()
                    .filter(|c| r.level == Level::Profile || c.def.level != Level::Profile);
                RequirementRow {
                    checks: covering.iter().map(|c| c.def.id.clone()).collect(),
                    verdict: judging.map(|c| c.verdict).max_by_key(|v| severity(*v)),
                    id: r.id,
                    level: r.level,
                    source: r.source,
                    summary: r.summary,
                    not_checked: r.not_checked,
                    note: r.note,
                }
            })
            .collect();
        requirements.sort_by(|a, b| a.id.cmp(&b.id));
        let spec_findings = checks
            .iter()
            .flat_map(|c| c.spec_findings.iter().cloned())
            .collect();
        Self {
            header,
            summary: Summary::of(&checks),
            by_level: [Level::Must, Level::Should, Level::May, Level::Profile]
                .into_iter()
                .map(|level| {
                    let of_level = checks.iter().filter(|c| c.def.level == level);
                    (level.as_str(), Summary::of(of_level))
                })
                .collect(),
            gate,
            checks,
            requirements,
            spec_findings,
            differences: Vec::new(),
            cleanup: None,
        }
    }

    /// Writes report.json, junit.xml, report.md and report.html into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        p2mls_report::files::write_reports(
            dir,
            &json::render(self, false),
            &junit::render(self),
            &markdown::render(self),
            &html::render(self),
        )
    }
}

/// Order for "worst verdict": error and fail dominate.
fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 0,
        Verdict::Unsupported => 1,
        Verdict::NonStrict => 2,
        Verdict::Error => 3,
        Verdict::Fail => 4,
    }
}
