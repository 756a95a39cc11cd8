//! Runs the selected checks in order, applies levels, and gates on `--expect`.

use crate::Error;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::check::{verdict_for, CheckResult, Evidence, Finding, Level, SpecFinding, Verdict};
use crate::checks::{CheckDef, Ctx};

/// A finished check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    #[serde(flatten)]
    pub def: CheckDef,
    pub verdict: Verdict,
    /// Why it did not pass (empty on pass).
    pub reason: String,
    pub evidence: Option<Evidence>,
    /// Mismatches a document defect explains (collected into the report's `spec_findings`).
    #[serde(skip)]
    pub spec_findings: Vec<SpecFinding>,
    #[serde(skip)]
    pub duration: Duration,
    /// Every exchange and frame of the check, kept in differential mode (`Ctx::capture`).
    #[serde(skip)]
    pub trace: Option<Evidence>,
    /// Rate-limit answers the check's requests waited out (status, Retry-After, time waited).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rate_limited: Vec<String>,
}

/// Check selection.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    only: Option<GlobSet>,
    skip: Option<GlobSet>,
}

impl Selection {
    pub fn new(only: &[String], skip: &[String]) -> Result<Self, Error> {
        let build = |patterns: &[String]| -> Result<Option<GlobSet>, Error> {
            if patterns.is_empty() {
                return Ok(None);
            }
            let mut builder = GlobSetBuilder::new();
            for p in patterns {
                builder.add(
                    Glob::new(p).map_err(|e| Error::Config(format!("invalid glob `{p}`: {e}")))?,
                );
            }
            builder
                .build()
                .map(Some)
                .map_err(|e| Error::Config(e.to_string()))
        };
        Ok(Self {
            only: build(only)?,
            skip: build(skip)?,
        })
    }

    pub fn includes(&self, id: &str) -> bool {
        self.only.as_ref().is_none_or(|g| g.is_match(id))
            && !self.skip.as_ref().is_some_and(|g| g.is_match(id))
    }
}

/// Runs one check, unless it needs the session the run could not set up.
async fn judge(def: &CheckDef, ctx: &mut Ctx) -> CheckResult {
    if let Some(why) = &ctx.blocked {
        if !def.needs.is_empty() {
            return Err(Finding::harness(format!("not run: {why}")));
        }
    }
    def.run(ctx).await
}

pub use crate::checks::context::CHECK_TIMEOUT;

/// Told when each check starts and ends (the console's progress line).
pub trait Observer: Sync {
    /// Before check `index` (0-based) of `total` starts.
    fn started(&self, index: usize, total: usize, id: &str);
    /// After it ended with `report`.
    fn ended(&self, index: usize, total: usize, report: &CheckReport);
}

/// Runs `defs` against the context, telling `progress` as each check starts and ends.
pub async fn run(
    ctx: &mut Ctx,
    defs: Vec<CheckDef>,
    strict: bool,
    progress: &dyn Observer,
) -> Vec<CheckReport> {
    let total = defs.len();
    let mut reports = Vec::new();
    for (index, def) in defs.into_iter().enumerate() {
        progress.started(index, total, &def.id);
        ctx.recorder.begin();
        let started = Instant::now();
        let limit = ctx.check_timeout;
        let mut interrupt = ctx.interrupt.clone();
        let result = if interrupt.as_ref().is_some_and(|i| *i.borrow()) {
            Err(Finding::harness("not run: the run was interrupted"))
        } else {
            // A panic in a check (a harness bug a target's answer provoked) is that check's
            // error, not the end of the run.
            let guarded = AssertUnwindSafe(judge(&def, ctx)).catch_unwind();
            let bounded = tokio::time::timeout(limit, guarded);
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(rx) => {
                        let _ = rx.wait_for(|stop| *stop).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                outcome = bounded => match outcome {
                    Ok(Ok(result)) => result,
                    Ok(Err(panic)) => Err(Finding::harness(format!(
                        "check panicked: {}",
                        panic_message(panic.as_ref())
                    ))),
                    Err(_) => Err(Finding::harness(format!(
                        "check did not finish within {limit:?}"
                    ))),
                },
                _ = interrupted => Err(Finding::harness("interrupted while running")),
            }
        };
        let verdict = verdict_for(&result, def.level, strict);
        let rate_limited: Vec<String> = ctx
            .recorder
            .exchanges
            .iter()
            .flat_map(|x| {
                let route = x
                    .sent
                    .as_ref()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .unwrap_or_default();
                x.retries.iter().map(move |r| format!("{route}: {r}"))
            })
            .collect();
        let trace = ctx.capture.then(|| Evidence {
            exchanges: ctx.recorder.exchanges.clone(),
            transcript: ctx.recorder.transcript.snapshot(),
            ..Evidence::default()
        });
        let (reason, evidence) = match result {
            Ok(()) => (String::new(), None),
            Err(finding) => {
                let (reason, expected, observed) = match finding {
                    Finding::Mismatch { expected, observed } => (
                        format!("expected {expected}; observed {observed}"),
                        expected,
                        observed,
                    ),
                    Finding::Unsupported(why) => {
                        (format!("unsupported: {why}"), String::new(), why)
                    }
                    Finding::Harness(why) => (format!("harness error: {why}"), String::new(), why),
                };
                let evidence = Evidence {
                    expected,
                    observed,
                    exchanges: std::mem::take(&mut ctx.recorder.exchanges),
                    transcript: ctx.recorder.transcript.take(),
                };
                (reason, Some(evidence))
            }
        };
        let spec_findings = std::mem::take(&mut ctx.recorder.spec_findings)
            .into_iter()
            .map(|f| SpecFinding {
                check: def.id.clone(),
                ..f
            })
            .collect();
        let report = CheckReport {
            trace,
            def,
            verdict,
            reason,
            evidence,
            spec_findings,
            duration: started.elapsed(),
            rate_limited,
        };
        progress.ended(index, total, &report);
        reports.push(report);
    }
    reports
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Known failures (`--expect FILE`): each with a mandatory reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub expected: Vec<ExpectedFailure>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    pub check: String,
    pub reason: String,
}

impl Expectations {
    pub fn load(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let parsed: Self = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("invalid expectations {}: {e}", path.display())))?;
        if let Some(e) = parsed.expected.iter().find(|e| e.reason.trim().is_empty()) {
            return Err(Error::Config(format!(
                "{}: expected failure {} needs a reason",
                path.display(),
                e.check
            )));
        }
        Ok(parsed)
    }
}

/// How the gate decided.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Gate {
    /// What makes the exit code 1.
    pub level: GateLevel,
    /// Failing checks not listed as expected.
    pub new_failures: Vec<String>,
    /// Failing checks that were expected.
    pub expected_failures: Vec<String>,
    /// Expected failures that now pass (the expectation went stale).
    pub now_passing: Vec<String>,
}

/// Which checks gate the exit code: the spec's (MUST, SHOULD, MAY) alone, or also our profile's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GateLevel {
    /// Only checks of the polyproto text (MUST, SHOULD, MAY): a server that follows the text but
    /// made other choices than our interop profile still passes. The default, because a release
    /// gate must not fail for what the specification does not require.
    #[default]
    Spec,
    /// Also the PROFILE checks: what certification against our interop profile needs (our CI
    /// gates the reference server on it).
    Profile,
}

impl GateLevel {
    /// Whether a check of `level` counts towards this gate.
    pub fn gates(self, level: Level) -> bool {
        self == GateLevel::Profile || level != Level::Profile
    }
}

impl Gate {
    pub fn decide(
        reports: &[CheckReport],
        expectations: Option<&Expectations>,
        level: GateLevel,
    ) -> Self {
        let expected: Vec<&str> = expectations
            .map(|e| e.expected.iter().map(|x| x.check.as_str()).collect())
            .unwrap_or_default();
        let mut gate = Gate {
            level,
            ..Gate::default()
        };
        for report in reports {
            let failing = matches!(report.verdict, Verdict::Fail | Verdict::Error)
                && level.gates(report.def.level);
            let listed = expected.contains(&report.def.id.as_str());
            match (failing, listed) {
                (true, true) => gate.expected_failures.push(report.def.id.clone()),
                (true, false) => gate.new_failures.push(report.def.id.clone()),
                (false, true) if report.verdict == Verdict::Pass => {
                    gate.now_passing.push(report.def.id.clone())
                }
                _ => {}
            }
        }
        gate
    }

    pub fn passed(&self) -> bool {
        self.new_failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_globs() {
        let s =
            Selection::new(&["keypackages.*".into()], &["*.concurrent-*".into()]).expect("globs");
        assert!(s.includes("keypackages.discover.one-time"));
        assert!(!s.includes("keypackages.discover.concurrent-distinct"));
        assert!(!s.includes("groups.welcome-joins"));
        assert!(Selection::new(&["[".into()], &[]).is_err());
    }
}
