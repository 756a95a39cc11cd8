//! Runs the selected checks (independent ones concurrently), applies levels, and gates on
//! `--expect`.

use crate::Error;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::check::{verdict_for, CheckResult, Evidence, Finding, Level, SpecFinding, Verdict};
use crate::checks::context::Recorder;
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
    /// When the check started, since the run's first check started (the report's timeline).
    #[serde(skip)]
    pub started: Duration,
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

/// Where the run stands when a check starts or ends.
pub struct Tally<'a> {
    /// Checks that have ended.
    pub done: usize,
    pub total: usize,
    /// Ids of the checks running now, in declaration order.
    pub running: &'a [&'a str],
}

/// Told when each check starts and ends (the console's progress line). Checks run concurrently,
/// so calls come in the order checks start and end, not in declaration order.
pub trait Observer: Sync {
    /// Before check `id` starts.
    fn started(&self, tally: &Tally, id: &str);
    /// After a check ended with `report`.
    fn ended(&self, tally: &Tally, report: &CheckReport);
}

/// Checks running at once by default: the work is I/O-bound (requests, timers), and each check
/// holds little memory.
pub const DEFAULT_JOBS: usize = 8;

/// Runs `defs` against the context, up to `jobs` at a time (0: `DEFAULT_JOBS`): a check starts
/// once every check it conflicts with (`CheckDef::conflicts_with`) and that precedes it has ended;
/// checks that wait on the target's timers precede the others, then declaration order decides. Reports come back in declaration order whatever the order of running.
pub async fn run(
    ctx: &mut Ctx,
    defs: Vec<CheckDef>,
    strict: bool,
    jobs: usize,
    progress: &dyn Observer,
) -> Vec<CheckReport> {
    use futures_util::stream::{FuturesUnordered, StreamExt};

    let total = defs.len();
    // 0 (a `RunArgs::default()`) is the default; one at a time runs in declaration order.
    let jobs = if jobs == 0 { DEFAULT_JOBS } else { jobs };
    let timers_first = jobs > 1;
    let fresh_actors = ctx.registration_secret.is_some();
    // Of two conflicting checks the one that waits on timers goes first, else the one declared
    // first: a fixed precedence, so every run orders them alike.
    let precedes = |j: usize, i: usize| (!defs[j].waits, j) < (!defs[i].waits, i);
    let earlier_conflicts: Vec<Vec<usize>> = (0..total)
        .map(|i| {
            (0..total)
                .filter(|&j| precedes(j, i) && defs[i].conflicts_with(&defs[j], fresh_actors))
                .collect()
        })
        .collect();
    let mut reports: Vec<Option<CheckReport>> = (0..total).map(|_| None).collect();
    let mut started = vec![false; total];
    let mut running_ids: Vec<usize> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    let mut done = 0;
    let run_started = Instant::now();
    loop {
        let interrupted = ctx.interrupt.as_ref().is_some_and(|i| *i.borrow());
        // Start what may start: timer-bound checks first, then in declaration order.
        while in_flight.len() < jobs && !interrupted {
            let ready = |i: &usize| {
                !started[*i] && earlier_conflicts[*i].iter().all(|j| reports[*j].is_some())
            };
            let next = (0..total)
                .filter(ready)
                .find(|&i| timers_first && defs[i].waits)
                .or_else(|| (0..total).find(ready));
            let Some(index) = next else { break };
            started[index] = true;
            running_ids.push(index);
            running_ids.sort_unstable();
            let ids: Vec<&str> = running_ids.iter().map(|&i| defs[i].id.as_str()).collect();
            progress.started(
                &Tally {
                    done,
                    total,
                    running: &ids,
                },
                &defs[index].id,
            );
            let def = defs[index].clone();
            let fork = ctx.fork();
            let offset = run_started.elapsed();
            in_flight.push(async move {
                let mut report = run_one(def, fork, strict).await;
                report.started = offset;
                (index, report)
            });
        }
        let Some((index, report)) = in_flight.next().await else {
            break;
        };
        done += 1;
        running_ids.retain(|&i| i != index);
        let ids: Vec<&str> = running_ids.iter().map(|&i| defs[i].id.as_str()).collect();
        progress.ended(
            &Tally {
                done,
                total,
                running: &ids,
            },
            &report,
        );
        reports[index] = Some(report);
    }
    // What never started (the run was interrupted) is reported as not run.
    defs.into_iter()
        .zip(reports)
        .map(|(def, report)| {
            report.unwrap_or_else(|| {
                finish(
                    def,
                    Err(Finding::harness("not run: the run was interrupted")),
                    Recorder::default(),
                    false,
                    strict,
                    Duration::ZERO,
                )
            })
        })
        .collect()
}

/// Runs one check on its own fork of the context, bounded by the check timeout and the run's
/// interrupt.
async fn run_one(def: CheckDef, mut ctx: Ctx, strict: bool) -> CheckReport {
    let started = Instant::now();
    let limit = ctx.check_timeout;
    let mut interrupt = ctx.interrupt.clone();
    let result = {
        // A panic in a check (a harness bug a target's answer provoked) is that check's
        // error, not the end of the run.
        let guarded = AssertUnwindSafe(judge(&def, &mut ctx)).catch_unwind();
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
                    "check did not finish within {} s", limit.as_secs()
                ))),
            },
            _ = interrupted => Err(Finding::harness("interrupted while running")),
        }
    };
    let recorder = std::mem::take(&mut ctx.recorder);
    finish(
        def,
        result,
        recorder,
        ctx.capture,
        strict,
        started.elapsed(),
    )
}

/// What a PROFILE check failed for a missing profile mechanism expected.
const PROFILE_MECHANISM: &str = "the mechanism specs/PROFILE.md defines";

/// The report of a check from its result and what it recorded.
fn finish(
    def: CheckDef,
    result: CheckResult,
    mut recorder: Recorder,
    capture: bool,
    strict: bool,
    duration: Duration,
) -> CheckReport {
    let verdict = verdict_for(&result, def.level, strict);
    let rate_limited: Vec<String> = recorder
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
    let trace = capture.then(|| Evidence {
        exchanges: recorder.exchanges.clone(),
        transcript: recorder.transcript.snapshot(),
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
                // A PROFILE check fails for it: the profile's mechanism was expected.
                Finding::ProfileMissing(why) if def.level == Level::Profile => (
                    format!("expected {PROFILE_MECHANISM}; observed {why}"),
                    PROFILE_MECHANISM.to_owned(),
                    why,
                ),
                Finding::Unsupported(why) | Finding::ProfileMissing(why) => {
                    (format!("unsupported: {why}"), String::new(), why)
                }
                Finding::Harness(why) => (format!("harness error: {why}"), String::new(), why),
            };
            let evidence = Evidence {
                expected,
                observed,
                exchanges: std::mem::take(&mut recorder.exchanges),
                transcript: recorder.transcript.take(),
            };
            (reason, Some(evidence))
        }
    };
    let spec_findings = std::mem::take(&mut recorder.spec_findings)
        .into_iter()
        .map(|f| SpecFinding {
            check: def.id.clone(),
            ..f
        })
        .collect();
    CheckReport {
        trace,
        def,
        verdict,
        reason,
        evidence,
        spec_findings,
        duration,
        started: Duration::ZERO,
        rate_limited,
    }
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
