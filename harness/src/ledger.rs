//! What a run created on the target, and the clean-up's account of it: data only, written by the
//! checks while they run and by the clean-up when the run ends (`cleanup.rs`).

use serde::Serialize;

use crate::clients::actors::Account;

/// What the run created on the target.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Actors the run registered (reference mode): fids.
    pub actors: Vec<String>,
    /// Sessions the run opened.
    pub sessions: Vec<OpenSession>,
    /// Groups the run created: ids.
    pub groups: Vec<String>,
    /// KeyPackages the target accepted: (uploader's actor index, id, last resort).
    pub keypackages: Vec<(usize, String, bool)>,
}

/// A session the run opened, with the account that can revoke it when the harness registered
/// the actor (reference mode).
#[derive(Debug, Clone)]
pub struct OpenSession {
    pub fid: String,
    pub session_id: String,
    pub account: Option<Account>,
}

impl Ledger {
    /// Notes a session the target opened for the run.
    pub fn opened(&mut self, fid: &str, session_id: &str, account: Option<&Account>) {
        self.sessions.push(OpenSession {
            fid: fid.to_owned(),
            session_id: session_id.to_owned(),
            account: account.cloned(),
        });
    }
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
