//! report.md: summary, per-check table and the traceability matrix requirement -> checks ->
//! verdict.

use p2mls_report::markdown::{cell, summary_table, table_head};

use super::Report;

pub fn render(report: &Report) -> String {
    let h = &report.header;
    let s = &report.summary;
    let mut out = String::new();
    out.push_str("# p2mls conformance report\n\n");
    out.push_str(&conformance_lines(report));
    out.push_str(&format!("- Target: {}\n", h.target));
    if h.insecure_skip_verify {
        out.push_str("- **TLS certificate verification is OFF (`insecure_skip_verify = true`): for local experiments only; this report says nothing about the target's certificate.**\n");
    }
    if let Some(rate) = h.pacing_per_second {
        out.push_str(&format!("- Pacing: {rate} requests/s\n"));
    }
    if h.rate_limit.retries > 0 {
        out.push_str(&format!(
            "- Rate limits: {} answers waited out, {} ms in all\n",
            h.rate_limit.retries, h.rate_limit.waited_ms
        ));
    }
    if let Some(tls) = &h.tls {
        out.push_str(&format!(
            "- TLS: {}, ALPN {}, chain presented by `{}`:\n",
            tls.version,
            tls.alpn.as_deref().unwrap_or("none"),
            tls.host
        ));
        for (i, cert) in tls.chain.iter().enumerate() {
            out.push_str(&format!("  - [{i}] {}\n", cell(&cert.to_string())));
        }
    }
    out.push_str(&format!(
        "- Document: {} (OpenAPI {}, API {})\n",
        h.spec_source, h.spec_openapi, h.spec_version
    ));
    out.push_str(&format!(
        "- Harness: {}{}\n",
        h.harness,
        if h.strict {
            " (strict: SHOULDs count)"
        } else {
            ""
        }
    ));
    out.push_str("- Cipher suites (polyproto id -> MLS wire code point):\n");
    for suite in &h.suites {
        out.push_str(&format!(
            "  - `{}` -> `{}`: {}\n",
            suite.polyproto_id, suite.wire, suite.name
        ));
    }
    out.push_str(&format!(
        "- MLS clients in the suite runs: {}\n",
        h.clients.join(", ")
    ));
    out.push_str("\n## Summary\n\n");
    out.push_str(&summary_table(s));
    out.push('\n');
    if !report.gate.new_failures.is_empty() {
        out.push_str(&format!(
            "New failures: {}\n\n",
            report.gate.new_failures.join(", ")
        ));
    }
    if !report.gate.now_passing.is_empty() {
        out.push_str(&format!(
            "Expected failures that now pass: {}\n\n",
            report.gate.now_passing.join(", ")
        ));
    }
    if let Some(cleanup) = &report.cleanup {
        out.push_str(&format!(
            "## Clean-up\n\nRemoved through the API: {} item(s). Left on the target: {} item(s).\n\n",
            cleanup.removed.len(),
            cleanup.left.len()
        ));
        if !cleanup.left.is_empty() {
            out.push_str(&table_head(&["left on the target", "id", "why"]));
            for item in &cleanup.left {
                out.push_str(&format!(
                    "| {} | `{}` | {} |\n",
                    item.kind,
                    cell(&item.id),
                    cell(&item.note)
                ));
            }
            out.push('\n');
        }
        for error in &cleanup.errors {
            out.push_str(&format!("Clean-up error: {}\n\n", cell(error)));
        }
    }
    let causes = crate::console::causes(&report.checks);
    if !causes.is_empty() {
        out.push_str(
            "## Root causes\n\nChecks that did not pass, grouped by reason (most checks first).\n\n",
        );
        out.push_str(&table_head(&["count", "verdict", "reason", "checks"]));
        for cause in &causes {
            let mut ids: Vec<String> = cause
                .checks
                .iter()
                .take(5)
                .map(|id| format!("`{id}`"))
                .collect();
            if cause.checks.len() > 5 {
                ids.push("…".into());
            }
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cause.checks.len(),
                cause.verdict.as_str(),
                cell(&cause.reason),
                ids.join(", ")
            ));
        }
        out.push('\n');
    }
    out.push_str("## Checks\n\n");
    out.push_str(&table_head(&[
        "check",
        "level",
        "verdict",
        "requirements",
        "reason",
    ]));
    for c in &report.checks {
        out.push_str(&format!(
            "| `{}` | {} | **{}** | {} | {} |\n",
            c.def.id,
            c.def.level.as_str(),
            c.verdict.as_str(),
            c.def.requirements.join(", "),
            cell(&c.reason)
        ));
    }
    let failing: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.evidence.is_some())
        .collect();
    if !failing.is_empty() {
        out.push_str("\n## Evidence\n");
        for c in failing {
            out.push_str(&format!(
                "\n### `{}` ({})\n\n{}\n",
                c.def.id,
                c.verdict.as_str(),
                c.reason
            ));
            for x in c.evidence.iter().flat_map(|e| &e.exchanges) {
                out.push_str(&format!(
                    "\n```\n{}\n-> {}\n{}\n```\n",
                    x.request,
                    x.status_text(),
                    x.body
                ));
            }
        }
    }
    let noted: Vec<_> = report
        .requirements
        .iter()
        .filter(|r| r.note.is_some() && !r.checks.is_empty())
        .collect();
    if !noted.is_empty() {
        out.push_str(
            "\n## Source defects behind these checks\n\nWhere the sources contradict themselves or \
             leave a gap, the checks hold the target to the reading below; a failure there is the \
             target's only under that reading.\n\n",
        );
        out.push_str(&table_head(&["requirement", "note"]));
        for r in noted {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                r.id,
                cell(r.note.as_deref().unwrap_or(""))
            ));
        }
    }
    if !report.differences.is_empty() {
        out.push_str("\n## Differences from the reference server\n\n");
        out.push_str(&table_head(&["check", "at", "target", "reference"]));
        for d in &report.differences {
            out.push_str(&format!(
                "| `{}` | {} | `{}` | `{}` |\n",
                d.check,
                d.at,
                cell(&d.target),
                cell(&d.reference)
            ));
        }
    }
    if !report.spec_findings.is_empty() {
        out.push_str(
            "\n## Spec findings\n\nResponses that did not match the document because the document is \
             defective (docs/LINT.md, attribution); they do not fail their checks.\n\n",
        );
        out.push_str(&table_head(&[
            "check",
            "operation",
            "status",
            "rule",
            "explanation",
            "observed",
        ]));
        for f in &report.spec_findings {
            out.push_str(&format!(
                "| `{}` | {} | {} | `{}` | {} | {} |\n",
                f.check,
                f.operation,
                f.status,
                f.rule,
                cell(&f.explanation),
                cell(&f.observed)
            ));
        }
    }
    out.push_str("\n## Traceability\n\n");
    out.push_str(&table_head(&[
        "requirement",
        "level",
        "source",
        "checks",
        "verdict",
    ]));
    for r in &report.requirements {
        let verdict = match (&r.verdict, &r.not_checked) {
            (Some(v), _) => v.as_str().to_owned(),
            (None, Some(why)) => format!("not checked: {}", cell(why)),
            (None, None) => "no check selected".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            r.id,
            r.level.as_str(),
            cell(&r.source),
            r.checks
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            verdict
        ));
    }
    out
}

/// The two opening lines: the polyproto text (MUST, SHOULD, MAY) and our profile, judged apart.
fn conformance_lines(report: &Report) -> String {
    let mut spec = p2mls_report::Summary::default();
    for level in ["MUST", "SHOULD", "MAY"] {
        if let Some(s) = report.by_level.get(level) {
            spec.pass += s.pass;
            spec.fail += s.fail;
            spec.non_strict += s.non_strict;
            spec.unsupported += s.unsupported;
            spec.error += s.error;
        }
    }
    let profile = report.by_level.get("PROFILE").copied().unwrap_or_default();
    let line = |name: &str, levels: &str, s: &p2mls_report::Summary| {
        let total = s.pass + s.fail + s.non_strict + s.unsupported + s.error;
        let verdict = if s.fail + s.error == 0 {
            "conforms"
        } else {
            "does not conform"
        };
        format!(
            "**{name} conformance ({levels}): {verdict}**: {} of {total} checks pass, {} fail, {} non-strict, {} unsupported, {} error.\n",
            s.pass, s.fail, s.non_strict, s.unsupported, s.error
        )
    };
    format!(
        "{}\n{}\nExit code gate: `{}`.\n\n",
        line("Spec", "MUST, SHOULD, MAY", &spec),
        line("Profile", "PROFILE", &profile),
        match report.gate.level {
            crate::runner::GateLevel::Spec => "spec",
            crate::runner::GateLevel::Profile => "profile",
        }
    )
}
