//! What a run created on the target, and the clean-up's account of it: data only, written by the
//! checks while they run and by the clean-up when the run ends (`cleanup.rs`).

use serde::Serialize;

/// What the run created on the target.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Actors the run registered (reference mode): fids.
    pub actors: Vec<String>,
    /// Sessions the run opened: (fid, session id).
    pub sessions: Vec<(String, String)>,
    /// Groups the run created: ids.
    pub groups: Vec<String>,
    /// KeyPackages the target accepted: (uploader's actor index, id, last resort).
    pub keypackages: Vec<(usize, String, bool)>,
}

/// One thing on the target.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    /// `keypackage`, `last-resort-keypackage`, `group`, `session`, `actor`.
    pub kind: String,
    pub id: String,
    /// How it was removed, or why it could not be.
    pub note: String,
}

/// The clean-up's account, in the report.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: Vec<Item>,
    /// Left on the target: what the API cannot remove.
    pub left: Vec<Item>,
    /// Clean-up steps that failed (the target stopped answering, ...).
    pub errors: Vec<String>,
}

pub(crate) fn item(kind: &str, id: &str, note: &str) -> Item {
    Item {
        kind: kind.into(),
        id: id.into(),
        note: note.into(),
    }
}
