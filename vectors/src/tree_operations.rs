//! `tree-operations.json`: applying Add, Update and Remove proposals to a ratchet tree
//! (RFC 9420 §12.1, §7.7).
//!
//! Format: `[{ "cipher_suite": u16, "tree_before": hex, "proposal": hex (Proposal),
//!   "proposal_sender": u32, "tree_hash_before": hex, "tree_after": hex,
//!   "tree_hash_after": hex }]`.
//!
//! Verification: `TreeHash(root of tree_before) == tree_hash_before`; applying `proposal` sent by
//! leaf `proposal_sender` gives a tree whose encoding is `tree_after` and whose root tree hash is
//! `tree_hash_after`. Add takes the leftmost blank leaf (extending the tree when there is none)
//! and joins the unmerged leaves of its non-blank ancestors; Update replaces the sender's leaf and
//! blanks its direct path; Remove blanks the leaf and its direct path and truncates the tree.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::framing::Proposal;
use crate::load::Hex;
use crate::tree::RatchetTree;
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub tree_before: Hex,
    pub proposal: Hex,
    pub proposal_sender: u32,
    pub tree_hash_before: Hex,
    pub tree_after: Hex,
    pub tree_hash_after: Hex,
}

pub struct TreeOperations;

impl VectorFile for TreeOperations {
    const FILE: &'static str = "tree-operations.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "tree_before",
        "tree_hash_before",
        "proposal",
        "proposal_sender",
        "tree_after",
        "tree_hash_after",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let mut tree = RatchetTree::parse(&e.tree_before).or_fail("tree_before")?;
        let before = tree.root_hash(cs).or_fail("tree_hash_before")?;
        check_bytes("tree_hash_before", &e.tree_hash_before, &before)?;
        let mut r = crate::codec::Reader::new(&e.proposal);
        let proposal = Proposal::parse(&mut r).or_fail("proposal")?;
        r.finish("Proposal").or_fail("proposal")?;
        match proposal {
            Proposal::Add(kp) => {
                tree.add_leaf(kp.leaf_node);
            }
            Proposal::Update(leaf) => {
                if tree.leaf(e.proposal_sender).is_none() {
                    return Err(Finding::fail(
                        "proposal_sender",
                        "a non-blank leaf",
                        e.proposal_sender.to_string(),
                    ));
                }
                tree.update_leaf(e.proposal_sender, leaf);
            }
            Proposal::Remove(removed) => {
                if tree.leaf(removed).is_none() {
                    return Err(Finding::fail(
                        "proposal.removed",
                        "a non-blank leaf",
                        removed.to_string(),
                    ));
                }
                tree.remove_leaf(removed);
            }
            Proposal::Other(ty, _) => {
                return Err(Finding::fail(
                    "proposal.proposal_type",
                    "add, update or remove",
                    ty.to_string(),
                ))
            }
        }
        check_bytes("tree_after", &e.tree_after, &tree.encode())?;
        let after = tree.root_hash(cs).or_fail("tree_hash_after")?;
        check_bytes("tree_hash_after", &e.tree_hash_after, &after)?;
        Ok(Vec::new())
    }
}
