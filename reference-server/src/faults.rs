//! Named faults: each breaks exactly one rule so that tests can show the harness noticing.
//! They are enabled only by an explicit `--fault NAME`; the default server has none.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// MLS routes answer without a bearer token (acting for the newest session).
    NoAuth,
    /// Discovery hands a consumed KeyPackage out again instead of deleting it.
    KeypackageReuse,
}
