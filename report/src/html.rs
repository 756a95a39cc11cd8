//! HTML helpers for report.html: the escape every string from outside goes through, the page
//! frame with its inline style sheet, verdict labels and the summary both reports open with.
//!
//! A report page is one self-contained file: the CSS is inline, there are no external assets and
//! no script, so it reads the same from a CI artifact, a mail attachment or `file://`. Verdicts
//! are coloured and always also written out, so colour is never the only signal.

use crate::{Summary, Verdict};

/// Text made safe for element content and quoted attribute values. Everything a target or a
/// vector file can put in a report goes through this, so `</td>` or `<script>` stays text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a verdict (`v-non-strict`), used for rows and labels.
pub fn verdict_class(verdict: Verdict) -> String {
    format!("v-{}", verdict.as_str())
}

/// A verdict as a coloured label that says its name.
pub fn verdict_label(verdict: Verdict) -> String {
    format!(
        "<span class=\"verdict {}\">{}</span>",
        verdict_class(verdict),
        verdict.as_str()
    )
}

/// The five counts, each in its verdict's colour; a count above zero of a verdict other than
/// pass is emphasised so that it is seen first.
pub fn summary(s: &Summary) -> String {
    let counts = [
        (Verdict::Pass, s.pass),
        (Verdict::Fail, s.fail),
        (Verdict::NonStrict, s.non_strict),
        (Verdict::Unsupported, s.unsupported),
        (Verdict::Error, s.error),
    ];
    let mut out = String::from("<ul class=\"summary\" id=\"summary\">\n");
    for (verdict, count) in counts {
        let hot = if count > 0 && verdict != Verdict::Pass {
            " hot"
        } else {
            ""
        };
        out.push_str(&format!(
            "<li class=\"{}{hot}\" data-verdict=\"{}\"><span class=\"count\">{count}</span> {}</li>\n",
            verdict_class(verdict),
            verdict.as_str(),
            verdict.as_str()
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// A whole page: `title` (escaped here) and `body` (HTML the caller built and escaped).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// Colours are light backgrounds with dark text (readable in print and for colour-blind
/// readers, since the label text carries the verdict too).
const STYLE: &str = r#"body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 2em auto; max-width: 78em; padding: 0 1.5em; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
code, pre { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: 0.6em 0.8em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.reason { word-break: break-word; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
ul.summary { list-style: none; display: flex; flex-wrap: wrap; gap: 0.6em; padding: 0; }
ul.summary li { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.4em 0.9em; min-width: 7em; }
ul.summary li.hot { border-width: 2px; font-weight: 600; }
ul.summary .count { font-size: 1.6em; font-weight: 700; display: block; }
.verdict { display: inline-block; border-radius: 3px; padding: 0 0.45em; font-weight: 600; white-space: nowrap; }
.verdict.v-pass { background: #dafbe1; color: #116329; }
.verdict.v-fail { background: #ffebe9; color: #a40e26; }
.verdict.v-non-strict { background: #fff8c5; color: #7d4e00; }
.verdict.v-unsupported { background: #eaeef2; color: #424a53; }
.verdict.v-error { background: #fbefff; color: #6e2b8a; }
ul.summary li.v-pass { background: #dafbe1; color: #116329; }
ul.summary li.v-fail { background: #ffebe9; color: #a40e26; }
ul.summary li.v-non-strict { background: #fff8c5; color: #7d4e00; }
ul.summary li.v-unsupported { background: #eaeef2; color: #424a53; }
ul.summary li.v-error { background: #fbefff; color: #6e2b8a; }
tr.v-fail { background: #fff5f4; }
tr.v-error { background: #fcf7ff; }
tr.v-non-strict { background: #fffcea; }
tr.v-fail td:first-child, details.v-fail { border-left: 4px solid #cf222e; }
tr.v-error td:first-child, details.v-error { border-left: 4px solid #8250df; }
tr.v-non-strict td:first-child, details.v-non-strict { border-left: 4px solid #bf8700; }
tr.v-unsupported td:first-child, details.v-unsupported { border-left: 4px solid #8c959f; }
h4 { font-size: 0.95em; margin: 0.9em 0 0.3em; }
details { border: 1px solid #d0d7de; border-radius: 4px; margin: 0.5em 0; padding: 0.3em 0.8em; }
details[open] { padding-bottom: 0.6em; }
summary { cursor: pointer; }
.warning { background: #ffebe9; border: 1px solid #cf222e; padding: 0.5em 0.8em; border-radius: 4px; }
.timeline { margin: 0.6em 0; }
.tl-row { display: flex; align-items: center; gap: 0.6em; font-size: 12px; line-height: 1.2; }
.tl-row code { flex: 0 0 24em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 11px; }
.tl-track { flex: 1 1 auto; height: 0.7em; background: #f6f8fa; }
.tl-bar { display: block; height: 100%; min-width: 2px; border: 1px solid #8c959f; box-sizing: border-box; }
.tl-ms { flex: 0 0 5em; text-align: right; color: #57606a; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_stays_text() {
        assert_eq!(
            escape(r#"</td><script>alert('x')</script> & "q""#),
            "&lt;/td&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn the_summary_names_and_counts_every_verdict() {
        let s = Summary {
            pass: 7,
            fail: 2,
            non_strict: 0,
            unsupported: 1,
            error: 0,
        };
        let html = summary(&s);
        assert!(html.contains(
            "<li class=\"v-fail hot\" data-verdict=\"fail\"><span class=\"count\">2</span> fail</li>"
        ));
        assert!(html.contains(
            "<li class=\"v-pass\" data-verdict=\"pass\"><span class=\"count\">7</span> pass</li>"
        ));
        assert_eq!(html.matches("<li ").count(), 5);
    }

    #[test]
    fn a_page_has_no_script_and_no_external_asset() {
        let html = page("a <title>", "<p>x</p>\n");
        assert!(html.contains("<title>a &lt;title&gt;</title>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<link"));
    }
}
