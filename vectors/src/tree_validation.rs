//! `tree-validation.json`: resolutions, tree hashes, parent hashes and leaf signatures of a
//! ratchet tree (RFC 9420 §4.1.1, §7.8, §7.9.2, §7.2).
//!
//! Format: `[{ "cipher_suite": u16, "tree": hex (optional<Node> ratchet_tree<V>),
//!   "group_id": hex, "resolutions": [[u32]], "tree_hashes": [hex] }]`.
//!
//! Verification, with the tree padded to a full tree of 2^d leaves:
//! - `resolution(i) == resolutions[i]` and `TreeHash(i) == tree_hashes[i]` for every node `i`;
//! - every non-blank parent node is parent-hash valid (§7.9.2);
//! - every leaf's signature verifies with `group_id` as context.
//!
//! The same tree also goes through openmls (`RatchetTreeIn::into_verified`), which must accept it.

use std::collections::BTreeSet;

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::{GroupId, RatchetTreeIn};
use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::tree::RatchetTree;
use crate::verdict::{check_bytes, check_eq, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub tree: Hex,
    pub group_id: Hex,
    pub resolutions: Vec<Vec<u32>>,
    pub tree_hashes: Vec<Hex>,
}

pub struct TreeValidation;

impl VectorFile for TreeValidation {
    const FILE: &'static str = "tree-validation.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "tree",
        "group_id",
        "resolutions",
        "tree_hashes",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let tree = RatchetTree::parse(&e.tree).or_fail("tree")?;
        check_eq("resolutions.length", e.resolutions.len(), tree.nodes.len())?;
        check_eq("tree_hashes.length", e.tree_hashes.len(), tree.nodes.len())?;
        let none = BTreeSet::new();
        for (i, expected) in e.resolutions.iter().enumerate() {
            check_eq(
                &format!("resolutions[{i}]"),
                expected.clone(),
                tree.resolution(i as u32, &none),
            )?;
        }
        let hashes = tree.tree_hashes(cs).or_fail("tree_hashes")?;
        for (i, expected) in e.tree_hashes.iter().enumerate() {
            check_bytes(&format!("tree_hashes[{i}]"), expected, &hashes[i])?;
        }
        tree.verify_parent_hashes(cs)
            .or_fail("tree (parent hashes)")?;
        tree.verify_leaf_signatures(cs, &e.group_id)
            .or_fail("tree (leaf signatures)")?;
        let tree_in = RatchetTreeIn::tls_deserialize_exact(e.tree.as_slice())
            .map_err(|err| Finding::fail("tree (openmls decode)", "decodable", err.to_string()))?;
        tree_in
            .into_verified(suite, provider.crypto(), &GroupId::from_slice(&e.group_id))
            .map_err(|err| {
                Finding::fail(
                    "tree (openmls into_verified)",
                    "a valid tree",
                    format!("{err:?}"),
                )
            })?;
        Ok(Vec::new())
    }
}
