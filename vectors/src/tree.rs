//! Ratchet-tree computations of RFC 9420 that openmls keeps private: array tree math (App. C),
//! the ratchet tree's wire form (§12.4.3.3), resolutions (§4.1.1), tree hashes (§7.8), parent
//! hashes and their verification (§7.9), and leaf-node signatures (§7.2).
//!
//! ```text
//! TreeHashInput  = struct { uint8 node_type; select (node_type) {
//!     leaf:   uint32 leaf_index; optional<LeafNode> leaf_node;
//!     parent: optional<ParentNode> parent_node; opaque left_hash<V>; opaque right_hash<V>; } }
//! ParentHash(P, S) = Hash(struct { HPKEPublicKey encryption_key; opaque parent_hash<V>;
//!                                  opaque original_sibling_tree_hash<V>; })
//! ```
//!
//! The "original sibling tree hash" is the tree hash of the sibling with P's unmerged leaves
//! blanked and removed from every `unmerged_leaves` list: the `exclude` arguments below.

use crate::Error;
use std::collections::BTreeSet;

use openmls::prelude::OpenMlsCrypto;

use crate::codec::{Reader, Writer};
use crate::crypto::Cs;

// ---------------------------------------------------------------------------------------------
// Tree math (RFC 9420 Appendix C). Node indices are u32; a tree of n leaves has 2n - 1 nodes.

/// The largest k with 2^k <= x (0 for x = 0).
pub fn log2(x: u32) -> u32 {
    if x == 0 {
        0
    } else {
        31 - x.leading_zeros()
    }
}

/// The level of node x: the number of trailing one bits.
pub fn level(x: u32) -> u32 {
    x.trailing_ones()
}

/// The number of nodes of a tree with `n_leaves` leaves.
pub fn node_width(n_leaves: u32) -> u32 {
    if n_leaves == 0 {
        0
    } else {
        2 * (n_leaves - 1) + 1
    }
}

/// The root of a tree with `n_leaves` leaves.
pub fn root(n_leaves: u32) -> u32 {
    let w = node_width(n_leaves);
    (1u32 << log2(w)) - 1
}

/// The left child of an intermediate node; None for a leaf.
pub fn left(x: u32) -> Option<u32> {
    let k = level(x);
    (k > 0).then(|| x ^ (1 << (k - 1)))
}

/// The right child of an intermediate node; None for a leaf.
pub fn right(x: u32) -> Option<u32> {
    let k = level(x);
    (k > 0).then(|| x ^ (3 << (k - 1)))
}

/// The parent of x in a tree of `n_leaves` leaves; None for the root or nodes outside the tree.
pub fn parent(x: u32, n_leaves: u32) -> Option<u32> {
    if x == root(n_leaves) || x >= node_width(n_leaves) {
        return None;
    }
    let k = level(x);
    if k >= 31 {
        return None;
    }
    let b = (x >> (k + 1)) & 1;
    Some((x | (1 << k)) ^ (b << (k + 1)))
}

/// The sibling of x; None for the root.
pub fn sibling(x: u32, n_leaves: u32) -> Option<u32> {
    let p = parent(x, n_leaves)?;
    if x < p {
        right(p)
    } else {
        left(p)
    }
}

/// The direct path of a node: its ancestors up to the root, excluding the node itself.
pub fn direct_path(x: u32, n_leaves: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = x;
    while let Some(p) = parent(cur, n_leaves) {
        out.push(p);
        cur = p;
    }
    out
}

/// The copath: the siblings of the node and of each node of its direct path but the root.
pub fn copath(x: u32, n_leaves: u32) -> Vec<u32> {
    let mut path = vec![x];
    path.extend(direct_path(x, n_leaves));
    path.pop();
    path.into_iter()
        .filter_map(|n| sibling(n, n_leaves))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The ratchet tree.

/// LeafNode.leaf_node_source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafSource {
    KeyPackage { not_before: u64, not_after: u64 },
    Update,
    Commit { parent_hash: Vec<u8> },
}

/// A LeafNode (§7.2) with its wire bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafNode {
    /// The whole LeafNode as encoded.
    pub raw: Vec<u8>,
    /// The LeafNodeTBS fields common to all sources (everything before the signature).
    pub content: Vec<u8>,
    pub encryption_key: Vec<u8>,
    pub signature_key: Vec<u8>,
    pub source: LeafSource,
    pub signature: Vec<u8>,
}

impl LeafNode {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let start = r.position();
        let encryption_key = r.opaque("LeafNode.encryption_key")?.to_vec();
        let signature_key = r.opaque("LeafNode.signature_key")?.to_vec();
        skip_credential(r)?;
        // Capabilities: five vectors of uint16.
        for what in [
            "Capabilities.versions",
            "Capabilities.cipher_suites",
            "Capabilities.extensions",
            "Capabilities.proposals",
            "Capabilities.credentials",
        ] {
            r.opaque(what)?;
        }
        let at = r.position();
        let source = match r.u8("LeafNode.leaf_node_source")? {
            1 => LeafSource::KeyPackage {
                not_before: r.u64("Lifetime.not_before")?,
                not_after: r.u64("Lifetime.not_after")?,
            },
            2 => LeafSource::Update,
            3 => LeafSource::Commit {
                parent_hash: r.opaque("LeafNode.parent_hash")?.to_vec(),
            },
            v => {
                return Err(Error::BadValue {
                    at,
                    what: "LeafNode.leaf_node_source",
                    value: u64::from(v),
                })
            }
        };
        r.opaque("LeafNode.extensions")?;
        let content = r.slice(start, r.position()).to_vec();
        let signature = r.opaque("LeafNode.signature")?.to_vec();
        Ok(LeafNode {
            raw: r.slice(start, r.position()).to_vec(),
            content,
            encryption_key,
            signature_key,
            source,
            signature,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let leaf = Self::parse(&mut r)?;
        r.finish("LeafNode")?;
        Ok(leaf)
    }

    pub fn parent_hash(&self) -> Option<&[u8]> {
        match &self.source {
            LeafSource::Commit { parent_hash } => Some(parent_hash),
            _ => None,
        }
    }

    /// LeafNodeTBS: the content, plus group id and leaf index for update/commit sources.
    pub fn tbs(&self, group_id: &[u8], leaf_index: u32) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(&self.content);
        if !matches!(self.source, LeafSource::KeyPackage { .. }) {
            w.opaque(group_id).u32(leaf_index);
        }
        w.into_bytes()
    }

    /// Verifies the leaf's signature (SignWithLabel "LeafNodeTBS").
    pub fn verify_signature<C: OpenMlsCrypto>(
        &self,
        cs: Cs<'_, C>,
        group_id: &[u8],
        leaf_index: u32,
    ) -> Result<(), String> {
        cs.verify_with_label(
            &self.signature_key,
            b"LeafNodeTBS",
            &self.tbs(group_id, leaf_index),
            &self.signature,
        )
    }
}

/// What a built leaf carries; everything else is fixed: a basic credential, MLS 1.0, the one
/// cipher suite, basic credentials only, no extensions.
pub struct LeafSpec<'a> {
    pub cipher_suite: u16,
    pub encryption_key: &'a [u8],
    pub signature_key: &'a [u8],
    pub identity: &'a [u8],
    pub source: LeafSource,
}

impl LeafNode {
    /// Encodes and signs a LeafNode (SignWithLabel "LeafNodeTBS"); `group_id` and `leaf_index`
    /// enter the signature for update and commit sources only.
    pub fn build_signed<C: OpenMlsCrypto>(
        cs: Cs<'_, C>,
        spec: &LeafSpec<'_>,
        signature_priv: &[u8],
        group_id: &[u8],
        leaf_index: u32,
    ) -> Result<Self, String> {
        let u16s = |values: &[u16]| {
            let mut w = Writer::new();
            for v in values {
                w.u16(*v);
            }
            w.into_bytes()
        };
        let mut w = Writer::new();
        w.opaque(spec.encryption_key)
            .opaque(spec.signature_key)
            .u16(1)
            .opaque(spec.identity)
            .opaque(&u16s(&[1]))
            .opaque(&u16s(&[spec.cipher_suite]))
            .opaque(&u16s(&[]))
            .opaque(&u16s(&[]))
            .opaque(&u16s(&[1]));
        match &spec.source {
            LeafSource::KeyPackage {
                not_before,
                not_after,
            } => {
                w.u8(1).u64(*not_before).u64(*not_after);
            }
            LeafSource::Update => {
                w.u8(2);
            }
            LeafSource::Commit { parent_hash } => {
                w.u8(3).opaque(parent_hash);
            }
        }
        w.opaque(&[]);
        let mut tbs = Writer::new();
        tbs.raw(&w.buf);
        if !matches!(spec.source, LeafSource::KeyPackage { .. }) {
            tbs.opaque(group_id).u32(leaf_index);
        }
        let signature = cs.sign_with_label(signature_priv, b"LeafNodeTBS", &tbs.buf)?;
        w.opaque(&signature);
        Self::from_bytes(&w.buf).map_err(|e| format!("a built LeafNode does not parse: {e}"))
    }
}

/// Skips a Credential (§5.3): basic (identity) or x509 (certificate chain).
pub fn skip_credential(r: &mut Reader<'_>) -> Result<(), Error> {
    let at = r.position();
    match r.u16("Credential.credential_type")? {
        1 => {
            r.opaque("Credential.identity")?;
        }
        2 => {
            r.opaque("Credential.certificates")?;
        }
        v => {
            return Err(Error::BadValue {
                at,
                what: "Credential.credential_type",
                value: u64::from(v),
            })
        }
    }
    Ok(())
}

/// A ParentNode (§7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentNode {
    pub encryption_key: Vec<u8>,
    pub parent_hash: Vec<u8>,
    pub unmerged_leaves: Vec<u32>,
}

impl ParentNode {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let encryption_key = r.opaque("ParentNode.encryption_key")?.to_vec();
        let parent_hash = r.opaque("ParentNode.parent_hash")?.to_vec();
        let mut v = r.vector("ParentNode.unmerged_leaves")?;
        let mut unmerged_leaves = Vec::new();
        while !v.is_empty() {
            unmerged_leaves.push(v.u32("ParentNode.unmerged_leaves")?);
        }
        Ok(ParentNode {
            encryption_key,
            parent_hash,
            unmerged_leaves,
        })
    }

    /// The encoding, with the leaves in `exclude` left out of `unmerged_leaves`.
    pub fn encode(&self, exclude: &BTreeSet<u32>) -> Vec<u8> {
        let mut leaves = Writer::new();
        for l in self.unmerged_leaves.iter().filter(|l| !exclude.contains(l)) {
            leaves.u32(*l);
        }
        let mut w = Writer::new();
        w.opaque(&self.encryption_key)
            .opaque(&self.parent_hash)
            .opaque(&leaves.buf);
        w.into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(LeafNode),
    Parent(ParentNode),
}

impl Node {
    pub fn encryption_key(&self) -> &[u8] {
        match self {
            Node::Leaf(l) => &l.encryption_key,
            Node::Parent(p) => &p.encryption_key,
        }
    }

    pub fn parent_hash(&self) -> Option<&[u8]> {
        match self {
            Node::Leaf(l) => l.parent_hash(),
            Node::Parent(p) => Some(&p.parent_hash),
        }
    }
}

/// A ratchet tree padded to a full binary tree (2^d leaves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatchetTree {
    pub nodes: Vec<Option<Node>>,
}

/// Trees above this many nodes are refused (hostile input; the vectors stay far below it).
const MAX_NODES: usize = 1 << 20;

impl RatchetTree {
    /// Parses `optional<Node> ratchet_tree<V>` and pads it to a full tree.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut outer = Reader::new(bytes);
        let mut r = outer.vector("ratchet_tree")?;
        outer.finish("ratchet_tree")?;
        let mut nodes = Vec::new();
        while !r.is_empty() {
            let index = nodes.len();
            if index >= MAX_NODES {
                return Err(Error::TooLarge(index));
            }
            if !r.present("optional<Node>")? {
                nodes.push(None);
                continue;
            }
            let at = r.position();
            let node = match r.u8("Node.node_type")? {
                1 => Node::Leaf(LeafNode::parse(&mut r)?),
                2 => Node::Parent(ParentNode::parse(&mut r)?),
                v => {
                    return Err(Error::BadValue {
                        at,
                        what: "Node.node_type",
                        value: u64::from(v),
                    })
                }
            };
            let (expected, found) = match (&node, index % 2) {
                (Node::Leaf(_), 0) | (Node::Parent(_), 1) => ("", ""),
                (Node::Leaf(_), _) => ("parent", "leaf"),
                (Node::Parent(_), _) => ("leaf", "parent"),
            };
            if !expected.is_empty() {
                return Err(Error::WrongNodeType {
                    index,
                    expected,
                    found,
                });
            }
            nodes.push(Some(node));
        }
        if nodes.len() % 2 == 0 {
            return Err(Error::EvenNodeCount(nodes.len()));
        }
        if !matches!(nodes.last(), Some(Some(_))) {
            return Err(Error::BadTruncation);
        }
        Ok(Self::padded(nodes))
    }

    /// Pads a node list to the full width of the next power of two leaves.
    pub fn padded(mut nodes: Vec<Option<Node>>) -> Self {
        let leaves = nodes.len().div_ceil(2).max(1).next_power_of_two();
        nodes.resize(2 * leaves - 1, None);
        RatchetTree { nodes }
    }

    pub fn n_leaves(&self) -> u32 {
        self.nodes.len().div_ceil(2) as u32
    }

    pub fn root(&self) -> u32 {
        root(self.n_leaves())
    }

    pub fn node(&self, x: u32) -> Option<&Node> {
        self.nodes.get(x as usize).and_then(Option::as_ref)
    }

    pub fn leaf(&self, leaf_index: u32) -> Option<&LeafNode> {
        match self.node(2 * leaf_index) {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        }
    }

    /// The wire form: trailing blank nodes dropped.
    pub fn encode(&self) -> Vec<u8> {
        let end = self
            .nodes
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        let mut body = Writer::new();
        for node in &self.nodes[..end] {
            match node {
                None => {
                    body.u8(0);
                }
                Some(Node::Leaf(l)) => {
                    body.u8(1).u8(1).raw(&l.raw);
                }
                Some(Node::Parent(p)) => {
                    body.u8(1).u8(2).raw(&p.encode(&BTreeSet::new()));
                }
            }
        }
        let mut w = Writer::new();
        w.opaque(&body.buf);
        w.into_bytes()
    }

    /// The resolution of node x (node indices), leaving out the leaves in `exclude`.
    pub fn resolution(&self, x: u32, exclude: &BTreeSet<u32>) -> Vec<u32> {
        match self.node(x) {
            Some(Node::Leaf(_)) if !exclude.contains(&(x / 2)) => vec![x],
            Some(Node::Leaf(_)) => vec![],
            Some(Node::Parent(p)) => {
                let mut out = vec![x];
                out.extend(
                    p.unmerged_leaves
                        .iter()
                        .filter(|l| !exclude.contains(l))
                        .map(|l| 2 * l),
                );
                out
            }
            None => match (left(x), right(x)) {
                (Some(l), Some(r)) => {
                    let mut out = self.resolution(l, exclude);
                    out.extend(self.resolution(r, exclude));
                    out
                }
                _ => vec![],
            },
        }
    }

    /// The tree hash of node x, leaving out the leaves in `exclude`.
    pub fn tree_hash<C: OpenMlsCrypto>(
        &self,
        cs: Cs<'_, C>,
        x: u32,
        exclude: &BTreeSet<u32>,
    ) -> Result<Vec<u8>, String> {
        let mut w = Writer::new();
        match (left(x), right(x)) {
            (None, _) | (_, None) => {
                w.u8(1).u32(x / 2);
                match self.node(x) {
                    Some(Node::Leaf(l)) if !exclude.contains(&(x / 2)) => {
                        w.u8(1).raw(&l.raw);
                    }
                    _ => {
                        w.u8(0);
                    }
                }
            }
            (Some(l), Some(r)) => {
                w.u8(2);
                match self.node(x) {
                    Some(Node::Parent(p)) => {
                        w.u8(1).raw(&p.encode(exclude));
                    }
                    _ => {
                        w.u8(0);
                    }
                }
                let lh = self.tree_hash(cs, l, exclude)?;
                let rh = self.tree_hash(cs, r, exclude)?;
                w.opaque(&lh).opaque(&rh);
            }
        }
        cs.hash(&w.buf)
    }

    /// All tree hashes, by node index (computed bottom-up, each subtree once).
    pub fn tree_hashes<C: OpenMlsCrypto>(&self, cs: Cs<'_, C>) -> Result<Vec<Vec<u8>>, String> {
        let mut hashes: Vec<Vec<u8>> = vec![Vec::new(); self.nodes.len()];
        let none = BTreeSet::new();
        for lvl in 0..=level(self.root()) {
            for x in (0..self.nodes.len() as u32).filter(|x| level(*x) == lvl) {
                let mut w = Writer::new();
                match (left(x), right(x)) {
                    (Some(l), Some(r)) => {
                        w.u8(2);
                        match self.node(x) {
                            Some(Node::Parent(p)) => {
                                w.u8(1).raw(&p.encode(&none));
                            }
                            _ => {
                                w.u8(0);
                            }
                        }
                        w.opaque(&hashes[l as usize]).opaque(&hashes[r as usize]);
                    }
                    _ => {
                        w.u8(1).u32(x / 2);
                        match self.node(x) {
                            Some(Node::Leaf(l)) => {
                                w.u8(1).raw(&l.raw);
                            }
                            _ => {
                                w.u8(0);
                            }
                        }
                    }
                }
                hashes[x as usize] = cs.hash(&w.buf)?;
            }
        }
        Ok(hashes)
    }

    /// ParentHash(P, original sibling tree hash).
    pub fn parent_hash_of<C: OpenMlsCrypto>(
        cs: Cs<'_, C>,
        p: &ParentNode,
        original_sibling_tree_hash: &[u8],
    ) -> Result<Vec<u8>, String> {
        let mut w = Writer::new();
        w.opaque(&p.encryption_key)
            .opaque(&p.parent_hash)
            .opaque(original_sibling_tree_hash);
        cs.hash(&w.buf)
    }

    /// §7.9.2: every non-blank parent node P is parent-hash valid: exactly one of its children's
    /// resolutions (without P's unmerged leaves) holds a node whose parent_hash is ParentHash(P)
    /// computed with the other child's original tree hash.
    pub fn verify_parent_hashes<C: OpenMlsCrypto>(&self, cs: Cs<'_, C>) -> Result<(), String> {
        for x in (1..self.nodes.len() as u32).step_by(2) {
            let Some(Node::Parent(p)) = self.node(x) else {
                continue;
            };
            let (Some(l), Some(r)) = (left(x), right(x)) else {
                continue;
            };
            let exclude: BTreeSet<u32> = p.unmerged_leaves.iter().copied().collect();
            let ph_for_left = Self::parent_hash_of(cs, p, &self.tree_hash(cs, r, &exclude)?)?;
            let ph_for_right = Self::parent_hash_of(cs, p, &self.tree_hash(cs, l, &exclude)?)?;
            let holds = |child: u32, ph: &[u8]| {
                self.resolution(child, &exclude)
                    .into_iter()
                    .any(|d| self.node(d).and_then(Node::parent_hash) == Some(ph))
            };
            let in_left = holds(l, &ph_for_left);
            let in_right = holds(r, &ph_for_right);
            if in_left == in_right {
                return Err(format!(
                    "parent node {x} is not parent-hash valid ({} child carries its parent hash)",
                    if in_left { "more than one" } else { "no" }
                ));
            }
        }
        Ok(())
    }

    /// Verifies the signature of every leaf with `group_id` as context.
    pub fn verify_leaf_signatures<C: OpenMlsCrypto>(
        &self,
        cs: Cs<'_, C>,
        group_id: &[u8],
    ) -> Result<(), String> {
        for i in 0..self.n_leaves() {
            if let Some(leaf) = self.leaf(i) {
                leaf.verify_signature(cs, group_id, i)
                    .map_err(|e| format!("leaf {i}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The filtered direct path of leaf `leaf_index` (§4.1.2): direct-path nodes whose child on
    /// the copath side has a non-empty resolution.
    pub fn filtered_direct_path(&self, leaf_index: u32) -> Vec<u32> {
        let n = self.n_leaves();
        let x = 2 * leaf_index;
        let none = BTreeSet::new();
        direct_path(x, n)
            .into_iter()
            .zip(copath(x, n))
            .filter(|(_, c)| !self.resolution(*c, &none).is_empty())
            .map(|(p, _)| p)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Tree modifications (§7.7, §12.1).

impl RatchetTree {
    /// Blanks the direct path of leaf `leaf_index`.
    pub fn blank_direct_path(&mut self, leaf_index: u32) {
        for p in direct_path(2 * leaf_index, self.n_leaves()) {
            self.nodes[p as usize] = None;
        }
    }

    /// Add (§12.1.1): the new leaf goes to the leftmost blank leaf, or the tree is extended to
    /// the right; its index joins `unmerged_leaves` of every non-blank node on its direct path.
    /// Returns the new leaf's index.
    pub fn add_leaf(&mut self, leaf: LeafNode) -> u32 {
        let n = self.n_leaves();
        let index = match (0..n).find(|i| self.node(2 * i).is_none()) {
            Some(i) => i,
            None => {
                let width = self.nodes.len();
                self.nodes.resize(2 * width + 1, None);
                n
            }
        };
        self.nodes[2 * index as usize] = Some(Node::Leaf(leaf));
        for p in direct_path(2 * index, self.n_leaves()) {
            if let Some(Node::Parent(parent)) = &mut self.nodes[p as usize] {
                parent.unmerged_leaves.push(index);
            }
        }
        index
    }

    /// Update (§12.1.2): replaces the sender's leaf and blanks its direct path.
    pub fn update_leaf(&mut self, leaf_index: u32, leaf: LeafNode) {
        if let Some(slot) = self.nodes.get_mut(2 * leaf_index as usize) {
            *slot = Some(Node::Leaf(leaf));
        }
        self.blank_direct_path(leaf_index);
    }

    /// Remove (§12.1.3): blanks the leaf and its direct path, then truncates the tree while its
    /// right half holds no leaf.
    pub fn remove_leaf(&mut self, leaf_index: u32) {
        if let Some(slot) = self.nodes.get_mut(2 * leaf_index as usize) {
            *slot = None;
        }
        self.blank_direct_path(leaf_index);
        self.truncate();
    }

    /// Halves the tree while the right subtree of the root has no non-blank leaf.
    pub fn truncate(&mut self) {
        while self.nodes.len() > 1 {
            let half = self.nodes.len() / 2;
            let right_has_leaf = (half + 1..self.nodes.len())
                .step_by(2)
                .any(|i| self.nodes[i].is_some());
            if right_has_leaf {
                break;
            }
            self.nodes.truncate(half);
        }
    }

    /// The root tree hash.
    pub fn root_hash<C: OpenMlsCrypto>(&self, cs: Cs<'_, C>) -> Result<Vec<u8>, String> {
        self.tree_hash(cs, self.root(), &BTreeSet::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_math_small_tree() {
        assert_eq!(root(4), 3);
        assert_eq!(parent(0, 4), Some(1));
        assert_eq!(parent(1, 4), Some(3));
        assert_eq!(parent(5, 4), Some(3));
        assert_eq!(parent(3, 4), None);
        assert_eq!(sibling(2, 4), Some(0));
        assert_eq!(direct_path(0, 4), vec![1, 3]);
        assert_eq!(copath(0, 4), vec![2, 5]);
    }
}
