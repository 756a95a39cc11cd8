//! `tree-math.json`: array-based tree math (RFC 9420 Appendix C).
//!
//! Format: `[{ "n_leaves": u32, "n_nodes": u32, "root": u32, "left": [optional<u32>],
//! "right": [...], "parent": [...], "sibling": [...] }]`.
//!
//! Verification, for a tree of `n_leaves` leaves and every node index `i`:
//! `n_nodes == node_width(n_leaves)`, `root == root(n_leaves)`, `left[i] == left(i)`,
//! `right[i] == right(i)`, `parent[i] == parent(i)`, `sibling[i] == sibling(i)` (null where the
//! function is undefined: children of a leaf, parent and sibling of the root).

use serde::Deserialize;

use crate::tree;
use crate::verdict::{check_eq, Checked, Finding};
use crate::{Backend, VectorFile};

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub n_leaves: u32,
    pub n_nodes: u32,
    pub root: u32,
    pub left: Vec<Option<u32>>,
    pub right: Vec<Option<u32>>,
    pub parent: Vec<Option<u32>>,
    pub sibling: Vec<Option<u32>>,
}

pub struct TreeMath;

impl VectorFile for TreeMath {
    const FILE: &'static str = "tree-math.json";
    const FIELDS: &'static [&'static str] = &[
        "n_leaves", "n_nodes", "root", "left", "right", "parent", "sibling",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, _provider: &B) -> Checked {
        let n = e.n_leaves;
        if n == 0 || n > (1 << 30) {
            return Err(Finding::Error(format!("n_leaves {n} is outside 1..=2^30")));
        }
        check_eq("n_nodes", e.n_nodes, tree::node_width(n))?;
        check_eq("root", e.root, tree::root(n))?;
        let width = tree::node_width(n) as usize;
        for (name, values) in [
            ("left", &e.left),
            ("right", &e.right),
            ("parent", &e.parent),
            ("sibling", &e.sibling),
        ] {
            check_eq(&format!("{name}.length"), width, values.len())?;
            for (i, expected) in values.iter().enumerate() {
                let x = i as u32;
                let computed = match name {
                    "left" => tree::left(x),
                    "right" => tree::right(x),
                    "parent" => tree::parent(x, n),
                    _ => tree::sibling(x, n),
                };
                check_eq(&format!("{name}[{i}]"), *expected, computed)?;
            }
        }
        Ok(Vec::new())
    }
}
