//! `passive-client-handling-commit.json`: a passive client joins by Welcome and follows the group (RFC 9420, via openmls's
//! public API). Format and verification: see [`crate::passive_client`].

use crate::passive_client::{has_epochs, verify, Entry, FIELDS};
use crate::verdict::Checked;
use crate::{Backend, VectorFile};

pub struct PassiveClientHandlingCommit;

impl VectorFile for PassiveClientHandlingCommit {
    const FILE: &'static str = "passive-client-handling-commit.json";
    const FIELDS: &'static [&'static str] = FIELDS;
    type Entry = Entry;

    /// The client follows the group through at least one commit.
    fn is_entry(entry: &serde_json::Map<String, serde_json::Value>) -> bool {
        has_epochs(entry)
    }

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        verify(e, provider)
    }
}
