//! Generated `treekem.json` entries: a group is simulated through real tree operations (members
//! joining from KeyPackages, commits with UpdatePaths, removes, an add that leaves unmerged
//! leaves), so the final tree has blank leaves, blank parents, unmerged leaves and
//! parent-hash chains made the way a client makes them. Every leaf node is signed. Then
//! UpdatePaths from several senders are made against that tree, with their ciphertexts sealed
//! deterministically and every other member's decrypted path secret recorded.

use std::collections::{BTreeMap, BTreeSet};

use super::{hex, Gen};
use crate::framing::{UpdatePath, UpdatePathNode};
use crate::schedule::group_context;
use crate::tree::{self, LeafNode, LeafSource, LeafSpec, Node, RatchetTree};
use crate::treekem::{self, encrypt_path_secrets, merge_path, node_key_pair, shared_path_index};

/// One simulated member: its keys and the path secrets it holds (node index -> path secret).
struct Member {
    signature_priv: Vec<u8>,
    signature_pub: Vec<u8>,
    encryption_priv: Vec<u8>,
    path_secrets: BTreeMap<u32, Vec<u8>>,
}

struct Group {
    group_id: Vec<u8>,
    epoch: u64,
    confirmed_transcript_hash: Vec<u8>,
    tree: RatchetTree,
    members: BTreeMap<u32, Member>,
}

/// One UpdatePath made against a tree, with what the sender and each receiver learn.
struct Committed {
    path: UpdatePath,
    merged: RatchetTree,
    /// The sender's filtered direct path (node indices), bottom up.
    fdp: Vec<u32>,
    /// The path secret of each node of `fdp`.
    secrets: Vec<Vec<u8>>,
    commit_secret: Vec<u8>,
    leaf_priv: Vec<u8>,
    tree_hash_after: Vec<u8>,
    /// For each other non-blank leaf: the index into `fdp` of the first node it learns.
    learns_from: BTreeMap<u32, usize>,
}

impl Gen<'_> {
    /// A new member with a KeyPackage-source leaf (not yet in any tree).
    fn member(&mut self) -> Result<(Member, LeafNode), String> {
        let (signature_priv, signature_pub) = self.signature_key();
        let (encryption_priv, encryption_pub) = self.hpke_key()?;
        let leaf = LeafNode::build_signed(
            self.cs,
            &LeafSpec {
                cipher_suite: self.wire,
                encryption_key: &encryption_pub,
                signature_key: &signature_pub,
                identity: b"p2mls treekem member",
                source: LeafSource::KeyPackage {
                    not_before: 0,
                    not_after: u64::MAX,
                },
            },
            &signature_priv,
            &[],
            0,
        )?;
        let member = Member {
            signature_priv,
            signature_pub,
            encryption_priv,
            path_secrets: BTreeMap::new(),
        };
        Ok((member, leaf))
    }

    /// A group of `n` members in leaves 0..n with every parent node blank, as after a commit
    /// that adds them all without a path.
    fn group(&mut self, n: u32) -> Result<Group, String> {
        let mut tree = RatchetTree::padded(vec![None]);
        let mut members = BTreeMap::new();
        for _ in 0..n {
            let (member, leaf) = self.member()?;
            let index = tree.add_leaf(leaf);
            members.insert(index, member);
        }
        Ok(Group {
            group_id: self.secret(),
            epoch: 0,
            confirmed_transcript_hash: self.secret(),
            tree,
            members,
        })
    }

    /// Makes an UpdatePath from `sender` against the group's current tree (§7.4–§7.6, §7.9).
    fn update_path(&mut self, group: &Group, sender: u32) -> Result<Committed, String> {
        let cs = self.cs;
        let tree = &group.tree;
        let n = tree.n_leaves();
        let fdp = tree.filtered_direct_path(sender);
        if fdp.is_empty() {
            return Err(format!("leaf {sender} has an empty filtered direct path"));
        }
        let current = tree
            .leaf(sender)
            .cloned()
            .ok_or_else(|| format!("leaf {sender} is blank"))?;
        let (leaf_priv, leaf_pub) = self.hpke_key()?;
        let mut secrets = vec![self.secret()];
        for _ in 1..fdp.len() {
            let next = cs.derive_secret(secrets.last().expect("non-empty"), b"path")?;
            secrets.push(next);
        }
        let commit_secret = cs.derive_secret(secrets.last().expect("non-empty"), b"path")?;
        let mut nodes = Vec::new();
        for secret in &secrets {
            let (_, public) = node_key_pair(cs, secret)?;
            nodes.push(UpdatePathNode {
                encryption_key: public,
                encrypted_path_secret: Vec::new(),
            });
        }
        // The parent hash does not depend on the sender's leaf: merge once with the current
        // leaf to learn it, sign the new leaf over it, then merge for real.
        let mut path = UpdatePath {
            leaf_node: current,
            nodes,
        };
        let (_, parent_hash) = merge_path(cs, tree, sender, &path)?;
        let member = &group.members[&sender];
        path.leaf_node = LeafNode::build_signed(
            cs,
            &LeafSpec {
                cipher_suite: self.wire,
                encryption_key: &leaf_pub,
                signature_key: &member.signature_pub,
                identity: b"p2mls treekem member",
                source: LeafSource::Commit { parent_hash },
            },
            &member.signature_priv,
            &group.group_id,
            sender,
        )?;
        let (merged, _) = merge_path(cs, tree, sender, &path)?;
        let tree_hash_after = merged.root_hash(cs)?;
        let context = group_context(
            self.wire,
            &group.group_id,
            group.epoch,
            &tree_hash_after,
            &group.confirmed_transcript_hash,
            &[],
        );
        encrypt_path_secrets(tree, sender, &fdp, &secrets, &mut path, |public, secret| {
            self.encrypt_with_label(public, b"UpdatePathNode", &context, secret)
        })?;
        let mut learns_from = BTreeMap::new();
        for j in (0..n).filter(|j| *j != sender && tree.leaf(*j).is_some()) {
            learns_from.insert(j, shared_path_index(tree, &fdp, sender, j)?);
        }
        Ok(Committed {
            path,
            merged,
            fdp,
            secrets,
            commit_secret,
            leaf_priv,
            tree_hash_after,
            learns_from,
        })
    }
}

impl Group {
    /// Forgets every path secret of a node on `leaf`'s direct path (those nodes are blanked).
    fn forget_direct_path(&mut self, leaf: u32) {
        let blanked: BTreeSet<u32> = tree::direct_path(2 * leaf, self.tree.n_leaves())
            .into_iter()
            .collect();
        for m in self.members.values_mut() {
            m.path_secrets.retain(|node, _| !blanked.contains(node));
        }
    }

    /// Applies a commit's UpdatePath: the merged tree, the sender's new keys, the receivers'
    /// learned path secrets, the next epoch.
    fn apply(&mut self, sender: u32, c: Committed) -> Result<(), String> {
        self.forget_direct_path(sender);
        self.tree = c.merged;
        for (leaf, member) in self.members.iter_mut() {
            let from = if *leaf == sender {
                member.encryption_priv = c.leaf_priv.clone();
                0
            } else {
                *c.learns_from
                    .get(leaf)
                    .ok_or_else(|| format!("leaf {leaf} learns nothing from {sender}"))?
            };
            for k in from..c.fdp.len() {
                member.path_secrets.insert(c.fdp[k], c.secrets[k].clone());
            }
        }
        self.epoch += 1;
        Ok(())
    }

    /// Remove (§12.1.3).
    fn remove(&mut self, leaf: u32) {
        self.forget_direct_path(leaf);
        self.members.remove(&leaf);
        self.tree.remove_leaf(leaf);
    }
}

fn commit(g: &mut Gen<'_>, group: &mut Group, sender: u32) -> Result<(), String> {
    let c = g.update_path(group, sender)?;
    group.apply(sender, c)
}

/// The vector entry for `group`'s tree with UpdatePaths from `senders`.
fn entry(g: &mut Gen<'_>, group: &Group, senders: &[u32]) -> Result<treekem::Entry, String> {
    let n = group.tree.n_leaves();
    let leaves_private = group
        .members
        .iter()
        .map(|(index, m)| treekem::LeafPrivate {
            index: *index,
            encryption_priv: hex(m.encryption_priv.clone()),
            signature_priv: hex(m.signature_priv.clone()),
            path_secrets: m
                .path_secrets
                .iter()
                .map(|(node, secret)| treekem::PathSecret {
                    node: *node,
                    path_secret: hex(secret.clone()),
                })
                .collect(),
        })
        .collect();
    let mut update_paths = Vec::new();
    for sender in senders {
        let c = g.update_path(group, *sender)?;
        let path_secrets = (0..n)
            .map(|j| c.learns_from.get(&j).map(|k| hex(c.secrets[*k].clone())))
            .collect();
        update_paths.push(treekem::UpdatePathEntry {
            sender: *sender,
            update_path: hex(c.path.encode()),
            path_secrets,
            commit_secret: hex(c.commit_secret),
            tree_hash_after: hex(c.tree_hash_after),
        });
    }
    Ok(treekem::Entry {
        cipher_suite: g.wire,
        group_id: hex(group.group_id.clone()),
        epoch: group.epoch,
        confirmed_transcript_hash: hex(group.confirmed_transcript_hash.clone()),
        ratchet_tree: hex(group.tree.encode()),
        leaves_private,
        update_paths,
    })
}

/// Two entries: a two-member group, and an eight-leaf group after commits, two removes and an
/// add, so its tree has a blank leaf, a blank parent, unmerged leaves and a sender whose
/// filtered direct path skips a node.
pub(super) fn treekem(g: &mut Gen<'_>) -> Result<Vec<treekem::Entry>, String> {
    let mut small = g.group(2)?;
    commit(g, &mut small, 0)?;
    let small_entry = entry(g, &small, &[0, 1])?;

    let mut big = g.group(8)?;
    commit(g, &mut big, 0)?;
    commit(g, &mut big, 6)?;
    big.remove(3);
    commit(g, &mut big, 1)?;
    big.remove(7);
    commit(g, &mut big, 4)?;
    // The new member takes the leftmost blank leaf (3) and is unmerged on its direct path.
    let (member, leaf) = g.member()?;
    let index = big.tree.add_leaf(leaf);
    big.members.insert(index, member);
    big.epoch += 1;
    check_shape(&big.tree)?;
    let big_entry = entry(g, &big, &[0, 3, 5, 6])?;
    Ok(vec![small_entry, big_entry])
}

/// The eight-leaf tree must show the features the entry is there for.
fn check_shape(tree: &RatchetTree) -> Result<(), String> {
    let n = tree.n_leaves();
    let blank_leaf = (0..n).any(|i| tree.leaf(i).is_none());
    let blank_parent = (0..n - 1).any(|i| tree.node(2 * i + 1).is_none());
    let unmerged = tree
        .nodes
        .iter()
        .any(|node| matches!(node, Some(Node::Parent(p)) if !p.unmerged_leaves.is_empty()));
    let skipping = (0..n).any(|i| {
        tree.leaf(i).is_some()
            && tree.filtered_direct_path(i).len() < tree::direct_path(2 * i, n).len()
    });
    if blank_leaf && blank_parent && unmerged && skipping {
        Ok(())
    } else {
        Err(format!(
            "the simulated tree lacks a feature: blank leaf {blank_leaf}, blank parent \
             {blank_parent}, unmerged leaves {unmerged}, skipping sender {skipping}"
        ))
    }
}
