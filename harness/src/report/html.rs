//! report.html: what report.md says, for a person with a browser. It opens with the five counts
//! and the header facts, then the root causes, the table of checks (each row labelled and
//! coloured by its verdict) and, per check that did not pass, its evidence in a `<details>`
//! block. One self-contained file (p2mls_report::html: inline CSS, no script, no external
//! asset); every string that came from the target or the run goes through `escape`.

use p2mls_report::html::{escape, page, summary, verdict_class, verdict_label};

use super::Report;
use crate::check::Verdict;
use crate::runner::CheckReport;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<h1>p2mls conformance report</h1>\n");
    out.push_str(&summary(&report.summary));
    facts(report, &mut out);
    gate(report, &mut out);
    causes(report, &mut out);
    checks(report, &mut out);
    timeline(report, &mut out);
    evidence(report, &mut out);
    cleanup(report, &mut out);
    differences(report, &mut out);
    spec_findings(report, &mut out);
    traceability(report, &mut out);
    page(
        &format!("p2mls conformance report: {}", report.header.target),
        &out,
    )
}

/// The anchor of a check's row and of its evidence.
fn row_id(id: &str) -> String {
    escape(&format!("check-{id}"))
}

fn evidence_id(id: &str) -> String {
    escape(&format!("evidence-{id}"))
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// New failures and stale expectations, folded: without `--expect` every failure is new, and
/// the list repeats the table below.
fn gate(report: &Report, out: &mut String) {
    let list = |ids: &[String]| ids.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ");
    for (what, ids) in [
        ("New failures", &report.gate.new_failures),
        ("Expected failures that now pass", &report.gate.now_passing),
    ] {
        if !ids.is_empty() {
            out.push_str(&format!(
                "<details class=\"gate\"><summary>{what}: {}</summary>\n<p>{}</p>\n</details>\n",
                ids.len(),
                list(ids)
            ));
        }
    }
}

/// The header facts report.md lists, as a definition list.
fn facts(report: &Report, out: &mut String) {
    let h = &report.header;
    if h.insecure_skip_verify {
        out.push_str(
            "<p class=\"warning\"><strong>TLS certificate verification is OFF \
             (<code>insecure_skip_verify = true</code>): for local experiments only; this report \
             says nothing about the target's certificate.</strong></p>\n",
        );
    }
    let mut rows: Vec<(&str, String)> = vec![("Target", escape(&h.target))];
    if let Some(rate) = h.pacing_per_second {
        rows.push(("Pacing", format!("{rate} requests/s")));
    }
    if h.rate_limit.retries > 0 {
        rows.push((
            "Rate limits",
            format!(
                "{} answers waited out, {} ms in all",
                h.rate_limit.retries, h.rate_limit.waited_ms
            ),
        ));
    }
    match &h.tls {
        Some(tls) => {
            let chain: String = tls
                .chain
                .iter()
                .enumerate()
                .map(|(i, cert)| format!("<li>[{i}] {}</li>", escape(&cert.to_string())))
                .collect();
            rows.push((
                "TLS",
                format!(
                    "{}, ALPN {}, chain presented by {}:<ul>{chain}</ul>",
                    escape(&tls.version),
                    escape(tls.alpn.as_deref().unwrap_or("none")),
                    code(&tls.host)
                ),
            ));
        }
        None => rows.push(("TLS", "none (plain http)".to_owned())),
    }
    rows.push((
        "Document",
        format!(
            "{} (OpenAPI {}, API {})",
            escape(&h.spec_source),
            escape(&h.spec_openapi),
            escape(&h.spec_version)
        ),
    ));
    rows.push((
        "Harness",
        format!(
            "{}{}",
            escape(&h.harness),
            if h.strict {
                " (strict: SHOULDs count)"
            } else {
                ""
            }
        ),
    ));
    let suites: String = h
        .suites
        .iter()
        .map(|s| {
            format!(
                "<li>{} -&gt; {}: {}</li>",
                code(&s.polyproto_id),
                code(&s.wire),
                escape(&s.name)
            )
        })
        .collect();
    rows.push((
        "Cipher suites",
        format!("(polyproto id -&gt; MLS wire code point)<ul>{suites}</ul>"),
    ));
    rows.push(("MLS clients", escape(&h.clients.join(", "))));
    out.push_str("<dl class=\"facts\">\n");
    for (name, value) in rows {
        out.push_str(&format!("<dt>{name}</dt><dd>{value}</dd>\n"));
    }
    out.push_str("</dl>\n");
}

fn causes(report: &Report, out: &mut String) {
    let causes = crate::console::causes(&report.checks);
    if causes.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"root-causes\">Root causes</h2>\n<p>Checks that did not pass, grouped by reason \
         (most checks first).</p>\n<table class=\"causes\">\n<thead><tr><th>count</th>\
         <th>verdict</th><th>reason</th><th>checks</th></tr></thead>\n<tbody>\n",
    );
    for cause in &causes {
        let ids: Vec<String> = cause
            .checks
            .iter()
            .map(|id| format!("<a href=\"#{}\">{}</a>", row_id(id), code(id)))
            .collect();
        out.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"reason\">{}</td><td>{}</td></tr>\n",
            verdict_class(cause.verdict),
            cause.checks.len(),
            verdict_label(cause.verdict),
            escape(&cause.reason),
            ids.join(", ")
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn checks(report: &Report, out: &mut String) {
    out.push_str(
        "<h2 id=\"checks\">Checks</h2>\n<table class=\"checks\">\n<thead><tr><th>check</th>\
         <th>level</th><th>verdict</th><th>reason</th></tr></thead>\n<tbody>\n",
    );
    for c in &report.checks {
        let reason = if c.verdict == Verdict::Pass {
            String::new()
        } else {
            format!(
                "{} <a href=\"#{}\">evidence</a>",
                escape(&c.reason),
                evidence_id(&c.def.id)
            )
        };
        out.push_str(&format!(
            "<tr id=\"{}\" class=\"{}\" data-verdict=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"reason\">{reason}</td></tr>\n",
            row_id(&c.def.id),
            verdict_class(c.verdict),
            c.verdict.as_str(),
            code(&c.def.id),
            c.def.level.as_str(),
            verdict_label(c.verdict),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

/// When each check ran and for how long, in the order they started: a bar per check on one time
/// axis, so the checks that ran concurrently are seen side by side.
fn timeline(report: &Report, out: &mut String) {
    let mut order: Vec<&CheckReport> = report.checks.iter().collect();
    order.sort_by_key(|c| (c.started, c.def.id.clone()));
    let end = order
        .iter()
        .map(|c| c.started + c.duration)
        .max()
        .unwrap_or_default()
        .as_secs_f64()
        .max(0.001);
    let most_at_once = order
        .iter()
        .map(|c| {
            order
                .iter()
                .filter(|o| o.started <= c.started && c.started < o.started + o.duration)
                .count()
        })
        .max()
        .unwrap_or(0);
    out.push_str(&format!(
        "<h2 id=\"timeline\">Timeline</h2>\n<p>{} checks in {:.2} s, at most {most_at_once} at once.</p>\n<div class=\"timeline\">\n",
        order.len(),
        end
    ));
    for c in order {
        let left = 100.0 * c.started.as_secs_f64() / end;
        let width = (100.0 * c.duration.as_secs_f64() / end).max(0.2);
        out.push_str(&format!(
            "<div class=\"tl-row\" data-check=\"{id}\"><code>{id}</code><span class=\"tl-track\">\
             <span class=\"tl-bar {class}\" style=\"margin-left:{left:.2}%;width:{width:.2}%\" \
             title=\"{id}: {start} ms + {took} ms\"></span></span><span class=\"tl-ms\">{took} ms</span></div>\n",
            id = escape(&c.def.id),
            class = verdict_class(c.verdict),
            start = c.started.as_millis(),
            took = c.duration.as_millis(),
        ));
    }
    out.push_str("</div>\n");
}

/// Per check that did not pass: requirements, expected vs observed, every exchange (curl line,
/// status, headers, body) and the gateway transcript.
fn evidence(report: &Report, out: &mut String) {
    let failing: Vec<&CheckReport> = report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .collect();
    if failing.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"evidence\">Evidence</h2>\n");
    for c in failing {
        out.push_str(&format!(
            "<details id=\"{}\" class=\"{}\">\n<summary>{} {} {}</summary>\n",
            evidence_id(&c.def.id),
            verdict_class(c.verdict),
            verdict_label(c.verdict),
            code(&c.def.id),
            escape(&c.def.title)
        ));
        out.push_str(&format!(
            "<p>{}</p>\n<p>Level {}; requirements: {}</p>\n",
            escape(&c.reason),
            c.def.level.as_str(),
            c.def
                .requirements
                .iter()
                .map(|r| code(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for retry in &c.rate_limited {
            out.push_str(&format!("<p>Rate limited: {}</p>\n", escape(retry)));
        }
        let Some(e) = &c.evidence else {
            out.push_str("<p>No evidence recorded.</p>\n</details>\n");
            continue;
        };
        out.push_str(&format!(
            "<h4>expected</h4>\n<pre>{}</pre>\n<h4>observed</h4>\n<pre>{}</pre>\n",
            escape(&e.expected),
            escape(&e.observed)
        ));
        for (i, x) in e.exchanges.iter().enumerate() {
            let status = x
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            let headers: String = x
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            out.push_str(&format!(
                "<h4>request {}</h4>\n<pre class=\"request\">{}</pre>\n\
                 <h4>response: {}</h4>\n<pre class=\"response\">{}\n{}</pre>\n",
                i + 1,
                escape(&x.request),
                escape(&status),
                escape(&headers),
                escape(&x.body)
            ));
        }
        if !e.transcript.is_empty() {
            out.push_str(
                "<h4>gateway transcript</h4>\n<table class=\"transcript\">\n<thead><tr>\
                 <th>ms</th><th>connection</th><th>direction</th><th>payload</th></tr></thead>\n<tbody>\n",
            );
            for f in &e.transcript {
                let direction = f.direction.as_str();
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{direction}</td><td><code>{}</code></td></tr>\n",
                    f.at_ms,
                    escape(&f.connection),
                    escape(&f.payload)
                ));
            }
            out.push_str("</tbody>\n</table>\n");
        }
        out.push_str("</details>\n");
    }
}

fn cleanup(report: &Report, out: &mut String) {
    let Some(cleanup) = &report.cleanup else {
        return;
    };
    out.push_str(&format!(
        "<h2 id=\"cleanup\">Clean-up</h2>\n<p>Removed through the API: {} item(s). Left on the \
         target: {} item(s).</p>\n",
        cleanup.removed.len(),
        cleanup.left.len()
    ));
    if !cleanup.left.is_empty() {
        out.push_str(
            "<table>\n<thead><tr><th>left on the target</th><th>id</th><th>why</th></tr></thead>\n<tbody>\n",
        );
        for item in &cleanup.left {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&item.kind),
                code(&item.id),
                escape(&item.note)
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    for error in &cleanup.errors {
        out.push_str(&format!("<p>Clean-up error: {}</p>\n", escape(error)));
    }
}

fn differences(report: &Report, out: &mut String) {
    if report.differences.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"differences\">Differences from the reference server</h2>\n<table>\n<thead><tr>\
         <th>check</th><th>at</th><th>target</th><th>reference</th></tr></thead>\n<tbody>\n",
    );
    for d in &report.differences {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            code(&d.check),
            escape(&d.at),
            code(&d.target),
            code(&d.reference)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn spec_findings(report: &Report, out: &mut String) {
    if report.spec_findings.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"spec-findings\">Spec findings</h2>\n<p>Responses that did not match the document \
         because the document is defective (docs/LINT.md, attribution); they do not fail their \
         checks.</p>\n<table>\n<thead><tr><th>check</th><th>operation</th><th>status</th>\
         <th>rule</th><th>explanation</th><th>observed</th></tr></thead>\n<tbody>\n",
    );
    for f in &report.spec_findings {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            code(&f.check),
            escape(&f.operation),
            f.status,
            code(&f.rule),
            escape(&f.explanation),
            escape(&f.observed)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Requirement -> checks -> verdict, folded: it is long and read last.
fn traceability(report: &Report, out: &mut String) {
    out.push_str(&format!(
        "<h2 id=\"traceability\">Traceability</h2>\n<details>\n<summary>{} requirements, with \
         the checks that verify them</summary>\n<table>\n<thead><tr><th>requirement</th>\
         <th>level</th><th>source</th><th>checks</th><th>verdict</th></tr></thead>\n<tbody>\n",
        report.requirements.len()
    ));
    for r in &report.requirements {
        let verdict = match (&r.verdict, &r.not_checked) {
            (Some(v), _) => verdict_label(*v),
            (None, Some(why)) => format!("not checked: {}", escape(why)),
            (None, None) => "no check selected".to_owned(),
        };
        let checks: Vec<String> = r
            .checks
            .iter()
            .map(|c| format!("<a href=\"#{}\">{}</a>", row_id(c), code(c)))
            .collect();
        let note = r
            .note
            .as_deref()
            .map(|n| format!("<br><small>{}</small>", escape(n)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr><td>{}{note}</td><td>{}</td><td>{}</td><td>{}</td><td>{verdict}</td></tr>\n",
            code(&r.id),
            r.level.as_str(),
            escape(&r.source),
            checks.join(", ")
        ));
    }
    out.push_str("</tbody>\n</table>\n</details>\n");
}
