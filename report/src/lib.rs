//! p2mls-report: what a verdict is and how reports are written, shared by `p2mls run` (the
//! harness's checks) and `p2mls vectors` (the RFC 9420 vector entries), so that one tool reading
//! either report reads both.
//!
//! - [`verdict`]: the five outcomes and the requirement levels;
//! - [`summary`]: the five counts (`summary {pass, fail, non_strict, unsupported, error}` in JSON);
//! - [`junit`]: the JUnit XML writer and its XML escape;
//! - [`markdown`]: table helpers and the summary table;
//! - [`html`]: the escape, page frame (inline CSS, no script), verdict labels and summary of
//!   report.html;
//! - [`files`]: writing report.json, junit.xml, report.md and report.html into a directory.
//!
//! What a report holds beyond that (checks with their HTTP evidence, vector entries with their
//! mismatches) stays with the crate that produces it.

pub mod files;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod summary;
pub mod verdict;

pub use summary::{HasVerdict, Summary};
pub use verdict::{Level, Verdict};
