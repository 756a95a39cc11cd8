//! junit.xml: one testsuite, one testcase per check. fail -> <failure>, error -> <error>,
//! unsupported -> <skipped>; non-strict passes with the finding in <system-out>.

use p2mls_report::junit::{Body, Junit};

use super::Report;
use crate::check::Verdict;

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let total: f64 = report.checks.iter().map(|c| c.duration.as_secs_f64()).sum();
    let mut junit = Junit::new("p2mls", s, Some(total));
    junit.suite(&report.header.target, s, total);
    // JUnit properties: where CI shows a suite's settings, the TLS opt-out shows too.
    let mut properties = vec![(
        "insecure_skip_verify",
        report.header.insecure_skip_verify.to_string(),
    )];
    if let Some(tls) = &report.header.tls {
        properties.push((
            "tls",
            format!(
                "{} ALPN {}",
                tls.version,
                tls.alpn.as_deref().unwrap_or("none")
            ),
        ));
    }
    junit.properties(&properties);
    for c in &report.checks {
        let class = c.def.id.split('.').next().unwrap_or("p2mls");
        let detail = c
            .evidence
            .as_ref()
            .map(|e| {
                let mut d = format!("{}\n", c.reason);
                for x in &e.exchanges {
                    d.push_str(&format!(
                        "\n{}\n-> {}\n{}\n",
                        x.request,
                        x.status_text(),
                        x.body
                    ));
                }
                d
            })
            .unwrap_or_default();
        let non_strict = format!("non-strict: {detail}");
        let body = match c.verdict {
            Verdict::Pass => Body::Empty,
            Verdict::Fail => Body::Failure {
                message: &c.reason,
                kind: c.def.level.as_str(),
                detail: &detail,
            },
            Verdict::Error => Body::Error {
                message: &c.reason,
                detail: Some(&detail),
            },
            Verdict::Unsupported => Body::Skipped { message: &c.reason },
            Verdict::NonStrict => Body::SystemOut(&non_strict),
        };
        junit.testcase(class, &c.def.id, c.duration.as_secs_f64(), body);
    }
    junit.end_suite();
    junit.finish()
}
