//! The requirement catalogue (specs/requirements.toml), compiled into the binary so that every
//! verdict can name the clause it rests on.

use serde::Deserialize;

use crate::check::Level;

const CATALOGUE: &str = include_str!("../../specs/requirements.toml");

/// One normative clause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub level: Level,
    pub source: String,
    pub summary: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Why no check over the wire can verify this clause (required for uncovered MUSTs).
    #[serde(default)]
    pub not_checked: Option<String>,
}

#[derive(Deserialize)]
struct File {
    requirement: Vec<Requirement>,
}

/// Parses the embedded catalogue.
pub fn requirements() -> Vec<Requirement> {
    parse(CATALOGUE).unwrap_or_else(|e| {
        // The catalogue is compiled in and its unit test parses it: reaching this is a build
        // defect, not a runtime condition.
        panic!("specs/requirements.toml is invalid: {e}")
    })
}

fn parse(text: &str) -> Result<Vec<Requirement>, toml::de::Error> {
    toml::from_str::<File>(text).map(|f| f.requirement)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn catalogue_parses_with_unique_ids() {
        let reqs = parse(CATALOGUE).expect("catalogue parses");
        let ids: BTreeSet<_> = reqs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), reqs.len(), "duplicate requirement ids");
        assert!(reqs.iter().all(|r| !r.summary.trim().is_empty()));
    }
}
