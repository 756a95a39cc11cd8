//! The five counts of a report. Both reports serialise them in this one shape,
//! `{pass, fail, non_strict, unsupported, error}`, so that tools reading `p2mls run` reports read
//! `p2mls vectors` reports too (where `non_strict` is always 0).

use serde::Serialize;

use crate::Verdict;

/// Anything that ended with a verdict: a check, a vector entry.
pub trait HasVerdict {
    fn verdict(&self) -> Verdict;
}

impl HasVerdict for Verdict {
    fn verdict(&self) -> Verdict {
        *self
    }
}

impl<T: HasVerdict + ?Sized> HasVerdict for &T {
    fn verdict(&self) -> Verdict {
        (**self).verdict()
    }
}

/// Counts per verdict.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub non_strict: usize,
    pub unsupported: usize,
    pub error: usize,
}

impl Summary {
    /// Counts the verdicts of `items`.
    pub fn of<I>(items: I) -> Self
    where
        I: IntoIterator,
        I::Item: HasVerdict,
    {
        let mut s = Summary::default();
        for item in items {
            s.add(item.verdict());
        }
        s
    }

    /// Counts one more verdict.
    pub fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::NonStrict => self.non_strict += 1,
            Verdict::Unsupported => self.unsupported += 1,
            Verdict::Error => self.error += 1,
        }
    }

    /// Everything counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.non_strict + self.unsupported + self.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_counts_once_and_the_json_shape_is_stable() {
        let s = Summary::of([
            Verdict::Pass,
            Verdict::Pass,
            Verdict::Fail,
            Verdict::NonStrict,
            Verdict::Unsupported,
            Verdict::Error,
            Verdict::Error,
        ]);
        assert_eq!(s.total(), 7);
        assert_eq!(
            serde_json::to_string(&s).expect("serialises"),
            r#"{"pass":2,"fail":1,"non_strict":1,"unsupported":1,"error":2}"#
        );
    }
}
