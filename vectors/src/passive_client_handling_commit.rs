//! `passive-client-handling-commit.json`: a passive client joins by Welcome and follows the group (RFC 9420, via openmls's
//! public API). Format and verification: see [`crate::passive_client`].

use crate::passive_client::{verify, Entry};
use crate::verdict::Checked;
use crate::{Backend, VectorFile};

pub struct PassiveClientHandlingCommit;

impl VectorFile for PassiveClientHandlingCommit {
    const FILE: &'static str = "passive-client-handling-commit.json";
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        verify(e, provider)
    }
}
