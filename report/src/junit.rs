//! The JUnit XML writer both reports use: `<testsuites>` with its counts, one `<testsuite>` or
//! more, one `<testcase>` per check or entry. fail -> `<failure>`, error -> `<error>`,
//! unsupported -> `<skipped>`; what passes with something to say (a non-strict finding, a
//! note) says it in `<system-out>`. Non-strict verdicts count as tests, not as failures.

use crate::Summary;

/// What a `<testcase>` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// A plain pass.
    Empty,
    /// `<failure message type>detail</failure>`; `kind` is the failure's type (a level, "fail").
    Failure {
        message: &'a str,
        kind: &'a str,
        detail: &'a str,
    },
    /// `<error message>detail</error>`, or `<error message/>` without detail.
    Error {
        message: &'a str,
        detail: Option<&'a str>,
    },
    /// `<skipped message/>`.
    Skipped { message: &'a str },
    /// `<system-out>text</system-out>`.
    SystemOut(&'a str),
}

/// A JUnit document being written; [`Junit::finish`] closes it.
#[derive(Debug)]
pub struct Junit {
    out: String,
}

/// `tests failures errors skipped` of a summary.
fn counts(s: &Summary) -> String {
    format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
        s.total(),
        s.fail,
        s.error,
        s.unsupported
    )
}

impl Junit {
    /// Opens `<testsuites>` with the counts of the whole run and, if given, its time in seconds.
    pub fn new(name: &str, summary: &Summary, time: Option<f64>) -> Self {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"{}\" {}",
            escape(name),
            counts(summary)
        ));
        if let Some(time) = time {
            out.push_str(&format!(" time=\"{time:.3}\""));
        }
        out.push_str(">\n");
        Junit { out }
    }

    /// Opens a `<testsuite>`; close it with [`Junit::end_suite`].
    pub fn suite(&mut self, name: &str, summary: &Summary, time: f64) {
        self.out.push_str(&format!(
            "  <testsuite name=\"{}\" {} time=\"{time:.3}\">\n",
            escape(name),
            counts(summary)
        ));
    }

    /// The open suite's `<properties>`: where CI shows a suite's settings.
    pub fn properties(&mut self, properties: &[(&str, String)]) {
        self.out.push_str("    <properties>\n");
        for (name, value) in properties {
            self.out.push_str(&format!(
                "      <property name=\"{}\" value=\"{}\"/>\n",
                escape(name),
                escape(value)
            ));
        }
        self.out.push_str("    </properties>\n");
    }

    /// One `<testcase>` of the open suite; `time` in seconds.
    pub fn testcase(&mut self, classname: &str, name: &str, time: f64, body: Body<'_>) {
        self.out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\">",
            escape(classname),
            escape(name)
        ));
        match body {
            Body::Empty => {}
            Body::Failure {
                message,
                kind,
                detail,
            } => self.out.push_str(&format!(
                "<failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(message),
                escape(kind),
                escape(detail)
            )),
            Body::Error {
                message,
                detail: Some(detail),
            } => self.out.push_str(&format!(
                "<error message=\"{}\">{}</error>",
                escape(message),
                escape(detail)
            )),
            Body::Error {
                message,
                detail: None,
            } => self
                .out
                .push_str(&format!("<error message=\"{}\"/>", escape(message))),
            Body::Skipped { message } => self
                .out
                .push_str(&format!("<skipped message=\"{}\"/>", escape(message))),
            Body::SystemOut(text) => self
                .out
                .push_str(&format!("<system-out>{}</system-out>", escape(text))),
        }
        self.out.push_str("</testcase>\n");
    }

    /// Closes the open `<testsuite>`.
    pub fn end_suite(&mut self) {
        self.out.push_str("  </testsuite>\n");
    }

    /// Closes `<testsuites>` and returns the document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</testsuites>\n");
        self.out
    }
}

/// Escapes text for XML, dropping the control characters XML 1.0 cannot carry (a vector's or a
/// server's bytes may hold any).
pub fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    #[test]
    fn markup_and_control_characters_do_not_break_the_document() {
        assert_eq!(
            escape("a<b>&\"c'\u{0}\u{1b}\n\td"),
            "a&lt;b&gt;&amp;&quot;c&apos;\n\td"
        );
    }

    #[test]
    fn a_document_has_its_counts_suites_and_one_element_per_outcome() {
        let all = Summary::of([
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Error,
            Verdict::Unsupported,
            Verdict::NonStrict,
        ]);
        let mut junit = Junit::new("run", &all, Some(1.5));
        junit.suite("s<1>", &all, 1.5);
        junit.properties(&[("tls", "TLSv1.3 ALPN h2".to_owned())]);
        junit.testcase("c", "pass", 0.0, Body::Empty);
        junit.testcase(
            "c",
            "fail",
            0.25,
            Body::Failure {
                message: "m",
                kind: "MUST",
                detail: "a<b",
            },
        );
        junit.testcase(
            "c",
            "error",
            0.0,
            Body::Error {
                message: "m",
                detail: None,
            },
        );
        junit.testcase("c", "skipped", 0.0, Body::Skipped { message: "m" });
        junit.testcase("c", "note", 0.0, Body::SystemOut("non-strict: x"));
        junit.end_suite();
        assert_eq!(
            junit.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"run\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"1.500\">\n\
             \x20 <testsuite name=\"s&lt;1&gt;\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"1.500\">\n\
             \x20   <properties>\n\
             \x20     <property name=\"tls\" value=\"TLSv1.3 ALPN h2\"/>\n\
             \x20   </properties>\n\
             \x20   <testcase classname=\"c\" name=\"pass\" time=\"0.000\"></testcase>\n\
             \x20   <testcase classname=\"c\" name=\"fail\" time=\"0.250\"><failure message=\"m\" type=\"MUST\">a&lt;b</failure></testcase>\n\
             \x20   <testcase classname=\"c\" name=\"error\" time=\"0.000\"><error message=\"m\"/></testcase>\n\
             \x20   <testcase classname=\"c\" name=\"skipped\" time=\"0.000\"><skipped message=\"m\"/></testcase>\n\
             \x20   <testcase classname=\"c\" name=\"note\" time=\"0.000\"><system-out>non-strict: x</system-out></testcase>\n\
             \x20 </testsuite>\n\
             </testsuites>\n"
        );
    }
}
