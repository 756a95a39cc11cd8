//! What `p2mls run` shows while it works and when it ends: a live progress line on a terminal, plain
//! lines elsewhere, nothing with `--quiet`; at the end, failures grouped by root cause, and GitHub
//! Actions annotations with `--format github` (or automatically under `GITHUB_ACTIONS=true`).
//!
//! Progress goes to stderr (through `eprint!`, so tests capture it); the summary to stdout.

use std::io::IsTerminal;

use crate::check::Verdict;
use crate::redact::redact;
use crate::runner::{CheckReport, Observer, Tally};

/// How the runner reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Nothing while running (library default).
    #[default]
    Silent,
    /// One line per check that does not pass, as it ends.
    Plain,
    /// A progress line rewritten in place (done / total, the running check), and a line per
    /// check that does not pass, as it ends.
    Live,
}

impl Progress {
    /// `Live` on a terminal, `Plain` elsewhere, `Silent` with `--quiet`.
    pub fn for_stderr(quiet: bool) -> Self {
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Progress::Silent,
            (false, true) => Progress::Live,
            (false, false) => Progress::Plain,
        }
    }
}

impl Observer for Progress {
    fn started(&self, tally: &Tally, _id: &str) {
        if *self == Progress::Live {
            live_line(tally);
        }
    }

    fn ended(&self, tally: &Tally, report: &CheckReport) {
        if *self == Progress::Silent {
            return;
        }
        let clear = if *self == Progress::Live {
            "\r\x1b[2K"
        } else {
            ""
        };
        if report.verdict != Verdict::Pass {
            eprintln!(
                "{clear}[{:>3}/{}] {:<11} {}: {}",
                tally.done,
                tally.total,
                report.verdict.as_str(),
                report.def.id,
                one_line(&report.reason, 300)
            );
        }
        if *self == Progress::Live {
            if tally.done == tally.total {
                eprint!("\r\x1b[2K");
            } else {
                live_line(tally);
            }
        }
    }
}

/// Rewrites the progress line in place.
fn live_line(tally: &Tally) {
    eprint!("\r\x1b[2K{}", live_text(tally));
}

/// The progress line: checks done of all, and the running ones (at most three named).
fn live_text(tally: &Tally) -> String {
    let shown = tally
        .running
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = tally.running.len().saturating_sub(3);
    let more = if more > 0 {
        format!(" (+{more})")
    } else {
        String::new()
    };
    format!("[{:>3}/{}] running {shown}{more}", tally.done, tally.total)
}

fn one_line(text: &str, max: usize) -> String {
    let flat = text.replace(['\n', '\r'], " ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}

/// Checks that did not pass for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub verdict: Verdict,
    /// The reason with run-specific values (ids, ports, keys) replaced.
    pub reason: String,
    pub checks: Vec<String>,
}

/// The checks that did not pass, grouped by verdict and reason (run-specific values redacted),
/// most checks first: one root cause that breaks 60 checks shows as one line, not 60.
pub fn causes(checks: &[CheckReport]) -> Vec<Cause> {
    let mut groups: Vec<Cause> = Vec::new();
    for c in checks.iter().filter(|c| c.verdict != Verdict::Pass) {
        let reason = redact(&c.reason);
        match groups
            .iter_mut()
            .find(|g| g.verdict == c.verdict && g.reason == reason)
        {
            Some(group) => group.checks.push(c.def.id.clone()),
            None => groups.push(Cause {
                verdict: c.verdict,
                reason,
                checks: vec![c.def.id.clone()],
            }),
        }
    }
    // Stable: equal counts keep the order of the checks.
    groups.sort_by_key(|g| std::cmp::Reverse(g.checks.len()));
    groups
}

/// The differential run's line for a person: how many differences from the reference server,
/// and where (each check with the exchanges and frames that differ, the most first).
pub fn difference_lines(differences: &[crate::differential::Difference]) -> Vec<String> {
    if differences.is_empty() {
        return Vec::new();
    }
    let mut by_check: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in differences {
        match by_check.iter_mut().find(|(check, _)| *check == d.check) {
            Some((_, at)) => at.push(&d.at),
            None => by_check.push((&d.check, vec![&d.at])),
        }
    }
    by_check.sort_by_key(|(_, at)| std::cmp::Reverse(at.len()));
    let mut lines = vec![format!(
        "differential: {} difference(s) from the reference server in {} check(s)",
        differences.len(),
        by_check.len()
    )];
    for (check, at) in by_check {
        lines.push(format!("  {check}: {}", at.join(", ")));
    }
    lines
}

/// The end-of-run lines for a person: each cause once, with how many checks it broke.
pub fn summary_lines(checks: &[CheckReport]) -> Vec<String> {
    causes(checks)
        .into_iter()
        .map(|cause| match cause.checks.as_slice() {
            [one] => format!(
                "  {:<11} {one}: {}",
                cause.verdict.as_str(),
                one_line(&cause.reason, 400)
            ),
            many => format!(
                "  {:<11} {} checks ({}{}): {}",
                cause.verdict.as_str(),
                many.len(),
                many.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                if many.len() > 3 { ", …" } else { "" },
                one_line(&cause.reason, 400)
            ),
        })
        .collect()
}

/// Where results go at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// GitHub annotations when `GITHUB_ACTIONS=true`, text otherwise.
    #[default]
    Auto,
    Text,
    /// GitHub Actions workflow commands: `::error` for fail and error, `::warning` for non-strict.
    Github,
}

impl Format {
    pub fn github(self) -> bool {
        match self {
            Format::Github => true,
            Format::Text => false,
            Format::Auto => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        }
    }
}

/// GitHub Actions annotations, one per check that fails, errs or is non-strict.
pub fn github_annotations(checks: &[CheckReport]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| {
            let command = match c.verdict {
                Verdict::Fail | Verdict::Error => "error",
                Verdict::NonStrict => "warning",
                Verdict::Pass | Verdict::Unsupported => return None,
            };
            let title = format!(
                "p2mls {} {} ({})",
                c.verdict.as_str(),
                c.def.id,
                c.def.requirements.join(" ")
            );
            Some(format!(
                "::{command} title={}::{}",
                escape_property(&title),
                escape_data(&format!("{}\n{}", c.def.title, c.reason))
            ))
        })
        .collect()
}

/// Workflow-command data: `%`, CR and LF are escaped.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command properties: also `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Level;
    use crate::checks::CheckDef;

    fn report(id: &str, verdict: Verdict, reason: &str) -> CheckReport {
        CheckReport {
            def: CheckDef::new(id, Level::Must, format!("title of {id}"))
                .requires(&["PROFILE.x", "MLS.y"]),
            verdict,
            reason: reason.into(),
            evidence: None,
            spec_findings: Vec::new(),
            duration: std::time::Duration::ZERO,
            started: std::time::Duration::ZERO,
            trace: None,
            rate_limited: Vec::new(),
        }
    }

    #[test]
    fn the_live_line_names_what_runs() {
        let running = ["a.one", "b.two", "c.three", "d.four", "e.five"];
        let line = live_text(&Tally {
            done: 12,
            total: 140,
            running: &running,
        });
        assert_eq!(line, "[ 12/140] running a.one, b.two, c.three (+2)");
        let line = live_text(&Tally {
            done: 139,
            total: 140,
            running: &running[..1],
        });
        assert_eq!(line, "[139/140] running a.one");
    }

    #[test]
    fn differences_are_counted_and_placed() {
        let d = |check: &str, at: &str| crate::differential::Difference {
            check: check.into(),
            at: at.into(),
            target: String::new(),
            reference: String::new(),
        };
        assert!(difference_lines(&[]).is_empty());
        let lines = difference_lines(&[
            d("a.one", "http[0]"),
            d("b.two", "http[1]"),
            d("b.two", "gateway[3]"),
        ]);
        assert_eq!(
            lines,
            vec![
                "differential: 3 difference(s) from the reference server in 2 check(s)",
                "  b.two: http[1], gateway[3]",
                "  a.one: http[0]",
            ]
        );
    }

    #[test]
    fn one_cause_of_many_checks_comes_first_and_once() {
        let checks = vec![
            report(
                "a",
                Verdict::Fail,
                "expected 200; observed 404 for group 3f9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d",
            ),
            report("b", Verdict::Pass, ""),
            report(
                "c",
                Verdict::Error,
                "not run: the target's TLS certificate is refused",
            ),
            report(
                "d",
                Verdict::Error,
                "not run: the target's TLS certificate is refused",
            ),
            report(
                "e",
                Verdict::Fail,
                "expected 200; observed 404 for group 0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            ),
            report(
                "f",
                Verdict::Error,
                "not run: the target's TLS certificate is refused",
            ),
            report("g", Verdict::NonStrict, "expected h2"),
        ];
        let causes = causes(&checks);
        assert_eq!(causes.len(), 3);
        assert_eq!(causes[0].checks, vec!["c", "d", "f"]);
        // Different ids, one cause.
        assert_eq!(causes[1].checks, vec!["a", "e"]);
        assert_eq!(causes[2].checks, vec!["g"]);
        let lines = summary_lines(&checks);
        assert!(lines[0].contains("3 checks (c, d, f)"), "{lines:?}");
        assert!(lines[2].contains("non-strict  g: expected h2"), "{lines:?}");
    }

    #[test]
    fn github_annotations_escape_and_skip_passes() {
        let checks = vec![
            report(
                "x.fail",
                Verdict::Fail,
                "expected 100%\nobserved: 50%, a, b",
            ),
            report("x.pass", Verdict::Pass, ""),
            report("x.unsupported", Verdict::Unsupported, "no route"),
            report("x.should", Verdict::NonStrict, "soft"),
        ];
        let lines = github_annotations(&checks);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0],
            "::error title=p2mls fail x.fail (PROFILE.x MLS.y)::title of x.fail%0Aexpected 100%25%0Aobserved: 50%25, a, b"
        );
        assert!(lines[1].starts_with("::warning title=p2mls non-strict x.should"));
        assert!(Format::Github.github());
        assert!(!Format::Text.github());
    }
}
