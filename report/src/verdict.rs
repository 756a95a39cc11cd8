//! The vocabulary of a verdict. Five outcomes are kept apart (pass, fail, non-strict, unsupported,
//! error): a harness fault is never shown as a failure of what is judged, and an unsupported
//! feature never as a pass.

use serde::{Deserialize, Serialize};

/// How binding the requirements behind a check are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
    /// Our interop profile (specs/PROFILE.md): binding for certification against the profile.
    Profile,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Profile => "PROFILE",
        }
    }
}

/// The verdict of one check or vector entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// A SHOULD was broken (vector entries have no SHOULDs and never end so).
    NonStrict,
    /// What is judged lacks an optional or profile feature (a target's feature, a provider's
    /// cipher suite).
    Unsupported,
    /// The harness could not judge: it failed, or its input could not be read.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NonStrict => "non-strict",
            Verdict::Unsupported => "unsupported",
            Verdict::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_text_match_names_in_json() {
        for v in [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::NonStrict,
            Verdict::Unsupported,
            Verdict::Error,
        ] {
            assert_eq!(
                serde_json::to_value(v).expect("serialises"),
                serde_json::json!(v.as_str())
            );
        }
        for l in [Level::Must, Level::Should, Level::May, Level::Profile] {
            let json = serde_json::to_value(l).expect("serialises");
            assert_eq!(json, serde_json::json!(l.as_str()));
            assert_eq!(
                serde_json::from_value::<Level>(json).expect("reads back"),
                l
            );
        }
    }
}
