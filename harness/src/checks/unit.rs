//! A check as one self-describing unit: its id, title, level and requirements, what it needs
//! from the run, and the function that judges. Each area module declares its own checks next to
//! their code; `checks::catalogue` only gathers them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use super::Ctx;
use crate::check::{CheckResult, Level};

/// The future a check's function returns, borrowing the run's context.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

type Judge = dyn for<'a> Fn(&'a mut Ctx) -> CheckFuture<'a> + Send + Sync;

/// What a check needs from the run before it can start; a check that needs nothing runs even
/// when the run could not set up its actors (the TLS checks judge the handshake alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fixture {
    /// The run's actors, their sessions and an HTTP client for the target.
    Actors,
    /// Account credentials to open sessions with (reference mode only).
    Account,
    /// The group the run establishes once and shares (`Ctx::established`).
    Group,
    /// Gateway connections.
    Gateway,
    /// The earlier steps of one suite's end-to-end run (polyproto suite id).
    SuiteRun(u16),
}

/// A check as listed, run and reported.
#[derive(Clone, Serialize)]
pub struct CheckDef {
    pub id: String,
    pub title: String,
    pub requirements: Vec<String>,
    pub level: Level,
    #[serde(skip)]
    pub needs: Vec<Fixture>,
    #[serde(skip)]
    judge: Arc<Judge>,
}

impl CheckDef {
    /// A check with its id, level and title; requirements, fixtures and the function follow.
    pub fn new(id: impl Into<String>, level: Level, title: impl Into<String>) -> Self {
        CheckDef {
            id: id.into(),
            title: title.into(),
            requirements: Vec::new(),
            level,
            needs: Vec::new(),
            judge: Arc::new(|_| Box::pin(async { unreachable_judge() })),
        }
    }

    /// The requirement ids the check verifies.
    pub fn requires<S: AsRef<str>>(mut self, requirements: &[S]) -> Self {
        self.requirements = requirements.iter().map(|r| r.as_ref().to_owned()).collect();
        self
    }

    /// What the check needs from the run.
    pub fn needs(mut self, fixtures: &[Fixture]) -> Self {
        self.needs = fixtures.to_vec();
        self
    }

    /// The function that judges, e.g. `.judged_by(|ctx| Box::pin(one_time(ctx)))`.
    pub fn judged_by<F>(mut self, judge: F) -> Self
    where
        F: for<'a> Fn(&'a mut Ctx) -> CheckFuture<'a> + Send + Sync + 'static,
    {
        self.judge = Arc::new(judge);
        self
    }

    /// Runs the check against the context.
    pub fn run<'a>(&self, ctx: &'a mut Ctx) -> CheckFuture<'a> {
        (self.judge)(ctx)
    }
}

/// A declaration without `judged_by` is a harness bug, reported as the check's error.
fn unreachable_judge() -> CheckResult {
    Err(crate::check::Finding::harness(
        "the check was declared without a function that judges",
    ))
}

impl fmt::Debug for CheckDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckDef")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("requirements", &self.requirements)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}
