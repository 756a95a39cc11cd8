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

/// State on the target that a check relies on or changes and that other checks also use. The
/// runner never runs two checks at once when one of them owns what the other touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The KeyPackages stored for one of the run's actors (by index: `ALICE`, `BOB`, `CAROL`).
    KeyPackages(usize),
    /// An actor's session on the gateway: a resume continues the session's last connection, so
    /// another connection of the same session in between changes what is resumed.
    Gateway(usize),
    /// One suite's end-to-end run (polyproto suite id): its steps run in order, one at a time.
    SuiteRun(u16),
    /// Everything the run's actors have on the target: what a check that declares nothing holds.
    Everything,
}

/// How a check holds a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Alongside other sharers (e.g. each uploads one KeyPackage and then takes one).
    Shared,
    /// Alone (e.g. the check empties an actor's KeyPackages and counts what comes back).
    Exclusive,
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
    /// What the check shares with other checks; `None`: undeclared, so it runs alone among the
    /// checks that act on the target (unless it needs nothing from the run).
    #[serde(skip)]
    claims: Option<Vec<(Resource, Access)>>,
    /// The check mostly waits on the target's timers (heartbeats, Retry-After): started first so
    /// the wait overlaps the other checks.
    #[serde(skip)]
    pub waits: bool,
    /// The check works on an actor it registers itself when the run can register actors
    /// (reference mode), and on the run's actors otherwise: isolated only in the first case.
    #[serde(skip)]
    isolated_with_fresh_actors: bool,
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
            claims: None,
            waits: false,
            isolated_with_fresh_actors: false,
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

    /// Declares that the check uses `resources` alongside other sharers.
    pub fn shares(self, resources: &[Resource]) -> Self {
        self.claim(resources, Access::Shared)
    }

    /// Declares that the check needs `resources` to itself while it runs.
    pub fn owns(self, resources: &[Resource]) -> Self {
        self.claim(resources, Access::Exclusive)
    }

    /// Declares that the check touches no state other checks rely on: what it changes on the
    /// target it creates itself (fresh groups, ids, connections), and requests the target must
    /// refuse change nothing.
    pub fn isolated(mut self) -> Self {
        self.claims.get_or_insert_with(Vec::new);
        self
    }

    /// Declares the check isolated when the run can register actors of its own (it then acts as
    /// a fresh one), and undeclared otherwise.
    pub fn isolated_with_fresh_actors(mut self) -> Self {
        self.isolated_with_fresh_actors = true;
        self
    }

    /// Marks the check as waiting on the target's timers (started before the others).
    pub fn waits(mut self) -> Self {
        self.waits = true;
        self
    }

    fn claim(mut self, resources: &[Resource], access: Access) -> Self {
        let claims = self.claims.get_or_insert_with(Vec::new);
        claims.extend(resources.iter().map(|r| (*r, access)));
        self
    }

    /// What the check holds while it runs: its declaration, else everything (if it acts on the
    /// target at all). `fresh_actors`: the run can register actors (reference mode).
    pub fn claims(&self, fresh_actors: bool) -> Vec<(Resource, Access)> {
        match &self.claims {
            _ if self.isolated_with_fresh_actors && fresh_actors => Vec::new(),
            Some(claims) => claims.clone(),
            None if self.needs.is_empty() => Vec::new(),
            None => vec![(Resource::Everything, Access::Exclusive)],
        }
    }

    /// Whether the two checks must not run at the same time.
    pub fn conflicts_with(&self, other: &CheckDef, fresh_actors: bool) -> bool {
        let (mine, theirs) = (self.claims(fresh_actors), other.claims(fresh_actors));
        mine.iter().any(|(a, a_access)| {
            theirs.iter().any(|(b, b_access)| {
                let same = a == b || *a == Resource::Everything || *b == Resource::Everything;
                same && (*a_access == Access::Exclusive || *b_access == Access::Exclusive)
            })
        })
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
            .field("claims", &self.claims)
            .field("waits", &self.waits)
            .field(
                "isolated_with_fresh_actors",
                &self.isolated_with_fresh_actors,
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: &str) -> CheckDef {
        CheckDef::new(id, Level::Must, id)
    }

    #[test]
    fn undeclared_checks_that_act_on_the_target_run_alone() {
        let undeclared = def("a").needs(&[Fixture::Actors]);
        let isolated = def("b").needs(&[Fixture::Actors]).isolated();
        let sharer = def("c")
            .needs(&[Fixture::Actors])
            .shares(&[Resource::KeyPackages(1)]);
        let offline = def("d");
        assert!(undeclared.conflicts_with(&sharer, false));
        assert!(undeclared.conflicts_with(&def("e").needs(&[Fixture::Actors]), false));
        assert!(!undeclared.conflicts_with(&isolated, false));
        assert!(!undeclared.conflicts_with(&offline, false));
    }

    #[test]
    fn owners_exclude_sharers_of_the_same_resource_only() {
        let sharer = def("a").shares(&[Resource::KeyPackages(1)]);
        let other_sharer = def("b").shares(&[Resource::KeyPackages(1)]);
        let owner = def("c").owns(&[Resource::KeyPackages(1)]);
        let owner_of_another = def("d").owns(&[Resource::KeyPackages(2)]);
        assert!(!sharer.conflicts_with(&other_sharer, false));
        assert!(owner.conflicts_with(&sharer, false));
        assert!(sharer.conflicts_with(&owner, false));
        assert!(!owner.conflicts_with(&owner_of_another, false));
        let everything = def("e").shares(&[Resource::Everything]);
        assert!(everything.conflicts_with(&owner_of_another, false));
        assert!(!everything.conflicts_with(&sharer, false));
    }
}
