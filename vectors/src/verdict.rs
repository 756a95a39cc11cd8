//! The verdict of one vector entry. Four outcomes are kept apart and all are counted: pass; fail
//! (which field, expected vs computed); unsupported (the provider does not offer the suite, with
//! the reason); error (the file or entry could not be read, naming file, entry and field).

use serde::Serialize;

/// How one entry ended: the vocabulary `p2mls run` uses too (an entry never ends non-strict).
pub use p2mls_report::Verdict;

/// A computed value that differs from the vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The JSON field (path inside the entry), e.g. `epochs[2].joiner_secret`.
    pub field: String,
    pub expected: String,
    pub computed: String,
}

/// Why a verifier stopped before a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A computed value differs from the vector, or a check the vector demands failed.
    Mismatch(Mismatch),
    /// The provider lacks what the entry needs.
    Unsupported(String),
    /// The entry could not be read or the verifier could not run.
    Error(String),
}

impl Finding {
    /// A failed check: `field` names what was checked, `expected` what the vector demands.
    pub fn fail(
        field: impl Into<String>,
        expected: impl Into<String>,
        computed: impl Into<String>,
    ) -> Self {
        Finding::Mismatch(Mismatch {
            field: field.into(),
            expected: expected.into(),
            computed: computed.into(),
        })
    }
}

/// A verifier's result: the notes of a pass (e.g. "lifetime validation off"), or a finding.
pub type Checked = Result<Vec<String>, Finding>;

/// Compares bytes; on a difference names the field with both values in hex.
pub fn check_bytes(field: &str, expected: &[u8], computed: &[u8]) -> Result<(), Finding> {
    if expected == computed {
        Ok(())
    } else {
        Err(Finding::fail(
            field,
            hex::encode(expected),
            hex::encode(computed),
        ))
    }
}

/// Compares any two displayable values.
pub fn check_eq<T: PartialEq + std::fmt::Debug>(
    field: &str,
    expected: T,
    computed: T,
) -> Result<(), Finding> {
    if expected == computed {
        Ok(())
    } else {
        Err(Finding::fail(
            field,
            format!("{expected:?}"),
            format!("{computed:?}"),
        ))
    }
}

/// Turns a computation error into a failure of `field` (the value could not be computed).
pub trait OrFail<T> {
    fn or_fail(self, field: &str) -> Result<T, Finding>;
}

impl<T, E: std::fmt::Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, field: &str) -> Result<T, Finding> {
        self.map_err(|e| Finding::fail(field, "a computable value", format!("error: {e}")))
    }
}

/// Turns an error into a harness error (the verifier could not run).
pub trait OrError<T> {
    fn or_error(self, what: &str) -> Result<T, Finding>;
}

impl<T, E: std::fmt::Display> OrError<T> for Result<T, E> {
    fn or_error(self, what: &str) -> Result<T, Finding> {
        self.map_err(|e| Finding::Error(format!("{what}: {e}")))
    }
}

/// The outcome of one entry as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Empty for a pass without notes.
    pub reason: String,
    pub mismatch: Option<Mismatch>,
    /// Conditions of a pass, e.g. "KeyPackage lifetime expired: lifetime validation off".
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn from_checked(checked: Checked) -> Self {
        match checked {
            Ok(notes) => Outcome {
                verdict: Verdict::Pass,
                reason: notes.join("; "),
                mismatch: None,
                notes,
            },
            Err(Finding::Mismatch(m)) => Outcome {
                verdict: Verdict::Fail,
                reason: format!(
                    "{}: expected {}, computed {}",
                    m.field,
                    shorten(&m.expected),
                    shorten(&m.computed)
                ),
                mismatch: Some(m),
                notes: Vec::new(),
            },
            Err(Finding::Unsupported(reason)) => Outcome {
                verdict: Verdict::Unsupported,
                reason,
                mismatch: None,
                notes: Vec::new(),
            },
            Err(Finding::Error(reason)) => Outcome {
                verdict: Verdict::Error,
                reason,
                mismatch: None,
                notes: Vec::new(),
            },
        }
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 80 {
        s.to_owned()
    } else {
        let cut = s
            .char_indices()
            .map(|(i, _)| i)
            .take_while(|i| *i <= 77)
            .last()
            .unwrap_or(0);
        format!("{}...", &s[..cut])
    }
}
