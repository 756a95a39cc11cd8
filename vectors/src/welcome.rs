//! `welcome.json` (stub, replaced below).
use crate::load::Hex;
use crate::verdict::{Checked, Finding};
use crate::{Backend, VectorFile};
use serde::Deserialize;
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub group_id: Hex,
}
pub struct Welcome;
impl VectorFile for Welcome {
    const FILE: &'static str = "welcome.json";
    type Entry = Entry;
    fn verify<B: Backend>(_e: &Entry, _p: &B) -> Checked {
        Err(Finding::Unsupported("verifier not implemented".into()))
    }
}
