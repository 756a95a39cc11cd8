//! `treekem.json`: UpdatePath processing (RFC 9420 §7.4–§7.9, §12.4.2).
//!
//! Format: `[{ "cipher_suite": u16, "group_id": hex, "epoch": u64,
//!   "confirmed_transcript_hash": hex, "ratchet_tree": hex,
//!   "leaves_private": [{ "index": u32, "encryption_priv": hex, "signature_priv": hex,
//!                        "path_secrets": [{ "node": u32, "path_secret": hex }] }],
//!   "update_paths": [{ "sender": u32, "update_path": hex, "path_secrets": [hex or null],
//!                     "commit_secret": hex, "tree_hash_after": hex }] }]`.
//!
//! Verification:
//! - each private state is consistent with `ratchet_tree`: the leaf's encryption key belongs to
//!   `encryption_priv`, its signature key to `signature_priv`, and for each path secret the node is non-blank and its public key is
//!   that of `DeriveKeyPair(DeriveSecret(path_secret, "node"))`;
//! - for each update path of sender `i`: merging it (the sender's leaf replaced, its direct path
//!   blanked, the filtered direct path set from the path's keys with parent hashes chained from
//!   the root down) gives a tree whose root hash is `tree_hash_after` and which is parent-hash
//!   valid, with the sender leaf's `parent_hash` matching the chain;
//! - with `GroupContext{suite, group_id, epoch, tree_hash_after, confirmed_transcript_hash, {}}`,
//!   every other non-blank leaf `j` decrypts (DecryptWithLabel "UpdatePathNode") the path secret
//!   of the lowest common ancestor from the node of the copath child's resolution it holds a key
//!   for; it equals `path_secrets[j]`, the keys derived upward
//!   (`path_secret[n+1] = DeriveSecret(path_secret[n], "path")`) match the path's public keys,
//!   and `DeriveSecret(path_secret[root], "path") == commit_secret`;
//! - a fresh UpdatePath (new path secrets from the sender, encrypted to the same resolutions,
//!   with a new leaf node signed by the sender's `signature_priv`) is parent-hash valid, its
//!   leaf signature verifies with the sender's signature key in the tree, and every other leaf
//!   processes it to the same new commit secret;
//! - beyond the steps of `test-vectors.md`: every leaf of `ratchet_tree` and each path's leaf
//!   node carry valid signatures (LeafNodeTBS with `group_id` and the leaf index).

use std::collections::{BTreeMap, BTreeSet};

use openmls::prelude::OpenMlsCrypto;
use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::framing::UpdatePath;
use crate::load::Hex;
use crate::schedule::group_context;
use crate::tree::{self, LeafNode, LeafSource, LeafSpec, Node, ParentNode, RatchetTree};
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PathSecret {
    pub node: u32,
    pub path_secret: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LeafPrivate {
    pub index: u32,
    pub encryption_priv: Hex,
    pub signature_priv: Hex,
    pub path_secrets: Vec<PathSecret>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UpdatePathEntry {
    pub sender: u32,
    pub update_path: Hex,
    pub path_secrets: Vec<Option<Hex>>,
    pub commit_secret: Hex,
    pub tree_hash_after: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub group_id: Hex,
    pub epoch: u64,
    pub confirmed_transcript_hash: Hex,
    pub ratchet_tree: Hex,
    pub leaves_private: Vec<LeafPrivate>,
    pub update_paths: Vec<UpdatePathEntry>,
}

/// Node private keys held by one member: node index -> HPKE private key.
type PrivateState = BTreeMap<u32, Vec<u8>>;

/// (private, public) key pair of a path secret.
pub fn node_key_pair<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    path_secret: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let node_secret = cs.derive_secret(path_secret, b"node")?;
    cs.derive_key_pair(&node_secret)
}

/// Merges an UpdatePath of `sender` into a copy of `tree` (§7.5, §7.9): returns the new tree and
/// the parent hash the sender's leaf must carry.
pub fn merge_path<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    tree: &RatchetTree,
    sender: u32,
    path: &UpdatePath,
) -> Result<(RatchetTree, Vec<u8>), String> {
    let fdp = tree.filtered_direct_path(sender);
    if fdp.len() != path.nodes.len() {
        return Err(format!(
            "the path has {} nodes, the filtered direct path {}",
            path.nodes.len(),
            fdp.len()
        ));
    }
    let mut new = tree.clone();
    new.blank_direct_path(sender);
    for (x, node) in fdp.iter().zip(&path.nodes) {
        new.nodes[*x as usize] = Some(Node::Parent(ParentNode {
            encryption_key: node.encryption_key.clone(),
            parent_hash: Vec::new(),
            unmerged_leaves: Vec::new(),
        }));
    }
    new.nodes[2 * sender as usize] = Some(Node::Leaf(path.leaf_node.clone()));
    // Parent hashes from the root down: each node's parent_hash is the hash of the next
    // filtered-path node above it with the tree hash of that node's copath-side child.
    let none = BTreeSet::new();
    let mut ph = Vec::new();
    for (k, x) in fdp.iter().enumerate().rev() {
        if let Some(Node::Parent(p)) = &mut new.nodes[*x as usize] {
            p.parent_hash = ph.clone();
        }
        let Some(Node::Parent(p)) = new.node(*x).cloned() else {
            return Err(format!("node {x} vanished while merging"));
        };
        let below = if k == 0 { 2 * sender } else { fdp[k - 1] };
        let sibling_side = if below < *x {
            tree::right(*x)
        } else {
            tree::left(*x)
        }
        .ok_or_else(|| format!("node {x} has no children"))?;
        let sibling_hash = new.tree_hash(cs, sibling_side, &none)?;
        ph = RatchetTree::parent_hash_of(cs, &p, &sibling_hash)?;
    }
    Ok((new, ph))
}

/// The copath child under each node of `sender`'s filtered direct path `fdp`, bottom up: the
/// path secret of `fdp[k]` is encrypted to the resolution of the `k`-th child.
pub fn copath_children(tree: &RatchetTree, sender: u32, fdp: &[u32]) -> Vec<u32> {
    let n = tree.n_leaves();
    tree::direct_path(2 * sender, n)
        .into_iter()
        .zip(tree::copath(2 * sender, n))
        .filter(|(p, _)| fdp.contains(p))
        .map(|(_, c)| c)
        .collect()
}

/// The index into `sender`'s filtered direct path `fdp` of the lowest node on `receiver`'s direct
/// path: the path secret `receiver` decrypts (their lowest common ancestor).
pub fn shared_path_index(
    tree: &RatchetTree,
    fdp: &[u32],
    sender: u32,
    receiver: u32,
) -> Result<usize, String> {
    let receiver_path: BTreeSet<u32> = tree::direct_path(2 * receiver, tree.n_leaves())
        .into_iter()
        .collect();
    fdp.iter()
        .position(|p| receiver_path.contains(p))
        .ok_or_else(|| format!("leaf {receiver} shares no filtered-path node with {sender}"))
}

/// Encrypts each path secret to every node of the resolution of its copath child (§7.6),
/// appending to `path`'s nodes; `encrypt(public key, path secret)` is EncryptWithLabel with the
/// context bound in.
pub fn encrypt_path_secrets(
    tree: &RatchetTree,
    sender: u32,
    fdp: &[u32],
    secrets: &[Vec<u8>],
    path: &mut UpdatePath,
    mut encrypt: impl FnMut(&[u8], &[u8]) -> Result<(Vec<u8>, Vec<u8>), String>,
) -> Result<(), String> {
    for (k, child) in copath_children(tree, sender, fdp).iter().enumerate() {
        for x in tree.resolution(*child, &BTreeSet::new()) {
            let public = tree
                .node(x)
                .map(|n| n.encryption_key().to_vec())
                .ok_or_else(|| format!("node {x} of a resolution is blank"))?;
            let ct = encrypt(&public, &secrets[k])?;
            path.nodes[k].encrypted_path_secret.push(ct);
        }
    }
    Ok(())
}

/// Which node of the copath resolution a member decrypts from, and the path index.
fn decryption_slot(
    tree: &RatchetTree,
    sender: u32,
    receiver: u32,
    state: &PrivateState,
) -> Result<(usize, usize, u32), String> {
    let fdp = tree.filtered_direct_path(sender);
    let k = shared_path_index(tree, &fdp, sender, receiver)?;
    let p = &fdp[k];
    let child = if 2 * receiver < *p {
        tree::left(*p)
    } else {
        tree::right(*p)
    }
    .ok_or_else(|| format!("node {p} has no children"))?;
    let resolution = tree.resolution(child, &BTreeSet::new());
    let (idx, node) = resolution
        .iter()
        .enumerate()
        .find(|(_, x)| state.contains_key(x))
        .ok_or_else(|| format!("leaf {receiver} holds no key in the resolution of node {child}"))?;
    Ok((k, idx, *node))
}

/// Processes a path as leaf `receiver`: the decrypted path secret and the commit secret.
fn process<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    tree: &RatchetTree,
    sender: u32,
    receiver: u32,
    state: &PrivateState,
    path: &UpdatePath,
    context: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (k, idx, node) = decryption_slot(tree, sender, receiver, state)?;
    let (kem, ct) = path.nodes[k]
        .encrypted_path_secret
        .get(idx)
        .ok_or_else(|| format!("path node {k} has no ciphertext {idx}"))?;
    let private = &state[&node];
    let first = cs.decrypt_with_label(private, b"UpdatePathNode", context, kem, ct)?;
    let mut secret = first.clone();
    for (m, pnode) in path.nodes.iter().enumerate().skip(k) {
        if m > k {
            secret = cs.derive_secret(&secret, b"path")?;
        }
        let (_, public) = node_key_pair(cs, &secret)?;
        if public != pnode.encryption_key {
            return Err(format!(
                "the key derived for path node {m} differs from the path's encryption_key"
            ));
        }
    }
    let commit_secret = cs.derive_secret(&secret, b"path")?;
    Ok((first, commit_secret))
}

pub struct TreeKem;

impl VectorFile for TreeKem {
    const FILE: &'static str = "treekem.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "group_id",
        "epoch",
        "confirmed_transcript_hash",
        "ratchet_tree",
        "leaves_private",
        "update_paths",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let tree = RatchetTree::parse(&e.ratchet_tree).or_fail("ratchet_tree")?;
        tree.verify_leaf_signatures(cs, &e.group_id)
            .or_fail("ratchet_tree (leaf signatures)")?;

        let mut states: BTreeMap<u32, PrivateState> = BTreeMap::new();
        for (li, lp) in e.leaves_private.iter().enumerate() {
            let field = format!("leaves_private[{li}]");
            let leaf = tree.leaf(lp.index).ok_or_else(|| {
                Finding::fail(
                    format!("{field}.index"),
                    "a non-blank leaf",
                    lp.index.to_string(),
                )
            })?;
            let (kem, ct) = cs
                .encrypt_with_label(&leaf.encryption_key, b"p2mls", b"", b"key check")
                .or_fail(&format!("{field}.encryption_priv"))?;
            cs.decrypt_with_label(&lp.encryption_priv, b"p2mls", b"", &kem, &ct)
                .or_fail(&format!(
                    "{field}.encryption_priv (does not match the leaf)"
                ))?;
            let signature = cs
                .sign_with_label(&lp.signature_priv, b"p2mls", b"key check")
                .or_fail(&format!("{field}.signature_priv"))?;
            cs.verify_with_label(&leaf.signature_key, b"p2mls", b"key check", &signature)
                .or_fail(&format!("{field}.signature_priv (does not match the leaf)"))?;
            let mut state = PrivateState::new();
            state.insert(2 * lp.index, lp.encryption_priv.0.clone());
            for (pi, ps) in lp.path_secrets.iter().enumerate() {
                let f = format!("{field}.path_secrets[{pi}]");
                let node = tree.node(ps.node).ok_or_else(|| {
                    Finding::fail(format!("{f}.node"), "a non-blank node", ps.node.to_string())
                })?;
                let (private, public) = node_key_pair(cs, &ps.path_secret).or_fail(&f)?;
                check_bytes(
                    &format!("{f} (public key of node {})", ps.node),
                    node.encryption_key(),
                    &public,
                )?;
                state.insert(ps.node, private);
            }
            states.insert(lp.index, state);
        }

        for (ui, up) in e.update_paths.iter().enumerate() {
            let f = |name: &str| format!("update_paths[{ui}].{name}");
            let path = UpdatePath::from_bytes(&up.update_path).or_fail(&f("update_path"))?;
            let (merged, leaf_ph) =
                merge_path(cs, &tree, up.sender, &path).or_fail(&f("update_path"))?;
            check_bytes(
                &f("update_path.leaf_node.parent_hash"),
                &leaf_ph,
                path.leaf_node.parent_hash().unwrap_or_default(),
            )?;
            path.leaf_node
                .verify_signature(cs, &e.group_id, up.sender)
                .or_fail(&f("update_path.leaf_node.signature"))?;
            merged
                .verify_parent_hashes(cs)
                .or_fail(&f("update_path (parent-hash validity after merging)"))?;
            let root_hash = merged.root_hash(cs).or_fail(&f("tree_hash_after"))?;
            check_bytes(&f("tree_hash_after"), &up.tree_hash_after, &root_hash)?;
            let context = group_context(
                e.cipher_suite,
                &e.group_id,
                e.epoch,
                &root_hash,
                &e.confirmed_transcript_hash,
                &[],
            );
            for j in (0..tree.n_leaves()).filter(|j| *j != up.sender && tree.leaf(*j).is_some()) {
                let state = states.get(&j).ok_or_else(|| {
                    Finding::Error(format!("leaf {j} is not blank but has no private state"))
                })?;
                let field = f(&format!("path_secrets[{j}]"));
                let (secret, commit) =
                    process(cs, &tree, up.sender, j, state, &path, &context).or_fail(&field)?;
                let expected = up
                    .path_secrets
                    .get(j as usize)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| Finding::fail(&field, "a path secret", "null or missing"))?;
                check_bytes(&field, &expected, &secret)?;
                check_bytes(&f("commit_secret"), &up.commit_secret, &commit)?;
            }
            fresh_round_trip(cs, &tree, up.sender, &path, &states, e)
                .or_fail(&f("(fresh UpdatePath round trip)"))?;
        }
        Ok(Vec::new())
    }
}

/// Builds a fresh UpdatePath for `sender` (path secrets from a fixed start, a new leaf signed
/// with the sender's `signature_priv`) and checks that every other member derives the same
/// commit secret from it.
fn fresh_round_trip<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    tree: &RatchetTree,
    sender: u32,
    template: &UpdatePath,
    states: &BTreeMap<u32, PrivateState>,
    e: &Entry,
) -> Result<(), String> {
    let fdp = tree.filtered_direct_path(sender);
    let n = tree.n_leaves();
    let mut secrets = Vec::new();
    let mut secret = cs.hash(b"p2mls fresh path secret")?;
    let mut nodes = Vec::new();
    for _ in &fdp {
        secrets.push(secret.clone());
        let (_, public) = node_key_pair(cs, &secret)?;
        nodes.push(crate::framing::UpdatePathNode {
            encryption_key: public,
            encrypted_path_secret: Vec::new(),
        });
        secret = cs.derive_secret(&secret, b"path")?;
    }
    let commit_secret = secret;
    let mut path = UpdatePath {
        leaf_node: template.leaf_node.clone(),
        nodes,
    };
    // A new leaf signed with the sender's signature_priv over the fresh path's parent hash
    // (which does not depend on the leaf): a wrong signature_priv fails the signature check.
    let (_, parent_hash) = merge_path(cs, tree, sender, &path)?;
    let signature_priv = e
        .leaves_private
        .iter()
        .find(|lp| lp.index == sender)
        .map(|lp| lp.signature_priv.0.clone())
        .ok_or_else(|| format!("leaves_private has no entry for the sender {sender}"))?;
    let signature_key = tree
        .leaf(sender)
        .map(|l| l.signature_key.clone())
        .ok_or_else(|| format!("the sender's leaf {sender} is blank"))?;
    let (_, leaf_encryption_key) = cs.derive_key_pair(&cs.hash(b"p2mls fresh leaf")?)?;
    path.leaf_node = LeafNode::build_signed(
        cs,
        &LeafSpec {
            cipher_suite: e.cipher_suite,
            encryption_key: &leaf_encryption_key,
            signature_key: &signature_key,
            identity: b"p2mls fresh leaf",
            source: LeafSource::Commit { parent_hash },
        },
        &signature_priv,
        &e.group_id,
        sender,
    )?;
    path.leaf_node
        .verify_signature(cs, &e.group_id, sender)
        .map_err(|err| format!("the leaf signed with signature_priv of {sender}: {err}"))?;
    let (merged, _) = merge_path(cs, tree, sender, &path)?;
    merged.verify_parent_hashes(cs)?;
    let context = group_context(
        e.cipher_suite,
        &e.group_id,
        e.epoch,
        &merged.root_hash(cs)?,
        &e.confirmed_transcript_hash,
        &[],
    );
    encrypt_path_secrets(tree, sender, &fdp, &secrets, &mut path, |public, secret| {
        cs.encrypt_with_label(public, b"UpdatePathNode", &context, secret)
    })?;
    for j in (0..n).filter(|j| *j != sender && tree.leaf(*j).is_some()) {
        let state = states
            .get(&j)
            .ok_or_else(|| format!("leaf {j} has no private state"))?;
        let (_, commit) = process(cs, tree, sender, j, state, &path, &context)?;
        if commit != commit_secret {
            return Err(format!("leaf {j} derives another commit secret"));
        }
    }
    Ok(())
}
