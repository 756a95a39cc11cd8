//! junit.xml: one testsuite, one testcase per check. fail -> <failure>, error -> <error>,
//! unsupported -> <skipped>; non-strict passes with the finding in <system-out>.

use p2mls_vectors::report::xml_escape as escape;

use super::Report;
use crate::check::Verdict;

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let total: f64 = report.checks.iter().map(|c| c.duration.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"p2mls\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{total:.3}\">\n",
        report.checks.len(),
        s.fail,
        s.error,
        s.unsupported
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{total:.3}\">\n",
        escape(&report.header.target),
        report.checks.len(),
        s.fail,
        s.error,
        s.unsupported
    ));
    // JUnit properties: where CI shows a suite's settings, the TLS opt-out shows too.
    out.push_str("    <properties>\n");
    out.push_str(&format!(
        "      <property name=\"insecure_skip_verify\" value=\"{}\"/>\n",
        report.header.insecure_skip_verify
    ));
    if let Some(tls) = &report.header.tls {
        out.push_str(&format!(
            "      <property name=\"tls\" value=\"{} ALPN {}\"/>\n",
            escape(&tls.version),
            escape(tls.alpn.as_deref().unwrap_or("none"))
        ));
    }
    out.push_str("    </properties>\n");
    for c in &report.checks {
        let class = c.def.id.split('.').next().unwrap_or("p2mls");
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            escape(class),
            escape(&c.def.id),
            c.duration.as_secs_f64()
        ));
        let detail = c
            .evidence
            .as_ref()
            .map(|e| {
                let mut d = format!("{}\n", c.reason);
                for x in &e.exchanges {
                    d.push_str(&format!("\n{}\n-> {:?}\n{}\n", x.request, x.status, x.body));
                }
                d
            })
            .unwrap_or_default();
        match c.verdict {
            Verdict::Pass => {}
            Verdict::Fail => out.push_str(&format!(
                "<failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(&c.reason),
                c.def.level.as_str(),
                escape(&detail)
            )),
            Verdict::Error => out.push_str(&format!(
                "<error message=\"{}\">{}</error>",
                escape(&c.reason),
                escape(&detail)
            )),
            Verdict::Unsupported => {
                out.push_str(&format!("<skipped message=\"{}\"/>", escape(&c.reason)))
            }
            Verdict::NonStrict => out.push_str(&format!(
                "<system-out>non-strict: {}</system-out>",
                escape(&detail)
            )),
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
