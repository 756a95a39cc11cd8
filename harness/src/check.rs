//! How a check ends: its finding, the evidence it recorded, and the verdict its level makes of
//! the finding.
//!
//! Five outcomes are kept apart (pass, fail, non-strict, unsupported, error): a harness fault is
//! never shown as a server failure, and an unsupported feature never as a pass. The verdicts and
//! levels themselves are `p2mls-report`'s, shared with `p2mls vectors`.

use serde::Serialize;

/// Levels and verdicts are shared with `p2mls vectors` (crate `p2mls-report`).
pub use p2mls_report::{Level, Verdict};

pub use crate::clients::http::Exchange;

/// What a check observed when it did not pass.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Evidence {
    pub expected: String,
    pub observed: String,
    pub exchanges: Vec<Exchange>,
    /// Gateway frames of the check, in order (replayable with `p2mls replay`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<crate::clients::gateway::TranscriptFrame>,
}

/// A response that did not conform because the document is defective (see
/// `lint::attribution`): reported as a finding about the spec, not as a server failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecFinding {
    /// The check that observed it (filled in by the runner).
    pub check: String,
    pub operation: String,
    pub status: u16,
    /// The lint rule that flags the defect (docs/LINT.md).
    pub rule: String,
    pub explanation: String,
    /// What validation said about the response.
    pub observed: String,
}

/// How a check function ends, before the runner applies the level.
#[derive(Debug, Clone)]
pub enum Finding {
    /// The target broke the rule: expected vs observed.
    Mismatch { expected: String, observed: String },
    /// The target lacks what the check needs (with the reason).
    Unsupported(String),
    /// The target lacks a mechanism only our profile defines (a relay route, the `mlsMessage`
    /// member), with the reason naming it: `unsupported` for a check of the text, which cannot
    /// require it, and `fail` for a PROFILE check, for which the missing mechanism is a failure.
    ProfileMissing(String),
    /// The harness itself failed.
    Harness(String),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Mismatch { expected, observed } => {
                write!(f, "expected {expected}; observed {observed}")
            }
            Finding::Unsupported(why) => write!(f, "unsupported: {why}"),
            Finding::ProfileMissing(why) => write!(f, "missing profile mechanism: {why}"),
            Finding::Harness(why) => write!(f, "harness error: {why}"),
        }
    }
}

impl From<crate::matchers::response::Mismatch> for Finding {
    fn from(m: crate::matchers::response::Mismatch) -> Self {
        Finding::Mismatch {
            expected: m.expected,
            observed: m.observed,
        }
    }
}

impl Finding {
    pub fn mismatch(expected: impl Into<String>, observed: impl Into<String>) -> Self {
        Finding::Mismatch {
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    pub fn harness(message: impl std::fmt::Display) -> Self {
        Finding::Harness(message.to_string())
    }

    /// The finding of a check whose prerequisite `step` (something it needs but does not judge)
    /// ended with `self`: the check's own rule was never tried. A target failure there makes it
    /// `unsupported`, "not reached", with the cause (the step's own check judges the failure);
    /// a harness failure stays the harness's `error`.
    pub fn not_reached(self, step: &str) -> Self {
        match self {
            Finding::Mismatch { expected, observed } => Finding::Unsupported(format!(
                "not reached: {step} failed on the target: expected {expected}; observed {observed}"
            )),
            Finding::Unsupported(why) => {
                Finding::Unsupported(format!("not reached: {step} is unsupported: {why}"))
            }
            // A PROFILE check still fails when what the profile defines kept it from running.
            Finding::ProfileMissing(why) => Finding::ProfileMissing(format!(
                "not reached: {step} needs what the target lacks: {why}"
            )),
            Finding::Harness(why) => Finding::Harness(format!("{step} failed: {why}")),
        }
    }
}

/// The result of a check function.
pub type CheckResult = Result<(), Finding>;

/// Turns a finding into a verdict by the check's level: a broken SHOULD is non-strict, unless
/// `--strict` makes SHOULDs count; a missing profile mechanism fails PROFILE checks only.
pub fn verdict_for(result: &CheckResult, level: Level, strict: bool) -> Verdict {
    match result {
        Ok(()) => Verdict::Pass,
        Err(Finding::Mismatch { .. }) if level == Level::Should && !strict => Verdict::NonStrict,
        Err(Finding::Mismatch { .. }) => Verdict::Fail,
        Err(Finding::ProfileMissing(_)) if level == Level::Profile => Verdict::Fail,
        Err(Finding::Unsupported(_) | Finding::ProfileMissing(_)) => Verdict::Unsupported,
        Err(Finding::Harness(_)) => Verdict::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_prerequisite_is_not_reached_on_the_target_and_an_error_in_the_harness() {
        let target = Finding::mismatch("status 200", "status 404").not_reached("group creation");
        assert_eq!(
            verdict_for(&Err(target.clone()), Level::Must, false),
            Verdict::Unsupported
        );
        assert_eq!(
            target.to_string(),
            "unsupported: not reached: group creation failed on the target: expected status 200; observed status 404"
        );
        let harness = Finding::harness("openmls refused").not_reached("group creation");
        assert_eq!(
            verdict_for(&Err(harness), Level::Must, false),
            Verdict::Error
        );
    }

    #[test]
    fn should_failures_are_non_strict_unless_strict() {
        let broken: CheckResult = Err(Finding::mismatch("a", "b"));
        assert_eq!(
            verdict_for(&broken, Level::Should, false),
            Verdict::NonStrict
        );
        assert_eq!(verdict_for(&broken, Level::Should, true), Verdict::Fail);
        assert_eq!(verdict_for(&broken, Level::Must, false), Verdict::Fail);
        assert_eq!(verdict_for(&Ok(()), Level::Must, false), Verdict::Pass);
        let harness: CheckResult = Err(Finding::harness("x"));
        assert_eq!(verdict_for(&harness, Level::Must, false), Verdict::Error);
    }

    #[test]
    fn a_missing_profile_mechanism_fails_only_profile_checks() {
        let missing: CheckResult = Err(Finding::ProfileMissing("no relay route".into()));
        assert_eq!(verdict_for(&missing, Level::Profile, false), Verdict::Fail);
        for level in [Level::Must, Level::Should, Level::May] {
            assert_eq!(verdict_for(&missing, level, true), Verdict::Unsupported);
        }
    }
}
