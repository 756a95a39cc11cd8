//! The check catalogue: each area module declares its checks next to the code that judges them
//! (id, title, level, requirements, fixtures, function; see `unit::CheckDef`), and this module
//! only gathers them. Adding a check is one entry in its area's `checks()` plus the requirement in
//! specs/requirements.toml (docs/DESIGN.md walks through it).
//!
//! Operation checks are generated from the OpenAPI document (`operations::checks`: every aspect
//! on every operation it applies to), so a `--spec` document with other operations yields other
//! checks.

pub mod context;
pub mod engine;
pub mod gateway;
pub mod groups;
pub mod idcert;
pub mod keymaterial;
pub mod keypackages;
pub mod operations;
pub mod ratelimit;
pub mod registration;
pub mod sessions;
pub mod suites;
pub mod tls;
pub mod unit;
pub mod wellknown;

use p2mls_protocol::suites::SuiteRegistry;

use crate::spec::ApiSpec;
pub use context::Ctx;
pub use unit::{Access, CheckDef, CheckFuture, Fixture, Resource};

/// All checks for a spec, sorted by id.
pub fn catalogue(spec: &ApiSpec) -> Vec<CheckDef> {
    let mut checks = operations::checks(spec);
    checks.extend(keypackages::checks(spec));
    checks.extend(groups::checks(spec));
    checks.extend(idcert::checks());
    checks.extend(registration::checks());
    checks.extend(keymaterial::checks());
    checks.extend(sessions::checks());
    checks.extend(gateway::checks());
    checks.extend(tls::checks());
    checks.extend(wellknown::checks());
    checks.extend(ratelimit::checks(spec));
    checks.extend(suites::checks(spec, &SuiteRegistry::default()));
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    checks
}

/// Self-checks of the harness's MLS engine, one per registry suite (`p2mls run --vectors DIR`).
pub fn engine_checks(official: &std::path::Path, registry: &SuiteRegistry) -> Vec<CheckDef> {
    engine::checks(official, registry)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalogue::requirements;
    use crate::check::Level;

    #[test]
    fn every_cited_requirement_exists() {
        let known: BTreeSet<String> = requirements().into_iter().map(|r| r.id).collect();
        for check in catalogue(&ApiSpec::default_spec()) {
            for req in &check.requirements {
                assert!(
                    known.contains(req),
                    "{} cites unknown requirement {req}",
                    check.id
                );
            }
        }
    }

    #[test]
    fn every_must_is_checked_or_explains_why_not() {
        let checked: BTreeSet<String> = catalogue(&ApiSpec::default_spec())
            .into_iter()
            .flat_map(|c| c.requirements)
            .collect();
        let missing: Vec<String> = requirements()
            .into_iter()
            .filter(|r| {
                r.level == Level::Must && !checked.contains(&r.id) && r.not_checked.is_none()
            })
            .map(|r| r.id)
            .collect();
        assert!(
            missing.is_empty(),
            "MUST requirements without a check or a reason: {missing:?}"
        );
    }

    #[test]
    fn no_covered_requirement_claims_it_is_not_checked() {
        let checked: BTreeSet<String> = catalogue(&ApiSpec::default_spec())
            .into_iter()
            .flat_map(|c| c.requirements)
            .collect();
        let stale: Vec<String> = requirements()
            .into_iter()
            .filter(|r| r.not_checked.is_some() && checked.contains(&r.id))
            .map(|r| r.id)
            .collect();
        assert!(
            stale.is_empty(),
            "checked requirements with a stale not_checked reason: {stale:?}"
        );
    }

    #[test]
    fn check_ids_are_unique_and_sorted() {
        let checks = catalogue(&ApiSpec::default_spec());
        let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ids);
    }
}
